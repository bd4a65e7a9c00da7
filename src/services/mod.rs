//! Typed calls to the cloud services this function uses: Config, ECS and STS.

/// When the function role needs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// Every deployment.
    Always,
    /// Only with `CONFIG_AGGREGATOR_ID` (multi-account through a Config aggregator).
    Aggregator,
    /// Only with `CROSS_ACCOUNT_ROLE_NAME` (AssumeRole into member accounts).
    CrossAccount,
    /// Only when the restore event is enabled.
    Restore,
}

/// One OpenAPI action the code can call, with its RAM action name (`service:Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiAction {
    pub ram_action: &'static str,
    pub needed: Needed,
}

/// Every API action this code calls. The Terraform policy test checks the RAM policy against
/// this list, so a new call cannot ship without its permission.
pub const API_ACTIONS: &[ApiAction] = &[
    ApiAction {
        ram_action: "config:GetDiscoveredResource",
        needed: Needed::Always,
    },
    ApiAction {
        ram_action: "config:GetAggregateDiscoveredResource",
        needed: Needed::Aggregator,
    },
    ApiAction {
        ram_action: "ecs:DescribeSecurityGroupAttribute",
        needed: Needed::Always,
    },
    ApiAction {
        ram_action: "ecs:RevokeSecurityGroup",
        needed: Needed::Always,
    },
    ApiAction {
        ram_action: "ecs:AuthorizeSecurityGroup",
        needed: Needed::Restore,
    },
    ApiAction {
        ram_action: "sts:AssumeRole",
        needed: Needed::CrossAccount,
    },
];

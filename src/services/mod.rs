//! Typed calls to the cloud services this function uses: Config, ECS and STS.
//!
//! Each call names its API through an [`Api`] constant; a unit test checks every constant
//! against [`API_ACTIONS`], so a call cannot be added without its RAM permission.

pub mod config;
pub mod ecs;
pub mod ecs_inventory;
pub mod endpoints;
pub mod sts;

use crate::openapi::response::Envelope;
use crate::openapi::{
    Answer, ApiError, CallContext, Client, Endpoint, Params, RpcRequest, RpcResponse, Traced,
};

/// One OpenAPI action as sent on the wire, with its service prefix for RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    /// The RAM service prefix: `config`, `ecs`, `sts`.
    pub service: &'static str,
    /// The action's name, e.g. `RevokeSecurityGroup`.
    pub action: &'static str,
    /// The API version the action belongs to (`2014-05-26` for ECS).
    pub version: &'static str,
}

impl Api {
    /// `service:Action`, as in a RAM policy.
    pub fn ram_action(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    /// Whether [`API_ACTIONS`] lists this action.
    pub fn is_listed(&self) -> bool {
        let ram = self.ram_action();
        API_ACTIONS.iter().any(|a| a.ram_action == ram)
    }
}

/// Sends one call of `api` to `endpoint`.
pub(crate) async fn invoke(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    api: Api,
    params: Params,
) -> Result<RpcResponse, ApiError> {
    let req = RpcRequest {
        endpoint,
        action: api.action,
        version: api.version,
        params,
    };
    client.call(&req, cx).await
}

/// Sends one call of `api` to `endpoint`, keeping the errors of retried attempts.
pub(crate) async fn invoke_traced(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    api: Api,
    params: Params,
) -> Traced {
    let req = RpcRequest {
        endpoint,
        action: api.action,
        version: api.version,
        params,
    };
    client.call_traced(&req, cx).await
}

/// Sends one call of `api` to `endpoint`, its answer read by `read` in one pass (the envelope
/// and the service's data together), keeping the errors of retried attempts.
pub(crate) async fn invoke_reading<T>(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    api: Api,
    params: Params,
    read: impl Fn(&bytes::Bytes) -> Result<(Envelope, T), serde_json::Error>,
) -> Traced<Answer<T>> {
    let req = RpcRequest {
        endpoint,
        action: api.action,
        version: api.version,
        params,
    };
    client.call_reading(&req, cx, read).await
}

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
    /// `service:Action`, as the function role's RAM policy must grant it.
    pub ram_action: &'static str,
    /// Which deployments need it, so the Terraform policy grants no more than is used.
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

/// Actions only the `sg-remediator` command line calls (never the function, so they are not in
/// [`API_ACTIONS`] nor in the function's RAM policy): `scan` lists the groups of a region, and
/// with `--all-regions` the regions first.
pub const CLI_ONLY_ACTIONS: &[&str] = &["ecs:DescribeSecurityGroups", "ecs:DescribeRegions"];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every API constant the service modules call through.
    const CALLS: &[Api] = &[
        config::GET_DISCOVERED_RESOURCE,
        config::GET_AGGREGATE_DISCOVERED_RESOURCE,
        ecs::DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
        ecs::REVOKE_SECURITY_GROUP,
        ecs::AUTHORIZE_SECURITY_GROUP,
        sts::ASSUME_ROLE,
    ];

    #[test]
    fn every_command_line_only_call_is_listed() {
        assert!(CLI_ONLY_ACTIONS.contains(
            &ecs_inventory::DESCRIBE_SECURITY_GROUPS
                .ram_action()
                .as_str()
        ));
        assert!(!ecs_inventory::DESCRIBE_SECURITY_GROUPS.is_listed());
        assert!(CLI_ONLY_ACTIONS.contains(&ecs_inventory::DESCRIBE_REGIONS.ram_action().as_str()));
    }

    #[test]
    fn every_service_call_is_listed_in_api_actions() {
        for api in CALLS {
            assert!(
                api.is_listed(),
                "{} is missing from API_ACTIONS",
                api.ram_action()
            );
        }
    }

    #[test]
    fn every_listed_action_has_a_service_call() {
        for action in API_ACTIONS {
            assert!(
                CALLS.iter().any(|c| c.ram_action() == action.ram_action),
                "{} is listed but never called",
                action.ram_action
            );
        }
    }
}

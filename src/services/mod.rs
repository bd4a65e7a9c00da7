//! Typed calls to the cloud services this function uses: Config, ECS, STS and ActionTrail.
//!
//! Each call names its API through an [`Api`] constant; a unit test reads every constant from
//! this folder's source and checks the set against [`API_ACTIONS`] and [`CLI_ONLY_ACTIONS`], so
//! a call cannot be added without its RAM permission, nor a permission kept without its call.

pub mod actiontrail;
pub mod config;
pub mod ecs;
pub mod ecs_inventory;
pub mod endpoints;
pub mod sts;

#[cfg(doc)]
use acs_openapi::response::Envelope;
use acs_openapi::response::Reply;
use acs_openapi::{CallContext, Client, Endpoint, Params, RpcRequest, Traced};

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

/// Sends one call of `api` to `endpoint`, its answer read as a `T` (the service's members and
/// the envelope, in one pass; [`Envelope`] when only the request id matters), keeping the
/// errors of retried attempts (`earlier`) beside the outcome (`result`).
pub(crate) async fn call<T: Reply>(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    api: Api,
    params: Params,
) -> Traced<T> {
    let req = RpcRequest {
        endpoint,
        action: api.action,
        version: api.version,
        params,
    };
    client.call(&req, cx).await
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
    /// Only when narrowing (`REMEDIATION_ACTION=narrow`: the approved ranges are authorized
    /// before the world-open rule is revoked) or when the restore event is enabled (a revoked
    /// rule is authorized again).
    Authorize,
    /// Only with `LOOKUP_OPENER=true` (ActionTrail names who opened a revoked rule).
    LookupOpener,
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
        needed: Needed::Authorize,
    },
    ApiAction {
        ram_action: "sts:AssumeRole",
        needed: Needed::CrossAccount,
    },
    ApiAction {
        ram_action: "actiontrail:LookupEvents",
        needed: Needed::LookupOpener,
    },
];

/// Actions only the `sg-remediator` command line calls (never the function, so they are not in
/// [`API_ACTIONS`] nor in the function's RAM policy): `scan` lists the groups of a region, and
/// with `--all-regions` the regions first.
pub const CLI_ONLY_ACTIONS: &[&str] = &["ecs:DescribeSecurityGroups", "ecs:DescribeRegions"];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `service:Action` of every `Api` constant written in the service modules' source (a line
    /// `pub const NAME: Api = Api {`, then one field a line up to `};`), whatever its name: read
    /// from the files themselves, so a constant added or removed without the lists is seen.
    fn api_constants_in_source() -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/services");
        let mut found = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).expect("src/services") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a service module");
            let mut lines = text.lines();
            while let Some(line) = lines.next() {
                let line = line.trim();
                if !(line.starts_with("pub const ") && line.ends_with(": Api = Api {")) {
                    continue;
                }
                let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "};").collect();
                let field = |name: &str| {
                    let prefix = format!("{name}: \"");
                    body.iter()
                        .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
                        .and_then(|rest| rest.strip_suffix("\","))
                        .unwrap_or_else(|| panic!("{}: {line} has no {name}", path.display()))
                        .to_string()
                };
                found.insert(format!("{}:{}", field("service"), field("action")));
            }
        }
        found
    }

    #[test]
    fn the_source_declares_exactly_the_listed_actions() {
        let listed: BTreeSet<String> = API_ACTIONS
            .iter()
            .map(|a| a.ram_action.to_string())
            .chain(CLI_ONLY_ACTIONS.iter().map(|a| a.to_string()))
            .collect();
        assert_eq!(
            api_constants_in_source(),
            listed,
            "every Api constant must be in API_ACTIONS (the function's) or CLI_ONLY_ACTIONS, and \
             every listed action must have its constant"
        );
    }

    #[test]
    fn no_action_is_both_the_functions_and_the_command_lines_only() {
        for action in CLI_ONLY_ACTIONS {
            assert!(
                !API_ACTIONS.iter().any(|a| a.ram_action == *action),
                "{action} is in both lists"
            );
        }
    }

    #[test]
    fn the_command_line_only_calls_are_not_in_the_functions_policy() {
        assert!(!ecs_inventory::DESCRIBE_SECURITY_GROUPS.is_listed());
        assert!(!ecs_inventory::DESCRIBE_REGIONS.is_listed());
    }

    #[test]
    fn the_functions_calls_are_in_its_policy() {
        for api in [
            config::GET_DISCOVERED_RESOURCE,
            config::GET_AGGREGATE_DISCOVERED_RESOURCE,
            ecs::DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
            ecs::REVOKE_SECURITY_GROUP,
            ecs::AUTHORIZE_SECURITY_GROUP,
            sts::ASSUME_ROLE,
            actiontrail::LOOKUP_EVENTS,
        ] {
            assert!(
                api.is_listed(),
                "{} is missing from API_ACTIONS",
                api.ram_action()
            );
        }
    }
}

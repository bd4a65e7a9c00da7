//! Reaching the right account: the invocation's own credentials, or a role assumed in the
//! member account that owns the group (`CROSS_ACCOUNT_ROLE_NAME`).

use crate::note::Note;
use crate::remediation::notes::{Step, Stop};
use crate::remediation::Invoke;
use crate::report::ResourceResult;
use crate::services::sts;
use acs_openapi::credentials::Credentials;
use acs_openapi::CallContext;

/// AssumeRole session length for member accounts: one hour covers any function timeout.
const ASSUME_ROLE_SECONDS: u32 = 3600;

/// The account to assume a role in: the resource's, when both it and the function's are known
/// and differ. Otherwise the function's own credentials are used.
pub(super) fn foreign_account<'a>(
    account: Option<&'a str>,
    function: Option<&str>,
) -> Option<&'a str> {
    match (account, function) {
        (Some(a), Some(f)) if a != f => Some(a),
        _ => None,
    }
}

/// The credentials to act on one resource with, and the invocation's own (for Config through
/// an aggregator, which lives in the function's account).
pub(super) struct Access {
    pub resource: Credentials,
    pub own: Credentials,
}

impl Access {
    /// The call context in the resource's account.
    pub(super) fn resource_cx(&self, invoke: &Invoke) -> CallContext<'_> {
        CallContext {
            credentials: &self.resource,
            deadline: invoke.deadline,
        }
    }

    /// The call context in the function's own account.
    pub(super) fn own_cx(&self, invoke: &Invoke) -> CallContext<'_> {
        CallContext {
            credentials: &self.own,
            deadline: invoke.deadline,
        }
    }
}

impl Invoke {
    /// Credentials for the resource's account: the invocation's own, or assumed in a member
    /// account through `CROSS_ACCOUNT_ROLE_NAME`.
    pub(super) async fn access(
        &self,
        account: Option<&str>,
        out: &mut ResourceResult,
    ) -> Step<Access> {
        let Some(own) = self.credentials.clone() else {
            return Err(Stop::fail(Note::NoCredentials));
        };
        let Some(foreign) = foreign_account(account, self.function_account.as_deref()) else {
            return Ok(Access {
                resource: own.clone(),
                own,
            });
        };
        let Some(role) = self.config().cross_account_role_name.as_deref() else {
            return Err(Stop::fail(Note::ForeignWithoutRole {
                foreign: foreign.to_string(),
                function_account: self.function_account.clone(),
            }));
        };
        let arn = sts::role_arn(foreign, role);
        let cx = CallContext {
            credentials: &own,
            deadline: self.deadline,
        };
        match self
            .remediator
            .sts_cache
            .get_or_assume(
                &self.remediator.client,
                &cx,
                self.config().endpoints.sts(),
                &arn,
                &sts::session_name(&self.function_name),
                ASSUME_ROLE_SECONDS,
            )
            .await
        {
            Ok(assumed) => {
                out.api_request_ids.extend(assumed.request_id.clone());
                Ok(Access {
                    resource: assumed.credentials,
                    own,
                })
            }
            Err(e) => {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                Err(Stop::fail(Note::AssumeRoleFailed {
                    arn,
                    account: foreign.to_string(),
                    error: Box::new(e),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_of_the_functions_account_uses_its_own_credentials() {
        assert_eq!(foreign_account(Some("1"), Some("1")), None);
    }

    #[test]
    fn a_group_of_another_account_needs_a_role_there() {
        assert_eq!(foreign_account(Some("2"), Some("1")), Some("2"));
    }

    #[test]
    fn an_unknown_account_on_either_side_is_treated_as_the_functions_own() {
        assert_eq!(foreign_account(None, Some("1")), None);
        assert_eq!(foreign_account(Some("2"), None), None);
    }
}

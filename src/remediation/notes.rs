//! What happened to a resource, as typed notes: the outcome that ended its processing and every
//! error seen along the way (retried attempts included), in the order the reason lists them.
//!
//! The notes are facts, never text: [`crate::report`] renders them into the report's `reason`.

use acs_openapi::ApiError;

use crate::config::ExemptTag;
use crate::report::{ResourceResult, Status};
use crate::rules::{PortRange, Protocol, RuleId};
use crate::select::ReviewReason;

/// One fact of a resource's reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The event item names a resource type other than a security group.
    UnsupportedType(String),
    /// The group is listed in `EXEMPT_SECURITY_GROUP_IDS`.
    ExemptId,
    /// FC passed no credentials (the function has no RAM role).
    NoCredentials,
    /// The group is in another account and `CROSS_ACCOUNT_ROLE_NAME` is not set.
    ForeignWithoutRole {
        /// The account that owns the group.
        foreign: String,
        /// The function's own account, when known.
        function_account: Option<String>,
    },
    /// AssumeRole into the member account failed.
    AssumeRoleFailed {
        /// The role ARN that was assumed (account and role name, no secret).
        arn: String,
        /// The member account the role lives in.
        account: String,
        /// Why STS refused, redacted.
        error: Box<ApiError>,
    },
    /// Aggregator mode, but the item carries no account id.
    AggregatorAccountMissing,
    /// Aggregator mode, but the item's account id is not an int64.
    AggregatorAccountInvalid(String),
    /// An API call (or a step made of one) failed.
    ApiFailure {
        /// What the function was doing, as the report words it.
        step: &'static str,
        /// What the cloud (or the transport) answered, redacted.
        error: ApiError,
    },
    /// An attempt failed and was retried (whatever the final outcome, it is reported).
    Retried {
        /// The API action of the failed attempt.
        action: &'static str,
        /// What went wrong with that attempt.
        error: ApiError,
    },
    /// Config does not know the group.
    NotInConfig(ApiError),
    /// Config does not know the group, yet ECS still has it: nothing vouches for the group
    /// (its exemption tag and whether a cloud service manages it come from Config).
    LiveButNotInConfig,
    /// Config answered about another region than the event's.
    OtherRegion {
        /// The region in Config's answer.
        answered: String,
        /// The region the event named.
        asked: String,
    },
    /// Config answered about another account than the event's.
    OtherAccount {
        /// The account in Config's answer.
        answered: String,
        /// The account the event named.
        asked: String,
    },
    /// Config reports the group deleted.
    Deleted,
    /// Config reports the group managed by a cloud service.
    ServiceManaged,
    /// The group carries the exempt tag.
    ExemptTag(ExemptTag),
    /// ECS no longer has the group.
    Gone(ApiError),
    /// The selector failed on the live rules.
    SelectFailed(String),
    /// The rules of Config's snapshot could not be selected on.
    SnapshotUnreadable(String),
    /// Rules selected in only one of Config's snapshot and the live view.
    Drift(Vec<RuleId>),
    /// A world-open rule kept because Drop rules deny its risky ports.
    Shadowed {
        /// The kept rule.
        rule: Option<RuleId>,
        /// The Drop rules that deny its risky ports at a higher precedence.
        by: Vec<RuleId>,
    },
    /// A world-open rule kept for an operator to check.
    Review {
        /// The kept rule.
        rule: Option<RuleId>,
        /// Why it cannot be judged from the data.
        reason: ReviewReason,
    },
    /// A revoked rule opens more than the risky ports.
    Collateral {
        /// The revoked rule.
        rule: Option<RuleId>,
        /// Its protocol, as the report names it.
        protocol: Protocol,
        /// Its whole port range: traffic on the non-risky ports of it is cut too.
        port_range: PortRange,
    },
    /// Nothing world-open on a risky port.
    NothingExposed,
    /// A dry run changed nothing.
    DryRun,
    /// A revoke batch named a vanished rule; the rest was revoked again.
    RevokedRest,
    /// Revokes whose answer was lost, verified gone.
    LostButGone(Vec<RuleId>),
    /// Rules gone before the revoke.
    AlreadyGone(Vec<RuleId>),
    /// This many rules revoked and verified gone.
    Revoked(usize),
    /// ECS refused the revoke: the group is managed by a cloud service.
    ManagedRevoke,
    /// Rules still selected after the revoke.
    StillExposed(Vec<RuleId>),
    /// Revokes whose answer was lost and that could not be verified.
    Unverified(Vec<RuleId>),
    /// A restore refused for rules without a valid seal.
    RestoreRefused {
        /// How many entries lacked a valid seal.
        refused: usize,
        /// How many entries the event had.
        total: usize,
        /// The group the restore was for.
        group: String,
        /// The account the seals were checked against.
        account: String,
        /// The region the seals were checked against.
        region: String,
    },
    /// A dry-run restore: what would be re-authorized.
    WouldRestore {
        /// How many rules a real restore would authorize.
        count: usize,
        /// How many of the event's rules are already present (nothing to do for them).
        already_present: usize,
    },
    /// A restore: what was re-authorized.
    Restored {
        /// How many rules were authorized again.
        count: usize,
        /// How many of the event's rules were already present (left as they are).
        already_present: usize,
    },
}

/// How a resource's processing ended before the end of the flow: skipped or failed, for the
/// leading reason.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Stop {
    pub status: Status,
    pub lead: Note,
}

impl Stop {
    pub(super) fn skip(lead: Note) -> Stop {
        Stop {
            status: Status::Skipped,
            lead,
        }
    }

    pub(super) fn fail(lead: Note) -> Stop {
        Stop {
            status: Status::Failed,
            lead,
        }
    }
}

/// A step's result: its value, or how the resource's processing stopped.
pub(super) type Step<T> = Result<T, Stop>;

/// Records the retried attempts of one call: their RequestIds and a note each.
pub(super) fn record_retried(
    action: &'static str,
    retried: &[ApiError],
    out: &mut ResourceResult,
    notes: &mut Vec<Note>,
) {
    for e in retried {
        out.api_request_ids
            .extend(e.request_id().map(str::to_string));
        notes.push(Note::Retried {
            action,
            error: e.clone(),
        });
    }
}

/// Ends a resource: its status and its reason, the lead first, then the notes.
pub(super) fn finish(
    mut out: ResourceResult,
    status: Status,
    lead: Option<Note>,
    notes: Vec<Note>,
) -> ResourceResult {
    out.status = status;
    out.not_in_config = matches!(lead, Some(Note::NotInConfig(_)));
    out.reason = Some(crate::report::reason(lead.iter().chain(&notes)));
    out
}

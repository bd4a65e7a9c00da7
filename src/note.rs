//! What happened to a resource, as typed facts, and their words.
//!
//! A resource's processing ends with a lead note (why it stopped or how it ended) and every
//! error seen along the way (retried attempts included), in the order the reason lists them.
//! The flow records notes, never text; [`Note`]'s `Display` is the one place where what
//! happened becomes words, and [`reason`] joins a resource's notes into the report's `reason`.
//! A leaf module: the remediation, the report and the command line all import it, and it
//! imports none of them.

use std::fmt;

use acs_openapi::ApiError;

use crate::config::ExemptTag;
use crate::event;
use crate::exemption::{Unreadable, Until};
use crate::rules::{Cidr, PortRange, Protocol, RuleId};
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
    /// The group carries the exempt tag with an end that has not come yet.
    ExemptUntil {
        /// The exempt tag's key.
        key: String,
        /// When the exemption ends.
        until: Until,
    },
    /// The exempt tag's end has passed: the group is remediated like any other.
    ExemptionExpired {
        /// The exempt tag's key.
        key: String,
        /// When the exemption ended.
        on: Until,
    },
    /// The exempt tag asks for an end that cannot be read: it exempts nothing.
    ExemptionUnreadable {
        /// The exempt tag's key.
        key: String,
        /// The tag's value (cut to a bounded length).
        value: String,
        /// Why it cannot be read.
        why: Unreadable,
    },
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
    /// A rule narrowed (not only revoked) that opens more than the risky ports: all of its access
    /// is limited to the allowed sources.
    CollateralNarrowed {
        /// The narrowed rule.
        rule: Option<RuleId>,
        /// Its protocol, as the report names it.
        protocol: Protocol,
        /// Its whole port range: traffic on the non-risky ports of it is narrowed too.
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
    /// World-open rules replaced by rules from the allowed sources (`REMEDIATION_ACTION=narrow`).
    Narrowed {
        /// How many world-open rules were revoked after their replacements were added.
        count: usize,
        /// How many rules were added in their place, verified present.
        added: usize,
        /// The allowed sources used.
        to: Vec<Cidr>,
    },
    /// A dry run would narrow this many rules to these sources.
    WouldNarrow {
        /// How many rules an enforcing run would narrow.
        count: usize,
        /// How many rules it would add.
        added: usize,
        /// The allowed sources it would use.
        to: Vec<Cidr>,
    },
    /// No allowed source lies within the rule's source (its address family has none): it is
    /// revoked as in `revoke` mode.
    NoAllowedSource {
        /// The rule revoked instead of narrowed.
        rule: Option<RuleId>,
        /// `IPv4` or `IPv6`: the family the rule is open to.
        family: &'static str,
    },
    /// Sources the group already allows identically: not added again.
    AlreadyAllowed {
        /// The rule being narrowed.
        rule: Option<RuleId>,
        /// The sources not added again.
        sources: Vec<Cidr>,
    },
    /// Authorizing the replacements of a rule failed: that rule was not revoked.
    NarrowAuthorizeFailed {
        /// The world-open rule left in place.
        rule: Option<RuleId>,
        /// What AuthorizeSecurityGroup answered, redacted.
        error: Box<ApiError>,
    },
    /// The replacements of a rule were added but the rule itself could not be revoked.
    NarrowRevokeFailed {
        /// The world-open rule still in place.
        rule: Option<RuleId>,
        /// How many rules were added in its place (they stay).
        added: usize,
    },
    /// Rules authorized for a narrowing that the group, read again, does not have.
    AddedMissing {
        /// The rule being narrowed.
        rule: Option<RuleId>,
        /// How many of its replacements are missing.
        missing: usize,
    },
    /// A restore revoked rules an earlier narrowing had added.
    RemovedAdded(usize),
    /// A dry-run restore would revoke this many added rules.
    WouldRemoveAdded(usize),
    /// Rules a narrowing had added that the group still has after the restore revoked them.
    AddedStillPresent(Vec<RuleId>),
    /// Added rules a restore left alone: not in the group as sealed (gone, or changed since).
    AddedLeftAlone(Vec<RuleId>),
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

/// A resource's `reason`: its notes rendered and joined with `; `.
pub fn reason<'a>(notes: impl IntoIterator<Item = &'a Note>) -> String {
    notes
        .into_iter()
        .map(Note::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn join_ids(ids: &[RuleId]) -> String {
    ids.iter()
        .map(RuleId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn join_cidrs(cidrs: &[Cidr]) -> String {
    cidrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn rule_name(rule: &Option<RuleId>) -> String {
    rule.as_ref()
        .map_or_else(|| "(rule without id)".to_string(), |r| r.to_string())
}

fn already_present(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} already present, not re-added")
    }
}

/// The report's text of each note: the one place where what happened becomes words.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::UnsupportedType(t) => write!(
                f,
                "unsupported resource type {t:?}: only {} is remediated",
                event::SECURITY_GROUP
            ),
            Note::ExemptId => f.write_str("exempt: listed in EXEMPT_SECURITY_GROUP_IDS"),
            Note::NoCredentials => f.write_str(
                "the invocation carried no credentials (x-fc-access-key-id was empty): give the \
                 function a RAM role so FC passes its STS credentials",
            ),
            Note::ForeignWithoutRole {
                foreign,
                function_account,
            } => write!(
                f,
                "the security group belongs to account {foreign}, not to the function's account {}: \
                 set CROSS_ACCOUNT_ROLE_NAME to a RAM role in {foreign} that trusts this account \
                 (or deploy the function in {foreign})",
                function_account.as_deref().unwrap_or("?")
            ),
            Note::AssumeRoleFailed {
                arn,
                account,
                error,
            } => {
                write!(f, "AssumeRole into {arn} failed: {error}")?;
                // The fix, when STS's code tells it: the role is missing or does not trust the
                // function's role.
                match error.code() {
                    Some("EntityNotExist.Role") => write!(
                        f,
                        "; fix: create the role in account {account} with terraform/modules/member-role \
                         (role_name and trusted_role_arn from the central module's output member_role)"
                    ),
                    Some("NoPermission") => write!(
                        f,
                        "; fix: the role in account {account} must trust this function's RAM role: apply \
                         terraform/modules/member-role there with trusted_role_arn = the central module's \
                         role_arn, and keep sts:AssumeRole on the function's role (cross_account_role_name)"
                    ),
                    _ => Ok(()),
                }
            }
            Note::AggregatorAccountMissing => f.write_str(
                "CONFIG_AGGREGATOR_ID is set but the event item has no accountId: \
                 GetAggregateDiscoveredResource needs the resource's account (ResourceAccountId); \
                 nothing was sent",
            ),
            Note::AggregatorAccountInvalid(a) => write!(
                f,
                "CONFIG_AGGREGATOR_ID is set but the item's accountId {a:?} is not an account id \
                 (GetAggregateDiscoveredResource's ResourceAccountId is an int64); nothing was sent"
            ),
            Note::ApiFailure { step, error } => write!(f, "{step} failed: {error}"),
            Note::Retried { action, error } => {
                write!(f, "{action} attempt failed and was retried: {error}")
            }
            Note::NotInConfig(e) => {
                write!(f, "not found in Config (deleted or never recorded): {e}")
            }
            Note::LiveButNotInConfig => f.write_str(
                "but ECS still has the group: not acting on a group Config does not know (its \
                 exemption tag and service management come from Config); check that Config \
                 records security groups in this region (when it knows none of an event's \
                 groups, the reason also names the Config site)",
            ),
            Note::OtherRegion { answered, asked } => write!(
                f,
                "Config answered for region {:?}, but the event names {asked:?}: not acting on a group \
                 the event did not name",
                event::quote(answered)
            ),
            Note::OtherAccount { answered, asked } => write!(
                f,
                "Config answered for account {:?}, but the event names {asked:?}: not acting on a \
                 group the event did not name",
                event::quote(answered)
            ),
            Note::Deleted => f.write_str("deleted: Config reports ResourceDeleted = 0"),
            Note::ServiceManaged => f.write_str(
                "managed by a cloud service (ServiceManaged = true): ECS refuses changes to it",
            ),
            Note::ExemptTag(tag) => match &tag.value {
                Some(v) => write!(f, "exempt: tagged {}={v}", tag.key),
                None => write!(f, "exempt: tagged {}", tag.key),
            },
            Note::ExemptUntil { key, until } => match until {
                Until::Day { .. } => write!(
                    f,
                    "exempt until {until} (through the end of that day, UTC): tagged {key}"
                ),
                Until::Instant(_) => write!(f, "exempt until {until}: tagged {key}"),
            },
            Note::ExemptionExpired { key, on } => write!(
                f,
                "exemption expired on {on} (tag {key}): no longer exempt"
            ),
            Note::ExemptionUnreadable { key, value, why } => write!(
                f,
                "not exempt: the tag {key}={value:?} asks for an end that cannot be read ({why}); \
                 write until=YYYY-MM-DD or until=<RFC 3339 time>"
            ),
            Note::Gone(e) => write!(f, "gone: the group no longer exists in ECS ({e})"),
            Note::SelectFailed(e) => write!(f, "selecting rules of the live group failed: {e}"),
            Note::SnapshotUnreadable(e) => write!(
                f,
                "Config snapshot rules unreadable ({e}); judged on live rules"
            ),
            Note::Drift(ids) => write!(
                f,
                "Config's snapshot is out of date for {}: decided on the live rules",
                join_ids(ids)
            ),
            Note::Shadowed { rule, by } => write!(
                f,
                "{} kept: its risky ports are denied by higher-priority Drop rule(s) {}",
                rule_name(rule),
                join_ids(by)
            ),
            Note::Review { rule, reason } => write!(
                f,
                "{} needs review: {reason}; check it by hand",
                rule_name(rule)
            ),
            Note::Collateral {
                rule,
                protocol,
                port_range,
            } => write!(
                f,
                "{} ({} {port_range}) opens more than the risky ports: revoking it removes all of \
                 that access, not only the risky ports",
                rule_name(rule),
                protocol.as_str(),
            ),
            Note::CollateralNarrowed {
                rule,
                protocol,
                port_range,
            } => write!(
                f,
                "{} ({} {port_range}) opens more than the risky ports: narrowing it limits all of \
                 that access to the allowed sources, not only the risky ports",
                rule_name(rule),
                protocol.as_str(),
            ),
            Note::NothingExposed => f.write_str("no world-open rule on a risky port"),
            Note::DryRun => f.write_str("dry run: nothing was changed"),
            Note::RevokedRest => f.write_str(
                "a revoke batch named a rule that had meanwhile disappeared; revoked the rest again",
            ),
            Note::LostButGone(ids) => write!(
                f,
                "the answer to revoking {} was lost, but they are verified gone",
                join_ids(ids)
            ),
            Note::AlreadyGone(ids) => {
                write!(f, "already gone before the revoke: {}", join_ids(ids))
            }
            Note::Revoked(n) => write!(f, "revoked {n} rule(s), verified gone"),
            Note::ManagedRevoke => f.write_str(
                "managed by a cloud service: ECS refused the revoke \
                 (InvalidOperation.ResourceManagedByCloudProduct)",
            ),
            Note::StillExposed(ids) => {
                write!(f, "still exposed after the revoke: {}", join_ids(ids))
            }
            Note::Unverified(ids) => write!(
                f,
                "the revoke of {} got no answer and could not be verified: they may \
                 be gone; their attributes are in unverifiedRules for a restore",
                join_ids(ids)
            ),
            Note::Narrowed { count, added, to } => write!(
                f,
                "narrowed {count} rule(s) to {}: added {added} rule(s) from the allowed sources, \
                 verified present, before revoking the world-open rule(s)",
                join_cidrs(to)
            ),
            Note::WouldNarrow { count, added, to } => write!(
                f,
                "would narrow {count} rule(s) to {}: would add {added} rule(s), then revoke the \
                 world-open rule(s)",
                join_cidrs(to)
            ),
            Note::NoAllowedSource { rule, family } => write!(
                f,
                "{}: ALLOWED_SOURCE_CIDRS has no {family} block, so it is revoked, not narrowed",
                rule_name(rule)
            ),
            Note::AlreadyAllowed { rule, sources } => write!(
                f,
                "{}: the group already allows {} identically, not added again",
                rule_name(rule),
                join_cidrs(sources)
            ),
            Note::NarrowAuthorizeFailed { rule, error } => write!(
                f,
                "narrowing {}: AuthorizeSecurityGroup failed, so it was not revoked: {error}",
                rule_name(rule)
            ),
            Note::NarrowRevokeFailed { rule, added } => write!(
                f,
                "{}: {added} rule(s) from the allowed sources were added, but the world-open rule \
                 could not be revoked; the added rules stay (they only admit the allowed sources)",
                rule_name(rule)
            ),
            Note::AddedMissing { rule, missing } => write!(
                f,
                "narrowing {}: {missing} authorized rule(s) are not in the group read again",
                rule_name(rule)
            ),
            Note::RemovedAdded(n) => write!(
                f,
                "revoked {n} rule(s) the narrowing had added, verified gone"
            ),
            Note::WouldRemoveAdded(n) => write!(
                f,
                "would revoke {n} rule(s) the narrowing had added"
            ),
            Note::AddedStillPresent(ids) => write!(
                f,
                "rules the narrowing had added are still present after the revoke: {}",
                join_ids(ids)
            ),
            Note::AddedLeftAlone(ids) => write!(
                f,
                "left alone (not in the group as sealed: gone or changed since): {}",
                join_ids(ids)
            ),
            Note::RestoreRefused {
                refused,
                total,
                group,
                account,
                region,
            } => write!(
                f,
                "refused: {refused} of {total} rule(s) carry no valid seal for {group} in account \
                 {account} region {region}; nothing was restored (see refusedRules)"
            ),
            Note::WouldRestore {
                count,
                already_present: n,
            } => write!(
                f,
                "dry run: nothing was changed; would re-authorize {count} rule(s){}",
                already_present(*n)
            ),
            Note::Restored {
                count,
                already_present: n,
            } => write!(
                f,
                "re-authorized {count} rule(s){}",
                already_present(*n)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sts_answer(code: &str) -> acs_openapi::ApiError {
        let body = json!({"Code": code, "Message": "m", "RequestId": "R-1"}).to_string();
        acs_openapi::response::parse_response(404, body.as_bytes(), None, &Default::default())
            .unwrap_err()
    }

    #[test]
    fn a_reason_lists_its_notes_in_order_separated_by_semicolons() {
        let notes = [
            Note::Revoked(2),
            Note::AlreadyGone(vec![RuleId("sgr-a".into()), RuleId("sgr-b".into())]),
        ];
        assert_eq!(
            reason(&notes),
            "revoked 2 rule(s), verified gone; already gone before the revoke: sgr-a, sgr-b"
        );
    }

    #[test]
    fn an_assume_role_failure_for_a_missing_role_says_how_to_create_it() {
        let note = Note::AssumeRoleFailed {
            arn: "acs:ram::2:role/r".into(),
            account: "2".into(),
            error: Box::new(sts_answer("EntityNotExist.Role")),
        };
        let text = note.to_string();
        assert!(
            text.starts_with("AssumeRole into acs:ram::2:role/r failed: EntityNotExist.Role"),
            "{text}"
        );
        assert!(
            text.contains("; fix: create the role in account 2 with terraform/modules/member-role"),
            "{text}"
        );
    }

    #[test]
    fn an_assume_role_failure_with_another_code_names_no_fix() {
        let note = Note::AssumeRoleFailed {
            arn: "acs:ram::2:role/r".into(),
            account: "2".into(),
            error: Box::new(sts_answer("Throttling")),
        };
        assert!(!note.to_string().contains("fix:"));
    }

    #[test]
    fn a_kept_rule_without_id_is_named_as_such() {
        let note = Note::Shadowed {
            rule: None,
            by: vec![RuleId("sgr-drop".into())],
        };
        assert_eq!(
            note.to_string(),
            "(rule without id) kept: its risky ports are denied by higher-priority Drop rule(s) sgr-drop"
        );
    }

    #[test]
    fn a_restore_reason_counts_rules_already_present_only_when_there_are_some() {
        let restored = |already_present| Note::Restored {
            count: 1,
            already_present,
        };
        assert_eq!(restored(0).to_string(), "re-authorized 1 rule(s)");
        assert_eq!(
            restored(2).to_string(),
            "re-authorized 1 rule(s); 2 already present, not re-added"
        );
    }
}

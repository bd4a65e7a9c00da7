//! `scan`: judge a listed security group on its live rules, without Cloud Config.
//!
//! The function's own decisions, in the same order, with `DescribeSecurityGroups` standing in
//! for Config's record: exempt ids, managed groups and the exemption tag
//! ([`crate::exemption::decide`], judged by the gate's [`exemption_note`]) are skipped; the live
//! ingress rules are decided by the flow's [`decide`] and the group is ended by its
//! [`unchanged`], so the result is `compliant` or `would_remediate` (a scan never changes
//! anything) with exactly the rules, ids and notes a dry run of the function would report.
//!
//! A scan also watches the exemptions: one that ends within [`EXPIRING_WITHIN`], one that has
//! ended (the function remediates the group when next invoked for it), and one whose end
//! cannot be read (it exempts nothing) are listed by [`watch`].

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Config;
use crate::event::SECURITY_GROUP;
use crate::exemption::{self, Exemption, Until};
use crate::note::Note;
use crate::remediation::{decide, exemption_note, live_failure, unchanged};
use crate::report::{ResourceResult, Status};
use crate::rules::Permission;
use crate::select::Selector;
use crate::services::ecs;
use crate::services::ecs_inventory::ListedGroup;
use acs_openapi::{ApiError, CallContext, Client};

/// How far ahead `scan` lists exemptions about to end.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// One scanned group: its result and the live ingress rules it was judged on.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// What the scan found for the group, as a remediation report would show it.
    pub result: ResourceResult,
    /// The live ingress rules it was judged on: the command line shows them as the group's rules
    /// before any change.
    pub rules: Vec<Permission>,
    /// What the group's exempt tag says at the scan's time.
    pub exemption: Exemption,
}

/// Judges one listed group on its live rules, at `now` (the exemption's clock).
pub async fn scan_group(
    client: &Client,
    cx: &CallContext<'_>,
    config: &Config,
    selector: &Selector,
    group: &ListedGroup,
    now: SystemTime,
) -> Scanned {
    let mut out = ResourceResult::new(
        Some(group.security_group_id.clone()),
        Some(group.region_id.clone()),
        None,
        Some(SECURITY_GROUP.to_string()),
        Status::Skipped,
    );
    let exemption = exemption::decide(&config.exempt_tag, &group.tags, now);
    let done = |result: ResourceResult, rules, exemption| Scanned {
        result,
        rules,
        exemption,
    };
    let stop = |mut out: ResourceResult, status: Status, note: Note, exemption| {
        out.status = status;
        done(out.with_reason(note.to_string()), Vec::new(), exemption)
    };
    // The function's own decisions, with DescribeSecurityGroups' tags and flag in place of
    // Config's record, and the function's notes for them.
    if config.is_exempt_id(&group.security_group_id) {
        return stop(out, Status::Skipped, Note::ExemptId, exemption);
    }
    if group.service_managed {
        return stop(out, Status::Skipped, Note::ServiceManaged, exemption);
    }
    let mut notes = match exemption_note(&config.exempt_tag, &exemption) {
        Err(lead) => return stop(out, Status::Skipped, lead, exemption),
        Ok(note) => Vec::from_iter(note),
    };
    let describe_failed = |error| Note::ApiFailure {
        step: "DescribeSecurityGroupAttribute",
        error,
    };
    let endpoint = match config.endpoints.ecs(&group.region_id) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            let failed = describe_failed(ApiError::from(e));
            return stop(out, Status::Failed, failed, exemption);
        }
    };
    let live = match ecs::describe_security_group_attribute(
        client,
        cx,
        &endpoint,
        &group.region_id,
        &group.security_group_id,
    )
    .await
    {
        Ok(rules) => {
            out.api_request_ids.extend(rules.request_ids);
            rules.permissions
        }
        Err(e) => {
            out.api_request_ids
                .extend(e.request_id().map(str::to_string));
            return match live_failure(e) {
                gone @ Note::Gone(_) => stop(out, Status::Skipped, gone, exemption),
                failed => stop(out, Status::Failed, failed, exemption),
            };
        }
    };
    // The function's decision on the live rules; there is no Config record to drift from.
    let decision = match decide(selector, None, &live) {
        Ok(decision) => decision,
        Err(failed) => {
            out.status = Status::Failed;
            let out = out.with_reason(failed.to_string());
            return done(out, live, exemption);
        }
    };
    decision.record(&mut out);
    notes.extend(decision.notes);
    done(unchanged(out, decision.action, notes), live, exemption)
}

/// An exemption a scan draws attention to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "state",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum Watch {
    /// Still exempt, but not for long: ends within [`EXPIRING_WITHIN`].
    Expiring {
        /// The end as the tag wrote it (a day, or an instant in UTC).
        until: String,
        /// The first instant no longer exempt (RFC 3339, UTC).
        ends_at: String,
    },
    /// Ended: the group is remediated like any other.
    Expired {
        /// The end as the tag wrote it (a day, or an instant in UTC).
        until: String,
        /// The first instant no longer exempt (RFC 3339, UTC).
        ends_at: String,
    },
    /// Asks for an end that cannot be read: exempts nothing.
    Unreadable {
        /// The tag's value (cut to a bounded length).
        value: String,
        /// Why it cannot be read.
        why: String,
    },
}

/// Whether a scan lists the exemption `exemption` at `now`, and how: one that ends within
/// [`EXPIRING_WITHIN`], has ended, or cannot be read. A running exemption further out, an
/// exemption for good and no exemption are not listed.
pub fn watch(exemption: &Exemption, now: SystemTime) -> Option<Watch> {
    let times = |until: &Until| {
        (
            until.to_string(),
            humantime::format_rfc3339(until.ends()).to_string(),
        )
    };
    match exemption {
        Exemption::ExemptUntil(until) if until.ends() <= now + EXPIRING_WITHIN => {
            let (until, ends_at) = times(until);
            Some(Watch::Expiring { until, ends_at })
        }
        Exemption::Expired(until) => {
            let (until, ends_at) = times(until);
            Some(Watch::Expired { until, ends_at })
        }
        Exemption::Unreadable { value, why } => Some(Watch::Unreadable {
            value: value.clone(),
            why: why.to_string(),
        }),
        _ => None,
    }
}

/// The table's line for a watched exemption (without the group's id and region).
impl std::fmt::Display for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Watch::Expiring { until, ends_at } => {
                write!(f, "expires {until} (exempt until {ends_at})")
            }
            Watch::Expired { until, .. } => write!(
                f,
                "EXPIRED {until}, no longer exempt: the function remediates it when next invoked for it"
            ),
            Watch::Unreadable { value, why } => write!(
                f,
                "UNREADABLE {value:?} ({why}), not exempt: the function remediates it when next invoked for it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    fn until(value: &str) -> Until {
        exemption::read_value(value).unwrap().unwrap()
    }

    #[test]
    fn an_exemption_ending_within_seven_days_is_listed_as_expiring() {
        let now = at("2026-12-01T00:00:00Z");
        let soon = Exemption::ExemptUntil(until("until=2026-12-07"));
        assert_eq!(
            watch(&soon, now),
            Some(Watch::Expiring {
                until: "2026-12-07".into(),
                ends_at: "2026-12-08T00:00:00Z".into()
            })
        );
        let later = Exemption::ExemptUntil(until("until=2026-12-08"));
        assert_eq!(watch(&later, now), None);
    }

    #[test]
    fn an_ended_or_unreadable_exemption_is_listed_and_others_are_not() {
        let now = at("2026-12-01T00:00:00Z");
        let ended = Exemption::Expired(until("until=2026-11-30T08:00:00+08:00"));
        assert_eq!(
            watch(&ended, now),
            Some(Watch::Expired {
                until: "2026-11-30T00:00:00Z".into(),
                ends_at: "2026-11-30T00:00:00Z".into()
            })
        );
        let typo = Exemption::Unreadable {
            value: "until=soon".into(),
            why: exemption::Unreadable::Malformed,
        };
        assert!(matches!(watch(&typo, now), Some(Watch::Unreadable { .. })));
        assert_eq!(watch(&Exemption::Exempt, now), None);
        assert_eq!(watch(&Exemption::NotExempt, now), None);
    }

    #[test]
    fn a_watched_exemption_serialises_with_its_state() {
        let w = Watch::Expired {
            until: "2026-11-30".into(),
            ends_at: "2026-12-01T00:00:00Z".into(),
        };
        assert_eq!(
            serde_json::to_value(&w).unwrap(),
            serde_json::json!({"state": "expired", "until": "2026-11-30",
                "endsAt": "2026-12-01T00:00:00Z"})
        );
    }
}

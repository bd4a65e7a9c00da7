//! Skip or go: the pure policy that decides whether a resource may be touched at all, and in
//! which mode. Plain functions of the event, the configuration and Config's answer; no calls.

use std::time::SystemTime;

use acs_openapi::ApiError;

use crate::config::{Config, ExemptTag, Mode};
use crate::event::{self, ResourceRef};
use crate::exemption::{self, Exemption};
use crate::note::Note;
use crate::remediation::fetch::Reads;
use crate::remediation::notes::{Step, Stop};
use crate::rules::Permission;
use crate::services::config::{self as config_api, DiscoveredResource};

/// ECS's answer for a group that does not exist (`DescribeSecurityGroupAttribute`).
const GROUP_NOT_FOUND: &str = "InvalidSecurityGroupId.NotFound";

/// The live read's step, as the report names it.
const DESCRIBE: &str = "DescribeSecurityGroupAttribute";

/// Whether ECS says the group does not exist.
pub(super) fn is_gone(e: &ApiError) -> bool {
    e.code() == Some(GROUP_NOT_FOUND)
}

/// The live read's error, as a note: gone (the group no longer exists), or a failed call. The
/// command line's `scan` decides with it too.
pub fn live_failure(error: ApiError) -> Note {
    if is_gone(&error) {
        Note::Gone(error)
    } else {
        Note::ApiFailure {
            step: DESCRIBE,
            error,
        }
    }
}

/// The mode of one invocation: the event's `dryRun` can ask for a dry run, never for enforce.
/// Whoever can invoke the function can only make it more careful.
pub fn effective_mode(deployment: Mode, requested_dry_run: Option<bool>) -> Mode {
    match (deployment, requested_dry_run) {
        (Mode::DryRun, _) | (_, Some(true)) => Mode::DryRun,
        (Mode::Enforce, _) => Mode::Enforce,
    }
}

/// The event item alone, before any call: only security groups, never an exempt id.
pub(super) fn admit(r: &ResourceRef, config: &Config) -> Option<Stop> {
    if r.resource_type != event::SECURITY_GROUP {
        return Some(Stop::skip(Note::UnsupportedType(r.resource_type.clone())));
    }
    if config.is_exempt_id(&r.resource_id) {
        return Some(Stop::skip(Note::ExemptId));
    }
    None
}

/// The account a resource belongs to: the item's, else the function's own.
pub(super) fn resource_account(r: &ResourceRef, function_account: Option<&str>) -> Option<String> {
    r.account_id
        .as_ref()
        .map(|a| a.0.clone())
        .or_else(|| function_account.map(str::to_string))
}

/// The account to read a resource through the aggregator: `ResourceAccountId` is a required
/// int64 (`config-20200907/client/get_aggregate_discovered_resource_request_model.go`), so it
/// must come from the event item itself. Guessing the function's own account would ask
/// Config about the wrong account and could make a member's open group look "not in Config".
pub(super) fn aggregator_account(r: &ResourceRef) -> Result<String, Note> {
    match r.account_id.as_ref().map(|a| a.0.as_str()) {
        Some(a) if config_api::is_resource_account_id(a) => Ok(a.to_string()),
        Some(a) => Err(Note::AggregatorAccountInvalid(a.to_string())),
        None => Err(Note::AggregatorAccountMissing),
    }
}

/// Why Config's answer is not about the group the event named, if it is not: its `Region` (or
/// its `AccountId`, when both are known) differs from the event's.
pub(super) fn answer_mismatch(
    r: &ResourceRef,
    account: Option<&str>,
    d: &DiscoveredResource,
) -> Option<Note> {
    if !d.region.eq_ignore_ascii_case(&r.region_id) {
        return Some(Note::OtherRegion {
            answered: d.region.clone(),
            asked: r.region_id.clone(),
        });
    }
    match (account, d.account_id.as_deref()) {
        (Some(asked), Some(answered)) if asked != answered.trim() => Some(Note::OtherAccount {
            answered: answered.to_string(),
            asked: asked.to_string(),
        }),
        _ => None,
    }
}

/// What the exempt tag's verdict means for the flow: `Err` with the lead note of a group it
/// exempts (skipped); `Ok` with a note for a group whose exemption ended or cannot be read (it
/// goes on, and its reason says why); `Ok(None)` for a group without the tag. The command line's
/// `scan` decides with it too.
pub fn exemption_note(tag: &ExemptTag, exemption: &Exemption) -> Result<Option<Note>, Note> {
    let key = || tag.key.clone();
    match exemption {
        Exemption::NotExempt => Ok(None),
        Exemption::Exempt => Err(Note::ExemptTag(tag.clone())),
        Exemption::ExemptUntil(until) => Err(Note::ExemptUntil {
            key: key(),
            until: *until,
        }),
        Exemption::Expired(on) => Ok(Some(Note::ExemptionExpired {
            key: key(),
            on: *on,
        })),
        Exemption::Unreadable { value, why } => Ok(Some(Note::ExemptionUnreadable {
            key: key(),
            value: value.clone(),
            why: *why,
        })),
    }
}

/// Config's answer: an answer about another group fails (never act on a group the event did not
/// name); a deleted, service-managed or exempt-tagged group is skipped. An exemption that ended
/// at `now`, or whose end cannot be read, is noted and the group goes on.
pub(super) fn judge_discovered(
    r: &ResourceRef,
    account: Option<&str>,
    d: &DiscoveredResource,
    exempt_tag: &ExemptTag,
    now: SystemTime,
    notes: &mut Vec<Note>,
) -> Option<Stop> {
    if let Some(mismatch) = answer_mismatch(r, account, d) {
        return Some(Stop::fail(mismatch));
    }
    if d.deleted {
        return Some(Stop::skip(Note::Deleted));
    }
    if d.service_managed == Some(true) {
        return Some(Stop::skip(Note::ServiceManaged));
    }
    match exemption_note(exempt_tag, &exemption::decide(exempt_tag, &d.tags, now)) {
        Err(lead) => Some(Stop::skip(lead)),
        Ok(note) => {
            notes.extend(note);
            None
        }
    }
}

/// Both reads of a group, judged in the order the flow always had: Config's answer first (an
/// answer about another group fails; deleted, managed, exempt-tagged groups are skipped; an
/// exemption is judged at `now`), then
/// the live rules (a group gone from ECS is skipped, an unreadable one fails). A live read the
/// decision did not need still has its failure reported, after the lead.
///
/// When Config cannot answer, the live read decides: no official error table lists Config's
/// not-found codes (see [`config_api::is_not_in_config`]), so a code cannot tell "never
/// recorded" from "deleted" or "asked the wrong site". A group ECS says is gone is skipped,
/// with Config's error noted; any other group fails with Config's error as the lead: a group
/// that still exists but that Config cannot vouch for (tags, management) is never acted on.
// A `Stop` is made at most once per resource and moved once: its size costs nothing, and the
// flow's steps (async, where the lint does not look) all answer the same `Step`.
#[allow(clippy::result_large_err)]
pub(super) fn judge_reads(
    r: &ResourceRef,
    account: Option<&str>,
    exempt_tag: &ExemptTag,
    now: SystemTime,
    reads: Reads,
    notes: &mut Vec<Note>,
) -> Step<(DiscoveredResource, Vec<Permission>)> {
    let Reads {
        config,
        config_action,
        live,
    } = reads;
    let discovered = match config {
        Ok(d) => d,
        Err(error) => {
            let not_found = config_api::is_not_in_config(&error);
            let config_failure = if not_found {
                Note::NotInConfig(error)
            } else {
                Note::ApiFailure {
                    step: config_action,
                    error,
                }
            };
            return Err(match live {
                Err(gone) if is_gone(&gone) => {
                    notes.push(config_failure);
                    Stop::skip(Note::Gone(gone))
                }
                Err(other) => {
                    notes.push(live_failure(other));
                    Stop::fail(config_failure)
                }
                Ok(_) => {
                    if not_found {
                        notes.push(Note::LiveButNotInConfig);
                    }
                    Stop::fail(config_failure)
                }
            });
        }
    };
    if let Some(stop) = judge_discovered(r, account, &discovered, exempt_tag, now, notes) {
        // A failed live read is still reported; ECS not having the group is no failure when
        // the group is left alone anyway (a deleted group is gone from ECS too).
        match live {
            Err(error) if !is_gone(&error) => notes.push(live_failure(error)),
            _ => {}
        }
        return Err(stop);
    }
    match live {
        Ok(rules) => Ok((discovered, rules)),
        Err(error) if is_gone(&error) => Err(Stop::skip(Note::Gone(error))),
        Err(error) => Err(Stop::fail(live_failure(error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AccountId;
    use crate::report::Status;
    use crate::services::config::Tags;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .expect("a valid configuration")
    }

    fn resource(account: Option<&str>) -> ResourceRef {
        ResourceRef {
            account_id: account.map(|a| AccountId(a.into())),
            region_id: "cn-hangzhou".into(),
            resource_id: "sg-1".into(),
            resource_type: event::SECURITY_GROUP.into(),
            config_rule_id: None,
        }
    }

    fn answered(region: &str, account: Option<&str>) -> DiscoveredResource {
        DiscoveredResource {
            request_id: None,
            account_id: account.map(str::to_string),
            region: region.into(),
            resource_id: "sg-1".into(),
            resource_type: event::SECURITY_GROUP.into(),
            deleted: false,
            snapshot: Ok(Vec::new()),
            tags: Tags::default(),
            service_managed: None,
        }
    }

    fn tag(key: &str) -> ExemptTag {
        ExemptTag {
            key: key.into(),
            value: None,
        }
    }

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-06-15T12:00:00Z").unwrap()
    }

    /// Config's answer judged at [`now`], without the notes of a group that goes on.
    fn discovered(
        r: &ResourceRef,
        account: Option<&str>,
        d: &DiscoveredResource,
        tag: &ExemptTag,
    ) -> Option<Stop> {
        judge_discovered(r, account, d, tag, now(), &mut Vec::new())
    }

    fn tagged(value: &str) -> DiscoveredResource {
        let mut d = answered("cn-hangzhou", None);
        d.tags = Tags::from_json(&serde_json::json!({ "keep-open": value })).unwrap();
        d
    }

    fn judged_with_notes(d: &DiscoveredResource) -> (Option<Stop>, Vec<Note>) {
        let mut notes = Vec::new();
        let stop = judge_discovered(
            &resource(None),
            None,
            d,
            &tag("keep-open"),
            now(),
            &mut notes,
        );
        (stop, notes)
    }

    fn until(value: &str) -> exemption::Until {
        exemption::read_value(value).unwrap().unwrap()
    }

    #[test]
    fn a_group_exempt_until_a_later_day_is_skipped_saying_until_when() {
        let (stop, notes) = judged_with_notes(&tagged("until=2026-06-15"));
        let lead = Note::ExemptUntil {
            key: "keep-open".into(),
            until: until("until=2026-06-15"),
        };
        assert_eq!(stop, Some(Stop::skip(lead.clone())));
        assert!(notes.is_empty());
        assert_eq!(
            lead.to_string(),
            "exempt until 2026-06-15 (through the end of that day, UTC): tagged keep-open"
        );
    }

    #[test]
    fn a_group_whose_exemption_ended_goes_on_with_a_note_saying_when() {
        let (stop, notes) = judged_with_notes(&tagged("until=2026-06-15T11:59:59Z"));
        assert_eq!(stop, None);
        let note = Note::ExemptionExpired {
            key: "keep-open".into(),
            on: until("until=2026-06-15T11:59:59Z"),
        };
        assert_eq!(notes, std::slice::from_ref(&note));
        assert_eq!(
            note.to_string(),
            "exemption expired on 2026-06-15T11:59:59Z (tag keep-open): no longer exempt"
        );
    }

    #[test]
    fn a_group_whose_end_cannot_be_read_goes_on_with_a_note_saying_why() {
        let (stop, notes) = judged_with_notes(&tagged("until=2026-13-40"));
        assert_eq!(stop, None);
        let [note] = notes.as_slice() else {
            panic!("{notes:?}")
        };
        assert_eq!(
            note.to_string(),
            "not exempt: the tag keep-open=\"until=2026-13-40\" asks for an end that cannot be \
             read (no such date or time (or before 1970)); write until=YYYY-MM-DD or \
             until=<RFC 3339 time>"
        );
    }

    #[test]
    fn an_exemption_is_judged_after_deletion_and_management() {
        let mut d = tagged("until=2020-01-01");
        d.service_managed = Some(true);
        let (stop, notes) = judged_with_notes(&d);
        assert_eq!(stop, Some(Stop::skip(Note::ServiceManaged)));
        assert!(notes.is_empty());
    }

    #[test]
    fn an_event_can_ask_for_a_dry_run_but_never_switch_one_off() {
        use Mode::{DryRun, Enforce};
        assert_eq!(effective_mode(Enforce, None), Enforce);
        assert_eq!(effective_mode(Enforce, Some(false)), Enforce);
        assert_eq!(effective_mode(Enforce, Some(true)), DryRun);
        assert_eq!(effective_mode(DryRun, None), DryRun);
        assert_eq!(effective_mode(DryRun, Some(false)), DryRun);
        assert_eq!(effective_mode(DryRun, Some(true)), DryRun);
    }

    #[test]
    fn a_security_group_not_exempt_goes_on() {
        assert_eq!(admit(&resource(None), &config(&[])), None);
    }

    #[test]
    fn another_resource_type_is_skipped_before_any_call() {
        let mut r = resource(None);
        r.resource_type = "ACS::ECS::Instance".into();
        assert_eq!(
            admit(&r, &config(&[])),
            Some(Stop::skip(Note::UnsupportedType(
                "ACS::ECS::Instance".into()
            )))
        );
    }

    #[test]
    fn a_group_listed_as_exempt_is_skipped_before_any_call() {
        let config = config(&[("EXEMPT_SECURITY_GROUP_IDS", "SG-1")]);
        assert_eq!(
            admit(&resource(None), &config),
            Some(Stop::skip(Note::ExemptId))
        );
    }

    #[test]
    fn an_item_without_account_belongs_to_the_function() {
        assert_eq!(
            resource_account(&resource(None), Some("1")),
            Some("1".into())
        );
        assert_eq!(
            resource_account(&resource(Some("2")), Some("1")),
            Some("2".into())
        );
        assert_eq!(resource_account(&resource(None), None), None);
    }

    #[test]
    fn the_aggregator_account_comes_from_the_item_and_is_an_int64() {
        assert_eq!(
            aggregator_account(&resource(Some("1234567890123456"))),
            Ok("1234567890123456".to_string())
        );
        assert_eq!(
            aggregator_account(&resource(None)),
            Err(Note::AggregatorAccountMissing)
        );
        assert_eq!(
            aggregator_account(&resource(Some("99999999999999999999"))),
            Err(Note::AggregatorAccountInvalid(
                "99999999999999999999".into()
            ))
        );
    }

    #[test]
    fn configs_answer_for_another_region_or_account_is_a_mismatch() {
        let r = resource(None);
        assert_eq!(
            answer_mismatch(&r, Some("1"), &answered("cn-hangzhou", Some("1"))),
            None
        );
        assert_eq!(
            answer_mismatch(&r, None, &answered("CN-HANGZHOU", Some("1"))),
            None
        );
        assert_eq!(
            answer_mismatch(&r, Some("1"), &answered("cn-hangzhou", None)),
            None
        );
        assert_eq!(
            answer_mismatch(&r, Some("1"), &answered("cn-beijing", Some("1"))),
            Some(Note::OtherRegion {
                answered: "cn-beijing".into(),
                asked: "cn-hangzhou".into()
            })
        );
        assert_eq!(
            answer_mismatch(&r, Some("1"), &answered("cn-hangzhou", Some("2"))),
            Some(Note::OtherAccount {
                answered: "2".into(),
                asked: "1".into()
            })
        );
    }

    #[test]
    fn an_answer_about_another_group_fails() {
        let stop = discovered(
            &resource(None),
            Some("1"),
            &answered("cn-beijing", Some("1")),
            &tag("x"),
        )
        .unwrap();
        assert_eq!(stop.status, Status::Failed);
    }

    #[test]
    fn a_deleted_group_is_skipped() {
        let mut d = answered("cn-hangzhou", None);
        d.deleted = true;
        assert_eq!(
            discovered(&resource(None), None, &d, &tag("x")),
            Some(Stop::skip(Note::Deleted))
        );
    }

    #[test]
    fn a_service_managed_group_is_skipped() {
        let mut d = answered("cn-hangzhou", None);
        d.service_managed = Some(true);
        assert_eq!(
            discovered(&resource(None), None, &d, &tag("x")),
            Some(Stop::skip(Note::ServiceManaged))
        );
    }

    #[test]
    fn a_group_with_the_exempt_tag_is_skipped() {
        let mut d = answered("cn-hangzhou", None);
        d.tags = Tags::from_json(&serde_json::json!({"keep-open": "yes"})).unwrap();
        let stop = discovered(&resource(None), None, &d, &tag("keep-open"));
        assert_eq!(stop, Some(Stop::skip(Note::ExemptTag(tag("keep-open")))));
    }

    #[test]
    fn a_live_untagged_group_of_the_event_goes_on() {
        let d = answered("cn-hangzhou", Some("1"));
        assert_eq!(discovered(&resource(None), Some("1"), &d, &tag("x")), None);
    }

    fn service(code: &str) -> ApiError {
        ApiError::Service {
            status: 404,
            code: code.into(),
            message: String::new(),
            request_id: None,
            recommend: None,
        }
    }

    fn reads(
        config: Result<DiscoveredResource, ApiError>,
        live: Result<Vec<Permission>, ApiError>,
    ) -> Reads {
        Reads {
            config,
            config_action: "GetDiscoveredResource",
            live,
        }
    }

    fn judge(reads: Reads) -> (Step<(DiscoveredResource, Vec<Permission>)>, Vec<Note>) {
        let mut notes = Vec::new();
        let step = judge_reads(
            &resource(None),
            Some("1"),
            &tag("x"),
            now(),
            reads,
            &mut notes,
        );
        (step, notes)
    }

    fn gone() -> ApiError {
        service(GROUP_NOT_FOUND)
    }

    #[test]
    fn both_reads_answered_go_on_with_configs_record_and_the_live_rules() {
        let d = answered("cn-hangzhou", Some("1"));
        let (step, notes) = judge(reads(Ok(d.clone()), Ok(Vec::new())));
        assert_eq!(step, Ok((d, Vec::new())));
        assert!(notes.is_empty());
    }

    #[test]
    fn a_config_error_for_a_group_ecs_says_is_gone_is_a_skip_whatever_the_code() {
        for code in ["ResourceNotExists", "Some.Unlisted.Code", "NoPermission"] {
            let (step, notes) = judge(reads(Err(service(code)), Err(gone())));
            assert_eq!(step, Err(Stop::skip(Note::Gone(gone()))), "{code}");
            assert_eq!(notes.len(), 1, "Config's error is kept: {code}");
        }
    }

    #[test]
    fn a_config_not_found_for_a_group_ecs_still_has_fails() {
        let (step, notes) = judge(reads(Err(service("ResourceNotExists")), Ok(Vec::new())));
        assert_eq!(
            step,
            Err(Stop::fail(Note::NotInConfig(service("ResourceNotExists"))))
        );
        assert_eq!(notes, [Note::LiveButNotInConfig]);
    }

    #[test]
    fn any_other_config_error_fails_with_the_live_reads_error_noted() {
        let (step, notes) = judge(reads(
            Err(service("NoPermission")),
            Err(service("Forbidden")),
        ));
        assert_eq!(
            step,
            Err(Stop::fail(Note::ApiFailure {
                step: "GetDiscoveredResource",
                error: service("NoPermission")
            }))
        );
        assert_eq!(
            notes,
            [Note::ApiFailure {
                step: DESCRIBE,
                error: service("Forbidden")
            }]
        );
    }

    #[test]
    fn configs_verdict_comes_first_and_an_unneeded_live_failure_is_still_reported() {
        let mut d = answered("cn-hangzhou", None);
        d.service_managed = Some(true);
        let (step, notes) = judge(reads(Ok(d), Err(service("Forbidden"))));
        assert_eq!(step, Err(Stop::skip(Note::ServiceManaged)));
        assert_eq!(
            notes,
            [Note::ApiFailure {
                step: DESCRIBE,
                error: service("Forbidden")
            }]
        );
    }

    #[test]
    fn a_deleted_group_gone_from_ecs_too_is_just_deleted() {
        let mut d = answered("cn-hangzhou", None);
        d.deleted = true;
        let (step, notes) = judge(reads(Ok(d), Err(gone())));
        assert_eq!(step, Err(Stop::skip(Note::Deleted)));
        assert!(notes.is_empty());
    }

    #[test]
    fn a_group_config_vouches_for_is_skipped_when_gone_live_and_fails_when_unreadable() {
        let d = answered("cn-hangzhou", Some("1"));
        let (step, _) = judge(reads(Ok(d.clone()), Err(gone())));
        assert_eq!(step, Err(Stop::skip(Note::Gone(gone()))));
        let (step, _) = judge(reads(Ok(d), Err(service("Forbidden"))));
        assert_eq!(
            step,
            Err(Stop::fail(Note::ApiFailure {
                step: DESCRIBE,
                error: service("Forbidden")
            }))
        );
    }
}

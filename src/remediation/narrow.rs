//! Narrowing (`REMEDIATION_ACTION=narrow`): a world-open rule is replaced by the same rule from
//! each allowed source of its address family, instead of only being deleted.
//!
//! For each selected rule, in this order: authorize the replacements (one AuthorizeSecurityGroup
//! call per rule, `Permissions.N` one per source, a description naming the replaced rule, a
//! ClientToken derived from the invocation, the group and the rules, so a retry is idempotent);
//! only when that succeeded, revoke the world-open rule; then read the group again: the
//! replacements must be there (their ids come from this read, AuthorizeSecurityGroup answers only
//! a request id) and the world-open rule gone. Authorizing first means an administrator coming
//! from an allowed source never loses access between the two calls; a failed authorize leaves
//! the rule in place. The decision for each rule ([`plan`]) is a pure function.

use std::collections::HashSet;

use crate::event::ResourceRef;
use crate::note::Note;
use crate::remediation::access::Access;
use crate::remediation::notes::{self, record_answer};
use crate::remediation::restore::{same_access, same_rule};
use crate::remediation::{audit, Invoke};
use crate::report::{NarrowedRule, ResourceResult, RevokedRule, Status, WouldNarrow};
use crate::rules::{Address, AllowedSources, Cidr, Permission, Policy, RuleId};
use crate::seal::Purpose;
use crate::services::ecs;

/// The longest `Description` AuthorizeSecurityGroup takes (1 to 512 characters,
/// `ecs-20140526/client/authorize_security_group_request_model.go`, `Permissions.N.Description`).
pub(super) const MAX_DESCRIPTION_CHARS: usize = 512;

/// What narrowing does with one selected rule.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Narrowing {
    /// Authorize `add`, then revoke `original`.
    Replace {
        /// The world-open rule.
        original: Permission,
        /// The allowed sources of its family, in the configured order.
        to: Vec<Cidr>,
        /// The rules to authorize: `original` from each of `to` the group does not yet allow.
        add: Vec<Permission>,
        /// The sources of `to` the group already allows identically (nothing to add for them).
        present: Vec<Cidr>,
    },
    /// No allowed source lies within the rule's source: revoke it as in `revoke` mode.
    RevokeOnly {
        /// The world-open rule.
        original: Permission,
        /// The family it is open to (`IPv4`, `IPv6`).
        family: &'static str,
    },
}

impl Narrowing {
    /// The selected rule.
    pub(super) fn original(&self) -> &Permission {
        match self {
            Narrowing::Replace { original, .. } | Narrowing::RevokeOnly { original, .. } => {
                original
            }
        }
    }
}

/// The rule's CIDR source, whether it is the IPv6 field, and its family's name: `None` when the
/// rule has no usable CIDR source (then it can only be revoked).
fn cidr_source(rule: &Permission) -> Result<(Cidr, bool), &'static str> {
    match (&rule.source_cidr, &rule.ipv6_source_cidr) {
        (Some(Address::Cidr(c)), None) if c.addr.is_ipv4() => Ok((*c, false)),
        (None, Some(Address::Cidr(c))) if c.addr.is_ipv6() => Ok((*c, true)),
        (None, Some(_)) => Err("IPv6"),
        _ => Err("IPv4"),
    }
}

/// The description of a rule that replaces `original`: it names the replaced rule and its
/// source, then keeps the original description (the owner's note on why the access exists),
/// cut to what ECS takes.
pub(super) fn replacement_description(original: &Permission) -> String {
    let id = original.rule_id.as_ref().map_or("(no id)", RuleId::as_str);
    let source = original
        .source_cidr
        .as_ref()
        .or(original.ipv6_source_cidr.as_ref())
        .map(Address::to_text)
        .unwrap_or_default();
    let mut text = format!("sg-remediator narrowed {id} (was from {source})");
    if let Some(d) = original
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        text.push_str(": ");
        text.push_str(d);
    }
    match text.char_indices().nth(MAX_DESCRIPTION_CHARS) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text,
    }
}

/// `original` from `source` instead: every other attribute the same (direction, protocol, port
/// range, policy, priority, NIC type, source ports, destination), no id or creation time (ECS
/// assigns them) and a description naming the replaced rule.
pub(super) fn replacement(original: &Permission, source: Cidr, ipv6: bool) -> Permission {
    let mut rule = original.clone();
    rule.rule_id = None;
    rule.create_time = None;
    rule.description = Some(replacement_description(original).into());
    if ipv6 {
        rule.ipv6_source_cidr = Some(Address::Cidr(source));
    } else {
        rule.source_cidr = Some(Address::Cidr(source));
    }
    rule
}

/// What to do with `rule`, given the allowed sources and the group's live rules: replace it by
/// the allowed sources that lie within its source (so the replacements never admit anyone the
/// rule did not), leaving out those the group already allows identically; or, when none lies
/// within it (or it is not an Accept rule from one CIDR block), revoke it.
pub(super) fn plan(rule: &Permission, allowed: &AllowedSources, live: &[Permission]) -> Narrowing {
    let revoke = |family| Narrowing::RevokeOnly {
        original: rule.clone(),
        family,
    };
    let (source, ipv6) = match cidr_source(rule) {
        Ok(found) => found,
        Err(family) => return revoke(family),
    };
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let no_other_source = rule.source_group_id.is_none() && rule.source_prefix_list_id.is_none();
    let to = allowed.within(&source);
    if to.is_empty() || rule.policy != Policy::Accept || !no_other_source {
        return revoke(family);
    }
    let mut add = Vec::new();
    let mut present = Vec::new();
    for cidr in &to {
        let candidate = replacement(rule, *cidr, ipv6);
        if live.iter().any(|l| same_rule(l, &candidate)) {
            present.push(*cidr);
        } else {
            add.push(candidate);
        }
    }
    Narrowing::Replace {
        original: rule.clone(),
        to,
        add,
        present,
    }
}

/// The notes a plan carries whatever happens next (sources already allowed, rules revoked for
/// lack of an allowed source of their family).
fn plan_notes(plans: &[Narrowing]) -> Vec<Note> {
    plans
        .iter()
        .filter_map(|p| match p {
            Narrowing::RevokeOnly { original, family } => Some(Note::NoAllowedSource {
                rule: original.rule_id.clone(),
                family,
            }),
            Narrowing::Replace {
                original, present, ..
            } if !present.is_empty() => Some(Note::AlreadyAllowed {
                rule: original.rule_id.clone(),
                sources: present.clone(),
            }),
            Narrowing::Replace { .. } => None,
        })
        .collect()
}

/// The notes of a rule opening more than the risky ports, reworded for the rules that are
/// narrowed: their access beyond the risky ports is limited to the allowed sources, not removed.
pub(super) fn reword_collateral(notes: &mut [Note], plans: &[Narrowing]) {
    for note in notes.iter_mut() {
        if let Note::Collateral {
            rule,
            protocol,
            port_range,
        } = note
        {
            let replaced = plans.iter().any(
                |p| matches!(p, Narrowing::Replace { original, .. } if original.rule_id == *rule),
            );
            if replaced {
                *note = Note::CollateralNarrowed {
                    rule: rule.clone(),
                    protocol: protocol.clone(),
                    port_range: port_range.clone(),
                };
            }
        }
    }
}

/// The sources of `plans` that are used, each once, in the configured order.
fn sources_used<'a>(plans: impl IntoIterator<Item = &'a Narrowing>) -> Vec<Cidr> {
    let mut used: Vec<Cidr> = Vec::new();
    for plan in plans {
        if let Narrowing::Replace { to, .. } = plan {
            for cidr in to {
                if !used.contains(cidr) {
                    used.push(*cidr);
                }
            }
        }
    }
    used
}

/// A dry run's account of the narrowing: what would be added in place of what, and the notes.
pub(super) fn dry_run(plans: &[Narrowing]) -> (Vec<WouldNarrow>, Vec<Note>) {
    let would: Vec<WouldNarrow> = plans
        .iter()
        .filter_map(|p| match p {
            Narrowing::Replace { original, add, .. } => Some(WouldNarrow {
                original: original.clone(),
                added: add.clone(),
            }),
            Narrowing::RevokeOnly { .. } => None,
        })
        .collect();
    let mut notes = Vec::new();
    if !would.is_empty() {
        notes.push(Note::WouldNarrow {
            count: would.len(),
            added: would.iter().map(|w| w.added.len()).sum(),
            to: sources_used(plans),
        });
    }
    notes.extend(plan_notes(plans));
    (would, notes)
}

impl Invoke {
    /// Narrows the selected rules of `r` (see the module docs): authorize, revoke what may be
    /// revoked, verify, report.
    pub(super) async fn narrow_and_verify(
        &self,
        access: &Access,
        r: &ResourceRef,
        plans: Vec<Narrowing>,
        live: &[Permission],
        mut out: ResourceResult,
        mut notes: Vec<Note>,
    ) -> ResourceResult {
        reword_collateral(&mut notes, &plans);
        notes.extend(plan_notes(&plans));
        let mut failures = Vec::new();
        // Per plan: whether its replacements were authorized (or none were needed).
        let mut authorized = vec![false; plans.len()];
        let mut revoke_ids = Vec::new();
        let endpoint = self.ecs_endpoint(&r.region_id);
        for (i, plan) in plans.iter().enumerate() {
            let id = plan.original().rule_id.clone();
            let add = match plan {
                Narrowing::RevokeOnly { .. } => {
                    revoke_ids.extend(id);
                    continue;
                }
                Narrowing::Replace { add, .. } => add,
            };
            let mut error = None;
            if !add.is_empty() {
                match &endpoint {
                    Err(e) => error = Some(e.clone()),
                    Ok(endpoint) => {
                        for chunk in ecs::authorize_security_group(
                            &self.remediator.client,
                            &access.resource_cx(self),
                            endpoint,
                            &r.region_id,
                            &r.resource_id,
                            &self.request_id,
                            add,
                        )
                        .await
                        {
                            if let Err(e) = record_answer(
                                "AuthorizeSecurityGroup",
                                &chunk.retried,
                                chunk.result,
                                &mut out,
                                &mut notes,
                            ) {
                                error.get_or_insert(e);
                            }
                        }
                    }
                }
            }
            match error {
                None => {
                    authorized[i] = true;
                    revoke_ids.extend(id);
                }
                Some(error) => failures.push(Note::NarrowAuthorizeFailed {
                    rule: id,
                    error: Box::new(error),
                }),
            }
        }
        let exposed: Vec<Permission> = plans.iter().map(|p| p.original().clone()).collect();
        let done = match self
            .revoke_settled(access, r, revoke_ids, &exposed, out, notes)
            .await
        {
            Ok(done) => done,
            Err(failed) => return failed,
        };
        let mut out = done.out;
        let settled = done.settled;
        let before: HashSet<&RuleId> = live.iter().filter_map(|p| p.rule_id.as_ref()).collect();
        let revoked: HashSet<RuleId> = out.revoked_rule_ids.iter().cloned().collect();
        let (mut narrowed, mut added_count) = (Vec::new(), 0);
        for (plan, authorized) in plans.iter().zip(authorized) {
            let Narrowing::Replace { original, add, .. } = plan else {
                continue;
            };
            // What the group has now that it did not have and that is one of the replacements.
            let found: Vec<Permission> = done
                .after
                .iter()
                .flatten()
                .filter(|p| p.rule_id.as_ref().is_some_and(|id| !before.contains(id)))
                .filter(|p| add.iter().any(|a| same_access(a, p)))
                .cloned()
                .collect();
            if authorized {
                if let Some(after) = &done.after {
                    let missing = add
                        .iter()
                        .filter(|a| !after.iter().any(|p| same_access(a, p)))
                        .count();
                    if missing > 0 {
                        failures.push(Note::AddedMissing {
                            rule: original.rule_id.clone(),
                            missing,
                        });
                    }
                }
            }
            let original_revoked = original
                .rule_id
                .as_ref()
                .is_some_and(|id| revoked.contains(id));
            if authorized && !original_revoked {
                failures.push(Note::NarrowRevokeFailed {
                    rule: original.rule_id.clone(),
                    added: found.len(),
                });
            }
            if found.is_empty() && !original_revoked {
                continue;
            }
            let original = match out
                .revoked_rules
                .iter()
                .find(|x| x.rule.rule_id == original.rule_id)
            {
                Some(sealed) if original_revoked => sealed.clone(),
                _ => RevokedRule::from(original.clone()),
            };
            let added = self.sealed_for(Purpose::Added, r, &out, found);
            audit::rules("rule_added", r, &added);
            if original_revoked {
                added_count += added.len();
            }
            narrowed.push((
                plan,
                NarrowedRule {
                    original,
                    added,
                    original_revoked,
                },
            ));
        }
        let done_plans = narrowed
            .iter()
            .filter(|(_, n)| n.original_revoked)
            .map(|(p, _)| *p);
        let to = sources_used(done_plans);
        let count = narrowed.iter().filter(|(_, n)| n.original_revoked).count();
        out.narrowed_rules = narrowed.into_iter().map(|(_, n)| n).collect();
        let mut reason = failures;
        let status = if reason.is_empty() {
            settled.status
        } else {
            Status::Failed
        };
        if count > 0 {
            reason.push(Note::Narrowed {
                count,
                added: added_count,
                to,
            });
        }
        // "revoked 0 rule(s)" says nothing when every authorize failed.
        reason.extend(
            settled
                .reason
                .into_iter()
                .filter(|n| *n != Note::Revoked(0)),
        );
        notes::finish(out, status, None, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: serde_json::Value) -> Permission {
        Permission::from_json(&v).unwrap()
    }

    fn world_ssh() -> Permission {
        rule(
            json!({"SecurityGroupRuleId": "sgr-ssh", "Direction": "ingress", "Policy": "Accept",
            "Priority": 5, "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0",
            "NicType": "intranet", "Description": "office ssh", "CreateTime": "2024-01-01T00:00:00Z"}),
        )
    }

    fn world_ssh_v6() -> Permission {
        rule(
            json!({"SecurityGroupRuleId": "sgr-ssh6", "Direction": "ingress", "Policy": "Accept",
            "Priority": 1, "IpProtocol": "TCP", "PortRange": "22/22", "Ipv6SourceCidrIp": "::/0"}),
        )
    }

    fn allowed(list: &str) -> AllowedSources {
        list.parse().unwrap()
    }

    #[test]
    fn a_world_rule_is_replaced_by_the_same_rule_from_each_allowed_source_of_its_family() {
        let plan = plan(
            &world_ssh(),
            &allowed("203.0.113.0/24,2001:db8::/32,198.51.100.0/24"),
            &[],
        );
        let Narrowing::Replace {
            to, add, present, ..
        } = plan
        else {
            panic!("{plan:?}")
        };
        assert_eq!(to.len(), 2);
        assert!(present.is_empty());
        let sources: Vec<String> = add
            .iter()
            .map(|a| a.source_cidr.as_ref().unwrap().to_text())
            .collect();
        assert_eq!(sources, ["203.0.113.0/24", "198.51.100.0/24"]);
        for a in &add {
            let mut same = a.clone();
            same.source_cidr = world_ssh().source_cidr;
            same.description = world_ssh().description;
            same.rule_id = world_ssh().rule_id;
            same.create_time = world_ssh().create_time;
            assert_eq!(
                same,
                world_ssh(),
                "only the source, description, id and time differ"
            );
            assert_eq!(
                a.description.as_deref(),
                Some("sg-remediator narrowed sgr-ssh (was from 0.0.0.0/0): office ssh")
            );
            assert_eq!(a.rule_id, None);
            assert_eq!(a.ipv6_source_cidr, None);
        }
    }

    #[test]
    fn an_ipv6_rule_gets_the_ipv6_sources_in_its_ipv6_field() {
        let plan = plan(
            &world_ssh_v6(),
            &allowed("203.0.113.0/24,2001:db8::/32"),
            &[],
        );
        let Narrowing::Replace { add, .. } = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(add.len(), 1);
        assert_eq!(
            add[0].ipv6_source_cidr.as_ref().unwrap().to_text(),
            "2001:db8::/32"
        );
        assert_eq!(add[0].source_cidr, None);
    }

    #[test]
    fn a_rule_whose_family_has_no_allowed_source_is_revoked() {
        assert_eq!(
            plan(&world_ssh_v6(), &allowed("203.0.113.0/24"), &[]),
            Narrowing::RevokeOnly {
                original: world_ssh_v6(),
                family: "IPv6"
            }
        );
    }

    #[test]
    fn a_source_the_group_already_allows_identically_is_not_added_again() {
        let existing = rule(
            json!({"SecurityGroupRuleId": "sgr-office", "Direction": "ingress",
            "Policy": "accept", "Priority": "5", "IpProtocol": "tcp", "PortRange": "22/22",
            "SourceCidrIp": "203.0.113.0/24", "NicType": "intranet", "Description": "by hand"}),
        );
        let plan = plan(
            &world_ssh(),
            &allowed("203.0.113.0/24,198.51.100.0/24"),
            &[existing],
        );
        let Narrowing::Replace { add, present, .. } = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(present, vec!["203.0.113.0/24".parse::<Cidr>().unwrap()]);
        assert_eq!(add.len(), 1);
    }

    #[test]
    fn a_rule_only_partly_open_gets_only_the_sources_inside_it() {
        let half = rule(
            json!({"SecurityGroupRuleId": "sgr-half", "Direction": "ingress",
            "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/1"}),
        );
        let plan = plan(&half, &allowed("203.0.113.0/24,10.0.0.0/8"), &[]);
        let Narrowing::Replace { to, .. } = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(to, vec!["10.0.0.0/8".parse::<Cidr>().unwrap()]);
    }

    #[test]
    fn the_description_is_cut_to_what_ecs_takes_at_a_character() {
        let mut long = world_ssh();
        long.description = Some("é".repeat(600).into());
        let d = replacement_description(&long);
        assert_eq!(d.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(d.starts_with("sg-remediator narrowed sgr-ssh (was from 0.0.0.0/0): é"));
    }

    #[test]
    fn a_narrowed_wide_rule_is_said_to_be_limited_not_removed() {
        let mut wide = world_ssh();
        wide.port_range = crate::rules::PortRange::parse("1/65535");
        let collateral = |rule: &Permission| Note::Collateral {
            rule: rule.rule_id.clone(),
            protocol: rule.protocol.clone(),
            port_range: rule.port_range.clone(),
        };
        let mut notes = vec![collateral(&wide), collateral(&world_ssh_v6())];
        let plans = vec![
            plan(&wide, &allowed("203.0.113.0/24"), &[]),
            plan(&world_ssh_v6(), &allowed("203.0.113.0/24"), &[]),
        ];
        reword_collateral(&mut notes, &plans);
        assert!(matches!(notes[0], Note::CollateralNarrowed { .. }));
        assert_eq!(notes[1], collateral(&world_ssh_v6()), "revoked, so removed");
        assert!(notes[0]
            .to_string()
            .ends_with("narrowing it limits all of that access to the allowed sources, not only the risky ports"));
    }

    #[test]
    fn a_dry_run_lists_what_would_be_added_and_revoked() {
        let plans = vec![
            plan(&world_ssh(), &allowed("203.0.113.0/24"), &[]),
            plan(&world_ssh_v6(), &allowed("203.0.113.0/24"), &[]),
        ];
        let (would, notes) = dry_run(&plans);
        assert_eq!(would.len(), 1);
        assert_eq!(would[0].original, world_ssh());
        assert_eq!(would[0].added.len(), 1);
        assert_eq!(
            crate::note::reason(&notes),
            "would narrow 1 rule(s) to 203.0.113.0/24: would add 1 rule(s), then revoke the \
             world-open rule(s); sgr-ssh6: ALLOWED_SOURCE_CIDRS has no IPv6 block, so it is \
             revoked, not narrowed"
        );
    }
}

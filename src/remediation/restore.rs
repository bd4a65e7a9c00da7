//! A restore: only rules whose seal verifies for this account, region and group are put back,
//! never on an exempt, deleted or managed group, never adding a rule already there, and in a dry
//! run not at all. The undo of a narrowing also lists the rules it added (`removeRules`): once
//! every original is back, those whose added-rule seal verifies and that the group still has as
//! sealed are revoked; nothing else is ever revoked by a restore.

use std::collections::HashSet;

use acs_openapi::ApiError;
use std::time::SystemTime;

use crate::event::{self, ResourceRef, RestoreRequest};
use crate::note::Note;
use crate::remediation::access::Access;
use crate::remediation::notes::{record_answer, Step, Stop};
use crate::remediation::{audit, gate, Invoke};
use crate::report::{RefusedRule, ResourceResult, RestoreReport, RestoreStatus, Status};
use crate::rules::{Permission, RuleId};
use crate::seal::{Place, Purpose, Sealer};
use crate::services::ecs;

/// `rule`'s record without the attributes in `leave_out`.
fn record_without(rule: &Permission, leave_out: &[&str]) -> serde_json::Value {
    let mut v = rule.to_json();
    if let Some(m) = v.as_object_mut() {
        for k in leave_out {
            m.remove(*k);
        }
    }
    v
}

/// Whether two rules grant the same access (every attribute but the id, the creation time and
/// the description): a rule a restore removes must still be exactly the one it sealed.
pub(super) fn same_access(a: &Permission, b: &Permission) -> bool {
    let leave_out = ["SecurityGroupRuleId", "CreateTime", "Description"];
    record_without(a, &leave_out) == record_without(b, &leave_out)
}

/// Whether ECS counts two rules as one: every attribute but the id, the creation time, the
/// description and the priority. AuthorizeSecurityGroup's reference says a rule the group
/// already has in this sense is accepted and nothing is created, so adding it is pointless and
/// its verify would look for a rule that never appears.
pub(super) fn same_rule(a: &Permission, b: &Permission) -> bool {
    let leave_out = [
        "SecurityGroupRuleId",
        "CreateTime",
        "Description",
        "Priority",
    ];
    record_without(a, &leave_out) == record_without(b, &leave_out)
}

/// The entries whose seal does not verify for this account, region and group (missing,
/// forged, altered or expired), each with its position and why; empty when all may be restored.
pub(super) fn refused(
    sealer: &Sealer,
    place: Place<'_>,
    rules: &[Permission],
    seals: &[Option<String>],
    now: SystemTime,
) -> Vec<RefusedRule> {
    refused_for(Purpose::Revoked, sealer, place, rules, seals, now)
}

/// [`refused`] for the seals of `purpose`: a `removeRules` entry needs the seal of a rule a
/// narrowing added, which no revoked rule's seal can stand in for (nor the other way round).
pub(super) fn refused_for(
    purpose: Purpose,
    sealer: &Sealer,
    place: Place<'_>,
    rules: &[Permission],
    seals: &[Option<String>],
    now: SystemTime,
) -> Vec<RefusedRule> {
    rules
        .iter()
        .zip(seals)
        .enumerate()
        .filter_map(|(index, (rule, seal))| {
            sealer
                .verify_for(purpose, place, rule, seal.as_deref(), now)
                .err()
                .map(|e| RefusedRule {
                    index,
                    list: (purpose == Purpose::Added).then_some("removeRules"),
                    rule: rule.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// Splits the rules a narrowing added into those to revoke (the group still has a rule of that
/// id granting exactly that access) and the ids of those left alone (gone, or changed since).
pub(super) fn to_remove(
    rules: &[Permission],
    live: &[Permission],
) -> (Vec<Permission>, Vec<RuleId>) {
    let mut remove: Vec<Permission> = Vec::new();
    let mut left = Vec::new();
    for rule in rules {
        let Some(id) = &rule.rule_id else { continue };
        let live_same = live
            .iter()
            .any(|l| l.rule_id.as_ref() == Some(id) && same_access(l, rule));
        if !live_same {
            left.push(id.clone());
        } else if !remove.iter().any(|r| r.rule_id.as_ref() == Some(id)) {
            remove.push(rule.clone());
        }
    }
    (remove, left)
}

/// Splits the rules to restore into those to add and those already present (live, or earlier
/// in the same request).
pub(super) fn to_add(
    rules: Vec<Permission>,
    live: &[Permission],
) -> (Vec<Permission>, Vec<Permission>) {
    let mut add: Vec<Permission> = Vec::new();
    let mut present = Vec::new();
    for rule in rules {
        if live.iter().any(|l| same_rule(l, &rule)) || add.iter().any(|q| same_rule(q, &rule)) {
            present.push(rule);
        } else {
            add.push(rule);
        }
    }
    (add, present)
}

/// Where a restore got to: what it learned along the way, whatever its end.
struct Progress {
    out: ResourceResult,
    /// Every error seen along the way (retried attempts included), for the reason.
    seen: Vec<Note>,
    refused_rules: Vec<RefusedRule>,
    already_present_rules: Vec<Permission>,
    would_restore_rules: Option<Vec<Permission>>,
    restored_rules: Vec<Permission>,
    new_rule_ids: Vec<RuleId>,
    removed_rules: Vec<Permission>,
    would_remove_rules: Option<Vec<Permission>>,
}

/// How a restore that went through its steps ended: the status and the lead of its reason.
struct Done {
    status: RestoreStatus,
    lead: Note,
}

impl Invoke {
    /// Restores the sealed rules of one group. Any entry without a valid seal refuses the
    /// whole event before any API call.
    pub(super) async fn restore(
        &self,
        request: RestoreRequest,
        request_id: &str,
        sealer: &Sealer,
    ) -> RestoreReport {
        let account = request
            .account_id
            .as_ref()
            .map(|a| a.0.clone())
            .or_else(|| self.function_account.clone());
        let resource = ResourceRef {
            account_id: request.account_id.clone(),
            region_id: request.region_id.clone(),
            resource_id: request.resource_id.clone(),
            resource_type: event::SECURITY_GROUP.into(),
            config_rule_id: None,
        };
        let mut progress = Progress {
            out: ResourceResult::new(
                Some(request.resource_id.clone()),
                Some(request.region_id.clone()),
                account.clone(),
                Some(event::SECURITY_GROUP.into()),
                Status::Failed,
            ),
            seen: Vec::new(),
            refused_rules: Vec::new(),
            already_present_rules: Vec::new(),
            would_restore_rules: None,
            restored_rules: Vec::new(),
            new_rule_ids: Vec::new(),
            removed_rules: Vec::new(),
            would_remove_rules: None,
        };
        let (status, lead) = match self
            .restore_steps(
                &resource,
                account.as_deref(),
                request,
                sealer,
                &mut progress,
            )
            .await
        {
            Ok(done) => (done.status, done.lead),
            Err(stop) => (RestoreStatus::from(stop.status), stop.lead),
        };
        RestoreReport {
            request_id: request_id.to_string(),
            action: "restore",
            resource_id: resource.resource_id,
            region_id: resource.region_id,
            account_id: account,
            status,
            mode: self.mode,
            reason: Some(crate::note::reason(
                std::iter::once(&lead).chain(&progress.seen),
            )),
            restored_rules: progress.restored_rules,
            would_restore_rules: progress.would_restore_rules,
            already_present_rules: progress.already_present_rules,
            refused_rules: progress.refused_rules,
            new_rule_ids: progress.new_rule_ids,
            removed_rules: progress.removed_rules,
            would_remove_rules: progress.would_remove_rules,
            api_request_ids: progress.out.api_request_ids,
        }
    }

    /// The steps of a restore, in order: gate → seals → access → Config → live rules → (dry run
    /// stops here) → authorize → describe again.
    async fn restore_steps(
        &self,
        resource: &ResourceRef,
        account: Option<&str>,
        request: RestoreRequest,
        sealer: &Sealer,
        p: &mut Progress,
    ) -> Step<Done> {
        if let Some(stop) = gate::admit(resource, self.config()) {
            return Err(stop);
        }
        if let Some(refusal) = self.check_seals(resource, account, &request, sealer, p) {
            return Err(Stop::fail(refusal));
        }
        let access = self.access(account, &mut p.out).await?;
        // The same gate as a remediation, on the same two reads made at the same time: exempt
        // by tag, deleted or managed groups are left alone, and Config must answer for the
        // group the event names. Unlike a remediation, a group Config vouches for but ECS
        // cannot read (gone included) fails: the rules were not put back.
        let reads = self
            .read_group(resource, &access, &mut p.out, &mut p.seen)
            .await?;
        let config_answered = reads.config.is_ok();
        let (_, before) = gate::judge_reads(
            resource,
            account,
            &self.config().exempt_tag,
            std::time::SystemTime::now(),
            reads,
            &mut p.seen,
        )
        .map_err(|stop| match stop.lead {
            Note::Gone(error) if config_answered => Stop::fail(Note::ApiFailure {
                step: "DescribeSecurityGroupAttribute",
                error,
            }),
            _ => stop,
        })?;
        let (add, present) = to_add(request.rules, &before);
        let (remove, left_alone) = to_remove(&request.remove_rules, &before);
        if !left_alone.is_empty() {
            p.seen.push(Note::AddedLeftAlone(left_alone));
        }
        p.already_present_rules = present;
        let already_present = p.already_present_rules.len();
        if self.mode == crate::config::Mode::DryRun {
            let count = add.len();
            p.would_restore_rules = Some(add);
            if !request.remove_rules.is_empty() {
                p.seen.insert(0, Note::WouldRemoveAdded(remove.len()));
                p.would_remove_rules = Some(remove);
            }
            return Ok(Done {
                status: RestoreStatus::WouldRestore,
                lead: Note::WouldRestore {
                    count,
                    already_present,
                },
            });
        }
        // Every batch is tried, and the new ids are learned even after a failed batch, so the
        // report says what did change; any failure then fails the restore. The rules a
        // narrowing added are revoked only once every original is back.
        let mut errors = self.authorize(resource, &access, &add, p).await;
        let remove_ids: Vec<RuleId> = remove.iter().filter_map(|r| r.rule_id.clone()).collect();
        let removing = errors.is_empty() && !remove_ids.is_empty();
        if removing {
            errors.extend(self.revoke_added(resource, &access, &remove_ids, p).await);
        }
        if !add.is_empty() || removing {
            match self.read_after(resource, &access, &before, p).await {
                Ok((ids, present)) => {
                    p.new_rule_ids = ids;
                    if removing {
                        let (gone, still): (Vec<Permission>, Vec<Permission>) =
                            remove.into_iter().partition(|r| {
                                r.rule_id.as_ref().is_some_and(|id| !present.contains(id))
                            });
                        if !still.is_empty() {
                            errors.push(Note::AddedStillPresent(
                                still.iter().filter_map(|r| r.rule_id.clone()).collect(),
                            ));
                        }
                        p.seen.insert(0, Note::RemovedAdded(gone.len()));
                        audit::rules("rule_added_removed", resource, &gone);
                        p.removed_rules = gone;
                    }
                }
                Err(error) => errors.push(Note::ApiFailure {
                    step: "describing after the restore",
                    error,
                }),
            }
        }
        if !errors.is_empty() {
            let lead = errors.remove(0);
            p.seen.splice(0..0, errors);
            return Err(Stop::fail(lead));
        }
        Ok(Done {
            status: RestoreStatus::Restored,
            lead: Note::Restored {
                count: p.restored_rules.len(),
                already_present,
            },
        })
    }

    /// Every seal first: a forged or altered entry refuses the whole event, before any call.
    /// The refusal, if any.
    fn check_seals(
        &self,
        resource: &ResourceRef,
        account: Option<&str>,
        request: &RestoreRequest,
        sealer: &Sealer,
        p: &mut Progress,
    ) -> Option<Note> {
        let place = Place {
            account: account.unwrap_or(""),
            region: &resource.region_id,
            group: &resource.resource_id,
        };
        let now = SystemTime::now();
        p.refused_rules = refused(sealer, place, &request.rules, &request.seals, now);
        p.refused_rules.extend(refused_for(
            Purpose::Added,
            sealer,
            place,
            &request.remove_rules,
            &request.remove_seals,
            now,
        ));
        if p.refused_rules.is_empty() {
            return None;
        }
        audit::restore_refused(&resource.resource_id, p.refused_rules.len());
        Some(Note::RestoreRefused {
            refused: p.refused_rules.len(),
            total: request.rules.len() + request.remove_rules.len(),
            group: resource.resource_id.clone(),
            account: place.account.to_string(),
            region: resource.region_id.clone(),
        })
    }

    /// Authorizes the rules to add, batch by batch, every batch tried: the failures, in order.
    async fn authorize(
        &self,
        resource: &ResourceRef,
        access: &Access,
        add: &[Permission],
        p: &mut Progress,
    ) -> Vec<Note> {
        let endpoint = match self.ecs_endpoint(&resource.region_id) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                return vec![Note::ApiFailure {
                    step: "AuthorizeSecurityGroup",
                    error,
                }]
            }
        };
        let mut errors = Vec::new();
        for chunk in ecs::authorize_security_group(
            &self.remediator.client,
            &access.resource_cx(self),
            &endpoint,
            &resource.region_id,
            &resource.resource_id,
            &self.request_id,
            add,
        )
        .await
        {
            match record_answer(
                "AuthorizeSecurityGroup",
                &chunk.retried,
                chunk.result,
                &mut p.out,
                &mut p.seen,
            ) {
                Ok(()) => {
                    audit::rules("rule_restored", resource, &chunk.rules);
                    p.restored_rules.extend(chunk.rules);
                }
                Err(error) => errors.push(Note::ApiFailure {
                    step: "AuthorizeSecurityGroup",
                    error,
                }),
            }
        }
        errors
    }

    /// Revokes the rules a narrowing added (by id, sealed and still as sealed): the failures.
    async fn revoke_added(
        &self,
        resource: &ResourceRef,
        access: &Access,
        ids: &[RuleId],
        p: &mut Progress,
    ) -> Vec<Note> {
        let endpoint = match self.ecs_endpoint(&resource.region_id) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                return vec![Note::ApiFailure {
                    step: "RevokeSecurityGroup",
                    error,
                }]
            }
        };
        let mut errors = Vec::new();
        for chunk in ecs::revoke_security_group(
            &self.remediator.client,
            &access.resource_cx(self),
            &endpoint,
            &resource.region_id,
            &resource.resource_id,
            &self.request_id,
            ids,
        )
        .await
        {
            if let Err(error) = record_answer(
                "RevokeSecurityGroup",
                &chunk.retried,
                chunk.result,
                &mut p.out,
                &mut p.seen,
            ) {
                errors.push(Note::ApiFailure {
                    step: "RevokeSecurityGroup",
                    error,
                });
            }
        }
        errors
    }

    /// The group read again: the ids the restored rules got (a restored rule gets a new id:
    /// what the group has now that it did not have before) and every id it has now.
    async fn read_after(
        &self,
        resource: &ResourceRef,
        access: &Access,
        before: &[Permission],
        p: &mut Progress,
    ) -> Result<(Vec<RuleId>, HashSet<RuleId>), ApiError> {
        let existing: HashSet<&RuleId> = before.iter().filter_map(|r| r.rule_id.as_ref()).collect();
        let after = self
            .describe(access, resource, &mut p.out, &mut p.seen)
            .await?;
        let present: HashSet<RuleId> = after.iter().filter_map(|r| r.rule_id.clone()).collect();
        let new = after
            .into_iter()
            .filter_map(|r| r.rule_id)
            .filter(|id| !existing.contains(id))
            .collect();
        Ok((new, present))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, desc: &str, port: &str) -> Permission {
        Permission::from_json(&serde_json::json!({"SecurityGroupRuleId": id,
            "Direction": "ingress", "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP",
            "PortRange": port, "SourceCidrIp": "0.0.0.0/0", "Description": desc,
            "CreateTime": id}))
        .unwrap()
    }

    #[test]
    fn rules_differing_only_in_id_time_or_description_grant_the_same_access() {
        assert!(same_access(
            &rule("sgr-a", "x", "22/22"),
            &rule("sgr-b", "y", "22/22")
        ));
        assert!(!same_access(
            &rule("sgr-a", "x", "22/22"),
            &rule("sgr-a", "x", "23/23")
        ));
    }

    #[test]
    fn rules_differing_only_in_priority_are_one_rule_to_ecs_but_not_the_same_access() {
        let mut other = rule("sgr-b", "y", "22/22");
        other.priority = crate::rules::Priority(7);
        let first = rule("sgr-a", "x", "22/22");
        assert!(same_rule(&first, &other));
        assert!(!same_access(&first, &other));
        assert!(!same_rule(&first, &rule("sgr-a", "x", "23/23")));
    }

    fn sealer() -> Sealer {
        Sealer::new(
            "a94f0e7d3c2b81567f0e9d8c7b6a5f4e3d2c1b0a99887766f5e4d3c2b1a09f8e"
                .parse()
                .unwrap(),
            std::time::Duration::from_secs(86_400),
        )
    }

    const HERE: Place<'static> = Place {
        account: "1",
        region: "cn-hangzhou",
        group: "sg-1",
    };

    #[test]
    fn rules_sealed_here_are_not_refused() {
        let (s, now, r) = (sealer(), SystemTime::now(), rule("sgr-a", "", "22/22"));
        let seal = s.seal(HERE, &r, now);
        assert!(refused(&s, HERE, &[r], &[Some(seal)], now).is_empty());
    }

    #[test]
    fn an_unsealed_rule_is_refused_at_its_position() {
        let (s, now) = (sealer(), SystemTime::now());
        let (a, b) = (rule("sgr-a", "", "22/22"), rule("sgr-b", "", "3389/3389"));
        let seal = s.seal(HERE, &a, now);
        let out = refused(&s, HERE, &[a, b.clone()], &[Some(seal), None], now);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].index, &out[0].rule), (1, &b));
    }

    #[test]
    fn a_rule_sealed_for_another_group_is_refused() {
        let (s, now, r) = (sealer(), SystemTime::now(), rule("sgr-a", "", "22/22"));
        let elsewhere = Place {
            group: "sg-2",
            ..HERE
        };
        let seal = s.seal(elsewhere, &r, now);
        assert_eq!(refused(&s, HERE, &[r], &[Some(seal)], now).len(), 1);
    }

    #[test]
    fn a_rule_granting_live_access_is_not_added_again() {
        let live = [rule("sgr-live", "", "22/22")];
        let (add, present) = to_add(
            vec![rule("sgr-a", "", "22/22"), rule("sgr-b", "", "3389/3389")],
            &live,
        );
        assert_eq!(add, vec![rule("sgr-b", "", "3389/3389")]);
        assert_eq!(present, vec![rule("sgr-a", "", "22/22")]);
    }

    #[test]
    fn a_rule_repeated_in_the_request_is_added_once() {
        let (add, present) = to_add(
            vec![rule("sgr-a", "", "22/22"), rule("sgr-b", "", "22/22")],
            &[],
        );
        assert_eq!(add, vec![rule("sgr-a", "", "22/22")]);
        assert_eq!(present, vec![rule("sgr-b", "", "22/22")]);
    }

    #[test]
    fn only_an_added_rule_the_group_still_has_as_sealed_is_removed() {
        let added = |id: &str, port: &str| {
            let mut r = rule(id, "sg-remediator narrowed sgr-x", port);
            r.source_cidr = Some(crate::rules::Address::Cidr(
                "203.0.113.0/24".parse().unwrap(),
            ));
            r
        };
        let live = [
            added("sgr-added", "22/22"),
            added("sgr-look-alike", "22/22"),
            added("sgr-changed", "2222/2222"),
        ];
        let (remove, left) = to_remove(
            &[
                added("sgr-added", "22/22"),
                added("sgr-changed", "22/22"),
                added("sgr-gone", "22/22"),
                added("sgr-added", "22/22"),
            ],
            &live,
        );
        assert_eq!(remove, vec![added("sgr-added", "22/22")]);
        assert_eq!(
            left,
            vec![RuleId("sgr-changed".into()), RuleId("sgr-gone".into())]
        );
    }
}

//! A restore: only rules whose seal verifies for this account, region and group are put back,
//! never on an exempt, deleted or managed group, never twice, and in a dry run not at all.

use std::collections::HashSet;
use std::time::SystemTime;

use crate::event::{self, ResourceRef, RestoreRequest};
use crate::remediation::notes::{record_retried, Note};
use crate::remediation::{audit, gate, Invoke};
use crate::report::{self, RefusedRule, ResourceResult, RestoreReport, Status};
use crate::rules::{Permission, RuleId};
use crate::seal::{Place, Sealer};
use crate::services::ecs;

/// Whether two rules grant the same access (every attribute but the id, the creation time and
/// the description): re-adding such a rule would duplicate it.
pub(super) fn same_access(a: &Permission, b: &Permission) -> bool {
    let access = |p: &Permission| {
        let mut v = p.to_json();
        if let Some(m) = v.as_object_mut() {
            for k in ["SecurityGroupRuleId", "CreateTime", "Description"] {
                m.remove(k);
            }
        }
        v
    };
    access(a) == access(b)
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
    rules
        .iter()
        .zip(seals)
        .enumerate()
        .filter_map(|(index, (rule, seal))| {
            sealer
                .verify(place, rule, seal.as_deref(), now)
                .err()
                .map(|e| RefusedRule {
                    index,
                    rule: rule.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
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
        if live.iter().any(|l| same_access(l, &rule)) || add.iter().any(|q| same_access(q, &rule)) {
            present.push(rule);
        } else {
            add.push(rule);
        }
    }
    (add, present)
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
        let mut report = RestoreReport {
            request_id: request_id.to_string(),
            action: "restore",
            resource_id: request.resource_id.clone(),
            region_id: request.region_id.clone(),
            account_id: account.clone(),
            status: "failed",
            mode: self.mode,
            reason: None,
            restored_rules: Vec::new(),
            would_restore_rules: None,
            already_present_rules: Vec::new(),
            refused_rules: Vec::new(),
            new_rule_ids: Vec::new(),
            api_request_ids: Vec::new(),
        };
        let resource = ResourceRef {
            account_id: request.account_id.clone(),
            region_id: request.region_id.clone(),
            resource_id: request.resource_id.clone(),
            resource_type: event::SECURITY_GROUP.into(),
            config_rule_id: None,
        };
        if let Some(stop) = gate::admit(&resource, self.config()) {
            report.status = "skipped";
            report.reason = Some(stop.lead.to_string());
            return report;
        }

        // Every seal first: a forged or altered entry refuses the whole event, before any call.
        let place = Place {
            account: account.as_deref().unwrap_or(""),
            region: &request.region_id,
            group: &request.resource_id,
        };
        report.refused_rules = refused(
            sealer,
            place,
            &request.rules,
            &request.seals,
            SystemTime::now(),
        );
        if !report.refused_rules.is_empty() {
            report.reason = Some(
                Note::RestoreRefused {
                    refused: report.refused_rules.len(),
                    total: request.rules.len(),
                    group: request.resource_id.clone(),
                    account: place.account.to_string(),
                    region: request.region_id.clone(),
                }
                .to_string(),
            );
            audit::restore_refused(&request.resource_id, report.refused_rules.len());
            return report;
        }

        let mut out = ResourceResult::new(
            Some(request.resource_id.clone()),
            Some(request.region_id.clone()),
            account.clone(),
            Some(event::SECURITY_GROUP.into()),
            Status::Failed,
        );
        let access = match self.access(account.as_deref(), &mut out).await {
            Ok(a) => a,
            Err(stop) => {
                report.reason = Some(stop.lead.to_string());
                report.api_request_ids = out.api_request_ids;
                return report;
            }
        };
        // Every error seen along the way ends up in the reason, whatever the outcome.
        let mut seen = Vec::new();
        // The same gate as a remediation, on the same two reads made at the same time: exempt
        // by tag, deleted or managed groups are left alone, and Config must answer for the
        // group the event names. Unlike a remediation, a group Config vouches for but ECS
        // cannot read (gone included) fails: the rules were not put back.
        let reads = match self
            .read_group(&resource, &access, &mut out, &mut seen)
            .await
        {
            Ok(reads) => reads,
            Err(stop) => {
                report.api_request_ids = out.api_request_ids;
                report.reason = Some(report::reason(std::iter::once(&stop.lead).chain(&seen)));
                return report;
            }
        };
        let config_answered = reads.config.is_ok();
        let judged = gate::judge_reads(
            &resource,
            account.as_deref(),
            &self.config().exempt_tag,
            reads,
            &mut seen,
        );
        let before = match judged {
            Ok((_, rules)) => rules,
            Err(stop) => {
                report.api_request_ids = out.api_request_ids;
                let lead = match stop.lead {
                    Note::Gone(error) if config_answered => Note::ApiFailure {
                        step: "DescribeSecurityGroupAttribute",
                        error,
                    },
                    lead => {
                        if stop.status == Status::Skipped {
                            report.status = "skipped";
                        }
                        lead
                    }
                };
                report.reason = Some(report::reason(std::iter::once(&lead).chain(&seen)));
                return report;
            }
        };
        let (to_add, already_present) = to_add(request.rules, &before);
        report.already_present_rules = already_present;
        let already_present = report.already_present_rules.len();
        if self.mode == crate::config::Mode::DryRun {
            report.api_request_ids = out.api_request_ids;
            report.status = "would_restore";
            report.reason = Some(
                Note::WouldRestore {
                    count: to_add.len(),
                    already_present,
                }
                .to_string(),
            );
            report.would_restore_rules = Some(to_add);
            return report;
        }
        let endpoint = match self.ecs_endpoint(&request.region_id) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                report.api_request_ids = out.api_request_ids;
                seen.insert(
                    0,
                    Note::ApiFailure {
                        step: "AuthorizeSecurityGroup",
                        error,
                    },
                );
                report.reason = Some(report::reason(&seen));
                return report;
            }
        };
        let mut errors = Vec::new();
        for chunk in ecs::authorize_security_group(
            &self.remediator.client,
            &access.resource_cx(self),
            &endpoint,
            &request.region_id,
            &request.resource_id,
            &self.request_id,
            &to_add,
        )
        .await
        {
            record_retried(
                "AuthorizeSecurityGroup",
                &chunk.retried,
                &mut out,
                &mut seen,
            );
            match chunk.result {
                Ok(id) => {
                    out.api_request_ids.push(id);
                    audit::rules("rule_restored", &resource, &chunk.rules);
                    report.restored_rules.extend(chunk.rules);
                }
                Err(e) => {
                    out.api_request_ids
                        .extend(e.request_id().map(str::to_string));
                    errors.push(Note::ApiFailure {
                        step: "AuthorizeSecurityGroup",
                        error: e,
                    });
                }
            }
        }
        let existing: HashSet<RuleId> = before.iter().filter_map(|p| p.rule_id.clone()).collect();
        if !to_add.is_empty() {
            match self.describe(&access, &resource, &mut out, &mut seen).await {
                Ok(after) => {
                    report.new_rule_ids = after
                        .iter()
                        .filter_map(|p| p.rule_id.clone())
                        .filter(|id| !existing.contains(id))
                        .collect();
                }
                Err(e) => errors.push(Note::ApiFailure {
                    step: "describing after the restore",
                    error: e,
                }),
            }
        }
        report.api_request_ids = out.api_request_ids;
        if errors.is_empty() {
            report.status = "restored";
            errors.push(Note::Restored {
                count: report.restored_rules.len(),
                already_present,
            });
        }
        errors.extend(seen);
        report.reason = Some(report::reason(&errors));
        report
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

    fn sealer() -> Sealer {
        Sealer::new(
            "11".repeat(32).parse().unwrap(),
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
}

//! Who opened the rules just revoked (`LOOKUP_OPENER=true`): one ActionTrail lookup per group,
//! after its revoke, added to the report as `openedBy`.
//!
//! ActionTrail allows one query condition per call (so the group id as `ResourceName`, the event
//! names filtered here), 50 events a page and 2 calls a second per account. So each group gets at
//! most [`PAGES_PER_GROUP`] pages and each invocation at most [`CALLS_PER_INVOCATION`] calls,
//! spaced by [`MIN_INTERVAL`] and never started after the deadline minus the client's margin.
//! A rule left unresolved by the budget says `{"lookedUp": false, "reason": ...}`. The lookup
//! is only ever a note: it never changes a status.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::event::ResourceRef;
use crate::note::Note;
use crate::remediation::access::Access;
use crate::remediation::Invoke;
use crate::report::{OpenedBy, Opener, ResourceResult};
use crate::rules::{Cidr, Direction, Permission, PortRange, Protocol, RuleId};
use crate::services::actiontrail::{self, Event, LOOKBACK, MAX_RESULTS};

/// Pages read for one group at most.
pub(super) const PAGES_PER_GROUP: u32 = 2;
/// LookupEvents calls per invocation at most.
pub(super) const CALLS_PER_INVOCATION: u32 = 20;
/// ActionTrail allows 2 calls a second per account: calls of one invocation are spaced by this.
pub(super) const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// The events that create or widen an ingress rule.
const OPENING_EVENTS: [&str; 2] = ["AuthorizeSecurityGroup", "ModifySecurityGroupRule"];

/// The invocation's lookup budget: calls left and the rate limiter, shared by its groups.
#[derive(Debug)]
pub(super) struct Budget {
    calls_left: AtomicU32,
    last_call: tokio::sync::Mutex<Option<Instant>>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(CALLS_PER_INVOCATION)
    }
}

/// Why a call could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// No call left in the invocation's budget.
    Budget,
    /// The next allowed moment is past the cut-off.
    Deadline,
}

impl Refused {
    fn reason(self) -> &'static str {
        match self {
            Refused::Budget => "budget",
            Refused::Deadline => "deadline",
        }
    }
}

impl Budget {
    pub(super) fn new(calls: u32) -> Self {
        Budget {
            calls_left: AtomicU32::new(calls),
            last_call: tokio::sync::Mutex::new(None),
        }
    }

    /// Takes one call from the budget and waits for its turn (at most 2 a second); refused when
    /// none is left or the turn would come at or after `cutoff`.
    pub(super) async fn take(&self, cutoff: Instant) -> Result<(), Refused> {
        let mut last = self.last_call.lock().await;
        let now = Instant::now();
        let turn = last.map_or(now, |l| (l + MIN_INTERVAL).max(now));
        if turn >= cutoff {
            return Err(Refused::Deadline);
        }
        self.calls_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map_err(|_| Refused::Budget)?;
        tokio::time::sleep_until(turn.into()).await;
        *last = Some(Instant::now());
        Ok(())
    }
}

/// The rule-shaped parameter sets of an event's `requestParameters`: the top level (the classic
/// `IpProtocol` / `PortRange` / `SourceCidrIp` form and `ModifySecurityGroupRule`), each entry
/// of a `Permissions` list, and flattened `Permissions.N.Field` keys grouped by N.
fn parameter_sets(params: &Value) -> Vec<serde_json::Map<String, Value>> {
    let Some(top) = params.as_object() else {
        return Vec::new();
    };
    let mut sets = vec![top.clone()];
    if let Some(list) = top.get("Permissions").and_then(Value::as_array) {
        sets.extend(list.iter().filter_map(|p| p.as_object().cloned()));
    }
    let mut flat: std::collections::BTreeMap<&str, serde_json::Map<String, Value>> =
        Default::default();
    for (key, value) in top {
        if let Some((n, field)) = key
            .strip_prefix("Permissions.")
            .and_then(|rest| rest.split_once('.'))
        {
            flat.entry(n)
                .or_default()
                .insert(field.to_string(), value.clone());
        }
    }
    sets.extend(flat.into_values());
    sets
}

fn same_source(rule: &Permission, given: &str) -> bool {
    let given = given
        .parse::<Cidr>()
        .map_or_else(|_| given.trim().to_string(), |c| c.to_string());
    [&rule.source_cidr, &rule.ipv6_source_cidr]
        .into_iter()
        .flatten()
        .any(|a| a.to_text() == given)
}

/// Whether one parameter set authorizes `rule`: same protocol (any case), port range and source
/// CIDR, for ingress.
fn set_matches(rule: &Permission, set: &serde_json::Map<String, Value>) -> bool {
    let text = |name: &str| set.get(name).and_then(Value::as_str);
    let ingress = text("Direction").is_none_or(|d| d.eq_ignore_ascii_case("ingress"));
    let source = text("SourceCidrIp").or_else(|| text("Ipv6SourceCidrIp"));
    ingress
        && rule.direction == Direction::Ingress
        && text("IpProtocol").is_some_and(|p| Protocol::parse(p) == rule.protocol)
        && text("PortRange").is_some_and(|p| PortRange::parse(p) == rule.port_range)
        && source.is_some_and(|s| same_source(rule, s))
}

/// Whether `event` opened or widened `rule`.
pub(super) fn opened(event: &Event, rule: &Permission) -> bool {
    OPENING_EVENTS.contains(&event.event_name.as_str())
        && parameter_sets(&event.request_parameters)
            .iter()
            .any(|set| set_matches(rule, set))
}

fn opener_of(event: &Event) -> Opener {
    Opener {
        principal_type: event.principal.kind.clone(),
        principal_name: event.principal.user_name.clone(),
        principal_id: event.principal.principal_id.clone(),
        source_ip: event.source_ip.clone(),
        event_time: event.event_time.clone(),
        event_id: event.event_id.clone(),
    }
}

/// Settles, from one page (newest first), every rule still open in `pending`: the first
/// matching event of a page is the latest of those not yet read.
pub(super) fn settle_page(
    pending: &mut Vec<(RuleId, Permission)>,
    events: &[Event],
    out: &mut ResourceResult,
) {
    pending.retain(|(id, rule)| match events.iter().find(|e| opened(e, rule)) {
        Some(event) => {
            out.opened_by
                .insert(id.clone(), OpenedBy::Found(opener_of(event)));
            false
        }
        None => true,
    });
}

impl Invoke {
    /// Adds `openedBy` for the rules just revoked from `r` (only with `LOOKUP_OPENER=true`).
    pub(super) async fn who_opened(
        &self,
        access: &Access,
        r: &ResourceRef,
        mut out: ResourceResult,
    ) -> ResourceResult {
        if !self.config().lookup_opener || out.revoked_rules.is_empty() {
            return out;
        }
        let mut pending: Vec<(RuleId, Permission)> = out
            .revoked_rules
            .iter()
            .filter_map(|r| r.rule.rule_id.clone().map(|id| (id, r.rule.clone())))
            .collect();
        let unresolved = self.look_up(access, r, &mut pending, &mut out).await;
        for (id, _) in pending {
            out.opened_by.insert(
                id,
                unresolved.map_or(OpenedBy::NotFound, OpenedBy::NotLookedUp),
            );
        }
        out
    }

    /// Reads the group's pages until every rule is settled, the events end or the budget
    /// does; `Some(why)` when rules are left unresolved for a reason other than "no match".
    async fn look_up(
        &self,
        access: &Access,
        r: &ResourceRef,
        pending: &mut Vec<(RuleId, Permission)>,
        out: &mut ResourceResult,
    ) -> Option<&'static str> {
        let endpoint = match self.config().endpoints.actiontrail(&r.region_id) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                self.note(out, error.into());
                return Some("error");
            }
        };
        let client = &self.remediator.client;
        let cutoff = self
            .deadline
            .checked_sub(client.settings().deadline_margin)
            .unwrap_or(self.deadline);
        let end = SystemTime::now();
        let mut token: Option<String> = None;
        for page in 0..PAGES_PER_GROUP {
            if pending.is_empty() {
                return None;
            }
            if page > 0 && token.is_none() {
                return None;
            }
            if let Err(refused) = self.opener.take(cutoff).await {
                return Some(refused.reason());
            }
            let params = actiontrail::lookup_params(
                &r.resource_id,
                end - LOOKBACK,
                end,
                MAX_RESULTS,
                token.as_deref(),
            );
            match actiontrail::lookup_events(client, &access.resource_cx(self), &endpoint, params)
                .await
            {
                Ok(found) => {
                    out.api_request_ids.extend(found.request_id);
                    settle_page(pending, &found.events, out);
                    token = found.next_token;
                }
                Err(error) => {
                    out.api_request_ids
                        .extend(error.request_id().map(str::to_string));
                    self.note(out, error);
                    return Some("error");
                }
            }
        }
        (token.is_some() && !pending.is_empty()).then_some("budget")
    }

    /// Appends a failed lookup to the reason; the status stays.
    fn note(&self, out: &mut ResourceResult, error: acs_openapi::ApiError) {
        let note = Note::ApiFailure {
            step: "LookupEvents (who opened the revoked rules; the remediation is unaffected)",
            error,
        }
        .to_string();
        out.reason = Some(match out.reason.take() {
            Some(reason) => format!("{reason}; {note}"),
            None => note,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::actiontrail::Principal;
    use serde_json::json;

    fn ssh_rule() -> Permission {
        Permission::from_json(&json!({
            "SecurityGroupRuleId": "sgr-ssh", "Direction": "ingress", "Policy": "Accept",
            "Priority": "1", "IpProtocol": "TCP", "PortRange": "22/22",
            "SourceCidrIp": "0.0.0.0/0"
        }))
        .unwrap()
    }

    fn event(name: &str, params: Value) -> Event {
        Event {
            event_id: Some("e-1".into()),
            event_name: name.into(),
            event_time: Some("2026-12-01T08:00:00Z".into()),
            source_ip: Some("203.0.113.7".into()),
            principal: Principal {
                kind: Some("ram-user".into()),
                principal_id: Some("2000".into()),
                user_name: Some("alice".into()),
            },
            request_parameters: params,
        }
    }

    #[test]
    fn an_authorize_with_the_rules_protocol_in_any_case_ports_and_source_opened_it() {
        let e = event(
            "AuthorizeSecurityGroup",
            json!({"SecurityGroupId": "sg-1", "IpProtocol": "tcp", "PortRange": "22/22",
                   "SourceCidrIp": "0.0.0.0/0"}),
        );
        assert!(opened(&e, &ssh_rule()));
    }

    #[test]
    fn permissions_given_as_a_list_or_flattened_are_each_compared() {
        let listed = event(
            "AuthorizeSecurityGroup",
            json!({"Permissions": [
                {"IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0"},
                {"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}]}),
        );
        let flat = event(
            "ModifySecurityGroupRule",
            json!({"Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22",
                   "Permissions.1.SourceCidrIp": "0.0.0.0/0"}),
        );
        assert!(opened(&listed, &ssh_rule()));
        assert!(opened(&flat, &ssh_rule()));
    }

    #[test]
    fn another_port_source_direction_or_event_did_not_open_it() {
        let base = json!({"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"});
        let with = |k: &str, v: &str| {
            let mut p = base.clone();
            p[k] = json!(v);
            p
        };
        for params in [
            with("PortRange", "1/65535"),
            with("SourceCidrIp", "10.0.0.0/8"),
            with("IpProtocol", "UDP"),
            with("Direction", "egress"),
        ] {
            assert!(!opened(
                &event("AuthorizeSecurityGroup", params),
                &ssh_rule()
            ));
        }
        assert!(!opened(&event("RevokeSecurityGroup", base), &ssh_rule()));
    }

    #[test]
    fn the_first_match_of_a_newest_first_page_settles_the_rule_with_its_principal() {
        let params =
            json!({"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"});
        let mut newer = event("AuthorizeSecurityGroup", params.clone());
        newer.event_id = Some("e-new".into());
        let older = event("AuthorizeSecurityGroup", params);
        let mut out =
            ResourceResult::new(None, None, None, None, crate::report::Status::Remediated);
        let mut pending = vec![(RuleId("sgr-ssh".into()), ssh_rule())];
        settle_page(&mut pending, &[newer, older], &mut out);
        assert!(pending.is_empty());
        let shown = serde_json::to_value(&out.opened_by).unwrap();
        assert_eq!(
            shown,
            json!({"sgr-ssh": {"principalType": "ram-user", "principalName": "alice",
                   "sourceIp": "203.0.113.7", "eventTime": "2026-12-01T08:00:00Z",
                   "eventId": "e-new"}})
        );
    }

    #[tokio::test]
    async fn the_budget_refuses_past_its_calls_and_past_the_cutoff() {
        let budget = Budget::new(1);
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(budget.take(far).await, Ok(()));
        assert_eq!(budget.take(far).await, Err(Refused::Budget));
        let fresh = Budget::new(5);
        assert_eq!(fresh.take(Instant::now()).await, Err(Refused::Deadline));
    }

    #[tokio::test]
    async fn calls_of_one_invocation_are_at_most_two_a_second() {
        let budget = Budget::new(3);
        let far = Instant::now() + Duration::from_secs(60);
        let start = Instant::now();
        for _ in 0..3 {
            budget.take(far).await.unwrap();
        }
        assert!(start.elapsed() >= 2 * MIN_INTERVAL);
    }
}

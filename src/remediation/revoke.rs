//! Revoke, then verify: a rule counts as revoked only once the group, read again, no longer has
//! it. The [`RevokeLedger`] keeps what was sent, what may have been applied, the errors and what
//! verify found; [`RevokeLedger::settle`], a pure function, turns it into the outcome.

use std::collections::{BTreeSet, HashSet};
use std::time::SystemTime;

use acs_openapi::ApiError;

use crate::event::ResourceRef;
use crate::note::Note;
use crate::remediation::access::Access;
use crate::remediation::notes;
use crate::remediation::{audit, Invoke};
use crate::report::{ResourceResult, RevokedRule, Status};
use crate::rules::{Permission, RuleId};
use crate::seal::{Place, Purpose};
use crate::select::Selection;
use crate::services::ecs;

/// How many times the same rules are sent: once, and once more when a batch named a rule that
/// vanished meanwhile (ECS then deletes nothing of that batch).
const ROUNDS: usize = 2;

/// Whether ECS may have applied a call that failed. A 4xx error answer (other than flow
/// control) rejected that attempt, and an earlier lost attempt would have been answered from its
/// ClientToken instead; a call never sent changed nothing. Anything else (no answer, an
/// unreadable or 5xx answer, throttling after lost attempts, the deadline during an attempt)
/// leaves the outcome unknown.
///
/// `LastTokenProcessing` / `OperationConflict` mean an earlier attempt with the same token is
/// still running: it may have applied.
pub(super) fn may_have_applied(e: &ApiError) -> bool {
    match e {
        ApiError::Service { status, .. } => {
            *status >= 500 || e.is_throttling() || e.is_in_progress()
        }
        ApiError::Transport(_) | ApiError::Decode { .. } => true,
        ApiError::DeadlineExceeded { last } => last.is_some(),
        ApiError::InvalidRequest(_) => false,
    }
}

/// Whether one retried attempt may have been applied by ECS: no answer, an unreadable or 5xx
/// answer, or "the token's first call is still in progress". A 4xx answer (flow control
/// included) rejected that attempt.
pub(super) fn attempt_may_have_applied(e: &ApiError) -> bool {
    match e {
        ApiError::Service { status, .. } => *status >= 500 || e.is_in_progress(),
        ApiError::Transport(_) | ApiError::Decode { .. } => true,
        ApiError::DeadlineExceeded { last } => last.is_some(),
        ApiError::InvalidRequest(_) => false,
    }
}

/// The state of one revoke-and-verify.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RevokeLedger {
    /// The rules selected for revoking.
    asked: Vec<RuleId>,
    /// Still to send (after a round: still exposed on the live view).
    pending: Vec<RuleId>,
    /// Revokes ECS answered with success, minus those verify found still present.
    answered: BTreeSet<RuleId>,
    /// Sent, but the answer never came (or said the call may still run): ECS may have applied
    /// these.
    unanswered: BTreeSet<RuleId>,
    /// Errors that decide a failure.
    errors: Vec<Note>,
    /// Errors that did not decide the outcome (retried attempts, a batch naming a vanished
    /// rule): reported whatever the outcome, never dropped.
    seen: Vec<Note>,
    /// The notes of the resource so far, plus the ledger's own.
    notes: Vec<Note>,
    /// ECS refused a revoke because a cloud service manages the group.
    managed: bool,
    /// This round, a batch named a rule that had vanished.
    vanished: bool,
    rounds: usize,
    /// The rule ids the last verify found in the group.
    present: HashSet<RuleId>,
    /// Why the group could not be read again, if it could not.
    verify_failed: Option<ApiError>,
}

/// A revoke-and-verify up to its outcome (see [`Invoke::revoke_settled`]).
pub(super) struct RevokeDone {
    /// The result, with its revoked and unverified rules; status and reason not yet set.
    pub out: ResourceResult,
    /// The outcome.
    pub settled: Settlement,
    /// The group read again after the last revoke; `None` when that read failed.
    pub after: Option<Vec<Permission>>,
}

/// The outcome of a revoke-and-verify.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settlement {
    pub status: Status,
    /// Verified gone, and ours (answered, or lost but verified gone).
    pub revoked: BTreeSet<RuleId>,
    /// Sent without an answer, and the group could not be read again: they may be gone.
    pub unverified: BTreeSet<RuleId>,
    /// The reason, in order.
    pub reason: Vec<Note>,
}

impl RevokeLedger {
    /// A ledger for revoking `asked`, carrying the resource's notes so far.
    pub(super) fn new(asked: Vec<RuleId>, notes: Vec<Note>) -> Self {
        RevokeLedger {
            pending: asked.clone(),
            asked,
            answered: BTreeSet::new(),
            unanswered: BTreeSet::new(),
            errors: Vec::new(),
            seen: Vec::new(),
            notes,
            managed: false,
            vanished: false,
            rounds: 0,
            present: HashSet::new(),
            verify_failed: None,
        }
    }

    /// Starts a round: returns the ids to send.
    pub(super) fn start_round(&mut self) -> Vec<RuleId> {
        self.rounds += 1;
        self.vanished = false;
        self.pending.clone()
    }

    /// One batch's answer: the errors of its retried attempts and its final result.
    pub(super) fn record(
        &mut self,
        ids: Vec<RuleId>,
        retried: &[ApiError],
        result: Result<(), ApiError>,
    ) {
        self.seen.extend(retried.iter().map(|e| Note::Retried {
            action: "RevokeSecurityGroup",
            error: e.clone(),
        }));
        let lost_attempt = retried.iter().any(attempt_may_have_applied);
        match result {
            Ok(()) => self.answered.extend(ids),
            Err(e) => {
                if lost_attempt || may_have_applied(&e) {
                    self.unanswered.extend(ids);
                }
                let failure = Note::ApiFailure {
                    step: "RevokeSecurityGroup",
                    error: e.clone(),
                };
                if e.is_managed_by_cloud_product() {
                    self.managed = true;
                } else if e.is_rule_not_found() {
                    self.vanished = true;
                    self.seen.push(failure);
                } else {
                    self.errors.push(failure);
                }
            }
        }
    }

    /// Where the errors of the verifying read's retried attempts go.
    pub(super) fn seen_mut(&mut self) -> &mut Vec<Note> {
        &mut self.seen
    }

    /// Whether a revoked id is still in the group (then the selection must run again).
    pub(super) fn any_left(&self, present: &HashSet<RuleId>) -> bool {
        self.asked.iter().any(|id| present.contains(id))
    }

    /// What the group read again showed: the ids present, and of the asked ids those still
    /// selected (`None`: selection failed, then every asked id still present counts).
    pub(super) fn verified(&mut self, present: HashSet<RuleId>, reselected: Option<&Selection>) {
        self.pending = match reselected {
            Some(sel) => sel
                .revoke_ids()
                .into_iter()
                .filter(|id| self.asked.contains(id))
                .collect(),
            None => self
                .asked
                .iter()
                .filter(|id| present.contains(id))
                .cloned()
                .collect(),
        };
        self.answered.retain(|id| !present.contains(id));
        self.present = present;
    }

    /// The group could not be read again.
    pub(super) fn verify_failed(&mut self, e: ApiError) {
        self.verify_failed = Some(e);
    }

    /// Whether to send the still-exposed rules once more: only after a first round in which a
    /// batch named a vanished rule, and nothing else went wrong.
    pub(super) fn revoke_again(&mut self) -> bool {
        let again = self.verify_failed.is_none()
            && self.rounds < ROUNDS
            && !self.pending.is_empty()
            && self.vanished
            && !self.managed
            && self.errors.is_empty();
        if again {
            self.notes.push(Note::RevokedRest);
        }
        again
    }

    /// The outcome. Verified: what is gone and was answered, or lost but verified gone, is
    /// revoked; what was gone before is not ours; anything still selected fails the resource,
    /// unless ECS refused a managed group and nothing was revoked (skipped). Not verified: the
    /// answered rules count as revoked, the lost ones are unverified, and the resource fails.
    pub(super) fn settle(self) -> Settlement {
        let RevokeLedger {
            asked,
            pending,
            mut answered,
            mut unanswered,
            mut errors,
            seen,
            mut notes,
            managed,
            present,
            verify_failed,
            ..
        } = self;
        if let Some(e) = verify_failed {
            unanswered.retain(|id| !answered.contains(id));
            errors.push(Note::ApiFailure {
                step: "verifying with DescribeSecurityGroupAttribute",
                error: e,
            });
            if !unanswered.is_empty() {
                errors.push(Note::Unverified(unanswered.iter().cloned().collect()));
            }
            errors.extend(seen);
            errors.extend(notes);
            return Settlement {
                status: Status::Failed,
                revoked: answered,
                unverified: unanswered,
                reason: errors,
            };
        }
        let lost_but_gone: Vec<RuleId> = unanswered
            .iter()
            .filter(|id| !present.contains(*id) && !answered.contains(*id))
            .cloned()
            .collect();
        if !lost_but_gone.is_empty() {
            answered.extend(lost_but_gone.iter().cloned());
            notes.push(Note::LostButGone(lost_but_gone));
        }
        let already_gone: Vec<RuleId> = asked
            .iter()
            .filter(|id| !present.contains(*id) && !answered.contains(*id))
            .cloned()
            .collect();
        if !already_gone.is_empty() {
            notes.push(Note::AlreadyGone(already_gone));
        }
        let (status, reason) = if pending.is_empty() {
            // Errors of calls whose rules turned out gone: the outcome is verified, the errors
            // are still part of the account of what happened.
            let mut reason = vec![Note::Revoked(answered.len())];
            reason.extend(notes);
            reason.extend(errors);
            reason.extend(seen);
            (Status::Remediated, reason)
        } else if managed && answered.is_empty() {
            let mut reason = vec![Note::ManagedRevoke];
            reason.extend(errors);
            reason.extend(seen);
            (Status::Skipped, reason)
        } else {
            let mut reason = vec![Note::StillExposed(pending)];
            reason.extend(errors);
            reason.extend(seen);
            reason.extend(notes);
            (Status::Failed, reason)
        };
        Settlement {
            status,
            revoked: answered,
            unverified: BTreeSet::new(),
            reason,
        }
    }
}

impl Invoke {
    /// Revokes, then reads the group again: a rule counts as revoked only once it is gone live.
    /// If a batch failed because one of its ids vanished meanwhile (ECS then deletes nothing),
    /// the ids still exposed are revoked once more.
    ///
    /// A batch whose answer was lost (no response, a 5xx, the deadline) may have been applied:
    /// its rules count as revoked if the group no longer has them, so their backup record is
    /// kept; if the group cannot be read again, they are reported as `unverifiedRules`.
    pub(super) async fn revoke_and_verify(
        &self,
        access: &Access,
        r: &ResourceRef,
        ids: Vec<RuleId>,
        exposed: &[Permission],
        out: ResourceResult,
        notes: Vec<Note>,
    ) -> ResourceResult {
        match self
            .revoke_settled(access, r, ids, exposed, out, notes)
            .await
        {
            Ok(done) => notes::finish(done.out, done.settled.status, None, done.settled.reason),
            Err(failed) => failed,
        }
    }

    /// [`Invoke::revoke_and_verify`] up to its outcome, not yet written into the result's status
    /// and reason: the result with its revoked (sealed) and unverified rules, the settlement, and
    /// the group as the verify read found it. `Err`: the resource failed before any call.
    pub(super) async fn revoke_settled(
        &self,
        access: &Access,
        r: &ResourceRef,
        ids: Vec<RuleId>,
        exposed: &[Permission],
        mut out: ResourceResult,
        notes: Vec<Note>,
    ) -> Result<RevokeDone, ResourceResult> {
        let endpoint = match self.ecs_endpoint(&r.region_id) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                let mut notes = notes;
                notes.insert(
                    0,
                    Note::ApiFailure {
                        step: "RevokeSecurityGroup",
                        error,
                    },
                );
                out.status = Status::Failed;
                out.reason = Some(crate::note::reason(&notes));
                return Err(out);
            }
        };
        let mut after_read = None;
        let mut ledger = RevokeLedger::new(ids, notes);
        loop {
            let pending = ledger.start_round();
            let chunks = ecs::revoke_security_group(
                &self.remediator.client,
                &access.resource_cx(self),
                &endpoint,
                &r.region_id,
                &r.resource_id,
                &self.request_id,
                &pending,
            )
            .await;
            for chunk in chunks {
                for e in &chunk.retried {
                    out.api_request_ids
                        .extend(e.request_id().map(str::to_string));
                }
                let result = match chunk.result {
                    Ok(request_id) => {
                        out.api_request_ids.push(request_id);
                        Ok(())
                    }
                    Err(e) => {
                        out.api_request_ids
                            .extend(e.request_id().map(str::to_string));
                        Err(e)
                    }
                };
                ledger.record(chunk.ids, &chunk.retried, result);
            }
            match self.describe(access, r, &mut out, ledger.seen_mut()).await {
                Ok(after) => {
                    let present: HashSet<RuleId> =
                        after.iter().filter_map(|p| p.rule_id.clone()).collect();
                    // Selection runs again only if a revoked id is still there: usually none is.
                    let reselected = if ledger.any_left(&present) {
                        self.remediator.selector.evaluate(&after).ok()
                    } else {
                        Some(Selection::default())
                    };
                    ledger.verified(present, reselected.as_ref());
                    after_read = Some(after);
                }
                Err(e) => {
                    ledger.verify_failed(e);
                    break;
                }
            }
            if !ledger.revoke_again() {
                break;
            }
        }
        let settled = ledger.settle();
        out.revoked_rule_ids = settled.revoked.iter().cloned().collect();
        out.revoked_rules = self.sealed(r, &out, rules_by_id(exposed, &settled.revoked));
        audit::revoked(r, &out.revoked_rules);
        out.unverified_rules = self.sealed(r, &out, rules_by_id(exposed, &settled.unverified));
        audit::unverified(r, &out.unverified_rules);
        Ok(RevokeDone {
            out,
            settled,
            after: after_read,
        })
    }

    /// The report's records of rules revoked from `r` now, each sealed when the deployment has
    /// a `RESTORE_SEAL_KEY` (bound to the account, region and group, see [`crate::seal`]).
    fn sealed(
        &self,
        r: &ResourceRef,
        out: &ResourceResult,
        rules: Vec<Permission>,
    ) -> Vec<RevokedRule> {
        self.sealed_for(Purpose::Revoked, r, out, rules)
    }

    /// [`Invoke::sealed`] for `purpose`: the rules a narrowing added are sealed as such, so a
    /// restore may revoke them and nothing else.
    pub(super) fn sealed_for(
        &self,
        purpose: Purpose,
        r: &ResourceRef,
        out: &ResourceResult,
        rules: Vec<Permission>,
    ) -> Vec<RevokedRule> {
        let now = SystemTime::now();
        let place = Place {
            account: out.account_id.as_deref().unwrap_or(""),
            region: &r.region_id,
            group: &r.resource_id,
        };
        rules
            .into_iter()
            .map(|rule| {
                let seal = self
                    .remediator
                    .sealer
                    .as_ref()
                    .map(|s| s.seal_for(purpose, place, &rule, now));
                RevokedRule { rule, seal }
            })
            .collect()
    }
}

fn rules_by_id(rules: &[Permission], ids: &BTreeSet<RuleId>) -> Vec<Permission> {
    rules
        .iter()
        .filter(|p| p.rule_id.as_ref().is_some_and(|id| ids.contains(id)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use acs_openapi::{response::parse_response, Redactor};

    /// ECS's error answer with this status and code, as the client parses it.
    fn ecs_answer(status: u16, code: &str) -> ApiError {
        let body = serde_json::json!({"Code": code, "Message": "", "RequestId": "R"}).to_string();
        parse_response(status, body.as_bytes(), None, &Redactor::default()).unwrap_err()
    }

    fn lost() -> ApiError {
        ApiError::Transport("timed out".into())
    }

    fn ids(names: &[&str]) -> Vec<RuleId> {
        names.iter().map(|n| RuleId((*n).into())).collect()
    }

    fn set(names: &[&str]) -> BTreeSet<RuleId> {
        ids(names).into_iter().collect()
    }

    fn present(names: &[&str]) -> HashSet<RuleId> {
        ids(names).into_iter().collect()
    }

    /// The ids still selected on the live view: for these tests, the asked ids still present.
    fn verify(ledger: &mut RevokeLedger, names: &[&str]) {
        ledger.verified(present(names), None);
    }

    #[test]
    fn a_token_still_processing_may_have_applied() {
        assert!(may_have_applied(&ecs_answer(403, "LastTokenProcessing")));
        assert!(may_have_applied(&ecs_answer(400, "OperationConflict")));
        assert!(attempt_may_have_applied(&ecs_answer(
            403,
            "LastTokenProcessing"
        )));
    }

    #[test]
    fn a_refused_attempt_did_not_apply_but_a_lost_one_may_have() {
        assert!(!attempt_may_have_applied(&ecs_answer(
            400,
            "Rejected.Throttling"
        )));
        assert!(!attempt_may_have_applied(&ecs_answer(403, "Forbidden.RAM")));
        assert!(attempt_may_have_applied(&ecs_answer(
            503,
            "ServiceUnavailable"
        )));
        assert!(attempt_may_have_applied(&lost()));
        assert!(!attempt_may_have_applied(&ApiError::InvalidRequest(
            String::new()
        )));
        assert!(!may_have_applied(&ecs_answer(
            400,
            "InvalidParam.SecurityGroupRuleId"
        )));
    }

    #[test]
    fn all_answered_and_gone_is_remediated() {
        let mut l = RevokeLedger::new(ids(&["a", "b"]), vec![]);
        l.start_round();
        l.record(ids(&["a", "b"]), &[], Ok(()));
        verify(&mut l, &["other"]);
        assert!(!l.revoke_again());
        let s = l.settle();
        assert_eq!(s.status, Status::Remediated);
        assert_eq!(s.revoked, set(&["a", "b"]));
        assert_eq!(s.reason, vec![Note::Revoked(2)]);
    }

    #[test]
    fn a_rule_still_present_after_the_revoke_fails_as_still_exposed() {
        let mut l = RevokeLedger::new(ids(&["a", "b"]), vec![Note::DryRun]);
        l.start_round();
        l.record(ids(&["a", "b"]), &[], Ok(()));
        verify(&mut l, &["b"]);
        let s = l.settle();
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.revoked, set(&["a"]));
        assert_eq!(
            s.reason,
            vec![Note::StillExposed(ids(&["b"])), Note::DryRun]
        );
    }

    #[test]
    fn a_lost_answer_whose_rule_is_gone_counts_as_ours() {
        let mut l = RevokeLedger::new(ids(&["a"]), vec![]);
        l.start_round();
        l.record(ids(&["a"]), &[], Err(lost()));
        verify(&mut l, &[]);
        let s = l.settle();
        assert_eq!(s.status, Status::Remediated);
        assert_eq!(s.revoked, set(&["a"]));
        assert_eq!(
            s.reason[..2],
            [Note::Revoked(1), Note::LostButGone(ids(&["a"]))]
        );
        // The lost call's error stays in the account of what happened.
        assert!(matches!(
            s.reason[2],
            Note::ApiFailure {
                step: "RevokeSecurityGroup",
                ..
            }
        ));
    }

    #[test]
    fn a_token_still_processing_whose_rule_is_gone_counts_as_ours() {
        for code in ["LastTokenProcessing", "OperationConflict"] {
            let mut l = RevokeLedger::new(ids(&["a"]), vec![]);
            l.start_round();
            l.record(ids(&["a"]), &[], Err(ecs_answer(403, code)));
            verify(&mut l, &[]);
            let s = l.settle();
            assert_eq!(s.status, Status::Remediated, "{code}");
            assert_eq!(s.revoked, set(&["a"]), "{code}");
        }
    }

    #[test]
    fn a_lost_retried_attempt_makes_a_refused_batch_possibly_applied() {
        let mut l = RevokeLedger::new(ids(&["a"]), vec![]);
        l.start_round();
        l.record(
            ids(&["a"]),
            &[lost()],
            Err(ecs_answer(400, "Rejected.Throttling")),
        );
        verify(&mut l, &[]);
        let s = l.settle();
        assert_eq!(s.revoked, set(&["a"]));
        assert!(matches!(s.reason.last(), Some(Note::Retried { .. })));
    }

    #[test]
    fn a_refused_batch_whose_rule_is_gone_was_already_gone_not_ours() {
        let mut l = RevokeLedger::new(ids(&["a"]), vec![]);
        l.start_round();
        l.record(ids(&["a"]), &[], Err(ecs_answer(403, "Forbidden.RAM")));
        verify(&mut l, &[]);
        let s = l.settle();
        assert_eq!(s.status, Status::Remediated);
        assert!(s.revoked.is_empty());
        assert_eq!(
            s.reason[..2],
            [Note::Revoked(0), Note::AlreadyGone(ids(&["a"]))]
        );
    }

    #[test]
    fn a_lost_answer_that_cannot_be_verified_is_unverified_and_fails() {
        let mut l = RevokeLedger::new(ids(&["a", "b"]), vec![Note::DryRun]);
        l.start_round();
        l.record(ids(&["a"]), &[], Ok(()));
        l.record(ids(&["b"]), &[], Err(lost()));
        l.verify_failed(lost());
        assert!(!l.revoke_again());
        let s = l.settle();
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.revoked, set(&["a"]));
        assert_eq!(s.unverified, set(&["b"]));
        assert!(matches!(
            s.reason[0],
            Note::ApiFailure {
                step: "RevokeSecurityGroup",
                ..
            }
        ));
        assert!(matches!(
            s.reason[1],
            Note::ApiFailure {
                step: "verifying with DescribeSecurityGroupAttribute",
                ..
            }
        ));
        assert_eq!(s.reason[2..], [Note::Unverified(ids(&["b"])), Note::DryRun]);
    }

    #[test]
    fn a_managed_group_that_refused_every_revoke_is_skipped() {
        let mut l = RevokeLedger::new(ids(&["a"]), vec![Note::DryRun]);
        l.start_round();
        l.record(
            ids(&["a"]),
            &[],
            Err(ecs_answer(
                403,
                "InvalidOperation.ResourceManagedByCloudProduct",
            )),
        );
        verify(&mut l, &["a"]);
        assert!(!l.revoke_again());
        let s = l.settle();
        assert_eq!(s.status, Status::Skipped);
        // The resource's notes are not part of a managed skip's reason.
        assert_eq!(s.reason, vec![Note::ManagedRevoke]);
    }

    #[test]
    fn a_batch_naming_a_vanished_rule_is_revoked_again_once() {
        let mut l = RevokeLedger::new(ids(&["a", "b"]), vec![]);
        l.start_round();
        l.record(
            ids(&["a", "b"]),
            &[],
            Err(ecs_answer(400, "InvalidSecurityGroupRuleId.NotFound")),
        );
        verify(&mut l, &["b"]);
        assert!(l.revoke_again());
        assert_eq!(l.start_round(), ids(&["b"]));
        l.record(ids(&["b"]), &[], Ok(()));
        verify(&mut l, &[]);
        assert!(!l.revoke_again());
        let s = l.settle();
        assert_eq!(s.status, Status::Remediated);
        assert_eq!(s.revoked, set(&["b"]));
        assert_eq!(
            s.reason[..3],
            [
                Note::Revoked(1),
                Note::RevokedRest,
                Note::AlreadyGone(ids(&["a"]))
            ]
        );
    }

    #[test]
    fn a_vanished_rule_is_not_retried_after_another_error() {
        let mut l = RevokeLedger::new(ids(&["a", "b"]), vec![]);
        l.start_round();
        l.record(
            ids(&["a"]),
            &[],
            Err(ecs_answer(400, "InvalidSecurityGroupRuleId.NotFound")),
        );
        l.record(ids(&["b"]), &[], Err(ecs_answer(403, "Forbidden.RAM")));
        verify(&mut l, &["b"]);
        assert!(!l.revoke_again());
        assert_eq!(l.settle().status, Status::Failed);
    }
}

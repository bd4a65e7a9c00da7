//! The remediation flow: from an invocation's payload to a report, one resource at a time.
//!
//! For each security group: `gate` (skip or go) → `access` (credentials in its account) →
//! `fetch` (Config's record and the live rules, read at the same time) → `gate` again (on
//! Config's answer, then on the live read) → select and `assess` → (dry run stops here) →
//! `revoke` (or, with `REMEDIATION_ACTION=narrow`, `narrow`: authorize the allowed sources
//! first, then revoke) and verify → report. The live view decides what is revoked: Config's
//! snapshot can be minutes old, and a rule narrowed since then keeps its id. Every resource ends
//! with exactly one status; an error in one never stops the others, and nothing is swallowed:
//! each API error is reported with its code, message and RequestId (`notes`).
//!
//! The flow knows nothing of Function Compute: it takes an [`Input`] and answers a report or a
//! [`Failure`]; [`crate::handler`] is the bridge from the runtime.

mod access;
mod assess;
mod audit;
mod decide;
mod fetch;
mod gate;
mod narrow;
mod notes;
mod opener;
mod restore;
mod revoke;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{Config, Mode};
use crate::event::{self, Invocation, Item, RemediationEvent, ResourceRef, RestoreRequest};
use crate::note::Note;
use crate::report::{Report, ResourceResult, Status};
use crate::rules::{Permission, RuleId};
use crate::seal::Sealer;
use crate::select::Selector;
use crate::services::sts;
use acs_openapi::credentials::{Credentials, Scrubber};
use acs_openapi::Client;

pub use decide::{decide, unchanged, Action, Decision};
pub use gate::{effective_mode, exemption_note, live_failure};
use notes::{finish, Step, Stop};

/// What the flow needs of one invocation.
#[derive(Debug, Clone)]
pub struct Input {
    /// The event, as received.
    pub payload: Bytes,
    /// The invocation's request id: the report's, and part of every ClientToken.
    pub request_id: String,
    /// The function role's credentials for this invocation, if it has a role.
    pub credentials: Option<Credentials>,
    /// The function's account, if known.
    pub account_id: Option<String>,
    /// The function's name (for AssumeRole session names).
    pub function_name: Option<String>,
    /// When the invocation must be finished.
    pub deadline: Instant,
}

/// Why an invocation is a function error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The payload is not an event.
    InvalidEvent,
    /// At least one resource failed (the body is the whole report).
    RemediationFailed,
    /// Restore events are not enabled in this deployment.
    RestoreDisabled,
    /// The restore did not complete (the body is its report).
    RestoreFailed,
}

impl FailureKind {
    /// The `errorType` of the function error.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::InvalidEvent => "InvalidEvent",
            FailureKind::RemediationFailed => "RemediationFailed",
            FailureKind::RestoreDisabled => "RestoreDisabled",
            FailureKind::RestoreFailed => "RestoreFailed",
        }
    }
}

/// A function error: its kind, its message and, when there is one, the report as its body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct Failure {
    /// Which kind of failure: becomes the function error's `errorType`.
    pub kind: FailureKind,
    /// What went wrong, for the person reading the invocation's error.
    pub message: String,
    /// The report, when there is one, so a failed invocation still accounts for every resource.
    pub body: Option<Value>,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            body: None,
        }
    }

    fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// How long an invocation's own credentials stay registered with the scrubber after its
/// deadline: time for the runtime to write the answer (scrubbed) after the handler returns.
pub const OWN_CREDENTIALS_AFTER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Everything shared by all invocations: configuration, the compiled selector, the one HTTP
/// client of the process and the cache of assumed-role credentials.
pub struct Remediator {
    config: Config,
    selector: Selector,
    client: Client,
    sts_cache: sts::CredentialCache,
    /// The live secrets every output of the process is scrubbed of: the invocations' own
    /// credentials (registered in [`Remediator::run`]) and the cached assumed roles.
    scrubber: Scrubber,
    /// Seals revoked rules and checks restore events (`RESTORE_SEAL_KEY`).
    sealer: Option<Sealer>,
    /// Posts the message about an invocation that changed or failed anything
    /// (`NOTIFY_WEBHOOK_URL`).
    notifier: Option<crate::notify::Notifier>,
}

/// What one invocation knows about itself, shared by its per-resource tasks.
struct Invoke {
    remediator: Arc<Remediator>,
    credentials: Option<Credentials>,
    function_account: Option<String>,
    function_name: String,
    /// The invocation's request id: part of every ClientToken, so that a token is unique per
    /// invocation and stable across the retries inside it.
    request_id: String,
    deadline: Instant,
    mode: Mode,
    /// Where the live reads are kept for a caller that shows them ([`Remediator::run_observed`]).
    views: Option<Views>,
    /// The ActionTrail lookups left to this invocation (`LOOKUP_OPENER`).
    opener: opener::Budget,
}

/// The live rules read per group id, when a caller asked for them.
type Views = Arc<Mutex<HashMap<String, LiveViews>>>;

/// The live rules the flow read for one group, for a caller that shows them (the command line's
/// table): the first read, before any change, and the last one, the verify read after a revoke.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveViews {
    /// The rules the decision was made on; `None` when the group was not read.
    pub before: Option<Vec<Permission>>,
    /// The rules read again after a revoke; `None` when nothing was revoked or the read failed.
    pub after: Option<Vec<Permission>>,
}

/// What a successful invocation answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A remediation's report. It is written straight into the answer's bytes: a
    /// 1,000-resource report never becomes a `Value` tree that is built, written and dropped.
    Report(Report),
    /// Any other answer (a restore's report).
    Value(Value),
}

impl Answer {
    /// The answer as a JSON value, for callers that read it (the CLI, tests).
    pub fn into_value(self) -> Value {
        match self {
            Answer::Report(report) => serde_json::to_value(&report).expect("the report serializes"),
            Answer::Value(value) => value,
        }
    }
}

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Report(report) => report.serialize(s),
            Answer::Value(value) => value.serialize(s),
        }
    }
}

impl Remediator {
    /// The process-wide state, built once at start-up from a validated configuration. It
    /// registers the credentials it holds (each invocation's own, the cached assumed roles, the
    /// webhook's URL and secret) with `scrubber`, the one the program's outputs (log writer,
    /// answers, the command line's printer) scrub with.
    pub fn new(config: Config, selector: Selector, client: Client, scrubber: Scrubber) -> Self {
        let sealer = config
            .restore_seal_key
            .clone()
            .map(|key| Sealer::new(key, config.restore_max_age));
        let notifier = config
            .notify
            .clone()
            .map(|notify| crate::notify::Notifier::new(notify, scrubber.clone()));
        Remediator {
            config,
            selector,
            client,
            sts_cache: sts::CredentialCache::new(scrubber.clone()),
            scrubber,
            sealer,
            notifier,
        }
    }

    /// The scrubber this remediator registers its live credentials with.
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    /// The configuration the function runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs one invocation. A payload that is not an event is a failure; otherwise the report
    /// is the answer, and a failure (with the whole report) if anything failed.
    pub async fn run(self: Arc<Self>, input: Input) -> Result<Answer, Failure> {
        self.run_with(input, None).await
    }

    /// [`Remediator::run`], also answering the live rules read for each group (by group id):
    /// the command line shows them without reading the groups a second time.
    pub async fn run_observed(
        self: Arc<Self>,
        input: Input,
    ) -> (Result<Answer, Failure>, HashMap<String, LiveViews>) {
        let views = Views::default();
        let answer = self.run_with(input, Some(Arc::clone(&views))).await;
        let views = std::mem::take(&mut *views.lock().unwrap_or_else(|e| e.into_inner()));
        (answer, views)
    }

    async fn run_with(
        self: Arc<Self>,
        mut input: Input,
        views: Option<Views>,
    ) -> Result<Answer, Failure> {
        if let Some(credentials) = &input.credentials {
            // In use until the deadline; the answer is written just after it at the latest.
            self.scrubber.register(
                credentials,
                input.deadline.checked_add(OWN_CREDENTIALS_AFTER_DEADLINE),
            );
        }
        let invocation = event::parse_with_limit(&input.payload, self.config.max_event_resources)
            .map_err(|e| Failure::new(FailureKind::InvalidEvent, e.to_string()))?;
        // The body is no longer needed: free it before the (possibly long) work.
        input.payload = Bytes::new();
        match invocation {
            Invocation::Remediate(request) => self.remediate(request, input, views).await,
            Invocation::Restore(request) => self.restore(request, input, views).await,
        }
    }

    /// The function's account and region, for a notification's header.
    fn origin(&self, input: &Input) -> crate::notify::Origin {
        crate::notify::Origin {
            account: input
                .account_id
                .clone()
                .or_else(|| self.config.fc_account_id.clone()),
            region: self.config.fc_region.clone(),
        }
    }

    fn start(self: &Arc<Self>, input: &Input, mode: Mode, views: Option<Views>) -> Arc<Invoke> {
        Arc::new(Invoke {
            remediator: Arc::clone(self),
            credentials: input.credentials.clone(),
            // FC sends x-fc-account-id; FC_ACCOUNT_ID is the documented fallback, so that a
            // member account's group is still recognised as foreign without the header.
            function_account: input
                .account_id
                .clone()
                .or_else(|| self.config.fc_account_id.clone()),
            function_name: input
                .function_name
                .clone()
                .unwrap_or_else(|| "fc".to_string()),
            request_id: input.request_id.clone(),
            deadline: input.deadline,
            mode,
            views,
            opener: opener::Budget::default(),
        })
    }

    async fn remediate(
        self: Arc<Self>,
        request: RemediationEvent,
        input: Input,
        views: Option<Views>,
    ) -> Result<Answer, Failure> {
        let mode = effective_mode(self.config.mode, request.dry_run);
        if mode != self.config.mode || request.dry_run == Some(false) {
            tracing::info!(
                deployment = self.config.mode.as_str(),
                requested_dry_run = request.dry_run,
                mode = mode.as_str(),
                "the event's dryRun can only make this invocation a dry run"
            );
        }
        let invoke = self.start(&input, mode, views);
        let items: Arc<[Item]> = dedup(request.items, input.account_id.as_deref()).into();
        tracing::info!(
            resources = items.len(),
            mode = mode.as_str(),
            "remediation started"
        );
        let results = self.process_all(&invoke, &items).await;
        // One audit line per resource; invalid items (which named no usable resource) share
        // one summary line, so a body of junk cannot multiply the log.
        let mut invalid = Vec::new();
        for (r, item) in results.iter().zip(items.iter()) {
            match item {
                Item::Resource(_) => audit::resource(r),
                Item::Invalid(i) => invalid.push(i),
            }
        }
        audit::invalid_items(&invalid);
        let mut report = Report::new(input.request_id.clone(), mode, results)
            .with_config_site_hint(self.config.endpoints.config());
        tracing::info!(summary = %audit::json(&report.summary), "remediation finished");
        if let Some(notifier) = &self.notifier {
            report.notification = notifier
                .remediation(&report, &self.origin(&input), input.deadline)
                .await;
        }
        match report.failure_message() {
            None => Ok(Answer::Report(report)),
            Some(message) => {
                let body = serde_json::to_value(&report).expect("the report serializes");
                Err(Failure::new(FailureKind::RemediationFailed, message).with_body(body))
            }
        }
    }

    /// Processes the items concurrently (at most `MAX_CONCURRENCY` at once); one result per
    /// item, in the items' order, whatever happens to a task.
    ///
    /// A task is spawned only when one of the running ones has been joined: a finished task
    /// keeps its whole allocation (the size of its future, several KiB) until it is joined, so
    /// joining them only at the end held one per item of the event.
    ///
    /// Each task reads its item from the shared list, so no item is copied for its task.
    async fn process_all(&self, invoke: &Arc<Invoke>, items: &Arc<[Item]>) -> Vec<ResourceResult> {
        let at_once = usize::from(self.config.max_concurrency.max(1));
        let mut tasks = JoinSet::new();
        let mut slot_of = HashMap::new();
        let mut results: Vec<Option<ResourceResult>> = vec![None; items.len()];
        for slot in 0..items.len() {
            if tasks.len() >= at_once {
                if let Some(joined) = tasks.join_next_with_id().await {
                    settle(joined, &mut slot_of, items, &mut results);
                }
            }
            let (invoke, items) = (Arc::clone(invoke), Arc::clone(items));
            let handle = tasks.spawn(
                async move { invoke.process(&items[slot]).await }
                    .instrument(tracing::Span::current()),
            );
            slot_of.insert(handle.id(), slot);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            settle(joined, &mut slot_of, items, &mut results);
        }
        results
            .into_iter()
            .zip(items.iter())
            .map(|(r, item)| {
                r.unwrap_or_else(|| {
                    identity(item, Status::Failed).with_reason("the resource was not processed")
                })
            })
            .collect()
    }

    async fn restore(
        self: Arc<Self>,
        request: RestoreRequest,
        input: Input,
        views: Option<Views>,
    ) -> Result<Answer, Failure> {
        if !self.config.allow_restore {
            return Err(Failure::new(
                FailureKind::RestoreDisabled,
                "restore events are disabled: set ALLOW_RESTORE=true (Terraform: enable_restore = true, \
                 which also grants ecs:AuthorizeSecurityGroup)",
            ));
        }
        let Some(sealer) = self.sealer.clone() else {
            // Config refuses ALLOW_RESTORE without a key; never restore unsealed rules anyway.
            return Err(Failure::new(
                FailureKind::RestoreDisabled,
                "restore events need RESTORE_SEAL_KEY: only sealed rules can be restored",
            ));
        };
        let mode = effective_mode(self.config.mode, request.dry_run);
        let invoke = self.start(&input, mode, views);
        let report = invoke.restore(request, &input.request_id, &sealer).await;
        let mut body = serde_json::to_value(&report).expect("the restore report serializes");
        if let Some(notifier) = &self.notifier {
            let sent = notifier
                .restore(&report, &self.origin(&input), input.deadline)
                .await;
            if let (Some(sent), Some(map)) = (sent, body.as_object_mut()) {
                let note = serde_json::to_value(sent).expect("a notification serializes");
                map.insert("notification".into(), note);
            }
        }
        tracing::info!(report = %body, "restore finished");
        if report.status.is_success() {
            Ok(Answer::Value(body))
        } else {
            Err(Failure::new(
                FailureKind::RestoreFailed,
                report.reason.clone().unwrap_or_default(),
            )
            .with_body(body))
        }
    }
}

/// Drops repeated `(accountId, regionId, resourceId)` entries (a missing account is the
/// function's own), keeping the first; invalid items are all kept, each needs a status.
fn dedup(items: Vec<Item>, function_account: Option<&str>) -> Vec<Item> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| match item {
            Item::Resource(r) => seen.insert((
                gate::resource_account(r, function_account),
                r.region_id.clone(),
                r.resource_id.clone(),
            )),
            Item::Invalid(_) => true,
        })
        .collect()
}

/// Puts a joined task's result in its item's slot: its report, or `failed` if it panicked.
fn settle(
    joined: Result<(tokio::task::Id, ResourceResult), tokio::task::JoinError>,
    slot_of: &mut HashMap<tokio::task::Id, usize>,
    items: &[Item],
    results: &mut [Option<ResourceResult>],
) {
    match joined {
        Ok((id, result)) => {
            if let Some(slot) = slot_of.remove(&id) {
                results[slot] = Some(result);
            }
        }
        Err(e) => {
            if let Some(slot) = slot_of.remove(&e.id()) {
                tracing::error!(error = %e, "a resource task panicked");
                results[slot] = Some(
                    identity(&items[slot], Status::Failed)
                        .with_reason("internal error while processing this resource"),
                );
            }
        }
    }
}

/// A result carrying the item's identifying fields.
fn identity(item: &Item, status: Status) -> ResourceResult {
    match item {
        Item::Resource(r) => ResourceResult::new(
            Some(r.resource_id.clone()),
            Some(r.region_id.clone()),
            r.account_id.as_ref().map(|a| a.0.clone()),
            Some(r.resource_type.clone()),
            status,
        ),
        Item::Invalid(i) => ResourceResult::new(
            i.resource_id.clone(),
            i.region_id.clone(),
            i.account_id.clone(),
            i.resource_type.clone(),
            status,
        ),
    }
}

impl Invoke {
    fn config(&self) -> &Config {
        &self.remediator.config
    }

    /// Keeps a live read of a group for a caller that asked for them: the first is the view
    /// before any change, any later one (the verify read) the view after.
    fn observe(&self, r: &ResourceRef, rules: &[Permission]) {
        let Some(views) = &self.views else { return };
        let mut views = views.lock().unwrap_or_else(|e| e.into_inner());
        let view = views.entry(r.resource_id.clone()).or_default();
        if view.before.is_none() {
            view.before = Some(rules.to_vec());
        } else {
            view.after = Some(rules.to_vec());
        }
    }

    async fn process(&self, item: &Item) -> ResourceResult {
        let mut out = identity(item, Status::Failed);
        let r = match item {
            Item::Invalid(i) => return out.with_reason(i.reason.clone()),
            Item::Resource(r) => r,
        };
        let mut notes = Vec::new();
        match self.plan(r, &mut out, &mut notes).await {
            Err(stop) => finish(out, stop.status, Some(stop.lead), notes),
            Ok(Plan::Unchanged { action, live }) => {
                let mut out = out;
                if let (Action::Revoke { rules, .. }, Some(allowed)) =
                    (&action, self.config().action.allowed_sources())
                {
                    let plans: Vec<_> = rules
                        .iter()
                        .map(|rule| narrow::plan(rule, allowed, &live))
                        .collect();
                    narrow::reword_collateral(&mut notes, &plans);
                    let (would, narrowing) = narrow::dry_run(&plans);
                    out.would_narrow_rules = Some(would);
                    notes.extend(narrowing);
                }
                decide::unchanged(out, action, notes)
            }
            Ok(Plan::Revoke {
                access,
                ids,
                rules,
                live,
            }) => {
                let out = match self.config().action.allowed_sources() {
                    Some(allowed) => {
                        let plans = rules
                            .iter()
                            .map(|rule| narrow::plan(rule, allowed, &live))
                            .collect();
                        self.narrow_and_verify(&access, r, plans, &live, out, notes)
                            .await
                    }
                    None => {
                        self.revoke_and_verify(&access, r, ids, &rules, out, notes)
                            .await
                    }
                };
                self.who_opened(&access, r, out).await
            }
        }
    }

    /// The flow of one security group up to the decision, step by step; a step that stops the
    /// flow says why.
    async fn plan(
        &self,
        r: &ResourceRef,
        out: &mut ResourceResult,
        notes: &mut Vec<Note>,
    ) -> Step<Plan> {
        if let Some(stop) = gate::admit(r, self.config()) {
            return Err(stop);
        }
        let account = gate::resource_account(r, self.function_account.as_deref());
        if out.account_id.is_none() {
            out.account_id = account.clone();
        }
        let access = self.access(account.as_deref(), out).await?;
        let reads = self.read_group(r, &access, out, notes).await?;
        let (discovered, live) = gate::judge_reads(
            r,
            account.as_deref(),
            &self.config().exempt_tag,
            SystemTime::now(),
            reads,
            notes,
        )?;

        // Select on the snapshot (for drift) and on the live view (for action): the decision
        // `scan` reports too.
        let decision = decide::decide(&self.remediator.selector, Some(&discovered.snapshot), &live)
            .map_err(Stop::fail)?;
        audit::drift(r, &decision.drift);
        for rule in &decision.collateral {
            audit::collateral(r, rule);
        }
        decision.record(out);
        notes.extend(decision.notes);
        Ok(match (decision.action, self.mode) {
            (Action::Revoke { ids, rules }, Mode::Enforce) => Plan::Revoke {
                access,
                ids,
                rules,
                live,
            },
            (action, _) => Plan::Unchanged { action, live },
        })
    }
}

/// What to do with a group that may be touched, once its live rules are selected.
enum Plan {
    /// Nothing changes: compliant, or a dry run reporting what would be revoked (or narrowed).
    Unchanged {
        action: Action,
        /// The live rules the decision was made on (a dry run's narrowing plans on them).
        live: Vec<Permission>,
    },
    /// Revoke (or narrow) and verify.
    Revoke {
        access: access::Access,
        ids: Vec<RuleId>,
        rules: Vec<Permission>,
        /// The live rules the decision was made on: a narrowing adds no source they already
        /// allow, and the rules it added are those the verify read has and they had not.
        live: Vec<Permission>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut failed = ResourceResult::new(
            Some("sg-2".into()),
            Some("cn-hangzhou".into()),
            None,
            None,
            Status::Failed,
        );
        failed.reason = Some("a \"quoted\" reason".into());
        Report::new(
            "req-1".into(),
            Mode::Enforce,
            vec![
                ResourceResult::new(Some("sg-1".into()), None, None, None, Status::Compliant),
                failed,
            ],
        )
    }

    #[test]
    fn a_report_answer_is_the_report_as_json_in_its_documented_order() {
        let answer = Answer::Report(report());
        let text = serde_json::to_string(&answer).unwrap();
        assert!(
            text.starts_with("{\"requestId\":\"req-1\",\"mode\":\"enforce\",\"summary\":{"),
            "{text}"
        );
        let read: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(read, serde_json::to_value(report()).unwrap());
        assert_eq!(answer.into_value(), read);
    }

    #[test]
    fn any_other_answer_is_its_value() {
        let value = serde_json::json!({"status": "restored", "newRuleIds": ["sgr-1"]});
        let answer = Answer::Value(value.clone());
        assert_eq!(serde_json::to_value(&answer).unwrap(), value);
        assert_eq!(answer.into_value(), value);
    }
}

//! The remediation flow: from a parsed event to a report, one resource at a time.
//!
//! For each security group: credentials → re-fetch from Config → select on the snapshot →
//! confirm against live ECS → (dry run stops here) → revoke → verify → report. The live view
//! decides what is revoked: Config's snapshot can be minutes old, and a rule narrowed since then
//! keeps its id. Every resource ends with exactly one status; an error in one never stops the
//! others, and nothing is swallowed: each API error is reported with its code, message and
//! RequestId.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{Config, Mode};
use crate::credentials::Credentials;
use crate::event::{self, Invocation, Item, RemediationEvent, ResourceRef, RestoreRequest};
use crate::openapi::{ApiError, CallContext, Client};
use crate::report::{RefusedRule, Report, ResourceResult, RestoreReport, RevokedRule, Status};
use crate::rules::{Permission, RuleId};
use crate::runtime::{Context, Diagnostic, Event};
use crate::seal::{Place, Sealer};
use crate::select::{self, Selection, Selector};
use crate::services::config::{self as config_api, AggregatorScope, ResourceQuery};
use crate::services::{ecs, sts};

/// AssumeRole session length for member accounts: one hour covers any function timeout.
const ASSUME_ROLE_SECONDS: u32 = 3600;

/// Everything shared by all invocations: configuration, the compiled selector, the one HTTP
/// client of the process and the cache of assumed-role credentials.
pub struct Remediator {
    config: Config,
    selector: Selector,
    client: Client,
    sts_cache: sts::CredentialCache,
    /// Seals revoked rules and checks restore events (`RESTORE_SEAL_KEY`).
    sealer: Option<Sealer>,
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
}

/// How a resource's processing ended early (each carries the result to report).
type Step<T> = Result<T, Box<ResourceResult>>;

impl Remediator {
    pub fn new(config: Config, selector: Selector, client: Client) -> Self {
        let sealer = config
            .restore_seal_key
            .clone()
            .map(|key| Sealer::new(key, config.restore_max_age));
        Remediator {
            config,
            selector,
            client,
            sts_cache: sts::CredentialCache::new(),
            sealer,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one `/invoke`. A body that is not an event is a function error; otherwise the
    /// report is the answer, and a function error (with the whole report) if anything failed.
    pub async fn handle(self: Arc<Self>, event: Event) -> Result<Value, Diagnostic> {
        let invocation = event::parse_with_limit(&event.payload, self.config.max_event_resources)
            .map_err(|e| Diagnostic::new("InvalidEvent", e.to_string()))?;
        // The body is no longer needed: free it before the (possibly long) work.
        drop(event.payload);
        match invocation {
            Invocation::Remediate(request) => self.remediate(request, event.context).await,
            Invocation::Restore(request) => self.restore(request, event.context).await,
        }
    }

    fn invoke(self: &Arc<Self>, context: &Context, mode: Mode) -> Arc<Invoke> {
        Arc::new(Invoke {
            remediator: Arc::clone(self),
            credentials: context.credentials.clone(),
            // FC sends x-fc-account-id; FC_ACCOUNT_ID is the documented fallback, so that a
            // member account's group is still recognised as foreign without the header.
            function_account: context
                .account_id
                .clone()
                .or_else(|| self.config.fc_account_id.clone()),
            function_name: context
                .function_name
                .clone()
                .unwrap_or_else(|| "fc".to_string()),
            request_id: context.request_id.clone(),
            deadline: context.deadline,
            mode,
        })
    }

    async fn remediate(
        self: Arc<Self>,
        request: RemediationEvent,
        context: Context,
    ) -> Result<Value, Diagnostic> {
        let mode = effective_mode(self.config.mode, request.dry_run);
        if mode != self.config.mode || request.dry_run == Some(false) {
            tracing::info!(
                deployment = self.config.mode.as_str(),
                requested_dry_run = request.dry_run,
                mode = mode.as_str(),
                "the event's dryRun can only make this invocation a dry run"
            );
        }
        let invoke = self.invoke(&context, mode);
        let items = dedup(request.items, context.account_id.as_deref());
        tracing::info!(
            resources = items.len(),
            mode = mode.as_str(),
            "remediation started"
        );

        let permits = Arc::new(Semaphore::new(usize::from(
            self.config.max_concurrency.max(1),
        )));
        let mut tasks = JoinSet::new();
        let mut slot_of = HashMap::new();
        let mut results: Vec<Option<ResourceResult>> = vec![None; items.len()];
        for (slot, item) in items.iter().cloned().enumerate() {
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let invoke = Arc::clone(&invoke);
            let handle = tasks.spawn(
                async move {
                    let _permit = permit;
                    invoke.process(item).await
                }
                .instrument(tracing::Span::current()),
            );
            slot_of.insert(handle.id(), slot);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, result)) => results[slot_of[&id]] = Some(result),
                Err(e) => {
                    let slot = slot_of[&e.id()];
                    tracing::error!(error = %e, "a resource task panicked");
                    results[slot] = Some(
                        identity(&items[slot], Status::Failed)
                            .with_reason("internal error while processing this resource"),
                    );
                }
            }
        }
        let results: Vec<ResourceResult> = results
            .into_iter()
            .zip(&items)
            .map(|(r, item)| {
                r.unwrap_or_else(|| {
                    identity(item, Status::Failed).with_reason("the resource was not processed")
                })
            })
            .collect();
        // One audit line per resource; invalid items (which named no usable resource) share
        // one summary line, so a body of junk cannot multiply the log.
        let mut invalid = Vec::new();
        for (r, item) in results.iter().zip(&items) {
            match item {
                Item::Resource(_) => audit(r),
                Item::Invalid(i) => invalid.push(i),
            }
        }
        invalid_summary(&invalid);
        let report = Report::new(context.request_id.clone(), mode, results);
        tracing::info!(summary = %json(&report.summary), "remediation finished");
        let body = serde_json::to_value(&report).expect("the report serializes");
        match report.failure_message() {
            None => Ok(body),
            Some(message) => Err(Diagnostic::new("RemediationFailed", message).with_body(body)),
        }
    }

    async fn restore(
        self: Arc<Self>,
        request: RestoreRequest,
        context: Context,
    ) -> Result<Value, Diagnostic> {
        if !self.config.allow_restore {
            return Err(Diagnostic::new(
                "RestoreDisabled",
                "restore events are disabled: set ALLOW_RESTORE=true (Terraform: enable_restore = true, \
                 which also grants ecs:AuthorizeSecurityGroup)",
            ));
        }
        let Some(sealer) = self.sealer.clone() else {
            // Config refuses ALLOW_RESTORE without a key; never restore unsealed rules anyway.
            return Err(Diagnostic::new(
                "RestoreDisabled",
                "restore events need RESTORE_SEAL_KEY: only sealed rules can be restored",
            ));
        };
        let mode = effective_mode(self.config.mode, request.dry_run);
        let invoke = self.invoke(&context, mode);
        let report = invoke.restore(request, &context.request_id, &sealer).await;
        let body = serde_json::to_value(&report).expect("the restore report serializes");
        tracing::info!(report = %body, "restore finished");
        match report.status {
            "restored" | "would_restore" | "skipped" => Ok(body),
            _ => Err(
                Diagnostic::new("RestoreFailed", report.reason.clone().unwrap_or_default())
                    .with_body(body),
            ),
        }
    }
}

/// The mode of one invocation: the event's `dryRun` can ask for a dry run, never for enforce.
/// Whoever can invoke the function can only make it more careful.
pub fn effective_mode(deployment: Mode, requested_dry_run: Option<bool>) -> Mode {
    match (deployment, requested_dry_run) {
        (Mode::DryRun, _) | (_, Some(true)) => Mode::DryRun,
        (Mode::Enforce, _) => Mode::Enforce,
    }
}

/// How many invalid items the summary line describes one by one.
const INVALID_ITEMS_NAMED: usize = 5;

/// One warning for all invalid items of an event: their count and the first few reasons (each
/// is in the report).
fn invalid_summary(invalid: &[&event::InvalidItem]) {
    if invalid.is_empty() {
        return;
    }
    let first: Vec<&str> = invalid
        .iter()
        .take(INVALID_ITEMS_NAMED)
        .map(|i| i.reason.as_str())
        .collect();
    tracing::warn!(
        event = "invalid_items",
        count = invalid.len(),
        first = %json(&first),
        "event items that name no usable resource were reported as failed"
    );
}

/// Drops repeated `(accountId, regionId, resourceId)` entries (a missing account is the
/// function's own), keeping the first; invalid items are all kept, each needs a status.
fn dedup(items: Vec<Item>, function_account: Option<&str>) -> Vec<Item> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| match item {
            Item::Resource(r) => seen.insert((
                r.account_id
                    .as_ref()
                    .map(|a| a.0.clone())
                    .or(function_account.map(str::to_string)),
                r.region_id.clone(),
                r.resource_id.clone(),
            )),
            Item::Invalid(_) => true,
        })
        .collect()
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

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One JSON log line per resource: the audit trail that accounts for every resource.
fn audit(r: &ResourceResult) {
    let line = json(r);
    match r.status {
        Status::Failed => tracing::error!(
            event = "resource_result",
            resource_id = r.resource_id.as_deref().unwrap_or(""),
            status = "failed",
            result = %line,
        ),
        _ => tracing::info!(
            event = "resource_result",
            resource_id = r.resource_id.as_deref().unwrap_or(""),
            status = %json(&r.status).trim_matches('"'),
            result = %line,
        ),
    }
}

/// An API failure as report text: the step, then code, message and RequestId.
fn api_failure(step: &str, e: &ApiError) -> String {
    format!("{step} failed: {e}")
}

/// Why AssumeRole into a member account failed, with the fix when STS's code tells it: the role
/// is missing (`EntityNotExist.Role`) or does not trust the function's role (`NoPermission`).
fn assume_role_failure(arn: &str, account: &str, e: &ApiError) -> String {
    let failure = api_failure(&format!("AssumeRole into {arn}"), e);
    let fix = match e.code() {
        Some("EntityNotExist.Role") => format!(
            "create the role in account {account} with terraform/modules/member-role \
             (role_name and trusted_role_arn from the central module's output member_role)"
        ),
        Some("NoPermission") => format!(
            "the role in account {account} must trust this function's RAM role: apply \
             terraform/modules/member-role there with trusted_role_arn = the central module's \
             role_arn, and keep sts:AssumeRole on the function's role (cross_account_role_name)"
        ),
        _ => return failure,
    };
    format!("{failure}; fix: {fix}")
}

impl Invoke {
    fn config(&self) -> &Config {
        &self.remediator.config
    }

    async fn process(&self, item: Item) -> ResourceResult {
        let resource = match &item {
            Item::Invalid(i) => {
                return identity(&item, Status::Failed).with_reason(i.reason.clone())
            }
            Item::Resource(r) => r.clone(),
        };
        let base = identity(&item, Status::Failed);
        match self.process_resource(&resource, base).await {
            Ok(r) | Err(r) => r,
        }
    }

    async fn process_resource(
        &self,
        r: &ResourceRef,
        mut out: ResourceResult,
    ) -> Result<ResourceResult, ResourceResult> {
        let skip = |out: &ResourceResult, reason: String| {
            let mut s = out.clone();
            s.status = Status::Skipped;
            s.reason = Some(reason);
            s
        };
        if r.resource_type != event::SECURITY_GROUP {
            return Err(skip(
                &out,
                format!(
                    "unsupported resource type {:?}: only {} is remediated",
                    r.resource_type,
                    event::SECURITY_GROUP
                ),
            ));
        }
        if self.config().is_exempt_id(&r.resource_id) {
            return Err(skip(
                &out,
                "exempt: listed in EXEMPT_SECURITY_GROUP_IDS".into(),
            ));
        }
        let account = r
            .account_id
            .as_ref()
            .map(|a| a.0.clone())
            .or_else(|| self.function_account.clone());
        if out.account_id.is_none() {
            out.account_id = account.clone();
        }
        let credentials = self
            .credentials_for(account.as_deref(), &mut out)
            .await
            .map_err(|b| *b)?;
        let cx = CallContext {
            credentials: &credentials,
            deadline: self.deadline,
        };
        let own = CallContext {
            credentials: self.credentials.as_ref().unwrap_or(&credentials),
            deadline: self.deadline,
        };

        // Every error seen along the way ends up in the reason, whatever the outcome.
        let mut notes: Vec<String> = Vec::new();
        let discovered = self
            .read_config(r, account.as_deref(), &cx, &own, &mut out, &mut notes)
            .await?;

        // Select on the snapshot (for drift), then on the live view (for action).
        let selector = &self.remediator.selector;
        let snapshot = select::rules_from_configuration(&discovered.configuration)
            .and_then(|rules| selector.evaluate(&rules));
        let live = match self.describe(&cx, r, &mut out, &mut notes).await {
            Ok(rules) => rules,
            Err(e) if e.code() == Some("InvalidSecurityGroupId.NotFound") => {
                notes.insert(0, format!("gone: the group no longer exists in ECS ({e})"));
                return Err(skip(&out, notes.join("; ")));
            }
            Err(e) => {
                notes.insert(0, api_failure("DescribeSecurityGroupAttribute", &e));
                out.reason = Some(notes.join("; "));
                return Err(out);
            }
        };
        let selection = match selector.evaluate(&live) {
            Ok(s) => s,
            Err(e) => {
                notes.insert(0, format!("selecting rules of the live group failed: {e}"));
                out.reason = Some(notes.join("; "));
                return Err(out);
            }
        };
        match &snapshot {
            Ok(snap) => out.drift_rule_ids = drift(snap, &selection),
            Err(e) => notes.push(format!(
                "Config snapshot rules unreadable ({e}); judged on live rules"
            )),
        }
        if !out.drift_rule_ids.is_empty() {
            notes.push(format!(
                "Config's snapshot is out of date for {}: decided on the live rules",
                join_ids(&out.drift_rule_ids)
            ));
            tracing::info!(
                resource_id = %r.resource_id,
                drift = %json(&out.drift_rule_ids),
                "Config snapshot and live ECS disagree on these rules; acting on the live view"
            );
        }
        out.shadowed_rule_ids = selection.shadowed_ids();
        out.review_rule_ids = selection.review_ids();
        notes.extend(explain_kept(&selection));
        for e in selection.exposed.iter().filter(|e| e.collateral) {
            notes.push(format!(
                "{} ({} {}) opens more than the risky ports: revoking it removes all of that \
                 access, not only the risky ports",
                e.rule
                    .rule_id
                    .as_ref()
                    .map_or("(rule without id)", RuleId::as_str),
                e.rule.protocol.as_str(),
                e.rule.port_range,
            ));
            tracing::warn!(
                resource_id = %r.resource_id,
                rule = %e.rule.to_json(),
                "revoking this rule also removes access beyond the risky ports (wide range or ALL)"
            );
        }

        let to_revoke = selection.revoke_ids();
        if to_revoke.is_empty() {
            out.status = Status::Compliant;
            if selection.shadowed.is_empty() && selection.review.is_empty() {
                notes.insert(0, "no world-open rule on a risky port".to_string());
            }
            out.reason = Some(notes.join("; "));
            return Ok(out);
        }
        let exposed_rules: Vec<Permission> =
            selection.exposed.iter().map(|e| e.rule.clone()).collect();
        if self.mode == Mode::DryRun {
            out.status = Status::WouldRemediate;
            out.would_revoke_rule_ids = Some(to_revoke);
            out.would_revoke_rules = Some(exposed_rules);
            notes.insert(0, "dry run: nothing was changed".into());
            out.reason = Some(notes.join("; "));
            return Ok(out);
        }

        self.revoke_and_verify(&cx, r, &to_revoke, &exposed_rules, out, notes)
            .await
    }

    /// Re-reads the group from Config (through the aggregator, with the function's own
    /// credentials, when one is configured) and decides whether it may be touched at all: not
    /// found, deleted, service-managed or exempt by tag is a skip; an answer about another region
    /// or account than the event's is a failure (never act on a group the event did not name).
    async fn read_config(
        &self,
        r: &ResourceRef,
        account: Option<&str>,
        cx: &CallContext<'_>,
        own: &CallContext<'_>,
        out: &mut ResourceResult,
        notes: &mut Vec<String>,
    ) -> Result<config_api::DiscoveredResource, ResourceResult> {
        let with_notes = |first: String, notes: &[String]| {
            std::iter::once(first)
                .chain(notes.iter().cloned())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let skip = |out: &ResourceResult, reason: String, notes: &[String]| {
            let mut s = out.clone();
            s.status = Status::Skipped;
            s.reason = Some(with_notes(reason, notes));
            s
        };
        let fail = |out: &ResourceResult, reason: String, notes: &[String]| {
            let mut f = out.clone();
            f.reason = Some(with_notes(reason, notes));
            f
        };
        // Re-fetch from Config (through the aggregator, with the function's own credentials,
        // when one is configured).
        let endpoints = &self.config().endpoints;
        let aggregator = match &self.config().config_aggregator_id {
            None => None,
            Some(id) => match aggregator_account(r) {
                Ok(account_id) => Some(AggregatorScope {
                    aggregator_id: id.clone(),
                    account_id,
                }),
                Err(reason) => return Err(fail(out, reason, notes)),
            },
        };
        let query = ResourceQuery {
            resource_id: r.resource_id.clone(),
            resource_type: r.resource_type.clone(),
            region: r.region_id.clone(),
            aggregator,
        };
        let config_cx = if query.aggregator.is_some() { own } else { cx };
        let config_action = if query.aggregator.is_some() {
            "GetAggregateDiscoveredResource"
        } else {
            "GetDiscoveredResource"
        };
        let client = &self.remediator.client;
        let mut retried = Vec::new();
        let read = config_api::get_discovered_resource_traced(
            client,
            config_cx,
            endpoints.config(),
            &query,
            &mut retried,
        )
        .await;
        for e in &retried {
            out.api_request_ids
                .extend(e.request_id().map(str::to_string));
            notes.push(retried_note(config_action, e));
        }
        let discovered = match read {
            Ok(d) => d,
            Err(e) => {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                if config_api::is_not_in_config(&e) {
                    return Err(skip(
                        out,
                        format!("not found in Config (deleted or never recorded): {e}"),
                        notes,
                    ));
                }
                return Err(fail(out, api_failure(config_action, &e), notes));
            }
        };
        out.api_request_ids.extend(discovered.request_id.clone());
        if let Some(mismatch) = answer_mismatch(r, account, &discovered) {
            return Err(fail(out, mismatch, notes));
        }
        if discovered.deleted {
            return Err(skip(
                out,
                "deleted: Config reports ResourceDeleted = 0".into(),
                notes,
            ));
        }
        if discovered.service_managed == Some(true) {
            return Err(skip(
                out,
                "managed by a cloud service (ServiceManaged = true): ECS refuses changes to it"
                    .into(),
                notes,
            ));
        }
        let tag = &self.config().exempt_tag;
        if discovered.tags.contains(&tag.key, tag.value.as_deref()) {
            return Err(skip(
                out,
                format!("exempt: tagged {}", tag_text(tag)),
                notes,
            ));
        }
        Ok(discovered)
    }

    /// Credentials for the resource's account: the invocation's own, or assumed in a member
    /// account through `CROSS_ACCOUNT_ROLE_NAME`.
    async fn credentials_for(
        &self,
        account: Option<&str>,
        out: &mut ResourceResult,
    ) -> Step<Credentials> {
        let Some(own) = self.credentials.clone() else {
            let mut f = out.clone();
            f.reason = Some(
                "the invocation carried no credentials (x-fc-access-key-id was empty): give the \
                 function a RAM role so FC passes its STS credentials"
                    .into(),
            );
            return Err(Box::new(f));
        };
        let foreign = match (account, self.function_account.as_deref()) {
            (Some(a), Some(f)) if a != f => a,
            _ => return Ok(own),
        };
        let Some(role) = self.config().cross_account_role_name.as_deref() else {
            let mut f = out.clone();
            f.reason = Some(format!(
                "the security group belongs to account {foreign}, not to the function's account {}: \
                 set CROSS_ACCOUNT_ROLE_NAME to a RAM role in {foreign} that trusts this account \
                 (or deploy the function in {foreign})",
                self.function_account.as_deref().unwrap_or("?")
            ));
            return Err(Box::new(f));
        };
        let arn = sts::role_arn(foreign, role);
        let cx = CallContext {
            credentials: &own,
            deadline: self.deadline,
        };
        match self
            .remediator
            .sts_cache
            .get_or_assume(
                &self.remediator.client,
                &cx,
                self.config().endpoints.sts(),
                &arn,
                &sts::session_name(&self.function_name),
                ASSUME_ROLE_SECONDS,
            )
            .await
        {
            Ok(assumed) => {
                out.api_request_ids.extend(assumed.request_id.clone());
                Ok(assumed.credentials)
            }
            Err(e) => {
                let mut f = out.clone();
                f.api_request_ids.extend(e.request_id().map(str::to_string));
                f.reason = Some(assume_role_failure(&arn, foreign, &e));
                Err(Box::new(f))
            }
        }
    }

    /// Reads the group's live ingress rules (both NIC types of a classic-network group). The
    /// errors of retried attempts go to `notes`, so that none is dropped from the reason.
    async fn describe(
        &self,
        cx: &CallContext<'_>,
        r: &ResourceRef,
        out: &mut ResourceResult,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Permission>, ApiError> {
        let endpoint = self.config().endpoints.ecs(&r.region_id)?;
        let mut retried = Vec::new();
        let read = ecs::describe_security_group_attribute_traced(
            &self.remediator.client,
            cx,
            &endpoint,
            &r.region_id,
            &r.resource_id,
            &mut retried,
        )
        .await;
        for e in &retried {
            out.api_request_ids
                .extend(e.request_id().map(str::to_string));
            notes.push(retried_note("DescribeSecurityGroupAttribute", e));
        }
        match read {
            Ok(rules) => {
                out.api_request_ids.extend(rules.request_ids);
                Ok(rules.permissions)
            }
            Err(e) => {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                Err(e)
            }
        }
    }

    /// The report's records of rules revoked from `r` now, each sealed when the deployment has
    /// a `RESTORE_SEAL_KEY` (bound to the account, region and group, see [`crate::seal`]).
    fn sealed(
        &self,
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
                    .map(|s| s.seal(place, &rule, now));
                RevokedRule { rule, seal }
            })
            .collect()
    }

    /// Revokes, then reads the group again: a rule counts as revoked only once it is gone live.
    /// If a batch failed because one of its ids vanished meanwhile (ECS then deletes nothing),
    /// the ids still exposed are revoked once more.
    ///
    /// A batch whose answer was lost (no response, a 5xx, the deadline) may have been applied:
    /// its rules count as revoked if the group no longer has them, so their backup record is
    /// kept; if the group cannot be read again, they are reported as `unverifiedRules`.
    async fn revoke_and_verify(
        &self,
        cx: &CallContext<'_>,
        r: &ResourceRef,
        ids: &[RuleId],
        exposed: &[Permission],
        mut out: ResourceResult,
        mut notes: Vec<String>,
    ) -> Result<ResourceResult, ResourceResult> {
        let endpoint = match self.config().endpoints.ecs(&r.region_id) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                out.status = Status::Failed;
                notes.insert(0, api_failure("RevokeSecurityGroup", &e.into()));
                out.reason = Some(notes.join("; "));
                return Err(out);
            }
        };
        let client = &self.remediator.client;
        let mut confirmed: BTreeSet<RuleId> = BTreeSet::new();
        // Sent, but the answer never came: ECS may have applied these.
        let mut unanswered: BTreeSet<RuleId> = BTreeSet::new();
        let mut errors: Vec<String> = Vec::new();
        // Errors that did not decide the outcome (retried attempts, a batch naming a vanished
        // rule): reported whatever the outcome, never dropped.
        let mut seen: Vec<String> = Vec::new();
        let mut managed = false;
        let mut pending: Vec<RuleId> = ids.to_vec();
        let mut live_after: Option<Vec<Permission>> = None;
        for round in 0..2 {
            let mut retry_worthy = false;
            for chunk in ecs::revoke_security_group(
                client,
                cx,
                &endpoint,
                &r.region_id,
                &r.resource_id,
                &self.request_id,
                &pending,
            )
            .await
            {
                for e in &chunk.retried {
                    out.api_request_ids
                        .extend(e.request_id().map(str::to_string));
                    seen.push(retried_note("RevokeSecurityGroup", e));
                }
                let lost_attempt = chunk.retried.iter().any(attempt_may_have_applied);
                match chunk.result {
                    Ok(request_id) => {
                        out.api_request_ids.push(request_id);
                        confirmed.extend(chunk.ids);
                    }
                    Err(e) => {
                        out.api_request_ids
                            .extend(e.request_id().map(str::to_string));
                        if lost_attempt || may_have_applied(&e) {
                            unanswered.extend(chunk.ids.iter().cloned());
                        }
                        if e.is_managed_by_cloud_product() {
                            managed = true;
                        } else if e.is_rule_not_found() {
                            retry_worthy = true;
                            seen.push(api_failure("RevokeSecurityGroup", &e));
                        } else {
                            errors.push(api_failure("RevokeSecurityGroup", &e));
                        }
                    }
                }
            }
            // Verify against live state.
            let after = match self.describe(cx, r, &mut out, &mut seen).await {
                Ok(rules) => rules,
                Err(e) => {
                    out.revoked_rule_ids = confirmed.iter().cloned().collect();
                    out.revoked_rules = self.sealed(r, &out, rules_by_id(exposed, &confirmed));
                    backup_log(r, &out.revoked_rules);
                    unanswered.retain(|id| !confirmed.contains(id));
                    out.unverified_rules = self.sealed(r, &out, rules_by_id(exposed, &unanswered));
                    unverified_log(r, &out.unverified_rules);
                    errors.push(api_failure(
                        "verifying with DescribeSecurityGroupAttribute",
                        &e,
                    ));
                    if !unanswered.is_empty() {
                        errors.push(format!(
                            "the revoke of {} got no answer and could not be verified: they may \
                             be gone; their attributes are in unverifiedRules for a restore",
                            join_ids(&unanswered)
                        ));
                    }
                    errors.extend(seen);
                    errors.extend(notes);
                    out.reason = Some(errors.join("; "));
                    return Err(out);
                }
            };
            let present: HashSet<&RuleId> =
                after.iter().filter_map(|p| p.rule_id.as_ref()).collect();
            // Ids still present and still selected on the fresh live view.
            // Selection runs again only if a revoked id is still there: usually none is.
            let any_left = ids.iter().any(|id| present.contains(id));
            let reselected = if any_left {
                self.remediator.selector.evaluate(&after)
            } else {
                Ok(Selection::default())
            };
            let still_exposed: Vec<RuleId> = match reselected {
                Ok(sel) => sel
                    .revoke_ids()
                    .into_iter()
                    .filter(|id| ids.contains(id))
                    .collect(),
                Err(_) => ids
                    .iter()
                    .filter(|id| present.contains(id))
                    .cloned()
                    .collect(),
            };
            confirmed.retain(|id| !present.contains(id));
            pending = still_exposed;
            live_after = Some(after);
            if pending.is_empty() || !retry_worthy || managed || !errors.is_empty() || round == 1 {
                break;
            }
            notes.push("a revoke batch named a rule that had meanwhile disappeared; revoked the rest again".into());
        }
        let present: HashSet<RuleId> = live_after
            .iter()
            .flatten()
            .filter_map(|p| p.rule_id.clone())
            .collect();
        let lost_but_gone: BTreeSet<RuleId> = unanswered
            .iter()
            .filter(|id| !present.contains(*id) && !confirmed.contains(*id))
            .cloned()
            .collect();
        if !lost_but_gone.is_empty() {
            notes.push(format!(
                "the answer to revoking {} was lost, but they are verified gone",
                join_ids(&lost_but_gone)
            ));
            confirmed.extend(lost_but_gone);
        }
        let already_gone: Vec<&RuleId> = ids
            .iter()
            .filter(|id| !present.contains(*id) && !confirmed.contains(*id))
            .collect();
        if !already_gone.is_empty() {
            notes.push(format!(
                "already gone before the revoke: {}",
                already_gone
                    .iter()
                    .map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.revoked_rule_ids = confirmed.iter().cloned().collect();
        out.revoked_rules = self.sealed(r, &out, rules_by_id(exposed, &confirmed));
        backup_log(r, &out.revoked_rules);

        if pending.is_empty() {
            out.status = Status::Remediated;
            notes.insert(
                0,
                format!(
                    "revoked {} rule(s), verified gone",
                    out.revoked_rule_ids.len()
                ),
            );
            // Errors of calls whose rules turned out gone: the outcome is verified, the
            // errors are still part of the account of what happened.
            notes.extend(errors);
            notes.extend(seen);
            out.reason = Some(notes.join("; "));
            return Ok(out);
        }
        if managed && confirmed.is_empty() {
            out.status = Status::Skipped;
            let mut reason = vec!["managed by a cloud service: ECS refused the revoke \
                 (InvalidOperation.ResourceManagedByCloudProduct)"
                .to_string()];
            reason.extend(errors);
            reason.extend(seen);
            out.reason = Some(reason.join("; "));
            return Err(out);
        }
        out.status = Status::Failed;
        errors.insert(
            0,
            format!(
                "still exposed after the revoke: {}",
                pending
                    .iter()
                    .map(RuleId::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        errors.extend(seen);
        errors.extend(notes);
        out.reason = Some(errors.join("; "));
        Err(out)
    }

    /// A restore: only rules whose seal verifies for this account, region and group are put
    /// back, never on an exempt, deleted or managed group, never twice, and in a dry run not at
    /// all. Any entry without a valid seal refuses the whole event before any API call.
    async fn restore(
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
        if self.config().is_exempt_id(&request.resource_id) {
            report.status = "skipped";
            report.reason = Some("exempt: listed in EXEMPT_SECURITY_GROUP_IDS".into());
            return report;
        }

        // Every seal first: a forged or altered entry refuses the whole event, before any call.
        let place = Place {
            account: account.as_deref().unwrap_or(""),
            region: &request.region_id,
            group: &request.resource_id,
        };
        let now = SystemTime::now();
        for (index, (rule, seal)) in request.rules.iter().zip(&request.seals).enumerate() {
            if let Err(e) = sealer.verify(place, rule, seal.as_deref(), now) {
                report.refused_rules.push(RefusedRule {
                    index,
                    rule: rule.clone(),
                    reason: e.to_string(),
                });
            }
        }
        if !report.refused_rules.is_empty() {
            report.reason = Some(format!(
                "refused: {} of {} rule(s) carry no valid seal for {} in account {} region {}; \
                 nothing was restored (see refusedRules)",
                report.refused_rules.len(),
                request.rules.len(),
                request.resource_id,
                place.account,
                request.region_id,
            ));
            tracing::warn!(
                event = "restore_refused",
                resource_id = %request.resource_id,
                refused = report.refused_rules.len(),
                "restore refused: rules without a valid seal"
            );
            return report;
        }

        let mut out = ResourceResult::new(
            Some(request.resource_id.clone()),
            Some(request.region_id.clone()),
            account.clone(),
            Some(event::SECURITY_GROUP.into()),
            Status::Failed,
        );
        let credentials = match self.credentials_for(account.as_deref(), &mut out).await {
            Ok(c) => c,
            Err(f) => {
                report.reason = f.reason;
                report.api_request_ids = f.api_request_ids;
                return report;
            }
        };
        let cx = CallContext {
            credentials: &credentials,
            deadline: self.deadline,
        };
        let own = CallContext {
            credentials: self.credentials.as_ref().unwrap_or(&credentials),
            deadline: self.deadline,
        };
        let resource = ResourceRef {
            account_id: request.account_id.clone(),
            region_id: request.region_id.clone(),
            resource_id: request.resource_id.clone(),
            resource_type: event::SECURITY_GROUP.into(),
            config_rule_id: None,
        };
        // Every error seen along the way ends up in the reason, whatever the outcome.
        let mut seen = Vec::new();
        // The same gate as a remediation: exempt by tag, deleted or managed groups are left
        // alone, and Config must answer for the group the event names.
        if let Err(stop) = self
            .read_config(
                &resource,
                account.as_deref(),
                &cx,
                &own,
                &mut out,
                &mut seen,
            )
            .await
        {
            report.api_request_ids = stop.api_request_ids;
            report.reason = stop.reason;
            if stop.status == Status::Skipped {
                report.status = "skipped";
            }
            return report;
        }
        let before = match self.describe(&cx, &resource, &mut out, &mut seen).await {
            Ok(rules) => rules,
            Err(e) => {
                report.api_request_ids = out.api_request_ids;
                seen.insert(0, api_failure("DescribeSecurityGroupAttribute", &e));
                report.reason = Some(seen.join("; "));
                return report;
            }
        };
        let mut to_add: Vec<Permission> = Vec::new();
        for rule in request.rules {
            let present = before.iter().any(|live| same_access(live, &rule))
                || to_add.iter().any(|queued| same_access(queued, &rule));
            if present {
                report.already_present_rules.push(rule);
            } else {
                to_add.push(rule);
            }
        }
        let present_note = if report.already_present_rules.is_empty() {
            String::new()
        } else {
            format!(
                "; {} already present, not re-added",
                report.already_present_rules.len()
            )
        };
        if self.mode == Mode::DryRun {
            report.api_request_ids = out.api_request_ids;
            report.status = "would_restore";
            report.reason = Some(format!(
                "dry run: nothing was changed; would re-authorize {} rule(s){present_note}",
                to_add.len()
            ));
            report.would_restore_rules = Some(to_add);
            return report;
        }
        let endpoint = match self.config().endpoints.ecs(&request.region_id) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                report.api_request_ids = out.api_request_ids;
                seen.insert(0, api_failure("AuthorizeSecurityGroup", &e.into()));
                report.reason = Some(seen.join("; "));
                return report;
            }
        };
        let mut errors = Vec::new();
        for chunk in ecs::authorize_security_group(
            &self.remediator.client,
            &cx,
            &endpoint,
            &request.region_id,
            &request.resource_id,
            &self.request_id,
            &to_add,
        )
        .await
        {
            for e in &chunk.retried {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                seen.push(retried_note("AuthorizeSecurityGroup", e));
            }
            match chunk.result {
                Ok(id) => {
                    out.api_request_ids.push(id);
                    rule_log("rule_restored", &resource, &chunk.rules);
                    report.restored_rules.extend(chunk.rules);
                }
                Err(e) => {
                    out.api_request_ids
                        .extend(e.request_id().map(str::to_string));
                    errors.push(api_failure("AuthorizeSecurityGroup", &e));
                }
            }
        }
        let existing: HashSet<RuleId> = before.iter().filter_map(|p| p.rule_id.clone()).collect();
        if !to_add.is_empty() {
            match self.describe(&cx, &resource, &mut out, &mut seen).await {
                Ok(after) => {
                    report.new_rule_ids = after
                        .iter()
                        .filter_map(|p| p.rule_id.clone())
                        .filter(|id| !existing.contains(id))
                        .collect();
                }
                Err(e) => errors.push(api_failure("describing after the restore", &e)),
            }
        }
        report.api_request_ids = out.api_request_ids;
        if errors.is_empty() {
            report.status = "restored";
            errors.push(format!(
                "re-authorized {} rule(s){present_note}",
                report.restored_rules.len()
            ));
        }
        errors.extend(seen);
        report.reason = Some(errors.join("; "));
        report
    }
}

/// Whether two rules grant the same access (every attribute but the id, the creation time and
/// the description): re-adding such a rule would duplicate it.
fn same_access(a: &Permission, b: &Permission) -> bool {
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

/// Why Config's answer is not about the group the event named, if it is not: its `Region` (or
/// its `AccountId`, when both are known) differs from the event's.
fn answer_mismatch(
    r: &ResourceRef,
    account: Option<&str>,
    d: &config_api::DiscoveredResource,
) -> Option<String> {
    if !d.region.eq_ignore_ascii_case(&r.region_id) {
        return Some(format!(
            "Config answered for region {:?}, but the event names {:?}: not acting on a group \
             the event did not name",
            event::quote(&d.region),
            r.region_id
        ));
    }
    match (account, d.account_id.as_deref()) {
        (Some(asked), Some(answered)) if asked != answered.trim() => Some(format!(
            "Config answered for account {:?}, but the event names {asked:?}: not acting on a \
             group the event did not name",
            event::quote(answered)
        )),
        _ => None,
    }
}

/// Whether ECS may have applied a call that failed. A 4xx error answer (other than flow
/// control) rejected that attempt, and an earlier lost attempt would have been answered from its
/// ClientToken instead; a call never sent changed nothing. Anything else (no answer, an
/// unreadable or 5xx answer, throttling after lost attempts, the deadline during an attempt)
/// leaves the outcome unknown.
///
/// `LastTokenProcessing` / `OperationConflict` mean an earlier attempt with the same token is
/// still running: it may have applied.
fn may_have_applied(e: &ApiError) -> bool {
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
fn attempt_may_have_applied(e: &ApiError) -> bool {
    match e {
        ApiError::Service { status, .. } => *status >= 500 || e.is_in_progress(),
        ApiError::Transport(_) | ApiError::Decode { .. } => true,
        ApiError::DeadlineExceeded { last } => last.is_some(),
        ApiError::InvalidRequest(_) => false,
    }
}

/// The report text of an attempt that failed and was retried.
fn retried_note(action: &str, e: &ApiError) -> String {
    format!("{action} attempt failed and was retried: {e}")
}

/// The account to read a resource through the aggregator: `ResourceAccountId` is a required
/// int64 (`config-20200907/client/get_aggregate_discovered_resource_request_model.go`), so it
/// must come from the event item itself. Guessing the function's own account would ask
/// Config about the wrong account and could make a member's open group look "not in Config".
fn aggregator_account(r: &ResourceRef) -> Result<String, String> {
    match r.account_id.as_ref().map(|a| a.0.as_str()) {
        Some(a) if config_api::is_resource_account_id(a) => Ok(a.to_string()),
        Some(a) => Err(format!(
            "CONFIG_AGGREGATOR_ID is set but the item's accountId {a:?} is not an account id \
             (GetAggregateDiscoveredResource's ResourceAccountId is an int64); nothing was sent"
        )),
        None => Err(
            "CONFIG_AGGREGATOR_ID is set but the event item has no accountId: \
             GetAggregateDiscoveredResource needs the resource's account (ResourceAccountId); \
             nothing was sent"
                .into(),
        ),
    }
}

fn join_ids<'a>(ids: impl IntoIterator<Item = &'a RuleId>) -> String {
    ids.into_iter()
        .map(RuleId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rule ids selected in exactly one of the two views.
fn drift(snapshot: &Selection, live: &Selection) -> Vec<RuleId> {
    let a: BTreeSet<RuleId> = snapshot.revoke_ids().into_iter().collect();
    let b: BTreeSet<RuleId> = live.revoke_ids().into_iter().collect();
    a.symmetric_difference(&b).cloned().collect()
}

/// Why world-open rules were kept: shadowing and review, rule by rule.
pub(crate) fn explain_kept(selection: &Selection) -> Vec<String> {
    let id = |p: &Permission| {
        p.rule_id
            .as_ref()
            .map_or_else(|| "(rule without id)".to_string(), |r| r.to_string())
    };
    let mut notes = Vec::new();
    for s in &selection.shadowed {
        notes.push(format!(
            "{} kept: its risky ports are denied by higher-priority Drop rule(s) {}",
            id(&s.rule),
            s.by.iter()
                .map(RuleId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for rv in &selection.review {
        notes.push(format!(
            "{} needs review: {}; check it by hand",
            id(&rv.rule),
            rv.reason
        ));
    }
    notes
}

fn rules_by_id(rules: &[Permission], ids: &BTreeSet<RuleId>) -> Vec<Permission> {
    rules
        .iter()
        .filter(|p| p.rule_id.as_ref().is_some_and(|id| ids.contains(id)))
        .cloned()
        .collect()
}

/// One log line per revoked rule with all of its attributes and its seal: the restore record.
fn backup_log(r: &ResourceRef, rules: &[RevokedRule]) {
    rule_log("rule_revoked", r, rules);
}

/// One info line per rule with all of its attributes, tagged with what happened to it.
fn rule_log<T: serde::Serialize>(event: &'static str, r: &ResourceRef, rules: &[T]) {
    for rule in rules {
        tracing::info!(
            event,
            resource_id = %r.resource_id,
            region_id = %r.region_id,
            rule = %json(rule),
        );
    }
}

/// One log line per rule whose revoke may have been applied but could not be verified, with all
/// of its attributes and seal, so a restore is possible if it is gone.
fn unverified_log(r: &ResourceRef, rules: &[RevokedRule]) {
    for rule in rules {
        tracing::warn!(
            event = "rule_revoke_unverified",
            resource_id = %r.resource_id,
            region_id = %r.region_id,
            rule = %json(rule),
        );
    }
}

fn tag_text(tag: &crate::config::ExemptTag) -> String {
    match &tag.value {
        Some(v) => format!("{}={v}", tag.key),
        None => tag.key.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AccountId;
    use crate::services::config::{DiscoveredResource, Tags};

    fn service(status: u16, code: &str) -> ApiError {
        ApiError::Service {
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
            recommend: None,
        }
    }

    #[test]
    fn a_token_still_processing_may_have_applied() {
        assert!(may_have_applied(&service(403, "LastTokenProcessing")));
        assert!(may_have_applied(&service(400, "OperationConflict")));
        assert!(attempt_may_have_applied(&service(
            403,
            "LastTokenProcessing"
        )));
    }

    #[test]
    fn a_refused_attempt_did_not_apply_but_a_lost_one_may_have() {
        assert!(!attempt_may_have_applied(&service(
            400,
            "Rejected.Throttling"
        )));
        assert!(!attempt_may_have_applied(&service(403, "Forbidden.RAM")));
        assert!(attempt_may_have_applied(&service(
            503,
            "ServiceUnavailable"
        )));
        assert!(attempt_may_have_applied(&ApiError::Transport(
            "timed out".into()
        )));
        assert!(!attempt_may_have_applied(&ApiError::InvalidRequest(
            String::new()
        )));
        assert!(!may_have_applied(&service(
            400,
            "InvalidParam.SecurityGroupRuleId"
        )));
    }

    #[test]
    fn an_event_can_ask_for_a_dry_run_but_never_switch_one_off() {
        use Mode::{DryRun, Enforce};
        assert_eq!(effective_mode(Enforce, None), Enforce);
        assert_eq!(effective_mode(Enforce, Some(false)), Enforce);
        assert_eq!(effective_mode(Enforce, Some(true)), DryRun);
        assert_eq!(effective_mode(DryRun, None), DryRun);
        assert_eq!(effective_mode(DryRun, Some(false)), DryRun);
        assert_eq!(effective_mode(DryRun, Some(true)), DryRun);
    }

    fn resource(account: Option<&str>) -> ResourceRef {
        ResourceRef {
            account_id: account.map(|a| AccountId(a.into())),
            region_id: "cn-hangzhou".into(),
            resource_id: "sg-1".into(),
            resource_type: event::SECURITY_GROUP.into(),
            config_rule_id: None,
        }
    }

    #[test]
    fn the_aggregator_account_comes_from_the_item_and_is_an_int64() {
        assert_eq!(
            aggregator_account(&resource(Some("1234567890123456"))),
            Ok("1234567890123456".to_string())
        );
        let missing = aggregator_account(&resource(None)).unwrap_err();
        assert!(missing.contains("no accountId"), "{missing}");
        assert!(aggregator_account(&resource(Some("99999999999999999999"))).is_err());
    }

    fn answered(region: &str, account: Option<&str>) -> DiscoveredResource {
        DiscoveredResource {
            request_id: None,
            account_id: account.map(str::to_string),
            region: region.into(),
            resource_id: "sg-1".into(),
            resource_type: event::SECURITY_GROUP.into(),
            deleted: false,
            configuration: Value::Null,
            tags: Tags::default(),
            service_managed: None,
        }
    }

    #[test]
    fn configs_answer_for_another_region_or_account_is_a_mismatch() {
        let r = resource(None);
        assert_eq!(
            answer_mismatch(&r, Some("1"), &answered("cn-hangzhou", Some("1"))),
            None
        );
        assert_eq!(
            answer_mismatch(&r, None, &answered("CN-HANGZHOU", Some("1"))),
            None
        );
        assert_eq!(
            answer_mismatch(&r, Some("1"), &answered("cn-hangzhou", None)),
            None
        );
        let region = answer_mismatch(&r, Some("1"), &answered("cn-beijing", Some("1"))).unwrap();
        assert!(
            region.contains("cn-beijing") && region.contains("cn-hangzhou"),
            "{region}"
        );
        let account = answer_mismatch(&r, Some("1"), &answered("cn-hangzhou", Some("2"))).unwrap();
        assert!(account.contains("account"), "{account}");
    }

    #[test]
    fn rules_differing_only_in_id_time_or_description_grant_the_same_access() {
        let rule = |id: &str, desc: &str, port: &str| {
            Permission::from_json(&serde_json::json!({"SecurityGroupRuleId": id,
                "Direction": "ingress", "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP",
                "PortRange": port, "SourceCidrIp": "0.0.0.0/0", "Description": desc,
                "CreateTime": id}))
            .unwrap()
        };
        assert!(same_access(
            &rule("sgr-a", "x", "22/22"),
            &rule("sgr-b", "y", "22/22")
        ));
        assert!(!same_access(
            &rule("sgr-a", "x", "22/22"),
            &rule("sgr-a", "x", "23/23")
        ));
    }
}

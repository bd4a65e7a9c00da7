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
use std::time::Instant;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{Config, Mode};
use crate::credentials::Credentials;
use crate::event::{self, Invocation, Item, RemediationEvent, ResourceRef, RestoreRequest};
use crate::openapi::{ApiError, CallContext, Client};
use crate::report::{Report, ResourceResult, RestoreReport, Status};
use crate::rules::{Permission, RuleId};
use crate::runtime::{Context, Diagnostic, Event};
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
}

/// What one invocation knows about itself, shared by its per-resource tasks.
struct Invoke {
    remediator: Arc<Remediator>,
    credentials: Option<Credentials>,
    function_account: Option<String>,
    function_name: String,
    deadline: Instant,
    mode: Mode,
}

/// How a resource's processing ended early (each carries the result to report).
type Step<T> = Result<T, Box<ResourceResult>>;

impl Remediator {
    pub fn new(config: Config, selector: Selector, client: Client) -> Self {
        Remediator {
            config,
            selector,
            client,
            sts_cache: sts::CredentialCache::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one `/invoke`. A body that is not an event is a function error; otherwise the
    /// report is the answer, and a function error (with the whole report) if anything failed.
    pub async fn handle(self: Arc<Self>, event: Event) -> Result<Value, Diagnostic> {
        let invocation = event::parse(&event.payload)
            .map_err(|e| Diagnostic::new("InvalidEvent", e.to_string()))?;
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
            deadline: context.deadline,
            mode,
        })
    }

    async fn remediate(
        self: Arc<Self>,
        request: RemediationEvent,
        context: Context,
    ) -> Result<Value, Diagnostic> {
        let mode = match request.dry_run {
            Some(true) => Mode::DryRun,
            Some(false) => Mode::Enforce,
            None => self.config.mode,
        };
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
        for r in &results {
            audit(r);
        }
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
        let invoke = self.invoke(&context, self.config.mode);
        let report = invoke.restore(request, &context.request_id).await;
        let body = serde_json::to_value(&report).expect("the restore report serializes");
        tracing::info!(report = %body, "restore finished");
        match report.status {
            "restored" => Ok(body),
            _ => Err(
                Diagnostic::new("RestoreFailed", report.reason.clone().unwrap_or_default())
                    .with_body(body),
            ),
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
        if self
            .config()
            .exempt_security_group_ids
            .contains(&r.resource_id)
        {
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

        // Re-fetch from Config (through the aggregator, with the function's own credentials,
        // when one is configured).
        let endpoints = &self.config().endpoints;
        let query = ResourceQuery {
            resource_id: r.resource_id.clone(),
            resource_type: r.resource_type.clone(),
            region: r.region_id.clone(),
            aggregator: self
                .config()
                .config_aggregator_id
                .as_ref()
                .map(|id| AggregatorScope {
                    aggregator_id: id.clone(),
                    account_id: account.clone().unwrap_or_default(),
                }),
        };
        let config_cx = if query.aggregator.is_some() {
            &own
        } else {
            &cx
        };
        let client = &self.remediator.client;
        let discovered = match config_api::get_discovered_resource(
            client,
            config_cx,
            endpoints.config(),
            &query,
        )
        .await
        {
            Ok(d) => d,
            Err(e) => {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                if e.is_not_found() {
                    return Err(skip(
                        &out,
                        format!("not found in Config (deleted or never recorded): {e}"),
                    ));
                }
                out.reason = Some(api_failure("GetDiscoveredResource", &e));
                return Err(out);
            }
        };
        out.api_request_ids.extend(discovered.request_id.clone());
        if discovered.deleted {
            return Err(skip(
                &out,
                "deleted: Config reports ResourceDeleted = 0".into(),
            ));
        }
        if discovered.service_managed == Some(true) {
            return Err(skip(
                &out,
                "managed by a cloud service (ServiceManaged = true): ECS refuses changes to it"
                    .into(),
            ));
        }
        let tag = &self.config().exempt_tag;
        if discovered.tags.contains(&tag.key, tag.value.as_deref()) {
            return Err(skip(&out, format!("exempt: tagged {}", tag_text(tag))));
        }

        // Select on the snapshot (for drift), then on the live view (for action).
        let selector = &self.remediator.selector;
        let snapshot = select::rules_from_configuration(&discovered.configuration)
            .and_then(|rules| selector.evaluate(&rules));
        let live = match self.describe(&cx, r, &mut out).await {
            Ok(rules) => rules,
            Err(e) if e.code() == Some("InvalidSecurityGroupId.NotFound") => {
                return Err(skip(
                    &out,
                    format!("gone: the group no longer exists in ECS ({e})"),
                ));
            }
            Err(e) => {
                out.reason = Some(api_failure("DescribeSecurityGroupAttribute", &e));
                return Err(out);
            }
        };
        let selection = match selector.evaluate(&live) {
            Ok(s) => s,
            Err(e) => {
                out.reason = Some(format!("selecting rules of the live group failed: {e}"));
                return Err(out);
            }
        };
        let mut notes = Vec::new();
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
                f.reason = Some(api_failure(&format!("AssumeRole into {arn}"), &e));
                Err(Box::new(f))
            }
        }
    }

    async fn describe(
        &self,
        cx: &CallContext<'_>,
        r: &ResourceRef,
        out: &mut ResourceResult,
    ) -> Result<Vec<Permission>, ApiError> {
        let endpoint = self.config().endpoints.ecs(&r.region_id);
        match ecs::describe_security_group_attribute(
            &self.remediator.client,
            cx,
            &endpoint,
            &r.region_id,
            &r.resource_id,
        )
        .await
        {
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
        let endpoint = self.config().endpoints.ecs(&r.region_id);
        let client = &self.remediator.client;
        let mut confirmed: BTreeSet<RuleId> = BTreeSet::new();
        // Sent, but the answer never came: ECS may have applied these.
        let mut unanswered: BTreeSet<RuleId> = BTreeSet::new();
        let mut errors: Vec<String> = Vec::new();
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
                &pending,
            )
            .await
            {
                match chunk.result {
                    Ok(request_id) => {
                        out.api_request_ids.push(request_id);
                        confirmed.extend(chunk.ids);
                    }
                    Err(e) => {
                        out.api_request_ids
                            .extend(e.request_id().map(str::to_string));
                        if may_have_applied(&e) {
                            unanswered.extend(chunk.ids.iter().cloned());
                        }
                        if e.is_managed_by_cloud_product() {
                            managed = true;
                        } else if e.is_rule_not_found() {
                            retry_worthy = true;
                        } else {
                            errors.push(api_failure("RevokeSecurityGroup", &e));
                        }
                    }
                }
            }
            // Verify against live state.
            let after = match self.describe(cx, r, &mut out).await {
                Ok(rules) => rules,
                Err(e) => {
                    out.revoked_rule_ids = confirmed.iter().cloned().collect();
                    out.revoked_rules = rules_by_id(exposed, &confirmed);
                    backup_log(r, &out.revoked_rules);
                    unanswered.retain(|id| !confirmed.contains(id));
                    out.unverified_rules = rules_by_id(exposed, &unanswered);
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
        out.revoked_rules = rules_by_id(exposed, &confirmed);
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
            out.reason = Some(notes.join("; "));
            return Ok(out);
        }
        if managed && confirmed.is_empty() {
            out.status = Status::Skipped;
            out.reason = Some(
                "managed by a cloud service: ECS refused the revoke \
                 (InvalidOperation.ResourceManagedByCloudProduct)"
                    .into(),
            );
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
        errors.extend(notes);
        out.reason = Some(errors.join("; "));
        Err(out)
    }

    async fn restore(&self, request: RestoreRequest, request_id: &str) -> RestoreReport {
        let mut report = RestoreReport {
            request_id: request_id.to_string(),
            action: "restore",
            resource_id: request.resource_id.clone(),
            region_id: request.region_id.clone(),
            account_id: request
                .account_id
                .as_ref()
                .map(|a| a.0.clone())
                .or_else(|| self.function_account.clone()),
            status: "failed",
            reason: None,
            restored_rules: Vec::new(),
            new_rule_ids: Vec::new(),
            api_request_ids: Vec::new(),
        };
        let mut scratch = ResourceResult::new(None, None, None, None, Status::Failed);
        let credentials = match self
            .credentials_for(report.account_id.as_deref(), &mut scratch)
            .await
        {
            Ok(c) => c,
            Err(f) => {
                report.reason = f.reason;
                report.api_request_ids = f.api_request_ids;
                return report;
            }
        };
        report.api_request_ids = scratch.api_request_ids;
        let cx = CallContext {
            credentials: &credentials,
            deadline: self.deadline,
        };
        let resource = ResourceRef {
            account_id: request.account_id.clone(),
            region_id: request.region_id.clone(),
            resource_id: request.resource_id.clone(),
            resource_type: event::SECURITY_GROUP.into(),
            config_rule_id: None,
        };
        let mut scratch = ResourceResult::new(None, None, None, None, Status::Failed);
        let before = match self.describe(&cx, &resource, &mut scratch).await {
            Ok(rules) => rules,
            Err(e) => {
                report.api_request_ids.extend(scratch.api_request_ids);
                report.reason = Some(api_failure("DescribeSecurityGroupAttribute", &e));
                return report;
            }
        };
        let endpoint = self.config().endpoints.ecs(&request.region_id);
        let mut errors = Vec::new();
        for chunk in ecs::authorize_security_group(
            &self.remediator.client,
            &cx,
            &endpoint,
            &request.region_id,
            &request.resource_id,
            &request.rules,
        )
        .await
        {
            match chunk.result {
                Ok(id) => {
                    scratch.api_request_ids.push(id);
                    rule_log("rule_restored", &resource, &chunk.rules);
                    report.restored_rules.extend(chunk.rules);
                }
                Err(e) => {
                    scratch
                        .api_request_ids
                        .extend(e.request_id().map(str::to_string));
                    errors.push(api_failure("AuthorizeSecurityGroup", &e));
                }
            }
        }
        let existing: HashSet<RuleId> = before.iter().filter_map(|p| p.rule_id.clone()).collect();
        match self.describe(&cx, &resource, &mut scratch).await {
            Ok(after) => {
                report.new_rule_ids = after
                    .iter()
                    .filter_map(|p| p.rule_id.clone())
                    .filter(|id| !existing.contains(id))
                    .collect();
            }
            Err(e) => errors.push(api_failure("describing after the restore", &e)),
        }
        report.api_request_ids.extend(scratch.api_request_ids);
        if errors.is_empty() {
            report.status = "restored";
            report.reason = Some(format!(
                "re-authorized {} rule(s)",
                report.restored_rules.len()
            ));
        } else {
            report.reason = Some(errors.join("; "));
        }
        report
    }
}

/// Whether ECS may have applied a call that failed. A 4xx error answer (other than flow
/// control) rejected that attempt, and an earlier lost attempt would have been answered from its
/// ClientToken instead; a call never sent changed nothing. Anything else (no answer, an
/// unreadable or 5xx answer, throttling after lost attempts, the deadline during an attempt)
/// leaves the outcome unknown.
fn may_have_applied(e: &ApiError) -> bool {
    match e {
        ApiError::Service { status, .. } => *status >= 500 || e.is_throttling(),
        ApiError::Transport(_) | ApiError::Decode { .. } => true,
        ApiError::DeadlineExceeded { last } => last.is_some(),
        ApiError::InvalidRequest(_) => false,
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

/// One log line per revoked rule with all of its attributes: the restore record.
fn backup_log(r: &ResourceRef, rules: &[Permission]) {
    rule_log("rule_revoked", r, rules);
}

/// One info line per rule with all of its attributes, tagged with what happened to it.
fn rule_log(event: &'static str, r: &ResourceRef, rules: &[Permission]) {
    for rule in rules {
        tracing::info!(
            event,
            resource_id = %r.resource_id,
            region_id = %r.region_id,
            rule = %rule.to_json(),
        );
    }
}

/// One log line per rule whose revoke may have been applied but could not be verified, with all
/// of its attributes, so a restore is possible if it is gone.
fn unverified_log(r: &ResourceRef, rules: &[Permission]) {
    for rule in rules {
        tracing::warn!(
            event = "rule_revoke_unverified",
            resource_id = %r.resource_id,
            region_id = %r.region_id,
            rule = %rule.to_json(),
        );
    }
}

fn tag_text(tag: &crate::config::ExemptTag) -> String {
    match &tag.value {
        Some(v) => format!("{}={v}", tag.key),
        None => tag.key.clone(),
    }
}

//! The four subcommands. Each returns the JSON report, the table, and whether anything risky was
//! found or failed (exit status 2).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use acs_openapi::{ApiError, CallContext};
use serde_json::{json, Value};
use sg_remediator::cli::scan::{scan_group, watch, Scanned, Watch, EXPIRING_WITHIN};
use sg_remediator::config::Mode;
use sg_remediator::escape;
use sg_remediator::event::SECURITY_GROUP;
use sg_remediator::exemption::Exemption;
use sg_remediator::render::{self, GroupRules};
use sg_remediator::report::{Report, ResourceResult, Status};
use sg_remediator::rules::Permission;
use sg_remediator::services::ecs_inventory;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::session::{request_id, Fatal, Session};
use crate::terminal::Progress;

/// What a subcommand produced.
pub(crate) struct Outcome {
    pub report: Value,
    pub table: String,
    /// Exit status 2: risky rules found (scan, check) or a failure.
    pub flagged: bool,
}

/// A group to check or remediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub region: String,
    pub id: String,
}

pub(crate) async fn scan(
    session: Session,
    regions: &[String],
    all_regions: bool,
) -> Result<Outcome, Fatal> {
    let session = Arc::new(session);
    let mut regions = regions.to_vec();
    if all_regions {
        // Any regional ECS endpoint answers DescribeRegions: the first named region's, else
        // cn-hangzhou's.
        let via = regions.first().map_or("cn-hangzhou", String::as_str);
        let cx = CallContext {
            credentials: &session.credentials,
            deadline: session.deadline(),
        };
        let failed =
            |e: ApiError| Fatal(format!("listing the regions (DescribeRegions) failed: {e}"));
        let endpoint = session
            .config
            .endpoints
            .ecs(via)
            .map_err(|e| failed(e.into()))?;
        let offered = ecs_inventory::describe_regions(&session.client, &cx, &endpoint)
            .await
            .map_err(failed)?;
        for region in offered {
            if !regions.contains(&region) {
                regions.push(region);
            }
        }
    }
    let mut listed = Vec::new();
    for region in &regions {
        let cx = CallContext {
            credentials: &session.credentials,
            deadline: session.deadline(),
        };
        let failed = |e: ApiError| {
            Fatal(format!(
                "listing the security groups of {region} (DescribeSecurityGroups) failed: {e}"
            ))
        };
        let endpoint = session
            .config
            .endpoints
            .ecs(region)
            .map_err(|e| failed(e.into()))?;
        let inventory =
            ecs_inventory::describe_security_groups(&session.client, &cx, &endpoint, region)
                .await
                .map_err(failed)?;
        listed.extend(inventory.groups);
    }
    // One clock reading for the whole scan: every exemption is judged at the same instant.
    let now = std::time::SystemTime::now();
    let progress = Progress::new(listed.len() as u64, "scanning");
    let outcomes = for_each(
        &session,
        listed.clone(),
        &progress,
        |session, group| async move {
            let cx = CallContext {
                credentials: &session.credentials,
                deadline: session.deadline(),
            };
            scan_group(
                &session.client,
                &cx,
                &session.config,
                &session.selector,
                &group,
                now,
            )
            .await
        },
    )
    .await;
    progress.finish();
    let mut tables = BTreeMap::new();
    let mut results = Vec::new();
    let mut watched = Vec::new();
    for (group, scanned) in listed.iter().zip(outcomes) {
        let scanned = scanned.unwrap_or_else(|| Scanned {
            result: ResourceResult::new(
                Some(group.security_group_id.clone()),
                Some(group.region_id.clone()),
                None,
                Some(SECURITY_GROUP.to_string()),
                Status::Failed,
            )
            .with_reason("internal error while scanning this group"),
            rules: Vec::new(),
            exemption: Exemption::NotExempt,
        });
        if let Some(w) = watch(&scanned.exemption, now) {
            watched.push((group, w));
        }
        tables.insert(
            group.security_group_id.clone(),
            GroupRules {
                name: group.security_group_name.clone(),
                before: scanned.rules.iter().map(Permission::to_json).collect(),
                after: None,
            },
        );
        results.push(scanned.result);
    }
    let report = Report::new(request_id(), Mode::DryRun, results);
    let flagged = report.summary.would_remediate > 0 || report.summary.failed > 0;
    let mut report = with_source(
        serde_json::to_value(&report).expect("the report serializes"),
        &session,
    );
    report["exemptions"] = watched
        .iter()
        .map(|(group, w)| {
            let mut entry = json!({
                "resourceId": group.security_group_id,
                "regionId": group.region_id,
            });
            if let (Some(entry), Value::Object(w)) = (entry.as_object_mut(), json!(w)) {
                entry.extend(w);
            }
            entry
        })
        .collect();
    let mut outcome = finish(report, &tables, &session, flagged);
    outcome
        .table
        .push_str(&exemptions_table(&watched, &session.config.exempt_tag.key));
    Ok(outcome)
}

/// The scan's lines for exemptions that end within a week, have ended or cannot be read; nothing
/// when there are none.
fn exemptions_table(watched: &[(&ecs_inventory::ListedGroup, Watch)], key: &str) -> String {
    if watched.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "Exemptions (tag {}) ending within {} days, ended or unreadable:\n",
        escape::control(key),
        EXPIRING_WITHIN.as_secs() / 86_400
    );
    for (group, w) in watched {
        out.push_str(&format!(
            "  {}  {}  {}\n",
            escape::control(&group.security_group_id),
            escape::control(&group.region_id),
            escape::control(&w.to_string())
        ));
    }
    out
}

/// `check` (dry run) and `remediate` (enforce): the function's engine, one group per invocation
/// so that progress can be shown, results in the order given. The table's rules are the
/// engine's own reads (before: the read the decision was made on; after: the verify read), so a
/// group costs the same calls, on the same critical path, as when Config invokes the function;
/// the group is read once more only when a revoke may have been sent and could not be verified.
pub(crate) async fn run_engine(
    session: Session,
    targets: Vec<Target>,
    mode: Mode,
) -> Result<Outcome, Fatal> {
    let session = Arc::new(session);
    let remediator = session.remediator();
    let label = match mode {
        Mode::DryRun => "checking",
        Mode::Enforce => "remediating",
    };
    let progress = Progress::new(targets.len() as u64, label);
    let outcomes = for_each(&session, targets.clone(), &progress, |session, target| {
        let remediator = Arc::clone(&remediator);
        async move {
            let mut event = json!({"resources": [{
                "regionId": target.region,
                "resourceId": target.id,
                "resourceType": SECURITY_GROUP,
            }]});
            if mode == Mode::DryRun {
                event["dryRun"] = json!(true);
            }
            let (body, mut views) = session.invoke_observed(&remediator, event).await;
            let view = views.remove(&target.id).unwrap_or_default();
            let rules = |rules: Vec<Permission>| rules.iter().map(Permission::to_json).collect();
            let before: Option<Vec<Value>> = view.before.map(rules);
            let after = match (mode, view.after) {
                (Mode::DryRun, _) => None,
                (Mode::Enforce, Some(verified)) => Some(rules(verified)),
                (Mode::Enforce, None) if may_have_changed(&body) => Some(
                    session
                        .live_rules(&target.region, &target.id)
                        .await
                        .unwrap_or_default(),
                ),
                // Nothing was revoked: the group is as it was read.
                (Mode::Enforce, None) => before.clone(),
            };
            (before, body, after)
        }
    })
    .await;
    progress.finish();
    let mut tables = BTreeMap::new();
    let mut results = Vec::new();
    for (target, outcome) in targets.iter().zip(outcomes) {
        let (before, body, after) = outcome.unwrap_or_else(|| {
            let internal = json!({"errorMessage": "internal error while processing this group"});
            (None, internal, None)
        });
        match body["results"].as_array() {
            Some(list) => results.extend(list.iter().cloned()),
            None => results.push(json!({
                "resourceId": target.id,
                "regionId": target.region,
                "accountId": null,
                "resourceType": SECURITY_GROUP,
                "status": "failed",
                "reason": body["errorMessage"].as_str().unwrap_or("the engine returned no report"),
                "revokedRuleIds": [],
                "revokedRules": [],
                "apiRequestIds": [],
            })),
        }
        tables.insert(
            target.id.clone(),
            GroupRules {
                name: String::new(),
                before: before.unwrap_or_default(),
                after,
            },
        );
    }
    let summary = summary_of(&results);
    let flagged = match mode {
        Mode::DryRun => summary["wouldRemediate"] != 0 || summary["failed"] != 0,
        Mode::Enforce => summary["failed"] != 0,
    };
    let request = request_id();
    let notification = match (&session.notify, mode) {
        (Some(notify), Mode::Enforce) => notify_run(notify, &request, &results, &session).await,
        _ => None,
    };
    let mut report = json!({
        "requestId": request,
        "mode": mode.as_str(),
        "summary": summary,
        "results": results,
    });
    if let Some(n) = notification {
        report["notification"] = n;
    }
    let report = with_source(report, &session);
    Ok(finish(report, &tables, &session, flagged))
}

/// `remediate --notify`: the function's message for the whole run, sent once; `None` when the run
/// has nothing to tell.
async fn notify_run(
    notify: &sg_remediator::notify::NotifyConfig,
    request: &str,
    results: &[Value],
    session: &Session,
) -> Option<Value> {
    use sg_remediator::notify::{message, Notifier, Origin};
    let report = sg_remediator::report::Report::new(
        request.to_string(),
        Mode::Enforce,
        message::results_from_json(results),
    );
    let sent = Notifier::new(notify.clone(), session.scrubber.clone())
        .remediation(&report, &Origin::default(), session.deadline())
        .await?;
    if let Some(note) = &sent.note {
        eprintln!("sg-remediator: notification not delivered: {note}");
    }
    Some(serde_json::to_value(sent).expect("a notification serializes"))
}

/// Whether the group may have changed without the engine reading it again: any failure (a
/// revoke may have been sent whose answer, or whose verify read, was lost). The table then shows
/// the group as it is now rather than guess.
fn may_have_changed(body: &Value) -> bool {
    body["results"]
        .as_array()
        .is_none_or(|results| results.iter().any(|r| r["status"] == "failed"))
}

/// Puts back the `revokedRules` of a report, group by group, through the function's restore (and
/// revokes the rules a narrowing added in their place).
pub(crate) async fn restore(
    session: Session,
    report: &Value,
    only: Option<&str>,
) -> Result<Outcome, Fatal> {
    let requests = restore_requests(report, only)?;
    let remediator = session.remediator();
    let progress = Progress::new(requests.len() as u64, "restoring");
    let mut restores = Vec::new();
    for request in requests {
        restores.push(session.invoke(&remediator, request).await);
        progress.inc();
    }
    progress.finish();
    let failed = restores
        .iter()
        .filter(|r| r["status"] != "restored")
        .count();
    let mut table = String::new();
    for r in &restores {
        let removed: Vec<&str> = r["removedRules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|rule| rule["SecurityGroupRuleId"].as_str())
            .collect();
        table.push_str(&format!(
            "== {}  [{}]\n   {}\n   new rule ids: {}{}\n\n",
            r["resourceId"].as_str().unwrap_or("?"),
            r["status"].as_str().unwrap_or("failed").to_uppercase(),
            r["reason"]
                .as_str()
                .or(r["errorMessage"].as_str())
                .unwrap_or(""),
            r["newRuleIds"]
                .as_array()
                .map(|ids| ids
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            if removed.is_empty() {
                String::new()
            } else {
                format!(
                    "\n   revoked rules the narrowing had added: {}",
                    removed.join(", ")
                )
            },
        ));
    }
    table.push_str(&format!(
        "Restore: {} group(s) restored, {failed} failed\nCredentials: {}\n",
        restores.len() - failed,
        session.credential_source
    ));
    let report = json!({
        "requestId": request_id(),
        "action": "restore",
        "credentialSource": session.credential_source,
        "summary": {"restored": restores.len() - failed, "failed": failed},
        "restores": restores,
    });
    Ok(Outcome {
        report,
        table,
        flagged: failed > 0,
    })
}

/// One restore event per group of the report that has revoked rules (optionally only `only`).
pub(crate) fn restore_requests(report: &Value, only: Option<&str>) -> Result<Vec<Value>, Fatal> {
    let results = report["results"]
        .as_array()
        .ok_or_else(|| Fatal("the report has no results: give a remediate report".into()))?;
    let requests: Vec<Value> = results
        .iter()
        .filter(|r| only.is_none_or(|id| r["resourceId"] == id))
        .filter(|r| r["revokedRules"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|r| {
            let mut request = json!({
                "action": "restore",
                "regionId": r["regionId"],
                "resourceId": r["resourceId"],
                "rules": r["revokedRules"],
            });
            if let Some(account) = r["accountId"].as_str() {
                request["accountId"] = json!(account);
            }
            // The rules a narrowing added in place of the revoked ones: revoked again once the
            // originals are back (only with their seals, only if the group still has them).
            let added: Vec<Value> = r["narrowedRules"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|n| n["added"].as_array().cloned().unwrap_or_default())
                .collect();
            if !added.is_empty() {
                request["removeRules"] = Value::Array(added);
            }
            request
        })
        .collect();
    if requests.is_empty() {
        return Err(Fatal(match only {
            Some(id) => format!("the report has no revoked rules for {id}"),
            None => "the report has no revoked rules: nothing to restore".into(),
        }));
    }
    Ok(requests)
}

/// The `would_remediate` groups of a scan report.
pub(crate) fn targets_from_scan(report: &Value) -> Result<Vec<Target>, Fatal> {
    let results = report["results"]
        .as_array()
        .ok_or_else(|| Fatal("the scan report has no results".into()))?;
    Ok(results
        .iter()
        .filter(|r| r["status"] == "would_remediate")
        .filter_map(|r| {
            Some(Target {
                region: r["regionId"].as_str()?.to_string(),
                id: r["resourceId"].as_str()?.to_string(),
            })
        })
        .collect())
}

pub(crate) fn read_report(path: &Path) -> Result<Value, Fatal> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Fatal(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Fatal(format!("{} is not a JSON report: {e}", path.display())))
}

/// Runs `work` for every item, at most MAX_CONCURRENCY at once, results in input order (`None`
/// where the work panicked).
async fn for_each<I, T, F, Fut>(
    session: &Arc<Session>,
    items: Vec<I>,
    progress: &Progress,
    work: F,
) -> Vec<Option<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(Arc<Session>, I) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(usize::from(
        session.config.max_concurrency.max(1),
    )));
    let mut tasks = JoinSet::new();
    let count = items.len();
    for (slot, item) in items.into_iter().enumerate() {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let fut = work(Arc::clone(session), item);
        tasks.spawn(async move {
            let _permit = permit;
            (slot, fut.await)
        });
    }
    // A task that panicked leaves its slot empty; the caller reports that group as failed.
    let mut out: Vec<Option<T>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((slot, value)) = joined {
            out[slot] = Some(value);
        }
        progress.inc();
    }
    out
}

fn summary_of(results: &[Value]) -> Value {
    let count = |status: Status| {
        let name = serde_json::to_value(status).expect("a status serializes");
        results.iter().filter(|r| r["status"] == name).count()
    };
    json!({
        "remediated": count(Status::Remediated),
        "compliant": count(Status::Compliant),
        "wouldRemediate": count(Status::WouldRemediate),
        "skipped": count(Status::Skipped),
        "failed": count(Status::Failed),
    })
}

/// The report plus where the credentials came from (never the secret).
fn with_source(mut report: Value, session: &Session) -> Value {
    report["credentialSource"] = json!(session.credential_source);
    report
}

fn finish(
    report: Value,
    tables: &BTreeMap<String, GroupRules>,
    session: &Session,
    flagged: bool,
) -> Outcome {
    let mut table = render::report_table(&report, tables, &session.config.risky_ports);
    table.push_str(&render::summary_line(&report));
    table.push('\n');
    table.push_str(&format!(
        "Mode: {}; credentials: {}\n",
        report["mode"].as_str().unwrap_or(""),
        session.credential_source
    ));
    Outcome {
        report,
        table,
        flagged,
    }
}

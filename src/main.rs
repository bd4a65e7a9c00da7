//! `bootstrap`: the executable Function Compute starts (`/code/bootstrap`).
//!
//! TEMPORARY WIRING: the handler below only acknowledges the event; remediation is wired in a
//! later step. It never pretends to have remediated anything.
//!
//! Runtime flavour: a current-thread tokio runtime. An FC instance gets a fraction of a vCPU to a
//! few vCPUs, the work is almost entirely waiting on OpenAPI calls, and concurrency comes from
//! async tasks, not threads. One thread starts fastest (no worker threads to spawn, part of the
//! ≤ 5 ms ready budget) and needs no cross-thread synchronisation. Blocking work (DNS lookups)
//! still goes to tokio's blocking pool.

use serde_json::{json, Value};
use sg_remediator::config::Config;
use sg_remediator::runtime::{self, service_fn, Diagnostic, Event, RuntimeOptions};

fn main() -> std::process::ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(e) = sg_remediator::logging::init(config.log_format, &config.log_filter) {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    for variable in config.endpoints.plain_http() {
        tracing::warn!(variable, "endpoint uses plain http:// as configured");
    }
    let hooks = std::env::var("SG_REMEDIATOR_TEST_HOOKS").as_deref() == Ok("1");
    let options = RuntimeOptions::from_config(&config);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(runtime::run_with(
        options,
        service_fn(move |event| placeholder(event, hooks)),
    ));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Acknowledge the event without acting on it (remediation is not wired yet).
async fn placeholder(event: Event, hooks: bool) -> Result<Value, Diagnostic> {
    let text = std::str::from_utf8(&event.payload)
        .map_err(|e| Diagnostic::new("InvalidEvent", format!("the event is not UTF-8: {e}")))?;
    let parsed: Value = serde_json::from_str(text)
        .map_err(|e| Diagnostic::new("InvalidEvent", format!("the event is not JSON: {e}")))?;
    if hooks {
        if let Some(answer) = test_hook(&event, &parsed).await? {
            return Ok(answer);
        }
    }
    tracing::info!(
        event_bytes = event.payload.len(),
        "event received; remediation is not wired yet"
    );
    Ok(json!({
        "requestId": event.context.request_id,
        "note": "remediation not wired yet",
        "eventBytes": event.payload.len(),
    }))
}

/// TEST-ONLY hooks, active only with `SG_REMEDIATOR_TEST_HOOKS=1`, so integration tests can
/// drive the runtime's failure paths through the real binary. Never enable in production.
async fn test_hook(event: &Event, parsed: &Value) -> Result<Option<Value>, Diagnostic> {
    match parsed.get("__test").and_then(Value::as_str) {
        Some("panic") => panic!("test hook: panic requested"),
        Some("error") => Err(
            Diagnostic::new("TestHookError", "test hook: error requested")
                .with_body(json!({"requestId": event.context.request_id})),
        ),
        Some("sleep") => {
            let ms = parsed.get("ms").and_then(Value::as_u64).unwrap_or(100);
            tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
            tracing::info!(ms, "test hook: slept");
            Ok(Some(json!({"slept": ms})))
        }
        Some("context") => {
            let c = &event.context;
            let creds = c.credentials.as_ref();
            // Lengths and presence only: the secret and token values must never be echoed.
            Ok(Some(json!({
                "requestId": c.request_id,
                "credentials": creds.is_some(),
                "accessKeyId": creds.map(|k| k.access_key_id.clone()),
                "secretLength": creds.map(|k| k.access_key_secret.expose().len()),
                "securityTokenPresent": creds.is_some_and(|k| k.security_token.is_some()),
                "securityTokenLength": creds.and_then(|k| k.security_token.as_ref()).map(|t| t.expose().len()),
                "region": c.region,
                "accountId": c.account_id,
                "functionName": c.function_name,
                "qualifier": c.qualifier,
                "memoryMb": c.memory_mb,
                "timeoutMs": c.timeout.as_millis() as u64,
                "retryCount": c.retry_count,
            })))
        }
        _ => Ok(None),
    }
}

//! `bootstrap`: the executable Function Compute starts (`/code/bootstrap`).
//!
//! Only wiring: configuration → logging → selector → OpenAPI client → remediator → FC runtime.
//! A bad configuration value (including an invalid `RULE_SELECTOR`) exits non-zero at start
//! with a message naming the variable, which FC shows as the instance's start-up output.
//!
//! Runtime flavour: a current-thread tokio runtime. An FC instance gets a fraction of a vCPU to a
//! few vCPUs, the work is almost entirely waiting on OpenAPI calls, and concurrency comes from
//! async tasks, not threads. One thread starts fastest (no worker threads to spawn) and needs no
//! cross-thread synchronisation. Blocking work (DNS lookups) still goes to tokio's blocking pool.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{json, Value};
use sg_remediator::config::Config;
use sg_remediator::openapi::{Client, ClientSettings};
use sg_remediator::remediation::Remediator;
use sg_remediator::runtime::{self, service_fn, Diagnostic, Event, RuntimeOptions};
use sg_remediator::select::Selector;

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = sg_remediator::logging::init(config.log_format, &config.log_filter) {
        return fail(e);
    }
    let selector = match Selector::new(config.risky_ports.clone(), config.rule_selector.as_deref())
    {
        Ok(s) => s,
        Err(e) => return fail(format!("RULE_SELECTOR: {e}")),
    };
    let plain_http = config.endpoints.plain_http();
    for variable in &plain_http {
        tracing::warn!(variable, "endpoint uses plain http:// as configured");
    }
    let client = match Client::new(ClientSettings {
        allow_http: !plain_http.is_empty(),
        ..ClientSettings::default()
    }) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot build the HTTP client: {e}")),
    };
    let hooks = std::env::var("SG_REMEDIATOR_TEST_HOOKS").as_deref() == Ok("1");
    let options = RuntimeOptions::from_config(&config);
    let remediator = Arc::new(Remediator::new(config, selector, client));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let result = rt.block_on(runtime::run_with(
        options,
        service_fn(move |event| handle(Arc::clone(&remediator), event, hooks)),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

async fn handle(
    remediator: Arc<Remediator>,
    event: Event,
    hooks: bool,
) -> Result<Value, Diagnostic> {
    // Hook events are tiny; a large body is never parsed twice (it would cost memory).
    if hooks && event.payload.len() <= 4096 {
        if let Ok(parsed) = serde_json::from_slice::<Value>(&event.payload) {
            if let Some(answer) = test_hook(&event, &parsed).await? {
                return Ok(answer);
            }
        }
    }
    sg_remediator::handler::handle(remediator, event).await
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

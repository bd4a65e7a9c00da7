//! `bootstrap`: the executable Function Compute starts (`/code/bootstrap`).
//!
//! Only wiring: configuration (the product's and the runtime's own) → logging → selector →
//! OpenAPI client → remediator → FC runtime. A bad configuration value (including an invalid
//! `RULE_SELECTOR`, `MAX_EVENT_BYTES` or listen port) exits non-zero at start with a message
//! naming the variable, which FC shows as the instance's start-up output.
//!
//! There are no test hooks: the runtime's failure paths (panics, errors, slow handlers) are
//! tested in crates/fc-runtime with handlers of their own, so every event this binary receives
//! is a remediation event.
//!
//! Runtime flavour: a current-thread tokio runtime. An FC instance gets a fraction of a vCPU to a
//! few vCPUs, the work is almost entirely waiting on OpenAPI calls, and concurrency comes from
//! async tasks, not threads. One thread starts fastest (no worker threads to spawn) and needs no
//! cross-thread synchronisation. Blocking work (DNS lookups) still goes to tokio's blocking pool.

use std::process::ExitCode;
use std::sync::Arc;

use acs_openapi::{Client, ClientSettings};
use fc_runtime::RuntimeOptions;
use sg_remediator::config::Config;
use sg_remediator::handler;
use sg_remediator::remediation::Remediator;
use sg_remediator::select::Selector;

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let options = match RuntimeOptions::from_env() {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    // One scrubber for every output: the log writer reads it, the remediator registers the
    // credentials it holds with it, and the runtime's answers go through it (handler::Function).
    let scrubber = acs_openapi::credentials::Scrubber::new();
    if let Err(e) =
        sg_remediator::logging::init(config.log_format, &config.log_filter, scrubber.clone())
    {
        return fail(e);
    }
    let selector = match Selector::new(config.risky_ports.clone(), config.rule_selector.as_deref())
    {
        Ok(s) => s,
        Err(e) => return fail(format!("RULE_SELECTOR: {e}")),
    };
    // Config's site belongs to the account: say which one this instance reads.
    let config_endpoint = config.endpoints.config();
    tracing::info!(
        config_endpoint = config_endpoint.as_str(),
        config_site = sg_remediator::config::ConfigSite::of_endpoint(config_endpoint)
            .map_or("custom", |s| s.name()),
        "Cloud Config endpoint"
    );
    let plain_http = config.endpoints.plain_http();
    for variable in &plain_http {
        tracing::warn!(variable, "endpoint uses plain http:// as configured");
    }
    if let Some(notify) = config.notify.as_ref().filter(|n| n.url.is_plain_http()) {
        // Only the scheme and host: the rest of the URL is the webhook's token.
        tracing::warn!(
            variable = "NOTIFY_WEBHOOK_URL",
            webhook = notify.url.origin(),
            "webhook uses plain http:// as configured"
        );
    }
    let client = match Client::new(ClientSettings {
        allow_http: !plain_http.is_empty(),
        signature_version: config.signature_version,
        ..ClientSettings::default()
    }) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot build the HTTP client: {e}")),
    };
    let remediator = Arc::new(Remediator::new(config, selector, client, scrubber));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let result = rt.block_on(fc_runtime::run_with(
        options,
        // Every answer is scrubbed of any piece of a live secret or token.
        handler::Function::new(remediator),
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

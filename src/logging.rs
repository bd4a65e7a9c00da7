//! Logging: `tracing` events as JSON lines (default) or text, on stdout.
//!
//! FC ships stdout and stderr to SLS; JSON lines there can be indexed by field. Every event
//! emitted while an invocation runs is inside the runtime's `invoke` span, whose `request_id`
//! field the JSON formatter writes as `"span":{"request_id":…}` and the text formatter as
//! `invoke{request_id=…}:`, so each line can be attributed to its request.
//!
//! Secrets never reach a line because nothing that holds one can print it:
//! [`crate::credentials::Secret`] formats as `***`, and the runtime never logs header values
//! other than the request id.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Check a `RUST_LOG`-style filter without installing it.
pub fn validate_filter(filter: &str) -> Result<(), String> {
    build_filter(filter).map(|_| ())
}

fn build_filter(filter: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .parse(filter)
        .map_err(|e| format!("{filter:?} is not a valid log filter: {e}"))
}

/// Install the global subscriber. Call once, early in `main`; a second call is ignored (returns
/// an error string) rather than panicking.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = build_filter(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .with_target(true);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| format!("logging is already initialised: {e}"))
}

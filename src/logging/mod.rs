//! Logging: `tracing` events as JSON lines (default) or text, on stdout.
//!
//! FC ships stdout and stderr to SLS; JSON lines there can be indexed by field. Every event
//! emitted while an invocation runs is inside the runtime's `invoke` span, whose `request_id`
//! field the JSON formatter writes as `"span":{"request_id":…}` and the text formatter as
//! `invoke{request_id=…}:`, so each line can be attributed to its request.
//!
//! Secrets never reach a line because nothing that holds one can print it:
//! [`crate::credentials::Secret`] formats as `***`, and the runtime never logs header values
//! other than the request id. What the cloud echoes back (a token in a message or request id,
//! altered or cut short) is caught at the last step: every line goes through
//! [`Scrubber::scrub`] on its way to stdout.
//!
//! The scrubber is handed to [`init`] by `main`, which hands the same one to the
//! [`crate::remediation::Remediator`]: the remediator registers the credentials it holds (each
//! invocation's own, the cached assumed roles) and the writer reads them. There is no
//! process-wide registry filled as a side effect of constructing credentials: what is scrubbed
//! is exactly what a holder registered, for as long as it can still be used. (The subscriber
//! itself is global, as `tracing` requires; it owns a clone of the scrubber.)

mod json_line;

use std::str::FromStr;

use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::EnvFilter;

use crate::credentials::Scrubber;

pub use json_line::JsonLine;

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default: SLS indexes the fields).
    Json,
    /// Human-readable lines, for local runs.
    Text,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            other => Err(format!(
                "{other:?} is not a log format; use \"json\" or \"text\""
            )),
        }
    }
}

/// Stdout, with every live secret masked. `tracing-subscriber` formats each event into one
/// buffer and writes it at once, so each write is a whole line.
struct ScrubbedStdout(Scrubber);

impl std::io::Write for ScrubbedStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Lines are UTF-8 (the formatter writes `str`s): checked the fast way, and only a line
        // that is not is read the lossy way (which checks byte by byte).
        let text = match std::str::from_utf8(buf) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(buf),
        };
        std::io::stdout()
            .lock()
            .write_all(self.0.scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// Check a `RUST_LOG`-style filter without installing it.
pub fn validate_filter(filter: &str) -> Result<(), String> {
    build_filter(filter).map(|_| ())
}

fn build_filter(filter: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .parse(filter)
        .map_err(|e| format!("{filter:?} is not a valid log filter: {e}"))
}

/// Install the global subscriber, writing every line through `scrubber`. Call once, early in
/// `main`; a second call is ignored (returns an error string) rather than panicking.
pub fn init(format: LogFormat, filter: &str, scrubber: Scrubber) -> Result<(), String> {
    let filter = build_filter(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || ScrubbedStdout(scrubber.clone()))
        .with_ansi(false)
        .with_target(true);
    let result = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(JsonLine::new())
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| format!("logging is already initialised: {e}"))
}

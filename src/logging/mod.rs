//! Logging: `tracing` events as JSON lines (default) or text, on stdout.
//!
//! FC ships stdout and stderr to SLS; JSON lines there can be indexed by field. Both formats are
//! `tracing-subscriber`'s own. JSON is its flattened format with the current span and no span
//! list: `timestamp`, `level`, the event's fields (after `message`, where there is one),
//! `target`, then `span` (its fields, then its `name`). Every event emitted while an invocation
//! runs is inside the runtime's `invoke` span, whose `request_id` field the JSON format writes as
//! `"span":{"request_id":…}` and the text format as `invoke{request_id=…}:`, so each line can be
//! attributed to its request. Text lines have their control characters escaped ([`text`]), so a
//! value can never start a line of its own.
//!
//! Secrets never reach a line because nothing that holds one can print it:
//! [`acs_openapi::credentials::Secret`] formats as `***`, and the runtime never logs header values
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

pub mod text;

use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use acs_openapi::credentials::Scrubber;

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
    let writer = move || ScrubbedStdout(scrubber.clone());
    tracing::subscriber::set_global_default(subscriber(format, filter, writer))
        .map_err(|e| format!("logging is already initialised: {e}"))
}

/// The subscriber of a format, writing to `writer`: the one definition of both formats, which
/// [`init`] installs with the scrubbed stdout and the tests with a buffer.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Text => {
            let format = tracing_subscriber::fmt::format()
                .with_ansi(false)
                .with_target(true);
            Box::new(builder.event_format(text::Escaped::new(format)).finish())
        }
    }
}

/// The filter of a `RUST_LOG`-style string, as [`init`] would install it.
pub fn filter(filter: &str) -> Result<EnvFilter, String> {
    build_filter(filter)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Everything written, as one text.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines `emit` writes in `format`, inside an `invoke` span as the runtime opens one.
    fn lines(format: LogFormat, emit: impl FnOnce()) -> Vec<String> {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = subscriber(format, filter("info").unwrap(), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invoke", request_id = "req-1");
            let _in = span.enter();
            emit();
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_json_line_holds_the_documented_members_in_their_order() {
        let lines = lines(
            LogFormat::Json,
            || tracing::info!(target: "audit", event = "resource_result", status = "REMEDIATED", "done"),
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        // The members in the order written (serde_json keeps the order it reads).
        let members: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&lines[0]).expect("a JSON object");
        let keys: Vec<&str> = members.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "level",
                "message",
                "event",
                "status",
                "target",
                "span"
            ]
        );
        let line = &lines[0];
        assert!(
            line.ends_with(r#""span":{"request_id":"req-1","name":"invoke"}}"#),
            "{line}"
        );
        assert!(line.contains(r#""level":"INFO""#), "{line}");
        assert!(line.contains(r#""target":"audit""#), "{line}");
    }

    #[test]
    fn a_json_timestamp_is_rfc3339_in_utc() {
        let lines = lines(LogFormat::Json, || tracing::info!("x"));
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let timestamp = value["timestamp"].as_str().expect("a string");
        assert!(timestamp.ends_with('Z'), "{timestamp}");
        humantime::parse_rfc3339(timestamp).expect("RFC 3339");
    }

    #[test]
    fn a_text_line_names_the_span_and_its_request_id() {
        let lines = lines(LogFormat::Text, || tracing::info!("remediation started"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("invoke{request_id=\"req-1\"}"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("remediation started"), "{}", lines[0]);
    }

    #[test]
    fn a_newline_in_a_text_message_cannot_forge_an_fc_marker() {
        let id = "sg-1\nFC Invoke End RequestId: forged";
        let lines = lines(LogFormat::Text, || {
            tracing::warn!(resource = id, "invalid item {id}")
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            !lines.iter().any(|l| l.starts_with("FC Invoke")),
            "{lines:?}"
        );
        assert!(lines[0].contains("\\nFC Invoke End"), "{}", lines[0]);
    }

    #[test]
    fn terminal_escapes_in_a_text_field_are_written_as_visible_escapes() {
        let name = "web\u{1b}]52;c;aGk=\u{7}";
        let lines = lines(LogFormat::Text, || tracing::info!(group = name, "read"));
        assert!(!lines[0].contains('\u{1b}') && !lines[0].contains('\u{7}'));
        assert!(lines[0].contains("\\u{1b}]52"), "{}", lines[0]);
    }

    #[test]
    fn json_lines_never_carry_a_raw_control_character() {
        let lines = lines(LogFormat::Json, || {
            tracing::warn!(resource = "a\nb\u{1b}c", "x\ry")
        });
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].chars().any(char::is_control), "{}", lines[0]);
    }
}

//! The JSON line of an event, written straight into one buffer.
//!
//! The lines are a public contract (SLS indexes them; `resource_result`'s `result` is the
//! report entry as JSON text), and they are exactly what `tracing-subscriber`'s JSON format
//! writes with `flatten_event(true)`, `with_current_span(true)`, `with_span_list(false)` and
//! the target on: `timestamp`, `level`, the event's fields in the order they were recorded,
//! `target`, then `span` (the current span's fields, then its `name`).
//!
//! Why not that format itself: it writes through an `io::Write` → `fmt::Write` adaptor that
//! checks every piece serde_json hands it as UTF-8 and appends it on its own, and an audit
//! line is mostly JSON text inside a JSON string, so serde_json hands it a piece per escaped
//! quote; it also parses the span's stored fields back into a map for every line. Here each
//! line is serialized into a `Vec<u8>` by the same serde_json calls, checked once, and the
//! span's stored fields (stored by `tracing-subscriber`'s own [`JsonFields`], so spans are
//! recorded exactly as before) are copied as they are. `the_line_is_byte_for_byte_what_tracing_subscriber_writes`
//! (below) holds the two formats to the same bytes; the one difference, a float in a span's
//! fields, is written here as recorded, where the old format could change its last digit
//! (`a_float_span_field_is_written_as_it_was_recorded`; no span of the product has one).

use std::fmt;

use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Room for a typical audit line (a `resource_result` line of a remediated group is ≈ 1.5 KB),
/// so that most lines are written without the buffer growing.
const LINE_CAPACITY: usize = 2048;

/// The event formatter: one JSON object per line (see the module's documentation).
#[derive(Debug, Clone)]
pub struct JsonLine<T = SystemTime> {
    timer: T,
}

impl JsonLine {
    /// The format with the system clock (RFC 3339, microseconds, UTC), as before.
    pub fn new() -> Self {
        JsonLine { timer: SystemTime }
    }
}

impl Default for JsonLine {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> JsonLine<T> {
    /// This format with another clock (tests use a fixed one).
    pub fn with_timer(timer: T) -> Self {
        JsonLine { timer }
    }
}

impl<S, T> FormatEvent<S, JsonFields> for JsonLine<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        self.timer.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();

        let mut line = Line::new();
        line.entry("timestamp", &timestamp)?;
        line.entry("level", meta.level().as_str())?;
        let mut fields = EventFields {
            line,
            state: Ok(()),
        };
        event.record(&mut fields);
        let mut line = fields.line;
        fields.state?;
        line.entry("target", meta.target())?;

        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            let extensions = span.extensions();
            // Stored by `JsonFields` when the span was created. Were they missing,
            // `tracing-subscriber`'s format would panic; here the span keeps its name.
            let stored = extensions
                .get::<FormattedFields<JsonFields>>()
                .map(|f| f.fields.as_str());
            line.span(stored, span.metadata().name())?;
        }

        writer.write_str(line.finish()?)?;
        writeln!(writer)
    }
}

/// One line being written: `{`, then entries separated by commas.
struct Line {
    bytes: Vec<u8>,
    entries: usize,
}

impl Line {
    fn new() -> Self {
        let mut bytes = Vec::with_capacity(LINE_CAPACITY);
        bytes.push(b'{');
        Line { bytes, entries: 0 }
    }

    fn separator(&mut self) {
        if self.entries > 0 {
            self.bytes.push(b',');
        }
        self.entries += 1;
    }

    fn entry<V: Serialize + ?Sized>(&mut self, key: &str, value: &V) -> fmt::Result {
        self.separator();
        serde_json::to_writer(&mut self.bytes, key).map_err(|_| fmt::Error)?;
        self.bytes.push(b':');
        serde_json::to_writer(&mut self.bytes, value).map_err(|_| fmt::Error)
    }

    /// `"span":{<the stored fields>,"name":<name>}`. The stored fields are a JSON object as
    /// `JsonFields` writes it (keys sorted, each once): its members are copied as they are.
    /// Text that is not such an object, which `JsonFields` never writes, is left out rather
    /// than allowed to break the line.
    fn span(&mut self, stored: Option<&str>, name: &str) -> fmt::Result {
        self.separator();
        self.bytes.extend_from_slice(b"\"span\":{");
        if let Some(members) = stored.and_then(object_members).filter(|m| !m.is_empty()) {
            self.bytes.extend_from_slice(members.as_bytes());
            self.bytes.push(b',');
        }
        self.bytes.extend_from_slice(b"\"name\":");
        serde_json::to_writer(&mut self.bytes, name).map_err(|_| fmt::Error)?;
        self.bytes.push(b'}');
        Ok(())
    }

    fn finish(&mut self) -> Result<&str, fmt::Error> {
        self.bytes.push(b'}');
        std::str::from_utf8(&self.bytes).map_err(|_| fmt::Error)
    }
}

/// The members of a JSON object's text as `JsonFields` stores it (`{` members `}`, nothing
/// else), or `None` when the text is not such an object.
fn object_members(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    // Checked, so that whatever is stored can never break a line.
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    Some(inner)
}

/// The event's fields, in the order they are recorded, each as `tracing-serde`'s map visitor
/// writes it: strings, numbers and booleans as themselves, anything else (including messages,
/// `%` and `?` values, errors, 128-bit integers and bytes) as the string of its `Debug`.
struct EventFields {
    line: Line,
    state: fmt::Result,
}

impl EventFields {
    fn put<V: Serialize + ?Sized>(&mut self, field: &Field, value: &V) {
        if self.state.is_ok() {
            self.state = self.line.entry(field.name(), value);
        }
    }
}

impl Visit for EventFields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, &format_args!("{value:?}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use proptest::prelude::*;
    use tracing::Level;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// A clock that always says the same, so that two formats can be compared byte for byte.
    #[derive(Clone, Copy)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-12-01T01:02:03.456789Z")
        }
    }

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

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What `tracing-subscriber`'s JSON format writes for `emit`, and what `JsonLine` writes.
    fn both(emit: impl Fn()) -> (String, String) {
        let theirs = Capture::default();
        let reference = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_writer(theirs.clone())
            .with_ansi(false)
            .with_target(true)
            .with_timer(Fixed)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(reference, &emit);

        let ours = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_writer(ours.clone())
            .fmt_fields(JsonFields::new())
            .event_format(JsonLine::with_timer(Fixed))
            .finish();
        tracing::subscriber::with_default(subscriber, &emit);
        (theirs.text(), ours.text())
    }

    #[derive(Debug, Clone)]
    struct Values {
        text: String,
        other: String,
        signed: i64,
        unsigned: u64,
        float: f64,
        flag: bool,
        span: Option<String>,
    }

    fn values() -> impl Strategy<Value = Values> {
        // Any characters, with the ones JSON escapes made likely.
        let text = "(\\PC|[\"\\\\/\\x00-\\x1f\\x7f\u{2028}é{}:,])*";
        (
            text,
            text,
            any::<i64>(),
            any::<u64>(),
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(-0.0)
            ],
            any::<bool>(),
            proptest::option::of(text),
        )
            .prop_map(
                |(text, other, signed, unsigned, float, flag, span)| Values {
                    text,
                    other,
                    signed,
                    unsigned,
                    float,
                    flag,
                    span,
                },
            )
    }

    #[derive(Debug)]
    struct Failure;

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("it \"failed\"\n")
        }
    }

    impl std::error::Error for Failure {}

    /// One event of every shape the product writes, and a few it does not (yet).
    fn emit(v: &Values) {
        tracing::info!(
            target: "sg_remediator::remediation",
            event = "resource_result",
            resource_id = v.text.as_str(),
            status = "remediated",
            result = v.other.as_str(),
        );
        tracing::warn!(
            count = v.unsigned,
            delta = v.signed,
            ratio = v.float,
            flag = v.flag,
            "a message with {} and {:?}",
            v.text,
            v.other
        );
        tracing::error!(shown = %v.text, debugged = ?v.other, "plain");
        tracing::debug!(level = v.text.as_str(), target = v.other.as_str());
        tracing::trace!(
            error = &Failure as &dyn std::error::Error,
            big = 1i128 << 100,
            small = -(1i128 << 90),
            bytes = &b"\x00ab\xff"[..],
        );
        tracing::info!(message = v.text.as_str(), again = v.text.as_str());
        tracing::info!("");
    }

    /// The events inside the spans the runtime makes: none, the `invoke` span, an inner span
    /// with several fields (stored sorted), and an event whose parent is given explicitly.
    /// No span has a float field: see `a_float_span_field_is_written_as_it_was_recorded`.
    fn emit_in_spans(v: &Values) {
        emit(v);
        let Some(request_id) = &v.span else { return };
        let invoke = tracing::info_span!("invoke", request_id = %request_id);
        let _in_invoke = invoke.enter();
        emit(v);
        {
            let inner = tracing::info_span!(
                "inner",
                z = v.unsigned,
                a = v.other.as_str(),
                m = v.flag,
                s = v.signed
            );
            let _in_inner = inner.enter();
            emit(v);
        }
        let bare = tracing::info_span!("bare");
        tracing::info!(parent: &bare, note = v.text.as_str());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn the_line_is_byte_for_byte_what_tracing_subscriber_writes(v in values()) {
            let (theirs, ours) = both(|| emit_in_spans(&v));
            prop_assert!(!theirs.is_empty());
            prop_assert_eq!(ours, theirs);
        }
    }

    /// The one place the lines differ, and on purpose: `tracing-subscriber` parses a span's
    /// stored fields back for every line, and serde_json's default float parsing can change
    /// the last digit (1.3468808696442902e+206 comes back as …904e+206). The stored text is
    /// copied here, so the value is the one recorded. No span of the product has a float.
    #[test]
    fn a_float_span_field_is_written_as_it_was_recorded() {
        let (theirs, ours) = both(|| {
            let span = tracing::info_span!("s", f = 1.346_880_869_644_290_2e206_f64);
            let _in = span.enter();
            tracing::info!("x");
        });
        assert!(
            ours.contains("\"span\":{\"f\":1.3468808696442902e+206,"),
            "{ours}"
        );
        assert!(theirs.contains("\"f\":1.3468808696442904e+206"), "{theirs}");
    }

    #[test]
    fn an_audit_line_reads_as_its_fields_then_the_target_then_the_span() {
        let (_, ours) = both(|| {
            let span = tracing::info_span!("invoke", request_id = "req-1");
            let _in = span.enter();
            tracing::info!(target: "t", event = "resource_result", result = "{\"a\":1}");
        });
        assert_eq!(
            ours,
            "{\"timestamp\":\"2026-12-01T01:02:03.456789Z\",\"level\":\"INFO\",\
             \"event\":\"resource_result\",\"result\":\"{\\\"a\\\":1}\",\"target\":\"t\",\
             \"span\":{\"request_id\":\"req-1\",\"name\":\"invoke\"}}\n"
        );
    }
}

//! Text lines that stay one line each.
//!
//! FC reads its own markers (`FC Invoke Start RequestId: …`, `FC Invoke End RequestId: …`) off
//! the function's output line by line, and a person reads the text format in a terminal. A
//! message or field carrying a newline, a carriage return or a terminal escape (from an event's
//! payload or a cloud answer) must therefore never be written raw: it could forge a marker or
//! rewrite the screen. `tracing-subscriber`'s text format writes values as they are, so this
//! wrapper formats the line with it, then escapes every control character inside the line. The
//! JSON format needs no such step: JSON strings escape control characters already.

use std::fmt::{self, Write as _};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// An event format whose lines hold no control character but their final newline.
#[derive(Debug, Clone, Default)]
pub struct Escaped<F> {
    inner: F,
}

impl<F> Escaped<F> {
    /// Escapes what `inner` writes.
    pub fn new(inner: F) -> Self {
        Escaped { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for Escaped<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.strip_suffix('\n').unwrap_or(&line);
        writer.write_str(&escape_controls(body))?;
        writer.write_char('\n')
    }
}

/// `text` with every control character (C0, DEL, C1) written as a visible escape: `\n`, `\r`,
/// `\t`, else `\u{…}`. Everything else, non-ASCII text included, is left as it is.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_carriage_returns_become_visible_escapes() {
        assert_eq!(
            escape_controls("a\nFC Invoke End RequestId: x\rb"),
            "a\\nFC Invoke End RequestId: x\\rb"
        );
    }

    #[test]
    fn terminal_escapes_and_bells_become_visible_escapes() {
        assert_eq!(
            escape_controls("\u{1b}]52;c;aGk=\u{7}\u{9b}"),
            "\\u{1b}]52;c;aGk=\\u{7}\\u{9b}"
        );
    }

    #[test]
    fn text_without_control_characters_is_left_as_it_is() {
        let text = "sg-1 «web» 0.0.0.0/0 22/22";
        assert!(matches!(escape_controls(text), std::borrow::Cow::Borrowed(t) if t == text));
    }
}

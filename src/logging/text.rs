//! Text lines that stay one line each.
//!
//! FC reads its own markers (`FC Invoke Start RequestId: …`, `FC Invoke End RequestId: …`) off
//! the function's output line by line, and a person reads the text format in a terminal. A
//! message or field carrying a newline, a carriage return or a terminal escape (from an event's
//! payload or a cloud answer) must therefore never be written raw: it could forge a marker or
//! rewrite the screen. `tracing-subscriber`'s text format writes values as they are, so this
//! wrapper formats the line with it, then escapes every control character inside the line
//! ([`crate::escape::control`]). The
//! JSON format needs no such step: JSON strings escape control characters already.

use std::fmt::{self};

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
        writer.write_str(&crate::escape::control(body))?;
        writer.write_char('\n')
    }
}

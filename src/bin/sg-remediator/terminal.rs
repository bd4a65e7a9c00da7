//! What depends on whether a person is watching: the progress bar (stderr, only when stderr is a
//! terminal and there is more than one group) and the confirmation question (only when stdin is
//! a terminal; otherwise `--yes` is required).

use std::io::{BufRead, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr, or nothing.
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(crate) fn new(total: u64, label: &'static str) -> Progress {
        if total < 2 || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} groups") {
            bar.set_style(style);
        }
        bar.set_message(label);
        Progress(Some(bar))
    }

    pub(crate) fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Why a change was not confirmed.
pub(crate) enum Refusal {
    /// stdin is not a terminal and `--yes` was not given.
    NotATerminal,
    /// The person answered something other than yes.
    Declined,
}

/// Asks `question` on stderr and reads the answer from stdin; only `y` or `yes` confirm.
pub(crate) fn confirm(question: &str) -> Result<(), Refusal> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Refusal::NotATerminal);
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return Err(Refusal::Declined);
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Refusal::Declined),
    }
}

//! Text that is safe to print where a line or a terminal would read it.
//!
//! Group names, descriptions, ids and reasons come from the cloud or from an event: whoever can
//! create a security group or invoke the function chooses them. Printed raw, a newline could forge
//! a line (a `[COMPLIANT]` row of the table, FC's own `FC Invoke End` marker in a text log) and an
//! escape sequence could drive the terminal (hidden text, an OSC 52 clipboard write). The table,
//! the command line's messages and text-mode logs all go through [`control`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` with every control character (C0 such as ESC, BEL, CR and LF; DEL; C1) written as a
/// visible escape: `\n`, `\r`, `\t`, `\x1b`, `\u{9b}`. Text without one is returned as is.
pub fn control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_as_visible_escapes() {
        assert_eq!(
            control("a\x1b]52;c;aGk=\x07b\r\n\x7f\u{9b}\tc"),
            "a\\x1b]52;c;aGk=\\x07b\\r\\n\\x7f\\u{9b}\\tc"
        );
    }

    #[test]
    fn a_newline_cannot_start_a_forged_fc_marker() {
        assert_eq!(
            control("a\nFC Invoke End RequestId: x"),
            "a\\nFC Invoke End RequestId: x"
        );
    }

    #[test]
    fn text_without_control_characters_is_borrowed_as_it_is() {
        let text = "sg-1 «web» 0.0.0.0/0 22/22";
        assert!(matches!(control(text), Cow::Borrowed(t) if t == text));
    }
}

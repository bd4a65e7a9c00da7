//! Keeps the credentials' secrets out of what a call reports.
//!
//! The gateway echoes its string-to-sign (which contains the `SecurityToken`, encoded twice) in
//! `SignatureDoesNotMatch` messages, and an HTTP stack's errors may name the request URL (which
//! contains the token, encoded once), so every text an [`crate::ApiError`] is built from goes through
//! a [`Redactor`] first.

use std::sync::Mutex;

use crate::credentials::{Credentials, Scrubber, Secret};

/// Masks the credentials' secrets in every form a server or library might echo, with the same
/// algorithm as the process's [`Scrubber`] (raw, percent-encoded once or twice in either hex
/// case, form-decoded, JSON-escaped, cut short to [`crate::credentials::LEAK_WINDOW`]
/// characters), and caps the text at 1 KiB (marked `…[cut, N bytes]`).
///
/// Free to make (it only borrows the credentials). The scrubber behind it is kept for the
/// credentials redacted last: every answer's request id is redacted, and the calls of an
/// invocation are signed with the same credentials, so their secrets are registered once rather
/// than once per call; other credentials replace it, so what is kept stays one key's worth.
#[derive(Debug, Clone, Copy, Default)]
pub struct Redactor<'a> {
    credentials: Option<&'a Credentials>,
}

impl<'a> Redactor<'a> {
    /// A redactor that masks this key's secret and token.
    pub fn new(credentials: &'a Credentials) -> Self {
        Redactor {
            credentials: Some(credentials),
        }
    }

    /// `text` with every form of the secret and token replaced by `***`, then capped (a cloud's
    /// message can be any length). Used on error text before it becomes an
    /// [`crate::ApiError`].
    pub fn redact(&self, text: &str) -> String {
        let scrubbed = match self.credentials {
            Some(credentials) => last_redaction(credentials, |s| s.scrub(text).into_owned()),
            None => text.to_string(),
        };
        crate::error::cap_message(scrubbed)
    }
}

/// A scrubber of one key's secrets, and those secrets.
struct Redaction {
    secrets: Vec<Secret>,
    scrubber: Scrubber,
}

/// Runs `f` with a scrubber of `credentials`' secrets alone: the one kept from the last call if
/// it was built for the same secrets, else a new one, which is then kept.
fn last_redaction<R>(credentials: &Credentials, f: impl FnOnce(&Scrubber) -> R) -> R {
    static LAST: Mutex<Option<Redaction>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let same = last.as_ref().is_some_and(|r| {
        r.secrets
            .iter()
            .map(Secret::expose)
            .eq(credentials.secrets())
    });
    if !same {
        let scrubber = Scrubber::new();
        scrubber.register(credentials, None);
        *last = Some(Redaction {
            secrets: credentials.secrets().map(Secret::new).collect(),
            scrubber,
        });
    }
    let redaction = last.as_ref().expect("set above");
    f(&redaction.scrubber)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::percent_encode;

    /// `%2B` → `%2b`: some servers print escapes in lower case.
    fn lower_hex_escapes(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                for _ in 0..2 {
                    if let Some(h) = chars.next() {
                        out.push(h.to_ascii_lowercase());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn a_secret_and_a_token_are_redacted_raw_and_encoded_once_or_twice_in_either_case() {
        let token = "CAIS+gF1q6/d6/4W9Sh7==";
        let creds = Credentials::new("STS.id", "sek/ret+=0123456789", Some(token.into()));
        let once = percent_encode(token);
        let twice = percent_encode(&once);
        let text = format!(
            "raw {token} once {once} twice {twice} lower {} secret sek/ret+=0123456789 id STS.id",
            lower_hex_escapes(&twice)
        );
        let out = Redactor::new(&creds).redact(&text);
        assert_eq!(
            out,
            "raw *** once *** twice *** lower *** secret *** id STS.id"
        );
    }

    #[test]
    fn each_key_is_redacted_with_its_own_secrets_whichever_was_redacted_before() {
        let a = Credentials::new("STS.a", "first-secret-0123456789", None);
        let b = Credentials::new("STS.b", "other-secret-9876543210", None);
        let text = "a first-secret-0123456789 b other-secret-9876543210";
        for _ in 0..2 {
            assert_eq!(
                Redactor::new(&a).redact(text),
                "a *** b other-secret-9876543210"
            );
            assert_eq!(
                Redactor::new(&b).redact(text),
                "a first-secret-0123456789 b ***"
            );
        }
    }

    #[test]
    fn without_credentials_nothing_is_changed() {
        assert_eq!(Redactor::default().redact("a+b%2B"), "a+b%2B");
    }
}

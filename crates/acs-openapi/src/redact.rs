//! Keeps the credentials' secrets out of what a call reports.
//!
//! The gateway echoes its string-to-sign (which contains the `SecurityToken`, encoded twice) in
//! `SignatureDoesNotMatch` messages, and an HTTP stack's errors may name the request URL (which
//! contains the token, encoded once), so every text an [`crate::ApiError`] is built from goes through
//! a [`Redactor`] first.

use crate::credentials::Credentials;
use crate::signing::percent_encode;

/// Replaces every form of the credentials' secrets that a server or library might echo:
/// the raw value, percent-encoded once and twice (upper- and lower-case hex).
///
/// Free to make (it only borrows the credentials): the forms are computed when a text is
/// redacted, which happens only on an error path, not once per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Redactor<'a> {
    credentials: Option<&'a Credentials>,
}

const REDACTED: &str = "***";

impl<'a> Redactor<'a> {
    /// A redactor that masks this key's secret and token, in the forms a service may echo them
    /// (raw, percent-encoded once or twice).
    pub fn new(credentials: &'a Credentials) -> Self {
        Redactor {
            credentials: Some(credentials),
        }
    }

    /// Every form to replace, longest first, so a twice-encoded form is not half-replaced by a
    /// shorter one.
    fn forms(&self) -> Vec<String> {
        let Some(credentials) = self.credentials else {
            return Vec::new();
        };
        let mut forms = Vec::new();
        let secrets = [
            Some(credentials.access_key_secret.expose()),
            credentials.security_token.as_ref().map(|t| t.expose()),
        ];
        for secret in secrets.into_iter().flatten().filter(|s| !s.is_empty()) {
            let once = percent_encode(secret);
            let twice = percent_encode(&once);
            for form in [secret.to_string(), once, twice] {
                let lower = lower_hex_escapes(&form);
                forms.push(form);
                forms.push(lower);
            }
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        forms
    }

    /// `text` with every form of the secret and token replaced by `***`. Used on error text before
    /// it becomes an [`crate::ApiError`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in &self.forms() {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), REDACTED);
            }
        }
        out
    }
}

/// `%2B` → `%2b`: some servers print escapes in lower case.
pub(crate) fn lower_hex_escapes(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_and_a_token_are_redacted_raw_and_encoded_once_or_twice_in_either_case() {
        let token = "CAIS+gF1q6/d6/4W9Sh7==";
        let creds = Credentials::new("STS.id", "sek/ret+=", Some(token.into()));
        let once = percent_encode(token);
        let twice = percent_encode(&once);
        let text = format!(
            "raw {token} once {once} twice {twice} lower {} secret sek/ret+= id STS.id",
            lower_hex_escapes(&twice)
        );
        let out = Redactor::new(&creds).redact(&text);
        assert_eq!(
            out,
            "raw *** once *** twice *** lower *** secret *** id STS.id"
        );
    }

    #[test]
    fn without_credentials_nothing_is_changed() {
        assert_eq!(Redactor::default().redact("a+b%2B"), "a+b%2B");
    }
}

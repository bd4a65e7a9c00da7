//! Credentials for signing OpenAPI calls.
//!
//! FC hands every invocation fresh STS credentials in its request headers; AssumeRole hands out
//! more. The secret halves must never reach a log line or a response, so they live in [`Secret`],
//! whose `Debug` and `Display` print a placeholder and which has no `Serialize`.
//!
//! That guards what this code prints, not what the cloud sends back: an error message or a
//! request id may echo a token, URL-decoded, with `+` turned into a space, or cut short. So every
//! secret and token is also remembered (see [`remember`]) and every line the process writes and
//! every response it sends goes through [`scrub`], which masks any run of [`LEAK_WINDOW`] or more
//! characters taken from a remembered secret in any of those forms.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, OnceLock};

/// A string that must not be printed: an AccessKeySecret or a SecurityToken.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value and remembers it, so that [`scrub`] masks it in any output.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        remember(&value);
        Secret(value)
    }

    /// The raw value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was given (e.g. FC sent an empty header): such credentials cannot sign a
    /// call.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An access key (usually STS: `STS.…` plus a security token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The AccessKeyId: public, goes into every request and may be logged.
    pub access_key_id: String,
    /// The AccessKeySecret: signs requests and is never sent, logged or returned.
    pub access_key_secret: Secret,
    /// Present for STS credentials; sent as `SecurityToken`.
    pub security_token: Option<Secret>,
}

impl Credentials {
    /// Credentials from their three parts; the secret and the token are remembered so that
    /// [`scrub`] masks them in any output.
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
        security_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: Secret::new(access_key_secret),
            security_token: security_token.filter(|t| !t.is_empty()).map(Secret::new),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &self.access_key_secret)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// The shortest piece of a secret that counts as a leak: no run of this many characters of a
/// secret or token may appear in any output.
pub const LEAK_WINDOW: usize = 12;

/// How many distinct secrets are remembered; the oldest is forgotten first. FC hands a warm
/// instance the same role credentials until they rotate, and each member account adds one role,
/// so this covers many hours of invocations while bounding memory (a token of 1 KB costs about
/// 40 KB of window hashes).
const REMEMBERED: usize = 64;

#[derive(Default)]
struct Memory {
    /// Window hash → how many remembered secrets contain it.
    windows: HashMap<u64, u32>,
    /// Remembered secrets, oldest first: a hash of the value and its windows.
    order: VecDeque<(u64, Vec<u64>)>,
}

fn memory() -> &'static Mutex<Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY.get_or_init(|| Mutex::new(Memory::default()))
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The forms in which a secret may come back: as is, with `+` read as a space (form decoding),
/// percent-encoded once (a signed query) or twice (a string-to-sign), with either hex case.
fn forms(secret: &str) -> Vec<String> {
    let once = crate::signing::percent_encode(secret);
    let twice = crate::signing::percent_encode(&once);
    let lower_hex = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let esc = rest.get(at..at + 3).unwrap_or(&rest[at..]);
            out.push_str(&esc.to_ascii_lowercase());
            rest = &rest[at + esc.len()..];
        }
        out.push_str(rest);
        out
    };
    vec![
        secret.to_string(),
        secret.replace('+', " "),
        lower_hex(&once),
        lower_hex(&twice),
        once,
        twice,
    ]
}

/// Remembers a secret (an AccessKeySecret or SecurityToken) so that [`scrub`] masks it.
/// [`Secret::new`] calls this; values shorter than [`LEAK_WINDOW`] cannot be told from ordinary
/// text and are not remembered.
pub fn remember(secret: &str) {
    if secret.len() < LEAK_WINDOW {
        return;
    }
    let id = hash(secret.as_bytes());
    let mut m = memory().lock().unwrap_or_else(|p| p.into_inner());
    if m.order.iter().any(|(known, _)| *known == id) {
        return;
    }
    let mut windows: Vec<u64> = forms(secret)
        .iter()
        .flat_map(|f| {
            f.as_bytes()
                .windows(LEAK_WINDOW)
                // Only ASCII windows without JSON-escaped characters: a mask then never splits a
                // character or an escape sequence.
                .filter(|w| w.iter().all(|b| b.is_ascii() && !matches!(b, b'"' | b'\\')))
                .map(hash)
                .collect::<Vec<_>>()
        })
        .collect();
    windows.sort_unstable();
    windows.dedup();
    for w in &windows {
        *m.windows.entry(*w).or_insert(0) += 1;
    }
    m.order.push_back((id, windows));
    while m.order.len() > REMEMBERED {
        if let Some((_, old)) = m.order.pop_front() {
            for w in old {
                if let Some(n) = m.windows.get_mut(&w) {
                    *n -= 1;
                    if *n == 0 {
                        m.windows.remove(&w);
                    }
                }
            }
        }
    }
}

/// `text` with every run of [`LEAK_WINDOW`] or more characters of a remembered secret (in any
/// of the forms the cloud may echo) replaced by `***`. Borrowed unchanged when nothing matches.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if bytes.len() < LEAK_WINDOW {
        return Cow::Borrowed(text);
    }
    let m = memory().lock().unwrap_or_else(|p| p.into_inner());
    if m.windows.is_empty() {
        return Cow::Borrowed(text);
    }
    // Byte ranges to mask, merged as they are found.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (at, w) in bytes.windows(LEAK_WINDOW).enumerate() {
        if !w.iter().all(u8::is_ascii) || !m.windows.contains_key(&hash(w)) {
            continue;
        }
        let end = at + LEAK_WINDOW;
        match spans.last_mut() {
            Some((_, e)) if *e >= at => *e = end,
            _ => spans.push((at, end)),
        }
    }
    drop(m);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (start, end) in spans {
        // A span right after an unpaired backslash would leave a broken JSON escape: take the
        // backslash with it.
        let run = bytes[..start]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        let start = if run % 2 == 1 { start - 1 } else { start };
        let start = start.max(from);
        out.push_str(&text[from..start]);
        out.push_str("***");
        from = end;
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret_or_the_token() {
        let c = Credentials::new(
            "STS.id",
            "very-secret-value",
            Some("token-value-xyz".into()),
        );
        let printed = format!("{c:?} {} {:?}", c.access_key_secret, c.security_token);
        assert!(printed.contains("STS.id"));
        assert!(!printed.contains("very-secret-value"));
        assert!(!printed.contains("token-value-xyz"));
    }

    #[test]
    fn scrub_masks_a_secret_echoed_raw_decoded_plus_as_space_or_cut_short() {
        let token = "CAIS+scrubTest/Token+Value==0123456789abcdefXYZ";
        let _ = Secret::new(token);
        let once = crate::signing::percent_encode(token);
        for echoed in [
            token.to_string(),
            token.replace('+', " "),
            once.clone(),
            token[5..20].to_string(),
            token.replace('+', " ")[3..17].to_string(),
        ] {
            let text = format!("{{\"RequestId\":\"x-{echoed}-y\"}}");
            let out = scrub(&text);
            assert!(out.contains("***"), "{echoed:?} not masked: {out}");
            assert!(
                !out.contains(&echoed[..LEAK_WINDOW]),
                "{echoed:?} leaked: {out}"
            );
            serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
        }
        assert_eq!(
            scrub("nothing secret here at all"),
            "nothing secret here at all"
        );
    }

    #[test]
    fn an_empty_security_token_counts_as_none() {
        let c = Credentials::new("id", "secret", Some(String::new()));
        assert!(c.security_token.is_none());
    }
}

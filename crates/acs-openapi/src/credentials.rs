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
/// so this covers many hours of invocations while bounding memory (each distinct window of a
/// secret's forms costs 16 B exactly plus at most 16 B of filter, the filter 512 KB at most).
const REMEMBERED: usize = 64;

/// Filter bits per remembered window: a window that is no secret's finds its bit set in at most
/// 1 of 64 cases, so the exact look-up runs for few windows besides real leaks.
const FILTER_BITS_PER_WINDOW: usize = 64;
/// Filter size bounds, in bits (512 B … 512 KB).
const FILTER_MIN_BITS: usize = 1 << 12;
const FILTER_MAX_BITS: usize = 1 << 22;

/// Base of the polynomial rolling hash over a window: odd, so every byte counts.
const BASE: u64 = 0x0000_0100_0000_01b3;
/// `BASE` to the power [`LEAK_WINDOW`]: what the byte leaving a window contributed, times `BASE`.
const BASE_POW: u64 = {
    let mut p = 1u64;
    let mut i = 0;
    while i < LEAK_WINDOW {
        p = p.wrapping_mul(BASE);
        i += 1;
    }
    p
};

type Window = [u8; LEAK_WINDOW];

/// The rolling hash of one window: `Σ w[i] · BASE^(LEAK_WINDOW-1-i)`, wrapping.
fn window_hash(w: &[u8]) -> u64 {
    w.iter().fold(0u64, |h, b| {
        h.wrapping_mul(BASE).wrapping_add(u64::from(*b))
    })
}

/// The remembered windows: exact, plus a bit filter over their rolling hashes so that
/// [`Windows::scrub`] costs a multiply-add and a bit test per byte of text, and an exact
/// look-up only where the bit is set.
struct Windows {
    /// Window → how many remembered secrets contain it.
    counts: HashMap<Window, u32>,
    /// Remembered secrets, oldest first: a hash of the value and its windows.
    order: VecDeque<(u64, Vec<Window>)>,
    /// One bit per slot; a window's slot is the top `filter_log2` bits of its mixed hash.
    filter: Vec<u64>,
    filter_log2: u32,
    /// Every byte that occurs in some remembered window. A window of text holding any other
    /// byte cannot be remembered, so [`Windows::scrub`] hashes only runs of these bytes at least
    /// a window long: most of a JSON log line (quotes, colons, commas, dashes, short words) is
    /// skipped a window at a time (issue 17).
    alphabet: [bool; 256],
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            counts: HashMap::new(),
            order: VecDeque::new(),
            filter: Vec::new(),
            filter_log2: 0,
            alphabet: [false; 256],
        }
    }
}

impl Windows {
    fn slot(&self, h: u64) -> usize {
        // Fibonacci hashing: the top bits of the product depend on every bit of `h`.
        (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.filter_log2)) as usize
    }

    fn remember(&mut self, secret: &str) {
        if secret.len() < LEAK_WINDOW {
            return;
        }
        let id = hash(secret.as_bytes());
        if self.order.iter().any(|(known, _)| *known == id) {
            return;
        }
        let mut windows: Vec<Window> = forms(secret)
            .iter()
            .flat_map(|f| {
                f.as_bytes()
                    .windows(LEAK_WINDOW)
                    // Only ASCII windows without JSON-escaped characters: a mask then never
                    // splits a character or an escape sequence.
                    .filter(|w| w.iter().all(|b| b.is_ascii() && !matches!(b, b'"' | b'\\')))
                    .map(|w| Window::try_from(w).expect("a window is LEAK_WINDOW bytes"))
                    .collect::<Vec<_>>()
            })
            .collect();
        windows.sort_unstable();
        windows.dedup();
        for w in &windows {
            *self.counts.entry(*w).or_insert(0) += 1;
        }
        self.order.push_back((id, windows));
        while self.order.len() > REMEMBERED {
            if let Some((_, old)) = self.order.pop_front() {
                for w in old {
                    if let Some(n) = self.counts.get_mut(&w) {
                        *n -= 1;
                        if *n == 0 {
                            self.counts.remove(&w);
                        }
                    }
                }
            }
        }
        self.rebuild_filter();
    }

    fn rebuild_filter(&mut self) {
        let bits = (self.counts.len() * FILTER_BITS_PER_WINDOW)
            .next_power_of_two()
            .clamp(FILTER_MIN_BITS, FILTER_MAX_BITS);
        self.filter_log2 = bits.trailing_zeros();
        self.filter = vec![0; bits / 64];
        let slots: Vec<usize> = self
            .counts
            .keys()
            .map(|w| self.slot(window_hash(w)))
            .collect();
        for s in slots {
            self.filter[s / 64] |= 1 << (s % 64);
        }
        self.alphabet = [false; 256];
        for w in self.counts.keys() {
            for b in w {
                self.alphabet[usize::from(*b)] = true;
            }
        }
    }

    fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        if bytes.len() < LEAK_WINDOW || self.counts.is_empty() {
            return Cow::Borrowed(text);
        }
        // Byte ranges to mask, merged as they are found (runs and windows come in text order).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let in_alphabet = |at: usize| self.alphabet[usize::from(bytes[at])];
        // The runs of alphabet bytes at least a window long, found by testing a window's last
        // byte first: when it is not in the alphabet, no window holding it can be remembered,
        // and the search goes on a whole window further (most bytes of a log line are never
        // looked at). `start` always follows a byte outside the alphabet (or is 0), so a
        // window found whole is the start of its run.
        let mut start = 0;
        while start + LEAK_WINDOW <= bytes.len() {
            let last = start + LEAK_WINDOW - 1;
            if !in_alphabet(last) {
                start = last + 1;
                continue;
            }
            if let Some(outside) = (start..last).rev().find(|&at| !in_alphabet(at)) {
                start = outside + 1;
                continue;
            }
            let run_end = (last + 1..bytes.len())
                .find(|&at| !in_alphabet(at))
                .unwrap_or(bytes.len());
            self.scan_run(bytes, start, run_end, &mut spans);
            start = run_end + 1;
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for (start, end) in spans {
            // A span right after an unpaired backslash would leave a broken JSON escape: take
            // the backslash with it.
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
}

impl Windows {
    /// Adds to `spans` the remembered windows of `bytes[start..end]`, a run of alphabet bytes at
    /// least a window long: a rolling hash per byte, tested against the filter, and an exact
    /// look-up where its bit is set.
    fn scan_run(&self, bytes: &[u8], start: usize, end: usize, spans: &mut Vec<(usize, usize)>) {
        let mut h = window_hash(&bytes[start..start + LEAK_WINDOW - 1]);
        for at in start..=end - LEAK_WINDOW {
            let last = at + LEAK_WINDOW;
            // Roll in the window's last byte; the byte before the window rolls out.
            h = h
                .wrapping_mul(BASE)
                .wrapping_add(u64::from(bytes[last - 1]));
            if at > start {
                h = h.wrapping_sub(u64::from(bytes[at - 1]).wrapping_mul(BASE_POW));
            }
            let s = self.slot(h);
            if self.filter[s / 64] & (1 << (s % 64)) == 0 {
                continue;
            }
            let w = &bytes[at..last];
            if !w.iter().all(u8::is_ascii)
                || !self
                    .counts
                    .contains_key(&Window::try_from(w).expect("a window is LEAK_WINDOW bytes"))
            {
                continue;
            }
            match spans.last_mut() {
                Some((_, e)) if *e >= at => *e = last,
                _ => spans.push((at, last)),
            }
        }
    }
}

fn memory() -> &'static Mutex<Windows> {
    static MEMORY: OnceLock<Mutex<Windows>> = OnceLock::new();
    MEMORY.get_or_init(|| Mutex::new(Windows::default()))
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
    memory()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remember(secret);
}

/// `text` with every run of [`LEAK_WINDOW`] or more characters of a remembered secret (in any
/// of the forms the cloud may echo) replaced by `***`. Borrowed unchanged when nothing matches.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if text.len() < LEAK_WINDOW {
        return Cow::Borrowed(text);
    }
    memory()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .scrub(text)
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

    /// The scrubber as it was before issue 17 (a SipHash of every window of the text, probed in
    /// a set of the SipHashes of the secrets' windows): the oracle for the rolling-hash one.
    fn sip_scrub(secrets: &[String], text: &str) -> String {
        let mut known = std::collections::HashSet::new();
        for secret in secrets.iter().filter(|s| s.len() >= LEAK_WINDOW) {
            for f in forms(secret) {
                for w in f.as_bytes().windows(LEAK_WINDOW) {
                    if w.iter().all(|b| b.is_ascii() && !matches!(b, b'"' | b'\\')) {
                        known.insert(hash(w));
                    }
                }
            }
        }
        let bytes = text.as_bytes();
        if bytes.len() < LEAK_WINDOW {
            return text.to_string();
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for (at, w) in bytes.windows(LEAK_WINDOW).enumerate() {
            if !w.iter().all(u8::is_ascii) || !known.contains(&hash(w)) {
                continue;
            }
            let end = at + LEAK_WINDOW;
            match spans.last_mut() {
                Some((_, e)) if *e >= at => *e = end,
                _ => spans.push((at, end)),
            }
        }
        let mut out = String::new();
        let mut from = 0;
        for (start, end) in spans {
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
        out
    }

    // Secrets and the text around them are drawn from base64, the characters percent- and
    // form-encoding touch, JSON's escapes, and a non-ASCII one.
    const SECRET: &str = "[A-Za-z0-9+/=% \"\\\\é:,{}]{8,60}";
    const FILLER: &str = "[A-Za-z0-9+/=% \"\\\\é:,{}]{0,16}";

    proptest::proptest! {
        #[test]
        fn the_rolling_scrubber_masks_exactly_what_the_siphash_one_did(
            secrets in proptest::collection::vec(SECRET, 1..4),
            pieces in proptest::collection::vec(
                (FILLER, 0usize..4, 0usize..6, 0usize..80, 0usize..80),
                0..8,
            ),
            tail in FILLER,
        ) {
            let mut windows = Windows::default();
            for s in &secrets {
                windows.remember(s);
            }
            // Filler, then a piece of one form of one secret (often LEAK_WINDOW or longer).
            let mut text = String::new();
            for (filler, which, form, from, len) in &pieces {
                text.push_str(filler);
                let forms = forms(&secrets[which % secrets.len()]);
                let piece: String = forms[*form].chars().skip(*from % 40).take(*len).collect();
                text.push_str(&piece);
            }
            text.push_str(&tail);
            proptest::prop_assert_eq!(windows.scrub(&text).into_owned(), sip_scrub(&secrets, &text));
        }
    }

    #[test]
    fn the_oldest_secret_is_forgotten_after_remembered_many_more() {
        let mut windows = Windows::default();
        // Random-looking and unrelated: no two share a window.
        let secret = |i: u64| {
            let h = |salt: u64| hash(&(i ^ salt).to_le_bytes());
            format!("{:016x}{:016x}", h(0), h(1 << 40))
        };
        let remembered = REMEMBERED as u64;
        for i in 0..=remembered {
            windows.remember(&secret(i));
        }
        let text = |i: u64| format!("echo {} end", secret(i));
        assert_eq!(windows.scrub(&text(0)), text(0), "the oldest is forgotten");
        for i in 1..=remembered {
            assert_eq!(windows.scrub(&text(i)), "echo *** end", "secret {i}");
        }
    }
}

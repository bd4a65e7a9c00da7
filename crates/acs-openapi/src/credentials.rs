//! Credentials for signing OpenAPI calls, and the [`Scrubber`] that keeps their secrets out of
//! every output.
//!
//! FC hands every invocation fresh STS credentials in its request headers; AssumeRole hands out
//! more. The secret halves must never reach a log line or a response, so they live in [`Secret`],
//! whose `Debug` and `Display` print a placeholder and which has no `Serialize`.
//!
//! That guards what this code prints, not what the cloud sends back: an error message or a
//! request id may echo a token percent-encoded once or twice (either hex case), form-decoded
//! (`+` read as a space), JSON-escaped (`\u002b`, `\/`), or cut short. So whoever holds live
//! credentials registers them with a [`Scrubber`] and every output goes through
//! [`Scrubber::scrub`].
//!
//! # The algorithm
//!
//! 1. **Normalise.** The output is decoded one unit at a time into a canonical byte string:
//!    `%25HH` and `%HH` (any hex case) become byte `HH` (when `HH` is a byte encoders escape), a
//!    JSON escape (`\uXXXX`, `\/`, `\"`, …) becomes its character, and a space becomes `+`.
//!    A backslash before a backslash is read as itself, so whatever precedes an escape, the
//!    escape is decoded. The text is also read a second time with nothing decoded (spaces
//!    still `+`), so a raw echo is found whatever stands before it. That second reading is
//!    skipped when the only escape in the text is `\"` (a JSON text inside a JSON string) and
//!    no live secret holds `"` or `\`: a run of a secret then holds neither character, so it
//!    stands in both readings alike and the first finds it. Only for a text where a run
//!    is found (step 2) is the reading done again to learn which unit of the original each
//!    canonical byte came from. A secret is stored once, normalised the same way, so
//!    every echoed form of a secret becomes the secret itself (for secrets made of the
//!    characters STS and RAM issue: letters, digits, `+/=` and `-_.~`).
//! 2. **Match.** Every maximal run of 12 ([`LEAK_WINDOW`]) or more canonical bytes equal to a
//!    run of a registered secret is masked: the original units it came from become `***`.
//!    Runs are found through an index of the secret's 8-byte grams at every 5th offset: any
//!    12 consecutive bytes of a secret contain one of those grams whole (12 − 8 + 1 = 5
//!    offsets, one of them a multiple of 5), so a gram hit, extended left and right byte by
//!    byte against the secret, finds every such run. The index is ~1/5 of a byte per secret
//!    byte in postings of 8 bytes, which is what bounds the memory (a unit test measures the
//!    registry's heap).
//!
//! Because masks cover whole units of the original, a mask never splits a JSON escape or a
//! UTF-8 character: a JSON text stays JSON.
//!
//! One reading is ambiguous and read the decoding way: a stray `%` right before an encoded
//! echo whose first two characters are hex digits of a reserved byte (`%` + `2Bab…`) takes
//! those two as an escape, so such an echo needs 12 characters after them to be found.
//!
//! # Who registers, and for how long
//!
//! A [`Scrubber`] is a value, created by the program at start-up and handed to whoever writes
//! output (the log writer, the answer writer, the command line's printer) and to whoever holds
//! credentials. Constructing [`Credentials`] registers nothing: registration is an explicit
//! call, [`Scrubber::register`], with the time until which the credentials may still be used.
//! Registering the same secret again extends that time (a cache hit refreshes it). A secret is
//! forgotten only once that time has passed, when it can no longer sign a call and no output
//! can still carry an answer to one. The number of live secrets is bounded by
//! [`MAX_LIVE_SECRETS`]; past it (which the holders' own bounds keep from happening) the secret
//! whose time ends first is forgotten first.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A string that must not be printed: an AccessKeySecret or a SecurityToken.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value. Registers nothing: see [`Scrubber::register`].
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
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
    /// Credentials from their three parts. An empty token counts as none.
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

    /// The secret halves: the AccessKeySecret and the SecurityToken, if any.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.access_key_secret.expose())
            .chain(self.security_token.as_ref().map(Secret::expose))
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
/// secret or token may appear in any output, raw or in any echoed form.
pub const LEAK_WINDOW: usize = 12;

/// The indexed grams' length: 8 bytes, compared as one `u64`.
const GRAM: usize = 8;
/// Grams are indexed at every `STRIDE`th offset of a secret: any [`LEAK_WINDOW`] consecutive
/// bytes hold `LEAK_WINDOW - GRAM + 1` gram starts, so one of them is indexed.
const STRIDE: usize = LEAK_WINDOW - GRAM + 1;

/// The most secrets a scrubber holds at once: two (secret and token) for each of the 1,024
/// assumed-role credentials a cache may hold, and for 64 sets of the function's own (one per
/// concurrent invocation at most, and FC hands a warm instance the same set until it rotates).
pub const MAX_LIVE_SECRETS: usize = 2 * (1024 + 64);

/// The longest piece of a secret one slot indexes (offsets are `u16`); a longer secret is
/// stored as pieces overlapping by `LEAK_WINDOW - 1` bytes, so every run of [`LEAK_WINDOW`]
/// bytes still lies whole in one piece.
const MAX_PIECE: usize = u16::MAX as usize;

const MASK: &str = "***";

/// The registry of live secrets, shared by whoever writes output and whoever holds
/// credentials. Cheap to clone: clones share one registry.
#[derive(Clone, Default)]
pub struct Scrubber {
    inner: Arc<Mutex<Registry>>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("live_secrets", &self.live_secrets())
            .finish()
    }
}

impl Scrubber {
    /// An empty registry: scrubs nothing until credentials are registered.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the credentials' secret and token masked until `until` (`None`: as long as this
    /// scrubber lives, for a short-lived command). Registering again extends the time, never
    /// shortens it. Secrets whose time has passed are forgotten here.
    pub fn register(&self, credentials: &Credentials, until: Option<Instant>) {
        let mut registry = self.lock();
        registry.forget_expired(Instant::now());
        for secret in credentials.secrets() {
            registry.add(secret, until);
        }
    }

    /// Like [`Scrubber::register`], for a lone secret (a profile's AccessKeySecret before it
    /// became credentials).
    pub fn register_secret(&self, secret: &str, until: Option<Instant>) {
        let mut registry = self.lock();
        registry.forget_expired(Instant::now());
        registry.add(secret, until);
    }

    /// `text` with every run of [`LEAK_WINDOW`] or more characters of a live secret, in any
    /// echoed form, replaced by `***`. Borrowed unchanged when nothing matches.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.len() < LEAK_WINDOW {
            return Cow::Borrowed(text);
        }
        self.lock().scrub(text)
    }

    /// How many secrets (or pieces of very long ones) are live.
    fn live_secrets(&self) -> usize {
        self.lock().live()
    }

    /// The heap the registry holds: the stored secrets, their slots and the gram index.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.lock().heap_bytes()
    }
}

/// One live secret (or piece of one), normalised.
struct Live {
    canonical: Box<[u8]>,
    until: Option<Instant>,
}

/// An indexed gram: its bytes, the slot of the secret it is in, and its offset there. Sorted
/// by gram, so that a gram's postings are one run found by binary search.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Posting {
    gram: u64,
    slot: u16,
    at: u16,
}

/// The registry without its lock: the live secrets and their gram index.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<Live>>,
    postings: Vec<Posting>,
    /// One bit per pair of bytes that starts an indexed gram (8 KiB): most positions of a text
    /// are passed over with one bit test instead of a binary search.
    starts: Vec<u64>,
    /// Whether a live secret holds `"` or `\`, the two characters of the `\"` escape (see
    /// [`Reading::only_quote_escapes`]).
    quote_in_secrets: bool,
}

/// The length of [`Registry::starts`]: a bit for each pair of bytes.
const STARTS_WORDS: usize = (1 << 16) / 64;

/// The first position at or after `from` whose pair of bytes (`pairs[i]`, `pairs[i + 1]`)
/// starts an indexed gram. Most positions of a text are passed over here with one bit test;
/// kept out of line so that this loop has the registers to itself.
#[inline(never)]
fn next_start(starts: &[u64; STARTS_WORDS], pairs: &[u8], from: usize) -> Option<usize> {
    (from..pairs.len().saturating_sub(1)).find(|&i| {
        let bit = usize::from(u16::from_le_bytes([pairs[i], pairs[i + 1]]));
        starts[bit / 64] & (1 << (bit % 64)) != 0
    })
}

/// The bit of [`Registry::starts`] for the gram starting with `bytes[0..2]`.
fn start_bit(bytes: &[u8]) -> usize {
    usize::from(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn gram_at(bytes: &[u8], at: usize) -> u64 {
    let mut g = [0u8; GRAM];
    g.copy_from_slice(&bytes[at..at + GRAM]);
    u64::from_le_bytes(g)
}

impl Registry {
    fn live(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Live>>()
            + self
                .slots
                .iter()
                .flatten()
                .map(|l| l.canonical.len())
                .sum::<usize>()
            + self.postings.capacity() * std::mem::size_of::<Posting>()
            + self.starts.capacity() * std::mem::size_of::<u64>()
    }

    fn rebuild_starts(&mut self) {
        self.starts = vec![0; STARTS_WORDS];
        for p in &self.postings {
            let bit = start_bit(&p.gram.to_le_bytes());
            self.starts[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// Adds `secret` (normalised) or extends the time of the slots that already hold it.
    fn add(&mut self, secret: &str, until: Option<Instant>) {
        let secret = canonical(secret.as_bytes(), false);
        if secret.len() < LEAK_WINDOW {
            // Shorter than a leak: such a value cannot be told from ordinary text.
            return;
        }
        let mut start = 0;
        loop {
            let end = (start + MAX_PIECE).min(secret.len());
            self.add_piece(&secret[start..end], until);
            if end == secret.len() {
                break;
            }
            start = end - (LEAK_WINDOW - 1);
        }
    }

    fn add_piece(&mut self, piece: &[u8], until: Option<Instant>) {
        if let Some(live) = self
            .slots
            .iter_mut()
            .flatten()
            .find(|l| &*l.canonical == piece)
        {
            live.until = later(live.until, until);
            return;
        }
        if self.live() >= MAX_LIVE_SECRETS {
            self.forget_earliest();
        }
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let slot16 = u16::try_from(slot).expect("MAX_LIVE_SECRETS slots fit in u16");
        let mut new: Vec<Posting> = (0..=piece.len() - GRAM)
            .step_by(STRIDE)
            .map(|at| Posting {
                gram: gram_at(piece, at),
                slot: slot16,
                at: u16::try_from(at).expect("a piece is at most MAX_PIECE bytes"),
            })
            .collect();
        new.sort_unstable();
        // Merge in place from the back: each new posting, largest first, goes after the old
        // ones not greater than it, and the old ones greater move up by the number of new ones
        // still to place before them (each old posting moves once, as part of a block).
        let old = self.postings.len();
        self.postings.reserve_exact(new.len());
        self.postings.resize(
            old + new.len(),
            Posting {
                gram: 0,
                slot: 0,
                at: 0,
            },
        );
        let mut end = old;
        for (k, p) in new.iter().enumerate().rev() {
            let pos = self.postings[..end].partition_point(|q| q <= p);
            self.postings.copy_within(pos..end, pos + k + 1);
            self.postings[pos + k] = *p;
            end = pos;
        }
        self.quote_in_secrets |= holds_quote(piece);
        self.slots[slot] = Some(Live {
            canonical: piece.into(),
            until,
        });
        if self.starts.is_empty() {
            self.starts = vec![0; STARTS_WORDS];
        }
        for p in &new {
            let bit = start_bit(&p.gram.to_le_bytes());
            self.starts[bit / 64] |= 1 << (bit % 64);
        }
    }

    fn forget(&mut self, doomed: &[usize]) {
        if doomed.is_empty() {
            return;
        }
        for &slot in doomed {
            self.slots[slot] = None;
        }
        let slots = &self.slots;
        self.postings
            .retain(|p| slots[usize::from(p.slot)].is_some());
        self.postings.shrink_to_fit();
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        self.quote_in_secrets = self
            .slots
            .iter()
            .flatten()
            .any(|l| holds_quote(&l.canonical));
        self.rebuild_starts();
    }

    /// Forgets the secrets whose time has passed: they can no longer be used.
    fn forget_expired(&mut self, now: Instant) {
        let doomed: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Some(Live { until: Some(t), .. }) if *t < now))
            .map(|(i, _)| i)
            .collect();
        self.forget(&doomed);
    }

    /// Forgets the secret whose time ends first (only when [`MAX_LIVE_SECRETS`] are live).
    fn forget_earliest(&mut self) {
        let earliest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().and_then(|l| l.until).map(|t| (t, i)))
            .min();
        if let Some((_, slot)) = earliest {
            tracing::warn!(
                live = MAX_LIVE_SECRETS,
                "too many live secrets: the one expiring first is no longer scrubbed"
            );
            self.forget(&[slot]);
        }
    }

    /// Adds to `runs` the ranges of every run of [`LEAK_WINDOW`] or more of `bytes` (a reading
    /// of a text) equal to a run of a live secret.
    fn find_runs(&self, bytes: &[u8], runs: &mut Vec<(usize, usize)>) {
        let Ok(starts) = <&[u64; STARTS_WORDS]>::try_from(self.starts.as_slice()) else {
            return;
        };
        if bytes.len() < GRAM {
            return;
        }
        let starts_end = bytes.len() - GRAM + 1;
        let mut from = 0;
        while let Some(i) = next_start(starts, &bytes[..starts_end + 1], from) {
            from = i + 1;
            let gram = gram_at(bytes, i);
            let first = self.postings.partition_point(|p| p.gram < gram);
            for p in self.postings[first..].iter().take_while(|p| p.gram == gram) {
                let Some(live) = &self.slots[usize::from(p.slot)] else {
                    continue;
                };
                let secret = &live.canonical;
                let at = usize::from(p.at);
                let mut left = 0;
                while left < at && left < i && bytes[i - left - 1] == secret[at - left - 1] {
                    left += 1;
                }
                let mut right = GRAM;
                while at + right < secret.len()
                    && i + right < bytes.len()
                    && bytes[i + right] == secret[at + right]
                {
                    right += 1;
                }
                if left + right >= LEAK_WINDOW {
                    runs.push((i - left, i + right));
                }
            }
        }
    }

    /// Step 2 of the algorithm (see the module doc) on the normalised `text`.
    fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.postings.is_empty() {
            return Cow::Borrowed(text);
        }
        // Original byte ranges to mask, from both readings of the text (the decoded one alone
        // when the undecoded one cannot find more: see the module doc).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        // The decoded reading also tells whether its only escapes were `\"`, so the text's
        // escapes are decoded once.
        let decoded = read_units(text.as_bytes(), true, None);
        let raw_reading = first_escape(text.as_bytes()).is_some()
            && (self.quote_in_secrets || !decoded.only_quote_escapes);
        let mut add_spans = |reading: &[u8], decode: bool| {
            let mut runs = Vec::new();
            self.find_runs(reading, &mut runs);
            if !runs.is_empty() {
                let origins = origins(text.as_bytes(), decode);
                spans.extend(runs.iter().map(|&(from, to)| origins.span(text, from, to)));
            }
        };
        add_spans(&decoded.bytes, true);
        if raw_reading {
            add_spans(&canonical(text.as_bytes(), false), false);
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some((start, mut end)) = spans.next() {
            while let Some(&(next_start, next_end)) = spans.peek() {
                if next_start > end {
                    break;
                }
                end = end.max(next_end);
                spans.next();
            }
            let start = start.max(from);
            out.push_str(&text[from..start]);
            out.push_str(MASK);
            from = end.max(from);
        }
        out.push_str(&text[from..]);
        Cow::Owned(out)
    }
}

fn later(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// Where each canonical byte of a text came from.
struct Origins {
    /// `origin[k]`: the offset in the original of the unit canonical byte `k` came from, and
    /// one more entry, the original's length. `None` when every unit was one byte that became
    /// one byte (the offsets are the identity).
    origin: Option<Vec<u32>>,
}

impl Origins {
    fn origin(&self, k: usize) -> usize {
        match &self.origin {
            Some(o) => o[k] as usize,
            None => k,
        }
    }

    /// The original byte range canonical bytes `from..to` came from, widened to whole
    /// characters; a range right after an odd run of backslashes takes one along.
    fn span(&self, text: &str, from: usize, to: usize) -> (usize, usize) {
        let mut start = self.origin(from);
        let mut end = self.unit_end(to - 1, text.len());
        // Backslashes are decoded one at a time (`\\\\` is not read as one unit, so that an
        // escape after it is still decoded): a run that starts right after an odd number of
        // them takes one along, so no JSON escape is left broken.
        let before = text.as_bytes()[..start]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if before % 2 == 1 {
            start -= 1;
        }
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        (start, end)
    }

    /// Where the unit canonical byte `k` came from ends in the original.
    fn unit_end(&self, k: usize, len: usize) -> usize {
        match &self.origin {
            None => k + 1,
            Some(o) => o[k + 1..]
                .iter()
                .find(|&&at| at != o[k])
                .map_or(len, |&at| at as usize),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte `HH` of a percent escape, if percent-encoding writes it as one: an ASCII byte that
/// is not unreserved (RFC 3986). `%41` is no encoder's `A`, so it is read as it is.
fn hex_byte(s: &[u8]) -> Option<u8> {
    let b = hex(*s.first()?)? << 4 | hex(*s.get(1)?)?;
    (b.is_ascii() && !b.is_ascii_alphanumeric() && !matches!(b, b'-' | b'_' | b'.' | b'~'))
        .then_some(b)
}

fn hex_u16(s: &[u8]) -> Option<u16> {
    if s.len() < 4 {
        return None;
    }
    s[..4]
        .iter()
        .try_fold(0u16, |acc, &b| Some(acc << 4 | u16::from(hex(b)?)))
}

/// Decodes the unit at the start of `s`: into `out` its canonical bytes (before the space
/// rule), and returns how many bytes of `s` it took.
fn decode_unit(s: &[u8], out: &mut Vec<u8>) -> usize {
    match s[0] {
        b'%' => {
            // Percent-encoded twice (`%25HH`), then once (`%HH`), any hex case.
            if s.len() >= 5 && s[1] == b'2' && s[2] == b'5' {
                if let Some(b) = hex_byte(&s[3..]) {
                    out.push(b);
                    return 5;
                }
            }
            if let Some(b) = hex_byte(&s[1..]) {
                out.push(b);
                return 3;
            }
            out.push(b'%');
            1
        }
        b'\\' => {
            let simple = match s.get(1) {
                Some(b'/') => Some(b'/'),
                Some(b'"') => Some(b'"'),
                Some(b'b') => Some(0x08),
                Some(b'f') => Some(0x0c),
                Some(b'n') => Some(b'\n'),
                Some(b'r') => Some(b'\r'),
                Some(b't') => Some(b'\t'),
                _ => None,
            };
            if let Some(b) = simple {
                out.push(b);
                return 2;
            }
            if s.get(1) == Some(&b'u') {
                if let Some(unit) = hex_u16(&s[2..]) {
                    let (c, len) = if (0xd800..0xdc00).contains(&unit) {
                        // A surrogate pair: `\uD8xx\uDCxx`.
                        let low = (s.len() >= 12 && s[6] == b'\\' && s[7] == b'u')
                            .then(|| hex_u16(&s[8..]))
                            .flatten()
                            .filter(|l| (0xdc00..0xe000).contains(l));
                        match low {
                            Some(low) => (
                                char::from_u32(
                                    0x10000
                                        + ((u32::from(unit) - 0xd800) << 10)
                                        + (u32::from(low) - 0xdc00),
                                ),
                                12,
                            ),
                            None => (None, 0),
                        }
                    } else {
                        (char::from_u32(u32::from(unit)), 6)
                    };
                    if let Some(c) = c {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        return len;
                    }
                }
            }
            out.push(b'\\');
            1
        }
        b => {
            out.push(b);
            1
        }
    }
}

/// Step 1 of the algorithm (see the module doc): the canonical bytes of `text`, with escapes
/// decoded or (`decode` false) read as they are.
fn canonical(text: &[u8], decode: bool) -> Vec<u8> {
    read_units(text, decode, None).bytes
}

/// Where the first percent or JSON escape of `text` may start.
fn first_escape(text: &[u8]) -> Option<usize> {
    memchr::memchr2(b'%', b'\\', text)
}

/// Whether `s` holds `"` or `\`.
fn holds_quote(s: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\\', s).is_some()
}

/// Whether the only escape [`decode_unit`] decodes in `text` is `\"`: no `%`, and each
/// backslash, read unit by unit as decoding reads it, is either read as itself or starts `\"`.
#[cfg(test)]
fn only_quote_escapes(text: &[u8]) -> bool {
    read_units(text, true, None).only_quote_escapes
}

/// Where each byte of [`canonical`] came from: worked out only for a text where a run of a
/// secret was found, which is rare.
fn origins(text: &[u8], decode: bool) -> Origins {
    if !decode || first_escape(text).is_none() {
        // Every byte is its own unit: the offsets are the identity.
        return Origins { origin: None };
    }
    let mut origin = Vec::with_capacity(text.len() + 1);
    read_units(text, decode, Some(&mut origin));
    origin.push(text.len() as u32);
    Origins {
        origin: Some(origin),
    }
}

/// One reading of a text: its canonical bytes, and (for the decoded reading) whether the only
/// escape decoded was `\"`: no `%`, and each backslash either read as itself or starting `\"`.
struct Reading {
    bytes: Vec<u8>,
    only_quote_escapes: bool,
}

/// The canonical bytes of `text`'s units, and into `origin` the offset of the unit each came
/// from.
fn read_units(text: &[u8], decode: bool, mut origin: Option<&mut Vec<u32>>) -> Reading {
    // Form decoding reads `+` as a space: both are `+` here.
    let canonical = |b: u8| if b == b' ' { b'+' } else { b };
    let escape = |text: &[u8]| if decode { first_escape(text) } else { None };
    let mut bytes = Vec::with_capacity(text.len());
    let mut only_quote_escapes = true;
    let mut at = 0;
    while at < text.len() {
        // Up to the next escape every byte is its own unit: the run is copied at once.
        let run_end = escape(&text[at..]).map_or(text.len(), |n| at + n);
        bytes.extend(text[at..run_end].iter().map(|&b| canonical(b)));
        if let Some(origin) = origin.as_deref_mut() {
            // Offsets fit in u32: outputs are bounded far below 4 GiB.
            origin.extend(at as u32..run_end as u32);
        }
        at = run_end;
        if at == text.len() {
            break;
        }
        let before = bytes.len();
        let took = decode_unit(&text[at..], &mut bytes);
        only_quote_escapes &=
            text[at] != b'%' && (took == 1 || (took == 2 && bytes[before..] == [b'"']));
        for b in &mut bytes[before..] {
            *b = canonical(*b);
        }
        if let Some(origin) = origin.as_deref_mut() {
            origin.extend(std::iter::repeat_n(at as u32, bytes.len() - before));
        }
        at += took;
    }
    Reading {
        bytes,
        only_quote_escapes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
    fn an_empty_security_token_counts_as_none() {
        let c = Credentials::new("id", "secret", Some(String::new()));
        assert!(c.security_token.is_none());
    }

    const TOKEN: &str = "CAIS+scrubTest/Token+Value==0123456789abcdefXYZ";

    fn registered(token: &str) -> Scrubber {
        let s = Scrubber::new();
        s.register(&Credentials::new("STS.id", "s", Some(token.into())), None);
        s
    }

    #[test]
    fn constructing_credentials_registers_nothing() {
        let _ = Credentials::new("STS.id", "a-secret-of-some-length", Some(TOKEN.into()));
        let s = Scrubber::new();
        assert_eq!(s.scrub(TOKEN), TOKEN);
        assert_eq!(s.live_secrets(), 0);
    }

    #[test]
    fn a_token_echoed_in_any_form_or_cut_short_is_masked_and_json_stays_json() {
        let s = registered(TOKEN);
        let once = crate::signing::percent_encode(TOKEN);
        let twice = crate::signing::percent_encode(&once);
        for echoed in [
            TOKEN.to_string(),
            TOKEN.replace('+', " "),
            once.clone(),
            once.replace("%2B", "%2b").replace("%2F", "%2f"),
            twice.clone(),
            twice.replace("%252B", "%252b").replace("%252F", "%252f"),
            TOKEN.replace('+', "\\u002b").replace('/', "\\/"),
            TOKEN[5..20].to_string(),
            TOKEN.replace('+', " ")[3..17].to_string(),
        ] {
            let text = format!("{{\"RequestId\":\"x-{echoed}-y\"}}");
            let out = s.scrub(&text);
            assert_eq!(out, "{\"RequestId\":\"x-***-y\"}", "{echoed:?}");
            serde_json::from_str::<serde_json::Value>(&out).expect("still JSON");
        }
        assert_eq!(
            s.scrub("nothing secret here at all"),
            "nothing secret here at all"
        );
    }

    #[test]
    fn eleven_characters_of_a_secret_are_not_a_leak() {
        let s = registered(TOKEN);
        let text = format!("a {} b", &TOKEN[10..21]);
        assert_eq!(s.scrub(&text), text);
    }

    #[test]
    fn a_secret_between_json_quote_escapes_is_masked() {
        // An audit line holding a JSON text as a string: its only escapes are `\"`.
        let s = registered(TOKEN);
        let text = format!(
            r#"{{"result":"{{\"message\":\"{TOKEN}\",\"id\":\"{}\"}}"}}"#,
            &TOKEN[3..40]
        );
        let out = s.scrub(&text);
        assert!(
            !out.contains(&TOKEN[..12]) && !out.contains(&TOKEN[30..42]),
            "{out}"
        );
        assert_eq!(out, r#"{"result":"{\"message\":\"***\",\"id\":\"***\"}"}"#);
    }

    #[test]
    fn a_secret_holding_a_backslash_and_a_quote_is_masked_as_echoed_raw() {
        // Ten characters either side of `\"`: decoded, neither side is a leak on its own, so
        // only the reading with nothing decoded finds the echo.
        let secret = r#"abcdefghij\"klmnopqrst"#;
        let s = Scrubber::new();
        s.register_secret(secret, None);
        let text = format!(r#"{{"a":"\"x\"","b":"{secret}"}}"#);
        assert_eq!(s.scrub(&text), r#"{"a":"\"x\"","b":"***"}"#);
    }

    #[test]
    fn only_a_quote_escape_leaves_the_readings_alike() {
        let cases = [
            (r#"{"a":"b"}"#, true),
            (r#"{\"a\":\"b\"}"#, true),
            (r"a\\c", true),
            // The second backslash is read with the `b` after it: a backspace.
            (r"a\\b", false),
            (r#"a\\\"b"#, true),
            (r"a\x", true),
            (r"trailing\", true),
            (r"a\nb", false),
            (r"a\tb", false),
            (r"a\/b", false),
            (r"a\u002bb", false),
            // A quote decoded from another escape is not the `\"` escape.
            (r"a\u0022b", false),
            (r"a%22b", false),
            (r"a%2Bb", false),
            (r"100%", false),
            (r"a\\\nb", false),
        ];
        for (text, alike) in cases {
            assert_eq!(only_quote_escapes(text.as_bytes()), alike, "{text}");
        }
    }

    #[test]
    fn forgetting_the_last_secret_holding_a_quote_drops_the_raw_reading_for_quote_escapes() {
        let mut registry = Registry::default();
        let past = Instant::now() - Duration::from_millis(1);
        registry.add(r#"quoted"secret-value"#, Some(past));
        registry.add("plain-secret-value-0123", None);
        assert!(registry.quote_in_secrets);
        registry.forget_expired(Instant::now());
        assert!(!registry.quote_in_secrets);
        assert_eq!(registry.live(), 1);
    }

    #[test]
    fn registering_again_extends_the_time_and_an_expired_secret_is_forgotten() {
        let s = Scrubber::new();
        let gone = "GONE-SECRET-0123456789";
        let kept = "kept-value-abcdefghijk";
        let past = Instant::now() - Duration::from_millis(1);
        let future = Instant::now() + Duration::from_secs(60);
        s.register_secret(gone, Some(past));
        s.register_secret(kept, Some(past));
        s.register_secret(kept, Some(future));
        // The next registration forgets what expired.
        s.register_secret("ANOTHER-one-zyxwvutsrqp", None);
        assert_eq!(s.scrub(gone), gone);
        assert_eq!(s.scrub(kept), MASK);
        assert_eq!(s.live_secrets(), 2);
    }

    #[test]
    fn a_secret_longer_than_a_piece_is_masked_across_the_seam() {
        let long: String = (0..MAX_PIECE + 500)
            .map(|i| char::from(b'A' + ((i * 7 + i / 26) % 26) as u8))
            .collect();
        let s = Scrubber::new();
        s.register_secret(&long, None);
        let seam = &long[MAX_PIECE - 6..MAX_PIECE + 6];
        assert_eq!(s.scrub(&format!("<{seam}>")), "<***>");
    }

    /// Random-looking text of `len` base64 characters, from `seed`.
    fn base64ish(seed: u64, len: usize) -> String {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(B64[(x % 64) as usize])
            })
            .collect()
    }

    #[test]
    fn a_full_cache_of_long_tokens_fits_in_8_mib() {
        // 1,024 assumed-role credentials and 64 sets of the function's own, with tokens of
        // 1,500 characters (real STS tokens are about 1,000) and 30-character secrets.
        let s = Scrubber::new();
        for i in 0..(1024 + 64) {
            let c = Credentials::new(
                "STS.id",
                base64ish(2 * i, 30),
                Some(base64ish(2 * i + 1, 1500)),
            );
            s.register(&c, Some(Instant::now() + Duration::from_secs(3600)));
        }
        assert_eq!(s.live_secrets(), MAX_LIVE_SECRETS);
        let heap = s.heap_bytes();
        assert!(heap <= 8 << 20, "{heap} bytes");
        // And every one of them is still masked.
        let first = base64ish(1, 1500);
        assert_eq!(s.scrub(&first[700..760]), MASK);
    }

    #[test]
    fn past_the_limit_the_secret_expiring_first_is_forgotten() {
        let s = Scrubber::new();
        let now = Instant::now();
        for i in 0..MAX_LIVE_SECRETS as u64 {
            s.register_secret(&base64ish(i, 40), Some(now + Duration::from_secs(100 + i)));
        }
        s.register_secret(&base64ish(99_999, 40), None);
        assert_eq!(s.live_secrets(), MAX_LIVE_SECRETS);
        assert_eq!(s.scrub(&base64ish(0, 40)), base64ish(0, 40));
        assert_eq!(s.scrub(&base64ish(1, 40)), MASK);
    }

    // The naive definition, as an oracle: for every secret and every run of LEAK_WINDOW of
    // its characters, that run must not appear in the output raw, form-decoded,
    // percent-encoded once or twice in either hex case, or JSON-escaped.

    /// Percent-encoding of every character outside the unreserved set, in `case` hex.
    fn pct(s: &str, upper: bool) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else if upper {
                out.push_str(&format!("%{b:02X}"));
            } else {
                out.push_str(&format!("%{b:02x}"));
            }
        }
        out
    }

    /// JSON escaping as some libraries write it: `/` as `\/`, others as `\u00XX`.
    fn json_escaped(s: &str, upper: bool) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '/' => out.push_str("\\/"),
                c if c.is_ascii_alphanumeric() => out.push(c),
                c if upper => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            }
        }
        out
    }

    fn forms(s: &str) -> Vec<String> {
        vec![
            s.to_string(),
            s.replace('+', " "),
            pct(s, true),
            pct(s, false),
            pct(&pct(s, true), true),
            pct(&pct(s, false), false),
            pct(&pct(s, true), false),
            json_escaped(s, true),
            json_escaped(s, false),
        ]
    }

    fn leaks(secrets: &[String], out: &str) -> Vec<String> {
        let mut found = Vec::new();
        for s in secrets {
            let chars: Vec<char> = s.chars().collect();
            for w in chars.windows(LEAK_WINDOW) {
                let w: String = w.iter().collect();
                for f in forms(&w) {
                    if out.contains(&f) {
                        found.push(f);
                    }
                }
            }
        }
        found
    }

    // Secrets from the characters STS and RAM issue; the text around them adds the ones
    // encoding and JSON touch, and lower-case letters secrets never hold (so filler alone
    // never matches).
    const SECRET: &str = "[A-Z0-9+/=._~-]{12,60}";
    const FILLER: &str = "([a-z %\"{}:,é]|\\\\[\"\\\\/nt]){0,12}";

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn no_run_of_a_secret_in_any_form_survives(
            secrets in proptest::collection::vec(SECRET, 1..4),
            pieces in proptest::collection::vec(
                (FILLER, 0usize..4, 0usize..9, 0usize..80, 0usize..200),
                0..6,
            ),
            tail in FILLER,
        ) {
            let scrubber = Scrubber::new();
            for s in &secrets {
                scrubber.register_secret(s, None);
            }
            // Filler, then a piece (often cut short) of one form of one secret.
            let mut text = String::new();
            for (filler, which, form, from, len) in &pieces {
                text.push_str(filler);
                let forms = forms(&secrets[which % secrets.len()]);
                let piece: String = forms[*form].chars().skip(*from % 40).take(*len).collect();
                // The one reading the module documents as ambiguous: a stray `%` right before
                // an echo whose first two characters are hex digits of a reserved byte.
                proptest::prop_assume!(
                    !(text.ends_with('%') && hex_byte(piece.as_bytes()).is_some())
                );
                text.push_str(&piece);
            }
            text.push_str(&tail);
            let out = scrubber.scrub(&text);
            let found = leaks(&secrets, &out);
            proptest::prop_assert!(found.is_empty(), "{:?} survive in {:?}", found, out);
        }

        #[test]
        fn text_without_a_run_of_a_secret_is_left_unchanged(
            secrets in proptest::collection::vec(SECRET, 1..4),
            text in "[a-z %\\\\\"{}:,é0-9A-Z]{0,200}",
        ) {
            let scrubber = Scrubber::new();
            for s in &secrets {
                scrubber.register_secret(s, None);
            }
            let decoded = canonical(text.as_bytes(), true);
            let raw = canonical(text.as_bytes(), false);
            proptest::prop_assume!(secrets.iter().all(|s| {
                let s = canonical(s.as_bytes(), false);
                !decoded.windows(LEAK_WINDOW).chain(raw.windows(LEAK_WINDOW))
                    .any(|w| s.windows(LEAK_WINDOW).any(|x| x == w))
            }));
            proptest::prop_assert_eq!(scrubber.scrub(&text).into_owned(), text);
        }
    }
}

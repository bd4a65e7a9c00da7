//! RPC-style request signing V2: `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0` (V3,
//! `ACS3-HMAC-SHA256`, is in [`crate::acs3`]; [`SignatureVersion`] chooses between them).
//!
//! Both the client and the emulator use these functions, so the emulator recomputes a signature
//! exactly the way the real gateway does: decode the parameters, sort them by name in byte
//! order, percent-encode (RFC 3986 unreserved set, space as `%20`, `*` as `%2A`), encode the
//! canonical string a second time inside the string-to-sign, and HMAC-SHA1 with `secret + "&"`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::credentials::Credentials;

/// Parameters of one request, sorted by name in byte order (what a `BTreeMap` of strings
/// does). A name is most often a constant of the API (`RegionId`), kept without a copy; a
/// numbered one (`SecurityGroupRuleId.3`) is made for the call.
pub type Params = BTreeMap<Cow<'static, str>, String>;

/// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~`, in upper-case hex.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    percent_encode_into(&mut out, value);
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The RFC 3986 unreserved set, the bytes that are sent as they are.
fn is_unreserved(b: u8) -> bool {
    matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~')
}

/// [`percent_encode`] appended to `out`, without a temporary string: runs of unreserved bytes
/// are copied at once.
pub fn percent_encode_into(out: &mut String, value: &str) {
    out.reserve(value.len());
    let bytes = value.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) {
            continue;
        }
        // `run..i` holds only ASCII bytes and starts after an ASCII byte or at 0, so both ends
        // are character boundaries.
        if run < i {
            out.push_str(&value[run..i]);
        }
        out.push('%');
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xF) as usize] as char);
        run = i + 1;
    }
    if run < bytes.len() {
        out.push_str(&value[run..]);
    }
}

/// Feeds the percent-encoding of `value` to the MAC through a stack buffer: the string-to-sign
/// is never built.
fn update_percent_encoded(mac: &mut Hmac<Sha1>, value: &str) {
    let mut buf = [0u8; 256];
    let mut n = 0;
    for b in value.bytes() {
        if n + 3 > buf.len() {
            mac.update(&buf[..n]);
            n = 0;
        }
        if is_unreserved(b) {
            buf[n] = b;
            n += 1;
        } else {
            buf[n] = b'%';
            buf[n + 1] = HEX[(b >> 4) as usize];
            buf[n + 2] = HEX[(b & 0xF) as usize];
            n += 3;
        }
    }
    mac.update(&buf[..n]);
}

/// `name=value&…` with both sides percent-encoded, in byte order of the raw names.
/// `Signature` is never part of it.
///
/// Takes the parameters as `(name, value)` pairs already in name order: `&params` of a
/// [`Params`] or of any other map of strings (the emulator reads a request into its own).
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(
    params: impl IntoIterator<Item = (K, V)> + Clone,
) -> String {
    // Encoding adds about half again to a parameter's length.
    let raw: usize = params
        .clone()
        .into_iter()
        .map(|(n, v)| n.as_ref().len() + v.as_ref().len() + 2)
        .sum();
    let mut out = String::with_capacity(raw + raw / 2);
    for (name, value) in params {
        let name = name.as_ref();
        if name == "Signature" {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name);
        out.push('=');
        percent_encode_into(&mut out, value.as_ref());
    }
    out
}

/// `METHOD&%2F&percentEncode(canonical)`: the canonical string is encoded a second time.
pub fn string_to_sign(method: &str, canonical_query: &str) -> String {
    format!("{method}&%2F&{}", percent_encode(canonical_query))
}

/// Base64 of HMAC-SHA1 keyed with the raw secret followed by `&`.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut mac = keyed(access_key_secret);
    mac.update(string_to_sign.as_bytes());
    let mut buf = [0u8; SIGNATURE_LEN];
    encode_signature(mac, &mut buf).to_string()
}

/// Base64 of a 20-byte HMAC-SHA1: 28 characters.
const SIGNATURE_LEN: usize = 28;

/// HMAC-SHA1 keyed with `secret&`, the key built on the stack when it fits.
fn keyed(access_key_secret: &str) -> Hmac<Sha1> {
    let secret = access_key_secret.as_bytes();
    let mut key = [0u8; 128];
    let mac = if secret.len() < key.len() {
        key[..secret.len()].copy_from_slice(secret);
        key[secret.len()] = b'&';
        Hmac::<Sha1>::new_from_slice(&key[..=secret.len()])
    } else {
        Hmac::<Sha1>::new_from_slice(format!("{access_key_secret}&").as_bytes())
    };
    mac.expect("HMAC accepts keys of any length")
}

fn encode_signature(mac: Hmac<Sha1>, buf: &mut [u8; SIGNATURE_LEN]) -> &str {
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(mac.finalize().into_bytes(), buf)
        .expect("28 bytes hold the base64 of a 20-byte digest");
    std::str::from_utf8(&buf[..n]).expect("base64 is ASCII")
}

/// UTC `yyyy-MM-ddTHH:mm:ssZ`, with no fractional seconds.
pub fn format_timestamp(at: SystemTime) -> String {
    Timestamp::new(at).as_str().to_string()
}

/// A [`format_timestamp`] text kept on the stack (one is made per attempt).
#[derive(Clone, Copy)]
pub struct Timestamp {
    buf: [u8; 32],
    len: usize,
}

impl Timestamp {
    /// The RFC 3339 (UTC, seconds) `Timestamp` parameter for an attempt made at `at`.
    pub fn new(at: SystemTime) -> Timestamp {
        let mut t = Timestamp {
            buf: [0; 32],
            len: 0,
        };
        // The RFC 3339 text of any SystemTime fits in 32 bytes (humantime caps the year at 9999).
        let _ = write!(t, "{}", humantime::format_rfc3339_seconds(at));
        t
    }

    /// The text to send.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Timestamp {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The common parameters of one attempt, borrowed, so that signing copies nothing.
#[derive(Debug, Clone, Copy)]
pub struct CommonParams<'a> {
    /// The API action being signed.
    pub action: &'a str,
    /// The API version of the action.
    pub version: &'a str,
    /// The AccessKeyId sent in clear; its secret only signs.
    pub access_key_id: &'a str,
    /// Sent as `SecurityToken` when present (STS credentials).
    pub security_token: Option<&'a str>,
    /// A fresh `SignatureNonce` per attempt.
    pub nonce: &'a str,
    /// A fresh `Timestamp` per attempt.
    pub timestamp: &'a str,
}

impl<'a> CommonParams<'a> {
    /// The common parameters of one attempt with `credentials`; borrows, copies nothing.
    pub fn new(
        action: &'a str,
        version: &'a str,
        credentials: &'a Credentials,
        nonce: &'a str,
        timestamp: &'a str,
    ) -> Self {
        CommonParams {
            action,
            version,
            access_key_id: &credentials.access_key_id,
            security_token: credentials.security_token.as_ref().map(|t| t.expose()),
            nonce,
            timestamp,
        }
    }

    /// The one table of the common parameters: `(name, value)` in byte order of the names,
    /// `SecurityToken` only when there is one.
    pub fn sorted(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        [
            ("AccessKeyId", Some(self.access_key_id)),
            ("Action", Some(self.action)),
            ("Format", Some("JSON")),
            ("SecurityToken", self.security_token),
            ("SignatureMethod", Some("HMAC-SHA1")),
            ("SignatureNonce", Some(self.nonce)),
            ("SignatureVersion", Some("1.0")),
            ("Timestamp", Some(self.timestamp)),
            ("Version", Some(self.version)),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    }
}

/// Adds the common parameters of one attempt: a fresh nonce and timestamp are the caller's job
/// (every retry must be signed anew).
pub fn add_common_params(
    params: &mut Params,
    action: &str,
    version: &str,
    credentials: &Credentials,
    nonce: &str,
    timestamp: &str,
) {
    let common = CommonParams::new(action, version, credentials, nonce, timestamp);
    for (name, value) in common.sorted() {
        params.insert(name.into(), value.into());
    }
}

/// Appends to `out` the signed query of `params` with the `common` parameters: what
/// [`add_common_params`] then [`signed_query`] give, without copying `params` or building the
/// string-to-sign. A common parameter wins over an API parameter of the same name.
pub fn write_signed_query(
    out: &mut String,
    method: &str,
    params: &Params,
    common: &CommonParams<'_>,
    access_key_secret: &str,
) {
    let start = out.len();
    let mut own = params
        .iter()
        .filter(|(n, _)| *n != "Signature")
        .map(|(n, v)| (n.as_ref(), v.as_str()))
        .peekable();
    let mut shared = common.sorted().peekable();
    loop {
        let next = match (own.peek(), shared.peek()) {
            (None, None) => break,
            (Some(_), None) => own.next(),
            (None, Some(_)) => shared.next(),
            (Some((a, _)), Some((b, _))) => match a.cmp(b) {
                std::cmp::Ordering::Less => own.next(),
                std::cmp::Ordering::Greater => shared.next(),
                std::cmp::Ordering::Equal => {
                    own.next();
                    shared.next()
                }
            },
        };
        let Some((name, value)) = next else { break };
        if out.len() > start {
            out.push('&');
        }
        percent_encode_into(out, name);
        out.push('=');
        percent_encode_into(out, value);
    }
    let mut mac = keyed(access_key_secret);
    mac.update(method.as_bytes());
    mac.update(b"&%2F&");
    update_percent_encoded(&mut mac, &out[start..]);
    let mut buf = [0u8; SIGNATURE_LEN];
    let sig = encode_signature(mac, &mut buf);
    out.push_str("&Signature=");
    percent_encode_into(out, sig);
}

/// Signs `params` for `method` and returns the query string to send:
/// the canonical query followed by `&Signature=…`.
pub fn signed_query(method: &str, params: &Params, access_key_secret: &str) -> String {
    let canonical = canonical_query(params);
    let sig = signature(access_key_secret, &string_to_sign(method, &canonical));
    format!("{canonical}&Signature={}", percent_encode(&sig))
}

/// Which signature a client puts on its calls: V3 (`ACS3-HMAC-SHA256`, headers; the default, as
/// in the official SDKs) or V2 (`HMAC-SHA1`, signed query; still served, for a gateway or proxy
/// that only knows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureVersion {
    /// HMAC-SHA1 with every parameter, the common ones and `Signature` in the query.
    V2,
    /// ACS3-HMAC-SHA256: the API's parameters in the query, the common ones in `x-acs-*`
    /// headers, an `Authorization` header.
    #[default]
    V3,
}

impl SignatureVersion {
    /// `v2` or `v3`, as `SIGNATURE_VERSION` and `--signature-version` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V2 => "v2",
            SignatureVersion::V3 => "v3",
        }
    }
}

impl fmt::Display for SignatureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signature version other than `v3` or `v2`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signature version; use v3 (the default) or v2")]
pub struct UnknownSignatureVersion(pub String);

impl std::str::FromStr for SignatureVersion {
    type Err = UnknownSignatureVersion;

    /// `v3` or `v2`, in any case (`V3` too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v3" => Ok(SignatureVersion::V3),
            "v2" => Ok(SignatureVersion::V2),
            _ => Err(UnknownSignatureVersion(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_versions_read_v3_and_v2_in_any_case_and_nothing_else() {
        for (text, version) in [
            ("v3", SignatureVersion::V3),
            ("V3", SignatureVersion::V3),
            ("v2", SignatureVersion::V2),
            (" V2 ", SignatureVersion::V2),
        ] {
            assert_eq!(text.parse::<SignatureVersion>(), Ok(version), "{text}");
        }
        for bad in ["", "3", "v1", "v4", "hmac-sha1", "ACS3-HMAC-SHA256"] {
            assert!(bad.parse::<SignatureVersion>().is_err(), "{bad}");
        }
        assert_eq!(SignatureVersion::default(), SignatureVersion::V3);
    }

    #[test]
    fn percent_encoding_matches_the_reference_table() {
        let table = [
            ("~", "~"),
            ("-_.", "-_."),
            ("*", "%2A"),
            ("+", "%2B"),
            (" ", "%20"),
            ("/", "%2F"),
            (":", "%3A"),
            ("=", "%3D"),
            ("&", "%26"),
            ("%", "%25"),
            ("!'()", "%21%27%28%29"),
            ("é", "%C3%A9"),
            ("恢", "%E6%81%A2"),
        ];
        for (raw, encoded) in table {
            assert_eq!(percent_encode(raw), encoded, "encoding {raw:?}");
        }
    }

    #[test]
    fn byte_order_sorts_rule_id_10_before_2() {
        let mut p = Params::new();
        for i in [1, 2, 10, 11] {
            p.insert(format!("SecurityGroupRuleId.{i}").into(), i.to_string());
        }
        let names: Vec<_> = p.keys().map(|n| n.as_ref()).collect();
        assert_eq!(
            names,
            [
                "SecurityGroupRuleId.1",
                "SecurityGroupRuleId.10",
                "SecurityGroupRuleId.11",
                "SecurityGroupRuleId.2"
            ]
        );
    }

    #[test]
    fn timestamps_have_no_fractional_seconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_714_550_400_123);
        assert_eq!(format_timestamp(t), "2024-05-01T08:00:00Z");
    }

    /// `write_signed_query` must send exactly what the map-based functions (the ones the
    /// emulator and the test vectors use) would.
    #[test]
    fn the_streaming_signer_matches_add_common_params_then_signed_query() {
        let with_token = Credentials::new("STS.id", "sek/ret+=", Some("CAIS+tok/en==".into()));
        let without = Credentials::new("LTAI-id", "secret", None);
        let mut clashing = Params::new();
        clashing.insert("Action".into(), "Overwritten".into());
        clashing.insert("Signature".into(), "never sent".into());
        clashing.insert("SecurityToken".into(), "user's own".into());
        let mut varied = Params::new();
        varied.insert("Description".into(), "恢复 * ~ 'quoted' a+b=c&d".into());
        for i in [1, 2, 10] {
            varied.insert(
                format!("SecurityGroupRuleId.{i}").into(),
                format!("sgr-{i}"),
            );
        }
        varied.insert("A".into(), String::new());
        for creds in [&with_token, &without] {
            for params in [Params::new(), clashing.clone(), varied.clone()] {
                let mut expected = params.clone();
                add_common_params(
                    &mut expected,
                    "Act",
                    "2014-05-26",
                    creds,
                    "n-1",
                    "2024-05-01T08:00:00Z",
                );
                let expected = signed_query("POST", &expected, creds.access_key_secret.expose());
                let common =
                    CommonParams::new("Act", "2014-05-26", creds, "n-1", "2024-05-01T08:00:00Z");
                let mut got = String::from("https://h/?");
                write_signed_query(
                    &mut got,
                    "POST",
                    &params,
                    &common,
                    creds.access_key_secret.expose(),
                );
                assert_eq!(got, format!("https://h/?{expected}"), "{params:?}");
            }
        }
    }

    #[test]
    fn a_secret_longer_than_the_stack_key_signs_the_same() {
        let long = "k".repeat(300);
        let mut mac = Hmac::<Sha1>::new_from_slice(format!("{long}&").as_bytes()).unwrap();
        mac.update(b"POST&%2F&x");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(signature(&long, "POST&%2F&x"), expected);
    }

    #[test]
    fn percent_encoding_appends_and_keeps_multibyte_characters_whole() {
        let mut out = String::from("x=");
        percent_encode_into(&mut out, "a恢b é~");
        assert_eq!(out, "x=a%E6%81%A2b%20%C3%A9~");
    }

    #[test]
    fn the_stack_timestamp_is_the_formatted_one() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_799);
        assert_eq!(Timestamp::new(t).as_str(), "9999-12-31T23:59:59Z");
    }
}

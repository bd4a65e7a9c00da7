//! RPC-style request signing: `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`.
//!
//! Both the client and the emulator use these functions, so the emulator recomputes a signature
//! exactly the way the real gateway does: decode the parameters, sort them by name in byte
//! order, percent-encode (RFC 3986 unreserved set, space as `%20`, `*` as `%2A`), encode the
//! canonical string a second time inside the string-to-sign, and HMAC-SHA1 with `secret + "&"`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::credentials::Credentials;

/// Parameters of one request, sorted by name in byte order (what `BTreeMap<String, _>` does).
pub type Params = BTreeMap<String, String>;

/// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~`, in upper-case hex.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
        }
    }
    out
}

/// `name=value&…` with both sides percent-encoded, in byte order of the raw names.
/// `Signature` is never part of it.
pub fn canonical_query(params: &Params) -> String {
    let mut out = String::new();
    for (name, value) in params.iter().filter(|(n, _)| n.as_str() != "Signature") {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(name));
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

/// `METHOD&%2F&percentEncode(canonical)`: the canonical string is encoded a second time.
pub fn string_to_sign(method: &str, canonical_query: &str) -> String {
    format!("{method}&%2F&{}", percent_encode(canonical_query))
}

/// Base64 of HMAC-SHA1 keyed with the raw secret followed by `&`.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{access_key_secret}&").as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// UTC `yyyy-MM-ddTHH:mm:ssZ`, with no fractional seconds.
pub fn format_timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
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
    params.insert("Action".into(), action.into());
    params.insert("Version".into(), version.into());
    params.insert("Format".into(), "JSON".into());
    params.insert("AccessKeyId".into(), credentials.access_key_id.clone());
    params.insert("SignatureMethod".into(), "HMAC-SHA1".into());
    params.insert("SignatureVersion".into(), "1.0".into());
    params.insert("SignatureNonce".into(), nonce.into());
    params.insert("Timestamp".into(), timestamp.into());
    if let Some(token) = &credentials.security_token {
        params.insert("SecurityToken".into(), token.expose().into());
    }
}

/// Signs `params` for `method` and returns the query string to send:
/// the canonical query followed by `&Signature=…`.
pub fn signed_query(method: &str, params: &Params, access_key_secret: &str) -> String {
    let canonical = canonical_query(params);
    let sig = signature(access_key_secret, &string_to_sign(method, &canonical));
    format!("{canonical}&Signature={}", percent_encode(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            p.insert(format!("SecurityGroupRuleId.{i}"), i.to_string());
        }
        let names: Vec<_> = p.keys().map(String::as_str).collect();
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
}

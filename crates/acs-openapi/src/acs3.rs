//! Signature V3, `ACS3-HMAC-SHA256`: the signing the official SDKs use by default and Alibaba
//! Cloud's signature documentation asks V2 users to switch to
//! (<https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>).
//!
//! Both the client and the emulator use these functions, as with V2:
//!
//! 1. The canonical request is six lines joined by `\n`: the method, the canonical URI (`/` for
//!    RPC), the canonical query (names and values percent-encoded as in V2, sorted by name in
//!    byte order), the canonical headers (`name:value\n` for every signed header, names in lower
//!    case, values trimmed, sorted by name, so an empty line follows the block), the signed
//!    header names `;`-joined, and the hashed payload (lower-case hex SHA-256 of the body, the
//!    value of `x-acs-content-sha256`).
//! 2. `StringToSign = "ACS3-HMAC-SHA256\n" + hex(SHA-256(canonical request))`.
//! 3. `Signature = hex(HMAC-SHA256(key = the raw AccessKeySecret, StringToSign))` (no `&`).
//! 4. `Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>`.
//!
//! Where an RPC call's parameters travel: in the URL query, with an empty body, as the official
//! SDKs send them under V3 (alibabacloud-tea-openapi 0.4.6 `Client.do_request` keeps the API's
//! `query` in the URL and sends a body only for parameters the API's model puts in the body; the
//! ECS, Config and STS models put every parameter of the calls this project makes in `query`).
//! `Action`, `Version` and the other common parameters travel as `x-acs-*` headers instead.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::signing::Params;

/// The `Authorization` scheme and the first line of the string-to-sign.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// `x-acs-content-sha256` of an empty body (every RPC call this client makes).
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The names of the headers a request signs, in name order (as [`CommonHeaders::signed`] lists
/// them).
pub mod header {
    /// `host`.
    pub const HOST: &str = "host";
    /// `x-acs-action`.
    pub const ACTION: &str = "x-acs-action";
    /// `x-acs-content-sha256`.
    pub const CONTENT_SHA256: &str = "x-acs-content-sha256";
    /// `x-acs-date`.
    pub const DATE: &str = "x-acs-date";
    /// `x-acs-security-token`.
    pub const SECURITY_TOKEN: &str = "x-acs-security-token";
    /// `x-acs-signature-nonce`.
    pub const SIGNATURE_NONCE: &str = "x-acs-signature-nonce";
    /// `x-acs-version`.
    pub const VERSION: &str = "x-acs-version";
}

/// The signed headers of a request as the emulator reads them back: lower-case names to trimmed
/// values, in name order (what a `BTreeMap<String, _>` keeps).
pub type SignedHeaders = BTreeMap<String, String>;

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends `bytes` in lower-case hex to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// The hashed payload: lower-case hex SHA-256 of `body`.
pub fn hashed_payload(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// `name=value&…`, both sides percent-encoded (RFC 3986 unreserved set, as V2), in byte order of
/// the raw names; empty when there are no parameters.
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(
    params: impl IntoIterator<Item = (K, V)> + Clone,
) -> String {
    // V2's canonical query is the same encoding and order; it leaves out only `Signature`, a V2
    // parameter a V3 request never carries.
    crate::signing::canonical_query(params)
}

/// The signed header names, `;`-joined in name order.
///
/// Every function here that takes a request's signed headers takes them as `(name, value)`
/// pairs already in name order: a [`SignedHeaders`] map (`&map`) or [`CommonHeaders::signed`].
pub fn signed_header_names<K: AsRef<str>, V>(headers: impl IntoIterator<Item = (K, V)>) -> String {
    let mut out = String::with_capacity(160);
    push_names(&mut out, headers);
    out
}

fn push_names<K: AsRef<str>, V>(out: &mut String, headers: impl IntoIterator<Item = (K, V)>) {
    for (i, (name, _)) in headers.into_iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name.as_ref());
    }
}

/// The canonical request of an RPC call (canonical URI `/`).
pub fn canonical_request<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    canonical_query: &str,
    headers: impl IntoIterator<Item = (K, V)> + Clone,
    hashed_payload: &str,
) -> String {
    let mut out = String::with_capacity(512 + canonical_query.len());
    out.push_str(method);
    out.push_str("\n/\n");
    out.push_str(canonical_query);
    out.push('\n');
    for (name, value) in headers.clone() {
        out.push_str(name.as_ref());
        out.push(':');
        out.push_str(value.as_ref().trim());
        out.push('\n');
    }
    out.push('\n');
    push_names(&mut out, headers);
    out.push('\n');
    out.push_str(hashed_payload);
    out
}

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    let mut out = String::with_capacity(ALGORITHM.len() + 1 + 64);
    out.push_str(ALGORITHM);
    out.push('\n');
    push_hex(&mut out, &Sha256::digest(canonical_request.as_bytes()));
    out
}

/// Lower-case hex HMAC-SHA256 keyed with the raw secret.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(access_key_secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The `Authorization` header's value.
pub fn authorization<K: AsRef<str>, V>(
    access_key_id: &str,
    headers: impl IntoIterator<Item = (K, V)>,
    signature: &str,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(ALGORITHM);
    out.push_str(" Credential=");
    out.push_str(access_key_id);
    out.push_str(",SignedHeaders=");
    push_names(&mut out, headers);
    out.push_str(",Signature=");
    out.push_str(signature);
    out
}

/// An `Authorization` header's parts, as the emulator reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// `Credential=`: the AccessKeyId.
    pub credential: &'a str,
    /// `SignedHeaders=`, split on `;`, as sent.
    pub signed_headers: Vec<&'a str>,
    /// `Signature=`: lower-case hex.
    pub signature: &'a str,
}

impl<'a> Authorization<'a> {
    /// Reads `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`: `None` for another
    /// scheme; `Some(Err(part))` naming the first part missing or empty.
    pub fn parse(value: &'a str) -> Option<Result<Authorization<'a>, &'static str>> {
        let rest = value.trim().strip_prefix(ALGORITHM)?;
        if !rest.starts_with(' ') {
            return None;
        }
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.trim().split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let credential = match credential {
            Some(c) if !c.is_empty() => c,
            _ => return Some(Err("Credential")),
        };
        let signed_headers = match signed {
            Some(s) if !s.is_empty() => s.split(';').collect(),
            _ => return Some(Err("SignedHeaders")),
        };
        let signature = match signature {
            Some(s) if !s.is_empty() => s,
            _ => return Some(Err("Signature")),
        };
        Some(Ok(Authorization {
            credential,
            signed_headers,
            signature,
        }))
    }
}

/// The `x-acs-*` values of one attempt, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct CommonHeaders<'a> {
    /// `host`: the endpoint's authority, exactly as the request's `Host` header carries it.
    pub host: &'a str,
    /// `x-acs-action`.
    pub action: &'a str,
    /// `x-acs-version`.
    pub version: &'a str,
    /// `x-acs-date`, UTC `yyyy-MM-ddTHH:mm:ssZ`.
    pub date: &'a str,
    /// `x-acs-signature-nonce`, fresh per attempt.
    pub nonce: &'a str,
    /// `x-acs-security-token`, with STS credentials.
    pub security_token: Option<&'a str>,
}

impl<'a> CommonHeaders<'a> {
    /// Every header the request signs (all it sends but `Authorization` and transport headers),
    /// for an empty body: `(lower-case name, value)` in name order, the order the canonical
    /// request lists them in. The names are constants, so the request can send them as they are.
    pub fn signed(&self) -> impl Iterator<Item = (&'static str, &'a str)> + Clone {
        [
            Some((header::HOST, self.host)),
            Some((header::ACTION, self.action)),
            Some((header::CONTENT_SHA256, EMPTY_PAYLOAD_SHA256)),
            Some((header::DATE, self.date)),
            self.security_token.map(|t| (header::SECURITY_TOKEN, t)),
            Some((header::SIGNATURE_NONCE, self.nonce)),
            Some((header::VERSION, self.version)),
        ]
        .into_iter()
        .flatten()
    }
}

/// One V3-signed RPC `POST` with an empty body: the query to send after `/?` (empty when there
/// are no parameters) and the `Authorization` header to send beside [`CommonHeaders::signed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The canonical query, sent as it is.
    pub query: String,
    /// The `Authorization` header's value.
    pub authorization: String,
}

/// Signs a `POST` of `params` (in the query, empty body) with `common`.
pub fn sign_post(
    params: &Params,
    common: &CommonHeaders<'_>,
    access_key_id: &str,
    access_key_secret: &str,
) -> Signed {
    let query = canonical_query(params);
    let request = canonical_request("POST", &query, common.signed(), EMPTY_PAYLOAD_SHA256);
    let signature = signature(access_key_secret, &string_to_sign(&request));
    Signed {
        authorization: authorization(access_key_id, common.signed(), &signature),
        query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_payload_hash_is_the_sha256_of_nothing() {
        assert_eq!(hashed_payload(b""), EMPTY_PAYLOAD_SHA256);
    }

    #[test]
    fn an_authorization_header_reads_back_into_its_parts() {
        let value = "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host;x-acs-date,Signature=ab12";
        let parsed = Authorization::parse(value).unwrap().unwrap();
        assert_eq!(parsed.credential, "id");
        assert_eq!(parsed.signed_headers, ["host", "x-acs-date"]);
        assert_eq!(parsed.signature, "ab12");
    }

    #[test]
    fn an_authorization_header_missing_a_part_names_it() {
        let cases = [
            (
                "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=ab",
                "Credential",
            ),
            (
                "ACS3-HMAC-SHA256 Credential=id,Signature=ab",
                "SignedHeaders",
            ),
            (
                "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host",
                "Signature",
            ),
            (
                "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=a",
                "Credential",
            ),
        ];
        for (value, part) in cases {
            assert_eq!(Authorization::parse(value), Some(Err(part)), "{value}");
        }
    }

    #[test]
    fn another_scheme_is_not_read_as_v3() {
        assert_eq!(Authorization::parse("Bearer abc"), None);
        assert_eq!(Authorization::parse("ACS3-HMAC-SHA256x Credential=a"), None);
    }

    #[test]
    fn the_security_token_is_signed_only_when_there_is_one() {
        let mut common = CommonHeaders {
            host: "h",
            action: "A",
            version: "v",
            date: "d",
            nonce: "n",
            security_token: None,
        };
        assert!(!common
            .signed()
            .any(|(name, _)| name == "x-acs-security-token"));
        common.security_token = Some("t");
        assert!(common.signed().any(|h| h == ("x-acs-security-token", "t")));
    }

    #[test]
    fn the_common_headers_come_in_name_order_without_repeats() {
        let common = CommonHeaders {
            host: "h",
            action: "A",
            version: "v",
            date: "d",
            nonce: "n",
            security_token: Some("t"),
        };
        let names: Vec<&str> = common.signed().map(|(name, _)| name).collect();
        assert_eq!(names.len(), 7);
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
    }

    #[test]
    fn a_signed_post_verifies_with_the_same_functions() {
        let mut params = Params::new();
        params.insert("RegionId".into(), "cn-hangzhou".into());
        params.insert("Description".into(), "a b*c~".into());
        let common = CommonHeaders {
            host: "ecs.cn-hangzhou.aliyuncs.com",
            action: "DescribeSecurityGroupAttribute",
            version: "2014-05-26",
            date: "2024-05-01T08:00:00Z",
            nonce: "n-1",
            security_token: Some("tok+/="),
        };
        let signed = sign_post(&params, &common, "STS.id", "secret");
        assert_eq!(signed.query, "Description=a%20b%2Ac~&RegionId=cn-hangzhou");
        let headers: SignedHeaders = common
            .signed()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let parsed = Authorization::parse(&signed.authorization)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.credential, "STS.id");
        assert_eq!(
            parsed.signed_headers.join(";"),
            signed_header_names(&headers)
        );
        let request = canonical_request("POST", &signed.query, &headers, EMPTY_PAYLOAD_SHA256);
        assert_eq!(
            parsed.signature,
            signature("secret", &string_to_sign(&request))
        );
    }
}

//! The wire edge: percent-decoding of query strings and form bodies, the error type every
//! action returns, and redaction of security tokens from anything that leaves the emulator.

use std::collections::BTreeMap;

use acs_openapi::signing::percent_encode;

/// An API error answer: HTTP status, `Code` and `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// `MissingParameter` (400), used for every absent mandatory parameter.
    pub(crate) fn missing(name: &str) -> ApiError {
        ApiError::new(
            400,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    /// `InvalidParameter.<Name>` (400), for a bad value with no more specific documented code.
    pub(crate) fn invalid(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            400,
            &format!("InvalidParameter.{name}"),
            format!("The specified parameter \"{name}\" is not valid: {why}"),
        )
    }
}

/// Which decoding rules apply: `+` is a space only in form bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Query,
    Form,
}

/// Decodes `%XY` sequences (and `+` in forms). Malformed escapes and non-UTF-8 results are
/// errors: the real gateway could not have signed what it could not decode.
pub(crate) fn percent_decode(raw: &str, encoding: Encoding) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(format!("malformed percent-escape in {raw:?}"));
                };
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            b'+' if encoding == Encoding::Form => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{raw:?} does not decode to UTF-8"))
}

/// Adds the `name=value` pairs of `raw` to `params`. A name given twice (in the query, or in
/// both query and body) is refused: which one would the signature cover?
pub(crate) fn parse_pairs(
    raw: &str,
    encoding: Encoding,
    params: &mut BTreeMap<String, String>,
) -> Result<(), ApiError> {
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name, encoding).map_err(|e| ApiError::invalid("Query", e))?;
        let value = percent_decode(value, encoding).map_err(|e| ApiError::invalid("Query", e))?;
        if name.is_empty() {
            return Err(ApiError::invalid("Query", "a parameter has an empty name"));
        }
        if params.contains_key(&name) {
            return Err(ApiError::invalid(
                "Query",
                format!("parameter {name} is given more than once"),
            ));
        }
        params.insert(name, value);
    }
    Ok(())
}

/// Replaces every form of `token` (raw, percent-encoded once and twice) with `***`.
pub(crate) fn redact(text: &str, token: Option<&str>) -> String {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return text.to_string();
    };
    let once = percent_encode(token);
    let twice = percent_encode(&once);
    text.replace(&twice, "***")
        .replace(&once, "***")
        .replace(token, "***")
}

/// An upper-case UUID, like the real `RequestId`.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// `n` random characters from `alphabet`, from v4 UUID randomness.
pub(crate) fn random_chars(n: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == n {
                break;
            }
            out.push(alphabet[*b as usize % alphabet.len()] as char);
        }
    }
    out
}

pub(crate) const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_literal_in_queries_and_a_space_in_forms() {
        assert_eq!(percent_decode("a+b%20c", Encoding::Query).unwrap(), "a+b c");
        assert_eq!(percent_decode("a+b%20c", Encoding::Form).unwrap(), "a b c");
    }

    #[test]
    fn utf8_sequences_decode() {
        assert_eq!(
            percent_decode("%E6%81%A2%C3%A9", Encoding::Query).unwrap(),
            "恢é"
        );
    }

    #[test]
    fn malformed_escapes_are_errors() {
        assert!(percent_decode("%G1", Encoding::Query).is_err());
        assert!(percent_decode("abc%2", Encoding::Query).is_err());
        assert!(percent_decode("%FF", Encoding::Query).is_err());
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let mut p = BTreeMap::new();
        assert!(parse_pairs("A=1&A=2", Encoding::Query, &mut p).is_err());
    }

    #[test]
    fn redaction_removes_raw_and_encoded_tokens() {
        let token = "CAIS+a/b==";
        let text = format!(
            "x {token} y {} z {}",
            percent_encode(token),
            percent_encode(&percent_encode(token))
        );
        let out = redact(&text, Some(token));
        assert_eq!(out, "x *** y *** z ***");
    }
}

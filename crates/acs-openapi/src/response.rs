//! How one HTTP answer is read: its request id, or the [`ApiError`] that an error body (or a
//! 200 carrying a `Code`, or an unreadable body) stands for.
//!
//! Every answer is read in **one pass** by serde's derived `Deserialize` into the type the
//! caller asks for (a [`Reply`]): the service's own members and, flattened in, the
//! [`Envelope`] (`RequestId`, `Code`, `Message`, `Recommend`). [`read_response`] then decides
//! from the envelope whether the answer is a success.
//!
//! Keys are PascalCase, as every RPC answer spells them; the envelope also takes the camelCase
//! spelling some gateways' error bodies use. A key repeated in one object makes the answer
//! unreadable (serde refuses a duplicate field): an ambiguous answer is never acted on.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;
use crate::json::{text, Object};
use crate::redact::Redactor;

/// The envelope of one answer: what tells a success from an error. Each member is read as text
/// (a number as JSON prints it; empty, `null` or compound as absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Envelope {
    /// `RequestId`.
    #[serde(
        rename = "RequestId",
        alias = "requestId",
        default,
        deserialize_with = "text"
    )]
    pub request_id: Option<String>,
    /// `Code`: present only on an error, whatever the HTTP status.
    #[serde(rename = "Code", alias = "code", default, deserialize_with = "text")]
    pub code: Option<String>,
    /// `Message`.
    #[serde(
        rename = "Message",
        alias = "message",
        default,
        deserialize_with = "text"
    )]
    pub message: Option<String>,
    /// `Recommend`: the diagnosis link of an error.
    #[serde(
        rename = "Recommend",
        alias = "recommend",
        default,
        deserialize_with = "text"
    )]
    pub recommend: Option<String>,
}

/// One answer as a service reads it: a derived `Deserialize` of the whole answer object, with
/// the [`Envelope`] flattened in (`#[serde(flatten)] envelope: Envelope`). The client judges
/// each attempt's answer by that envelope.
pub trait Reply: DeserializeOwned {
    /// Takes the envelope out of the answer read.
    fn envelope(&mut self) -> Envelope;
}

/// An answer read for its envelope alone (the rest is checked to be JSON and skipped).
impl Reply for Envelope {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(self)
    }
}

/// The body as UTF-8 text: JSON is UTF-8 (RFC 8259 §8.1), and reading from a validated `&str`
/// spares serde_json a validation of each string it meets.
fn utf8(body: &[u8]) -> Result<&str, serde_json::Error> {
    std::str::from_utf8(body).map_err(|e| {
        serde::de::Error::custom(format_args!("invalid UTF-8 at byte {}", e.valid_up_to()))
    })
}

impl Envelope {
    /// What the envelope says of an answer with HTTP `status`: the request id of a success, or
    /// the error it stands for. `header_request_id` is the `x-acs-request-id` header, used when
    /// the body has none.
    pub fn verdict(
        self,
        status: u16,
        header_request_id: Option<&str>,
        redactor: &Redactor,
    ) -> Result<Option<String>, ApiError> {
        // Every text of the answer is redacted and capped (a cloud's message can be any length
        // and may echo a token): the error is built only from what passed.
        let request_id = self
            .request_id
            .or_else(|| header_request_id.map(Into::into))
            .map(|id| redactor.redact(&id));
        if let Some(code) = self.code {
            return Err(ApiError::Service {
                status,
                code: redactor.redact(&code),
                message: redactor.redact(&self.message.unwrap_or_default()),
                request_id,
                recommend: self.recommend.map(|r| redactor.redact(&r)),
            });
        }
        if !(200..300).contains(&status) {
            return Err(ApiError::Service {
                status,
                code: format!("HTTP{status}"),
                message: "error status without an error code".into(),
                request_id,
                recommend: None,
            });
        }
        Ok(request_id)
    }
}

/// serde's message with the text of every quoted string replaced by `…`: a message about an
/// answer's shape names its keys and kinds, never a value (a value may be a secret).
fn without_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            out.push('…');
            let mut escaped = false;
            for c in chars.by_ref() {
                match c {
                    '"' if !escaped => break,
                    '\\' if !escaped => escaped = true,
                    _ => escaped = false,
                }
            }
            out.push('"');
        }
    }
    out
}

/// The `Decode` error of a body that could not be read as a `T`; it never quotes the body.
fn unreadable(status: u16, body: &[u8], e: &serde_json::Error) -> ApiError {
    let detail = if body.iter().all(u8::is_ascii_whitespace) {
        "empty body".to_string()
    } else if e.classify() == serde_json::error::Category::Data && std::str::from_utf8(body).is_ok()
    {
        // Well-formed JSON: of another type (every answer is an object), or an object of an
        // unexpected shape (a repeated key, a member of the wrong kind).
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            format!(
                "answer has an unexpected shape: {}",
                without_strings(&e.to_string())
            )
        } else {
            "body is not a JSON object".to_string()
        }
    } else {
        // A syntax error (serde_json names its place, not the text), or a body that is not
        // UTF-8 (which `utf8` reports as a `Data` error and falls through here).
        format!("body is not JSON ({e}; {} bytes)", body.len())
    };
    ApiError::Decode { status, detail }
}

/// Reads one HTTP response as a `T` (the service's answer with its envelope, in one pass): the
/// answer and the request id of a success, or the [`ApiError`] it stands for. A body that is
/// not one JSON object of `T`'s shape is a `Decode` error that does not quote it.
pub fn read_response<T: Reply>(
    status: u16,
    body: &[u8],
    header_request_id: Option<&str>,
    redactor: &Redactor,
) -> Result<(T, Option<String>), ApiError> {
    let Object(mut answer) = utf8(body)
        .and_then(serde_json::from_str::<Object<T>>)
        .map_err(|e| unreadable(status, body, &e))?;
    let request_id = answer
        .envelope()
        .verdict(status, header_request_id, redactor)?;
    Ok((answer, request_id))
}

/// Reads one HTTP response's envelope only: the request id of a success, or the [`ApiError`]
/// it stands for. The whole body is checked to be one JSON object.
pub fn parse_response(
    status: u16,
    body: &[u8],
    header_request_id: Option<&str>,
    redactor: &Redactor,
) -> Result<Option<String>, ApiError> {
    read_response::<Envelope>(status, body, header_request_id, redactor).map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;
    use crate::signing::percent_encode;

    fn no_secrets() -> Redactor<'static> {
        Redactor::default()
    }

    #[test]
    fn a_successful_body_without_a_request_id_takes_the_headers() {
        let request_id = parse_response(200, br#"{"X":1}"#, Some("H-2"), &no_secrets()).unwrap();
        assert_eq!(request_id.as_deref(), Some("H-2"));
    }

    #[test]
    fn an_error_body_becomes_a_service_error_with_all_its_fields() {
        let body = br#"{"RequestId":"R-1","HostId":"ecs.aliyuncs.com","Code":"InvalidOperation.NotSupportedEndpoint","Message":"wrong endpoint","Recommend":"https://api.aliyun.com/troubleshoot?q=x"}"#;
        let err = parse_response(400, body, None, &no_secrets()).unwrap_err();
        assert_eq!(
            err,
            ApiError::Service {
                status: 400,
                code: "InvalidOperation.NotSupportedEndpoint".into(),
                message: "wrong endpoint".into(),
                request_id: Some("R-1".into()),
                recommend: Some("https://api.aliyun.com/troubleshoot?q=x".into()),
            }
        );
        assert_eq!(err.request_id(), Some("R-1"));
        assert_eq!(err.code(), Some("InvalidOperation.NotSupportedEndpoint"));
    }

    #[test]
    fn a_200_with_a_top_level_code_is_an_error() {
        let body = br#"{"RequestId":"R-2","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#;
        let err = parse_response(200, body, None, &no_secrets()).unwrap_err();
        assert_eq!(err.code(), Some("Throttling.User"));
        assert_eq!(err.status(), Some(200));
        assert!(err.is_retryable());
    }

    #[test]
    fn a_successful_body_gives_its_request_id() {
        let request_id =
            parse_response(200, br#"{"RequestId":"R-3","X":1}"#, None, &no_secrets()).unwrap();
        assert_eq!(request_id.as_deref(), Some("R-3"));
    }

    #[test]
    fn json_that_is_not_one_object_is_a_decode_error() {
        for body in [
            &br#"[{"Code":"X"}]"#[..],
            b"\"text\"",
            b"12",
            b"null",
            br#"{"A":1} {"B":2}"#,
        ] {
            let err = parse_response(200, body, None, &no_secrets()).unwrap_err();
            assert!(
                matches!(err, ApiError::Decode { status: 200, .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_a_decode_error_that_does_not_quote_it() {
        let err =
            parse_response(200, b"{\"RequestId\":\"R\xff\"}", None, &no_secrets()).unwrap_err();
        match &err {
            ApiError::Decode { status, detail } => {
                assert_eq!(*status, 200);
                assert!(detail.contains("invalid UTF-8 at byte 15"), "{detail}");
            }
            other => panic!("expected Decode, got {other:?}"),
        }
    }

    #[test]
    fn a_repeated_key_makes_the_answer_unreadable_naming_the_key_not_its_values() {
        let body = br#"{"RequestId":"R-1","RequestId":"secret-ish"}"#;
        let err = parse_response(200, body, None, &no_secrets()).unwrap_err();
        let ApiError::Decode {
            status: 200,
            detail,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert!(detail.contains("duplicate field `RequestId`"), "{detail}");
        assert!(!detail.contains("secret-ish"), "{detail}");
    }

    #[test]
    fn a_shape_error_names_no_string_value() {
        assert_eq!(
            without_strings(r#"invalid type: string "sec\"ret", expected a rule at line 1"#),
            r#"invalid type: string "…", expected a rule at line 1"#
        );
    }

    #[test]
    fn a_syntax_error_deep_in_a_skipped_field_is_still_a_decode_error() {
        let body = br#"{"RequestId":"R","Permissions":{"Permission":[{"PortRange":"22/22",}]}}"#;
        let err = parse_response(200, body, None, &no_secrets()).unwrap_err();
        assert!(
            matches!(err, ApiError::Decode { status: 200, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_json_is_a_decode_error_that_does_not_quote_the_body() {
        let err = parse_response(200, b"<html>secret-ish</html>", None, &no_secrets()).unwrap_err();
        match &err {
            ApiError::Decode { status, detail } => {
                assert_eq!(*status, 200);
                assert!(!detail.contains("secret-ish"), "{detail}");
            }
            other => panic!("expected Decode, got {other:?}"),
        }
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_malformed_5xx_body_is_retryable() {
        let err = parse_response(502, b"Bad Gateway", None, &no_secrets()).unwrap_err();
        assert!(matches!(err, ApiError::Decode { status: 502, .. }));
        assert!(err.is_retryable());
    }

    #[test]
    fn an_error_status_without_a_code_is_still_an_error() {
        let err = parse_response(503, br#"{"RequestId":"R-4"}"#, None, &no_secrets()).unwrap_err();
        assert_eq!(err.status(), Some(503));
        assert_eq!(err.request_id(), Some("R-4"));
        assert!(err.is_retryable());
    }

    #[test]
    fn the_request_id_header_is_used_when_the_body_has_none() {
        let err = parse_response(
            400,
            br#"{"Code":"InvalidParameter","Message":"m"}"#,
            Some("H-1"),
            &no_secrets(),
        )
        .unwrap_err();
        assert_eq!(err.request_id(), Some("H-1"));
    }

    #[test]
    fn envelope_keys_are_read_in_camel_case_too() {
        let err = parse_response(
            400,
            br#"{"requestId":"r","code":"NoPermission","message":"m"}"#,
            None,
            &no_secrets(),
        )
        .unwrap_err();
        assert_eq!(err.code(), Some("NoPermission"));
        assert_eq!(err.request_id(), Some("r"));
    }

    #[test]
    fn the_security_token_is_redacted_from_a_signature_mismatch_in_every_encoding() {
        let token = "CAIS+gF1q6/d6/4W9Sh7==";
        let creds = Credentials::new("STS.id", "sek/ret+=0123456789", Some(token.into()));
        let once = percent_encode(token);
        let twice = percent_encode(&once);
        let message = format!(
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DSTS.id%26SecurityToken%3D{twice}%26Version%3D1 raw {token} once {once} lower {}",
            once.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")
        );
        let body = serde_json::json!({
            "RequestId": "R", "Code": "SignatureDoesNotMatch", "Message": message,
        })
        .to_string();
        let err = parse_response(400, body.as_bytes(), None, &Redactor::new(&creds)).unwrap_err();
        let printed = format!("{err} {err:?}");
        assert!(!printed.contains(token), "{printed}");
        assert!(!printed.contains(&once), "{printed}");
        assert!(!printed.contains(&twice), "{printed}");
        assert!(
            !printed.contains("6Sh7%3d%3d"),
            "lower-case escapes: {printed}"
        );
        assert!(!printed.contains("sek/ret+=0123"), "{printed}");
        assert!(printed.contains("server string to sign is"), "{printed}");
        assert!(printed.contains("AccessKeyId%3DSTS.id"), "{printed}");
    }

    #[test]
    fn a_long_cloud_message_is_capped_and_marked_as_cut() {
        let message = "m".repeat(20_000);
        let body = serde_json::json!({
            "RequestId": "R", "Code": "InternalError", "Message": message,
            "Recommend": "r".repeat(20_000),
        })
        .to_string();
        let err = parse_response(500, body.as_bytes(), None, &no_secrets()).unwrap_err();
        let ApiError::Service {
            message, recommend, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert!(
            message.len() <= crate::error::MAX_MESSAGE_BYTES + 32,
            "{}",
            message.len()
        );
        assert!(
            message.ends_with(&format!("…[cut, {} bytes]", 20_000 - 1024)),
            "{message}"
        );
        assert!(recommend.as_ref().unwrap().len() <= crate::error::MAX_MESSAGE_BYTES + 32);
    }
}

//! How one HTTP answer is read: the JSON body of a success, or the [`ApiError`] that an error
//! body (or a 200 carrying a `Code`, or an unreadable body) stands for.

use serde_json::Value;

use crate::error::ApiError;
use crate::json::text_field;
use crate::redact::Redactor;

/// Turns one HTTP response into the parsed body and its request id, or an [`ApiError`].
///
/// `header_request_id` is the `x-acs-request-id` header, used when the body has none.
pub fn parse_response(
    status: u16,
    body: &[u8],
    header_request_id: Option<&str>,
    redactor: &Redactor,
) -> Result<(Value, Option<String>), ApiError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Err(ApiError::Decode {
                status,
                detail: if body.iter().all(u8::is_ascii_whitespace) {
                    "empty body".to_string()
                } else {
                    format!("body is not JSON ({e}; {} bytes)", body.len())
                },
            })
        }
    };
    if !value.is_object() {
        return Err(ApiError::Decode {
            status,
            detail: "body is not a JSON object".into(),
        });
    }
    let request_id = text_field(&value, "RequestId").or_else(|| header_request_id.map(Into::into));
    let code = text_field(&value, "Code");
    if let Some(code) = code {
        return Err(ApiError::Service {
            status,
            code: redactor.redact(&code),
            message: redactor.redact(&text_field(&value, "Message").unwrap_or_default()),
            request_id,
            recommend: text_field(&value, "Recommend").map(|r| redactor.redact(&r)),
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
    Ok((value, request_id))
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
        let (_, request_id) =
            parse_response(200, br#"{"X":1}"#, Some("H-2"), &no_secrets()).unwrap();
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
    fn a_successful_body_is_returned_as_json() {
        let (v, request_id) =
            parse_response(200, br#"{"RequestId":"R-3","X":1}"#, None, &no_secrets()).unwrap();
        assert_eq!(v["X"], 1);
        assert_eq!(request_id.as_deref(), Some("R-3"));
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
    fn keys_are_read_case_insensitively_when_not_pascal_case() {
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
        let creds = Credentials::new("STS.id", "sek/ret+=", Some(token.into()));
        let once = percent_encode(token);
        let twice = percent_encode(&once);
        let message = format!(
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DSTS.id%26SecurityToken%3D{twice}%26Version%3D1 raw {token} once {once} lower {}",
            crate::redact::lower_hex_escapes(&once)
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
        assert!(!printed.contains("sek/ret+="), "{printed}");
        assert!(printed.contains("server string to sign is"), "{printed}");
        assert!(printed.contains("AccessKeyId%3DSTS.id"), "{printed}");
    }
}

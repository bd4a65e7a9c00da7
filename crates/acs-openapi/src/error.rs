//! The typed error of every OpenAPI call, how it is read from a response, and how secrets are
//! kept out of it.
//!
//! An error travels into log lines and into the function's response, so it is built only from
//! text that has been redacted: the gateway echoes its string-to-sign (which contains the
//! `SecurityToken`, encoded twice) in `SignatureDoesNotMatch` messages, and reqwest prints
//! request URLs (which contain the token, encoded once) in its errors.

use serde_json::Value;

use crate::credentials::Credentials;
use crate::signing::percent_encode;

/// Why a call produced no usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error body (any status, including a 200 carrying `Code`).
    #[error("{code} (HTTP {status}): {message}{}", request_id_suffix(request_id))]
    Service {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
        recommend: Option<String>,
    },
    /// No response arrived: connect failure, timeout, dropped connection.
    #[error("no response from the service: {0}")]
    Transport(String),
    /// A response arrived but could not be understood (malformed JSON, missing or mistyped
    /// fields, an unparseable rule). The detail never quotes the body.
    #[error("unreadable response (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
    /// The invocation's deadline (minus the safety margin) left no time for another attempt.
    #[error("deadline exceeded{}", last_suffix(last))]
    DeadlineExceeded { last: Option<Box<ApiError>> },
    /// The request was refused before sending: an endpoint that is not allowed, or parameters
    /// that cannot form a valid request (e.g. a rule to restore without exactly one source).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

fn request_id_suffix(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" [RequestId {id}]"))
        .unwrap_or_default()
}

fn last_suffix(last: &Option<Box<ApiError>>) -> String {
    last.as_ref()
        .map(|e| format!("; last error: {e}"))
        .unwrap_or_default()
}

/// How a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Flow control: back off longer (base 200 ms).
    Throttled,
    /// Server-side or network trouble: back off (base 100 ms).
    Transient,
    /// `SignatureNonceUsed`: retried once, with a fresh nonce.
    NonceReused,
    /// Retrying cannot help (signature, permission, not-found, parameter, token errors…).
    Never,
}

/// Codes that must never be retried whatever the HTTP status says: retrying a bad signature,
/// a missing permission or a bad parameter only burns the deadline and the rate limit.
fn never_retry_code(code: &str) -> bool {
    let exact = [
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingParameter",
        "InvalidParameter",
        "Forbidden",
        "Forbidden.RAM",
        "NoPermission",
        "MissingSecurityToken",
        "IllegalTimestamp",
        "IdempotentParameterMismatch",
    ];
    let prefixes = [
        "InvalidParameter.",
        "InvalidParam.",
        "MissingParameter.",
        "InvalidAccessKeyId.",
        "InvalidSecurityToken.",
        "InvalidTimeStamp.",
        "Forbidden.",
        "NoPermission.",
        "SignatureDoesNotMatch.",
    ];
    exact.contains(&code)
        || prefixes.iter().any(|p| code.starts_with(p))
        || code.ends_with(".NotFound")
        || code.contains("NotExist")
}

/// Flow control in all its spellings: `Throttling`, `Throttling.User`, `Throttling.Api`,
/// `Rejected.Throttling` (KMS and others)… Any code containing `Throttling` is throttling, as
/// in the official Terraform provider's retry rule (`NeedRetry` in
/// `aliyun/terraform-provider-alicloud`, `alicloud/common.go`).
fn is_throttling_code(code: &str) -> bool {
    code.contains("Throttling")
}

/// "Your previous call with this ClientToken is still being processed": ECS answers
/// `403 LastTokenProcessing` ("The last token request is processing", ECS error-code tables)
/// to a retry that arrives while the first attempt is still running; VPC-family APIs spell it
/// `OperationFailed.LastTokenProcessing`, and `OperationConflict` is the same family (the
/// official Terraform provider retries all three). The same request, same token, may succeed
/// later, and the first attempt may have applied.
fn is_in_progress_code(code: &str) -> bool {
    code == "LastTokenProcessing"
        || code.ends_with(".LastTokenProcessing")
        || code == "OperationConflict"
}

impl ApiError {
    /// The service's error code, if the service answered. For `DeadlineExceeded` this is the
    /// code of the last attempt (so `is_throttling()` tells "gave up while throttled");
    /// `request_id()` and `status()` see through it too, `is_not_found()` and
    /// `is_rule_not_found()` never do (a call that ran out of time proves nothing is gone).
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Service { code, .. } => Some(code),
            ApiError::DeadlineExceeded { last: Some(last) } => last.code(),
            _ => None,
        }
    }

    /// The request id of the failed call, when the service gave one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Service { request_id, .. } => request_id.as_deref(),
            ApiError::DeadlineExceeded { last: Some(last) } => last.request_id(),
            _ => None,
        }
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Service { status, .. } | ApiError::Decode { status, .. } => Some(*status),
            ApiError::DeadlineExceeded { last: Some(last) } => last.status(),
            _ => None,
        }
    }

    /// How (and whether) the attempt that produced this error may be retried.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            ApiError::Service { status, code, .. } => {
                if code == "SignatureNonceUsed" {
                    RetryClass::NonceReused
                } else if is_throttling_code(code) || is_in_progress_code(code) {
                    // An attempt still in progress is waited for like flow control: the
                    // longer backoff gives the first attempt time to finish.
                    RetryClass::Throttled
                } else if never_retry_code(code) {
                    RetryClass::Never
                } else if matches!(
                    code.as_str(),
                    "ServiceUnavailable" | "InternalError" | "UnknownError"
                ) || *status >= 500
                {
                    RetryClass::Transient
                } else {
                    RetryClass::Never
                }
            }
            ApiError::Transport(_) => RetryClass::Transient,
            ApiError::Decode { status, .. } if *status >= 500 => RetryClass::Transient,
            ApiError::Decode { .. }
            | ApiError::DeadlineExceeded { .. }
            | ApiError::InvalidRequest(_) => RetryClass::Never,
        }
    }

    /// Whether another attempt could succeed (throttling, 5xx, no response, a reused nonce).
    pub fn is_retryable(&self) -> bool {
        self.retry_class() != RetryClass::Never
    }

    /// Whether the service said the thing asked about does not exist.
    ///
    /// Credential codes such as `InvalidAccessKeyId.NotFound` are deliberately *not* "not
    /// found": a wrong key must never make a security group look deleted.
    pub fn is_not_found(&self) -> bool {
        let Some(code) = self.code() else {
            return false;
        };
        if matches!(self, ApiError::DeadlineExceeded { .. }) {
            return false;
        }
        if code.starts_with("InvalidAccessKeyId") || code.starts_with("InvalidSecurityToken") {
            return false;
        }
        matches!(
            code,
            "ResourceNotExists" | "ResourceNotExist" | "ResourceNotFound"
        ) || code.ends_with(".NotFound")
            || self.is_rule_not_found()
    }

    /// Whether RevokeSecurityGroup said one of the rule ids does not exist (any of the three
    /// documented spellings). The caller must re-describe: the fate of the batch's other ids
    /// is undocumented.
    pub fn is_rule_not_found(&self) -> bool {
        matches!(
            self,
            ApiError::Service { code, .. } if matches!(
                code.as_str(),
                "InvalidParam.SecurityGroupRuleId"
                    | "InvalidSecurityGroupRule.RuleNotExist"
                    | "InvalidSecurityGroupRuleId.NotFound"
            )
        )
    }

    /// Whether the security group belongs to a cloud product and rejects changes (403).
    pub fn is_managed_by_cloud_product(&self) -> bool {
        self.code() == Some("InvalidOperation.ResourceManagedByCloudProduct")
    }

    /// Whether this is flow control (any code containing `Throttling`).
    pub fn is_throttling(&self) -> bool {
        self.code().is_some_and(is_throttling_code)
    }

    /// Whether the service said an earlier attempt with the same ClientToken is still being
    /// processed (`LastTokenProcessing`, `OperationConflict`): that attempt may have applied.
    pub fn is_in_progress(&self) -> bool {
        self.code().is_some_and(is_in_progress_code)
    }

    /// Whether the deadline stopped the call.
    pub fn is_deadline_exceeded(&self) -> bool {
        matches!(self, ApiError::DeadlineExceeded { .. })
    }
}

/// Replaces every form of the credentials' secrets that a server or library might echo:
/// the raw value, percent-encoded once and twice (upper- and lower-case hex).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    forms: Vec<String>,
}

const REDACTED: &str = "***";

impl Redactor {
    pub fn new(credentials: &Credentials) -> Self {
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
        // Longest first, so a twice-encoded form is not half-replaced by a shorter one.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Redactor { forms }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), REDACTED);
            }
        }
        out
    }
}

/// `%2B` → `%2b`: some servers print escapes in lower case.
fn lower_hex_escapes(s: &str) -> String {
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

/// Looks a key up in a JSON object: the exact PascalCase name first, then any case.
pub fn field<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string or number field as text; empty strings and nulls count as absent.
pub fn text_field(obj: &Value, name: &str) -> Option<String> {
    match field(obj, name)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Turns one HTTP response into the parsed body or an [`ApiError`].
///
/// `header_request_id` is the `x-acs-request-id` header, used when the body has none.
pub fn parse_response(
    status: u16,
    body: &[u8],
    header_request_id: Option<&str>,
    redactor: &Redactor,
) -> Result<Value, ApiError> {
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
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_secrets() -> Redactor {
        Redactor::default()
    }

    fn service(status: u16, code: &str) -> ApiError {
        ApiError::Service {
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
            recommend: None,
        }
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
        let v = parse_response(200, br#"{"RequestId":"R-3","X":1}"#, None, &no_secrets()).unwrap();
        assert_eq!(v["X"], 1);
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
    fn retry_classification_table() {
        use RetryClass::*;
        let table = [
            (400, "Throttling", Throttled),
            (400, "Throttling.User", Throttled),
            (400, "Throttling.Api", Throttled),
            (503, "Throttling.Something.New", Throttled),
            (400, "Rejected.Throttling", Throttled),
            (429, "Throttling.Concurrent", Throttled),
            (403, "LastTokenProcessing", Throttled),
            (403, "OperationFailed.LastTokenProcessing", Throttled),
            (400, "OperationConflict", Throttled),
            (503, "ServiceUnavailable", Transient),
            (500, "InternalError", Transient),
            (500, "UnknownError", Transient),
            (502, "SomethingUnexpected", Transient),
            (400, "SignatureNonceUsed", NonceReused),
            (400, "SignatureDoesNotMatch", Never),
            (403, "SignatureDoesNotMatch", Never),
            (400, "IncompleteSignature", Never),
            (403, "Forbidden.RAM", Never),
            (403, "NoPermission", Never),
            (403, "Forbidden", Never),
            (404, "InvalidAccessKeyId.NotFound", Never),
            (400, "InvalidAccessKeyId.Inactive", Never),
            (400, "InvalidSecurityToken.Expired", Never),
            (400, "InvalidSecurityToken.Malformed", Never),
            (400, "MissingSecurityToken", Never),
            (400, "InvalidTimeStamp.Expired", Never),
            (400, "IllegalTimestamp", Never),
            (400, "MissingParameter", Never),
            (400, "InvalidParameter", Never),
            (400, "InvalidParameter.RoleArn", Never),
            (400, "InvalidParam.SecurityGroupRuleId", Never),
            (404, "InvalidSecurityGroupId.NotFound", Never),
            (400, "InvalidSecurityGroupRule.RuleNotExist", Never),
            (404, "EntityNotExist.Role", Never),
            (400, "IdempotentParameterMismatch", Never),
            (403, "InvalidOperation.ResourceManagedByCloudProduct", Never),
            // A 5xx never overrides a code that says retrying is pointless.
            (500, "InvalidParameter", Never),
        ];
        for (status, code, class) in table {
            assert_eq!(
                service(status, code).retry_class(),
                class,
                "{status} {code}"
            );
        }
        assert_eq!(
            ApiError::Transport("connection reset".into()).retry_class(),
            Transient
        );
        assert_eq!(
            ApiError::Decode {
                status: 200,
                detail: String::new()
            }
            .retry_class(),
            Never
        );
        assert_eq!(
            ApiError::DeadlineExceeded { last: None }.retry_class(),
            Never
        );
        assert_eq!(ApiError::InvalidRequest(String::new()).retry_class(), Never);
    }

    #[test]
    fn rule_not_found_covers_the_three_documented_codes() {
        for code in [
            "InvalidParam.SecurityGroupRuleId",
            "InvalidSecurityGroupRule.RuleNotExist",
            "InvalidSecurityGroupRuleId.NotFound",
        ] {
            assert!(service(400, code).is_rule_not_found(), "{code}");
            assert!(service(400, code).is_not_found(), "{code}");
        }
        assert!(!service(404, "InvalidSecurityGroupId.NotFound").is_rule_not_found());
    }

    #[test]
    fn every_spelling_of_throttling_is_throttling() {
        for code in [
            "Throttling",
            "Throttling.User",
            "Throttling.Api",
            "Rejected.Throttling",
        ] {
            assert!(service(400, code).is_throttling(), "{code}");
            assert!(!service(400, code).is_in_progress(), "{code}");
        }
        assert!(!service(400, "InvalidParameter").is_throttling());
    }

    #[test]
    fn a_token_still_processing_is_in_progress_not_throttling() {
        for code in [
            "LastTokenProcessing",
            "OperationFailed.LastTokenProcessing",
            "OperationConflict",
        ] {
            assert!(service(403, code).is_in_progress(), "{code}");
            assert!(!service(403, code).is_throttling(), "{code}");
            assert!(service(403, code).is_retryable(), "{code}");
        }
        assert!(!service(403, "Forbidden").is_in_progress());
    }

    #[test]
    fn a_missing_key_or_permission_is_never_not_found() {
        assert!(!service(404, "InvalidAccessKeyId.NotFound").is_not_found());
        assert!(!service(403, "NoPermission").is_not_found());
        assert!(!service(403, "InvalidOperation.ResourceManagedByCloudProduct").is_not_found());
        assert!(service(404, "InvalidSecurityGroupId.NotFound").is_not_found());
        assert!(service(404, "ResourceNotExists").is_not_found());
    }

    #[test]
    fn the_security_token_is_redacted_from_a_signature_mismatch_in_every_encoding() {
        let token = "CAIS+gF1q6/d6/4W9Sh7==";
        let creds = Credentials::new("STS.id", "sek/ret+=", Some(token.into()));
        let once = percent_encode(token);
        let twice = percent_encode(&once);
        let message = format!(
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DSTS.id%26SecurityToken%3D{twice}%26Version%3D1 raw {token} once {once} lower {}",
            lower_hex_escapes(&once)
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

    #[test]
    fn deadline_exceeded_exposes_the_last_errors_code() {
        let err = ApiError::DeadlineExceeded {
            last: Some(Box::new(service(400, "Throttling"))),
        };
        assert_eq!(err.code(), Some("Throttling"));
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("Throttling"));
    }
}

//! The typed error of every OpenAPI call and what it means for the caller: retry or not, gone
//! or not.
//!
//! An error travels into log lines and into the function's response, so it is built only from
//! redacted text ([`crate::redact`]); how an answer becomes an error is [`crate::response`].

/// Why a call produced no usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error body (any status, including a 200 carrying `Code`).
    #[error("{code} (HTTP {status}): {message}{}", request_id_suffix(request_id))]
    Service {
        /// The HTTP status of the error answer.
        status: u16,
        /// The service's error code (`Throttling`, `InvalidSecurityGroupId.NotFound`, …): what
        /// retry and "gone" decisions are made on.
        code: String,
        /// The service's own explanation, redacted.
        message: String,
        /// The `RequestId` to quote to Alibaba Cloud support.
        request_id: Option<String>,
        /// The service's `Recommend` link (a diagnosis page), when it sent one.
        recommend: Option<String>,
    },
    /// No response arrived: connect failure, timeout, dropped connection.
    #[error("no response from the service: {0}")]
    Transport(String),
    /// A response arrived but could not be understood (malformed JSON, missing or mistyped
    /// fields, an unparseable rule). The detail never quotes the body.
    #[error("unreadable response (HTTP {status}): {detail}")]
    Decode {
        /// The HTTP status of the unreadable answer.
        status: u16,
        /// What was wrong with it (never the body itself, which may echo a secret).
        detail: String,
    },
    /// The invocation's deadline (minus the safety margin) left no time for another attempt.
    #[error("deadline exceeded{}", last_suffix(last))]
    DeadlineExceeded {
        /// The error of the last attempt made, if any: why the time ran out.
        last: Option<Box<ApiError>>,
    },
    /// The request was refused before sending: an endpoint that is not allowed, or parameters
    /// that cannot form a valid request (e.g. a rule to restore without exactly one source).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// The most bytes of a cloud's text (an error message, code, request id, recommendation, a
/// transport error) an [`ApiError`] keeps: a thousand errors stay within a response's budget.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024;

/// `text` cut to [`MAX_MESSAGE_BYTES`] (see [`cut_to`]); unchanged when it fits.
pub(crate) fn cap_message(mut text: String) -> String {
    cut_to(&mut text, MAX_MESSAGE_BYTES);
    text
}

/// Cuts `text` to at most `keep` bytes, at a character boundary, and marks it
/// `…[cut, N bytes]` with the number of bytes cut off; leaves it alone when it fits. The one way
/// a text is shortened, for cloud messages here and for a report's reasons.
pub fn cut_to(text: &mut String, keep: usize) {
    if text.len() <= keep {
        return;
    }
    let mut end = keep;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("…[cut, {cut} bytes]"));
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

/// An endpoint that is not one cannot be called.
impl From<crate::endpoint::EndpointError> for ApiError {
    fn from(e: crate::endpoint::EndpointError) -> Self {
        ApiError::InvalidRequest(e.to_string())
    }
}

/// How a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryClass {
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
    /// A service error with only a status and a code (no message, request id or
    /// recommendation): what tests and classifications need.
    pub fn service(status: u16, code: impl Into<String>) -> ApiError {
        ApiError::Service {
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
            recommend: None,
        }
    }

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
    pub(crate) fn retry_class(&self) -> RetryClass {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
                ApiError::service(status, code).retry_class(),
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
            assert!(ApiError::service(400, code).is_rule_not_found(), "{code}");
            assert!(ApiError::service(400, code).is_not_found(), "{code}");
        }
        assert!(!ApiError::service(404, "InvalidSecurityGroupId.NotFound").is_rule_not_found());
    }

    #[test]
    fn every_spelling_of_throttling_is_throttling() {
        for code in [
            "Throttling",
            "Throttling.User",
            "Throttling.Api",
            "Rejected.Throttling",
        ] {
            assert!(ApiError::service(400, code).is_throttling(), "{code}");
            assert!(!ApiError::service(400, code).is_in_progress(), "{code}");
        }
        assert!(!ApiError::service(400, "InvalidParameter").is_throttling());
    }

    #[test]
    fn a_token_still_processing_is_in_progress_not_throttling() {
        for code in [
            "LastTokenProcessing",
            "OperationFailed.LastTokenProcessing",
            "OperationConflict",
        ] {
            assert!(ApiError::service(403, code).is_in_progress(), "{code}");
            assert!(!ApiError::service(403, code).is_throttling(), "{code}");
            assert!(ApiError::service(403, code).is_retryable(), "{code}");
        }
        assert!(!ApiError::service(403, "Forbidden").is_in_progress());
    }

    #[test]
    fn a_missing_key_or_permission_is_never_not_found() {
        assert!(!ApiError::service(404, "InvalidAccessKeyId.NotFound").is_not_found());
        assert!(!ApiError::service(403, "NoPermission").is_not_found());
        assert!(
            !ApiError::service(403, "InvalidOperation.ResourceManagedByCloudProduct")
                .is_not_found()
        );
        assert!(ApiError::service(404, "InvalidSecurityGroupId.NotFound").is_not_found());
        assert!(ApiError::service(404, "ResourceNotExists").is_not_found());
    }

    #[test]
    fn deadline_exceeded_exposes_the_last_errors_code() {
        let err = ApiError::DeadlineExceeded {
            last: Some(Box::new(ApiError::service(400, "Throttling"))),
        };
        assert_eq!(err.code(), Some("Throttling"));
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("Throttling"));
    }

    #[test]
    fn a_text_longer_than_the_cap_is_cut_at_a_character_and_marked() {
        assert_eq!(cap_message("short".into()), "short");
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let capped = cap_message(long.clone());
        assert!(capped.starts_with(&"é".repeat(MAX_MESSAGE_BYTES / 2)));
        assert!(capped.ends_with(&format!("…[cut, {} bytes]", long.len() - MAX_MESSAGE_BYTES)));
    }
}

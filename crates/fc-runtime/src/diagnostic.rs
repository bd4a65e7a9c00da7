//! [`Diagnostic`]: a failed invocation, as FC receives it.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// A failed invocation, answered as 404 + `x-fc-status: 404` with body
/// `{"errorType": …, "errorMessage": …}`.
///
/// [`Diagnostic::with_body`] adds a full JSON object (e.g. the remediation report) whose fields
/// appear at the top level next to `errorType` and `errorMessage`; those two keys always win
/// over same-named fields of the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    error_type: String,
    error_message: String,
    body: Option<Map<String, Value>>,
}

impl Diagnostic {
    /// A diagnostic with an error type (e.g. `InvalidEvent`) and a message for the operator.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Diagnostic {
            error_type: error_type.into(),
            error_message: error_message.into(),
            body: None,
        }
    }

    /// Attach a body. An object is merged at the top level; any other value is kept under
    /// `"body"` so nothing is lost.
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(match body {
            Value::Object(map) => map,
            other => Map::from_iter([("body".to_string(), other)]),
        });
        self
    }

    /// The `errorType`.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The `errorMessage`.
    pub fn error_message(&self) -> &str {
        &self.error_message
    }

    /// The attached body, if any.
    pub fn body(&self) -> Option<&Map<String, Value>> {
        self.body.as_ref()
    }

    /// The response body: the attached body plus `errorType` and `errorMessage`.
    pub fn to_json(&self) -> Value {
        let mut map = self.body.clone().unwrap_or_default();
        map.insert("errorType".into(), Value::String(self.error_type.clone()));
        map.insert(
            "errorMessage".into(),
            Value::String(self.error_message.clone()),
        );
        Value::Object(map)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

impl std::error::Error for Diagnostic {}

impl Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// A boxed error, like `lambda_runtime::Error`, for handlers that use `?` freely.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        match e.downcast::<Diagnostic>() {
            Ok(d) => *d,
            Err(e) => Diagnostic::new("HandlerError", e.to_string()),
        }
    }
}

impl From<String> for Diagnostic {
    fn from(message: String) -> Self {
        Diagnostic::new("HandlerError", message)
    }
}

impl From<&str> for Diagnostic {
    fn from(message: &str) -> Self {
        Diagnostic::new("HandlerError", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_body_is_merged_and_error_fields_win() {
        let d = Diagnostic::new("RemediationFailed", "1 resource failed")
            .with_body(serde_json::json!({"resources": [1], "errorType": "ignored"}));
        assert_eq!(
            d.to_json(),
            serde_json::json!({
                "resources": [1],
                "errorType": "RemediationFailed",
                "errorMessage": "1 resource failed"
            })
        );
    }

    #[test]
    fn a_non_object_body_is_kept_under_body() {
        let d = Diagnostic::new("T", "m").with_body(serde_json::json!([1, 2]));
        assert_eq!(d.to_json()["body"], serde_json::json!([1, 2]));
    }

    #[test]
    fn a_boxed_diagnostic_converts_back_unchanged() {
        let original = Diagnostic::new("Specific", "why");
        let boxed: Error = Box::new(original.clone());
        assert_eq!(Diagnostic::from(boxed), original);
    }

    #[test]
    fn any_other_error_becomes_a_handler_error() {
        let boxed: Error = "disk on fire".into();
        let d = Diagnostic::from(boxed);
        assert_eq!(
            (d.error_type(), d.error_message()),
            ("HandlerError", "disk on fire")
        );
    }
}

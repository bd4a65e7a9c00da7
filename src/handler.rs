//! The one bridge between the FC runtime and the remediation: an [`Event`] becomes the
//! remediation's [`Input`], and its [`Failure`] becomes the runtime's [`Diagnostic`] (the
//! `errorType`, `errorMessage` and report body of the function error).

use std::future::Future;
use std::sync::Arc;

use crate::remediation::{Answer, Failure, Input, Remediator};
use fc_runtime::{Context, Diagnostic, Event};

/// What the remediation needs of an invocation: the payload and the context's request id,
/// credentials, account, function name and deadline.
pub fn input(event: Event) -> Input {
    let Event { payload, context } = event;
    let Context {
        request_id,
        credentials,
        account_id,
        function_name,
        deadline,
        ..
    } = context;
    Input {
        payload,
        request_id,
        credentials: credentials.as_ref().map(client_credentials),
        account_id,
        function_name,
        deadline,
    }
}

/// FC's per-invocation credentials (the runtime's own type) as the OpenAPI client's. Building
/// them registers nothing: [`Remediator::run`] registers them with its scrubber.
pub fn client_credentials(fc: &fc_runtime::Credentials) -> acs_openapi::credentials::Credentials {
    acs_openapi::credentials::Credentials::new(
        fc.access_key_id.clone(),
        fc.access_key_secret.expose(),
        fc.security_token.as_ref().map(|t| t.expose().to_string()),
    )
}

/// The function error FC records for a failed invocation.
pub fn diagnostic(failure: Failure) -> Diagnostic {
    let d = Diagnostic::new(failure.kind.as_str(), failure.message);
    match failure.body {
        Some(body) => d.with_body(body),
        None => d,
    }
}

/// Handles one `/invoke`.
pub async fn handle(remediator: Arc<Remediator>, event: Event) -> Result<Answer, Diagnostic> {
    remediator.run(input(event)).await.map_err(diagnostic)
}

/// The function as the runtime's [`fc_runtime::Handler`]: each `/invoke` is [`handle`]d, and
/// every answer body (report, function error, panic message) goes through the remediator's
/// scrubber, which holds the invocations' own credentials and the cached assumed roles.
pub struct Function {
    remediator: Arc<Remediator>,
}

impl Function {
    /// The handler of `remediator`'s invocations.
    pub fn new(remediator: Arc<Remediator>) -> Self {
        Function { remediator }
    }
}

impl fc_runtime::Handler for Function {
    type Response = Answer;
    type Error = Diagnostic;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Answer, Diagnostic>> + Send>>;

    fn call(&self, event: Event) -> Self::Future {
        Box::pin(handle(Arc::clone(&self.remediator), event))
    }

    fn redact<'a>(&self, body: &'a str) -> std::borrow::Cow<'a, str> {
        self.remediator.scrubber().scrub(body)
    }
}

/// `remediator.handle(event)`: [`handle`] as a method, for callers that hold the remediator.
pub trait Handle {
    /// Handles one `/invoke`.
    fn handle(self, event: Event) -> impl Future<Output = Result<Answer, Diagnostic>> + Send;
}

impl Handle for Arc<Remediator> {
    fn handle(self, event: Event) -> impl Future<Output = Result<Answer, Diagnostic>> + Send {
        handle(self, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::FailureKind;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn the_input_carries_what_the_remediation_needs_of_the_context() {
        let mut context = Context::new("req-1", Duration::from_secs(5));
        context.account_id = Some("1".into());
        context.function_name = Some("f".into());
        let deadline = context.deadline;
        let input = input(Event {
            payload: bytes::Bytes::from_static(b"{}"),
            context,
        });
        assert_eq!(&input.payload[..], b"{}");
        assert_eq!(input.request_id, "req-1");
        assert_eq!(input.account_id.as_deref(), Some("1"));
        assert_eq!(input.function_name.as_deref(), Some("f"));
        assert_eq!(input.deadline, deadline);
        assert!(input.credentials.is_none());
    }

    #[test]
    fn a_failure_becomes_a_diagnostic_with_its_type_message_and_body() {
        let d = diagnostic(Failure {
            kind: FailureKind::RemediationFailed,
            message: "1 of 1 resources failed: sg-1".into(),
            body: Some(json!({"requestId": "r"})),
        });
        assert_eq!(d.error_type(), "RemediationFailed");
        assert_eq!(d.error_message(), "1 of 1 resources failed: sg-1");
        assert_eq!(d.body().unwrap()["requestId"], "r");
    }

    #[test]
    fn a_failure_without_body_becomes_a_diagnostic_without_body() {
        let d = diagnostic(Failure {
            kind: FailureKind::InvalidEvent,
            message: "bad".into(),
            body: None,
        });
        assert_eq!(d.error_type(), "InvalidEvent");
        assert!(d.body().is_none());
    }
}

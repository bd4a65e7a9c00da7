//! [`Handler`]: what the runtime calls for each invocation, and [`service_fn`], which makes one
//! from an async function (as `lambda_runtime::service_fn` does).

use std::borrow::Cow;
use std::future::Future;

use serde::Serialize;

use crate::context::Event;
use crate::diagnostic::Diagnostic;

/// An invocation handler. Implemented for closures by [`service_fn`].
pub trait Handler: Send + Sync + 'static {
    /// The success value, answered as 200 + JSON.
    type Response: Serialize + Send + 'static;
    /// The failure value, answered as 404 + [`Diagnostic`] JSON.
    type Error: Into<Diagnostic> + Send + 'static;
    /// The invocation's future; it runs in its own task, so a panic becomes an error answer.
    type Future: Future<Output = Result<Self::Response, Self::Error>> + Send + 'static;

    /// Handle one invocation.
    fn call(&self, event: Event) -> Self::Future;

    /// The last look at every answer body before it is sent (success, error, panic message):
    /// unchanged by default. The runtime cannot know which secrets a handler came to hold (its
    /// own STS credentials, roles it assumed, what a cloud echoed back), so a handler that holds
    /// any masks them here; see [`Handler::redact_with`].
    fn redact<'a>(&self, body: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(body)
    }

    /// This handler with every answer body passed through `redact` (e.g. a secret scrubber).
    fn redact_with(self, redact: fn(&str) -> Cow<'_, str>) -> Redacted<Self>
    where
        Self: Sized,
    {
        Redacted {
            handler: self,
            redact,
        }
    }
}

/// A [`Handler`] made from an async function; see [`service_fn`].
pub struct ServiceFn<F>(F);

/// Wrap `async fn(Event) -> Result<impl Serialize, impl Into<Diagnostic>>` as a [`Handler`].
pub fn service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn(f)
}

impl<F, Fut, R, E> Handler for ServiceFn<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: Into<Diagnostic> + Send + 'static,
{
    type Response = R;
    type Error = E;
    type Future = Fut;
    fn call(&self, event: Event) -> Fut {
        (self.0)(event)
    }
}

/// A handler whose answers pass through a redaction function; see [`Handler::redact_with`].
pub struct Redacted<H> {
    handler: H,
    redact: fn(&str) -> Cow<'_, str>,
}

impl<H: Handler> Handler for Redacted<H> {
    type Response = H::Response;
    type Error = H::Error;
    type Future = H::Future;
    fn call(&self, event: Event) -> H::Future {
        self.handler.call(event)
    }

    /// The inner handler's redaction first, then this one.
    fn redact<'a>(&self, body: &'a str) -> Cow<'a, str> {
        match self.handler.redact(body) {
            Cow::Borrowed(b) => (self.redact)(b),
            Cow::Owned(o) => Cow::Owned((self.redact)(&o).into_owned()),
        }
    }
}

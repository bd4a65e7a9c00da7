//! One invocation: its [`Event`] (payload and [`Context`]), and the context's parsing from FC's
//! `x-fc-*` request headers.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};

use crate::credentials::Credentials;
use crate::diagnostic::Diagnostic;
#[cfg(doc)]
use crate::options::DEFAULT_FUNCTION_TIMEOUT;

/// `x-fc-request-id` must match `[A-Za-z0-9._-]{1,128}`: it is printed in FC's log markers, so
/// anything else (spaces, newlines, "End") could forge them.
pub(crate) fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The invocation metadata FC sends in `x-fc-*` headers.
///
/// Only the request id is required; every other header may be missing, and an empty value
/// counts as missing (FC sends `""` for credentials when the function has no role).
/// `Debug` is safe to log: [`Credentials`] never prints its secret or token.
#[derive(Debug, Clone)]
pub struct Context {
    /// `x-fc-request-id`.
    pub request_id: String,
    /// `x-fc-access-key-id` + `x-fc-access-key-secret` (+ `x-fc-security-token`): the function
    /// role's STS credentials, from *this* request only. `None` when no role is configured (or
    /// only one half of the key pair was sent).
    pub credentials: Option<Credentials>,
    /// `x-fc-region`: the function's region.
    pub region: Option<String>,
    /// `x-fc-account-id`: the function owner's account UID.
    pub account_id: Option<String>,
    /// `x-fc-function-name`.
    pub function_name: Option<String>,
    /// `x-fc-qualifier`, e.g. `LATEST`.
    pub qualifier: Option<String>,
    /// `x-fc-function-memory` in MB, parsed leniently (`"1024"`, `"1024.0"`).
    pub memory_mb: Option<u32>,
    /// `x-fc-function-timeout`, else [`DEFAULT_FUNCTION_TIMEOUT`] (or the configured default).
    pub timeout: Duration,
    /// When the invocation must be finished: arrival + `timeout`.
    pub deadline: Instant,
    /// `x-fc-retry-count`: `0` on the first attempt, higher on FC's async retries.
    pub retry_count: Option<u32>,
}

impl Context {
    /// A context with only a request id and a deadline `timeout` from now: for callers that
    /// invoke a handler directly (tests, benches). Fill the public fields as needed.
    pub fn new(request_id: impl Into<String>, timeout: Duration) -> Context {
        let now = Instant::now();
        Context {
            request_id: request_id.into(),
            credentials: None,
            region: None,
            account_id: None,
            function_name: None,
            qualifier: None,
            memory_mb: None,
            timeout,
            deadline: now.checked_add(timeout).unwrap_or(now),
            retry_count: None,
        }
    }

    /// Build a context from request headers that arrived at `arrived`.
    ///
    /// Fails only when `x-fc-request-id` is missing, empty or not `[A-Za-z0-9._-]{1,128}`.
    pub fn from_headers(
        headers: &HeaderMap,
        arrived: Instant,
        default_timeout: Duration,
    ) -> Result<Context, Diagnostic> {
        let request_id =
            match headers.get("x-fc-request-id").map(HeaderValue::to_str) {
                Some(Ok(id)) if valid_request_id(id.trim()) => id.trim().to_string(),
                Some(Ok(id)) if !id.trim().is_empty() => return Err(Diagnostic::new(
                    "InvalidRequestId",
                    "the x-fc-request-id header must be 1 to 128 characters from A-Z a-z 0-9 . _ -",
                )),
                Some(Err(_)) => {
                    return Err(Diagnostic::new(
                        "InvalidRequestId",
                        "the x-fc-request-id header is not visible ASCII",
                    ))
                }
                _ => {
                    return Err(Diagnostic::new(
                        "MissingRequestId",
                        "the x-fc-request-id header is missing or empty; \
                     Function Compute always sends it, so this request did not come from FC",
                    ))
                }
            };
        let text = |name: &str| header_text(headers, name);
        let credentials = match (text("x-fc-access-key-id"), text("x-fc-access-key-secret")) {
            (Some(id), Some(secret)) => {
                Some(Credentials::new(id, secret, text("x-fc-security-token")))
            }
            (None, None) => None,
            (id, _) => {
                // Never log which secret value was sent, only which half is missing.
                tracing::warn!(
                    access_key_id_present = id.is_some(),
                    "incomplete credentials in the request headers; ignoring them"
                );
                None
            }
        };
        let timeout = text("x-fc-function-timeout")
            .and_then(|t| lenient_seconds(&t))
            .unwrap_or(default_timeout);
        Ok(Context {
            request_id,
            credentials,
            region: text("x-fc-region"),
            account_id: text("x-fc-account-id"),
            function_name: text("x-fc-function-name"),
            qualifier: text("x-fc-qualifier"),
            memory_mb: text("x-fc-function-memory").and_then(|m| lenient_u32(&m)),
            timeout,
            deadline: arrived.checked_add(timeout).unwrap_or(arrived),
            retry_count: text("x-fc-retry-count").and_then(|r| lenient_u32(&r)),
        })
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A header as text; missing, empty or non-ASCII counts as absent.
pub(crate) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `"1024"`, `" 1024 "`, `"1024.0"` → 1024; negative, fractional junk or overflow → `None`.
fn lenient_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    let f = s.parse::<f64>().ok()?;
    (f.is_finite() && f >= 0.0 && f <= f64::from(u32::MAX)).then(|| f.round() as u32)
}

/// Positive seconds (`"3"`, `"2.5"`); zero, negative or unparsable → `None`.
fn lenient_seconds(s: &str) -> Option<Duration> {
    let f = s.trim().parse::<f64>().ok()?;
    if !(f.is_finite() && f > 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(f).ok()
}

/// One invocation: the payload and its context. The runtime delivers `Event<Bytes>`, the raw
/// body exactly as given to InvokeFunction, so the handler can say precisely what is wrong with a
/// bad event (not UTF-8, not JSON, wrong shape).
#[derive(Debug, Clone)]
pub struct Event<P = Bytes> {
    /// The body as sent to InvokeFunction (for the runtime: the raw bytes).
    pub payload: P,
    /// The invocation's metadata and credentials.
    pub context: Context,
}

impl<P> Event<P> {
    /// Replace the payload (e.g. after parsing it), keeping the context.
    pub fn map_payload<Q>(self, f: impl FnOnce(P) -> Q) -> Event<Q> {
        Event {
            payload: f(self.payload),
            context: self.context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::DEFAULT_FUNCTION_TIMEOUT;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn memory_and_retry_count_are_parsed_leniently() {
        assert_eq!(lenient_u32("1024"), Some(1024));
        assert_eq!(lenient_u32(" 512 "), Some(512));
        assert_eq!(lenient_u32("1024.0"), Some(1024));
        assert_eq!(lenient_u32("-1"), None);
        assert_eq!(lenient_u32("lots"), None);
    }

    #[test]
    fn a_zero_or_unparsable_timeout_falls_back_to_the_default() {
        let now = Instant::now();
        for t in ["0", "-3", "soon", ""] {
            let c = Context::from_headers(
                &headers(&[("x-fc-request-id", "r"), ("x-fc-function-timeout", t)]),
                now,
                DEFAULT_FUNCTION_TIMEOUT,
            )
            .unwrap();
            assert_eq!(c.timeout, DEFAULT_FUNCTION_TIMEOUT, "timeout {t:?}");
            assert_eq!(c.deadline, now + DEFAULT_FUNCTION_TIMEOUT);
        }
    }

    #[test]
    fn the_deadline_is_arrival_plus_the_function_timeout() {
        let now = Instant::now();
        let c = Context::from_headers(
            &headers(&[("x-fc-request-id", "r"), ("x-fc-function-timeout", "3")]),
            now,
            DEFAULT_FUNCTION_TIMEOUT,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.deadline, now + Duration::from_secs(3));
    }

    #[test]
    fn half_a_key_pair_gives_no_credentials() {
        let c = Context::from_headers(
            &headers(&[("x-fc-request-id", "r"), ("x-fc-access-key-id", "STS.x")]),
            Instant::now(),
            DEFAULT_FUNCTION_TIMEOUT,
        )
        .unwrap();
        assert!(c.credentials.is_none());
    }

    #[test]
    fn request_ids_that_could_forge_a_log_marker_are_refused() {
        for id in ["a b", "x\tEnd", &"r".repeat(129)] {
            let e = Context::from_headers(
                &headers(&[("x-fc-request-id", id)]),
                Instant::now(),
                DEFAULT_FUNCTION_TIMEOUT,
            )
            .expect_err(id);
            assert_eq!(e.error_type(), "InvalidRequestId", "{id}");
        }
        assert!(valid_request_id("1-67adb489-15d49184-2d4fa002fa2b"));
    }
}

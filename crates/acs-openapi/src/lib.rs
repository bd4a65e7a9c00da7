//! The Alibaba Cloud OpenAPI client: RPC signing, transport and retries.
//!
//! One [`Client`] per process (it owns the connection pool). Every call is an RPC `POST` with
//! all signed parameters in the URL query and an empty body, as the official SDKs send them.
//! Each attempt gets a fresh `SignatureNonce` and `Timestamp` and is signed anew; retries are
//! bounded by attempts and by the invocation's deadline minus a safety margin, so the function
//! always has time left to answer.
//!
//! It knows nothing of security groups: the per-service calls live in the product.

pub mod credentials;
pub mod error;
pub mod retry;
pub mod signing;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

pub use error::{ApiError, Redactor, RetryClass};
pub use signing::Params;

use crate::credentials::Credentials;

/// Transport and retry settings. The defaults suit a function with a timeout of tens of seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// TCP + TLS handshake limit.
    pub connect_timeout: Duration,
    /// Limit for one attempt (further bounded by the time left before the cut-off).
    pub attempt_timeout: Duration,
    /// Attempts per call, the first included. At least 1.
    pub max_attempts: u32,
    /// Time kept in reserve before the invocation's deadline: no attempt starts and no backoff
    /// sleep ends after `deadline - deadline_margin`. A fixed duration (default 1.5 s) rather than
    /// a percentage, because what it protects — writing the report — takes a fixed time.
    pub deadline_margin: Duration,
    /// Whether `http://` endpoints are accepted. Only for explicitly configured endpoints such
    /// as the local emulator; bare host names always mean HTTPS.
    pub allow_http: bool,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            max_attempts: 5,
            deadline_margin: Duration::from_millis(1500),
            allow_http: false,
        }
    }
}

/// One RPC call: where, what, and the API's own parameters (the common ones are added).
#[derive(Debug, Clone)]
pub struct RpcRequest<'a> {
    /// A host name (`ecs.cn-hangzhou.aliyuncs.com`, meaning HTTPS) or a base URL
    /// (`https://…`, or `http://…` when the client allows it).
    pub endpoint: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub params: Params,
}

/// Who is calling and until when.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    pub credentials: &'a Credentials,
    /// The invocation's deadline; retries stop `deadline_margin` before it.
    pub deadline: Instant,
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcResponse {
    pub request_id: Option<String>,
    pub body: Value,
    /// Attempts it took, the successful one included.
    pub attempts: u32,
}

/// The outcome of a call with the errors of its retried attempts, oldest first (the final
/// error, if any, is in `result`, not repeated here).
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    pub result: Result<RpcResponse, ApiError>,
    pub earlier: Vec<ApiError>,
}

/// The OpenAPI client. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    settings: ClientSettings,
}

/// Bodies larger than this are refused: a DescribeSecurityGroupAttribute page of 1000 rules is
/// under 1 MiB.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A validated endpoint: scheme and authority, no path, query or credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
}

impl Endpoint {
    /// Accepts `host[:port]` (HTTPS), `https://host[:port][/]`, and `http://…` only when
    /// `allow_http` is set.
    pub fn parse(endpoint: &str, allow_http: bool) -> Result<Endpoint, ApiError> {
        let trimmed = endpoint.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((s, rest)) => (s.to_ascii_lowercase(), rest),
            None => ("https".to_string(), trimmed),
        };
        match scheme.as_str() {
            "https" => {}
            "http" if allow_http => {}
            "http" => {
                return Err(ApiError::InvalidRequest(format!(
                    "plain http endpoint {endpoint:?} refused: only explicitly allowed endpoints may skip TLS"
                )))
            }
            _ => {
                return Err(ApiError::InvalidRequest(format!(
                    "endpoint {endpoint:?} has an unsupported scheme"
                )))
            }
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let valid = !authority.is_empty()
            && authority.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !valid {
            return Err(ApiError::InvalidRequest(format!(
                "endpoint {endpoint:?} is not a host name with an optional port"
            )));
        }
        Ok(Endpoint {
            base: format!("{scheme}://{authority}/"),
        })
    }

    /// `scheme://authority/`.
    pub fn as_str(&self) -> &str {
        &self.base
    }
}

impl Client {
    pub fn new(settings: ClientSettings) -> Result<Client, ApiError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(!settings.allow_http)
            .connect_timeout(settings.connect_timeout)
            // An RPC endpoint never redirects; following one would send the signed query
            // (and its SecurityToken) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sg-remediator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::InvalidRequest(format!("HTTP client setup failed: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner { http, settings }),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// One RPC call with retries. `params` are the API's own parameters (common ones are added).
    pub async fn call(
        &self,
        req: &RpcRequest<'_>,
        cx: &CallContext<'_>,
    ) -> Result<RpcResponse, ApiError> {
        self.call_traced(req, cx).await.result
    }

    /// Like [`Client::call`], also returning the errors of the attempts that were retried: a
    /// write whose first attempt got no answer may have applied even if a later attempt was
    /// refused, and the report must show every error seen along the way.
    pub async fn call_traced(&self, req: &RpcRequest<'_>, cx: &CallContext<'_>) -> Traced {
        let mut earlier = Vec::new();
        let result = self.call_inner(req, cx, &mut earlier).await;
        Traced { result, earlier }
    }

    /// The retry loop. Each retried attempt's error is pushed to `earlier`; the error returned
    /// (directly or as a `DeadlineExceeded`'s `last`) is the last attempt's and is not pushed.
    async fn call_inner(
        &self,
        req: &RpcRequest<'_>,
        cx: &CallContext<'_>,
        earlier: &mut Vec<ApiError>,
    ) -> Result<RpcResponse, ApiError> {
        let settings = &self.inner.settings;
        let endpoint = Endpoint::parse(req.endpoint, settings.allow_http)?;
        let redactor = Redactor::new(cx.credentials);
        let cutoff = cx
            .deadline
            .checked_sub(settings.deadline_margin)
            .unwrap_or(cx.deadline);
        let max_attempts = settings.max_attempts.max(1);
        let mut nonce_retry_used = false;
        let mut attempt = 0u32;
        loop {
            let now = Instant::now();
            if now >= cutoff {
                return Err(ApiError::DeadlineExceeded {
                    last: earlier.pop().map(Box::new),
                });
            }
            attempt += 1;
            let timeout = settings.attempt_timeout.min(cutoff - now);
            let outcome = self
                .attempt(&endpoint, req, cx.credentials, &redactor, timeout)
                .await;
            let (err, retry_after) = match outcome {
                Ok((body, request_id)) => {
                    return Ok(RpcResponse {
                        request_id,
                        body,
                        attempts: attempt,
                    })
                }
                Err(failure) => failure,
            };
            let class = err.retry_class();
            tracing::debug!(
                action = req.action,
                attempt,
                code = err.code().unwrap_or(""),
                request_id = err.request_id().unwrap_or(""),
                error = %err,
                "attempt failed"
            );
            let retry = match class {
                RetryClass::Never => false,
                RetryClass::NonceReused => !std::mem::replace(&mut nonce_retry_used, true),
                RetryClass::Throttled | RetryClass::Transient => true,
            };
            if !retry || attempt >= max_attempts {
                return Err(err);
            }
            let now = Instant::now();
            if now >= cutoff {
                // The attempt itself ran into the cut-off (its timeout was bounded by it).
                return Err(ApiError::DeadlineExceeded {
                    last: Some(Box::new(err)),
                });
            }
            let computed = retry::backoff_delay(class, attempt - 1, retry::jitter_bits());
            match retry::sleep_before_retry(now, cutoff, computed, retry_after) {
                Some(delay) => {
                    earlier.push(err);
                    tokio::time::sleep(delay).await;
                }
                None => {
                    return Err(ApiError::DeadlineExceeded {
                        last: Some(Box::new(err)),
                    })
                }
            }
        }
    }

    /// One signed attempt. On failure also returns the server's `x-acs-retry-after` hint.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        req: &RpcRequest<'_>,
        credentials: &Credentials,
        redactor: &Redactor,
        timeout: Duration,
    ) -> Result<(Value, Option<String>), (ApiError, Option<Duration>)> {
        let mut params = req.params.clone();
        let nonce = uuid::Uuid::new_v4().to_string();
        let timestamp = signing::format_timestamp(SystemTime::now());
        signing::add_common_params(
            &mut params,
            req.action,
            req.version,
            credentials,
            &nonce,
            &timestamp,
        );
        let query = signing::signed_query("POST", &params, credentials.access_key_secret.expose());
        let url = format!("{}?{query}", endpoint.as_str());
        let transport = |e: reqwest::Error| (transport_error(e, redactor), None);
        let response = self
            .inner
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(Vec::<u8>::new())
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let header_request_id = header("x-acs-request-id");
        let retry_after = header("x-acs-retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        let body = read_body(response, redactor)
            .await
            .map_err(|e| (e, retry_after))?;
        match error::parse_response(status, &body, header_request_id.as_deref(), redactor) {
            Ok(value) => {
                let request_id = error::text_field(&value, "RequestId").or(header_request_id);
                Ok((value, request_id))
            }
            Err(e) => Err((e, retry_after)),
        }
    }
}

async fn read_body(
    mut response: reqwest::Response,
    redactor: &Redactor,
) -> Result<Vec<u8>, ApiError> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::Decode {
                        status,
                        detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            // The connection dropped mid-body: no usable response, so a transport error.
            Err(e) => return Err(transport_error(e, redactor)),
        }
    }
}

/// Describes a reqwest failure without its URL (which carries the signed query, including the
/// SecurityToken) and redacts whatever the source chain says.
fn transport_error(e: reqwest::Error, redactor: &Redactor) -> ApiError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut text = kind.to_string();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    ApiError::Transport(redactor.redact(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_means_https() {
        let e = Endpoint::parse("ecs.cn-hangzhou.aliyuncs.com", false).unwrap();
        assert_eq!(e.as_str(), "https://ecs.cn-hangzhou.aliyuncs.com/");
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let err = Endpoint::parse("http://127.0.0.1:8080", false).unwrap_err();
        assert!(matches!(err, ApiError::InvalidRequest(_)));
        let ok = Endpoint::parse("http://127.0.0.1:8080/", true).unwrap();
        assert_eq!(ok.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn endpoints_with_paths_queries_or_credentials_are_refused() {
        for bad in [
            "",
            "https://",
            "https://host/path",
            "https://host?x=1",
            "https://user@host",
            "ftp://host",
            "host name",
        ] {
            assert!(Endpoint::parse(bad, true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_are_bounded_and_https_only() {
        let s = ClientSettings::default();
        assert!(!s.allow_http);
        assert!(s.max_attempts >= 1);
        assert!(s.deadline_margin > Duration::ZERO);
    }

    #[tokio::test]
    async fn a_call_whose_deadline_already_passed_the_cutoff_sends_nothing() {
        let client = Client::new(ClientSettings {
            allow_http: true,
            ..ClientSettings::default()
        })
        .unwrap();
        let creds = Credentials::new("id", "secret", None);
        let req = RpcRequest {
            // Nothing listens here; reaching it would be a Transport error, not a deadline.
            endpoint: "http://127.0.0.1:9",
            action: "DescribeRegions",
            version: "2014-05-26",
            params: Params::new(),
        };
        let cx = CallContext {
            credentials: &creds,
            deadline: Instant::now() + Duration::from_millis(500),
        };
        let err = client.call(&req, &cx).await.unwrap_err();
        assert_eq!(err, ApiError::DeadlineExceeded { last: None });
    }
}

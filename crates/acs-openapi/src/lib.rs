//! The Alibaba Cloud OpenAPI client: RPC signing, transport and retries.
//!
//! One [`Client`] per process (it owns the connection pool). Every call is an RPC `POST` with
//! the API's parameters in the URL query and an empty body, as the official SDKs send them,
//! signed with V3 (`ACS3-HMAC-SHA256`: common parameters in `x-acs-*` headers and an
//! `Authorization` header; see [`acs3`]) unless the settings ask for V2 (`HMAC-SHA1`: every
//! parameter and the `Signature` in the query; see [`signing`]). Each attempt gets a fresh nonce
//! and date and is signed anew; retries are bounded by attempts and by the invocation's
//! deadline minus a safety margin, so the function always has time left to answer.
//!
//! It knows nothing of security groups: the per-service calls live in the product.

pub mod acs3;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod json;
pub mod redact;
pub mod response;
mod retry;
pub mod signing;
mod transport;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use endpoint::{Endpoint, EndpointError};
pub use error::ApiError;
use error::RetryClass;
pub use redact::Redactor;
pub use signing::{Params, SignatureVersion};

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
    /// Whether plain `http://` endpoints are accepted. Only for explicitly configured endpoints
    /// such as the local emulator.
    pub allow_http: bool,
    /// How calls are signed: V3 by default.
    pub signature_version: SignatureVersion,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            max_attempts: 5,
            deadline_margin: Duration::from_millis(1500),
            allow_http: false,
            signature_version: SignatureVersion::V3,
        }
    }
}

/// One RPC call: where, what, and the API's own parameters (the common ones are added).
#[derive(Debug, Clone)]
pub struct RpcRequest<'a> {
    /// Where to send it (`http://` only when the client allows it).
    pub endpoint: &'a Endpoint,
    /// The API action, e.g. `RevokeSecurityGroup`: a constant of the caller's API table, so
    /// its header is sent without a copy.
    pub action: &'static str,
    /// The API version the action belongs to, e.g. `2014-05-26` for ECS (a constant too).
    pub version: &'static str,
    /// The action's own parameters.
    pub params: Params,
}

/// Who is calling and until when.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The key that signs the call.
    pub credentials: &'a Credentials,
    /// The invocation's deadline; retries stop `deadline_margin` before it.
    pub deadline: Instant,
}

/// A successful answer, read as the caller asked (see [`Client::call`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    /// The `RequestId` the service returned, kept for the audit trail.
    pub request_id: Option<String>,
    /// The answer read (its envelope taken out).
    pub value: T,
    /// Attempts it took, the successful one included.
    pub attempts: u32,
}

/// The outcome of a call with the errors of its retried attempts, oldest first (the final
/// error, if any, is in `result`, not repeated here).
#[derive(Debug, Clone, PartialEq)]
pub struct Traced<T> {
    /// The last attempt's outcome.
    pub result: Result<Answer<T>, ApiError>,
    /// The retried attempts' errors, so a report can tell that a call was throttled before it
    /// succeeded or failed (a write whose first attempt got no answer may have applied even if
    /// a later attempt was refused). A caller that needs only the outcome takes `result`.
    pub earlier: Vec<ApiError>,
}

/// The OpenAPI client. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: transport::Transport,
    settings: ClientSettings,
}

impl Client {
    /// A client with its own connection pool. Fails if the TLS stack cannot be set up or a proxy
    /// variable is not a usable proxy URL (the error names the variable); refuses
    /// plain `http://` unless `settings.allow_http` (the emulator). Redirects are never followed
    /// (that would send the signed request, and its SecurityToken, to another host); `https://`
    /// endpoints go through the proxy `HTTPS_PROXY` / `ALL_PROXY` name unless `NO_PROXY` lists
    /// them (see the `transport` module).
    pub fn new(settings: ClientSettings) -> Result<Client, ApiError> {
        let http = transport::Transport::new(settings.connect_timeout, settings.allow_http)?;
        Ok(Client {
            inner: Arc::new(Inner { http, settings }),
        })
    }

    /// The settings the client was built with (timeouts, retry budget, whether `http://` is
    /// allowed).
    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// One RPC call with retries: the one way to call. `params` are the API's own parameters
    /// (the common ones are added). Each attempt's answer is read as a `T` in one pass (the
    /// service's members and the envelope; [`response::Envelope`] alone when the caller needs
    /// only the request id) and judged by its envelope: a `Code`, even in a 200, is an error
    /// and may be retried.
    pub async fn call<T: response::Reply>(
        &self,
        req: &RpcRequest<'_>,
        cx: &CallContext<'_>,
    ) -> Traced<T> {
        let mut earlier = Vec::new();
        let result = self.call_inner(req, cx, &mut earlier).await;
        Traced { result, earlier }
    }

    /// The retry loop. Each retried attempt's error is pushed to `earlier`; the error returned
    /// (directly or as a `DeadlineExceeded`'s `last`) is the last attempt's and is not pushed.
    async fn call_inner<T: response::Reply>(
        &self,
        req: &RpcRequest<'_>,
        cx: &CallContext<'_>,
        earlier: &mut Vec<ApiError>,
    ) -> Result<Answer<T>, ApiError> {
        let settings = &self.inner.settings;
        if req.endpoint.is_plain_http() && !settings.allow_http {
            return Err(ApiError::InvalidRequest(format!(
                "plain http endpoint {:?} refused: only explicitly allowed endpoints may skip TLS",
                req.endpoint.as_str()
            )));
        }
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
            let outcome = self.attempt::<T>(req, cx.credentials, timeout).await;
            let (err, retry_after) = match outcome {
                Ok((value, request_id)) => {
                    return Ok(Answer {
                        request_id,
                        value,
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
    async fn attempt<T: response::Reply>(
        &self,
        req: &RpcRequest<'_>,
        credentials: &Credentials,
        timeout: Duration,
    ) -> Result<(T, Option<String>), (ApiError, Option<Duration>)> {
        let signed = sign_request(
            req,
            credentials,
            SystemTime::now(),
            self.inner.settings.signature_version,
        )
        .map_err(|e| (e, None))?;
        let redactor = Redactor::new(credentials);
        let url = req
            .endpoint
            .call_url(Some(signed.query.as_str()).filter(|q| !q.is_empty()));
        let reply = self
            .inner
            .http
            .post(url, signed.headers, timeout, &redactor)
            .await?;
        response::read_response(
            reply.status,
            &reply.body,
            reply.request_id.as_deref(),
            &redactor,
        )
        .map_err(|e| (e, reply.retry_after))
    }
}

/// One signed attempt: the query to send after `/?` and the headers that carry (under V3) the
/// signature.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// The signed query, percent-encoded; empty when there is none.
    pub query: String,
    /// Under V3 `host`, the `x-acs-*` headers and `Authorization`; none under V2.
    pub headers: http::HeaderMap,
}

/// Signs one attempt made at `now` with a fresh nonce, as `version` says.
///
/// Fails only if a header value cannot be sent (a credential with a control character).
pub fn sign_request(
    req: &RpcRequest<'_>,
    credentials: &Credentials,
    now: SystemTime,
    version: SignatureVersion,
) -> Result<SignedRequest, ApiError> {
    if version == SignatureVersion::V2 {
        return Ok(SignedRequest {
            query: v2_query(req, credentials, now),
            headers: http::HeaderMap::new(),
        });
    }
    let mut nonce = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let nonce = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut nonce);
    let date = signing::Timestamp::new(now);
    let common = acs3::CommonHeaders {
        host: req.endpoint.authority().as_str(),
        action: req.action,
        version: req.version,
        date: date.as_str(),
        nonce,
        security_token: credentials.security_token.as_ref().map(|t| t.expose()),
    };
    let signed = acs3::sign_post(
        &req.params,
        &common,
        &credentials.access_key_id,
        credentials.access_key_secret.expose(),
    );
    // Every header sent is one the signer signed, under its constant name. The values that
    // are constants (or made once per endpoint) are sent without a copy; the others are
    // checked and copied.
    let unsendable = || {
        // The value may be the token: never echo it.
        ApiError::InvalidRequest(
            "a credential or parameter cannot be sent in an HTTP header".into(),
        )
    };
    let mut headers = http::HeaderMap::with_capacity(8);
    for (name, value) in common.signed() {
        let value = match name {
            acs3::header::HOST => req.endpoint.host_header().clone(),
            acs3::header::ACTION => http::HeaderValue::from_static(req.action),
            acs3::header::VERSION => http::HeaderValue::from_static(req.version),
            acs3::header::CONTENT_SHA256 => {
                http::HeaderValue::from_static(acs3::EMPTY_PAYLOAD_SHA256)
            }
            _ => {
                let mut value = http::HeaderValue::from_str(value).map_err(|_| unsendable())?;
                value.set_sensitive(name == acs3::header::SECURITY_TOKEN);
                value
            }
        };
        headers.insert(http::HeaderName::from_static(name), value);
    }
    let mut authorization =
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from(signed.authorization))
            .map_err(|_| unsendable())?;
    authorization.set_sensitive(true);
    headers.insert(http::header::AUTHORIZATION, authorization);
    Ok(SignedRequest {
        query: signed.query,
        headers,
    })
}

/// The query of one V2 attempt: the API's parameters with the common ones (a fresh
/// `SignatureNonce`, the `Timestamp` of `now`) and their `Signature`, built in one string
/// without copying the parameters.
fn v2_query(req: &RpcRequest<'_>, credentials: &Credentials, now: SystemTime) -> String {
    let mut nonce = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let nonce = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut nonce);
    let timestamp = signing::Timestamp::new(now);
    let common = signing::CommonParams::new(
        req.action,
        req.version,
        credentials,
        nonce,
        timestamp.as_str(),
    );
    // The common parameters and the signature take about 400 bytes (more with a token);
    // encoding adds about half of the parameters' length.
    let params_len: usize = req.params.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let token_len = common.security_token.map_or(0, str::len);
    let mut query = String::with_capacity(400 + (params_len + token_len) * 3 / 2);
    signing::write_signed_query(
        &mut query,
        "POST",
        &req.params,
        &common,
        credentials.access_key_secret.expose(),
    );
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_key() -> Credentials {
        Credentials::new("id", "secret", None)
    }

    fn request(endpoint: &Endpoint) -> RpcRequest<'_> {
        RpcRequest {
            endpoint,
            action: "DescribeRegions",
            version: "2014-05-26",
            params: Params::new(),
        }
    }

    #[tokio::test]
    async fn a_plain_http_endpoint_is_refused_unless_the_client_allows_it() {
        let client = Client::new(ClientSettings::default()).unwrap();
        let endpoint = Endpoint::parse("http://127.0.0.1:9").unwrap();
        let creds = no_key();
        let cx = CallContext {
            credentials: &creds,
            deadline: Instant::now() + Duration::from_secs(30),
        };
        let err = client
            .call::<response::Envelope>(&request(&endpoint), &cx)
            .await
            .result
            .unwrap_err();
        assert_eq!(
            err,
            ApiError::InvalidRequest(
                "plain http endpoint \"http://127.0.0.1:9\" refused: only explicitly allowed \
                 endpoints may skip TLS"
                    .into()
            )
        );
    }

    #[test]
    fn the_url_is_the_endpoint_then_the_signed_query() {
        let endpoint = Endpoint::parse("https://ecs.cn-hangzhou.aliyuncs.com/").unwrap();
        let mut req = request(&endpoint);
        req.params.insert("RegionId".into(), "cn-hangzhou".into());
        let creds = Credentials::new("id", "secret", Some("tok+en".into()));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_550_400);
        let signed = sign_request(&req, &creds, at, SignatureVersion::V2).unwrap();
        let url = endpoint.call_url(Some(&signed.query)).to_string();
        let query = url
            .strip_prefix("https://ecs.cn-hangzhou.aliyuncs.com/?")
            .unwrap();
        // The nonce is random: sign the same parameters with it through the map-based path.
        let nonce = query
            .split('&')
            .find_map(|p| p.strip_prefix("SignatureNonce="))
            .unwrap();
        assert_eq!(nonce.len(), 36);
        let mut params = req.params.clone();
        signing::add_common_params(
            &mut params,
            "DescribeRegions",
            "2014-05-26",
            &creds,
            nonce,
            "2024-05-01T08:00:00Z",
        );
        assert_eq!(query, signing::signed_query("POST", &params, "secret"));
    }

    #[test]
    fn a_v3_request_carries_the_parameters_in_the_query_and_the_common_ones_in_signed_headers() {
        let endpoint = Endpoint::parse("https://ecs.cn-hangzhou.aliyuncs.com").unwrap();
        let mut req = request(&endpoint);
        req.params.insert("RegionId".into(), "cn-hangzhou".into());
        let creds = Credentials::new("STS.id", "secret", Some("tok+en".into()));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_550_400);
        let signed = sign_request(&req, &creds, at, SignatureVersion::V3).unwrap();
        assert_eq!(signed.query, "RegionId=cn-hangzhou");
        let h = |name: &str| signed.headers[name].to_str().unwrap().to_string();
        assert_eq!(h("host"), "ecs.cn-hangzhou.aliyuncs.com");
        assert_eq!(h("x-acs-action"), "DescribeRegions");
        assert_eq!(h("x-acs-version"), "2014-05-26");
        assert_eq!(h("x-acs-date"), "2024-05-01T08:00:00Z");
        assert_eq!(h("x-acs-security-token"), "tok+en");
        assert_eq!(h("x-acs-content-sha256"), acs3::EMPTY_PAYLOAD_SHA256);
        assert_eq!(h("x-acs-signature-nonce").len(), 36);
        // Recompute the signature from what is sent.
        let mut headers = acs3::SignedHeaders::new();
        for (name, value) in &signed.headers {
            if name != http::header::AUTHORIZATION {
                headers.insert(name.to_string(), value.to_str().unwrap().to_string());
            }
        }
        let canonical = acs3::canonical_request(
            "POST",
            "RegionId=cn-hangzhou",
            &headers,
            acs3::EMPTY_PAYLOAD_SHA256,
        );
        let signature = acs3::signature("secret", &acs3::string_to_sign(&canonical));
        assert_eq!(
            h("authorization"),
            acs3::authorization("STS.id", &headers, &signature)
        );
        assert!(signed.headers["authorization"].is_sensitive());
        assert!(signed.headers["x-acs-security-token"].is_sensitive());
    }

    #[test]
    fn a_v2_request_has_no_signature_headers() {
        let endpoint = Endpoint::parse("https://ecs.cn-hangzhou.aliyuncs.com").unwrap();
        let signed = sign_request(
            &request(&endpoint),
            &no_key(),
            SystemTime::now(),
            SignatureVersion::V2,
        )
        .unwrap();
        assert!(signed.headers.is_empty());
        assert!(signed.query.contains("SignatureMethod=HMAC-SHA1"));
    }

    #[test]
    fn defaults_are_bounded_and_https_only() {
        let s = ClientSettings::default();
        assert!(!s.allow_http);
        assert_eq!(s.signature_version, SignatureVersion::V3);
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
        let creds = no_key();
        // Nothing listens here; reaching it would be a Transport error, not a deadline.
        let endpoint = Endpoint::parse("http://127.0.0.1:9").unwrap();
        let cx = CallContext {
            credentials: &creds,
            deadline: Instant::now() + Duration::from_millis(500),
        };
        let err = client
            .call::<response::Envelope>(&request(&endpoint), &cx)
            .await
            .result
            .unwrap_err();
        assert_eq!(err, ApiError::DeadlineExceeded { last: None });
    }
}

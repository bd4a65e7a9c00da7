//! The Function Compute 3.0 custom-runtime server.
//!
//! FC runs `bootstrap` and *pushes* each invocation to it as `POST /invoke` on
//! `0.0.0.0:$FC_CUSTOM_LISTEN_PORT` (else `$FC_SERVER_PORT`, else 9000), with the invocation's
//! metadata and fresh STS credentials in `x-fc-*` headers. This module is that server: a small
//! hyper 1 HTTP/1.1 server whose API mirrors `lambda_runtime`
//! (`run(service_fn(handler)).await`, `Event { payload, context }`), so the handler reads like
//! any Rust serverless function.
//!
//! # Why not the `lambda_runtime` crate
//! `lambda_runtime` speaks AWS Lambda's *pull* Runtime API: it polls
//! `$AWS_LAMBDA_RUNTIME_API/…/invocation/next`, panics unless several `AWS_LAMBDA_*` variables
//! are set, and expects a `lambda-runtime-deadline-ms` header. FC offers none of that, so it would
//! need a loopback shim, and its `Context` has no place for FC's per-request STS credentials,
//! which are the only credentials that stay fresh. It also brings about 67 crates into a binary
//! whose cold start is a feature. Implementing the FC contract directly is a few hundred lines.
//!
//! # Contract
//! | Request | Answer |
//! |---|---|
//! | `POST /invoke` | handler `Ok` → 200 + `x-fc-status: 200` + JSON; handler `Err`, panic, bad request → 404 + `x-fc-status: 404` + `{"errorType","errorMessage",…}` |
//! | `POST /initialize`, `GET /pre-stop` | 200 + `x-fc-status: 200` |
//! | anything else | 404 + `x-fc-status: 404` + error body |
//!
//! The path comes from the `x-fc-control-path` header when present, else from the URL, as in
//! Alibaba's own Go runtime library. Every error uses FC's failure convention (404 +
//! `x-fc-status: 404`), because FC is the only client and that is the status it understands as
//! "the function failed". `FC Invoke Start RequestId: <id>` / `FC Invoke End RequestId: <id>`
//! are printed as plain lines around each invocation: FC's console and tail log match them.
//!
//! # Concurrency and shutdown
//! Invocations are served concurrently: FC sends several at once when `instance_concurrency`
//! is above 1. Each handler runs in its own tokio task, so a panic becomes an error response and
//! the server lives on. On SIGTERM or SIGINT the server stops accepting, lets every in-flight
//! invocation finish and answer, then [`run`] returns `Ok(())`. Connections with no invocation in
//! flight (idle, or a request still arriving) are closed after a short grace, so a half-sent
//! request never holds up the exit.
//!
//! # Bounds
//! A request head must arrive within [`HEADER_READ_TIMEOUT`], its body within
//! [`BODY_READ_TIMEOUT`]; bodies above `MAX_EVENT_BYTES` are refused, and all bodies held at once
//! share a budget of [`body_budget`] bytes. `x-fc-request-id` must match `[A-Za-z0-9._-]{1,128}`.
//! Every answer is scrubbed of echoed secrets ([`crate::credentials::scrub`]).
//!
//! The handler future is polled inside a `tracing` span named `invoke` with a `request_id`
//! field, so every log line it emits carries the request id.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::config::{self, Config, ConfigError};
use crate::credentials::Credentials;

/// Deadline budget when FC sends no (or no usable) `x-fc-function-timeout` header. The header is
/// observed on FC 3.0 but not documented; 60 s is FC 3.0's default function timeout, and a
/// deadline that is too generous only means work is not cut short early.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Past this many bytes an oversized body is no longer read and discarded; the connection is
/// closed instead. Below it the rest of the body is drained so FC gets our clear error response
/// rather than a reset connection. FC never delivers more than 32 MB.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

/// A client that has not sent a whole request head within this time is disconnected. FC sends
/// the head at once; a slow or stalled sender only ties up a connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole body must arrive within this time of the head (FC sends it at once, and at most
/// 32 MB). A stalled body is refused with `BodyReadTimeout`.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// After SIGTERM, a connection with no invocation in flight (idle, or still sending its request)
/// gets this long to finish what it is writing, then it is dropped: a half-sent request never
/// holds up the exit.
const IDLE_CLOSE_GRACE: Duration = Duration::from_millis(200);

/// `x-fc-request-id` must match `[A-Za-z0-9._-]{1,128}`: it is printed in FC's log markers, so
/// anything else (spaces, newlines, "End") could forge them.
fn valid_request_id(id: &str) -> bool {
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
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
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
    pub payload: P,
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

    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    pub fn error_message(&self) -> &str {
        &self.error_message
    }

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

/// An invocation handler. Implemented for closures by [`service_fn`].
pub trait Handler: Send + Sync + 'static {
    type Response: Serialize + Send + 'static;
    type Error: Into<Diagnostic> + Send + 'static;
    type Future: Future<Output = Result<Self::Response, Self::Error>> + Send + 'static;
    fn call(&self, event: Event) -> Self::Future;
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

/// What the server needs to know, parsed from [`Config`] or the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Port to bind on `0.0.0.0`; `0` picks a free one (tests).
    pub port: u16,
    /// Larger request bodies are refused with `PayloadTooLarge`.
    pub max_event_bytes: usize,
    /// Deadline budget when `x-fc-function-timeout` is absent.
    pub default_timeout: Duration,
}

impl RuntimeOptions {
    pub fn from_config(config: &Config) -> Self {
        RuntimeOptions {
            port: config.listen_port,
            max_event_bytes: config.max_event_bytes,
            default_timeout: DEFAULT_FUNCTION_TIMEOUT,
        }
    }

    /// Read only the variables the server needs (port and `MAX_EVENT_BYTES`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(RuntimeOptions {
            port: config::listen_port_from(&lookup)?,
            max_event_bytes: config::max_event_bytes_from(&lookup)?,
            default_timeout: DEFAULT_FUNCTION_TIMEOUT,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the SIGTERM/SIGINT handler: {0}")]
    Signal(std::io::Error),
}

/// Serve `handler` with options from the environment until SIGTERM/SIGINT.
pub async fn run<H: Handler>(handler: H) -> Result<(), RuntimeError> {
    run_with(RuntimeOptions::from_env()?, handler).await
}

/// Serve `handler` on `0.0.0.0:<options.port>` until SIGTERM/SIGINT, then finish in-flight
/// invocations and return. Logs `listening` with the bound address once ready.
pub async fn run_with<H: Handler>(options: RuntimeOptions, handler: H) -> Result<(), RuntimeError> {
    // Install the signal handlers before listening, so a SIGTERM that arrives as soon as FC sees
    // the port open is handled gracefully rather than killing the process.
    let shutdown = shutdown_signal()?;
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, options.port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| RuntimeError::Bind { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!(addr = %bound, "listening");
    serve(listener, options, handler, shutdown).await;
    Ok(())
}

fn shutdown_signal() -> Result<impl Future<Output = ()>, RuntimeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(RuntimeError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RuntimeError::Signal)?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutting down: finishing in-flight invocations"
        );
    })
}

struct Shared<H> {
    handler: H,
    options: RuntimeOptions,
    /// Request-body bytes being held at once, across all connections: a permit per byte,
    /// [`body_budget`] in all. A body waits (within [`BODY_READ_TIMEOUT`]) for room.
    body_bytes: Arc<Semaphore>,
}

/// The overall cap on request-body bytes held at once: twice `MAX_EVENT_BYTES`, so one largest
/// event can be read while another is processed, and concurrent large bodies cannot multiply
/// the memory.
pub fn body_budget(max_event_bytes: usize) -> usize {
    max_event_bytes.saturating_mul(2)
}

/// Serve `handler` on an already-bound listener until `shutdown` resolves, then stop accepting,
/// let in-flight requests (and any handler task still running) finish, and return. For tests and
/// benchmarks that run the server in-process.
pub async fn serve<H, S>(listener: TcpListener, options: RuntimeOptions, handler: H, shutdown: S)
where
    H: Handler,
    S: Future<Output = ()>,
{
    let shared = Arc::new(Shared {
        handler,
        options,
        body_bytes: Arc::new(Semaphore::new(
            body_budget(options.max_event_bytes).min(Semaphore::MAX_PERMITS),
        )),
    });
    // Every connection task and every handler task holds a clone of `alive`; when the last clone
    // is dropped, `drained.recv()` returns `None`: that is "everything in flight has finished".
    let (alive, mut drained) = mpsc::channel::<()>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(
                        stream,
                        Arc::clone(&shared),
                        alive.clone(),
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    // E.g. EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive);
    let _ = drained.recv().await;
    tracing::info!("stopped");
}

async fn serve_connection<H: Handler>(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared<H>>,
    alive: mpsc::Sender<()>,
    mut stop: watch::Receiver<bool>,
) {
    let task_alive = alive.clone();
    // Invocations of this connection whose body has been read and whose answer is not yet sent.
    let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let service_busy = Arc::clone(&busy);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        let alive = task_alive.clone();
        let busy = Arc::clone(&service_busy);
        async move { Ok::<_, Infallible>(route(shared, req, alive, busy).await) }
    });
    let conn = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = async move { let _ = stop.wait_for(|stopping| *stopping).await; } => {
            // Finish the invocation in progress (if any), then close. A connection with none
            // (idle, or a request still arriving) gets a moment to finish writing, then is
            // dropped, so a half-sent request cannot keep the process alive.
            conn.as_mut().graceful_shutdown();
            if busy.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                let _ = conn.await;
            } else {
                let _ = tokio::time::timeout(IDLE_CLOSE_GRACE, conn).await;
            }
        }
    }
    drop(alive);
}

async fn route<H: Handler>(
    shared: Arc<Shared<H>>,
    req: Request<Incoming>,
    alive: mpsc::Sender<()>,
    busy: Arc<std::sync::atomic::AtomicUsize>,
) -> Response<Full<Bytes>> {
    let path = header_text(req.headers(), "x-fc-control-path")
        .unwrap_or_else(|| req.uri().path().to_string());
    let method = req.method().clone();
    match (path.as_str(), &method) {
        ("/invoke", &Method::POST) => invoke(shared, req, alive, busy).await,
        ("/initialize", &Method::POST) => lifecycle("Initialize", req.headers()),
        ("/pre-stop", &Method::GET | &Method::POST) => lifecycle("PreStop", req.headers()),
        ("/invoke" | "/initialize" | "/pre-stop", _) => error_response(&Diagnostic::new(
            "MethodNotAllowed",
            format!("{path} does not accept {method}; FC calls POST /invoke, POST /initialize and GET /pre-stop"),
        )),
        ("/http-invoke", _) => error_response(&Diagnostic::new(
            "UnsupportedPath",
            "this is an event function; HTTP triggers (/http-invoke) are not supported",
        )),
        _ => error_response(&Diagnostic::new(
            "UnknownPath",
            format!("{method} {path} is not served; FC calls POST /invoke, POST /initialize and GET /pre-stop"),
        )),
    }
}

/// `/initialize` and `/pre-stop`: nothing to set up or flush, but print FC's markers so the
/// console attributes the hook's log.
fn lifecycle(kind: &str, headers: &HeaderMap) -> Response<Full<Bytes>> {
    let id = header_text(headers, "x-fc-request-id").filter(|id| valid_request_id(id));
    if let Some(id) = &id {
        marker(kind, "Start", id);
        marker(kind, "End", id);
    }
    fc_response(StatusCode::OK, Bytes::from_static(b"{}"))
}

async fn invoke<H: Handler>(
    shared: Arc<Shared<H>>,
    req: Request<Incoming>,
    alive: mpsc::Sender<()>,
    busy: Arc<std::sync::atomic::AtomicUsize>,
) -> Response<Full<Bytes>> {
    let arrived = Instant::now();
    let options = shared.options;
    let context = match Context::from_headers(req.headers(), arrived, options.default_timeout) {
        Ok(c) => c,
        Err(d) => {
            tracing::warn!(
                error_type = d.error_type(),
                "invocation refused: {}",
                d.error_message()
            );
            return error_response(&d);
        }
    };
    let request_id = context.request_id.clone();
    marker("Invoke", "Start", &request_id);
    let span = tracing::info_span!("invoke", request_id = %request_id);
    let response = async move {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let read = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            read_body(
                req.into_body(),
                declared,
                options.max_event_bytes,
                Arc::clone(&shared.body_bytes),
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Diagnostic::new(
                "BodyReadTimeout",
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            ))
        });
        let (payload, budget) = match read {
            Ok(p) => p,
            Err(d) => {
                tracing::warn!(
                    error_type = d.error_type(),
                    "event refused: {}",
                    d.error_message()
                );
                return error_response(&d);
            }
        };
        let event = Event { payload, context };
        busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _busy = BusyGuard(busy);
        let task = tokio::spawn(
            async move {
                // Held until the handler finishes, even if FC hangs up: shutdown waits for it.
                let _alive = alive;
                let _budget = budget;
                let result = shared.handler.call(event).await;
                match result {
                    Ok(r) => serde_json::to_vec(&r).map_err(|e| {
                        Diagnostic::new(
                            "ResponseSerializationError",
                            format!("the handler's result could not be serialised: {e}"),
                        )
                    }),
                    Err(e) => Err(e.into()),
                }
            }
            .in_current_span(),
        );
        match task.await {
            Ok(Ok(body)) => fc_response(StatusCode::OK, Bytes::from(body)),
            Ok(Err(d)) => {
                tracing::warn!(
                    error_type = d.error_type(),
                    "invocation failed: {}",
                    d.error_message()
                );
                error_response(&d)
            }
            Err(e) => {
                let message = if e.is_panic() {
                    format!("the handler panicked: {}", panic_message(e.into_panic()))
                } else {
                    "the handler task was cancelled".to_string()
                };
                tracing::error!(error_type = "HandlerPanicked", "{message}");
                error_response(&Diagnostic::new("HandlerPanicked", message))
            }
        }
    }
    .instrument(span)
    .await;
    marker("Invoke", "End", &request_id);
    response
}

/// Counts an invocation as in flight on its connection until its answer is produced.
struct BusyGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Read the body, keeping at most `limit` bytes in memory. A body that is (or declares itself)
/// larger is refused; the excess is read and discarded (up to [`DRAIN_CAP`]) so FC receives the
/// error response instead of a reset connection.
///
/// Every byte kept holds a permit of `budget` (the overall cap across connections) until the
/// returned permit is dropped; a body waits for room when the cap is reached.
async fn read_body(
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
    budget: Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Diagnostic> {
    let limit64 = limit as u64;
    let mut over = declared.is_some_and(|n| n > limit64);
    let mut total: u64 = 0;
    let mut buf = BytesMut::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    let hold = |n: usize, held: &mut Option<OwnedSemaphorePermit>| {
        let budget = Arc::clone(&budget);
        let mut taken = held.take();
        async move {
            if n > 0 {
                // `limit` fits in u32 (MAX_EVENT_BYTES is at most 128 MiB).
                let permit = budget
                    .acquire_many_owned(n as u32)
                    .await
                    .expect("the body budget is never closed");
                match &mut taken {
                    Some(t) => t.merge(permit),
                    None => taken = Some(permit),
                }
            }
            taken
        }
    };
    if !over {
        if let Some(n) = declared {
            // Capacity only: pages count (and permits are taken) as bytes arrive.
            buf.reserve(n as usize);
        }
    }
    // A body declaring more than DRAIN_CAP is not read at all.
    let mut complete = declared.is_none_or(|n| n <= DRAIN_CAP);
    while complete {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame.map_err(|e| {
            Diagnostic::new(
                "BodyReadError",
                format!("reading the request body failed: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > limit64 {
            over = true;
            buf = BytesMut::new();
            held = None;
        }
        if over {
            if total > DRAIN_CAP {
                complete = false;
                break;
            }
        } else {
            let covered = held.as_ref().map_or(0, |p| p.num_permits());
            let needed = (total as usize).saturating_sub(covered);
            held = hold(needed, &mut held).await;
            buf.extend_from_slice(&data);
        }
    }
    if over {
        let size = match (declared, complete) {
            (Some(n), _) => format!("{n} bytes"),
            (None, true) => format!("{total} bytes"),
            (None, false) => format!("more than {DRAIN_CAP} bytes"),
        };
        return Err(Diagnostic::new(
            "PayloadTooLarge",
            format!("the event is {size}, more than MAX_EVENT_BYTES = {limit}"),
        ));
    }
    Ok((buf.freeze(), held))
}

/// Print an FC log marker as a plain line on stdout (not JSON: FC matches the text). A closed
/// stdout must not abort the invocation, so write errors are ignored.
fn marker(kind: &str, phase: &str, request_id: &str) {
    use std::io::Write;
    let line = format!("FC {kind} {phase} RequestId: {request_id}\n");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// Every answer goes through [`crate::credentials::scrub`]: no piece of a secret or token leaves
/// the process, even one the cloud echoed back into a report.
fn fc_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let body = match std::str::from_utf8(&body).map(crate::credentials::scrub) {
        Ok(std::borrow::Cow::Owned(clean)) => Bytes::from(clean),
        _ => body,
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "x-fc-status",
        HeaderValue::from_str(status.as_str()).unwrap_or(HeaderValue::from_static("404")),
    );
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_response(d: &Diagnostic) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&d.to_json()).unwrap_or_else(|_| {
        br#"{"errorType":"InternalError","errorMessage":"the error could not be serialised"}"#
            .to_vec()
    });
    fc_response(StatusCode::NOT_FOUND, Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

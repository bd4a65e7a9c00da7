//! A Function Compute 3.0 custom-runtime server for Rust handlers.
//!
//! FC runs the function's `bootstrap` and *pushes* each invocation to it as `POST /invoke` on
//! `0.0.0.0:$FC_CUSTOM_LISTEN_PORT` (else `$FC_SERVER_PORT`, else 9000), with the invocation's
//! metadata and fresh STS credentials in `x-fc-*` headers. This crate is that server: a small
//! hyper 1 HTTP/1.1 server whose API mirrors `lambda_runtime`, so a handler reads like any Rust
//! serverless function:
//!
//! ```no_run
//! use fc_runtime::{service_fn, Diagnostic, Event};
//! use serde_json::{json, Value};
//!
//! async fn handler(event: Event) -> Result<Value, Diagnostic> {
//!     let body: Value = serde_json::from_slice(&event.payload)
//!         .map_err(|e| Diagnostic::new("InvalidEvent", e.to_string()))?;
//!     Ok(json!({"requestId": event.context.request_id, "echo": body}))
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), fc_runtime::RuntimeError> {
//!     fc_runtime::run(service_fn(handler)).await
//! }
//! ```
//!
//! [`run`] reads its [`RuntimeOptions`] from the environment and serves until SIGTERM/SIGINT;
//! [`run_with`] takes options parsed by the caller (so a binary can refuse a bad value before it
//! starts anything else); [`serve`] runs on an already-bound listener until a future resolves
//! (tests and benchmarks, in-process).
//!
//! # No product knowledge
//! The crate knows FC's protocol and nothing else: not what a function does, not its
//! configuration (it parses only its own three variables, see [`options`]), not an OpenAPI
//! client. Layering is checked by the compiler: nothing here can reach a product type, so the
//! runtime can be tested on its own, in-process, with handlers that panic, fail, sleep or echo
//! their context (see `tests/`), and a product binary needs no test hooks.
//!
//! Credentials are the runtime's own small type ([`Credentials`], [`Secret`]) rather than an
//! OpenAPI client's: the runtime only carries the header values to the handler, and depending on
//! a client crate for one struct would tie the runtime to it. The secret halves print as `***`
//! in `Debug` and `Display`, have no `Serialize`, and are never logged. A product converts them
//! into its client's credentials at its edge (where it also registers them with its own output
//! scrubbing), and hands its scrubber to [`Handler::redact_with`] so that every answer the
//! runtime sends, panic messages included, passes through it.
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
//! are printed as plain lines on stdout around each invocation: FC's console and tail log match
//! them.
//!
//! # Concurrency and shutdown
//! Invocations are served concurrently: FC sends several at once when `instance_concurrency`
//! is above 1. Each handler runs in its own tokio task, so a panic becomes an error response and
//! the server lives on. On SIGTERM or SIGINT the server stops accepting, lets every in-flight
//! invocation finish and answer, then [`run`] returns `Ok(())`. Connections with no invocation in
//! flight (idle, or a request still arriving) are closed after a short grace, so a half-sent
//! request never holds up the exit. The runtime does not cut a handler short at its deadline
//! ([`Context::deadline`], [`Context::remaining`]): the handler decides what to do with the time
//! it has left.
//!
//! # Bounds
//! A request head must arrive within [`HEADER_READ_TIMEOUT`], its body within
//! [`BODY_READ_TIMEOUT`]; an answer whose writing stalls for [`WRITE_TIMEOUT`] (a client that
//! does not read it) is abandoned, so SIGTERM's wait for in-flight answers is bounded; bodies above `MAX_EVENT_BYTES` are refused, and all bodies held at once
//! share a budget of [`body_budget`] bytes. A body takes its room in one step (its
//! `Content-Length`, or `MAX_EVENT_BYTES` when it declares none) before its first byte is kept,
//! and holds nothing while it waits: concurrent large bodies are read one budget-full at a time,
//! never each holding part of it. `x-fc-request-id` must match `[A-Za-z0-9._-]{1,128}`.
//!
//! The handler future is polled inside a `tracing` span named `invoke` with a `request_id`
//! field, so every log line it emits carries the request id.

pub mod context;
pub mod credentials;
pub mod diagnostic;
pub mod handler;
mod invoke;
pub mod options;
pub mod server;

pub use context::{Context, Event};
pub use credentials::{Credentials, Secret};
pub use diagnostic::{Diagnostic, Error};
pub use handler::{service_fn, Handler, Redacted, ServiceFn};
pub use options::{
    OptionsError, RuntimeOptions, BODY_READ_TIMEOUT, DEFAULT_FUNCTION_TIMEOUT, DEFAULT_LISTEN_PORT,
    DEFAULT_MAX_EVENT_BYTES, HEADER_READ_TIMEOUT, MAX_MAX_EVENT_BYTES, WRITE_TIMEOUT,
};
pub use server::{body_budget, run, run_with, serve, RuntimeError};

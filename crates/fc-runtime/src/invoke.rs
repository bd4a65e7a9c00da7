//! One `POST /invoke`: the context from the headers, the body within its limits, the handler in
//! its own task, and the answer (success, error or panic) between FC's log markers.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response, StatusCode};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::context::{Context, Event};
use crate::diagnostic::Diagnostic;
use crate::handler::Handler;
use crate::server::{error_response, fc_response, marker, Shared};

/// Past this many bytes an oversized body is no longer read and discarded; the connection is
/// closed instead. Below it the rest of the body is drained so FC gets our clear error response
/// rather than a reset connection. FC never delivers more than 32 MB.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

pub(crate) async fn invoke<H: Handler>(
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
                error_message = d.error_message(),
                "invocation refused"
            );
            return error_response(&shared.handler, &d);
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
            options.body_read_timeout,
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
                    options.body_read_timeout.as_secs()
                ),
            ))
        });
        let (payload, budget) = match read {
            Ok(p) => p,
            Err(d) => {
                tracing::warn!(
                    error_type = d.error_type(),
                    error_message = d.error_message(),
                    "event refused"
                );
                return error_response(&shared.handler, &d);
            }
        };
        let event = Event { payload, context };
        busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _busy = BusyGuard(busy);
        let task_shared = Arc::clone(&shared);
        let task = tokio::spawn(
            async move {
                // Held until the handler finishes, even if FC hangs up: shutdown waits for it.
                let _alive = alive;
                let _budget = budget;
                let result = task_shared.handler.call(event).await;
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
            Ok(Ok(body)) => fc_response(&shared.handler, StatusCode::OK, Bytes::from(body)),
            Ok(Err(d)) => {
                // The message may carry text from the event or the cloud: a field, never the
                // line itself, so a formatter escapes it (a newline cannot forge FC's markers).
                tracing::warn!(
                    error_type = d.error_type(),
                    error_message = d.error_message(),
                    "invocation failed"
                );
                error_response(&shared.handler, &d)
            }
            Err(e) => {
                let message = if e.is_panic() {
                    format!("the handler panicked: {}", panic_message(e.into_panic()))
                } else {
                    "the handler task was cancelled".to_string()
                };
                tracing::error!(
                    error_type = "HandlerPanicked",
                    error_message = message.as_str(),
                    "invocation failed"
                );
                error_response(
                    &shared.handler,
                    &Diagnostic::new("HandlerPanicked", message),
                )
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
/// Room in `budget` (the overall cap across connections) is taken in one step before the first
/// byte is kept: the declared `Content-Length`, or `limit` for a body that declares no length
/// (cut to what arrived once it is read). A body waiting for room holds none, so bodies waiting
/// at once can never each hold part of the budget and wait for one another (the stall of
/// taking room piece by piece); the returned permit is held until the event is dropped.
async fn read_body(
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
    budget: Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Diagnostic> {
    let limit64 = limit as u64;
    let mut over = declared.is_some_and(|n| n > limit64);
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut buf = BytesMut::new();
    if !over {
        let room = declared.map_or(limit, |n| n as usize);
        if room > 0 {
            // `limit` fits in u32 (MAX_EVENT_BYTES is at most 128 MiB).
            held = Some(
                budget
                    .acquire_many_owned(room as u32)
                    .await
                    .expect("the body budget is never closed"),
            );
        }
        if declared.is_some() {
            buf.reserve(room);
        }
    }
    let mut total: u64 = 0;
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
        // hyper never yields more than a declared length, so only the limit needs checking.
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
    // Give back what a body without a declared length did not use.
    if let Some(permit) = held.as_mut() {
        let unused = permit.num_permits().saturating_sub(buf.len());
        if unused > 0 {
            drop(permit.split(unused));
        }
    }
    if held.as_ref().is_some_and(|p| p.num_permits() == 0) {
        held = None;
    }
    Ok((buf.freeze(), held))
}

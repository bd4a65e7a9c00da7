//! The server: binding, the accept loop, connections, routing of FC's paths, graceful shutdown,
//! FC's log markers and the shape of every answer.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::context::{header_text, valid_request_id};
use crate::diagnostic::Diagnostic;
use crate::handler::Handler;
use crate::invoke::invoke;
#[cfg(doc)]
use crate::options::BODY_READ_TIMEOUT;
use crate::options::{OptionsError, RuntimeOptions};

/// After SIGTERM, a connection with no invocation in flight (idle, or still sending its request)
/// gets this long to finish what it is writing, then it is dropped: a half-sent request never
/// holds up the exit.
const IDLE_CLOSE_GRACE: Duration = Duration::from_millis(200);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A runtime variable has a bad value (`<VARIABLE>: <problem>`).
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install the SIGTERM/SIGINT handler: {0}")]
    Signal(std::io::Error),
}

/// Serve `handler` with options from the environment ([`RuntimeOptions::from_env`]) until
/// SIGTERM/SIGINT: `fc_runtime::run(service_fn(handler)).await`.
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

pub(crate) struct Shared<H> {
    pub(crate) handler: H,
    pub(crate) options: RuntimeOptions,
    /// Request-body bytes being held at once, across all connections: a permit per byte,
    /// [`body_budget`] in all. A body waits (within [`BODY_READ_TIMEOUT`]) for all of its room,
    /// holding none meanwhile.
    pub(crate) body_bytes: Arc<Semaphore>,
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
    let header_read_timeout = shared.options.header_read_timeout;
    let write_timeout = shared.options.write_timeout;
    // Invocations of this connection whose body has been read and whose answer is not yet sent.
    let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let service_busy = Arc::clone(&busy);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        let alive = task_alive.clone();
        let busy = Arc::clone(&service_busy);
        async move { Ok::<_, Infallible>(route(shared, req, alive, busy).await) }
    });
    let stream = WriteTimeout::new(stream, write_timeout);
    let conn = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
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
    let handler = &shared.handler;
    match (path.as_str(), &method) {
        ("/invoke", &Method::POST) => invoke(Arc::clone(&shared), req, alive, busy).await,
        ("/initialize", &Method::POST) => lifecycle(handler, "Initialize", req.headers()),
        ("/pre-stop", &Method::GET | &Method::POST) => {
            lifecycle(handler, "PreStop", req.headers())
        }
        ("/invoke" | "/initialize" | "/pre-stop", _) => error_response(handler, &Diagnostic::new(
            "MethodNotAllowed",
            format!("{path} does not accept {method}; FC calls POST /invoke, POST /initialize and GET /pre-stop"),
        )),
        ("/http-invoke", _) => error_response(handler, &Diagnostic::new(
            "UnsupportedPath",
            "this is an event function; HTTP triggers (/http-invoke) are not supported",
        )),
        _ => error_response(handler, &Diagnostic::new(
            "UnknownPath",
            format!("{method} {path} is not served; FC calls POST /invoke, POST /initialize and GET /pre-stop"),
        )),
    }
}

/// `/initialize` and `/pre-stop`: nothing to set up or flush, but print FC's markers so the
/// console attributes the hook's log.
fn lifecycle<H: Handler>(handler: &H, kind: &str, headers: &HeaderMap) -> Response<Full<Bytes>> {
    let id = header_text(headers, "x-fc-request-id").filter(|id| valid_request_id(id));
    if let Some(id) = &id {
        marker(kind, "Start", id);
        marker(kind, "End", id);
    }
    fc_response(handler, StatusCode::OK, Bytes::from_static(b"{}"))
}

/// Print an FC log marker as a plain line on stdout (not JSON: FC matches the text). A closed
/// stdout must not abort the invocation, so write errors are ignored.
pub(crate) fn marker(kind: &str, phase: &str, request_id: &str) {
    use std::io::Write;
    let line = format!("FC {kind} {phase} RequestId: {request_id}\n");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// An answer in FC's convention. Every body goes through the handler's [`Handler::redact`]: a
/// product that holds secrets masks them there, even one a cloud echoed back into a report.
pub(crate) fn fc_response<H: Handler>(
    handler: &H,
    status: StatusCode,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let body = match std::str::from_utf8(&body).map(|text| handler.redact(text)) {
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

pub(crate) fn error_response<H: Handler>(handler: &H, d: &Diagnostic) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&d.to_json()).unwrap_or_else(|_| {
        br#"{"errorType":"InternalError","errorMessage":"the error could not be serialised"}"#
            .to_vec()
    });
    fc_response(handler, StatusCode::NOT_FOUND, Bytes::from(body))
}

/// A connection whose writes fail with `TimedOut` once they have made no progress for `timeout`:
/// hyper has no write timeout, and a client that never reads its answer would otherwise hold the
/// connection (and, after SIGTERM, the process) forever.
struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Armed when a write first finds the socket full; cleared by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// What a write that is `Pending` becomes: still pending, or an error once stalled too long.
    fn stall<T>(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<T>> {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the client read nothing of the answer for {} ms",
                    timeout.as_millis()
                ),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        p: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match p {
            Poll::Pending => self.stall(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(cx, p)
    }
}

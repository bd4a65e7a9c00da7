//! The HTTP transport: one pooled HTTP/1.1 client (hyper-util's) over rustls, and nothing an
//! RPC call does not need.
//!
//! Issue 17 measured a keep-alive `POST` over loopback at about 52 µs of process CPU through
//! reqwest and about 28 µs through hyper-util's client directly (the kernel's share, with a
//! blocking socket, is about 15 µs): reqwest parses every URL with the `url` crate, converts it to
//! an `http::Uri`, and runs each request through its redirect and timeout layers. An RPC call
//! needs none of that: its URL is built here from an endpoint parsed once, it never follows a
//! redirect (that would send the signed query, and its `SecurityToken`, to another host), and
//! its one timeout covers the whole attempt.
//!
//! What the transport keeps from what reqwest gave:
//! - TLS with rustls and the Mozilla root store (`webpki-roots`), always verified; `https://`
//!   only, unless the client allows plain `http://` (explicitly configured endpoints such as the
//!   local emulator).
//! - A connection pool per host, TCP_NODELAY, a connect timeout that covers TCP and TLS.
//! - Proxies from `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY` (as curl reads them), for `https://`
//!   endpoints, through an HTTP `CONNECT` tunnel: the proxy sees the host name, never the signed
//!   query. A plain `http://` endpoint is local by design and always reached directly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_LENGTH, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Pool;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::error::ApiError;
use crate::redact::Redactor;

/// Bodies larger than this are refused: a DescribeSecurityGroupAttribute page of 1000 rules is
/// under 1 MiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// An answer as received: what the client reads to judge an attempt.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// `x-acs-request-id`, when the service sent one.
    pub(crate) request_id: Option<String>,
    /// `x-acs-retry-after` (milliseconds), the service's hint before a retry.
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Bytes,
}

/// The pooled HTTP client every call of a [`crate::Client`] goes through.
#[derive(Debug)]
pub(crate) struct Transport {
    pool: Pool<Connector, Empty<Bytes>>,
    user_agent: HeaderValue,
}

impl Transport {
    /// A transport trusting the Mozilla root store, with the proxies the environment names.
    pub(crate) fn new(connect_timeout: Duration, allow_http: bool) -> Result<Transport, ApiError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Transport::with_roots(roots, Matcher::from_env(), connect_timeout, allow_http)
    }

    /// A transport trusting `roots` and using the proxies `proxies` names (the tests give their
    /// own certificate authority and proxy rather than change the process's environment).
    pub(crate) fn with_roots(
        roots: rustls::RootCertStore,
        proxies: Matcher,
        connect_timeout: Duration,
        allow_http: bool,
    ) -> Result<Transport, ApiError> {
        let setup = |e: rustls::Error| ApiError::InvalidRequest(format!("TLS setup failed: {e}"));
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        // The connector is handed `https://` URIs too; TLS is layered on by `HttpsConnector`.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let direct = Direct {
            tcp,
            proxies: Arc::new(proxies),
        };
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let https = if allow_http {
            builder
                .https_or_http()
                .enable_http1()
                .wrap_connector(direct)
        } else {
            builder.https_only().enable_http1().wrap_connector(direct)
        };
        let pool = Pool::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(Connector {
                https,
                connect_timeout,
            });
        Ok(Transport {
            pool,
            user_agent: HeaderValue::from_static(concat!(
                "sg-remediator/",
                env!("CARGO_PKG_VERSION")
            )),
        })
    }

    /// `POST uri` with an empty body, the whole exchange (connect, send, read the body) bounded
    /// by `timeout`. A failure before a status arrives is a transport error; a body over
    /// [`MAX_BODY_BYTES`] is refused as undecodable (with the status and retry hint it came with).
    pub(crate) async fn post(
        &self,
        uri: Uri,
        timeout: Duration,
        redactor: &Redactor<'_>,
    ) -> Result<Reply, (ApiError, Option<Duration>)> {
        let request = Request::post(uri)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            // RFC 9110 §8.6: a POST says `Content-Length: 0` when it has no content; hyper
            // would send no length at all for an empty body, which some front ends refuse.
            .header(CONTENT_LENGTH, HeaderValue::from_static("0"))
            .header(USER_AGENT, self.user_agent.clone())
            .body(Empty::new())
            .map_err(|e| (ApiError::InvalidRequest(format!("bad request: {e}")), None))?;
        let exchange = async {
            let response = self
                .pool
                .request(request)
                .await
                .map_err(|e| (transport_error(&e, redactor), None))?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let request_id = header("x-acs-request-id");
            let retry_after = header("x-acs-retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis);
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    let err = if e.is::<http_body_util::LengthLimitError>() {
                        ApiError::Decode {
                            status,
                            detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
                        }
                    } else {
                        // The connection dropped mid-body: no usable answer.
                        transport_error(&*e, redactor)
                    };
                    (err, retry_after)
                })?
                .to_bytes();
            Ok(Reply {
                status,
                request_id,
                retry_after,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err((ApiError::Transport("timed out".into()), None)))
    }
}

/// The URI of one call: `scheme://authority/?query`. The query is checked once by `http` (it
/// is the signed query, percent-encoded, so it always passes).
pub(crate) fn call_uri(scheme: &Scheme, authority: &Authority, query: String) -> Uri {
    let mut path = String::with_capacity(query.len() + 2);
    path.push_str("/?");
    path.push_str(&query);
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority.clone());
    parts.path_and_query = PathAndQuery::from_maybe_shared(Bytes::from(path)).ok();
    Uri::from_parts(parts).unwrap_or_default()
}

/// Describes a failure without its URI (which carries the signed query, including the
/// SecurityToken: hyper's errors never print it, and the chain is redacted anyway).
fn transport_error(e: &(dyn std::error::Error + 'static), redactor: &Redactor<'_>) -> ApiError {
    let connect = std::iter::successors(Some(e), |e| e.source()).any(|e| {
        e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|e| e.is_connect())
    });
    let mut text = String::from(if connect {
        "connect failed"
    } else {
        "request failed"
    });
    let mut source = Some(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    ApiError::Transport(redactor.redact(&text))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// TLS over [`Direct`], the whole connection bounded by the connect timeout.
#[derive(Debug, Clone)]
struct Connector {
    https: HttpsConnector<Direct>,
    connect_timeout: Duration,
}

impl Service<Uri> for Connector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.https.call(dst);
        let limit = self.connect_timeout;
        Box::pin(async move {
            match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result,
                Err(_) => Err(format!("connect timed out after {limit:?}").into()),
            }
        })
    }
}

/// A TCP connection to the endpoint, or through a `CONNECT` tunnel of the proxy the environment
/// names for it (`https://` endpoints only).
#[derive(Clone)]
struct Direct {
    tcp: HttpConnector,
    proxies: Arc<Matcher>,
}

impl std::fmt::Debug for Direct {
    // `Matcher` has no `Debug`, and a proxy URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("tcp", &self.tcp)
            .finish_non_exhaustive()
    }
}

impl Service<Uri> for Direct {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let proxy = if dst.scheme() == Some(&Scheme::HTTPS) {
            self.proxies.intercept(&dst)
        } else {
            None
        };
        match proxy {
            None => {
                let connecting = self.tcp.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), self.tcp.clone());
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let connecting = tunnel.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The transport against local servers: TLS with the tests' own certificate authority
    //! (`tests/fixtures/tls`: a CA and a certificate for `localhost` only, valid until 2126), and
    //! a `CONNECT` proxy. Blocking std servers on threads, so the client under test is the only
    //! async code.

    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::sync::mpsc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::*;
    use crate::credentials::Credentials;

    const CA: &[u8] = include_bytes!("../tests/fixtures/tls/ca.pem");
    const CERT: &[u8] = include_bytes!("../tests/fixtures/tls/server.pem");
    const KEY: &[u8] = include_bytes!("../tests/fixtures/tls/server.key");
    const QUERY: &str = "Action=DescribeRegions&SecurityToken=tok%2Bsecret&Signature=abc%3D";

    fn test_ca() -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(CA) {
            roots.add(cert.unwrap()).unwrap();
        }
        roots
    }

    fn no_proxy() -> Matcher {
        Matcher::builder().build()
    }

    fn transport(roots: rustls::RootCertStore, proxies: Matcher) -> Transport {
        Transport::with_roots(roots, proxies, Duration::from_secs(5), false).unwrap()
    }

    /// `POST uri` through `transport`, signed by STS-like credentials whose secret and token the
    /// redactor knows.
    async fn post(transport: &Transport, uri: Uri, timeout: Duration) -> Result<Reply, ApiError> {
        let creds = Credentials::new("id", "secret", Some("tok+secret".into()));
        transport
            .post(uri, timeout, &Redactor::new(&creds))
            .await
            .map_err(|(e, _)| e)
    }

    /// The text of a transport error (any other error fails the test).
    fn transport_text(err: ApiError) -> String {
        match err {
            ApiError::Transport(text) => text,
            other => panic!("{other:?}"),
        }
    }

    /// A request head up to its blank line, or why none could be read.
    fn read_head(reader: &mut impl BufRead) -> Result<String, String> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => return Err("closed".to_string()),
                Ok(_) if line == "\r\n" => return Ok(head),
                Ok(_) => head.push_str(&line),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// A server that accepts one TCP connection and then says nothing for three seconds.
    fn silent_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(3));
            drop(held);
        });
        port
    }

    /// A TLS server presenting the `localhost` certificate. Each connection's request head (or
    /// its handshake error) goes to the channel; a request is answered with a small JSON body.
    fn tls_server() -> (u16, mpsc::Receiver<Result<String, String>>) {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            CertificateDer::pem_slice_iter(CERT)
                .map(Result::unwrap)
                .collect(),
            PrivateKeyDer::from_pem_slice(KEY).unwrap(),
        )
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let outcome = read_head(&mut BufReader::new(&mut tls));
                if outcome.is_ok() {
                    let body = r#"{"RequestId":"tls-1"}"#;
                    let _ = write!(
                        tls,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.flush();
                }
                if tx.send(outcome).is_err() {
                    return;
                }
            }
        });
        (port, rx)
    }

    fn uri(host: &str, port: u16) -> Uri {
        call_uri(
            &Scheme::HTTPS,
            &Authority::try_from(format!("{host}:{port}")).unwrap(),
            QUERY.to_string(),
        )
    }

    #[tokio::test]
    async fn a_server_whose_certificate_chains_to_a_trusted_root_is_answered_over_tls() {
        let (port, seen) = tls_server();
        let reply = post(
            &transport(test_ca(), no_proxy()),
            uri("localhost", port),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(&reply.body[..], br#"{"RequestId":"tls-1"}"#);
        let head = seen.recv().unwrap().unwrap();
        assert!(
            head.starts_with(&format!("POST /?{QUERY} HTTP/1.1\r\n")),
            "{head}"
        );
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("host: localhost:{port}\r\n")),
            "{head}"
        );
        assert!(lower.contains("accept: application/json\r\n"), "{head}");
        assert!(lower.contains("content-length: 0\r\n"), "{head}");
        assert!(!lower.contains("transfer-encoding"), "{head}");
        assert!(lower.contains("user-agent: sg-remediator/"), "{head}");
    }

    /// A call to the TLS test server, addressed as `host`, fails to connect for `reason`, and
    /// no request reaches the server.
    async fn refused_before_anything_is_sent(transport: Transport, host: &str, reason: &str) {
        let (port, seen) = tls_server();
        let err = post(&transport, uri(host, port), Duration::from_secs(5))
            .await
            .unwrap_err();
        let text = transport_text(err);
        assert!(text.starts_with("connect failed"), "{text}");
        assert!(text.contains(reason), "{text}");
        assert!(
            seen.recv().unwrap().is_err(),
            "no request reached the server"
        );
    }

    #[tokio::test]
    async fn a_certificate_no_trusted_root_signed_is_refused_before_anything_is_sent() {
        // The Mozilla roots, as in production: the tests' CA is not among them.
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        refused_before_anything_is_sent(transport(roots, no_proxy()), "localhost", "UnknownIssuer")
            .await;
    }

    #[tokio::test]
    async fn a_certificate_for_another_host_name_is_refused() {
        // The certificate names `localhost`; the endpoint is the same server by address.
        refused_before_anything_is_sent(
            transport(test_ca(), no_proxy()),
            "127.0.0.1",
            "not valid for name \"127.0.0.1\"",
        )
        .await;
    }

    #[tokio::test]
    async fn a_plain_http_uri_is_refused_by_an_https_only_transport() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plain = call_uri(
            &Scheme::HTTP,
            &Authority::try_from(format!("127.0.0.1:{port}")).unwrap(),
            QUERY.to_string(),
        );
        let err = post(
            &transport(test_ca(), no_proxy()),
            plain,
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ApiError::Transport(_)), "{err:?}");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "no connection was made");
    }

    /// A `CONNECT` proxy: records each request head it gets, then relays the tunnel to the
    /// port it was asked for.
    fn connect_proxy() -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut client) = stream else { return };
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let head = read_head(&mut reader).unwrap_or_default();
                let target = head.split(' ').nth(1).unwrap_or("").to_string();
                let _ = tx.send(head);
                let port = target.rsplit(':').next().unwrap_or("").to_string();
                let Ok(mut upstream) = StdStream::connect(format!("127.0.0.1:{port}")) else {
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let mut down = upstream.try_clone().unwrap();
                let mut up = client.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut down, &mut up);
                });
                // What the reader already took past the head, then the rest of the stream.
                let _ = upstream.write_all(reader.buffer());
                let _ = std::io::copy(&mut reader.into_inner(), &mut upstream);
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn an_https_call_goes_through_the_proxy_as_a_tunnel_that_never_sees_the_query() {
        let (tls_port, seen) = tls_server();
        let (proxy_port, proxied) = connect_proxy();
        let proxies = Matcher::builder()
            .https(format!("http://user:pa55@127.0.0.1:{proxy_port}"))
            .build();
        let reply = post(
            &transport(test_ca(), proxies),
            uri("localhost", tls_port),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
        let head = proxied.recv().unwrap();
        assert!(
            head.starts_with(&format!("CONNECT localhost:{tls_port} HTTP/1.1\r\n")),
            "{head}"
        );
        // user:pa55, base64.
        assert!(
            head.to_ascii_lowercase()
                .contains("proxy-authorization: basic dxnlcjpwytu1\r\n"),
            "{head}"
        );
        assert!(
            !head.contains("Signature") && !head.contains("SecurityToken"),
            "{head}"
        );
        // The request itself arrived inside the tunnel, over TLS.
        assert!(seen.recv().unwrap().unwrap().contains(QUERY));
    }

    #[tokio::test]
    async fn no_proxy_hosts_are_reached_directly() {
        let (tls_port, seen) = tls_server();
        let (proxy_port, proxied) = connect_proxy();
        let proxies = Matcher::builder()
            .https(format!("http://127.0.0.1:{proxy_port}"))
            .no("localhost")
            .build();
        let reply = post(
            &transport(test_ca(), proxies),
            uri("localhost", tls_port),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
        assert!(seen.recv().unwrap().is_ok());
        assert!(proxied.try_recv().is_err(), "the proxy saw nothing");
    }

    #[tokio::test]
    async fn the_connect_timeout_covers_the_tls_handshake() {
        // TCP is accepted at once; the TLS handshake never completes.
        let port = silent_server();
        let transport =
            Transport::with_roots(test_ca(), no_proxy(), Duration::from_millis(200), false)
                .unwrap();
        let started = std::time::Instant::now();
        let err = post(&transport, uri("localhost", port), Duration::from_secs(5))
            .await
            .unwrap_err();
        let text = transport_text(err);
        assert!(text.starts_with("connect failed"), "{text}");
        assert!(text.contains("connect timed out after 200ms"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_slow_server_is_a_timed_out_transport_error() {
        // Accepts the TCP connection and never speaks TLS.
        let port = silent_server();
        let started = std::time::Instant::now();
        let err = post(
            &transport(test_ca(), no_proxy()),
            uri("localhost", port),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert_eq!(err, ApiError::Transport("timed out".into()));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

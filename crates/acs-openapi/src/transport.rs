//! The HTTP transport: one shared reqwest client (HTTP/1.1 over rustls), configured for what an
//! RPC call needs and nothing else.
//!
//! What it promises:
//! - TLS with rustls and the Mozilla root store built into reqwest (`webpki-roots`), always
//!   verified; the system's CA files are not read.
//! - `https://` only, unless the client allows plain `http://` (explicitly configured endpoints
//!   such as the local emulator). This is checked per call, not with reqwest's global
//!   `https_only`, so an allowed `http://` endpoint keeps working.
//! - Redirects are never followed: that would send the signed request, and its
//!   `SecurityToken`, to another host.
//! - A connection pool per host, TCP_NODELAY, a connect timeout that covers TCP, the proxy's
//!   tunnel and TLS, and one deadline for the whole attempt (connect, send, read the body).
//! - A body of at most [`MAX_BODY_BYTES`].
//! - Proxies exactly as the README states them, configured here rather than by reqwest's own
//!   environment handling (which would also read `HTTP_PROXY`): `HTTPS_PROXY` / `ALL_PROXY` (or in
//!   lower case) for `https://` endpoints only, through an HTTP `CONNECT` tunnel, unless
//!   `NO_PROXY` lists the host. The proxy sees the host name, never the signed request. A plain
//!   `http://` endpoint is local by design and always reached directly; `HTTP_PROXY` is never read.
//! - Errors never carry the URL (reqwest's text would: under signature V2 it holds the signed
//!   query and the `SecurityToken`), and every error text goes through the redactor as well.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_LENGTH};
use reqwest::{Certificate, Method, NoProxy, Proxy, Request};

use crate::error::ApiError;
use crate::redact::Redactor;

/// Bodies larger than this are refused: a DescribeSecurityGroupAttribute page of 1000 rules is
/// under 1 MiB.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

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

/// Which certificate authorities a transport trusts.
#[derive(Debug, Clone)]
pub(crate) enum Roots {
    /// The Mozilla root store built into reqwest: production.
    Mozilla,
    /// Only these (the tests' own certificate authority).
    #[cfg_attr(not(test), allow(dead_code))]
    Only(Vec<Certificate>),
}

/// The proxy for `https://` endpoints and the hosts reached without it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxies {
    /// The variable the proxy came from and its value, e.g. `("HTTPS_PROXY", "http://p:3128")`.
    https: Option<(&'static str, String)>,
    /// Hosts reached directly, as `NO_PROXY` lists them.
    no: Option<NoProxy>,
}

impl Proxies {
    /// As curl reads the environment for an `https://` URL: the first non-empty of
    /// `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `all_proxy`, and `NO_PROXY` (or `no_proxy`).
    pub(crate) fn from_env() -> Proxies {
        Proxies::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Proxies::from_env`] with the variables read by `var`. `HTTP_PROXY` is never asked for.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Proxies {
        let set = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let https = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .find_map(|name| set(name).map(|v| (name, v)));
        let no = set("NO_PROXY")
            .or_else(|| set("no_proxy"))
            .and_then(|list| NoProxy::from_string(&list));
        Proxies { https, no }
    }

    /// `https://` calls through `proxy` unless `no_proxy` lists the host (the tests give their
    /// own rather than change the process's environment).
    #[cfg(test)]
    fn new(proxy: &str, no_proxy: &str) -> Proxies {
        Proxies {
            https: Some(("HTTPS_PROXY", proxy.to_string())),
            no: NoProxy::from_string(no_proxy),
        }
    }
}

/// The pooled HTTP client every call of a [`crate::Client`] goes through.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    connect_timeout: Duration,
    allow_http: bool,
}

impl Transport {
    /// A transport trusting the Mozilla root store, with the proxies the environment names.
    pub(crate) fn new(connect_timeout: Duration, allow_http: bool) -> Result<Transport, ApiError> {
        Transport::with(
            Roots::Mozilla,
            Proxies::from_env(),
            connect_timeout,
            allow_http,
        )
    }

    /// A transport trusting `roots` and using `proxies`. Fails if a proxy is not a usable URL
    /// (the error names the variable, not its value, which may carry a password) or if the TLS
    /// stack cannot be set up.
    pub(crate) fn with(
        roots: Roots,
        proxies: Proxies,
        connect_timeout: Duration,
        allow_http: bool,
    ) -> Result<Transport, ApiError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            // Only the proxy configured below; reqwest's own environment handling is off.
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("sg-remediator/", env!("CARGO_PKG_VERSION")));
        if let Roots::Only(certificates) = roots {
            builder = builder.tls_built_in_root_certs(false);
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some((name, url)) = proxies.https {
            let unusable = || {
                ApiError::InvalidRequest(format!(
                    "{name} is not a usable proxy URL (write it as http://[user:password@]host:port)"
                ))
            };
            // As curl: a value without a scheme is an HTTP proxy. Only HTTP(S) proxies can
            // tunnel here; anything else would be silently skipped, so it stops the client.
            let url = if url.contains("://") {
                url
            } else {
                format!("http://{url}")
            };
            let parsed = reqwest::Url::parse(&url).map_err(|_| unusable())?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(unusable());
            }
            // `Proxy::https` intercepts `https://` URLs only: plain `http://` goes direct.
            let proxy = Proxy::https(parsed).map_err(|_| unusable())?;
            builder = builder.proxy(proxy.no_proxy(proxies.no));
        }
        let http = builder.build().map_err(|e| {
            ApiError::InvalidRequest(format!("TLS setup failed: {}", chain(&e.without_url())))
        })?;
        Ok(Transport {
            http,
            connect_timeout,
            allow_http,
        })
    }

    /// `POST url` with `headers` and an empty body, the whole exchange (connect, send, read the
    /// body) bounded by `timeout`. A failure before a status arrives is a transport error; a
    /// body over [`MAX_BODY_BYTES`] is refused as undecodable (with the status and retry hint it
    /// came with).
    pub(crate) async fn post(
        &self,
        url: reqwest::Url,
        mut headers: HeaderMap,
        timeout: Duration,
        redactor: &Redactor<'_>,
    ) -> Result<Reply, (ApiError, Option<Duration>)> {
        if url.scheme() != "https" && !self.allow_http {
            return Err((
                ApiError::Transport("connect failed: plain http refused".into()),
                None,
            ));
        }
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        // RFC 9110 §8.6: a POST says `Content-Length: 0` when it has no content; without it
        // an empty body would be sent with no length at all, which some front ends refuse.
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let mut request = Request::new(Method::POST, url);
        *request.headers_mut() = headers;
        let exchange = async {
            let mut response = self
                .http
                .execute(request)
                .await
                .map_err(|e| (self.transport_error(e, redactor), None))?;
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
            let too_large = || {
                (
                    ApiError::Decode {
                        status,
                        detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
                    },
                    retry_after,
                )
            };
            if response
                .content_length()
                .is_some_and(|n| n > MAX_BODY_BYTES as u64)
            {
                return Err(too_large());
            }
            // Most answers arrive as one chunk, which is the body as it is; only a body in
            // several chunks is copied into one buffer.
            let mut first: Option<Bytes> = None;
            let mut joined = BytesMut::new();
            while let Some(chunk) = response
                .chunk()
                .await
                // The connection dropped mid-body: no usable answer.
                .map_err(|e| (self.transport_error(e, redactor), retry_after))?
            {
                let held = first.as_ref().map_or(0, Bytes::len) + joined.len();
                if held + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                match first.take() {
                    None if joined.is_empty() => first = Some(chunk),
                    earlier => {
                        if let Some(earlier) = earlier {
                            joined.extend_from_slice(&earlier);
                        }
                        joined.extend_from_slice(&chunk);
                    }
                }
            }
            Ok(Reply {
                status,
                request_id,
                retry_after,
                body: first.unwrap_or_else(|| joined.freeze()),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err((ApiError::Transport("timed out".into()), None)))
    }

    /// Describes a failure without its URL (which may carry the signed query, including the
    /// SecurityToken), redacted as well.
    fn transport_error(&self, e: reqwest::Error, redactor: &Redactor<'_>) -> ApiError {
        let e = e.without_url();
        let text = if e.is_connect() && e.is_timeout() {
            format!(
                "connect failed: connect timed out after {:?}",
                self.connect_timeout
            )
        } else if e.is_connect() {
            format!("connect failed: {}", chain(&e))
        } else {
            format!("request failed: {}", chain(&e))
        };
        ApiError::Transport(redactor.redact(&text))
    }
}

/// An error and its sources, `: `-joined.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    //! The transport against local servers: TLS with the tests' own certificate authority
    //! (`tests/fixtures/tls`: a CA and a certificate for `localhost` only, valid until 2126), and
    //! a `CONNECT` proxy. Blocking std servers on threads, so the client under test is the only
    //! async code.

    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::sync::{mpsc, Arc};

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::*;
    use crate::credentials::Credentials;

    const CA: &[u8] = include_bytes!("../tests/fixtures/tls/ca.pem");
    const CERT: &[u8] = include_bytes!("../tests/fixtures/tls/server.pem");
    const KEY: &[u8] = include_bytes!("../tests/fixtures/tls/server.key");
    const QUERY: &str = "Action=DescribeRegions&SecurityToken=tok%2Bsecret&Signature=abc%3D";

    fn test_ca() -> Roots {
        Roots::Only(vec![Certificate::from_pem(CA).unwrap()])
    }

    fn no_proxy() -> Proxies {
        Proxies::default()
    }

    fn transport(roots: Roots, proxies: Proxies) -> Transport {
        Transport::with(roots, proxies, Duration::from_secs(5), false).unwrap()
    }

    /// `POST uri` through `transport`, signed by STS-like credentials whose secret and token the
    /// redactor knows.
    async fn post(
        transport: &Transport,
        url: reqwest::Url,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let creds = Credentials::new("id", "secret", Some("tok+secret".into()));
        transport
            .post(url, HeaderMap::new(), timeout, &Redactor::new(&creds))
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

    /// `scheme://host:port/?QUERY`.
    fn url(scheme: &str, host: &str, port: u16) -> reqwest::Url {
        reqwest::Url::parse(&format!("{scheme}://{host}:{port}/?{QUERY}")).unwrap()
    }

    fn uri(host: &str, port: u16) -> reqwest::Url {
        url("https", host, port)
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
        refused_before_anything_is_sent(
            transport(Roots::Mozilla, no_proxy()),
            "localhost",
            "UnknownIssuer",
        )
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
        let plain = url("http", "127.0.0.1", port);
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
        let proxies = Proxies::new(&format!("http://user:pa55@127.0.0.1:{proxy_port}"), "");
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
        let proxies = Proxies::new(&format!("http://127.0.0.1:{proxy_port}"), "localhost");
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
            Transport::with(test_ca(), no_proxy(), Duration::from_millis(200), false).unwrap();
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

    /// A plain HTTP server: each connection's request head goes to the channel and is answered
    /// with `answer` (raw bytes, head and body).
    fn plain_server(answer: Vec<u8>) -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let head = read_head(&mut BufReader::new(&mut stream)).unwrap_or_default();
                let _ = stream.write_all(&answer);
                drop(stream);
                if tx.send(head).is_err() {
                    return;
                }
            }
        });
        (port, rx)
    }

    fn plain_uri(port: u16) -> reqwest::Url {
        url("http", "127.0.0.1", port)
    }

    #[tokio::test]
    async fn an_allowed_plain_http_endpoint_is_reached_directly_even_with_a_proxy_configured() {
        let (port, seen) = plain_server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_vec(),
        );
        let (proxy_port, proxied) = connect_proxy();
        let proxies = Proxies::new(&format!("http://127.0.0.1:{proxy_port}"), "");
        let transport = Transport::with(test_ca(), proxies, Duration::from_secs(5), true).unwrap();
        let reply = post(&transport, plain_uri(port), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        let head = seen.recv().unwrap();
        assert!(
            head.starts_with(&format!("POST /?{QUERY} HTTP/1.1\r\n")),
            "{head}"
        );
        assert!(proxied.try_recv().is_err(), "the proxy saw nothing");
    }

    #[tokio::test]
    async fn a_body_in_several_chunks_arrives_whole_and_in_order() {
        let (port, _seen) = plain_server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
              6\r\n{\"a\":1\r\n7\r\n,\"b\":2}\r\n0\r\n\r\n"
                .to_vec(),
        );
        let transport =
            Transport::with(test_ca(), no_proxy(), Duration::from_secs(5), true).unwrap();
        let reply = post(&transport, plain_uri(port), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(&reply.body[..], br#"{"a":1,"b":2}"#);
    }

    #[tokio::test]
    async fn a_body_announced_larger_than_the_bound_is_refused_as_undecodable() {
        let too_long = MAX_BODY_BYTES + 1;
        let (port, _seen) = plain_server(
            format!("HTTP/1.1 200 OK\r\ncontent-length: {too_long}\r\n\r\n{{").into_bytes(),
        );
        let transport =
            Transport::with(test_ca(), no_proxy(), Duration::from_secs(5), true).unwrap();
        let err = post(&transport, plain_uri(port), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ApiError::Decode {
                status: 200,
                detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
            }
        );
    }

    #[tokio::test]
    async fn a_body_that_grows_past_the_bound_without_a_length_is_refused_as_undecodable() {
        let mut answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
        answer.resize(answer.len() + MAX_BODY_BYTES + 1, b' ');
        let (port, _seen) = plain_server(answer);
        let transport =
            Transport::with(test_ca(), no_proxy(), Duration::from_secs(5), true).unwrap();
        let err = post(&transport, plain_uri(port), Duration::from_secs(20))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ApiError::Decode { status: 200, detail } if detail.contains("larger than")),
            "{err:?}"
        );
    }

    /// The proxy variables as a map, for [`Proxies::from_vars`].
    fn proxies_from(vars: &[(&str, &str)]) -> Proxies {
        Proxies::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn https_proxy_wins_over_all_proxy_and_upper_case_over_lower_case() {
        let p = proxies_from(&[
            ("all_proxy", "http://all-lower:1"),
            ("ALL_PROXY", "http://all:1"),
            ("https_proxy", "http://https-lower:1"),
            ("HTTPS_PROXY", "http://https:1"),
        ]);
        assert_eq!(p.https, Some(("HTTPS_PROXY", "http://https:1".to_string())));
        let p = proxies_from(&[("https_proxy", "http://h:1"), ("ALL_PROXY", "http://a:1")]);
        assert_eq!(p.https, Some(("https_proxy", "http://h:1".to_string())));
        let p = proxies_from(&[("HTTPS_PROXY", " "), ("all_proxy", "http://a:1")]);
        assert_eq!(p.https, Some(("all_proxy", "http://a:1".to_string())));
    }

    #[test]
    fn http_proxy_is_never_read() {
        let p = proxies_from(&[("HTTP_PROXY", "http://p:1"), ("http_proxy", "http://p:1")]);
        assert_eq!(p.https, None);
    }

    #[test]
    fn no_proxy_is_read_in_either_case() {
        assert!(proxies_from(&[("NO_PROXY", "localhost")]).no.is_some());
        assert!(proxies_from(&[("no_proxy", "localhost")]).no.is_some());
        assert!(proxies_from(&[]).no.is_none());
    }

    #[test]
    fn an_unusable_proxy_url_stops_the_client_naming_the_variable_not_the_value() {
        for value in [
            "ftp://user:s3cret@proxy:21",
            "http://user:s3cret@bad host:1",
        ] {
            let proxies = Proxies {
                https: Some(("ALL_PROXY", value.to_string())),
                no: None,
            };
            let err = Transport::with(Roots::Mozilla, proxies, Duration::from_secs(1), false)
                .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("ALL_PROXY"), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_proxy_without_a_scheme_is_an_http_proxy() {
        let (tls_port, _seen) = tls_server();
        let (proxy_port, proxied) = connect_proxy();
        let proxies = Proxies::new(&format!("127.0.0.1:{proxy_port}"), "");
        let reply = post(
            &transport(test_ca(), proxies),
            uri("localhost", tls_port),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
        assert!(proxied.recv().unwrap().starts_with("CONNECT localhost:"));
    }
}

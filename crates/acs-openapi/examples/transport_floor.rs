//! What one RPC call costs the caller's CPU over loopback, against the floor the kernel sets
//! (`make bench` prints it; docs/performance.md explains it).
//!
//! A local HTTP/1.1 server (its own thread) answers every `POST` with the same ~5 KB JSON body,
//! about the size of a ten-rule DescribeSecurityGroupAttribute page. On the measuring thread,
//! with the thread's own CPU time (`/proc/thread-self/schedstat`, nanoseconds, user + system):
//!
//! - **kernel floor**: a blocking socket writes the request and reads the answer, parsing
//!   nothing but the head's `content-length`. What is left is the system calls and the
//!   loopback delivery (the sender's context carries the receiver's network processing).
//! - **hyper's connection**: one `hyper::client::conn::http1` connection, the same request line
//!   and headers as a call signed with the client's default signature (V3: the API's parameters
//!   in the query, the common ones and the signature in headers), the body collected; no pool,
//!   no signing, no envelope. What is left above the kernel floor is hyper's and tokio's.
//! - **`Client::call`**: the real client on a current-thread runtime, as `bootstrap` runs it:
//!   sign (V3 by default: fresh nonce and date, SHA-256, HMAC-SHA256), reqwest's pooled
//!   connection, the envelope check of the answer.
//!
//! `cargo run --release -p acs-openapi --example transport_floor [calls]` (default 20,000).
//! With `TRANSPORT_FLOOR_JSON=<path>`, the rounds are also written there as JSON (`make bench`
//! reads them to compute the floor per group).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use acs_openapi::credentials::Credentials;
use acs_openapi::{CallContext, Client, ClientSettings, Endpoint, Params, RpcRequest};

/// About the size of a ten-rule page.
fn body() -> String {
    format!(
        "{{\"RequestId\":\"5D7A1C52-3A7E-4A0B-9C41-2B1F0D8E6A11\",\"Pad\":\"{}\"}}",
        "x".repeat(5000)
    )
}

/// A keep-alive HTTP/1.1 server answering every request with `body`, a thread per connection.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let answer = {
        let b = body();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{b}",
            b.len()
        )
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut out = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                loop {
                    // The requests carry no body (content-length: 0).
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    if out.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn per_call(calls: usize, f: impl FnOnce()) -> (f64, f64) {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    f();
    let us = |d: Duration| d.as_secs_f64() * 1e6 / calls as f64;
    (us(thread_cpu() - cpu), us(wall.elapsed()))
}

fn blocking(port: u16, calls: usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let request = b"POST /?Action=DescribeSecurityGroupAttribute HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n";
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..calls {
        s.write_all(request).expect("write");
        let mut got = 0;
        loop {
            got += s.read(&mut buf[got..]).expect("read");
            let Some(end) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = std::str::from_utf8(&buf[..end])
                .expect("head")
                .to_ascii_lowercase();
            let length: usize = head
                .split("content-length: ")
                .nth(1)
                .and_then(|v| v.split("\r\n").next())
                .and_then(|v| v.parse().ok())
                .expect("content-length");
            if got >= end + 4 + length {
                break;
            }
        }
    }
}

fn client(port: u16, calls: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = Client::new(ClientSettings {
        allow_http: true,
        ..ClientSettings::default()
    })
    .expect("client");
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).expect("endpoint");
    let credentials = Credentials::new(
        "STS.NUgYrLnoC37mZZCNnAbez2",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("CAIS+token/0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij==".into()),
    );
    rt.block_on(async {
        for _ in 0..calls {
            let mut params = Params::new();
            params.insert("RegionId".into(), "cn-hangzhou".into());
            params.insert("SecurityGroupId".into(), "sg-reltemplate0000000".into());
            let req = RpcRequest {
                endpoint: &endpoint,
                action: "DescribeSecurityGroupAttribute",
                version: "2014-05-26",
                params,
            };
            let cx = CallContext {
                credentials: &credentials,
                deadline: Instant::now() + Duration::from_secs(60),
            };
            client
                .call::<acs_openapi::response::Envelope>(&req, &cx)
                .await
                .result
                .expect("call");
        }
    });
}

/// hyper's own HTTP/1.1 connection, no pool, no signing, no envelope: the same request line
/// and headers a V3-signed call sends (the server ignores them), the body collected.
fn hyper_conn(port: u16, calls: usize) {
    use http_body_util::{BodyExt, Empty};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let uri = "/?RegionId=cn-hangzhou&SecurityGroupId=sg-reltemplate0000000";
    let headers = [
        ("host", "127.0.0.1"),
        ("x-acs-action", "DescribeSecurityGroupAttribute"),
        (
            "x-acs-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-acs-date", "2026-12-01T03:00:00Z"),
        (
            "x-acs-security-token",
            "CAIS+token/0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij==",
        ),
        (
            "x-acs-signature-nonce",
            "0b7c1c3e-58f4-4a53-9d2c-6f1d8a0e3b27",
        ),
        ("x-acs-version", "2014-05-26"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=STS.NUgYrLnoC37mZZCNnAbez2,SignedHeaders=host;\
             x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;\
             x-acs-signature-nonce;x-acs-version,\
             Signature=9f2c1b0a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3",
        ),
        ("accept", "application/json"),
        ("content-length", "0"),
        ("user-agent", "sg-remediator/0.1.0"),
    ];
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Empty<bytes::Bytes>>(
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .expect("handshake");
        tokio::spawn(conn);
        for _ in 0..calls {
            let mut req = http::Request::post(uri);
            for (name, value) in headers {
                req = req.header(name, value);
            }
            let req = req.body(Empty::new()).expect("request");
            send.ready().await.expect("ready");
            let answer = send.send_request(req).await.expect("send");
            let body = answer.into_body().collect().await.expect("body");
            std::hint::black_box(body.to_bytes());
        }
    });
}

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let port = serve();
    // Warm both paths (connections, pool, allocator) before measuring.
    blocking(port, 200);
    client(port, 200);
    let mut rounds = Vec::new();
    for round in 1..=2 {
        let (kernel, wall) = per_call(calls, || blocking(port, calls));
        println!(
            "transport floor, round {round}: kernel floor (blocking socket) {kernel:6.1} µs CPU per call ({wall:6.1} µs wall)"
        );
        let (hyper, wall) = per_call(calls, || hyper_conn(port, calls));
        println!(
            "transport floor, round {round}: hyper's connection (no pool, signing, envelope) {hyper:6.1} µs CPU per call ({wall:6.1} µs wall)"
        );
        let (client, wall) = per_call(calls, || client(port, calls));
        println!(
            "transport floor, round {round}: Client::call (sign, reqwest, envelope) {client:6.1} µs CPU per call ({wall:6.1} µs wall)"
        );
        rounds.push(serde_json::json!({"kernelUs": kernel, "hyperUs": hyper, "clientUs": client}));
    }
    // `make bench` reads the rounds back to put a floor beside the per-group figures.
    if let Some(path) = std::env::var_os("TRANSPORT_FLOOR_JSON") {
        let text = serde_json::json!({ "calls": calls, "rounds": rounds }).to_string();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!(
                "transport floor: {}: {e}",
                std::path::Path::new(&path).display()
            );
            std::process::exit(1);
        }
    }
}

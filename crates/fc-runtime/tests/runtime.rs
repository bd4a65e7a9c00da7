//! The FC custom-runtime contract over real HTTP, as FC drives it, with handlers written for the
//! purpose: ones that echo their context, fail, panic or sleep. No product is involved, so a
//! product binary needs no test hooks.
//!
//! Most tests run the server in-process ([`serve`] on a free loopback port). What only a process
//! shows (FC's log markers on stdout, SIGTERM, a bad variable at start) runs this same test
//! binary again as a child that calls [`fc_runtime::run`], as a `bootstrap` would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fc_runtime::{serve, service_fn, Diagnostic, Event, Handler, RuntimeOptions};
use serde_json::{json, Value};
use sg_test_kit::fc::{invoke_at, read_json};
use sg_test_kit::process::{wait_with_patience, PATIENCE};

const SECRET: &str = "wJalrXUtnFEMI-secret-value-4f1d";
const TOKEN: &str = "CAIS-security-token-value-9c2e";

// ---------------------------------------------------------------------------------------------
// Handlers

/// Echoes the context: presence and lengths of the secret and token, never their values.
async fn echo(event: Event) -> Result<Value, Diagnostic> {
    let c = &event.context;
    let creds = c.credentials.as_ref();
    Ok(json!({
        "requestId": c.request_id,
        "credentials": creds.is_some(),
        "accessKeyId": creds.map(|k| k.access_key_id.clone()),
        "secretLength": creds.map(|k| k.access_key_secret.expose().len()),
        "securityTokenPresent": creds.is_some_and(|k| k.security_token.is_some()),
        "securityTokenLength": creds.and_then(|k| k.security_token.as_ref()).map(|t| t.expose().len()),
        "region": c.region,
        "accountId": c.account_id,
        "functionName": c.function_name,
        "qualifier": c.qualifier,
        "memoryMb": c.memory_mb,
        "timeoutMs": c.timeout.as_millis() as u64,
        "retryCount": c.retry_count,
        "remainingMs": c.remaining().as_millis() as u64,
        "payload": String::from_utf8_lossy(&event.payload),
    }))
}

/// Fails with a body next to the error fields.
async fn fail(event: Event) -> Result<Value, Diagnostic> {
    Err(Diagnostic::new("HandlerRefused", "refused on purpose")
        .with_body(json!({"requestId": event.context.request_id})))
}

/// Fails with a message carrying text that, printed raw, would be FC's end marker for another
/// request (as a message quoting an event's bad value could).
async fn fail_forging_a_marker(_: Event) -> Result<Value, Diagnostic> {
    Err(Diagnostic::new(
        "InvalidEvent",
        "bad id x\nFC Invoke End RequestId: forged-id\r\n\x1b[2K",
    ))
}

/// Panics.
async fn panic(_: Event) -> Result<Value, Diagnostic> {
    panic!("handler panicked on purpose")
}

/// Sleeps for the number of milliseconds in the payload, then answers with how long it slept
/// and how much of its deadline was left.
async fn sleep(event: Event) -> Result<Value, Diagnostic> {
    let ms: u64 = std::str::from_utf8(&event.payload)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({"slept": ms, "remainingMs": event.context.remaining().as_millis() as u64}))
}

/// What the child process serves: the payload names the behaviour.
async fn by_payload(event: Event) -> Result<Value, Diagnostic> {
    match event.payload.as_ref() {
        b"panic" => panic(event).await,
        b"fail" => fail(event).await,
        b"forge" => fail_forging_a_marker(event).await,
        b"echo" => echo(event).await,
        _ => sleep(event).await,
    }
}

// ---------------------------------------------------------------------------------------------
// In-process server

/// A server running in this process on a free loopback port.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(handler: impl Handler) -> Server {
        Server::start_with(RuntimeOptions::default(), handler).await
    }

    async fn start_with(options: RuntimeOptions, handler: impl Handler) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, options, handler, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn invoke(&self, request_id: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        invoke_at(
            &reqwest::Client::new(),
            &self.url("/invoke"),
            request_id,
            body,
        )
    }

    /// Resolve the shutdown future and wait for `serve` to return.
    async fn shut_down(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The context

#[tokio::test]
async fn fc_headers_become_the_context() {
    let server = Server::start(service_fn(echo)).await;
    let resp = server
        .invoke("1-67adb489-15d49184-2d4fa002fa2b", "{}")
        .header("x-fc-access-key-id", "STS.NUgYrLnoC37mZZCNnAbez2")
        .header("x-fc-access-key-secret", SECRET)
        .header("x-fc-security-token", TOKEN)
        .header("x-fc-region", "cn-hangzhou")
        .header("x-fc-account-id", "1234567890123456")
        .header("x-fc-function-name", "sg-remediator")
        .header("x-fc-qualifier", "LATEST")
        .header("x-fc-function-memory", "512")
        .header("x-fc-function-timeout", "30")
        .header("x-fc-retry-count", "2")
        .send()
        .await
        .unwrap();
    let (status, fc_status, mut body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (200, Some("200")));
    let remaining = body.as_object_mut().unwrap().remove("remainingMs").unwrap();
    assert!(remaining.as_u64().unwrap() <= 30_000, "{remaining}");
    assert_eq!(
        body,
        json!({
            "requestId": "1-67adb489-15d49184-2d4fa002fa2b",
            "credentials": true,
            "accessKeyId": "STS.NUgYrLnoC37mZZCNnAbez2",
            "secretLength": SECRET.len(),
            "securityTokenPresent": true,
            "securityTokenLength": TOKEN.len(),
            "region": "cn-hangzhou",
            "accountId": "1234567890123456",
            "functionName": "sg-remediator",
            "qualifier": "LATEST",
            "memoryMb": 512,
            "timeoutMs": 30_000,
            "retryCount": 2,
            "payload": "{}",
        })
    );
}

#[tokio::test]
async fn absent_optional_headers_give_an_empty_context_with_the_default_timeout() {
    let server = Server::start(service_fn(echo)).await;
    let resp = server.invoke("r-minimal", "{}").send().await.unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 200);
    for key in [
        "region",
        "accountId",
        "functionName",
        "qualifier",
        "memoryMb",
        "retryCount",
    ] {
        assert_eq!(body[key], Value::Null, "{key}");
    }
    assert_eq!(body["timeoutMs"], 60_000);
}

#[tokio::test]
async fn empty_credential_headers_mean_no_credentials() {
    let server = Server::start(service_fn(echo)).await;
    let resp = server
        .invoke("r-empty-creds", "{}")
        .header("x-fc-access-key-id", "")
        .header("x-fc-access-key-secret", "")
        .header("x-fc-security-token", "")
        .header("x-fc-region", "")
        .send()
        .await
        .unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["credentials"], false);
    assert_eq!(body["accessKeyId"], Value::Null);
    assert_eq!(body["securityTokenPresent"], false);
    assert_eq!(body["region"], Value::Null);
}

#[tokio::test]
async fn missing_credential_headers_mean_no_credentials() {
    let server = Server::start(service_fn(echo)).await;
    let resp = server.invoke("r-no-creds", "{}").send().await.unwrap();
    let (_, _, body) = read_json(resp).await;
    assert_eq!(body["credentials"], false);
    assert_eq!(body["secretLength"], Value::Null);
}

#[tokio::test]
async fn concurrent_invocations_each_see_only_their_own_credentials() {
    let server = Server::start(service_fn(echo)).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let request = server
            .invoke(&format!("r-{i}"), "{}")
            .header("x-fc-access-key-id", format!("STS.key-{i}"))
            .header("x-fc-access-key-secret", format!("secret-{i}"))
            .header("x-fc-security-token", "t".repeat(i + 1));
        tasks.push(tokio::spawn(async move { request.send().await }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let resp = task.await.unwrap().unwrap();
        let (status, _, body) = read_json(resp).await;
        assert_eq!(status, 200);
        assert_eq!(body["requestId"], format!("r-{i}"));
        assert_eq!(body["accessKeyId"], format!("STS.key-{i}"));
        assert_eq!(body["secretLength"], format!("secret-{i}").len());
        assert_eq!(body["securityTokenLength"], i + 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

#[tokio::test]
async fn a_successful_invocation_answers_200_with_x_fc_status_200_and_json() {
    let server = Server::start(service_fn(echo)).await;
    let resp = server.invoke("r-ok", "hello").send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (200, Some("200")));
    assert_eq!(body["requestId"], "r-ok");
    assert_eq!(body["payload"], "hello");
}

#[tokio::test]
async fn a_handler_error_answers_404_with_x_fc_status_404_and_error_fields() {
    let server = Server::start(service_fn(fail)).await;
    let resp = server.invoke("r-err", "{}").send().await.unwrap();
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "HandlerRefused");
    assert_eq!(body["errorMessage"], "refused on purpose");
    // The handler's body fields sit next to errorType/errorMessage.
    assert_eq!(body["requestId"], "r-err");
}

#[tokio::test]
async fn a_boxed_error_answers_as_a_handler_error() {
    let server = Server::start(service_fn(|_: Event| async {
        Err::<Value, fc_runtime::Error>("disk on fire".into())
    }))
    .await;
    let (status, _, body) = read_json(server.invoke("r-boxed", "").send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(body["errorType"], "HandlerError");
    assert_eq!(body["errorMessage"], "disk on fire");
}

#[tokio::test]
async fn a_panicking_handler_becomes_an_error_response_and_the_server_keeps_serving() {
    let server = Server::start(service_fn(by_payload)).await;
    let resp = server.invoke("r-panic", "panic").send().await.unwrap();
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "HandlerPanicked");
    assert!(body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("handler panicked on purpose"));

    let after = server.invoke("r-after-panic", "0").send().await.unwrap();
    assert_eq!(after.status().as_u16(), 200);
}

#[tokio::test]
async fn every_answer_passes_through_the_handlers_redaction() {
    fn mask(body: &str) -> std::borrow::Cow<'_, str> {
        body.replace("on purpose", "***").into()
    }
    let server = Server::start(service_fn(by_payload).redact_with(mask)).await;
    for (payload, field) in [("fail", "errorMessage"), ("panic", "errorMessage")] {
        let (_, _, body) = read_json(server.invoke("r-mask", payload).send().await.unwrap()).await;
        let text = body[field].as_str().unwrap();
        assert!(
            text.contains("***") && !text.contains("on purpose"),
            "{payload}: {text}"
        );
    }
    let echo = service_fn(|_: Event| async { Ok::<_, Diagnostic>(json!({"said": "on purpose"})) });
    let server = Server::start(echo.redact_with(mask)).await;
    let (_, _, body) = read_json(server.invoke("r-ok", "").send().await.unwrap()).await;
    assert_eq!(body, json!({"said": "***"}));
}

// ---------------------------------------------------------------------------------------------
// Slow handlers: concurrency, deadlines, shutdown

#[tokio::test]
async fn a_slow_invocation_does_not_hold_up_a_concurrent_one() {
    let server = Server::start(service_fn(by_payload)).await;
    let slow = server.invoke("r-slow", "3000").send();
    let slow = tokio::spawn(slow);
    let started = Instant::now();
    let fast = server.invoke("r-fast", "0").send().await.unwrap();
    assert_eq!(fast.status().as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the fast invocation waited for the slow one"
    );
    let (status, _, body) = read_json(slow.await.unwrap().unwrap()).await;
    assert_eq!((status, body["slept"].as_u64()), (200, Some(3000)));
}

#[tokio::test]
async fn a_handler_that_sleeps_past_its_deadline_is_answered_with_no_time_left() {
    // The runtime does not cut a handler short: it reads `remaining()` and decides for itself.
    let server = Server::start(service_fn(by_payload)).await;
    let resp = server
        .invoke("r-late", "1200")
        .header("x-fc-function-timeout", "1")
        .send()
        .await
        .unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["slept"], 1200);
    assert_eq!(body["remainingMs"], 0);
}

#[tokio::test]
async fn the_deadline_counts_from_arrival_with_the_function_timeout() {
    let server = Server::start(service_fn(by_payload)).await;
    let resp = server
        .invoke("r-budget", "0")
        .header("x-fc-function-timeout", "5")
        .send()
        .await
        .unwrap();
    let (_, _, body) = read_json(resp).await;
    let remaining = body["remainingMs"].as_u64().unwrap();
    assert!(remaining <= 5000 && remaining > 0, "{remaining}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_invocation_finish_then_serve_returns() {
    let server = Server::start(service_fn(by_payload)).await;
    let in_flight = tokio::spawn(server.invoke("r-slow", "300").send());
    // Let the request reach the handler before shutting down.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shut_down().await;
    let (status, _, body) = read_json(in_flight.await.unwrap().expect("answered")).await;
    assert_eq!(status, 200);
    assert_eq!(body["slept"], 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_not_held_by_a_client_that_never_reads_its_answer() {
    /// Answers, after a moment, far more than a socket's buffers hold.
    async fn big_answer(_: Event) -> Result<Value, Diagnostic> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(Value::String("x".repeat(32 * 1024 * 1024)))
    }
    let options = RuntimeOptions {
        write_timeout: Duration::from_millis(500),
        ..RuntimeOptions::default()
    };
    let mut server = Server::start_with(options, service_fn(big_answer)).await;
    let mut reader = std::net::TcpStream::connect(server.addr).unwrap();
    reader
        .write_all(
            b"POST /invoke HTTP/1.1\r\nHost: x\r\nx-fc-request-id: r-unread\r\n\
              Content-Length: 2\r\n\r\n{}",
        )
        .unwrap();
    // Shut down while the invocation is in flight; its answer is then never read.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = server.stop.take().unwrap().send(());
    // Without a write timeout serve never returns; with it, it returns once the answer has been
    // built and has stalled for 500 ms (building 32 MiB takes a while in a debug build).
    tokio::time::timeout(PATIENCE, &mut server.task)
        .await
        .expect("serve returns although the answer is never read")
        .unwrap();
    drop(reader);
}

#[test]
fn the_documented_write_timeout_is_the_default() {
    assert_eq!(
        RuntimeOptions::default().write_timeout,
        Duration::from_secs(10)
    );
}

/// The library API used in-process (as benches do): `serve` on a port-0 listener with a handler
/// that fails with a full report body, then a shutdown future.
#[tokio::test]
async fn serve_runs_in_process_and_returns_after_shutdown() {
    let options = RuntimeOptions {
        port: 0,
        max_event_bytes: 1024,
        default_timeout: Duration::from_secs(5),
        ..RuntimeOptions::default()
    };
    let handler = service_fn(|event: Event| async move {
        let report = json!({"requestId": event.context.request_id, "resources": []});
        Err::<Value, _>(
            Diagnostic::new("RemediationIncomplete", "0 of 1 handled").with_body(report),
        )
    });
    let server = Server::start_with(options, handler).await;
    let resp = server.invoke("r-in-process", "[]").send().await.unwrap();
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(
        body,
        json!({
            "requestId": "r-in-process",
            "resources": [],
            "errorType": "RemediationIncomplete",
            "errorMessage": "0 of 1 handled"
        })
    );
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// Refused requests

#[tokio::test]
async fn a_missing_request_id_is_refused_with_a_clear_error() {
    let server = Server::start(service_fn(echo)).await;
    let resp = reqwest::Client::new()
        .post(server.url("/invoke"))
        .body("[]")
        .send()
        .await
        .unwrap();
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "MissingRequestId");
    assert!(body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("x-fc-request-id"));
}

#[tokio::test]
async fn a_request_id_that_could_forge_a_log_marker_is_refused() {
    let server = Server::start(service_fn(echo)).await;
    let resp = server.invoke("r End", "{}").send().await.unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 404);
    assert_eq!(body["errorType"], "InvalidRequestId");
}

fn small_limit() -> RuntimeOptions {
    RuntimeOptions {
        max_event_bytes: 1024,
        ..RuntimeOptions::default()
    }
}

#[tokio::test]
async fn a_body_over_max_event_bytes_is_refused_and_the_server_survives() {
    let server = Server::start_with(small_limit(), service_fn(by_payload)).await;
    let big = "1".repeat(4001);
    let resp = server.invoke("r-big", big.clone()).send().await.unwrap();
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "PayloadTooLarge");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.contains("MAX_EVENT_BYTES = 1024"), "{message}");
    assert!(message.contains(&big.len().to_string()), "{message}");

    let ok = server.invoke("r-small", "0").send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn a_chunked_body_without_content_length_is_limited_while_streaming() {
    let server = Server::start_with(small_limit(), service_fn(echo)).await;
    let addr = server.addr;
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let mut request = String::from(
            "POST /invoke HTTP/1.1\r\nHost: x\r\nx-fc-request-id: r-chunked\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        );
        for _ in 0..8 {
            request.push_str(&format!("200\r\n{}\r\n", "a".repeat(0x200)));
        }
        request.push_str("0\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("x-fc-status: 404"), "{response}");
    assert!(response.contains("PayloadTooLarge"), "{response}");
}

#[tokio::test]
async fn a_stalled_body_is_refused_with_body_read_timeout() {
    let options = RuntimeOptions {
        body_read_timeout: Duration::from_secs(1),
        ..RuntimeOptions::default()
    };
    let server = Server::start_with(options, service_fn(echo)).await;
    let addr = server.addr;
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // Ten bytes announced, two sent, then nothing.
        stream
            .write_all(
                b"POST /invoke HTTP/1.1\r\nHost: x\r\nx-fc-request-id: r-stalled\r\n\
                  Content-Length: 10\r\n\r\n[]",
            )
            .unwrap();
        let mut response = vec![0; 4096];
        let n = stream.read(&mut response).unwrap();
        String::from_utf8_lossy(&response[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("BodyReadTimeout"), "{response}");
    // The server serves on.
    let ok = server.invoke("r-after", "{}").send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

/// Sends `head` and the first `first` bytes of a `len`-byte body on a new connection.
fn half_sent(addr: SocketAddr, id: &str, len: usize, first: usize) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /invoke HTTP/1.1\r\nHost: x\r\nx-fc-request-id: {id}\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&vec![b' '; first]).unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bodies_larger_together_than_the_budget_all_complete() {
    // Budget 2000 bytes; four bodies of 1000, each half sent before any is finished. Taking room
    // piece by piece, each held 500 and waited for the rest until the body timeout.
    let options = RuntimeOptions {
        max_event_bytes: 1000,
        body_read_timeout: Duration::from_secs(3),
        ..RuntimeOptions::default()
    };
    let server = Server::start_with(options, service_fn(echo)).await;
    let addr = server.addr;
    let answers = tokio::task::spawn_blocking(move || {
        let mut streams: Vec<_> = (0..4)
            .map(|i| half_sent(addr, &format!("r-big-{i}"), 1000, 500))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        for s in &mut streams {
            s.write_all(&[b' '; 500]).unwrap();
        }
        let answers: Vec<String> = streams
            .iter_mut()
            .map(|s| {
                let mut answer = String::new();
                s.read_to_string(&mut answer).unwrap();
                answer
            })
            .collect();
        (answers, start.elapsed())
    })
    .await
    .unwrap();
    let (answers, took) = answers;
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_waiting_for_room_is_read_once_room_is_freed() {
    // Budget 2000 bytes: two bodies of 1000 hold it all while their senders stall.
    let options = RuntimeOptions {
        max_event_bytes: 1000,
        body_read_timeout: Duration::from_secs(5),
        ..RuntimeOptions::default()
    };
    let server = Server::start_with(options, service_fn(echo)).await;
    let a = half_sent(server.addr, "r-hold-a", 1000, 999);
    let _b = half_sent(server.addr, "r-hold-b", 1000, 999);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = tokio::spawn(server.invoke("r-third", "{}").send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "answered while the budget was taken");
    drop(a);
    let answer = third.await.unwrap().expect("answered once room was freed");
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_dropped_after_the_header_timeout() {
    let options = RuntimeOptions {
        header_read_timeout: Duration::from_millis(500),
        ..RuntimeOptions::default()
    };
    let server = Server::start_with(options, service_fn(echo)).await;
    let addr = server.addr;
    let took = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"POST /invoke HTTP/1.1\r\nHost: x\r\nx-fc-request-id: r-slow-head\r\n")
            .unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let start = Instant::now();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        start.elapsed()
    })
    .await
    .unwrap();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < PATIENCE, "still held after {took:?}");
    // The server serves on.
    let ok = server.invoke("r-after", "{}").send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[test]
fn the_documented_read_timeouts_are_the_defaults() {
    let o = RuntimeOptions::default();
    assert_eq!(o.header_read_timeout, Duration::from_secs(10));
    assert_eq!(o.body_read_timeout, Duration::from_secs(30));
}

// ---------------------------------------------------------------------------------------------
// Paths

#[tokio::test]
async fn unknown_paths_get_a_clear_fc_style_error() {
    let server = Server::start(service_fn(echo)).await;
    let resp = reqwest::get(server.url("/nope")).await.unwrap();
    let (status, fc_status, body) = read_json(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "UnknownPath");
    assert!(body["errorMessage"].as_str().unwrap().contains("/nope"));
}

#[tokio::test]
async fn a_wrong_method_and_http_triggers_are_refused_by_name() {
    let server = Server::start(service_fn(echo)).await;
    let (_, _, wrong) = read_json(reqwest::get(server.url("/invoke")).await.unwrap()).await;
    assert_eq!(wrong["errorType"], "MethodNotAllowed");
    let (_, _, http) = read_json(reqwest::get(server.url("/http-invoke")).await.unwrap()).await;
    assert_eq!(http["errorType"], "UnsupportedPath");
}

#[tokio::test]
async fn the_control_path_header_routes_like_the_url_path() {
    let server = Server::start(service_fn(echo)).await;
    let resp = reqwest::Client::new()
        .post(server.url("/"))
        .header("x-fc-control-path", "/invoke")
        .header("x-fc-request-id", "r-routed")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["requestId"], "r-routed");
}

// ---------------------------------------------------------------------------------------------
// As a process: `run` from the environment, markers on stdout, signals

/// Marks the child: this test binary started again to act as a `bootstrap`.
const CHILD: &str = "FC_RUNTIME_TEST_CHILD";

/// The child's body: `run(service_fn(...))` with logs on stdout, as a `bootstrap` would. It does
/// nothing in an ordinary test run (and is ignored there anyway).
#[test]
#[ignore = "run as a child process by the process tests"]
fn child_runs_the_runtime_from_its_environment() {
    if std::env::var(CHILD).as_deref() != Ok("1") {
        return;
    }
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match rt.block_on(fc_runtime::run(service_fn(by_payload))) {
        Ok(()) => println!("run returned Ok"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

/// The child process with its stdout and stderr captured line by line.
struct Process {
    child: Child,
    addr: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn child_command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_runs_the_runtime_from_its_environment",
        "--exact",
        "--ignored",
        "--nocapture",
    ])
    .env_clear()
    .env(CHILD, "1")
    .env("FC_CUSTOM_LISTEN_PORT", "0")
    .env("RUST_BACKTRACE", "0")
    .envs(env.iter().copied())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

impl Process {
    fn start() -> Process {
        let mut child = child_command(&[]).spawn().expect("child starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&output);
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = line.find("listening addr=") {
                        let bound: SocketAddr = line[at + 15..].trim().parse().unwrap();
                        let _ = tx.send(SocketAddr::from(([127, 0, 0, 1], bound.port())));
                    }
                    output.lock().unwrap().push(line);
                }
            }));
        }
        let addr = rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the child never logged `listening`: {:?}",
                output.lock().unwrap()
            )
        });
        Process {
            child,
            addr,
            output,
            readers,
        }
    }

    fn invoke(&self, request_id: &str, body: &'static str) -> reqwest::RequestBuilder {
        invoke_at(
            &reqwest::Client::new(),
            &format!("http://{}/invoke", self.addr),
            request_id,
            body,
        )
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    fn wait_for_line(&self, wanted: &str) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if self.lines().iter().any(|l| l == wanted) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("{wanted:?} never appeared: {:?}", self.lines());
    }

    /// SIGTERM, then wait for exit 0 and for every output line.
    fn finish(&mut self) -> Vec<String> {
        self.signal("TERM");
        let status = wait_with_patience(&mut self.child);
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        assert_eq!(status.code(), Some(0), "{:?}", self.lines());
        self.lines()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn start_and_end_markers_surround_successful_failed_and_panicked_invocations() {
    let mut process = Process::start();
    for (id, payload) in [("r-ok", "0"), ("r-e", "fail"), ("r-p", "panic")] {
        process.invoke(id, payload).send().await.unwrap();
    }
    let lines = process.finish();
    for id in ["r-ok", "r-e", "r-p"] {
        let at = |line: String| {
            lines
                .iter()
                .position(|l| *l == line)
                .unwrap_or_else(|| panic!("{line:?} missing: {lines:?}"))
        };
        let start = at(format!("FC Invoke Start RequestId: {id}"));
        let end = at(format!("FC Invoke End RequestId: {id}"));
        assert!(start < end, "{id}");
    }
}

#[tokio::test]
async fn a_failure_message_cannot_print_a_line_fc_would_read_as_its_marker() {
    let mut process = Process::start();
    let resp = process.invoke("r-forge", "forge").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let lines = process.finish();
    assert!(
        lines.iter().any(|l| l.contains("invocation failed")),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("FC Invoke End RequestId: forged-id")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains('\x1b')), "{lines:?}");
}

#[tokio::test]
async fn initialize_and_pre_stop_answer_200_with_their_markers() {
    let mut process = Process::start();
    let c = reqwest::Client::new();
    let init = c
        .post(format!("http://{}/initialize", process.addr))
        .header("x-fc-request-id", "r-init")
        .send()
        .await
        .unwrap();
    assert_eq!(init.status().as_u16(), 200);
    assert_eq!(init.headers()["x-fc-status"], "200");
    let stop = c
        .get(format!("http://{}/pre-stop", process.addr))
        .header("x-fc-request-id", "r-stop")
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status().as_u16(), 200);
    let lines = process.finish();
    for line in [
        "FC Initialize Start RequestId: r-init",
        "FC Initialize End RequestId: r-init",
        "FC PreStop Start RequestId: r-stop",
        "FC PreStop End RequestId: r-stop",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_invocation_finish_then_run_returns_ok() {
    let mut process = Process::start();
    let in_flight = tokio::spawn(process.invoke("r-slow", "300").send());
    tokio::task::block_in_place(|| process.wait_for_line("FC Invoke Start RequestId: r-slow"));
    process.signal("TERM");
    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["slept"], 300);
    let lines = tokio::task::block_in_place(|| process.finish());
    assert!(lines.iter().any(|l| l == "FC Invoke End RequestId: r-slow"));
    assert!(lines.iter().any(|l| l == "run returned Ok"));
}

#[test]
fn sigint_on_an_idle_server_makes_run_return_ok() {
    let mut process = Process::start();
    process.signal("INT");
    assert_eq!(wait_with_patience(&mut process.child).code(), Some(0));
}

#[tokio::test]
async fn secrets_and_tokens_never_reach_stdout_or_stderr() {
    let mut process = Process::start();
    for (id, payload) in [
        ("r-echo", "echo"),
        ("r-e", "fail"),
        ("r-p", "panic"),
        ("r-ok", "0"),
    ] {
        process
            .invoke(id, payload)
            .header("x-fc-access-key-id", "STS.visible")
            .header("x-fc-access-key-secret", SECRET)
            .header("x-fc-security-token", TOKEN)
            .send()
            .await
            .unwrap();
    }
    // Half a key pair is logged as a warning: that warning must not carry the secret either.
    process
        .invoke("r-half", "0")
        .header("x-fc-access-key-secret", SECRET)
        .send()
        .await
        .unwrap();
    let output = process.finish().join("\n");
    assert!(output.contains("FC Invoke End RequestId: r-half"));
    assert!(output.contains("incomplete credentials"), "{output}");
    assert!(!output.contains(SECRET));
    assert!(!output.contains(TOKEN));
}

#[test]
fn a_bad_runtime_variable_makes_run_fail_naming_it() {
    let out = child_command(&[("MAX_EVENT_BYTES", "0")])
        .output()
        .expect("child runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: MAX_EVENT_BYTES: 0 is outside the allowed range 1..=134217728"),
        "{stderr}"
    );
}

//! The FC custom-runtime contract, checked over real HTTP against the real `bootstrap` binary
//! (with its test-only hooks enabled: `SG_REMEDIATOR_TEST_HOOKS=1`).

use std::io::{Read, Write};

use serde_json::{json, Value};
use sg_test_kit::{bootstrap, invoke, Bootstrap};

/// `Bootstrap::start(env)`: the package's `bootstrap` with its test hooks on (the `__test`
/// events) and `env` on top.
trait WithTestHooks {
    fn start(env: &[(&str, &str)]) -> Bootstrap;
}

impl WithTestHooks for Bootstrap {
    fn start(env: &[(&str, &str)]) -> Bootstrap {
        bootstrap!()
            .env("SG_REMEDIATOR_TEST_HOOKS", "1")
            .envs(env)
            .start()
    }
}

const SECRET: &str = "wJalrXUtnFEMI-secret-value-4f1d";
const TOKEN: &str = "CAIS-security-token-value-9c2e";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json_of(resp: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = resp.status().as_u16();
    let fc_status = resp
        .headers()
        .get("x-fc-status")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).expect("JSON body");
    (status, fc_status, body)
}

#[tokio::test]
async fn fc_headers_become_the_context() {
    let server = Bootstrap::start(&[]);
    let resp = invoke(
        &client(),
        &server,
        "1-67adb489-15d49184-2d4fa002fa2b",
        r#"{"__test":"context"}"#,
    )
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
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (200, Some("200")));
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
        })
    );
}

#[tokio::test]
async fn absent_optional_headers_give_an_empty_context_with_the_default_timeout() {
    let server = Bootstrap::start(&[]);
    let resp = invoke(&client(), &server, "r-minimal", r#"{"__test":"context"}"#)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
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
    let server = Bootstrap::start(&[]);
    let resp = invoke(
        &client(),
        &server,
        "r-empty-creds",
        r#"{"__test":"context"}"#,
    )
    .header("x-fc-access-key-id", "")
    .header("x-fc-access-key-secret", "")
    .header("x-fc-security-token", "")
    .header("x-fc-region", "")
    .send()
    .await
    .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["credentials"], false);
    assert_eq!(body["accessKeyId"], Value::Null);
    assert_eq!(body["securityTokenPresent"], false);
    assert_eq!(body["region"], Value::Null);
}

#[tokio::test]
async fn missing_credential_headers_mean_no_credentials() {
    let server = Bootstrap::start(&[]);
    let resp = invoke(&client(), &server, "r-no-creds", r#"{"__test":"context"}"#)
        .send()
        .await
        .unwrap();
    let (_, _, body) = json_of(resp).await;
    assert_eq!(body["credentials"], false);
    assert_eq!(body["secretLength"], Value::Null);
}

#[tokio::test]
async fn a_successful_invocation_answers_200_with_x_fc_status_200_and_json() {
    let server = Bootstrap::start(&[]);
    // An unsupported resource type is answered without any cloud call.
    let event = r#"[{"accountId":1234567890123456,"regionId":"cn-hangzhou","resourceId":"vpc-1","resourceType":"ACS::VPC::VPC"}]"#;
    let resp = invoke(&client(), &server, "r-ok", event)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (200, Some("200")));
    assert_eq!(body["requestId"], "r-ok");
    assert_eq!(body["summary"]["skipped"], 1);
}

#[tokio::test]
async fn a_handler_error_answers_404_with_x_fc_status_404_and_error_fields() {
    let server = Bootstrap::start(&[]);
    let resp = invoke(&client(), &server, "r-err", r#"{"__test":"error"}"#)
        .send()
        .await
        .unwrap();
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "TestHookError");
    assert_eq!(body["errorMessage"], "test hook: error requested");
    // The handler's body fields sit next to errorType/errorMessage.
    assert_eq!(body["requestId"], "r-err");
}

#[tokio::test]
async fn a_panicking_handler_becomes_an_error_response_and_the_server_keeps_serving() {
    let server = Bootstrap::start(&[]);
    let c = client();
    let resp = invoke(&c, &server, "r-panic", r#"{"__test":"panic"}"#)
        .send()
        .await
        .unwrap();
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "HandlerPanicked");
    assert!(body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("panic requested"));

    let after = invoke(&c, &server, "r-after-panic", r#"{"__test":"sleep","ms":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 200);
}

#[tokio::test]
async fn concurrent_invocations_each_see_only_their_own_credentials() {
    let server = Bootstrap::start(&[]);
    let c = client();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let request = invoke(&c, &server, &format!("r-{i}"), r#"{"__test":"context"}"#)
            .header("x-fc-access-key-id", format!("STS.key-{i}"))
            .header("x-fc-access-key-secret", format!("secret-{i}"))
            .header("x-fc-security-token", "t".repeat(i + 1));
        tasks.push(tokio::spawn(async move { request.send().await }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let resp = task.await.unwrap().unwrap();
        let (status, _, body) = json_of(resp).await;
        assert_eq!(status, 200);
        assert_eq!(body["requestId"], format!("r-{i}"));
        assert_eq!(body["accessKeyId"], format!("STS.key-{i}"));
        assert_eq!(body["secretLength"], format!("secret-{i}").len());
        assert_eq!(body["securityTokenLength"], i + 1);
    }
}

#[tokio::test]
async fn a_missing_request_id_is_refused_with_a_clear_error() {
    let server = Bootstrap::start(&[]);
    let resp = client()
        .post(server.url("/invoke"))
        .body("[]")
        .send()
        .await
        .unwrap();
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "MissingRequestId");
    assert!(body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("x-fc-request-id"));
}

#[tokio::test]
async fn a_malformed_body_is_an_error_and_the_server_keeps_serving() {
    let server = Bootstrap::start(&[]);
    let c = client();
    for (id, body) in [
        ("r-not-json", b"{not json".to_vec()),
        ("r-not-utf8", vec![0xff, 0xfe, b'[', b']']),
    ] {
        let resp = invoke(&c, &server, id, body).send().await.unwrap();
        let (status, fc_status, body) = json_of(resp).await;
        assert_eq!((status, fc_status.as_deref()), (404, Some("404")), "{id}");
        assert_eq!(body["errorType"], "InvalidEvent", "{id}");
    }
    let ok = invoke(&c, &server, "r-fine", r#"{"__test":"sleep","ms":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn a_body_over_max_event_bytes_is_refused_and_the_server_survives() {
    let server = Bootstrap::start(&[("MAX_EVENT_BYTES", "1024")]);
    let c = client();
    let big = format!("[{}]", "1,".repeat(2000) + "1");
    let resp = invoke(&c, &server, "r-big", big.clone())
        .send()
        .await
        .unwrap();
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "PayloadTooLarge");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.contains("MAX_EVENT_BYTES = 1024"), "{message}");
    assert!(message.contains(&big.len().to_string()), "{message}");

    let ok = invoke(&c, &server, "r-small", r#"{"__test":"sleep","ms":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[test]
fn a_chunked_body_without_content_length_is_limited_while_streaming() {
    let server = Bootstrap::start(&[("MAX_EVENT_BYTES", "1024")]);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
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
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("x-fc-status: 404"), "{response}");
    assert!(response.contains("PayloadTooLarge"), "{response}");
}

#[tokio::test]
async fn start_and_end_markers_surround_each_invocation() {
    let mut server = Bootstrap::start(&[]);
    invoke(&client(), &server, "r-markers", "[]")
        .send()
        .await
        .unwrap();
    server.finish();
    let lines = server.stdout_lines();
    let start = lines
        .iter()
        .position(|l| l == "FC Invoke Start RequestId: r-markers")
        .expect("start marker");
    let end = lines
        .iter()
        .position(|l| l == "FC Invoke End RequestId: r-markers")
        .expect("end marker");
    assert!(start < end);
    // Log lines written while the invocation ran carry its request id.
    let inside: Vec<&String> = lines[start + 1..end].iter().collect();
    assert!(!inside.is_empty());
    for line in inside {
        let v: Value = serde_json::from_str(line).expect("JSON log line");
        assert_eq!(v["span"]["request_id"], "r-markers", "{line}");
    }
}

#[tokio::test]
async fn end_markers_are_printed_for_failed_and_panicked_invocations_too() {
    let mut server = Bootstrap::start(&[]);
    let c = client();
    invoke(&c, &server, "r-e", r#"{"__test":"error"}"#)
        .send()
        .await
        .unwrap();
    invoke(&c, &server, "r-p", r#"{"__test":"panic"}"#)
        .send()
        .await
        .unwrap();
    server.finish();
    let lines = server.stdout_lines();
    for id in ["r-e", "r-p"] {
        assert!(
            lines.contains(&format!("FC Invoke End RequestId: {id}")),
            "{id}"
        );
    }
}

#[tokio::test]
async fn secrets_and_tokens_never_reach_stdout_or_stderr() {
    let mut server = Bootstrap::start(&[("RUST_LOG", "trace")]);
    let c = client();
    for hook in ["context", "error", "panic", "none"] {
        invoke(
            &c,
            &server,
            &format!("r-{hook}"),
            format!(r#"{{"__test":"{hook}"}}"#),
        )
        .header("x-fc-access-key-id", "STS.visible")
        .header("x-fc-access-key-secret", SECRET)
        .header("x-fc-security-token", TOKEN)
        .send()
        .await
        .unwrap();
    }
    // Half a key pair is logged as a warning: that warning must not carry the secret either.
    invoke(&c, &server, "r-half", "[]")
        .header("x-fc-access-key-secret", SECRET)
        .send()
        .await
        .unwrap();
    server.finish();
    let output = server.all_output();
    assert!(output.contains("FC Invoke End RequestId: r-half"));
    assert!(!output.contains(SECRET));
    assert!(!output.contains(TOKEN));
}

#[tokio::test]
async fn unknown_paths_get_a_clear_fc_style_error() {
    let server = Bootstrap::start(&[]);
    let resp = client().get(server.url("/nope")).send().await.unwrap();
    let (status, fc_status, body) = json_of(resp).await;
    assert_eq!((status, fc_status.as_deref()), (404, Some("404")));
    assert_eq!(body["errorType"], "UnknownPath");
    assert!(body["errorMessage"].as_str().unwrap().contains("/nope"));
}

#[tokio::test]
async fn the_control_path_header_routes_like_the_url_path() {
    let server = Bootstrap::start(&[]);
    let resp = client()
        .post(server.url("/"))
        .header("x-fc-control-path", "/invoke")
        .header("x-fc-request-id", "r-routed")
        .body(r#"{"__test":"context"}"#)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["requestId"], "r-routed");
}

#[tokio::test]
async fn initialize_and_pre_stop_answer_200_with_their_markers() {
    let mut server = Bootstrap::start(&[]);
    let c = client();
    let init = c
        .post(server.url("/initialize"))
        .header("x-fc-request-id", "r-init")
        .send()
        .await
        .unwrap();
    assert_eq!(init.status().as_u16(), 200);
    assert_eq!(init.headers()["x-fc-status"], "200");
    let stop = c
        .get(server.url("/pre-stop"))
        .header("x-fc-request-id", "r-stop")
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status().as_u16(), 200);
    server.finish();
    let lines = server.stdout_lines();
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
async fn sigterm_lets_an_in_flight_invocation_finish_then_exits_0() {
    let mut server = Bootstrap::start(&[]);
    let request = invoke(
        &client(),
        &server,
        "r-slow",
        r#"{"__test":"sleep","ms":300}"#,
    );
    let in_flight = tokio::spawn(async move { request.send().await });
    server.wait_for_line(|l| l == "FC Invoke Start RequestId: r-slow");
    server.signal("TERM");

    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["slept"], 300);
    let exit = tokio::task::block_in_place(|| server.wait());
    assert_eq!(exit.code(), Some(0));
    server.wait_for_line(|l| l == "FC Invoke End RequestId: r-slow");
}

#[test]
fn sigint_on_an_idle_server_exits_0() {
    let mut server = Bootstrap::start(&[]);
    server.signal("INT");
    assert_eq!(server.wait().code(), Some(0));
}

/// The library API used in-process (as benches and the final wiring do): `serve` on a port-0
/// listener with a handler that fails with a full report body, then a shutdown future.
#[tokio::test]
async fn serve_runs_in_process_and_returns_after_shutdown() {
    use sg_remediator::runtime::{serve, service_fn, Diagnostic, Event, RuntimeOptions};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = RuntimeOptions {
        port: 0,
        max_event_bytes: 1024,
        default_timeout: std::time::Duration::from_secs(5),
    };
    let handler = service_fn(|event: Event| async move {
        let report = json!({"requestId": event.context.request_id, "resources": []});
        Err::<Value, _>(
            Diagnostic::new("RemediationIncomplete", "0 of 1 handled").with_body(report),
        )
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, options, handler, async {
        let _ = stopped.await;
    }));

    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/invoke"))
        .header("x-fc-request-id", "r-in-process")
        .body("[]")
        .send()
        .await
        .unwrap();
    let (status, fc_status, body) = json_of(resp).await;
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

    stop.send(()).unwrap();
    server.await.expect("serve returns once shut down");
}

//! The real `bootstrap` binary as FC runs it, over real HTTP: what is about the product binary
//! (it starts from its environment, answers real events through the product's handler, logs
//! without secrets, exits cleanly, has no test hooks).
//!
//! The FC custom-runtime protocol itself (status codes, `x-fc-status`, request ids, unknown
//! paths, the control-path header, chunked bodies, `/initialize` and `/pre-stop`, handlers that
//! panic, fail or sleep) is specified in crates/fc-runtime/tests, with handlers written for the
//! purpose: `bootstrap` has no test hooks, which the last tests here prove.

use serde_json::Value;
use sg_test_kit::{bootstrap, invoke, read_json, Bootstrap};

/// `Bootstrap::start(env)`: the package's `bootstrap` with `env` on top of the kit's clean
/// environment.
trait StartWith {
    fn start(env: &[(&str, &str)]) -> Bootstrap;
}

impl StartWith for Bootstrap {
    fn start(env: &[(&str, &str)]) -> Bootstrap {
        bootstrap!().envs(env).start()
    }
}

const SECRET: &str = "wJalrXUtnFEMI-secret-value-4f1d";
const TOKEN: &str = "CAIS-security-token-value-9c2e";

/// An unsupported resource type: answered (skipped) without any cloud call.
const VPC_EVENT: &str = r#"[{"accountId":1234567890123456,"regionId":"cn-hangzhou","resourceId":"vpc-1","resourceType":"ACS::VPC::VPC"}]"#;

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_real_event_is_answered_200_with_the_products_report() {
    let server = Bootstrap::start(&[]);
    let resp = invoke(&client(), &server, "r-ok", VPC_EVENT)
        .send()
        .await
        .unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["requestId"], "r-ok");
    assert_eq!(body["summary"]["skipped"], 1);
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
        let (status, fc_status, body) = read_json(resp).await;
        assert_eq!((status, fc_status.as_deref()), (404, Some("404")), "{id}");
        assert_eq!(body["errorType"], "InvalidEvent", "{id}");
    }
    let ok = invoke(&c, &server, "r-fine", VPC_EVENT)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

/// The limit itself (and that the server survives it) is the runtime's; this is `bootstrap`
/// reading it from its environment at start-up.
#[tokio::test]
async fn max_event_bytes_in_the_environment_limits_the_body() {
    let server = Bootstrap::start(&[("MAX_EVENT_BYTES", "1024")]);
    let big = format!("[{}]", "1,".repeat(2000) + "1");
    let resp = invoke(&client(), &server, "r-big", big.clone())
        .send()
        .await
        .unwrap();
    let (status, _, body) = read_json(resp).await;
    assert_eq!(status, 404);
    assert_eq!(body["errorType"], "PayloadTooLarge");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.contains("MAX_EVENT_BYTES = 1024"), "{message}");
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
async fn secrets_and_tokens_never_reach_stdout_or_stderr() {
    let mut server = Bootstrap::start(&[("RUST_LOG", "trace")]);
    let c = client();
    // An answered event, a refused one, and a body that is not an event at all.
    for (id, event) in [
        ("r-ok", VPC_EVENT),
        ("r-refused", "{}"),
        ("r-junk", "{not json"),
    ] {
        invoke(&c, &server, id, event)
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

#[test]
fn sigint_on_an_idle_server_exits_0() {
    let mut server = Bootstrap::start(&[]);
    server.signal("INT");
    assert_eq!(server.wait().code(), Some(0));
}

/// The strings the removed test hooks were keyed on: neither may appear in the shipped binary.
const HOOK_STRINGS: [&str; 2] = ["SG_REMEDIATOR_TEST_HOOKS", "__test"];

#[test]
fn the_bootstrap_binary_contains_no_test_hooks() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_bootstrap")).expect("bootstrap is built");
    // As text (invalid bytes replaced; ASCII bytes always kept), searched by the standard
    // library's optimised `str::contains`: a byte-window scan of a debug binary takes seconds.
    let binary = String::from_utf8_lossy(&binary);
    for needle in HOOK_STRINGS {
        assert!(
            !binary.contains(needle),
            "{} contains {needle:?}",
            env!("CARGO_BIN_EXE_bootstrap")
        );
    }
}

#[tokio::test]
async fn a_former_test_hook_event_is_an_ordinary_invalid_event() {
    // Even with the old switch set: nothing reads it any more.
    let server = Bootstrap::start(&[("SG_REMEDIATOR_TEST_HOOKS", "1")]);
    let c = client();
    for hook in [
        r#"{"__test":"panic"}"#,
        r#"{"__test":"error"}"#,
        r#"{"__test":"sleep","ms":0}"#,
        r#"{"__test":"context"}"#,
    ] {
        let resp = invoke(&c, &server, "r-hook", hook)
            .header("x-fc-access-key-id", "STS.visible")
            .header("x-fc-access-key-secret", SECRET)
            .send()
            .await
            .unwrap();
        let (status, fc_status, body) = read_json(resp).await;
        assert_eq!((status, fc_status.as_deref()), (404, Some("404")), "{hook}");
        assert_eq!(body["errorType"], "InvalidEvent", "{hook}: {body}");
        assert!(body.get("slept").is_none() && body.get("secretLength").is_none());
    }
    let ok = invoke(&c, &server, "r-after", VPC_EVENT)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

/// Config's site belongs to the account, and the wrong one makes every group look "not in
/// Config": the instance says at start-up which endpoint it reads.
#[tokio::test]
async fn the_config_endpoint_in_use_is_logged_at_start_up() {
    for (env, endpoint, site) in [
        (None, "https://config.cn-shanghai.aliyuncs.com", "china"),
        (
            Some("https://config.ap-southeast-1.aliyuncs.com"),
            "https://config.ap-southeast-1.aliyuncs.com",
            "international",
        ),
    ] {
        let mut server = match env {
            Some(value) => Bootstrap::start(&[("CONFIG_ENDPOINT", value)]),
            None => Bootstrap::start(&[]),
        };
        server.finish();
        let line = server
            .stdout_lines()
            .into_iter()
            .find(|l| l.contains("Cloud Config endpoint"))
            .unwrap_or_else(|| panic!("no start-up line naming the Config endpoint"));
        let v: Value = serde_json::from_str(&line).expect("JSON log line");
        assert_eq!(v["config_endpoint"], endpoint, "{line}");
        assert_eq!(v["config_site"], site, "{line}");
    }
}

//! Notifications, end to end: the real `bootstrap` against the emulator posts its message to a
//! local webhook receiver (hyper on 127.0.0.1, started by each test), which checks each platform's
//! signature and message shape as the platform would. Also: a webhook that fails, hangs or
//! throttles never fails the remediation or loses its report, and nothing is sent for a dry run
//! or an all-compliant invocation.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Answer, Caller, Function};
use sha2::Sha256;

/// The webhook secret the tests configure (DingTalk's secrets start with `SEC`).
const WEBHOOK_SECRET: &str = "SECwebhook0secret0for0tests0only0123456789";
/// The token in the webhook URL.
const WEBHOOK_TOKEN: &str = "webhookAccessToken0123456789abcdef";

/// What the receiver answers to one post.
#[derive(Clone)]
enum Reply {
    /// A status, extra headers and a body.
    Answer(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// Never answers.
    Hang,
}

fn ok(body: &'static str) -> Reply {
    Reply::Answer(200, Vec::new(), body)
}

/// One post the receiver got.
#[derive(Debug, Clone)]
struct Post {
    path_and_query: String,
    content_type: String,
    body: Value,
    raw: String,
    at: Instant,
}

/// A local webhook: answers posts with `replies` in turn (the last one repeats) and keeps them.
struct Receiver {
    base: String,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Receiver {
    async fn start(replies: Vec<Reply>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&posts);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let posts = Arc::clone(&kept);
                let replies = replies.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let posts = Arc::clone(&posts);
                            let replies = replies.clone();
                            async move {
                                let path_and_query = request
                                    .uri()
                                    .path_and_query()
                                    .map(|p| p.to_string())
                                    .unwrap_or_default();
                                let content_type = request
                                    .headers()
                                    .get("content-type")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string();
                                let bytes = request.into_body().collect().await.unwrap().to_bytes();
                                let raw = String::from_utf8_lossy(&bytes).into_owned();
                                let n = {
                                    let mut posts = posts.lock().unwrap();
                                    posts.push(Post {
                                        path_and_query,
                                        content_type,
                                        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
                                        raw,
                                        at: Instant::now(),
                                    });
                                    posts.len()
                                };
                                let reply = replies[(n - 1).min(replies.len() - 1)].clone();
                                let (status, headers, body) = match reply {
                                    Reply::Hang => {
                                        tokio::time::sleep(Duration::from_secs(3600)).await;
                                        (200, Vec::new(), "")
                                    }
                                    Reply::Answer(s, h, b) => (s, h, b),
                                };
                                let mut response = hyper::Response::new(Full::new(
                                    Bytes::from_static(body.as_bytes()),
                                ));
                                *response.status_mut() =
                                    hyper::StatusCode::from_u16(status).unwrap();
                                for (name, value) in headers {
                                    response.headers_mut().insert(name, value.parse().unwrap());
                                }
                                Ok::<_, Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { base, posts }
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The query's pairs, decoded.
fn query(post: &Post) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://x{}", post.path_and_query)).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} is in the query {pairs:?}"))
}

/// The environment for `format` posting to `receiver` (`secret`: sign with the test secret).
fn notify_env(receiver: &Receiver, format: &str, secret: bool) -> Vec<(String, String)> {
    let url = match format {
        "dingtalk" => format!("{}/robot/send?access_token={WEBHOOK_TOKEN}", receiver.base),
        "lark" => format!("{}/open-apis/bot/v2/hook/{WEBHOOK_TOKEN}", receiver.base),
        _ => format!("{}/services/T000/B000/{WEBHOOK_TOKEN}", receiver.base),
    };
    let mut env = vec![
        ("NOTIFY_WEBHOOK_URL".to_string(), url),
        ("NOTIFY_FORMAT".to_string(), format.to_string()),
    ];
    if secret {
        env.push(("NOTIFY_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()));
    }
    env
}

/// Remediates `groups` of groups.json with `env`, as `caller` when given.
async fn run(
    groups_event: &Value,
    env: &[(String, String)],
    caller: Option<Caller>,
) -> (Answer, Function) {
    let emulator = groups().await;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut function = Function::start(bootstrap!(), &emulator, &env);
    if let Some(caller) = caller {
        function.set_caller(caller);
    }
    let answer = function.invoke(groups_event).await;
    drop(emulator);
    (answer, function)
}

fn notification(answer: &Answer) -> &Value {
    &answer.body["notification"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dingtalk_message_is_signed_in_the_query_and_names_the_group_the_rule_and_the_request() {
    let receiver = Receiver::start(vec![ok(r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let before = now_ms();
    let (answer, _f) = run(
        &event(&["sg-ssh-world"]),
        &notify_env(&receiver, "dingtalk", true),
        None,
    )
    .await;
    let after = now_ms();
    assert!(answer.is_success(), "{:#}", answer.body);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "one message per invocation");
    let post = &posts[0];
    assert!(post.path_and_query.starts_with("/robot/send?"));
    assert!(post.content_type.starts_with("application/json"));
    let pairs = query(post);
    assert_eq!(pair(&pairs, "access_token"), WEBHOOK_TOKEN);
    let timestamp = pair(&pairs, "timestamp");
    let ms: u128 = timestamp.parse().expect("milliseconds");
    assert!(before <= ms && ms <= after, "{ms} within the invocation");
    let expected = hmac_base64(
        WEBHOOK_SECRET.as_bytes(),
        format!("{timestamp}\n{WEBHOOK_SECRET}").as_bytes(),
    );
    assert_eq!(pair(&pairs, "sign"), expected, "the sign verifies");
    assert_eq!(post.body["msgtype"], "text");
    let text = post.body["text"]["content"].as_str().expect("text.content");
    assert!(
        text.contains("sg-ssh-world") && text.contains("sgr-ssh-world"),
        "{text}"
    );
    assert!(text.contains("TCP 22/22 from 0.0.0.0/0"), "{text}");
    assert!(
        text.contains(FUNCTION_ACCOUNT) && text.contains(REGION),
        "{text}"
    );
    let request_id = answer.body["requestId"].as_str().unwrap();
    assert!(text.contains(&format!("Request: {request_id}")), "{text}");
    assert!(text.contains("Mode: enforce"), "{text}");
    assert_eq!(
        *notification(&answer),
        json!({"format": "dingtalk", "delivered": true, "attempts": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lark_message_is_signed_in_the_body_with_a_timestamp_in_seconds() {
    let receiver = Receiver::start(vec![ok(r#"{"code":0,"msg":"success","data":{}}"#)]).await;
    let before = now_ms() / 1000;
    let (answer, _f) = run(
        &event(&["sg-rdp-world"]),
        &notify_env(&receiver, "lark", true),
        None,
    )
    .await;
    let after = now_ms() / 1000;
    assert!(answer.is_success(), "{:#}", answer.body);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let body = &posts[0].body;
    assert_eq!(
        posts[0].path_and_query,
        format!("/open-apis/bot/v2/hook/{WEBHOOK_TOKEN}")
    );
    assert_eq!(body["msg_type"], "text");
    let timestamp = body["timestamp"].as_str().expect("a string timestamp");
    let secs: u128 = timestamp.parse().expect("seconds");
    assert!(
        before <= secs && secs <= after,
        "{secs} within the invocation"
    );
    let expected = hmac_base64(format!("{timestamp}\n{WEBHOOK_SECRET}").as_bytes(), b"");
    assert_eq!(body["sign"], expected.as_str(), "the sign verifies");
    let text = body["content"]["text"].as_str().expect("content.text");
    assert!(
        text.contains("sg-rdp-world") && text.contains("3389"),
        "{text}"
    );
    assert_eq!(notification(&answer)["delivered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_message_is_its_text_and_unsigned() {
    let receiver = Receiver::start(vec![ok("ok")]).await;
    let (answer, _f) = run(
        &event(&["sg-ssh-world"]),
        &notify_env(&receiver, "slack", false),
        None,
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let body = posts[0].body.as_object().expect("a JSON object");
    assert_eq!(body.keys().collect::<Vec<_>>(), ["text"]);
    assert!(body["text"].as_str().unwrap().contains("sg-ssh-world"));
    assert_eq!(notification(&answer)["format"], "slack");
    assert_eq!(notification(&answer)["delivered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_is_retried_briefly_then_noted_and_the_remediation_stands() {
    let receiver = Receiver::start(vec![Reply::Answer(500, Vec::new(), "boom")]).await;
    let (answer, _f) = run(
        &event(&["sg-ssh-world"]),
        &notify_env(&receiver, "slack", false),
        None,
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert_eq!(
        answer.ids("sg-ssh-world", "revokedRuleIds"),
        ["sgr-ssh-world"]
    );
    assert_eq!(receiver.posts().len(), 3, "three attempts");
    let n = notification(&answer);
    assert_eq!(n["delivered"], false);
    assert_eq!(n["attempts"], 3);
    assert!(n["note"].as_str().unwrap().contains("HTTP 500"), "{n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_is_given_up_before_the_deadline_and_the_report_still_answers() {
    let receiver = Receiver::start(vec![Reply::Hang]).await;
    let caller = Caller::new(function_role()).timeout(5);
    let (answer, _f) = run(
        &event(&["sg-ssh-world"]),
        &notify_env(&receiver, "dingtalk", true),
        Some(caller),
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert!(
        answer.elapsed < Duration::from_secs(5),
        "{:?}",
        answer.elapsed
    );
    let n = notification(&answer);
    assert_eq!(n["delivered"], false, "{n}");
    assert!(
        n["note"].as_str().unwrap().contains("no answer within"),
        "{n}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_429_is_retried_once_after_its_retry_after() {
    let receiver = Receiver::start(vec![
        Reply::Answer(429, vec![("retry-after", "1")], "rate_limited"),
        ok("ok"),
    ])
    .await;
    let (answer, _f) = run(
        &event(&["sg-ssh-world"]),
        &notify_env(&receiver, "slack", false),
        None,
    )
    .await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2);
    assert!(posts[1].at - posts[0].at >= Duration::from_secs(1));
    assert_eq!(
        *notification(&answer),
        json!({"format": "slack", "delivered": true, "attempts": 2})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dingtalk_throttle_is_not_retried_past_the_deadline_but_noted() {
    let receiver =
        Receiver::start(vec![ok(r#"{"errcode":130101,"errmsg":"send too fast"}"#)]).await;
    let (answer, _f) = run(
        &event(&["sg-ssh-world"]),
        &notify_env(&receiver, "dingtalk", true),
        None,
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(
        receiver.posts().len(),
        1,
        "DingTalk throttles for 10 minutes"
    );
    let n = notification(&answer);
    assert_eq!(n["delivered"], false);
    assert!(n["note"].as_str().unwrap().contains("130101"), "{n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_never_carries_the_webhook_secret_the_token_or_the_function_credentials() {
    let receiver = Receiver::start(vec![ok(r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    // A failed group too, so the message carries reasons.
    let (answer, _f) = run(
        &event(&["sg-ssh-world", "sg-broken"]),
        &notify_env(&receiver, "dingtalk", true),
        None,
    )
    .await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{:#}", answer.body);
    let raw = &posts[0].raw;
    for secret in [WEBHOOK_SECRET, WEBHOOK_TOKEN, FC_SECRET, FC_TOKEN] {
        assert!(!raw.contains(secret), "{secret} leaked into {raw}");
    }
    assert!(!answer.text.contains(WEBHOOK_SECRET) && !answer.text.contains(WEBHOOK_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_twenty_groups_are_listed_and_the_rest_counted() {
    let receiver = Receiver::start(vec![ok("ok")]).await;
    // 25 items Config could never have sent: each fails, each is worth telling.
    let items: Vec<Value> = (0..25)
        .map(|i| {
            json!({"accountId": 1234567890123456_u64, "regionId": 42,
                   "resourceId": format!("sg-bad{i:02}"), "resourceType": SECURITY_GROUP})
        })
        .collect();
    let (answer, _f) = run(
        &Value::Array(items),
        &notify_env(&receiver, "slack", false),
        None,
    )
    .await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let text = posts[0].body["text"].as_str().unwrap();
    assert_eq!(text.matches("\n• ").count(), 20, "{text}");
    assert!(text.contains("and 5 more"), "{text}");
    assert!(text.contains("25 failed"), "{text}");
    assert_eq!(answer.body["notification"]["delivered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_sends_nothing_unless_notify_dry_run_is_true() {
    let receiver = Receiver::start(vec![ok("ok")]).await;
    let mut env = notify_env(&receiver, "slack", false);
    env.push(("REMEDIATION_MODE".into(), "dry-run".into()));
    let (answer, _f) = run(&event(&["sg-ssh-world"]), &env, None).await;
    assert_eq!(answer.status_of("sg-ssh-world"), "would_remediate");
    assert!(receiver.posts().is_empty());
    assert!(
        answer.body.get("notification").is_none(),
        "{:#}",
        answer.body
    );

    env.push(("NOTIFY_DRY_RUN".into(), "true".into()));
    let (answer, _f) = run(&event(&["sg-ssh-world"]), &env, None).await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let text = posts[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("would be remediated") && text.contains("Mode: dry-run"),
        "{text}"
    );
    assert_eq!(notification(&answer)["delivered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_compliant_invocation_sends_nothing() {
    let receiver = Receiver::start(vec![ok("ok")]).await;
    let (answer, _f) = run(
        &event(&["sg-web", "sg-private", "sg-exempt-tag"]),
        &notify_env(&receiver, "slack", false),
        None,
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert!(receiver.posts().is_empty());
    assert!(answer.body.get("notification").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_sends_one_message_for_the_whole_run_with_notify() {
    let receiver = Receiver::start(vec![ok(r#"{"errcode":0,"errmsg":"ok"}"#)]).await;
    let emulator = groups().await;
    let home = std::env::temp_dir().join(format!("sg-remediator-notify-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&home).unwrap();
    let run = |notify: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sg-remediator"));
        c.env_clear()
            .env("HOME", &home)
            .env("ECS_ENDPOINT", emulator.ecs_endpoint())
            .env("CONFIG_ENDPOINT", emulator.config_endpoint())
            .env("STS_ENDPOINT", emulator.sts_endpoint())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", FC_KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", FC_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", FC_TOKEN)
            .envs(notify_env(&receiver, "dingtalk", true))
            .args(["--json", "remediate", "sg-ssh-world", "sg-rdp-world"])
            .args(["--region", REGION, "--yes"])
            .stdin(std::process::Stdio::null());
        if notify {
            c.arg("--notify");
        }
        c
    };
    // Without --notify the variables alone send nothing.
    let mut quiet = run(false);
    let out = tokio::task::spawn_blocking(move || quiet.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(receiver.posts().is_empty());

    emulator.reset();
    let mut loud = run(true);
    let out = tokio::task::spawn_blocking(move || loud.output().unwrap())
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "one message for the run");
    let text = posts[0].body["text"]["content"].as_str().unwrap();
    assert!(
        text.contains("sg-ssh-world") && text.contains("sg-rdp-world"),
        "{text}"
    );
    for secret in [WEBHOOK_SECRET, WEBHOOK_TOKEN, FC_SECRET, FC_TOKEN] {
        assert!(!posts[0].raw.contains(secret) && !stdout.contains(secret));
    }
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["notification"]["delivered"], true, "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_is_told_with_the_rules_put_back() {
    let receiver = Receiver::start(vec![ok("ok")]).await;
    let emulator = groups().await;
    let mut env: Vec<(&str, &str)> = RESTORE_ENV.to_vec();
    let notify = notify_env(&receiver, "slack", false);
    env.extend(notify.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let function = Function::start(bootstrap!(), &emulator, &env);
    let answer = function.invoke(&event(&["sg-restore"])).await;
    assert_eq!(
        answer.status_of("sg-restore"),
        "remediated",
        "{:#}",
        answer.body
    );
    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-restore",
        "rules": answer.result("sg-restore")["revokedRules"],
    });
    let restored = function.invoke(&restore).await;
    assert_eq!(restored.body["status"], "restored", "{:#}", restored.body);
    let posts = receiver.posts();
    assert_eq!(
        posts.len(),
        2,
        "one message for the revoke, one for the restore"
    );
    let text = posts[1].body["text"].as_str().unwrap();
    assert!(text.contains("sg-restore restored"), "{text}");
    assert!(
        text.contains("sgr-restore-ssh") || text.contains("22/22"),
        "{text}"
    );
    assert_eq!(restored.body["notification"]["delivered"], true);
}

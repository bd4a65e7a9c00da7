//! Bad input never crashes the function and always gets a clear answer.
//!
//! The event parser and the `RULE_SELECTOR` compiler are property-tested with thousands of
//! cases (arbitrary bytes, and JSON shaped like events so the interesting paths are reached);
//! a few hundred such bodies then go through the real process. Oversized and non-UTF-8 bodies
//! are refused with a clear error, an oversized one without being held in memory.
//! The `fuzz/` crate runs the same entry points for longer (see `fuzz/README.md`).

use std::io::{Read, Write};
use std::net::TcpStream;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use sg_remediator::event::{self, Invocation, Item};
use sg_remediator::rules::RiskyPorts;
use sg_remediator::select::Selector;

use super::cloud::{event as config_event, function_key, Cloud, World, ACCOUNT, TEMPLATE_SG};

/// Keys an event object may carry, in both spellings, plus ones the parser must reject or ignore.
const KEYS: &[&str] = &[
    "regionId",
    "RegionId",
    "accountId",
    "AccountId",
    "resourceId",
    "ResourceId",
    "resourceType",
    "ResourceType",
    "configRuleId",
    "dryRun",
    "resources",
    "action",
    "rules",
    "invokingEvent",
    "",
];

/// Strings the parser gives meaning to, plus near misses.
const WORDS: &[&str] = &[
    "cn-hangzhou",
    "ap-southeast-1",
    "ACS::ECS::SecurityGroup",
    "ACS::ECS::Instance",
    TEMPLATE_SG,
    "sg-does-not-exist",
    "sg-bad id/with?chars",
    "1234567890123456",
    "2222333344445555",
    "12a",
    "",
    " ",
    "restore",
    "remediate",
    "RESTORE",
    "true",
    "\u{0}",
    "ß∂ƒ",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(WORDS).prop_map(|s| json!(s)),
        any::<String>().prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn resource_like() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), prop_oneof![3 => leaf(), 1 => any_json()], 0..7)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

/// Arrays of resource-like objects, single objects, `{"resources": …, "dryRun": …}` wrappers
/// and anything else.
fn event_like() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec(resource_like(), 0..5).prop_map(Value::Array),
        2 => resource_like(),
        2 => (prop::collection::vec(resource_like(), 0..4), leaf(), any::<bool>()).prop_map(
            |(items, dry_run, with_dry_run)| {
                let mut m = Map::new();
                m.insert("resources".into(), Value::Array(items));
                if with_dry_run {
                    m.insert("dryRun".into(), dry_run);
                }
                Value::Object(m)
            }
        ),
        1 => any_json(),
    ]
}

/// What must hold for any body: a clear error, or items that each say what they are.
fn check_parse(body: &[u8]) -> Result<(), TestCaseError> {
    match event::parse(body) {
        Err(e) => prop_assert!(!e.to_string().trim().is_empty(), "empty error message"),
        Ok(Invocation::Remediate(r)) => {
            prop_assert!(!r.items.is_empty(), "an event without items was accepted");
            for (i, item) in r.items.iter().enumerate() {
                if let Item::Invalid(bad) = item {
                    prop_assert_eq!(bad.index, i);
                    prop_assert!(!bad.reason.trim().is_empty(), "item {} has no reason", i);
                }
            }
        }
        Ok(Invocation::Restore(r)) => {
            prop_assert!(!r.resource_id.is_empty() && !r.region_id.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 3000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_bytes_get_a_clear_answer_from_the_parser(body in prop::collection::vec(any::<u8>(), 0..256)) {
        check_parse(&body)?;
    }
}

proptest! {
    #![proptest_config(Config { cases: 5000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn event_shaped_json_gets_a_clear_answer_from_the_parser(v in event_like()) {
        check_parse(v.to_string().as_bytes())?;
    }
}

proptest! {
    #![proptest_config(Config { cases: 1000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn every_item_of_a_non_empty_array_is_accounted_for(items in prop::collection::vec(resource_like(), 1..6)) {
        let n = items.len();
        match event::parse(Value::Array(items).to_string().as_bytes()) {
            Ok(Invocation::Remediate(r)) => prop_assert_eq!(r.items.len(), n),
            other => prop_assert!(false, "an array must be a remediation: {:?}", other),
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 2000, failure_persistence: None, ..Config::default() })]

    /// `RULE_SELECTOR` comes from the operator; a bad one must fail the start with a message,
    /// never crash it.
    #[test]
    fn an_arbitrary_rule_selector_compiles_or_says_why(query in "[a-zA-Z0-9_@&|!=<>()\\[\\]{}.,:*?'`\" -]{0,40}") {
        let ports: RiskyPorts = "22,3389".parse().unwrap();
        if let Err(e) = Selector::new(ports, Some(&query)) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
    }
}

/// `count` bodies from the strategies above, reproducibly.
fn sample_bodies(count: usize) -> Vec<Vec<u8>> {
    let mut runner = TestRunner::deterministic();
    let bytes = prop::collection::vec(any::<u8>(), 0..128);
    let events = event_like();
    (0..count)
        .map(|i| {
            if i % 4 == 0 {
                bytes.new_tree(&mut runner).unwrap().current()
            } else {
                events
                    .new_tree(&mut runner)
                    .unwrap()
                    .current()
                    .to_string()
                    .into_bytes()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_arbitrary_bodies_through_the_process_each_get_a_clear_answer() {
    let w = World::base();
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    let truth = cloud.truth(&w, &[TEMPLATE_SG]);
    for body in sample_bodies(300) {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let answer = cloud.invoke(&key, 5, body).await;
        match answer.status {
            200 => assert!(
                answer.body.is_object(),
                "{shown} → 200 with {}",
                answer.body
            ),
            404 => {
                for field in ["errorType", "errorMessage"] {
                    assert!(
                        answer.body[field]
                            .as_str()
                            .is_some_and(|s| !s.trim().is_empty()),
                        "{shown} → 404 without {field}: {}",
                        answer.body
                    );
                }
            }
            other => panic!("{shown} → HTTP {other}"),
        }
    }
    // Whatever those bodies asked for, no rule but a risky one was revoked.
    truth.assert_only_risky_rules_gone(&cloud.emu);
    cloud.finish();
}

/// Peak resident set of a process, from `/proc/<pid>/status`.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

const TEN_MB: usize = 10 * 1024 * 1024;

/// Sends a 10 MB body in 64 KiB pieces (chunked, or with its length declared) and returns the
/// raw HTTP response.
fn send_ten_megabytes(addr: std::net::SocketAddr, chunked: bool) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {TEN_MB}")
    };
    write!(
        stream,
        "POST /invoke HTTP/1.1\r\nHost: fc\r\nx-fc-request-id: rel-huge\r\n{framing}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let piece = vec![b'['; 64 * 1024];
    for _ in 0..TEN_MB / piece.len() {
        if chunked {
            write!(stream, "{:x}\r\n", piece.len()).unwrap();
        }
        stream.write_all(&piece).unwrap();
        if chunked {
            stream.write_all(b"\r\n").unwrap();
        }
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").unwrap();
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_without_being_held_in_memory() {
    let w = World::base();
    let cloud = Cloud::start(&w, &[("MAX_EVENT_BYTES", "1024")]).await;
    let key = function_key(0);
    // Warm the process up (allocator, TLS-free client pool), so the baseline is honest.
    let answer = cloud
        .invoke_event(&key, 10, &config_event(ACCOUNT, &[TEMPLATE_SG]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let pid = cloud.function.process().pid();
    let addr = cloud.function.process().addr;
    for chunked in [true, false] {
        let baseline = vm_hwm_kib(pid);
        let response = tokio::task::spawn_blocking(move || send_ten_megabytes(addr, chunked))
            .await
            .unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        let body: Value = serde_json::from_str(body).expect("a JSON error");
        assert_eq!(body["errorType"], "PayloadTooLarge");
        let message = body["errorMessage"].as_str().unwrap();
        assert!(message.contains("MAX_EVENT_BYTES = 1024"), "{message}");
        let grown_kib = vm_hwm_kib(pid).saturating_sub(baseline);
        assert!(
            grown_kib < 2 * 1024,
            "peak memory grew by {grown_kib} KiB for a 10 MB body (chunked: {chunked})"
        );
    }
    // Still serving.
    let answer = cloud
        .invoke_event(&key, 10, &config_event(ACCOUNT, &[TEMPLATE_SG]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_utf8_is_refused_clearly() {
    let w = World::base();
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    let bodies: [&[u8]; 3] = [
        b"[{\"regionId\":\"cn-hangzhou\xff\"}]",
        b"\xfe\xff\x00[\x00]",
        b"[{\"resourceId\":\"sg-\xe9t\xe9\"}]",
    ];
    for body in bodies {
        let answer = cloud.invoke(&key, 5, body.to_vec()).await;
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(answer.body["errorType"], "InvalidEvent");
        let message = answer.body["errorMessage"].as_str().unwrap();
        assert!(message.contains("not UTF-8"), "{message}");
    }
    let answer = cloud
        .invoke_event(&key, 10, &config_event(ACCOUNT, &[TEMPLATE_SG]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    cloud.finish();
}

//! The real `bootstrap` process wired to an in-process emulator, for the reliability tests.
//!
//! A [`Cloud`] owns both, sends FC-shaped invocations, records every response body, and on
//! [`Cloud::finish`] stops the function and checks that no secret of any credential it knows
//! (fixture keys and role credentials handed out by STS) appears in the output or a response.
//! [`Truth`] holds the live rules before an invocation and checks afterwards that the report tells
//! the truth about them.
//!
//! Requires `#[path = "support/runtime_harness.rs"] mod harness;` next to it in the test crate.

#![allow(dead_code)] // each scenario uses a different subset

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fixture};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use sg_remediator::openapi::signing::percent_encode;
use tokio::net::TcpListener;

use super::harness::Bootstrap;

/// The function's own account in `base.json`.
pub const ACCOUNT: &str = "1234567890123456";
/// A member account with the role `sg-remediation` that trusts [`ACCOUNT`].
pub const MEMBER: &str = "2222333344445555";
pub const ROLE: &str = "sg-remediation";
pub const REGION: &str = "cn-hangzhou";
/// The group in `base.json` whose rules every generated group copies.
pub const TEMPLATE_SG: &str = "sg-reltemplate0000000";
/// Rules whose description starts with this are the ones that must be revoked.
const RISKY_MARK: &str = "RISKY:";

const BASE: &str = include_str!("../fixtures/reliability/base.json");

/// An access key, as FC passes it in the `x-fc-access-key-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

/// The function role's two keys in `base.json` (the second stands in for "fresh credentials").
pub fn function_key(n: usize) -> Key {
    let world = World::base();
    world.keys_of(ACCOUNT)[n].clone()
}

/// A fixture under construction, starting from `tests/fixtures/reliability/base.json`.
#[derive(Clone)]
pub struct World {
    json: Value,
}

impl World {
    pub fn base() -> World {
        World {
            json: serde_json::from_str(BASE).expect("base.json is JSON"),
        }
    }

    fn accounts(&mut self) -> &mut Vec<Value> {
        self.json["accounts"].as_array_mut().expect("accounts")
    }

    /// The keys of `account`, in fixture order.
    pub fn keys_of(&self, account: &str) -> Vec<Key> {
        self.json["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["accountId"] == account)
            .flat_map(|a| a["credentials"].as_array().cloned().unwrap_or_default())
            .map(|c| Key {
                id: c["accessKeyId"].as_str().unwrap().to_string(),
                secret: c["accessKeySecret"].as_str().unwrap().to_string(),
                token: c["securityToken"].as_str().map(str::to_string),
            })
            .collect()
    }

    /// Every key of the fixture.
    pub fn all_keys(&self) -> Vec<Key> {
        [ACCOUNT, MEMBER]
            .iter()
            .flat_map(|a| self.keys_of(a))
            .collect()
    }

    /// Adds an STS-style key to `account`. Secrets carry `/`, `+` and `=` so that a leak in
    /// percent-encoded form is caught too.
    pub fn add_key(&mut self, account: &str, n: usize) -> Key {
        let key = Key {
            id: format!("STS.RelGenerated{n:010}"),
            secret: format!("gen/Secret+{n:05}=Qm{}", n * 7919 + 104_729),
            token: Some(format!(
                "CAIS+gen/Token+{n:05}=Zx{}==",
                n * 6151 + 15_485_863
            )),
        };
        let entry = self
            .accounts()
            .iter_mut()
            .find(|a| a["accountId"] == account)
            .expect("known account");
        entry["credentials"].as_array_mut().unwrap().push(json!({
            "accessKeyId": key.id,
            "accessKeySecret": key.secret,
            "securityToken": key.token,
        }));
        key
    }

    /// Adds a group to `account` with a copy of the template's rules (ids made unique).
    pub fn add_group(&mut self, account: &str, sg: &str) {
        let template = self.json["securityGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["securityGroupId"] == TEMPLATE_SG)
            .cloned()
            .expect("template group");
        let mut group = template;
        group["accountId"] = json!(account);
        group["securityGroupId"] = json!(sg);
        for (i, rule) in group["rules"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            rule["SecurityGroupRuleId"] = json!(format!("sgr-{}-{:02}", &sg[3..], i + 1));
        }
        self.json["securityGroups"]
            .as_array_mut()
            .unwrap()
            .push(group);
    }

    /// The ids of the rules that must be revoked in group `sg`, from the fixture's descriptions.
    pub fn risky_ids(&self, sg: &str) -> BTreeSet<String> {
        self.json["securityGroups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["securityGroupId"] == sg)
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .filter(|r| {
                r["Description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(RISKY_MARK))
            })
            .map(|r| r["SecurityGroupRuleId"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn fixture(&self) -> Fixture {
        Fixture::from_json_str(&self.json.to_string()).expect("valid fixture")
    }
}

/// A Config-shaped remediation event for groups of `account` in [`REGION`].
pub fn event(account: &str, groups: &[&str]) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|sg| {
                json!({
                    "regionId": REGION,
                    "accountId": account.parse::<u64>().unwrap(),
                    "resourceId": sg,
                    "resourceType": "ACS::ECS::SecurityGroup",
                    "configRuleId": "cr-5f2a00000000reliab",
                })
            })
            .collect(),
    )
}

/// One answer of the function.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// From sending the request to having the whole response.
    pub elapsed: Duration,
}

impl Answer {
    /// The report's result for `sg` (panics unless there is exactly one).
    pub fn result(&self, sg: &str) -> &Value {
        let matching: Vec<&Value> = self.results().filter(|r| r["resourceId"] == sg).collect();
        assert_eq!(matching.len(), 1, "one result for {sg}: {}", self.body);
        matching[0]
    }

    pub fn results(&self) -> impl Iterator<Item = &Value> {
        self.body["results"].as_array().into_iter().flatten()
    }

    pub fn status_of(&self, sg: &str) -> &str {
        self.result(sg)["status"].as_str().unwrap_or("")
    }

    pub fn reason_of(&self, sg: &str) -> &str {
        self.result(sg)["reason"].as_str().unwrap_or("")
    }
}

/// Credentials seen in STS answers on their way to the function (see [`Cloud::start`]).
type Tapped = Arc<Mutex<Vec<String>>>;

/// The emulator, the function, and everything needed to judge what happened.
pub struct Cloud {
    pub emu: Emulator,
    pub function: Bootstrap,
    client: reqwest::Client,
    known_secrets: Vec<String>,
    tapped: Tapped,
    bodies: Mutex<Vec<String>>,
    next_request: std::sync::atomic::AtomicU32,
}

impl Cloud {
    /// Starts the emulator with `world` and `bootstrap` pointed at it (debug logging, so the
    /// secrets check sees every line the function can print). STS traffic goes
    /// through a tap that remembers the role credentials STS hands out.
    pub async fn start(world: &World, extra_env: &[(&str, &str)]) -> Cloud {
        let emu = Emulator::start(world.fixture()).await.expect("emulator");
        let tapped: Tapped = Arc::default();
        let sts = sts_tap(emu.sts_endpoint(), tapped.clone()).await;
        let (config, ecs) = (emu.config_endpoint(), emu.ecs_endpoint());
        let mut env: Vec<(&str, &str)> = vec![
            ("CONFIG_ENDPOINT", &config),
            ("ECS_ENDPOINT", &ecs),
            ("STS_ENDPOINT", &sts),
            ("RUST_LOG", "debug"),
        ];
        env.extend_from_slice(extra_env);
        let function = tokio::task::block_in_place(|| Bootstrap::start(&env));
        let known_secrets = world
            .all_keys()
            .into_iter()
            .flat_map(|k| std::iter::once(k.secret).chain(k.token))
            .collect();
        Cloud {
            emu,
            function,
            client: reqwest::Client::new(),
            known_secrets,
            tapped,
            bodies: Mutex::default(),
            next_request: Default::default(),
        }
    }

    /// Invokes the function as FC would: `key` as the role's credentials, [`ACCOUNT`] as the
    /// function's account, `timeout_secs` as `x-fc-function-timeout`.
    pub async fn invoke(&self, key: &Key, timeout_secs: u32, body: impl Into<Bytes>) -> Answer {
        let n = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = self
            .client
            .post(self.function.url("/invoke"))
            .header("x-fc-request-id", format!("rel-{n:04}"))
            .header("x-fc-access-key-id", &key.id)
            .header("x-fc-access-key-secret", &key.secret)
            .header("x-fc-region", REGION)
            .header("x-fc-account-id", ACCOUNT)
            .header("x-fc-function-name", "sg-remediator")
            .header("x-fc-function-timeout", timeout_secs.to_string())
            .body(body.into());
        if let Some(token) = &key.token {
            request = request.header("x-fc-security-token", token);
        }
        let started = Instant::now();
        let response = request.send().await.expect("the function answers");
        let status = response.status().as_u16();
        let fc_status = response
            .headers()
            .get("x-fc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.expect("a whole response body");
        let elapsed = started.elapsed();
        assert_eq!(
            fc_status.as_deref(),
            Some(status.to_string().as_str()),
            "x-fc-status mirrors the HTTP status"
        );
        let text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 response");
        self.bodies.lock().unwrap().push(text.clone());
        let body = serde_json::from_str(&text).expect("a JSON response");
        Answer {
            status,
            body,
            elapsed,
        }
    }

    /// Invokes with a JSON event.
    pub async fn invoke_event(&self, key: &Key, timeout_secs: u32, event: &Value) -> Answer {
        self.invoke(key, timeout_secs, event.to_string()).await
    }

    /// Adds a value that must not appear in any output (e.g. a wrong secret sent on purpose).
    pub fn also_secret(&mut self, secret: &str) {
        self.known_secrets.push(secret.to_string());
    }

    /// The role credentials STS has handed out through the tap so far.
    pub fn assumed_secrets(&self) -> Vec<String> {
        self.tapped.lock().unwrap().clone()
    }

    /// Live rules of each group, to compare with after an invocation.
    pub fn truth(&self, world: &World, groups: &[&str]) -> Truth {
        Truth {
            before: groups
                .iter()
                .map(|sg| {
                    let rules = self.emu.live_rules(sg).expect("known group");
                    (sg.to_string(), (rules, world.risky_ids(sg)))
                })
                .collect(),
        }
    }

    /// Stops the function (SIGTERM, clean exit), then checks that no secret or token it could
    /// have seen appears in its output or in any response it gave.
    pub fn finish(mut self) {
        self.function.finish();
        let mut haystack = self.function.all_output();
        for body in self.bodies.lock().unwrap().iter() {
            haystack.push('\n');
            haystack.push_str(body);
        }
        let mut secrets = self.known_secrets.clone();
        secrets.extend(self.assumed_secrets());
        assert_no_secret(&haystack, &secrets);
    }
}

/// Shortest piece of a secret whose presence counts as a leak.
const LEAK_WINDOW: usize = 12;

/// Fails if any 12-character piece of any secret — raw, percent-encoded once or twice — occurs
/// in `haystack`. Pieces, not whole values, so a truncated or split secret is caught too.
pub fn assert_no_secret(haystack: &str, secrets: &[String]) {
    let mut pieces: HashSet<&[u8]> = HashSet::new();
    let forms: Vec<String> = secrets
        .iter()
        .flat_map(|s| {
            let once = percent_encode(s);
            let twice = percent_encode(&once);
            [s.clone(), once, twice]
        })
        .collect();
    for form in &forms {
        let bytes = form.as_bytes();
        assert!(bytes.len() >= LEAK_WINDOW, "secret too short to check");
        pieces.extend(bytes.windows(LEAK_WINDOW));
    }
    let hay = haystack.as_bytes();
    if let Some(at) = hay.windows(LEAK_WINDOW).position(|w| pieces.contains(w)) {
        let line = haystack[..at].rsplit('\n').next().unwrap_or("").len();
        let start = at - line;
        let end = haystack[at..].find('\n').map_or(haystack.len(), |e| at + e);
        panic!(
            "a secret leaked at byte {at}, in: {}",
            &haystack[start..end]
        );
    }
}

/// Live rules before an invocation and which of them are risky, per group.
pub struct Truth {
    before: BTreeMap<String, (Vec<Value>, BTreeSet<String>)>,
}

fn rule_id(rule: &Value) -> String {
    rule["SecurityGroupRuleId"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

impl Truth {
    /// Checks the report against live state, group by group:
    /// - exactly one result per group;
    /// - the rules gone from live are exactly the result's `revokedRuleIds`, whatever the status
    ///   (nothing revoked behind the report's back, nothing claimed that did not happen);
    /// - only risky rules are gone, and every other rule is unchanged;
    /// - `remediated` means every risky rule that was open is gone; a group with a risky rule
    ///   open is never `compliant`; `failed` and `skipped` always say why.
    pub fn assert_told(&self, emu: &Emulator, answer: &Answer) {
        for (sg, (before, risky)) in &self.before {
            let result = answer.result(sg);
            let status = result["status"].as_str().unwrap_or("");
            let after = emu.live_rules(sg).expect("known group");
            let after_ids: BTreeSet<String> = after.iter().map(rule_id).collect();
            let gone: BTreeSet<String> = before
                .iter()
                .map(rule_id)
                .filter(|id| !after_ids.contains(id))
                .collect();
            let reported: BTreeSet<String> = result["revokedRuleIds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            assert_eq!(gone, reported, "{sg} ({status}): revoked rules vs report");
            assert_only_risky_gone(sg, before, &after, risky);
            // Risky rules that were open when the invocation started.
            let open: BTreeSet<String> = before
                .iter()
                .map(rule_id)
                .filter(|id| risky.contains(id))
                .collect();
            match status {
                "remediated" => assert_eq!(gone, open, "{sg}: remediated but risky rules left"),
                "compliant" => assert!(
                    open.is_empty(),
                    "{sg}: reported compliant while risky rules are open: {open:?}"
                ),
                "failed" | "skipped" => assert!(
                    result["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "{sg}: {status} without a reason"
                ),
                other => panic!("{sg}: unexpected status {other:?}"),
            }
        }
        assert_eq!(
            answer.results().count(),
            self.before.len(),
            "one result per resource: {}",
            answer.body
        );
        let failed = answer.results().any(|r| r["status"] == "failed");
        let expected = if failed { 404 } else { 200 };
        assert_eq!(
            answer.status, expected,
            "function error iff a resource failed"
        );
        if failed {
            assert_eq!(answer.body["errorType"], "RemediationFailed");
            assert!(answer.body["errorMessage"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    }
}

impl Truth {
    /// Only risky rules are gone from live state, and every other rule is unchanged.
    pub fn assert_only_risky_rules_gone(&self, emu: &Emulator) {
        for (sg, (before, risky)) in &self.before {
            let after = emu.live_rules(sg).expect("known group");
            assert_only_risky_gone(sg, before, &after, risky);
        }
    }
}

fn assert_only_risky_gone(sg: &str, before: &[Value], after: &[Value], risky: &BTreeSet<String>) {
    let after_ids: BTreeSet<String> = after.iter().map(rule_id).collect();
    let gone: BTreeSet<String> = before
        .iter()
        .map(rule_id)
        .filter(|id| !after_ids.contains(id))
        .collect();
    assert!(
        gone.is_subset(risky),
        "{sg}: a non-risky rule was revoked: {:?}",
        gone.difference(risky).collect::<Vec<_>>()
    );
    let kept: Vec<&Value> = before
        .iter()
        .filter(|r| !gone.contains(&rule_id(r)))
        .collect();
    assert_eq!(
        kept,
        after.iter().collect::<Vec<_>>(),
        "{sg}: kept rules changed"
    );
}

/// A pass-through proxy in front of the emulator's STS listener that remembers the
/// `AccessKeySecret` and `SecurityToken` of every `Credentials` object it forwards. The emulator
/// does not reveal the role credentials it mints; the secrets check needs them.
async fn sts_tap(upstream: String, tapped: Tapped) -> String {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("tap listens");
    let addr = listener.local_addr().unwrap();
    let client = reqwest::Client::new();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (client, upstream, tapped) = (client.clone(), upstream.clone(), tapped.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    forward(req, client.clone(), upstream.clone(), tapped.clone())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

async fn forward(
    req: hyper::Request<Incoming>,
    client: reqwest::Client,
    upstream: String,
    tapped: Tapped,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    let content_type = req.headers().get("content-type").cloned();
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let mut out = client
        .post(format!("{upstream}{path}"))
        .body(body.unwrap_or_default());
    if let Some(ct) = content_type {
        out = out.header("content-type", ct);
    }
    let (status, bytes) = match out.send().await {
        Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
        Err(_) => (502, Bytes::new()),
    };
    if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
        let creds = &v["Credentials"];
        let mut seen = tapped.lock().unwrap();
        for field in ["AccessKeySecret", "SecurityToken"] {
            if let Some(s) = creds[field].as_str() {
                seen.push(s.to_string());
            }
        }
    }
    let mut response = hyper::Response::new(Full::new(bytes));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

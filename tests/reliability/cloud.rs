//! The world of the reliability scenarios, on top of the test kit: a [`World`] built from
//! `tests/fixtures/reliability/base.json` (which rules are risky is written in the fixture's
//! descriptions), a [`Cloud`] that runs `bootstrap` against the emulator and checks on
//! [`Cloud::finish`] that no secret it knows (fixture keys and role credentials handed out by
//! STS) appears in the output or a response, and [`Truth`], the live rules before an invocation,
//! to check afterwards that the report tells the truth about them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use acs_emulator::{Emulator, Fixture};
use bytes::Bytes;
use serde_json::{json, Value};
pub(crate) use sg_test_kit::secrets::assert_no_secret;
use sg_test_kit::secrets::StsTap;
use sg_test_kit::{bootstrap, world, Caller, Function};
pub(crate) use sg_test_kit::{Answer, Key};

/// The function's own account in `base.json`.
pub(crate) const ACCOUNT: &str = "1234567890123456";
/// A member account with the role `sg-remediation` that trusts [`ACCOUNT`].
pub(crate) const MEMBER: &str = "2222333344445555";
pub(crate) const ROLE: &str = "sg-remediation";
pub(crate) const REGION: &str = "cn-hangzhou";
/// The group in `base.json` whose rules every generated group copies.
pub(crate) const TEMPLATE_SG: &str = "sg-reltemplate0000000";
/// Rules whose description starts with this are the ones that must be revoked.
const RISKY_MARK: &str = "RISKY:";

const BASE: &str = include_str!("../fixtures/reliability/base.json");

/// The function role's two keys in `base.json` (the second stands in for "fresh credentials").
pub(crate) fn function_key(n: usize) -> Key {
    let world = World::base();
    world.keys_of(ACCOUNT)[n].clone()
}

/// A fixture under construction, starting from `tests/fixtures/reliability/base.json`.
#[derive(Clone)]
pub(crate) struct World {
    json: Value,
}

impl World {
    pub(crate) fn base() -> World {
        World {
            json: serde_json::from_str(BASE).expect("base.json is JSON"),
        }
    }

    fn accounts(&mut self) -> &mut Vec<Value> {
        self.json["accounts"].as_array_mut().expect("accounts")
    }

    /// The keys of `account`, in fixture order.
    pub(crate) fn keys_of(&self, account: &str) -> Vec<Key> {
        world::keys_of(&self.json, account)
    }

    /// Every key of the fixture.
    pub(crate) fn all_keys(&self) -> Vec<Key> {
        [ACCOUNT, MEMBER]
            .iter()
            .flat_map(|a| self.keys_of(a))
            .collect()
    }

    /// Adds an STS-style key to `account`. Secrets carry `/`, `+` and `=` so that a leak in
    /// percent-encoded form is caught too.
    pub(crate) fn add_key(&mut self, account: &str, n: usize) -> Key {
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
    pub(crate) fn add_group(&mut self, account: &str, sg: &str) {
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
    pub(crate) fn risky_ids(&self, sg: &str) -> BTreeSet<String> {
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

    pub(crate) fn fixture(&self) -> Fixture {
        Fixture::from_json_str(&self.json.to_string()).expect("valid fixture")
    }
}

/// A Config-shaped remediation event for groups of `account` in [`REGION`].
pub(crate) fn event(account: &str, groups: &[&str]) -> Value {
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

/// The emulator, the function, and everything needed to judge what happened.
pub(crate) struct Cloud {
    pub emu: Emulator,
    pub function: Function,
    known_secrets: Vec<String>,
    tap: StsTap,
    bodies: Mutex<Vec<String>>,
    next_request: std::sync::atomic::AtomicU32,
}

impl Cloud {
    /// Starts the emulator with `world` and `bootstrap` pointed at it (debug logging, so the
    /// secrets check sees every line the function can print). STS traffic goes through a tap
    /// that remembers the role credentials STS hands out.
    pub(crate) async fn start(world: &World, extra_env: &[(&str, &str)]) -> Cloud {
        let emu = Emulator::start(world.fixture()).await.expect("emulator");
        let tap = StsTap::start(emu.sts_endpoint()).await;
        let launch = bootstrap!()
            .emulator(&emu)
            .env("STS_ENDPOINT", tap.endpoint())
            .env("RUST_LOG", "debug")
            .envs(extra_env);
        let function = Function::start_with(launch);
        let known_secrets = world
            .all_keys()
            .into_iter()
            .flat_map(|k| std::iter::once(k.secret).chain(k.token))
            .collect();
        Cloud {
            emu,
            function,
            known_secrets,
            tap,
            bodies: Mutex::default(),
            next_request: Default::default(),
        }
    }

    /// Invokes the function as FC would: `key` as the role's credentials, [`ACCOUNT`] as the
    /// function's account, `timeout_secs` as `x-fc-function-timeout`. The answer must be JSON
    /// and `x-fc-status` must mirror the HTTP status.
    pub(crate) async fn invoke(
        &self,
        key: &Key,
        timeout_secs: u32,
        body: impl Into<Bytes>,
    ) -> Answer {
        let n = self
            .next_request
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let caller = Caller::new(key.clone()).timeout(timeout_secs);
        let request = self
            .function
            .request_as(&caller, &format!("rel-{n:04}"), body.into(), &[]);
        let answer = self.function.send(request).await;
        assert_eq!(
            answer.fc_status.as_deref(),
            Some(answer.status.to_string().as_str()),
            "x-fc-status mirrors the HTTP status"
        );
        assert!(
            serde_json::from_str::<Value>(&answer.text).is_ok(),
            "a JSON response: {}",
            answer.text
        );
        self.bodies.lock().unwrap().push(answer.text.clone());
        answer
    }

    /// Invokes with a JSON event.
    pub(crate) async fn invoke_event(&self, key: &Key, timeout_secs: u32, event: &Value) -> Answer {
        self.invoke(key, timeout_secs, event.to_string()).await
    }

    /// Adds a value that must not appear in any output (e.g. a wrong secret sent on purpose).
    pub(crate) fn also_secret(&mut self, secret: &str) {
        self.known_secrets.push(secret.to_string());
    }

    /// The role credentials STS has handed out through the tap so far.
    pub(crate) fn assumed_secrets(&self) -> Vec<String> {
        self.tap.secrets()
    }

    /// Live rules of each group, to compare with after an invocation.
    pub(crate) fn truth(&self, world: &World, groups: &[&str]) -> Truth {
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
    pub(crate) fn finish(self) {
        let Cloud {
            function,
            known_secrets: mut secrets,
            tap,
            bodies,
            ..
        } = self;
        let mut haystack = function.finish().join("\n");
        for body in bodies.lock().unwrap().iter() {
            haystack.push('\n');
            haystack.push_str(body);
        }
        secrets.extend(tap.secrets());
        assert_no_secret(&haystack, &secrets);
    }
}

/// Live rules before an invocation and which of them are risky, per group.
pub(crate) struct Truth {
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
    pub(crate) fn assert_told(&self, emu: &Emulator, answer: &Answer) {
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
            answer.results().len(),
            self.before.len(),
            "one result per resource: {}",
            answer.body
        );
        let failed = answer.results().iter().any(|r| r["status"] == "failed");
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
    pub(crate) fn assert_only_risky_rules_gone(&self, emu: &Emulator) {
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

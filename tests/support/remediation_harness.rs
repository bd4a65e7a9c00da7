//! End-to-end set-up for remediation tests: the in-process emulator started from a fixture,
//! and the real `bootstrap` process pointed at it, invoked the way FC invokes it (FC headers
//! carrying the fixture's STS credentials for the function's role).
//!
//! Needs `mod harness` (support/runtime_harness.rs) declared next to it by the test file.

#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

use acs_emulator::{Emulator, Fixture, JournalEntry};
use serde_json::{json, Value};

use crate::harness::Bootstrap;

/// The function's own account (owner of the FC function and of most groups in the fixture).
pub const FUNCTION_ACCOUNT: &str = "1234567890123456";
/// A member account, reachable only through the `sg-remediation` role.
pub const MEMBER_ACCOUNT: &str = "2222333344445555";
pub const ROLE_NAME: &str = "sg-remediation";
pub const AGGREGATOR_ID: &str = "ca-a4e5626622af0079dd1b";
pub const REGION: &str = "cn-hangzhou";
pub const FUNCTION_NAME: &str = "sg-remediator";
pub const SECURITY_GROUP: &str = "ACS::ECS::SecurityGroup";

/// The function role's STS credentials, as FC passes them (must match the fixture).
pub const FC_KEY_ID: &str = "STS.FcRemediatorRoleKey00000";
pub const FC_SECRET: &str = "fcRole/Secret+=8kQ2xV7mN4pL9sT1wZ3rHc6J";
pub const FC_TOKEN: &str = "CAIS+fcRemediator/session+token==";

/// A test-only `RESTORE_SEAL_KEY` (32 bytes, hex).
pub const SEAL_KEY: &str = "5a1f0c9e7b3d2a8f6e4c1b0d9a8f7e6d5c4b3a29180f7e6d5c4b3a2918070605";

/// What a deployment that accepts restore events sets.
pub const RESTORE_ENV: &[(&str, &str)] =
    &[("ALLOW_RESTORE", "true"), ("RESTORE_SEAL_KEY", SEAL_KEY)];

/// A fixture from tests/fixtures/remediation/, as JSON (so a test can add to it).
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/remediation")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Starts the emulator on loopback with the given fixture.
pub async fn emulator(fixture: &Value) -> Emulator {
    let fixture = Fixture::from_json_str(&fixture.to_string()).expect("the fixture is valid");
    Emulator::start(fixture).await.expect("the emulator starts")
}

/// Starts the emulator with tests/fixtures/remediation/groups.json.
pub async fn groups() -> Emulator {
    emulator(&fixture("groups")).await
}

/// One resource of a Config event in the function's account and region.
pub fn resource(id: &str) -> Value {
    resource_in(FUNCTION_ACCOUNT, REGION, id)
}

/// One resource of a Config event, with `accountId` as a JSON number as Config writes it.
pub fn resource_in(account: &str, region: &str, id: &str) -> Value {
    json!({
        "accountId": account.parse::<u64>().expect("numeric account"),
        "regionId": region,
        "resourceId": id,
        "resourceType": SECURITY_GROUP,
        "configRuleId": "cr-5772ba41209e007b0000",
    })
}

/// Config's event: an array of resources in the function's account.
pub fn event(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| resource(id)).collect())
}

/// The real `bootstrap`, configured to meet the emulator.
pub struct Function {
    server: Bootstrap,
    client: reqwest::Client,
}

/// The answer to one invocation.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub fc_status: Option<String>,
    /// The body as text (for leak checks).
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

impl Function {
    /// Starts `bootstrap` with the emulator's endpoints plus `env`.
    pub fn start(emulator: &Emulator, env: &[(&str, &str)]) -> Function {
        let config = emulator.config_endpoint();
        let ecs = emulator.ecs_endpoint();
        let sts = emulator.sts_endpoint();
        let mut all: Vec<(&str, &str)> = vec![
            ("CONFIG_ENDPOINT", config.as_str()),
            ("ECS_ENDPOINT", ecs.as_str()),
            ("STS_ENDPOINT", sts.as_str()),
        ];
        all.extend_from_slice(env);
        // Waiting for the port blocks; let the emulator's tasks run on the other workers.
        let server = tokio::task::block_in_place(|| Bootstrap::start(&all));
        Function {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// Like [`Function::start`], without `ECS_ENDPOINT`: ECS calls go to the function's default
    /// (official) endpoints, which a test can observe through `HTTPS_PROXY`.
    pub fn start_with_default_ecs(emulator: &Emulator, env: &[(&str, &str)]) -> Function {
        let config = emulator.config_endpoint();
        let sts = emulator.sts_endpoint();
        let mut all: Vec<(&str, &str)> = vec![
            ("CONFIG_ENDPOINT", config.as_str()),
            ("STS_ENDPOINT", sts.as_str()),
        ];
        all.extend_from_slice(env);
        let server = tokio::task::block_in_place(|| Bootstrap::start(&all));
        Function {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// The `bootstrap` process (for its pid, address, signals and output).
    pub fn server(&mut self) -> &mut Bootstrap {
        &mut self.server
    }

    /// An `/invoke` request with every FC header, carrying the fixture's role credentials.
    pub fn request(&self, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.request_with(body, &[])
    }

    /// Like [`Function::request`], with some FC headers replaced (an empty value is sent empty).
    pub fn request_with(
        &self,
        body: impl Into<reqwest::Body>,
        overrides: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let request_id = format!("1-{}", uuid::Uuid::new_v4());
        let defaults = [
            ("x-fc-request-id", request_id.as_str()),
            ("x-fc-access-key-id", FC_KEY_ID),
            ("x-fc-access-key-secret", FC_SECRET),
            ("x-fc-security-token", FC_TOKEN),
            ("x-fc-account-id", FUNCTION_ACCOUNT),
            ("x-fc-region", REGION),
            ("x-fc-function-name", FUNCTION_NAME),
            ("x-fc-function-timeout", "60"),
            ("content-type", "application/octet-stream"),
        ];
        let mut request = self.client.post(self.server.url("/invoke")).body(body);
        for (name, default) in defaults {
            let value = overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(default, |(_, v)| *v);
            request = request.header(name, value);
        }
        request
    }

    /// Sends `body` as is.
    pub async fn invoke_raw(&self, body: impl Into<reqwest::Body>) -> Answer {
        answer(self.request(body).send().await.expect("bootstrap answers")).await
    }

    /// Sends a JSON event.
    pub async fn invoke(&self, event: &Value) -> Answer {
        self.invoke_raw(event.to_string()).await
    }

    /// Sends a prepared request (e.g. with headers changed).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        answer(request.send().await.expect("bootstrap answers")).await
    }

    /// Stops `bootstrap` (asserting a clean exit) and returns every line it printed.
    pub fn finish(mut self) -> Vec<String> {
        tokio::task::block_in_place(|| self.server.finish());
        self.server
            .all_output()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let fc_status = resp
        .headers()
        .get("x-fc-status")
        .map(|v| v.to_str().expect("ASCII header").to_string());
    let text = resp.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        fc_status,
        text,
        body,
    }
}

impl Answer {
    /// The single result for `resource_id` (panics if it is missing or repeated).
    pub fn result(&self, resource_id: &str) -> &Value {
        let matching: Vec<&Value> = self
            .results()
            .iter()
            .filter(|r| r["resourceId"] == resource_id)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected exactly one result for {resource_id} in {:#}",
            self.body
        );
        matching[0]
    }

    pub fn results(&self) -> &Vec<Value> {
        self.body["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results in {:#}", self.body))
    }

    /// The status of `resource_id`'s result.
    pub fn status_of(&self, resource_id: &str) -> &str {
        self.result(resource_id)["status"]
            .as_str()
            .expect("a status string")
    }

    /// The reason of `resource_id`'s result ("" when there is none).
    pub fn reason_of(&self, resource_id: &str) -> &str {
        self.result(resource_id)["reason"].as_str().unwrap_or("")
    }

    /// A list of ids (`revokedRuleIds`, `driftRuleIds`, …) of `resource_id`'s result; an absent
    /// key is an empty list.
    pub fn ids(&self, resource_id: &str, key: &str) -> Vec<String> {
        strings(&self.result(resource_id)[key])
    }

    /// Whether FC would see success: HTTP 200 and `x-fc-status: 200`.
    pub fn is_success(&self) -> bool {
        self.status == 200 && self.fc_status.as_deref() == Some("200")
    }

    /// Whether FC would see a function error: HTTP 404 and `x-fc-status: 404`.
    pub fn is_function_error(&self) -> bool {
        self.status == 404 && self.fc_status.as_deref() == Some("404")
    }
}

/// A JSON array of strings as a vector; anything else is empty.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The rule ids of a group's live rules.
pub fn live_ids(emulator: &Emulator, sg: &str) -> Vec<String> {
    emulator
        .live_rules(sg)
        .expect("the group exists")
        .iter()
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Journal entries for one action.
pub fn calls(emulator: &Emulator, action: &str) -> Vec<JournalEntry> {
    emulator
        .journal()
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

/// Journal entries for one action on one group (`SecurityGroupId` or `ResourceId`).
pub fn calls_on(emulator: &Emulator, action: &str, sg: &str) -> Vec<JournalEntry> {
    calls(emulator, action)
        .into_iter()
        .filter(|e| {
            e.params.get("SecurityGroupId").map(String::as_str) == Some(sg)
                || e.params.get("ResourceId").map(String::as_str) == Some(sg)
        })
        .collect()
}

/// The `SecurityGroupRuleId.N` values of a RevokeSecurityGroup call, in order.
pub fn revoked_in(entry: &JournalEntry) -> Vec<String> {
    let mut numbered: Vec<(usize, String)> = entry
        .params
        .iter()
        .filter_map(|(k, v)| {
            let n = k.strip_prefix("SecurityGroupRuleId.")?.parse().ok()?;
            Some((n, v.clone()))
        })
        .collect();
    numbered.sort();
    numbered.into_iter().map(|(_, v)| v).collect()
}

/// JSON log lines carrying `"event": name`.
pub fn log_events(lines: &[String], name: &str) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}

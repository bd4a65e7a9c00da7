//! The emulated cloud a test runs against: the fixtures' identities, loading a fixture, starting
//! the emulator, Config-shaped events, and reading what happened (journal, live rules, logs).
//!
//! Fixtures are read from `tests/fixtures/` of the package under test (`CARGO_MANIFEST_DIR`,
//! which cargo sets when it runs tests and examples).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fixture, JournalEntry};
use acs_openapi::credentials::Credentials;
use acs_openapi::{CallContext, Client, ClientSettings, Endpoint};
use serde_json::{json, Value};

use crate::fc::Key;

/// The function's own account (owner of the FC function and of most groups in the fixtures).
pub const FUNCTION_ACCOUNT: &str = "1234567890123456";
/// A member account of `remediation/organization.json`, reachable only through [`ROLE_NAME`].
pub const MEMBER_ACCOUNT: &str = "2222333344445555";
/// The cross-account role the function assumes in member accounts.
pub const ROLE_NAME: &str = "sg-remediation";
/// The Config aggregator of `remediation/*.json`.
pub const AGGREGATOR_ID: &str = "ca-a4e5626622af0079dd1b";
/// The region of every fixture.
pub const REGION: &str = "cn-hangzhou";
/// The FC function's name.
pub const FUNCTION_NAME: &str = "sg-remediator";
/// Config's resource type for a security group.
pub const SECURITY_GROUP: &str = "ACS::ECS::SecurityGroup";

/// The function role's STS credentials in `remediation/*.json`, as FC passes them.
pub const FC_KEY_ID: &str = "STS.FcRemediatorRoleKey00000";
/// See [`FC_KEY_ID`].
pub const FC_SECRET: &str = "fcRole/Secret+=8kQ2xV7mN4pL9sT1wZ3rHc6J";
/// See [`FC_KEY_ID`].
pub const FC_TOKEN: &str = "CAIS+fcRemediator/session+token==";

/// A test-only `RESTORE_SEAL_KEY` (32 bytes, hex).
pub const SEAL_KEY: &str = "5a1f0c9e7b3d2a8f6e4c1b0d9a8f7e6d5c4b3a29180f7e6d5c4b3a2918070605";

/// What a deployment that accepts restore events sets.
pub const RESTORE_ENV: &[(&str, &str)] =
    &[("ALLOW_RESTORE", "true"), ("RESTORE_SEAL_KEY", SEAL_KEY)];

/// The function role's key of `remediation/*.json`.
pub fn function_role() -> Key {
    Key::sts(FC_KEY_ID, FC_SECRET, FC_TOKEN)
}

/// `tests/fixtures/` of the package under test.
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("CARGO_MANIFEST_DIR is set (run through cargo test / cargo run)");
    PathBuf::from(dir).join("tests/fixtures")
}

/// A JSON fixture under `tests/fixtures/` (`relative` includes the extension).
pub fn read_fixture(relative: &str) -> Result<Value, String> {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// A fixture from `tests/fixtures/remediation/`, as JSON (so a test can add to it).
pub fn fixture(name: &str) -> Value {
    read_fixture(&format!("remediation/{name}.json")).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts the emulator on loopback with the given fixture.
pub async fn try_emulator(fixture: &Value) -> Result<Emulator, String> {
    let fixture = Fixture::from_json_str(&fixture.to_string()).map_err(|e| e.to_string())?;
    Emulator::start(fixture)
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))
}

/// Starts the emulator on loopback with the given fixture (panics on failure).
pub async fn emulator(fixture: &Value) -> Emulator {
    try_emulator(fixture)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts the emulator with `tests/fixtures/remediation/groups.json`.
pub async fn groups() -> Emulator {
    emulator(&fixture("groups")).await
}

/// The `n`th key of `account` in a fixture document.
pub fn key_of(fixture: &Value, account: &str, n: usize) -> Option<Key> {
    keys_of(fixture, account).into_iter().nth(n)
}

/// The keys of `account` in a fixture document, in order.
pub fn keys_of(fixture: &Value, account: &str) -> Vec<Key> {
    fixture["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["accountId"] == account)
        .flat_map(|a| a["credentials"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| {
            Some(Key {
                id: c["accessKeyId"].as_str()?.to_string(),
                secret: c["accessKeySecret"].as_str()?.to_string(),
                token: c["securityToken"].as_str().map(str::to_string),
            })
        })
        .collect()
}

/// One resource of a Config event in the function's account and region.
pub fn resource(id: &str) -> Value {
    resource_in(FUNCTION_ACCOUNT, REGION, id)
}

/// One security group of a Config event, with `accountId` as a JSON number as Config writes it.
pub fn resource_in(account: &str, region: &str, id: &str) -> Value {
    resource_of(
        account,
        region,
        id,
        SECURITY_GROUP,
        "cr-5772ba41209e007b0000",
    )
}

/// One resource of a Config event, of any type, for the rule `config_rule_id`.
pub fn resource_of(
    account: &str,
    region: &str,
    id: &str,
    resource_type: &str,
    config_rule_id: &str,
) -> Value {
    json!({
        "accountId": account.parse::<u64>().expect("numeric account"),
        "regionId": region,
        "resourceId": id,
        "resourceType": resource_type,
        "configRuleId": config_rule_id,
    })
}

/// Config's event: an array of resources in the function's account.
pub fn event(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| resource(id)).collect())
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

/// The world of the API-level tests (client and contract): two accounts, a role and an
/// aggregator; the groups are the test's own.
pub mod api {
    use super::*;

    /// The caller's account.
    pub const OWNER: &str = "1234567890123456";
    /// A member account with [`super::ROLE_NAME`] trusting [`OWNER`], in aggregator `ca-agg`.
    pub const MEMBER: &str = "2234567890123456";
    /// [`OWNER`]'s key.
    pub const KEY: &str = "STS.owner";
    /// See [`KEY`].
    pub const SECRET: &str = "owner-secret";
    /// See [`KEY`].
    pub const TOKEN: &str = "CAIS+owner/token==";
    /// [`MEMBER`]'s long-term key.
    pub const MEMBER_KEY: &str = "member-key";
    /// See [`MEMBER_KEY`].
    pub const MEMBER_SECRET: &str = "member-secret";
    /// The aggregator over [`MEMBER`].
    pub const AGGREGATOR: &str = "ca-agg";

    /// A fixture of the two accounts, the role and the aggregator, with `groups`.
    pub fn fixture(groups: Vec<Value>) -> Fixture {
        let doc = json!({
            "accounts": [
                {"accountId": OWNER, "credentials": [
                    {"accessKeyId": KEY, "accessKeySecret": SECRET, "securityToken": TOKEN}]},
                {"accountId": MEMBER, "credentials": [
                    {"accessKeyId": MEMBER_KEY, "accessKeySecret": MEMBER_SECRET}]}
            ],
            "roles": [{"accountId": MEMBER, "roleName": ROLE_NAME,
                       "trustedAccountIds": [OWNER], "maxSessionDuration": 3600}],
            "aggregators": [{"aggregatorId": AGGREGATOR, "ownerAccountId": OWNER,
                             "memberAccountIds": [MEMBER]}],
            "securityGroups": groups,
        });
        Fixture::from_json_str(&doc.to_string()).expect("fixture is valid")
    }

    /// A TCP ingress Accept rule of priority 1 on one port, in the shape ECS describes it.
    pub fn rule(id: &str, port: u16, cidr: &str, nic: &str) -> Value {
        json!({
            "SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept", "Priority": "1",
            "IpProtocol": "TCP", "PortRange": format!("{port}/{port}"), "SourceCidrIp": cidr,
            "Ipv6SourceCidrIp": "", "NicType": nic, "Description": format!("rule {id}")
        })
    }

    /// `n` TCP ingress Accept rules from `cidr`, ids [`many_rule_ids`]`(prefix, n)`, on ports
    /// 1000, 1001, …: a group large enough to page through and to revoke in chunks.
    pub fn many_rules(prefix: &str, n: usize, cidr: &str) -> Vec<Value> {
        many_rule_ids(prefix, n)
            .iter()
            .zip(1000u16..)
            .map(|(id, port)| rule(id, port, cidr, "intranet"))
            .collect()
    }

    /// The first `n` ids of [`many_rules`]: `sgr-<prefix>0000`, `sgr-<prefix>0001`, ….
    pub fn many_rule_ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sgr-{prefix}{i:04}")).collect()
    }

    /// The emulator with a fixture, a client with `settings` (plain http allowed, as the
    /// emulator needs), and [`OWNER`]'s credentials.
    pub struct World {
        /// The emulator.
        pub emu: Emulator,
        /// The client under test.
        pub client: Client,
        /// [`OWNER`]'s credentials.
        pub creds: Credentials,
        /// The deadline of each call made through [`World::cx`] (30 seconds unless changed).
        pub call_timeout: Duration,
    }

    impl World {
        /// Starts the emulator with `fixture`; the client uses `settings` with `allow_http` set.
        pub async fn start(fixture: Fixture, settings: ClientSettings) -> World {
            World {
                emu: Emulator::start(fixture).await.expect("emulator starts"),
                client: Client::new(ClientSettings {
                    allow_http: true,
                    ..settings
                })
                .expect("client settings are valid"),
                creds: Credentials::new(KEY, SECRET, Some(TOKEN.into())),
                call_timeout: Duration::from_secs(30),
            }
        }

        /// A call context with the owner's credentials and [`World::call_timeout`] from now.
        pub fn cx(&self) -> CallContext<'_> {
            CallContext {
                credentials: &self.creds,
                deadline: Instant::now() + self.call_timeout,
            }
        }

        /// The emulator's Config endpoint, parsed as the client takes it.
        pub fn config(&self) -> Endpoint {
            Endpoint::parse(&self.emu.config_endpoint()).expect("the emulator's endpoint parses")
        }

        /// The emulator's ECS endpoint, parsed as the client takes it.
        pub fn ecs(&self) -> Endpoint {
            Endpoint::parse(&self.emu.ecs_endpoint()).expect("the emulator's endpoint parses")
        }

        /// The emulator's STS endpoint, parsed as the client takes it.
        pub fn sts(&self) -> Endpoint {
            Endpoint::parse(&self.emu.sts_endpoint()).expect("the emulator's endpoint parses")
        }

        /// Journal entries for one action.
        pub fn calls(&self, action: &str) -> Vec<JournalEntry> {
            super::calls(&self.emu, action)
        }

        /// The rule ids of a group's live rules.
        pub fn live_ids(&self, sg: &str) -> Vec<String> {
            super::live_ids(&self.emu, sg)
        }
    }
}

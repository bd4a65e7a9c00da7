//! The emulator's world, as a JSON file: accounts and their keys, RAM roles, aggregators,
//! security groups (live ECS view plus an optional, possibly stale, Config snapshot), settings
//! and faults. Parsed and validated once, so a typo in a fixture fails loudly at start-up rather
//! than turning into a confusing `NotFound` in the middle of a test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::fault::Fault;
use super::EmulatorError;

/// The whole fixture. Every list may be omitted.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// Every account that exists; keys, roles, aggregators and groups must name one of them.
    #[serde(default)]
    pub accounts: Vec<AccountFixture>,
    /// The RAM roles `AssumeRole` can hand out credentials for.
    #[serde(default)]
    pub roles: Vec<RoleFixture>,
    /// The Config aggregators `GetAggregateDiscoveredResource` reads through.
    #[serde(default)]
    pub aggregators: Vec<AggregatorFixture>,
    /// Regions the ECS and Config listeners accept. Empty means "every region a group uses".
    #[serde(default)]
    pub regions: Vec<String>,
    /// The security groups, each with a live (ECS) view and a Config snapshot view.
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupFixture>,
    /// Windows, page size and latency; defaults follow the real services.
    #[serde(default)]
    pub settings: Settings,
    /// Faults active from the start (same shape as `POST /__admin/faults`).
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// ActionTrail's events, served by `LookupEvents` to the account that owns each.
    #[serde(default)]
    pub events: Vec<EventFixture>,
}

/// One ActionTrail event of an account's trail: the event object as ActionTrail returns it in
/// `LookupEvents`' `Events` (fields per <https://www.alibabacloud.com/help/en/sls/log-fields-25>:
/// `eventId`, `eventName`, `eventTime`, `acsRegion`, `sourceIpAddress`, `resourceName`,
/// `userIdentity`, `requestParameters`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventFixture {
    /// The account whose trail holds the event (only its keys can look it up).
    pub account_id: String,
    /// The event; its `eventTime` must be an RFC 3339 UTC time.
    pub event: serde_json::Value,
}

/// An Alibaba Cloud account (UID) and the access keys that act as it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountFixture {
    /// Numeric UID as a string, e.g. `"1234567890123456"`.
    pub account_id: String,
    /// The keys that act as this account (none: the account only owns resources or roles).
    #[serde(default)]
    pub credentials: Vec<CredentialFixture>,
}

/// One access key. With `securityToken` it behaves like STS credentials (the token must be sent
/// and must match); `expired: true` makes every call fail as expired; `root: true` marks a
/// root-account key, which may not assume roles; `roleName` makes it a session of that RAM role
/// of the account (what FC hands the function for its role), which a role's trust policy can
/// name as its principal.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialFixture {
    /// The `AccessKeyId` the client sends; unique across the fixture.
    pub access_key_id: String,
    /// The secret the emulator recomputes each request's HMAC-SHA1 signature with.
    pub access_key_secret: String,
    /// The `SecurityToken` every request with this key must carry (STS credentials); `None`
    /// (or empty) for a long-lived key, which must then send none.
    #[serde(default)]
    pub security_token: Option<String>,
    /// Every call fails as expired: `InvalidSecurityToken.Expired` with a token,
    /// `InvalidAccessKeyId.Inactive` without.
    #[serde(default)]
    pub expired: bool,
    /// A root-account key: STS refuses it `AssumeRole` (`NoPermission`), as the real one does.
    #[serde(default)]
    pub root: bool,
    /// The RAM role (of this account) the key is a session of; trust policies that list
    /// `acs:ram::<account>:role/<roleName>` admit it.
    #[serde(default)]
    pub role_name: Option<String>,
}

/// A RAM role that `AssumeRole` can hand out credentials for. Its trust policy admits the RAM
/// principals listed: whole accounts (`trustedAccountIds`, the principal
/// `acs:ram::<id>:root`: any RAM user or role session of that account) and single roles
/// (`trustedRoleArns`: only sessions of that role).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleFixture {
    /// The account the role belongs to; its credentials act as this account.
    pub account_id: String,
    /// The name in `acs:ram::<accountId>:role/<roleName>`, the `RoleArn` callers assume.
    pub role_name: String,
    /// Accounts whose principals the trust policy admits.
    #[serde(default)]
    pub trusted_account_ids: Vec<String>,
    /// Role ARNs (`acs:ram::<id>:role/<name>`) whose sessions the trust policy admits.
    #[serde(default)]
    pub trusted_role_arns: Vec<String>,
    /// Upper bound of `DurationSeconds` (RAM's default is 3600).
    #[serde(default = "default_max_session")]
    pub max_session_duration: u64,
}

fn default_max_session() -> u64 {
    3600
}

/// A Config aggregator: only its owner may read through it, only members' resources are visible.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregatorFixture {
    /// The `AggregatorId` parameter (`ca-…`).
    pub aggregator_id: String,
    /// The only account allowed to read through the aggregator (others get `NoPermission`).
    pub owner_account_id: String,
    /// The accounts whose resources the aggregator can return (others get
    /// `MemberNotBelongToMaster`).
    #[serde(default)]
    pub member_account_ids: Vec<String>,
}

/// A security group: the live ECS view plus the Config snapshot (by default a copy of live).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityGroupFixture {
    /// The owner: only its keys (and roles assumed into it) see and change the group; other
    /// accounts read it only through an aggregator that has it as a member.
    pub account_id: String,
    /// The region; a call for another region does not find the group.
    pub region_id: String,
    /// `sg-…`, unique across the fixture.
    pub security_group_id: String,
    /// `SecurityGroupName` in Config's `Configuration` and the ECS answers.
    #[serde(default)]
    pub security_group_name: String,
    /// `Description` in Config's `Configuration` and the ECS answers.
    #[serde(default)]
    pub description: String,
    /// The VPC; empty makes it a classic-network group, whose rules default to NIC type
    /// `internet` and are read one NIC type per call.
    #[serde(default)]
    pub vpc_id: String,
    /// `normal` or `enterprise`.
    #[serde(default = "default_sg_type")]
    pub security_group_type: String,
    /// `InnerAccessPolicy` (`Accept` or `Drop`), reported as given.
    #[serde(default = "default_inner_policy")]
    pub inner_access_policy: String,
    /// `true` = managed by a cloud product: writes are refused. Absent = key omitted from Config.
    #[serde(default)]
    pub service_managed: Option<bool>,
    /// Deleted in the live view (ECS says NotFound).
    #[serde(default)]
    pub deleted: bool,
    /// Tags of the live view (and of the snapshot unless it overrides them).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Raw permission objects, returned as given (a `SecurityGroupRuleId` is generated if missing).
    #[serde(default)]
    pub rules: Vec<Value>,
    /// Overrides for the Config view; absent fields copy the live view.
    #[serde(default)]
    pub snapshot: Option<SnapshotFixture>,
    /// When true, Revoke/Authorize also update the snapshot (Config caught up instantly).
    #[serde(default)]
    pub snapshot_follows_live: bool,
    /// `ResourceCreationTime` in epoch milliseconds.
    #[serde(default = "default_creation_ms")]
    pub creation_time_ms: u64,
}

fn default_sg_type() -> String {
    "normal".into()
}
fn default_inner_policy() -> String {
    "Accept".into()
}
fn default_creation_ms() -> u64 {
    1_714_550_400_000
}

/// Shape of `Permissions` inside Config's `Configuration` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum ConfigShape {
    /// `"Permissions": {"Permission": [...]}` (the DescribeSecurityGroupAttribute shape).
    #[default]
    PermissionObject,
    /// `"Permissions": [...]` (the Config custom-rule sample's shape).
    BareList,
}

/// Config's view of a group, where it differs from live.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotFixture {
    /// The rules Config recorded, e.g. a rule already revoked live (a stale snapshot).
    #[serde(default)]
    pub rules: Option<Vec<Value>>,
    /// Config knows the group as deleted (`ResourceDeleted: 0`).
    #[serde(default)]
    pub deleted: Option<bool>,
    /// `true`/`false`, or the string `"absent"` to omit the key from `Configuration`.
    #[serde(default)]
    pub service_managed: Option<Value>,
    /// How `Permissions` is nested in `Configuration`; the client must read both.
    #[serde(default)]
    pub shape: ConfigShape,
    /// The tags Config recorded, e.g. an exemption tag live has not got (or has lost).
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Config has never recorded the group: GetDiscoveredResource says `ResourceNotExists`.
    #[serde(default)]
    pub unknown: bool,
    /// Returned with `ComplianceOption=1`.
    #[serde(default = "default_compliance")]
    pub compliance_type: String,
}

fn default_compliance() -> String {
    "NON_COMPLIANT".into()
}

/// Tunables. Defaults follow the real services where the reference states them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// How long a `SignatureNonce` stays "used" (per access key).
    #[serde(default = "default_900")]
    pub nonce_window_secs: u64,
    /// Allowed clock skew of `Timestamp`, either way.
    #[serde(default = "default_900")]
    pub clock_skew_secs: u64,
    /// `MaxResults` when the request omits it.
    #[serde(default = "default_page")]
    pub page_size_default: u32,
    /// Added to every API call (not admin calls).
    #[serde(default)]
    pub latency_ms: u64,
    /// How long a successful `ClientToken` is remembered.
    #[serde(default = "default_token_window")]
    pub client_token_window_secs: u64,
    /// How many rules (inbound and outbound together) one security group may hold; an
    /// `AuthorizeSecurityGroup` that would go beyond it is refused with
    /// `AuthorizationLimitExceed`. ECS's default is 200 ("The total number of outbound and
    /// inbound security group rules in each security group cannot exceed 200", AuthorizeSecurityGroup
    /// API reference, `AlibabaCloudDocs/ecs` `intl.en-US/API Reference/Security groups/AuthorizeSecurityGroup.md`
    /// and <https://www.alibabacloud.com/help/doc-detail/25554.htm>); a test sets a small one to fill a
    /// group cheaply.
    #[serde(default = "default_rule_quota")]
    pub security_group_rule_quota: usize,
}

fn default_900() -> u64 {
    900
}
fn default_page() -> u32 {
    500
}
fn default_token_window() -> u64 {
    3600
}
fn default_rule_quota() -> usize {
    DEFAULT_SECURITY_GROUP_RULE_QUOTA
}

/// ECS's documented limit of rules per security group, inbound and outbound together (see
/// [`Settings::security_group_rule_quota`]).
pub const DEFAULT_SECURITY_GROUP_RULE_QUOTA: usize = 200;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nonce_window_secs: 900,
            clock_skew_secs: 900,
            page_size_default: 500,
            latency_ms: 0,
            client_token_window_secs: 3600,
            security_group_rule_quota: DEFAULT_SECURITY_GROUP_RULE_QUOTA,
        }
    }
}

impl Fixture {
    /// Parses and validates a fixture.
    pub fn from_json_str(text: &str) -> Result<Fixture, EmulatorError> {
        let fixture: Fixture = serde_json::from_str(text)
            .map_err(|e| EmulatorError::Fixture(format!("not a valid fixture: {e}")))?;
        fixture.validate()?;
        Ok(fixture)
    }

    /// Reads, parses and validates a fixture file.
    pub fn from_path(path: &Path) -> Result<Fixture, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Fixture::from_json_str(&text)
    }

    /// Cross-references: unique ids, numeric account ids, known accounts, object rules.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |m: String| Err(EmulatorError::Fixture(m));
        let is_uid =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        let mut accounts = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for a in &self.accounts {
            if !is_uid(&a.account_id) || a.account_id.parse::<u64>().is_err() {
                return bad(format!("accountId {:?} is not a numeric UID", a.account_id));
            }
            if !accounts.insert(a.account_id.as_str()) {
                return bad(format!("account {} is listed twice", a.account_id));
            }
            for c in &a.credentials {
                if c.access_key_id.is_empty() || c.access_key_secret.is_empty() {
                    return bad(format!(
                        "account {}: a credential has an empty id or secret",
                        a.account_id
                    ));
                }
                if !keys.insert(c.access_key_id.as_str()) {
                    return bad(format!("accessKeyId {} is listed twice", c.access_key_id));
                }
            }
        }
        let known = |id: &str| accounts.contains(id);
        for r in &self.roles {
            if !known(&r.account_id) {
                return bad(format!(
                    "role {}: unknown account {}",
                    r.role_name, r.account_id
                ));
            }
            for arn in &r.trusted_role_arns {
                let well_formed = arn
                    .strip_prefix("acs:ram::")
                    .and_then(|rest| rest.split_once(":role/"))
                    .is_some_and(|(account, name)| is_uid(account) && !name.is_empty());
                if !well_formed {
                    return bad(format!(
                        "role {}: trustedRoleArns entry {arn:?} is not acs:ram::<accountId>:role/<name>",
                        r.role_name
                    ));
                }
            }
            if r.max_session_duration < 900 || r.max_session_duration > 43_200 {
                return bad(format!(
                    "role {}: maxSessionDuration must be 900..=43200",
                    r.role_name
                ));
            }
        }
        for ag in &self.aggregators {
            if !known(&ag.owner_account_id) {
                return bad(format!(
                    "aggregator {}: unknown owner {}",
                    ag.aggregator_id, ag.owner_account_id
                ));
            }
        }
        let mut groups = BTreeSet::new();
        let mut rule_ids = BTreeSet::new();
        for (i, e) in self.events.iter().enumerate() {
            if !known(&e.account_id) {
                return bad(format!("events[{i}]: unknown account {}", e.account_id));
            }
            let text = |name: &str| e.event.get(name).and_then(serde_json::Value::as_str);
            if text("eventName").is_none() {
                return bad(format!("events[{i}]: no eventName"));
            }
            if text("eventTime")
                .and_then(|t| humantime::parse_rfc3339(t).ok())
                .is_none()
            {
                return bad(format!(
                    "events[{i}]: eventTime is not an RFC 3339 UTC time"
                ));
            }
        }
        for g in &self.security_groups {
            if !groups.insert(g.security_group_id.as_str()) {
                return bad(format!(
                    "security group {} is listed twice",
                    g.security_group_id
                ));
            }
            if !known(&g.account_id) {
                return bad(format!(
                    "security group {}: unknown account {}",
                    g.security_group_id, g.account_id
                ));
            }
            if !self.regions.is_empty() && !self.regions.contains(&g.region_id) {
                return bad(format!(
                    "security group {}: region {} is not in regions",
                    g.security_group_id, g.region_id
                ));
            }
            let snapshot_rules = g.snapshot.as_ref().and_then(|s| s.rules.as_ref());
            for rule in g.rules.iter().chain(snapshot_rules.into_iter().flatten()) {
                let Some(obj) = rule.as_object() else {
                    return bad(format!(
                        "security group {}: every rule must be a JSON object",
                        g.security_group_id
                    ));
                };
                if let Some(id) = obj.get("SecurityGroupRuleId") {
                    if !id.is_string() {
                        return bad(format!(
                            "security group {}: SecurityGroupRuleId must be a string",
                            g.security_group_id
                        ));
                    }
                }
            }
            for rule in &g.rules {
                if let Some(id) = rule.get("SecurityGroupRuleId").and_then(Value::as_str) {
                    if !rule_ids.insert(id.to_string()) {
                        return bad(format!("rule id {id} is used twice in live rules"));
                    }
                }
            }
            if let Some(s) = &g.snapshot {
                match &s.service_managed {
                    None | Some(Value::Bool(_)) => {}
                    Some(Value::String(x)) if x == "absent" => {}
                    Some(other) => {
                        return bad(format!(
                            "security group {}: snapshot.serviceManaged must be true, false or \"absent\", not {other}",
                            g.security_group_id
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

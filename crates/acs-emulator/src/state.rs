//! The emulator's mutable world, behind one mutex: credentials, groups (live and snapshot),
//! used nonces, remembered client tokens, pagination cursors, faults and the journal.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::fault::{Fault, FaultKind};
use super::fixture::{
    AggregatorFixture, ConfigShape, Fixture, RoleFixture, SecurityGroupFixture, Settings,
};
use super::journal::JournalEntry;
use super::wire::{random_chars, LOWER_ALNUM};

/// An access key known to the emulator.
#[derive(Debug, Clone)]
pub(crate) struct Cred {
    pub(crate) account_id: String,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
    /// Forced expiry (fixture `expired` or `expire_credentials`).
    pub(crate) expired: bool,
    /// Natural expiry of AssumeRole credentials.
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) root: bool,
    /// For a role session: the role's ARN (`acs:ram::<account>:role/<name>`).
    pub(crate) role_arn: Option<String>,
}

/// One view (live ECS, or Config's snapshot) of a group.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) rules: Vec<Value>,
    pub(crate) deleted: bool,
    /// `None` = key absent (never managed when live).
    pub(crate) service_managed: Option<bool>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) account_id: String,
    pub(crate) region_id: String,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) vpc_id: String,
    pub(crate) sg_type: String,
    pub(crate) inner_access_policy: String,
    pub(crate) creation_ms: u64,
    pub(crate) live: View,
    pub(crate) snapshot: View,
    pub(crate) shape: ConfigShape,
    pub(crate) snapshot_unknown: bool,
    pub(crate) compliance_type: String,
    pub(crate) follows_live: bool,
}

/// Where the next page of a DescribeSecurityGroupAttribute starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) group: String,
    pub(crate) filter: String,
    pub(crate) offset: usize,
}

/// A remembered successful write, for ClientToken idempotency.
#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub(crate) fingerprint: String,
    pub(crate) response: Value,
    pub(crate) at: SystemTime,
    /// Until then the first call is still "in progress" (its answer has not been sent): a
    /// repeat gets `403 LastTokenProcessing`.
    pub(crate) done_at: SystemTime,
}

pub(crate) struct State {
    pub(crate) fixture: Fixture,
    pub(crate) settings: Settings,
    pub(crate) creds: HashMap<String, Cred>,
    pub(crate) roles: Vec<RoleFixture>,
    pub(crate) aggregators: Vec<AggregatorFixture>,
    pub(crate) regions: BTreeSet<String>,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) nonces: HashMap<(String, String), SystemTime>,
    pub(crate) client_tokens: HashMap<(String, String, String), TokenRecord>,
    pub(crate) cursors: HashMap<String, Cursor>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) journal: Vec<JournalEntry>,
    pub(crate) next_seq: u64,
    pub(crate) latency: Duration,
    pub(crate) clock_offset: Duration,
    /// How long the call being handled takes before its answer is sent (latency plus injected
    /// delay): a ClientToken write stays "in progress" that long.
    pub(crate) processing: Duration,
}

/// A fresh `sgr-…` id.
pub(crate) fn new_rule_id() -> String {
    format!("sgr-{}", random_chars(20, LOWER_ALNUM))
}

fn with_rule_id(mut rule: Value) -> Value {
    if let Some(obj) = rule.as_object_mut() {
        if !obj.contains_key("SecurityGroupRuleId") {
            obj.insert("SecurityGroupRuleId".into(), json!(new_rule_id()));
        }
    }
    rule
}

fn group_from_fixture(g: &SecurityGroupFixture) -> Group {
    let live = View {
        rules: g.rules.iter().cloned().map(with_rule_id).collect(),
        deleted: g.deleted,
        service_managed: g.service_managed,
        tags: g.tags.clone(),
    };
    let snap = g.snapshot.clone().unwrap_or_default();
    let snapshot = View {
        rules: match snap.rules {
            Some(rules) => rules.into_iter().map(with_rule_id).collect(),
            None => live.rules.clone(),
        },
        deleted: snap.deleted.unwrap_or(g.deleted),
        service_managed: match snap.service_managed {
            None => g.service_managed,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => None, // "absent", checked by Fixture::validate
        },
        tags: snap.tags.unwrap_or_else(|| g.tags.clone()),
    };
    Group {
        account_id: g.account_id.clone(),
        region_id: g.region_id.clone(),
        id: g.security_group_id.clone(),
        name: g.security_group_name.clone(),
        description: g.description.clone(),
        vpc_id: g.vpc_id.clone(),
        sg_type: g.security_group_type.clone(),
        inner_access_policy: g.inner_access_policy.clone(),
        creation_ms: g.creation_time_ms,
        live,
        snapshot,
        shape: snap.shape,
        snapshot_unknown: snap.unknown,
        compliance_type: if g.snapshot.is_some() {
            snap.compliance_type
        } else {
            "NON_COMPLIANT".into()
        },
        follows_live: g.snapshot_follows_live,
    }
}

impl State {
    pub(crate) fn new(fixture: Fixture) -> State {
        let mut creds = HashMap::new();
        for a in &fixture.accounts {
            for c in &a.credentials {
                creds.insert(
                    c.access_key_id.clone(),
                    Cred {
                        account_id: a.account_id.clone(),
                        secret: c.access_key_secret.clone(),
                        token: c.security_token.clone().filter(|t| !t.is_empty()),
                        expired: c.expired,
                        expires_at: None,
                        root: c.root,
                        role_arn: c
                            .role_name
                            .as_ref()
                            .map(|r| format!("acs:ram::{}:role/{r}", a.account_id)),
                    },
                );
            }
        }
        let mut regions: BTreeSet<String> = fixture.regions.iter().cloned().collect();
        if regions.is_empty() {
            regions.extend(fixture.security_groups.iter().map(|g| g.region_id.clone()));
        }
        State {
            settings: fixture.settings.clone(),
            creds,
            roles: fixture.roles.clone(),
            aggregators: fixture.aggregators.clone(),
            regions,
            groups: fixture
                .security_groups
                .iter()
                .map(|g| (g.security_group_id.clone(), group_from_fixture(g)))
                .collect(),
            nonces: HashMap::new(),
            client_tokens: HashMap::new(),
            cursors: HashMap::new(),
            faults: fixture.faults.clone(),
            journal: Vec::new(),
            next_seq: 1,
            latency: Duration::from_millis(fixture.settings.latency_ms),
            clock_offset: Duration::ZERO,
            processing: Duration::ZERO,
            fixture,
        }
    }

    /// The emulator's clock: wall time plus any offset a test advanced it by.
    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }

    /// Consumes the faults matching this call: returns the accumulated delay and the first
    /// non-delay fault (later faults are left untouched).
    pub(crate) fn take_faults(
        &mut self,
        action: &str,
        group: Option<&str>,
        key: &str,
    ) -> (Duration, Option<Fault>) {
        let mut delay = Duration::ZERO;
        let mut hit = None;
        for fault in self.faults.iter_mut() {
            if !fault.matches(action, group, key) {
                continue;
            }
            if let Some(n) = fault.count.as_mut() {
                *n -= 1;
            }
            if let FaultKind::Delay { ms } = fault.kind {
                delay += Duration::from_millis(ms);
            } else {
                hit = Some(fault.clone());
                break;
            }
        }
        self.faults.retain(|f| f.count != Some(0));
        (delay, hit)
    }

    /// Appends to the journal, numbering the entry.
    pub(crate) fn record(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.journal.push(entry);
    }

    /// The admin view of every group: live and snapshot side by side.
    pub(crate) fn describe(&self) -> Value {
        let view = |v: &View| {
            let mut m = Map::new();
            m.insert("deleted".into(), json!(v.deleted));
            m.insert("serviceManaged".into(), json!(v.service_managed));
            m.insert("tags".into(), json!(v.tags));
            m.insert("rules".into(), Value::Array(v.rules.clone()));
            Value::Object(m)
        };
        let groups: Vec<Value> = self
            .groups
            .values()
            .map(|g| {
                json!({
                    "securityGroupId": g.id,
                    "accountId": g.account_id,
                    "regionId": g.region_id,
                    "live": view(&g.live),
                    "snapshot": view(&g.snapshot),
                    "snapshotFollowsLive": g.follows_live,
                })
            })
            .collect();
        json!({
            "securityGroups": groups,
            "faults": self.faults,
            "latencyMs": self.latency.as_millis() as u64,
            "clockOffsetSecs": self.clock_offset.as_secs(),
        })
    }
}

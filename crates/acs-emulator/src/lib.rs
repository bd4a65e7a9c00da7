//! A local Alibaba Cloud emulator for Config (2020-09-07), ECS (2014-05-26) and STS
//! (2015-04-01), as strict as the real services where it matters to this product.
//!
//! No Alibaba account is reachable from tests or the demo, so every call to "the cloud" meets
//! this emulator. Leniency here would hide production failures, hence: real signature
//! verification, ACS3-HMAC-SHA256 (V3) and HMAC-SHA1 (V2), with the server string-to-sign in
//! `SignatureDoesNotMatch` (token redacted), unsigned `x-acs-*` headers and changed bodies refused,
//! nonce replay and timestamp-skew checks, STS tokens that must match and expire, real
//! pagination, whole-call failure of Revoke on an unknown rule id, managed-group refusal,
//! ClientToken idempotency, and a Config snapshot that can disagree with live ECS.
//!
//! Each service listens on its own loopback port. See this crate's README.md for the fixture format,
//! the admin endpoints and the error codes chosen where the reference is silent.
//!
//! # Layout
//!
//! The public surface is [`Emulator`] (start, inspect, steer, stop), the [`Fixture`] it starts
//! from, the [`Fault`]s it can inject, the [`JournalEntry`]s it records, and [`contract`] (read
//! by the product's contract tests). Everything else is private plumbing:
//!
//! * `server`: the HTTP side (hyper 1): one accept loop per listener, the request pipeline
//!   decode → authenticate → contract → faults → action → journal → latency → answer, and the
//!   unsigned, loopback-only `/__admin/` endpoints.
//! * `wire`: percent-decoding of queries and form bodies, the `ApiError` every check and
//!   action answers with, token redaction, request ids.
//! * `auth`: the common parameters as a gateway checks them, from the query (V2) or the
//!   `x-acs-*` headers and `Authorization` (V3): version and action, format, timestamp skew, key,
//!   security token, signed headers and body hash (V3), the signature, nonce replay.
//! * [`contract`]: every business parameter of every served action, transcribed from the
//!   official Go SDK request models into `contract.json`, and the check that refuses what they
//!   do not allow.
//! * `config_service`: Config `GetDiscoveredResource` and `GetAggregateDiscoveredResource`,
//!   answered from a group's snapshot view.
//! * `ecs_service`: ECS `DescribeSecurityGroupAttribute`, `RevokeSecurityGroup` and
//!   `AuthorizeSecurityGroup`, against a group's live view (pagination, ClientToken
//!   idempotency, managed-group refusal, an existing rule authorized again, the rule quota).
//! * `ecs_inventory`: ECS `DescribeRegions` and `DescribeSecurityGroups`, the listing calls.
//! * `sts_service`: STS `AssumeRole`, with trust policies and expiring credentials.
//! * `fixture`: the JSON world the emulator starts from, validated once at load.
//! * `state`: the mutable world behind one mutex (credentials, groups, nonces, client tokens,
//!   cursors, faults, journal, clock).
//! * `fault`: injected failures (throttling, 5xx, delays, garbage, dropped sockets).
//! * `journal`: the record of every API call that tests and the demo inspect afterwards.
//!
//! The binary `sg-remediator-emulator` (`src/main.rs`) only parses flags and runs an
//! [`Emulator`] until a signal, for the demo, the bench and manual testing.

mod actiontrail_service;
mod auth;
mod config_service;
pub mod contract;
mod ecs_inventory;
mod ecs_service;
mod fault;
mod fixture;
mod journal;
mod server;
mod state;
mod sts_service;
mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use fault::{Fault, FaultKind};
pub use fixture::{
    AccountFixture, AggregatorFixture, ConfigShape, CredentialFixture, EventFixture, Fixture,
    RoleFixture, SecurityGroupFixture, Settings, SnapshotFixture,
    DEFAULT_SECURITY_GROUP_RULE_QUOTA,
};
pub use journal::{JournalEntry, Service};

use server::Shared;
use state::State;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The fixture is not valid JSON of the fixture's shape, or fails a cross-reference check
    /// (see [`Fixture::validate`]); the message names the offending entry, so a typo fails at
    /// start-up instead of as a puzzling `NotFound` mid-test.
    #[error("invalid fixture: {0}")]
    Fixture(String),
    /// The fixture file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file as it was given.
        path: String,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A listener could not bind: a fixed port already taken, or an address not on this host.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for (port 0 when an ephemeral port's address could not be read).
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
}

/// The identity behind an access key (see [`Emulator::key_identity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    /// The account (UID) whose resources the key sees and changes: its own account, or the
    /// role's account for credentials from `AssumeRole`.
    pub account_id: String,
    /// `acs:ram::<account>:role/<name>` for a role session, which is what a role's trust
    /// policy can name; `None` for a plain key of the account (RAM user or root).
    pub role_arn: Option<String>,
}

/// Where to listen. The default is loopback with three ephemeral ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The address of all three listeners. Loopback by default because the `/__admin/`
    /// endpoints are unauthenticated (they also refuse non-loopback peers).
    pub bind: IpAddr,
    /// Port of the Config listener; 0 picks a free one, so parallel tests never collide.
    pub config_port: u16,
    /// Port of the ECS listener; 0 picks a free one.
    pub ecs_port: u16,
    /// Port of the STS listener; 0 picks a free one.
    pub sts_port: u16,
    /// The ActionTrail listener's port (0: any free port).
    pub actiontrail_port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            config_port: 0,
            ecs_port: 0,
            sts_port: 0,
            actiontrail_port: 0,
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    config: SocketAddr,
    ecs: SocketAddr,
    sts: SocketAddr,
    actiontrail: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A running emulator. Cloning gives another handle to the same emulator.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl Emulator {
    /// Starts the three listeners on `127.0.0.1`, ephemeral ports.
    pub async fn start(fixture: Fixture) -> Result<Emulator, EmulatorError> {
        Emulator::start_with(fixture, Options::default()).await
    }

    /// Starts with explicit addresses (the binary's fixed ports).
    pub async fn start_with(fixture: Fixture, options: Options) -> Result<Emulator, EmulatorError> {
        fixture.validate()?;
        let bind = |port: u16| async move {
            let addr = SocketAddr::new(options.bind, port);
            TcpListener::bind(addr)
                .await
                .map_err(|source| EmulatorError::Bind { addr, source })
        };
        let listeners = [
            (Service::Config, bind(options.config_port).await?),
            (Service::Ecs, bind(options.ecs_port).await?),
            (Service::Sts, bind(options.sts_port).await?),
            (Service::ActionTrail, bind(options.actiontrail_port).await?),
        ];
        let addr = |l: &TcpListener| {
            l.local_addr().map_err(|source| EmulatorError::Bind {
                addr: SocketAddr::new(options.bind, 0),
                source,
            })
        };
        let (config, ecs, sts, actiontrail) = (
            addr(&listeners[0].1)?,
            addr(&listeners[1].1)?,
            addr(&listeners[2].1)?,
            addr(&listeners[3].1)?,
        );
        let shared = Arc::new(Shared::new(State::new(fixture)));
        let (stop, stopped) = watch::channel(false);
        let tasks = listeners
            .into_iter()
            .map(|(service, listener)| {
                tokio::spawn(server::serve(
                    listener,
                    service,
                    shared.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        Ok(Emulator {
            inner: Arc::new(Inner {
                shared,
                config,
                ecs,
                sts,
                actiontrail,
                stop,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.shared.lock()
    }

    /// `http://127.0.0.1:PORT` of the Config listener.
    pub fn config_endpoint(&self) -> String {
        format!("http://{}", self.inner.config)
    }

    /// `http://127.0.0.1:PORT` of the ECS listener.
    pub fn ecs_endpoint(&self) -> String {
        format!("http://{}", self.inner.ecs)
    }

    /// `http://127.0.0.1:PORT` of the STS listener.
    pub fn sts_endpoint(&self) -> String {
        format!("http://{}", self.inner.sts)
    }

    /// The ActionTrail listener, as `ACTIONTRAIL_ENDPOINT` takes it.
    pub fn actiontrail_endpoint(&self) -> String {
        format!("http://{}", self.inner.actiontrail)
    }

    /// Every API call so far (admin calls are not journaled).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.state().journal.clone()
    }

    /// Forgets every recorded call, so a test can assert on what one step did alone.
    pub fn clear_journal(&self) {
        self.state().journal.clear();
    }

    /// Adds a fault after the existing ones.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Removes every fault, the fixture's included: the cloud behaves again.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Latency added to every API call from now on.
    pub fn set_latency(&self, d: Duration) {
        self.state().latency = d;
    }

    /// Makes a key fail from now on: `InvalidSecurityToken.Expired` for STS-style keys,
    /// `InvalidAccessKeyId.Inactive` for keys without a token. Unknown ids are ignored.
    pub fn expire_credentials(&self, access_key_id: &str) {
        if let Some(c) = self.state().creds.get_mut(access_key_id) {
            c.expired = true;
        }
    }

    /// Who a key acts as: its account and, for a role session (fixture `roleName` or
    /// credentials from AssumeRole), the role's ARN. `None` for an unknown key. With the
    /// journal's `access_key_id` this tells which account and role signed each call.
    pub fn key_identity(&self, access_key_id: &str) -> Option<KeyIdentity> {
        self.state().creds.get(access_key_id).map(|c| KeyIdentity {
            account_id: c.account_id.clone(),
            role_arn: c.role_arn.clone(),
        })
    }

    /// Moves the emulator's clock forward (credential expiry, timestamp skew, windows), so
    /// expiry can be tested without sleeping. Clients keep signing with their own clock.
    pub fn advance_clock(&self, by: Duration) {
        self.state().clock_offset += by;
    }

    /// The live (ECS) rules of a group, deleted or not; `None` if the group is unknown.
    pub fn live_rules(&self, security_group_id: &str) -> Option<Vec<Value>> {
        self.state()
            .groups
            .get(security_group_id)
            .map(|g| g.live.rules.clone())
    }

    /// The rules in Config's snapshot of a group; `None` if the group is unknown.
    pub fn snapshot_rules(&self, security_group_id: &str) -> Option<Vec<Value>> {
        self.state()
            .groups
            .get(security_group_id)
            .map(|g| g.snapshot.rules.clone())
    }

    /// Replaces the live rules (not the snapshot), e.g. to make the snapshot stale. Rules
    /// without a `SecurityGroupRuleId` get one. Unknown groups are ignored.
    pub fn set_live_rules(&self, security_group_id: &str, rules: Vec<Value>) {
        if let Some(g) = self.state().groups.get_mut(security_group_id) {
            g.live.rules = rules.into_iter().map(with_id).collect();
        }
    }

    /// Replaces Config's snapshot rules (not live). Unknown groups are ignored.
    pub fn set_snapshot_rules(&self, security_group_id: &str, rules: Vec<Value>) {
        if let Some(g) = self.state().groups.get_mut(security_group_id) {
            g.snapshot.rules = rules.into_iter().map(with_id).collect();
        }
    }

    /// Marks a group deleted (or not) in the live view only.
    pub fn set_live_deleted(&self, security_group_id: &str, deleted: bool) {
        if let Some(g) = self.state().groups.get_mut(security_group_id) {
            g.live.deleted = deleted;
        }
    }

    /// The admin state document (`GET /__admin/state`).
    pub fn state_json(&self) -> Value {
        self.state().describe()
    }

    /// Back to the fixture: groups, credentials, faults, journal, nonces, tokens, clock.
    pub fn reset(&self) {
        let mut state = self.state();
        let fixture = state.fixture.clone();
        *state = State::new(fixture);
    }

    /// Stops every listener and waits for them (in-flight connections finish gracefully).
    pub async fn shutdown(self) {
        let _ = self.inner.stop.send(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }
}

fn with_id(mut rule: Value) -> Value {
    if let Some(obj) = rule.as_object_mut() {
        if !obj.contains_key("SecurityGroupRuleId") {
            obj.insert(
                "SecurityGroupRuleId".into(),
                Value::String(state::new_rule_id()),
            );
        }
    }
    rule
}

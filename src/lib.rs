//! sg-remediator: an Alibaba Cloud Function Compute (custom runtime) function that revokes
//! security-group rules opening risky ports to the whole internet, as the custom remediation of
//! the Cloud Config managed rule `sg-risky-ports-check`.
//!
//! Data flows one way: event → resources → fetch → select → confirm → revoke → verify → report.
//!
//! # Layout
//!
//! This crate is the product; what knows nothing of security groups lives in crates of its own,
//! so the compiler keeps every arrow pointing down:
//!
//! - [`acs_openapi`]: the Alibaba Cloud RPC
//!   client — credentials, one validated `Endpoint`, signing, transport, retries, typed errors.
//! - [`fc_runtime`]: the FC 3.0 custom-runtime server,
//!   `run(service_fn(handler))`, with no test hooks: its failure paths are tested in its crate.
//! - Dev tools, dev-dependencies only so they never ship in `bootstrap`: `acs-emulator` (the local
//!   cloud) and `sg-test-kit` (the one harness of the tests, the demo and the bench, and the
//!   Terraform checker).
//!
//! The modules, in the order data flows through them:
//!
//! - `main.rs` (the `bootstrap` binary): wiring only — configuration → logging → selector →
//!   client → remediator → [`handler`] → runtime.
//! - [`config`], [`logging`]: the environment, parsed once at start-up (a bad value stops the
//!   process naming the variable); JSON or text `tracing` logs.
//! - [`handler`]: the one bridge from the runtime's `Event` to the remediation's `Input`, and
//!   from its `Failure` to the runtime's `Diagnostic`.
//! - [`event`]: the Config remediation event (and the restore event), parsed at the edge into
//!   typed resources.
//! - [`services`]: typed Config, ECS and STS calls; `API_ACTIONS`, the one list of actions the
//!   function calls, which the Terraform policy must equal; the official ECS endpoint map.
//! - [`rules`]: the rule model (`RuleId`, `PortRange`, `Protocol`, `Direction`, `Policy`, parsed
//!   CIDRs) and `FIELDS`, the one table of a rule's fields used by parsing, rendering, the
//!   canonical form and the `Permissions.N` parameters.
//! - [`rule_lists`]: the `Permissions` of an ECS page and of Config's recorded configuration,
//!   read by serde's derived `Deserialize` into rules (strict for ECS, tolerant for Config).
//! - [`select`]: which rules are risky — the JMESPath selector with its guard rails (a custom
//!   query can narrow, never widen), the default query's native path, shadowing.
//! - [`exemption`]: whether a group's exempt tag exempts it and until when (`until=`), the one
//!   decision the flow's gate and `scan` both take.
//! - [`remediation`]: the flow, one module per step — `gate` (pure skip-or-go policy), `access`
//!   (reaching the account), `fetch` (Config and live ECS), `decide` (what the selection means:
//!   the one decision the function acts on and `scan` reports), `assess` (drift, kept rules),
//!   `revoke` (revoke and verify, settled by the pure `RevokeLedger`), `restore`, `notes` (how a
//!   step stops a resource), `audit` (the log lines).
//! - [`seal`]: the HMAC seal on every revoked rule, so a restore re-creates only what this
//!   deployment revoked.
//! - [`notify`]: the signed DingTalk / Lark / Slack message after an invocation that changed or
//!   failed anything.
//! - [`note`]: what happened to a resource as typed facts, and the one place they become words
//!   (a leaf: the flow, the report and the command line import it).
//! - [`report`]: the report.
//! - [`render`]: the per-group, per-rule table of a report (`make demo`, the command line).
//! - [`cli`] and `src/bin/sg-remediator/`: the command line — the credential chain, the live-rule
//!   scan, the subcommands.
//!
//! Tests: `tests/integration.rs` is the one integration-test binary; each of its modules is the
//! specification of one area (`remediation`, `hardening`, `fidelity`, `organization`, `runtime`,
//! `config`, `cli`, `client`, `contract`, `terraform`, `serverless_devs`, `reliability`, …).
//! Pure decisions are unit-tested next to their code.

pub mod cli;
pub mod config;
pub mod escape;
pub mod event;
pub mod exemption;
pub mod handler;
pub mod logging;
pub mod note;
pub mod notify;
pub mod remediation;
pub mod render;
pub mod report;
pub mod rule_lists;
pub mod rules;
pub mod seal;
pub mod select;
pub mod services;

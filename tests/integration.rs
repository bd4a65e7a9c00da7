//! The product's integration tests: one test binary (`autotests = false`, the ripgrep way), so
//! the suite links once and every module shares the test kit (`crates/test-kit`: the emulator, the
//! real `bootstrap`, invoking it as FC does). Run one module with
//! `cargo test -p sg-remediator --test integration <module>::`.
//!
//! Each module is one subject, one behaviour per test; the module docs say what it covers.

use std::path::PathBuf;

mod actiontrail;
mod answer_props;
mod cli;
mod client;
mod common;
mod config;
mod contract;
mod ecs_paging;
mod emulator_fidelity;
mod emulator_inventory;
mod exemption;
mod fidelity;
mod hardening;
mod narrow;
mod notify;
mod organization;
mod package;
mod reliability;
mod remediation;
mod remediation_lost_answers;
mod report_shape;
mod runtime;
mod secrets;
mod select;
mod select_props;
mod serverless_devs;
mod setup;
mod terraform;

/// The repository's root (this package is the root package): the README, docs/,
/// terraform/, scripts/ and s.yaml the tests check.
fn repo_root() -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::canonicalize(root).expect("the repository root exists")
}

//! sg-remediator: an Alibaba Cloud Function Compute (custom runtime) function that revokes
//! security-group rules opening risky ports to the whole internet, as the custom remediation of
//! the Cloud Config managed rule `sg-risky-ports-check`.
//!
//! Data flows one way: event → resources → fetch → select → confirm → revoke → verify → report.

pub mod cli;
pub mod config;
pub mod event;
pub mod handler;
pub mod logging;
pub mod remediation;
pub mod render;
pub mod report;
pub mod rules;
pub mod seal;
pub mod select;
pub mod services;

// The Alibaba Cloud client lives in crates/acs-openapi; these keep its old paths in the product.
pub use acs_openapi as openapi;
pub use acs_openapi::credentials;
// The FC custom-runtime server lives in crates/fc-runtime; this keeps its old path.
pub use fc_runtime as runtime;

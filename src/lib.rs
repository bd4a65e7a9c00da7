//! sg-remediator: an Alibaba Cloud Function Compute (custom runtime) function that revokes
//! security-group rules opening risky ports to the whole internet, as the custom remediation of
//! the Cloud Config managed rule `sg-risky-ports-check`.
//!
//! Data flows one way: event → resources → fetch → select → confirm → revoke → verify → report.

pub mod cli;
pub mod config;
pub mod event;
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

/// FC's per-invocation credentials (the runtime's own type) as the OpenAPI client's. Building
/// them remembers the secret and token, so from here on every line the process writes and every
/// answer it sends is scrubbed of them ([`credentials::scrub`]).
pub fn client_credentials(fc: &runtime::Credentials) -> credentials::Credentials {
    credentials::Credentials::new(
        fc.access_key_id.clone(),
        fc.access_key_secret.expose(),
        fc.security_token.as_ref().map(|t| t.expose().to_string()),
    )
}

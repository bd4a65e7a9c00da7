//! Everything a subcommand runs with: the function's configuration (its variables, overridden by
//! flags), the selector, one HTTP client, the access key and where it came from, and the
//! function's own engine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use acs_openapi::credentials::{Credentials, Scrubber};
use acs_openapi::{CallContext, Client, ClientSettings};
use bytes::Bytes;
use serde_json::{json, Value};
use sg_remediator::cli::credential_chain::{self, Resolved};
use sg_remediator::config::{Config, Mode};
use sg_remediator::remediation::{Input, LiveViews, Remediator};
use sg_remediator::rules::Permission;
use sg_remediator::select::Selector;
use sg_remediator::services::{ecs, sts};

use crate::args::Global;

/// A failure that ends the run with exit status 1 (usage, configuration, credentials).
#[derive(Debug)]
pub(crate) struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

pub(crate) struct Session {
    pub config: Config,
    pub selector: Selector,
    pub client: Client,
    pub credentials: Credentials,
    /// Where the key came from, for the report (never the secret).
    pub credential_source: String,
    pub timeout: Duration,
    /// The `NOTIFY_*` settings, taken out of `config` so that the per-group engine runs never
    /// notify: `remediate --notify` sends one message for the whole run instead.
    pub notify: Option<sg_remediator::notify::NotifyConfig>,
    /// What every output is scrubbed with: the access key and the roles assumed with it.
    pub scrubber: Scrubber,
}

impl Session {
    /// Reads the configuration and finds the access key (assuming a profile's role first).
    pub(crate) async fn open(
        global: &Global,
        mode: Mode,
        scrubber: &Scrubber,
    ) -> Result<Session, Fatal> {
        let overrides = global.overrides();
        let lookup = |name: &str| {
            overrides
                .iter()
                .find(|(var, _)| *var == name)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        };
        let mut config = Config::from_lookup(lookup)?;
        // The subcommand decides the mode. Restore events are the `restore` subcommand's job,
        // under the same rule as the function: only rules sealed with RESTORE_SEAL_KEY when they
        // were revoked can be put back.
        config.mode = mode;
        config.allow_restore = config.restore_seal_key.is_some();
        let notify = config.notify.take();
        let selector = Selector::new(config.risky_ports.clone(), config.rule_selector.as_deref())
            .map_err(|e| Fatal(format!("RULE_SELECTOR: {e}")))?;
        let client = Client::new(ClientSettings {
            allow_http: !config.endpoints.plain_http().is_empty(),
            signature_version: config.signature_version,
            ..ClientSettings::default()
        })
        .map_err(|e| Fatal(format!("cannot build the HTTP client: {e}")))?;
        let env = |name: &str| std::env::var(name).ok();
        let home = credential_chain::home_dir(&env);
        let resolved = credential_chain::resolve(&env, home.as_deref(), global.profile.as_deref())
            .map_err(|e| Fatal(e.0))?;
        for warning in &resolved.warnings {
            eprintln!(
                "sg-remediator: warning: {}",
                sg_remediator::escape::control(warning)
            );
        }
        // Masked in every output from here on (an AssumeRole refusal may echo it).
        scrubber.register(&resolved.credentials, None);
        let timeout = Duration::from_secs(global.timeout.max(1));
        let (credentials, credential_source) =
            assume_if_needed(&client, &config, resolved, timeout).await?;
        scrubber.register(&credentials, None);
        Ok(Session {
            config,
            selector,
            client,
            credentials,
            credential_source,
            timeout,
            notify,
            scrubber: scrubber.clone(),
        })
    }

    pub(crate) fn remediator(&self) -> Arc<Remediator> {
        Arc::new(Remediator::new(
            self.config.clone(),
            self.selector.clone(),
            self.client.clone(),
            self.scrubber.clone(),
        ))
    }

    /// A call context with a fresh per-group deadline.
    pub(crate) fn deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + self.timeout
    }

    /// Runs the function's engine on one event, as FC would invoke it with these credentials.
    /// A function error still carries the report as its body.
    pub(crate) async fn invoke(&self, remediator: &Arc<Remediator>, payload: Value) -> Value {
        self.invoke_observed(remediator, payload).await.0
    }

    /// [`Session::invoke`], also answering the live rules the engine read for each group, so
    /// that the table shows them without reading any group a second time.
    pub(crate) async fn invoke_observed(
        &self,
        remediator: &Arc<Remediator>,
        payload: Value,
    ) -> (Value, HashMap<String, LiveViews>) {
        let input = Input {
            payload: Bytes::from(payload.to_string()),
            request_id: request_id(),
            credentials: Some(self.credentials.clone()),
            account_id: None,
            function_name: None,
            deadline: std::time::Instant::now() + self.timeout,
        };
        let (answer, views) = Arc::clone(remediator).run_observed(input).await;
        let body = match answer {
            Ok(answer) => answer.into_value(),
            Err(failure) => match failure.body {
                Some(body) => body,
                None => json!({
                    "errorType": failure.kind.as_str(),
                    "errorMessage": failure.message,
                }),
            },
        };
        (body, views)
    }

    /// The live ingress rules of a group as ECS lists them, for the table (empty if unreadable:
    /// the report then says why).
    pub(crate) async fn live_rules(&self, region: &str, sg_id: &str) -> Option<Vec<Value>> {
        let cx = CallContext {
            credentials: &self.credentials,
            deadline: self.deadline(),
        };
        let endpoint = self.config.endpoints.ecs(region).ok()?;
        ecs::describe_security_group_attribute(&self.client, &cx, &endpoint, region, sg_id)
            .await
            .ok()
            .map(|rules| rules.permissions.iter().map(Permission::to_json).collect())
    }
}

/// A request id for the CLI's reports, in the place of FC's.
pub(crate) fn request_id() -> String {
    format!("cli-{}", uuid::Uuid::new_v4())
}

/// Assumes a profile's role (mode RamRoleArn) with STS; other keys are used as they are.
async fn assume_if_needed(
    client: &Client,
    config: &Config,
    resolved: Resolved,
    timeout: Duration,
) -> Result<(Credentials, String), Fatal> {
    let Some(role) = resolved.assume else {
        return Ok((resolved.credentials, resolved.source));
    };
    // An explicitly configured STS_ENDPOINT (the emulator, a VPC endpoint) wins over the
    // profile's sts_region.
    let endpoint = match (std::env::var("STS_ENDPOINT").ok(), &role.sts_endpoint) {
        (Some(_), _) | (None, None) => config.endpoints.sts().clone(),
        (None, Some(profile_endpoint)) => profile_endpoint.clone(),
    };
    let cx = CallContext {
        credentials: &resolved.credentials,
        deadline: std::time::Instant::now() + timeout,
    };
    let assumed = sts::assume_role(
        client,
        &cx,
        &endpoint,
        &role.role_arn,
        &role.session_name,
        role.duration_seconds,
    )
    .await
    .map_err(|e| {
        Fatal(format!(
            "{}: AssumeRole of {} failed: {e}",
            resolved.source, role.role_arn
        ))
    })?;
    Ok((assumed.credentials, resolved.source))
}

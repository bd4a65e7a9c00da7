//! Configuration: every environment variable the product reads, parsed once at start. The FC
//! runtime's own variables (`FC_CUSTOM_LISTEN_PORT`, `FC_SERVER_PORT`, `MAX_EVENT_BYTES`) are
//! parsed by the runtime crate ([`fc_runtime::RuntimeOptions::from_env`]), with the same
//! `<VAR>: <problem>` errors and the same exit at start.
//!
//! A function that misreads its configuration revokes the wrong rules or none at all, so a bad
//! value is never "defaulted around": parsing stops with a [`ConfigError`] naming the variable and
//! the problem, and `bootstrap` exits non-zero before it listens. FC then reports the instance as
//! failing to start, which is far easier to notice than a silently wrong remediation.
//!
//! The parser takes a lookup function ([`Config::from_lookup`]) so tests can feed it a map
//! without touching the process environment.
//!
//! Empty values: FC and Terraform commonly pass `""` for "not set", so an *optional* value that
//! is empty (`EXEMPT_SECURITY_GROUP_IDS`, `CROSS_ACCOUNT_ROLE_NAME`, `CONFIG_AGGREGATOR_ID`,
//! `FC_*`) counts as absent. A variable *with a default* that is set to `""` is an error instead:
//! an empty `RISKY_PORTS` or `REMEDIATION_MODE` is far more likely a mistake than a wish for the
//! default, and guessing wrong here decides which rules are revoked.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

// The one wording of a bad numeric variable, shared with the runtime's own `MAX_EVENT_BYTES`.
use fc_runtime::options::parse_number;

use crate::logging::LogFormat;
use crate::rules::{AllowedSources, RiskyPorts};
use acs_openapi::endpoint::{self, Endpoint, EndpointError};
use acs_openapi::SignatureVersion;

/// Default risky ports: SSH and RDP, the ports `sg-risky-ports-check` is usually configured with.
pub const DEFAULT_RISKY_PORTS: &str = "22,3389";
/// Default exemption tag key.
pub const DEFAULT_EXEMPT_TAG: &str = "sg-remediator:exempt";
/// Default Config endpoint: the China site's (kept for compatibility; the Terraform module
/// sets `CONFIG_ENDPOINT` from its required `config_site`, the CLI from `--config-site`).
pub const DEFAULT_CONFIG_ENDPOINT: &str = ConfigSite::China.endpoint();

/// Cloud Config's two sites. Config's API has one endpoint per site and the site belongs to the
/// account, not to a region, so nothing guesses it: the official SDK's endpoint rule for Config
/// is "central", with `cn-shanghai` for the China site and `ap-southeast-1` for the
/// international site (aliyun/alibabacloud-go-sdk `config-20200907/client/client.go`, `Init`:
/// `EndpointRule = "central"`, `EndpointMap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSite {
    /// The China site (aliyun.com accounts): `config.cn-shanghai.aliyuncs.com`.
    China,
    /// The international site (alibabacloud.com accounts): `config.ap-southeast-1.aliyuncs.com`.
    International,
}

impl ConfigSite {
    /// Both sites.
    pub const ALL: [ConfigSite; 2] = [ConfigSite::China, ConfigSite::International];

    /// The site's name as the Terraform input `config_site` and `--config-site` spell it.
    pub const fn name(self) -> &'static str {
        match self {
            ConfigSite::China => "china",
            ConfigSite::International => "international",
        }
    }

    /// The site's Config endpoint.
    pub const fn endpoint(self) -> &'static str {
        match self {
            ConfigSite::China => "https://config.cn-shanghai.aliyuncs.com",
            ConfigSite::International => "https://config.ap-southeast-1.aliyuncs.com",
        }
    }

    /// `china` / `international` → the site.
    pub fn from_name(name: &str) -> Option<ConfigSite> {
        ConfigSite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The site whose endpoint `endpoint` is (same host), if it is one of them.
    pub fn of_endpoint(endpoint: &Endpoint) -> Option<ConfigSite> {
        ConfigSite::ALL.into_iter().find(|s| {
            Endpoint::parse(s.endpoint()).is_ok_and(|e| e.authority() == endpoint.authority())
        })
    }
}
/// The ECS endpoint pattern of public regions (`{region}` is replaced by the resource's region).
/// Without `ECS_ENDPOINT` the official SDK's endpoint map decides
/// ([`crate::services::endpoints`]); this pattern is its rule for regions it does not list.
pub const DEFAULT_ECS_ENDPOINT: &str = "https://ecs.{region}.aliyuncs.com";
/// Default STS endpoint.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";
/// The ActionTrail endpoint pattern (`{region}` is replaced by the group's region). Source: the
/// official Go SDK's client, `aliyun/alibabacloud-go-sdk`, `actiontrail-20200706/client/client.go`,
/// whose endpoint map names `actiontrail.<region>.aliyuncs.com` for every region it lists.
pub const DEFAULT_ACTIONTRAIL_ENDPOINT: &str = "https://actiontrail.{region}.aliyuncs.com";
/// Default number of resources remediated at once.
pub const DEFAULT_MAX_CONCURRENCY: u16 = 8;
/// Upper bound for `MAX_CONCURRENCY`: more parallel calls only invite API throttling.
pub const MAX_MAX_CONCURRENCY: u16 = 256;
/// Default `MAX_EVENT_RESOURCES`: far above any Config event (Config sends a few resources per
/// evaluation), small enough that one invocation's work and report stay bounded.
pub const DEFAULT_MAX_EVENT_RESOURCES: usize = 5_000;
/// Upper bound for `MAX_EVENT_RESOURCES`.
pub const MAX_MAX_EVENT_RESOURCES: usize = 100_000;
/// Default `RESTORE_MAX_AGE`: a sealed rule can be restored for 30 days after its revoke.
pub const DEFAULT_RESTORE_MAX_AGE: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 3600);
/// Default tracing filter.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// A configuration value that cannot be used. `Display` is `<VAR>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, in words an operator can act on.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }
}

/// Whether rules are actually revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Revoke matching rules (the default: this is a remediation).
    Enforce,
    /// Select and confirm, report what would be revoked, change nothing.
    DryRun,
}

impl Mode {
    /// The `REMEDIATION_MODE` spelling, as the report and the logs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "dry-run" => Ok(Mode::DryRun),
            other => Err(format!(
                "{other:?} is not a mode; use \"enforce\" or \"dry-run\""
            )),
        }
    }
}

/// What a remediation does with each rule the selection picks (`REMEDIATION_ACTION`).
///
/// Only the deployment's configuration sets it: no event field can switch it, so whoever can
/// invoke the function cannot make it add rules, nor choose their sources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RemediationAction {
    /// `revoke` (the default): delete the rule.
    #[default]
    Revoke,
    /// `narrow`: first authorize the same rule from each of `ALLOWED_SOURCE_CIDRS` of the
    /// rule's address family, then, only if that succeeded, delete the world-open rule.
    Narrow(AllowedSources),
}

impl RemediationAction {
    /// The `REMEDIATION_ACTION` spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            RemediationAction::Revoke => "revoke",
            RemediationAction::Narrow(_) => "narrow",
        }
    }

    /// The sources rules are narrowed to, when narrowing.
    pub fn allowed_sources(&self) -> Option<&AllowedSources> {
        match self {
            RemediationAction::Revoke => None,
            RemediationAction::Narrow(allowed) => Some(allowed),
        }
    }

    /// Reads `REMEDIATION_ACTION` and `ALLOWED_SOURCE_CIDRS` (`None`: unset or `""`): the list
    /// is required with `narrow` and refused with `revoke`, where it would be silently ignored
    /// by a deployment that believes it narrows.
    pub fn parse(action: &str, allowed: Option<&str>) -> Result<Self, ConfigError> {
        match (action, allowed) {
            ("revoke", None) => Ok(RemediationAction::Revoke),
            ("revoke", Some(_)) => Err(ConfigError::new(
                "ALLOWED_SOURCE_CIDRS",
                "is set but REMEDIATION_ACTION is \"revoke\", which deletes rules and adds none: \
                 set REMEDIATION_ACTION=narrow to narrow rules to these sources, or unset \
                 ALLOWED_SOURCE_CIDRS",
            )),
            ("narrow", None) => Err(ConfigError::new(
                "ALLOWED_SOURCE_CIDRS",
                "is required with REMEDIATION_ACTION=narrow: a comma list of the CIDR blocks \
                 world-open rules are narrowed to, e.g. 203.0.113.0/24,2001:db8::/32",
            )),
            ("narrow", Some(list)) => list
                .parse::<AllowedSources>()
                .map(RemediationAction::Narrow)
                .map_err(|e| ConfigError::new("ALLOWED_SOURCE_CIDRS", e.to_string())),
            (other, _) => Err(ConfigError::new(
                "REMEDIATION_ACTION",
                format!("{other:?} is not an action; use \"revoke\" or \"narrow\""),
            )),
        }
    }
}

/// The tag that exempts a security group from remediation: a key, optionally with the one value
/// that exempts (`key=value`, for good). With no value, any value of the key exempts, and a
/// value `until=YYYY-MM-DD` or `until=<RFC 3339 time>` exempts only until then; an end that
/// cannot be read exempts nothing. The decision is [`crate::exemption::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptTag {
    /// The tag key that marks a group as exempt.
    pub key: String,
    /// The one value that exempts; `None` means any value of the key does.
    pub value: Option<String>,
}

impl ExemptTag {
    /// Whether a tag `(key, value)` is the exempt tag. Whether it exempts, and until when, is
    /// [`crate::exemption::decide`]'s answer: a value `until=…` may have expired.
    pub fn matches(&self, key: &str, value: &str) -> bool {
        key == self.key && self.value.as_deref().is_none_or(|v| v == value)
    }
}

/// Alibaba tag keys and values are at most 128 characters.
const TAG_PART_MAX: usize = 128;

impl FromStr for ExemptTag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, value) = match s.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        if key.is_empty() {
            return Err("the tag key is empty; write `key` or `key=value`".into());
        }
        if key.trim() != key {
            return Err(format!(
                "the tag key {key:?} starts or ends with whitespace"
            ));
        }
        if key.chars().count() > TAG_PART_MAX {
            return Err(format!(
                "the tag key is longer than {TAG_PART_MAX} characters"
            ));
        }
        if let Some(v) = value {
            if v.is_empty() {
                return Err(format!(
                    "the tag value after {key:?}= is empty; write just `{key}` to exempt any value"
                ));
            }
            if v.chars().count() > TAG_PART_MAX {
                return Err(format!(
                    "the tag value is longer than {TAG_PART_MAX} characters"
                ));
            }
        }
        Ok(ExemptTag {
            key: key.to_string(),
            value: value.map(str::to_string),
        })
    }
}

impl fmt::Display for ExemptTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.key, v),
            None => f.write_str(&self.key),
        }
    }
}

/// The OpenAPI endpoints, each an [`Endpoint`] (`scheme://host[:port]`, nothing after the
/// authority) parsed once here.
///
/// Only an explicitly configured endpoint can be plain `http://` (the defaults are all https):
/// that is how the tests and the emulator are reached, and it is the operator's visible choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    config: Endpoint,
    /// `ECS_ENDPOINT` (may contain `{region}`), checked with a sample region; `None`: the
    /// official SDK's endpoint map.
    ecs_template: Option<String>,
    sts: Endpoint,
    /// `ACTIONTRAIL_ENDPOINT` (may contain `{region}`), checked with a sample region.
    actiontrail_template: String,
    /// The ECS endpoints of the regions met so far, parsed once each.
    ecs_parsed: ParsedByRegion,
}

/// Endpoints already parsed, by region: each call of a group needs its region's ECS endpoint,
/// and parsing it (the host checked, the client's URL built) once per region rather than once
/// per call spares that work on every call. At most [`ParsedByRegion::MAX`] regions are kept
/// (region ids come from events), past which an endpoint is parsed each time as before. Not part
/// of what the endpoints are: equal and printed regardless of what has been parsed.
#[derive(Clone, Default)]
struct ParsedByRegion(Arc<Mutex<Vec<(String, Endpoint)>>>);

impl ParsedByRegion {
    /// More than there are regions (about 30), so every real region fits.
    const MAX: usize = 64;

    fn get_or_parse(
        &self,
        region: &str,
        parse: impl FnOnce() -> Result<Endpoint, EndpointError>,
    ) -> Result<Endpoint, EndpointError> {
        let mut parsed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, endpoint)) = parsed.iter().find(|(r, _)| r == region) {
            return Ok(endpoint.clone());
        }
        let endpoint = parse()?;
        if parsed.len() < Self::MAX {
            parsed.push((region.to_string(), endpoint.clone()));
        }
        Ok(endpoint)
    }
}

impl PartialEq for ParsedByRegion {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ParsedByRegion {}

impl fmt::Debug for ParsedByRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ParsedByRegion")
    }
}

/// The region put in place of `{region}` to check `ECS_ENDPOINT` at start-up.
const SAMPLE_REGION: &str = "cn-hangzhou";

impl Endpoints {
    /// Build from the three values, validating each as the named variable.
    pub fn new(config: &str, ecs_template: &str, sts: &str) -> Result<Self, ConfigError> {
        let config = Endpoint::parse(config).map_err(|e| endpoint_error("CONFIG_ENDPOINT", e))?;
        Endpoint::parse(&ecs_template.replace("{region}", SAMPLE_REGION))
            .map_err(|e| endpoint_error("ECS_ENDPOINT", e.for_value(ecs_template)))?;
        let sts = Endpoint::parse(sts).map_err(|e| endpoint_error("STS_ENDPOINT", e))?;
        Ok(Endpoints {
            config,
            ecs_template: Some(ecs_template.to_string()),
            sts,
            actiontrail_template: DEFAULT_ACTIONTRAIL_ENDPOINT.to_string(),
            ecs_parsed: ParsedByRegion::default(),
        })
    }

    /// The same endpoints with `ACTIONTRAIL_ENDPOINT` = `template` (may contain `{region}`).
    pub fn with_actiontrail(mut self, template: &str) -> Result<Self, ConfigError> {
        Endpoint::parse(&template.replace("{region}", SAMPLE_REGION))
            .map_err(|e| endpoint_error("ACTIONTRAIL_ENDPOINT", e.for_value(template)))?;
        self.actiontrail_template = template.to_string();
        Ok(self)
    }

    /// The ActionTrail endpoint for `region`: `ACTIONTRAIL_ENDPOINT` with `{region}` substituted.
    pub fn actiontrail(&self, region: &str) -> Result<Endpoint, EndpointError> {
        Endpoint::parse(&self.actiontrail_template.replace("{region}", region))
    }

    /// The Config endpoint, e.g. `https://config.cn-shanghai.aliyuncs.com`.
    pub fn config(&self) -> &Endpoint {
        &self.config
    }

    /// The ECS endpoint for `region`: `ECS_ENDPOINT` with `{region}` substituted, or by default
    /// the official SDK's endpoint for that region. An error when the region cannot be part of
    /// a host name (the call is then not made).
    pub fn ecs(&self, region: &str) -> Result<Endpoint, EndpointError> {
        self.ecs_parsed
            .get_or_parse(region, || match &self.ecs_template {
                Some(template) => Endpoint::parse(&template.replace("{region}", region)),
                None => crate::services::endpoints::default_ecs_endpoint(region),
            })
    }

    /// `ECS_ENDPOINT` as configured, before substitution (`None`: the official map).
    pub fn ecs_template(&self) -> Option<&str> {
        self.ecs_template.as_deref()
    }

    /// The STS endpoint.
    pub fn sts(&self) -> &Endpoint {
        &self.sts
    }

    /// Names of the variables whose endpoint is plain `http://`, so start-up can warn about them.
    pub fn plain_http(&self) -> Vec<&'static str> {
        let ecs_plain = self
            .ecs_template
            .as_deref()
            .and_then(|t| Endpoint::parse(&t.replace("{region}", SAMPLE_REGION)).ok())
            .is_some_and(|e| e.is_plain_http());
        [
            ("CONFIG_ENDPOINT", self.config.is_plain_http()),
            ("ECS_ENDPOINT", ecs_plain),
            ("STS_ENDPOINT", self.sts.is_plain_http()),
            (
                "ACTIONTRAIL_ENDPOINT",
                Endpoint::parse(&self.actiontrail_template.replace("{region}", SAMPLE_REGION))
                    .is_ok_and(|e| e.is_plain_http()),
            ),
        ]
        .into_iter()
        .filter(|(_, plain)| *plain)
        .map(|(name, _)| name)
        .collect()
    }
}

impl Default for Endpoints {
    fn default() -> Self {
        let https = |url: &str| {
            Endpoint::parse(url).expect("the default endpoints are valid https URLs (tested)")
        };
        Endpoints {
            config: https(DEFAULT_CONFIG_ENDPOINT),
            ecs_template: None,
            sts: https(DEFAULT_STS_ENDPOINT),
            actiontrail_template: DEFAULT_ACTIONTRAIL_ENDPOINT.to_string(),
            ecs_parsed: ParsedByRegion::default(),
        }
    }
}

/// An endpoint refused as `variable`. `{region}` outside `ECS_ENDPOINT` gets a hint.
fn endpoint_error(variable: &'static str, e: EndpointError) -> ConfigError {
    let hint = if !matches!(variable, "ECS_ENDPOINT" | "ACTIONTRAIL_ENDPOINT")
        && e.problem == endpoint::Problem::InvalidHostName
        && e.value.contains("{region}")
    {
        " ({region} is only substituted in ECS_ENDPOINT and ACTIONTRAIL_ENDPOINT)"
    } else {
        ""
    };
    ConfigError::new(variable, format!("{e}{hint}"))
}

/// Everything the function is configured with. Parsed once by [`Config::from_env`].
#[derive(Debug, Clone)]
pub struct Config {
    /// `RISKY_PORTS`: ports that must not be open to the world.
    pub risky_ports: RiskyPorts,
    /// `REMEDIATION_MODE`.
    pub mode: Mode,
    /// `REMEDIATION_ACTION` and `ALLOWED_SOURCE_CIDRS`: revoke, or narrow to the allowed sources.
    pub action: RemediationAction,
    /// `RULE_SELECTOR`: a JMESPath expression replacing the built-in selection (compiled by the
    /// select module, which reports syntax errors).
    pub rule_selector: Option<String>,
    /// `EXEMPT_TAG`.
    pub exempt_tag: ExemptTag,
    /// `EXEMPT_SECURITY_GROUP_IDS`: security groups never touched.
    pub exempt_security_group_ids: BTreeSet<String>,
    /// `CROSS_ACCOUNT_ROLE_NAME`: RAM role assumed in a resource's account when it differs from
    /// the function's own.
    pub cross_account_role_name: Option<String>,
    /// `CONFIG_AGGREGATOR_ID`: read resources through this aggregator.
    pub config_aggregator_id: Option<String>,
    /// `CONFIG_ENDPOINT`, `ECS_ENDPOINT`, `STS_ENDPOINT`.
    pub endpoints: Endpoints,
    /// `SIGNATURE_VERSION`: how every API call is signed, `v3` (ACS3-HMAC-SHA256, the default,
    /// as in the official SDKs) or `v2` (HMAC-SHA1).
    pub signature_version: SignatureVersion,
    /// `MAX_CONCURRENCY`: resources remediated at once, 1..=256.
    pub max_concurrency: u16,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `RUST_LOG`: a `tracing` filter, validated.
    pub log_filter: String,
    /// `ALLOW_RESTORE`: whether restore events may re-authorize revoked rules (default false;
    /// a restore re-opens ports, so it must be switched on deliberately, together with the
    /// `ecs:AuthorizeSecurityGroup` permission).
    pub allow_restore: bool,
    /// `RESTORE_SEAL_KEY`: the HMAC key sealing every revoked rule of a report; a restore event
    /// is accepted only for rules whose seal verifies. Required when `allow_restore` is true.
    pub restore_seal_key: Option<SealKey>,
    /// `RESTORE_MAX_AGE`: how long after its revoke a sealed rule may be restored.
    pub restore_max_age: std::time::Duration,
    /// `MAX_EVENT_RESOURCES`: an event naming more items is a function error before any call.
    pub max_event_resources: usize,
    /// `FC_ACCOUNT_ID`, informational: the per-request `x-fc-account-id` header wins.
    pub fc_account_id: Option<String>,
    /// `FC_REGION`, informational: the per-request `x-fc-region` header wins.
    pub fc_region: Option<String>,
    /// `NOTIFY_WEBHOOK_URL`, `NOTIFY_WEBHOOK_SECRET`, `NOTIFY_FORMAT`, `NOTIFY_DRY_RUN`: where to
    /// send a message after an invocation that changed or failed anything (`None`: nowhere).
    pub notify: Option<crate::notify::NotifyConfig>,
    /// `LOOKUP_OPENER`: after a group's rules are revoked, ask ActionTrail who opened them
    /// (default false; needs `actiontrail:LookupEvents`).
    pub lookup_opener: bool,
}

impl Config {
    /// Parse the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parse from any name → value lookup. A value that is not valid Unicode should be passed
    /// as `None` by the caller only if it is truly absent; [`Config::from_env`] treats it as
    /// absent because `std::env::var` cannot represent it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let risky_ports = with_default(&lookup, "RISKY_PORTS", DEFAULT_RISKY_PORTS)?
            .parse::<RiskyPorts>()
            .map_err(|e| ConfigError::new("RISKY_PORTS", e.to_string()))?;
        let mode = with_default(&lookup, "REMEDIATION_MODE", "enforce")?
            .parse::<Mode>()
            .map_err(|e| ConfigError::new("REMEDIATION_MODE", e))?;
        let action = RemediationAction::parse(
            &with_default(&lookup, "REMEDIATION_ACTION", "revoke")?,
            optional(&lookup, "ALLOWED_SOURCE_CIDRS").as_deref(),
        )?;
        let rule_selector = match lookup("RULE_SELECTOR") {
            None => None,
            Some(s) if s.trim().is_empty() => {
                return Err(ConfigError::new(
                    "RULE_SELECTOR",
                    "is set but blank; unset it to use the built-in selection",
                ))
            }
            Some(s) => Some(s),
        };
        let exempt_tag = with_default(&lookup, "EXEMPT_TAG", DEFAULT_EXEMPT_TAG)?
            .parse::<ExemptTag>()
            .map_err(|e| ConfigError::new("EXEMPT_TAG", e))?;
        let exempt_security_group_ids = match optional(&lookup, "EXEMPT_SECURITY_GROUP_IDS") {
            None => BTreeSet::new(),
            Some(list) => parse_id_list(&list)
                .map_err(|e| ConfigError::new("EXEMPT_SECURITY_GROUP_IDS", e))?,
        };
        let cross_account_role_name = optional(&lookup, "CROSS_ACCOUNT_ROLE_NAME")
            .map(|name| validate_role_name(&name).map(|()| name))
            .transpose()
            .map_err(|e| ConfigError::new("CROSS_ACCOUNT_ROLE_NAME", e))?;
        let config_aggregator_id = optional(&lookup, "CONFIG_AGGREGATOR_ID")
            .map(|id| validate_plain_id(&id).map(|()| id))
            .transpose()
            .map_err(|e| ConfigError::new("CONFIG_AGGREGATOR_ID", e))?;
        let mut endpoints = Endpoints::new(
            &with_default(&lookup, "CONFIG_ENDPOINT", DEFAULT_CONFIG_ENDPOINT)?,
            &with_default(&lookup, "ECS_ENDPOINT", DEFAULT_ECS_ENDPOINT)?,
            &with_default(&lookup, "STS_ENDPOINT", DEFAULT_STS_ENDPOINT)?,
        )?;
        if lookup("ECS_ENDPOINT").is_none() {
            endpoints.ecs_template = None;
        }
        let endpoints = endpoints.with_actiontrail(&with_default(
            &lookup,
            "ACTIONTRAIL_ENDPOINT",
            DEFAULT_ACTIONTRAIL_ENDPOINT,
        )?)?;
        let lookup_opener = match with_default(&lookup, "LOOKUP_OPENER", "false")?
            .to_ascii_lowercase()
            .as_str()
        {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::new(
                    "LOOKUP_OPENER",
                    format!("must be true or false, got {other:?}"),
                ))
            }
        };
        let max_concurrency = parse_number(
            &with_default(&lookup, "MAX_CONCURRENCY", "8")?,
            1,
            u64::from(MAX_MAX_CONCURRENCY),
        )
        .map_err(|e| ConfigError::new("MAX_CONCURRENCY", e))? as u16;
        let signature_version = with_default(&lookup, "SIGNATURE_VERSION", "v3")?
            .parse::<SignatureVersion>()
            .map_err(|e| ConfigError::new("SIGNATURE_VERSION", e.to_string()))?;
        let log_format = with_default(&lookup, "LOG_FORMAT", "json")?
            .parse::<LogFormat>()
            .map_err(|e| ConfigError::new("LOG_FORMAT", e))?;
        let log_filter = with_default(&lookup, "RUST_LOG", DEFAULT_LOG_FILTER)?;
        crate::logging::validate_filter(&log_filter)
            .map_err(|e| ConfigError::new("RUST_LOG", e))?;
        let allow_restore = match with_default(&lookup, "ALLOW_RESTORE", "false")?
            .to_ascii_lowercase()
            .as_str()
        {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::new(
                    "ALLOW_RESTORE",
                    format!("must be true or false, got {other:?}"),
                ))
            }
        };
        let restore_seal_key = optional(&lookup, "RESTORE_SEAL_KEY")
            .map(|k| k.parse::<SealKey>())
            .transpose()
            .map_err(|e| ConfigError::new("RESTORE_SEAL_KEY", e))?;
        if allow_restore && restore_seal_key.is_none() {
            return Err(ConfigError::new(
                "ALLOW_RESTORE",
                "is true but RESTORE_SEAL_KEY is not set: a restore re-opens ports, so it is only \
                 accepted for rules this deployment revoked and sealed; set RESTORE_SEAL_KEY to at \
                 least 32 random bytes in hex or base64 (e.g. `openssl rand -hex 32`)",
            ));
        }
        let restore_max_age = match lookup("RESTORE_MAX_AGE") {
            None => DEFAULT_RESTORE_MAX_AGE,
            Some(v) => humantime::parse_duration(v.trim())
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    ConfigError::new(
                        "RESTORE_MAX_AGE",
                        format!("{v:?} is not a positive duration (e.g. \"30d\", \"12h\")"),
                    )
                })?,
        };
        let max_event_resources = parse_number(
            &with_default(
                &lookup,
                "MAX_EVENT_RESOURCES",
                &DEFAULT_MAX_EVENT_RESOURCES.to_string(),
            )?,
            1,
            MAX_MAX_EVENT_RESOURCES as u64,
        )
        .map_err(|e| ConfigError::new("MAX_EVENT_RESOURCES", e))?
            as usize;
        Ok(Config {
            allow_restore,
            restore_seal_key,
            restore_max_age,
            max_event_resources,
            risky_ports,
            mode,
            action,
            rule_selector,
            exempt_tag,
            exempt_security_group_ids,
            cross_account_role_name,
            config_aggregator_id,
            endpoints,
            signature_version,
            max_concurrency,
            log_format,
            log_filter,
            fc_account_id: optional(&lookup, "FC_ACCOUNT_ID"),
            fc_region: optional(&lookup, "FC_REGION"),
            notify: crate::notify::NotifyConfig::from_lookup(&lookup)?,
            lookup_opener,
        })
    }
}

impl Config {
    /// Whether `EXEMPT_SECURITY_GROUP_IDS` names `id`. Ids are compared case-insensitively:
    /// `sg-ABC` and `sg-abc` are the same group to an operator, and a case slip in the list must
    /// not leave a group unexempted.
    pub fn is_exempt_id(&self, id: &str) -> bool {
        self.exempt_security_group_ids
            .iter()
            .any(|e| e.eq_ignore_ascii_case(id))
    }
}

/// The `RESTORE_SEAL_KEY`: at least 32 bytes, given as hex or base64. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealKey(Vec<u8>);

/// The shortest seal key accepted: 256 bits, the HMAC-SHA256 block's security level.
pub const MIN_SEAL_KEY_BYTES: usize = 32;

impl SealKey {
    /// The raw key bytes, for the HMAC only.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(***)")
    }
}

impl FromStr for SealKey {
    type Err = String;
    /// Hex (an even number of hex digits) is tried first, then standard or URL-safe base64, with
    /// or without padding. The value itself never appears in an error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use base64::Engine as _;
        let s = s.trim();
        let hex = s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit());
        let bytes = if hex {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| "is not valid hex".to_string())?
        } else {
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(s).ok())
                .ok_or_else(|| {
                    "is neither hex nor base64; generate one with `openssl rand -hex 32`"
                        .to_string()
                })?
        };
        if bytes.len() < MIN_SEAL_KEY_BYTES {
            return Err(format!(
                "decodes to {} bytes; at least {MIN_SEAL_KEY_BYTES} random bytes are required \
                 (`openssl rand -hex 32`)",
                bytes.len()
            ));
        }
        if let Some(why) = too_little_entropy(&bytes) {
            return Err(format!(
                "has too little entropy ({why}): a placeholder or a typed pattern can be guessed, \
                 and then seals forged; generate one with `openssl rand -hex 32`"
            ));
        }
        Ok(SealKey(bytes))
    }
}

/// Fewer distinct byte values than this in a seal key means it was not drawn at random (32
/// random bytes show about 30).
const MIN_DISTINCT_SEAL_KEY_BYTES: usize = 8;

/// Why `key` cannot be random bytes, if it cannot: every byte the same, one block repeated
/// (`abab…`, a 16-byte value written twice), or only a handful of distinct byte values. Each
/// is astronomically unlikely for a key from `openssl rand`, and typical of a placeholder.
fn too_little_entropy(key: &[u8]) -> Option<String> {
    if key.windows(2).all(|w| w[0] == w[1]) {
        return Some("every byte is the same".into());
    }
    if let Some(period) =
        (1..=key.len() / 2).find(|&p| key.iter().zip(&key[p..]).all(|(a, b)| a == b))
    {
        return Some(format!("a {period}-byte pattern repeated"));
    }
    let mut seen = [false; 256];
    key.iter().for_each(|&b| seen[usize::from(b)] = true);
    let distinct = seen.iter().filter(|&&s| s).count();
    if distinct < MIN_DISTINCT_SEAL_KEY_BYTES {
        return Some(format!("only {distinct} distinct byte values"));
    }
    None
}

/// The value, or `default` when unset; set-but-empty is an error (see the module docs).
fn with_default(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    match lookup(variable) {
        None => Ok(default.to_string()),
        Some(v) if v.trim().is_empty() => Err(ConfigError::new(
            variable,
            format!("is set but empty; unset it to use the default {default:?}"),
        )),
        Some(v) => Ok(v),
    }
}

/// The value, with `""` meaning absent.
fn optional(lookup: &impl Fn(&str) -> Option<String>, variable: &str) -> Option<String> {
    lookup(variable).filter(|v| !v.is_empty())
}

/// A comma-separated id list. Items are trimmed; an empty item or one with inner whitespace is
/// an error, because it most likely hides a typo that would leave a group unexempted.
fn parse_id_list(list: &str) -> Result<BTreeSet<String>, String> {
    let mut ids = BTreeSet::new();
    for (i, item) in list.split(',').enumerate() {
        let id = item.trim();
        if id.is_empty() {
            return Err(format!("item {} of {list:?} is empty", i + 1));
        }
        validate_plain_id(id).map_err(|e| format!("item {}: {e}", i + 1))?;
        ids.insert(id.to_string());
    }
    Ok(ids)
}

fn validate_plain_id(id: &str) -> Result<(), String> {
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{id:?} contains whitespace and is not an id"));
    }
    Ok(())
}

/// RAM role names: 1–64 characters from `A-Z a-z 0-9 . -`.
fn validate_role_name(name: &str) -> Result<(), String> {
    if name.len() > 64 {
        return Err(format!(
            "{name:?} is longer than 64 characters (RAM role-name limit)"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "{name:?} contains {c:?}; RAM role names use only A-Z, a-z, 0-9, '.' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod site_tests {
    use super::*;

    #[test]
    fn each_site_is_found_by_its_name_and_by_its_endpoint() {
        for site in ConfigSite::ALL {
            assert_eq!(ConfigSite::from_name(site.name()), Some(site));
            let endpoint = Endpoint::parse(site.endpoint()).expect("parses");
            assert_eq!(ConfigSite::of_endpoint(&endpoint), Some(site));
        }
        assert_eq!(ConfigSite::from_name("China"), None);
        let other = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(ConfigSite::of_endpoint(&other), None);
    }

    #[test]
    fn the_default_config_endpoint_is_the_china_sites() {
        assert_eq!(DEFAULT_CONFIG_ENDPOINT, ConfigSite::China.endpoint());
        assert_eq!(
            ConfigSite::International.endpoint(),
            "https://config.ap-southeast-1.aliyuncs.com"
        );
    }
}

#[cfg(test)]
mod opener_tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_opener_lookup_is_off_by_default_and_reaches_the_regional_actiontrail_host() {
        let config = parse(&[]).unwrap();
        assert!(!config.lookup_opener);
        assert_eq!(
            config
                .endpoints
                .actiontrail("cn-shanghai")
                .unwrap()
                .to_string(),
            "https://actiontrail.cn-shanghai.aliyuncs.com"
        );
    }

    #[test]
    fn lookup_opener_takes_true_or_false_and_nothing_else() {
        assert!(parse(&[("LOOKUP_OPENER", "TRUE")]).unwrap().lookup_opener);
        assert!(!parse(&[("LOOKUP_OPENER", "false")]).unwrap().lookup_opener);
        let e = parse(&[("LOOKUP_OPENER", "yes")]).unwrap_err();
        assert_eq!(e.variable, "LOOKUP_OPENER");
    }

    #[test]
    fn an_explicit_actiontrail_endpoint_substitutes_the_region_and_is_checked_at_start() {
        let config = parse(&[("ACTIONTRAIL_ENDPOINT", "http://127.0.0.1:9/{region}")]);
        assert_eq!(config.unwrap_err().variable, "ACTIONTRAIL_ENDPOINT");
        let config = parse(&[("ACTIONTRAIL_ENDPOINT", "http://127.0.0.1:9")]).unwrap();
        assert_eq!(
            config
                .endpoints
                .actiontrail("cn-hangzhou")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9"
        );
        assert!(config
            .endpoints
            .plain_http()
            .contains(&"ACTIONTRAIL_ENDPOINT"));
    }
}

#[cfg(test)]
mod action_tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn refusal(vars: &[(&str, &str)]) -> String {
        parse(vars).unwrap_err().to_string()
    }

    const NARROW: (&str, &str) = ("REMEDIATION_ACTION", "narrow");

    #[test]
    fn the_default_action_revokes() {
        assert_eq!(parse(&[]).unwrap().action, RemediationAction::Revoke);
        let blank = refusal(&[("REMEDIATION_ACTION", "")]);
        assert!(
            blank.starts_with("REMEDIATION_ACTION: is set but empty"),
            "{blank}"
        );
    }

    #[test]
    fn narrow_takes_the_allowed_sources_of_both_families() {
        let config = parse(&[
            NARROW,
            ("ALLOWED_SOURCE_CIDRS", "203.0.113.0/24, 2001:db8::/32"),
        ]);
        let action = config.unwrap().action;
        assert_eq!(action.as_str(), "narrow");
        assert_eq!(
            action.allowed_sources().unwrap().to_string(),
            "203.0.113.0/24,2001:db8::/32"
        );
    }

    #[test]
    fn an_unknown_action_is_refused_naming_both_actions() {
        assert_eq!(
            refusal(&[("REMEDIATION_ACTION", "Narrow")]),
            "REMEDIATION_ACTION: \"Narrow\" is not an action; use \"revoke\" or \"narrow\""
        );
    }

    #[test]
    fn narrow_without_allowed_sources_is_refused() {
        for vars in [vec![NARROW], vec![NARROW, ("ALLOWED_SOURCE_CIDRS", "")]] {
            let e = refusal(&vars);
            assert!(e.starts_with("ALLOWED_SOURCE_CIDRS: is required"), "{e}");
        }
    }

    #[test]
    fn allowed_sources_with_the_revoke_action_are_refused() {
        let e = refusal(&[("ALLOWED_SOURCE_CIDRS", "203.0.113.0/24")]);
        assert!(
            e.starts_with("ALLOWED_SOURCE_CIDRS: is set but REMEDIATION_ACTION is \"revoke\""),
            "{e}"
        );
    }

    #[test]
    fn each_unusable_allowed_source_is_refused_at_start_naming_the_variable() {
        for (list, why) in [
            ("0.0.0.0/0", "is the whole internet"),
            (
                "203.0.113.0/24,::/0",
                "entry 2 \"::/0\" is the whole internet",
            ),
            ("10.0.0.0/7", "wider than /8"),
            ("2001:db8::/12", "wider than /16"),
            (
                "203.0.113.1/24",
                "has host bits set past its prefix: did you mean 203.0.113.0/24?",
            ),
            ("203.0.113.0/24;10.0.0.0/8", "is not a CIDR block"),
            ("203.0.113.0/24,,10.0.0.0/8", "entry 2 is empty"),
        ] {
            let e = refusal(&[NARROW, ("ALLOWED_SOURCE_CIDRS", list)]);
            assert!(e.starts_with("ALLOWED_SOURCE_CIDRS: "), "{list}: {e}");
            assert!(e.contains(why), "{list}: {e}");
        }
        let many: Vec<String> = (1..=21).map(|i| format!("10.{i}.0.0/16")).collect();
        let e = refusal(&[NARROW, ("ALLOWED_SOURCE_CIDRS", &many.join(","))]);
        assert_eq!(
            e,
            "ALLOWED_SOURCE_CIDRS: 21 entries, more than the 20 accepted"
        );
    }
}

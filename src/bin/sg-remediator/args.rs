//! The command line's arguments (clap derive). `--help` is the reference; README's "From your
//! laptop" section shows them in use.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sg_remediator::config::ConfigSite;

const EXIT_STATUS: &str = "\
Exit status:
  0  nothing risky found (scan, check), every group handled (remediate), rules put back (restore)
  2  risky rules found (scan, check) or any group or restore failed
  1  usage, configuration or credential error; confirmation refused

Credentials (first found wins; the report names the source, never the secret):
  1. ALIBABA_CLOUD_ACCESS_KEY_ID + ALIBABA_CLOUD_ACCESS_KEY_SECRET [+ ALIBABA_CLOUD_SECURITY_TOKEN]
  2. ALICLOUD_ACCESS_KEY + ALICLOUD_SECRET_KEY [+ ALICLOUD_SECURITY_TOKEN]
  3. ~/.aliyun/config.json (aliyun CLI): --profile, else ALIBABA_CLOUD_PROFILE, else `current`;
     modes AK, StsToken, RamRoleArn (assumes the role with STS first)

The function's variables apply (RISKY_PORTS, RULE_SELECTOR, EXEMPT_TAG, EXEMPT_SECURITY_GROUP_IDS,
MAX_CONCURRENCY, REMEDIATION_ACTION, ALLOWED_SOURCE_CIDRS, ECS_ENDPOINT, CONFIG_ENDPOINT,
STS_ENDPOINT); flags override them. Without
CONFIG_ENDPOINT or --config-site, Config is read on the China site.";

const EXAMPLES: &str = "\
Examples:
  sg-remediator scan --region cn-hangzhou
  sg-remediator scan --region cn-hangzhou --region cn-shanghai --json --output scan.json
  sg-remediator scan --all-regions --profile audit
  sg-remediator check sg-bp1fg655nh68xyz9i0d1 --region cn-hangzhou --ports 22,3389,5432
  sg-remediator remediate --from-scan scan.json --output remediation.json
  sg-remediator remediate sg-bp1fg655nh68xyz9i0d1 --region cn-hangzhou --yes
  sg-remediator remediate sg-bp1fg655nh68xyz9i0d1 --region cn-hangzhou --narrow-to 203.0.113.0/24
  sg-remediator restore --report remediation.json --resource sg-bp1fg655nh68xyz9i0d1 --yes";

/// See and fix security-group rules that open risky ports to the internet, with exactly the
/// Function Compute remediation's selection, guard rails, verification and report.
#[derive(Debug, Parser)]
#[command(name = "sg-remediator", version, after_help = format!("{EXIT_STATUS}\n\n{EXAMPLES}"))]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Profile of ~/.aliyun/config.json to use (skips the environment's keys).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print the JSON report instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the JSON report to FILE (what `remediate --from-scan` and `restore --report` read).
    #[arg(long, global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Risky ports, e.g. 22,3389,5432 or 8000-8080 (overrides RISKY_PORTS).
    #[arg(long, global = true, value_name = "LIST")]
    pub ports: Option<String>,
    /// JMESPath rule selector narrowing the selection (overrides RULE_SELECTOR).
    #[arg(long, global = true, value_name = "EXPR")]
    pub selector: Option<String>,
    /// Narrow world-open rules to these CIDR blocks (comma-separated, IPv4 and IPv6) instead of
    /// only revoking them: the same rule is authorized from each block of its family first
    /// (sets REMEDIATION_ACTION=narrow and ALLOWED_SOURCE_CIDRS).
    #[arg(long, global = true, value_name = "CIDRS")]
    pub narrow_to: Option<String>,
    /// Tag that exempts a group, `key` or `key=value` (overrides EXEMPT_TAG).
    #[arg(long, global = true, value_name = "TAG")]
    pub exempt_tag: Option<String>,
    /// Groups never touched, comma-separated (overrides EXEMPT_SECURITY_GROUP_IDS).
    #[arg(long, global = true, value_name = "IDS")]
    pub exempt_groups: Option<String>,
    /// Groups handled at once, 1-256 (overrides MAX_CONCURRENCY).
    #[arg(long, global = true, value_name = "N")]
    pub max_concurrency: Option<String>,
    /// Cloud Config's site of the account: china (config.cn-shanghai.aliyuncs.com) or
    /// international (config.ap-southeast-1.aliyuncs.com); overrides CONFIG_ENDPOINT.
    #[arg(
        long,
        global = true,
        value_name = "SITE",
        value_parser = clap::builder::PossibleValuesParser::new(ConfigSite::ALL.map(ConfigSite::name))
    )]
    pub config_site: Option<String>,
    /// How API calls are signed: v3 (ACS3-HMAC-SHA256, the default) or v2 (overrides
    /// SIGNATURE_VERSION).
    #[arg(long, global = true, value_name = "v3|v2")]
    pub signature_version: Option<String>,
    /// Time limit for each group, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List every security group of the regions (ECS DescribeSecurityGroups) and judge each on
    /// its live rules. Needs no Cloud Config. Never changes anything.
    Scan {
        /// Region to scan; repeat for more.
        #[arg(
            long = "region",
            value_name = "REGION",
            required_unless_present = "all_regions"
        )]
        regions: Vec<String>,
        /// Scan every region ECS lists (DescribeRegions), besides any --region.
        #[arg(long)]
        all_regions: bool,
    },
    /// Run the function's full path (Config re-fetch, live confirm) for the named groups, in dry
    /// run. Never changes anything.
    Check {
        /// Security group ids.
        #[arg(value_name = "SG_ID", required = true)]
        groups: Vec<String>,
        #[arg(long, value_name = "REGION")]
        region: String,
    },
    /// Revoke the risky rules of the named groups (or of a scan's `would_remediate` groups),
    /// verify, and report as the function does. Asks first on a terminal.
    Remediate {
        /// Security group ids (with --region).
        #[arg(value_name = "SG_ID")]
        groups: Vec<String>,
        /// Region of the named groups.
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// A `scan --output` report: remediate its `would_remediate` groups.
        #[arg(long, value_name = "FILE")]
        from_scan: Option<PathBuf>,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Send the function's notification for the whole run (NOTIFY_WEBHOOK_URL, NOTIFY_FORMAT,
        /// NOTIFY_WEBHOOK_SECRET), when it revoked or failed anything.
        #[arg(long)]
        notify: bool,
    },
    /// Put back the `revokedRules` of a remediation report (and revoke the rules a narrowing
    /// added in their place, `narrowedRules[].added`). Asks first on a terminal: this re-opens
    /// the ports.
    Restore {
        /// A `remediate --output` report (or the function's report).
        #[arg(long, value_name = "FILE")]
        report: PathBuf,
        /// Only this group.
        #[arg(long, value_name = "SG_ID")]
        resource: Option<String>,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

impl Global {
    /// The function's variables these flags override, with the flag's value.
    pub(crate) fn overrides(&self) -> Vec<(&'static str, String)> {
        [
            ("RISKY_PORTS", &self.ports),
            ("RULE_SELECTOR", &self.selector),
            ("EXEMPT_TAG", &self.exempt_tag),
            ("EXEMPT_SECURITY_GROUP_IDS", &self.exempt_groups),
            ("MAX_CONCURRENCY", &self.max_concurrency),
            ("SIGNATURE_VERSION", &self.signature_version),
        ]
        .into_iter()
        .filter_map(|(var, value)| value.clone().map(|v| (var, v)))
        .chain(
            self.config_site
                .as_deref()
                .and_then(ConfigSite::from_name)
                .map(|site| ("CONFIG_ENDPOINT", site.endpoint().to_string())),
        )
        .chain(self.narrow_to.iter().flat_map(|cidrs| {
            [
                ("REMEDIATION_ACTION", "narrow".to_string()),
                ("ALLOWED_SOURCE_CIDRS", cidrs.clone()),
            ]
        }))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_argument_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn narrow_to_sets_the_action_and_the_allowed_sources() {
        let cli = Cli::parse_from([
            "sg-remediator",
            "remediate",
            "sg-1",
            "--region",
            "cn-hangzhou",
            "--narrow-to",
            "203.0.113.0/24,2001:db8::/32",
        ]);
        assert_eq!(
            cli.global.overrides(),
            vec![
                ("REMEDIATION_ACTION", "narrow".to_string()),
                (
                    "ALLOWED_SOURCE_CIDRS",
                    "203.0.113.0/24,2001:db8::/32".to_string()
                )
            ]
        );
    }

    #[test]
    fn flags_name_the_variables_they_override() {
        let cli = Cli::parse_from([
            "sg-remediator",
            "scan",
            "--region",
            "cn-hangzhou",
            "--ports",
            "22,5432",
            "--exempt-tag",
            "keep=yes",
        ]);
        assert_eq!(
            cli.global.overrides(),
            vec![
                ("RISKY_PORTS", "22,5432".to_string()),
                ("EXEMPT_TAG", "keep=yes".to_string())
            ]
        );
    }

    #[test]
    fn config_site_sets_the_config_endpoint_of_its_site() {
        for (site, endpoint) in [
            ("china", "https://config.cn-shanghai.aliyuncs.com"),
            (
                "international",
                "https://config.ap-southeast-1.aliyuncs.com",
            ),
        ] {
            let cli = Cli::parse_from([
                "sg-remediator",
                "check",
                "sg-1",
                "--region",
                "cn-hangzhou",
                "--config-site",
                site,
            ]);
            assert_eq!(
                cli.global.overrides(),
                vec![("CONFIG_ENDPOINT", endpoint.to_string())]
            );
        }
    }

    #[test]
    fn an_unknown_config_site_is_refused() {
        let parsed = Cli::try_parse_from([
            "sg-remediator",
            "scan",
            "--region",
            "cn-hangzhou",
            "--config-site",
            "cn-shanghai",
        ]);
        let message = parsed.expect_err("refused").to_string();
        assert!(
            message.contains("china") && message.contains("international"),
            "{message}"
        );
    }

    #[test]
    fn the_signature_version_flag_overrides_signature_version() {
        let cli = Cli::parse_from([
            "sg-remediator",
            "scan",
            "--region",
            "cn-hangzhou",
            "--signature-version",
            "v2",
        ]);
        assert_eq!(
            cli.global.overrides(),
            vec![("SIGNATURE_VERSION", "v2".to_string())]
        );
    }
}

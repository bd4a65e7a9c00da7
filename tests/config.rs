//! Configuration: defaults, each parse rule, and the binary refusing every bad value with a
//! message naming the variable.

use std::collections::HashMap;
use std::process::Stdio;

use acs_openapi::SignatureVersion;
use sg_remediator::config::{Config, ConfigError, Endpoints, ExemptTag, Mode};
use sg_remediator::logging::LogFormat;
use sg_test_kit::bootstrap;

fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| env.get(name).cloned())
}

fn error_for(pairs: &[(&str, &str)]) -> ConfigError {
    parse(pairs).expect_err("the value must be refused")
}

#[test]
fn an_empty_environment_gives_the_documented_defaults() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.risky_ports.to_string(), "22,3389");
    assert_eq!(c.mode, Mode::Enforce);
    assert_eq!(c.rule_selector, None);
    assert_eq!(
        c.exempt_tag,
        ExemptTag {
            key: "sg-remediator:exempt".into(),
            value: None
        }
    );
    assert!(c.exempt_security_group_ids.is_empty());
    assert_eq!(c.cross_account_role_name, None);
    assert_eq!(c.config_aggregator_id, None);
    assert_eq!(
        c.endpoints.config(),
        "https://config.cn-shanghai.aliyuncs.com"
    );
    // Without ECS_ENDPOINT: the official SDK's EndpointMap (cn-hangzhou is listed there).
    assert_eq!(
        c.endpoints.ecs("cn-hangzhou").unwrap(),
        "https://ecs-cn-hangzhou.aliyuncs.com"
    );
    assert_eq!(
        c.endpoints.ecs("cn-shanghai").unwrap(),
        "https://ecs.cn-shanghai.aliyuncs.com"
    );
    assert_eq!(c.endpoints.sts(), "https://sts.aliyuncs.com");
    assert_eq!(c.max_concurrency, 8);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.signature_version, SignatureVersion::V3);
    assert_eq!(c.log_filter, "info");
    assert_eq!(c.fc_account_id, None);
    assert_eq!(c.fc_region, None);
}

#[test]
fn risky_ports_accept_lists_and_ranges() {
    let c = parse(&[("RISKY_PORTS", "3389, 22,8000-8080")]).unwrap();
    assert_eq!(c.risky_ports.to_string(), "22,3389,8000-8080");
}

/// 32 random-looking bytes, hex.
const SEAL_KEY_HEX: &str = "8f1c2b7e4d9a60315e2f8c7b1a0d9e4f3c2b1a09f8e7d6c5b4a3928170615243";

#[test]
fn restore_is_off_unless_switched_on() {
    assert!(!parse(&[]).unwrap().allow_restore);
    assert!(
        parse(&[
            ("ALLOW_RESTORE", "true"),
            ("RESTORE_SEAL_KEY", SEAL_KEY_HEX)
        ])
        .unwrap()
        .allow_restore
    );
    assert!(!parse(&[("ALLOW_RESTORE", "false")]).unwrap().allow_restore);
}

#[test]
fn allow_restore_without_a_seal_key_is_refused_saying_why() {
    let e = error_for(&[("ALLOW_RESTORE", "true")]);
    assert_eq!(e.variable, "ALLOW_RESTORE");
    assert!(e.problem.contains("RESTORE_SEAL_KEY"), "{e}");
    assert!(e.problem.contains("re-open"), "{e}");
}

#[test]
fn a_seal_key_is_read_as_hex_or_base64_and_never_printed() {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let from_hex = parse(&[("RESTORE_SEAL_KEY", SEAL_KEY_HEX)]).unwrap();
    let from_b64 = parse(&[("RESTORE_SEAL_KEY", &b64)]).unwrap();
    assert_eq!(
        from_b64.restore_seal_key.as_ref().unwrap().bytes(),
        &bytes[..]
    );
    assert_eq!(
        from_hex.restore_seal_key.as_ref().unwrap().bytes().len(),
        32
    );
    assert!(!format!("{from_hex:?}").contains(SEAL_KEY_HEX));
    let short = error_for(&[("RESTORE_SEAL_KEY", &SEAL_KEY_HEX[..62])]);
    assert!(short.problem.contains("at least 32"), "{short}");
    assert!(!short.to_string().contains(&SEAL_KEY_HEX[..20]));
}

#[test]
fn a_seal_key_with_too_little_entropy_is_refused_without_printing_it() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for (key, why) in [
        ("0".repeat(64), "every byte is the same"),
        ("ff".repeat(40), "every byte is the same"),
        ("abcd".repeat(16), "a 2-byte pattern repeated"),
        (SEAL_KEY_HEX[..32].repeat(2), "a 16-byte pattern repeated"),
        (
            b64(b"passwordpasswordpasswordpassword"),
            "a 8-byte pattern repeated",
        ),
        (
            "0001020304050600".repeat(3) + "0102030405060001",
            "only 7 distinct byte values",
        ),
    ] {
        let e = error_for(&[("RESTORE_SEAL_KEY", &key)]);
        assert_eq!(e.variable, "RESTORE_SEAL_KEY");
        assert!(e.problem.contains("too little entropy"), "{key}: {e}");
        assert!(e.problem.contains(why), "{key}: {e}");
        assert!(!e.to_string().contains(&key), "{e}");
    }
}

#[test]
fn restore_max_age_and_max_event_resources_have_defaults_and_bounds() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.restore_max_age.as_secs(), 30 * 24 * 3600);
    assert_eq!(c.max_event_resources, 5_000);
    let c = parse(&[
        ("RESTORE_MAX_AGE", "12h"),
        ("MAX_EVENT_RESOURCES", "100000"),
    ])
    .unwrap();
    assert_eq!(c.restore_max_age.as_secs(), 12 * 3600);
    assert_eq!(c.max_event_resources, 100_000);
}

#[test]
fn exempt_ids_match_whatever_their_case() {
    let c = parse(&[("EXEMPT_SECURITY_GROUP_IDS", "sg-ABC123,sg-def")]).unwrap();
    assert!(c.is_exempt_id("sg-abc123"));
    assert!(c.is_exempt_id("SG-DEF"));
    assert!(!c.is_exempt_id("sg-abc12"));
}

#[test]
fn dry_run_mode_is_recognised() {
    assert_eq!(
        parse(&[("REMEDIATION_MODE", "dry-run")]).unwrap().mode,
        Mode::DryRun
    );
    assert_eq!(
        parse(&[("REMEDIATION_MODE", "enforce")]).unwrap().mode,
        Mode::Enforce
    );
}

#[test]
fn mode_is_case_sensitive_so_typos_are_not_guessed() {
    assert_eq!(
        error_for(&[("REMEDIATION_MODE", "DryRun")]).variable,
        "REMEDIATION_MODE"
    );
}

#[test]
fn a_rule_selector_is_kept_verbatim() {
    let q = "Permissions.Permission[?SourceCidrIp=='0.0.0.0/0'].SecurityGroupRuleId";
    assert_eq!(
        parse(&[("RULE_SELECTOR", q)])
            .unwrap()
            .rule_selector
            .as_deref(),
        Some(q)
    );
}

#[test]
fn a_blank_rule_selector_is_refused() {
    for blank in ["", "   "] {
        assert_eq!(
            error_for(&[("RULE_SELECTOR", blank)]).variable,
            "RULE_SELECTOR"
        );
    }
}

#[test]
fn an_exempt_tag_may_name_a_value() {
    let c = parse(&[("EXEMPT_TAG", "owner=security-team")]).unwrap();
    assert_eq!(
        c.exempt_tag,
        ExemptTag {
            key: "owner".into(),
            value: Some("security-team".into())
        }
    );
    assert!(c.exempt_tag.matches("owner", "security-team"));
    assert!(!c.exempt_tag.matches("owner", "someone-else"));
}

#[test]
fn an_exempt_tag_without_a_value_matches_any_value() {
    let c = parse(&[("EXEMPT_TAG", "keep")]).unwrap();
    assert!(c.exempt_tag.matches("keep", "anything"));
    assert!(!c.exempt_tag.matches("other", "anything"));
}

#[test]
fn a_tag_value_may_itself_contain_equals() {
    let c = parse(&[("EXEMPT_TAG", "k=a=b")]).unwrap();
    assert_eq!(c.exempt_tag.value.as_deref(), Some("a=b"));
}

#[test]
fn exempt_group_ids_are_trimmed_and_deduplicated() {
    let c = parse(&[("EXEMPT_SECURITY_GROUP_IDS", "sg-b, sg-a,sg-b")]).unwrap();
    let ids: Vec<&str> = c
        .exempt_security_group_ids
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(ids, ["sg-a", "sg-b"]);
}

#[test]
fn empty_optional_values_count_as_unset() {
    let c = parse(&[
        ("EXEMPT_SECURITY_GROUP_IDS", ""),
        ("CROSS_ACCOUNT_ROLE_NAME", ""),
        ("CONFIG_AGGREGATOR_ID", ""),
        ("FC_ACCOUNT_ID", ""),
    ])
    .unwrap();
    assert!(c.exempt_security_group_ids.is_empty());
    assert_eq!(c.cross_account_role_name, None);
    assert_eq!(c.config_aggregator_id, None);
    assert_eq!(c.fc_account_id, None);
}

#[test]
fn a_valid_role_name_and_aggregator_are_kept() {
    let c = parse(&[
        ("CROSS_ACCOUNT_ROLE_NAME", "Sg-Remediator.role-1"),
        ("CONFIG_AGGREGATOR_ID", "ca-a4e5626622af0079****"),
    ])
    .unwrap();
    assert_eq!(
        c.cross_account_role_name.as_deref(),
        Some("Sg-Remediator.role-1")
    );
    assert_eq!(
        c.config_aggregator_id.as_deref(),
        Some("ca-a4e5626622af0079****")
    );
}

#[test]
fn a_role_name_of_64_characters_is_the_longest_allowed() {
    assert!(parse(&[("CROSS_ACCOUNT_ROLE_NAME", &"r".repeat(64))]).is_ok());
    assert_eq!(
        error_for(&[("CROSS_ACCOUNT_ROLE_NAME", &"r".repeat(65))]).variable,
        "CROSS_ACCOUNT_ROLE_NAME"
    );
}

#[test]
fn explicit_http_endpoints_are_allowed_and_reported() {
    let c = parse(&[
        ("CONFIG_ENDPOINT", "http://127.0.0.1:8080"),
        ("ECS_ENDPOINT", "http://localhost:8081/"),
    ])
    .unwrap();
    assert_eq!(c.endpoints.config(), "http://127.0.0.1:8080");
    assert_eq!(
        c.endpoints.ecs("cn-beijing").unwrap(),
        "http://localhost:8081"
    );
    assert_eq!(
        c.endpoints.plain_http(),
        ["CONFIG_ENDPOINT", "ECS_ENDPOINT"]
    );
}

#[test]
fn default_endpoints_are_all_https() {
    assert!(Endpoints::default().plain_http().is_empty());
    assert!(parse(&[]).unwrap().endpoints.plain_http().is_empty());
}

#[test]
fn the_ecs_endpoint_substitutes_the_region_wherever_it_appears() {
    let c = parse(&[("ECS_ENDPOINT", "https://ecs-{region}.example.com:8443")]).unwrap();
    assert_eq!(
        c.endpoints.ecs("ap-southeast-1").unwrap(),
        "https://ecs-ap-southeast-1.example.com:8443"
    );
}

#[test]
fn finance_and_government_regions_default_to_the_official_sdks_endpoints() {
    let c = parse(&[]).unwrap();
    assert_eq!(
        c.endpoints.ecs("cn-shanghai-finance-1").unwrap(),
        "https://ecs-cn-hangzhou.aliyuncs.com"
    );
    assert_eq!(
        c.endpoints.ecs("cn-north-2-gov-1").unwrap(),
        "https://ecs.aliyuncs.com"
    );
    assert_eq!(
        c.endpoints.ecs("ap-south-1").unwrap(),
        "https://ecs.ap-south-1.aliyuncs.com"
    );
}

#[test]
fn each_region_keeps_its_own_ecs_endpoint_however_many_regions_are_asked_for() {
    let c = parse(&[("ECS_ENDPOINT", "https://ecs.{region}.example.com")]).unwrap();
    // Past the regions an instance keeps parsed, and asked again in another order.
    let regions: Vec<String> = (0..100).map(|i| format!("xx-region-{i}")).collect();
    for region in regions.iter().chain(regions.iter().rev()) {
        assert_eq!(
            c.endpoints.ecs(region).unwrap(),
            *format!("https://ecs.{region}.example.com")
        );
    }
    assert!(c.endpoints.ecs("bad/region").is_err());
    assert!(c.endpoints.ecs("bad/region").is_err());
}

#[test]
fn an_explicit_ecs_endpoint_wins_over_the_official_map() {
    let c = parse(&[("ECS_ENDPOINT", "https://ecs.{region}.aliyuncs.com")]).unwrap();
    assert_eq!(
        c.endpoints.ecs("cn-north-2-gov-1").unwrap(),
        "https://ecs.cn-north-2-gov-1.aliyuncs.com"
    );
}

#[test]
fn an_ecs_endpoint_without_a_region_is_used_as_is() {
    let c = parse(&[("ECS_ENDPOINT", "https://ecs.aliyuncs.com")]).unwrap();
    assert_eq!(
        c.endpoints.ecs("cn-hangzhou").unwrap(),
        "https://ecs.aliyuncs.com"
    );
}

#[test]
fn ipv6_endpoints_are_accepted() {
    let c = parse(&[("STS_ENDPOINT", "http://[::1]:9001")]).unwrap();
    assert_eq!(c.endpoints.sts(), "http://[::1]:9001");
}

#[test]
fn numeric_limits_accept_their_bounds() {
    assert_eq!(
        parse(&[("MAX_CONCURRENCY", "1")]).unwrap().max_concurrency,
        1
    );
    assert_eq!(
        parse(&[("MAX_CONCURRENCY", "256")])
            .unwrap()
            .max_concurrency,
        256
    );
}

#[test]
fn signature_version_reads_v3_and_v2() {
    for (value, version) in [
        ("v3", SignatureVersion::V3),
        ("v2", SignatureVersion::V2),
        ("V2", SignatureVersion::V2),
    ] {
        let c = parse(&[("SIGNATURE_VERSION", value)]).unwrap();
        assert_eq!(c.signature_version, version, "{value}");
    }
}

#[test]
fn text_logs_and_custom_filters_are_accepted() {
    let c = parse(&[
        ("LOG_FORMAT", "text"),
        ("RUST_LOG", "warn,sg_remediator=debug"),
    ])
    .unwrap();
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.log_filter, "warn,sg_remediator=debug");
}

#[test]
fn fc_account_and_region_are_read_for_information() {
    let c = parse(&[
        ("FC_ACCOUNT_ID", "1234567890123456"),
        ("FC_REGION", "cn-hangzhou"),
    ])
    .unwrap();
    assert_eq!(c.fc_account_id.as_deref(), Some("1234567890123456"));
    assert_eq!(c.fc_region.as_deref(), Some("cn-hangzhou"));
}

/// Every bad value, with the variable it must be blamed on and why it is bad.
const BAD_VALUES: &[(&str, &str, &str)] = &[
    ("RISKY_PORTS", "ssh", "not a port"),
    ("RISKY_PORTS", "0", "out of range"),
    ("RISKY_PORTS", "3389-22", "reversed range"),
    ("RISKY_PORTS", "", "set but empty"),
    ("REMEDIATION_MODE", "audit", "unknown mode"),
    ("REMEDIATION_MODE", "", "set but empty"),
    ("RULE_SELECTOR", " ", "blank"),
    ("EXEMPT_TAG", "=value", "empty key"),
    ("EXEMPT_TAG", "key=", "empty value"),
    ("EXEMPT_TAG", " key", "key with surrounding space"),
    ("EXEMPT_TAG", "", "set but empty"),
    ("EXEMPT_SECURITY_GROUP_IDS", "sg-1,,sg-2", "empty item"),
    ("EXEMPT_SECURITY_GROUP_IDS", "sg-1,", "trailing empty item"),
    ("EXEMPT_SECURITY_GROUP_IDS", "sg 1", "space inside an id"),
    ("CROSS_ACCOUNT_ROLE_NAME", "bad/role", "invalid character"),
    (
        "CROSS_ACCOUNT_ROLE_NAME",
        "role_name",
        "underscore is not allowed",
    ),
    ("CONFIG_AGGREGATOR_ID", "ca 1", "space inside the id"),
    ("CONFIG_ENDPOINT", "config.aliyuncs.com", "no scheme"),
    (
        "CONFIG_ENDPOINT",
        "ftp://config.aliyuncs.com",
        "unsupported scheme",
    ),
    (
        "CONFIG_ENDPOINT",
        "https://config.aliyuncs.com/path",
        "has a path",
    ),
    (
        "CONFIG_ENDPOINT",
        "https://config.aliyuncs.com?x=1",
        "has a query",
    ),
    ("CONFIG_ENDPOINT", "https://", "no host"),
    (
        "CONFIG_ENDPOINT",
        "https://config.{region}.aliyuncs.com",
        "region placeholder outside ECS",
    ),
    ("ECS_ENDPOINT", "ecs.{region}.aliyuncs.com", "no scheme"),
    ("ECS_ENDPOINT", "https://ecs.aliyuncs.com:99999", "bad port"),
    (
        "ECS_ENDPOINT",
        "https://user@ecs.aliyuncs.com",
        "user information",
    ),
    (
        "STS_ENDPOINT",
        "https://sts.aliyuncs.com/#x",
        "has a fragment",
    ),
    ("STS_ENDPOINT", "sts.aliyuncs.com", "no scheme"),
    ("ALLOW_RESTORE", "yes", "not true or false"),
    (
        "ALLOW_RESTORE",
        "true",
        "no RESTORE_SEAL_KEY to seal and check restores",
    ),
    (
        "RESTORE_SEAL_KEY",
        "00112233445566778899aabbccddeeff",
        "only 16 bytes",
    ),
    ("RESTORE_SEAL_KEY", "not a key!", "neither hex nor base64"),
    ("RESTORE_MAX_AGE", "forever", "not a duration"),
    ("RESTORE_MAX_AGE", "0s", "zero"),
    ("MAX_EVENT_RESOURCES", "0", "below 1"),
    ("MAX_EVENT_RESOURCES", "100001", "above 100,000"),
    ("MAX_CONCURRENCY", "0", "below 1"),
    ("MAX_CONCURRENCY", "257", "above 256"),
    ("MAX_CONCURRENCY", "eight", "not a number"),
    ("LOG_FORMAT", "xml", "unknown format"),
    ("SIGNATURE_VERSION", "v4", "unknown signature version"),
    ("SIGNATURE_VERSION", "hmac-sha1", "a method, not a version"),
    ("SIGNATURE_VERSION", "", "set but empty"),
    ("RUST_LOG", "sg_remediator=loud", "invalid level"),
    ("RUST_LOG", "", "set but empty"),
    (
        "NOTIFY_WEBHOOK_URL",
        "ftp://hooks.example.com/x",
        "neither https nor http",
    ),
    ("NOTIFY_WEBHOOK_URL", "hooks.example.com/x", "not a URL"),
    (
        "NOTIFY_FORMAT",
        "dingtalk",
        "a format without a webhook URL",
    ),
    (
        "NOTIFY_WEBHOOK_SECRET",
        "SECsecret",
        "a secret without a webhook URL",
    ),
    ("NOTIFY_DRY_RUN", "yes", "not true or false"),
];

/// The FC runtime's own variables (parsed by crates/fc-runtime, unit-tested there): `bootstrap`
/// refuses them at start exactly like the product's.
const RUNTIME_BAD_VALUES: &[(&str, &str, &str)] = &[
    ("MAX_EVENT_BYTES", "", "set but empty"),
    ("MAX_EVENT_BYTES", "0", "zero"),
    ("MAX_EVENT_BYTES", "-5", "negative"),
    ("MAX_EVENT_BYTES", "16MiB", "not a number"),
    ("MAX_EVENT_BYTES", "999999999999", "above the 128 MiB cap"),
    ("FC_CUSTOM_LISTEN_PORT", "70000", "port above 65535"),
    ("FC_SERVER_PORT", "http", "port not a number"),
];

#[test]
fn every_bad_value_is_refused_naming_its_variable() {
    for (variable, value, why) in BAD_VALUES {
        let e = error_for(&[(variable, value)]);
        assert_eq!(e.variable, *variable, "{variable}={value:?} ({why}): {e}");
        assert!(e.to_string().starts_with(&format!("{variable}: ")), "{e}");
    }
}

#[test]
fn bootstrap_exits_non_zero_naming_the_variable_for_every_bad_value() {
    for (variable, value, why) in BAD_VALUES.iter().chain(RUNTIME_BAD_VALUES) {
        let mut cmd = bootstrap!().envs(&[(variable, value)]).command();
        if *variable == "FC_SERVER_PORT" {
            // The harness's FC_CUSTOM_LISTEN_PORT=0 would take precedence.
            cmd.env_remove("FC_CUSTOM_LISTEN_PORT");
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refused configuration exits at once; if it were accepted the server would run,
        // and the harness kills it and fails instead of hanging.
        let status = sg_test_kit::wait_with_patience(&mut child);
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(
            !status.success(),
            "{variable}={value:?} ({why}) was accepted"
        );
        assert!(
            stderr.starts_with(&format!("error: {variable}: ")),
            "{variable}={value:?} ({why}): stderr was {stderr:?}"
        );
    }
}

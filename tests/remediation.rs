//! The product, end to end: Config events through the real `bootstrap` process against the
//! emulator, one scenario per behaviour. Which rules get revoked is what matters, so each test
//! checks the report *and* what the emulator saw (live rules, journal).
//!
//! Every test starts its own emulator (from tests/fixtures/remediation/groups.json) and its own
//! `bootstrap`, so tests can run in parallel without seeing each other's calls.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fault, FaultKind};
use serde_json::{json, Value};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, strings, Answer, Caller, Function};

/// Remediates one group of groups.json in enforce mode.
async fn remediate(sg: &str) -> (Answer, Emulator) {
    remediate_with(sg, &[]).await
}

async fn remediate_with(sg: &str, env: &[(&str, &str)]) -> (Answer, Emulator) {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, env);
    let answer = function.invoke(&event(&[sg])).await;
    (answer, emulator)
}

/// Asserts `sg` ended `remediated` with exactly `revoked` gone and `kept` still live.
fn assert_revoked(answer: &Answer, emulator: &Emulator, sg: &str, revoked: &[&str], kept: &[&str]) {
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(sg), "remediated", "{:#}", answer.body);
    assert_eq!(answer.ids(sg, "revokedRuleIds"), revoked);
    assert_eq!(live_ids(emulator, sg), kept);
    let revokes = calls_on(emulator, "RevokeSecurityGroup", sg);
    assert_eq!(revokes.len(), 1, "one revoke call");
    assert_eq!(revoked_in(&revokes[0]), revoked);
}

/// Asserts `sg` ended `compliant`, nothing was revoked and its live rules are untouched.
fn assert_kept(answer: &Answer, emulator: &Emulator, sg: &str, rules: &[&str]) {
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(sg), "compliant", "{:#}", answer.body);
    assert!(answer.ids(sg, "revokedRuleIds").is_empty());
    assert_eq!(live_ids(emulator, sg), rules);
    assert!(calls(emulator, "RevokeSecurityGroup").is_empty());
}

/// Asserts `sg` was skipped with a reason containing `why`, and no rule changed.
fn assert_skipped(answer: &Answer, emulator: &Emulator, sg: &str, why: &str) {
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(sg), "skipped", "{:#}", answer.body);
    let reason = answer.reason_of(sg);
    assert!(
        reason.contains(why),
        "reason {reason:?} should mention {why:?}"
    );
    assert!(calls(emulator, "RevokeSecurityGroup").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Which rules: revoked
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_open_to_the_world_over_tcp_is_revoked() {
    let (answer, emulator) = remediate("sg-ssh-world").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-ssh-world",
        &["sgr-ssh-world"],
        &["sgr-ssh-world-https"],
    );
    assert!(!answer
        .reason_of("sg-ssh-world")
        .contains("opens more than the risky ports"));
}

/// Every call of an invocation was signed `version` (the journal records how each came).
fn assert_every_call_signed(emulator: &Emulator, version: &str) {
    let journal = emulator.journal();
    assert!(!journal.is_empty());
    for entry in journal {
        assert_eq!(entry.signature_version, version, "{entry:?}");
        assert_eq!(entry.http_status, 200, "{entry:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_signed_v3_by_default() {
    let (answer, emulator) = remediate("sg-ssh-world").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-ssh-world",
        &["sgr-ssh-world"],
        &["sgr-ssh-world-https"],
    );
    assert_every_call_signed(&emulator, "v3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_version_v2_remediates_the_same_with_every_call_signed_hmac_sha1() {
    let (answer, emulator) = remediate_with("sg-ssh-world", &[("SIGNATURE_VERSION", "v2")]).await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-ssh-world",
        &["sgr-ssh-world"],
        &["sgr-ssh-world-https"],
    );
    assert_every_call_signed(&emulator, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accounts_group_is_remediated_with_the_assumed_role_under_v2_too() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[
            ("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME),
            ("SIGNATURE_VERSION", "v2"),
        ],
    );
    let answer = function
        .invoke(&json!([resource_in(
            MEMBER_ACCOUNT,
            REGION,
            "sg-member-ssh"
        )]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-member-ssh"), "remediated");
    assert!(live_ids(&emulator, "sg-member-ssh").is_empty());
    assert_eq!(calls(&emulator, "AssumeRole").len(), 1);
    assert_every_call_signed(&emulator, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdp_open_to_the_world_is_revoked() {
    let (answer, emulator) = remediate("sg-rdp-world").await;
    assert_revoked(&answer, &emulator, "sg-rdp-world", &["sgr-rdp-world"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_on_a_risky_port_is_revoked() {
    let (answer, emulator) = remediate("sg-udp-risky").await;
    assert_revoked(&answer, &emulator, "sg-udp-risky", &["sgr-udp-rdp"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_range_20_to_30_containing_ssh_is_revoked() {
    let (answer, emulator) = remediate("sg-range-20-30").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-range-20-30",
        &["sgr-range-20-30"],
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_port_range_1_to_65535_is_revoked() {
    let (answer, emulator) = remediate("sg-range-all-ports").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-range-all-ports",
        &["sgr-range-all-ports"],
        &[],
    );
    let reason = answer.reason_of("sg-range-all-ports");
    assert!(
        reason.contains("sgr-range-all-ports (TCP 1/65535) opens more than the risky ports"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_protocols_on_all_ports_is_revoked() {
    let (answer, emulator) = remediate("sg-all-protocols").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-all-protocols",
        &["sgr-all-protocols"],
        &[],
    );
    assert!(answer
        .reason_of("sg-all-protocols")
        .contains("opens more than the risky ports"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_open_to_the_ipv6_world_is_revoked_but_not_from_an_ipv6_prefix() {
    let (answer, emulator) = remediate("sg-ipv6").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-ipv6",
        &["sgr-ipv6-ssh"],
        &["sgr-ipv6-doc"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_in_another_region_is_remediated_in_that_region() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&json!([resource_in(
            FUNCTION_ACCOUNT,
            "ap-southeast-1",
            "sg-singapore"
        )]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-singapore"), "remediated");
    assert!(live_ids(&emulator, "sg-singapore").is_empty());
    for call in calls_on(&emulator, "RevokeSecurityGroup", "sg-singapore") {
        assert_eq!(call.params["RegionId"], "ap-southeast-1");
    }
}

// ---------------------------------------------------------------------------------------------
// Which rules: kept
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icmp_from_the_world_is_kept() {
    let (answer, emulator) = remediate("sg-icmp").await;
    assert_kept(&answer, &emulator, "sg-icmp", &["sgr-icmp-ping"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ports_80_and_443_from_the_world_are_kept() {
    let (answer, emulator) = remediate("sg-web").await;
    assert_kept(
        &answer,
        &emulator,
        "sg-web",
        &["sgr-web-http", "sgr-web-https", "sgr-web-alt"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risky_ports_from_private_ranges_are_kept() {
    let (answer, emulator) = remediate("sg-private").await;
    assert_kept(
        &answer,
        &emulator,
        "sg-private",
        &["sgr-private-10", "sgr-private-172", "sgr-private-192"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_from_another_security_group_is_kept() {
    let (answer, emulator) = remediate("sg-source-group").await;
    assert_kept(&answer, &emulator, "sg-source-group", &["sgr-from-group"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_rules_to_the_world_are_kept() {
    let (answer, emulator) = remediate("sg-egress").await;
    assert_kept(
        &answer,
        &emulator,
        "sg-egress",
        &["sgr-egress-ssh", "sgr-egress-all"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_rule_on_ssh_from_the_world_is_kept() {
    let (answer, emulator) = remediate("sg-drop").await;
    assert_kept(&answer, &emulator, "sg-drop", &["sgr-drop-ssh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_shadowed_by_a_higher_priority_drop_is_compliant_and_reported() {
    let (answer, emulator) = remediate("sg-shadowed").await;
    assert_kept(
        &answer,
        &emulator,
        "sg-shadowed",
        &["sgr-shadow-drop", "sgr-shadowed-ssh"],
    );
    assert_eq!(
        answer.ids("sg-shadowed", "shadowedRuleIds"),
        ["sgr-shadowed-ssh"]
    );
    let reason = answer.reason_of("sg-shadowed");
    assert!(reason.contains("sgr-shadow-drop"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_list_source_is_compliant_and_left_for_review() {
    let (answer, emulator) = remediate("sg-prefix-list").await;
    assert_kept(&answer, &emulator, "sg-prefix-list", &["sgr-prefix-ssh"]);
    assert_eq!(
        answer.ids("sg-prefix-list", "reviewRuleIds"),
        ["sgr-prefix-ssh"]
    );
    let reason = answer.reason_of("sg-prefix-list");
    assert!(
        reason.contains("prefix list") && reason.contains("check"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_rule_selector_replaces_the_default_query() {
    // A custom selector must still select world-open risky ports (the start-up self-test) and
    // can only narrow the built-in selection: with port 80 risky, this one leaves 8080-8443.
    let query = "Permissions[?Direction == 'ingress' && Policy == 'accept' \
                 && is_world(SourceCidrIp) \
                 && (port_range_covers(PortRange, `22`) || port_range_covers(PortRange, `80`))].SecurityGroupRuleId";
    let env = [("RULE_SELECTOR", query), ("RISKY_PORTS", "22,80,8080")];
    let (answer, emulator) = remediate_with("sg-web", &env).await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-web",
        &["sgr-web-http"],
        &["sgr-web-https", "sgr-web-alt"],
    );
}

#[test]
fn an_invalid_rule_selector_stops_the_function_at_start_with_a_clear_message() {
    let mut child = bootstrap!()
        .envs(&[("RULE_SELECTOR", "Permissions[?Direction == ")])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bootstrap runs");
    // Killed (and the test failed) if it started serving instead of exiting.
    let status = sg_test_kit::wait_with_patience(&mut child);
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("RULE_SELECTOR") && stderr.contains("not a valid JMESPath expression"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Which groups: skipped
// ---------------------------------------------------------------------------------------------

/// Config's re-fetch and the live read run at the same time, so a group Config then says to
/// leave alone has cost one read of ECS and nothing else: no change, and both RequestIds in
/// `apiRequestIds`, Config's first.
fn assert_read_once_and_left_alone(answer: &Answer, emulator: &Emulator, sg: &str) {
    let config = calls_on(emulator, "GetDiscoveredResource", sg);
    let reads = calls_on(emulator, "DescribeSecurityGroupAttribute", sg);
    assert_eq!(reads.len(), 1, "one live read, made with Config's");
    assert!(
        emulator.journal().iter().all(|e| !e.mutated),
        "nothing changed"
    );
    assert_eq!(
        answer.ids(sg, "apiRequestIds"),
        [config[0].request_id.clone(), reads[0].request_id.clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_managed_group_is_skipped_and_ecs_is_only_read() {
    let (answer, emulator) = remediate("sg-managed").await;
    assert_skipped(&answer, &emulator, "sg-managed", "ServiceManaged");
    assert_read_once_and_left_alone(&answer, &emulator, "sg-managed");
    assert_eq!(live_ids(&emulator, "sg-managed"), ["sgr-managed-ssh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_service_managed_is_missing_is_not_treated_as_managed() {
    let (answer, emulator) = remediate("sg-managed-absent").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-managed-absent",
        &["sgr-managed-absent-ssh"],
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_exempt_by_tag_is_skipped() {
    let (answer, emulator) = remediate("sg-exempt-tag").await;
    assert_skipped(&answer, &emulator, "sg-exempt-tag", "sg-remediator:exempt");
    assert_eq!(live_ids(&emulator, "sg-exempt-tag"), ["sgr-exempt-tag-ssh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_exempt_by_id_is_skipped_without_any_api_call() {
    let (answer, emulator) = remediate_with(
        "sg-exempt-id",
        &[("EXEMPT_SECURITY_GROUP_IDS", "sg-other,sg-exempt-id")],
    )
    .await;
    assert_skipped(
        &answer,
        &emulator,
        "sg-exempt-id",
        "EXEMPT_SECURITY_GROUP_IDS",
    );
    assert!(emulator.journal().is_empty());
    assert_eq!(live_ids(&emulator, "sg-exempt-id"), ["sgr-exempt-id-ssh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_config_reports_deleted_is_skipped() {
    let (answer, emulator) = remediate("sg-deleted").await;
    assert_skipped(&answer, &emulator, "sg-deleted", "deleted");
    assert_read_once_and_left_alone(&answer, &emulator, "sg-deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_exempt_by_tag_costs_one_read_of_ecs_and_no_change() {
    let (answer, emulator) = remediate("sg-exempt-tag").await;
    assert_skipped(&answer, &emulator, "sg-exempt-tag", "sg-remediator:exempt");
    assert_read_once_and_left_alone(&answer, &emulator, "sg-exempt-tag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_config_does_not_know_but_ecs_still_has_fails_untouched() {
    let (answer, emulator) = remediate("sg-unrecorded").await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-unrecorded"), "failed");
    let reason = answer.reason_of("sg-unrecorded");
    assert!(
        reason.starts_with("not found in Config") && reason.contains("ECS still has the group"),
        "{reason}"
    );
    assert_eq!(live_ids(&emulator, "sg-unrecorded"), ["sgr-unrecorded-ssh"]);
    assert_read_once_and_left_alone(&answer, &emulator, "sg-unrecorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_neither_config_nor_ecs_knows_is_skipped_as_gone() {
    let (answer, emulator) = remediate("sg-neverexisted").await;
    assert_skipped(&answer, &emulator, "sg-neverexisted", "gone");
    let reason = answer.reason_of("sg-neverexisted");
    assert!(
        reason.contains("InvalidSecurityGroupId.NotFound") && reason.contains("ResourceNotExists"),
        "both answers are in the reason: {reason}"
    );
    assert_read_once_and_left_alone(&answer, &emulator, "sg-neverexisted");
}

/// No official error table lists Config's not-found codes, so whatever Config answers, the
/// live read decides: an unknown code for a group ECS does not have is a skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_config_error_for_a_group_ecs_says_is_gone_is_a_skip() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 404,
            code: "Resource.NotRecorded".into(),
            message: "made up: not a code Config documents".into(),
        })
        .on_action("GetDiscoveredResource"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-neverexisted"])).await;
    assert_skipped(&answer, &emulator, "sg-neverexisted", "gone");
    assert!(answer
        .reason_of("sg-neverexisted")
        .contains("GetDiscoveredResource failed: Resource.NotRecorded"));
}

/// ... and the same codes for a group ECS still has fail it, untouched: a "not found" that is
/// really a wrong site or a missing recorder must not pass for a deleted group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_not_found_code_for_a_group_ecs_still_has_fails_it_untouched() {
    for code in [
        "ResourceNotExists",
        "ResourceNotFound",
        "Resource.NotRecorded",
    ] {
        let emulator = groups().await;
        emulator.inject(
            Fault::always(FaultKind::Error {
                status: 404,
                code: code.into(),
                message: "not found".into(),
            })
            .on_action("GetDiscoveredResource"),
        );
        let function = Function::start(bootstrap!(), &emulator, &[]);
        let answer = function.invoke(&event(&["sg-ssh-world"])).await;
        assert!(answer.is_function_error(), "{code}: {:#}", answer.body);
        assert_eq!(answer.status_of("sg-ssh-world"), "failed", "{code}");
        assert!(
            answer.reason_of("sg-ssh-world").contains(code),
            "{code}: {}",
            answer.reason_of("sg-ssh-world")
        );
        assert!(calls(&emulator, "RevokeSecurityGroup").is_empty(), "{code}");
        assert_eq!(
            live_ids(&emulator, "sg-ssh-world"),
            ["sgr-ssh-world", "sgr-ssh-world-https"],
            "{code}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_config_knows_none_of_the_events_groups_the_reason_names_the_config_site() {
    let (answer, _emulator) = remediate("sg-unrecorded").await;
    let reason = answer.reason_of("sg-unrecorded");
    assert!(
        reason.contains("Config knew none of this event's resources"),
        "{reason}"
    );
    for endpoint in [
        "https://config.cn-shanghai.aliyuncs.com",
        "https://config.ap-southeast-1.aliyuncs.com",
    ] {
        assert!(reason.contains(endpoint), "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_config_knows_some_of_the_events_groups_no_site_is_suspected() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&event(&["sg-unrecorded", "sg-deleted"]))
        .await;
    let reason = answer.reason_of("sg-unrecorded");
    assert!(reason.contains("not found in Config"), "{reason}");
    assert!(!reason.contains("CONFIG_ENDPOINT"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_gone_from_ecs_but_still_in_config_is_skipped() {
    let (answer, emulator) = remediate("sg-gone-live").await;
    assert_skipped(&answer, &emulator, "sg-gone-live", "no longer exists");
}

// ---------------------------------------------------------------------------------------------
// Stale snapshot: the live view decides
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_narrowed_live_since_the_snapshot_is_not_revoked_and_reported_as_drift() {
    let (answer, emulator) = remediate("sg-stale-narrowed").await;
    assert_kept(&answer, &emulator, "sg-stale-narrowed", &["sgr-stale-ssh"]);
    assert_eq!(
        answer.ids("sg-stale-narrowed", "driftRuleIds"),
        ["sgr-stale-ssh"]
    );
    let reason = answer.reason_of("sg-stale-narrowed");
    assert!(
        reason.contains("no world-open rule on a risky port")
            && reason.contains("snapshot is out of date for sgr-stale-ssh"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_added_live_after_the_snapshot_is_revoked_and_reported_as_drift() {
    let (answer, emulator) = remediate("sg-stale-added").await;
    assert_revoked(
        &answer,
        &emulator,
        "sg-stale-added",
        &["sgr-added-ssh"],
        &["sgr-added-https"],
    );
    assert_eq!(
        answer.ids("sg-stale-added", "driftRuleIds"),
        ["sgr-added-ssh"]
    );
}

// ---------------------------------------------------------------------------------------------
// Accounts and Config aggregators
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accounts_group_is_remediated_with_the_assumed_role() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME)],
    );
    let answer = function
        .invoke(&json!([resource_in(
            MEMBER_ACCOUNT,
            REGION,
            "sg-member-ssh"
        )]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-member-ssh"), "remediated");
    assert_eq!(answer.result("sg-member-ssh")["accountId"], MEMBER_ACCOUNT);
    assert!(live_ids(&emulator, "sg-member-ssh").is_empty());

    let assume = calls(&emulator, "AssumeRole");
    assert_eq!(assume.len(), 1);
    let p = &assume[0].params;
    assert_eq!(
        p["RoleArn"],
        format!("acs:ram::{MEMBER_ACCOUNT}:role/{ROLE_NAME}")
    );
    assert_eq!(p["DurationSeconds"], "3600");
    assert!(
        p["RoleSessionName"].contains(FUNCTION_NAME),
        "{}",
        p["RoleSessionName"]
    );
    assert!(p["RoleSessionName"]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".@_-".contains(&b)));
    assert_eq!(assume[0].access_key_id, FC_KEY_ID);

    let ecs: Vec<_> = emulator
        .journal()
        .into_iter()
        .filter(|e| e.service == acs_emulator::Service::Ecs)
        .collect();
    assert!(!ecs.is_empty());
    for call in &ecs {
        assert_ne!(
            call.access_key_id, FC_KEY_ID,
            "{} signed with the function's key",
            call.action
        );
        assert!(
            call.access_key_id.starts_with("STS."),
            "{}",
            call.access_key_id
        );
        assert_eq!(call.http_status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_account_header_fc_account_id_still_tells_a_member_account_apart() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[("FC_ACCOUNT_ID", FUNCTION_ACCOUNT)],
    );
    let request = function.request_with(
        json!([resource_in(MEMBER_ACCOUNT, REGION, "sg-member-ssh")]).to_string(),
        &[("x-fc-account-id", "")],
    );
    let answer = function.send(request).await;
    assert_eq!(answer.status_of("sg-member-ssh"), "failed");
    assert!(answer
        .reason_of("sg-member-ssh")
        .contains("CROSS_ACCOUNT_ROLE_NAME"));
    assert!(emulator.journal().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_assumed_fails_the_group_naming_the_role_and_the_error() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[("CROSS_ACCOUNT_ROLE_NAME", "no-such-role")],
    );
    let answer = function
        .invoke(&json!([resource_in(
            MEMBER_ACCOUNT,
            REGION,
            "sg-member-ssh"
        )]))
        .await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-member-ssh"), "failed");
    let reason = answer.reason_of("sg-member-ssh");
    assert!(
        reason.contains(&format!("acs:ram::{MEMBER_ACCOUNT}:role/no-such-role"))
            && reason.contains("EntityNotExist.Role"),
        "{reason}"
    );
    let assume = &calls(&emulator, "AssumeRole")[0];
    assert_eq!(
        answer.ids("sg-member-ssh", "apiRequestIds"),
        std::slice::from_ref(&assume.request_id)
    );
    assert_eq!(
        emulator.journal().len(),
        1,
        "nothing after the failed AssumeRole"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accounts_group_without_a_role_fails_telling_what_to_set() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&json!([resource_in(
            MEMBER_ACCOUNT,
            REGION,
            "sg-member-ssh"
        )]))
        .await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-member-ssh"), "failed");
    assert!(answer
        .reason_of("sg-member-ssh")
        .contains("CROSS_ACCOUNT_ROLE_NAME"));
    assert!(emulator.journal().is_empty());
    assert_eq!(live_ids(&emulator, "sg-member-ssh"), ["sgr-member-ssh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_aggregator_the_group_is_read_through_it_for_its_account() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[
            ("CONFIG_AGGREGATOR_ID", AGGREGATOR_ID),
            ("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME),
        ],
    );
    let answer = function
        .invoke(&json!([resource_in(
            MEMBER_ACCOUNT,
            REGION,
            "sg-member-ssh"
        )]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-member-ssh"), "remediated");
    assert!(calls(&emulator, "GetDiscoveredResource").is_empty());
    let reads = calls(&emulator, "GetAggregateDiscoveredResource");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].params["AggregatorId"], AGGREGATOR_ID);
    assert_eq!(reads[0].params["ResourceAccountId"], MEMBER_ACCOUNT);
    assert_eq!(reads[0].params["ResourceId"], "sg-member-ssh");
    assert_eq!(reads[0].http_status, 200);
}

// ---------------------------------------------------------------------------------------------
// Dry run
// ---------------------------------------------------------------------------------------------

/// A dry-run result for sg-ssh-world: would_remediate, the rules listed, nothing changed.
fn assert_dry_run(answer: &Answer, emulator: &Emulator) {
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["mode"], "dry-run");
    assert_eq!(answer.body["summary"]["wouldRemediate"], 1);
    let sg = "sg-ssh-world";
    assert_eq!(answer.status_of(sg), "would_remediate");
    assert_eq!(answer.ids(sg, "wouldRevokeRuleIds"), ["sgr-ssh-world"]);
    assert!(answer.ids(sg, "revokedRuleIds").is_empty());
    let rules = answer.result(sg)["wouldRevokeRules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["SecurityGroupRuleId"], "sgr-ssh-world");
    assert_eq!(rules[0]["PortRange"], "22/22");
    assert_eq!(rules[0]["SourceCidrIp"], "0.0.0.0/0");
    assert_eq!(
        live_ids(emulator, sg),
        ["sgr-ssh-world", "sgr-ssh-world-https"]
    );
    assert!(calls(emulator, "RevokeSecurityGroup").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_by_environment_changes_nothing_and_lists_what_would_go() {
    let (answer, emulator) =
        remediate_with("sg-ssh-world", &[("REMEDIATION_MODE", "dry-run")]).await;
    assert_dry_run(&answer, &emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_by_event_applies_to_that_invocation_only() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&json!({"resources": [resource("sg-ssh-world")], "dryRun": true}))
        .await;
    assert_dry_run(&answer, &emulator);

    let next = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(next.body["mode"], "enforce");
    assert_eq!(next.status_of("sg-ssh-world"), "remediated");
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), ["sgr-ssh-world-https"]);
}

// ---------------------------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_event_puts_the_revoked_rules_back_with_new_ids() {
    let emulator = groups().await;
    let before = emulator.live_rules("sg-restore").unwrap();
    let function = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
    let answer = function.invoke(&event(&["sg-restore"])).await;
    assert_eq!(
        answer.status_of("sg-restore"),
        "remediated",
        "{:#}",
        answer.body
    );
    assert_eq!(live_ids(&emulator, "sg-restore"), ["sgr-restore-https"]);

    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-restore",
        "rules": answer.result("sg-restore")["revokedRules"],
    });
    let restored = function.invoke(&restore).await;
    assert!(restored.is_success(), "{:#}", restored.body);
    assert_eq!(restored.body["status"], "restored");

    let after = emulator.live_rules("sg-restore").unwrap();
    assert_eq!(after.len(), 3);
    let new_ids = strings(&restored.body["newRuleIds"]);
    assert_eq!(new_ids.len(), 2);
    for old in ["sgr-restore-ssh", "sgr-restore-rdp"] {
        assert!(
            !new_ids.iter().any(|n| n == old),
            "a restored rule gets a new id"
        );
        let original = before
            .iter()
            .find(|r| r["SecurityGroupRuleId"] == old)
            .unwrap();
        let back = after
            .iter()
            .find(|r| {
                r["PortRange"] == original["PortRange"]
                    && r["SourceCidrIp"] == original["SourceCidrIp"]
                    && r["Ipv6SourceCidrIp"] == original["Ipv6SourceCidrIp"]
            })
            .unwrap_or_else(|| panic!("{old} is back"));
        let new_id = back["SecurityGroupRuleId"].as_str().unwrap();
        assert!(new_ids.iter().any(|n| n == new_id));
        for key in ["IpProtocol", "Policy", "Priority", "NicType", "Description"] {
            assert_eq!(back[key], original[key], "{old}: {key}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_event_is_refused_unless_allow_restore_is_set() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-rdp-world",
        "rules": [{"Direction": "ingress", "Policy": "accept", "Priority": "1", "IpProtocol": "TCP",
                   "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}],
    });
    let answer = function.invoke(&restore).await;
    assert!(answer.error("RestoreDisabled").contains("ALLOW_RESTORE"));
    assert!(emulator.journal().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------------------------

fn ssh_rule(id: &str, port_range: &str) -> Value {
    json!({"SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept", "Priority": "1",
           "IpProtocol": "TCP", "PortRange": port_range, "SourceCidrIp": "0.0.0.0/0",
           "NicType": "intranet", "Description": "generated"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_fifty_risky_rules_are_revoked_in_two_calls_of_100_and_50() {
    let mut world = fixture("groups");
    let rules: Vec<Value> = (0..150)
        .map(|i| ssh_rule(&format!("sgr-bulk{i:03}"), &format!("22/{}", 22 + i)))
        .collect();
    world["securityGroups"].as_array_mut().unwrap().push(json!({
        "accountId": FUNCTION_ACCOUNT, "regionId": REGION, "securityGroupId": "sg-bulk",
        "vpcId": "vpc-bulk", "rules": rules,
    }));
    let emulator = emulator(&world).await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-bulk"])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-bulk"), "remediated");
    assert_eq!(answer.ids("sg-bulk", "revokedRuleIds").len(), 150);
    assert!(live_ids(&emulator, "sg-bulk").is_empty());
    let sizes: Vec<usize> = calls(&emulator, "RevokeSecurityGroup")
        .iter()
        .map(|c| revoked_in(c).len())
        .collect();
    assert_eq!(sizes, [100, 50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_hundred_resource_event_accounts_for_every_resource_exactly_once() {
    let mut world = fixture("groups");
    let groups = world["securityGroups"].as_array_mut().unwrap();
    let mut ids = Vec::new();
    for i in 0..200 {
        let id = format!("sg-fleet{i:03}");
        // Every fourth group has SSH open; the others only serve the web.
        let rule = if i % 4 == 0 {
            ssh_rule(&format!("sgr-fleet{i:03}"), "22/22")
        } else {
            ssh_rule(&format!("sgr-fleet{i:03}"), "443/443")
        };
        groups.push(json!({"accountId": FUNCTION_ACCOUNT, "regionId": REGION,
                           "securityGroupId": id, "vpcId": "vpc-fleet", "rules": [rule]}));
        ids.push(id);
    }
    let emulator = emulator(&world).await;
    let function = Function::start(bootstrap!(), &emulator, &[("MAX_CONCURRENCY", "16")]);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let answer = function.invoke(&event(&refs)).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    let seen: Vec<&str> = answer
        .results()
        .iter()
        .map(|r| r["resourceId"].as_str().unwrap())
        .collect();
    assert_eq!(seen.len(), 200);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 200);
    assert_eq!(answer.body["summary"]["remediated"], 50);
    assert_eq!(answer.body["summary"]["compliant"], 150);
    for (i, id) in ids.iter().enumerate() {
        let expected = if i % 4 == 0 {
            "remediated"
        } else {
            "compliant"
        };
        assert_eq!(answer.status_of(id), expected, "{id}");
    }
    assert_eq!(calls(&emulator, "GetDiscoveredResource").len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_processed_at_most_max_concurrency_at_a_time() {
    // Eight compliant groups, each one round trip (its two reads go out together), every call
    // answered 300 ms after it arrives. Two at a time is four round trips: never fewer (that
    // would be more than two at once), and well under the eight of one at a time.
    const LATENCY: Duration = Duration::from_millis(300);
    let mut world = fixture("groups");
    let groups = world["securityGroups"].as_array_mut().unwrap();
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = format!("sg-paced{i}");
        groups.push(json!({"accountId": FUNCTION_ACCOUNT, "regionId": REGION,
                           "securityGroupId": id, "vpcId": "vpc-paced",
                           "rules": [ssh_rule(&format!("sgr-paced{i}"), "443/443")]}));
        ids.push(id);
    }
    let emulator = emulator(&world).await;
    let function = Function::start(bootstrap!(), &emulator, &[("MAX_CONCURRENCY", "2")]);
    emulator.set_latency(LATENCY);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let started = Instant::now();
    let answer = function.invoke(&event(&refs)).await;
    let took = started.elapsed();
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["summary"]["compliant"], 8);
    assert!(
        took >= 4 * LATENCY,
        "more than two groups at once: {took:?}"
    );
    assert!(
        took < 7 * LATENCY,
        "fewer than two groups at once: {took:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The event
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_entries_are_processed_once() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let mut as_string = resource("sg-rdp-world");
    as_string["accountId"] = json!(FUNCTION_ACCOUNT);
    let pascal = json!({"AccountId": FUNCTION_ACCOUNT, "RegionId": REGION,
                        "ResourceId": "sg-rdp-world", "ResourceType": SECURITY_GROUP});
    let answer = function
        .invoke(&json!([
            resource("sg-rdp-world"),
            as_string,
            pascal,
            resource("sg-web")
        ]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.results().len(), 2);
    assert_eq!(answer.status_of("sg-rdp-world"), "remediated");
    assert_eq!(
        calls_on(&emulator, "GetDiscoveredResource", "sg-rdp-world").len(),
        1
    );
    assert_eq!(
        calls_on(&emulator, "RevokeSecurityGroup", "sg-rdp-world").len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_resource_type_is_skipped_without_any_api_call() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&json!([{"accountId": FUNCTION_ACCOUNT, "regionId": REGION,
                         "resourceId": "i-bp1instance0000000", "resourceType": "ACS::ECS::Instance"}]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("i-bp1instance0000000"), "skipped");
    assert!(answer
        .reason_of("i-bp1instance0000000")
        .contains("unsupported resource type"));
    assert_eq!(
        answer.result("i-bp1instance0000000")["resourceType"],
        "ACS::ECS::Instance"
    );
    assert!(emulator.journal().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_item_fails_while_the_others_are_processed() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&json!([
            {"regionId": REGION, "resourceType": SECURITY_GROUP, "accountId": FUNCTION_ACCOUNT},
            resource("sg-rdp-world"),
        ]))
        .await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.body["summary"]["failed"], 1);
    assert_eq!(answer.body["summary"]["remediated"], 1);
    let bad = &answer.results()[0];
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("resourceId is missing"),
        "{bad}"
    );
    assert_eq!(answer.status_of("sg-rdp-world"), "remediated");
    assert!(live_ids(&emulator, "sg-rdp-world").is_empty());
}

/// Sends `body` and expects a function error whose message contains `says`.
async fn assert_event_refused(body: Vec<u8>, says: &str) {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke_raw(body).await;
    let message = answer.error("InvalidEvent");
    assert!(message.contains(says), "{message:?} should say {says:?}");
    assert!(emulator.journal().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_a_function_error_saying_so() {
    assert_event_refused(b"[{\"resourceId\": ".to_vec(), "not valid JSON").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_body_is_a_function_error_saying_so() {
    assert_event_refused(Vec::new(), "empty").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_utf8_is_a_function_error_saying_so() {
    assert_event_refused(b"[\xff\xfe]".to_vec(), "not UTF-8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_of_resources_is_a_function_error_saying_so() {
    assert_event_refused(b"[]".to_vec(), "names no resource").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_evaluation_event_is_a_function_error_naming_the_wiring_problem() {
    assert_event_refused(
        br#"{"invokingEvent": {"configurationItem": {}}, "resultToken": "x"}"#.to_vec(),
        "remediation",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_without_credentials_fails_each_group_with_a_reason_about_the_role() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let request = function.request_with(
        event(&["sg-ssh-world"]).to_string(),
        &[
            ("x-fc-access-key-id", ""),
            ("x-fc-access-key-secret", ""),
            ("x-fc-security-token", ""),
        ],
    );
    let answer = function.send(request).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    assert!(
        answer.reason_of("sg-ssh-world").contains("role"),
        "{}",
        answer.text
    );
    assert!(emulator.journal().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_groups_api_failure_does_not_stop_the_others_but_makes_a_function_error() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: "User not authorized to operate on the specified resource.".into(),
        })
        .on_group("sg-broken"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&event(&["sg-ssh-world", "sg-broken", "sg-rdp-world"]))
        .await;
    assert!(answer.error("RemediationFailed").contains("sg-broken"));
    assert!(answer.body["requestId"].is_string());
    assert_eq!(answer.body["mode"], "enforce");
    assert_eq!(
        answer.body["summary"],
        json!({"remediated": 2, "compliant": 0, "wouldRemediate": 0, "skipped": 0, "failed": 1})
    );
    assert_eq!(answer.status_of("sg-broken"), "failed");
    let reason = answer.reason_of("sg-broken");
    assert!(reason.contains("Forbidden.RAM"), "{reason}");
    // Both reads were made at the same time and both were refused: Config's RequestId first.
    let failed_config = &calls_on(&emulator, "GetDiscoveredResource", "sg-broken")[0];
    let failed_read = &calls_on(&emulator, "DescribeSecurityGroupAttribute", "sg-broken")[0];
    assert_eq!(
        answer.ids("sg-broken", "apiRequestIds"),
        [
            failed_config.request_id.clone(),
            failed_read.request_id.clone()
        ]
    );
    assert!(
        reason.starts_with("GetDiscoveredResource failed"),
        "{reason}"
    );
    assert_eq!(live_ids(&emulator, "sg-broken"), ["sgr-broken-ssh"]);
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert_eq!(answer.status_of("sg-rdp-world"), "remediated");
    assert!(live_ids(&emulator, "sg-rdp-world").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_refusing_a_group_as_managed_at_revoke_time_skips_it() {
    let (answer, emulator) = remediate("sg-managed-refusal").await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-managed-refusal"), "skipped");
    assert!(answer
        .reason_of("sg-managed-refusal")
        .contains("ResourceManagedByCloudProduct"));
    assert_eq!(
        live_ids(&emulator, "sg-managed-refusal"),
        ["sgr-refused-ssh"]
    );
    assert_eq!(calls(&emulator, "RevokeSecurityGroup").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_vanished_between_describe_and_revoke_does_not_fail_the_group() {
    let emulator = groups().await;
    // Hold the first describe's answer back, and remove one rule while it is held: the function
    // then asks to revoke an id that no longer exists, and ECS fails that whole call.
    emulator.inject(
        Fault::always(FaultKind::Delay { ms: 3000 })
            .on_action("DescribeSecurityGroupAttribute")
            .on_group("sg-vanishing")
            .times(1),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let body = event(&["sg-vanishing"]);
    let pending = function.invoke(&body);
    let meddle = async {
        let start = Instant::now();
        while calls(&emulator, "DescribeSecurityGroupAttribute").is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "describe never came"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut rules = emulator.live_rules("sg-vanishing").unwrap();
        rules.retain(|r| r["SecurityGroupRuleId"] != "sgr-vanish-first");
        emulator.set_live_rules("sg-vanishing", rules);
    };
    let (answer, ()) = tokio::join!(pending, meddle);
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-vanishing"), "remediated");
    assert_eq!(
        answer.ids("sg-vanishing", "revokedRuleIds"),
        ["sgr-vanish-second"]
    );
    assert!(answer
        .reason_of("sg-vanishing")
        .contains("sgr-vanish-first"));
    assert!(live_ids(&emulator, "sg-vanishing").is_empty());
    let revokes = calls(&emulator, "RevokeSecurityGroup");
    assert_eq!(
        revokes[0].code.as_deref(),
        Some("InvalidParam.SecurityGroupRuleId")
    );
    assert_eq!(revoked_in(revokes.last().unwrap()), ["sgr-vanish-second"]);
}

// ---------------------------------------------------------------------------------------------
// The report and the log
// ---------------------------------------------------------------------------------------------

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_has_the_documented_shape() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let request = function.request_with(
        event(&["sg-restore", "sg-shadowed", "sg-stale-narrowed"]).to_string(),
        &[("x-fc-request-id", "1-report-shape")],
    );
    let answer = function.send(request).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(
        keys(&answer.body),
        BTreeSet::from(["requestId", "mode", "summary", "results"])
    );
    assert_eq!(answer.body["requestId"], "1-report-shape");
    assert_eq!(answer.body["mode"], "enforce");
    assert_eq!(
        answer.body["summary"],
        json!({"remediated": 1, "compliant": 2, "wouldRemediate": 0, "skipped": 0, "failed": 0})
    );
    let base = [
        "resourceId",
        "regionId",
        "accountId",
        "resourceType",
        "status",
        "reason",
        "revokedRuleIds",
        "revokedRules",
        "apiRequestIds",
    ];
    let with =
        |extra: &[&'static str]| -> BTreeSet<&str> { base.iter().chain(extra).copied().collect() };
    let remediated = answer.result("sg-restore");
    assert_eq!(keys(remediated), with(&[]));
    assert_eq!(remediated["regionId"], REGION);
    assert_eq!(remediated["accountId"], FUNCTION_ACCOUNT);
    assert_eq!(remediated["resourceType"], SECURITY_GROUP);
    assert_eq!(
        keys(answer.result("sg-shadowed")),
        with(&["shadowedRuleIds"])
    );
    assert_eq!(
        keys(answer.result("sg-stale-narrowed")),
        with(&["driftRuleIds"])
    );

    // revokedRules: every attribute of the rule as ECS listed it (empty ones omitted).
    let live_before: Vec<Value> = fixture("groups")["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["securityGroupId"] == "sg-restore")
        .unwrap()["rules"]
        .as_array()
        .unwrap()
        .clone();
    let revoked = remediated["revokedRules"].as_array().unwrap();
    assert_eq!(revoked.len(), 2);
    for rule in revoked {
        let original = live_before
            .iter()
            .find(|r| r["SecurityGroupRuleId"] == rule["SecurityGroupRuleId"])
            .unwrap();
        for (key, value) in original.as_object().unwrap() {
            if value == "" {
                assert!(rule.get(key).is_none(), "{key} is empty, so omitted");
            } else if key == "Policy" || key == "Direction" {
                assert!(rule[key]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(value.as_str().unwrap()));
            } else {
                assert_eq!(&rule[key], value, "{key}");
            }
        }
    }

    // apiRequestIds are the RequestIds the cloud gave for this group's calls, in the order they
    // started: Config's re-fetch, then ECS's calls (the live read went out with the re-fetch,
    // so the emulator may have seen it first).
    let config = calls_on(&emulator, "GetDiscoveredResource", "sg-restore");
    let ecs = emulator
        .journal()
        .into_iter()
        .filter(|e| e.params.get("SecurityGroupId").map(String::as_str) == Some("sg-restore"));
    let mine: Vec<String> = config
        .iter()
        .cloned()
        .chain(ecs)
        .map(|e| e.request_id)
        .collect();
    assert_eq!(mine.len(), 4, "re-fetch, read, revoke, verify");
    assert_eq!(answer.ids("sg-restore", "apiRequestIds"), mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_resource_and_each_revoked_rule_is_one_json_log_line() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&event(&["sg-restore", "sg-web", "sg-managed"]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    let lines = function.finish();

    let per_resource = log_events(&lines, "resource_result");
    let logged: BTreeSet<&str> = per_resource
        .iter()
        .map(|l| l["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(per_resource.len(), 3);
    assert_eq!(
        logged,
        BTreeSet::from(["sg-restore", "sg-web", "sg-managed"])
    );
    for line in &per_resource {
        let id = line["resource_id"].as_str().unwrap();
        let result: Value = serde_json::from_str(line["result"].as_str().unwrap()).unwrap();
        assert_eq!(
            &result,
            answer.result(id),
            "the log line carries the whole result"
        );
        assert_eq!(line["status"], result["status"]);
    }

    let per_rule = log_events(&lines, "rule_revoked");
    assert_eq!(per_rule.len(), 2);
    let revoked = answer.result("sg-restore")["revokedRules"]
        .as_array()
        .unwrap();
    for line in &per_rule {
        assert_eq!(line["resource_id"], "sg-restore");
        assert_eq!(line["region_id"], REGION);
        let rule: Value = serde_json::from_str(line["rule"].as_str().unwrap()).unwrap();
        assert!(
            revoked.contains(&rule),
            "{rule} is one of the revoked rules, in full"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_any_output_or_response() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: format!("echoing the caller's secret {FC_SECRET} and token {FC_TOKEN}"),
        })
        .on_group("sg-broken"),
    );
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[
            ("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME),
            ("RUST_LOG", "debug"),
        ],
    );
    let answer = function
        .invoke(&json!([
            resource("sg-ssh-world"),
            resource("sg-broken"),
            resource_in(MEMBER_ACCOUNT, REGION, "sg-member-ssh"),
        ]))
        .await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-member-ssh"), "remediated");
    let lines = function.finish();
    let everything = format!("{}\n{}", answer.text, lines.join("\n"));
    for secret in [FC_SECRET, FC_TOKEN, "fcRoleSecret", "CAIS"] {
        assert!(!everything.contains(secret), "{secret:?} leaked");
    }
}

/// The live read goes out with Config's re-fetch instead of after it: with Config's answer held
/// past the invocation's deadline, ECS has still been read; the group, which Config never
/// vouched for, fails untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_read_does_not_wait_for_configs_answer() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Delay { ms: 10_000 })
            .on_action("GetDiscoveredResource")
            .on_group("sg-ssh-world"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let request = function.request_with(
        event(&["sg-ssh-world"]).to_string(),
        &[("x-fc-function-timeout", "4")],
    );
    let answer = function.send(request).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    let read = calls_on(&emulator, "DescribeSecurityGroupAttribute", "sg-ssh-world");
    assert_eq!(read.len(), 1, "read while Config's answer was still due");
    assert_eq!(
        answer.ids("sg-ssh-world", "apiRequestIds"),
        [read[0].request_id.clone()],
        "Config never answered: only ECS's RequestId"
    );
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
    assert_eq!(
        live_ids(&emulator, "sg-ssh-world"),
        ["sgr-ssh-world", "sgr-ssh-world-https"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_left_unanswered_at_the_deadline_keeps_the_rules_for_a_restore() {
    let emulator = groups().await;
    // ECS applies the revoke but answers after the function's time is up, so nothing can be
    // verified: the group is failed, and the rules that may be gone are reported in full.
    emulator.inject(
        Fault::always(FaultKind::Delay { ms: 10_000 })
            .on_action("RevokeSecurityGroup")
            .on_group("sg-ssh-world"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let request = function.request_with(
        event(&["sg-ssh-world"]).to_string(),
        &[("x-fc-function-timeout", "4")],
    );
    let answer = function.send(request).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    assert!(answer.ids("sg-ssh-world", "revokedRuleIds").is_empty());
    let unverified = answer.result("sg-ssh-world")["unverifiedRules"]
        .as_array()
        .expect("unverifiedRules")
        .clone();
    assert_eq!(unverified.len(), 1);
    assert_eq!(unverified[0]["SecurityGroupRuleId"], "sgr-ssh-world");
    assert_eq!(unverified[0]["PortRange"], "22/22");
    assert_eq!(unverified[0]["SourceCidrIp"], "0.0.0.0/0");
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.contains("sgr-ssh-world") && reason.contains("unverifiedRules"),
        "{reason}"
    );
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), ["sgr-ssh-world-https"]);

    let lines = function.finish();
    let logged = log_events(&lines, "rule_revoke_unverified");
    assert_eq!(logged.len(), 1);
    let rule: Value = serde_json::from_str(logged[0]["rule"].as_str().unwrap()).unwrap();
    assert_eq!(rule, unverified[0]);
}

// ---------------------------------------------------------------------------------------------
// The demo's scenario (examples/demo.rs, `make demo`)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_scenario_succeeds_with_the_outcomes_it_shows() {
    let world = read_fixture("demo.json").unwrap();
    let emulator = emulator(&world).await;
    let mut function = Function::start(bootstrap!(), &emulator, &[]);
    let mut resources: Vec<Value> = world["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| resource(g["securityGroupId"].as_str().unwrap()))
        .collect();
    resources.push(json!({"accountId": FUNCTION_ACCOUNT, "regionId": REGION,
                          "resourceId": "i-bp1e2r4t6y8u0i2o4p6a", "resourceType": "ACS::ECS::Instance"}));
    // The demo fixture has its own function-role key (see examples/demo.rs).
    function.set_caller(Caller::new(
        key_of(&world, FUNCTION_ACCOUNT, 0).expect("the demo's function role"),
    ));
    let answer = function.invoke(&Value::Array(resources)).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    let expected = [
        ("sg-bp1fg655nh68xyz9i0d1", "remediated"), // web-prod: SSH over IPv4 and IPv6
        ("sg-bp1c5ov3mfe9k2lz8t4q", "remediated"), // legacy-bastion: 1/65535 and RDP/UDP
        ("sg-bp1h2xw8cq7r4n6m0k9j", "compliant"),  // windows-jump: shadowed by a Drop
        ("sg-bp1a9d3k5l7z1x3c5v7b", "compliant"),  // admin-access: prefix list, review
        ("sg-bp1n5m7q9w1e3r5t7y9u", "skipped"),    // nlb-managed
        ("sg-bp1j9k1l3z5x7c9v1b3n", "skipped"),    // partner-sftp: exempt by tag
        ("sg-bp1o3p5a7s9d1f3g5h7j", "compliant"),  // batch-workers: stale snapshot
        ("sg-bp1q1w3e5r7t9y1u3i5o", "skipped"),    // old-staging: deleted
        ("i-bp1e2r4t6y8u0i2o4p6a", "skipped"),     // not a security group
    ];
    for (id, status) in expected {
        assert_eq!(answer.status_of(id), status, "{id}");
    }
    assert_eq!(
        answer.ids("sg-bp1fg655nh68xyz9i0d1", "revokedRuleIds"),
        ["sgr-bp1dyfyd0b2r8xk1wq5e", "sgr-bp1mq8w2e4r6t8y0u1i3o"]
    );
    assert_eq!(
        answer.ids("sg-bp1o3p5a7s9d1f3g5h7j", "driftRuleIds"),
        ["sgr-bp1k9l1z3x5c7v9b1n3m5"]
    );
}

// ---------------------------------------------------------------------------------------------
// Documentation
// ---------------------------------------------------------------------------------------------

#[test]
fn docs_quote_the_default_query_verbatim() {
    for (name, docs) in [
        (
            "docs/remediation.md",
            include_str!("../docs/remediation.md"),
        ),
        ("README.md", include_str!("../README.md")),
    ] {
        assert!(
            docs.contains(sg_remediator::select::DEFAULT_QUERY),
            "{name} must quote select::DEFAULT_QUERY as it is in the code"
        );
    }
}

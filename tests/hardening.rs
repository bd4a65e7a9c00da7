//! Whoever can invoke the function can only make it more careful: each attack a
//! caller could try, through the real `bootstrap` process and the emulator.
//!
//! - restores: only rules this deployment revoked and sealed, exactly as they were, where they
//!   were; never in a dry run, never on an exempt group, never adding a rule already there;
//! - dry run is one-way; a custom selector cannot fail open or reach private sources;
//! - one invocation's work is bounded whatever the body; HTTP edges (half-sent requests,
//!   forged request ids);
//! - credentials: cached role credentials need the caller's whole credentials, and nothing the
//!   cloud echoes back leaks a secret.

use std::io::Write;
use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fault, FaultKind};
use serde_json::{json, Value};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Answer, Function};

// ---------------------------------------------------------------------------------------------
// Sealed restores
// ---------------------------------------------------------------------------------------------

/// Remediates sg-restore (two world-open rules revoked) and returns the function, the emulator,
/// the report's revokedRules and the live rules before the remediation.
async fn revoked_restore_group(env: &[(&str, &str)]) -> (Function, Emulator, Value, Vec<Value>) {
    let emulator = groups().await;
    let before = emulator.live_rules("sg-restore").unwrap();
    let mut all: Vec<(&str, &str)> = RESTORE_ENV.to_vec();
    all.extend_from_slice(env);
    let function = Function::start(bootstrap!(), &emulator, &all);
    let answer = function.invoke(&event(&["sg-restore"])).await;
    assert_eq!(
        answer.status_of("sg-restore"),
        "remediated",
        "{:#}",
        answer.body
    );
    let revoked = answer.result("sg-restore")["revokedRules"].clone();
    (function, emulator, revoked, before)
}

fn restore_event(sg: &str, rules: Value) -> Value {
    json!({"action": "restore", "regionId": REGION, "resourceId": sg, "rules": rules})
}

/// Asserts a restore was refused before any change: a function error listing `refused`
/// entries, no AuthorizeSecurityGroup call, the group's live rules unchanged.
async fn assert_refused(function: &Function, emulator: &Emulator, restore: Value, refused: usize) {
    let sg = restore["resourceId"].as_str().unwrap().to_string();
    let live = emulator.live_rules(&sg);
    emulator.clear_journal();
    let answer = function.invoke(&restore).await;
    assert!(
        answer.is_function_error(),
        "restore of {:#} answered {:#}",
        restore["rules"],
        answer.body
    );
    assert_eq!(answer.body["errorType"], "RestoreFailed");
    assert_eq!(answer.body["status"], "failed");
    assert_eq!(
        answer.body["refusedRules"].as_array().map(Vec::len),
        Some(refused),
        "{:#}",
        answer.body
    );
    assert!(answer.body["restoredRules"].as_array().unwrap().is_empty());
    assert!(
        emulator.journal().is_empty(),
        "a refused restore makes no call: {:?}",
        emulator.journal()
    );
    assert_eq!(emulator.live_rules(&sg), live, "nothing was added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revoked_rule_carries_a_seal() {
    let (_f, _e, revoked, _) = revoked_restore_group(&[]).await;
    let rules = revoked.as_array().unwrap();
    assert_eq!(rules.len(), 2);
    for r in rules {
        let seal = r["Seal"].as_str().expect("a Seal on each revoked rule");
        assert!(seal.starts_with("v1."), "{seal}");
        assert!(r["PortRange"].is_string(), "the rule's attributes are kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_report_restores_and_a_second_restore_adds_nothing_twice() {
    let (function, emulator, revoked, before) = revoked_restore_group(&[]).await;
    let answer = function
        .invoke(&restore_event("sg-restore", revoked.clone()))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["status"], "restored");
    assert_eq!(answer.body["restoredRules"].as_array().unwrap().len(), 2);
    assert_eq!(
        emulator.live_rules("sg-restore").unwrap().len(),
        before.len()
    );

    emulator.clear_journal();
    let again = function.invoke(&restore_event("sg-restore", revoked)).await;
    assert!(again.is_success(), "{:#}", again.body);
    assert_eq!(again.body["status"], "restored");
    assert!(again.body["restoredRules"].as_array().unwrap().is_empty());
    assert_eq!(
        again.body["alreadyPresentRules"].as_array().unwrap().len(),
        2
    );
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert_eq!(
        emulator.live_rules("sg-restore").unwrap().len(),
        before.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_rule_removed_again_can_be_restored_again_within_restore_max_age() {
    // What the README promises, no more: a seal proves where a rule was, not that it was
    // restored once.
    let (function, emulator, revoked, before) = revoked_restore_group(&[]).await;
    let first = function
        .invoke(&restore_event("sg-restore", revoked.clone()))
        .await;
    assert_eq!(first.body["status"], "restored", "{:#}", first.body);
    let again = function.invoke(&event(&["sg-restore"])).await;
    assert_eq!(
        again.status_of("sg-restore"),
        "remediated",
        "{:#}",
        again.body
    );
    let second = function.invoke(&restore_event("sg-restore", revoked)).await;
    assert_eq!(second.body["status"], "restored", "{:#}", second.body);
    assert_eq!(second.body["restoredRules"].as_array().unwrap().len(), 2);
    assert_eq!(
        emulator.live_rules("sg-restore").unwrap().len(),
        before.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_written_rule_without_a_seal_is_refused_and_opens_nothing() {
    let (function, emulator, _, _) = revoked_restore_group(&[]).await;
    let made_up = json!([
        {"Direction": "ingress", "Policy": "accept", "Priority": "1", "IpProtocol": "ALL",
         "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"},
        {"Direction": "ingress", "Policy": "accept", "Priority": "1", "IpProtocol": "TCP",
         "PortRange": "1/65535", "Ipv6SourceCidrIp": "::/0"},
        {"Direction": "ingress", "Policy": "accept", "Priority": "1", "IpProtocol": "TCP",
         "PortRange": "22/22", "SourceGroupId": "sg-attacker", "SourceGroupOwnerAccount": MEMBER_ACCOUNT},
    ]);
    assert_refused(
        &function,
        &emulator,
        restore_event("sg-ssh-world", made_up),
        3,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_rule_with_an_altered_attribute_is_refused() {
    let (function, emulator, revoked, _) = revoked_restore_group(&[]).await;
    for (key, value) in [
        ("PortRange", json!("1/65535")),
        ("IpProtocol", json!("ALL")),
        ("Priority", json!("100")),
        ("SourceCidrIp", json!("1.2.3.4/32")),
        ("Policy", json!("drop")),
    ] {
        let mut altered = revoked.clone();
        altered[0][key] = value;
        assert_refused(
            &function,
            &emulator,
            restore_event("sg-restore", altered),
            1,
        )
        .await;
    }
    // A seal moved onto another rule.
    let mut swapped = revoked.clone();
    let seal = swapped[1]["Seal"].clone();
    swapped[0]["Seal"] = seal;
    assert_refused(
        &function,
        &emulator,
        restore_event("sg-restore", swapped),
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_rules_sent_to_another_group_region_or_account_are_refused() {
    let (function, emulator, revoked, _) = revoked_restore_group(&[]).await;
    assert_refused(
        &function,
        &emulator,
        restore_event("sg-ssh-world", revoked.clone()),
        2,
    )
    .await;
    let mut other_region = restore_event("sg-singapore", revoked.clone());
    other_region["regionId"] = json!("ap-southeast-1");
    assert_refused(&function, &emulator, other_region, 2).await;
    let mut other_account = restore_event("sg-restore", revoked);
    other_account["accountId"] = json!(MEMBER_ACCOUNT);
    assert_refused(&function, &emulator, other_account, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_older_than_restore_max_age_is_refused() {
    let (function, emulator, revoked, _) =
        revoked_restore_group(&[("RESTORE_MAX_AGE", "1s")]).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let sg = "sg-restore";
    let live = emulator.live_rules(sg);
    let answer = function.invoke(&restore_event(sg, revoked)).await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    let reason = answer.body["refusedRules"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("older than RESTORE_MAX_AGE (1s)"),
        "{reason}"
    );
    assert!(!reason.contains("day"), "{reason}");
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert_eq!(emulator.live_rules(sg), live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_in_a_dry_run_event_or_deployment_reports_would_restore_and_changes_nothing() {
    let (function, emulator, revoked, _) = revoked_restore_group(&[]).await;
    let live = emulator.live_rules("sg-restore");
    let mut dry = restore_event("sg-restore", revoked.clone());
    dry["dryRun"] = json!(true);
    let answer = function.invoke(&dry).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["status"], "would_restore");
    assert_eq!(answer.body["mode"], "dry-run");
    assert_eq!(
        answer.body["wouldRestoreRules"].as_array().unwrap().len(),
        2
    );
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert_eq!(emulator.live_rules("sg-restore"), live);

    // The same genuine seals, on a dry-run deployment with the same key; the event says
    // dryRun false, which cannot switch the dry run off.
    let mut env: Vec<(&str, &str)> = RESTORE_ENV.to_vec();
    env.push(("REMEDIATION_MODE", "dry-run"));
    let dry_deployment = Function::start(bootstrap!(), &emulator, &env);
    let mut enforce = restore_event("sg-restore", revoked);
    enforce["dryRun"] = json!(false);
    let answer = dry_deployment.invoke(&enforce).await;
    assert_eq!(answer.body["status"], "would_restore", "{:#}", answer.body);
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert_eq!(emulator.live_rules("sg-restore"), live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_on_an_exempt_group_changes_nothing() {
    let emulator = groups().await;
    let mut env: Vec<(&str, &str)> = RESTORE_ENV.to_vec();
    // Case differs from the event's id: exemptions are case-insensitive.
    env.push(("EXEMPT_SECURITY_GROUP_IDS", "SG-RESTORE"));
    let exempting = Function::start(bootstrap!(), &emulator, &env);
    let (_, _, revoked, _) = {
        // Revoke with a deployment that does not exempt the group, same key.
        let f = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
        let a = f.invoke(&event(&["sg-restore"])).await;
        assert_eq!(a.status_of("sg-restore"), "remediated", "{:#}", a.body);
        ((), (), a.result("sg-restore")["revokedRules"].clone(), ())
    };
    let live = emulator.live_rules("sg-restore");
    emulator.clear_journal();
    let answer = exempting
        .invoke(&restore_event("sg-restore", revoked))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["status"], "skipped");
    assert!(answer.body["reason"].as_str().unwrap().contains("exempt"));
    assert!(emulator.journal().is_empty());
    assert_eq!(emulator.live_rules("sg-restore"), live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_on_a_group_exempt_by_tag_changes_nothing() {
    // Genuine seals from one cloud...
    let (_f, first, revoked, _) = revoked_restore_group(&[]).await;
    // ...presented where the same group (now without those rules) has since been tagged exempt.
    let mut world = fixture("groups");
    for g in world["securityGroups"].as_array_mut().unwrap() {
        if g["securityGroupId"] == "sg-restore" {
            g["rules"] = Value::Array(first.live_rules("sg-restore").unwrap());
            g["tags"] = json!({"sg-remediator:exempt": "true"});
        }
    }
    let emulator = emulator(&world).await;
    let function = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
    let live = emulator.live_rules("sg-restore");
    let answer = function.invoke(&restore_event("sg-restore", revoked)).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["status"], "skipped");
    assert!(answer.body["reason"]
        .as_str()
        .unwrap()
        .contains("exempt: tagged"));
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert_eq!(emulator.live_rules("sg-restore"), live);
}

// ---------------------------------------------------------------------------------------------
// Dry run is one-way; exemptions ignore case
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_cannot_switch_a_dry_run_deployment_to_enforce() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[("REMEDIATION_MODE", "dry-run")]);
    let answer = function
        .invoke(&json!({"resources": [resource("sg-ssh-world")], "dryRun": false}))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["mode"], "dry-run");
    assert_eq!(answer.status_of("sg-ssh-world"), "would_remediate");
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
    assert_eq!(
        live_ids(&emulator, "sg-ssh-world"),
        ["sgr-ssh-world", "sgr-ssh-world-https"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exempt_id_in_another_case_still_exempts_the_group() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[("EXEMPT_SECURITY_GROUP_IDS", "SG-SSH-World")],
    );
    let answer = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "skipped",
        "{:#}",
        answer.body
    );
    assert!(emulator.journal().is_empty());
}

/// Config's answer for `sg-ssh-world` (its world-open SSH rule included), as if it were in
/// `region` and `account`.
fn config_answer_for_ssh_world(region: &str, account: &str) -> String {
    let configuration = json!({"SecurityGroupId": "sg-ssh-world", "VpcId": "vpc-1",
        "RegionId": region, "Permissions": {"Permission": [{"SecurityGroupRuleId": "sgr-ssh-world",
        "Direction": "ingress", "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP",
        "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}]}});
    json!({"RequestId": "5E3B1C2A-0000-4000-8000-00000000C0F1", "DiscoveredResourceDetail": {
        "AccountId": account.parse::<u64>().unwrap(), "Region": region,
        "ResourceId": "sg-ssh-world", "ResourceType": "ACS::ECS::SecurityGroup",
        "ResourceDeleted": 1, "Tags": "{}", "Configuration": configuration.to_string()}})
    .to_string()
}

async fn remediate_with_config_answering(region: &str, account: &str) -> (Answer, Emulator) {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Answer {
            body: config_answer_for_ssh_world(region, account),
        })
        .on_action("GetDiscoveredResource"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-ssh-world"])).await;
    (answer, emulator)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_answer_for_the_asked_region_and_account_is_acted_on() {
    let (answer, emulator) = remediate_with_config_answering(REGION, FUNCTION_ACCOUNT).await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "remediated",
        "{:#}",
        answer.body
    );
    assert_eq!(calls(&emulator, "RevokeSecurityGroup").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_answer_for_another_region_fails_the_group_and_revokes_nothing() {
    let (answer, emulator) = remediate_with_config_answering("cn-beijing", FUNCTION_ACCOUNT).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.contains("cn-beijing") && reason.contains(REGION),
        "{reason}"
    );
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_answer_for_another_account_fails_the_group_and_revokes_nothing() {
    let (answer, emulator) = remediate_with_config_answering(REGION, "9999888877776666").await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    assert!(answer.reason_of("sg-ssh-world").contains("account"));
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Selector guard rails
// ---------------------------------------------------------------------------------------------

/// Starts bootstrap with `env` and expects it to exit non-zero at once; returns its stderr.
fn refused_at_start(env: &[(&str, &str)]) -> String {
    let mut child = bootstrap!()
        .envs(env)
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bootstrap runs");
    let status = sg_test_kit::wait_with_patience(&mut child);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "started anyway; stderr {stderr}");
    stderr
}

#[test]
fn a_selector_with_a_field_name_typo_stops_the_function_at_start() {
    let typo = "Permissions[?direction == 'ingress' && Policy == 'accept' \
                && is_world(SourceCidrIp) && opens_risky_port(PortRange)].SecurityGroupRuleId";
    let stderr = refused_at_start(&[("RULE_SELECTOR", typo)]);
    assert!(stderr.starts_with("error: RULE_SELECTOR"), "{stderr}");
    assert!(
        stderr.contains("does not select sgr-guard-world"),
        "{stderr}"
    );
}

#[test]
fn a_selector_nested_sixty_thousand_parentheses_deep_stops_the_function_with_a_clear_error() {
    for deep in [
        format!("{}Permissions{}", "(".repeat(60_000), ")".repeat(60_000)),
        format!("{}Permissions{}", "(".repeat(3_000), ")".repeat(3_000)),
    ] {
        let stderr = refused_at_start(&[("RULE_SELECTOR", deep.as_str())]);
        assert!(stderr.starts_with("error: RULE_SELECTOR: "), "{stderr}");
        assert!(!stderr.contains("overflow"), "{stderr}");
    }
}

#[test]
fn a_broad_selector_stops_the_function_at_start() {
    let broad = "Permissions[?Direction == 'ingress'].SecurityGroupRuleId";
    let stderr = refused_at_start(&[("RULE_SELECTOR", broad)]);
    assert!(stderr.contains("RULE_SELECTOR"), "{stderr}");
    assert!(stderr.contains("private"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_that_names_private_source_rules_leaves_them_alone() {
    // Passes the start-up self-test (the sample's private rules have no description), then
    // names every rule of sg-private by its description.
    let sneaky = "Permissions[?(is_world(SourceCidrIp) && opens_risky_port(PortRange)) \
                  || starts_with(Description, 'ssh') || starts_with(Description, 'rdp') \
                  || Description == 'lab'].SecurityGroupRuleId";
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[("RULE_SELECTOR", sneaky)]);
    let answer = function
        .invoke(&event(&["sg-private", "sg-ssh-world"]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-private"), "compliant");
    assert_eq!(
        answer.ids("sg-private", "reviewRuleIds"),
        ["sgr-private-10", "sgr-private-172", "sgr-private-192"]
    );
    assert!(answer
        .reason_of("sg-private")
        .contains("source is not 0.0.0.0/0 or ::/0"));
    assert_eq!(
        live_ids(&emulator, "sg-private"),
        ["sgr-private-10", "sgr-private-172", "sgr-private-192"]
    );
    assert!(calls_on(&emulator, "RevokeSecurityGroup", "sg-private").is_empty());
    // The world-open SSH rule is still revoked.
    assert_eq!(
        answer.ids("sg-ssh-world", "revokedRuleIds"),
        ["sgr-ssh-world"]
    );
}

/// sg-world-mix: world-open SSH, HTTP, HTTPS, 8080-8443, DNS over UDP, ICMP and GRE (sg-web's
/// rules with new ids, plus the rest).
async fn world_mix_group() -> Emulator {
    let mut world = fixture("groups");
    let groups = world["securityGroups"].as_array_mut().unwrap();
    let web = groups
        .iter()
        .find(|g| g["securityGroupId"] == "sg-web")
        .unwrap()
        .clone();
    let mut mix = web.clone();
    mix["securityGroupId"] = json!("sg-world-mix");
    let template = web["rules"][0].clone();
    let rules: Vec<Value> = [
        ("sgr-mix-ssh", "TCP", "22/22"),
        ("sgr-mix-http", "TCP", "80/80"),
        ("sgr-mix-https", "TCP", "443/443"),
        ("sgr-mix-alt", "TCP", "8080/8443"),
        ("sgr-mix-dns", "UDP", "53/53"),
        ("sgr-mix-icmp", "ICMP", "-1/-1"),
        ("sgr-mix-gre", "GRE", "-1/-1"),
    ]
    .into_iter()
    .map(|(id, protocol, range)| {
        let mut rule = template.clone();
        rule["SecurityGroupRuleId"] = json!(id);
        rule["IpProtocol"] = json!(protocol);
        rule["PortRange"] = json!(range);
        rule
    })
    .collect();
    mix["rules"] = json!(rules);
    groups.push(mix);
    emulator(&world).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_broad_on_ports_and_protocols_revokes_only_world_open_risky_ports() {
    let emulator = world_mix_group().await;
    let seed = "Permissions[?SourceCidrIp=='0.0.0.0/0']";
    let function = Function::start(bootstrap!(), &emulator, &[("RULE_SELECTOR", seed)]);
    let answer = function.invoke(&event(&["sg-world-mix"])).await;
    assert_eq!(
        answer.status_of("sg-world-mix"),
        "remediated",
        "{:#}",
        answer.body
    );
    assert_eq!(
        answer.ids("sg-world-mix", "revokedRuleIds"),
        ["sgr-mix-ssh"]
    );
    assert_eq!(
        live_ids(&emulator, "sg-world-mix"),
        [
            "sgr-mix-http",
            "sgr-mix-https",
            "sgr-mix-alt",
            "sgr-mix-dns",
            "sgr-mix-icmp",
            "sgr-mix-gre"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risky_ports_1_to_65535_revokes_every_world_open_tcp_and_udp_rule_but_not_icmp_or_gre() {
    let emulator = world_mix_group().await;
    let seed = "Permissions[?SourceCidrIp=='0.0.0.0/0']";
    let env = [("RULE_SELECTOR", seed), ("RISKY_PORTS", "1-65535")];
    let function = Function::start(bootstrap!(), &emulator, &env);
    let answer = function.invoke(&event(&["sg-world-mix"])).await;
    assert_eq!(
        answer.status_of("sg-world-mix"),
        "remediated",
        "{:#}",
        answer.body
    );
    assert_eq!(
        live_ids(&emulator, "sg-world-mix"),
        ["sgr-mix-icmp", "sgr-mix-gre"]
    );
}

// ---------------------------------------------------------------------------------------------
// Bounded work
// ---------------------------------------------------------------------------------------------

const MIB: usize = 1024 * 1024;

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_bytes(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .expect("a number of kB");
    kb * 1024
}

/// A body of exactly `MAX_EVENT_RESOURCES` (5,000) invalid items, each padded so the whole body
/// is just under 16 MiB: the most invalid items an event may carry, each as large as it can be.
fn sixteen_mib_of_invalid_items() -> String {
    let n = 5_000;
    let per_item = (16 * MIB - 2) / n - 1;
    let filler = per_item - r#"{"regionId":"","resourceId":"","resourceType":"t"}"#.len();
    let (a, b) = (filler / 2, filler - filler / 2);
    let item = format!(
        r#"{{"regionId":"{}","resourceId":"{}","resourceType":"t"}}"#,
        "r".repeat(a),
        "i".repeat(b)
    );
    let mut body = String::with_capacity(16 * MIB);
    body.push('[');
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&item);
    }
    body.push(']');
    assert!(
        body.len() <= 16 * MIB && body.len() > 15 * MIB,
        "{}",
        body.len()
    );
    body
}

/// `[1,1,1,…]`: 16 MiB of the tiniest invalid items.
fn sixteen_mib_of_ones() -> String {
    let mut body = String::with_capacity(16 * MIB);
    body.push('[');
    body.push_str(&"1,".repeat((16 * MIB - 3) / 2));
    body.push_str("1]");
    assert!(body.len() <= 16 * MIB);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixteen_mib_body_of_tiny_invalid_items_stays_within_memory_response_and_log_bounds() {
    let emulator = groups().await;
    let mut function = Function::start(bootstrap!(), &emulator, &[]);
    let pid = function.server().pid();

    // 5,000 invalid items, the most an event may name: each gets its failed result.
    let answer = function.invoke_raw(sixteen_mib_of_invalid_items()).await;
    assert!(answer.is_function_error(), "{}", &answer.text[..200]);
    assert_eq!(answer.body["summary"]["failed"], 5_000);
    assert!(
        answer.text.len() < 4 * MIB,
        "response {} bytes",
        answer.text.len()
    );

    // Millions of tiny items: refused as a whole, at once, before any call.
    let ones = function.invoke_raw(sixteen_mib_of_ones()).await;
    assert!(ones.error("InvalidEvent").contains("MAX_EVENT_RESOURCES"));

    // An object hiding millions of values under a key no event has: skipped, not stored.
    let mut hidden = String::from(r#"{"junk":"#);
    hidden.push_str(&sixteen_mib_of_ones()[..16 * MIB - 200]);
    hidden.push_str(r#"1],"resources":[{"regionId":"cn-hangzhou"}]}"#);
    let answer = function.invoke_raw(hidden).await;
    assert_eq!(answer.body["summary"]["failed"], 1, "{}", answer.text);

    let peak = peak_rss_bytes(pid);
    assert!(emulator.journal().is_empty(), "no API call for junk");
    let lines = function.finish();
    assert!(peak < 64 * MIB, "peak RSS {} MiB", peak / MIB);
    assert!(lines.len() < 10_000, "{} log lines", lines.len());
    let invalid_lines = log_events(&lines, "invalid_items");
    assert_eq!(invalid_lines.len(), 2, "one summary line per invocation");
    assert_eq!(invalid_lines[0]["count"], 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_above_max_event_resources_is_refused_before_any_call() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[("MAX_EVENT_RESOURCES", "2")]);
    let answer = function
        .invoke(&event(&["sg-ssh-world", "sg-rdp-world", "sg-web"]))
        .await;
    assert!(answer.error("InvalidEvent").contains("more than 2 items"));
    assert!(emulator.journal().is_empty());
    let ok = function
        .invoke(&event(&["sg-ssh-world", "sg-rdp-world"]))
        .await;
    assert!(ok.is_success(), "{:#}", ok.body);
}

// ---------------------------------------------------------------------------------------------
// HTTP edges
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_do_not_hold_up_sigterm() {
    let emulator = groups().await;
    let mut function = Function::start(bootstrap!(), &emulator, &[]);
    let addr = function.server().addr;
    // One request stops inside its headers, another inside its body.
    let mut in_head = std::net::TcpStream::connect(addr).unwrap();
    in_head
        .write_all(b"POST /invoke HTTP/1.1\r\nHost: fc\r\nx-fc-request-id: half-head\r\n")
        .unwrap();
    let mut in_body = std::net::TcpStream::connect(addr).unwrap();
    in_body
        .write_all(
            b"POST /invoke HTTP/1.1\r\nHost: fc\r\nx-fc-request-id: half-body\r\n\
              content-length: 1000\r\n\r\n[{\"regionId\":",
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = function.server();
    let start = Instant::now();
    server.signal("TERM");
    let status = tokio::task::block_in_place(|| server.wait());
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0));
    // The target is 1 s; the bound leaves room for a loaded test machine. Before the fix the
    // process never exited while the connections stayed open.
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    drop((in_head, in_body));
}

// The header-read and body-read timeouts themselves are specified in-process, with short
// options, in crates/fc-runtime/tests (waiting out the real 10 s and 30 s here cost CI 40 s);
// `bootstrap` uses the runtime's defaults, which a unit test there pins.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_held_at_once_across_connections_are_capped() {
    // MAX_EVENT_BYTES = 1000: at most 2000 body bytes are held at once.
    let emulator = groups().await;
    let mut function = Function::start(bootstrap!(), &emulator, &[("MAX_EVENT_BYTES", "1000")]);
    let addr = function.server().addr;
    let nearly_full = |id: &str| {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /invoke HTTP/1.1\r\nHost: fc\r\nx-fc-request-id: {id}\r\n\
             content-length: 1000\r\n\r\n"
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&[b' '; 999]).unwrap();
        c
    };
    let a = nearly_full("hold-a");
    let _b = nearly_full("hold-b");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A third, small and complete body finds no room while the two are held...
    let third = tokio::spawn(
        function
            .request_with(r#"[{"regionId":"cn-hangzhou"}]"#, &[])
            .timeout(Duration::from_secs(25))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!third.is_finished(), "answered while the budget was taken");
    // ...and is read as soon as one of them goes away.
    drop(a);
    let answer = third.await.unwrap().expect("answered once room was freed");
    assert_eq!(answer.status(), 404);
    let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(body["summary"]["failed"], 1, "{body:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_that_could_forge_a_log_marker_is_refused() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let forged = "x FC Invoke End RequestId: victim";
    let long = "a".repeat(129);
    for bad in [forged, long.as_str(), "semi;colon", "slash/id"] {
        let answer = function
            .send(function.request_with(
                event(&["sg-ssh-world"]).to_string(),
                &[("x-fc-request-id", bad)],
            ))
            .await;
        assert!(answer.is_function_error(), "{bad:?}: {:#}", answer.body);
        assert_eq!(answer.body["errorType"], "InvalidRequestId", "{bad:?}");
    }
    let fine = "A-z_0.9".to_string() + &"b".repeat(121);
    let answer = function
        .send(function.request_with(
            event(&["sg-web"]).to_string(),
            &[("x-fc-request-id", fine.as_str())],
        ))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert!(emulator
        .journal()
        .iter()
        .all(|e| e.params.get("SecurityGroupId").map(String::as_str) != Some("sg-ssh-world")));
    let lines = function.finish();
    assert!(!lines.iter().any(|l| l.contains("victim")), "{lines:?}");
    assert!(lines
        .iter()
        .any(|l| l == &format!("FC Invoke End RequestId: {fine}")));
}

// ---------------------------------------------------------------------------------------------
// Credentials and secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_role_credentials_are_not_reused_for_a_caller_with_the_wrong_secret() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME)],
    );
    let member = Value::Array(vec![resource_in(MEMBER_ACCOUNT, REGION, "sg-member-ssh")]);
    let first = function.invoke(&member).await;
    assert_eq!(
        first.status_of("sg-member-ssh"),
        "remediated",
        "{:#}",
        first.body
    );
    assert_eq!(calls(&emulator, "AssumeRole").len(), 1);

    // Same key id, wrong secret: the cached role must not be handed out.
    emulator.clear_journal();
    let wrong = "wrong/Secret+Value=0123456789abcdef";
    let answer = function
        .send(function.request_with(member.to_string(), &[("x-fc-access-key-secret", wrong)]))
        .await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-member-ssh"), "failed");
    assert!(answer.reason_of("sg-member-ssh").contains("AssumeRole"));
    let journal = emulator.journal();
    assert!(
        journal.iter().all(|e| e.action == "AssumeRole"),
        "nothing but the refused AssumeRole: {journal:?}"
    );

    // The right secret still gets the cached role (no new AssumeRole).
    emulator.clear_journal();
    let again = function.invoke(&member).await;
    assert!(again.is_success(), "{:#}", again.body);
    assert!(calls(&emulator, "AssumeRole").is_empty());
}

/// Every piece of at least 12 characters of `secret`, as is and with `+` read as a space.
fn pieces(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    for form in [secret.to_string(), secret.replace('+', " ")] {
        let chars: Vec<char> = form.chars().collect();
        for start in 0..=chars.len().saturating_sub(12) {
            out.push(chars[start..start + 12].iter().collect());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_or_secret_the_cloud_echoes_back_altered_never_reaches_the_report_or_logs() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    // URL-decoded with '+' as a space, and truncated, in the request id and the message.
    let spaced_token = FC_TOKEN.replace('+', " ");
    let request_id = format!("echo-{}", &spaced_token[..24]);
    let message = format!(
        "bad token {} near {} secret {}",
        &FC_TOKEN[3..20],
        &spaced_token[5..],
        &FC_SECRET.replace('+', " ")[2..30]
    );
    emulator.inject(
        Fault::always(FaultKind::ErrorWithRequestId {
            status: 400,
            code: "InvalidParameter".into(),
            message,
            request_id,
        })
        .on_action("DescribeSecurityGroupAttribute"),
    );
    let answer = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "failed",
        "{:#}",
        answer.body
    );
    assert!(answer
        .reason_of("sg-ssh-world")
        .contains("InvalidParameter"));
    assert!(
        answer.text.contains("***"),
        "the echo was masked: {}",
        answer.text
    );
    let output = function.finish().join("\n");
    for secret in [FC_TOKEN, FC_SECRET] {
        for piece in pieces(secret) {
            assert!(
                !answer.text.contains(&piece),
                "{piece:?} in {}",
                answer.text
            );
            assert!(!output.contains(&piece), "{piece:?} in the log");
        }
    }
}

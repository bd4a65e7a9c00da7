//! The `sg-remediator` command line end to end: the real binary against the bundled emulator
//! (through the function's endpoint variables), with credentials from each source of the chain.
//! Every run also checks that no secret of the fixture or of STS appears in its output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use acs_emulator::{Emulator, Fault, Fixture};
use acs_openapi::{Client, ClientSettings};
use bytes::Bytes;
use fc_runtime::{Context, Credentials, Event};
use serde_json::{json, Value};
use sg_remediator::config::Config;
use sg_remediator::handler::Handle;
use sg_remediator::remediation::Remediator;
use sg_remediator::select::Selector;

const BIN: &str = env!("CARGO_BIN_EXE_sg-remediator");
const REGION: &str = "cn-hangzhou";
const DEMO: &str = include_str!("fixtures/demo.json");
/// The demo fixture's only key: STS credentials of its account.
const DEMO_KEY: (&str, &str, &str) = (
    "STS.DemoFunctionRoleKey00000",
    "demoSecretNeverPrinted0000000000000000",
    "CAIS+demo/function/role/token==",
);

const WEB_PROD: &str = "sg-bp1fg655nh68xyz9i0d1";
const LEGACY_BASTION: &str = "sg-bp1c5ov3mfe9k2lz8t4q";

/// What one run of the binary left behind.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A scratch home directory (for `~/.aliyun/config.json`) removed at the end.
struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Home {
        let dir = std::env::temp_dir().join(format!(
            "sg-remediator-cli-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(dir.join(".aliyun")).unwrap();
        Home(dir)
    }

    fn with_profiles(tag: &str, profiles: Value) -> Home {
        let home = Home::new(tag);
        std::fs::write(
            home.0.join(".aliyun/config.json"),
            serde_json::to_string_pretty(&profiles).unwrap(),
        )
        .unwrap();
        home
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The emulator's endpoints as the function's variables, with a clean environment otherwise.
fn command(emulator: &Emulator, home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("HOME", home)
        .env("ECS_ENDPOINT", emulator.ecs_endpoint())
        .env("CONFIG_ENDPOINT", emulator.config_endpoint())
        .env("STS_ENDPOINT", emulator.sts_endpoint())
        .args(args)
        .stdin(Stdio::null());
    c
}

/// A test-only `RESTORE_SEAL_KEY` (32 bytes, hex): what makes revoked rules restorable.
const SEAL_KEY: &str = "0d1c2b3a49586776a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e";

fn with_demo_key(c: &mut Command) -> &mut Command {
    c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", DEMO_KEY.0)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEMO_KEY.1)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", DEMO_KEY.2)
}

/// Runs the command off the async runtime (the emulator keeps serving) and checks that none of
/// `secrets` appears in its output.
async fn run(mut c: Command, secrets: &[&str], _emulator: &Emulator) -> Run {
    let output = tokio::task::spawn_blocking(move || c.output().expect("the binary runs"))
        .await
        .unwrap();
    let run = Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret leaked into the output:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

async fn demo_emulator() -> Emulator {
    Emulator::start(Fixture::from_json_str(DEMO).unwrap())
        .await
        .unwrap()
}

fn rule_ids(rules: &[Value]) -> BTreeSet<String> {
    rules
        .iter()
        .filter_map(|r| r["SecurityGroupRuleId"].as_str().map(str::to_string))
        .collect()
}

/// A report's results keyed by group, without the per-call request ids.
fn results_by_group(report: &Value) -> BTreeMap<String, Value> {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("apiRequestIds");
            (r["resourceId"].as_str().unwrap().to_string(), r)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// scan
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_judges_every_live_group_of_the_region_and_exits_2_when_risky_rules_are_found() {
    let emulator = demo_emulator().await;
    let home = Home::new("scan");
    let mut c = command(&emulator, &home.0, &["scan", "--region", REGION]);
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(out
        .stdout
        .contains(&format!("== {WEB_PROD}  web-prod  [WOULD_REMEDIATE]")));
    assert!(out.stdout.contains("WOULD REVOKE (dry run)"));
    assert!(out
        .stdout
        .contains("kept: denied first by a higher-priority Drop rule"));
    assert!(out
        .stdout
        .contains("[SKIPPED]\n   managed by a cloud service"));
    assert!(out
        .stdout
        .contains("Summary: 0 remediated, 3 compliant, 2 would remediate, 2 skipped, 0 failed"));
    assert!(out.stdout.contains(
        "credentials: environment ALIBABA_CLOUD_ACCESS_KEY_ID (with ALIBABA_CLOUD_SECURITY_TOKEN)"
    ));
    // Dry run always: nothing was written, and the function's RAM-free listing call was used.
    let journal = emulator.journal();
    assert!(journal.iter().all(|e| !e.mutated));
    assert!(journal.iter().any(|e| e.action == "DescribeSecurityGroups"));
    assert!(journal.iter().all(|e| e.action != "GetDiscoveredResource"));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signature_version_flag_signs_every_call_as_asked() {
    for (args, signed) in [(vec![], "v3"), (vec!["--signature-version", "v2"], "v2")] {
        let emulator = demo_emulator().await;
        let home = Home::new("sigversion");
        let mut all = vec!["scan", "--region", REGION];
        all.extend(args);
        let mut c = command(&emulator, &home.0, &all);
        with_demo_key(&mut c);
        let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
        assert_eq!(out.status, 2, "{}", out.stderr);
        let journal = emulator.journal();
        assert!(!journal.is_empty());
        assert!(
            journal.iter().all(|e| e.signature_version == signed),
            "{journal:?}"
        );
        emulator.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_version_flag_stops_naming_the_variable() {
    let emulator = demo_emulator().await;
    let home = Home::new("badsig");
    let mut c = command(
        &emulator,
        &home.0,
        &["scan", "--region", REGION, "--signature-version", "v4"],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_ne!(out.status, 0);
    assert_ne!(out.status, 2);
    assert!(out.stderr.contains("SIGNATURE_VERSION"), "{}", out.stderr);
    assert!(emulator.journal().is_empty(), "no call was made");
    emulator.shutdown().await;
}

/// A region with more groups than one DescribeSecurityGroups page (100).
fn many_groups(count: usize, risky_every: usize) -> Fixture {
    let groups: Vec<Value> = (0..count)
        .map(|i| {
            let cidr = if i % risky_every == 0 {
                "0.0.0.0/0"
            } else {
                "10.0.0.0/8"
            };
            json!({
                "accountId": "1234567890123456",
                "regionId": REGION,
                "securityGroupId": format!("sg-page{i:05}"),
                "securityGroupName": format!("group-{i}"),
                "rules": [{"SecurityGroupRuleId": format!("sgr-page{i:05}"), "Direction": "ingress",
                           "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP",
                           "PortRange": "22/22", "SourceCidrIp": cidr}],
            })
        })
        .collect();
    let mut world: Value = serde_json::from_str(DEMO).unwrap();
    world["securityGroups"] = Value::Array(groups);
    Fixture::from_json_str(&world.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_follows_next_token_through_more_groups_than_one_page() {
    let emulator = Emulator::start(many_groups(130, 10)).await.unwrap();
    let home = Home::new("pages");
    let mut c = command(&emulator, &home.0, &["scan", "--region", REGION, "--json"]);
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 2, "{}", out.stderr);
    let report = out.json();
    let results = results_by_group(&report);
    assert_eq!(results.len(), 130, "every group of both pages is judged");
    let would: BTreeSet<&String> = results
        .iter()
        .filter(|(_, r)| r["status"] == "would_remediate")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(would.len(), 13);
    assert!(
        would.contains(&"sg-page00120".to_string()),
        "second page included"
    );
    let listing: Vec<_> = emulator
        .journal()
        .into_iter()
        .filter(|e| e.action == "DescribeSecurityGroups")
        .collect();
    assert_eq!(listing.len(), 2);
    assert_eq!(
        listing[0].params.get("MaxResults").map(String::as_str),
        Some("100")
    );
    assert!(!listing[0].params.contains_key("NextToken"));
    assert!(listing[1].params.contains_key("NextToken"));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_compares_exempt_group_ids_as_the_function_does_whatever_their_case() {
    let emulator = Emulator::start(many_groups(3, 1000)).await.unwrap();
    // Group 0 is world-open on 22; exempted in upper case, it is skipped as the function would.
    let home = Home::new("exempt-case");
    let mut c = command(
        &emulator,
        &home.0,
        &[
            "scan",
            "--region",
            REGION,
            "--json",
            "--exempt-groups",
            "SG-PAGE00000",
        ],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    let report = out.json();
    let results = results_by_group(&report);
    let exempt = &results["sg-page00000"];
    assert_eq!(exempt["status"], "skipped", "{exempt}");
    assert_eq!(
        exempt["reason"],
        "exempt: listed in EXEMPT_SECURITY_GROUP_IDS"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_that_finds_nothing_risky_exits_0() {
    let emulator = Emulator::start(many_groups(3, 1000)).await.unwrap();
    // Group 0 is world-open on 22: the flag narrows the risky ports to 3389 only.
    let home = Home::new("clean");
    let mut c = command(
        &emulator,
        &home.0,
        &["scan", "--region", REGION, "--ports", "3389"],
    );
    with_demo_key(&mut c);
    c.env("RISKY_PORTS", "22");
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(
        out.status, 0,
        "--ports overrides RISKY_PORTS: {}",
        out.stdout
    );
    assert!(out.stdout.contains("kept: opens no risky port (3389)"));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_all_regions_covers_every_region_ecs_lists() {
    let mut world: Value = serde_json::from_str(DEMO).unwrap();
    world["regions"] = json!([REGION, "ap-southeast-1"]);
    world["securityGroups"].as_array_mut().unwrap().push(json!({
        "accountId": "1234567890123456", "regionId": "ap-southeast-1",
        "securityGroupId": "sg-t4nsingapore000001", "securityGroupName": "sg-singapore",
        "rules": [{"SecurityGroupRuleId": "sgr-t4nsingapore000001", "Direction": "ingress",
                   "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP", "PortRange": "22/22",
                   "SourceCidrIp": "0.0.0.0/0"}],
    }));
    let emulator = Emulator::start(Fixture::from_json_str(&world.to_string()).unwrap())
        .await
        .unwrap();
    let home = Home::new("all-regions");
    let mut c = command(&emulator, &home.0, &["scan", "--all-regions", "--json"]);
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 2, "{}", out.stderr);
    let results = results_by_group(&out.json());
    assert_eq!(
        results["sg-t4nsingapore000001"]["status"],
        "would_remediate"
    );
    assert_eq!(results[WEB_PROD]["regionId"], REGION);
    let journal = emulator.journal();
    assert_eq!(journal[0].action, "DescribeRegions");
    let listed: BTreeSet<&str> = journal
        .iter()
        .filter(|e| e.action == "DescribeSecurityGroups")
        .filter_map(|e| e.params.get("RegionId").map(String::as_str))
        .collect();
    assert_eq!(listed, BTreeSet::from([REGION, "ap-southeast-1"]));
    emulator.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// check: the function's own report
// ---------------------------------------------------------------------------------------------

/// The function's engine, in process, invoked as FC would for `ids` in dry run.
async fn function_report(emulator: &Emulator, ids: &[&str]) -> Value {
    let endpoints = [
        ("ECS_ENDPOINT", emulator.ecs_endpoint()),
        ("CONFIG_ENDPOINT", emulator.config_endpoint()),
        ("STS_ENDPOINT", emulator.sts_endpoint()),
    ];
    let config = Config::from_lookup(|name| {
        endpoints
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let selector = Selector::new(config.risky_ports.clone(), None).unwrap();
    let client = Client::new(ClientSettings {
        allow_http: true,
        ..ClientSettings::default()
    })
    .unwrap();
    let remediator = Arc::new(Remediator::new(
        config,
        selector,
        client,
        acs_openapi::credentials::Scrubber::new(),
    ));
    let mut context = Context::new("fc-request", Duration::from_secs(60));
    context.credentials = Some(Credentials::new(
        DEMO_KEY.0,
        DEMO_KEY.1,
        Some(DEMO_KEY.2.to_string()),
    ));
    let resources: Vec<Value> = ids
        .iter()
        .map(|id| json!({"regionId": REGION, "resourceId": id, "resourceType": "ACS::ECS::SecurityGroup"}))
        .collect();
    let payload = json!({"resources": resources, "dryRun": true});
    let event = Event {
        payload: Bytes::from(payload.to_string()),
        context,
    };
    match remediator.handle(event).await {
        Ok(answer) => answer.into_value(),
        Err(d) => Value::Object(d.body().expect("a report").clone()),
    }
}

fn demo_group_ids() -> Vec<String> {
    let world: Value = serde_json::from_str(DEMO).unwrap();
    world["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["securityGroupId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_json_is_the_functions_report_for_the_same_groups() {
    let emulator = demo_emulator().await;
    let home = Home::new("check");
    let ids = demo_group_ids();
    let mut args = vec!["check", "--region", REGION, "--json"];
    args.extend(ids.iter().map(String::as_str));
    let mut c = command(&emulator, &home.0, &args);
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 2, "risky rules found: {}", out.stderr);
    let cli = out.json();
    let ids_ref: Vec<&str> = ids.iter().map(String::as_str).collect();
    let function = function_report(&emulator, &ids_ref).await;
    assert_eq!(cli["mode"], function["mode"]);
    assert_eq!(cli["summary"], function["summary"]);
    assert_eq!(results_by_group(&cli), results_by_group(&function));
    // The report's own fields plus the credential source, never a key.
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let mut expected = keys(&function);
    expected.insert("credentialSource".into());
    assert_eq!(keys(&cli), expected);
    assert!(emulator.journal().iter().all(|e| !e.mutated), "dry run");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_and_check_agree_on_every_group_both_see() {
    let emulator = demo_emulator().await;
    let home = Home::new("agree");
    let mut c = command(&emulator, &home.0, &["scan", "--region", REGION, "--json"]);
    with_demo_key(&mut c);
    let scan = results_by_group(&run(c, &[DEMO_KEY.1], &emulator).await.json());
    let ids = demo_group_ids();
    let ids_ref: Vec<&str> = ids.iter().map(String::as_str).collect();
    let check = results_by_group(&function_report(&emulator, &ids_ref).await);
    assert!(!scan.is_empty());
    for (id, s) in &scan {
        let f = &check[id];
        assert_eq!(s["status"], f["status"], "{id}");
        assert_eq!(s["wouldRevokeRuleIds"], f["wouldRevokeRuleIds"], "{id}");
        assert_eq!(s["wouldRevokeRules"], f["wouldRevokeRules"], "{id}");
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_cannot_be_read_fails_and_exits_2() {
    let emulator = demo_emulator().await;
    let fault: Fault = serde_json::from_value(json!({
        "action": "DescribeSecurityGroupAttribute",
        "securityGroupId": "sg-bp1o3p5a7s9d1f3g5h7j",
        "kind": {"type": "error", "status": 403, "code": "Forbidden.RAM", "message": "denied"}
    }))
    .unwrap();
    emulator.inject(fault);
    let home = Home::new("fail");
    let mut c = command(
        &emulator,
        &home.0,
        &[
            "check",
            "sg-bp1o3p5a7s9d1f3g5h7j",
            "--region",
            REGION,
            "--json",
        ],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1], &emulator).await;
    assert_eq!(out.status, 2);
    assert_eq!(out.json()["summary"]["failed"], 1);
    emulator.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// remediate and restore
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediate_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let emulator = demo_emulator().await;
    let before = emulator.live_rules(WEB_PROD);
    let home = Home::new("refuse");
    let mut c = command(
        &emulator,
        &home.0,
        &["remediate", WEB_PROD, "--region", REGION],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1], &emulator).await;
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("without --yes"), "{}", out.stderr);
    assert!(emulator.journal().is_empty(), "not a single call was made");
    assert_eq!(emulator.live_rules(WEB_PROD), before);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediate_from_a_scan_revokes_verifies_and_restore_puts_the_rules_back() {
    let emulator = demo_emulator().await;
    let home = Home::new("remediate");
    let scan_file = home.file("scan.json");
    let remediation_file = home.file("remediation.json");
    let original = rule_ids(&emulator.live_rules(WEB_PROD).unwrap());

    let mut c = command(
        &emulator,
        &home.0,
        &[
            "scan",
            "--region",
            REGION,
            "--output",
            scan_file.to_str().unwrap(),
        ],
    );
    with_demo_key(&mut c);
    assert_eq!(run(c, &[DEMO_KEY.1], &emulator).await.status, 2);

    let mut c = command(
        &emulator,
        &home.0,
        &[
            "remediate",
            "--from-scan",
            scan_file.to_str().unwrap(),
            "--yes",
            "--output",
            remediation_file.to_str().unwrap(),
        ],
    );
    with_demo_key(&mut c).env("RESTORE_SEAL_KEY", SEAL_KEY);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out
        .stdout
        .contains("REVOKED: open to the internet on a risky port; verified gone"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&remediation_file).unwrap()).unwrap();
    assert_eq!(report["mode"], "enforce");
    assert_eq!(report["summary"]["remediated"], 2);
    let results = results_by_group(&report);
    let revoked: BTreeSet<String> = results[WEB_PROD]["revokedRuleIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(revoked.len(), 2);
    assert!(results[WEB_PROD]["revokedRules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["Seal"].as_str().is_some_and(|s| s.starts_with("v1."))));
    let live = rule_ids(&emulator.live_rules(WEB_PROD).unwrap());
    assert!(revoked.is_disjoint(&live), "revoked rules are gone live");
    assert!(results.contains_key(LEGACY_BASTION));

    let mut c = command(
        &emulator,
        &home.0,
        &[
            "restore",
            "--report",
            remediation_file.to_str().unwrap(),
            "--resource",
            WEB_PROD,
            "--yes",
            "--json",
        ],
    );
    with_demo_key(&mut c).env("RESTORE_SEAL_KEY", SEAL_KEY);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let restored = out.json();
    assert_eq!(restored["summary"]["restored"], 1);
    assert_eq!(restored["restores"][0]["resourceId"], WEB_PROD);
    let new_ids = restored["restores"][0]["newRuleIds"].as_array().unwrap();
    assert_eq!(new_ids.len(), 2);
    assert_eq!(
        emulator.live_rules(WEB_PROD).unwrap().len(),
        original.len(),
        "every revoked rule is back (with a new id)"
    );
    // Only the named group was restored.
    let bastion = rule_ids(&emulator.live_rules(LEGACY_BASTION).unwrap());
    assert_eq!(bastion.len(), 2);

    // Without the key the rules were sealed with, nothing is restored.
    let mut c = command(
        &emulator,
        &home.0,
        &[
            "restore",
            "--report",
            remediation_file.to_str().unwrap(),
            "--resource",
            LEGACY_BASTION,
            "--yes",
        ],
    );
    with_demo_key(&mut c);
    let calls = emulator.journal().len();
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("RESTORE_SEAL_KEY"), "{}", out.stderr);
    assert!(emulator
        .journal()
        .iter()
        .skip(calls)
        .all(|c| c.action != "AuthorizeSecurityGroup"));
    assert_eq!(
        rule_ids(&emulator.live_rules(LEGACY_BASTION).unwrap()).len(),
        2
    );
    emulator.shutdown().await;
}

/// `check` and `remediate` make the function's calls and no others: the table's rules before
/// and after are the engine's own live read and verify read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_remediate_read_a_group_as_the_function_does_and_no_more() {
    let emulator = demo_emulator().await;
    let home = Home::new("same-path");
    let actions = |emulator: &Emulator| -> Vec<String> {
        let mut actions: Vec<String> = emulator.journal().into_iter().map(|e| e.action).collect();
        actions.sort();
        actions
    };
    let mut c = command(&emulator, &home.0, &["check", WEB_PROD, "--region", REGION]);
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1], &emulator).await;
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stdout.contains("WOULD REVOKE (dry run)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        actions(&emulator),
        ["DescribeSecurityGroupAttribute", "GetDiscoveredResource"]
    );
    emulator.clear_journal();
    let mut c = command(
        &emulator,
        &home.0,
        &["remediate", WEB_PROD, "--region", REGION, "--yes"],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1], &emulator).await;
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("REVOKED: open to the internet on a risky port; verified gone"),
        "{}",
        out.stdout
    );
    assert_eq!(
        actions(&emulator),
        [
            "DescribeSecurityGroupAttribute",
            "DescribeSecurityGroupAttribute",
            "GetDiscoveredResource",
            "RevokeSecurityGroup"
        ]
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let emulator = demo_emulator().await;
    let home = Home::new("restore-refuse");
    let file = home.file("report.json");
    std::fs::write(
        &file,
        json!({"results": [{"resourceId": WEB_PROD, "regionId": REGION, "status": "remediated",
               "revokedRules": [{"Direction": "ingress", "Policy": "accept", "Priority": "1",
                                 "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}]}]})
        .to_string(),
    )
    .unwrap();
    let mut c = command(
        &emulator,
        &home.0,
        &["restore", "--report", file.to_str().unwrap()],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1], &emulator).await;
    assert_eq!(out.status, 1);
    assert!(emulator.journal().is_empty());
    emulator.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// credentials: every source, the secret never printed
// ---------------------------------------------------------------------------------------------

const ACCOUNT: &str = "1234567890123456";
const AUDIT_ACCOUNT: &str = "2222333344445555";
const AK: (&str, &str) = (
    "LTAI5tUserKey000000000000",
    "userSecretNeverPrinted000000000000",
);
const STS: (&str, &str, &str) = (
    "STS.UserSessionKey0000000",
    "stsSecretNeverPrinted0000000000000",
    "CAIS+user/session/token==",
);

/// The demo's groups, plus a user's long-term key and STS key in the same account, and a role
/// in an audit account (with one risky group) that trusts the account.
fn credential_fixture() -> Fixture {
    let mut world: Value = serde_json::from_str(DEMO).unwrap();
    world["accounts"][0]["credentials"]
        .as_array_mut()
        .unwrap()
        .extend([
            json!({"accessKeyId": AK.0, "accessKeySecret": AK.1}),
            json!({"accessKeyId": STS.0, "accessKeySecret": STS.1, "securityToken": STS.2}),
        ]);
    world["accounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"accountId": AUDIT_ACCOUNT, "credentials": []}));
    world["roles"] = json!([{"accountId": AUDIT_ACCOUNT, "roleName": "sg-audit",
                              "trustedAccountIds": [ACCOUNT]}]);
    world["securityGroups"].as_array_mut().unwrap().push(json!({
        "accountId": AUDIT_ACCOUNT, "regionId": REGION, "securityGroupId": "sg-auditonly0000001",
        "securityGroupName": "audit-account-group",
        "rules": [{"SecurityGroupRuleId": "sgr-auditonly0000001", "Direction": "ingress",
                   "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP", "PortRange": "3389/3389",
                   "SourceCidrIp": "0.0.0.0/0"}],
    }));
    Fixture::from_json_str(&world.to_string()).unwrap()
}

fn profiles() -> Value {
    json!({"current": "user", "profiles": [
        {"name": "user", "mode": "AK", "access_key_id": AK.0, "access_key_secret": AK.1,
         "region_id": REGION},
        {"name": "session", "mode": "StsToken", "access_key_id": STS.0,
         "access_key_secret": STS.1, "sts_token": STS.2},
        {"name": "audit", "mode": "RamRoleArn", "access_key_id": AK.0, "access_key_secret": AK.1,
         "ram_role_arn": format!("acs:ram::{AUDIT_ACCOUNT}:role/sg-audit"),
         "ram_session_name": "laptop-audit"}
    ]})
}

const ALL_SECRETS: &[&str] = &[AK.1, STS.1, STS.2, DEMO_KEY.1, DEMO_KEY.2];

/// Scans with `setup` applied, returns the credential source and the groups seen.
async fn scan_with(
    emulator: &Emulator,
    home: &Home,
    extra: &[&str],
    setup: impl FnOnce(&mut Command),
) -> (Run, String, BTreeSet<String>) {
    let mut args = vec!["scan", "--region", REGION, "--json"];
    args.extend_from_slice(extra);
    let mut c = command(emulator, &home.0, &args);
    setup(&mut c);
    let out = run(c, ALL_SECRETS, emulator).await;
    if out.status == 1 {
        return (out, String::new(), BTreeSet::new());
    }
    let report = out.json();
    let source = report["credentialSource"].as_str().unwrap().to_string();
    let groups = results_by_group(&report).into_keys().collect();
    (out, source, groups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_each_source_in_order_and_the_secret_never_shows() {
    let emulator = Emulator::start(credential_fixture()).await.unwrap();
    let home = Home::with_profiles("creds", profiles());

    // 1. ALIBABA_CLOUD_* wins over ALICLOUD_* and over the profile file.
    let (_, source, _) = scan_with(&emulator, &home, &[], |c| {
        c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", STS.0)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", STS.1)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS.2)
            .env("ALICLOUD_ACCESS_KEY", AK.0)
            .env("ALICLOUD_SECRET_KEY", AK.1);
    })
    .await;
    assert_eq!(
        source,
        "environment ALIBABA_CLOUD_ACCESS_KEY_ID (with ALIBABA_CLOUD_SECURITY_TOKEN)"
    );
    assert!(emulator.journal().iter().all(|e| e.access_key_id == STS.0));
    emulator.clear_journal();

    // 2. ALICLOUD_* (Terraform's names) before the profile file.
    let (_, source, _) = scan_with(&emulator, &home, &[], |c| {
        c.env("ALICLOUD_ACCESS_KEY", AK.0)
            .env("ALICLOUD_SECRET_KEY", AK.1);
    })
    .await;
    assert_eq!(source, "environment ALICLOUD_ACCESS_KEY");
    assert!(emulator.journal().iter().all(|e| e.access_key_id == AK.0));
    emulator.clear_journal();

    // 3. The profile file: `current` by default…
    let config = home.0.join(".aliyun/config.json");
    let (_, source, _) = scan_with(&emulator, &home, &[], |_| {}).await;
    assert_eq!(
        source,
        format!("profile \"user\" (AK) in {}", config.display())
    );
    assert!(emulator.journal().iter().all(|e| e.access_key_id == AK.0));
    emulator.clear_journal();

    // …ALIBABA_CLOUD_PROFILE names another…
    let (_, source, _) = scan_with(&emulator, &home, &[], |c| {
        c.env("ALIBABA_CLOUD_PROFILE", "session");
    })
    .await;
    assert!(
        source.starts_with("profile \"session\" (StsToken)"),
        "{source}"
    );
    assert!(emulator.journal().iter().all(|e| e.access_key_id == STS.0));
    emulator.clear_journal();

    // …and --profile names one explicitly, even with keys in the environment.
    let (_, source, _) = scan_with(&emulator, &home, &["--profile", "session"], |c| {
        c.env("ALICLOUD_ACCESS_KEY", AK.0)
            .env("ALICLOUD_SECRET_KEY", AK.1);
    })
    .await;
    assert!(
        source.starts_with("profile \"session\" (StsToken)"),
        "{source}"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ram_role_arn_profile_assumes_the_role_with_sts_before_anything_else() {
    let emulator = Emulator::start(credential_fixture()).await.unwrap();
    let home = Home::with_profiles("role", profiles());
    let (out, source, groups) = scan_with(&emulator, &home, &["--profile", "audit"], |_| {}).await;
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(source.contains(&format!(
        "RamRoleArn acs:ram::{AUDIT_ACCOUNT}:role/sg-audit, assumed with STS AssumeRole"
    )));
    // The audit account's groups, seen with the role's credentials.
    assert_eq!(groups, BTreeSet::from(["sg-auditonly0000001".to_string()]));
    let journal = emulator.journal();
    assert_eq!(journal[0].action, "AssumeRole");
    assert_eq!(journal[0].access_key_id, AK.0);
    assert_eq!(
        journal[0].params.get("RoleSessionName").map(String::as_str),
        Some("laptop-audit")
    );
    assert!(journal[1..]
        .iter()
        .all(|e| e.access_key_id.starts_with("STS.") && e.access_key_id != AK.0));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_credentials_one_line_names_what_was_tried_and_exits_1() {
    let emulator = demo_emulator().await;
    let home = Home::new("none");
    let c = command(&emulator, &home.0, &["scan", "--region", REGION]);
    let out = run(c, &[], &emulator).await;
    assert_eq!(out.status, 1);
    let line = out.stderr.trim_end();
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"));
    assert!(line.contains("ALICLOUD_ACCESS_KEY"));
    assert!(line.contains(".aliyun/config.json does not exist"));
    assert!(emulator.journal().is_empty());
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_is_a_credential_error_with_exit_1_and_no_secret() {
    let emulator = demo_emulator().await;
    let home = Home::new("wrong");
    let mut c = command(&emulator, &home.0, &["scan", "--region", REGION]);
    c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tUnknownKey00000000")
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "wrongSecretNeverPrinted00000",
        );
    let out = run(c, &["wrongSecretNeverPrinted00000"], &emulator).await;
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("DescribeSecurityGroups"),
        "{}",
        out.stderr
    );
    emulator.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// usage
// ---------------------------------------------------------------------------------------------

#[test]
fn help_shows_examples_and_the_exit_statuses() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "scan",
        "check",
        "remediate",
        "restore",
        "Examples:",
        "sg-remediator scan --region cn-hangzhou",
        "2  risky rules found",
        "ALICLOUD_ACCESS_KEY",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn a_usage_error_exits_1_not_2() {
    // clap's own usage errors exit 2; the CLI reserves 2 for findings.
    let out = Command::new(BIN)
        .args(["scan"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// README
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_shows_the_real_scan_of_the_demo_fixture() {
    let readme = std::fs::read_to_string(crate::repo_root().join("README.md")).unwrap();
    let section = readme
        .find("## From your laptop")
        .expect("a \"From your laptop\" section");
    let after_marker = &readme[section..][readme[section..]
        .find("<!-- scan-output -->\n```text\n")
        .expect("the marker")..];
    let shown = after_marker
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .unwrap();
    let emulator = demo_emulator().await;
    let home = Home::new("readme");
    let mut c = command(&emulator, &home.0, &["scan", "--region", REGION]);
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 2);
    assert_eq!(shown, out.stdout, "README's scan output is out of date");
    emulator.shutdown().await;
}

#[test]
fn the_readme_names_every_action_the_command_line_calls_in_its_ram_table() {
    use sg_remediator::services::{Needed, API_ACTIONS, CLI_ONLY_ACTIONS};
    let readme = std::fs::read_to_string(crate::repo_root().join("README.md")).unwrap();
    let section = &readme[readme.find("## From your laptop").unwrap()..];
    let table = &section[section.find("**RAM: the minimal policy").unwrap()..];
    let table = &table[..table.find("### ").unwrap()];
    let scan_row = table.lines().find(|l| l.starts_with("| `scan`")).unwrap();
    for action in CLI_ONLY_ACTIONS {
        assert!(scan_row.contains(action), "scan's row lacks {action}");
    }
    for action in API_ACTIONS
        .iter()
        .filter(|a| {
            matches!(
                a.needed,
                Needed::Always | Needed::Authorize | Needed::Aggregator
            )
        })
        .map(|a| a.ram_action)
        .chain(["sts:AssumeRole"])
    {
        assert!(table.contains(action), "the RAM table lacks {action}");
    }
}

// ----- files the command line reads and writes --------------------------------------------------

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_written_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let emulator = demo_emulator().await;
    let home = Home::new("output-mode");
    let report = home.file("scan.json");
    // An existing, world-readable file is replaced, not reused with its mode.
    std::fs::write(&report, "old").unwrap();
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shown = report.display().to_string();
    let mut c = command(
        &emulator,
        &home.0,
        &["scan", "--region", REGION, "--output", &shown],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 2, "{}", out.stderr);
    let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(written["results"].is_array());
    emulator.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_refuses_to_follow_a_symbolic_link() {
    let emulator = demo_emulator().await;
    let home = Home::new("output-link");
    let victim = home.file("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let link = home.file("report.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let shown = link.display().to_string();
    let mut c = command(
        &emulator,
        &home.0,
        &["scan", "--region", REGION, "--output", &shown],
    );
    with_demo_key(&mut c);
    let out = run(c, &[DEMO_KEY.1, DEMO_KEY.2], &emulator).await;
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("is a symbolic link"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    emulator.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_file_others_can_write_is_warned_about_on_stderr() {
    use std::os::unix::fs::PermissionsExt;
    let emulator = Emulator::start(credential_fixture()).await.unwrap();
    let home = Home::with_profiles("shared-profile", profiles());
    let config = home.0.join(".aliyun/config.json");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (out, source, _) = scan_with(&emulator, &home, &[], |_| {}).await;
    assert!(source.starts_with("profile \"user\" (AK)"), "{source}");
    assert!(
        out.stderr.contains("sg-remediator: warning: ")
            && out.stderr.contains("can be written by others"),
        "{}",
        out.stderr
    );
    emulator.shutdown().await;
}

//! Every live secret stays scrubbed, in the function and on the command line, and what one
//! invocation costs stays bounded whatever the cloud answers.
//!
//! - the function: an event naming dozens of member accounts (each adds an assumed role, i.e.
//!   two live secrets) and a cloud answer that echoes the function's own token cut short; the
//!   cached member tokens echoed on a later invocation;
//! - the command line: an answer echoing the access key's secret reaches neither the table,
//!   `--json`, `--output` nor, for a `RamRoleArn` profile whose AssumeRole is refused, stderr;
//! - bounds: cloud messages of 20 KB are capped, a throttling storm at `MAX_CONCURRENCY=256`
//!   over 1,000 resources answers within 4 MiB with every status, and a 16 MiB `resourceId`
//!   stays within 64 MiB of peak memory.
//!
//! Leaks are looked for with [`sg_test_kit::secrets::assert_no_secret`]: any 12 characters of
//! a secret, raw, form-decoded, percent-encoded once or twice in either hex case, or
//! JSON-escaped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use acs_emulator::{Emulator, Fault, Fixture};
use serde_json::{json, Value};
use sg_test_kit::secrets::{assert_no_secret, StsTap};
use sg_test_kit::world::{FUNCTION_ACCOUNT, REGION, ROLE_NAME, SECURITY_GROUP};
use sg_test_kit::{bootstrap, Answer, Caller, Function, Key};

const MIB: usize = 1024 * 1024;

const BASE: &str = include_str!("fixtures/reliability/base.json");
const TEMPLATE_SG: &str = "sg-reltemplate0000000";

/// The function's own group in [`world`].
const OWN_SG: &str = "sg-scrubown000000000";

fn member_account(i: usize) -> String {
    format!("{}", 3_000_000_000_000_000u64 + i as u64)
}

fn member_sg(i: usize) -> String {
    format!("sg-scrubmember{i:06}")
}

/// The reliability world with `members` more member accounts, each with the role
/// `sg-remediation` trusting the function's account and one group (a copy of the template), and
/// one group of the function's own account.
fn world(members: usize) -> Fixture {
    let mut w: Value = serde_json::from_str(BASE).unwrap();
    let template = w["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["securityGroupId"] == TEMPLATE_SG)
        .cloned()
        .unwrap();
    let group = |account: &str, sg: &str| {
        let mut g = template.clone();
        g["accountId"] = json!(account);
        g["securityGroupId"] = json!(sg);
        for (i, rule) in g["rules"].as_array_mut().unwrap().iter_mut().enumerate() {
            rule["SecurityGroupRuleId"] = json!(format!("sgr-{}-{:02}", &sg[3..], i + 1));
        }
        g
    };
    let mut groups = vec![group(FUNCTION_ACCOUNT, OWN_SG)];
    for i in 0..members {
        let account = member_account(i);
        w["accounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"accountId": account, "credentials": []}));
        w["roles"].as_array_mut().unwrap().push(json!({
            "accountId": account, "roleName": ROLE_NAME,
            "trustedAccountIds": [FUNCTION_ACCOUNT], "maxSessionDuration": 3600,
        }));
        groups.push(group(&account, &member_sg(i)));
    }
    w["securityGroups"].as_array_mut().unwrap().extend(groups);
    Fixture::from_json_str(&w.to_string()).unwrap()
}

/// The function role's first key in the reliability world.
fn function_key() -> Key {
    let w: Value = serde_json::from_str(BASE).unwrap();
    let k = &w["accounts"][0]["credentials"][0];
    Key::sts(
        k["accessKeyId"].as_str().unwrap(),
        k["accessKeySecret"].as_str().unwrap(),
        k["securityToken"].as_str().unwrap(),
    )
}

fn item(account: &str, sg: &str) -> Value {
    json!({"regionId": REGION, "accountId": account, "resourceId": sg,
           "resourceType": SECURITY_GROUP})
}

/// `text` without its first and last character: an echo cut short, which no exact-match
/// redaction (the emulator's own) catches.
fn cut(text: &str) -> &str {
    &text[1..text.len() - 1]
}

/// Every call about `sg` answers an error whose message and request id echo `echo`.
fn echo_fault(sg: &str, echo: &str) -> Fault {
    serde_json::from_value(json!({
        "securityGroupId": sg,
        "kind": {"type": "errorWithRequestId", "status": 400, "code": "InvalidParameter",
                 "message": format!("the value {echo} is not valid"),
                 "request_id": format!("req-{echo}")},
    }))
    .unwrap()
}

struct Scene {
    emulator: Emulator,
    tap: StsTap,
    function: Function,
    bodies: Vec<String>,
}

impl Scene {
    async fn start(members: usize) -> Scene {
        let emulator = Emulator::start(world(members)).await.unwrap();
        let tap = StsTap::start(emulator.sts_endpoint()).await;
        let launch = bootstrap!()
            .emulator(&emulator)
            .env("STS_ENDPOINT", tap.endpoint())
            .env("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME)
            .env("RUST_LOG", "debug")
            // One group at a time, in event order: the function's own group comes after every
            // member account's role was assumed.
            .env("MAX_CONCURRENCY", "1");
        let mut function = Function::start_with(launch);
        function.set_caller(Caller::new(function_key()).timeout(120));
        Scene {
            emulator,
            tap,
            function,
            bodies: Vec::new(),
        }
    }

    async fn invoke(&mut self, event: &Value) -> Answer {
        let answer = self.function.invoke(event).await;
        self.bodies.push(answer.text.clone());
        answer
    }

    /// Stops the function and checks its whole output and every answer for every secret it
    /// held: its own key and every role credential STS handed out.
    fn finish(self) {
        let mut haystack = self.function.finish().join("\n");
        for body in &self.bodies {
            haystack.push('\n');
            haystack.push_str(body);
        }
        let key = function_key();
        let mut secrets = self.tap.secrets();
        secrets.push(key.secret);
        secrets.extend(key.token);
        assert_no_secret(&haystack, &secrets);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_member_accounts_do_not_push_the_functions_own_token_out_of_the_scrubber() {
    let members = 40;
    let mut scene = Scene::start(members).await;
    let token = function_key().token.unwrap();
    scene.emulator.inject(echo_fault(OWN_SG, cut(&token)));
    let mut event: Vec<Value> = (0..members)
        .map(|i| item(&member_account(i), &member_sg(i)))
        .collect();
    event.push(item(FUNCTION_ACCOUNT, OWN_SG));
    let answer = scene.invoke(&Value::Array(event)).await;

    assert_eq!(
        scene
            .emulator
            .journal()
            .iter()
            .filter(|e| e.action == "AssumeRole")
            .count(),
        members,
        "one role per member account"
    );
    assert_eq!(answer.status_of(OWN_SG), "failed");
    assert!(
        answer
            .reason_of(OWN_SG)
            .contains("the value *** is not valid"),
        "{}",
        answer.reason_of(OWN_SG)
    );
    assert_eq!(answer.status_of(&member_sg(0)), "remediated");
    scene.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_member_tokens_echoed_on_a_later_invocation_stay_masked() {
    let members = 3;
    let mut scene = Scene::start(members).await;
    let event = Value::Array(
        (0..members)
            .map(|i| item(&member_account(i), &member_sg(i)))
            .collect(),
    );
    let first = scene.invoke(&event).await;
    assert_eq!(
        first.status_of(&member_sg(0)),
        "remediated",
        "{}",
        first.text
    );
    let tokens: Vec<String> = scene
        .tap
        .secrets()
        .into_iter()
        .filter(|s| s.starts_with("CAIS"))
        .collect();
    assert_eq!(tokens.len(), members);

    // The next invocation reuses the cached roles; the cloud echoes each of their tokens.
    let echo = tokens.iter().map(|t| cut(t)).collect::<Vec<_>>().join(" ");
    for i in 0..members {
        scene.emulator.inject(echo_fault(&member_sg(i), &echo));
    }
    let second = scene.invoke(&event).await;
    assert_eq!(
        scene
            .emulator
            .journal()
            .iter()
            .filter(|e| e.action == "AssumeRole")
            .count(),
        members,
        "the roles came from the cache"
    );
    assert_eq!(second.status_of(&member_sg(0)), "failed");
    assert!(
        second
            .reason_of(&member_sg(0))
            .contains("the value *** *** *** is not valid"),
        "{}",
        second.reason_of(&member_sg(0))
    );
    scene.finish();
}

// ---------------------------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------------------------

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_bytes(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixteen_mib_resource_id_stays_within_64_mib_and_is_quoted_cut_short() {
    let emulator = Emulator::start(world(0)).await.unwrap();
    let mut function = Function::start(bootstrap!(), &emulator, &[]);
    let pid = function.server().pid();
    let prefix = r#"{"resources":[{"resourceId":""#;
    let suffix = r#""}]}"#;
    let id = "i".repeat(16 * MIB - prefix.len() - suffix.len());
    let answer = function.invoke_raw(format!("{prefix}{id}{suffix}")).await;
    assert!(
        answer.is_function_error(),
        "{}",
        &answer.text[..200.min(answer.text.len())]
    );
    assert_eq!(answer.body["summary"]["failed"], 1);
    assert!(
        answer.text.len() < 4096,
        "response {} bytes",
        answer.text.len()
    );
    let peak = peak_rss_bytes(pid);
    function.finish();
    assert!(emulator.journal().is_empty());
    // The body is held once (16 MiB) and the id is never copied whole: well under the 64 MiB
    // bound (each copy of the id would add 16 MiB).
    assert!(peak < 40 * MIB, "peak RSS {} MiB", peak / MIB);
    eprintln!("16 MiB resourceId event: peak RSS {} KiB", peak / 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_storm_over_1000_resources_answers_within_4_mib_with_every_status() {
    let emulator = Emulator::start(world(0)).await.unwrap();
    // Every call is throttled with a 20 KB message, every attempt.
    let message = format!(
        "Request was denied due to user flow control. {}",
        "x".repeat(20_000)
    );
    emulator.inject(
        serde_json::from_value(json!({
            "kind": {"type": "error", "status": 400, "code": "Throttling.User", "message": message},
        }))
        .unwrap(),
    );
    let mut function = Function::start(bootstrap!(), &emulator, &[("MAX_CONCURRENCY", "256")]);
    // A storm this size outlasts the invocation (a short one, so the test does not wait long):
    // what is still throttled at the deadline fails with "deadline exceeded".
    function.set_caller(Caller::new(function_key()).timeout(6));
    let ids: Vec<String> = (0..1000).map(|i| format!("sg-storm{i:012}")).collect();
    let event = Value::Array(ids.iter().map(|id| item(FUNCTION_ACCOUNT, id)).collect());
    let answer = function.invoke(&event).await;
    function.finish();

    assert!(
        answer.text.len() <= 4 * MIB,
        "response {} bytes",
        answer.text.len()
    );
    assert_eq!(answer.results().len(), 1000);
    let mut throttled = 0;
    for id in &ids {
        assert_eq!(answer.status_of(id), "failed", "{id}");
        let reason = answer.reason_of(id);
        assert!(!reason.is_empty(), "{id}");
        throttled += usize::from(reason.contains("Throttling.User"));
        // No message kept more than 1 KiB of the 20 KB.
        assert!(
            !reason.contains(&"x".repeat(1100)),
            "{id}: {} bytes",
            reason.len()
        );
    }
    assert!(throttled > 0, "the throttling is reported");
    eprintln!("throttling storm: response {} bytes", answer.text.len());
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

const CLI: &str = env!("CARGO_BIN_EXE_sg-remediator");
const DEMO: &str = include_str!("fixtures/demo.json");
const DEMO_ACCOUNT: &str = "1234567890123456";
/// An AccessKey of the demo account, added by [`cli_world`].
const AK: (&str, &str) = (
    "LTAI5tScrubCliKey000001",
    "scrubCliSecret/With+Plus=0123456789ab",
);
const AUDIT_ACCOUNT: &str = "3333444455556666";

fn cli_world() -> Fixture {
    let mut w: Value = serde_json::from_str(DEMO).unwrap();
    assert_eq!(w["accounts"][0]["accountId"], DEMO_ACCOUNT);
    w["accounts"][0]["credentials"]
        .as_array_mut()
        .unwrap()
        .push(json!({"accessKeyId": AK.0, "accessKeySecret": AK.1}));
    w["accounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"accountId": AUDIT_ACCOUNT, "credentials": []}));
    w["roles"] = json!([{"accountId": AUDIT_ACCOUNT, "roleName": "sg-audit",
                          "trustedAccountIds": [DEMO_ACCOUNT]}]);
    Fixture::from_json_str(&w.to_string()).unwrap()
}

/// A scratch home directory with a `RamRoleArn` profile using [`AK`], removed at the end.
struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        let dir = std::env::temp_dir().join(format!(
            "sg-remediator-scrub-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(dir.join(".aliyun")).unwrap();
        let profiles = json!({"current": "audit", "profiles": [
            {"name": "audit", "mode": "RamRoleArn", "access_key_id": AK.0,
             "access_key_secret": AK.1,
             "ram_role_arn": format!("acs:ram::{AUDIT_ACCOUNT}:role/sg-audit"),
             "ram_session_name": "laptop"}]});
        std::fs::write(dir.join(".aliyun/config.json"), profiles.to_string()).unwrap();
        Home(dir)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs the command line against the emulator with `AK` in the environment (or, with
/// `profile`, the `RamRoleArn` profile of `home`).
async fn cli(emulator: &Emulator, home: &Path, args: &[&str], env_key: bool) -> Run {
    let mut c = Command::new(CLI);
    c.env_clear()
        .env("HOME", home)
        .env("ECS_ENDPOINT", emulator.ecs_endpoint())
        .env("CONFIG_ENDPOINT", emulator.config_endpoint())
        .env("STS_ENDPOINT", emulator.sts_endpoint())
        .args(args)
        .stdin(Stdio::null());
    if env_key {
        c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", AK.0)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AK.1);
    }
    let output = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The demo group the command line checks.
const CLI_SG: &str = "sg-bp1fg655nh68xyz9i0d1";

async fn cli_with_echo(extra: &[&str]) -> (Run, Home, Emulator) {
    let emulator = Emulator::start(cli_world()).await.unwrap();
    // The cloud echoes the caller's secret, cut short (the emulator's own redaction only
    // knows tokens).
    emulator.inject(echo_fault(CLI_SG, cut(AK.1)));
    let home = Home::new();
    let mut args = vec!["check", CLI_SG, "--region", REGION];
    args.extend_from_slice(extra);
    let run = cli(&emulator, &home.0, &args, true).await;
    (run, home, emulator)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_never_reaches_the_command_lines_table() {
    let (run, _home, _emulator) = cli_with_echo(&[]).await;
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stdout.contains(CLI_SG), "{}", run.stdout);
    assert_no_secret(&format!("{}\n{}", run.stdout, run.stderr), &[AK.1.into()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_secret_never_reaches_the_command_lines_json_or_output_file() {
    let home = Home::new();
    let file = home.0.join("report.json");
    let file_arg = file.to_str().unwrap().to_string();
    let (run, _home, _emulator) = cli_with_echo(&["--json", "--output", &file_arg]).await;
    assert_eq!(run.status, 2, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["summary"]["failed"], 1);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("the value *** is not valid"), "{written}");
    assert_no_secret(
        &format!("{}\n{}\n{written}", run.stdout, run.stderr),
        &[AK.1.into()],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_assume_role_of_a_ram_role_arn_profile_prints_no_secret_to_stderr() {
    let emulator = Emulator::start(cli_world()).await.unwrap();
    emulator.inject(
        serde_json::from_value(json!({
            "action": "AssumeRole",
            "kind": {"type": "errorWithRequestId", "status": 403, "code": "NoPermission",
                     "message": format!("key {} with secret {} may not assume", AK.0, AK.1),
                     "request_id": format!("req-{}", cut(AK.1))},
        }))
        .unwrap(),
    );
    let home = Home::new();
    let run = cli(&emulator, &home.0, &["scan", "--region", REGION], false).await;
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(run.stderr.contains("AssumeRole"), "{}", run.stderr);
    assert!(run.stderr.contains("NoPermission"), "{}", run.stderr);
    assert_no_secret(&format!("{}\n{}", run.stdout, run.stderr), &[AK.1.into()]);
}

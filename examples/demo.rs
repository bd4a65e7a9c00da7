//! `make demo`: the whole product on one machine, with no cloud account and no network beyond
//! loopback.
//!
//! 1. Starts the in-process emulator of Config, ECS and STS with tests/fixtures/demo.json:
//!    realistic security groups mixing risky and legitimate rules.
//! 2. Starts the real `bootstrap` binary (the function as FC runs it) pointed at the emulator.
//! 3. Sends it the event Config would send for those groups, with the FC headers FC would add.
//! 4. Prints, group by group and rule by rule, what was revoked and what was kept and why, then
//!    the JSON report the function returned.
//!
//! The binary is the first argument (`cargo run --example demo -- target/debug/bootstrap`, as the
//! Makefile does), else `SG_REMEDIATOR_BOOTSTRAP`, else `bootstrap` under `CARGO_TARGET_DIR` or
//! `./target`, debug or release, whichever was built last. Exit status: 0 when the invocation
//! succeeded, 1 otherwise.
//!
//! With `REMEDIATION_ACTION=narrow` and `ALLOWED_SOURCE_CIDRS` in its environment (`make demo
//! NARROW=203.0.113.0/24` sets both), the function narrows world-open rules to those blocks
//! instead of only revoking them, and the table shows each rule `NARROWED to …` with the rules
//! added in its place.
//!
//! With `--org` (`make demo ORG=1`) the world is an organisation (tests/fixtures/demo-org.json):
//! the function in the management account in aggregator mode, a member account with the
//! `sg-remediation` role and one without it. The event carries all three accounts' groups; the
//! demo also shows which account and role signed each call. The member without the role fails
//! by design, so there the exit status is 0 when exactly the groups of accounts whose role could
//! not be assumed failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use acs_emulator::Emulator;
use serde_json::{json, Value};
use sg_remediator::render::{self, GroupRules};
use sg_remediator::rules::RiskyPorts;
use sg_test_kit::world::{self, FUNCTION_ACCOUNT as ACCOUNT, REGION};
use sg_test_kit::{Caller, Function, Launch};
/// The risky ports the function runs with (its default, spelled out for the explanations).
const RISKY_PORTS: &str = "22,3389";
/// A resource of another type, as Config could include by mistake.
const INSTANCE: &str = "i-bp1e2r4t6y8u0i2o4p6a";
/// `--org`: the organisation scenario, with the function's settings for it.
const ORG_FLAG: &str = "--org";
/// The function's variables the demo passes through from its own environment when set: the
/// narrowing (`make demo NARROW=…`).
const PASSED_THROUGH: [&str; 2] = ["REMEDIATION_ACTION", "ALLOWED_SOURCE_CIDRS"];
const ORG_ENV: &[(&str, &str)] = &[
    ("CONFIG_AGGREGATOR_ID", "ca-0rg4e5626622af0079dd"),
    ("CROSS_ACCOUNT_ROLE_NAME", "sg-remediation"),
];

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => fail(e),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("demo: {message}");
    ExitCode::FAILURE
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first argument, else `SG_REMEDIATOR_BOOTSTRAP`, else the most recently built
/// `bootstrap` of the target directory.
fn find_bootstrap() -> Result<PathBuf, String> {
    let explicit = std::env::args_os()
        .skip(1)
        .find(|a| a != ORG_FLAG)
        .map(|p| ("the argument", p))
        .or_else(|| {
            std::env::var_os("SG_REMEDIATOR_BOOTSTRAP").map(|p| ("SG_REMEDIATOR_BOOTSTRAP", p))
        });
    if let Some((origin, path)) = explicit {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{origin} {} is not a file: build it with `cargo build --bins`",
                path.display()
            ))
        };
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                manifest_dir().join(p)
            }
        })
        .unwrap_or_else(|| manifest_dir().join("target"));
    let name = format!("bootstrap{}", std::env::consts::EXE_SUFFIX);
    ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join(&name))
        .filter_map(|p| {
            let modified = p.metadata().ok()?.modified().ok()?;
            Some((modified, p))
        })
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| {
            format!(
                "no bootstrap binary under {}: run `cargo build --bins` first (`make demo` does), \
                 or set SG_REMEDIATOR_BOOTSTRAP",
                target.display()
            )
        })
}

async fn run() -> Result<bool, String> {
    let org = std::env::args().any(|a| a == ORG_FLAG);
    let (fixture_name, org_env) = if org {
        ("demo-org.json", ORG_ENV)
    } else {
        ("demo.json", &[][..])
    };
    let passed: Vec<(&str, String)> = PASSED_THROUGH
        .iter()
        .filter_map(|name| Some((*name, std::env::var(name).ok()?)))
        .collect();
    let extra_env: Vec<(&str, &str)> = org_env
        .iter()
        .copied()
        .chain(passed.iter().map(|(name, value)| (*name, value.as_str())))
        .collect();
    let fixture_path = manifest_dir().join("tests/fixtures").join(fixture_name);
    let fixture_text = std::fs::read_to_string(&fixture_path)
        .map_err(|e| format!("cannot read {}: {e}", fixture_path.display()))?;
    let world: Value = serde_json::from_str(&fixture_text)
        .map_err(|e| format!("{} is not JSON: {e}", fixture_path.display()))?;
    let emulator = world::try_emulator(&world).await?;
    let binary = find_bootstrap()?;
    let launch = Launch::new(&binary)
        .emulator(&emulator)
        .env("RISKY_PORTS", RISKY_PORTS)
        .env("LOG_FORMAT", "json")
        .envs(&extra_env);
    let server = tokio::task::block_in_place(|| launch.try_start())?;
    // FC passes the function role's credentials; the fixture holds them.
    let key = world::key_of(&world, ACCOUNT, 0)
        .ok_or_else(|| format!("{} has no key for {ACCOUNT}", fixture_path.display()))?;
    let caller = Caller::new(key).content_type("application/json");
    let function = Function::from_server(server, caller.clone());

    let groups: Vec<&Value> = world["securityGroups"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let before: BTreeMap<String, Vec<Value>> = groups
        .iter()
        .filter_map(|g| {
            let id = g["securityGroupId"].as_str()?;
            Some((id.to_string(), emulator.live_rules(id)?))
        })
        .collect();

    // What Config sends: one entry per non-compliant resource, accountId as a number.
    let mut event: Vec<Value> = groups
        .iter()
        .map(|g| {
            let account = g["accountId"].as_str().unwrap_or(ACCOUNT);
            json!({
                "accountId": account.parse::<u64>().unwrap_or_default(),
                "regionId": g["regionId"],
                "resourceId": g["securityGroupId"],
                "resourceType": "ACS::ECS::SecurityGroup",
                "configRuleId": "cr-5772ba41209e007b0000",
            })
        })
        .collect();
    if !org {
        event.push(json!({
            "accountId": ACCOUNT.parse::<u64>().expect("numeric account"),
            "regionId": REGION,
            "resourceId": INSTANCE,
            "resourceType": "ACS::ECS::Instance",
            "configRuleId": "cr-5772ba41209e007b0000",
        }));
    }

    println!("sg-remediator demo: no cloud account, no network beyond 127.0.0.1");
    println!("  emulated Config {}", emulator.config_endpoint());
    println!("  emulated ECS    {}", emulator.ecs_endpoint());
    println!(
        "  function        {} on {}",
        binary.display(),
        function.process().addr
    );
    println!(
        "  event           {} resources from Config (rule sg-risky-ports-check, RISKY_PORTS={RISKY_PORTS}), mode enforce",
        event.len()
    );
    for (name, value) in &extra_env {
        println!("  {name}={value}");
    }
    println!();

    let request = function.request_as(
        &caller,
        "1-demo-0001",
        Value::Array(event.clone()).to_string(),
        &[],
    );
    let answer = function.try_send(request).await?;
    let (status, fc_status, text) = (
        answer.status,
        answer.fc_status.unwrap_or_default(),
        answer.text,
    );
    let report: Value =
        serde_json::from_str(&text).map_err(|e| format!("the answer is not JSON ({e}): {text}"))?;

    let risky: RiskyPorts = RISKY_PORTS.parse().expect("valid risky ports");
    let names: BTreeMap<&str, String> = groups
        .iter()
        .filter_map(|g| {
            let name = g["securityGroupName"].as_str().unwrap_or("");
            let name = match g["accountId"].as_str() {
                Some(account) if org => format!("{name}  account {account}"),
                _ => name.to_string(),
            };
            Some((g["securityGroupId"].as_str()?, name))
        })
        .collect();
    // The per-group, per-rule table: the library's renderer, shared with the command line.
    // A resource ECS does not know (another type, a deleted group) has no rules before or after.
    let mut tables: BTreeMap<String, GroupRules> = BTreeMap::new();
    for result in report["results"].as_array().into_iter().flatten() {
        let Some(id) = result["resourceId"].as_str() else {
            continue;
        };
        let rules = before.get(id).cloned();
        let view = GroupRules {
            name: names.get(id).cloned().unwrap_or_default(),
            after: Some(emulator.live_rules(id).unwrap_or_default()),
            before: rules.unwrap_or_default(),
        };
        tables.insert(id.to_string(), view);
    }
    print!("{}", render::report_table(&report, &tables, &risky));
    print_summary(&report, status, &fc_status);
    if org {
        print_signers(&emulator);
    }
    print_audit_excerpt(&function.process().stdout_lines());
    println!("The JSON report (the function's response body):");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    emulator.shutdown().await;
    if org {
        // One member lacks the role on purpose: the expected outcome is that only groups whose
        // role could not be assumed failed.
        let failed_only_on_assume_role = report["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"] == "failed")
            .all(|r| {
                r["reason"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("AssumeRole into ")
            });
        return Ok(failed_only_on_assume_role);
    }
    Ok(status == 200)
}

/// Who signed each call: the journal's key, and the account and role the emulator knows it as.
fn print_signers(emulator: &Emulator) {
    println!("Who signed each call (emulator journal):");
    for call in emulator.journal() {
        let who = match emulator.key_identity(&call.access_key_id) {
            Some(id) => match id.role_arn {
                Some(role) => format!("account {} as {role}", id.account_id),
                None => format!("account {}", id.account_id),
            },
            None => "unknown key".to_string(),
        };
        let target = call
            .params
            .get("SecurityGroupId")
            .or_else(|| call.params.get("ResourceId"))
            .or_else(|| call.params.get("RoleArn"))
            .map(String::as_str)
            .unwrap_or("");
        let outcome = call.code.as_deref().unwrap_or("ok");
        println!(
            "   {:<31} {:<46} {:<29} {who}  [{outcome}]",
            call.action, target, call.access_key_id
        );
    }
    println!();
}

fn print_summary(report: &Value, status: u16, fc_status: &str) {
    println!("{}", render::summary_line(report));
    let outcome = if status == 200 {
        "success: Config records the execution as succeeded"
    } else {
        "function error: Config records the execution as failed"
    };
    println!("HTTP {status}, x-fc-status {fc_status}: {outcome}");
    println!();
}

/// The restore record: one log line per revoked rule, with every attribute.
fn print_audit_excerpt(logs: &[String]) {
    let revoked: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "rule_revoked")
        .collect();
    println!(
        "Audit log: {} rule_revoked line(s), each with the rule's full attributes (the restore record). First one:",
        revoked.len()
    );
    if let Some(first) = revoked.first() {
        println!("   {first}");
    }
    println!(
        "To put rules back, deploy with ALLOW_RESTORE=true and RESTORE_SEAL_KEY (rules revoked \
         under that key carry a Seal) and invoke with \
         {{\"action\": \"restore\", \"regionId\": …, \"resourceId\": …, \"rules\": <revokedRules from the report>}}."
    );
    println!();
}

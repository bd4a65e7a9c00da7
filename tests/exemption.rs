//! Exemptions that expire, end to end: the exempt tag's `until=` value read by the real
//! `bootstrap` from Config's record and by the `sg-remediator scan` command line from ECS's
//! listing, both against the emulator.
//!
//! The function reads the system clock, so the ends written here are relative to the test's own
//! clock and far enough from it (an hour, a day) that the run cannot cross them; the exact
//! boundaries (the last nanosecond of a day, the instant itself) are the unit tests of
//! `src/exemption.rs`.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use acs_emulator::Emulator;
use serde_json::Value;
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Answer, Function};

/// The group of groups.json that carries the exempt tag, with one world-open SSH rule.
const SG: &str = "sg-exempt-tag";
const SSH: &str = "sgr-exempt-tag-ssh";
const TAG: &str = "sg-remediator:exempt";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const HOUR: Duration = Duration::from_secs(60 * 60);

/// The UTC date of `t` (`YYYY-MM-DD`).
fn date(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

/// The instant `t` written as RFC 3339 at `offset` (`+08:00`): its wall-clock time there.
fn at_offset(t: SystemTime, offset: &str) -> String {
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let hours: u64 = offset[1..3].parse().unwrap();
    let minutes: u64 = offset[4..6].parse().unwrap();
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    let wall = if sign > 0 { t + shift } else { t - shift };
    let utc = humantime::format_rfc3339_seconds(wall).to_string();
    format!("{}{offset}", &utc[..19])
}

/// groups.json with the exempt tag of [`SG`] set to `value`.
fn world_with_tag(value: &str) -> Value {
    let mut world = fixture("groups");
    let group = world["securityGroups"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|g| g["securityGroupId"] == SG)
        .expect("groups.json has the exempt-tag group");
    group["tags"][TAG] = Value::String(value.to_string());
    world
}

/// Remediates [`SG`] (enforce mode) with its exempt tag set to `value`.
async fn remediate_tagged(value: &str, env: &[(&str, &str)]) -> (Answer, Emulator) {
    let emulator = emulator(&world_with_tag(value)).await;
    let function = Function::start(bootstrap!(), &emulator, env);
    let answer = function.invoke(&event(&[SG])).await;
    (answer, emulator)
}

/// Asserts [`SG`] was remediated (its SSH rule revoked) with a reason containing `why`.
fn assert_remediated_saying(answer: &Answer, emulator: &Emulator, why: &str) {
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(SG), "remediated", "{:#}", answer.body);
    assert_eq!(answer.ids(SG, "revokedRuleIds"), [SSH]);
    assert!(live_ids(emulator, SG).is_empty());
    let reason = answer.reason_of(SG);
    assert!(reason.contains(why), "reason {reason:?} should say {why:?}");
}

/// Asserts [`SG`] was skipped with a reason containing `why`, nothing revoked.
fn assert_exempt_saying(answer: &Answer, emulator: &Emulator, why: &str) {
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(SG), "skipped", "{:#}", answer.body);
    let reason = answer.reason_of(SG);
    assert!(reason.contains(why), "reason {reason:?} should say {why:?}");
    assert!(calls(emulator, "RevokeSecurityGroup").is_empty());
    assert_eq!(live_ids(emulator, SG), [SSH]);
}

// ---------------------------------------------------------------------------------------------
// The function
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exemption_that_ended_yesterday_is_remediated_saying_when_it_expired() {
    let yesterday = date(SystemTime::now() - DAY);
    let (answer, emulator) = remediate_tagged(&format!("until={yesterday}"), &[]).await;
    assert_remediated_saying(
        &answer,
        &emulator,
        &format!("exemption expired on {yesterday} (tag {TAG})"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exemption_until_a_later_day_is_skipped_saying_until_when() {
    let later = date(SystemTime::now() + 30 * DAY);
    let (answer, emulator) = remediate_tagged(&format!("until={later}"), &[]).await;
    assert_exempt_saying(
        &answer,
        &emulator,
        &format!("exempt until {later} (through the end of that day, UTC): tagged {TAG}"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_exempts_through_the_end_of_that_day_today_included() {
    // Today's date still exempts (until midnight UTC); the test repeats if midnight passed
    // during the run, which would make "today" yesterday.
    for _ in 0..2 {
        let today = date(SystemTime::now());
        let (answer, emulator) = remediate_tagged(&format!("until={today}"), &[]).await;
        if date(SystemTime::now()) != today {
            continue;
        }
        assert_exempt_saying(&answer, &emulator, &format!("exempt until {today} "));
        return;
    }
    panic!("midnight passed twice during the test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_end_exempts_nothing_and_the_reason_says_why() {
    for (value, why) in [
        ("until=2026-13-40", "no such date or time"),
        (
            "until=soon",
            "neither a date (YYYY-MM-DD) nor an RFC 3339 time",
        ),
        ("until=", "no date after until"),
    ] {
        let (answer, emulator) = remediate_tagged(value, &[]).await;
        assert_remediated_saying(
            &answer,
            &emulator,
            &format!(
                "not exempt: the tag {TAG}={value:?} asks for an end that cannot be read ({why}"
            ),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rfc_3339_end_with_an_offset_is_that_instant() {
    // An hour ago, written at +08:00: its wall-clock time there is seven hours ahead of now,
    // so a reader that ignored the offset would still exempt.
    let ended = SystemTime::now() - HOUR;
    let (answer, emulator) =
        remediate_tagged(&format!("until={}", at_offset(ended, "+08:00")), &[]).await;
    let in_utc = humantime::format_rfc3339_seconds(ended).to_string();
    assert_remediated_saying(
        &answer,
        &emulator,
        &format!("exemption expired on {in_utc}"),
    );

    // In an hour, written at -05:00: its wall-clock time there is four hours behind now.
    let ends = SystemTime::now() + HOUR;
    let (answer, emulator) =
        remediate_tagged(&format!("until={}", at_offset(ends, "-05:00")), &[]).await;
    let in_utc = humantime::format_rfc3339_seconds(ends).to_string();
    assert_exempt_saying(
        &answer,
        &emulator,
        &format!("exempt until {in_utc}: tagged {TAG}"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_value_must_match_exactly_and_never_expires() {
    let yesterday = date(SystemTime::now() - DAY);
    let configured = format!("{TAG}=until={yesterday}");
    let env = [("EXEMPT_TAG", configured.as_str())];
    // The very value configured exempts, although it reads like an end that has passed.
    let (answer, emulator) = remediate_tagged(&format!("until={yesterday}"), &env).await;
    assert_exempt_saying(&answer, &emulator, &format!("exempt: tagged {configured}"));
    // Any other value is no exemption at all, whatever it says.
    let later = date(SystemTime::now() + 30 * DAY);
    let (answer, emulator) = remediate_tagged(&format!("until={later}"), &env).await;
    assert_remediated_saying(&answer, &emulator, "revoked 1 rule(s)");
    assert!(
        !answer.reason_of(SG).contains("exempt"),
        "{:#}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_value_still_exempts_for_good() {
    let (answer, emulator) = remediate_tagged("until further notice", &[]).await;
    assert_exempt_saying(&answer, &emulator, &format!("exempt: tagged {TAG}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_an_expired_exemption_says_what_would_be_revoked_and_why() {
    let yesterday = date(SystemTime::now() - DAY);
    let (answer, emulator) = remediate_tagged(
        &format!("until={yesterday}"),
        &[("REMEDIATION_MODE", "dry-run")],
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(SG), "would_remediate", "{:#}", answer.body);
    assert_eq!(answer.ids(SG, "wouldRevokeRuleIds"), [SSH]);
    assert_eq!(
        answer.reason_of(SG),
        format!(
            "dry run: nothing was changed; exemption expired on {yesterday} (tag {TAG}): no \
             longer exempt"
        )
    );
    assert_eq!(live_ids(&emulator, SG), [SSH]);
}

// ---------------------------------------------------------------------------------------------
// The command line's scan
// ---------------------------------------------------------------------------------------------

/// groups.json plus one copy of [`SG`] per `(id, tag value)`.
fn world_with_exemptions(groups: &[(&str, &str)]) -> Value {
    let mut world = fixture("groups");
    let list = world["securityGroups"].as_array_mut().unwrap();
    let template = list
        .iter()
        .find(|g| g["securityGroupId"] == SG)
        .unwrap()
        .clone();
    for (id, value) in groups {
        let mut group = template.clone();
        group["securityGroupId"] = Value::String(id.to_string());
        group["rules"][0]["SecurityGroupRuleId"] = Value::String(format!("sgr-{id}"));
        group["tags"][TAG] = Value::String(value.to_string());
        list.push(group);
    }
    world
}

/// Runs `sg-remediator scan --region cn-hangzhou` (`--json` when `json`) with the function
/// role's key, off the async runtime so the emulator keeps serving.
async fn scan(emulator: &Emulator, json: bool) -> (i32, String) {
    let home =
        std::env::temp_dir().join(format!("sg-remediator-exemption-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&home).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_sg-remediator"));
    c.env_clear()
        .env("HOME", &home)
        .env("ECS_ENDPOINT", emulator.ecs_endpoint())
        .env("CONFIG_ENDPOINT", emulator.config_endpoint())
        .env("STS_ENDPOINT", emulator.sts_endpoint())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", FC_KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", FC_SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", FC_TOKEN)
        .args(["scan", "--region", REGION])
        .args(json.then_some("--json"))
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || c.output().expect("the binary runs"))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        !stdout.contains(FC_SECRET) && !stdout.contains(FC_TOKEN),
        "a secret leaked: {stdout}"
    );
    (output.status.code().unwrap_or(-1), stdout)
}

fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resourceId"] == id)
        .unwrap_or_else(|| panic!("{id} scanned"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_lists_exemptions_ending_within_seven_days_ended_or_unreadable() {
    let now = SystemTime::now();
    let soon = date(now + 3 * DAY);
    let ended = date(now - 2 * DAY);
    let later = date(now + 30 * DAY);
    let world = world_with_exemptions(&[
        ("sg-exp-soon", &format!("until={soon}")),
        ("sg-exp-ended", &format!("until={ended}")),
        ("sg-exp-later", &format!("until={later}")),
        ("sg-exp-typo", "until=2026-02-30"),
    ]);
    let emulator = emulator(&world).await;
    let (status, stdout) = scan(&emulator, true).await;
    assert_eq!(status, 2, "risky rules found: {stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();

    // The same decisions as the function: running exemptions skip, ended or unreadable ones
    // are what a dry run would revoke, with the function's reasons.
    assert_eq!(result(&report, "sg-exp-soon")["status"], "skipped");
    assert_eq!(result(&report, "sg-exp-later")["status"], "skipped");
    let expired = result(&report, "sg-exp-ended");
    assert_eq!(expired["status"], "would_remediate", "{expired}");
    assert_eq!(
        expired["wouldRevokeRuleIds"],
        serde_json::json!(["sgr-sg-exp-ended"])
    );
    assert_eq!(
        expired["reason"],
        format!("dry run: nothing was changed; exemption expired on {ended} (tag {TAG}): no longer exempt")
    );
    let typo = result(&report, "sg-exp-typo");
    assert_eq!(typo["status"], "would_remediate", "{typo}");

    // The watch list: ending within a week, ended, unreadable; never the one a month out.
    let listed: Vec<(String, String)> = report["exemptions"]
        .as_array()
        .expect("an exemptions list")
        .iter()
        .map(|e| {
            (
                e["resourceId"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(
        listed_sorted,
        [
            ("sg-exp-ended".to_string(), "expired".to_string()),
            ("sg-exp-soon".to_string(), "expiring".to_string()),
            ("sg-exp-typo".to_string(), "unreadable".to_string()),
        ]
    );
    let entry = |id: &str| {
        report["exemptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["resourceId"] == id)
            .unwrap()
            .clone()
    };
    let soon_entry = entry("sg-exp-soon");
    assert_eq!(soon_entry["regionId"], REGION);
    assert_eq!(soon_entry["until"], soon);
    assert_eq!(
        soon_entry["endsAt"],
        format!("{}T00:00:00Z", date(now + 4 * DAY))
    );
    assert_eq!(entry("sg-exp-typo")["value"], "until=2026-02-30");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_table_names_each_watched_exemption_on_its_own_line() {
    let now = SystemTime::now();
    let soon = date(now + 2 * DAY);
    let ended = date(now - DAY);
    let world = world_with_exemptions(&[
        ("sg-exp-soon", &format!("until={soon}")),
        ("sg-exp-ended", &format!("until={ended}")),
    ]);
    let emulator = emulator(&world).await;
    let (_, table) = scan(&emulator, false).await;
    assert!(
        table.contains(&format!(
            "Exemptions (tag {TAG}) ending within 7 days, ended or unreadable:\n"
        )),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "  sg-exp-soon  {REGION}  expires {soon} (exempt until "
        )),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "  sg-exp-ended  {REGION}  EXPIRED {ended}, no longer exempt: the function remediates \
             it when next invoked for it\n"
        )),
        "{table}"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_without_watched_exemptions_has_an_empty_list_and_no_table_section() {
    let emulator = emulator(&world_with_tag("true")).await;
    let (_, stdout) = scan(&emulator, true).await;
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["exemptions"], serde_json::json!([]));
    let (_, table) = scan(&emulator, false).await;
    assert!(!table.contains("Exemptions ("), "{table}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_and_a_dry_run_of_the_function_report_an_ended_exemption_alike() {
    let ended = date(SystemTime::now() - DAY);
    let running = date(SystemTime::now() + 30 * DAY);
    let world = world_with_exemptions(&[
        ("sg-exp-ended", &format!("until={ended}")),
        ("sg-exp-running", &format!("until={running}")),
        ("sg-exp-typo", "until=soon"),
    ]);
    let emulator = emulator(&world).await;
    let (_, stdout) = scan(&emulator, true).await;
    let scanned: Value = serde_json::from_str(&stdout).unwrap();
    let function = Function::start(bootstrap!(), &emulator, &[("REMEDIATION_MODE", "dry-run")]);
    let ids = ["sg-exp-ended", "sg-exp-running", "sg-exp-typo"];
    let answer = function.invoke(&event(&ids)).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    for id in ids {
        let s = result(&scanned, id);
        let f = answer.result(id);
        for key in ["status", "reason", "wouldRevokeRuleIds", "wouldRevokeRules"] {
            assert_eq!(s[key], f[key], "{id} {key}");
        }
    }
    emulator.shutdown().await;
}

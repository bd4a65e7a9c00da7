//! The cloud misbehaves; the function stays truthful, answers in time, and keeps serving.
//!
//! Every scenario checks the same four things: [`Truth::assert_told`] (each resource's status
//! matches live state, only risky rules are gone), the answer arrived before the deadline given
//! in `x-fc-function-timeout`, a follow-up invocation is served, and [`Cloud::finish`] (clean
//! exit, no secret in any output).

use std::time::Duration;

use acs_emulator::{Fault, FaultKind, JournalEntry};

use super::cloud::{event, function_key, Answer, Cloud, Key, World, ACCOUNT};

/// A deadline short enough to make giving up observable and long enough for a loaded machine.
const SHORT_TIMEOUT_S: u32 = 4;
/// For scenarios that must succeed after retries.
const ROOMY_TIMEOUT_S: u32 = 20;

fn world(groups: &[&str]) -> World {
    let mut w = World::base();
    for sg in groups {
        w.add_group(ACCOUNT, sg);
    }
    w
}

fn assert_before_deadline(answer: &Answer, timeout_s: u32) {
    assert!(
        answer.elapsed < Duration::from_secs(timeout_s.into()),
        "answered after {:?}, past the {timeout_s} s deadline",
        answer.elapsed
    );
}

/// The process is still up and serving: with the faults gone, the group is remediated (or
/// already compliant), truthfully.
async fn assert_still_serving(cloud: &Cloud, world: &World, key: &Key, groups: &[&str]) {
    cloud.emu.clear_faults();
    let truth = cloud.truth(world, groups);
    let answer = cloud
        .invoke_event(key, ROOMY_TIMEOUT_S, &event(ACCOUNT, groups))
        .await;
    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status, 200, "follow-up: {}", answer.body);
    for sg in groups {
        let status = answer.status_of(sg);
        assert!(
            status == "remediated" || status == "compliant",
            "follow-up {sg}: {status}"
        );
    }
}

fn calls<'a>(
    journal: &'a [JournalEntry],
    action: &'a str,
) -> impl Iterator<Item = &'a JournalEntry> {
    journal.iter().filter(move |e| e.action == action)
}

fn faulted(journal: &[JournalEntry], label_prefix: &str) -> usize {
    journal
        .iter()
        .filter(|e| {
            e.fault
                .as_deref()
                .is_some_and(|f| f.starts_with(label_prefix))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_storm_that_passes_is_ridden_out() {
    let sg = "sg-relthrottle0000001";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::Throttle {
            code: "Throttling.User".into(),
        })
        .times(3),
    );
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, ROOMY_TIMEOUT_S, &event(ACCOUNT, &[sg]))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "remediated", "{}", answer.body);
    assert_eq!(faulted(&cloud.emu.journal(), "throttle"), 3);
    assert_before_deadline(&answer, ROOMY_TIMEOUT_S);
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_throttling_fails_with_the_throttling_reason_before_the_deadline() {
    let sg = "sg-relthrottle0000002";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(Fault::always(FaultKind::Throttle {
        code: "Throttling.User".into(),
    }));
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, SHORT_TIMEOUT_S, &event(ACCOUNT, &[sg]))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "failed");
    assert!(
        answer.reason_of(sg).contains("Throttling.User"),
        "{}",
        answer.reason_of(sg)
    );
    assert!(faulted(&cloud.emu.journal(), "throttle") >= 2, "it retried");
    assert_before_deadline(&answer, SHORT_TIMEOUT_S);
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_and_the_group_remediated() {
    let sg = "sg-relserver00000001";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::ServerError {
            status: 503,
            code: "ServiceUnavailable".into(),
        })
        .on_action("DescribeSecurityGroupAttribute")
        .times(1),
    );
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, ROOMY_TIMEOUT_S, &event(ACCOUNT, &[sg]))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "remediated", "{}", answer.body);
    let journal = cloud.emu.journal();
    assert_eq!(
        calls(&journal, "DescribeSecurityGroupAttribute")
            .map(|e| e.http_status)
            .next(),
        Some(503)
    );
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_500_on_revoke_fails_the_group_and_revokes_nothing() {
    let sg = "sg-relserver00000002";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::ServerError {
            status: 500,
            code: "InternalError".into(),
        })
        .on_action("RevokeSecurityGroup"),
    );
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, SHORT_TIMEOUT_S, &event(ACCOUNT, &[sg]))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "failed");
    assert!(
        answer.reason_of(sg).contains("InternalError"),
        "{}",
        answer.reason_of(sg)
    );
    assert_eq!(answer.result(sg)["revokedRuleIds"], serde_json::json!([]));
    assert_before_deadline(&answer, SHORT_TIMEOUT_S);
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_slower_than_the_deadline_fails_the_group_in_time() {
    let sg = "sg-relslow0000000001";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    let timeout_s = 3;
    cloud.emu.inject(
        Fault::always(FaultKind::Delay {
            ms: u64::from(timeout_s) * 1000 + 3000,
        })
        .on_action("DescribeSecurityGroupAttribute"),
    );
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, timeout_s, &event(ACCOUNT, &[sg]))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "failed");
    let reason = answer.reason_of(sg);
    assert!(
        reason.contains("DescribeSecurityGroupAttribute")
            && (reason.contains("deadline") || reason.contains("timed out")),
        "{reason}"
    );
    assert_before_deadline(&answer, timeout_s);
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried() {
    let sg = "sg-reldrop0000000001";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::DropConnection)
            .on_action("RevokeSecurityGroup")
            .times(2),
    );
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, ROOMY_TIMEOUT_S, &event(ACCOUNT, &[sg]))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "remediated", "{}", answer.body);
    let journal = cloud.emu.journal();
    let revokes: Vec<u16> = calls(&journal, "RevokeSecurityGroup")
        .map(|e| e.http_status)
        .collect();
    assert_eq!(revokes, [0, 0, 200], "two dropped, then answered");
    let tokens: Vec<&String> = calls(&journal, "RevokeSecurityGroup")
        .map(|e| &e.params["ClientToken"])
        .collect();
    assert!(
        tokens.windows(2).all(|t| t[0] == t[1]),
        "every retry carries the same ClientToken: {tokens:?}"
    );
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_answers_fail_their_group_clearly_and_never_look_compliant() {
    let (bad_config, bad_ecs, fine) = (
        "sg-relmalformed00001",
        "sg-relmalformed00002",
        "sg-relmalformed00003",
    );
    let groups = [bad_config, bad_ecs, fine];
    let w = world(&groups);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::MalformedBody)
            .on_action("GetDiscoveredResource")
            .on_group(bad_config),
    );
    cloud.emu.inject(
        Fault::always(FaultKind::MalformedBody)
            .on_action("DescribeSecurityGroupAttribute")
            .on_group(bad_ecs),
    );
    let truth = cloud.truth(&w, &groups);
    let answer = cloud
        .invoke_event(&key, SHORT_TIMEOUT_S, &event(ACCOUNT, &groups))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    for (sg, step) in [
        (bad_config, "GetDiscoveredResource"),
        (bad_ecs, "DescribeSecurityGroupAttribute"),
    ] {
        assert_eq!(answer.status_of(sg), "failed");
        let reason = answer.reason_of(sg);
        assert!(
            reason.contains(step) && reason.contains("unreadable response"),
            "{sg}: {reason}"
        );
    }
    assert_eq!(answer.status_of(fine), "remediated");
    assert_before_deadline(&answer, SHORT_TIMEOUT_S);
    assert_still_serving(&cloud, &w, &key, &groups).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_expiring_mid_event_fail_the_rest_with_the_token_error() {
    let groups: Vec<String> = (1..=5).map(|i| format!("sg-relexpiry0000000{i}")).collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let w = world(&groups);
    // One resource at a time, so "mid-event" is a precise point: after group 3's re-fetch.
    let cloud = Cloud::start(&w, &[("MAX_CONCURRENCY", "1")]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::Delay { ms: 300 })
            .on_action("GetDiscoveredResource")
            .on_group(groups[2])
            .times(1),
    );
    let truth = cloud.truth(&w, &groups);
    let body = event(ACCOUNT, &groups);
    let request = cloud.invoke_event(&key, ROOMY_TIMEOUT_S, &body);
    let expire = async {
        // The delayed call is journaled when it arrives, before its answer is sent.
        let arrived = |e: &JournalEntry| {
            e.action == "GetDiscoveredResource"
                && e.params.get("ResourceId").map(String::as_str) == Some(groups[2])
        };
        for _ in 0..5000 {
            if cloud.emu.journal().iter().any(arrived) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        cloud.emu.expire_credentials(&key.id);
    };
    let (answer, ()) = tokio::join!(request, expire);

    truth.assert_told(&cloud.emu, &answer);
    for sg in &groups[..2] {
        assert_eq!(answer.status_of(sg), "remediated", "{sg}");
    }
    for sg in &groups[2..] {
        assert_eq!(answer.status_of(sg), "failed", "{sg}");
        assert!(
            answer
                .reason_of(sg)
                .contains("InvalidSecurityToken.Expired"),
            "{sg}: {}",
            answer.reason_of(sg)
        );
    }
    assert_before_deadline(&answer, ROOMY_TIMEOUT_S);
    // FC hands the next invocation fresh credentials: everything left is remediated.
    assert_still_serving(&cloud, &w, &function_key(1), &groups).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_refused_for_one_group_fails_only_that_group_and_the_invocation() {
    let groups = [
        "sg-relpartial0000001",
        "sg-relpartial0000002",
        "sg-relpartial0000003",
        "sg-relpartial0000004",
    ];
    let refused = groups[1];
    let w = world(&groups);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: "User not authorized to operate on the specified resource.".into(),
        })
        .on_action("RevokeSecurityGroup")
        .on_group(refused),
    );
    let truth = cloud.truth(&w, &groups);
    let answer = cloud
        .invoke_event(&key, SHORT_TIMEOUT_S, &event(ACCOUNT, &groups))
        .await;

    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["errorType"], "RemediationFailed");
    assert_eq!(answer.status_of(refused), "failed");
    assert!(answer.reason_of(refused).contains("Forbidden.RAM"));
    for sg in groups.iter().filter(|g| **g != refused) {
        assert_eq!(answer.status_of(sg), "remediated", "{sg}");
    }
    assert_eq!(answer.body["summary"]["remediated"], 3);
    assert_eq!(answer.body["summary"]["failed"], 1);
    assert_before_deadline(&answer, SHORT_TIMEOUT_S);
    assert_still_serving(&cloud, &w, &key, &groups).await;
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_whose_answer_never_comes_fails_in_time_without_touching_other_rules() {
    // ECS applies the revoke but its answer would arrive after the deadline. The function cannot
    // know the outcome: it must fail the group in time and name the revoke as the step that
    // got no answer. Whether the risky rules are gone is unknown to it, so only what it must
    // never do is checked on live state: touch any other rule.
    let sg = "sg-rellostanswer0001";
    let w = world(&[sg]);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    let timeout_s = 3;
    cloud.emu.inject(
        Fault::always(FaultKind::Delay {
            ms: u64::from(timeout_s) * 1000 + 3000,
        })
        .on_action("RevokeSecurityGroup"),
    );
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&key, timeout_s, &event(ACCOUNT, &[sg]))
        .await;

    assert_eq!(answer.status, 404);
    assert_eq!(answer.status_of(sg), "failed");
    let reason = answer.reason_of(sg);
    assert!(
        reason.contains("RevokeSecurityGroup") && reason.contains("deadline exceeded"),
        "{reason}"
    );
    truth.assert_only_risky_rules_gone(&cloud.emu);
    assert_before_deadline(&answer, timeout_s);
    assert_still_serving(&cloud, &w, &key, &[sg]).await;
    cloud.finish();
}

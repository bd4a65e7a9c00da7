//! When the cloud's answer to a revoke is lost (timeout, dropped connection), ECS may or may not
//! have applied it. The function must then believe only the live state it reads afterwards, and
//! must never lose the backup record of a rule that is gone.
//!
//! These run the remediator in process, with client timeouts shortened so that a delayed answer
//! is a lost one without waiting for the production timeouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fault, FaultKind};
use acs_openapi::{Client, ClientSettings};
use bytes::Bytes;
use fc_runtime::{Context, Credentials, Event};
use serde_json::Value;
use sg_remediator::config::Config;
use sg_remediator::handler::Handle;
use sg_remediator::remediation::Remediator;
use sg_remediator::select::Selector;
use sg_test_kit::strings;
use sg_test_kit::world::*;

/// A remediator against the emulator whose calls give up on an answer after `attempt_timeout`.
fn remediator(emulator: &Emulator, attempt_timeout: Duration) -> Arc<Remediator> {
    let (config, ecs, sts) = (
        emulator.config_endpoint(),
        emulator.ecs_endpoint(),
        emulator.sts_endpoint(),
    );
    let config = Config::from_lookup(|name| match name {
        "CONFIG_ENDPOINT" => Some(config.clone()),
        "ECS_ENDPOINT" => Some(ecs.clone()),
        "STS_ENDPOINT" => Some(sts.clone()),
        _ => None,
    })
    .expect("the configuration is valid");
    let selector = Selector::new(config.risky_ports.clone(), None).expect("default selector");
    let client = Client::new(ClientSettings {
        attempt_timeout,
        max_attempts: 2,
        deadline_margin: Duration::from_millis(200),
        allow_http: true,
        ..ClientSettings::default()
    })
    .expect("a client");
    Arc::new(Remediator::new(
        config,
        selector,
        client,
        acs_openapi::credentials::Scrubber::new(),
    ))
}

fn invocation(event: &Value, timeout: Duration) -> Event {
    Event {
        payload: Bytes::from(event.to_string()),
        context: Context {
            request_id: "1-lost-answers".into(),
            credentials: Some(Credentials::new(
                FC_KEY_ID,
                FC_SECRET,
                Some(FC_TOKEN.into()),
            )),
            region: Some(REGION.into()),
            account_id: Some(FUNCTION_ACCOUNT.into()),
            function_name: Some(FUNCTION_NAME.into()),
            qualifier: None,
            memory_mb: None,
            timeout,
            deadline: Instant::now() + timeout,
            retry_count: None,
        },
    }
}

/// Every answer to RevokeSecurityGroup on `sg` arrives later than the client waits (ECS still
/// applies the first call; the retry is answered from its ClientToken, equally late).
fn lose_revoke_answers(emulator: &Emulator, sg: &str) {
    emulator.inject(
        Fault::always(FaultKind::Delay { ms: 1500 })
            .on_action("RevokeSecurityGroup")
            .on_group(sg),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_whose_answer_was_lost_but_is_verified_gone_counts_as_revoked() {
    let emulator = groups().await;
    lose_revoke_answers(&emulator, "sg-ssh-world");
    let remediator = remediator(&emulator, Duration::from_millis(200));
    let report = remediator
        .handle(invocation(
            &event(&["sg-ssh-world"]),
            Duration::from_secs(60),
        ))
        .await
        .expect("no failure: the rule is verified gone")
        .into_value();

    let result = &report["results"][0];
    assert_eq!(result["status"], "remediated", "{result:#}");
    assert_eq!(strings(&result["revokedRuleIds"]), ["sgr-ssh-world"]);
    let backup = result["revokedRules"].as_array().unwrap();
    assert_eq!(
        backup.len(),
        1,
        "the backup record of the revoked rule is kept"
    );
    assert_eq!(backup[0]["SecurityGroupRuleId"], "sgr-ssh-world");
    assert_eq!(backup[0]["PortRange"], "22/22");
    let reason = result["reason"].as_str().unwrap();
    assert!(!reason.contains("already gone"), "{reason}");
    assert!(reason.contains("answer"), "{reason}");
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), ["sgr-ssh-world-https"]);
    assert!(
        calls(&emulator, "RevokeSecurityGroup").len() >= 2,
        "the call was retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_that_never_took_effect_is_a_failure_and_claims_nothing() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::DropConnection)
            .on_action("RevokeSecurityGroup")
            .on_group("sg-ssh-world"),
    );
    let remediator = remediator(&emulator, Duration::from_millis(200));
    let failure = remediator
        .handle(invocation(
            &event(&["sg-ssh-world"]),
            Duration::from_secs(60),
        ))
        .await
        .expect_err("still exposed is a failure");

    let body = failure.to_json();
    let result = &body["results"][0];
    assert_eq!(result["status"], "failed", "{result:#}");
    assert!(strings(&result["revokedRuleIds"]).is_empty());
    assert!(result["revokedRules"].as_array().unwrap().is_empty());
    assert!(result.get("unverifiedRules").is_none());
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.contains("still exposed") && reason.contains("sgr-ssh-world"),
        "{reason}"
    );
    assert_eq!(
        live_ids(&emulator, "sg-ssh-world"),
        ["sgr-ssh-world", "sgr-ssh-world-https"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_still_processing_when_the_attempts_run_out_is_ours_once_verified_gone() {
    let emulator = groups().await;
    // The first call is applied but answered after 1.5 s; the retry (same ClientToken) meets
    // `LastTokenProcessing` and the client has no attempt left.
    emulator.inject(
        Fault::always(FaultKind::Delay { ms: 1500 })
            .on_action("RevokeSecurityGroup")
            .on_group("sg-ssh-world")
            .times(1),
    );
    let remediator = remediator(&emulator, Duration::from_millis(200));
    let report = remediator
        .handle(invocation(
            &event(&["sg-ssh-world"]),
            Duration::from_secs(60),
        ))
        .await
        .expect("no failure: the rule is verified gone")
        .into_value();

    let result = &report["results"][0];
    assert_eq!(result["status"], "remediated", "{result:#}");
    assert_eq!(strings(&result["revokedRuleIds"]), ["sgr-ssh-world"]);
    assert_eq!(
        result["revokedRules"][0]["SecurityGroupRuleId"],
        "sgr-ssh-world"
    );
    let revokes = calls(&emulator, "RevokeSecurityGroup");
    assert_eq!(revokes.len(), 2);
    assert_eq!(revokes[1].code.as_deref(), Some("LastTokenProcessing"));
    // Every error seen along the way stays in the reason, success or not.
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("LastTokenProcessing"), "{reason}");
    assert!(reason.contains("no response"), "{reason}");
    assert!(!reason.contains("already gone"), "{reason}");
}

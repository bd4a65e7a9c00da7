//! The client and the typed service calls against the emulator: every call's happy path, every
//! error path the remediation depends on, pagination, batching, retries and the deadline, and
//! the STS credential cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::common::get_discovered_resource;
use crate::common::{group_query, ids};
use acs_emulator::{Fault, FaultKind, Fixture};
use acs_openapi::credentials::{Credentials, Scrubber};
use acs_openapi::{ApiError, CallContext, ClientSettings, SignatureVersion};
use serde_json::{json, Value};
use sg_remediator::rules::{Permission, RuleId};
use sg_remediator::services::config::{AggregatorScope, ResourceQuery};
use sg_remediator::services::ecs::{
    authorize_security_group, describe_security_group_attribute, revoke_security_group,
};
use sg_remediator::services::sts::{self, CredentialCache};
use sg_test_kit::world::api::{self, World, KEY, MEMBER, OWNER, TOKEN};

const REGION: &str = "cn-hangzhou";
const SG: &str = "sg-web";
const MANAGED_SG: &str = "sg-managed";
const BIG_SG: &str = "sg-big";
const MEMBER_SG: &str = "sg-member";

fn rule(id: &str, port: u16, cidr: &str) -> Value {
    api::rule(id, port, cidr, "intranet")
}

fn fixture() -> Fixture {
    api::fixture(vec![
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": SG,
            "vpcId": "vpc-client", "serviceManaged": false, "tags": {"env": "prod"},
            "rules": [rule("sgr-ssh", 22, "0.0.0.0/0"), rule("sgr-https", 443, "0.0.0.0/0"),
                      rule("sgr-rdp", 3389, "0.0.0.0/0")]}),
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": MANAGED_SG,
            "vpcId": "vpc-client", "serviceManaged": true, "rules": [rule("sgr-m1", 22, "0.0.0.0/0")]}),
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": BIG_SG,
            "vpcId": "vpc-client", "rules": api::many_rules("b", 2500, "10.0.0.0/8")}),
        json!({"accountId": MEMBER, "regionId": REGION, "securityGroupId": MEMBER_SG,
            "vpcId": "vpc-member", "rules": [rule("sgr-mem", 22, "0.0.0.0/0")]}),
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": "sg-unrecorded",
            "snapshot": {"unknown": true}}),
    ])
}

async fn world() -> World {
    world_with(ClientSettings {
        deadline_margin: Duration::from_millis(200),
        ..ClientSettings::default()
    })
    .await
}

async fn world_with(settings: ClientSettings) -> World {
    World::start(fixture(), settings).await
}

// --- Config -----------------------------------------------------------------------------

#[tokio::test]
async fn get_discovered_resource_returns_the_parsed_snapshot() {
    let w = world().await;
    let r = get_discovered_resource(&w.client, &w.cx(), &w.config(), &group_query(SG))
        .await
        .unwrap();
    assert_eq!(r.resource_id, SG);
    assert_eq!(r.account_id.as_deref(), Some(OWNER));
    assert_eq!(r.region, REGION);
    assert!(!r.deleted);
    assert_eq!(r.service_managed, Some(false));
    assert_eq!(r.tags.get("env"), Some("prod"));
    assert!(r.request_id.is_some());
    assert_eq!(r.snapshot.as_ref().map(Vec::len), Ok(3));
    let call = &w.calls("GetDiscoveredResource")[0];
    assert_eq!(call.params["Region"], REGION);
    assert!(!call.params.contains_key("RegionId"));
}

#[tokio::test]
async fn get_aggregate_discovered_resource_reads_a_member_accounts_group() {
    let w = world().await;
    let q = ResourceQuery {
        aggregator: Some(AggregatorScope {
            aggregator_id: "ca-agg".into(),
            account_id: MEMBER.into(),
        }),
        ..group_query(MEMBER_SG)
    };
    let r = get_discovered_resource(&w.client, &w.cx(), &w.config(), &q)
        .await
        .unwrap();
    assert_eq!(r.account_id.as_deref(), Some(MEMBER));
    let call = &w.calls("GetAggregateDiscoveredResource")[0];
    assert_eq!(call.params["AggregatorId"], "ca-agg");
    assert_eq!(call.params["ResourceAccountId"], MEMBER);
}

#[tokio::test]
async fn a_resource_config_never_recorded_is_not_found() {
    let w = world().await;
    let e = get_discovered_resource(
        &w.client,
        &w.cx(),
        &w.config(),
        &group_query("sg-unrecorded"),
    )
    .await
    .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(w.calls("GetDiscoveredResource").len(), 1, "not retried");
}

#[tokio::test]
async fn calls_are_signed_v3_by_default() {
    let w = world().await;
    get_discovered_resource(&w.client, &w.cx(), &w.config(), &group_query(SG))
        .await
        .unwrap();
    let call = &w.calls("GetDiscoveredResource")[0];
    assert_eq!(call.signature_version, "v3");
    assert_eq!(call.access_key_id, KEY);
    assert!(!call.params.contains_key("Action") && !call.params.contains_key("Signature"));
}

#[tokio::test]
async fn calls_are_signed_v2_when_the_settings_say_so() {
    let w = world_with(ClientSettings {
        signature_version: SignatureVersion::V2,
        ..ClientSettings::default()
    })
    .await;
    get_discovered_resource(&w.client, &w.cx(), &w.config(), &group_query(SG))
        .await
        .unwrap();
    let call = &w.calls("GetDiscoveredResource")[0];
    assert_eq!(call.signature_version, "v2");
    assert_eq!(call.params["SignatureMethod"], "HMAC-SHA1");
}

#[tokio::test]
async fn a_wrong_secret_is_a_signature_mismatch_sent_once_with_the_token_redacted() {
    for version in [SignatureVersion::V3, SignatureVersion::V2] {
        a_wrong_secret_is_refused_once_with_the_token_redacted(version).await;
    }
}

async fn a_wrong_secret_is_refused_once_with_the_token_redacted(version: SignatureVersion) {
    let w = world_with(ClientSettings {
        signature_version: version,
        ..ClientSettings::default()
    })
    .await;
    let wrong = Credentials::new(KEY, "not-the-secret", Some(TOKEN.into()));
    let cx = CallContext {
        credentials: &wrong,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let e = get_discovered_resource(&w.client, &cx, &w.config(), &group_query(SG))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(
        w.emu.journal().len(),
        1,
        "a signature error is never retried"
    );
    let printed = format!("{e} {e:?}");
    for form in [
        "CAIS+owner/token==",
        "CAIS%2Bowner%2Ftoken%3D%3D",
        "CAIS%252Bowner%252Ftoken%253D%253D",
    ] {
        assert!(!printed.contains(form), "{version}: {form} in {printed}");
    }
}

#[tokio::test]
async fn expired_credentials_fail_without_retry() {
    let w = world().await;
    w.emu.expire_credentials(KEY);
    let e = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert!(
        !e.is_not_found(),
        "expired credentials must not look like a deleted group"
    );
    assert_eq!(w.emu.journal().len(), 1);
}

// --- ECS describe ---------------------------------------------------------------------------

#[tokio::test]
async fn describe_returns_every_live_ingress_rule() {
    let w = world().await;
    let rules = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap();
    assert_eq!(rules.pages, 1);
    assert_eq!(rules.request_ids.len(), 1);
    let found: Vec<&str> = rules
        .permissions
        .iter()
        .map(|p| p.rule_id.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(found, ["sgr-ssh", "sgr-https", "sgr-rdp"]);
    let call = &w.calls("DescribeSecurityGroupAttribute")[0];
    assert_eq!(call.params["Direction"], "ingress");
    assert_eq!(call.params["MaxResults"], "1000");
}

#[tokio::test]
async fn describe_follows_next_token_across_pages() {
    let w = world().await;
    let rules = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, BIG_SG)
        .await
        .unwrap();
    assert_eq!(rules.pages, 3);
    assert_eq!(rules.request_ids.len(), 3);
    assert_eq!(rules.permissions.len(), 2500);
    let mut unique: Vec<_> = rules
        .permissions
        .iter()
        .map(|p| p.rule_id.clone())
        .collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 2500);
}

#[tokio::test]
async fn describing_a_deleted_group_is_not_found() {
    let w = world().await;
    w.emu.set_live_deleted(SG, true);
    let e = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(!e.is_rule_not_found());
}

// --- ECS revoke -----------------------------------------------------------------------------

#[tokio::test]
async fn revoke_removes_exactly_the_given_rules() {
    let w = world().await;
    let chunks = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        SG,
        "1-client-test",
        &ids(&["sgr-rdp", "sgr-ssh"]),
    )
    .await;
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].result.is_ok(), "{:?}", chunks[0].result);
    assert_eq!(w.live_ids(SG), ["sgr-https"]);
    let call = &w.calls("RevokeSecurityGroup")[0];
    assert_eq!(call.params["SecurityGroupRuleId.1"], "sgr-rdp");
    assert_eq!(call.params["SecurityGroupRuleId.2"], "sgr-ssh");
    assert!(call.params["ClientToken"].starts_with("rm-"));
}

#[tokio::test]
async fn revoking_on_a_managed_group_is_refused_with_403() {
    let w = world().await;
    let chunks = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        MANAGED_SG,
        "1-client-test",
        &ids(&["sgr-m1"]),
    )
    .await;
    let e = chunks[0].result.as_ref().unwrap_err();
    assert!(e.is_managed_by_cloud_product(), "{e:?}");
    assert_eq!(e.status(), Some(403));
    assert!(!e.is_not_found());
    assert_eq!(w.live_ids(MANAGED_SG), ["sgr-m1"]);
    assert_eq!(w.calls("RevokeSecurityGroup").len(), 1);
}

#[tokio::test]
async fn revoking_an_unknown_rule_id_is_rule_not_found() {
    let w = world().await;
    let chunks = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        SG,
        "1-client-test",
        &ids(&["sgr-ssh", "sgr-gone"]),
    )
    .await;
    let e = chunks[0].result.as_ref().unwrap_err();
    assert!(e.is_rule_not_found(), "{e:?}");
    assert_eq!(w.calls("RevokeSecurityGroup").len(), 1, "not retried");
}

#[tokio::test]
async fn revoking_150_rules_sends_chunks_of_100_and_50() {
    let w = world().await;
    let targets: Vec<RuleId> = api::many_rule_ids("b", 150)
        .into_iter()
        .map(|id| RuleId(id.into()))
        .collect();
    let chunks = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        BIG_SG,
        "1-client-test",
        &targets,
    )
    .await;
    let sizes: Vec<usize> = chunks.iter().map(|c| c.ids.len()).collect();
    assert_eq!(sizes, [100, 50]);
    assert!(chunks.iter().all(|c| c.result.is_ok()));
    let calls = w.calls("RevokeSecurityGroup");
    let sent: Vec<usize> = calls
        .iter()
        .map(|c| {
            c.params
                .keys()
                .filter(|k| k.starts_with("SecurityGroupRuleId."))
                .count()
        })
        .collect();
    assert_eq!(sent, [100, 50]);
    assert_ne!(
        calls[0].params["ClientToken"],
        calls[1].params["ClientToken"]
    );
    assert_eq!(w.live_ids(BIG_SG).len(), 2350);
}

#[tokio::test]
async fn a_revoke_retried_after_a_503_reuses_its_client_token() {
    let w = world().await;
    w.emu.inject(
        Fault::always(FaultKind::ServerError {
            status: 503,
            code: "ServiceUnavailable".into(),
        })
        .on_action("RevokeSecurityGroup")
        .times(1),
    );
    let chunks = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        SG,
        "1-client-test",
        &ids(&["sgr-ssh"]),
    )
    .await;
    assert!(chunks[0].result.is_ok(), "{:?}", chunks[0].result);
    let calls = w.calls("RevokeSecurityGroup");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].http_status, 503);
    assert_eq!(
        calls[0].params["ClientToken"],
        calls[1].params["ClientToken"]
    );
    assert_ne!(calls[0].nonce, calls[1].nonce);
    assert_eq!(w.live_ids(SG), ["sgr-https", "sgr-rdp"]);
}

// --- ECS authorize --------------------------------------------------------------------------

#[tokio::test]
async fn authorize_puts_a_revoked_rule_back() {
    let w = world().await;
    let backup = Permission::from_json(&w.emu.live_rules(SG).unwrap()[0]).unwrap();
    let revoked = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        SG,
        "1-client-test",
        &ids(&["sgr-ssh"]),
    )
    .await;
    assert!(revoked[0].result.is_ok());
    let chunks = authorize_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        SG,
        "1-client-test",
        std::slice::from_ref(&backup),
    )
    .await;
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].result.is_ok(), "{:?}", chunks[0].result);
    let after = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap();
    let restored = after
        .permissions
        .iter()
        .find(|p| p.port_range == backup.port_range && p.is_world_open())
        .expect("the rule is back");
    assert_ne!(
        restored.rule_id, backup.rule_id,
        "a restored rule gets a new id"
    );
    let call = &w.calls("AuthorizeSecurityGroup")[0];
    assert_eq!(call.params["Permissions.1.Policy"], "accept");
    assert_eq!(call.params["Permissions.1.SourceCidrIp"], "0.0.0.0/0");
    assert!(call.params["ClientToken"].starts_with("au-"));
}

// --- Retries and the deadline ---------------------------------------------------------------

#[tokio::test]
async fn a_throttled_call_is_retried_to_success_with_a_new_nonce_each_time() {
    let w = world().await;
    w.emu.inject(
        Fault::always(FaultKind::Throttle {
            code: "Throttling.User".into(),
        })
        .on_action("DescribeSecurityGroupAttribute")
        .times(2),
    );
    let rules = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap();
    assert_eq!(rules.permissions.len(), 3);
    let calls = w.calls("DescribeSecurityGroupAttribute");
    let codes: Vec<Option<&str>> = calls.iter().map(|c| c.code.as_deref()).collect();
    assert_eq!(
        codes,
        [Some("Throttling.User"), Some("Throttling.User"), None]
    );
    let mut nonces: Vec<&str> = calls.iter().map(|c| c.nonce.as_str()).collect();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), 3);
}

#[tokio::test]
async fn endless_throttling_returns_deadline_exceeded_before_the_deadline() {
    let w = world_with(ClientSettings {
        allow_http: true,
        max_attempts: 1000,
        deadline_margin: Duration::from_millis(200),
        ..ClientSettings::default()
    })
    .await;
    w.emu.inject(Fault::always(FaultKind::Throttle {
        code: "Throttling".into(),
    }));
    let deadline = Instant::now() + Duration::from_secs(1);
    let cx = CallContext {
        credentials: &w.creds,
        deadline,
    };
    let e = describe_security_group_attribute(&w.client, &cx, &w.ecs(), REGION, SG)
        .await
        .unwrap_err();
    assert!(Instant::now() < deadline, "answered after the deadline");
    match &e {
        ApiError::DeadlineExceeded { last: Some(last) } => assert!(last.is_throttling()),
        other => panic!("expected DeadlineExceeded carrying the throttle, got {other:?}"),
    }
    assert!(w.emu.journal().len() >= 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let w = world().await;
    w.emu.inject(
        Fault::always(FaultKind::DropConnection)
            .on_action("DescribeSecurityGroupAttribute")
            .times(1),
    );
    let rules = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap();
    assert_eq!(rules.permissions.len(), 3);
    let statuses: Vec<u16> = w
        .calls("DescribeSecurityGroupAttribute")
        .iter()
        .map(|c| c.http_status)
        .collect();
    assert_eq!(statuses, [0, 200]);
}

#[tokio::test]
async fn a_malformed_success_body_is_an_error_not_an_empty_group() {
    let w = world().await;
    w.emu.inject(
        Fault::always(FaultKind::MalformedBody)
            .on_action("DescribeSecurityGroupAttribute")
            .times(1),
    );
    let e = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, SG)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Decode { .. }), "{e:?}");
}

// --- STS ------------------------------------------------------------------------------------

const ROLE_DURATION: u32 = 900;

#[tokio::test]
async fn assumed_credentials_act_as_the_member_account() {
    let w = world().await;
    let arn = sts::role_arn(MEMBER, "sg-remediation");
    let assumed = sts::assume_role(
        &w.client,
        &w.cx(),
        &w.sts(),
        &arn,
        &sts::session_name("remediate"),
        ROLE_DURATION,
    )
    .await
    .unwrap();
    assert!(assumed.expiration > SystemTime::now());
    let cx = CallContext {
        credentials: &assumed.credentials,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let rules = describe_security_group_attribute(&w.client, &cx, &w.ecs(), REGION, MEMBER_SG)
        .await
        .unwrap();
    assert_eq!(rules.permissions.len(), 1);
    let call = &w.calls("AssumeRole")[0];
    assert_eq!(call.params["RoleSessionName"], "sg-remediator-remediate");
    assert_eq!(call.params["DurationSeconds"], "900");
}

#[tokio::test]
async fn assuming_an_unknown_role_is_a_non_retryable_error() {
    let w = world().await;
    let e = sts::assume_role(
        &w.client,
        &w.cx(),
        &w.sts(),
        &sts::role_arn(MEMBER, "no-such-role"),
        "sg-remediator-x",
        ROLE_DURATION,
    )
    .await
    .unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert_eq!(w.calls("AssumeRole").len(), 1);
}

#[tokio::test]
async fn cached_credentials_are_reused_then_refreshed_near_expiry() {
    let w = world().await;
    let skew = Arc::new(AtomicU64::new(0));
    let clock_skew = skew.clone();
    let cache = CredentialCache::with_clock(
        Scrubber::new(),
        Arc::new(move || {
            SystemTime::now() + Duration::from_secs(clock_skew.load(Ordering::SeqCst))
        }),
    );
    let arn = sts::role_arn(MEMBER, "sg-remediation");
    let (cx, endpoint) = (w.cx(), w.sts());
    let get = || {
        cache.get_or_assume(
            &w.client,
            &cx,
            &endpoint,
            &arn,
            "sg-remediator-x",
            ROLE_DURATION,
        )
    };
    let first = get().await.unwrap();
    let second = get().await.unwrap();
    assert_eq!(first.credentials, second.credentials);
    assert_eq!(
        w.calls("AssumeRole").len(),
        1,
        "the second call hit the cache"
    );

    // 4 minutes before expiry: inside the 5-minute refresh window.
    skew.store(u64::from(ROLE_DURATION) - 240, Ordering::SeqCst);
    let third = get().await.unwrap();
    assert_ne!(third.credentials, first.credentials);
    assert_eq!(w.calls("AssumeRole").len(), 2, "refreshed near expiry");
}

#[tokio::test]
async fn credentials_are_cached_per_whole_caller_credentials() {
    let w = world().await;
    let cache = CredentialCache::new(Scrubber::new());
    let arn = sts::role_arn(MEMBER, "sg-remediation");
    cache
        .get_or_assume(
            &w.client,
            &w.cx(),
            &w.sts(),
            &arn,
            "sg-remediator-x",
            ROLE_DURATION,
        )
        .await
        .unwrap();
    let cx = w.cx();
    let caller = cx.credentials;
    assert!(cache.cached(&arn, caller).is_some());
    let mut other_key = caller.clone();
    other_key.access_key_id = "another-key".into();
    assert!(cache.cached(&arn, &other_key).is_none());
    // Same key id, wrong secret or token: not the same caller.
    let mut wrong_secret = caller.clone();
    wrong_secret.access_key_secret = acs_openapi::credentials::Secret::new("wrong");
    assert!(cache.cached(&arn, &wrong_secret).is_none());
    let mut wrong_token = caller.clone();
    wrong_token.security_token = Some(acs_openapi::credentials::Secret::new("wrong"));
    assert!(cache.cached(&arn, &wrong_token).is_none());
}

//! The emulator is under test too: every later test meets "the cloud" through it, so each
//! strictness it promises (signature, nonce, timestamp, tokens, Revoke semantics, pagination,
//! idempotency, stale snapshots, STS expiry, faults, a secret-free journal) is specified here
//! with hand-signed requests.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use acs_emulator::{Emulator, Fault, FaultKind, Fixture, Service};
use acs_openapi::acs3;
use acs_openapi::credentials::Credentials;
use acs_openapi::signing::{
    add_common_params, canonical_query, format_timestamp, percent_encode, signed_query,
    string_to_sign, Params,
};
use serde_json::{json, Value};

const ECS: &str = "2014-05-26";
const CONFIG: &str = "2020-09-07";
const STS: &str = "2015-04-01";

const WEB_SG: &str = "sg-bp67acfmxazb4p1234";
const MANY_SG: &str = "sg-bp1many0000000000";
const STALE_SG: &str = "sg-bp1stale0000000000";
const MANAGED_SG: &str = "sg-bp1managed00000000";
const MEMBER_SG: &str = "sg-bp1member00000000";
const ROLE_ARN: &str = "acs:ram::2222333344445555:role/sg-remediation";

/// An access key from tests/fixtures/basic.json.
#[derive(Clone)]
struct Key {
    id: String,
    secret: String,
    token: Option<String>,
}

fn key(id: &str, secret: &str, token: Option<&str>) -> Key {
    Key {
        id: id.into(),
        secret: secret.into(),
        token: token.map(str::to_string),
    }
}

fn fc_key() -> Key {
    key(
        "STS.FcRoleKey0000000000000",
        "fcSecret/+=0000000000000000000000000000",
        Some("CAIS+fc/token/with+plus/and=slash=="),
    )
}
fn ram_user() -> Key {
    key(
        "LTAI5tRamUser00000000000",
        "ramUserSecret000000000000000000",
        None,
    )
}
fn root_key() -> Key {
    key(
        "LTAI5tRootKey00000000000",
        "rootSecret0000000000000000000000",
        None,
    )
}
fn member_user() -> Key {
    key(
        "LTAI5tMemberUser0000000",
        "memberSecret000000000000000000",
        None,
    )
}

fn fixture_json() -> Value {
    serde_json::from_str(include_str!("fixtures/basic.json")).expect("fixture is JSON")
}

async fn start() -> Emulator {
    let fixture = Fixture::from_json_str(include_str!("fixtures/basic.json"))
        .expect("basic fixture is valid");
    Emulator::start(fixture).await.expect("emulator starts")
}

async fn start_with(fixture: Value) -> Emulator {
    let fixture = Fixture::from_json_str(&fixture.to_string()).expect("fixture is valid");
    Emulator::start(fixture).await.expect("emulator starts")
}

/// All parameters of one attempt, unsigned.
fn params(k: &Key, action: &str, version: &str, extra: &[(&str, &str)]) -> Params {
    let creds = Credentials::new(k.id.clone(), k.secret.clone(), k.token.clone());
    let mut p = Params::new();
    for (n, v) in extra {
        p.insert(n.to_string().into(), v.to_string());
    }
    let nonce = uuid::Uuid::new_v4().to_string();
    add_common_params(
        &mut p,
        action,
        version,
        &creds,
        &nonce,
        &format_timestamp(SystemTime::now()),
    );
    p
}

/// Sends a raw query (and optional form body); returns status and body (`Null` if not JSON).
async fn send(
    endpoint: &str,
    method: &str,
    query: &str,
    form: Option<String>,
) -> Result<(u16, Value), reqwest::Error> {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client.request(method, format!("{endpoint}/?{query}"));
    if let Some(body) = form {
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn send_params(endpoint: &str, method: &str, p: &Params, secret: &str) -> (u16, Value) {
    send(endpoint, method, &signed_query(method, p, secret), None)
        .await
        .expect("emulator answers")
}

async fn call(
    endpoint: &str,
    k: &Key,
    action: &str,
    version: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let p = params(k, action, version, extra);
    send_params(endpoint, "POST", &p, &k.secret).await
}

async fn describe(emu: &Emulator, k: &Key, group: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("RegionId", "cn-hangzhou"), ("SecurityGroupId", group)];
    all.extend_from_slice(extra);
    call(
        &emu.ecs_endpoint(),
        k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &all,
    )
    .await
}

async fn revoke(emu: &Emulator, group: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("RegionId", "cn-hangzhou"), ("SecurityGroupId", group)];
    all.extend_from_slice(extra);
    call(
        &emu.ecs_endpoint(),
        &fc_key(),
        "RevokeSecurityGroup",
        ECS,
        &all,
    )
    .await
}

async fn authorize(emu: &Emulator, group: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("RegionId", "cn-hangzhou"), ("SecurityGroupId", group)];
    all.extend_from_slice(extra);
    call(
        &emu.ecs_endpoint(),
        &fc_key(),
        "AuthorizeSecurityGroup",
        ECS,
        &all,
    )
    .await
}

async fn discovered(emu: &Emulator, k: &Key, group: &str) -> (u16, Value) {
    call(
        &emu.config_endpoint(),
        k,
        "GetDiscoveredResource",
        CONFIG,
        &[
            ("ResourceId", group),
            ("ResourceType", "ACS::ECS::SecurityGroup"),
            ("Region", "cn-hangzhou"),
        ],
    )
    .await
}

async fn assume(emu: &Emulator, k: &Key, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "sg-remediator@fc"),
    ];
    for (n, v) in extra {
        all.retain(|(name, _)| name != n);
        all.push((n, v));
    }
    call(&emu.sts_endpoint(), k, "AssumeRole", STS, &all).await
}

fn code(body: &Value) -> &str {
    body["Code"].as_str().unwrap_or("")
}

fn rule_ids(rules: &[Value]) -> Vec<String> {
    rules
        .iter()
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap_or("").to_string())
        .collect()
}

fn live_ids(emu: &Emulator, group: &str) -> Vec<String> {
    rule_ids(&emu.live_rules(group).expect("group exists"))
}

// ---------------------------------------------------------------- signature and common params

#[tokio::test]
async fn a_correctly_signed_request_is_accepted_with_an_uppercase_request_id() {
    let emu = start().await;
    let (status, body) = describe(&emu, &fc_key(), WEB_SG, &[]).await;
    assert_eq!(status, 200, "{body}");
    let rid = body["RequestId"].as_str().unwrap();
    assert_eq!(rid, rid.to_uppercase());
    assert_eq!(uuid::Uuid::parse_str(rid).map(|_| ()), Ok(()));
    assert_eq!(body["SecurityGroupId"], WEB_SG);
}

#[tokio::test]
async fn a_get_request_is_verified_against_the_get_string_to_sign() {
    let emu = start().await;
    let k = ram_user();
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let (status, _) = send_params(&emu.ecs_endpoint(), "GET", &p, &k.secret).await;
    assert_eq!(status, 200);
    // Signed for POST, sent as GET: the method is part of the string to sign.
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let q = signed_query("POST", &p, &k.secret);
    let (status, body) = send(&emu.ecs_endpoint(), "GET", &q, None).await.unwrap();
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
}

#[tokio::test]
async fn form_body_parameters_are_signed_together_with_the_query() {
    let emu = start().await;
    let k = ram_user();
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[
            ("RegionId", "cn-hangzhou"),
            ("SecurityGroupId", WEB_SG),
            ("Direction", "ingress"),
        ],
    );
    let signed = signed_query("POST", &p, &k.secret);
    // Move two business parameters into a form body (space-free values; `+` would be a space).
    let (body_pairs, query_pairs): (Vec<&str>, Vec<&str>) = signed
        .split('&')
        .partition(|pair| pair.starts_with("Direction=") || pair.starts_with("RegionId="));
    let (status, body) = send(
        &emu.ecs_endpoint(),
        "POST",
        &query_pairs.join("&"),
        Some(body_pairs.join("&")),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    // A parameter not covered by the signature is caught.
    let (status, body) = send(
        &emu.ecs_endpoint(),
        "POST",
        &query_pairs.join("&"),
        Some(format!("{}&NicType=intranet", body_pairs.join("&"))),
    )
    .await
    .unwrap();
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
}

#[tokio::test]
async fn a_mutated_signature_is_refused_with_the_server_string_to_sign_and_no_token() {
    let emu = start().await;
    let k = fc_key();
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let query = format!(
        "{}&Signature={}",
        canonical_query(&p),
        percent_encode("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    );
    let (status, body) = send(&emu.ecs_endpoint(), "POST", &query, None)
        .await
        .unwrap();
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
    let message = body["Message"].as_str().unwrap();
    let expected = string_to_sign("POST", &canonical_query(&p));
    let token = k.token.as_deref().unwrap();
    let twice = percent_encode(&percent_encode(token));
    assert!(
        message.starts_with(
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&"
        ),
        "{message}"
    );
    assert_eq!(
        message.split_once("is:").unwrap().1,
        expected.replace(&twice, "***")
    );
    assert!(!message.contains(&twice) && !message.contains(&percent_encode(token)));
    assert!(!message.contains(token));
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let emu = start().await;
    let k = ram_user();
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let (first, _) = send_params(&emu.ecs_endpoint(), "POST", &p, &k.secret).await;
    let (second, body) = send_params(&emu.ecs_endpoint(), "POST", &p, &k.secret).await;
    assert_eq!(first, 200);
    assert_eq!((second, code(&body)), (400, "SignatureNonceUsed"));
}

#[tokio::test]
async fn a_timestamp_twenty_minutes_old_or_ahead_is_expired() {
    let emu = start().await;
    let k = ram_user();
    for at in [
        SystemTime::now() - Duration::from_secs(20 * 60),
        SystemTime::now() + Duration::from_secs(20 * 60),
    ] {
        let mut p = params(
            &k,
            "DescribeSecurityGroupAttribute",
            ECS,
            &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
        );
        p.insert("Timestamp".into(), format_timestamp(at));
        let (status, body) = send_params(&emu.ecs_endpoint(), "POST", &p, &k.secret).await;
        assert_eq!((status, code(&body)), (400, "InvalidTimeStamp.Expired"));
    }
}

#[tokio::test]
async fn a_timestamp_with_fractional_seconds_is_illegal() {
    let emu = start().await;
    let k = ram_user();
    let mut p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let ts = p["Timestamp"].replace('Z', ".000Z");
    p.insert("Timestamp".into(), ts);
    let (status, body) = send_params(&emu.ecs_endpoint(), "POST", &p, &k.secret).await;
    assert_eq!((status, code(&body)), (400, "IllegalTimestamp"));
}

#[tokio::test]
async fn an_unknown_access_key_is_not_found() {
    let emu = start().await;
    let k = key("LTAI5tNobody", "whatever", None);
    let (status, body) = describe(&emu, &k, WEB_SG, &[]).await;
    assert_eq!((status, code(&body)), (404, "InvalidAccessKeyId.NotFound"));
}

#[tokio::test]
async fn sts_credentials_need_their_own_security_token() {
    let emu = start().await;
    let mut missing = fc_key();
    missing.token = None;
    let (status, body) = describe(&emu, &missing, WEB_SG, &[]).await;
    assert_eq!((status, code(&body)), (400, "MissingSecurityToken"));
    let mut wrong = fc_key();
    wrong.token = Some("CAIS+someone/elses==".into());
    let (status, body) = describe(&emu, &wrong, WEB_SG, &[]).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidSecurityToken.MismatchWithAccessKey")
    );
}

#[tokio::test]
async fn expired_fixture_credentials_are_refused() {
    let emu = start().await;
    let k = key(
        "STS.ExpiredKey00000000000",
        "expiredSecret000000000000000000",
        Some("CAIS+expired/token=="),
    );
    let (status, body) = describe(&emu, &k, WEB_SG, &[]).await;
    assert_eq!((status, code(&body)), (400, "InvalidSecurityToken.Expired"));
}

#[tokio::test]
async fn a_version_of_another_service_is_refused() {
    let emu = start().await;
    let (status, body) = call(
        &emu.config_endpoint(),
        &ram_user(),
        "GetDiscoveredResource",
        ECS,
        &[
            ("ResourceId", WEB_SG),
            ("ResourceType", "ACS::ECS::SecurityGroup"),
        ],
    )
    .await;
    assert_eq!((status, code(&body)), (404, "InvalidAction.NotFound"));
}

#[tokio::test]
async fn an_action_of_another_service_is_not_found() {
    let emu = start().await;
    let (status, body) = call(
        &emu.ecs_endpoint(),
        &ram_user(),
        "AssumeRole",
        ECS,
        &[("RoleArn", ROLE_ARN)],
    )
    .await;
    assert_eq!((status, code(&body)), (404, "InvalidAction.NotFound"));
}

#[tokio::test]
async fn each_missing_common_parameter_is_named() {
    let emu = start().await;
    let k = ram_user();
    for name in [
        "AccessKeyId",
        "SignatureNonce",
        "Timestamp",
        "SignatureMethod",
        "SignatureVersion",
        "Version",
        "Action",
        "Format",
    ] {
        let mut p = params(
            &k,
            "DescribeSecurityGroupAttribute",
            ECS,
            &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
        );
        p.remove(name);
        let (status, body) = send_params(&emu.ecs_endpoint(), "POST", &p, &k.secret).await;
        assert_eq!((status, code(&body)), (400, "MissingParameter"), "{name}");
        assert!(
            body["Message"].as_str().unwrap().contains(name),
            "{name}: {body}"
        );
    }
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let (status, body) = send(&emu.ecs_endpoint(), "POST", &canonical_query(&p), None)
        .await
        .unwrap();
    assert_eq!((status, code(&body)), (400, "MissingParameter"));
    assert!(body["Message"].as_str().unwrap().contains("Signature"));
}

#[tokio::test]
async fn only_hmac_sha1_version_1_0_is_served() {
    let emu = start().await;
    let k = ram_user();
    for (name, value) in [
        ("SignatureMethod", "HMAC-SHA256"),
        ("SignatureVersion", "2.0"),
    ] {
        let mut p = params(
            &k,
            "DescribeSecurityGroupAttribute",
            ECS,
            &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
        );
        p.insert(name.into(), value.into());
        let (status, body) = send_params(&emu.ecs_endpoint(), "POST", &p, &k.secret).await;
        assert_eq!(status, 400);
        assert_eq!(code(&body), format!("InvalidParameter.{name}"));
    }
}

#[tokio::test]
async fn error_bodies_carry_request_id_host_code_message_and_recommend() {
    let emu = start().await;
    let (_, body) = describe(&emu, &ram_user(), "sg-doesnotexist", &[]).await;
    for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
}

// ---------------------------------------------------------------- DescribeSecurityGroupAttribute

#[tokio::test]
async fn describe_pages_really_split_25_rules_into_10_10_5() {
    let emu = start().await;
    let mut token = String::new();
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    loop {
        let mut extra = vec![("MaxResults", "10"), ("Direction", "ingress")];
        if !token.is_empty() {
            extra.push(("NextToken", token.as_str()));
        }
        let (status, body) = describe(&emu, &fc_key(), MANY_SG, &extra).await;
        assert_eq!(status, 200, "{body}");
        let page = body["Permissions"]["Permission"]
            .as_array()
            .unwrap()
            .clone();
        sizes.push(page.len());
        seen.extend(rule_ids(&page));
        token = body["NextToken"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, live_ids(&emu, MANY_SG));
}

#[tokio::test]
async fn describe_refuses_max_results_outside_10_to_1000() {
    let emu = start().await;
    for bad in ["9", "1001", "ten"] {
        let (status, body) = describe(&emu, &fc_key(), MANY_SG, &[("MaxResults", bad)]).await;
        assert_eq!(
            (status, code(&body)),
            (400, "InvalidParameter.MaxResults"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn describe_refuses_a_next_token_it_never_issued() {
    let emu = start().await;
    let (status, body) = describe(&emu, &fc_key(), MANY_SG, &[("NextToken", "forged")]).await;
    assert_eq!((status, code(&body)), (400, "InvalidParameter.NextToken"));
}

#[tokio::test]
async fn describe_filters_by_direction_and_answers_priorities_as_text_like_the_sdk_model() {
    let emu = start().await;
    let (_, body) = describe(&emu, &fc_key(), WEB_SG, &[("Direction", "ingress")]).await;
    let rules = body["Permissions"]["Permission"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["Direction"] == "ingress"));
    let all_proto = rules
        .iter()
        .find(|r| r["SecurityGroupRuleId"] == "sgr-bp1z9y8x7w6v5u4t3s")
        .unwrap();
    // The SDK model types every Permission field as *string: a number the fixture wrote is
    // answered as its text.
    assert_eq!(
        all_proto["Priority"],
        json!("100"),
        "a number becomes its text"
    );
    let ssh = rules
        .iter()
        .find(|r| r["SecurityGroupRuleId"] == "sgr-bp1a2b3c4d5e6f7g8h")
        .unwrap();
    assert_eq!(ssh["Priority"], json!("1"), "a string stays a string");
    let (_, body) = describe(&emu, &fc_key(), WEB_SG, &[]).await;
    let all = body["Permissions"]["Permission"].as_array().unwrap();
    assert!(all.iter().any(|r| r["Direction"] == "egress"));
}

#[tokio::test]
async fn describe_of_a_group_not_live_in_the_callers_account_and_region_is_not_found() {
    let emu = start().await;
    // Another account's group, a deleted group, a wrong region.
    let (s1, b1) = describe(&emu, &fc_key(), MEMBER_SG, &[]).await;
    let (s2, b2) = call(
        &emu.ecs_endpoint(),
        &fc_key(),
        "DescribeSecurityGroupAttribute",
        ECS,
        &[
            ("RegionId", "ap-southeast-1"),
            ("SecurityGroupId", "sg-t4n0deleted0000000"),
        ],
    )
    .await;
    let (s3, b3) = call(
        &emu.ecs_endpoint(),
        &fc_key(),
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "ap-southeast-1"), ("SecurityGroupId", WEB_SG)],
    )
    .await;
    for (s, b) in [(s1, b1), (s2, b2), (s3, b3)] {
        assert_eq!((s, code(&b)), (404, "InvalidSecurityGroupId.NotFound"));
    }
}

// ---------------------------------------------------------------- RevokeSecurityGroup

#[tokio::test]
async fn revoke_removes_the_rules_from_live_but_not_from_the_snapshot() {
    let emu = start().await;
    let (status, body) = revoke(
        &emu,
        WEB_SG,
        &[
            ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
            ("SecurityGroupRuleId.2", "sgr-bp1z9y8x7w6v5u4t3s"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let live = live_ids(&emu, WEB_SG);
    assert!(!live.contains(&"sgr-bp1a2b3c4d5e6f7g8h".to_string()));
    assert!(!live.contains(&"sgr-bp1z9y8x7w6v5u4t3s".to_string()));
    assert_eq!(live.len(), 4);
    let snapshot = rule_ids(&emu.snapshot_rules(WEB_SG).unwrap());
    assert!(snapshot.contains(&"sgr-bp1a2b3c4d5e6f7g8h".to_string()));
}

#[tokio::test]
async fn revoke_with_one_unknown_rule_id_fails_whole_and_removes_nothing() {
    let emu = start().await;
    let before = live_ids(&emu, WEB_SG);
    let (status, body) = revoke(
        &emu,
        WEB_SG,
        &[
            ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
            ("SecurityGroupRuleId.2", "sgr-doesnotexist"),
        ],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.SecurityGroupRuleId")
    );
    assert_eq!(live_ids(&emu, WEB_SG), before);
}

#[tokio::test]
async fn revoke_refuses_more_than_100_rule_ids() {
    let emu = start().await;
    let names: Vec<String> = (1..=101)
        .map(|i| format!("SecurityGroupRuleId.{i}"))
        .collect();
    let values: Vec<String> = (1..=101).map(|i| format!("sgr-x{i}")).collect();
    let extra: Vec<(&str, &str)> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (status, body) = revoke(&emu, WEB_SG, &extra).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParameter.TooManySecurityGroupRuleId")
    );
}

#[tokio::test]
async fn revoke_refuses_repeated_rule_ids() {
    let emu = start().await;
    let (status, body) = revoke(
        &emu,
        WEB_SG,
        &[
            ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
            ("SecurityGroupRuleId.2", "sgr-bp1a2b3c4d5e6f7g8h"),
        ],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.SecurityGroupRuleIdRepeated")
    );
    assert_eq!(live_ids(&emu, WEB_SG).len(), 6);
}

#[tokio::test]
async fn revoke_needs_rule_ids_or_permissions_but_not_both() {
    let emu = start().await;
    let (status, body) = revoke(&emu, WEB_SG, &[]).await;
    assert_eq!((status, code(&body)), (400, "MissingParameter"));
    let (status, body) = revoke(
        &emu,
        WEB_SG,
        &[
            ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
            ("Permissions.1.IpProtocol", "TCP"),
            ("Permissions.1.PortRange", "22/22"),
            ("Permissions.1.SourceCidrIp", "0.0.0.0/0"),
        ],
    )
    .await;
    assert_eq!((status, code(&body)), (400, "InvalidParam.Permissions"));
}

#[tokio::test]
async fn revoke_by_permissions_deletes_only_the_exact_match() {
    let emu = start().await;
    let (status, _) = revoke(
        &emu,
        WEB_SG,
        &[
            ("Permissions.1.IpProtocol", "tcp"),
            ("Permissions.1.PortRange", "22/22"),
            ("Permissions.1.SourceCidrIp", "0.0.0.0/0"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let live = live_ids(&emu, WEB_SG);
    assert!(!live.contains(&"sgr-bp1a2b3c4d5e6f7g8h".to_string()));
    assert!(
        live.contains(&"sgr-bp1ssh0drop0000001".to_string()),
        "the Drop/priority-2 rule differs"
    );
    // Nothing matches: success, nothing deleted.
    let (status, _) = revoke(
        &emu,
        WEB_SG,
        &[
            ("Permissions.1.IpProtocol", "TCP"),
            ("Permissions.1.PortRange", "23/23"),
            ("Permissions.1.SourceCidrIp", "0.0.0.0/0"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(live_ids(&emu, WEB_SG), live);
}

#[tokio::test]
async fn a_managed_group_refuses_revoke_and_authorize() {
    let emu = start().await;
    let (status, body) = revoke(
        &emu,
        MANAGED_SG,
        &[("SecurityGroupRuleId.1", "sgr-bp1managedssh0001")],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (403, "InvalidOperation.ResourceManagedByCloudProduct")
    );
    let (status, body) = authorize(
        &emu,
        MANAGED_SG,
        &[
            ("Permissions.1.IpProtocol", "TCP"),
            ("Permissions.1.PortRange", "80/80"),
            ("Permissions.1.SourceCidrIp", "10.0.0.0/8"),
        ],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (403, "InvalidOperation.ResourceManagedByCloudProduct")
    );
    assert_eq!(live_ids(&emu, MANAGED_SG), ["sgr-bp1managedssh0001"]);
}

#[tokio::test]
async fn a_repeated_client_token_replays_the_first_answer_without_acting() {
    let emu = start().await;
    let extra = [
        ("ClientToken", "rm-0123456789abcdef"),
        ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
    ];
    let (s1, first) = revoke(&emu, WEB_SG, &extra).await;
    let after_first = live_ids(&emu, WEB_SG);
    // The rule is gone now; without the token this retry would fail as unknown.
    let (s2, second) = revoke(&emu, WEB_SG, &extra).await;
    assert_eq!((s1, s2), (200, 200), "{second}");
    assert_eq!(first["RequestId"], second["RequestId"]);
    assert_eq!(live_ids(&emu, WEB_SG), after_first);
    let revokes: Vec<bool> = emu
        .journal()
        .iter()
        .filter(|e| e.action == "RevokeSecurityGroup")
        .map(|e| e.mutated)
        .collect();
    assert_eq!(revokes, [true, false]);
}

#[tokio::test]
async fn a_client_token_reused_with_other_parameters_is_a_mismatch() {
    let emu = start().await;
    let (s1, _) = revoke(
        &emu,
        WEB_SG,
        &[
            ("ClientToken", "rm-token"),
            ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
        ],
    )
    .await;
    let (s2, body) = revoke(
        &emu,
        WEB_SG,
        &[
            ("ClientToken", "rm-token"),
            ("SecurityGroupRuleId.1", "sgr-bp1m1n2o3p4q5r6s7t"),
        ],
    )
    .await;
    assert_eq!(s1, 200);
    assert_eq!((s2, code(&body)), (400, "IdempotentParameterMismatch"));
    assert!(live_ids(&emu, WEB_SG).contains(&"sgr-bp1m1n2o3p4q5r6s7t".to_string()));
}

#[tokio::test]
async fn a_client_token_longer_than_64_characters_is_refused() {
    let emu = start().await;
    let long = "x".repeat(65);
    let (status, body) = revoke(
        &emu,
        WEB_SG,
        &[
            ("ClientToken", &long),
            ("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h"),
        ],
    )
    .await;
    assert_eq!((status, code(&body)), (400, "InvalidParameter.ClientToken"));
}

// ---------------------------------------------------------------- AuthorizeSecurityGroup

#[tokio::test]
async fn authorize_adds_a_rule_with_a_new_id_in_the_live_view_only() {
    let emu = start().await;
    let before = live_ids(&emu, WEB_SG);
    let (status, body) = authorize(
        &emu,
        WEB_SG,
        &[
            ("Permissions.1.IpProtocol", "TCP"),
            ("Permissions.1.PortRange", "8443/8443"),
            ("Permissions.1.SourceCidrIp", "10.1.0.0/16"),
            ("Permissions.1.Policy", "accept"),
            ("Permissions.1.Priority", "5"),
            ("Permissions.1.Description", "restored rule*~ a+b"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let live = emu.live_rules(WEB_SG).unwrap();
    assert_eq!(live.len(), before.len() + 1);
    let added = live.last().unwrap();
    let id = added["SecurityGroupRuleId"].as_str().unwrap();
    assert!(id.starts_with("sgr-") && !before.contains(&id.to_string()));
    assert_eq!(added["PortRange"], "8443/8443");
    assert_eq!(added["Policy"], "Accept");
    assert_eq!(added["Description"], "restored rule*~ a+b");
    assert_eq!(emu.snapshot_rules(WEB_SG).unwrap().len(), before.len());
}

#[tokio::test]
async fn authorize_validates_each_permission_with_the_documented_codes() {
    let emu = start().await;
    let base = [
        ("Permissions.1.IpProtocol", "TCP"),
        ("Permissions.1.PortRange", "22/22"),
        ("Permissions.1.SourceCidrIp", "10.0.0.0/8"),
    ];
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "Permissions.1.IpProtocol",
            "SCTP",
            "InvalidIpProtocol.ValueNotSupported",
        ),
        ("Permissions.1.PortRange", "0/22", "InvalidParam.PortRange"),
        ("Permissions.1.PortRange", "30/22", "InvalidParam.PortRange"),
        ("Permissions.1.SourceCidrIp", "", "MissingParameter.Source"),
        (
            "Permissions.1.SourceCidrIp",
            "10.0.0.0/33",
            "InvalidSourceCidrIp.Malformed",
        ),
        (
            "Permissions.1.Priority",
            "0",
            "InvalidPriority.ValueNotSupported",
        ),
        (
            "Permissions.1.Priority",
            "high",
            "InvalidPriority.Malformed",
        ),
        ("Permissions.1.Policy", "allow", "InvalidPolicy.Malformed"),
        (
            "Permissions.1.Ipv6SourceCidrIp",
            "::/0",
            "InvalidParam.Source",
        ),
    ];
    for (name, value, expected) in cases {
        let mut extra: Vec<(&str, &str)> =
            base.iter().copied().filter(|(n, _)| *n != name).collect();
        extra.push((name, value));
        let (status, body) = authorize(&emu, WEB_SG, &extra).await;
        assert_eq!(code(&body), expected, "{name}={value}: {body}");
        assert_eq!(status, 400);
    }
    let (_, body) = authorize(
        &emu,
        WEB_SG,
        &[
            ("Permissions.1.IpProtocol", "ALL"),
            ("Permissions.1.PortRange", "1/65535"),
            ("Permissions.1.SourceCidrIp", "10.0.0.0/8"),
        ],
    )
    .await;
    assert_eq!(code(&body), "InvalidParam.PortRange", "ALL needs -1/-1");
    assert_eq!(live_ids(&emu, WEB_SG).len(), 6, "nothing was added");
}

/// The basic fixture's internal RDP rule of `WEB_SG`, as Permissions.1: TCP 3389 from
/// 10.0.0.0/8, accept (the defaults: priority 1, intranet in a VPC group).
const INTERNAL_RDP: [(&str, &str); 3] = [
    ("Permissions.1.IpProtocol", "TCP"),
    ("Permissions.1.PortRange", "3389/3389"),
    ("Permissions.1.SourceCidrIp", "10.0.0.0/8"),
];

/// `base` with the fields of `extra` replaced or added.
fn with<'a>(base: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<_> = base
        .iter()
        .copied()
        .filter(|(n, _)| !extra.iter().any(|(e, _)| e == n))
        .collect();
    all.extend_from_slice(extra);
    all
}

#[tokio::test]
async fn authorizing_a_rule_that_already_exists_succeeds_and_adds_nothing() {
    let emu = start().await;
    let before = emu.live_rules(WEB_SG).unwrap();
    let (status, body) = authorize(&emu, WEB_SG, &INTERNAL_RDP).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(emu.live_rules(WEB_SG).unwrap(), before);
}

#[tokio::test]
async fn a_rule_differing_from_an_existing_one_only_in_priority_or_description_is_that_rule() {
    let emu = start().await;
    let before = emu.live_rules(WEB_SG).unwrap();
    let again = with(
        &INTERNAL_RDP,
        &[
            ("Permissions.1.Priority", "7"),
            ("Permissions.1.Description", "narrowed from sgr-x"),
            ("Permissions.1.NicType", "intranet"),
            ("Permissions.1.Policy", "ACCEPT"),
        ],
    );
    let (status, body) = authorize(&emu, WEB_SG, &again).await;
    assert_eq!(status, 200, "{body}");
    let live = emu.live_rules(WEB_SG).unwrap();
    assert_eq!(live, before, "nothing added, the existing rule unchanged");
}

#[tokio::test]
async fn a_rule_differing_in_source_policy_or_ports_is_a_new_rule() {
    let emu = start().await;
    let before = live_ids(&emu, WEB_SG);
    for change in [
        ("Permissions.1.SourceCidrIp", "10.1.0.0/16"),
        ("Permissions.1.Policy", "drop"),
        ("Permissions.1.PortRange", "3390/3390"),
    ] {
        let (status, body) = authorize(&emu, WEB_SG, &with(&INTERNAL_RDP, &[change])).await;
        assert_eq!(status, 200, "{change:?}: {body}");
    }
    assert_eq!(live_ids(&emu, WEB_SG).len(), before.len() + 3);
}

#[tokio::test]
async fn equal_entries_of_one_call_make_one_rule() {
    let emu = start().await;
    let before = live_ids(&emu, WEB_SG).len();
    let (status, body) = authorize(
        &emu,
        WEB_SG,
        &[
            ("Permissions.1.IpProtocol", "TCP"),
            ("Permissions.1.PortRange", "22/22"),
            ("Permissions.1.SourceCidrIp", "203.0.113.0/24"),
            ("Permissions.2.IpProtocol", "tcp"),
            ("Permissions.2.PortRange", "22/22"),
            ("Permissions.2.SourceCidrIp", "203.0.113.0/24"),
            ("Permissions.2.Priority", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(live_ids(&emu, WEB_SG).len(), before + 1);
}

/// The basic fixture with a rule quota of `quota` per group.
async fn start_with_rule_quota(quota: usize) -> Emulator {
    let mut fixture = fixture_json();
    fixture["settings"]["securityGroupRuleQuota"] = json!(quota);
    start_with(fixture).await
}

fn new_sources(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .flat_map(|i| {
            [
                (format!("Permissions.{i}.IpProtocol"), "TCP".to_string()),
                (format!("Permissions.{i}.PortRange"), "22/22".to_string()),
                (
                    format!("Permissions.{i}.SourceCidrIp"),
                    format!("198.51.{}.{}/32", i / 250, i % 250),
                ),
            ]
        })
        .collect()
}

async fn authorize_owned(emu: &Emulator, group: &str, params: &[(String, String)]) -> (u16, Value) {
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    authorize(emu, group, &borrowed).await
}

#[tokio::test]
async fn authorizing_beyond_the_rule_quota_is_refused_with_authorization_limit_exceed_and_adds_nothing(
) {
    // WEB_SG holds 6 rules; with room for 7, one more fits and two do not.
    let emu = start_with_rule_quota(7).await;
    let before = emu.live_rules(WEB_SG).unwrap();
    let (status, body) = authorize_owned(&emu, WEB_SG, &new_sources(2)).await;
    assert_eq!(
        (status, code(&body)),
        (403, "AuthorizationLimitExceed"),
        "{body}"
    );
    assert_eq!(
        emu.live_rules(WEB_SG).unwrap(),
        before,
        "no part of the call applied"
    );
    let (status, body) = authorize_owned(&emu, WEB_SG, &new_sources(1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(live_ids(&emu, WEB_SG).len(), 7);
}

#[tokio::test]
async fn the_rule_quota_counts_inbound_and_outbound_rules_together() {
    // WEB_SG: five ingress rules and one egress rule, so a quota of 6 leaves no room.
    let emu = start_with_rule_quota(6).await;
    let (status, body) = authorize_owned(&emu, WEB_SG, &new_sources(1)).await;
    assert_eq!(
        (status, code(&body)),
        (403, "AuthorizationLimitExceed"),
        "{body}"
    );
}

#[tokio::test]
async fn an_existing_rule_authorized_again_in_a_full_group_still_succeeds() {
    let emu = start_with_rule_quota(6).await;
    let (status, body) = authorize(&emu, WEB_SG, &INTERNAL_RDP).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(live_ids(&emu, WEB_SG).len(), 6);
}

#[tokio::test]
async fn the_default_rule_quota_is_the_documented_two_hundred_rules_per_group() {
    assert_eq!(acs_emulator::DEFAULT_SECURITY_GROUP_RULE_QUOTA, 200);
    let emu = start().await;
    let mut rules = emu.live_rules(WEB_SG).unwrap();
    for i in rules.len()..199 {
        rules.push(
            json!({"SecurityGroupRuleId": format!("sgr-fill{i:016}"), "Direction": "ingress",
            "Policy": "Accept", "Priority": "1", "IpProtocol": "TCP", "PortRange": "9000/9000",
            "SourceCidrIp": format!("172.16.{}.{}/32", i / 250, i % 250), "NicType": "intranet"}),
        );
    }
    emu.set_live_rules(WEB_SG, rules);
    let (status, body) = authorize_owned(&emu, WEB_SG, &new_sources(1)).await;
    assert_eq!(status, 200, "the 200th rule fits: {body}");
    let more = authorize(
        &emu,
        WEB_SG,
        &with(
            &INTERNAL_RDP,
            &[("Permissions.1.SourceCidrIp", "192.0.2.0/24")],
        ),
    )
    .await;
    assert_eq!((more.0, code(&more.1)), (403, "AuthorizationLimitExceed"));
}

#[tokio::test]
async fn at_most_100_permissions_are_accepted_in_one_call() {
    let emu = start().await;
    let (status, body) = authorize_owned(&emu, WEB_SG, &new_sources(100)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(live_ids(&emu, WEB_SG).len(), 106);
    let emu = start().await;
    let (status, body) = authorize_owned(&emu, WEB_SG, &new_sources(101)).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParameter.TooManyPermissions"),
        "{body}"
    );
    assert_eq!(live_ids(&emu, WEB_SG).len(), 6);
}

/// The basic fixture plus a classic-network group (no VPC) of the same account and region.
async fn start_with_classic_group() -> Emulator {
    let mut fixture = fixture_json();
    fixture["securityGroups"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "accountId": "1234567890123456", "regionId": "cn-hangzhou",
            "securityGroupId": "sg-bp1classic00000000", "vpcId": "", "rules": []
        }));
    start_with(fixture).await
}

const IPV6_SSH: [(&str, &str); 3] = [
    ("Permissions.1.IpProtocol", "TCP"),
    ("Permissions.1.PortRange", "22/22"),
    ("Permissions.1.Ipv6SourceCidrIp", "2001:db8:1234::/48"),
];

#[tokio::test]
async fn an_ipv6_source_is_stored_in_a_vpc_group_as_its_own_field() {
    let emu = start().await;
    let (status, body) = authorize(&emu, WEB_SG, &IPV6_SSH).await;
    assert_eq!(status, 200, "{body}");
    let added = emu.live_rules(WEB_SG).unwrap().last().cloned().unwrap();
    assert_eq!(added["Ipv6SourceCidrIp"], "2001:db8:1234::/48");
    assert_eq!(added["SourceCidrIp"], "");
}

#[tokio::test]
async fn an_ipv6_source_is_refused_in_a_classic_group() {
    let emu = start_with_classic_group().await;
    let (status, body) = authorize(&emu, "sg-bp1classic00000000", &IPV6_SSH).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.Ipv6SourceCidrIp"),
        "{body}"
    );
    let v4 = [
        ("Permissions.1.IpProtocol", "TCP"),
        ("Permissions.1.PortRange", "22/22"),
        ("Permissions.1.SourceCidrIp", "203.0.113.0/24"),
    ];
    let (status, body) = authorize(&emu, "sg-bp1classic00000000", &v4).await;
    assert_eq!(status, 200, "an IPv4 source is fine there: {body}");
}

#[tokio::test]
async fn an_ipv4_and_an_ipv6_source_in_one_permission_are_refused() {
    let emu = start().await;
    let both = with(
        &IPV6_SSH,
        &[("Permissions.1.SourceCidrIp", "203.0.113.0/24")],
    );
    let (status, body) = authorize(&emu, WEB_SG, &both).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.Source"),
        "{body}"
    );
}

#[tokio::test]
async fn a_malformed_ipv6_source_answers_the_documented_code() {
    let emu = start().await;
    let bad = with(
        &IPV6_SSH,
        &[("Permissions.1.Ipv6SourceCidrIp", "2001:db8::/129")],
    );
    let (status, body) = authorize(&emu, WEB_SG, &bad).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.Ipv6SourceCidrIp"),
        "{body}"
    );
}

#[tokio::test]
async fn icmp_with_an_ipv6_source_and_icmpv6_with_an_ipv4_source_are_refused() {
    let emu = start().await;
    let icmp_v6 = with(
        &IPV6_SSH,
        &[
            ("Permissions.1.IpProtocol", "ICMP"),
            ("Permissions.1.PortRange", "-1/-1"),
        ],
    );
    let (status, body) = authorize(&emu, WEB_SG, &icmp_v6).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.Ipv4ProtocolConflictWithIpv6Address"),
        "{body}"
    );
    let icmpv6_v4 = with(
        &INTERNAL_RDP,
        &[
            ("Permissions.1.IpProtocol", "ICMPv6"),
            ("Permissions.1.PortRange", "-1/-1"),
        ],
    );
    let (status, body) = authorize(&emu, WEB_SG, &icmpv6_v4).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidParam.Ipv6ProtocolConflictWithIpv4Address"),
        "{body}"
    );
}

#[tokio::test]
async fn a_description_of_512_characters_is_stored_and_one_of_513_is_refused() {
    let emu = start().await;
    let long = "d".repeat(512);
    let longer = "d".repeat(513);
    let new = with(
        &INTERNAL_RDP,
        &[("Permissions.1.SourceCidrIp", "192.0.2.0/24")],
    );
    let mut ok = new.clone();
    ok.push(("Permissions.1.Description", long.as_str()));
    let (status, body) = authorize(&emu, WEB_SG, &ok).await;
    assert_eq!(status, 200, "{body}");
    let added = emu.live_rules(WEB_SG).unwrap().last().cloned().unwrap();
    assert_eq!(added["Description"], long.as_str());
    let mut refused = with(
        &INTERNAL_RDP,
        &[("Permissions.1.SourceCidrIp", "192.0.3.0/24")],
    );
    refused.push(("Permissions.1.Description", longer.as_str()));
    let (status, body) = authorize(&emu, WEB_SG, &refused).await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidSecurityGroupDiscription.Malformed"),
        "{body}"
    );
    assert_eq!(live_ids(&emu, WEB_SG).len(), 7);
}

// ---------------------------------------------------------------- Config

#[tokio::test]
async fn get_discovered_resource_returns_configuration_and_tags_as_json_strings() {
    let emu = start().await;
    let (status, body) = discovered(&emu, &fc_key(), WEB_SG).await;
    assert_eq!(status, 200, "{body}");
    let d = &body["DiscoveredResourceDetail"];
    assert_eq!(d["AccountId"], json!(1234567890123456u64));
    assert_eq!(d["ResourceDeleted"], json!(1));
    let conf: Value = serde_json::from_str(d["Configuration"].as_str().unwrap()).unwrap();
    let tags: Value = serde_json::from_str(d["Tags"].as_str().unwrap()).unwrap();
    assert_eq!(conf["ServiceManaged"], json!(false));
    assert_eq!(
        rule_ids(conf["Permissions"]["Permission"].as_array().unwrap()),
        live_ids(&emu, WEB_SG)
    );
    assert_eq!(tags["env"], json!(["prod"]));
}

#[tokio::test]
async fn a_stale_snapshot_shows_a_rule_that_is_no_longer_live() {
    let emu = start().await;
    let (_, body) = discovered(&emu, &fc_key(), STALE_SG).await;
    let conf: Value = serde_json::from_str(
        body["DiscoveredResourceDetail"]["Configuration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let snapshot = rule_ids(conf["Permissions"]["Permission"].as_array().unwrap());
    assert!(snapshot.contains(&"sgr-bp1stalessh000001".to_string()));
    let (_, live) = describe(&emu, &fc_key(), STALE_SG, &[]).await;
    let live = rule_ids(live["Permissions"]["Permission"].as_array().unwrap());
    assert!(!live.contains(&"sgr-bp1stalessh000001".to_string()));
}

#[tokio::test]
async fn set_live_rules_makes_live_and_snapshot_disagree() {
    let emu = start().await;
    emu.set_live_rules(WEB_SG, vec![json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "10.0.0.0/8"})]);
    let live = emu.live_rules(WEB_SG).unwrap();
    assert_eq!(live.len(), 1);
    assert!(live[0]["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .starts_with("sgr-"));
    assert_eq!(emu.snapshot_rules(WEB_SG).unwrap().len(), 6);
}

#[tokio::test]
async fn the_fixture_chooses_a_bare_permissions_list_and_an_absent_service_managed() {
    let emu = start().await;
    let (_, body) = discovered(&emu, &fc_key(), "sg-bp1bare0000000000").await;
    let conf: Value = serde_json::from_str(
        body["DiscoveredResourceDetail"]["Configuration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(conf["Permissions"].is_array(), "{conf}");
    assert!(conf.get("ServiceManaged").is_none());
}

#[tokio::test]
async fn a_group_deleted_in_config_reports_resource_deleted_zero() {
    let emu = start().await;
    let (status, body) = call(
        &emu.config_endpoint(),
        &fc_key(),
        "GetDiscoveredResource",
        CONFIG,
        &[
            ("ResourceId", "sg-t4n0deleted0000000"),
            ("ResourceType", "ACS::ECS::SecurityGroup"),
            ("Region", "ap-southeast-1"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["DiscoveredResourceDetail"]["ResourceDeleted"],
        json!(0)
    );
}

#[tokio::test]
async fn another_accounts_resource_is_not_found_in_config() {
    let emu = start().await;
    let (status, body) = discovered(&emu, &fc_key(), MEMBER_SG).await;
    assert_eq!((status, code(&body)), (404, "ResourceNotExists"));
}

#[tokio::test]
async fn an_aggregator_reads_member_resources_for_its_owner_only() {
    let emu = start().await;
    let extra = [
        ("AggregatorId", "ca-a4e5626622af0079dd1b"),
        ("ResourceAccountId", "2222333344445555"),
        ("Region", "cn-hangzhou"),
        ("ResourceId", MEMBER_SG),
        ("ResourceType", "ACS::ECS::SecurityGroup"),
    ];
    let (status, body) = call(
        &emu.config_endpoint(),
        &fc_key(),
        "GetAggregateDiscoveredResource",
        CONFIG,
        &extra,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["DiscoveredResourceDetail"]["AccountId"],
        json!(2222333344445555u64)
    );
    let (status, body) = call(
        &emu.config_endpoint(),
        &member_user(),
        "GetAggregateDiscoveredResource",
        CONFIG,
        &extra,
    )
    .await;
    assert_eq!((status, code(&body)), (403, "NoPermission"));
}

// ---------------------------------------------------------------- STS

fn credentials_of(body: &Value) -> Key {
    let c = &body["Credentials"];
    key(
        c["AccessKeyId"].as_str().unwrap(),
        c["AccessKeySecret"].as_str().unwrap(),
        c["SecurityToken"].as_str(),
    )
}

#[tokio::test]
async fn assumed_role_credentials_act_as_the_target_account() {
    let emu = start().await;
    let (status, body) = assume(&emu, &fc_key(), &[("DurationSeconds", "900")]).await;
    assert_eq!(status, 200, "{body}");
    let creds = credentials_of(&body);
    assert!(creds.id.starts_with("STS."));
    let token = creds.token.clone().unwrap();
    assert!(token.contains('+') && token.contains('/') && token.contains('='));
    let expiration = body["Credentials"]["Expiration"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(expiration).is_ok() && expiration.ends_with('Z'));
    assert_eq!(
        body["AssumedRoleUser"]["Arn"],
        "acs:ram::2222333344445555:role/sg-remediation/sg-remediator@fc"
    );
    let (status, _) = describe(&emu, &creds, MEMBER_SG, &[]).await;
    assert_eq!(status, 200);
    let (status, body) = describe(&emu, &creds, WEB_SG, &[]).await;
    assert_eq!(
        (status, code(&body)),
        (404, "InvalidSecurityGroupId.NotFound")
    );
}

#[tokio::test]
async fn assumed_role_credentials_expire_with_their_duration() {
    let mut fixture = fixture_json();
    // Let the emulator's clock move past the credentials without tripping the timestamp check.
    fixture["settings"]["clockSkewSecs"] = json!(3600);
    let emu = start_with(fixture).await;
    let (_, body) = assume(&emu, &fc_key(), &[("DurationSeconds", "900")]).await;
    let creds = credentials_of(&body);
    emu.advance_clock(Duration::from_secs(899));
    assert_eq!(describe(&emu, &creds, MEMBER_SG, &[]).await.0, 200);
    emu.advance_clock(Duration::from_secs(2));
    let (status, body) = describe(&emu, &creds, MEMBER_SG, &[]).await;
    assert_eq!((status, code(&body)), (400, "InvalidSecurityToken.Expired"));
}

#[tokio::test]
async fn expire_credentials_makes_a_key_fail_mid_event() {
    let emu = start().await;
    let (_, body) = assume(&emu, &fc_key(), &[]).await;
    let creds = credentials_of(&body);
    assert_eq!(describe(&emu, &creds, MEMBER_SG, &[]).await.0, 200);
    emu.expire_credentials(&creds.id);
    let (status, body) = describe(&emu, &creds, MEMBER_SG, &[]).await;
    assert_eq!((status, code(&body)), (400, "InvalidSecurityToken.Expired"));
}

#[tokio::test]
async fn assume_role_enforces_trust_existence_and_parameters() {
    let emu = start().await;
    /// Caller, parameter overrides, expected status and code.
    type Case<'a> = (Key, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (member_user(), vec![], 403, "NoPermission"),
        (root_key(), vec![], 403, "NoPermission"),
        (
            fc_key(),
            vec![("RoleArn", "acs:ram::2222333344445555:role/nope")],
            404,
            "EntityNotExist.Role",
        ),
        (
            fc_key(),
            vec![("RoleArn", "arn:aws:iam::1:role/x")],
            400,
            "InvalidParameter.RoleArn",
        ),
        (
            fc_key(),
            vec![("RoleSessionName", "a")],
            400,
            "InvalidParameter.RoleSessionName",
        ),
        (
            fc_key(),
            vec![("RoleSessionName", "has space")],
            400,
            "InvalidParameter.RoleSessionName",
        ),
        (
            fc_key(),
            vec![("DurationSeconds", "3601")],
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            fc_key(),
            vec![("DurationSeconds", "899")],
            400,
            "InvalidParameter.DurationSeconds",
        ),
    ];
    for (k, extra, status, expected) in cases {
        let (s, body) = assume(&emu, &k, &extra).await;
        assert_eq!((s, code(&body)), (status, expected), "{extra:?}");
    }
}

/// basic.json with the member role trusting only the function's role (as modules/member-role
/// creates it), and the FC key marked as a session of that role.
fn role_trust_fixture() -> Value {
    let mut fixture = fixture_json();
    fixture["accounts"][0]["credentials"][0]["roleName"] = json!("sg-remediator-fc");
    fixture["roles"][0]["trustedAccountIds"] = json!([]);
    fixture["roles"][0]["trustedRoleArns"] =
        json!(["acs:ram::1234567890123456:role/sg-remediator-fc"]);
    fixture
}

#[tokio::test]
async fn a_role_trusting_one_role_arn_admits_only_sessions_of_that_role() {
    let emu = start_with(role_trust_fixture()).await;
    let (status, body) = assume(&emu, &fc_key(), &[]).await;
    assert_eq!(status, 200, "{body}");
    // Another identity of the same account (a RAM user) is not the trusted principal.
    let (status, body) = assume(&emu, &ram_user(), &[]).await;
    assert_eq!((status, code(&body)), (403, "NoPermission"), "{body}");
    assert_eq!(
        body["Message"],
        "You are not authorized to do this action. You should be authorized by RAM."
    );
}

#[tokio::test]
async fn a_session_of_another_role_is_refused_by_a_role_arn_trust() {
    let mut fixture = role_trust_fixture();
    fixture["accounts"][0]["credentials"][0]["roleName"] = json!("some-other-role");
    let emu = start_with(fixture).await;
    let (status, body) = assume(&emu, &fc_key(), &[]).await;
    assert_eq!((status, code(&body)), (403, "NoPermission"), "{body}");
    assert!(
        emu.journal()
            .iter()
            .all(|e| e.action != "AssumeRole" || e.code.as_deref() == Some("NoPermission")),
        "nothing handed out"
    );
}

#[tokio::test]
async fn an_account_trust_admits_every_ram_identity_of_that_account_but_root() {
    let emu = start().await;
    assert_eq!(assume(&emu, &fc_key(), &[]).await.0, 200);
    assert_eq!(assume(&emu, &ram_user(), &[]).await.0, 200);
    let (status, body) = assume(&emu, &root_key(), &[]).await;
    assert_eq!((status, code(&body)), (403, "NoPermission"));
}

#[tokio::test]
async fn key_identity_tells_which_account_and_role_a_key_acts_as() {
    let emu = start_with(role_trust_fixture()).await;
    let own = emu.key_identity(&fc_key().id).expect("known key");
    assert_eq!(own.account_id, "1234567890123456");
    assert_eq!(
        own.role_arn.as_deref(),
        Some("acs:ram::1234567890123456:role/sg-remediator-fc")
    );
    assert_eq!(
        emu.key_identity(&ram_user().id).expect("known").role_arn,
        None
    );
    let (_, body) = assume(&emu, &fc_key(), &[]).await;
    let assumed = emu
        .key_identity(&credentials_of(&body).id)
        .expect("minted key");
    assert_eq!(assumed.account_id, "2222333344445555");
    assert_eq!(assumed.role_arn.as_deref(), Some(ROLE_ARN));
    assert!(emu.key_identity("STS.Unknown").is_none());
}

#[test]
fn a_malformed_trusted_role_arn_is_refused_at_load() {
    let mut fixture = fixture_json();
    fixture["roles"][0]["trustedRoleArns"] = json!(["acs:ram::1234567890123456:root"]);
    let err = Fixture::from_json_str(&fixture.to_string()).expect_err("refused");
    assert!(err.to_string().contains("trustedRoleArns"), "{err}");
}

#[tokio::test]
async fn an_aggregator_reads_each_member_accounts_resources_and_no_others() {
    let mut fixture = fixture_json();
    fixture["accounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"accountId": "3333444455556666", "credentials": []}));
    let mut other = fixture["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["securityGroupId"] == MEMBER_SG)
        .cloned()
        .unwrap();
    other["accountId"] = json!("3333444455556666");
    other["securityGroupId"] = json!("sg-bp1second0000000");
    other["rules"] = json!([]);
    fixture["securityGroups"]
        .as_array_mut()
        .unwrap()
        .push(other);
    fixture["aggregators"][0]["memberAccountIds"] =
        json!(["1234567890123456", "2222333344445555", "3333444455556666"]);
    let emu = start_with(fixture).await;
    let read = |account: &'static str, group: &'static str| {
        let emu = emu.clone();
        async move {
            call(
                &emu.config_endpoint(),
                &fc_key(),
                "GetAggregateDiscoveredResource",
                CONFIG,
                &[
                    ("AggregatorId", "ca-a4e5626622af0079dd1b"),
                    ("ResourceAccountId", account),
                    ("Region", "cn-hangzhou"),
                    ("ResourceId", group),
                    ("ResourceType", "ACS::ECS::SecurityGroup"),
                ],
            )
            .await
        }
    };
    for (account, group) in [
        ("1234567890123456", WEB_SG),
        ("2222333344445555", MEMBER_SG),
        ("3333444455556666", "sg-bp1second0000000"),
    ] {
        let (status, body) = read(account, group).await;
        assert_eq!(status, 200, "{account}: {body}");
        assert_eq!(
            body["DiscoveredResourceDetail"]["AccountId"],
            json!(account.parse::<u64>().unwrap())
        );
    }
    // A group asked for under the wrong account is not found.
    let (status, body) = read("3333444455556666", MEMBER_SG).await;
    assert_eq!((status, code(&body)), (404, "ResourceNotExists"));
    let (status, body) = read("9999000011112222", MEMBER_SG).await;
    assert_eq!((status, code(&body)), (400, "MemberNotBelongToMaster"));
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn a_throttle_fault_answers_throttling_user_for_the_next_n_matching_calls() {
    let emu = start().await;
    emu.inject(
        Fault::always(FaultKind::Throttle {
            code: "Throttling.User".into(),
        })
        .on_action("DescribeSecurityGroupAttribute")
        .on_group(WEB_SG)
        .times(2),
    );
    let other = describe(&emu, &fc_key(), MANY_SG, &[]).await;
    assert_eq!(other.0, 200, "another group is not affected");
    for _ in 0..2 {
        let (status, body) = describe(&emu, &fc_key(), WEB_SG, &[]).await;
        assert_eq!((status, code(&body)), (400, "Throttling.User"));
        assert_eq!(
            body["Message"],
            "Request was denied due to user flow control."
        );
    }
    assert_eq!(describe(&emu, &fc_key(), WEB_SG, &[]).await.0, 200);
}

#[tokio::test]
async fn a_server_error_fault_answers_its_status_and_code_and_changes_nothing() {
    let emu = start().await;
    emu.inject(Fault::always(FaultKind::ServerError {
        status: 503,
        code: "ServiceUnavailable".into(),
    }));
    let (status, body) = revoke(
        &emu,
        WEB_SG,
        &[("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h")],
    )
    .await;
    assert_eq!((status, code(&body)), (503, "ServiceUnavailable"));
    assert_eq!(live_ids(&emu, WEB_SG).len(), 6);
}

#[tokio::test]
async fn an_error_fault_answers_any_code() {
    let emu = start().await;
    emu.inject(Fault::always(FaultKind::Error {
        status: 403,
        code: "Forbidden.RAM".into(),
        message: "User not authorized to operate on the specified resource.".into(),
    }));
    let (status, body) = discovered(&emu, &fc_key(), WEB_SG).await;
    assert_eq!((status, code(&body)), (403, "Forbidden.RAM"));
}

#[tokio::test]
async fn a_malformed_body_fault_answers_200_with_invalid_json() {
    let emu = start().await;
    emu.inject(Fault::always(FaultKind::MalformedBody).times(1));
    let k = fc_key();
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/?{}",
            emu.ecs_endpoint(),
            signed_query("POST", &p, &k.secret)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn a_drop_connection_fault_closes_the_socket_without_an_answer() {
    let emu = start().await;
    emu.inject(Fault::always(FaultKind::DropConnection).times(1));
    let k = fc_key();
    let p = params(
        &k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    );
    let result = send(
        &emu.ecs_endpoint(),
        "POST",
        &signed_query("POST", &p, &k.secret),
        None,
    )
    .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(describe(&emu, &k, WEB_SG, &[]).await.0, 200);
    assert_eq!(emu.journal()[0].http_status, 0);
}

#[tokio::test]
async fn a_delay_fault_still_answers_normally_and_is_journaled() {
    let emu = start().await;
    emu.inject(Fault::always(FaultKind::Delay { ms: 1 }).on_key(&fc_key().id));
    assert_eq!(describe(&emu, &fc_key(), WEB_SG, &[]).await.0, 200);
    assert_eq!(describe(&emu, &ram_user(), WEB_SG, &[]).await.0, 200);
    let faults: Vec<Option<String>> = emu.journal().into_iter().map(|e| e.fault).collect();
    assert_eq!(faults, [None, None], "a delay alone is not a failure label");
}

#[tokio::test]
async fn faults_can_be_posted_to_and_cleared_through_the_admin_endpoint() {
    let emu = start().await;
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{}/__admin/faults", emu.sts_endpoint()))
        .body(
            r#"{"action":"GetDiscoveredResource","kind":{"type":"throttle","code":"Throttling"}}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = discovered(&emu, &fc_key(), WEB_SG).await;
    assert_eq!((status, code(&body)), (400, "Throttling"));
    let resp = client
        .delete(format!("{}/__admin/faults", emu.ecs_endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(discovered(&emu, &fc_key(), WEB_SG).await.0, 200);
    let bad = client
        .post(format!("{}/__admin/faults", emu.ecs_endpoint()))
        .body(r#"{"kind":{"type":"explode"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

// ---------------------------------------------------------------- journal and admin

#[tokio::test]
async fn the_journal_records_each_call_without_any_secret() {
    let emu = start().await;
    let k = fc_key();
    describe(&emu, &k, WEB_SG, &[]).await;
    revoke(
        &emu,
        WEB_SG,
        &[("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h")],
    )
    .await;
    // A bad signature too: its message contains the token twice-encoded.
    let p = params(
        &k,
        "GetDiscoveredResource",
        CONFIG,
        &[("ResourceId", WEB_SG)],
    );
    send(
        &emu.config_endpoint(),
        "POST",
        &format!("{}&Signature=bad", canonical_query(&p)),
        None,
    )
    .await
    .unwrap();
    let journal = emu.journal();
    assert_eq!(journal.len(), 3);
    assert_eq!(journal.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(journal[0].service, Service::Ecs);
    assert_eq!(journal[1].action, "RevokeSecurityGroup");
    assert_eq!(
        journal[1].params["SecurityGroupRuleId.1"],
        "sgr-bp1a2b3c4d5e6f7g8h"
    );
    assert!(journal[1].mutated);
    assert_eq!(journal[2].code.as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(journal[2].access_key_id, k.id);
    let token = k.token.unwrap();
    for entry in &journal {
        assert!(!entry.params.contains_key("Signature"));
        assert!(!entry.params.contains_key("SecurityToken"));
        let text = format!("{entry:?}{}", serde_json::to_string(entry).unwrap());
        for secret in [token.clone(), percent_encode(&token), k.secret.clone()] {
            assert!(!text.contains(&secret), "secret leaked into {text}");
        }
    }
    let admin: Value = reqwest::get(format!("{}/__admin/journal", emu.ecs_endpoint()))
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(admin.as_array().unwrap().len(), 3);
    assert!(!admin.to_string().contains(&token));
    emu.clear_journal();
    assert!(emu.journal().is_empty());
}

#[tokio::test]
async fn the_admin_state_shows_live_and_snapshot_side_by_side() {
    let emu = start().await;
    let state: Value = reqwest::get(format!("{}/__admin/state", emu.config_endpoint()))
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let stale = state["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["securityGroupId"] == STALE_SG)
        .unwrap();
    assert_eq!(stale["live"]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(stale["snapshot"]["rules"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn reset_restores_the_fixture() {
    let emu = start().await;
    revoke(
        &emu,
        WEB_SG,
        &[("SecurityGroupRuleId.1", "sgr-bp1a2b3c4d5e6f7g8h")],
    )
    .await;
    assert_eq!(live_ids(&emu, WEB_SG).len(), 5);
    let resp = reqwest::Client::new()
        .post(format!("{}/__admin/reset", emu.ecs_endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(live_ids(&emu, WEB_SG).len(), 6);
    assert!(emu.journal().is_empty());
}

#[test]
fn an_invalid_fixture_is_refused_with_a_reason() {
    let mut fixture = fixture_json();
    fixture["securityGroups"][0]["accountId"] = json!("9999");
    let err = Fixture::from_json_str(&fixture.to_string()).unwrap_err();
    assert!(err.to_string().contains("unknown account 9999"), "{err}");
    let err = Fixture::from_json_str(r#"{"acounts": []}"#).unwrap_err();
    assert!(err.to_string().contains("acounts"), "{err}");
}

#[tokio::test]
async fn shutdown_closes_the_listeners() {
    let emu = start().await;
    let endpoint = emu.ecs_endpoint();
    emu.clone().shutdown().await;
    let result = reqwest::get(format!("{endpoint}/__admin/state")).await;
    assert!(result.is_err());
}

// ---------------------------------------------------------------- the binary

/// Kills the child process even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_endpoints_and_serves_signed_calls() {
    use std::io::BufRead as _;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/basic.json");
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_sg-remediator-emulator"))
            .args(["--fixture", fixture])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("binary starts"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let endpoints: BTreeMap<String, String> = serde_json::from_str(&line).expect("one JSON line");
    for service in ["config", "ecs", "sts"] {
        assert!(
            endpoints[service].starts_with("http://127.0.0.1:"),
            "{line}"
        );
    }
    let (status, body) = call(
        &endpoints["ecs"],
        &fc_key(),
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_binary_refuses_a_non_loopback_bind_without_the_explicit_flag() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/basic.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sg-remediator-emulator"))
        .args(["--fixture", fixture, "--bind", "0.0.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-non-loopback"));
}

// --- Signature V3 (ACS3-HMAC-SHA256) ----------------------------------------------------------

/// A V3-signed `POST` as the client builds it (the API's parameters in the query, the common
/// ones in `x-acs-*` headers, an empty body), for the tests to spoil one part of.
struct V3Request {
    endpoint: String,
    query: String,
    /// Every header sent, `authorization` included.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

fn v3_request(
    endpoint: &str,
    k: &Key,
    action: &str,
    version: &str,
    extra: &[(&str, &str)],
    at: SystemTime,
) -> V3Request {
    let mut p = Params::new();
    for (n, v) in extra {
        p.insert(n.to_string().into(), v.to_string());
    }
    let date = format_timestamp(at);
    let nonce = uuid::Uuid::new_v4().to_string();
    let host = endpoint.trim_start_matches("http://").to_string();
    let common = acs3::CommonHeaders {
        host: &host,
        action,
        version,
        date: &date,
        nonce: &nonce,
        security_token: k.token.as_deref(),
    };
    let signed = acs3::sign_post(&p, &common, &k.id, &k.secret);
    let mut headers: BTreeMap<String, String> = common
        .signed()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    headers.insert("authorization".into(), signed.authorization);
    V3Request {
        endpoint: endpoint.to_string(),
        query: signed.query,
        headers,
        body: Vec::new(),
    }
}

fn v3_describe(emu: &Emulator, k: &Key) -> V3Request {
    v3_request(
        &emu.ecs_endpoint(),
        k,
        "DescribeSecurityGroupAttribute",
        ECS,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
        SystemTime::now(),
    )
}

impl V3Request {
    async fn send(&self) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .post(format!("{}/?{}", self.endpoint, self.query))
            .body(self.body.clone());
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        let resp = req.send().await.expect("emulator answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_v3_signed_request_is_served_and_journaled_with_the_action_from_its_header() {
    let emu = start().await;
    let k = fc_key();
    let (status, body) = v3_describe(&emu, &k).send().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["SecurityGroupId"], WEB_SG);
    let entry = &emu.journal()[0];
    assert_eq!(entry.action, "DescribeSecurityGroupAttribute");
    assert_eq!(entry.signature_version, "v3");
    assert_eq!(entry.access_key_id, k.id);
    assert!(!entry.nonce.is_empty());
    assert_eq!(entry.params["SecurityGroupId"], WEB_SG);
}

#[tokio::test]
async fn a_v3_request_with_a_wrong_signature_is_refused_with_the_server_string_to_sign() {
    let emu = start().await;
    let mut k = fc_key();
    k.secret = "not-the-secret".into();
    let (status, body) = v3_describe(&emu, &k).send().await;
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
    let message = body["Message"].as_str().unwrap();
    assert!(
        message.contains("server string to sign is:ACS3-HMAC-SHA256\n"),
        "{message}"
    );
    assert!(!message.contains(fc_key().token.as_deref().unwrap()));
}

#[tokio::test]
async fn a_v3_request_whose_query_was_changed_after_signing_is_refused() {
    let emu = start().await;
    let mut req = v3_describe(&emu, &fc_key());
    req.query.push_str("&Direction=egress");
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
}

#[tokio::test]
async fn an_x_acs_header_sent_but_not_signed_is_an_incomplete_signature() {
    let emu = start().await;
    let mut req = v3_describe(&emu, &fc_key());
    req.headers
        .insert("x-acs-resourcegroupid".into(), "rg-unsigned".into());
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "IncompleteSignature"));
    assert!(body["Message"]
        .as_str()
        .unwrap()
        .contains("x-acs-resourcegroupid"));
}

#[tokio::test]
async fn a_signed_header_missing_from_the_request_is_an_incomplete_signature() {
    let emu = start().await;
    let mut req = v3_describe(&emu, &fc_key());
    let auth = req.headers["authorization"]
        .replace("SignedHeaders=host;", "SignedHeaders=host;x-acs-not-sent;");
    req.headers.insert("authorization".into(), auth);
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "IncompleteSignature"));
}

#[tokio::test]
async fn an_authorization_header_without_each_part_is_an_incomplete_signature() {
    let emu = start().await;
    let signed = v3_describe(&emu, &fc_key());
    let auth = signed.headers["authorization"].clone();
    let without = |part: &str| {
        auth.split(',')
            .filter(|p| !p.contains(&format!("{part}=")))
            .collect::<Vec<_>>()
            .join(",")
    };
    for broken in [
        without("Credential").replace("ACS3-HMAC-SHA256 ", "ACS3-HMAC-SHA256 X=1,"),
        without("SignedHeaders"),
        without("Signature"),
    ] {
        let mut req = v3_describe(&emu, &fc_key());
        req.headers.insert("authorization".into(), broken.clone());
        let (status, body) = req.send().await;
        assert_eq!(
            (status, code(&body)),
            (400, "IncompleteSignature"),
            "{broken}"
        );
    }
    let mut req = v3_describe(&emu, &fc_key());
    req.headers.insert(
        "authorization".into(),
        "ACS4-HMAC-SHA512 Credential=x".into(),
    );
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "IncompleteSignature"));
}

#[tokio::test]
async fn a_v3_body_whose_hash_is_not_the_signed_one_is_refused() {
    let emu = start().await;
    let mut req = v3_describe(&emu, &fc_key());
    req.headers.insert(
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    );
    req.body = b"Direction=egress".to_vec();
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "SignatureDoesNotMatch"));
    assert!(body["Message"]
        .as_str()
        .unwrap()
        .contains("x-acs-content-sha256"));
}

#[tokio::test]
async fn a_v3_nonce_is_accepted_once() {
    let emu = start().await;
    let req = v3_describe(&emu, &fc_key());
    assert_eq!(req.send().await.0, 200);
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "SignatureNonceUsed"));
}

#[tokio::test]
async fn a_v3_date_twenty_minutes_old_or_ahead_is_expired() {
    let emu = start().await;
    for at in [
        SystemTime::now() - Duration::from_secs(20 * 60),
        SystemTime::now() + Duration::from_secs(20 * 60),
    ] {
        let req = v3_request(
            &emu.ecs_endpoint(),
            &fc_key(),
            "DescribeSecurityGroupAttribute",
            ECS,
            &[("RegionId", "cn-hangzhou"), ("SecurityGroupId", WEB_SG)],
            at,
        );
        let (status, body) = req.send().await;
        assert_eq!((status, code(&body)), (400, "InvalidTimeStamp.Expired"));
    }
}

#[tokio::test]
async fn v3_sts_credentials_need_their_own_security_token() {
    let emu = start().await;
    let mut k = fc_key();
    k.token = None;
    let (status, body) = v3_describe(&emu, &k).send().await;
    assert_eq!((status, code(&body)), (400, "MissingSecurityToken"));
}

#[tokio::test]
async fn a_v3_action_of_another_service_is_not_found() {
    let emu = start().await;
    let req = v3_request(
        &emu.config_endpoint(),
        &fc_key(),
        "DescribeSecurityGroupAttribute",
        ECS,
        &[],
        SystemTime::now(),
    );
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (404, "InvalidAction.NotFound"));
}

#[tokio::test]
async fn a_fault_for_an_action_applies_to_v3_calls_of_it() {
    let emu = start().await;
    emu.inject(Fault {
        action: Some("DescribeSecurityGroupAttribute".into()),
        security_group_id: Some(WEB_SG.into()),
        access_key_id: Some(fc_key().id),
        count: Some(1),
        kind: FaultKind::Throttle {
            code: "Throttling.User".into(),
        },
    });
    let (status, body) = v3_describe(&emu, &fc_key()).send().await;
    assert_eq!((status, code(&body)), (400, "Throttling.User"));
    assert_eq!(
        emu.journal()[0].fault.as_deref(),
        Some("throttle:Throttling.User")
    );
}

#[tokio::test]
async fn signed_header_names_out_of_order_or_in_upper_case_are_an_incomplete_signature() {
    let emu = start().await;
    for (from, to) in [
        (
            "SignedHeaders=host;x-acs-action;",
            "SignedHeaders=x-acs-action;host;",
        ),
        ("SignedHeaders=host;", "SignedHeaders=Host;"),
    ] {
        let mut req = v3_describe(&emu, &fc_key());
        let auth = req.headers["authorization"].replace(from, to);
        req.headers.insert("authorization".into(), auth.clone());
        let (status, body) = req.send().await;
        assert_eq!(
            (status, code(&body)),
            (400, "IncompleteSignature"),
            "{auth}"
        );
    }
}

#[tokio::test]
async fn an_x_acs_accesskey_id_that_is_not_the_credential_is_an_incomplete_signature() {
    let emu = start().await;
    let k = fc_key();
    let mut req = v3_describe(&emu, &k);
    // Signed, so only the mismatch with the Credential can refuse it.
    let mut p = Params::new();
    p.insert("RegionId".into(), "cn-hangzhou".into());
    p.insert("SecurityGroupId".into(), WEB_SG.into());
    let mut headers = req.headers.clone();
    headers.remove("authorization");
    headers.insert("x-acs-accesskey-id".into(), "LTAI5tSomebodyElse".into());
    let canonical = acs3::canonical_request(
        "POST",
        &acs3::canonical_query(&p),
        &headers,
        acs3::EMPTY_PAYLOAD_SHA256,
    );
    let signature = acs3::signature(&k.secret, &acs3::string_to_sign(&canonical));
    headers.insert(
        "authorization".into(),
        acs3::authorization(&k.id, &headers, &signature),
    );
    req.headers = headers;
    let (status, body) = req.send().await;
    assert_eq!((status, code(&body)), (400, "IncompleteSignature"));
}

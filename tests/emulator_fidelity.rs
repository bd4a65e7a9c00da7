//! The emulator answers as the official API definitions say, each behaviour cited in
//! crates/acs-emulator/README.md: classic groups answer one NIC type per call, a ClientToken's repeat gets
//! `LastTokenProcessing` while its first call is still in progress and the cached answer
//! afterwards (within a configurable window), any error code can be injected.

use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fault, FaultKind};
use acs_openapi::credentials::Credentials;
use acs_openapi::{ApiError, CallContext, Client, ClientSettings, Endpoint, Params, RpcRequest};
use serde_json::{json, Value};
use sg_test_kit::world::*;

fn rule(id: &str, port: u16, nic: Option<&str>) -> Value {
    let mut r = json!({"SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept",
        "Priority": "1", "IpProtocol": "TCP", "PortRange": format!("{port}/{port}"),
        "SourceCidrIp": "0.0.0.0/0"});
    if let Some(nic) = nic {
        r["NicType"] = json!(nic);
    }
    r
}

async fn start(token_window_secs: u64) -> Emulator {
    let mut world = fixture("groups");
    world["settings"] = json!({"clientTokenWindowSecs": token_window_secs});
    world["securityGroups"].as_array_mut().unwrap().push(json!({
        "accountId": FUNCTION_ACCOUNT, "regionId": REGION, "securityGroupId": "sg-classic",
        "vpcId": "", "rules": [rule("sgr-inet", 22, Some("internet")),
                               rule("sgr-intra", 3389, Some("intranet")),
                               rule("sgr-default", 80, None)],
    }));
    emulator(&world).await
}

fn client(attempt_timeout: Duration, max_attempts: u32) -> Client {
    Client::new(ClientSettings {
        allow_http: true,
        attempt_timeout,
        max_attempts,
        deadline_margin: Duration::from_millis(100),
        ..ClientSettings::default()
    })
    .unwrap()
}

async fn call(
    client: &Client,
    endpoint: &str,
    action: &'static str,
    params: &[(&str, &str)],
) -> Result<Value, ApiError> {
    let creds = Credentials::new(FC_KEY_ID, FC_SECRET, Some(FC_TOKEN.into()));
    let cx = CallContext {
        credentials: &creds,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let params: Params = params
        .iter()
        .map(|(k, v)| (k.to_string().into(), v.to_string()))
        .collect();
    let endpoint = Endpoint::parse(endpoint).unwrap();
    let req = RpcRequest {
        endpoint: &endpoint,
        action,
        version: "2014-05-26",
        params,
    };
    crate::common::call_whole(client, &req, &cx).await
}

fn ids_of(body: &Value) -> Vec<String> {
    body["Permissions"]["Permission"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap().to_string())
        .collect()
}

async fn describe(emu: &Emulator, sg: &str, nic: Option<&str>) -> Vec<String> {
    let mut params = vec![("RegionId", REGION), ("SecurityGroupId", sg)];
    if let Some(nic) = nic {
        params.push(("NicType", nic));
    }
    let c = client(Duration::from_secs(5), 1);
    ids_of(
        &call(
            &c,
            &emu.ecs_endpoint(),
            "DescribeSecurityGroupAttribute",
            &params,
        )
        .await
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_answers_internet_rules_when_nic_type_is_absent() {
    let emu = start(3600).await;
    // A classic rule without NicType has the classic default, internet.
    assert_eq!(
        describe(&emu, "sg-classic", None).await,
        ["sgr-inet", "sgr-default"]
    );
    assert_eq!(
        describe(&emu, "sg-classic", Some("internet")).await,
        ["sgr-inet", "sgr-default"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_answers_intranet_rules_only_when_asked() {
    let emu = start(3600).await;
    assert_eq!(
        describe(&emu, "sg-classic", Some("intranet")).await,
        ["sgr-intra"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_group_answers_its_intranet_rules_whatever_nic_type_is_asked() {
    let emu = start(3600).await;
    let all = ["sgr-ssh-world", "sgr-ssh-world-https"];
    assert_eq!(describe(&emu, "sg-ssh-world", None).await, all);
    assert_eq!(describe(&emu, "sg-ssh-world", Some("internet")).await, all);
    assert_eq!(describe(&emu, "sg-ssh-world", Some("intranet")).await, all);
}

fn revoke_params(token: &str) -> [(&'static str, String); 4] {
    [
        ("RegionId", REGION.to_string()),
        ("SecurityGroupId", "sg-ssh-world".to_string()),
        ("ClientToken", token.to_string()),
        ("SecurityGroupRuleId.1", "sgr-ssh-world".to_string()),
    ]
}

async fn revoke(client: &Client, emu: &Emulator, token: &str) -> Result<Value, ApiError> {
    let owned = revoke_params(token);
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    call(client, &emu.ecs_endpoint(), "RevokeSecurityGroup", &params).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_repeated_while_its_first_call_is_in_progress_gets_last_token_processing() {
    let emu = start(3600).await;
    emu.inject(
        Fault::always(FaultKind::Delay { ms: 1500 })
            .on_action("RevokeSecurityGroup")
            .times(1),
    );
    // The first call is applied at once but answered after 1.5 s; this client gives up sooner.
    let impatient = client(Duration::from_millis(300), 1);
    let lost = revoke(&impatient, &emu, "rm-in-progress")
        .await
        .unwrap_err();
    assert!(matches!(lost, ApiError::Transport(_)), "{lost:?}");
    assert_eq!(live_ids(&emu, "sg-ssh-world"), ["sgr-ssh-world-https"]);

    let once = client(Duration::from_secs(5), 1);
    let busy = revoke(&once, &emu, "rm-in-progress").await.unwrap_err();
    assert_eq!(busy.code(), Some("LastTokenProcessing"), "{busy:?}");
    assert_eq!(busy.status(), Some(403));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cached = revoke(&once, &emu, "rm-in-progress").await.unwrap();
    let journal = calls(&emu, "RevokeSecurityGroup");
    assert_eq!(
        cached["RequestId"].as_str(),
        Some(journal[0].request_id.as_str())
    );
    assert!(journal[0].mutated);
    assert!(!journal[2].mutated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_token_is_answered_from_the_cache_only_within_the_retention_window() {
    let emu = start(2).await;
    let c = client(Duration::from_secs(5), 1);
    let first = revoke(&c, &emu, "rm-window").await.unwrap();
    let again = revoke(&c, &emu, "rm-window").await.unwrap();
    assert_eq!(first["RequestId"], again["RequestId"]);
    assert!(!calls(&emu, "RevokeSecurityGroup")[1].mutated);

    // After the window the token is forgotten: the same request runs again (and now fails,
    // the rule being gone).
    emu.advance_clock(Duration::from_secs(3));
    let late = revoke(&c, &emu, "rm-window").await.unwrap_err();
    assert_eq!(
        late.code(),
        Some("InvalidParam.SecurityGroupRuleId"),
        "{late:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_error_code_can_be_injected_including_rejected_throttling() {
    let emu = start(3600).await;
    emu.inject(
        Fault::always(FaultKind::Throttle {
            code: "Rejected.Throttling".into(),
        })
        .on_action("DescribeSecurityGroupAttribute")
        .times(1),
    );
    emu.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "OperationConflict".into(),
            message: "conflict".into(),
        })
        .on_action("RevokeSecurityGroup")
        .times(1),
    );
    let c = client(Duration::from_secs(5), 1);
    let e = call(
        &c,
        &emu.ecs_endpoint(),
        "DescribeSecurityGroupAttribute",
        &[("RegionId", REGION), ("SecurityGroupId", "sg-ssh-world")],
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(400), Some("Rejected.Throttling"))
    );
    assert!(e.is_throttling());
    let e = revoke(&c, &emu, "rm-conflict").await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(403), Some("OperationConflict"))
    );
    assert!(e.is_in_progress());
}

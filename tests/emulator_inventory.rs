//! The emulator's `DescribeSecurityGroups` refuses what the official request model does not allow
//! (`ecs-20140526/client/describe_security_groups_request_model.go`): a missing `RegionId`,
//! `MaxResults` above 100, a `NextToken` it never issued or issued for another query.

use std::time::{Duration, Instant};

use acs_emulator::{Emulator, Fixture};
use acs_openapi::credentials::Credentials;
use acs_openapi::{ApiError, CallContext, Client, ClientSettings, Endpoint, Params, RpcRequest};
use serde_json::{json, Value};

const DEMO: &str = include_str!("fixtures/demo.json");

async fn call(emulator: &Emulator, pairs: &[(&str, &str)]) -> Result<Value, ApiError> {
    let client = Client::new(ClientSettings {
        allow_http: true,
        max_attempts: 1,
        ..ClientSettings::default()
    })
    .unwrap();
    let credentials = Credentials::new(
        "STS.DemoFunctionRoleKey00000",
        "demoSecretNeverPrinted0000000000000000",
        Some("CAIS+demo/function/role/token==".into()),
    );
    let cx = CallContext {
        credentials: &credentials,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let mut params = Params::new();
    for (k, v) in pairs {
        params.insert(k.to_string().into(), v.to_string());
    }
    let endpoint = Endpoint::parse(&emulator.ecs_endpoint()).unwrap();
    let request = RpcRequest {
        endpoint: &endpoint,
        action: "DescribeSecurityGroups",
        version: "2014-05-26",
        params,
    };
    crate::common::call_whole(&client, &request, &cx).await
}

async fn demo() -> Emulator {
    Emulator::start(Fixture::from_json_str(DEMO).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_region_lists_its_live_groups_with_tags_and_the_managed_flag() {
    let emulator = demo().await;
    let body = call(&emulator, &[("RegionId", "cn-hangzhou")])
        .await
        .unwrap();
    let groups = body["SecurityGroups"]["SecurityGroup"].as_array().unwrap();
    // The demo has 8 groups, one of them deleted live.
    assert_eq!(groups.len(), 7);
    assert_eq!(body["NextToken"], "");
    let managed = groups
        .iter()
        .find(|g| g["SecurityGroupName"] == "nlb-managed")
        .unwrap();
    assert_eq!(managed["ServiceManaged"], true);
    let exempt = groups
        .iter()
        .find(|g| g["SecurityGroupName"] == "partner-sftp")
        .unwrap();
    assert!(exempt["Tags"]["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["TagKey"] == "sg-remediator:exempt"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn max_results_pages_and_the_token_continues_only_the_same_query() {
    let emulator = demo().await;
    let first = call(
        &emulator,
        &[("RegionId", "cn-hangzhou"), ("MaxResults", "3")],
    )
    .await
    .unwrap();
    assert_eq!(
        first["SecurityGroups"]["SecurityGroup"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let token = first["NextToken"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let second = call(
        &emulator,
        &[
            ("RegionId", "cn-hangzhou"),
            ("MaxResults", "3"),
            ("NextToken", &token),
        ],
    )
    .await
    .unwrap();
    assert_ne!(
        first["SecurityGroups"]["SecurityGroup"][0],
        second["SecurityGroups"]["SecurityGroup"][0]
    );
    let other_query = call(
        &emulator,
        &[
            ("RegionId", "cn-hangzhou"),
            ("VpcId", "vpc-x"),
            ("NextToken", &token),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(other_query.code(), Some("InvalidParameter.NextToken"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn what_the_request_model_forbids_is_refused() {
    let emulator = demo().await;
    let missing = call(&emulator, &[]).await.unwrap_err();
    assert_eq!(missing.code(), Some("MissingParameter"));
    let too_many = call(
        &emulator,
        &[("RegionId", "cn-hangzhou"), ("MaxResults", "101")],
    )
    .await
    .unwrap_err();
    assert_eq!(too_many.code(), Some("InvalidParameter.MaxResults"));
    let unknown = call(
        &emulator,
        &[("RegionId", "cn-hangzhou"), ("NextToken", "nope")],
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Some("InvalidParameter.NextToken"));
    let ids = json!(["sg-bp1fg655nh68xyz9i0d1"]).to_string();
    let one = call(
        &emulator,
        &[("RegionId", "cn-hangzhou"), ("SecurityGroupIds", &ids)],
    )
    .await
    .unwrap();
    assert_eq!(
        one["SecurityGroups"]["SecurityGroup"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    emulator.shutdown().await;
}

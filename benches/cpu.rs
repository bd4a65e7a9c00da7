//! CPU cost of the per-resource work that is not waiting on the network: signing a request,
//! parsing Config's and ECS's answers, selecting the rules to revoke. `make bench` adds the
//! four medians into "CPU per resource" (target ≤ 100 µs); a regression in any of them shows
//! here first.
//!
//! Inputs are realistic: the ten-rule web-tier group of `tests/fixtures/reliability/base.json`
//! (two risky rules among web ports, private sources, egress, ICMP, a Drop rule and a
//! security-group source), wrapped the way Config and ECS wrap it.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use sg_remediator::credentials::Credentials;
use sg_remediator::openapi::signing::{add_common_params, format_timestamp, signed_query, Params};
use sg_remediator::rules::{Permission, RiskyPorts};
use sg_remediator::select::{self, Selector};
use sg_remediator::services::config::{parse_discovered_resource, ResourceQuery};
use sg_remediator::services::ecs::parse_page;

const SG: &str = "sg-reltemplate0000000";

fn template_rules() -> Vec<Value> {
    let fixture: Value =
        serde_json::from_str(include_str!("../tests/fixtures/reliability/base.json")).unwrap();
    fixture["securityGroups"][0]["rules"]
        .as_array()
        .unwrap()
        .clone()
}

/// A DescribeSecurityGroupAttribute answer, as bytes off the wire.
fn describe_body() -> Vec<u8> {
    json!({
        "RequestId": "5D7A1C52-3A7E-4A0B-9C41-2B1F0D8E6A11",
        "RegionId": "cn-hangzhou",
        "SecurityGroupId": SG,
        "SecurityGroupName": "web-tier",
        "Description": "",
        "VpcId": "vpc-bp1reliability00000",
        "InnerAccessPolicy": "Accept",
        "NextToken": "",
        "Permissions": {"Permission": template_rules()},
    })
    .to_string()
    .into_bytes()
}

/// A GetDiscoveredResource answer: the configuration is a JSON string inside JSON.
fn config_body() -> Vec<u8> {
    let configuration = json!({
        "SecurityGroupId": SG,
        "SecurityGroupName": "web-tier",
        "VpcId": "vpc-bp1reliability00000",
        "ServiceManaged": false,
        "SecurityGroupType": "normal",
        "InnerAccessPolicy": "Accept",
        "Permissions": {"Permission": template_rules()},
    });
    json!({
        "RequestId": "0E2B7F4C-91D3-4C55-8A2E-6F3B9D1C7E22",
        "DiscoveredResourceDetail": {
            "AccountId": 1_234_567_890_123_456u64,
            "Region": "cn-hangzhou",
            "ResourceId": SG,
            "ResourceType": "ACS::ECS::SecurityGroup",
            "ResourceName": "web-tier",
            "ResourceDeleted": 1,
            "ResourceCreationTime": 1_714_550_400_000u64,
            "AvailabilityZone": "",
            "Configuration": configuration.to_string(),
            "Tags": "{\"env\":[\"prod\"],\"team\":[\"web\"]}",
        }
    })
    .to_string()
    .into_bytes()
}

fn query() -> ResourceQuery {
    ResourceQuery {
        resource_id: SG.into(),
        resource_type: "ACS::ECS::SecurityGroup".into(),
        region: "cn-hangzhou".into(),
        aggregator: None,
    }
}

fn cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("cpu");

    // One DescribeSecurityGroupAttribute attempt: common parameters, fresh nonce and
    // timestamp, canonical query, HMAC-SHA1, percent-encoding. STS credentials, as FC gives.
    let credentials = Credentials::new(
        "STS.NUgYrLnoC37mZZCNnAbez2",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("CAIS+token/with+plus/and=equals/0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz==".into()),
    );
    group.bench_function("sign_request", |b| {
        b.iter(|| {
            let mut params = Params::new();
            params.insert("RegionId".into(), "cn-hangzhou".into());
            params.insert("SecurityGroupId".into(), SG.into());
            params.insert("MaxResults".into(), "100".into());
            add_common_params(
                &mut params,
                "DescribeSecurityGroupAttribute",
                "2014-05-26",
                black_box(&credentials),
                &uuid::Uuid::new_v4().to_string(),
                &format_timestamp(SystemTime::now()),
            );
            signed_query("POST", &params, credentials.access_key_secret.expose())
        })
    });

    let describe = describe_body();
    let page = parse_page(&serde_json::from_slice(&describe).unwrap(), SG).unwrap();
    assert_eq!(page.permissions.len(), 10);
    group.bench_function("parse_describe_page", |b| {
        b.iter(|| {
            let body: Value = serde_json::from_slice(black_box(&describe)).unwrap();
            parse_page(&body, SG).unwrap()
        })
    });

    let config = config_body();
    let q = query();
    group.bench_function("parse_config_resource", |b| {
        b.iter(|| {
            let body: Value = serde_json::from_slice(black_box(&config)).unwrap();
            let resource = parse_discovered_resource(&body, None, &q).unwrap();
            select::rules_from_configuration(&resource.configuration).unwrap()
        })
    });

    let selector = Selector::new("22,3389".parse::<RiskyPorts>().unwrap(), None).unwrap();
    let rules: Vec<Permission> = page.permissions;
    let selection = selector.evaluate(&rules).unwrap();
    assert_eq!(selection.revoke_ids().len(), 2, "the two risky rules");
    group.bench_function("select_10_rules", |b| {
        b.iter(|| selector.evaluate(black_box(&rules)).unwrap())
    });

    group.finish();
}

criterion_group!(benches, cpu);
criterion_main!(benches);

//! Per-call CPU of the client outside the network: signing one attempt, V3 (the default:
//! canonical request, SHA-256, HMAC-SHA256, the `x-acs-*` headers) and V2 (common parameters,
//! canonical query, HMAC-SHA1, the query), with STS credentials as FC hands them.

use std::hint::black_box;
use std::time::SystemTime;

use acs_openapi::credentials::Credentials;
use acs_openapi::signing::{write_signed_query, CommonParams, Timestamp};
use acs_openapi::{sign_request, Endpoint, Params, RpcRequest, SignatureVersion};
use criterion::{criterion_group, criterion_main, Criterion};

const SG: &str = "sg-reltemplate0000000";

fn credentials() -> Credentials {
    Credentials::new(
        "STS.NUgYrLnoC37mZZCNnAbez2",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("CAIS+token/with+plus/and=equals/0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz==".into()),
    )
}

fn describe_params() -> Params {
    let mut params = Params::new();
    params.insert("RegionId".into(), "cn-hangzhou".into());
    params.insert("SecurityGroupId".into(), SG.into());
    params.insert("MaxResults".into(), "100".into());
    params
}

fn client(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    let credentials = credentials();
    let params = describe_params();

    // What `Client::attempt` does before sending under V2: fresh nonce and timestamp, common
    // parameters, canonical query, HMAC-SHA1, the signed query.
    let endpoint = Endpoint::parse("https://ecs-cn-hangzhou.aliyuncs.com").unwrap();
    let req = RpcRequest {
        endpoint: &endpoint,
        action: "DescribeSecurityGroupAttribute",
        version: "2014-05-26",
        params: describe_params(),
    };
    group.bench_function("sign_attempt", |b| {
        b.iter(|| {
            sign_request(
                black_box(&req),
                black_box(&credentials),
                SystemTime::now(),
                SignatureVersion::V2,
            )
        })
    });

    // What `Client::attempt` does under V3 (the default): fresh nonce and date, the canonical
    // request, SHA-256 and HMAC-SHA256, the query and the signed headers.
    group.bench_function("sign_attempt_v3", |b| {
        b.iter(|| {
            sign_request(
                black_box(&req),
                black_box(&credentials),
                SystemTime::now(),
                SignatureVersion::V3,
            )
        })
    });

    // Parts of it.
    group.bench_function("nonce", |b| {
        b.iter(|| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            uuid::Uuid::new_v4()
                .hyphenated()
                .encode_lower(&mut buf)
                .len()
        })
    });
    group.bench_function("timestamp", |b| {
        b.iter(|| Timestamp::new(black_box(SystemTime::now())).as_str().len())
    });
    group.bench_function("write_signed_query", |b| {
        let common = CommonParams::new(
            "DescribeSecurityGroupAttribute",
            "2014-05-26",
            &credentials,
            "5d7a1c52-3a7e-4a0b-9c41-2b1f0d8e6a11",
            "2024-05-01T08:00:00Z",
        );
        let secret = credentials.access_key_secret.expose();
        b.iter(|| {
            let mut out = String::with_capacity(1024);
            write_signed_query(&mut out, "POST", black_box(&params), &common, secret);
            out
        })
    });
    group.finish();
}

/// A DescribeSecurityGroupAttribute answer of about 4 KB: eight rules, as the cloud sends it.
fn answer_4k() -> String {
    let rule = |i: usize| {
        format!(
            r#"{{"SecurityGroupRuleId":"sgr-bp1reltemplate{i:04}","Direction":"ingress","IpProtocol":"TCP","PortRange":"{p}/{p}","SourceCidrIp":"0.0.0.0/0","Ipv6SourceCidrIp":"","SourceGroupId":"","SourcePrefixListId":"","DestCidrIp":"","Policy":"Accept","NicType":"intranet","Priority":"1","Description":"rule {i} of the template group","CreateTime":"2024-05-01T08:00:00Z","SourceGroupOwnerAccount":"","SourcePortRange":"","DestGroupId":"","DestGroupOwnerAccount":"","DestPrefixListId":"","SourceGroupName":"","DestGroupName":""}}"#,
            p = 20 + i
        )
    };
    let rules: Vec<String> = (0..8).map(rule).collect();
    format!(
        r#"{{"RequestId":"5D7A1C52-3A7E-4A0B-9C41-2B1F0D8E6A11","RegionId":"cn-hangzhou","SecurityGroupId":"{SG}","SecurityGroupName":"reltemplate","Description":"","VpcId":"vpc-bp1reltemplate000000","InnerAccessPolicy":"Accept","Permissions":{{"Permission":[{}]}}}}"#,
        rules.join(",")
    )
}

/// The output scrubber every log line and every answer the process writes passes through,
/// with one STS credential set (secret and token) registered, as in a warm instance.
fn scrubber(c: &mut Criterion) {
    let scrubber = acs_openapi::credentials::Scrubber::new();
    scrubber.register(&credentials(), None);
    let mut group = c.benchmark_group("scrub");
    let line = r#"{"timestamp":"2024-05-01T08:00:00.123456Z","level":"INFO","fields":{"message":"api_call","action":"DescribeSecurityGroupAttribute","endpoint":"ecs-cn-hangzhou.aliyuncs.com","request_id":"5D7A1C52-3A7E-4A0B-9C41-2B1F0D8E6A11","attempt":1,"status":200,"elapsed_ms":23},"target":"acs_openapi::client"}"#;
    assert!(matches!(
        scrubber.scrub(line),
        std::borrow::Cow::Borrowed(_)
    ));
    group.bench_function("log_line", |b| {
        b.iter(|| scrubber.scrub(black_box(line)).len())
    });
    let answer = answer_4k();
    assert!((3_500..5_000).contains(&answer.len()), "{}", answer.len());
    group.bench_function("answer_4k", |b| {
        b.iter(|| scrubber.scrub(black_box(&answer)).len())
    });
    group.finish();
}

criterion_group!(benches, client, scrubber);
criterion_main!(benches);

//! CPU cost of the per-resource work that is not waiting on the network: signing a request,
//! parsing Config's and ECS's answers, selecting the rules to revoke. `make bench` adds the
//! four medians into "CPU per resource"; a regression in any of them shows
//! here first.
//!
//! Inputs are realistic: the ten-rule web-tier group of `tests/fixtures/reliability/base.json`
//! (two risky rules among web ports, private sources, egress, ICMP, a Drop rule and a
//! security-group source), wrapped the way Config and ECS wrap it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use acs_openapi::credentials::Credentials;
use acs_openapi::{sign_request, ClientSettings, Endpoint, Params, RpcRequest};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use sg_remediator::rules::{Permission, RiskyPorts};
use sg_remediator::select::Selector;
use sg_remediator::services::config::{self, ResourceQuery};
use sg_remediator::services::ecs;

const SG: &str = "sg-reltemplate0000000";

/// Counts heap allocations, so the bench can say how many each step makes (most of the CPU of
/// parsing and selecting is allocation). One relaxed atomic add per allocation.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations made by one call of `f`, printed and written to
/// `target/criterion/cpu/<name>/allocations.txt` (read by `make bench`).
fn count_allocations<T>(name: &str, f: impl FnOnce() -> T) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    black_box(f());
    let n = ALLOCATIONS.load(Ordering::Relaxed) - before;
    eprintln!("cpu/{name}: {n} heap allocations per call");
    // Next to criterion's own results: the workspace's target/ (the bench runs in this package's
    // directory, two levels below it).
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("criterion/cpu").join(name);
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("allocations.txt"), n.to_string());
    }
}

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

    // One DescribeSecurityGroupAttribute attempt as `Client::attempt` signs it with the
    // client's default signature (V3: fresh nonce and date, canonical query and request,
    // SHA-256, HMAC-SHA256, the signed headers). STS credentials, as FC gives.
    let credentials = Credentials::new(
        "STS.NUgYrLnoC37mZZCNnAbez2",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("CAIS+token/with+plus/and=equals/0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz==".into()),
    );
    let endpoint = Endpoint::parse("https://ecs.cn-hangzhou.aliyuncs.com").unwrap();
    let version = ClientSettings::default().signature_version;
    let sign = || {
        let mut params = Params::new();
        params.insert("RegionId".into(), "cn-hangzhou".into());
        params.insert("SecurityGroupId".into(), SG.into());
        params.insert("MaxResults".into(), "100".into());
        let req = RpcRequest {
            endpoint: &endpoint,
            action: "DescribeSecurityGroupAttribute",
            version: "2014-05-26",
            params,
        };
        sign_request(&req, black_box(&credentials), SystemTime::now(), version).unwrap()
    };
    count_allocations("sign_request", sign);
    group.bench_function("sign_request", |b| b.iter(sign));

    // Each parse is what the function does with an answer's bytes: one pass of the answer's
    // derived reader (the envelope too, judged as the client judges it), then the typed page.
    let describe = Bytes::from(describe_body());
    let read_page = |body: &Bytes| ecs::parse_page(body, SG).unwrap();
    let page = read_page(&describe);
    assert_eq!(page.permissions.len(), 10);
    count_allocations("parse_describe_page", || read_page(&describe));
    group.bench_function("parse_describe_page", |b| {
        b.iter(|| read_page(black_box(&describe)))
    });

    // serde_json's own floor on this machine for each answer: derived, borrowed structs that
    // read the same fields as plain strings and check nothing (`mod floor`). Each is timed
    // right after its reader, so `make bench` can state the reader as a multiple of it: the
    // machine's speed changes from minute to minute, less often within a few seconds.
    let describe_bytes = describe.clone();
    let floor_describe = |body: &[u8]| {
        serde_json::from_slice::<floor::Page>(body)
            .unwrap()
            .permissions
            .permission
            .len()
    };
    assert_eq!(floor_describe(&describe_bytes), 10);
    count_allocations("serde_floor_describe_page", || {
        floor_describe(&describe_bytes)
    });
    group.bench_function("serde_floor_describe_page", |b| {
        b.iter(|| floor_describe(black_box(&describe_bytes)))
    });

    let config = Bytes::from(config_body());
    let q = query();
    let read_config = |body: &Bytes| {
        config::parse_discovered_resource(body, None, &q)
            .unwrap()
            .snapshot
            .unwrap()
    };
    assert_eq!(read_config(&config).len(), 10);
    count_allocations("parse_config_resource", || read_config(&config));
    group.bench_function("parse_config_resource", |b| {
        b.iter(|| read_config(black_box(&config)))
    });

    let config_bytes = config.clone();
    let floor_config = |body: &[u8]| {
        let outer = serde_json::from_slice::<floor::ConfigAnswer>(body).unwrap();
        let detail = outer.discovered_resource_detail;
        let inner = serde_json::from_str::<floor::Configuration>(&detail.configuration).unwrap();
        let tags = serde_json::from_str::<floor::Tags<'_>>(&detail.tags).unwrap();
        black_box(tags.len());
        inner.permissions.permission.len()
    };
    assert_eq!(floor_config(&config_bytes), 10);
    count_allocations("serde_floor_config_resource", || {
        floor_config(&config_bytes)
    });
    group.bench_function("serde_floor_config_resource", |b| {
        b.iter(|| floor_config(black_box(&config_bytes)))
    });

    let selector = Selector::new("22,3389".parse::<RiskyPorts>().unwrap(), None).unwrap();
    let rules: Vec<Permission> = page.permissions;
    let selection = selector.evaluate(&rules).unwrap();
    assert_eq!(selection.revoke_ids().len(), 2, "the two risky rules");
    count_allocations("select_10_rules", || selector.evaluate(&rules).unwrap());
    group.bench_function("select_10_rules", |b| {
        b.iter(|| selector.evaluate(black_box(&rules)).unwrap())
    });

    // Not part of the per-resource sum (it is per log line, and it lives in acs-openapi): the
    // secret scrubber every log line passes through, on a resource_result audit line of the size
    // a compliant group writes, with one STS credential set registered.
    let line = audit_line();
    let scrubber = acs_openapi::credentials::Scrubber::new();
    scrubber.register(&credentials, None);
    count_allocations("scrub_audit_line", || scrubber.scrub(&line).len());
    group.bench_function("scrub_audit_line", |b| {
        b.iter(|| scrubber.scrub(black_box(&line)).len())
    });

    group.finish();
}

/// The least serde_json can do with the two answers: the fields the function reads, derived,
/// borrowed where the text has no escapes, unchecked. Not a reader the function could use (no
/// envelope, no error codes, no validation, no numbers-as-strings), only the yardstick the
/// issue's "a 4 KB document in a few microseconds" is measured with on this machine.
mod floor {
    use serde::Deserialize;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)] // read by serde only: the bench measures the reading
    pub(super) struct Rule<'a> {
        #[serde(borrow)]
        security_group_rule_id: Cow<'a, str>,
        #[serde(borrow)]
        direction: Cow<'a, str>,
        #[serde(borrow)]
        policy: Cow<'a, str>,
        #[serde(borrow)]
        priority: Cow<'a, str>,
        #[serde(borrow)]
        ip_protocol: Cow<'a, str>,
        #[serde(borrow)]
        port_range: Cow<'a, str>,
        #[serde(borrow)]
        source_port_range: Cow<'a, str>,
        #[serde(borrow)]
        source_cidr_ip: Cow<'a, str>,
        #[serde(borrow)]
        ipv6_source_cidr_ip: Cow<'a, str>,
        #[serde(borrow)]
        source_group_id: Cow<'a, str>,
        #[serde(borrow)]
        source_group_owner_account: Cow<'a, str>,
        #[serde(borrow)]
        source_prefix_list_id: Cow<'a, str>,
        #[serde(borrow)]
        dest_cidr_ip: Cow<'a, str>,
        #[serde(borrow)]
        ipv6_dest_cidr_ip: Cow<'a, str>,
        #[serde(borrow)]
        nic_type: Cow<'a, str>,
        #[serde(borrow, default)] // absent from the fixture's rules
        port_range_list_id: Cow<'a, str>,
        #[serde(borrow)]
        description: Cow<'a, str>,
        #[serde(borrow)]
        create_time: Cow<'a, str>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub(super) struct Permissions<'a> {
        #[serde(borrow)]
        pub(super) permission: Vec<Rule<'a>>,
    }

    /// A DescribeSecurityGroupAttribute answer.
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    pub(super) struct Page<'a> {
        #[serde(borrow)]
        request_id: Cow<'a, str>,
        #[serde(borrow)]
        security_group_id: Cow<'a, str>,
        #[serde(borrow)]
        next_token: Cow<'a, str>,
        #[serde(borrow)]
        pub(super) permissions: Permissions<'a>,
    }

    /// A GetDiscoveredResource answer; its `Configuration` is JSON in a string, so it is
    /// unescaped into an owned string before it can be read.
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    pub(super) struct ConfigAnswer<'a> {
        #[serde(borrow)]
        request_id: Cow<'a, str>,
        #[serde(borrow)]
        pub(super) discovered_resource_detail: Detail<'a>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    pub(super) struct Detail<'a> {
        #[serde(borrow)]
        resource_id: Cow<'a, str>,
        #[serde(borrow)]
        resource_type: Cow<'a, str>,
        #[serde(borrow)]
        region: Cow<'a, str>,
        account_id: u64,
        resource_deleted: i64,
        pub(super) configuration: String,
        /// JSON in a string too (`{"key":["value"]}`), read for the exempt tag.
        pub(super) tags: String,
    }

    /// The tags inside `Tags`, in the shape the bench's answer uses.
    pub(super) type Tags<'a> = std::collections::BTreeMap<Cow<'a, str>, Vec<Cow<'a, str>>>;

    /// The security group inside `Configuration`.
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    pub(super) struct Configuration<'a> {
        #[serde(borrow)]
        security_group_id: Cow<'a, str>,
        service_managed: bool,
        #[serde(borrow)]
        pub(super) permissions: Permissions<'a>,
    }
}

/// A `resource_result` log line as `bootstrap` writes it for a compliant group (JSON format).
fn audit_line() -> String {
    let result = json!({
        "accountId": "1234567890123456", "configRuleId": "cr-bench", "dryRun": false,
        "regionId": "cn-hangzhou", "requestIds": ["0E2B7F4C-91D3-4C55-8A2E-6F3B9D1C7E22",
        "5D7A1C52-3A7E-4A0B-9C41-2B1F0D8E6A11"], "resourceId": SG,
        "resourceType": "ACS::ECS::SecurityGroup", "reviewRuleIds": [], "revokedRuleIds": [],
        "shadowedRuleIds": [], "status": "compliant",
        "reason": "no rule opens a risky port (22,3389) to the internet",
    });
    json!({
        "timestamp": "2026-11-30T18:00:00.000000Z", "level": "INFO",
        "event": "resource_result", "resource_id": SG, "status": "compliant",
        "result": result.to_string(), "target": "sg_remediator::remediation",
        "span": {"request_id": "bench-1", "name": "invoke"},
    })
    .to_string()
}

criterion_group!(benches, cpu);
criterion_main!(benches);

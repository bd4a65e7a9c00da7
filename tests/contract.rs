//! The request contract (crates/acs-emulator/contract.json, transcribed from the official
//! SDK request models) between the client and the emulator.
//!
//! First half: every request the client can build — Config reads, aggregator reads, paginated
//! and classic-network describes, revoke and restore batches, AssumeRole — goes through the
//! strict emulator and none is refused. Second half: for each API the emulator refuses an unknown
//! parameter, each missing required one and a value out of range, and a refused write changes
//! nothing. Third: the answers. Each action's success answer has the fields and types of the
//! official SDK response model (`responses` in contract.json; the emulator refuses to give any
//! other, see `the_function_end_to_end_sends_only_what_the_contract_allows`), and the client
//! reads the API reference's example answers found (tests/fixtures/official/).

use std::time::Duration;

use crate::common::get_discovered_resource;
use crate::common::group_query;
use acs_emulator::contract::Contract;
use acs_emulator::{Fixture, JournalEntry};
use acs_openapi::{ApiError, ClientSettings, Endpoint, Params, RpcRequest};
use serde_json::{json, Value};
use sg_remediator::rules::{Permission, RuleId};
use sg_remediator::services::config::{
    AggregatorScope, ResourceQuery, GET_AGGREGATE_DISCOVERED_RESOURCE, GET_DISCOVERED_RESOURCE,
};
use sg_remediator::services::ecs::{
    authorize_security_group, describe_security_group_attribute, revoke_security_group,
    AUTHORIZE_SECURITY_GROUP, DESCRIBE_SECURITY_GROUP_ATTRIBUTE, PAGE_SIZE, REVOKE_SECURITY_GROUP,
};
use sg_remediator::services::sts::{self, ASSUME_ROLE};
use sg_remediator::services::{Api, API_ACTIONS, CLI_ONLY_ACTIONS};
use sg_test_kit::world::api::{self, rule, World, MEMBER, OWNER};

const REGION: &str = "cn-hangzhou";
const WEB_SG: &str = "sg-web";
const BIG_SG: &str = "sg-big";
const CLASSIC_SG: &str = "sg-classic";
const SOURCE_SG: &str = "sg-source";
const MEMBER_SG: &str = "sg-member";
const ROLE_ARN: &str = "acs:ram::2234567890123456:role/sg-remediation";

/// Rules of every shape a restore can carry: IPv4, IPv6, a source group with its owner, a
/// prefix list, a drop rule of the lowest priority, ALL protocols, a quintuple rule, a
/// description with characters that need encoding.
fn web_rules() -> Vec<Value> {
    vec![
        rule("sgr-ssh", 22, "0.0.0.0/0", "intranet"),
        rule("sgr-rdp", 3389, "0.0.0.0/0", "intranet"),
        json!({"SecurityGroupRuleId": "sgr-v6", "Direction": "ingress", "Policy": "Accept",
               "Priority": 1, "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceCidrIp": "",
               "Ipv6SourceCidrIp": "::/0", "NicType": "intranet", "Description": ""}),
        json!({"SecurityGroupRuleId": "sgr-group", "Direction": "ingress", "Policy": "Accept",
               "Priority": "5", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "",
               "SourceGroupId": SOURCE_SG, "SourceGroupOwnerAccount": OWNER,
               "NicType": "intranet", "Description": "from the bastion group"}),
        json!({"SecurityGroupRuleId": "sgr-prefix", "Direction": "ingress", "Policy": "Accept",
               "Priority": "1", "IpProtocol": "TCP", "PortRange": "3389/3389",
               "SourcePrefixListId": "pl-office", "NicType": "intranet"}),
        json!({"SecurityGroupRuleId": "sgr-drop", "Direction": "ingress", "Policy": "Drop",
               "Priority": "100", "IpProtocol": "UDP", "PortRange": "1/65535",
               "SourceCidrIp": "0.0.0.0/0", "SourcePortRange": "53/53", "DestCidrIp": "10.0.0.0/8",
               "NicType": "intranet", "Description": "恢复 rule*~ a+b=c&d/é"}),
    ]
}

fn fixture() -> Fixture {
    let mut fixture = api::fixture(vec![
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": WEB_SG,
            "vpcId": "vpc-web", "serviceManaged": false, "rules": web_rules()}),
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": BIG_SG,
            "vpcId": "vpc-web", "rules": api::many_rules("b", 2500, "0.0.0.0/0")}),
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": CLASSIC_SG,
            "rules": [rule("sgr-cl-net", 22, "0.0.0.0/0", "internet"),
                      rule("sgr-cl-lan", 22, "0.0.0.0/0", "intranet")]}),
        json!({"accountId": OWNER, "regionId": REGION, "securityGroupId": SOURCE_SG,
            "vpcId": "vpc-web", "rules": []}),
        json!({"accountId": MEMBER, "regionId": REGION, "securityGroupId": MEMBER_SG,
            "rules": [rule("sgr-mem", 22, "0.0.0.0/0", "intranet")]}),
    ]);
    // BIG_SG holds far more rules than ECS's default quota of 200 per group, so that its
    // describe pages and its revoke and restore batches are many: room for all of them.
    fixture.settings.security_group_rule_quota = 3000;
    fixture
}

async fn world() -> World {
    let mut world = World::start(
        fixture(),
        // One attempt: a refusal must surface as it is, not be retried away.
        ClientSettings {
            max_attempts: 1,
            deadline_margin: Duration::from_millis(200),
            ..ClientSettings::default()
        },
    )
    .await;
    world.call_timeout = Duration::from_secs(60);
    world
}

/// What the contract tests do with the world, beyond the kit's.
trait Contractual {
    fn endpoint(&self, api: Api) -> Endpoint;
    async fn raw(&self, api: Api, pairs: &[(&str, &str)]) -> Result<Value, ApiError>;
    fn assert_nothing_refused(&self, expected_actions: &[&str]);
}

impl Contractual for World {
    fn endpoint(&self, api: Api) -> Endpoint {
        match api.service {
            "config" => self.config(),
            "ecs" => self.ecs(),
            _ => self.sts(),
        }
    }

    /// One signed call through the product's own client, with hand-picked parameters.
    async fn raw(&self, api: Api, pairs: &[(&str, &str)]) -> Result<Value, ApiError> {
        let params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string().into(), v.to_string()))
            .collect();
        let endpoint = self.endpoint(api);
        let req = RpcRequest {
            endpoint: &endpoint,
            action: api.action,
            version: api.version,
            params,
        };
        crate::common::call_whole(&self.client, &req, &self.cx()).await
    }

    /// Every call so far was answered 200: the contract (and the actions) accepted it.
    fn assert_nothing_refused(&self, expected_actions: &[&str]) {
        let journal = self.emu.journal();
        for entry in &journal {
            assert!(
                entry.http_status == 200 && entry.code.is_none(),
                "{} was refused with {:?} (HTTP {}): {:?}",
                entry.action,
                entry.code,
                entry.http_status,
                entry.params
            );
        }
        for action in expected_actions {
            assert!(
                journal.iter().any(|e| e.action == *action),
                "{action} was never called"
            );
        }
    }
}

// --- the contract file itself ---------------------------------------------------------------

#[test]
fn every_api_the_client_calls_is_in_the_contract_with_its_service_and_version() {
    let contract = Contract::get();
    let apis = [
        GET_DISCOVERED_RESOURCE,
        GET_AGGREGATE_DISCOVERED_RESOURCE,
        DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
        REVOKE_SECURITY_GROUP,
        AUTHORIZE_SECURITY_GROUP,
        ASSUME_ROLE,
        sg_remediator::services::actiontrail::LOOKUP_EVENTS,
    ];
    assert_eq!(apis.len(), API_ACTIONS.len(), "a call is missing here");
    for api in apis {
        let entry = contract
            .api(api.action)
            .unwrap_or_else(|| panic!("{} is not in the contract", api.action));
        assert_eq!(entry.service, api.service, "{}", api.action);
        assert_eq!(entry.version, api.version, "{}", api.action);
    }
    let listing = contract
        .api("DescribeSecurityGroups")
        .expect("the CLI's listing call");
    assert!(listing.param("RegionId").is_some_and(|p| p.required));
}

#[test]
fn the_contract_file_names_its_source_and_a_model_file_per_api() {
    let doc: Value =
        serde_json::from_str(acs_emulator::contract::CONTRACT_JSON).expect("contract is JSON");
    assert_eq!(doc["source"]["repository"], "aliyun/alibabacloud-go-sdk");
    assert_eq!(doc["source"]["commit"].as_str().map(str::len), Some(40));
    for api in doc["apis"].as_array().unwrap() {
        let model = api["model"].as_str().unwrap();
        let dir = match api["service"].as_str().unwrap() {
            "ecs" => "ecs-20140526/client/",
            "config" => "config-20200907/client/",
            "actiontrail" => "actiontrail-20200706/client/",
            _ => "sts-20150401/client/",
        };
        assert!(
            model.starts_with(dir) && model.ends_with("_request_model.go"),
            "{model}"
        );
    }
}

// --- answers: the official response models and example answers -----------------------------

#[test]
fn every_action_the_function_and_the_cli_call_has_its_response_model() {
    let contract = Contract::get();
    let actions = API_ACTIONS
        .iter()
        .map(|a| a.ram_action)
        .chain(CLI_ONLY_ACTIONS.iter().copied());
    for ram_action in actions {
        let (service, action) = ram_action.split_once(':').expect("service:Action");
        let response = contract
            .response(action)
            .unwrap_or_else(|| panic!("{action} has no response model"));
        let package = match service {
            "ecs" => "ecs-20140526/client/",
            "config" => "config-20200907/client/",
            "actiontrail" => "actiontrail-20200706/client/",
            _ => "sts-20150401/client/",
        };
        assert!(
            response.model.starts_with(package)
                && response.model.ends_with("_response_body_model.go"),
            "{action}: {}",
            response.model
        );
    }
}

/// An official example answer under tests/fixtures/official/: the action, where it was read,
/// and the answer.
struct OfficialExample {
    action: String,
    source: String,
    answer: Value,
}

fn official_examples() -> Vec<OfficialExample> {
    let contract = Contract::get();
    contract
        .responses
        .iter()
        .filter_map(|r| r.example.fixture.as_ref().map(|f| (r, f)))
        .map(|(r, fixture)| {
            let path = crate::repo_root().join(fixture);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
            assert_eq!(doc["action"], r.action.as_str(), "{fixture}");
            assert_eq!(doc["source"], r.example.source.as_str(), "{fixture}");
            OfficialExample {
                action: r.action.clone(),
                source: r.example.source.clone(),
                answer: doc["answer"].clone(),
            }
        })
        .collect()
}

#[test]
fn each_response_names_its_official_example_or_says_why_there_is_none() {
    let contract = Contract::get();
    for r in &contract.responses {
        let note = r.example.note.as_deref().unwrap_or("");
        match &r.example.fixture {
            Some(fixture) => {
                assert!(fixture.starts_with("tests/fixtures/official/"), "{fixture}");
                assert!(r.example.source.starts_with("https://"), "{}", r.action);
            }
            None => assert!(note.starts_with("none found"), "{}: {note}", r.action),
        }
    }
    let found = official_examples();
    assert!(!found.is_empty());
    // Every fixture in the folder is named by the contract.
    let named: std::collections::BTreeSet<String> = contract
        .responses
        .iter()
        .filter_map(|r| r.example.fixture.clone())
        .collect();
    for entry in std::fs::read_dir(crate::repo_root().join("tests/fixtures/official")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            assert!(
                named.contains(&format!("tests/fixtures/official/{name}")),
                "{name} is not named by contract.json"
            );
        }
    }
}

#[test]
fn every_official_example_answer_fits_its_sdk_model() {
    for example in official_examples() {
        assert_eq!(
            acs_emulator::contract::check_answer(&example.action, &example.answer),
            Ok(()),
            "{} ({})",
            example.action,
            example.source
        );
    }
}

#[test]
fn the_clients_readers_read_every_official_example_answer() {
    use acs_openapi::{response, Redactor};
    for example in official_examples() {
        let bytes = serde_json::to_vec(&example.answer).unwrap();
        let request_id = example.answer["RequestId"].as_str().map(str::to_string);
        match example.action.as_str() {
            "AssumeRole" => {
                let assumed = sts::parse_assumed_role(&bytes, None)
                    .unwrap_or_else(|e| panic!("{}: {e}", example.source));
                assert_eq!(
                    assumed.credentials.access_key_id,
                    "STS.L4aBSCSJVMuKg5U1****"
                );
                assert_eq!(
                    assumed.expiration,
                    humantime::parse_rfc3339("2015-04-09T11:52:19Z").unwrap()
                );
                assert_eq!(assumed.request_id, request_id);
                assert_eq!(
                    assumed
                        .credentials
                        .security_token
                        .as_ref()
                        .map(|t| t.expose().to_string()),
                    Some("********".to_string())
                );
            }
            "RevokeSecurityGroup" | "AuthorizeSecurityGroup" => {
                let read = response::parse_response(200, &bytes, None, &Redactor::default())
                    .unwrap_or_else(|e| panic!("{}: {e}", example.source));
                assert_eq!(read, request_id);
            }
            other => panic!(
                "{other}: an official example with no reader wired here ({})",
                example.source
            ),
        }
    }
}

// --- every request the client builds passes -------------------------------------------------

#[tokio::test]
async fn config_reads_pass_the_contract() {
    let w = world().await;
    let endpoint = w.config();
    get_discovered_resource(&w.client, &w.cx(), &endpoint, &group_query(WEB_SG))
        .await
        .unwrap();
    w.assert_nothing_refused(&["GetDiscoveredResource"]);
}

#[tokio::test]
async fn aggregator_reads_pass_the_contract_with_a_numeric_resource_account_id() {
    let w = world().await;
    let q = ResourceQuery {
        aggregator: Some(AggregatorScope {
            aggregator_id: "ca-agg".into(),
            account_id: MEMBER.into(),
        }),
        ..group_query(MEMBER_SG)
    };
    get_discovered_resource(&w.client, &w.cx(), &w.config(), &q)
        .await
        .unwrap();
    w.assert_nothing_refused(&["GetAggregateDiscoveredResource"]);
}

#[tokio::test]
async fn paginated_describes_pass_the_contract_on_every_page() {
    let w = world().await;
    let rules = describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, BIG_SG)
        .await
        .unwrap();
    assert_eq!(rules.permissions.len(), 2500);
    assert_eq!(rules.pages, 2500u32.div_ceil(PAGE_SIZE));
    let pages: Vec<_> = w
        .emu
        .journal()
        .into_iter()
        .filter(|e| e.action == "DescribeSecurityGroupAttribute")
        .collect();
    assert!(pages[1..]
        .iter()
        .all(|e| e.params.contains_key("NextToken")));
    w.assert_nothing_refused(&["DescribeSecurityGroupAttribute"]);
}

#[tokio::test]
async fn classic_group_describes_pass_the_contract_for_both_nic_types() {
    let w = world().await;
    describe_security_group_attribute(&w.client, &w.cx(), &w.ecs(), REGION, CLASSIC_SG)
        .await
        .unwrap();
    // The client does not expose NicType yet: send the intranet read as the model spells it.
    for nic in ["intranet", "internet"] {
        w.raw(
            DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
            &[
                ("RegionId", REGION),
                ("SecurityGroupId", CLASSIC_SG),
                ("Direction", "ingress"),
                ("NicType", nic),
                ("MaxResults", "1000"),
            ],
        )
        .await
        .unwrap();
    }
    w.assert_nothing_refused(&["DescribeSecurityGroupAttribute"]);
}

#[tokio::test]
async fn revoke_batches_pass_the_contract() {
    let w = world().await;
    let ids: Vec<RuleId> = api::many_rule_ids("b", 250)
        .into_iter()
        .map(|id| RuleId(id.into()))
        .collect();
    let chunks = revoke_security_group(
        &w.client,
        &w.cx(),
        &w.ecs(),
        REGION,
        BIG_SG,
        "contract-invocation",
        &ids,
    )
    .await;
    assert_eq!(chunks.len(), 3);
    assert!(chunks.iter().all(|c| c.result.is_ok()), "{chunks:?}");
    assert_eq!(w.live_ids(BIG_SG).len(), 2250);
    w.assert_nothing_refused(&["RevokeSecurityGroup"]);
}

#[tokio::test]
async fn restore_batches_of_every_rule_shape_pass_the_contract() {
    let w = world().await;
    let ecs = w.ecs();
    // Back up as the function does (from the live read), revoke, then restore.
    let backup: Vec<Permission> =
        describe_security_group_attribute(&w.client, &w.cx(), &ecs, REGION, WEB_SG)
            .await
            .unwrap()
            .permissions;
    let ids: Vec<RuleId> = backup.iter().filter_map(|p| p.rule_id.clone()).collect();
    assert_eq!(ids.len(), web_rules().len());
    let revoked = revoke_security_group(
        &w.client,
        &w.cx(),
        &ecs,
        REGION,
        WEB_SG,
        "contract-invocation",
        &ids,
    )
    .await;
    assert!(revoked.iter().all(|c| c.result.is_ok()), "{revoked:?}");
    let restored = authorize_security_group(
        &w.client,
        &w.cx(),
        &ecs,
        REGION,
        WEB_SG,
        "contract-invocation",
        &backup,
    )
    .await;
    assert!(restored.iter().all(|c| c.result.is_ok()), "{restored:?}");
    assert_eq!(w.live_ids(WEB_SG).len(), web_rules().len());

    // More than one chunk: 250 rules in three requests.
    let big: Vec<Permission> =
        describe_security_group_attribute(&w.client, &w.cx(), &ecs, REGION, BIG_SG)
            .await
            .unwrap()
            .permissions
            .into_iter()
            .take(250)
            .collect();
    let big_ids: Vec<RuleId> = big.iter().filter_map(|p| p.rule_id.clone()).collect();
    revoke_security_group(
        &w.client,
        &w.cx(),
        &ecs,
        REGION,
        BIG_SG,
        "contract-invocation",
        &big_ids,
    )
    .await;
    let restored = authorize_security_group(
        &w.client,
        &w.cx(),
        &ecs,
        REGION,
        BIG_SG,
        "contract-invocation",
        &big,
    )
    .await;
    assert_eq!(restored.len(), 3);
    assert!(restored.iter().all(|c| c.result.is_ok()), "{restored:?}");
    w.assert_nothing_refused(&[
        "DescribeSecurityGroupAttribute",
        "RevokeSecurityGroup",
        "AuthorizeSecurityGroup",
    ]);
}

#[tokio::test]
async fn a_restore_naming_the_source_group_owner_by_id_passes_the_contract() {
    let w = world().await;
    w.raw(
        AUTHORIZE_SECURITY_GROUP,
        &[
            ("RegionId", REGION),
            ("SecurityGroupId", WEB_SG),
            ("ClientToken", "restore-owner-id-1"),
            ("Permissions.1.IpProtocol", "TCP"),
            ("Permissions.1.PortRange", "8080/8080"),
            ("Permissions.1.SourceGroupId", SOURCE_SG),
            ("Permissions.1.SourceGroupOwnerId", OWNER),
            ("Permissions.1.Policy", "accept"),
            ("Permissions.1.Priority", "1"),
            ("Permissions.1.NicType", "intranet"),
        ],
    )
    .await
    .unwrap();
    w.assert_nothing_refused(&["AuthorizeSecurityGroup"]);
}

#[tokio::test]
async fn assume_role_passes_the_contract() {
    let w = world().await;
    sts::assume_role(
        &w.client,
        &w.cx(),
        &w.sts(),
        ROLE_ARN,
        &sts::session_name("sg-remediator"),
        3600,
    )
    .await
    .unwrap();
    w.assert_nothing_refused(&["AssumeRole"]);
}

// --- refusals, for every API ----------------------------------------------------------------

/// A valid request of each API the emulator serves, with the value to put out of range and the
/// code the contract answers for it.
struct Case {
    api: Api,
    valid: Vec<(&'static str, &'static str)>,
    out_of_range: (&'static str, &'static str),
    out_of_range_code: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            api: GET_DISCOVERED_RESOURCE,
            valid: vec![
                ("ResourceId", WEB_SG),
                ("ResourceType", "ACS::ECS::SecurityGroup"),
                ("Region", REGION),
                ("ComplianceOption", "1"),
            ],
            out_of_range: ("ComplianceOption", "2"),
            out_of_range_code: "InvalidParameter.ComplianceOption",
        },
        Case {
            api: GET_AGGREGATE_DISCOVERED_RESOURCE,
            valid: vec![
                ("AggregatorId", "ca-agg"),
                ("ResourceAccountId", MEMBER),
                ("ResourceId", MEMBER_SG),
                ("ResourceType", "ACS::ECS::SecurityGroup"),
                ("Region", REGION),
            ],
            out_of_range: ("ResourceAccountId", "member-account"),
            out_of_range_code: "InvalidParameter.ResourceAccountId",
        },
        Case {
            api: DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
            valid: vec![
                ("RegionId", REGION),
                ("SecurityGroupId", WEB_SG),
                ("Direction", "ingress"),
                ("MaxResults", "1000"),
            ],
            out_of_range: ("MaxResults", "1001"),
            out_of_range_code: "InvalidParameter.MaxResults",
        },
        Case {
            api: REVOKE_SECURITY_GROUP,
            valid: vec![
                ("RegionId", REGION),
                ("SecurityGroupId", WEB_SG),
                ("ClientToken", "rm-contract"),
                ("SecurityGroupRuleId.1", "sgr-ssh"),
            ],
            out_of_range: (
                "ClientToken",
                "x-0123456789012345678901234567890123456789012345678901234567890123",
            ),
            out_of_range_code: "InvalidParameter.ClientToken",
        },
        Case {
            api: AUTHORIZE_SECURITY_GROUP,
            valid: vec![
                ("RegionId", REGION),
                ("SecurityGroupId", WEB_SG),
                ("ClientToken", "rs-contract"),
                ("Permissions.1.IpProtocol", "TCP"),
                ("Permissions.1.PortRange", "8443/8443"),
                ("Permissions.1.SourceCidrIp", "10.0.0.0/8"),
                ("Permissions.1.Priority", "1"),
            ],
            out_of_range: ("Permissions.1.Priority", "101"),
            out_of_range_code: "InvalidPriority.ValueNotSupported",
        },
        Case {
            api: ASSUME_ROLE,
            valid: vec![
                ("RoleArn", ROLE_ARN),
                ("RoleSessionName", "sg-remediator"),
                ("DurationSeconds", "900"),
            ],
            out_of_range: ("DurationSeconds", "899"),
            out_of_range_code: "InvalidParameter.DurationSeconds",
        },
    ]
}

fn with(
    base: &[(&'static str, &'static str)],
    pair: (&'static str, &'static str),
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<_> = base.iter().filter(|(k, _)| *k != pair.0).copied().collect();
    out.push(pair);
    out
}

fn code_of(result: Result<Value, ApiError>) -> String {
    match result {
        Ok(body) => panic!("accepted: {body}"),
        Err(e) => e.code().unwrap_or("<no code>").to_string(),
    }
}

#[tokio::test]
async fn each_api_accepts_its_valid_request() {
    for case in cases() {
        let w = world().await;
        w.raw(case.api, &case.valid)
            .await
            .unwrap_or_else(|e| panic!("{} refused its valid request: {e:?}", case.api.action));
    }
}

#[tokio::test]
async fn each_api_refuses_an_unknown_parameter() {
    for case in cases() {
        let w = world().await;
        // A name from another API's model and a misspelling of this one's.
        for unknown in ["RegionIds", "ResourceOwnerAccountX"] {
            let err = w
                .raw(case.api, &with(&case.valid, (unknown, "x")))
                .await
                .unwrap_err();
            assert_eq!(
                err.code(),
                Some("InvalidParameter"),
                "{}: {err:?}",
                case.api.action
            );
            assert!(err.to_string().contains(unknown), "{err}");
        }
    }
}

#[tokio::test]
async fn each_api_refuses_each_missing_required_parameter_naming_it() {
    let contract = Contract::get();
    for case in cases() {
        let w = world().await;
        let model = contract.api(case.api.action).unwrap();
        let required: Vec<&str> = model
            .parameters
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.as_str())
            .collect();
        assert!(
            !required.is_empty(),
            "{} has no required parameter",
            case.api.action
        );
        for name in required {
            let without: Vec<_> = case
                .valid
                .iter()
                .filter(|(k, _)| *k != name)
                .copied()
                .collect();
            let err = w.raw(case.api, &without).await.unwrap_err();
            assert_eq!(err.code(), Some("MissingParameter"), "{name}: {err:?}");
            assert!(err.to_string().contains(&format!("\"{name}\"")), "{err}");
        }
    }
}

#[tokio::test]
async fn each_api_refuses_a_value_out_of_range_with_its_code() {
    for case in cases() {
        let w = world().await;
        let code = code_of(w.raw(case.api, &with(&case.valid, case.out_of_range)).await);
        assert_eq!(code, case.out_of_range_code, "{}", case.api.action);
    }
}

#[tokio::test]
async fn values_of_the_wrong_type_are_refused() {
    let w = world().await;
    let describe = &cases()[2].valid;
    assert_eq!(
        code_of(
            w.raw(
                DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
                &with(describe, ("MaxResults", "ten"))
            )
            .await
        ),
        "InvalidParameter.MaxResults"
    );
    assert_eq!(
        code_of(
            w.raw(
                DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
                &with(describe, ("NicType", "public"))
            )
            .await
        ),
        "InvalidNicType.ValueNotSupported"
    );
    assert_eq!(
        code_of(
            w.raw(
                DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
                &with(describe, ("Direction", "inbound"))
            )
            .await
        ),
        "InvalidParameter.Direction"
    );
    assert_eq!(
        code_of(
            w.raw(
                DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
                &with(describe, ("SecurityGroupId", "i-web"))
            )
            .await
        ),
        "InvalidSecurityGroupId.Malformed"
    );
    let authorize = &cases()[4].valid;
    let owner_name = ("Permissions.1.SourceGroupOwnerId", "owner@example.com");
    assert_eq!(
        code_of(
            w.raw(AUTHORIZE_SECURITY_GROUP, &with(authorize, owner_name))
                .await
        ),
        "InvalidParameter.Permissions"
    );
    assert_eq!(
        code_of(
            w.raw(
                AUTHORIZE_SECURITY_GROUP,
                &with(authorize, ("Permissions.1.Priority", "high"))
            )
            .await
        ),
        "InvalidPriority.Malformed"
    );
    assert_eq!(
        code_of(
            w.raw(
                AUTHORIZE_SECURITY_GROUP,
                &with(authorize, ("Permissions.1.Colour", "red"))
            )
            .await
        ),
        "InvalidParameter.Permissions"
    );
}

#[tokio::test]
async fn a_refused_revoke_changes_nothing() {
    let w = world().await;
    let before = w.live_ids(WEB_SG);
    let revoke = &cases()[3].valid;
    let err = w
        .raw(
            REVOKE_SECURITY_GROUP,
            &with(revoke, ("SecurityGroupRuleIds.1", "sgr-rdp")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameter"));
    assert_eq!(w.live_ids(WEB_SG), before);
    assert!(w.emu.journal().iter().all(|e| !e.mutated));
}

// --- the function end to end ----------------------------------------------------------------

/// Whether `code` is one the request contract answers with (as opposed to an action's answer
/// about state, such as a group that is not found).
fn is_contract_code(code: &str) -> bool {
    let contract = Contract::get();
    let own = contract
        .apis
        .iter()
        .flat_map(|a| {
            a.parameters
                .iter()
                .chain(a.parameters.iter().flat_map(|p| &p.fields))
        })
        .flat_map(|p| [&p.errors.invalid, &p.errors.malformed])
        .any(|c| c.as_deref() == Some(code));
    // An answer outside its response model is refused by the emulator itself (HTTP 500).
    own || code == acs_emulator::contract::ANSWER_OUTSIDE_MODEL
        || code == "MissingParameter"
        || code == "InvalidParameter"
        || code.starts_with("InvalidParameter.")
}

fn assert_no_contract_refusal(journal: &[JournalEntry]) {
    for e in journal {
        if let Some(code) = &e.code {
            assert!(
                !is_contract_code(code),
                "{} refused with {code}: {:?}",
                e.action,
                e.params
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_end_to_end_sends_only_what_the_contract_allows() {
    use sg_test_kit::world as rh;
    use sg_test_kit::{bootstrap, Function};
    let emulator = rh::groups().await;
    let function = Function::start(bootstrap!(), &emulator, rh::RESTORE_ENV);
    // Every rule shape of the fixture, plus groups Config or ECS do not know.
    let groups = [
        "sg-ssh-world",
        "sg-rdp-world",
        "sg-udp-risky",
        "sg-range-20-30",
        "sg-range-all-ports",
        "sg-all-protocols",
        "sg-icmp",
        "sg-web",
        "sg-private",
        "sg-source-group",
        "sg-drop",
        "sg-ipv6",
        "sg-shadowed",
        "sg-prefix-list",
        "sg-restore",
        "sg-deleted",
        "sg-unrecorded",
    ];
    let answer = function.invoke(&rh::event(&groups)).await;
    assert_eq!(answer.results().len(), groups.len(), "{:#}", answer.body);
    for sg in ["sg-restore", "sg-source-group", "sg-ipv6"] {
        let rules = answer.result(sg)["revokedRules"].clone();
        if rules.as_array().is_none_or(Vec::is_empty) {
            continue;
        }
        let restore = json!({"action": "restore", "regionId": rh::REGION, "resourceId": sg,
                             "rules": rules});
        let restored = function.invoke(&restore).await;
        assert!(restored.is_success(), "{sg}: {:#}", restored.body);
    }
    let journal = emulator.journal();
    for action in [
        "GetDiscoveredResource",
        "DescribeSecurityGroupAttribute",
        "RevokeSecurityGroup",
        "AuthorizeSecurityGroup",
    ] {
        assert!(
            journal.iter().any(|e| e.action == action),
            "{action} never called"
        );
    }
    assert_no_contract_refusal(&journal);

    // Through an aggregator, into a member account.
    let emulator = rh::groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[
            ("CONFIG_AGGREGATOR_ID", rh::AGGREGATOR_ID),
            ("CROSS_ACCOUNT_ROLE_NAME", rh::ROLE_NAME),
        ],
    );
    let member = json!([rh::resource_in(
        rh::MEMBER_ACCOUNT,
        rh::REGION,
        "sg-member-ssh"
    )]);
    let answer = function.invoke(&member).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    let journal = emulator.journal();
    for action in [
        "GetAggregateDiscoveredResource",
        "AssumeRole",
        "RevokeSecurityGroup",
    ] {
        assert!(
            journal.iter().any(|e| e.action == action),
            "{action} never called"
        );
    }
    assert_no_contract_refusal(&journal);
}

//! A whole organisation through a Config aggregator, end to end: the real `bootstrap` against
//! the emulator with tests/fixtures/remediation/organization.json — a management account (the
//! function's), members A and B whose role `sg-remediation` trusts only the function's role
//! (as terraform/modules/member-role creates it), and member C without the role.
//!
//! The emulator's journal records the key of every call and `key_identity` tells which account
//! and role a key acts as, so the tests prove that each member's groups were read and changed
//! with that member's own credentials.

use acs_emulator::{Emulator, JournalEntry, Service};
use serde_json::{json, Value};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Caller, Function};

const MANAGEMENT: &str = "1234567890123456";
const MEMBER_A: &str = "2222333344445555";
const MEMBER_B: &str = "3333444455556666";
/// Has no `sg-remediation` role.
const MEMBER_C: &str = "4444555566667777";
const ORG_AGGREGATOR: &str = "ca-0rg4e5626622af0079dd";
const FUNCTION_ROLE_ARN: &str = "acs:ram::1234567890123456:role/sg-remediator-fc";

fn member_role(account: &str) -> String {
    format!("acs:ram::{account}:role/{ROLE_NAME}")
}

/// The function in aggregator mode, as the Terraform module configures it.
fn aggregator_function(emulator: &Emulator) -> Function {
    Function::start(
        bootstrap!(),
        emulator,
        &[
            ("CONFIG_AGGREGATOR_ID", ORG_AGGREGATOR),
            ("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME),
        ],
    )
}

/// What the aggregate remediation sends: resources of several accounts in one event.
fn org_event(groups: &[(&str, &str)]) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|(account, sg)| resource_in(account, REGION, sg))
            .collect(),
    )
}

/// The ECS calls on `sg`.
fn ecs_calls_on(emulator: &Emulator, sg: &str) -> Vec<JournalEntry> {
    emulator
        .journal()
        .into_iter()
        .filter(|e| e.service == Service::Ecs)
        .filter(|e| e.params.get("SecurityGroupId").map(String::as_str) == Some(sg))
        .collect()
}

/// Asserts every ECS call on `sg` was signed by a key acting as `account` through `role`
/// (`None`: the function's own credentials).
fn assert_signed_as(emulator: &Emulator, sg: &str, account: &str, role: Option<&str>) {
    let calls = ecs_calls_on(emulator, sg);
    assert!(
        calls.iter().any(|c| c.action == "RevokeSecurityGroup"),
        "{sg} was revoked"
    );
    for call in calls {
        let who = emulator
            .key_identity(&call.access_key_id)
            .unwrap_or_else(|| panic!("{} signed with an unknown key", call.action));
        assert_eq!(who.account_id, account, "{} on {sg}", call.action);
        assert_eq!(who.role_arn.as_deref(), role, "{} on {sg}", call.action);
        assert_eq!(call.http_status, 200, "{} on {sg}", call.action);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregator_event_is_remediated_in_each_member_with_that_members_credentials() {
    let emulator = emulator(&fixture("organization")).await;
    let function = aggregator_function(&emulator);
    let answer = function
        .invoke(&org_event(&[
            (MANAGEMENT, "sg-org-management"),
            (MEMBER_A, "sg-org-member-a"),
            (MEMBER_B, "sg-org-member-b"),
        ]))
        .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    for (sg, revoked, kept) in [
        (
            "sg-org-management",
            "sgr-org-mgmt-ssh",
            "sgr-org-mgmt-https",
        ),
        ("sg-org-member-a", "sgr-org-a-ssh", "sgr-org-a-https"),
        ("sg-org-member-b", "sgr-org-b-rdp", "sgr-org-b-ssh-office"),
    ] {
        assert_eq!(answer.status_of(sg), "remediated", "{:#}", answer.body);
        assert_eq!(answer.ids(sg, "revokedRuleIds"), [revoked]);
        assert_eq!(live_ids(&emulator, sg), [kept]);
    }

    // One AssumeRole per member, signed by the function's own role; none for the management
    // account's group.
    let assumed: Vec<(String, String)> = calls(&emulator, "AssumeRole")
        .iter()
        .map(|c| (c.params["RoleArn"].clone(), c.access_key_id.clone()))
        .collect();
    assert_eq!(assumed.len(), 2, "{assumed:?}");
    for account in [MEMBER_A, MEMBER_B] {
        assert!(
            assumed.contains(&(member_role(account), FC_KEY_ID.to_string())),
            "{assumed:?}"
        );
    }
    assert_eq!(
        emulator
            .key_identity(FC_KEY_ID)
            .unwrap()
            .role_arn
            .as_deref(),
        Some(FUNCTION_ROLE_ARN)
    );

    // Config is read through the aggregator, by the function's role, for each owner account.
    assert!(calls(&emulator, "GetDiscoveredResource").is_empty());
    let reads = calls(&emulator, "GetAggregateDiscoveredResource");
    assert_eq!(reads.len(), 3);
    for read in &reads {
        assert_eq!(read.access_key_id, FC_KEY_ID);
        assert_eq!(read.params["AggregatorId"], ORG_AGGREGATOR);
        let owner = match read.params["ResourceId"].as_str() {
            "sg-org-management" => MANAGEMENT,
            "sg-org-member-a" => MEMBER_A,
            "sg-org-member-b" => MEMBER_B,
            other => panic!("unexpected read of {other}"),
        };
        assert_eq!(read.params["ResourceAccountId"], owner);
    }

    // Each group was described and revoked with its own account's credentials.
    assert_signed_as(
        &emulator,
        "sg-org-management",
        MANAGEMENT,
        Some(FUNCTION_ROLE_ARN),
    );
    let role_a = member_role(MEMBER_A);
    let role_b = member_role(MEMBER_B);
    assert_signed_as(&emulator, "sg-org-member-a", MEMBER_A, Some(&role_a));
    assert_signed_as(&emulator, "sg-org-member-b", MEMBER_B, Some(&role_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_the_role_fails_its_group_naming_the_role_and_the_fix_while_the_others_succeed(
) {
    let emulator = emulator(&fixture("organization")).await;
    let function = aggregator_function(&emulator);
    let answer = function
        .invoke(&org_event(&[
            (MANAGEMENT, "sg-org-management"),
            (MEMBER_A, "sg-org-member-a"),
            (MEMBER_C, "sg-org-member-c"),
        ]))
        .await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-org-management"), "remediated");
    assert_eq!(answer.status_of("sg-org-member-a"), "remediated");
    assert_eq!(answer.status_of("sg-org-member-c"), "failed");
    let reason = answer.reason_of("sg-org-member-c");
    for part in [
        member_role(MEMBER_C).as_str(),
        "EntityNotExist.Role",
        "create the role in account 4444555566667777 with terraform/modules/member-role",
    ] {
        assert!(reason.contains(part), "{part:?} not in {reason:?}");
    }
    assert_eq!(live_ids(&emulator, "sg-org-member-c"), ["sgr-org-c-ssh"]);
    assert!(ecs_calls_on(&emulator, "sg-org-member-c").is_empty());
    let refused = calls(&emulator, "AssumeRole")
        .into_iter()
        .find(|c| c.params["RoleArn"] == member_role(MEMBER_C))
        .expect("AssumeRole into C was tried");
    assert_eq!(refused.code.as_deref(), Some("EntityNotExist.Role"));
    assert_eq!(
        answer.ids("sg-org-member-c", "apiRequestIds"),
        [refused.request_id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_role_trusting_another_principal_fails_with_no_permission_and_the_fix() {
    let mut world = fixture("organization");
    // Member A's role trusts some other role of the management account, not the function's.
    world["roles"][0]["trustedRoleArns"] = json!(["acs:ram::1234567890123456:role/ops-admin"]);
    let emulator = emulator(&world).await;
    let function = aggregator_function(&emulator);
    let answer = function
        .invoke(&org_event(&[
            (MEMBER_A, "sg-org-member-a"),
            (MEMBER_B, "sg-org-member-b"),
        ]))
        .await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-org-member-b"), "remediated");
    assert_eq!(answer.status_of("sg-org-member-a"), "failed");
    let reason = answer.reason_of("sg-org-member-a");
    for part in [
        member_role(MEMBER_A).as_str(),
        "NoPermission",
        "must trust this function's RAM role",
    ] {
        assert!(reason.contains(part), "{part:?} not in {reason:?}");
    }
    assert_eq!(
        live_ids(&emulator, "sg-org-member-a"),
        ["sgr-org-a-ssh", "sgr-org-a-https"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_demo_scenario_shows_a_member_group_remediated_through_assume_role() {
    // tests/fixtures/demo-org.json, as `make demo ORG=1` runs it (examples/demo.rs --org).
    let world = read_fixture("demo-org.json").unwrap();
    let emulator = emulator(&world).await;
    let mut function = Function::start(
        bootstrap!(),
        &emulator,
        &[
            (
                "CONFIG_AGGREGATOR_ID",
                world["aggregators"][0]["aggregatorId"].as_str().unwrap(),
            ),
            ("CROSS_ACCOUNT_ROLE_NAME", ROLE_NAME),
        ],
    );
    let resources: Vec<Value> = world["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            resource_in(
                g["accountId"].as_str().unwrap(),
                REGION,
                g["securityGroupId"].as_str().unwrap(),
            )
        })
        .collect();
    function.set_caller(Caller::new(
        key_of(&world, FUNCTION_ACCOUNT, 0).expect("the demo's function role"),
    ));
    let answer = function.invoke(&Value::Array(resources)).await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-bp1mg7k2r9x4c6v8b0n1"), "remediated");
    assert_eq!(answer.status_of("sg-bp1ma3q5w7e9r1t3y5u7"), "remediated");
    assert_eq!(answer.status_of("sg-bp1mc9z1x3c5v7b9n1m3"), "failed");
    assert_eq!(
        answer.ids("sg-bp1ma3q5w7e9r1t3y5u7", "revokedRuleIds"),
        ["sgr-bp1ma3rdp0world00001"]
    );
    let role_a = member_role(MEMBER_A);
    assert_signed_as(
        &emulator,
        "sg-bp1ma3q5w7e9r1t3y5u7",
        MEMBER_A,
        Some(&role_a),
    );
}

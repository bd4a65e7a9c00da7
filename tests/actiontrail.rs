//! Who opened a revoked rule (`LOOKUP_OPENER=true`): the real `bootstrap` against the emulator's
//! ActionTrail `LookupEvents`, whose events come from the fixture. Each test checks the report's
//! `openedBy` and the ActionTrail calls the emulator saw.

use std::time::{Duration, SystemTime};

use acs_emulator::{Emulator, Fault, FaultKind, Fixture};
use acs_openapi::{ClientSettings, Params};
use serde_json::{json, Value};
use sg_remediator::services::actiontrail;
use sg_test_kit::world::api::{self, World};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Answer, Function};

const SG: &str = "sg-ssh-world";
const RULE: &str = "sgr-ssh-world";
const ACCOUNT: &str = "1234567890123456";
const OPENER_ON: &[(&str, &str)] = &[("LOOKUP_OPENER", "true")];

/// `days` days ago, as ActionTrail writes `eventTime`.
fn days_ago(days: u64, seconds: u64) -> String {
    let t = SystemTime::now() - Duration::from_secs(days * 24 * 3600 + seconds);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// An event of the function's account naming `SG`, authorizing `port` from `cidr`.
fn authorize(id: &str, user: &str, time: String, port: u16, cidr: &str) -> Value {
    json!({"accountId": ACCOUNT, "event": {
        "eventId": id, "eventName": "AuthorizeSecurityGroup", "eventTime": time,
        "acsRegion": "cn-hangzhou", "sourceIpAddress": "203.0.113.7", "resourceName": SG,
        "userIdentity": {"type": "ram-user", "principalId": "2870000000000001",
                         "accountId": ACCOUNT, "userName": user, "accessKeyId": "LTAI****"},
        "requestParameters": {"RegionId": "cn-hangzhou", "SecurityGroupId": SG,
                              "IpProtocol": "tcp", "PortRange": format!("{port}/{port}"),
                              "SourceCidrIp": cidr}
    }})
}

/// `n` newer events about other ports (each a minute apart, newest first after `from`).
fn noise(n: usize, from_days: u64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            authorize(
                &format!("noise-{i}"),
                "carol",
                days_ago(from_days, i as u64 * 60),
                8000 + i as u16,
                "10.0.0.0/8",
            )
        })
        .collect()
}

async fn world_with(events: Vec<Value>) -> Emulator {
    let mut doc = fixture("groups");
    doc["events"] = Value::Array(events);
    emulator(&doc).await
}

async fn remediate(emulator: &Emulator, env: &[(&str, &str)]) -> Answer {
    let function = Function::start(bootstrap!(), emulator, env);
    function.invoke(&event(&[SG])).await
}

fn opened_by(answer: &Answer) -> &Value {
    &answer.result(SG)["openedBy"][RULE]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_names_who_last_opened_the_revoked_rule() {
    let emulator = world_with(vec![
        authorize("ev-old", "bob", days_ago(30, 0), 22, "0.0.0.0/0"),
        authorize("ev-new", "alice", days_ago(2, 0), 22, "0.0.0.0/0"),
        authorize("ev-https", "carol", days_ago(1, 0), 443, "0.0.0.0/0"),
    ])
    .await;
    let answer = remediate(&emulator, OPENER_ON).await;
    assert_eq!(answer.status_of(SG), "remediated", "{:#}", answer.body);
    let who = opened_by(&answer);
    assert_eq!(who["principalName"], "alice", "{:#}", answer.body);
    assert_eq!(who["principalType"], "ram-user");
    assert_eq!(who["sourceIp"], "203.0.113.7");
    assert_eq!(who["eventId"], "ev-new");
    let lookups = calls(&emulator, "LookupEvents");
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].params["LookupAttribute.1.Key"], "ResourceName");
    assert_eq!(lookups[0].params["LookupAttribute.1.Value"], SG);
    // The seal-able rule record stays as it was: openedBy lives beside it.
    assert!(answer.result(SG)["revokedRules"][0]
        .get("openedBy")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_matching_event_opened_by_says_not_found() {
    let emulator = world_with(vec![authorize(
        "ev-narrow",
        "alice",
        days_ago(2, 0),
        22,
        "192.0.2.0/24",
    )])
    .await;
    let answer = remediate(&emulator, OPENER_ON).await;
    assert_eq!(answer.status_of(SG), "remediated", "{:#}", answer.body);
    assert_eq!(opened_by(&answer), &json!({"found": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_lookup_is_a_note_and_changes_nothing_else() {
    let emulator = world_with(vec![authorize(
        "ev-new",
        "alice",
        days_ago(2, 0),
        22,
        "0.0.0.0/0",
    )])
    .await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "NoPermission".into(),
            message: "You are not authorized to do this action.".into(),
        })
        .on_action("LookupEvents"),
    );
    let answer = remediate(&emulator, OPENER_ON).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of(SG), "remediated");
    assert_eq!(answer.ids(SG, "revokedRuleIds"), [RULE]);
    assert!(
        answer.reason_of(SG).contains("LookupEvents"),
        "{:#}",
        answer.body
    );
    assert!(answer.reason_of(SG).contains("NoPermission"));
    assert_eq!(
        opened_by(&answer),
        &json!({"lookedUp": false, "reason": "error"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_on_the_second_page_is_found_with_the_first_pages_token() {
    let mut events = noise(50, 1);
    events.push(authorize(
        "ev-page2",
        "alice",
        days_ago(20, 0),
        22,
        "0.0.0.0/0",
    ));
    let emulator = world_with(events).await;
    let answer = remediate(&emulator, OPENER_ON).await;
    assert_eq!(
        opened_by(&answer)["eventId"],
        "ev-page2",
        "{:#}",
        answer.body
    );
    let lookups = calls(&emulator, "LookupEvents");
    assert_eq!(lookups.len(), 2);
    assert_eq!(lookups[0].params["MaxResults"], "50");
    assert!(!lookups[0].params.contains_key("NextToken"));
    assert!(lookups[1].params.contains_key("NextToken"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_groups_two_pages_the_rule_is_not_looked_up() {
    let mut events = noise(100, 1);
    events.push(authorize(
        "ev-page3",
        "alice",
        days_ago(40, 0),
        22,
        "0.0.0.0/0",
    ));
    let emulator = world_with(events).await;
    let answer = remediate(&emulator, OPENER_ON).await;
    assert_eq!(answer.status_of(SG), "remediated", "{:#}", answer.body);
    assert_eq!(
        opened_by(&answer),
        &json!({"lookedUp": false, "reason": "budget"})
    );
    assert_eq!(calls(&emulator, "LookupEvents").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_lookup_opener_actiontrail_is_never_called() {
    let emulator = world_with(vec![authorize(
        "ev-new",
        "alice",
        days_ago(2, 0),
        22,
        "0.0.0.0/0",
    )])
    .await;
    let answer = remediate(&emulator, &[]).await;
    assert_eq!(answer.status_of(SG), "remediated", "{:#}", answer.body);
    assert!(answer.result(SG).get("openedBy").is_none());
    assert!(calls(&emulator, "LookupEvents").is_empty());
}

// --- the emulator's LookupEvents, as the SDK model defines the request ----------------------

/// The API-level world with three events of the owner's trail about `sg-x`, a minute apart.
async fn api_world() -> World {
    let events: Vec<Value> = (0..3)
        .map(|i| {
            json!({"accountId": api::OWNER, "event": {
                "eventId": format!("e{i}"), "eventName": "AuthorizeSecurityGroup",
                "eventTime": days_ago(1, i * 60), "resourceName": "sg-x"}})
        })
        .collect();
    let doc = json!({
        "accounts": [{"accountId": api::OWNER, "credentials": [
            {"accessKeyId": api::KEY, "accessKeySecret": api::SECRET,
             "securityToken": api::TOKEN}]}],
        "events": events,
    });
    let fixture = Fixture::from_json_str(&doc.to_string()).expect("fixture is valid");
    World::start(fixture, ClientSettings::default()).await
}

fn endpoint(world: &World) -> acs_openapi::Endpoint {
    acs_openapi::Endpoint::parse(&world.emu.actiontrail_endpoint()).unwrap()
}

#[tokio::test]
async fn the_emulator_pages_newest_first_and_refuses_more_than_fifty_a_page() {
    let world = api_world().await;
    let end = SystemTime::now();
    let start = end - actiontrail::LOOKBACK;
    let page =
        |token: Option<String>| actiontrail::lookup_params("sg-x", start, end, 2, token.as_deref());
    let first =
        actiontrail::lookup_events(&world.client, &world.cx(), &endpoint(&world), page(None))
            .await
            .unwrap();
    let ids: Vec<_> = first
        .events
        .iter()
        .map(|e| e.event_id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["e0", "e1"]);
    let second = actiontrail::lookup_events(
        &world.client,
        &world.cx(),
        &endpoint(&world),
        page(first.next_token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(second.events[0].event_id.as_deref(), Some("e2"));
    assert_eq!(second.next_token, None);

    let mut too_many: Params = page(None);
    too_many.insert("MaxResults".into(), "51".into());
    let refused =
        actiontrail::lookup_events(&world.client, &world.cx(), &endpoint(&world), too_many)
            .await
            .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
}

#[tokio::test]
async fn the_emulator_refuses_a_token_of_another_query() {
    let world = api_world().await;
    let end = SystemTime::now();
    let start = end - actiontrail::LOOKBACK;
    let first = actiontrail::lookup_events(
        &world.client,
        &world.cx(),
        &endpoint(&world),
        actiontrail::lookup_params("sg-x", start, end, 1, None),
    )
    .await
    .unwrap();
    let other = actiontrail::lookup_params("sg-y", start, end, 1, first.next_token.as_deref());
    let refused = actiontrail::lookup_events(&world.client, &world.cx(), &endpoint(&world), other)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("NextToken"), "{refused}");
}

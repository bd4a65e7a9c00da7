//! Real-cloud fidelity: where the function must do what the official Config/ECS API
//! definitions say, through the real `bootstrap` and the emulator (which answers as those
//! definitions say). Each test names the behaviour; each fails on the code before the fix.

use acs_emulator::{Emulator, Fault, FaultKind};
use serde_json::{json, Value};
use sg_remediator::rules::Permission;
use sg_remediator::seal::{Place, Sealer};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, strings, Answer, Function};
use std::time::{Duration, SystemTime};

fn world_rule(id: &str, port: u16, nic: &str) -> Value {
    json!({"SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept", "Priority": "1",
           "IpProtocol": "TCP", "PortRange": format!("{port}/{port}"), "SourceCidrIp": "0.0.0.0/0",
           "NicType": nic, "Description": ""})
}

/// groups.json plus a classic-network group (no `VpcId`) with world-open SSH on both NIC types.
async fn with_classic_group() -> Emulator {
    let mut world = fixture("groups");
    world["securityGroups"].as_array_mut().unwrap().push(json!({
        "accountId": FUNCTION_ACCOUNT, "regionId": REGION, "securityGroupId": "sg-classic",
        "securityGroupName": "classic", "vpcId": "", "serviceManaged": false,
        "rules": [
            world_rule("sgr-classic-internet-ssh", 22, "internet"),
            world_rule("sgr-classic-intranet-ssh", 22, "intranet"),
            world_rule("sgr-classic-https", 443, "intranet"),
        ],
    }));
    emulator(&world).await
}

fn nic_types_asked(emulator: &Emulator, sg: &str) -> Vec<Option<String>> {
    calls_on(emulator, "DescribeSecurityGroupAttribute", sg)
        .iter()
        .map(|c| c.params.get("NicType").cloned())
        .collect()
}

// --- 1. Classic-network groups: both NIC types ---------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_groups_intranet_ssh_rule_is_seen_revoked_and_verified() {
    let emulator = with_classic_group().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-classic"])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(
        answer.status_of("sg-classic"),
        "remediated",
        "{:#}",
        answer.body
    );
    assert_eq!(
        answer.ids("sg-classic", "revokedRuleIds"),
        ["sgr-classic-internet-ssh", "sgr-classic-intranet-ssh"]
    );
    assert_eq!(live_ids(&emulator, "sg-classic"), ["sgr-classic-https"]);
    // Confirm and verify each read both NIC types: no NicType (= internet), then intranet.
    let none_then_intranet = [None, Some("intranet".to_string())];
    let asked = nic_types_asked(&emulator, "sg-classic");
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert_eq!(asked[..2], none_then_intranet);
    assert_eq!(asked[2..], none_then_intranet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_group_is_read_with_one_call_per_view() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert_eq!(nic_types_asked(&emulator, "sg-ssh-world"), [None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_a_classic_group_counts_new_rules_of_both_nic_types() {
    let emulator = with_classic_group().await;
    let function = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
    let answer = function.invoke(&event(&["sg-classic"])).await;
    assert_eq!(
        answer.status_of("sg-classic"),
        "remediated",
        "{:#}",
        answer.body
    );
    let restore = json!({"action": "restore", "regionId": REGION, "resourceId": "sg-classic",
                         "rules": answer.result("sg-classic")["revokedRules"]});
    let restored = function.invoke(&restore).await;
    assert!(restored.is_success(), "{:#}", restored.body);
    assert_eq!(
        strings(&restored.body["newRuleIds"]).len(),
        2,
        "{:#}",
        restored.body
    );
    assert_eq!(live_ids(&emulator, "sg-classic").len(), 3);
}

// --- 2. Throttling in all its spellings ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_throttling_is_backed_off_and_retried() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Throttle {
            code: "Rejected.Throttling".into(),
        })
        .on_action("RevokeSecurityGroup")
        .times(2),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-ssh-world"])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert_eq!(
        answer.ids("sg-ssh-world", "revokedRuleIds"),
        ["sgr-ssh-world"]
    );
    assert_eq!(calls(&emulator, "RevokeSecurityGroup").len(), 3);
    // Both throttled attempts are in the reason, even though the group ended remediated.
    let reason = answer.reason_of("sg-ssh-world");
    assert_eq!(reason.matches("Rejected.Throttling").count(), 2, "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_retried_on_the_way_stay_in_a_compliant_groups_reason() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Throttle {
            code: "Throttling.User".into(),
        })
        .on_action("GetDiscoveredResource")
        .times(1),
    );
    emulator.inject(
        Fault::always(FaultKind::ServerError {
            status: 503,
            code: "ServiceUnavailable".into(),
        })
        .on_action("DescribeSecurityGroupAttribute")
        .times(1),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-web"])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-web"), "compliant");
    let reason = answer.reason_of("sg-web");
    assert!(
        reason.contains("GetDiscoveredResource attempt failed and was retried: Throttling.User"),
        "{reason}"
    );
    assert!(
        reason.contains(
            "DescribeSecurityGroupAttribute attempt failed and was retried: ServiceUnavailable"
        ),
        "{reason}"
    );
}

// --- 3. LastTokenProcessing: same token, try again; the rule is revoked by us ---------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_still_processing_is_retried_with_its_token_and_counted_as_ours() {
    let emulator = groups().await;
    // ECS applies the revoke but answers only after 10.5 s: the function's 10 s attempt times
    // out, its retry (same ClientToken) meets `LastTokenProcessing`, and a later retry gets the
    // first call's answer from the token cache.
    emulator.inject(
        Fault::always(FaultKind::Delay { ms: 10_500 })
            .on_action("RevokeSecurityGroup")
            .times(1),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let request = function.request_with(
        event(&["sg-ssh-world"]).to_string(),
        &[("x-fc-function-timeout", "40")],
    );
    let answer = function.send(request).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "remediated",
        "{:#}",
        answer.body
    );
    assert_eq!(
        answer.ids("sg-ssh-world", "revokedRuleIds"),
        ["sgr-ssh-world"]
    );
    let backup = &answer.result("sg-ssh-world")["revokedRules"];
    assert_eq!(backup[0]["SecurityGroupRuleId"], "sgr-ssh-world");
    let revokes = calls(&emulator, "RevokeSecurityGroup");
    assert!(revokes.len() >= 3, "{revokes:?}");
    assert!(revokes
        .iter()
        .any(|c| c.code.as_deref() == Some("LastTokenProcessing")));
    let token = &revokes[0].params["ClientToken"];
    assert!(revokes.iter().all(|c| &c.params["ClientToken"] == token));
    let reason = answer.reason_of("sg-ssh-world");
    assert!(reason.contains("LastTokenProcessing"), "{reason}");
    assert!(reason.contains("no response"), "{reason}");
    assert!(!reason.contains("already gone"), "{reason}");
}

// --- 4. A restore's ClientToken is unique per invocation -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_restore_of_the_same_backup_creates_the_rules_again() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
    let first = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(first.status_of("sg-ssh-world"), "remediated");
    let backup = first.result("sg-ssh-world")["revokedRules"].clone();
    let restore = json!({"action": "restore", "regionId": REGION, "resourceId": "sg-ssh-world",
                         "rules": backup});

    let restored = function.invoke(&restore).await;
    assert_eq!(restored.body["status"], "restored", "{:#}", restored.body);
    assert_eq!(strings(&restored.body["newRuleIds"]).len(), 1);

    // Revoked again by a later remediation, then restored again from the same backup.
    let again = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(
        again.status_of("sg-ssh-world"),
        "remediated",
        "{:#}",
        again.body
    );
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), ["sgr-ssh-world-https"]);
    let second = function.invoke(&restore).await;
    assert_eq!(second.body["status"], "restored", "{:#}", second.body);
    assert_eq!(
        strings(&second.body["newRuleIds"]).len(),
        1,
        "{:#}",
        second.body
    );
    assert_eq!(live_ids(&emulator, "sg-ssh-world").len(), 2);

    let authorizes = calls(&emulator, "AuthorizeSecurityGroup");
    assert_eq!(authorizes.len(), 2);
    assert_ne!(
        authorizes[0].params["ClientToken"],
        authorizes[1].params["ClientToken"]
    );
    assert!(authorizes.iter().all(|c| c.mutated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_a_group_at_its_rule_quota_fails_with_the_quota_code_and_adds_nothing() {
    // ECS refuses a rule beyond the group's quota with 403 AuthorizationLimitExceed. With room
    // for two rules, sg-ssh-world (SSH open to the world, and HTTPS) fills up again after the
    // revoke: the restore must fail, name the code, and change nothing.
    let mut world = fixture("groups");
    world["settings"] = json!({"securityGroupRuleQuota": 2});
    let emulator = emulator(&world).await;
    let function = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
    let first = function.invoke(&event(&["sg-ssh-world"])).await;
    assert_eq!(
        first.status_of("sg-ssh-world"),
        "remediated",
        "{:#}",
        first.body
    );
    let backup = first.result("sg-ssh-world")["revokedRules"].clone();
    let mut live = emulator.live_rules("sg-ssh-world").unwrap();
    live.push(
        json!({"SecurityGroupRuleId": "sgr-added-since", "Direction": "ingress",
        "Policy": "Accept", "Priority": "1", "IpProtocol": "TCP", "PortRange": "8443/8443",
        "SourceCidrIp": "10.0.0.0/8", "NicType": "intranet", "Description": ""}),
    );
    emulator.set_live_rules("sg-ssh-world", live.clone());

    let restore = json!({"action": "restore", "regionId": REGION, "resourceId": "sg-ssh-world",
                         "rules": backup});
    let restored = function.invoke(&restore).await;
    assert_ne!(restored.body["status"], "restored", "{:#}", restored.body);
    assert!(
        restored
            .body
            .to_string()
            .contains("AuthorizationLimitExceed"),
        "{:#}",
        restored.body
    );
    assert_eq!(emulator.live_rules("sg-ssh-world").unwrap(), live);
}

// --- 5. "Not in Config" only for Config's own not-found answers ----------------------------

async fn config_answers(code: &str, status: u16) -> Answer {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status,
            code: code.into(),
            message: "Specified api is not found, please check your url and method.".into(),
        })
        .on_action("GetDiscoveredResource"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function.invoke(&event(&["sg-ssh-world"])).await;
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_invalid_action_not_found_fails_the_resource_and_the_invocation() {
    let answer = config_answers("InvalidAction.NotFound", 404).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    assert!(answer
        .reason_of("sg-ssh-world")
        .contains("InvalidAction.NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_region_not_found_from_config_fails_the_resource() {
    let answer = config_answers("InvalidRegionId.NotFound", 404).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
}

/// No official table lists Config's not-found codes: the live read decides, and this group is
/// still in ECS, so Config's `ResourceNotExists` cannot make it look deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_resource_not_exists_for_a_group_ecs_still_has_fails_the_resource() {
    let answer = config_answers("ResourceNotExists", 404).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    assert!(answer
        .reason_of("sg-ssh-world")
        .starts_with("not found in Config"));
}

// --- 6. AuthorizeSecurityGroup's owner fields ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_source_group_owner_id_is_sent_as_source_group_owner_id() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, RESTORE_ENV);
    // As DescribeSecurityGroupAttribute reports it: the owner's numeric id in
    // SourceGroupOwnerAccount.
    let rule = json!({"Direction": "ingress", "Policy": "Accept", "Priority": "1",
        "IpProtocol": "TCP", "PortRange": "8080/8080", "SourceGroupId": "sg-ssh-world",
        "SourceGroupOwnerAccount": FUNCTION_ACCOUNT, "NicType": "intranet"});
    // Sealed as this deployment would have sealed it when revoking it from sg-restore.
    let sealer = Sealer::new(SEAL_KEY.parse().unwrap(), Duration::from_secs(86_400));
    let place = Place {
        account: FUNCTION_ACCOUNT,
        region: REGION,
        group: "sg-restore",
    };
    let seal = sealer.seal(
        place,
        &Permission::from_json(&rule).unwrap(),
        SystemTime::now(),
    );
    let mut rule = rule;
    rule["Seal"] = json!(seal);
    let restore = json!({"action": "restore", "regionId": REGION, "resourceId": "sg-restore",
                         "rules": [rule]});
    let restored = function.invoke(&restore).await;
    assert_eq!(restored.body["status"], "restored", "{:#}", restored.body);
    let authorize = &calls(&emulator, "AuthorizeSecurityGroup")[0];
    assert_eq!(
        authorize
            .params
            .get("Permissions.1.SourceGroupOwnerId")
            .map(String::as_str),
        Some(FUNCTION_ACCOUNT)
    );
    assert!(!authorize
        .params
        .contains_key("Permissions.1.SourceGroupOwnerAccount"));
}

// --- 7. Aggregator without an account ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_an_aggregator_an_item_without_an_account_fails_without_any_call() {
    let emulator = groups().await;
    let function = Function::start(
        bootstrap!(),
        &emulator,
        &[("CONFIG_AGGREGATOR_ID", AGGREGATOR_ID)],
    );
    let item = json!({"regionId": REGION, "resourceId": "sg-ssh-world",
                      "resourceType": SECURITY_GROUP});
    let answer = function.invoke(&json!([item])).await;
    assert!(answer.is_function_error(), "{}", answer.text);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.contains("accountId") && reason.contains("ResourceAccountId"),
        "{reason}"
    );
    assert!(calls(&emulator, "GetAggregateDiscoveredResource").is_empty());
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
}

// --- 8. Endpoints of finance and government regions --------------------------------------

/// A stand-in HTTPS proxy on loopback: records the target of every `CONNECT` and refuses it, so
/// nothing leaves the machine while the test sees which host the function asked for.
fn recording_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut first = String::new();
            if reader.read_line(&mut first).is_ok() {
                record.lock().unwrap().push(first.trim_end().to_string());
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = (&stream).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ecs_endpoint_finance_and_government_regions_use_the_official_sdk_hosts() {
    let mut world = fixture("groups");
    let template = world["securityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["securityGroupId"] == "sg-ssh-world")
        .unwrap()
        .clone();
    let regions = [
        ("cn-shanghai-finance-1", "sg-finance"),
        ("cn-north-2-gov-1", "sg-gov"),
    ];
    for (region, id) in regions {
        let mut group = template.clone();
        group["regionId"] = json!(region);
        group["securityGroupId"] = json!(id);
        for (n, rule) in group["rules"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            rule["SecurityGroupRuleId"] = json!(format!("sgr-{id}-{n}"));
        }
        world["securityGroups"].as_array_mut().unwrap().push(group);
        if let Some(list) = world["regions"].as_array_mut() {
            list.push(json!(region));
        }
    }
    let emulator = emulator(&world).await;
    let (proxy, seen) = recording_proxy();
    let function =
        Function::start_with_default_ecs(bootstrap!(), &emulator, &[("HTTPS_PROXY", &proxy)]);
    let answer = function
        .invoke(&json!([
            resource_in(FUNCTION_ACCOUNT, "cn-shanghai-finance-1", "sg-finance"),
            resource_in(FUNCTION_ACCOUNT, "cn-north-2-gov-1", "sg-gov"),
        ]))
        .await;
    // Config (the emulator) answered; the live reads went to the official hosts, which the
    // stand-in proxy refused, so both groups fail without any change.
    assert_eq!(calls(&emulator, "GetDiscoveredResource").len(), 2);
    assert!(answer.results().iter().all(|r| r["status"] == "failed"));
    let seen = seen.lock().unwrap().clone();
    for host in ["ecs-cn-hangzhou.aliyuncs.com:443", "ecs.aliyuncs.com:443"] {
        assert!(
            seen.iter()
                .any(|l| l == &format!("CONNECT {host} HTTP/1.1")),
            "{host} not asked for: {seen:?}"
        );
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("finance-1.aliyuncs") || l.contains("gov-1.aliyuncs")),
        "{seen:?}"
    );
}

// --- 9. Region ids are region ids ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_id_with_dots_or_underscores_fails_without_any_call() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let answer = function
        .invoke(&json!([
            resource_in(FUNCTION_ACCOUNT, "cn-hangzhou.evil", "sg-ssh-world"),
            resource_in(FUNCTION_ACCOUNT, "cn_hangzhou", "sg-rdp-world"),
        ]))
        .await;
    assert!(answer.is_function_error(), "{}", answer.text);
    for r in answer.results() {
        assert_eq!(r["status"], "failed", "{r:#}");
        assert!(
            r["reason"].as_str().unwrap().contains("not a region id"),
            "{r:#}"
        );
    }
    assert!(emulator.journal().is_empty(), "{:?}", emulator.journal());
}

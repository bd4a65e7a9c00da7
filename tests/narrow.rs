//! Narrowing (`REMEDIATION_ACTION=narrow`), end to end: Config events through the real
//! `bootstrap` against the emulator. A world-open rule is replaced by the same rule from each
//! allowed source of its family, authorized *before* the world-open rule is revoked; the report
//! lists the original and the added rules, sealed; a restore puts the original back and revokes
//! only the sealed added rules. Each test checks the report and what the emulator saw.

use std::process::Stdio;

use acs_emulator::{Emulator, Fault, FaultKind};
use serde_json::{json, Value};
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Answer, Function};

/// The allowed sources of most tests: one IPv4 block, one IPv6 block.
const ALLOWED: &str = "203.0.113.0/24,2001:db8:1::/48";

/// Narrowing to `allowed`, with restore seals, plus `extra`.
fn narrow_env<'a>(allowed: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("REMEDIATION_ACTION", "narrow"),
        ("ALLOWED_SOURCE_CIDRS", allowed),
    ];
    env.extend_from_slice(RESTORE_ENV);
    env.extend_from_slice(extra);
    env
}

/// Remediates `sg` of groups.json with `env`; the function stays up for a restore.
async fn narrow(emulator: &Emulator, sg: &str, env: &[(&str, &str)]) -> (Answer, Function) {
    let function = Function::start(bootstrap!(), emulator, env);
    let answer = function.invoke(&event(&[sg])).await;
    (answer, function)
}

/// The live rule of `sg` whose `field` is `value`.
fn live_rule_with(emulator: &Emulator, sg: &str, field: &str, value: &str) -> Option<Value> {
    emulator
        .live_rules(sg)
        .unwrap()
        .into_iter()
        .find(|r| r[field] == value)
}

/// The `Permissions.N.<name>` parameters of a journaled call, by N.
fn permissions(entry: &acs_emulator::JournalEntry, name: &str) -> Vec<String> {
    let mut numbered: Vec<(usize, String)> = entry
        .params
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("Permissions.")?;
            let (n, field) = rest.split_once('.')?;
            (field == name).then(|| Some((n.parse().ok()?, v.clone())))?
        })
        .collect();
    numbered.sort();
    numbered.into_iter().map(|(_, v)| v).collect()
}

/// The journal's sequence numbers of `action`'s calls on `sg`.
fn seqs(emulator: &Emulator, action: &str, sg: &str) -> Vec<u64> {
    calls_on(emulator, action, sg)
        .iter()
        .map(|e| e.seq)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_open_rule_is_replaced_by_the_allowed_source_authorized_before_the_revoke() {
    let emulator = groups().await;
    let (answer, _f) = narrow(&emulator, "sg-ssh-world", &narrow_env(ALLOWED, &[])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert_eq!(
        answer.ids("sg-ssh-world", "revokedRuleIds"),
        ["sgr-ssh-world"]
    );

    // Authorize first, one call, then the revoke.
    let (authorize, revoke) = (
        seqs(&emulator, "AuthorizeSecurityGroup", "sg-ssh-world"),
        seqs(&emulator, "RevokeSecurityGroup", "sg-ssh-world"),
    );
    assert_eq!((authorize.len(), revoke.len()), (1, 1));
    assert!(
        authorize[0] < revoke[0],
        "authorize {authorize:?} before revoke {revoke:?}"
    );

    // The same rule from the IPv4 block only, naming the rule it replaces, with a token.
    let call = &calls(&emulator, "AuthorizeSecurityGroup")[0];
    assert_eq!(permissions(call, "SourceCidrIp"), ["203.0.113.0/24"]);
    assert!(permissions(call, "Ipv6SourceCidrIp").is_empty());
    assert_eq!(permissions(call, "PortRange"), ["22/22"]);
    assert_eq!(permissions(call, "IpProtocol"), ["TCP"]);
    assert_eq!(permissions(call, "Policy"), ["accept"]);
    assert_eq!(permissions(call, "Priority"), ["1"]);
    assert_eq!(permissions(call, "NicType"), ["intranet"]);
    assert_eq!(
        permissions(call, "Description"),
        ["sg-remediator narrowed sgr-ssh-world (was from 0.0.0.0/0): ssh from anywhere"]
    );
    assert!(call.params["ClientToken"].starts_with("au-"));

    // Live: the world rule gone, the replacement present, the rest untouched.
    assert!(live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-ssh-world"
    )
    .is_none());
    let added = live_rule_with(&emulator, "sg-ssh-world", "SourceCidrIp", "203.0.113.0/24")
        .expect("the replacement is live");
    assert!(live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-ssh-world-https"
    )
    .is_some());

    // The report: the original and the added rule, both sealed, the added id from the read.
    let narrowed = &answer.result("sg-ssh-world")["narrowedRules"];
    assert_eq!(narrowed.as_array().unwrap().len(), 1, "{narrowed:#}");
    assert_eq!(
        narrowed[0]["original"]["SecurityGroupRuleId"],
        "sgr-ssh-world"
    );
    assert!(narrowed[0]["original"]["Seal"].is_string());
    assert_eq!(narrowed[0]["originalRevoked"], true);
    let report_added = narrowed[0]["added"].as_array().unwrap();
    assert_eq!(report_added.len(), 1);
    assert_eq!(
        report_added[0]["SecurityGroupRuleId"],
        added["SecurityGroupRuleId"]
    );
    assert_eq!(report_added[0]["SourceCidrIp"], "203.0.113.0/24");
    assert!(report_added[0]["Seal"].is_string());
    assert_ne!(report_added[0]["Seal"], narrowed[0]["original"]["Seal"]);
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.starts_with("narrowed 1 rule(s) to 203.0.113.0/24: added 1 rule(s)"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_authorize_carries_the_same_client_token_and_adds_once() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::ServerError {
            status: 503,
            code: "ServiceUnavailable".into(),
        })
        .on_action("AuthorizeSecurityGroup")
        .times(1),
    );
    let (answer, _f) = narrow(&emulator, "sg-ssh-world", &narrow_env(ALLOWED, &[])).await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "remediated",
        "{:#}",
        answer.body
    );
    let attempts = calls(&emulator, "AuthorizeSecurityGroup");
    assert_eq!(attempts.len(), 2, "one refused attempt, one retry");
    assert_eq!(
        attempts[0].params["ClientToken"],
        attempts[1].params["ClientToken"]
    );
    let added: Vec<Value> = emulator
        .live_rules("sg-ssh-world")
        .unwrap()
        .into_iter()
        .filter(|r| r["SourceCidrIp"] == "203.0.113.0/24")
        .collect();
    assert_eq!(added.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_rule_is_narrowed_to_the_ipv6_blocks_in_ipv6sourcecidrip() {
    let emulator = groups().await;
    let (answer, _f) = narrow(&emulator, "sg-ipv6", &narrow_env(ALLOWED, &[])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ipv6"), "remediated");
    let call = &calls_on(&emulator, "AuthorizeSecurityGroup", "sg-ipv6")[0];
    assert_eq!(permissions(call, "Ipv6SourceCidrIp"), ["2001:db8:1::/48"]);
    assert!(permissions(call, "SourceCidrIp").is_empty());
    assert!(live_rule_with(&emulator, "sg-ipv6", "Ipv6SourceCidrIp", "2001:db8:1::/48").is_some());
    assert!(live_rule_with(&emulator, "sg-ipv6", "Ipv6SourceCidrIp", "::/0").is_none());
    assert!(answer
        .reason_of("sg-ipv6")
        .starts_with("narrowed 1 rule(s) to 2001:db8:1::/48"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_whose_family_has_no_allowed_block_is_revoked_with_a_note() {
    let emulator = groups().await;
    let (answer, _f) = narrow(&emulator, "sg-ipv6", &narrow_env("203.0.113.0/24", &[])).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ipv6"), "remediated");
    assert_eq!(answer.ids("sg-ipv6", "revokedRuleIds"), ["sgr-ipv6-ssh"]);
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert!(answer.result("sg-ipv6").get("narrowedRules").is_none());
    let reason = answer.reason_of("sg-ipv6");
    assert!(
        reason.contains(
            "sgr-ipv6-ssh: ALLOWED_SOURCE_CIDRS has no IPv6 block, so it is revoked, not narrowed"
        ),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_authorize_revokes_nothing_and_fails_with_the_reason() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: "User not authorized to operate on the specified resource.".into(),
        })
        .on_action("AuthorizeSecurityGroup"),
    );
    let before = live_ids(&emulator, "sg-ssh-world");
    let (answer, _f) = narrow(&emulator, "sg-ssh-world", &narrow_env(ALLOWED, &[])).await;
    assert!(answer.is_function_error(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "failed");
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), before);
    assert!(answer.ids("sg-ssh-world", "revokedRuleIds").is_empty());
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.starts_with(
            "narrowing sgr-ssh-world: AuthorizeSecurityGroup failed, so it was not revoked"
        ),
        "{reason}"
    );
    assert!(reason.contains("Forbidden.RAM"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_revoke_after_the_authorize_keeps_the_added_rule_and_says_both() {
    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: "User not authorized to operate on the specified resource.".into(),
        })
        .on_action("RevokeSecurityGroup"),
    );
    let (answer, _f) = narrow(&emulator, "sg-ssh-world", &narrow_env(ALLOWED, &[])).await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "failed",
        "{:#}",
        answer.body
    );
    let added = live_rule_with(&emulator, "sg-ssh-world", "SourceCidrIp", "203.0.113.0/24")
        .expect("the added rule stays");
    assert!(live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-ssh-world"
    )
    .is_some());
    let narrowed = &answer.result("sg-ssh-world")["narrowedRules"][0];
    assert_eq!(narrowed["originalRevoked"], false);
    assert!(
        narrowed["original"].get("Seal").is_none(),
        "not revoked, so not restorable"
    );
    assert_eq!(
        narrowed["added"][0]["SecurityGroupRuleId"],
        added["SecurityGroupRuleId"]
    );
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.contains("sgr-ssh-world: 1 rule(s) from the allowed sources were added, but the world-open rule could not be revoked; the added rules stay"),
        "{reason}"
    );
    assert!(reason.contains("Forbidden.RAM"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_the_group_already_allows_identically_is_not_added_again() {
    let emulator = groups().await;
    let mut rules = emulator.live_rules("sg-ssh-world").unwrap();
    let mut office = rules[0].clone();
    office["SecurityGroupRuleId"] = json!("sgr-office-ssh");
    office["SourceCidrIp"] = json!("203.0.113.0/24");
    office["Description"] = json!("office, by hand");
    rules.push(office);
    emulator.set_live_rules("sg-ssh-world", rules.clone());
    emulator.set_snapshot_rules("sg-ssh-world", rules);

    let env = narrow_env("203.0.113.0/24,198.51.100.0/24", &[]);
    let (answer, _f) = narrow(&emulator, "sg-ssh-world", &env).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    let call = &calls(&emulator, "AuthorizeSecurityGroup")[0];
    assert_eq!(permissions(call, "SourceCidrIp"), ["198.51.100.0/24"]);
    let office = live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-office-ssh",
    );
    assert_eq!(
        office.unwrap()["Description"],
        "office, by hand",
        "left as it was"
    );
    let added = &answer.result("sg-ssh-world")["narrowedRules"][0]["added"];
    assert_eq!(
        added.as_array().unwrap().len(),
        1,
        "only the rule this run added: {added:#}"
    );
    assert_eq!(added[0]["SourceCidrIp"], "198.51.100.0/24");
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason.contains(
            "sgr-ssh-world: the group already allows 203.0.113.0/24 identically, not added again"
        ),
        "{reason}"
    );
}

/// ECS's identity of a rule leaves out its priority and description: authorizing a rule that
/// differs from an existing one only there succeeds and creates nothing. The source is already
/// allowed, so nothing is sent for it, and the world rule still goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_the_group_allows_at_another_priority_is_not_added_again() {
    let emulator = groups().await;
    let mut rules = emulator.live_rules("sg-ssh-world").unwrap();
    let mut office = rules[0].clone();
    office["SecurityGroupRuleId"] = json!("sgr-office-ssh");
    office["SourceCidrIp"] = json!("203.0.113.0/24");
    office["Priority"] = json!("7");
    rules.push(office);
    emulator.set_live_rules("sg-ssh-world", rules.clone());
    emulator.set_snapshot_rules("sg-ssh-world", rules);

    let (answer, _f) = narrow(
        &emulator,
        "sg-ssh-world",
        &narrow_env("203.0.113.0/24", &[]),
    )
    .await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "remediated");
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert!(live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-ssh-world"
    )
    .is_none());
    let office = live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-office-ssh",
    );
    assert_eq!(office.unwrap()["Priority"], "7", "left as it was");
    let reason = answer.reason_of("sg-ssh-world");
    assert!(reason.contains("already allows 203.0.113.0/24"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_what_it_would_add_and_revoke_and_writes_nothing() {
    let emulator = groups().await;
    let env = narrow_env(ALLOWED, &[("REMEDIATION_MODE", "dry-run")]);
    let (answer, _f) = narrow(&emulator, "sg-ssh-world", &env).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.status_of("sg-ssh-world"), "would_remediate");
    assert!(emulator.journal().iter().all(|e| !e.mutated));
    assert!(calls(&emulator, "AuthorizeSecurityGroup").is_empty());
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
    let result = answer.result("sg-ssh-world");
    assert_eq!(
        answer.ids("sg-ssh-world", "wouldRevokeRuleIds"),
        ["sgr-ssh-world"]
    );
    let would = &result["wouldNarrowRules"][0];
    assert_eq!(would["original"]["SecurityGroupRuleId"], "sgr-ssh-world");
    assert_eq!(would["added"][0]["SourceCidrIp"], "203.0.113.0/24");
    assert!(would["added"][0].get("SecurityGroupRuleId").is_none());
    let reason = answer.reason_of("sg-ssh-world");
    assert!(
        reason
            .starts_with("dry run: nothing was changed; would narrow 1 rule(s) to 203.0.113.0/24"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_dry_run_false_cannot_make_a_narrowing_dry_run_deployment_write() {
    let emulator = groups().await;
    let env = narrow_env(ALLOWED, &[("REMEDIATION_MODE", "dry-run")]);
    let function = Function::start(bootstrap!(), &emulator, &env);
    let answer = function
        .invoke(&json!({"dryRun": false, "resources": [resource("sg-ssh-world")]}))
        .await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "would_remediate",
        "{:#}",
        answer.body
    );
    assert!(emulator.journal().iter().all(|e| !e.mutated));
}

/// Narrows sg-ssh-world, then adds a rule that looks like one the narrowing adds (same
/// description pattern, another port) but that no report lists.
async fn narrowed_with_a_look_alike() -> (Emulator, Function, Value) {
    let emulator = groups().await;
    let (answer, function) = narrow(&emulator, "sg-ssh-world", &narrow_env(ALLOWED, &[])).await;
    assert_eq!(
        answer.status_of("sg-ssh-world"),
        "remediated",
        "{:#}",
        answer.body
    );
    let mut rules = emulator.live_rules("sg-ssh-world").unwrap();
    let mut look_alike =
        live_rule_with(&emulator, "sg-ssh-world", "SourceCidrIp", "203.0.113.0/24").unwrap();
    look_alike["SecurityGroupRuleId"] = json!("sgr-look-alike");
    look_alike["PortRange"] = json!("3389/3389");
    rules.push(look_alike);
    emulator.set_live_rules("sg-ssh-world", rules);
    emulator.clear_journal();
    let narrowed = answer.result("sg-ssh-world")["narrowedRules"][0].clone();
    (emulator, function, narrowed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_a_narrowed_rule_puts_the_original_back_then_revokes_only_the_sealed_added_rules(
) {
    let (emulator, function, narrowed) = narrowed_with_a_look_alike().await;
    let added_id = narrowed["added"][0]["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .to_string();
    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-ssh-world",
        "rules": [narrowed["original"]],
        "removeRules": narrowed["added"],
    });
    let restored = function.invoke(&restore).await;
    assert!(restored.is_success(), "{:#}", restored.body);
    assert_eq!(restored.body["status"], "restored");
    let removed = restored.body["removedRules"].as_array().unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["SecurityGroupRuleId"], added_id.as_str());

    let (authorize, revoke) = (
        seqs(&emulator, "AuthorizeSecurityGroup", "sg-ssh-world"),
        seqs(&emulator, "RevokeSecurityGroup", "sg-ssh-world"),
    );
    assert_eq!((authorize.len(), revoke.len()), (1, 1));
    assert!(
        authorize[0] < revoke[0],
        "the original is back before anything is revoked"
    );
    assert_eq!(
        revoked_in(&calls(&emulator, "RevokeSecurityGroup")[0]),
        [added_id.as_str()]
    );

    let original = emulator
        .live_rules("sg-ssh-world")
        .unwrap()
        .into_iter()
        .find(|r| r["SourceCidrIp"] == "0.0.0.0/0" && r["PortRange"] == "22/22")
        .expect("the original is back");
    assert_eq!(original["Description"], "ssh from anywhere");
    assert!(live_rule_with(&emulator, "sg-ssh-world", "SecurityGroupRuleId", &added_id).is_none());
    for kept in ["sgr-look-alike", "sgr-ssh-world-https"] {
        assert!(
            live_rule_with(&emulator, "sg-ssh-world", "SecurityGroupRuleId", kept).is_some(),
            "{kept} is never revoked by a restore"
        );
    }
    let reason = restored.body["reason"].as_str().unwrap();
    assert!(
        reason.contains("revoked 1 rule(s) the narrowing had added, verified gone"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_whose_authorize_fails_revokes_no_added_rule() {
    let (emulator, function, narrowed) = narrowed_with_a_look_alike().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: "User not authorized to operate on the specified resource.".into(),
        })
        .on_action("AuthorizeSecurityGroup"),
    );
    let before = live_ids(&emulator, "sg-ssh-world");
    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-ssh-world",
        "rules": [narrowed["original"]],
        "removeRules": narrowed["added"],
    });
    let failed = function.invoke(&restore).await;
    assert!(failed.is_function_error(), "{:#}", failed.body);
    assert_eq!(failed.body["status"], "failed");
    assert!(calls(&emulator, "RevokeSecurityGroup").is_empty());
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_restore_says_which_added_rules_it_would_revoke_and_writes_nothing() {
    let (emulator, function, narrowed) = narrowed_with_a_look_alike().await;
    let restore = json!({
        "action": "restore",
        "dryRun": true,
        "regionId": REGION,
        "resourceId": "sg-ssh-world",
        "rules": [narrowed["original"]],
        "removeRules": narrowed["added"],
    });
    let answer = function.invoke(&restore).await;
    assert!(answer.is_success(), "{:#}", answer.body);
    assert_eq!(answer.body["status"], "would_restore");
    assert_eq!(
        answer.body["wouldRemoveRules"][0]["SecurityGroupRuleId"],
        narrowed["added"][0]["SecurityGroupRuleId"]
    );
    assert!(emulator.journal().iter().all(|e| !e.mutated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_listing_an_unsealed_added_rule_is_refused_whole() {
    let (emulator, function, narrowed) = narrowed_with_a_look_alike().await;
    let mut look_alike = live_rule_with(
        &emulator,
        "sg-ssh-world",
        "SecurityGroupRuleId",
        "sgr-look-alike",
    )
    .unwrap();
    look_alike.as_object_mut().unwrap().remove("CreateTime");
    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-ssh-world",
        "rules": [narrowed["original"]],
        "removeRules": [narrowed["added"][0], look_alike],
    });
    let before = live_ids(&emulator, "sg-ssh-world");
    let refused = function.invoke(&restore).await;
    assert!(refused.is_function_error(), "{:#}", refused.body);
    assert_eq!(refused.body["status"], "failed");
    assert!(emulator.journal().iter().all(|e| !e.mutated));
    assert_eq!(live_ids(&emulator, "sg-ssh-world"), before);
    assert_eq!(refused.body["refusedRules"][0]["index"], 1);
    assert_eq!(refused.body["refusedRules"][0]["list"], "removeRules");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_rules_seal_cannot_make_a_restore_revoke_it() {
    let (emulator, function, narrowed) = narrowed_with_a_look_alike().await;
    // The original's record and seal, offered as a rule to remove.
    let restore = json!({
        "action": "restore",
        "regionId": REGION,
        "resourceId": "sg-ssh-world",
        "rules": [narrowed["original"]],
        "removeRules": [narrowed["original"]],
    });
    let refused = function.invoke(&restore).await;
    assert!(refused.is_function_error(), "{:#}", refused.body);
    assert!(emulator.journal().iter().all(|e| !e.mutated));
}

#[test]
fn bootstrap_refuses_to_start_with_an_unusable_narrowing_configuration() {
    for (env, variable) in [
        (
            vec![("REMEDIATION_ACTION", "tighten")],
            "REMEDIATION_ACTION",
        ),
        (
            vec![("REMEDIATION_ACTION", "narrow")],
            "ALLOWED_SOURCE_CIDRS",
        ),
        (
            vec![("ALLOWED_SOURCE_CIDRS", "203.0.113.0/24")],
            "ALLOWED_SOURCE_CIDRS",
        ),
        (
            vec![
                ("REMEDIATION_ACTION", "narrow"),
                ("ALLOWED_SOURCE_CIDRS", "0.0.0.0/0"),
            ],
            "ALLOWED_SOURCE_CIDRS",
        ),
        (
            vec![
                ("REMEDIATION_ACTION", "narrow"),
                ("ALLOWED_SOURCE_CIDRS", "10.0.0.0/7"),
            ],
            "ALLOWED_SOURCE_CIDRS",
        ),
        (
            vec![
                ("REMEDIATION_ACTION", "narrow"),
                ("ALLOWED_SOURCE_CIDRS", "203.0.113.9/24"),
            ],
            "ALLOWED_SOURCE_CIDRS",
        ),
    ] {
        let mut child = bootstrap!()
            .envs(&env)
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = sg_test_kit::wait_with_patience(&mut child);
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{env:?} was accepted");
        assert!(
            stderr.starts_with(&format!("error: {variable}: ")),
            "{env:?}: stderr was {stderr:?}"
        );
    }
}

/// The demo world's group with SSH open to the IPv4 and the IPv6 internet.
const WEB_PROD: &str = "sg-bp1fg655nh68xyz9i0d1";

/// The `sg-remediator` binary against `emulator`, with the demo fixture's key and a seal key.
fn cli(emulator: &Emulator, home: &std::path::Path, args: &[&str]) -> std::process::Command {
    let demo = read_fixture("demo.json").unwrap();
    let key = key_of(&demo, FUNCTION_ACCOUNT, 0).expect("the demo fixture has a key");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sg-remediator"));
    c.env_clear()
        .env("HOME", home)
        .env("ECS_ENDPOINT", emulator.ecs_endpoint())
        .env("CONFIG_ENDPOINT", emulator.config_endpoint())
        .env("STS_ENDPOINT", emulator.sts_endpoint())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", &key.id)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &key.secret)
        .env("RESTORE_SEAL_KEY", SEAL_KEY)
        .args(args)
        .stdin(Stdio::null());
    if let Some(token) = &key.token {
        c.env("ALIBABA_CLOUD_SECURITY_TOKEN", token);
    }
    c
}

async fn output(c: std::process::Command) -> std::process::Output {
    let mut c = c;
    tokio::task::spawn_blocking(move || c.output().expect("the binary runs"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_narrows_with_narrow_to_and_its_restore_undoes_it() {
    let emulator = emulator(&read_fixture("demo.json").unwrap()).await;
    let home = std::env::temp_dir().join(format!("sg-remediator-narrow-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&home).unwrap();
    let report_file = home.join("remediation.json");
    let before = emulator.live_rules(WEB_PROD).unwrap();

    let c = cli(
        &emulator,
        &home,
        &[
            "remediate",
            WEB_PROD,
            "--region",
            REGION,
            "--narrow-to",
            "203.0.113.0/24",
            "--yes",
            "--output",
            report_file.to_str().unwrap(),
        ],
    );
    let out = output(c).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("NARROWED to 203.0.113.0/24; verified gone"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ADDED: replaces sgr-bp1dyfyd0b2r8xk1wq5e"),
        "{stdout}"
    );
    let added = live_rule_with(&emulator, WEB_PROD, "SourceCidrIp", "203.0.113.0/24")
        .expect("the replacement is live");
    let added_id = added["SecurityGroupRuleId"].as_str().unwrap().to_string();

    let c = cli(
        &emulator,
        &home,
        &[
            "restore",
            "--report",
            report_file.to_str().unwrap(),
            "--yes",
            "--json",
        ],
    );
    let out = output(c).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        restored["restores"][0]["status"], "restored",
        "{restored:#}"
    );
    assert!(live_rule_with(&emulator, WEB_PROD, "SecurityGroupRuleId", &added_id).is_none());
    assert_eq!(
        emulator.live_rules(WEB_PROD).unwrap().len(),
        before.len(),
        "both world-open rules are back (new ids), the added rule is gone"
    );
    let _ = std::fs::remove_dir_all(&home);
}

//! Concurrent invocations never mix credentials.
//!
//! FC may send one instance many invocations at once, each with its own STS credentials. If
//! one invocation's calls were ever signed with another's key, a remediation could act with the
//! wrong principal (or fail as another). The emulator's journal records which key signed each
//! call, so it can prove the separation.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use super::cloud::{event, Cloud, World, ACCOUNT};

const INVOCATIONS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_invocations_each_sign_with_their_own_key() {
    let mut w = World::base();
    let mut pairs = Vec::new();
    for i in 0..INVOCATIONS {
        let key = w.add_key(ACCOUNT, i);
        let sg = format!("sg-reliso{i:012}");
        w.add_group(ACCOUNT, &sg);
        pairs.push((key, sg));
    }
    let cloud = Arc::new(Cloud::start(&w, &[("MAX_CONCURRENCY", "8")]).await);
    let groups: Vec<&str> = pairs.iter().map(|(_, sg)| sg.as_str()).collect();
    let truth = cloud.truth(&w, &groups);

    let tasks: Vec<_> = pairs
        .iter()
        .map(|(key, sg)| {
            let (cloud, key, sg) = (cloud.clone(), key.clone(), sg.clone());
            tokio::spawn(async move {
                let answer = cloud.invoke_event(&key, 30, &event(ACCOUNT, &[&sg])).await;
                (sg, answer)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(INVOCATIONS);
    for task in tasks {
        answers.push(task.await.expect("invocation task"));
    }

    for (sg, answer) in &answers {
        assert_eq!(answer.status_of(sg), "remediated", "{}", answer.body);
    }
    // Every group's result comes from its own invocation; merge them to check live state once.
    let mut merged = answers[0].1.clone();
    merged.body["results"] = answers
        .iter()
        .flat_map(|(_, a)| a.results().clone())
        .collect();
    truth.assert_told(&cloud.emu, &merged);

    let own: BTreeMap<&str, &str> = pairs
        .iter()
        .map(|(key, sg)| (sg.as_str(), key.id.as_str()))
        .collect();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let journal = cloud.emu.journal();
    for entry in &journal {
        let group = entry
            .params
            .get("SecurityGroupId")
            .or_else(|| entry.params.get("ResourceId"))
            .unwrap_or_else(|| panic!("a call names no group: {entry:?}"));
        seen.entry(group.clone())
            .or_default()
            .insert(entry.access_key_id.clone());
    }
    assert_eq!(seen.len(), INVOCATIONS, "every group was called for");
    for (sg, keys) in &seen {
        let expected = BTreeSet::from([own[sg.as_str()].to_string()]);
        assert_eq!(keys, &expected, "{sg} was called with a foreign key");
    }
    // The invocations really overlapped: run one after another, the journal would change group
    // exactly 99 times.
    let order: Vec<&String> = journal
        .iter()
        .map(|e| {
            e.params
                .get("SecurityGroupId")
                .or_else(|| e.params.get("ResourceId"))
                .unwrap()
        })
        .collect();
    let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches > INVOCATIONS - 1,
        "calls never interleaved ({switches} switches)"
    );
    // Re-fetch, describe, revoke, verify: at least four signed calls per invocation.
    assert!(journal.len() >= 4 * INVOCATIONS, "{} calls", journal.len());

    match Arc::try_unwrap(cloud) {
        Ok(cloud) => cloud.finish(),
        Err(_) => panic!("an invocation task still holds the cloud"),
    }
}

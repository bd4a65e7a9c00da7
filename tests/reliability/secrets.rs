//! No secret key or security token ever appears in the function's output or answers.
//!
//! Every scenario in this test crate ends with [`Cloud::finish`], which scans the whole captured
//! output (debug level) and every response body for 12-character pieces of every secret and
//! token the function could have seen — raw, percent-encoded once (as in a signed query) and
//! twice (as in a string-to-sign). The scenarios here are the ones most likely to leak: role
//! credentials minted by STS, a signature the cloud rejects (the gateway echoes its
//! string-to-sign), expired tokens, and the most verbose log level.

use super::cloud::{
    assert_no_secret, event, function_key, Cloud, Key, World, ACCOUNT, MEMBER, ROLE,
};

#[test]
fn the_leak_check_catches_raw_encoded_and_partial_secrets() {
    let secret = "abc/Def+ghi=JKL/mno+pqr=".to_string();
    let once = acs_openapi::signing::percent_encode(&secret);
    let twice = acs_openapi::signing::percent_encode(&once);
    for leaked in [secret.clone(), once, twice, secret[3..15].to_string()] {
        let text = format!("{{\"message\":\"oops {leaked} here\"}}");
        let caught =
            std::panic::catch_unwind(|| assert_no_secret(&text, std::slice::from_ref(&secret)));
        assert!(caught.is_err(), "missed {leaked}");
    }
    assert_no_secret("{\"message\":\"abc/Def+gh is only eleven\"}", &[secret]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assumed_role_credentials_never_leak_even_when_they_expire() {
    let sg = "sg-relsecretmember01";
    let mut w = World::base();
    w.add_group(MEMBER, sg);
    let cloud = Cloud::start(&w, &[("CROSS_ACCOUNT_ROLE_NAME", ROLE)]).await;
    let key = function_key(0);
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud.invoke_event(&key, 20, &event(MEMBER, &[sg])).await;
    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "remediated", "{}", answer.body);
    assert!(
        !cloud.assumed_secrets().is_empty(),
        "the role's credentials went through the tap"
    );
    // The member group was changed with the role's key, never with the function's own.
    let journal = cloud.emu.journal();
    let revoker = journal
        .iter()
        .find(|e| e.action == "RevokeSecurityGroup")
        .map(|e| e.access_key_id.clone())
        .unwrap();
    assert!(
        revoker.starts_with("STS.") && revoker != key.id,
        "{revoker}"
    );

    // The cached role credentials expire: the failure is reported without them.
    cloud.emu.expire_credentials(&revoker);
    let again = cloud.invoke_event(&key, 20, &event(MEMBER, &[sg])).await;
    assert!(again.status == 200 || again.status == 404, "{}", again.body);
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_signature_is_reported_without_the_secret_or_token() {
    let sg = "sg-relsecretsig00001";
    let mut w = World::base();
    w.add_group(ACCOUNT, sg);
    let mut cloud = Cloud::start(&w, &[]).await;
    let real = function_key(0);
    let forged = Key {
        secret: "wrong/Secret+Value=0123456789abc".into(),
        ..real
    };
    cloud.also_secret(&forged.secret);
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud
        .invoke_event(&forged, 10, &event(ACCOUNT, &[sg]))
        .await;
    truth.assert_told(&cloud.emu, &answer);
    assert_eq!(answer.status_of(sg), "failed");
    assert!(
        answer.reason_of(sg).contains("SignatureDoesNotMatch"),
        "{}",
        answer.reason_of(sg)
    );
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_reported_without_the_token() {
    let sg = "sg-relsecretexpired1";
    let mut w = World::base();
    w.add_group(ACCOUNT, sg);
    let cloud = Cloud::start(&w, &[]).await;
    let key = function_key(0);
    cloud.emu.expire_credentials(&key.id);
    let truth = cloud.truth(&w, &[sg]);
    let answer = cloud.invoke_event(&key, 10, &event(ACCOUNT, &[sg])).await;
    truth.assert_told(&cloud.emu, &answer);
    assert!(answer
        .reason_of(sg)
        .contains("InvalidSecurityToken.Expired"));
    cloud.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logging_of_every_dependency_prints_no_secret() {
    let sg = "sg-relsecrettrace001";
    let mut w = World::base();
    w.add_group(ACCOUNT, sg);
    w.add_group(MEMBER, "sg-relsecrettrace002");
    let cloud = Cloud::start(
        &w,
        &[("RUST_LOG", "trace"), ("CROSS_ACCOUNT_ROLE_NAME", ROLE)],
    )
    .await;
    let key = function_key(0);
    let mut body = event(ACCOUNT, &[sg]);
    body.as_array_mut().unwrap().extend(
        event(MEMBER, &["sg-relsecrettrace002"])
            .as_array()
            .unwrap()
            .clone(),
    );
    let answer = cloud.invoke_event(&key, 20, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    cloud.finish();
}

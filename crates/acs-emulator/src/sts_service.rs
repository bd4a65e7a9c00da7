//! STS 2015-04-01 AssumeRole: hands out temporary credentials (registered with the emulator,
//! acting as the role's account until they expire).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::auth::Caller;
use super::ecs_service::{opt, required};
use super::fixture::RoleFixture;
use super::state::{Cred, State};
use super::wire::{random_chars, ApiError, ALNUM};

type Params = BTreeMap<String, String>;

fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, role) = rest.split_once(":role/")?;
    let valid_account = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
    let valid_role = !role.is_empty() && !role.contains('/');
    (valid_account && valid_role).then_some((account, role))
}

/// Whether the role's trust policy admits the caller: its whole account, or its own role.
fn trusts(role: &RoleFixture, caller: &Caller) -> bool {
    role.trusted_account_ids.contains(&caller.account_id)
        || caller
            .role_arn
            .as_ref()
            .is_some_and(|arn| role.trusted_role_arns.contains(arn))
}

pub(crate) fn assume_role(
    state: &mut State,
    caller: &Caller,
    params: &Params,
    request_id: &str,
) -> Result<Value, ApiError> {
    let arn = required(params, "RoleArn")?;
    let session = required(params, "RoleSessionName")?;
    let (account, role_name) = parse_role_arn(arn).ok_or_else(|| {
        ApiError::invalid("RoleArn", "must be acs:ram::<accountId>:role/<roleName>")
    })?;
    let session_ok = (2..=64).contains(&session.len())
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".@_-".contains(&b));
    if !session_ok {
        return Err(ApiError::invalid(
            "RoleSessionName",
            "2 to 64 characters from [A-Za-z0-9.@_-]",
        ));
    }
    if let Some(policy) = opt(params, "Policy") {
        if policy.len() > 2048 {
            return Err(ApiError::invalid(
                "PolicySize",
                "Policy is longer than 2048 characters",
            ));
        }
        if serde_json::from_str::<Value>(policy)
            .map(|v| !v.is_object())
            .unwrap_or(true)
        {
            return Err(ApiError::invalid(
                "PolicyGrammar",
                "Policy is not a JSON object",
            ));
        }
    }
    if let Some(external) = opt(params, "ExternalId") {
        if !(2..=1224).contains(&external.len()) {
            return Err(ApiError::invalid("ExternalId", "2 to 1224 characters"));
        }
    }
    let Some(role) = state
        .roles
        .iter()
        .find(|r| r.account_id == account && r.role_name == role_name)
        .cloned()
    else {
        return Err(ApiError::new(
            404,
            "EntityNotExist.Role",
            format!("The role {arn} does not exist."),
        ));
    };
    let duration = match opt(params, "DurationSeconds") {
        None => 3600.min(role.max_session_duration),
        Some(d) => match d.parse::<u64>() {
            Ok(s) if (900..=role.max_session_duration).contains(&s) => s,
            _ => {
                return Err(ApiError::invalid(
                    "DurationSeconds",
                    format!("must be 900..={}", role.max_session_duration),
                ))
            }
        },
    };
    if caller.root {
        return Err(ApiError::new(
            403,
            "NoPermission",
            "Roles may not be assumed by root accounts.",
        ));
    }
    if !trusts(&role, caller) {
        // The code and message STS answers when the requester is not in the Principal of the
        // role's trust policy: the AssumeRole description in aliyun/alibabacloud-go-sdk
        // sts-20150401/client/client.go and the API reference's error table
        // (https://www.alibabacloud.com/help/doc-detail/28763.html): 403 NoPermission.
        return Err(ApiError::new(
            403,
            "NoPermission",
            "You are not authorized to do this action. You should be authorized by RAM.",
        ));
    }
    let key_id = format!("STS.{}", random_chars(25, ALNUM));
    let secret = random_chars(40, ALNUM);
    let mut raw = Vec::with_capacity(96);
    for _ in 0..6 {
        raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    // A real token is opaque base64; make sure it carries `+`, `/` and `=` so clients that
    // forget to encode them are caught.
    let token = format!(
        "CAIS+{}/{}=",
        base64::engine::general_purpose::STANDARD.encode(&raw[..48]),
        base64::engine::general_purpose::STANDARD.encode(&raw[48..95])
    );
    let expires = state.now() + Duration::from_secs(duration);
    state.creds.insert(
        key_id.clone(),
        Cred {
            account_id: role.account_id.clone(),
            secret: secret.clone(),
            token: Some(token.clone()),
            expired: false,
            expires_at: Some(expires),
            root: false,
            role_arn: Some(format!(
                "acs:ram::{}:role/{}",
                role.account_id, role.role_name
            )),
        },
    );
    let role_id = format!("3{}", random_chars(17, b"0123456789"));
    Ok(json!({
        "RequestId": request_id,
        "AssumedRoleUser": {
            "Arn": format!("acs:ram::{}:role/{}/{session}", role.account_id, role.role_name),
            "AssumedRoleId": format!("{role_id}:{session}"),
        },
        "Credentials": {
            "AccessKeyId": key_id,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": humantime::format_rfc3339_seconds(expires).to_string(),
        }
    }))
}

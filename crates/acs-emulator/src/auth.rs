//! Verification of the common parameters, in the order a gateway can check them: presence,
//! version and action, format, timestamp, key, token, signature, then nonce (only a request
//! with a valid signature consumes its nonce).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::journal::Service;
use super::state::State;
use super::wire::{redact, ApiError};
use acs_openapi::signing::{canonical_query, signature, string_to_sign};

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account_id: String,
    pub(crate) root: bool,
    /// For a role session, the role's ARN (what a trust policy can name).
    pub(crate) role_arn: Option<String>,
}

/// Actions each listener serves.
pub(crate) fn actions(service: Service) -> &'static [&'static str] {
    match service {
        Service::Config => &["GetDiscoveredResource", "GetAggregateDiscoveredResource"],
        Service::Ecs => &[
            "DescribeSecurityGroupAttribute",
            "RevokeSecurityGroup",
            "AuthorizeSecurityGroup",
            "DescribeSecurityGroups",
            "DescribeRegions",
        ],
        Service::Sts => &["AssumeRole"],
    }
}

/// Parses exactly `yyyy-MM-ddTHH:mm:ssZ` (no fractional seconds, no offset).
pub(crate) fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    humantime::parse_rfc3339(s).ok()
}

fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    match params.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::missing(name)),
    }
}

/// Checks everything but the business parameters. On success the nonce is recorded.
pub(crate) fn authenticate(
    state: &mut State,
    service: Service,
    method: &str,
    params: &BTreeMap<String, String>,
) -> Result<Caller, ApiError> {
    let action = required(params, "Action")?;
    let version = required(params, "Version")?;
    // The gateway finds an API by action *and* version: an unknown pair is
    // `404 InvalidAction.NotFound`, the answer a wrong endpoint, version or action gets
    // (project reference apis.md §3; see README.md).
    if version != service.version() {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!(
                "Specified api is not found, please check your url and method: {action} version {version} ({} serves version {}).",
                service.name(),
                service.version()
            ),
        ));
    }
    if !actions(service).contains(&action) {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api is not found, please check your url and method: {action}"),
        ));
    }
    for name in [
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "Format",
    ] {
        required(params, name)?;
    }
    if params["SignatureMethod"] != "HMAC-SHA1" {
        return Err(ApiError::invalid(
            "SignatureMethod",
            "only HMAC-SHA1 is supported with SignatureVersion 1.0",
        ));
    }
    if params["SignatureVersion"] != "1.0" {
        return Err(ApiError::invalid(
            "SignatureVersion",
            "only 1.0 is supported",
        ));
    }
    if !params["Format"].eq_ignore_ascii_case("JSON") {
        return Err(ApiError::invalid(
            "Format",
            "the emulator answers JSON only (the real service would answer XML, which a JSON client cannot read)",
        ));
    }
    let timestamp = &params["Timestamp"];
    let Some(at) = parse_timestamp(timestamp) else {
        return Err(ApiError::new(
            400,
            "IllegalTimestamp",
            format!("The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied or is malformed: {timestamp:?} is not yyyy-MM-ddTHH:mm:ssZ."),
        ));
    };
    let now = state.now();
    let skew = match now.duration_since(at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > Duration::from_secs(state.settings.clock_skew_secs) {
        return Err(ApiError::new(
            400,
            "InvalidTimeStamp.Expired",
            format!(
                "Specified time stamp or date value is expired: {timestamp} is {}s away from the server time {}.",
                skew.as_secs(),
                humantime::format_rfc3339_seconds(now)
            ),
        ));
    }

    let key_id = &params["AccessKeyId"];
    let Some(cred) = state.creds.get(key_id).cloned() else {
        return Err(ApiError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    };
    let sent_token = params.get("SecurityToken").filter(|t| !t.is_empty());
    match (&cred.token, sent_token) {
        (Some(_), None) => {
            return Err(ApiError::new(
                400,
                "MissingSecurityToken",
                "SecurityToken is mandatory for this access key.",
            ))
        }
        (Some(expected), Some(sent)) if expected != sent => {
            return Err(ApiError::new(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::new(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "A SecurityToken was sent for an access key that has none.",
            ))
        }
        _ => {}
    }
    let expired = cred.expired || cred.expires_at.is_some_and(|t| t <= now);
    if expired {
        return Err(if cred.token.is_some() {
            ApiError::new(
                400,
                "InvalidSecurityToken.Expired",
                "Specified SecurityToken is expired.",
            )
        } else {
            ApiError::new(
                400,
                "InvalidAccessKeyId.Inactive",
                "Specified access key is disabled.",
            )
        });
    }

    let sts = string_to_sign(method, &canonical_query(params));
    if signature(&cred.secret, &sts) != params["Signature"] {
        let message = format!(
            "Specified signature is not matched with our calculation. server string to sign is:{sts}"
        );
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            redact(&message, sent_token.map(String::as_str)),
        ));
    }

    let window = Duration::from_secs(state.settings.nonce_window_secs);
    state
        .nonces
        .retain(|_, seen| now.duration_since(*seen).unwrap_or_default() < window);
    let nonce_key = (key_id.clone(), params["SignatureNonce"].clone());
    if state.nonces.contains_key(&nonce_key) {
        return Err(ApiError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    state.nonces.insert(nonce_key, now);

    Ok(Caller {
        account_id: cred.account_id,
        root: cred.root,
        role_arn: cred.role_arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_must_have_the_exact_shape() {
        assert!(parse_timestamp("2024-05-01T08:00:00Z").is_some());
        for bad in [
            "2024-05-01T08:00:00.123Z",
            "2024-05-01T08:00:00+00:00",
            "2024-05-01 08:00:00Z",
            "2024-13-01T08:00:00Z",
            "2024-05-01T08%3A00%3A00Z",
            "",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad} must be refused");
        }
    }
}

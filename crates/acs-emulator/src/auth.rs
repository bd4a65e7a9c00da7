//! Verification of the common parameters, in the order a gateway can check them: presence,
//! version and action, format, timestamp, key, token, signature, then nonce (only a request
//! with a valid signature consumes its nonce).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::journal::Service;
use super::state::Cred;
use super::state::State;
use super::wire::{redact, ApiError};
use acs_openapi::acs3;
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
        Service::ActionTrail => &["LookupEvents"],
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

/// How a request was signed, read from it before anything is checked: the journal, fault
/// injection and error redaction need the action, key and token whichever way they came.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    /// `v2` (HMAC-SHA1, common parameters in the query) or `v3` (ACS3-HMAC-SHA256, an
    /// `Authorization` header and `x-acs-*` headers).
    pub(crate) version: &'static str,
    /// `Action` (V2) or `x-acs-action` (V3); empty when missing.
    pub(crate) action: String,
    /// `AccessKeyId` (V2) or the `Authorization` header's `Credential` (V3); empty when missing.
    pub(crate) access_key_id: String,
    /// `SecurityToken` (V2) or `x-acs-security-token` (V3).
    pub(crate) security_token: Option<String>,
    /// `SignatureNonce` (V2) or `x-acs-signature-nonce` (V3); empty when missing.
    pub(crate) nonce: String,
}

/// What a request carries: its decoded parameters (query, then a form body), its headers (names
/// in lower case, repeated values `,`-joined) and its raw body.
pub(crate) struct Received<'a> {
    pub(crate) method: &'a str,
    /// The query's pairs only (what V3's canonical query covers).
    pub(crate) query: &'a BTreeMap<String, String>,
    /// The query's and the form body's pairs (what V2's signature covers, and what the API reads).
    pub(crate) params: &'a BTreeMap<String, String>,
    pub(crate) headers: &'a BTreeMap<String, String>,
    pub(crate) body: &'a [u8],
}

impl Received<'_> {
    /// V3 when an `Authorization` header is present (the V3 documentation: the signature travels
    /// in it), else V2.
    pub(crate) fn signed(&self) -> Signed {
        let header = |name: &str| self.headers.get(name).cloned();
        let param = |name: &str| self.params.get(name).cloned();
        match self.headers.get("authorization") {
            Some(auth) => Signed {
                version: "v3",
                action: header("x-acs-action").unwrap_or_default(),
                access_key_id: acs3::Authorization::parse(auth)
                    .and_then(Result::ok)
                    .map(|a| a.credential.to_string())
                    .unwrap_or_default(),
                security_token: header("x-acs-security-token"),
                nonce: header("x-acs-signature-nonce").unwrap_or_default(),
            },
            None => Signed {
                version: "v2",
                action: param("Action").unwrap_or_default(),
                access_key_id: param("AccessKeyId").unwrap_or_default(),
                security_token: param("SecurityToken"),
                nonce: param("SignatureNonce").unwrap_or_default(),
            },
        }
    }
}

/// Checks everything but the business parameters, V2 or V3 as the request is signed. On success
/// the nonce is recorded.
pub(crate) fn authenticate(
    state: &mut State,
    service: Service,
    request: &Received<'_>,
) -> Result<Caller, ApiError> {
    match request.headers.get("authorization") {
        Some(auth) => authenticate_v3(state, service, request, auth),
        None => authenticate_v2(state, service, request.method, request.params),
    }
}

/// The gateway finds an API by action *and* version: an unknown pair is
/// `404 InvalidAction.NotFound`, the answer a wrong endpoint, version or action gets
/// (project reference apis.md §3; see README.md).
fn check_action(service: Service, action: &str, version: &str) -> Result<(), ApiError> {
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
    Ok(())
}

/// The request's time (`Timestamp` under V2, `x-acs-date` under V3): the exact shape, within
/// the clock skew the gateway allows (15 minutes, apis.md §9.2 and openapi-signing.md §3).
fn check_time(state: &State, name: &str, text: &str) -> Result<SystemTime, ApiError> {
    let Some(at) = parse_timestamp(text) else {
        return Err(ApiError::new(
            400,
            "IllegalTimestamp",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied or is malformed: {text:?} is not yyyy-MM-ddTHH:mm:ssZ."),
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
                "Specified time stamp or date value is expired: {text} is {}s away from the server time {}.",
                skew.as_secs(),
                humantime::format_rfc3339_seconds(now)
            ),
        ));
    }
    Ok(at)
}

/// The key, its token and whether it is still valid (apis.md §9.2's codes).
fn check_key(state: &State, key_id: &str, sent_token: Option<&str>) -> Result<Cred, ApiError> {
    let Some(cred) = state.creds.get(key_id).cloned() else {
        return Err(ApiError::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    };
    let sent_token = sent_token.filter(|t| !t.is_empty());
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
    let expired = cred.expired || cred.expires_at.is_some_and(|t| t <= state.now());
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
    Ok(cred)
}

/// `SignatureDoesNotMatch` with the server's string-to-sign, as the gateway words it (apis.md
/// §9.2), the token redacted.
fn signature_mismatch(string_to_sign: &str, token: Option<&str>) -> ApiError {
    let message = format!(
        "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
    );
    ApiError::new(400, "SignatureDoesNotMatch", redact(&message, token))
}

/// Records the nonce of a request whose signature verified; a nonce seen within the window is
/// `SignatureNonceUsed` (apis.md §9.2).
fn consume_nonce(state: &mut State, key_id: &str, nonce: &str) -> Result<(), ApiError> {
    let now = state.now();
    let window = Duration::from_secs(state.settings.nonce_window_secs);
    state
        .nonces
        .retain(|_, seen| now.duration_since(*seen).unwrap_or_default() < window);
    let nonce_key = (key_id.to_string(), nonce.to_string());
    if state.nonces.contains_key(&nonce_key) {
        return Err(ApiError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    state.nonces.insert(nonce_key, now);
    Ok(())
}

fn caller(cred: Cred) -> Caller {
    Caller {
        account_id: cred.account_id,
        root: cred.root,
        role_arn: cred.role_arn,
    }
}

/// V2 (HMAC-SHA1, openapi-signing.md §1): every common parameter in the parameters.
fn authenticate_v2(
    state: &mut State,
    service: Service,
    method: &str,
    params: &BTreeMap<String, String>,
) -> Result<Caller, ApiError> {
    let action = required(params, "Action")?;
    let version = required(params, "Version")?;
    check_action(service, action, version)?;
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
    check_time(state, "Timestamp", &params["Timestamp"])?;
    let key_id = &params["AccessKeyId"];
    let sent_token = params.get("SecurityToken").map(String::as_str);
    let cred = check_key(state, key_id, sent_token)?;
    let sts = string_to_sign(method, &canonical_query(params));
    if signature(&cred.secret, &sts) != params["Signature"] {
        return Err(signature_mismatch(&sts, sent_token));
    }
    consume_nonce(state, key_id, &params["SignatureNonce"])?;
    Ok(caller(cred))
}

/// `IncompleteSignature` (apis.md §9.2: "the request signature does not conform to Aliyun
/// standards"): what the gateway answers an `Authorization` it cannot use.
fn incomplete(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        400,
        "IncompleteSignature",
        format!("The request signature does not conform to Aliyun standards: {why}."),
    )
}

/// V3 (ACS3-HMAC-SHA256, openapi-signing.md §3 and
/// <https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>):
/// the common parameters in `x-acs-*` headers, the signature in `Authorization`.
fn authenticate_v3(
    state: &mut State,
    service: Service,
    request: &Received<'_>,
    authorization: &str,
) -> Result<Caller, ApiError> {
    let auth = match acs3::Authorization::parse(authorization) {
        None => {
            return Err(incomplete(format!(
                "the Authorization scheme must be {}",
                acs3::ALGORITHM
            )))
        }
        Some(Err(part)) => {
            return Err(incomplete(format!(
                "the Authorization header has no {part}"
            )))
        }
        Some(Ok(auth)) => auth,
    };
    let header = |name: &str| match request.headers.get(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim()),
        _ => Err(ApiError::missing(name)),
    };
    let action = header("x-acs-action")?;
    let version = header("x-acs-version")?;
    check_action(service, action, version)?;
    let date = header("x-acs-date")?;
    let nonce = header("x-acs-signature-nonce")?;
    let hashed = header("x-acs-content-sha256")?;
    // The documentation: `host` and every `x-acs-*` header sent are signed; a header named in
    // SignedHeaders must be in the request. The names are lower case and sorted.
    let signed: BTreeMap<String, String> = auth
        .signed_headers
        .iter()
        .map(|name| match request.headers.get(*name) {
            Some(value) => Ok((name.to_string(), value.trim().to_string())),
            None => Err(incomplete(format!(
                "the signed header {name:?} is not in the request"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let names_in_order = auth.signed_headers.windows(2).all(|pair| pair[0] < pair[1]);
    if !names_in_order
        || auth
            .signed_headers
            .iter()
            .any(|n| n.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete(
            "SignedHeaders must be lower case, sorted, without repeats",
        ));
    }
    if let Some(unsigned) = request
        .headers
        .keys()
        .filter(|name| name.as_str() == "host" || name.starts_with("x-acs-"))
        .find(|name| !signed.contains_key(name.as_str()))
    {
        return Err(incomplete(format!(
            "the header {unsigned:?} is sent but not signed"
        )));
    }
    check_time(state, "x-acs-date", date)?;
    let token = request
        .headers
        .get("x-acs-security-token")
        .map(String::as_str);
    let cred = check_key(state, auth.credential, token)?;
    if let Some(id) = request.headers.get("x-acs-accesskey-id") {
        if id != auth.credential {
            return Err(incomplete("x-acs-accesskey-id is not the Credential"));
        }
    }
    // The hashed payload is part of what is signed; the gateway hashes the body it received, so
    // a body that is not the one hashed cannot match the signature. No dedicated code is
    // documented for it: SignatureDoesNotMatch.
    if acs3::hashed_payload(request.body) != hashed.to_ascii_lowercase() {
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation: x-acs-content-sha256 is not the SHA-256 of the request body.",
        ));
    }
    let canonical = acs3::canonical_request(
        request.method,
        &acs3::canonical_query(request.query),
        &signed,
        hashed,
    );
    let sts = acs3::string_to_sign(&canonical);
    if acs3::signature(&cred.secret, &sts) != auth.signature {
        return Err(signature_mismatch(&sts, token));
    }
    consume_nonce(state, auth.credential, nonce)?;
    Ok(caller(cred))
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

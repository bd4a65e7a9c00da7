//! STS `AssumeRole` for cross-account remediation, with a credential cache.
//!
//! STS throttles per caller ("user flow control"), and a warm function instance handles many
//! invocations, so assumed credentials are cached per (role, caller credentials) until five
//! minutes before they expire. The caller is identified by a hash of its *whole* credentials
//! (key id, secret and token), never by the key id alone: a request that knows only the key id
//! must not be handed the role credentials another request paid for with the right secret.
//!
//! The cache is bounded: at most [`MAX_CACHED`] credentials, the least recently used out first,
//! each gone once it is no longer fresh. Every credential it holds is registered with the
//! process's [`Scrubber`] until it expires, and registered again on every hit, so a cached
//! token an answer echoes on a later invocation is still masked. A credential that leaves the
//! cache early (least recently used) stays registered until its expiry too: an invocation that
//! took it may still be using it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::{call, Api};
use acs_openapi::credentials::{Credentials, Scrubber};
use acs_openapi::json::{text, Object};
use acs_openapi::response::{Envelope, Reply};
use acs_openapi::{ApiError, CallContext, Client, Endpoint, Params};

/// Borrows a member account's role (`CROSS_ACCOUNT_ROLE_NAME`) to remediate its groups.
pub const ASSUME_ROLE: Api = Api {
    service: "sts",
    action: "AssumeRole",
    version: "2015-04-01",
};

/// Cached credentials are re-assumed this long before they expire.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Credentials obtained from AssumeRole. `Debug` never prints the secret or the token.
#[derive(Debug, Clone, PartialEq)]
pub struct AssumedRole {
    /// The temporary key for the member account.
    pub credentials: Credentials,
    /// When the key stops working; the cache refreshes it before then.
    pub expiration: SystemTime,
    /// Kept for the resource's `apiRequestIds`.
    pub request_id: Option<String>,
}

/// `acs:ram::<account>:role/<name>`.
pub fn role_arn(account_id: &str, role_name: &str) -> String {
    format!("acs:ram::{account_id}:role/{role_name}")
}

/// A `RoleSessionName` naming the function: `sg-remediator-<fn>`, restricted to
/// `[A-Za-z0-9.@_-]` and 64 characters (2 at least, which the prefix guarantees).
pub fn session_name(function_name: &str) -> String {
    let cleaned: String = function_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '_' | '-'))
        .collect();
    let mut name = if cleaned.is_empty() {
        "sg-remediator".to_string()
    } else {
        format!("sg-remediator-{cleaned}")
    };
    name.truncate(64);
    name
}

/// Calls AssumeRole with the caller's credentials from `cx`.
pub async fn assume_role(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    role_arn: &str,
    session_name: &str,
    duration_seconds: u32,
) -> Result<AssumedRole, ApiError> {
    let mut params = Params::new();
    params.insert("RoleArn".into(), role_arn.into());
    params.insert("RoleSessionName".into(), session_name.into());
    params.insert("DurationSeconds".into(), duration_seconds.to_string());
    let answer = call::<AssumeRoleAnswer>(client, cx, endpoint, ASSUME_ROLE, params)
        .await
        .result?;
    assumed_role(answer.value, answer.request_id)
}

/// An AssumeRole answer (`sts-20150401/client/assume_role_response_body_model.go`).
#[derive(Deserialize)]
struct AssumeRoleAnswer {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(rename = "Credentials", default)]
    credentials: Option<Object<AnswerCredentials>>,
}

impl Reply for AssumeRoleAnswer {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

/// The answer's `Credentials`. No `Debug`: it holds a secret.
#[derive(Deserialize)]
struct AnswerCredentials {
    #[serde(rename = "AccessKeyId", default, deserialize_with = "text")]
    access_key_id: Option<String>,
    #[serde(rename = "AccessKeySecret", default, deserialize_with = "text")]
    access_key_secret: Option<String>,
    #[serde(rename = "SecurityToken", default, deserialize_with = "text")]
    security_token: Option<String>,
    #[serde(rename = "Expiration", default, deserialize_with = "text")]
    expiration: Option<String>,
}

/// Reads an AssumeRole answer from its bytes (as a successful answer: an error body is its
/// error). `request_id` is the call's; the answer's own `RequestId` is used when it is `None`.
pub fn parse_assumed_role(
    body: &[u8],
    request_id: Option<String>,
) -> Result<AssumedRole, ApiError> {
    let (answer, answered_id) = acs_openapi::response::read_response::<AssumeRoleAnswer>(
        200,
        body,
        None,
        &Default::default(),
    )?;
    assumed_role(answer, request_id.or(answered_id))
}

/// The credentials of an answer. Errors name fields only: the answer holds a secret.
fn assumed_role(
    answer: AssumeRoleAnswer,
    request_id: Option<String>,
) -> Result<AssumedRole, ApiError> {
    let decode = |detail: &str| ApiError::Decode {
        status: 200,
        detail: format!("AssumeRole response: {detail}"),
    };
    let Object(creds) = answer
        .credentials
        .ok_or_else(|| decode("no Credentials object"))?;
    let get = |v: Option<String>, name: &str| v.ok_or_else(|| decode(&format!("no {name}")));
    let access_key_id = get(creds.access_key_id, "AccessKeyId")?;
    let secret = get(creds.access_key_secret, "AccessKeySecret")?;
    let token = get(creds.security_token, "SecurityToken")?;
    let expiration = humantime::parse_rfc3339(get(creds.expiration, "Expiration")?.trim())
        .map_err(|_| decode("Expiration is not an RFC 3339 UTC time"))?;
    Ok(AssumedRole {
        credentials: Credentials::new(access_key_id, secret, Some(token)),
        expiration,
        request_id,
    })
}

/// Where the cache reads the time (injectable so tests can move it).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// SHA-256 of the caller's key id, secret and token (each length-prefixed): the cache key.
/// Only the hash is kept, so the cache holds no copy of the caller's secret.
pub fn caller_fingerprint(caller: &Credentials) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let token = caller.security_token.as_ref().map(|t| t.expose());
    for part in [
        Some(caller.access_key_id.as_str()),
        Some(caller.access_key_secret.expose()),
        token,
    ] {
        match part {
            Some(p) => {
                h.update((p.len() as u64).to_be_bytes());
                h.update(p.as_bytes());
            }
            None => h.update(u64::MAX.to_be_bytes()),
        }
    }
    h.finalize().into()
}

/// The most credentials the cache holds: one per (member account role, caller credentials)
/// pair, far more member accounts than a resource directory usually has.
pub const MAX_CACHED: usize = 1024;

/// One cached credential and when it was last handed out (for least-recently-used eviction).
struct Entry {
    assumed: AssumedRole,
    last_used: u64,
}

/// Assumed-role credentials by (role ARN, hash of the caller's credentials), reused until
/// [`REFRESH_BEFORE_EXPIRY`] before they expire, at most [`MAX_CACHED`] of them. Concurrent
/// misses may both call AssumeRole; the later answer wins, and both are valid (and both are
/// registered with the scrubber).
pub struct CredentialCache {
    entries: Mutex<Entries>,
    clock: Clock,
    scrubber: Scrubber,
}

#[derive(Default)]
struct Entries {
    map: HashMap<(String, [u8; 32]), Entry>,
    /// A counter standing for "now" in `last_used`.
    uses: u64,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.map.len()).unwrap_or(0);
        f.debug_struct("CredentialCache")
            .field("entries", &n)
            .finish()
    }
}

impl CredentialCache {
    /// An empty cache on the system clock, registering what it holds with `scrubber`.
    pub fn new(scrubber: Scrubber) -> Self {
        Self::with_clock(scrubber, Arc::new(SystemTime::now))
    }

    /// An empty cache reading the time from `clock` (tests move it to make entries expire).
    pub fn with_clock(scrubber: Scrubber, clock: Clock) -> Self {
        CredentialCache {
            entries: Mutex::new(Entries::default()),
            clock,
            scrubber,
        }
    }

    /// How many credentials the cache holds.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `assumed` masked in every output until it expires.
    fn register(&self, assumed: &AssumedRole, now: SystemTime) {
        let left = assumed.expiration.duration_since(now).unwrap_or_default();
        self.scrubber
            .register(&assumed.credentials, Instant::now().checked_add(left));
    }

    /// Cached credentials for `role_arn` assumed by exactly these caller credentials, still
    /// valid for more than five minutes. A hit counts as a use (and registers the credentials
    /// with the scrubber again).
    pub fn cached(&self, role_arn: &str, caller: &Credentials) -> Option<AssumedRole> {
        let now = (self.clock)();
        let mut entries = self.lock();
        let use_ = entries.uses + 1;
        entries.uses = use_;
        let hit = entries
            .map
            .get_mut(&(role_arn.to_string(), caller_fingerprint(caller)))
            .filter(|e| fresh(&e.assumed, now))?;
        hit.last_used = use_;
        let assumed = hit.assumed.clone();
        drop(entries);
        self.register(&assumed, now);
        Some(assumed)
    }

    /// Caches `assumed`: entries no longer fresh go first, then, while the cache is full, the
    /// least recently used.
    pub fn insert(&self, role_arn: &str, caller: &Credentials, assumed: AssumedRole) {
        let now = (self.clock)();
        self.register(&assumed, now);
        let key = (role_arn.to_string(), caller_fingerprint(caller));
        let mut entries = self.lock();
        entries.map.retain(|_, e| fresh(&e.assumed, now));
        while entries.map.len() >= MAX_CACHED && !entries.map.contains_key(&key) {
            let Some(oldest) = entries
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            entries.map.remove(&oldest);
        }
        let use_ = entries.uses + 1;
        entries.uses = use_;
        entries.map.insert(
            key,
            Entry {
                assumed,
                last_used: use_,
            },
        );
    }

    /// The cached credentials, or new ones from AssumeRole (then cached).
    pub async fn get_or_assume(
        &self,
        client: &Client,
        cx: &CallContext<'_>,
        endpoint: &Endpoint,
        role_arn: &str,
        session_name: &str,
        duration_seconds: u32,
    ) -> Result<AssumedRole, ApiError> {
        if let Some(hit) = self.cached(role_arn, cx.credentials) {
            return Ok(hit);
        }
        let assumed = assume_role(
            client,
            cx,
            endpoint,
            role_arn,
            session_name,
            duration_seconds,
        )
        .await?;
        self.insert(role_arn, cx.credentials, assumed.clone());
        Ok(assumed)
    }
}

fn fresh(entry: &AssumedRole, now: SystemTime) -> bool {
    entry
        .expiration
        .duration_since(now)
        .is_ok_and(|left| left > REFRESH_BEFORE_EXPIRY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_names_keep_only_allowed_characters() {
        assert_eq!(session_name("remediate sg/π!"), "sg-remediator-remediatesg");
        assert_eq!(session_name("fn_1.a@b-c"), "sg-remediator-fn_1.a@b-c");
        assert_eq!(session_name(""), "sg-remediator");
        assert_eq!(session_name("ü"), "sg-remediator");
    }

    #[test]
    fn session_names_are_at_most_64_characters() {
        let name = session_name(&"x".repeat(200));
        assert_eq!(name.len(), 64);
        assert!(name.starts_with("sg-remediator-x"));
    }

    #[test]
    fn role_arns_follow_the_ram_format() {
        assert_eq!(
            role_arn("1234567890123456", "sg-remediation"),
            "acs:ram::1234567890123456:role/sg-remediation"
        );
    }

    #[test]
    fn an_assume_role_response_parses_into_credentials_and_expiry() {
        let body = json!({"RequestId": "R", "Credentials": {"AccessKeyId": "STS.x",
            "AccessKeySecret": "s3cret", "SecurityToken": "tok+/=", "Expiration": "2024-05-01T09:00:03Z"}});
        let r = parse_assumed_role(body.to_string().as_bytes(), None).unwrap();
        assert_eq!(r.credentials.access_key_id, "STS.x");
        assert_eq!(r.credentials.access_key_secret.expose(), "s3cret");
        assert_eq!(
            r.credentials.security_token.as_ref().map(|t| t.expose()),
            Some("tok+/=")
        );
        assert_eq!(
            r.expiration,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_554_003)
        );
        assert_eq!(r.request_id.as_deref(), Some("R"));
        assert!(!format!("{r:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_expiration_is_an_error_that_does_not_quote_the_secret() {
        let body = json!({"Credentials": {"AccessKeyId": "STS.x", "AccessKeySecret": "s3cret",
            "SecurityToken": "t", "Expiration": "soon"}});
        let err = parse_assumed_role(body.to_string().as_bytes(), None).unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
        assert!(err.to_string().contains("Expiration"));
    }

    #[test]
    fn a_response_without_a_token_is_an_error() {
        let body = json!({"Credentials": {"AccessKeyId": "STS.x", "AccessKeySecret": "s",
            "Expiration": "2024-05-01T09:00:03Z"}});
        assert!(parse_assumed_role(body.to_string().as_bytes(), None).is_err());
    }

    fn entry(expires_in: Duration, now: SystemTime) -> AssumedRole {
        // `fresh` reads only the expiry.
        AssumedRole {
            credentials: Credentials::new("STS.x", "s", Some("t".into())),
            expiration: now + expires_in,
            request_id: None,
        }
    }

    #[test]
    fn credentials_are_fresh_until_five_minutes_before_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(fresh(&entry(Duration::from_secs(301), now), now));
        assert!(!fresh(&entry(Duration::from_secs(300), now), now));
        assert!(!fresh(&entry(Duration::from_secs(10), now), now));
    }

    fn assumed(i: usize, expires_in: Duration, now: SystemTime) -> AssumedRole {
        AssumedRole {
            credentials: Credentials::new(
                format!("STS.{i}"),
                format!("{i:04}-member-secret-{i:08}"),
                Some(format!("CAIS+{i:06}/member-token-{i:012}==")),
            ),
            expiration: now + expires_in,
            request_id: None,
        }
    }

    fn fixed_clock(at: SystemTime) -> Clock {
        Arc::new(move || at)
    }

    #[test]
    fn the_cache_holds_at_most_1024_and_the_least_recently_used_goes_first() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let cache = CredentialCache::with_clock(Scrubber::new(), fixed_clock(now));
        let caller = Credentials::new("STS.fn", "fn-secret-0123456789", None);
        let hour = Duration::from_secs(3600);
        for i in 0..MAX_CACHED {
            cache.insert(&format!("role-{i}"), &caller, assumed(i, hour, now));
        }
        // Role 0 is used again, so role 1 is now the least recently used.
        assert!(cache.cached("role-0", &caller).is_some());
        cache.insert("role-new", &caller, assumed(5000, hour, now));
        assert_eq!(cache.len(), MAX_CACHED);
        assert!(cache.cached("role-0", &caller).is_some());
        assert!(cache.cached("role-1", &caller).is_none());
        assert!(cache.cached("role-2", &caller).is_some());
        assert!(cache.cached("role-new", &caller).is_some());
    }

    #[test]
    fn an_entry_is_gone_once_it_is_no_longer_fresh() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let now = Arc::new(Mutex::new(start));
        let clock = {
            let now = Arc::clone(&now);
            Arc::new(move || *now.lock().unwrap()) as Clock
        };
        let cache = CredentialCache::with_clock(Scrubber::new(), clock);
        let caller = Credentials::new("STS.fn", "fn-secret-0123456789", None);
        cache.insert(
            "role-a",
            &caller,
            assumed(1, Duration::from_secs(600), start),
        );
        assert!(cache.cached("role-a", &caller).is_some());
        *now.lock().unwrap() = start + Duration::from_secs(301);
        assert!(cache.cached("role-a", &caller).is_none());
        cache.insert(
            "role-b",
            &caller,
            assumed(2, Duration::from_secs(3600), start),
        );
        assert_eq!(cache.len(), 1, "the stale entry was dropped");
    }

    #[test]
    fn cached_credentials_are_registered_with_the_scrubber_and_stay_masked() {
        let now = SystemTime::now();
        let scrubber = Scrubber::new();
        let cache = CredentialCache::with_clock(scrubber.clone(), fixed_clock(now));
        let caller = Credentials::new("STS.fn", "fn-secret-0123456789", None);
        let a = assumed(7, Duration::from_secs(3600), now);
        let token = a.credentials.security_token.clone().unwrap();
        cache.insert("role-a", &caller, a);
        let echo = format!("echo {}", &token.expose()[3..20]);
        assert_eq!(scrubber.scrub(&echo), "echo ***");
        // Hundreds of other secrets registered since do not push it out.
        for i in 0..500 {
            scrubber.register(
                &assumed(100 + i, Duration::from_secs(3600), now).credentials,
                None,
            );
        }
        assert!(cache.cached("role-a", &caller).is_some());
        assert_eq!(scrubber.scrub(&echo), "echo ***");
    }
}

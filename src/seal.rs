//! Restore seals: proof that a rule is one this deployment revoked, exactly as it was, where it
//! was.
//!
//! A restore re-opens ports, so whoever may invoke the function must not be able to restore a
//! rule it made up. With `RESTORE_SEAL_KEY` set, every rule a report lists as revoked (or as
//! possibly revoked, `unverifiedRules`) carries a `Seal`: an HMAC-SHA256, under that key, of a
//! canonical text naming the account, the region, the security group, the revoke time and every
//! attribute of the rule. A restore event is accepted only when each of its rules carries a seal
//! that verifies for the account, region and group the event names, and that is not older than
//! `RESTORE_MAX_AGE`. Changing any attribute (a port, the source, the policy), moving the rule to
//! another group, region or account, or inventing a rule breaks the seal; only the key holder (this
//! deployment) can make one.
//!
//! # The seal
//!
//! `v1.<revoke time, Unix seconds>.<MAC, base64url without padding>`, where the MAC covers
//! (each line `name=<byte length>:<value>`, or `name=-` when absent, so no two inputs share a text):
//!
//! ```text
//! sg-remediator restore seal v1
//! account=…            the resource's account UID ("" when unknown)
//! region=…             lower case
//! group=…              lower case
//! revokedAt=…          decimal Unix seconds, as in the seal
//! SecurityGroupRuleId=… Direction=… … CreateTime=…   every rule attribute, in the report's form
//! ```
//!
//! A rule *added* by a narrowing (`narrowedRules[].added`) is sealed the same way under another
//! first line, `sg-remediator added-rule seal v1`, and `revokedAt=` is the time it was added: a
//! restore revokes such a rule only with this seal, so a seal of a revoked rule can never make a
//! restore delete anything, nor an added rule's seal make it re-authorize anything.
//!
//! The rule attributes are those of [`Permission::to_json`] (the report's `revokedRules` form),
//! so the rule a restore event carries is re-read and re-rendered before checking, and a rule that
//! reads back differently does not verify.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::SealKey;
use crate::rules::{Permission, FIELDS};

/// The version prefix of every seal this build makes and accepts.
const VERSION: &str = "v1";
/// A seal dated this far in the future (clock skew between instances) is still accepted.
const FUTURE_SKEW: Duration = Duration::from_secs(300);

/// What a seal vouches for: which of a restore's two lists its rule may stand in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A rule this deployment revoked: a restore may authorize it again.
    Revoked,
    /// A rule this deployment added when it narrowed a rule: a restore may revoke it.
    Added,
}

impl Purpose {
    /// The first line of the sealed text.
    fn header(self) -> &'static str {
        match self {
            Purpose::Revoked => "sg-remediator restore seal v1\n",
            Purpose::Added => "sg-remediator added-rule seal v1\n",
        }
    }
}

/// Where a rule was revoked: the three things a seal binds a rule to.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The account the group belongs to.
    pub account: &'a str,
    /// The region of the group.
    pub region: &'a str,
    /// The security group the rule was revoked from.
    pub group: &'a str,
}

/// Why a restore entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the rule carries no Seal: only rules from a report of this deployment (made after RESTORE_SEAL_KEY was set) can be restored")]
    /// The entry has no `Seal`: it was not revoked by a sealing deployment, or the field was
    /// dropped.
    Missing,
    #[error("the Seal is not a seal of this function (expected v1.<time>.<mac>)")]
    /// The `Seal` is not of this format or version.
    Malformed,
    #[error("the Seal does not verify for this account, region, group and rule: the rule was altered, made up, or revoked elsewhere")]
    /// The `Seal` was made with another key or for another rule or place: the entry was altered or
    /// is forged.
    Mismatch,
    #[error(
        "the Seal is {} old, older than RESTORE_MAX_AGE ({})",
        humantime::format_duration(*age),
        humantime::format_duration(*max_age)
    )]
    /// The `Seal` is older than `RESTORE_MAX_AGE`: the group has likely been changed on purpose
    /// since, so putting an old rule back is refused.
    Expired {
        /// The seal's age, to the second.
        age: Duration,
        /// The configured `RESTORE_MAX_AGE`.
        max_age: Duration,
    },
    #[error("the Seal is dated in the future")]
    /// The `Seal` is dated after now (beyond the allowed clock skew): not one this deployment made.
    Future,
}

/// Makes and checks seals with the deployment's key.
#[derive(Clone)]
pub struct Sealer {
    key: SealKey,
    max_age: Duration,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer with the deployment's key; seals older than `max_age` are refused.
    pub fn new(key: SealKey, max_age: Duration) -> Self {
        Sealer { key, max_age }
    }

    fn mac(
        &self,
        purpose: Purpose,
        place: Place<'_>,
        rule: &Permission,
        revoked_at: u64,
    ) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.bytes())
            .expect("HMAC accepts a key of any length");
        mac.update(canonical(purpose, place, rule, revoked_at).as_bytes());
        mac
    }

    /// The seal of `rule`, revoked at `at` in `place`.
    pub fn seal(&self, place: Place<'_>, rule: &Permission, at: SystemTime) -> String {
        self.seal_for(Purpose::Revoked, place, rule, at)
    }

    /// The seal of `rule` for `purpose`, revoked (or added) at `at` in `place`.
    pub fn seal_for(
        &self,
        purpose: Purpose,
        place: Place<'_>,
        rule: &Permission,
        at: SystemTime,
    ) -> String {
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let tag = self.mac(purpose, place, rule, secs).finalize().into_bytes();
        format!(
            "{VERSION}.{secs}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks `seal` for `rule` in `place` at time `now`; returns the revoke time it carries.
    pub fn verify(
        &self,
        place: Place<'_>,
        rule: &Permission,
        seal: Option<&str>,
        now: SystemTime,
    ) -> Result<SystemTime, SealError> {
        self.verify_for(Purpose::Revoked, place, rule, seal, now)
    }

    /// Checks `seal` as a seal for `purpose` of `rule` in `place` at time `now`.
    pub fn verify_for(
        &self,
        purpose: Purpose,
        place: Place<'_>,
        rule: &Permission,
        seal: Option<&str>,
        now: SystemTime,
    ) -> Result<SystemTime, SealError> {
        let seal = seal.ok_or(SealError::Missing)?;
        let mut parts = seal.trim().splitn(3, '.');
        let (Some(VERSION), Some(secs), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let secs: u64 = secs
            .parse()
            .ok()
            .filter(|_| secs.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(SealError::Malformed)?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SealError::Malformed)?;
        self.mac(purpose, place, rule, secs)
            .verify_slice(&tag)
            .map_err(|_| SealError::Mismatch)?;
        let at = UNIX_EPOCH + Duration::from_secs(secs);
        match now.duration_since(at) {
            Ok(age) if age > self.max_age => Err(SealError::Expired {
                age: Duration::from_secs(age.as_secs()),
                max_age: self.max_age,
            }),
            Ok(_) => Ok(at),
            Err(ahead) if ahead.duration() <= FUTURE_SKEW => Ok(at),
            Err(_) => Err(SealError::Future),
        }
    }
}

/// The text the MAC covers (see the module docs).
fn canonical(purpose: Purpose, place: Place<'_>, rule: &Permission, revoked_at: u64) -> String {
    let mut text = String::from(purpose.header());
    let mut line = |name: &str, value: Option<&str>| match value {
        Some(v) => text.push_str(&format!("{name}={}:{v}\n", v.len())),
        None => text.push_str(&format!("{name}=-\n")),
    };
    line("account", Some(place.account));
    line("region", Some(&place.region.to_ascii_lowercase()));
    line("group", Some(&place.group.to_ascii_lowercase()));
    line("revokedAt", Some(&revoked_at.to_string()));
    for spec in &FIELDS {
        line(spec.name, rule.text(spec.field).as_deref());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sealer() -> Sealer {
        Sealer::new(
            "3e8a1f5c9b2d7046e1c8a3f59d2b6074c8e1a5f39b7d2c6084e1a9f57c3b2d60"
                .parse()
                .unwrap(),
            Duration::from_secs(86_400),
        )
    }

    fn rule(port: &str) -> Permission {
        Permission::from_json(
            &json!({"SecurityGroupRuleId": "sgr-1", "Direction": "ingress",
            "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP", "PortRange": port,
            "SourceCidrIp": "0.0.0.0/0"}),
        )
        .unwrap()
    }

    const HERE: Place<'static> = Place {
        account: "1",
        region: "cn-hangzhou",
        group: "sg-1",
    };

    #[test]
    fn a_seal_verifies_for_the_same_rule_and_place() {
        let now = SystemTime::now();
        let seal = sealer().seal(HERE, &rule("22/22"), now);
        assert!(seal.starts_with("v1."));
        assert!(sealer()
            .verify(HERE, &rule("22/22"), Some(&seal), now)
            .is_ok());
    }

    #[test]
    fn a_seal_does_not_verify_for_another_attribute_group_region_account_or_key() {
        let now = SystemTime::now();
        let seal = sealer().seal(HERE, &rule("22/22"), now);
        let check = |place, r: &Permission| sealer().verify(place, r, Some(&seal), now);
        assert_eq!(check(HERE, &rule("1/65535")), Err(SealError::Mismatch));
        for place in [
            Place {
                group: "sg-2",
                ..HERE
            },
            Place {
                region: "cn-beijing",
                ..HERE
            },
            Place {
                account: "2",
                ..HERE
            },
        ] {
            assert_eq!(check(place, &rule("22/22")), Err(SealError::Mismatch));
        }
        let other = Sealer::new(
            "a94f0e7d3c2b81567f0e9d8c7b6a5f4e3d2c1b0a99887766f5e4d3c2b1a09f8e"
                .parse()
                .unwrap(),
            Duration::from_secs(60),
        );
        assert_eq!(
            other.verify(HERE, &rule("22/22"), Some(&seal), now),
            Err(SealError::Mismatch)
        );
    }

    #[test]
    fn a_seal_stands_only_for_its_own_purpose() {
        let now = SystemTime::now();
        let s = sealer();
        let revoked = s.seal(HERE, &rule("22/22"), now);
        let added = s.seal_for(Purpose::Added, HERE, &rule("22/22"), now);
        assert_ne!(revoked, added);
        let check =
            |purpose, seal: &str| s.verify_for(purpose, HERE, &rule("22/22"), Some(seal), now);
        assert!(check(Purpose::Added, &added).is_ok());
        assert_eq!(check(Purpose::Added, &revoked), Err(SealError::Mismatch));
        assert_eq!(check(Purpose::Revoked, &added), Err(SealError::Mismatch));
    }

    #[test]
    fn the_expiry_message_gives_both_durations_precisely_enough_to_compare() {
        let short = Sealer::new(
            "0d1c2b3a49586776a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e"
                .parse()
                .unwrap(),
            Duration::from_secs(1),
        );
        let now = SystemTime::now();
        let seal = short.seal(HERE, &rule("22/22"), now - Duration::from_secs(3));
        let err = short
            .verify(HERE, &rule("22/22"), Some(&seal), now)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Seal is 3s old, older than RESTORE_MAX_AGE (1s)"
        );
        let week = Sealer::new(
            "0d1c2b3a49586776a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e"
                .parse()
                .unwrap(),
            Duration::from_secs(7 * 86_400),
        );
        let at = now - Duration::from_secs(7 * 86_400 + 5400);
        let seal = week.seal(HERE, &rule("22/22"), at);
        let err = week
            .verify(HERE, &rule("22/22"), Some(&seal), now)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Seal is 7days 1h 30m old, older than RESTORE_MAX_AGE (7days)"
        );
    }

    #[test]
    fn an_old_a_future_a_missing_or_a_mangled_seal_is_refused() {
        let now = SystemTime::now();
        let old = sealer().seal(HERE, &rule("22/22"), now - Duration::from_secs(2 * 86_400));
        assert!(matches!(
            sealer().verify(HERE, &rule("22/22"), Some(&old), now),
            Err(SealError::Expired { .. })
        ));
        let future = sealer().seal(HERE, &rule("22/22"), now + Duration::from_secs(3600));
        assert_eq!(
            sealer().verify(HERE, &rule("22/22"), Some(&future), now),
            Err(SealError::Future)
        );
        assert_eq!(
            sealer().verify(HERE, &rule("22/22"), None, now),
            Err(SealError::Missing)
        );
        let good = sealer().seal(HERE, &rule("22/22"), now);
        let (_, tag) = good.rsplit_once('.').unwrap();
        let later = now.duration_since(UNIX_EPOCH).unwrap().as_secs() - 10;
        for bad in [
            "",
            "v1",
            "v2.1.x",
            &format!("v1.{later}.{tag}"),
            "v1.-1.AAAA",
        ] {
            assert!(
                sealer()
                    .verify(HERE, &rule("22/22"), Some(bad), now)
                    .is_err(),
                "{bad:?}"
            );
        }
    }
}

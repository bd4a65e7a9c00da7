//! Credentials for signing OpenAPI calls.
//!
//! FC hands every invocation fresh STS credentials in its request headers; AssumeRole hands out
//! more. The secret halves must never reach a log line or a response, so they live in [`Secret`],
//! whose `Debug` and `Display` print a placeholder and which has no `Serialize`.

use std::fmt;

/// A string that must not be printed: an AccessKeySecret or a SecurityToken.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An access key (usually STS: `STS.…` plus a security token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// Present for STS credentials; sent as `SecurityToken`.
    pub security_token: Option<Secret>,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
        security_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: Secret::new(access_key_secret),
            security_token: security_token.filter(|t| !t.is_empty()).map(Secret::new),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &self.access_key_secret)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret_or_the_token() {
        let c = Credentials::new(
            "STS.id",
            "very-secret-value",
            Some("token-value-xyz".into()),
        );
        let printed = format!("{c:?} {} {:?}", c.access_key_secret, c.security_token);
        assert!(printed.contains("STS.id"));
        assert!(!printed.contains("very-secret-value"));
        assert!(!printed.contains("token-value-xyz"));
    }

    #[test]
    fn an_empty_security_token_counts_as_none() {
        let c = Credentials::new("id", "secret", Some(String::new()));
        assert!(c.security_token.is_none());
    }
}

//! The function role's STS credentials, as FC hands them to one invocation.
//!
//! This is deliberately the runtime's own small type and not an OpenAPI client's: the runtime
//! only carries the three header values to the handler, and a product converts them into whatever
//! its client signs with (which is also where a product registers the secret with its own output
//! scrubbing). The secret halves are [`Secret`]s: `Debug` and `Display` print `***`, there is no
//! `Serialize`, and the runtime never logs them.

use std::fmt;

/// A value that must not be printed: an AccessKeySecret or a SecurityToken.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, to hand to a signer (never to a log line or a response).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
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

/// `x-fc-access-key-id` + `x-fc-access-key-secret` (+ `x-fc-security-token`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`STS.…`); not a secret.
    pub access_key_id: String,
    /// The access key secret.
    pub access_key_secret: Secret,
    /// The STS security token; `None` when FC sent none (or an empty one).
    pub security_token: Option<Secret>,
}

impl Credentials {
    /// Credentials from their three parts; an empty token counts as none.
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
    fn debug_and_display_never_print_the_secret_or_the_token() {
        let c = Credentials::new(
            "STS.id",
            "secret-value-1234567",
            Some("token-value-7654321".into()),
        );
        let debug = format!("{c:?}");
        assert!(debug.contains("STS.id"), "{debug}");
        assert!(!debug.contains("secret-value"), "{debug}");
        assert!(!debug.contains("token-value"), "{debug}");
        assert_eq!(c.access_key_secret.to_string(), "***");
        assert_eq!(c.access_key_secret.expose(), "secret-value-1234567");
    }

    #[test]
    fn an_empty_token_counts_as_none() {
        assert!(Credentials::new("id", "secret", Some(String::new()))
            .security_token
            .is_none());
    }
}

//! Where RPC calls go: one validated [`Endpoint`] type, parsed once at the edge (configuration,
//! a profile, a test) and trusted afterwards.
//!
//! An endpoint is `scheme://host[:port]` and nothing more: a path, query, fragment or user
//! information would change where the signed query (and its `SecurityToken`) is sent, so they
//! are refused. `https` is the normal scheme; `http` parses too, because an endpoint someone
//! configured explicitly (the local emulator) may be plain, but [`crate::Client`] refuses a
//! plain-http endpoint unless its settings allow it (`ClientSettings::allow_http`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A validated OpenAPI endpoint: `https://host[:port]` or `http://host[:port]`, the scheme in
/// lower case, no trailing slash.
///
/// Every call of a group takes its region's endpoint, so it is shared rather than copied: a
/// clone is a reference count.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    parts: Arc<Parts>,
}

/// What an endpoint is, parsed once.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Parts {
    /// `scheme://authority`.
    url: String,
    plain_http: bool,
    /// The authority, parsed once.
    authority: http::uri::Authority,
    /// The authority as the `host` header every call sends, made once: each call's header is a
    /// clone that shares its bytes.
    host_header: http::HeaderValue,
    /// `scheme://host[:port]/` as the HTTP client takes it, parsed once: each call's URL is a
    /// clone with the signed query set, so the host is not parsed again for every call.
    base: reqwest::Url,
}

/// Why a value is not an endpoint. `Display` is `"<value>" <problem>`, in words an operator can
/// act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} {problem}")]
pub struct EndpointError {
    /// The value refused, as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with an endpoint value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Neither `https://` nor `http://`.
    #[error("is not an endpoint URL; write it as https://host[:port]")]
    NotAnEndpointUrl,
    /// Something after the authority.
    #[error("has a path, query or fragment; give only scheme://host[:port]")]
    PathQueryOrFragment,
    /// `user@host`.
    #[error("contains user information; give only scheme://host[:port]")]
    UserInformation,
    /// `[::1` without its `]`.
    #[error("has an unclosed IPv6 bracket")]
    UnclosedIpv6Bracket,
    /// `[…]` that is not an IPv6 address.
    #[error("has an invalid IPv6 address")]
    InvalidIpv6Address,
    /// `[::1]x`.
    #[error("has text after the IPv6 address")]
    TextAfterIpv6Address,
    /// Empty, or a character outside `A-Z a-z 0-9 . -`, or a leading `.`/`-`, or a trailing `-`.
    #[error("has an invalid host name")]
    InvalidHostName,
    /// Not a number in 1..=65535.
    #[error("has an invalid port {0:?}")]
    InvalidPort(String),
}

impl EndpointError {
    /// The same problem, reported for `value` (e.g. the template a checked value came from).
    pub fn for_value(self, value: &str) -> EndpointError {
        EndpointError {
            value: value.to_string(),
            problem: self.problem,
        }
    }
}

impl Endpoint {
    /// Parses `https://host[:port][/]` or `http://host[:port][/]` (scheme in any case).
    pub fn parse(value: &str) -> Result<Endpoint, EndpointError> {
        let err = |problem| EndpointError {
            value: value.to_string(),
            problem,
        };
        let (scheme, rest) = if starts_with_ignore_case(value, "https://") {
            ("https://", &value["https://".len()..])
        } else if starts_with_ignore_case(value, "http://") {
            ("http://", &value["http://".len()..])
        } else {
            return Err(err(Problem::NotAnEndpointUrl));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(err(Problem::PathQueryOrFragment));
        }
        if authority.contains('@') {
            return Err(err(Problem::UserInformation));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (inside, after) = v6
                .split_once(']')
                .ok_or_else(|| err(Problem::UnclosedIpv6Bracket))?;
            if inside.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(err(Problem::InvalidIpv6Address));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| err(Problem::TextAfterIpv6Address))?,
                ),
            };
            (None, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (Some(h), Some(p)),
                None => (Some(authority), None),
            }
        };
        if let Some(host) = host {
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !host.starts_with(['.', '-'])
                && !host.ends_with('-');
            if !valid {
                return Err(err(Problem::InvalidHostName));
            }
        }
        if let Some(port) = port {
            match port.parse::<u16>() {
                Ok(p) if p > 0 => {}
                _ => return Err(err(Problem::InvalidPort(port.to_string()))),
            }
        }
        let url = format!("{scheme}{authority}");
        // Host names are case-insensitive; TLS and the pool see them in lower case.
        let authority = http::uri::Authority::try_from(authority.to_ascii_lowercase())
            .map_err(|_| err(Problem::InvalidHostName))?;
        let base = reqwest::Url::parse(&format!("{scheme}{authority}/"))
            .map_err(|_| err(Problem::InvalidHostName))?;
        let host_header = http::HeaderValue::from_str(authority.as_str())
            .map_err(|_| err(Problem::InvalidHostName))?;
        Ok(Endpoint {
            parts: Arc::new(Parts {
                url,
                plain_http: scheme == "http://",
                authority,
                host_header,
                base,
            }),
        })
    }

    /// `host[:port]` in lower case, parsed.
    pub fn authority(&self) -> &http::uri::Authority {
        &self.parts.authority
    }

    /// [`Endpoint::authority`] as a `host` header value.
    pub(crate) fn host_header(&self) -> &http::HeaderValue {
        &self.parts.host_header
    }

    /// The URL of one call: `scheme://host[:port]/?query`, `query` already percent-encoded
    /// (the signer's), which the URL keeps as it is.
    pub(crate) fn call_url(&self, query: Option<&str>) -> reqwest::Url {
        let mut url = self.parts.base.clone();
        url.set_query(query);
        url
    }

    /// `scheme://host[:port]`, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.parts.url
    }

    /// Whether this endpoint skips TLS (`http://`).
    pub fn is_plain_http(&self) -> bool {
        self.parts.plain_http
    }
}

fn starts_with_ignore_case(value: &str, prefix: &str) -> bool {
    value
        .as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.parts.url)
            .field("plain_http", &self.parts.plain_http)
            .finish_non_exhaustive()
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.url)
    }
}

impl AsRef<str> for Endpoint {
    fn as_ref(&self) -> &str {
        &self.parts.url
    }
}

impl PartialEq<str> for Endpoint {
    fn eq(&self, other: &str) -> bool {
        self.parts.url == other
    }
}

impl PartialEq<&str> for Endpoint {
    fn eq(&self, other: &&str) -> bool {
        self.parts.url == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(value: &str) -> Problem {
        Endpoint::parse(value).unwrap_err().problem
    }

    #[test]
    fn an_https_endpoint_is_kept_without_its_trailing_slash() {
        let e = Endpoint::parse("HTTPS://ecs.cn-hangzhou.aliyuncs.com/").unwrap();
        assert_eq!(e.as_str(), "https://ecs.cn-hangzhou.aliyuncs.com");
        assert!(!e.is_plain_http());
    }

    #[test]
    fn a_plain_http_endpoint_parses_and_says_so() {
        let e = Endpoint::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(e, "http://127.0.0.1:8080");
        assert!(e.is_plain_http());
    }

    #[test]
    fn an_ipv6_endpoint_with_a_port_parses() {
        let e = Endpoint::parse("http://[::1]:8443").unwrap();
        assert_eq!(e, "http://[::1]:8443");
    }

    #[test]
    fn a_bare_host_or_another_scheme_is_not_an_endpoint() {
        for bad in [
            "ecs.aliyuncs.com",
            "ftp://ecs.aliyuncs.com",
            "",
            " https://x",
        ] {
            assert_eq!(problem(bad), Problem::NotAnEndpointUrl, "{bad:?}");
        }
    }

    #[test]
    fn paths_queries_fragments_and_user_information_are_refused() {
        for bad in [
            "https://h/path",
            "https://h?x=1",
            "https://h/#x",
            "https://h//",
        ] {
            assert_eq!(problem(bad), Problem::PathQueryOrFragment, "{bad:?}");
        }
        assert_eq!(problem("https://user@h"), Problem::UserInformation);
    }

    #[test]
    fn host_names_and_ports_are_checked() {
        for bad in [
            "https://",
            "https://host name",
            "https://-h",
            "https://h-",
            "https://.h",
        ] {
            assert_eq!(problem(bad), Problem::InvalidHostName, "{bad:?}");
        }
        assert_eq!(problem("https://h:0"), Problem::InvalidPort("0".into()));
        assert_eq!(
            problem("https://h:99999"),
            Problem::InvalidPort("99999".into())
        );
        assert_eq!(problem("https://[::1"), Problem::UnclosedIpv6Bracket);
        assert_eq!(problem("https://[zz]"), Problem::InvalidIpv6Address);
        assert_eq!(problem("https://[::1]x"), Problem::TextAfterIpv6Address);
    }

    #[test]
    fn the_error_quotes_the_value_then_names_the_problem() {
        let e = Endpoint::parse("https://h/p").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"https://h/p\" has a path, query or fragment; give only scheme://host[:port]"
        );
        assert_eq!(
            e.for_value("https://{x}/p").to_string(),
            "\"https://{x}/p\" has a path, query or fragment; give only scheme://host[:port]"
        );
    }
}

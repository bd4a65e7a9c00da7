//! The runtime's own settings, parsed from the environment FC gives the instance.
//!
//! The runtime reads exactly three variables and nothing of the product's configuration:
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `FC_CUSTOM_LISTEN_PORT` | — | Set by FC: the port to listen on. Else `FC_SERVER_PORT`, else [`DEFAULT_LISTEN_PORT`]. `0` picks a free port (tests; the bound address is logged as `listening`). |
//! | `FC_SERVER_PORT` | — | The port Alibaba's own runtimes read, used when `FC_CUSTOM_LISTEN_PORT` is unset or empty. |
//! | `MAX_EVENT_BYTES` | [`DEFAULT_MAX_EVENT_BYTES`] | Larger request bodies are refused with `PayloadTooLarge`, 1 – [`MAX_MAX_EVENT_BYTES`]. |
//!
//! A bad value is an [`OptionsError`] whose `Display` is `<VARIABLE>: <problem>`, so a binary
//! can print it and exit non-zero before it listens, as FC expects of a failed start. An empty
//! port variable counts as unset (FC and Terraform pass `""` for "not set"); an empty
//! `MAX_EVENT_BYTES` is an error, because it is far more likely a mistake than a wish for the
//! default.

use std::time::Duration;

/// Port FC's custom runtime dials when neither port variable is set.
pub const DEFAULT_LISTEN_PORT: u16 = 9000;

/// Default request-body limit: 16 MiB, half of FC's 32 MB synchronous payload limit and far above
/// any event a function is sent in practice.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Upper bound for `MAX_EVENT_BYTES` (128 MiB): FC never delivers more than 32 MB.
pub const MAX_MAX_EVENT_BYTES: usize = 128 * 1024 * 1024;

/// Deadline budget when FC sends no (or no usable) `x-fc-function-timeout` header. The header is
/// observed on FC 3.0 but not documented; 60 s is FC 3.0's default function timeout, and a
/// deadline that is too generous only means work is not cut short early.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A client that has not sent a whole request head within this time is disconnected. FC sends
/// the head at once; a slow or stalled sender only ties up a connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole body must arrive within this time of the head (FC sends it at once, and at most
/// 32 MB). A stalled body is refused with `BodyReadTimeout`.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer whose writing makes no progress for this long (a client that never reads it) is
/// abandoned and its connection closed, so neither the connection nor SIGTERM's wait for
/// in-flight answers can be held open by a reader. FC reads an answer as it is written.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server needs to know. [`RuntimeOptions::from_env`] reads the environment; the
/// timeouts have no variable (their defaults are the constants of this module) and are fields so
/// that in-process tests can shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Port to bind on `0.0.0.0`; `0` picks a free one (tests).
    pub port: u16,
    /// Larger request bodies are refused with `PayloadTooLarge`.
    pub max_event_bytes: usize,
    /// Deadline budget when `x-fc-function-timeout` is absent.
    pub default_timeout: Duration,
    /// A request head must arrive within this time ([`HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
    /// A request body must arrive within this time of its head ([`BODY_READ_TIMEOUT`]).
    pub body_read_timeout: Duration,
    /// Writing an answer may stall (the client not reading) this long at most
    /// ([`WRITE_TIMEOUT`]).
    pub write_timeout: Duration,
}

impl Default for RuntimeOptions {
    /// What an empty environment gives.
    fn default() -> Self {
        RuntimeOptions {
            port: DEFAULT_LISTEN_PORT,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            default_timeout: DEFAULT_FUNCTION_TIMEOUT,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

impl RuntimeOptions {
    /// Parse the process environment.
    pub fn from_env() -> Result<Self, OptionsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parse from any name → value lookup (tests feed a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, OptionsError> {
        Ok(RuntimeOptions {
            port: listen_port(&lookup)?,
            max_event_bytes: max_event_bytes(&lookup)?,
            ..RuntimeOptions::default()
        })
    }
}

/// A runtime variable that cannot be used. `Display` is `<VARIABLE>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct OptionsError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, in words an operator can act on.
    pub problem: String,
}

/// `FC_CUSTOM_LISTEN_PORT` (documented), else `FC_SERVER_PORT` (what Alibaba's own runtimes
/// read), else 9000. An empty value falls through to the next source.
fn listen_port(lookup: &impl Fn(&str) -> Option<String>) -> Result<u16, OptionsError> {
    for variable in ["FC_CUSTOM_LISTEN_PORT", "FC_SERVER_PORT"] {
        if let Some(v) = lookup(variable).filter(|v| !v.is_empty()) {
            return parse_number(&v, 0, u64::from(u16::MAX))
                .map(|n| n as u16)
                .map_err(|problem| OptionsError { variable, problem });
        }
    }
    Ok(DEFAULT_LISTEN_PORT)
}

/// `MAX_EVENT_BYTES`, 1 ..= [`MAX_MAX_EVENT_BYTES`]; set but empty is an error.
fn max_event_bytes(lookup: &impl Fn(&str) -> Option<String>) -> Result<usize, OptionsError> {
    const VARIABLE: &str = "MAX_EVENT_BYTES";
    let err = |problem| OptionsError {
        variable: VARIABLE,
        problem,
    };
    match lookup(VARIABLE) {
        None => Ok(DEFAULT_MAX_EVENT_BYTES),
        Some(v) if v.trim().is_empty() => Err(err(format!(
            "is set but empty; unset it to use the default {:?}",
            DEFAULT_MAX_EVENT_BYTES.to_string()
        ))),
        Some(v) => parse_number(&v, 1, MAX_MAX_EVENT_BYTES as u64)
            .map(|n| n as usize)
            .map_err(err),
    }
}

/// A whole number in `min..=max` (surrounding spaces allowed), or the problem in words: the one
/// wording of a bad numeric variable, public so that a binary's own settings read numbers the
/// way the runtime reads its own (`<VARIABLE>: <problem>`).
pub fn parse_number(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{n} is outside the allowed range {min}..={max}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<RuntimeOptions, OptionsError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RuntimeOptions::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_port_9000_and_16_mib() {
        let o = parse(&[]).unwrap();
        assert_eq!(o, RuntimeOptions::default());
        assert_eq!(o.port, 9000);
        assert_eq!(o.max_event_bytes, 16 * 1024 * 1024);
        assert_eq!(o.default_timeout, Duration::from_secs(60));
    }

    #[test]
    fn the_listen_port_prefers_fc_custom_listen_port_then_fc_server_port() {
        let both = parse(&[
            ("FC_CUSTOM_LISTEN_PORT", "9100"),
            ("FC_SERVER_PORT", "9200"),
        ])
        .unwrap();
        assert_eq!(both.port, 9100);
        assert_eq!(parse(&[("FC_SERVER_PORT", "9200")]).unwrap().port, 9200);
        let empty_first =
            parse(&[("FC_CUSTOM_LISTEN_PORT", ""), ("FC_SERVER_PORT", "9200")]).unwrap();
        assert_eq!(empty_first.port, 9200);
    }

    #[test]
    fn port_0_is_accepted_for_an_ephemeral_port() {
        assert_eq!(parse(&[("FC_CUSTOM_LISTEN_PORT", "0")]).unwrap().port, 0);
    }

    #[test]
    fn max_event_bytes_accepts_its_bounds() {
        let at = |v| parse(&[("MAX_EVENT_BYTES", v)]).unwrap().max_event_bytes;
        assert_eq!(at("1"), 1);
        assert_eq!(at("134217728"), MAX_MAX_EVENT_BYTES);
    }

    #[test]
    fn every_bad_value_is_refused_naming_its_variable() {
        for (variable, value, problem) in [
            (
                "MAX_EVENT_BYTES",
                "0",
                "0 is outside the allowed range 1..=134217728",
            ),
            ("MAX_EVENT_BYTES", "-5", "\"-5\" is not a whole number"),
            (
                "MAX_EVENT_BYTES",
                "16MiB",
                "\"16MiB\" is not a whole number",
            ),
            (
                "MAX_EVENT_BYTES",
                "999999999999",
                "999999999999 is outside the allowed range 1..=134217728",
            ),
            (
                "MAX_EVENT_BYTES",
                " ",
                "is set but empty; unset it to use the default \"16777216\"",
            ),
            (
                "FC_CUSTOM_LISTEN_PORT",
                "70000",
                "70000 is outside the allowed range 0..=65535",
            ),
            ("FC_SERVER_PORT", "http", "\"http\" is not a whole number"),
        ] {
            let e = parse(&[(variable, value)]).expect_err(value);
            assert_eq!(e.variable, variable);
            assert_eq!(e.to_string(), format!("{variable}: {problem}"));
        }
    }
}

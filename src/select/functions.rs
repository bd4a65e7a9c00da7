//! Custom JMESPath functions: what plain JMESPath cannot say about a rule.
//!
//! JMESPath compares strings exactly, so it cannot tell that `0.0.0.0/0` and `0.0.0.0/00` are the
//! same network, or that `20/30` opens port 22. These functions parse the value with the same
//! code the rest of the crate uses ([`crate::rules`]), so the query and the Rust checks that
//! follow it can never disagree about what a CIDR or a port range means.
//!
//! Every function is total: a value of the wrong type, an empty string or text that does not
//! parse gives `false` rather than an error, because a rule we cannot read must not abort the
//! evaluation of a whole security group (unreadable rules are reported for review separately).
//!
//! | Function | Returns `true` when |
//! |---|---|
//! | `is_world(cidr)` | `cidr` is a CIDR block with prefix length 0 (`0.0.0.0/0`, `::/0`) |
//! | `opens_risky_port(port_range)` | the port range (`a/b`, `-1/-1` = every port) contains at least one configured risky port |
//! | `port_range_covers(port_range, port)` | the port range contains `port` (an integer 1–65535) |

use std::sync::Mutex;

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Rcvar, Runtime, SearchResult, Variable};

use crate::rules::{Cidr, PortRange, RiskyPorts};

/// Name of the function telling whether a CIDR is the whole internet of its family.
pub const IS_WORLD: &str = "is_world";
/// Name of the function telling whether a port range opens a configured risky port.
pub const OPENS_RISKY_PORT: &str = "opens_risky_port";
/// Name of the function telling whether a port range contains a given port.
pub const PORT_RANGE_COVERS: &str = "port_range_covers";

/// Whether `cidr` parses as a CIDR block with prefix length 0.
pub fn is_world(cidr: &str) -> bool {
    cidr.parse::<Cidr>().is_ok_and(|c| c.is_world())
}

/// Whether `range` (ECS `PortRange` text) opens at least one of `risky`.
pub fn opens_risky_port(range: &str, risky: &RiskyPorts) -> bool {
    let range = PortRange::parse(range);
    risky.spans().iter().any(|s| range.overlaps(*s))
}

/// Whether `range` (ECS `PortRange` text) contains `port`.
pub fn port_range_covers(range: &str, port: u16) -> bool {
    PortRange::parse(range).contains(port)
}

fn boolean(b: bool) -> SearchResult {
    Ok(Rcvar::new(Variable::Bool(b)))
}

fn as_str(v: &Rcvar) -> Option<&str> {
    v.as_string().map(String::as_str)
}

/// A JMESPath number that is an exact integer port (1–65535).
fn as_port(v: &Rcvar) -> Option<u16> {
    let n = v.as_number()?;
    (n.fract() == 0.0 && (1.0..=65535.0).contains(&n)).then_some(n as u16)
}

/// A runtime with the JMESPath builtins plus our functions, `opens_risky_port` bound to `risky`.
fn build_runtime(risky: RiskyPorts) -> Runtime {
    let mut rt = Runtime::new();
    rt.register_builtin_functions();
    rt.register_function(
        IS_WORLD,
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::Any], None),
            Box::new(|args: &[Rcvar], _: &mut Context<'_>| {
                boolean(as_str(&args[0]).is_some_and(is_world))
            }),
        )),
    );
    rt.register_function(
        OPENS_RISKY_PORT,
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::Any], None),
            Box::new(move |args: &[Rcvar], _: &mut Context<'_>| {
                boolean(as_str(&args[0]).is_some_and(|r| opens_risky_port(r, &risky)))
            }),
        )),
    );
    rt.register_function(
        PORT_RANGE_COVERS,
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::Any, ArgumentType::Any], None),
            Box::new(|args: &[Rcvar], _: &mut Context<'_>| {
                let covered = match (as_str(&args[0]), as_port(&args[1])) {
                    (Some(range), Some(port)) => port_range_covers(range, port),
                    _ => false,
                };
                boolean(covered)
            }),
        )),
    );
    rt
}

/// Runtimes already built, one per distinct risky-port configuration.
///
/// A compiled `Expression` borrows its `Runtime`, so the runtime must outlive every selector
/// that uses it; leaking it gives `Expression<'static>`, which is `Send + Sync` and can be shared
/// by every task. Interning by configuration bounds the leak to one small runtime per distinct
/// `RISKY_PORTS` value (exactly one in production, a handful in tests).
static RUNTIMES: Mutex<Vec<(RiskyPorts, &'static Runtime)>> = Mutex::new(Vec::new());

/// The shared runtime for `risky`, built on first use.
pub(crate) fn runtime_for(risky: &RiskyPorts) -> &'static Runtime {
    // A poisoned lock only means another thread panicked while pushing; the list is still valid.
    let mut runtimes = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, rt)) = runtimes.iter().find(|(r, _)| r == risky) {
        return rt;
    }
    let rt: &'static Runtime = Box::leak(Box::new(build_runtime(risky.clone())));
    runtimes.push((risky.clone(), rt));
    rt
}

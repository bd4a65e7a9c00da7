//! The default query evaluated natively: the same answer as running [`super::DEFAULT_QUERY`]
//! through JMESPath over the canonical document, without building that document.
//!
//! Why: building the document (18 keys and values per rule, each a reference-counted
//! JMESPath variable) and interpreting the query cost tens of microseconds per group, while the
//! default selection itself is a handful of comparisons per rule. A custom `RULE_SELECTOR` still
//! runs through JMESPath; only the built-in query takes this path.
//!
//! Each test below reads one conjunct of the query over the value the canonical document would
//! hold for the rule (see the module docs of [`super`]), with the same functions the JMESPath
//! runtime registers, so the two cannot disagree on what a CIDR or a port range means. The
//! property `the_native_default_query_selects_exactly_what_jmespath_selects` in
//! `tests/select_props.rs` checks the equivalence on generated groups, malformed values included.

use crate::rules::{Address, Permission, PortRange, RiskyPorts};

use super::functions::{is_world, opens_risky_port};

/// The ids [`super::DEFAULT_QUERY`] returns for `rules`, in order (`""` for a rule without one,
/// as the query's projection gives).
pub(super) fn default_query_ids(rules: &[Permission], risky: &RiskyPorts) -> Vec<String> {
    rules
        .iter()
        .filter(|p| selected(p, risky))
        .map(|p| {
            p.rule_id
                .as_ref()
                .map(|r| r.0.to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// `Direction == 'ingress' && Policy == 'accept' && (is_world(SourceCidrIp) ||
/// is_world(Ipv6SourceCidrIp)) && (IpProtocol == 'TCP' || … 'UDP' || … 'ALL') &&
/// PortRangeListId == '' && opens_risky_port(PortRange)`, over canonical values.
pub(super) fn selected(p: &Permission, risky: &RiskyPorts) -> bool {
    // Canonical Direction and Policy are the text trimmed and lower-cased, IpProtocol trimmed and
    // upper-cased: a case-insensitive comparison of the trimmed text is the same test.
    p.direction.as_str().trim().eq_ignore_ascii_case("ingress")
        && p.policy.as_str().trim().eq_ignore_ascii_case("accept")
        && (world(p.source_cidr.as_ref()) || world(p.ipv6_source_cidr.as_ref()))
        && ["TCP", "UDP", "ALL"]
            .iter()
            .any(|name| p.protocol.as_str().trim().eq_ignore_ascii_case(name))
        && p.port_range_list_id.as_deref().unwrap_or("").is_empty()
        && opens_risky(&p.port_range, risky)
}

/// `is_world(<canonical address text>)`.
fn world(address: Option<&Address>) -> bool {
    match address {
        None => is_world(""),
        // The canonical text of a parsed CIDR is its normal form, which parses back to it.
        Some(Address::Cidr(c)) => c.is_world(),
        Some(Address::Unparsed(s)) => is_world(s),
    }
}

/// `opens_risky_port(<canonical PortRange text>)`: the text is re-read by the function, so a
/// range that would not survive that (only possible when built by hand) takes the text path.
fn opens_risky(range: &PortRange, risky: &RiskyPorts) -> bool {
    match range {
        PortRange::All => risky.spans().iter().any(|s| range.overlaps(*s)),
        PortRange::Range { from, to } if 1 <= *from && from <= to => {
            risky.spans().iter().any(|s| range.overlaps(*s))
        }
        other => opens_risky_port(&other.to_string(), risky),
    }
}

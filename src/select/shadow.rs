//! Priority shadowing: whether higher-precedence Drop rules already deny what an Accept rule opens.
//!
//! ECS evaluates ingress rules by priority (1 is highest) and, at equal priority, Drop wins. An
//! Accept rule is *shadowed* when every (address family, L4 protocol, port) it exposes is denied
//! by Drop rules of equal or higher precedence. Coverage is computed per (family, protocol) as a
//! union of port intervals, so a risky span such as `8000-8080` costs one interval merge, not 81
//! port lookups.
//!
//! Every doubt resolves towards "not shadowed" (i.e. revoke): revoking an Accept rule that a Drop
//! rule already neutralises changes no traffic, while wrongly calling a rule shadowed would leave
//! the port open.

use crate::rules::{Address, Direction, Permission, Policy, PortRange, PortSpan, Protocol, RuleId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

fn family_of(a: &Address) -> Option<Family> {
    match a {
        Address::Cidr(c) if c.addr.is_ipv4() => Some(Family::V4),
        Address::Cidr(_) => Some(Family::V6),
        Address::Unparsed(_) => None,
    }
}

/// The address families an Accept rule admits traffic from (a source of either field counts).
fn source_families(p: &Permission) -> Vec<Family> {
    let mut out = Vec::with_capacity(2);
    for f in [&p.source_cidr, &p.ipv6_source_cidr]
        .into_iter()
        .flatten()
        .filter_map(family_of)
    {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// Whether a Drop rule's source is the whole internet of `family`.
fn denies_world_of(d: &Permission, family: Family) -> bool {
    [&d.source_cidr, &d.ipv6_source_cidr]
        .into_iter()
        .flatten()
        .any(|a| a.is_world() && family_of(a) == Some(family))
}

/// The L4 protocols whose ports an Accept rule opens. `ALL` opens both TCP and UDP.
fn l4_protocols(p: &Protocol) -> &'static [Protocol] {
    match p {
        Protocol::Tcp => &[Protocol::Tcp],
        Protocol::Udp => &[Protocol::Udp],
        Protocol::All => &[Protocol::Tcp, Protocol::Udp],
        _ => &[],
    }
}

fn interval(range: &PortRange) -> Option<(u16, u16)> {
    match range {
        PortRange::All => Some((1, 65535)),
        PortRange::Range { from, to } => Some((*from, *to)),
        PortRange::Unparsed(_) => None,
    }
}

/// A source-port or destination restriction that is not "everything".
fn restricts(v: &Option<crate::rules::Text>) -> bool {
    v.as_deref().is_some_and(|s| {
        let s = s.trim();
        !(s.is_empty() || s == "-1/-1" || s == "1/65535" || s == "0.0.0.0/0" || s == "::/0")
    })
}

fn nic(p: &Permission) -> String {
    p.nic_type
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The port interval a Drop rule denies on *every* destination, if it is a usable ingress Drop.
///
/// A Drop restricted by source port, destination address or a port list denies only part of the
/// traffic (or an unknown part), so it cannot shadow anything.
fn drop_interval(d: &Permission) -> Option<(u16, u16)> {
    if d.direction != Direction::Ingress
        || d.policy != Policy::Drop
        || d.port_range_list_id.is_some()
        || restricts(&d.source_port_range)
        || restricts(&d.dest_cidr)
        || restricts(&d.ipv6_dest_cidr)
    {
        return None;
    }
    interval(&d.port_range)
}

/// The outcome of checking one Accept rule against the Drop rules of its group.
pub(crate) enum Verdict {
    /// Everything in `targets` is denied; `by` lists the Drop rules that do it.
    Shadowed {
        by: Vec<RuleId>,
    },
    Exposed,
}

/// Checks whether `targets` (port spans of `accept`) are denied by the Drop rules in `rules`.
///
/// A rule without a parsed source family or without an L4 protocol cannot be judged here and is
/// never shadowed.
pub(crate) fn judge(accept: &Permission, targets: &[PortSpan], rules: &[Permission]) -> Verdict {
    let families = source_families(accept);
    let protocols = l4_protocols(&accept.protocol);
    if families.is_empty() || protocols.is_empty() || targets.is_empty() {
        return Verdict::Exposed;
    }
    let accept_nic = nic(accept);
    // Drop rules that outrank the Accept rule and deny something everywhere, with their interval.
    let drops: Vec<(&Permission, (u16, u16))> = rules
        .iter()
        .filter(|d| d.priority <= accept.priority && nic(d) == accept_nic)
        .filter_map(|d| drop_interval(d).map(|iv| (d, iv)))
        .collect();
    if drops.is_empty() {
        return Verdict::Exposed;
    }
    let mut by: Vec<RuleId> = Vec::new();
    let mut intervals: Vec<(u16, u16)> = Vec::with_capacity(drops.len());
    for &family in &families {
        for proto in protocols {
            intervals.clear();
            for (d, iv) in &drops {
                if d.protocol.covers(proto) && denies_world_of(d, family) {
                    intervals.push(*iv);
                    let relevant = targets.iter().any(|t| iv.0 <= t.to && t.from <= iv.1);
                    if relevant {
                        if let Some(id) = &d.rule_id {
                            if !by.contains(id) {
                                by.push(id.clone());
                            }
                        }
                    }
                }
            }
            if !targets.iter().all(|t| covered(&mut intervals, *t)) {
                return Verdict::Exposed;
            }
        }
    }
    by.sort();
    Verdict::Shadowed { by }
}

/// Whether the union of `intervals` contains every port of `span`. Sorts `intervals` in place.
fn covered(intervals: &mut [(u16, u16)], span: PortSpan) -> bool {
    intervals.sort_unstable();
    // `need` is the first port of `span` not yet known to be covered (u32: may pass 65535).
    let mut need = u32::from(span.from);
    for &(a, b) in intervals.iter() {
        if u32::from(a) > need {
            break;
        }
        need = need.max(u32::from(b) + 1);
        if need > u32::from(span.to) {
            return true;
        }
    }
    need > u32::from(span.to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(from: u16, to: u16) -> PortSpan {
        PortSpan { from, to }
    }

    #[test]
    fn adjacent_intervals_cover_a_span_together() {
        assert!(covered(&mut [(8041, 8080), (8000, 8040)], span(8000, 8080)));
    }

    #[test]
    fn a_gap_of_one_port_leaves_the_span_uncovered() {
        assert!(!covered(
            &mut [(8000, 8039), (8041, 8080)],
            span(8000, 8080)
        ));
    }

    #[test]
    fn an_interval_ending_at_65535_covers_the_top_port() {
        assert!(covered(&mut [(1, 65535)], span(65535, 65535)));
    }

    #[test]
    fn no_intervals_cover_nothing() {
        assert!(!covered(&mut [], span(22, 22)));
    }
}

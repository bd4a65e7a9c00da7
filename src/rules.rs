//! The security-group rule model: what a rule *is*, parsed once at the edge.
//!
//! Config snapshots and ECS responses disagree on types (`Priority` as `"1"` or `1`, `Policy` as
//! `Accept` or `accept`, empty strings for absent values). [`Permission`] absorbs those quirks
//! when it is read (a derived [`Record`], typed at the edge), so everything downstream
//! (selection, revoke, backup, restore) works with types. A value that cannot be understood is kept verbatim in an `Unparsed` variant rather
//! than dropped: a rule we cannot read must be reported for review, never silently ignored.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use acs_openapi::json::{kind, Object};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A rule field's text: a string that holds up to 24 bytes inline.
pub type Text = compact_str::CompactString;

/// A `SecurityGroupRuleId` (`sgr-…`): the key RevokeSecurityGroup deletes by. Held as [`Text`]:
/// ECS's ids (`sgr-` and 20 characters) fit inline, so reading, comparing and copying ids, which
/// every step does, costs no allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub Text);

impl RuleId {
    /// The id as ECS spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ingress` or `egress`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Traffic into the group's instances: the only direction this tool revokes.
    Ingress,
    /// Traffic out of the instances: never exposure to the internet, never revoked.
    Egress,
    /// A value ECS has no such name for, kept verbatim so the rule is reported, not ignored.
    Unparsed(String),
}

impl Direction {
    /// Reads a `Direction` value, case-insensitively; anything else is kept as `Unparsed`.
    pub fn parse(s: &str) -> Self {
        let t = s.trim();
        if t.eq_ignore_ascii_case("ingress") {
            Direction::Ingress
        } else if t.eq_ignore_ascii_case("egress") {
            Direction::Egress
        } else {
            Direction::Unparsed(s.to_string())
        }
    }
    /// The request spelling (`ingress`/`egress`).
    pub fn as_str(&self) -> &str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
            Direction::Unparsed(s) => s,
        }
    }
}

/// `Accept` or `Drop`. Responses capitalise, requests use lower case; compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Traffic is let in: the policy that exposes a port.
    Accept,
    /// Traffic is denied: such a rule can shadow an Accept rule of lower precedence.
    Drop,
    /// A value ECS has no such name for, kept verbatim so the rule is reported, not ignored.
    Unparsed(String),
}

impl Policy {
    /// An absent policy is ECS's default, `accept`.
    pub fn parse(s: &str) -> Self {
        let t = s.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("accept") {
            Policy::Accept
        } else if t.eq_ignore_ascii_case("drop") {
            Policy::Drop
        } else {
            Policy::Unparsed(s.to_string())
        }
    }
    /// The request spelling (`accept`/`drop`).
    pub fn as_str(&self) -> &str {
        match self {
            Policy::Accept => "accept",
            Policy::Drop => "drop",
            Policy::Unparsed(s) => s,
        }
    }
}

/// `IpProtocol`, case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP: SSH, RDP and most risky services.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP: carries no ports, so never opens a risky one.
    Icmp,
    /// ICMPv6: carries no ports, so never opens a risky one.
    IcmpV6,
    /// GRE: carries no ports, so never opens a risky one.
    Gre,
    /// Every protocol, TCP and UDP included: opens every port in its range.
    All,
    /// A value ECS has no such name for, kept verbatim so the rule is reported, not ignored.
    Unparsed(String),
}

impl Protocol {
    /// Reads an `IpProtocol` value, case-insensitively; anything else is kept as `Unparsed`.
    pub fn parse(s: &str) -> Self {
        let t = s.trim();
        const NAMES: [(&str, Protocol); 6] = [
            ("TCP", Protocol::Tcp),
            ("UDP", Protocol::Udp),
            ("ICMP", Protocol::Icmp),
            ("ICMPV6", Protocol::IcmpV6),
            ("GRE", Protocol::Gre),
            ("ALL", Protocol::All),
        ];
        NAMES
            .into_iter()
            .find(|(name, _)| t.eq_ignore_ascii_case(name))
            .map_or_else(|| Protocol::Unparsed(s.to_string()), |(_, p)| p)
    }
    /// The spelling ECS answers with (`TCP`, `ICMPv6`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Icmp => "ICMP",
            Protocol::IcmpV6 => "ICMPv6",
            Protocol::Gre => "GRE",
            Protocol::All => "ALL",
            Protocol::Unparsed(s) => s,
        }
    }
    /// Whether this protocol carries ports at all (TCP, UDP, or ALL, which includes both).
    pub fn has_ports(&self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp | Protocol::All)
    }
    /// Whether a rule on `self` also matches traffic of `other` (`ALL` covers everything).
    pub fn covers(&self, other: &Protocol) -> bool {
        matches!(self, Protocol::All) || self == other
    }
}

/// Rule priority, 1 (highest) to 100. Absent means ECS's default, 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl Default for Priority {
    fn default() -> Self {
        Priority(1)
    }
}

/// A port range: `a/b` with `1 ≤ a ≤ b ≤ 65535`, or `-1/-1` (every port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortRange {
    /// `-1/-1`: every port (what ECS answers for ICMP, GRE and ALL rules).
    All,
    /// `from/to`, both inclusive.
    Range {
        /// The first port of the range.
        from: u16,
        /// The last port of the range.
        to: u16,
    },
    /// Absent or not understood (kept verbatim so the rule can be reported).
    Unparsed(String),
}

impl PortRange {
    /// Reads a `PortRange` value; anything but `-1/-1` or a valid `a/b` is kept as `Unparsed`.
    pub fn parse(s: &str) -> Self {
        let t = s.trim();
        if t == "-1/-1" {
            return PortRange::All;
        }
        let parsed = t.split_once('/').and_then(|(a, b)| {
            let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
            (a >= 1 && a <= b).then_some(PortRange::Range { from: a, to: b })
        });
        parsed.unwrap_or_else(|| PortRange::Unparsed(s.to_string()))
    }
    /// Whether `port` is in the range; an unparsed range contains none (it is reported, not
    /// judged).
    pub fn contains(&self, port: u16) -> bool {
        match self {
            PortRange::All => true,
            PortRange::Range { from, to } => *from <= port && port <= *to,
            PortRange::Unparsed(_) => false,
        }
    }
    /// Whether any port of `span` (inclusive) lies in this range.
    pub fn overlaps(&self, span: PortSpan) -> bool {
        match self {
            PortRange::All => true,
            PortRange::Range { from, to } => *from <= span.to && span.from <= *to,
            PortRange::Unparsed(_) => false,
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRange::All => f.write_str("-1/-1"),
            PortRange::Range { from, to } => write!(f, "{from}/{to}"),
            PortRange::Unparsed(s) => f.write_str(s),
        }
    }
}

/// An inclusive span of ports from `RISKY_PORTS` (`22` is `22..=22`, `8000-8080` a span).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSpan {
    /// The first port.
    pub from: u16,
    /// The last port (equal to `from` for a single port).
    pub to: u16,
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// The configured risky ports (`RISKY_PORTS`), e.g. `22,3389,8000-8080`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskyPorts(Vec<PortSpan>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why a `RISKY_PORTS` value is refused at start-up (the function then refuses to run rather than
/// guess).
pub enum RiskyPortsError {
    #[error("the list is empty")]
    /// The value names no port at all.
    Empty,
    #[error("{0:?} is not a port or a range like 8000-8080")]
    /// An item is not a number or a `from-to` range.
    NotAPort(String),
    #[error("{0:?} is outside 1-65535")]
    /// A port is 0 or above 65535.
    OutOfRange(String),
    #[error("{0:?} is a range whose start is above its end")]
    /// A range's start is above its end.
    Reversed(String),
}

impl FromStr for RiskyPorts {
    type Err = RiskyPortsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut spans = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            let port = |p: &str| -> Result<u16, RiskyPortsError> {
                let n: u32 = p
                    .trim()
                    .parse()
                    .map_err(|_| RiskyPortsError::NotAPort(item.to_string()))?;
                if (1..=65535).contains(&n) {
                    Ok(n as u16)
                } else {
                    Err(RiskyPortsError::OutOfRange(item.to_string()))
                }
            };
            let (from, to) = (port(a)?, port(b)?);
            if from > to {
                return Err(RiskyPortsError::Reversed(item.to_string()));
            }
            spans.push(PortSpan { from, to });
        }
        if spans.is_empty() {
            return Err(RiskyPortsError::Empty);
        }
        spans.sort();
        spans.dedup();
        Ok(RiskyPorts(spans))
    }
}

impl RiskyPorts {
    /// The spans, sorted and deduplicated.
    pub fn spans(&self) -> &[PortSpan] {
        &self.0
    }
    /// The risky spans (clipped to the range) that `range` opens.
    pub fn opened_by(&self, range: &PortRange) -> Vec<PortSpan> {
        self.0
            .iter()
            .filter(|s| range.overlaps(**s))
            .map(|s| match range {
                PortRange::Range { from, to } => PortSpan {
                    from: s.from.max(*from),
                    to: s.to.min(*to),
                },
                _ => *s,
            })
            .collect()
    }
}

impl fmt::Display for RiskyPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// A parsed CIDR block. A bare address counts as a host route (`/32`, `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length; 0 is the whole internet.
    pub prefix: u8,
}

impl Cidr {
    /// `/0`: every address of the family, i.e. the whole internet.
    pub fn is_world(&self) -> bool {
        self.prefix == 0
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (a, p) = t.split_once('/').map_or((t, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not a CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// The address as a number and the family's width (32 or 128 bits), so both families share
    /// one piece of prefix arithmetic.
    fn bits(&self) -> (u128, u8) {
        match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// The mask of the first `prefix` bits of a `width`-bit address.
    fn mask(prefix: u8, width: u8) -> u128 {
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        if prefix == 0 {
            0
        } else {
            all & !((1u128 << (width - prefix)) - 1)
        }
    }

    /// Whether the address has bits set past the prefix (`10.0.0.1/8`): such a block is most
    /// likely a typo, and ECS would silently widen or refuse it.
    pub fn has_host_bits(&self) -> bool {
        let (addr, width) = self.bits();
        addr & !Cidr::mask(self.prefix, width) != 0
    }

    /// Whether every address of `inner` is in `self` (same family, at least as long a prefix,
    /// same network bits).
    pub fn contains(&self, inner: &Cidr) -> bool {
        let ((outer_addr, width), (inner_addr, inner_width)) = (self.bits(), inner.bits());
        if width != inner_width || inner.prefix < self.prefix {
            return false;
        }
        let mask = Cidr::mask(self.prefix, width);
        outer_addr & mask == inner_addr & mask
    }
}

/// The narrowest prefix an allowed source may be as wide as: `/8` for IPv4, `/16` for IPv6.
/// Anything wider is a large share of the internet, not an allow-list.
pub const MIN_ALLOWED_PREFIX_V4: u8 = 8;
/// See [`MIN_ALLOWED_PREFIX_V4`].
pub const MIN_ALLOWED_PREFIX_V6: u8 = 16;
/// The most entries `ALLOWED_SOURCE_CIDRS` may list: each narrowed rule becomes one rule per
/// entry of its family, and a group's rule quota is small (200 by default).
pub const MAX_ALLOWED_SOURCES: usize = 20;

/// `ALLOWED_SOURCE_CIDRS`: the sources a world-open rule is narrowed to, IPv4 and IPv6 blocks,
/// each at most as wide as `/8` (IPv4) or `/16` (IPv6), without host bits, at most
/// [`MAX_ALLOWED_SOURCES`], in the order given (duplicates dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSources(Vec<Cidr>);

/// Why an `ALLOWED_SOURCE_CIDRS` value is refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowedSourcesError {
    #[error("the list is empty: name at least one CIDR block, e.g. 203.0.113.0/24")]
    /// No entry at all.
    Empty,
    #[error("entry {0} is empty (a doubled or trailing comma?)")]
    /// An empty item between commas.
    EmptyEntry(usize),
    #[error("entry {index} {text:?} is not a CIDR block like 203.0.113.0/24 or 2001:db8::/32")]
    /// Not an address with its prefix length.
    Malformed {
        /// 1-based position in the list.
        index: usize,
        /// The entry as written.
        text: String,
    },
    #[error("entry {index} {text:?} is the whole internet: narrowing to it would change nothing")]
    /// `0.0.0.0/0` or `::/0`.
    World {
        /// 1-based position in the list.
        index: usize,
        /// The entry as written.
        text: String,
    },
    #[error(
        "entry {index} {text:?} is wider than /{min} (the widest block accepted for its family)"
    )]
    /// Wider than `/8` (IPv4) or `/16` (IPv6).
    TooWide {
        /// 1-based position in the list.
        index: usize,
        /// The entry as written.
        text: String,
        /// The shortest prefix accepted for the entry's family.
        min: u8,
    },
    #[error("entry {index} {text:?} has host bits set past its prefix: did you mean {network}?")]
    /// An address with bits past the prefix (`10.1.2.3/8`).
    HostBits {
        /// 1-based position in the list.
        index: usize,
        /// The entry as written.
        text: String,
        /// The network the entry lies in.
        network: Cidr,
    },
    #[error("{0} entries, more than the {MAX_ALLOWED_SOURCES} accepted")]
    /// More than [`MAX_ALLOWED_SOURCES`] entries.
    TooMany(usize),
}

impl FromStr for AllowedSources {
    type Err = AllowedSourcesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(AllowedSourcesError::Empty);
        }
        let items: Vec<&str> = s.split(',').map(str::trim).collect();
        if items.len() > MAX_ALLOWED_SOURCES {
            return Err(AllowedSourcesError::TooMany(items.len()));
        }
        let mut cidrs: Vec<Cidr> = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let index = i + 1;
            let text = item.to_string();
            if item.is_empty() {
                return Err(AllowedSourcesError::EmptyEntry(index));
            }
            // The prefix is spelled out: a bare address is refused rather than read as a /32,
            // as the Terraform module refuses it, so both judge a list alike.
            let cidr: Cidr = item
                .contains('/')
                .then(|| item.parse().ok())
                .flatten()
                .ok_or_else(|| AllowedSourcesError::Malformed {
                    index,
                    text: text.clone(),
                })?;
            if cidr.is_world() {
                return Err(AllowedSourcesError::World { index, text });
            }
            let min = if cidr.addr.is_ipv4() {
                MIN_ALLOWED_PREFIX_V4
            } else {
                MIN_ALLOWED_PREFIX_V6
            };
            if cidr.prefix < min {
                return Err(AllowedSourcesError::TooWide { index, text, min });
            }
            if cidr.has_host_bits() {
                let (addr, width) = cidr.bits();
                let network = addr & Cidr::mask(cidr.prefix, width);
                let addr = match cidr.addr {
                    IpAddr::V4(_) => IpAddr::V4((network as u32).into()),
                    IpAddr::V6(_) => IpAddr::V6(network.into()),
                };
                return Err(AllowedSourcesError::HostBits {
                    index,
                    text,
                    network: Cidr {
                        addr,
                        prefix: cidr.prefix,
                    },
                });
            }
            if !cidrs.contains(&cidr) {
                cidrs.push(cidr);
            }
        }
        Ok(AllowedSources(cidrs))
    }
}

impl AllowedSources {
    /// The blocks, in the order given.
    pub fn cidrs(&self) -> &[Cidr] {
        &self.0
    }

    /// The blocks that lie within `source` (so of its family): what a rule from `source` may be
    /// narrowed to without admitting anyone it did not admit.
    pub fn within(&self, source: &Cidr) -> Vec<Cidr> {
        self.0
            .iter()
            .filter(|c| source.contains(c))
            .copied()
            .collect()
    }
}

impl fmt::Display for AllowedSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// A source address field: a CIDR, or text that is not one (kept for the report).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A valid CIDR block (or a bare address).
    Cidr(Cidr),
    /// Text that is not a CIDR block, kept for the report; never world-open.
    Unparsed(String),
}

impl Address {
    fn parse(s: &str) -> Self {
        s.parse()
            .map_or_else(|_| Address::Unparsed(s.to_string()), Address::Cidr)
    }
    /// Whether this is a `/0` block, i.e. open to the whole internet.
    pub fn is_world(&self) -> bool {
        matches!(self, Address::Cidr(c) if c.is_world())
    }
    /// The text as ECS printed it (a CIDR is normalised).
    pub fn to_text(&self) -> String {
        match self {
            Address::Cidr(c) => c.to_string(),
            Address::Unparsed(s) => s.clone(),
        }
    }
}

/// One security-group rule with every attribute needed to judge it and to put it back.
///
/// Deserializes from ECS `Permissions.Permission[]` entries and from Config snapshots (both
/// PascalCase); serializes to the same PascalCase shape, which is the backup/restore record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `SecurityGroupRuleId`: what RevokeSecurityGroup deletes by; absent in some old snapshots.
    pub rule_id: Option<RuleId>,
    /// `Direction`: only ingress rules are judged.
    pub direction: Direction,
    /// `Policy`: only Accept rules expose anything.
    pub policy: Policy,
    /// `Priority`: 1 (first) to 100; decides whether a Drop rule shadows an Accept rule.
    pub priority: Priority,
    /// `IpProtocol`: which traffic the rule lets in.
    pub protocol: Protocol,
    /// `PortRange`: which destination ports.
    pub port_range: PortRange,
    /// `SourceCidrIp`: the IPv4 source; `0.0.0.0/0` is the whole internet.
    pub source_cidr: Option<Address>,
    /// `Ipv6SourceCidrIp`: the IPv6 source; `::/0` is the whole internet.
    pub ipv6_source_cidr: Option<Address>,
    /// `SourceGroupId`: a security group as the source instead of a CIDR (never world-open).
    pub source_group_id: Option<Text>,
    /// `SourceGroupOwnerAccount`: the account of that source group.
    pub source_group_owner_account: Option<Text>,
    /// `SourcePrefixListId`: a prefix list as the source; its entries are not known here, so such a
    /// rule goes to review.
    pub source_prefix_list_id: Option<Text>,
    /// `SourcePortRange`: the source ports, kept to restore the rule as it was.
    pub source_port_range: Option<Text>,
    /// `DestCidrIp`: the destination inside the group, kept to restore the rule as it was.
    pub dest_cidr: Option<Text>,
    /// `Ipv6DestCidrIp`: the IPv6 destination, kept to restore the rule as it was.
    pub ipv6_dest_cidr: Option<Text>,
    /// `PortRangeListId`: a port list instead of a range; its ports are not known here, so such a
    /// rule goes to review.
    pub port_range_list_id: Option<Text>,
    /// `NicType`: `intranet` or `internet` (classic network), kept to restore the rule as it was.
    pub nic_type: Option<Text>,
    /// `Description`: the owner's note on why the rule exists, kept to restore it.
    pub description: Option<Text>,
    /// `CreateTime`: when ECS created the rule; informative only, never sent back.
    pub create_time: Option<Text>,
}

/// How a field goes into AuthorizeSecurityGroup's `Permissions.N.*` parameters
/// (`ecs-20140526/client/authorize_security_group_request_model.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorize {
    /// Not sent: ECS assigns it (rule id, creation time) or the call implies it (direction).
    NotSent,
    /// Sent as `Permissions.N.<name>`, the record's text as is.
    As(&'static str),
    /// Sent as `Permissions.N.<name>`, lower-cased (the request spelling of `Policy`).
    Lowercase(&'static str),
    /// The owner of a source group: an account id goes in `SourceGroupOwnerId`, a name in
    /// `SourceGroupOwnerAccount` (see [`crate::services::ecs::source_group_owner`]).
    SourceGroupOwner,
}

/// One row of the rule field table: the field, its wire name (in ECS and Config answers, in the
/// backup record, in the canonical document queries run on, in the seal) and how
/// AuthorizeSecurityGroup takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Which attribute the row is about.
    pub field: Field,
    /// Its name on the wire (PascalCase).
    pub name: &'static str,
    /// How AuthorizeSecurityGroup takes it when a rule is restored.
    pub authorize: Authorize,
}

/// Declares [`Field`], [`FIELDS`] and [`Field::from_name`] from one list, so the names are
/// written once.
macro_rules! rule_fields {
    ($($field:ident => $authorize:expr,)*) => {
        /// One attribute of a security-group rule, named as on the wire. The order is the table's
        /// ([`FIELDS`]); `field as usize` is the row.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $(
                #[doc = concat!("The rule's `", stringify!($field), "` attribute; its row in [`FIELDS`] says how it is sent.")]
                $field,
            )*
        }

        /// **The** rule field table: every attribute [`Permission`] reads and writes, in a fixed
        /// order. Parsing, the backup record, the canonical document, the seal and the
        /// `Permissions.N.*` parameters all go through it.
        pub const FIELDS: [FieldSpec; [$(Field::$field,)*].len()] = [
            $(FieldSpec { field: Field::$field, name: stringify!($field), authorize: $authorize },)*
        ];

        impl Field {
            /// The field with wire name `name` (exact, case-sensitive).
            pub fn from_name(name: &str) -> Option<Field> {
                match name {
                    $(stringify!($field) => Some(Field::$field),)*
                    _ => None,
                }
            }
        }

        /// A rule object as an answer writes it: each field of the table under its exact wire
        /// name (the member names are the table's), any JSON value, `null` as absent; other
        /// keys are ignored. [`Record::into_permission`] types it.
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[allow(non_snake_case)]
        pub struct Record<'a> {
            $(
                #[doc = concat!("`", stringify!($field), "` as it arrived.")]
                #[serde(default, borrow)]
                pub $field: Option<Leaf<'a>>,
            )*
        }

        impl Record<'_> {
            /// The first field of the table (in its order) that holds a list or an object.
            fn compound(&self) -> Option<(&'static str, &Value)> {
                $(
                    if let Some(Leaf::Other(v)) = &self.$field {
                        return Some((stringify!($field), v));
                    }
                )*
                None
            }
        }
    };
}

rule_fields! {
    SecurityGroupRuleId => Authorize::NotSent,
    Direction => Authorize::NotSent,
    Policy => Authorize::Lowercase("Policy"),
    Priority => Authorize::As("Priority"),
    IpProtocol => Authorize::As("IpProtocol"),
    PortRange => Authorize::As("PortRange"),
    SourceCidrIp => Authorize::As("SourceCidrIp"),
    Ipv6SourceCidrIp => Authorize::As("Ipv6SourceCidrIp"),
    SourceGroupId => Authorize::As("SourceGroupId"),
    SourceGroupOwnerAccount => Authorize::SourceGroupOwner,
    SourcePrefixListId => Authorize::As("SourcePrefixListId"),
    SourcePortRange => Authorize::As("SourcePortRange"),
    DestCidrIp => Authorize::As("DestCidrIp"),
    Ipv6DestCidrIp => Authorize::As("Ipv6DestCidrIp"),
    PortRangeListId => Authorize::As("PortRangeListId"),
    NicType => Authorize::As("NicType"),
    Description => Authorize::As("Description"),
    CreateTime => Authorize::NotSent,
}

impl Field {
    /// The wire name.
    pub fn name(self) -> &'static str {
        FIELDS[self as usize].name
    }
}

/// One field of a rule as it arrived (`null` is `None` around it): a string, borrowed from the
/// answer when it has no escapes, a number, a boolean, or a list or an object (which makes the
/// rule unreadable).
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<'a> {
    /// A string.
    Text(Cow<'a, str>),
    /// A number, read as JSON prints it.
    Number(serde_json::Number),
    /// `true` or `false`, read as text.
    Bool(bool),
    /// A list or an object.
    Other(Value),
}

/// Read by the JSON type met, as `#[serde(untagged)]` would, but without its first step: an
/// untagged enum copies each value into serde's private buffer and then tries the variants on
/// the copy, which for the eighteen fields of every rule was most of an answer's reading.
impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ByType<'a>(std::marker::PhantomData<Leaf<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for ByType<'a> {
            type Value = Leaf<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number, a boolean, a list or an object")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Text(Cow::Owned(s)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Number(n.into()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Leaf<'a>, E> {
                serde_json::Number::from_f64(n)
                    .map(Leaf::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Bool(b))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Leaf<'a>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Leaf::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Leaf<'a>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Leaf::Other)
            }
        }
        d.deserialize_any(ByType(std::marker::PhantomData))
    }
}

impl Leaf<'_> {
    /// The field's text as a rule reads it: a string as it is, a number or a boolean as JSON
    /// prints it; a blank string (what trimming leaves empty) as absent. (A list or an object
    /// has already refused the whole rule: see [`Record::into_permission`].)
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Leaf::Text(s) if s.trim().is_empty() => None,
            Leaf::Text(s) => Some(Cow::Borrowed(s)),
            Leaf::Number(n) => Some(Cow::Owned(n.to_string())),
            Leaf::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Leaf::Other(_) => None,
        }
    }
}

/// A field's text, owned: as a rule keeps it ([`Text`], inline when short, as ids, dates and NIC
/// types are, so most fields cost no allocation of their own) or as a `String`. A string read
/// with escapes is moved where the type can take it, not copied.
fn text<T: for<'a> From<Cow<'a, str>>>(v: Option<Leaf<'_>>) -> Option<T> {
    match v? {
        Leaf::Text(s) if s.trim().is_empty() => None,
        Leaf::Text(s) => Some(T::from(s)),
        other => other.text().map(T::from),
    }
}

/// A field's text, borrowed where it can be; `""` when absent.
fn or_blank<'a>(v: &'a Option<Leaf<'_>>) -> Cow<'a, str> {
    v.as_ref().and_then(Leaf::text).unwrap_or_default()
}

impl Record<'_> {
    /// The typed rule, tolerating the documented type quirks (`Priority` as `"1"` or `1`, any
    /// case, blank strings for absent values); or why it cannot be read, with its id when that
    /// much could be read.
    ///
    /// A known field holding a list or an object is corrupt, not absent: reading it as absent
    /// would give it ECS's default (`Policy` accept, `Priority` 1), which can turn a Drop rule
    /// into a revocable Accept or make it outrank every other rule. So is a priority outside
    /// 1-100.
    pub fn into_permission(self) -> Result<Permission, BadRule> {
        let refuse = |record: &Record<'_>, reason: String| BadRule {
            id: text(record.SecurityGroupRuleId.clone()),
            reason,
        };
        if let Some((name, v)) = self.compound() {
            return Err(refuse(
                &self,
                format!("{name} must be a string or a number, got {v}"),
            ));
        }
        let priority = match self.Priority.as_ref().and_then(Leaf::text) {
            None => Priority::default(),
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if (1..=100).contains(&n) => Priority(n),
                _ => {
                    return Err(refuse(
                        &self,
                        format!("Priority {p:?} is not a number from 1 to 100"),
                    ))
                }
            },
        };
        let address =
            |v: &Option<Leaf<'_>>| v.as_ref().and_then(Leaf::text).map(|t| Address::parse(&t));
        Ok(Permission {
            direction: Direction::parse(&or_blank(&self.Direction)),
            policy: Policy::parse(&or_blank(&self.Policy)),
            priority,
            protocol: Protocol::parse(&or_blank(&self.IpProtocol)),
            port_range: PortRange::parse(&or_blank(&self.PortRange)),
            source_cidr: address(&self.SourceCidrIp),
            ipv6_source_cidr: address(&self.Ipv6SourceCidrIp),
            rule_id: text(self.SecurityGroupRuleId).map(RuleId),
            source_group_id: text(self.SourceGroupId),
            source_group_owner_account: text(self.SourceGroupOwnerAccount),
            source_prefix_list_id: text(self.SourcePrefixListId),
            source_port_range: text(self.SourcePortRange),
            dest_cidr: text(self.DestCidrIp),
            ipv6_dest_cidr: text(self.Ipv6DestCidrIp),
            port_range_list_id: text(self.PortRangeListId),
            nic_type: text(self.NicType),
            description: text(self.Description),
            create_time: text(self.CreateTime),
        })
    }
}

/// One entry of a rule list, typed as it is read (so a list never holds its [`Record`]s): the
/// rule, or why it cannot be read. A value that is not an object makes the answer unreadable.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry(pub Result<Permission, BadRule>);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Object(record) = Object::<Record>::deserialize(d)?;
        Ok(Entry(record.into_permission()))
    }
}

/// A rule that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRule {
    /// Its `SecurityGroupRuleId`, when that much could be read.
    pub id: Option<String>,
    /// What could not be read.
    pub reason: String,
}

impl Permission {
    /// Builds a rule from one JSON object, tolerating the documented type quirks.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        if !v.is_object() {
            return Err(format!("a rule must be a JSON object, got {}", kind(v)));
        }
        let record = Record::deserialize(v).map_err(|e| e.to_string())?;
        record.into_permission().map_err(|bad| bad.reason)
    }

    /// One field's text in the record (see [`Permission::to_json`]); `None` when absent.
    pub fn text(&self, field: Field) -> Option<Cow<'_, str>> {
        fn opt(v: &Option<Text>) -> Option<Cow<'_, str>> {
            v.as_deref().map(Cow::Borrowed)
        }
        fn addr(a: &Option<Address>) -> Option<Cow<'_, str>> {
            a.as_ref().map(|a| match a {
                Address::Cidr(c) => Cow::Owned(c.to_string()),
                Address::Unparsed(s) => Cow::Borrowed(s.as_str()),
            })
        }
        match field {
            Field::SecurityGroupRuleId => self.rule_id.as_ref().map(|r| Cow::Borrowed(r.as_str())),
            Field::Direction => Some(Cow::Borrowed(self.direction.as_str())),
            Field::Policy => Some(Cow::Borrowed(self.policy.as_str())),
            Field::Priority => Some(Cow::Owned(self.priority.0.to_string())),
            Field::IpProtocol => Some(Cow::Borrowed(self.protocol.as_str())),
            Field::PortRange => Some(match &self.port_range {
                PortRange::Unparsed(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            }),
            Field::SourceCidrIp => addr(&self.source_cidr),
            Field::Ipv6SourceCidrIp => addr(&self.ipv6_source_cidr),
            Field::SourceGroupId => opt(&self.source_group_id),
            Field::SourceGroupOwnerAccount => opt(&self.source_group_owner_account),
            Field::SourcePrefixListId => opt(&self.source_prefix_list_id),
            Field::SourcePortRange => opt(&self.source_port_range),
            Field::DestCidrIp => opt(&self.dest_cidr),
            Field::Ipv6DestCidrIp => opt(&self.ipv6_dest_cidr),
            Field::PortRangeListId => opt(&self.port_range_list_id),
            Field::NicType => opt(&self.nic_type),
            Field::Description => opt(&self.description),
            Field::CreateTime => opt(&self.create_time),
        }
    }

    /// The PascalCase record (absent values omitted): the backup a restore feeds back.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a rule is always JSON")
    }

    /// Whether the source is the whole IPv4 or IPv6 internet.
    pub fn is_world_open(&self) -> bool {
        self.source_cidr.as_ref().is_some_and(Address::is_world)
            || self
                .ipv6_source_cidr
                .as_ref()
                .is_some_and(Address::is_world)
    }
}

/// The rows of [`FIELDS`] in the byte order of their names: the order a rule's record lists them
/// in (the report, the log lines and [`Permission::to_json`] alike).
const FIELDS_BY_NAME: [Field; FIELDS.len()] = {
    let mut order = [Field::SecurityGroupRuleId; FIELDS.len()];
    let mut i = 0;
    while i < FIELDS.len() {
        order[i] = FIELDS[i].field;
        i += 1;
    }
    // An insertion sort at compile time (`const fn` cannot call `sort`).
    let mut i = 1;
    while i < order.len() {
        let mut j = i;
        while j > 0
            && name_before(
                FIELDS[order[j] as usize].name,
                FIELDS[order[j - 1] as usize].name,
            )
        {
            let t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    order
};

/// `a < b` in byte order, usable in a `const`.
const fn name_before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

impl Permission {
    /// Writes the rule's record, its fields in the byte order of their names, plus `extra` (a key
    /// and its text) in its place in that order: the one writer of a rule, with or without its
    /// seal.
    pub fn serialize_with<S: Serializer>(
        &self,
        s: S,
        extra: Option<(&str, &str)>,
    ) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        let mut extra = extra;
        for field in FIELDS_BY_NAME {
            let name = field.name();
            if let Some((key, value)) = extra.filter(|(key, _)| name_before(key, name)) {
                map.serialize_entry(key, value)?;
                extra = None;
            }
            if let Some(text) = self.text(field) {
                map.serialize_entry(name, &*text)?;
            }
        }
        if let Some((key, value)) = extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize_with(s, None)
    }
}

/// Reads a rule object as its [`Record`], then types it (a rule that cannot be read is an error
/// saying why).
impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Object(record) = Object::<Record>::deserialize(d)?;
        record
            .into_permission()
            .map_err(|bad| serde::de::Error::custom(bad.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn port_ranges_parse_all_single_and_span() {
        assert_eq!(PortRange::parse("-1/-1"), PortRange::All);
        assert_eq!(
            PortRange::parse("22/22"),
            PortRange::Range { from: 22, to: 22 }
        );
        assert!(PortRange::parse("20/30").contains(22));
        assert!(!PortRange::parse("23/30").contains(22));
        assert!(matches!(PortRange::parse("30/20"), PortRange::Unparsed(_)));
        assert!(matches!(PortRange::parse(""), PortRange::Unparsed(_)));
    }

    #[test]
    fn risky_ports_accept_single_ports_and_ranges() {
        let p: RiskyPorts = "3389, 22,8000-8080".parse().unwrap();
        assert_eq!(p.to_string(), "22,3389,8000-8080");
        assert_eq!(
            "0".parse::<RiskyPorts>(),
            Err(RiskyPortsError::OutOfRange("0".into()))
        );
        assert!("65536".parse::<RiskyPorts>().is_err());
        assert!("ssh".parse::<RiskyPorts>().is_err());
        assert!("90-80".parse::<RiskyPorts>().is_err());
        assert_eq!("".parse::<RiskyPorts>(), Err(RiskyPortsError::Empty));
    }

    #[test]
    fn risky_ports_opened_by_a_range_are_clipped_to_it() {
        let p: RiskyPorts = "22,8000-8080".parse().unwrap();
        let opened = p.opened_by(&PortRange::parse("8050/9000"));
        assert_eq!(
            opened,
            vec![PortSpan {
                from: 8050,
                to: 8080
            }]
        );
        assert_eq!(p.opened_by(&PortRange::All).len(), 2);
        assert!(p.opened_by(&PortRange::parse("443/443")).is_empty());
    }

    #[test]
    fn cidrs_with_prefix_zero_are_the_world() {
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().is_world());
        assert!("::/0".parse::<Cidr>().unwrap().is_world());
        assert!(!"10.0.0.0/8".parse::<Cidr>().unwrap().is_world());
        assert_eq!("1.2.3.4".parse::<Cidr>().unwrap().prefix, 32);
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn a_block_contains_the_blocks_inside_it_of_its_own_family() {
        let c = |s: &str| s.parse::<Cidr>().unwrap();
        assert!(c("0.0.0.0/0").contains(&c("203.0.113.0/24")));
        assert!(c("203.0.113.0/24").contains(&c("203.0.113.7/32")));
        assert!(!c("203.0.113.0/24").contains(&c("203.0.0.0/16")));
        assert!(!c("0.0.0.0/0").contains(&c("2001:db8::/32")));
        assert!(c("::/0").contains(&c("2001:db8::/32")));
        assert!(!c("::/0").contains(&c("10.0.0.0/8")));
    }

    #[test]
    fn host_bits_past_the_prefix_are_found_in_both_families() {
        let c = |s: &str| s.parse::<Cidr>().unwrap();
        assert!(c("10.1.0.0/8").has_host_bits());
        assert!(!c("10.0.0.0/8").has_host_bits());
        assert!(!c("1.2.3.4/32").has_host_bits());
        assert!(c("2001:db8::1/64").has_host_bits());
        assert!(!c("2001:db8::/32").has_host_bits());
    }

    #[test]
    fn allowed_sources_keep_their_order_and_drop_duplicates() {
        let a: AllowedSources = " 203.0.113.0/24, 2001:db8::/32,203.0.113.0/24"
            .parse()
            .unwrap();
        assert_eq!(a.to_string(), "203.0.113.0/24,2001:db8::/32");
        let world = "0.0.0.0/0".parse::<Cidr>().unwrap();
        assert_eq!(a.within(&world), vec!["203.0.113.0/24".parse().unwrap()]);
    }

    #[test]
    fn allowed_sources_refuse_world_wide_host_bits_malformed_and_too_many() {
        use AllowedSourcesError as E;
        let e = |s: &str| s.parse::<AllowedSources>().unwrap_err();
        assert!(matches!(
            e("10.0.0.0/8,0.0.0.0/0"),
            E::World { index: 2, .. }
        ));
        assert!(matches!(e("::/0"), E::World { index: 1, .. }));
        assert!(matches!(e("10.0.0.0/7"), E::TooWide { min: 8, .. }));
        assert!(matches!(e("2001::/15"), E::TooWide { min: 16, .. }));
        assert_eq!(
            e("10.1.2.3/8").to_string(),
            "entry 1 \"10.1.2.3/8\" has host bits set past its prefix: did you mean 10.0.0.0/8?"
        );
        assert!(matches!(e("office"), E::Malformed { .. }));
        assert!(matches!(e("10.0.0.0/33"), E::Malformed { .. }));
        assert!(matches!(e("10.0.0.0/8,"), E::EmptyEntry(2)));
        assert_eq!(e(" "), E::Empty);
        let many: Vec<String> = (1..=21).map(|i| format!("10.{i}.0.0/16")).collect();
        assert_eq!(e(&many.join(",")), E::TooMany(21));
        assert!(many[..20].join(",").parse::<AllowedSources>().is_ok());
    }

    #[test]
    fn permissions_tolerate_string_or_number_priority_and_any_case_policy() {
        let a = Permission::from_json(&json!({"SecurityGroupRuleId":"sgr-1","Priority":"1","Policy":"Accept","IpProtocol":"tcp","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Direction":"ingress","Ipv6SourceCidrIp":""})).unwrap();
        let b = Permission::from_json(&json!({"SecurityGroupRuleId":"sgr-1","Priority":1,"Policy":"accept","IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","Direction":"ingress"})).unwrap();
        assert_eq!(a, b);
        assert!(a.is_world_open());
        assert_eq!(a.ipv6_source_cidr, None, "empty strings count as absent");
    }

    #[test]
    fn a_field_holding_a_list_or_object_is_an_error_not_a_default() {
        let err = Permission::from_json(
            &json!({"SecurityGroupRuleId":"sgr-1","Policy":["Drop"],"Priority":1}),
        )
        .unwrap_err();
        assert!(err.contains("Policy"), "{err}");
        assert!(Permission::from_json(&json!({"Priority":{"v":1}})).is_err());
    }

    #[test]
    fn a_permission_round_trips_through_its_backup_record() {
        let p = Permission::from_json(&json!({"SecurityGroupRuleId":"sgr-9","Direction":"ingress","Policy":"Drop","Priority":100,"IpProtocol":"ALL","PortRange":"-1/-1","Ipv6SourceCidrIp":"::/0","NicType":"intranet","Description":"恢复 rule"})).unwrap();
        let back = Permission::from_json(&p.to_json()).unwrap();
        assert_eq!(p, back);
    }

    #[test]
    fn the_field_table_rows_follow_the_enum_and_names_read_back() {
        assert_eq!(FIELDS.len(), 18);
        for (i, spec) in FIELDS.iter().enumerate() {
            assert_eq!(spec.field as usize, i, "{}", spec.name);
            assert_eq!(Field::from_name(spec.name), Some(spec.field));
            assert_eq!(spec.field.name(), spec.name);
        }
        assert_eq!(Field::from_name("sourceCidrIp"), None, "exact names only");
        assert_eq!(Field::from_name("Seal"), None);
    }

    #[test]
    fn only_ecs_assigned_fields_and_the_direction_are_not_sent_to_authorize() {
        let not_sent: Vec<&str> = FIELDS
            .iter()
            .filter(|s| s.authorize == Authorize::NotSent)
            .map(|s| s.name)
            .collect();
        assert_eq!(not_sent, ["SecurityGroupRuleId", "Direction", "CreateTime"]);
    }

    #[test]
    fn the_record_holds_each_fields_text_under_its_table_name() {
        let p = Permission::from_json(&json!({"SecurityGroupRuleId":"sgr-1","Direction":"ingress","Policy":"Drop","Priority":7,"IpProtocol":"tcp","PortRange":"22/22","SourceCidrIp":"1.2.3.4","NicType":"intranet"})).unwrap();
        let record = p.to_json();
        for spec in &FIELDS {
            assert_eq!(
                record.get(spec.name).and_then(Value::as_str),
                p.text(spec.field).as_deref(),
                "{}",
                spec.name
            );
        }
        assert_eq!(record["SourceCidrIp"], "1.2.3.4/32", "normalised CIDR");
        assert_eq!(record["Priority"], "7");
    }

    #[test]
    fn a_rule_read_from_its_bytes_ignores_unknown_members() {
        let rule: Permission = serde_json::from_str(
            r#"{"SecurityGroupRuleId":"sgr-1","Priority":"1","PortRange":"22/22","Unknown":{"x":[1]},"sourceCidrIp":"10.0.0.0/8"}"#,
        )
        .unwrap();
        assert_eq!(rule.rule_id, Some(RuleId("sgr-1".into())));
        assert_eq!(
            rule.source_cidr, None,
            "rule fields are read under their exact names"
        );
    }

    #[test]
    fn a_rule_with_a_repeated_field_is_refused_rather_than_guessed() {
        let err = serde_json::from_str::<Permission>(r#"{"Policy":"Drop","Policy":"Accept"}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("duplicate field `Policy`"),
            "{err}"
        );
    }

    #[test]
    fn a_rule_must_be_an_object_not_a_list_of_its_values() {
        assert!(serde_json::from_str::<Permission>(r#"["sgr-1","ingress"]"#).is_err());
        let err = Permission::from_json(&json!(["sgr-1"])).unwrap_err();
        assert_eq!(err, "a rule must be a JSON object, got an array");
    }

    #[test]
    fn a_bad_rule_is_named_by_its_id() {
        let record: Record =
            serde_json::from_str(r#"{"SecurityGroupRuleId":"sgr-7","Priority":"high"}"#).unwrap();
        let bad = record.into_permission().unwrap_err();
        assert_eq!(bad.id.as_deref(), Some("sgr-7"));
        assert!(bad.reason.contains("Priority"), "{}", bad.reason);
    }
}

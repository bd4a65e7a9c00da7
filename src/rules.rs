//! The security-group rule model: what a rule *is*, parsed once at the edge.
//!
//! Config snapshots and ECS responses disagree on types (`Priority` as `"1"` or `1`, `Policy` as
//! `Accept` or `accept`, empty strings for absent values). [`Permission`] absorbs those quirks
//! when it is deserialized, so everything downstream (selection, revoke, backup, restore) works
//! with types. A value that cannot be understood is kept verbatim in an `Unparsed` variant rather
//! than dropped: a rule we cannot read must be reported for review, never silently ignored.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A `SecurityGroupRuleId` (`sgr-…`): the key RevokeSecurityGroup deletes by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub String);

impl RuleId {
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
    Ingress,
    Egress,
    Unparsed(String),
}

impl Direction {
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
    Accept,
    Drop,
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
    Tcp,
    Udp,
    Icmp,
    IcmpV6,
    Gre,
    All,
    Unparsed(String),
}

impl Protocol {
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
    All,
    Range {
        from: u16,
        to: u16,
    },
    /// Absent or not understood (kept verbatim so the rule can be reported).
    Unparsed(String),
}

impl PortRange {
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
    pub from: u16,
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
pub enum RiskyPortsError {
    #[error("the list is empty")]
    Empty,
    #[error("{0:?} is not a port or a range like 8000-8080")]
    NotAPort(String),
    #[error("{0:?} is outside 1-65535")]
    OutOfRange(String),
    #[error("{0:?} is a range whose start is above its end")]
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
    pub addr: IpAddr,
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

/// A source address field: a CIDR, or text that is not one (kept for the report).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    Cidr(Cidr),
    Unparsed(String),
}

impl Address {
    fn parse(s: &str) -> Self {
        s.parse()
            .map_or_else(|_| Address::Unparsed(s.to_string()), Address::Cidr)
    }
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
    pub rule_id: Option<RuleId>,
    pub direction: Direction,
    pub policy: Policy,
    pub priority: Priority,
    pub protocol: Protocol,
    pub port_range: PortRange,
    pub source_cidr: Option<Address>,
    pub ipv6_source_cidr: Option<Address>,
    pub source_group_id: Option<String>,
    pub source_group_owner_account: Option<String>,
    pub source_prefix_list_id: Option<String>,
    pub source_port_range: Option<String>,
    pub dest_cidr: Option<String>,
    pub ipv6_dest_cidr: Option<String>,
    pub port_range_list_id: Option<String>,
    pub nic_type: Option<String>,
    pub description: Option<String>,
    pub create_time: Option<String>,
}

/// The rule attributes [`Permission`] reads; each must be a scalar when present.
pub const RULE_FIELDS: [&str; 18] = [
    "SecurityGroupRuleId",
    "Direction",
    "Policy",
    "Priority",
    "IpProtocol",
    "PortRange",
    "SourceCidrIp",
    "Ipv6SourceCidrIp",
    "SourceGroupId",
    "SourceGroupOwnerAccount",
    "SourcePrefixListId",
    "SourcePortRange",
    "DestCidrIp",
    "Ipv6DestCidrIp",
    "PortRangeListId",
    "NicType",
    "Description",
    "CreateTime",
];

/// Positions in [`RULE_FIELDS`], so reading a rule needs no search per field.
mod at {
    pub const SECURITY_GROUP_RULE_ID: usize = 0;
    pub const DIRECTION: usize = 1;
    pub const POLICY: usize = 2;
    pub const PRIORITY: usize = 3;
    pub const IP_PROTOCOL: usize = 4;
    pub const PORT_RANGE: usize = 5;
    pub const SOURCE_CIDR_IP: usize = 6;
    pub const IPV6_SOURCE_CIDR_IP: usize = 7;
    pub const SOURCE_GROUP_ID: usize = 8;
    pub const SOURCE_GROUP_OWNER_ACCOUNT: usize = 9;
    pub const SOURCE_PREFIX_LIST_ID: usize = 10;
    pub const SOURCE_PORT_RANGE: usize = 11;
    pub const DEST_CIDR_IP: usize = 12;
    pub const IPV6_DEST_CIDR_IP: usize = 13;
    pub const PORT_RANGE_LIST_ID: usize = 14;
    pub const NIC_TYPE: usize = 15;
    pub const DESCRIPTION: usize = 16;
    pub const CREATE_TIME: usize = 17;
}

/// Reads a field that may be a string, a number or absent; empty strings count as absent.
/// Strings are borrowed: rules are read on the hot path of every resource.
fn text(v: Option<&Value>) -> Option<Cow<'_, str>> {
    match v? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

impl Permission {
    /// Builds a rule from one JSON object, tolerating the documented type quirks.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| format!("a rule must be a JSON object, got {v}"))?;
        // A known field holding a list or an object is corrupt, not absent: reading it as absent
        // would give it ECS's default (`Policy` accept, `Priority` 1), which can turn a Drop rule
        // into a revocable Accept or make it outrank every other rule.
        let mut fields: [Option<&Value>; RULE_FIELDS.len()] = [None; RULE_FIELDS.len()];
        for (slot, key) in fields.iter_mut().zip(RULE_FIELDS) {
            if let Some(v) = obj.get(key) {
                if v.is_array() || v.is_object() {
                    return Err(format!("{key} must be a string or a number, got {v}"));
                }
                *slot = Some(v);
            }
        }
        let field = |k: usize| text(fields[k]);
        let get = |k: usize| field(k).map(Cow::into_owned);
        let priority = match field(at::PRIORITY) {
            None => Priority::default(),
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=100).contains(p))
                .map(Priority)
                .ok_or_else(|| format!("Priority {p:?} is not a number from 1 to 100"))?,
        };
        Ok(Permission {
            rule_id: get(at::SECURITY_GROUP_RULE_ID).map(RuleId),
            direction: Direction::parse(field(at::DIRECTION).as_deref().unwrap_or("")),
            policy: Policy::parse(field(at::POLICY).as_deref().unwrap_or("")),
            priority,
            protocol: Protocol::parse(field(at::IP_PROTOCOL).as_deref().unwrap_or("")),
            port_range: PortRange::parse(field(at::PORT_RANGE).as_deref().unwrap_or("")),
            source_cidr: field(at::SOURCE_CIDR_IP).map(|s| Address::parse(&s)),
            ipv6_source_cidr: field(at::IPV6_SOURCE_CIDR_IP).map(|s| Address::parse(&s)),
            source_group_id: get(at::SOURCE_GROUP_ID),
            source_group_owner_account: get(at::SOURCE_GROUP_OWNER_ACCOUNT),
            source_prefix_list_id: get(at::SOURCE_PREFIX_LIST_ID),
            source_port_range: get(at::SOURCE_PORT_RANGE),
            dest_cidr: get(at::DEST_CIDR_IP),
            ipv6_dest_cidr: get(at::IPV6_DEST_CIDR_IP),
            port_range_list_id: get(at::PORT_RANGE_LIST_ID),
            nic_type: get(at::NIC_TYPE),
            description: get(at::DESCRIPTION),
            create_time: get(at::CREATE_TIME),
        })
    }

    /// The PascalCase record (absent values omitted): the backup a restore feeds back.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), Value::String(v));
            }
        };
        put(
            "SecurityGroupRuleId",
            self.rule_id.as_ref().map(|r| r.0.clone()),
        );
        put("Direction", Some(self.direction.as_str().to_string()));
        put("Policy", Some(self.policy.as_str().to_string()));
        put("Priority", Some(self.priority.0.to_string()));
        put("IpProtocol", Some(self.protocol.as_str().to_string()));
        put("PortRange", Some(self.port_range.to_string()));
        put(
            "SourceCidrIp",
            self.source_cidr.as_ref().map(Address::to_text),
        );
        put(
            "Ipv6SourceCidrIp",
            self.ipv6_source_cidr.as_ref().map(Address::to_text),
        );
        put("SourceGroupId", self.source_group_id.clone());
        put(
            "SourceGroupOwnerAccount",
            self.source_group_owner_account.clone(),
        );
        put("SourcePrefixListId", self.source_prefix_list_id.clone());
        put("SourcePortRange", self.source_port_range.clone());
        put("DestCidrIp", self.dest_cidr.clone());
        put("Ipv6DestCidrIp", self.ipv6_dest_cidr.clone());
        put("PortRangeListId", self.port_range_list_id.clone());
        put("NicType", self.nic_type.clone());
        put("Description", self.description.clone());
        put("CreateTime", self.create_time.clone());
        Value::Object(m)
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

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Permission::from_json(&v).map_err(serde::de::Error::custom)
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
    fn field_positions_name_their_fields() {
        let pairs = [
            (at::SECURITY_GROUP_RULE_ID, "SecurityGroupRuleId"),
            (at::DIRECTION, "Direction"),
            (at::POLICY, "Policy"),
            (at::PRIORITY, "Priority"),
            (at::IP_PROTOCOL, "IpProtocol"),
            (at::PORT_RANGE, "PortRange"),
            (at::SOURCE_CIDR_IP, "SourceCidrIp"),
            (at::IPV6_SOURCE_CIDR_IP, "Ipv6SourceCidrIp"),
            (at::SOURCE_GROUP_ID, "SourceGroupId"),
            (at::SOURCE_GROUP_OWNER_ACCOUNT, "SourceGroupOwnerAccount"),
            (at::SOURCE_PREFIX_LIST_ID, "SourcePrefixListId"),
            (at::SOURCE_PORT_RANGE, "SourcePortRange"),
            (at::DEST_CIDR_IP, "DestCidrIp"),
            (at::IPV6_DEST_CIDR_IP, "Ipv6DestCidrIp"),
            (at::PORT_RANGE_LIST_ID, "PortRangeListId"),
            (at::NIC_TYPE, "NicType"),
            (at::DESCRIPTION, "Description"),
            (at::CREATE_TIME, "CreateTime"),
        ];
        for (i, name) in pairs {
            assert_eq!(RULE_FIELDS[i], name);
        }
    }
}

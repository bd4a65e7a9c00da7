//! Properties of the default selector over generated security groups.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sg_remediator::rules::{
    Address, Direction, Permission, Policy, PortRange, Protocol, RiskyPorts, RuleId,
};
use sg_remediator::select::{rules_from_configuration, Selector};

const RISKY: &str = "22,3389,8000-8010";

fn risky() -> RiskyPorts {
    RISKY.parse().unwrap()
}

fn selector() -> Selector {
    Selector::new(risky(), None).unwrap()
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(str::to_string)
}

/// Ports near the edges of the risky spans, so ranges straddle them often.
const PORTS: &[u16] = &[
    1, 20, 21, 22, 23, 80, 443, 3388, 3389, 3390, 7999, 8000, 8005, 8010, 8011, 65535,
];

fn port_range() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (proptest::sample::select(PORTS), proptest::sample::select(PORTS))
            .prop_map(|(a, b)| format!("{}/{}", a.min(b), a.max(b))),
        1 => pick(&["-1/-1", "1/65535", "twenty/two", ""]),
    ]
}

/// Few distinct priorities, so ties and both orders are common.
const PRIORITIES: &[u8] = &[1, 5, 5, 10, 10, 100];

fn priority() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(PRIORITIES).prop_map(Value::from),
        proptest::sample::select(PRIORITIES).prop_map(|p| Value::from(p.to_string())),
    ]
}

/// The values each field is drawn from (repeats weight the draw).
struct Profile {
    directions: &'static [&'static str],
    protocols: &'static [&'static str],
    v4: &'static [&'static str],
    v6: &'static [&'static str],
    sources: &'static [&'static str],
    port_lists: &'static [&'static str],
    dests: &'static [&'static str],
    nics: &'static [&'static str],
    source_ports: &'static [&'static str],
}

/// Everything, including the rare and the malformed.
const WIDE: Profile = Profile {
    directions: &["ingress", "ingress", "Ingress", "egress", "", "sideways"],
    protocols: &["TCP", "tcp", "UDP", "ALL", "all", "ICMP", "GRE", "SCTP", ""],
    v4: &[
        "0.0.0.0/0",
        "0.0.0.0/0",
        "10.0.0.0/8",
        "",
        "",
        "junk",
        "::/0",
    ],
    v6: &["::/0", "", "", "2001:db8::/32"],
    sources: &["", "", "", "", "pl-1", "sg-peer"],
    port_lists: &["", "", "", "", "", "prl-1"],
    dests: &["", "", "", "", "", "10.0.0.1/32"],
    nics: &["intranet", "intranet", "intranet", "internet", ""],
    source_ports: &["", "", "", "", "1000/2000"],
};

/// World-open ingress rules, so Accepts and Drops meet often and shadowing is exercised.
const DENSE: Profile = Profile {
    directions: &["ingress", "ingress", "ingress", "egress"],
    protocols: &["TCP", "TCP", "UDP", "ALL"],
    v4: &["0.0.0.0/0", "0.0.0.0/0", "", "10.0.0.0/8"],
    v6: &["::/0", "", ""],
    sources: &[""],
    port_lists: &["", "", "", "", "", "", "prl-1"],
    dests: &["", "", "", "", "", "", "10.0.0.1/32", "0.0.0.0/0"],
    nics: &["intranet", "intranet", "intranet", "intranet", "internet"],
    source_ports: &["", "", "", "", "", "", "1000/2000", "-1/-1"],
};

/// A rule object with the documented quirks (case, string priorities, empty strings).
fn rule_json(
    profile: &'static Profile,
    policies: &'static [&'static str],
) -> impl Strategy<Value = Map<String, Value>> {
    (
        (
            pick(profile.directions),
            pick(policies),
            priority(),
            pick(profile.protocols),
            port_range(),
        ),
        (
            pick(profile.v4),
            pick(profile.v6),
            pick(profile.sources),
            pick(profile.port_lists),
            pick(profile.dests),
            pick(profile.nics),
            pick(profile.source_ports),
        ),
    )
        .prop_map(
            |((dir, policy, prio, proto, ports), (v4, v6, source, port_list, dest, nic, sport))| {
                let mut m = Map::new();
                m.insert("Direction".into(), json!(dir));
                m.insert("Policy".into(), json!(policy));
                m.insert("Priority".into(), prio);
                m.insert("IpProtocol".into(), json!(proto));
                m.insert("PortRange".into(), json!(ports));
                m.insert("SourceCidrIp".into(), json!(v4));
                m.insert("Ipv6SourceCidrIp".into(), json!(v6));
                if source.starts_with("pl-") {
                    m.insert("SourcePrefixListId".into(), json!(source));
                } else if source.starts_with("sg-") {
                    m.insert("SourceGroupId".into(), json!(source));
                }
                m.insert("PortRangeListId".into(), json!(port_list));
                m.insert("DestCidrIp".into(), json!(dest));
                m.insert("NicType".into(), json!(nic));
                m.insert("SourcePortRange".into(), json!(sport));
                m
            },
        )
}

const ANY_POLICY: &[&str] = &["Accept", "accept", "Drop", "drop", "DROP", "", "Deny"];
const NO_DROP: &[&str] = &["Accept", "accept", "", "Deny"];

/// A group of rules with distinct ids `sgr-<prefix><i>`.
fn group(
    profile: &'static Profile,
    prefix: &'static str,
    policies: &'static [&'static str],
    max: usize,
) -> impl Strategy<Value = Vec<Permission>> {
    proptest::collection::vec(rule_json(profile, policies), 0..max).prop_map(move |objs| {
        objs.into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                m.insert(
                    "SecurityGroupRuleId".into(),
                    json!(format!("sgr-{prefix}{i}")),
                );
                Permission::from_json(&Value::Object(m)).expect("generated rules parse")
            })
            .collect()
    })
}

fn is_candidate(p: &Permission, risky: &RiskyPorts) -> bool {
    p.direction == Direction::Ingress
        && p.policy == Policy::Accept
        && p.is_world_open()
        && matches!(p.protocol, Protocol::Tcp | Protocol::Udp | Protocol::All)
        && p.port_range_list_id.is_none()
        && !risky.opened_by(&p.port_range).is_empty()
}

fn unrestricted(v: Option<&str>) -> bool {
    v.is_none_or(|s| matches!(s, "" | "-1/-1" | "1/65535" | "0.0.0.0/0" | "::/0"))
}

fn is_v4(a: &Address) -> Option<bool> {
    match a {
        Address::Cidr(c) => Some(c.addr.is_ipv4()),
        Address::Unparsed(_) => None,
    }
}

/// Brute force, port by port: is `port` of `proto` from the world of family `v4` denied for `a`?
fn denied(a: &Permission, rules: &[Permission], v4: bool, proto: &Protocol, port: u16) -> bool {
    rules.iter().any(|d| {
        d.direction == Direction::Ingress
            && d.policy == Policy::Drop
            && d.priority <= a.priority
            && d.nic_type.as_deref().unwrap_or("").to_lowercase()
                == a.nic_type.as_deref().unwrap_or("").to_lowercase()
            && (d.protocol == Protocol::All || &d.protocol == proto)
            && d.port_range_list_id.is_none()
            && !matches!(d.port_range, PortRange::Unparsed(_))
            && d.port_range.contains(port)
            && unrestricted(d.source_port_range.as_deref())
            && unrestricted(d.dest_cidr.as_deref())
            && unrestricted(d.ipv6_dest_cidr.as_deref())
            && [&d.source_cidr, &d.ipv6_source_cidr]
                .into_iter()
                .flatten()
                .any(|s| s.is_world() && is_v4(s) == Some(v4))
    })
}

/// The specification (config-remediation.md §4) evaluated port by port.
fn oracle_exposed(a: &Permission, rules: &[Permission], risky: &RiskyPorts) -> bool {
    let families: Vec<bool> = [&a.source_cidr, &a.ipv6_source_cidr]
        .into_iter()
        .flatten()
        .filter_map(is_v4)
        .collect();
    let protocols = match a.protocol {
        Protocol::All => vec![Protocol::Tcp, Protocol::Udp],
        ref p => vec![p.clone()],
    };
    let spans = risky.opened_by(&a.port_range);
    families.iter().any(|&v4| {
        protocols.iter().any(|proto| {
            spans
                .iter()
                .flat_map(|s| s.from..=s.to)
                .any(|port| !denied(a, rules, v4, proto, port))
        })
    })
}

fn ids(list: &[Permission]) -> Vec<RuleId> {
    list.iter().filter_map(|p| p.rule_id.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_default_selector_only_ever_selects_world_open_ingress_accepts_on_risky_ports(
        rules in group(&WIDE, "r", ANY_POLICY, 12)
    ) {
        let risky = risky();
        let s = selector().evaluate(&rules).unwrap();
        for p in s.exposed.iter().map(|e| &e.rule).chain(s.shadowed.iter().map(|x| &x.rule)) {
            prop_assert!(is_candidate(p, &risky), "selected {:?}", p);
        }
    }

    #[test]
    fn exposed_and_shadowed_agree_with_a_port_by_port_reading_of_the_spec(
        rules in group(&WIDE, "r", ANY_POLICY, 12)
    ) {
        let risky = risky();
        let s = selector().evaluate(&rules).unwrap();
        let want_exposed: Vec<Permission> = rules.iter()
            .filter(|p| is_candidate(p, &risky) && oracle_exposed(p, &rules, &risky))
            .cloned().collect();
        let want_shadowed: Vec<Permission> = rules.iter()
            .filter(|p| is_candidate(p, &risky) && !oracle_exposed(p, &rules, &risky))
            .cloned().collect();
        prop_assert_eq!(s.revoke_ids(), ids(&want_exposed));
        prop_assert_eq!(s.shadowed_ids(), ids(&want_shadowed));
    }

    #[test]
    fn shadowing_agrees_with_the_port_by_port_reading_in_dense_world_open_groups(
        rules in group(&DENSE, "r", ANY_POLICY, 10)
    ) {
        let risky = risky();
        let s = selector().evaluate(&rules).unwrap();
        let (exposed, shadowed): (Vec<Permission>, Vec<Permission>) = rules.iter()
            .filter(|p| is_candidate(p, &risky))
            .cloned()
            .partition(|p| oracle_exposed(p, &rules, &risky));
        prop_assert_eq!(s.revoke_ids(), ids(&exposed));
        prop_assert_eq!(s.shadowed_ids(), ids(&shadowed));
    }

    #[test]
    fn a_rule_is_in_at_most_one_outcome(rules in group(&WIDE, "r", ANY_POLICY, 12)) {
        let s = selector().evaluate(&rules).unwrap();
        let mut all = s.revoke_ids();
        all.extend(s.shadowed_ids());
        all.extend(s.review_ids());
        let n = all.len();
        all.sort();
        all.dedup();
        prop_assert_eq!(all.len(), n);
    }

    #[test]
    fn adding_rules_without_drops_never_loses_an_exposed_rule(
        extra in group(&WIDE, "x", NO_DROP, 12),
        at in 0usize..12,
    ) {
        let exposed = Permission::from_json(&json!({
            "SecurityGroupRuleId": "sgr-exposed", "Direction": "ingress", "Policy": "Accept",
            "Priority": 50, "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0",
            "NicType": "intranet"
        })).unwrap();
        let mut rules = extra;
        rules.insert(at.min(rules.len()), exposed);
        let s = selector().evaluate(&rules).unwrap();
        prop_assert!(s.revoke_ids().contains(&RuleId("sgr-exposed".into())));
    }
}

/// Any JSON value, wrong types included.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
        pick(&[
            "0.0.0.0/0",
            "::/0",
            "22/22",
            "-1/-1",
            "ALL",
            "ingress",
            "Accept",
            "Drop",
            "1"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,5}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "SecurityGroupRuleId",
    "Direction",
    "Policy",
    "Priority",
    "IpProtocol",
    "PortRange",
    "SourceCidrIp",
    "Ipv6SourceCidrIp",
    "SourceGroupId",
    "SourcePrefixListId",
    "PortRangeListId",
    "NicType",
    "Description",
    "DestCidrIp",
    "SourcePortRange",
];

fn arbitrary_rule() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => any_json(),
        6 => proptest::collection::vec(proptest::option::of(any_json()), FIELDS.len()).prop_map(|vals| {
            let m: Map<String, Value> = FIELDS
                .iter()
                .zip(vals)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect();
            Value::Object(m)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_rule_json_never_panics_and_readable_groups_always_evaluate(
        rules in proptest::collection::vec(arbitrary_rule(), 0..6),
        nested in any::<bool>(),
    ) {
        let cfg = if nested {
            json!({"Permissions": {"Permission": rules}})
        } else {
            json!({"Permissions": rules})
        };
        if let Ok(parsed) = rules_from_configuration(&cfg) {
            prop_assert!(selector().evaluate(&parsed).is_ok());
        }
    }

    #[test]
    fn an_arbitrary_configuration_value_never_panics(cfg in any_json()) {
        let _ = rules_from_configuration(&cfg);
    }
}

/// Rules built as values of the model, including variants only code (not parsing) can build:
/// unparsed text that parses after all, upper-case directions, reversed or zero port ranges,
/// empty ids and empty port-list ids.
fn built_rule() -> impl Strategy<Value = Permission> {
    let direction = prop_oneof![
        Just(Direction::Ingress),
        Just(Direction::Egress),
        pick(&["INGRESS", " ingress ", "sideways", ""]).prop_map(Direction::Unparsed),
    ];
    let policy = prop_oneof![
        Just(Policy::Accept),
        Just(Policy::Drop),
        pick(&["ACCEPT", "Deny", ""]).prop_map(Policy::Unparsed),
    ];
    let protocol = prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::All),
        Just(Protocol::Icmp),
        Just(Protocol::IcmpV6),
        Just(Protocol::Gre),
        pick(&["tcp ", "Udp", "SCTP", ""]).prop_map(Protocol::Unparsed),
    ];
    let ports = prop_oneof![
        Just(PortRange::All),
        (
            proptest::sample::select(PORTS),
            proptest::sample::select(PORTS)
        )
            .prop_map(|(a, b)| PortRange::Range { from: a, to: b }),
        (0u16..30).prop_map(|b| PortRange::Range { from: 0, to: b }),
        pick(&["22/22", " -1/-1", "junk", ""]).prop_map(PortRange::Unparsed),
    ];
    let address = prop_oneof![
        2 => Just(None),
        2 => pick(&["0.0.0.0/0", "::/0", "10.0.0.0/8", "1.2.3.4"])
            .prop_map(|s| Some(Address::Cidr(s.parse().unwrap()))),
        1 => pick(&["0.0.0.0/0", " ::/0", "junk", ""]).prop_map(|s| Some(Address::Unparsed(s))),
    ];
    let optional = |options: &'static [&'static str]| proptest::option::of(pick(options));
    (
        (direction, policy, protocol, ports),
        (address.clone(), address),
        (optional(&["", "prl-1"]), optional(&["", "sgr-x", "sgr-y"])),
    )
        .prop_map(
            |((direction, policy, protocol, port_range), (v4, v6), (list, id))| Permission {
                rule_id: id.map(|id| RuleId(id.into())),
                direction,
                policy,
                priority: Default::default(),
                protocol,
                port_range,
                source_cidr: v4,
                ipv6_source_cidr: v6,
                source_group_id: None,
                source_group_owner_account: None,
                source_prefix_list_id: None,
                source_port_range: None,
                dest_cidr: None,
                ipv6_dest_cidr: None,
                port_range_list_id: list.map(Into::into),
                nic_type: None,
                description: None,
                create_time: None,
            },
        )
}

fn risky_config() -> impl Strategy<Value = RiskyPorts> {
    pick(&[
        "22",
        "22,3389",
        "22,3389,8000-8010",
        "1-65535",
        "443,80",
        "65535",
    ])
    .prop_map(|s| s.parse().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The default query is evaluated natively (`src/select/native.rs`); this is the proof
    /// that it selects exactly what the JMESPath interpreter selects for DEFAULT_QUERY.
    #[test]
    fn the_native_default_query_selects_exactly_what_jmespath_selects(
        parsed in group(&WIDE, "r", ANY_POLICY, 12),
        built in proptest::collection::vec(built_rule(), 0..12),
        risky in risky_config(),
    ) {
        let s = Selector::new(risky, None).unwrap();
        prop_assert!(!s.is_custom());
        for rules in [&parsed, &built] {
            let native = s.query_ids(rules).unwrap();
            let jmespath = s.jmespath_query_ids(rules).unwrap();
            prop_assert_eq!(native, jmespath, "rules {:?}", rules);
        }
    }
}

/// Queries that reach beyond the built-in selection (every world rule, any protocol, any port,
/// named rules) yet pass the start-up self-test.
const BROAD_QUERIES: &[&str] = &[
    "Permissions[?SourceCidrIp=='0.0.0.0/0']",
    "Permissions[?is_world(SourceCidrIp) || is_world(Ipv6SourceCidrIp)].SecurityGroupRuleId",
    "Permissions[?Policy == 'accept' && is_world(SourceCidrIp) || IpProtocol == 'ICMP' \
     || IpProtocol == 'GRE' || Direction == 'egress' || Policy == 'drop']",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// A selector can only narrow: whatever a custom query returns, what is revoked (or found
    /// shadowed) is a subset of what the built-in selection revokes (or finds shadowed).
    #[test]
    fn a_custom_selection_is_always_a_subset_of_the_built_in_one(
        rules in group(&WIDE, "r", ANY_POLICY, 12),
        dense in group(&DENSE, "d", ANY_POLICY, 10),
        query in proptest::sample::select(BROAD_QUERIES),
        named in proptest::collection::vec(0usize..12, 0..6),
        risky in risky_config(),
    ) {
        let named: Vec<String> = named.iter().map(|i| format!("'sgr-r{i}', 'sgr-d{i}'")).collect();
        let query = format!("[{query}, [{}]][]", named.join(", "));
        let custom = Selector::new(risky.clone(), Some(&query)).unwrap();
        let built_in = Selector::new(risky, None).unwrap();
        for rules in [&rules, &dense] {
            let narrowed = custom.evaluate(rules).unwrap();
            let full = built_in.evaluate(rules).unwrap();
            let revoked = full.revoke_ids();
            let shadowed = full.shadowed_ids();
            for id in narrowed.revoke_ids() {
                prop_assert!(revoked.contains(&id), "{} revoked by {}", id, query);
            }
            for id in narrowed.shadowed_ids() {
                prop_assert!(shadowed.contains(&id), "{} shadowed by {}", id, query);
            }
        }
    }
}

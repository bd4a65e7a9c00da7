//! The answer readers, specified by their documented behaviour: a rule written as ECS or Config
//! writes it reads back as the same typed rule (whatever the documented type quirks: `Priority`
//! as a number or a string, `Policy` and `IpProtocol` in any case, blank strings for absent
//! values), in the same order; members the reader does not know are ignored; a key repeated in
//! one object makes the answer unreadable rather than guessed; a rule that cannot be read fails
//! the page or the snapshot, named, and is never dropped.

use acs_openapi::ApiError;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sg_remediator::rule_lists::Unreadable;
use sg_remediator::rules::{
    Address, Direction, Permission, Policy, PortRange, Priority, Protocol, RuleId, FIELDS,
};
use sg_remediator::services::config::{parse_discovered_resource, ResourceQuery};
use sg_remediator::services::ecs::parse_page;

/// One rule as generated: what it is, and how the cloud spells each value.
#[derive(Debug, Clone)]
struct Spec {
    id: String,
    ingress: bool,
    drop: bool,
    priority: u8,
    priority_as_text: bool,
    protocol: &'static str,
    ports: (u16, u16),
    cidr: String,
    description: Option<String>,
    upper_case: bool,
    unknown: Vec<(String, Value)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        "sgr-[a-z0-9]{1,12}",
        any::<bool>(),
        any::<bool>(),
        1u8..=100,
        any::<bool>(),
        prop::sample::select(vec!["TCP", "UDP", "ICMP", "ALL", "GRE"]),
        (1u16..=65535, 0u16..=100),
        prop::sample::select(vec!["0.0.0.0/0", "10.0.0.0/8", "192.168.1.7/32", "::/0"]),
        prop::option::of("[ -~]{0,20}"),
        any::<bool>(),
        prop::collection::vec(("[A-Z][A-Za-z]{2,10}", unknown_value()), 0..3),
    )
        .prop_map(
            |(
                id,
                ingress,
                drop,
                priority,
                as_text,
                protocol,
                (from, span),
                cidr,
                desc,
                upper,
                unknown,
            )| Spec {
                id,
                ingress,
                drop,
                priority,
                priority_as_text: as_text,
                protocol,
                ports: (from, from.saturating_add(span)),
                cidr: cidr.to_string(),
                description: desc,
                upper_case: upper,
                // A member the reader does not know, never one of the table's.
                unknown: unknown
                    .into_iter()
                    .filter(|(k, _)| FIELDS.iter().all(|f| !f.name.eq_ignore_ascii_case(k)))
                    .collect(),
            },
        )
}

fn unknown_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,8}".prop_map(Value::from),
        Just(json!({"nested": [1, {"x": null}]})),
    ]
}

impl Spec {
    /// The rule object as the cloud writes it.
    fn written(&self) -> Value {
        let case = |s: &str| {
            if self.upper_case {
                s.to_ascii_uppercase()
            } else {
                s.to_ascii_lowercase()
            }
        };
        let v6 = self.cidr.contains(':');
        let mut rule = Map::new();
        rule.insert("SecurityGroupRuleId".into(), json!(self.id));
        rule.insert(
            "Direction".into(),
            json!(if self.ingress { "ingress" } else { "egress" }),
        );
        rule.insert(
            "Policy".into(),
            json!(case(if self.drop { "Drop" } else { "Accept" })),
        );
        rule.insert(
            "Priority".into(),
            if self.priority_as_text {
                json!(self.priority.to_string())
            } else {
                json!(self.priority)
            },
        );
        rule.insert("IpProtocol".into(), json!(case(self.protocol)));
        rule.insert(
            "PortRange".into(),
            json!(format!("{}/{}", self.ports.0, self.ports.1)),
        );
        let (set, blank) = if v6 {
            ("Ipv6SourceCidrIp", "SourceCidrIp")
        } else {
            ("SourceCidrIp", "Ipv6SourceCidrIp")
        };
        rule.insert(set.into(), json!(self.cidr));
        rule.insert(blank.into(), json!(""));
        if let Some(d) = &self.description {
            rule.insert("Description".into(), json!(d));
        }
        for (k, v) in &self.unknown {
            rule.insert(k.clone(), v.clone());
        }
        Value::Object(rule)
    }

    /// The typed rule the documentation says it is.
    fn expected(&self) -> Permission {
        let address = Address::Cidr(self.cidr.parse().unwrap());
        let v6 = self.cidr.contains(':');
        Permission {
            rule_id: Some(RuleId(self.id.as_str().into())),
            direction: if self.ingress {
                Direction::Ingress
            } else {
                Direction::Egress
            },
            policy: if self.drop {
                Policy::Drop
            } else {
                Policy::Accept
            },
            priority: Priority(self.priority),
            protocol: Protocol::parse(self.protocol),
            port_range: PortRange::Range {
                from: self.ports.0,
                to: self.ports.1,
            },
            source_cidr: (!v6).then(|| address.clone()),
            ipv6_source_cidr: v6.then_some(address),
            source_group_id: None,
            source_group_owner_account: None,
            source_prefix_list_id: None,
            source_port_range: None,
            dest_cidr: None,
            ipv6_dest_cidr: None,
            port_range_list_id: None,
            nic_type: None,
            description: self
                .description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .map(Into::into),
            create_time: None,
        }
    }
}

fn page_of(rules: &[Value]) -> Vec<u8> {
    json!({"RequestId": "R", "SecurityGroupId": "sg-1", "VpcId": "vpc-1", "NextToken": "",
        "Description": "unknown to the reader", "Permissions": {"Permission": rules}})
    .to_string()
    .into_bytes()
}

fn query() -> ResourceQuery {
    ResourceQuery {
        resource_id: "sg-1".into(),
        resource_type: "ACS::ECS::SecurityGroup".into(),
        region: "cn-hangzhou".into(),
        aggregator: None,
    }
}

/// A GetDiscoveredResource answer whose `Configuration` (JSON inside a string) lists `rules`,
/// wrapped as DescribeSecurityGroupAttribute does or as a bare list.
fn config_answer(rules: &[Value], bare: bool) -> Vec<u8> {
    let permissions = if bare {
        json!(rules)
    } else {
        json!({"Permission": rules})
    };
    let configuration = json!({"SecurityGroupId": "sg-1", "ServiceManaged": false,
        "InnerAccessPolicy": "Accept", "Permissions": permissions});
    json!({"RequestId": "R", "DiscoveredResourceDetail": {
        "AccountId": 1234567890123456u64, "Region": "cn-hangzhou", "ResourceId": "sg-1",
        "ResourceType": "ACS::ECS::SecurityGroup", "ResourceDeleted": 1, "Tags": "{}",
        "Configuration": configuration.to_string()}})
    .to_string()
    .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn rules_on_an_ecs_page_read_back_as_the_typed_rules_in_order(specs in prop::collection::vec(spec(), 0..6)) {
        let written: Vec<Value> = specs.iter().map(Spec::written).collect();
        let page = parse_page(&page_of(&written), "sg-1").unwrap();
        let expected: Vec<Permission> = specs.iter().map(Spec::expected).collect();
        prop_assert_eq!(page.permissions, expected);
        prop_assert_eq!(page.vpc_id.as_deref(), Some("vpc-1"));
        prop_assert_eq!(page.next_token, None);
    }

    #[test]
    fn rules_in_configs_snapshot_read_back_as_the_typed_rules_in_either_shape(
        specs in prop::collection::vec(spec(), 0..6),
        bare in any::<bool>(),
    ) {
        let written: Vec<Value> = specs.iter().map(Spec::written).collect();
        let resource = parse_discovered_resource(&config_answer(&written, bare), None, &query()).unwrap();
        let expected: Vec<Permission> = specs.iter().map(Spec::expected).collect();
        prop_assert_eq!(resource.snapshot, Ok(expected));
        prop_assert_eq!(resource.service_managed, Some(false));
    }

    #[test]
    fn a_rule_with_a_repeated_member_makes_the_page_unreadable(
        s in spec(),
        // Members every written rule has.
        member in prop::sample::select(vec![
            "SecurityGroupRuleId", "Direction", "Policy", "Priority", "IpProtocol", "PortRange",
            "SourceCidrIp", "Ipv6SourceCidrIp",
        ]),
    ) {
        let mut text = String::from_utf8(page_of(&[s.written()])).unwrap();
        // The same member a second time, at the start of the rule object.
        let at = text.find("\"Permission\":[{").unwrap() + "\"Permission\":[{".len();
        text.insert_str(at, &format!("\"{member}\":\"x\","));
        let err = parse_page(text.as_bytes(), "sg-1").unwrap_err();
        let is_decode = matches!(&err, ApiError::Decode { .. });
        prop_assert!(is_decode, "{:?}", err);
        prop_assert!(err.to_string().contains("duplicate field"), "{}", err);
    }

    #[test]
    fn a_rule_whose_priority_is_out_of_range_fails_the_page_and_the_snapshot_named(
        specs in prop::collection::vec(spec(), 1..4),
        bad in prop_oneof![Just(json!(0)), Just(json!(101)), Just(json!("high")), Just(json!([1]))],
        at in any::<prop::sample::Index>(),
    ) {
        let mut written: Vec<Value> = specs.iter().map(Spec::written).collect();
        let i = at.index(written.len());
        written[i]["Priority"] = bad;
        let id = specs[i].id.clone();
        let err = parse_page(&page_of(&written), "sg-1").unwrap_err();
        prop_assert!(err.to_string().contains(&id), "{}", err);
        let resource = parse_discovered_resource(&config_answer(&written, false), None, &query()).unwrap();
        match resource.snapshot {
            Err(Unreadable::Rule { index, id: named, .. }) => {
                prop_assert_eq!(index, i);
                prop_assert_eq!(named, Some(id));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn a_page_without_permissions_or_with_a_list_for_a_rule_is_unreadable_not_empty() {
    let no_permissions = br#"{"RequestId":"R","SecurityGroupId":"sg-1"}"#;
    assert!(parse_page(no_permissions, "sg-1").is_err());
    let rule_as_list = br#"{"Permissions":{"Permission":[["sgr-1","ingress","Accept"]]}}"#;
    assert!(parse_page(rule_as_list, "sg-1").is_err());
    let empty = br#"{"Permissions":{}}"#;
    assert_eq!(parse_page(empty, "sg-1").unwrap().permissions, vec![]);
}

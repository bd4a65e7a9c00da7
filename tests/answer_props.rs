//! The typed answer readers (answers read straight from their bytes, no
//! `serde_json::Value` tree) read exactly what the tree readers they replaced read.
//!
//! The oracle below is the former tree-walking code of `services::ecs::parse_page`,
//! `services::config::parse_discovered_resource` and `select::rules_from_configuration`
//! (commit 5fab5df), kept here only as the reference, with its own tree reader of one rule
//! (`oracle::permission`: the rule reader's documented reading, written on a `Value`), so that
//! nothing of the product's streaming reader is shared: what is compared is every rule field,
//! envelope and list shapes, case-insensitive keys, repeated keys, nested JSON strings, and
//! every error message.
//!
//! One deliberate difference, adopted by the oracle: a rule that cannot be read is named by its
//! exactly spelled `SecurityGroupRuleId` (string or number, blank counts as absent), the way
//! every other rule field is read; the tree readers also took other spellings (ECS page) or
//! only strings (Config snapshot).

use acs_openapi::json::{field, kind, text_field};
use acs_openapi::ApiError;
use proptest::prelude::*;
use serde_json::Value;
use sg_remediator::rules::{
    Address, Cidr, Direction, Permission, Policy, PortRange, Priority, Protocol, RuleId, FIELDS,
};
use sg_remediator::select::{rules_from_configuration, SelectError};
use sg_remediator::services::config::{parse_discovered_resource, ResourceQuery, Tags};
use sg_remediator::services::ecs::{parse_page, Page};

// ---------------------------------------------------------------------------------------------
// The oracle: the tree readers as they were
// ---------------------------------------------------------------------------------------------

mod oracle {
    use super::*;

    fn decode(detail: impl Into<String>) -> ApiError {
        ApiError::Decode {
            status: 200,
            detail: detail.into(),
        }
    }

    /// How a bad rule is named (the one deliberate difference, see the module docs).
    pub(super) fn rule_id(entry: &Value) -> Option<String> {
        match entry.get("SecurityGroupRuleId")? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// One rule read from a tree: exactly spelled keys only; a known field holding a list or
    /// an object is an error (the first in table order); strings as they are, numbers and
    /// booleans as JSON prints them, blank strings and `null` as absent.
    pub(super) fn permission(v: &Value) -> Result<Permission, String> {
        let Some(obj) = v.as_object() else {
            return Err(format!("a rule must be a JSON object, got {v}"));
        };
        for spec in &FIELDS {
            if let Some(c @ (Value::Array(_) | Value::Object(_))) = obj.get(spec.name) {
                return Err(format!(
                    "{} must be a string or a number, got {c}",
                    spec.name
                ));
            }
        }
        let text = |name: &str| -> Option<String> {
            let t = match obj.get(name)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            (!t.trim().is_empty()).then_some(t)
        };
        let address = |name: &str| {
            text(name).map(|t| match t.parse::<Cidr>() {
                Ok(c) => Address::Cidr(c),
                Err(_) => Address::Unparsed(t),
            })
        };
        let priority = match text("Priority") {
            None => Priority::default(),
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if (1..=100).contains(&n) => Priority(n),
                _ => return Err(format!("Priority {p:?} is not a number from 1 to 100")),
            },
        };
        let or_blank = |name: &str| text(name).unwrap_or_default();
        Ok(Permission {
            rule_id: text("SecurityGroupRuleId").map(RuleId),
            direction: Direction::parse(&or_blank("Direction")),
            policy: Policy::parse(&or_blank("Policy")),
            priority,
            protocol: Protocol::parse(&or_blank("IpProtocol")),
            port_range: PortRange::parse(&or_blank("PortRange")),
            source_cidr: address("SourceCidrIp"),
            ipv6_source_cidr: address("Ipv6SourceCidrIp"),
            source_group_id: text("SourceGroupId"),
            source_group_owner_account: text("SourceGroupOwnerAccount"),
            source_prefix_list_id: text("SourcePrefixListId"),
            source_port_range: text("SourcePortRange"),
            dest_cidr: text("DestCidrIp"),
            ipv6_dest_cidr: text("Ipv6DestCidrIp"),
            port_range_list_id: text("PortRangeListId"),
            nic_type: text("NicType"),
            description: text("Description"),
            create_time: text("CreateTime"),
        })
    }

    pub(super) fn parse_page(body: &Value, sg_id: &str) -> Result<Page, ApiError> {
        let decode = |detail: String| decode(detail);
        if let Some(answered) = text_field(body, "SecurityGroupId") {
            if answered != sg_id {
                return Err(decode(format!(
                    "ECS answered for {answered:?}, not the requested {sg_id:?}"
                )));
            }
        }
        let entries: &[Value] = match field(body, "Permissions") {
            None | Some(Value::Null) => {
                return Err(decode("response has no Permissions".into()));
            }
            Some(Value::Array(list)) => list,
            Some(obj @ Value::Object(_)) => match field(obj, "Permission") {
                Some(Value::Array(list)) => list,
                None if obj.as_object().is_some_and(|m| m.is_empty()) => &[],
                _ => return Err(decode("Permissions.Permission is not a list".into())),
            },
            Some(_) => return Err(decode("Permissions is not a list".into())),
        };
        let mut permissions = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let permission = permission(entry).map_err(|e| {
                let id = rule_id(entry)
                    .unwrap_or_else(|| format!("#{} (no SecurityGroupRuleId)", i + 1));
                decode(format!("rule {id} could not be read: {e}"))
            })?;
            permissions.push(permission);
        }
        let next_token = text_field(body, "NextToken").filter(|t| !t.trim().is_empty());
        Ok(Page {
            permissions,
            next_token,
            vpc_id: text_field(body, "VpcId"),
        })
    }

    fn permission_values(
        container: &serde_json::Map<String, Value>,
    ) -> Result<Vec<&Value>, SelectError> {
        let Some(perms) = field_ref(container, "Permissions") else {
            return Ok(Vec::new());
        };
        match perms {
            Value::Null => Ok(Vec::new()),
            Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
            Value::Array(list) => Ok(list.iter().collect()),
            Value::Object(inner) => match field_ref(inner, "Permission") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(list)) => Ok(list.iter().collect()),
                Some(one @ Value::Object(_)) => Ok(vec![one]),
                Some(other) => Err(SelectError::InvalidConfiguration(format!(
                    "Permissions.Permission must be a list of rules, got {}",
                    kind(other)
                ))),
            },
            other => Err(SelectError::InvalidConfiguration(format!(
                "Permissions must be a list of rules or {{\"Permission\": [...]}}, got {}",
                kind(other)
            ))),
        }
    }

    /// The exact key, else of the keys in other cases the least in byte order (the documented
    /// reading, whatever order the map keeps its keys in).
    fn field_ref<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
        obj.get(key).or_else(|| {
            obj.iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .min_by(|(a, _), (b, _)| a.cmp(b))
                .map(|(_, v)| v)
        })
    }

    pub(super) fn rules_from_configuration(cfg: &Value) -> Result<Vec<Permission>, SelectError> {
        if let Value::String(text) = cfg {
            let decoded: Value = serde_json::from_str(text).map_err(|e| {
                SelectError::InvalidConfiguration(format!("Configuration is not JSON: {e}"))
            })?;
            return rules_from_configuration(&decoded);
        }
        let obj = cfg.as_object().ok_or_else(|| {
            SelectError::InvalidConfiguration(format!(
                "Configuration must be a JSON object, got {}",
                kind(cfg)
            ))
        })?;
        permission_values(obj)?
            .into_iter()
            .enumerate()
            .map(|(index, v)| {
                permission(v).map_err(|reason| SelectError::InvalidRule {
                    index,
                    id: rule_id(v),
                    reason,
                })
            })
            .collect()
    }

    /// What the former `parse_discovered_resource` gave, with the configuration's rules read
    /// as the remediation read them.
    #[derive(Debug, PartialEq)]
    pub(super) struct Resource {
        pub(super) request_id: Option<String>,
        pub(super) account_id: Option<String>,
        pub(super) region: String,
        pub(super) resource_id: String,
        pub(super) resource_type: String,
        pub(super) deleted: bool,
        pub(super) snapshot: Result<Vec<Permission>, SelectError>,
        pub(super) tags: Tags,
        pub(super) service_managed: Option<bool>,
    }

    pub(super) fn parse_discovered_resource(
        body: &Value,
        query: &ResourceQuery,
    ) -> Result<Resource, ApiError> {
        let detail = field(body, "DiscoveredResourceDetail")
            .filter(|d| d.is_object())
            .ok_or_else(|| decode("response has no DiscoveredResourceDetail object"))?;
        let resource_id = text_field(detail, "ResourceId")
            .ok_or_else(|| decode("DiscoveredResourceDetail has no ResourceId"))?;
        if resource_id != query.resource_id {
            return Err(decode(format!(
                "Config answered for {resource_id:?}, not the requested {:?}",
                query.resource_id
            )));
        }
        let resource_type =
            text_field(detail, "ResourceType").unwrap_or_else(|| query.resource_type.clone());
        let region = text_field(detail, "Region").unwrap_or_else(|| query.region.clone());
        let deleted = match field(detail, "ResourceDeleted") {
            None | Some(Value::Null) => false,
            Some(v) => match text_field(detail, "ResourceDeleted").as_deref() {
                Some("0") => true,
                Some("1") => false,
                _ => {
                    return Err(decode(format!(
                        "ResourceDeleted is {}, not 0 or 1",
                        kind(v)
                    )))
                }
            },
        };
        let configuration = match field(detail, "Configuration") {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
            Some(Value::String(s)) => serde_json::from_str(s)
                .map_err(|e| decode(format!("Configuration is not valid JSON: {e}")))?,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(v) => return Err(decode(format!("Configuration is {}", kind(v)))),
        };
        let tags_json = match field(detail, "Tags") {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
            Some(Value::String(s)) => serde_json::from_str(s)
                .map_err(|e| decode(format!("Tags is not valid JSON: {e}")))?,
            Some(v) => v.clone(),
        };
        let tags = Tags::from_json(&tags_json).map_err(|e| decode(format!("Tags: {e}")))?;
        let service_managed = match field(&configuration, "ServiceManaged") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            Some(v) => {
                return Err(decode(format!(
                    "Configuration.ServiceManaged is {}, not a boolean",
                    kind(v)
                )))
            }
        };
        Ok(Resource {
            request_id: text_field(body, "RequestId"),
            account_id: text_field(detail, "AccountId"),
            region,
            resource_id,
            resource_type,
            deleted,
            snapshot: rules_from_configuration(&configuration),
            tags,
            service_managed,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Generated answers, written as text so that keys can repeat
// ---------------------------------------------------------------------------------------------

/// A JSON object written from its members in order, repeated keys included (a `Value` would
/// keep only the last one, which is what the readers must agree on).
fn object(members: &[(String, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(str::to_string)
}

/// A scalar as JSON text: the values rule fields and envelope members take, good and bad.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        pick(&[
            "null",
            "true",
            "false",
            "0",
            "1",
            "7",
            "100",
            "101",
            "-1",
            "1.5",
            "1e2",
            "18446744073709551616",
        ]),
        pick(&[
            "",
            " ",
            "22/22",
            "-1/-1",
            "1/65535",
            "3389/3389",
            "abc",
            "0.0.0.0/0",
            "::/0",
            "10.0.0.0/8",
            "ingress",
            "egress",
            "Accept",
            "drop",
            "TCP",
            "ALL",
            "udp",
            "sgr-1",
            "sgr-2",
            "1",
            "100",
            "true",
            "FALSE",
            "sg-1",
            "sg-2",
            "t2",
            "vpc-1",
            "é\"\\",
            " 22/22 ",
            "\tingress ",
            " 7",
            "\u{a0}",
            "1.2.3.4",
            " ::/0",
        ])
        .prop_map(|s| Value::from(s).to_string()),
    ]
}

/// A rule field's value: mostly scalars, sometimes a list or an object (corrupt).
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => scalar(),
        1 => Just("[\"22/22\"]".to_string()),
        1 => Just("{\"a\":1}".to_string()),
    ]
}

/// A rule object: some of the table's fields, other spellings and unknown keys, any values.
fn any_rule() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = FIELDS
        .iter()
        .map(|f| f.name)
        .chain([
            "securitygroupruleid",
            "PRIORITY",
            "DestGroupOwnerAccount",
            "Other",
        ])
        .collect();
    proptest::collection::vec((proptest::sample::select(names), field_value()), 0..10).prop_map(
        |members| {
            object(
                &members
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect::<Vec<_>>(),
            )
        },
    )
}

/// A rule ECS could send: readable values, in any order, sometimes with unknown keys.
fn readable_rule() -> impl Strategy<Value = String> {
    (
        pick(&["sgr-1", "sgr-2", "sgr-3"]),
        pick(&["ingress", "egress", "Ingress"]),
        pick(&["Accept", "accept", "Drop"]),
        prop_oneof![
            (1u8..=100).prop_map(|p| p.to_string()),
            (1u8..=100).prop_map(|p| Value::from(p.to_string()).to_string())
        ],
        pick(&["TCP", "UDP", "ALL", "ICMP"]),
        pick(&["22/22", "-1/-1", "1/65535", "80/80", "3389/3389"]),
        pick(&["0.0.0.0/0", "10.0.0.0/8", "", "::/0"]),
        proptest::option::of(scalar()),
    )
        .prop_map(|(id, dir, policy, priority, proto, ports, cidr, extra)| {
            let q = |s: String| Value::from(s).to_string();
            let mut members = vec![
                ("SecurityGroupRuleId".to_string(), q(id)),
                ("Direction".to_string(), q(dir)),
                ("Policy".to_string(), q(policy)),
                ("Priority".to_string(), priority),
                ("IpProtocol".to_string(), q(proto)),
                ("PortRange".to_string(), q(ports)),
                ("SourceCidrIp".to_string(), q(cidr)),
            ];
            if let Some(extra) = extra {
                members.push(("CreateTime".to_string(), extra));
            }
            object(&members)
        })
}

/// A rule object: mostly readable, sometimes anything.
fn rule() -> impl Strategy<Value = String> {
    prop_oneof![3 => readable_rule(), 1 => any_rule()]
}

/// An entry of a rule list: mostly rule objects, sometimes not an object at all.
fn entry() -> impl Strategy<Value = String> {
    prop_oneof![8 => rule(), 1 => scalar(), 1 => Just("[1]".to_string())]
}

fn entries() -> impl Strategy<Value = String> {
    proptest::collection::vec(entry(), 0..5).prop_map(|e| format!("[{}]", e.join(",")))
}

/// A `Permissions` member in every shape seen or imaginable.
fn permissions() -> impl Strategy<Value = String> {
    let inner = prop_oneof![
        4 => entries(),
        1 => rule(),
        1 => scalar(),
    ];
    let wrapper_key = prop_oneof![
        3 => Just("Permission".to_string()),
        1 => pick(&["permission", "PERMISSION", "Other"]),
    ];
    prop_oneof![
        3 => entries(),
        4 => proptest::collection::vec((wrapper_key, inner), 0..3).prop_map(|m| object(&m)),
        1 => scalar(),
    ]
}

/// A DescribeSecurityGroupAttribute answer: mostly well-formed (the group asked for, rules in
/// the wrapper), sometimes anything.
fn page_body() -> impl Strategy<Value = String> {
    prop_oneof![1 => well_formed_page(), 1 => any_page()]
}

fn well_formed_page() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(rule(), 0..6),
        pick(&["\"\"", "\"t2\"", "null", "\" \""]),
        pick(&["\"vpc-1\"", "\"\""]),
    )
        .prop_map(|(rules, token, vpc)| {
            object(&[
                ("RequestId".to_string(), "\"R\"".to_string()),
                ("SecurityGroupId".to_string(), "\"sg-1\"".to_string()),
                ("VpcId".to_string(), vpc),
                ("NextToken".to_string(), token),
                (
                    "Permissions".to_string(),
                    object(&[("Permission".to_string(), format!("[{}]", rules.join(",")))]),
                ),
            ])
        })
}

fn any_page() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        (
            pick(&["Permissions", "permissions", "PERMISSIONS"]),
            permissions()
        ),
        (
            pick(&[
                "SecurityGroupId",
                "securityGroupId",
                "NextToken",
                "nextToken",
                "VpcId",
                "vpcid",
                "RequestId",
                "Extra",
            ]),
            scalar()
        ),
    ];
    proptest::collection::vec(member, 0..7).prop_map(|m| object(&m))
}

/// A configuration object Config recorded.
fn configuration_object() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        (pick(&["Permissions", "permissions"]), permissions()),
        (
            pick(&["ServiceManaged", "serviceManaged", "SERVICEMANAGED"]),
            scalar()
        ),
        (pick(&["SecurityGroupId", "VpcId", "Other"]), scalar()),
    ];
    proptest::collection::vec(member, 0..5).prop_map(|m| object(&m))
}

/// A `Configuration` member: JSON in a string (the real shape), twice encoded, an object, or
/// something wrong.
fn configuration() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => configuration_object().prop_map(|c| Value::from(c).to_string()),
        1 => configuration_object().prop_map(|c| Value::from(Value::from(c).to_string()).to_string()),
        2 => configuration_object(),
        1 => pick(&["null", "\" \"", "\"{bad\"", "\"[1,2]\"", "\"5\"", "5", "[]", "true", "\"null\""]),
    ]
}

/// A `DiscoveredResourceDetail` member: mostly what Config sends (the resource asked for, its
/// configuration as JSON in a string), sometimes anything.
fn detail() -> impl Strategy<Value = String> {
    prop_oneof![1 => well_formed_detail(), 1 => any_detail()]
}

fn well_formed_detail() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(rule(), 0..6),
        pick(&["false", "true", "\"false\"", "null"]),
        pick(&["1", "0", "\"1\""]),
        prop_oneof![Just(true), Just(false)],
    )
        .prop_map(|(rules, managed, deleted, wrapped)| {
            let list = format!("[{}]", rules.join(","));
            let permissions = if wrapped {
                object(&[("Permission".to_string(), list)])
            } else {
                list
            };
            let configuration = object(&[
                ("SecurityGroupId".to_string(), "\"sg-1\"".to_string()),
                ("ServiceManaged".to_string(), managed),
                ("Permissions".to_string(), permissions),
            ]);
            object(&[
                ("AccountId".to_string(), "1234567890123456".to_string()),
                ("ResourceId".to_string(), "\"sg-1\"".to_string()),
                ("ResourceDeleted".to_string(), deleted),
                (
                    "Configuration".to_string(),
                    Value::from(configuration).to_string(),
                ),
                (
                    "Tags".to_string(),
                    "\"{\\\"env\\\":\\\"prod\\\"}\"".to_string(),
                ),
            ])
        })
}

fn any_detail() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        3 => (pick(&["ResourceId", "resourceId"]), pick(&["\"sg-1\"", "\"sg-1\"", "\"sg-2\"", "\"\"", "1", "null"])),
        3 => (
            pick(&["Configuration", "configuration"]),
            configuration()
        ),
        1 => (
            pick(&["ResourceDeleted", "resourceDeleted"]),
            pick(&["0", "1", "\"0\"", "\"1\"", "2", "true", "null", "\"x\"", "[0]"])
        ),
        1 => (
            pick(&["Tags", "tags"]),
            pick(&["null", "\"\"", "\"{\\\"env\\\":\\\"prod\\\"}\"", "\"[1,\"", "{\"a\":\"b\"}", "[{\"Key\":\"k\",\"Value\":\"v\"}]", "5"])
        ),
        1 => (
            pick(&["ResourceType", "Region", "AccountId", "accountId", "Other"]),
            scalar()
        ),
    ];
    prop_oneof![
        12 => proptest::collection::vec(member, 0..8).prop_map(|m| object(&m)),
        1 => scalar(),
    ]
}

/// A GetDiscoveredResource answer.
fn config_body() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        4 => (
            prop_oneof![
                3 => Just("DiscoveredResourceDetail".to_string()),
                1 => Just("discoveredResourceDetail".to_string()),
            ],
            detail()
        ),
        1 => (pick(&["RequestId", "requestId", "Other"]), scalar()),
    ];
    proptest::collection::vec(member, 0..4).prop_map(|m| object(&m))
}

fn query() -> ResourceQuery {
    ResourceQuery {
        resource_id: "sg-1".into(),
        resource_type: "ACS::ECS::SecurityGroup".into(),
        region: "cn-hangzhou".into(),
        aggregator: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn a_page_read_from_its_bytes_is_what_the_tree_reader_read(body in page_body()) {
        let tree: Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(parse_page(body.as_bytes(), "sg-1"), oracle::parse_page(&tree, "sg-1"));
    }

    #[test]
    fn a_config_answer_read_from_its_bytes_is_what_the_tree_reader_read(body in config_body()) {
        let tree: Value = serde_json::from_str(&body).unwrap();
        let typed = parse_discovered_resource(body.as_bytes(), None, &query()).map(|r| {
            oracle::Resource {
                request_id: r.request_id,
                account_id: r.account_id,
                region: r.region,
                resource_id: r.resource_id,
                resource_type: r.resource_type,
                deleted: r.deleted,
                snapshot: r.snapshot.map_err(SelectError::from),
                tags: r.tags,
                service_managed: r.service_managed,
            }
        });
        prop_assert_eq!(typed, oracle::parse_discovered_resource(&tree, &query()));
    }

    #[test]
    fn a_rule_read_from_its_bytes_or_its_tree_is_what_the_tree_reader_read(rule in entry()) {
        let tree: Value = serde_json::from_str(&rule).unwrap();
        let expected = oracle::permission(&tree);
        prop_assert_eq!(Permission::from_json(&tree), expected.clone());
        let streamed = serde_json::from_str::<Permission>(&rule).map_err(|e| e.to_string());
        match (streamed, expected) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            // Read off the wire, the reason comes with serde's position.
            (Err(a), Err(b)) if tree.is_object() => prop_assert!(a.starts_with(&b), "{} / {}", a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{:?} / {:?}", a, b),
        }
    }

    #[test]
    fn the_rules_of_a_configuration_tree_are_what_the_tree_reader_read(cfg in configuration()) {
        let tree: Value = serde_json::from_str(&cfg).unwrap();
        prop_assert_eq!(rules_from_configuration(&tree), oracle::rules_from_configuration(&tree));
    }
}

#[test]
fn the_generators_reach_every_outcome() {
    // A property that only ever compares two errors proves little: check that generated
    // answers give pages with rules, errors of each kind, and snapshots with rules.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut pages_with_rules, mut page_errors, mut snapshots_with_rules) = (0, 0, 0);
    for _ in 0..2000 {
        let body = page_body().new_tree(&mut runner).unwrap().current();
        match parse_page(body.as_bytes(), "sg-1") {
            Ok(p) if !p.permissions.is_empty() => pages_with_rules += 1,
            Err(_) => page_errors += 1,
            Ok(_) => {}
        }
        let body = config_body().new_tree(&mut runner).unwrap().current();
        if let Ok(r) = parse_discovered_resource(body.as_bytes(), None, &query()) {
            if r.snapshot.is_ok_and(|rules| !rules.is_empty()) {
                snapshots_with_rules += 1;
            }
        }
    }
    assert!(pages_with_rules > 50, "{pages_with_rules}");
    assert!(page_errors > 50, "{page_errors}");
    assert!(snapshots_with_rules > 20, "{snapshots_with_rules}");
}

//! Which rules get revoked: one behaviour per test.

use crate::common::ids;
use serde_json::{json, Value};
use sg_remediator::rules::{Permission, PortSpan, RuleId};
use sg_remediator::select::{
    canonical_document, rules_from_configuration, rules_from_describe, ReviewReason, SelectError,
    Selection, Selector, DEFAULT_QUERY,
};

const RISKY: &str = "22,3389";

fn rule(v: Value) -> Permission {
    Permission::from_json(&v).expect("test rule parses")
}

/// A world-open ingress Accept rule, overridden by `extra`.
fn open(id: &str, extra: Value) -> Permission {
    let mut base = json!({
        "SecurityGroupRuleId": id, "Direction": "ingress", "Policy": "Accept", "Priority": 10,
        "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0",
        "Ipv6SourceCidrIp": "", "NicType": "intranet"
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    rule(base)
}

/// A world-source ingress Drop rule.
fn deny(id: &str, extra: Value) -> Permission {
    let mut merged = json!({"Policy": "Drop"});
    for (k, v) in extra.as_object().unwrap() {
        merged[k] = v.clone();
    }
    open(id, merged)
}

fn selector(risky: &str) -> Selector {
    Selector::new(risky.parse().unwrap(), None).unwrap()
}

fn select(rules: &[Permission]) -> Selection {
    selector(RISKY).evaluate(rules).unwrap()
}

fn revoked(rules: &[Permission]) -> Vec<RuleId> {
    select(rules).revoke_ids()
}

fn shadowed(rules: &[Permission]) -> Vec<RuleId> {
    select(rules).shadowed_ids()
}

// ----- kept vs revoked, by rule kind ----------------------------------------------------------

#[test]
fn ssh_over_tcp_from_the_world_is_revoked() {
    assert_eq!(revoked(&[open("sgr-a", json!({}))]), ids(&["sgr-a"]));
}

#[test]
fn rdp_over_tcp_from_the_world_is_revoked() {
    let r = open("sgr-a", json!({"PortRange": "3389/3389"}));
    assert_eq!(revoked(&[r]), ids(&["sgr-a"]));
}

#[test]
fn rdp_over_udp_from_the_world_is_revoked() {
    let r = open(
        "sgr-a",
        json!({"IpProtocol": "UDP", "PortRange": "3389/3389"}),
    );
    assert_eq!(revoked(&[r]), ids(&["sgr-a"]));
}

#[test]
fn a_port_range_containing_a_risky_port_is_revoked() {
    let r = open("sgr-a", json!({"PortRange": "20/30"}));
    assert_eq!(revoked(&[r]), ids(&["sgr-a"]));
}

#[test]
fn the_full_port_range_is_revoked_and_flagged_as_collateral() {
    let r = open("sgr-a", json!({"PortRange": "1/65535"}));
    let s = select(&[r]);
    assert_eq!(s.revoke_ids(), ids(&["sgr-a"]));
    assert!(s.exposed[0].collateral);
    assert_eq!(
        s.exposed[0].ports,
        vec![
            PortSpan { from: 22, to: 22 },
            PortSpan {
                from: 3389,
                to: 3389
            }
        ]
    );
}

#[test]
fn an_exact_risky_port_rule_is_not_collateral() {
    let s = select(&[open("sgr-a", json!({}))]);
    assert!(!s.exposed[0].collateral);
}

#[test]
fn all_protocols_on_all_ports_is_revoked() {
    let r = open("sgr-a", json!({"IpProtocol": "ALL", "PortRange": "-1/-1"}));
    assert_eq!(revoked(&[r]), ids(&["sgr-a"]));
}

#[test]
fn icmp_from_the_world_is_kept() {
    let r = open("sgr-a", json!({"IpProtocol": "ICMP", "PortRange": "-1/-1"}));
    let s = select(&[r]);
    assert!(s.exposed.is_empty() && s.review.is_empty() && s.shadowed.is_empty());
}

#[test]
fn gre_from_the_world_is_kept() {
    let r = open("sgr-a", json!({"IpProtocol": "GRE", "PortRange": "-1/-1"}));
    assert!(revoked(&[r]).is_empty());
}

#[test]
fn web_ports_from_the_world_are_kept() {
    let http = open("sgr-a", json!({"PortRange": "80/80"}));
    let https = open("sgr-b", json!({"PortRange": "443/443"}));
    assert!(revoked(&[http, https]).is_empty());
}

#[test]
fn a_private_source_is_kept() {
    let r = open("sgr-a", json!({"SourceCidrIp": "10.0.0.0/8"}));
    assert!(revoked(&[r]).is_empty());
}

#[test]
fn a_security_group_source_is_kept() {
    let r = open(
        "sgr-a",
        json!({"SourceCidrIp": "", "SourceGroupId": "sg-other"}),
    );
    let s = select(&[r]);
    assert!(s.exposed.is_empty() && s.review.is_empty());
}

#[test]
fn an_egress_rule_to_the_world_is_kept() {
    let r = open(
        "sgr-a",
        json!({"Direction": "egress", "SourceCidrIp": "", "DestCidrIp": "0.0.0.0/0"}),
    );
    assert!(revoked(&[r]).is_empty());
}

#[test]
fn an_egress_rule_with_a_world_source_field_is_kept() {
    let r = open("sgr-a", json!({"Direction": "egress"}));
    assert!(revoked(&[r]).is_empty());
}

#[test]
fn a_world_drop_rule_on_ssh_is_kept() {
    let s = select(&[deny("sgr-d", json!({}))]);
    assert!(s.exposed.is_empty() && s.review.is_empty() && s.shadowed.is_empty());
}

#[test]
fn ssh_from_the_ipv6_world_is_revoked() {
    let r = open(
        "sgr-a",
        json!({"SourceCidrIp": "", "Ipv6SourceCidrIp": "::/0"}),
    );
    assert_eq!(revoked(&[r]), ids(&["sgr-a"]));
}

#[test]
fn ssh_from_an_ipv6_documentation_prefix_is_kept() {
    let r = open(
        "sgr-a",
        json!({"SourceCidrIp": "", "Ipv6SourceCidrIp": "2001:db8::/32"}),
    );
    assert!(revoked(&[r]).is_empty());
}

#[test]
fn policy_is_matched_whatever_its_case() {
    for policy in ["Accept", "accept", "ACCEPT"] {
        let r = open("sgr-a", json!({"Policy": policy}));
        assert_eq!(revoked(&[r]), ids(&["sgr-a"]), "Policy {policy}");
    }
}

#[test]
fn protocol_is_matched_whatever_its_case() {
    let r = open("sgr-a", json!({"IpProtocol": "tcp"}));
    assert_eq!(revoked(&[r]), ids(&["sgr-a"]));
}

#[test]
fn priority_as_string_or_number_gives_the_same_result() {
    let as_text = [
        deny("sgr-d", json!({"Priority": "1"})),
        open("sgr-a", json!({"Priority": "10"})),
    ];
    let as_number = [
        deny("sgr-d", json!({"Priority": 1})),
        open("sgr-a", json!({"Priority": 10})),
    ];
    assert_eq!(select(&as_text), select(&as_number));
    assert_eq!(shadowed(&as_number), ids(&["sgr-a"]));
}

#[test]
fn a_rule_without_an_id_goes_to_review() {
    let mut r = open("x", json!({}));
    r.rule_id = None;
    let s = select(&[r]);
    assert!(s.exposed.is_empty());
    assert_eq!(s.review[0].reason, ReviewReason::MissingRuleId);
}

// ----- shadowing -------------------------------------------------------------------------------

#[test]
fn a_higher_priority_world_drop_shadows_the_accept() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1})),
        open("sgr-a", json!({"Priority": 10})),
    ];
    let s = select(&rules);
    assert!(s.exposed.is_empty());
    assert_eq!(s.shadowed_ids(), ids(&["sgr-a"]));
    assert_eq!(s.shadowed[0].by, ids(&["sgr-d"]));
    assert_eq!(s.shadowed[0].ports, vec![PortSpan { from: 22, to: 22 }]);
}

#[test]
fn drop_wins_a_priority_tie() {
    let rules = [
        open("sgr-a", json!({"Priority": 5})),
        deny("sgr-d", json!({"Priority": 5})),
    ];
    assert_eq!(shadowed(&rules), ids(&["sgr-a"]));
    assert!(revoked(&rules).is_empty());
}

#[test]
fn a_lower_priority_drop_does_not_shadow() {
    let rules = [
        open("sgr-a", json!({"Priority": 5})),
        deny("sgr-d", json!({"Priority": 6})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn a_drop_covering_only_one_of_two_risky_ports_does_not_shadow() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "PortRange": "22/22"})),
        open("sgr-a", json!({"PortRange": "1/65535"})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn two_drops_covering_both_risky_ports_together_shadow() {
    let rules = [
        deny("sgr-d1", json!({"Priority": 1, "PortRange": "22/22"})),
        deny("sgr-d2", json!({"Priority": 1, "PortRange": "3000/4000"})),
        open("sgr-a", json!({"PortRange": "1/65535"})),
    ];
    let s = select(&rules);
    assert_eq!(s.shadowed_ids(), ids(&["sgr-a"]));
    assert_eq!(s.shadowed[0].by, ids(&["sgr-d1", "sgr-d2"]));
}

#[test]
fn an_ipv4_world_drop_does_not_shadow_an_ipv6_world_accept() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1})),
        open(
            "sgr-a",
            json!({"SourceCidrIp": "", "Ipv6SourceCidrIp": "::/0"}),
        ),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn an_ipv6_world_drop_shadows_an_ipv6_world_accept() {
    let v6 = json!({"SourceCidrIp": "", "Ipv6SourceCidrIp": "::/0"});
    let mut drop6 = v6.clone();
    drop6["Priority"] = json!(1);
    let rules = [deny("sgr-d", drop6), open("sgr-a", v6)];
    assert_eq!(shadowed(&rules), ids(&["sgr-a"]));
}

#[test]
fn a_tcp_drop_does_not_shadow_a_udp_accept() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "IpProtocol": "TCP"})),
        open("sgr-a", json!({"IpProtocol": "UDP"})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn an_all_protocol_drop_shadows_a_tcp_accept() {
    let rules = [
        deny(
            "sgr-d",
            json!({"Priority": 1, "IpProtocol": "ALL", "PortRange": "-1/-1"}),
        ),
        open("sgr-a", json!({})),
    ];
    assert_eq!(shadowed(&rules), ids(&["sgr-a"]));
}

#[test]
fn an_all_protocol_accept_is_not_shadowed_by_a_tcp_drop_alone() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "PortRange": "1/65535"})),
        open("sgr-a", json!({"IpProtocol": "ALL", "PortRange": "-1/-1"})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn an_all_protocol_accept_is_shadowed_by_tcp_and_udp_drops_together() {
    let rules = [
        deny("sgr-t", json!({"Priority": 1, "PortRange": "1/65535"})),
        deny(
            "sgr-u",
            json!({"Priority": 1, "IpProtocol": "UDP", "PortRange": "1/65535"}),
        ),
        open("sgr-a", json!({"IpProtocol": "ALL", "PortRange": "-1/-1"})),
    ];
    let s = select(&rules);
    assert_eq!(s.shadowed_ids(), ids(&["sgr-a"]));
    assert_eq!(s.shadowed[0].by, ids(&["sgr-t", "sgr-u"]));
}

#[test]
fn an_all_protocol_accept_is_shadowed_by_an_all_protocol_drop() {
    let all = json!({"IpProtocol": "ALL", "PortRange": "-1/-1"});
    let mut drop = all.clone();
    drop["Priority"] = json!(1);
    assert_eq!(
        shadowed(&[deny("sgr-d", drop), open("sgr-a", all)]),
        ids(&["sgr-a"])
    );
}

#[test]
fn a_drop_on_a_non_world_source_does_not_shadow() {
    let rules = [
        deny(
            "sgr-d",
            json!({"Priority": 1, "SourceCidrIp": "10.0.0.0/8"}),
        ),
        open("sgr-a", json!({})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn an_egress_drop_does_not_shadow() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "Direction": "egress"})),
        open("sgr-a", json!({})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn a_drop_limited_to_one_destination_does_not_shadow() {
    let rules = [
        deny(
            "sgr-d",
            json!({"Priority": 1, "DestCidrIp": "192.168.0.5/32"}),
        ),
        open("sgr-a", json!({})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn a_drop_on_another_nic_type_does_not_shadow() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "NicType": "internet"})),
        open("sgr-a", json!({})),
    ];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

#[test]
fn a_risky_span_partly_denied_stays_exposed() {
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "PortRange": "8000/8040"})),
        open("sgr-a", json!({"PortRange": "8000/8080"})),
    ];
    let s = selector("8000-8080").evaluate(&rules).unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-a"]));
}

#[test]
fn a_risky_span_denied_by_adjacent_drops_is_shadowed() {
    let rules = [
        deny("sgr-d1", json!({"Priority": 1, "PortRange": "8000/8040"})),
        deny("sgr-d2", json!({"Priority": 1, "PortRange": "8041/8080"})),
        open("sgr-a", json!({"PortRange": "7000/9000"})),
    ];
    let s = selector("8000-8080").evaluate(&rules).unwrap();
    assert_eq!(s.shadowed_ids(), ids(&["sgr-a"]));
}

#[test]
fn only_the_clipped_part_of_a_risky_span_needs_denying() {
    // The accept opens 8050-8080 of the risky span 8000-8080; a drop of 8050-8080 is enough.
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "PortRange": "8050/8080"})),
        open("sgr-a", json!({"PortRange": "8050/9000"})),
    ];
    let s = selector("8000-8080").evaluate(&rules).unwrap();
    assert_eq!(s.shadowed_ids(), ids(&["sgr-a"]));
    assert_eq!(
        s.shadowed[0].ports,
        vec![PortSpan {
            from: 8050,
            to: 8080
        }]
    );
}

// ----- review ----------------------------------------------------------------------------------

#[test]
fn a_prefix_list_source_on_a_risky_port_goes_to_review() {
    let r = open(
        "sgr-a",
        json!({"SourceCidrIp": "", "SourcePrefixListId": "pl-123"}),
    );
    let s = select(&[r]);
    assert!(s.exposed.is_empty());
    assert_eq!(s.review_ids(), ids(&["sgr-a"]));
    assert_eq!(s.review[0].reason, ReviewReason::PrefixListSource);
}

#[test]
fn a_prefix_list_source_on_a_web_port_is_not_reviewed() {
    let r = open(
        "sgr-a",
        json!({"SourceCidrIp": "", "SourcePrefixListId": "pl-123", "PortRange": "443/443"}),
    );
    assert!(select(&[r]).review.is_empty());
}

#[test]
fn a_port_list_rule_from_the_world_goes_to_review() {
    let r = open(
        "sgr-a",
        json!({"PortRange": "-1/-1", "PortRangeListId": "prl-1"}),
    );
    let s = select(&[r]);
    assert!(s.exposed.is_empty());
    assert_eq!(s.review[0].reason, ReviewReason::PortRangeList);
}

#[test]
fn an_unreadable_port_range_from_the_world_goes_to_review() {
    let r = open("sgr-a", json!({"PortRange": "twenty-two"}));
    let s = select(&[r]);
    assert!(s.exposed.is_empty());
    assert_eq!(s.review[0].reason, ReviewReason::UnreadablePortRange);
}

#[test]
fn an_unknown_protocol_from_the_world_goes_to_review() {
    let r = open("sgr-a", json!({"IpProtocol": "SCTP"}));
    let s = select(&[r]);
    assert!(s.exposed.is_empty());
    assert_eq!(s.review[0].reason, ReviewReason::UnknownProtocol);
}

// ----- reading configurations -------------------------------------------------------------------

fn fixture_rules() -> Value {
    json!([
        {"SecurityGroupRuleId": "sgr-ssh", "Direction": "ingress", "Policy": "Accept", "Priority": "1",
         "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Ipv6SourceCidrIp": "",
         "NicType": "intranet", "Description": "ssh"},
        {"SecurityGroupRuleId": "sgr-all6", "Direction": "ingress", "Policy": "Accept", "Priority": 100,
         "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceCidrIp": "", "Ipv6SourceCidrIp": "::/0",
         "NicType": "intranet", "Description": ""},
        {"SecurityGroupRuleId": "sgr-web", "Direction": "ingress", "Policy": "Accept", "Priority": "1",
         "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0", "NicType": "intranet"}
    ])
}

#[test]
fn both_config_shapes_give_identical_results() {
    let nested = json!({"SecurityGroupId": "sg-1", "Permissions": {"Permission": fixture_rules()}});
    let bare = json!({"SecurityGroupId": "sg-1", "Permissions": fixture_rules()});
    let a = rules_from_configuration(&nested).unwrap();
    let b = rules_from_configuration(&bare).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
    assert_eq!(select(&a), select(&b));
    assert_eq!(select(&a).revoke_ids(), ids(&["sgr-ssh", "sgr-all6"]));
}

#[test]
fn a_configuration_still_encoded_as_a_string_is_decoded() {
    let cfg = json!({"Permissions": fixture_rules()}).to_string();
    let rules = rules_from_configuration(&Value::String(cfg)).unwrap();
    assert_eq!(rules.len(), 3);
}

#[test]
fn a_configuration_without_permissions_has_no_rules() {
    assert!(
        rules_from_configuration(&json!({"SecurityGroupId": "sg-1"}))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn empty_permissions_in_either_shape_have_no_rules() {
    for cfg in [
        json!({"Permissions": []}),
        json!({"Permissions": {}}),
        json!({"Permissions": {"Permission": []}}),
        json!({"Permissions": null}),
        json!({"Permissions": ""}),
    ] {
        assert!(rules_from_configuration(&cfg).unwrap().is_empty(), "{cfg}");
    }
}

#[test]
fn permissions_of_a_shape_no_reading_takes_fail_the_configuration() {
    for cfg in [
        json!({"Permissions": 5}),
        json!({"Permissions": true}),
        json!({"Permissions": {"Permission": "sgr-1"}}),
        json!({"Permissions": {"Permission": 7}}),
        json!({"Permissions": [1, 2]}),
    ] {
        assert!(rules_from_configuration(&cfg).is_err(), "{cfg}");
    }
}

#[test]
fn a_single_permission_object_counts_as_a_one_rule_list() {
    let cfg = json!({"Permissions": {"Permission": fixture_rules()[0].clone()}});
    assert_eq!(rules_from_configuration(&cfg).unwrap().len(), 1);
}

#[test]
fn a_rule_with_an_unreadable_priority_fails_the_configuration_naming_the_rule() {
    let cfg = json!({"Permissions": [
        fixture_rules()[0].clone(),
        {"SecurityGroupRuleId": "sgr-bad", "Direction": "ingress", "Priority": "abc",
         "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}
    ]});
    let err = rules_from_configuration(&cfg).unwrap_err();
    assert!(matches!(
        &err,
        SelectError::InvalidRule { index: 1, id: Some(id), .. } if id == "sgr-bad"
    ));
    assert!(err.to_string().contains("sgr-bad"), "{err}");
}

#[test]
fn a_policy_of_the_wrong_type_fails_the_configuration_instead_of_defaulting_to_accept() {
    let cfg = json!({"Permissions": [
        {"SecurityGroupRuleId": "sgr-odd", "Direction": "ingress", "Policy": {"Value": "Drop"},
         "Priority": 1, "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}
    ]});
    let err = rules_from_configuration(&cfg).unwrap_err();
    assert!(
        matches!(&err, SelectError::InvalidRule { id: Some(id), .. } if id == "sgr-odd"),
        "{err:?}"
    );
}

#[test]
fn permissions_of_the_wrong_type_are_an_error() {
    let err = rules_from_configuration(&json!({"Permissions": 7})).unwrap_err();
    assert!(matches!(err, SelectError::InvalidConfiguration(_)));
}

#[test]
fn a_configuration_that_is_not_an_object_is_an_error() {
    assert!(matches!(
        rules_from_configuration(&json!([1, 2])),
        Err(SelectError::InvalidConfiguration(_))
    ));
    assert!(matches!(
        rules_from_configuration(&json!("{not json")),
        Err(SelectError::InvalidConfiguration(_))
    ));
}

#[test]
fn a_describe_response_reads_like_a_configuration() {
    let resp =
        json!({"RequestId": "r", "NextToken": "", "Permissions": {"Permission": fixture_rules()}});
    assert_eq!(rules_from_describe(&resp).unwrap().len(), 3);
}

// ----- the canonical document -------------------------------------------------------------------

#[test]
fn the_canonical_document_normalises_case_and_types() {
    let r = rule(
        json!({"SecurityGroupRuleId": "sgr-a", "Direction": "Ingress", "Policy": "Accept",
        "Priority": "7", "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}),
    );
    let doc = canonical_document(&[r]);
    let p = &doc["Permissions"][0];
    assert_eq!(p["Direction"], "ingress");
    assert_eq!(p["Policy"], "accept");
    assert_eq!(p["Priority"], 7);
    assert_eq!(p["IpProtocol"], "TCP");
}

#[test]
fn absent_fields_are_empty_strings_in_the_canonical_document() {
    let doc = canonical_document(&[open("sgr-a", json!({}))]);
    let p = &doc["Permissions"][0];
    assert_eq!(p["Ipv6SourceCidrIp"], "");
    assert_eq!(p["SourcePrefixListId"], "");
    assert_eq!(p["Description"], "");
}

// ----- custom selectors -------------------------------------------------------------------------

fn custom(query: &str) -> Result<Selector, SelectError> {
    Selector::new(RISKY.parse().unwrap(), Some(query))
}

#[test]
fn the_default_query_is_used_without_a_custom_one() {
    let s = selector(RISKY);
    assert_eq!(s.query(), DEFAULT_QUERY);
    assert!(!s.is_custom());
}

#[test]
fn a_blank_custom_query_means_the_default() {
    let s = custom("   ").unwrap();
    assert_eq!(s.query(), DEFAULT_QUERY);
}

/// World-open rules of every kind the built-in selection keeps, plus one it revokes.
fn world_mix() -> [Permission; 6] {
    [
        open("sgr-ssh", json!({})),
        open("sgr-http", json!({"PortRange": "80/80"})),
        open("sgr-https", json!({"PortRange": "443/443"})),
        open(
            "sgr-dns",
            json!({"IpProtocol": "UDP", "PortRange": "53/53"}),
        ),
        open(
            "sgr-icmp",
            json!({"IpProtocol": "ICMP", "PortRange": "-1/-1"}),
        ),
        open(
            "sgr-gre",
            json!({"IpProtocol": "GRE", "PortRange": "-1/-1"}),
        ),
    ]
}

#[test]
fn a_custom_query_selecting_every_world_rule_revokes_only_the_risky_ones() {
    // The query of the seed: broad on ports and protocols.
    let s = custom("Permissions[?SourceCidrIp=='0.0.0.0/0']")
        .unwrap()
        .evaluate(&world_mix())
        .unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-ssh"]));
    assert!(s.shadowed.is_empty() && s.review.is_empty(), "{s:?}");
}

#[test]
fn a_custom_query_cannot_add_a_port_that_is_not_risky() {
    let q = "Permissions[?Direction == 'ingress' && Policy == 'accept' && is_world(SourceCidrIp) \
             && (opens_risky_port(PortRange) || port_range_covers(PortRange, `80`))].SecurityGroupRuleId";
    let s = custom(q).unwrap().evaluate(&world_mix()).unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-ssh"]));
}

#[test]
fn a_port_is_revoked_by_a_custom_query_once_it_is_a_risky_port() {
    let q = "Permissions[?is_world(SourceCidrIp) && port_range_covers(PortRange, `22`) \
             || port_range_covers(PortRange, `80`)].SecurityGroupRuleId";
    let s = Selector::new("22,80".parse().unwrap(), Some(q))
        .unwrap()
        .evaluate(&world_mix())
        .unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-ssh", "sgr-http"]));
}

#[test]
fn every_world_open_tcp_and_udp_rule_is_revoked_with_risky_ports_1_to_65535() {
    let s = Selector::new(
        "1-65535".parse().unwrap(),
        Some("Permissions[?SourceCidrIp=='0.0.0.0/0']"),
    )
    .unwrap()
    .evaluate(&world_mix())
    .unwrap();
    assert_eq!(
        s.revoke_ids(),
        ids(&["sgr-ssh", "sgr-http", "sgr-https", "sgr-dns"])
    );
}

#[test]
fn icmp_and_gre_are_never_revoked_whatever_the_query_and_the_risky_ports() {
    let q = "Permissions[?IpProtocol == 'ICMP' || IpProtocol == 'GRE' || is_world(SourceCidrIp)]";
    let s = Selector::new("1-65535".parse().unwrap(), Some(q))
        .unwrap()
        .evaluate(&world_mix()[4..])
        .unwrap();
    assert!(s.exposed.is_empty(), "{s:?}");
}

#[test]
fn a_custom_query_narrowing_to_one_protocol_passes_the_self_test() {
    let q = "Permissions[?IpProtocol == 'UDP' && is_world(SourceCidrIp)].SecurityGroupRuleId";
    let rules = [
        open("sgr-tcp", json!({})),
        open("sgr-udp", json!({"IpProtocol": "UDP"})),
    ];
    let s = custom(q).unwrap().evaluate(&rules).unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-udp"]));
}

#[test]
fn a_custom_query_selecting_only_rules_that_open_no_risky_port_is_refused_at_construction() {
    for q in [
        "Permissions[?PortRange == '443/443' && is_world(SourceCidrIp)]",
        "Permissions[?IpProtocol == 'ICMP' || IpProtocol == 'GRE']",
    ] {
        let err = custom(q).unwrap_err();
        assert!(
            matches!(err, SelectError::RejectedQuery { .. }),
            "{q}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("selects none of the world-open rules on a risky port"),
            "{text}"
        );
        assert!(text.contains("UDP 22/22 from 0.0.0.0/0"), "{text}");
    }
}

#[test]
fn a_custom_query_may_return_rule_objects() {
    let q = "Permissions[?PortRange == '22/22' && is_world(SourceCidrIp)]";
    let s = custom(q)
        .unwrap()
        .evaluate(&[open("sgr-a", json!({}))])
        .unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-a"]));
}

#[test]
fn an_invalid_custom_query_is_rejected_at_construction_with_its_position() {
    let err = custom("Permissions[?Direction == ").unwrap_err();
    match &err {
        SelectError::InvalidQuery { line, column, .. } => {
            assert_eq!(*line, 1);
            assert!(*column > 1, "{err}");
        }
        other => panic!("expected InvalidQuery, got {other:?}"),
    }
}

#[test]
fn a_custom_query_calling_an_unknown_function_is_rejected_at_construction() {
    let err = custom("Permissions[?no_such_fn(PortRange)].SecurityGroupRuleId").unwrap_err();
    assert!(matches!(err, SelectError::RejectedQuery { .. }), "{err:?}");
    assert!(err.to_string().contains("no_such_fn"), "{err}");
}

#[test]
fn a_custom_query_returning_a_number_is_rejected_at_construction() {
    let err = custom("length(Permissions)").unwrap_err();
    assert!(matches!(err, SelectError::RejectedQuery { .. }), "{err:?}");
}

#[test]
fn a_custom_query_returning_a_non_array_for_a_group_is_a_clear_error() {
    // Returns the array on the built-in sample, but an object for a group with a priority-99 rule.
    let q = "(Permissions[?Priority == `99`] | [0]) || Permissions[?is_world(SourceCidrIp)].SecurityGroupRuleId";
    let sel = custom(q).unwrap();
    let err = sel
        .evaluate(&[open("sgr-a", json!({"Priority": 99}))])
        .unwrap_err();
    assert!(matches!(err, SelectError::BadOutput(_)), "{err:?}");
    assert!(err.to_string().contains("array"), "{err}");
}

#[test]
fn a_custom_selection_of_a_drop_rule_is_not_revoked() {
    let q = "Permissions[?is_world(SourceCidrIp)].SecurityGroupRuleId";
    let s = custom(q)
        .unwrap()
        .evaluate(&[deny("sgr-d", json!({}))])
        .unwrap();
    assert!(s.exposed.is_empty());
    assert_eq!(s.review[0].reason, ReviewReason::SelectedDrop);
}

#[test]
fn a_custom_selection_of_an_egress_rule_is_not_revoked() {
    let q = "Permissions[?is_world(SourceCidrIp)].SecurityGroupRuleId";
    let s = custom(q)
        .unwrap()
        .evaluate(&[open("sgr-e", json!({"Direction": "egress"}))])
        .unwrap();
    assert!(s.exposed.is_empty());
    assert_eq!(s.review[0].reason, ReviewReason::SelectedEgress);
}

#[test]
fn ids_a_custom_query_invents_are_ignored_and_listed() {
    let q = "[['sgr-ghost'], Permissions[?is_world(SourceCidrIp)].SecurityGroupRuleId][]";
    let s = custom(q)
        .unwrap()
        .evaluate(&[open("sgr-a", json!({}))])
        .unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-a"]));
    assert_eq!(s.ignored_ids, vec!["sgr-ghost".to_string()]);
}

#[test]
fn a_selected_id_selects_every_rule_that_carries_it_and_an_unknown_one_is_listed_once() {
    let q = "[['sgr-ghost', 'sgr-ghost', 'sgr-b'], \
             Permissions[?is_world(SourceCidrIp) && PortRange == '22/22'].SecurityGroupRuleId][]";
    let rules = [
        open("sgr-b", json!({"PortRange": "3389/3389"})),
        open("sgr-a", json!({})),
        open("sgr-b", json!({})),
        open("sgr-c", json!({"PortRange": "3389/3389"})),
    ];
    let s = custom(q).unwrap().evaluate(&rules).unwrap();
    let exposed: Vec<&Permission> = s.exposed.iter().map(|e| &e.rule).collect();
    assert_eq!(exposed, vec![&rules[0], &rules[1], &rules[2]]);
    assert_eq!(s.ignored_ids, vec!["sgr-ghost".to_string()]);
}

#[test]
fn shadowing_still_applies_to_a_custom_selection() {
    let q = "Permissions[?Policy == 'accept' && is_world(SourceCidrIp)].SecurityGroupRuleId";
    let rules = [
        deny("sgr-d", json!({"Priority": 1, "PortRange": "3389/3389"})),
        open("sgr-rdp", json!({"PortRange": "3389/3389"})),
    ];
    let s = custom(q).unwrap().evaluate(&rules).unwrap();
    assert!(s.exposed.is_empty());
    assert_eq!(s.shadowed_ids(), ids(&["sgr-rdp"]));
}

#[test]
fn a_selector_is_cheap_to_clone_and_shareable_across_threads() {
    let sel = selector(RISKY);
    let rules = vec![open("sgr-a", json!({}))];
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (sel, rules) = (sel.clone(), rules.clone());
            std::thread::spawn(move || sel.evaluate(&rules).unwrap().revoke_ids())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), ids(&["sgr-a"]));
    }
}

#[test]
fn a_rule_open_to_both_families_needs_both_denied() {
    let both = json!({"Ipv6SourceCidrIp": "::/0"});
    let rules = [deny("sgr-d4", json!({"Priority": 1})), open("sgr-a", both)];
    assert_eq!(revoked(&rules), ids(&["sgr-a"]));
}

// ----- the custom functions ---------------------------------------------------------------------

#[test]
fn is_world_is_true_only_for_a_zero_length_prefix() {
    use sg_remediator::select::is_world;
    assert!(is_world("0.0.0.0/0") && is_world("::/0"));
    assert!(!is_world("0.0.0.0/1") && !is_world("0.0.0.0") && !is_world(""));
    assert!(!is_world("everyone"));
}

#[test]
fn opens_risky_port_treats_minus_one_as_every_port() {
    use sg_remediator::select::opens_risky_port;
    let risky = "22,8000-8080".parse().unwrap();
    assert!(opens_risky_port("-1/-1", &risky));
    assert!(opens_risky_port("8080/9000", &risky));
    assert!(!opens_risky_port("8081/9000", &risky));
    assert!(!opens_risky_port("junk", &risky));
}

#[test]
fn port_range_covers_checks_inclusive_bounds() {
    use sg_remediator::select::port_range_covers;
    assert!(port_range_covers("20/30", 20) && port_range_covers("20/30", 30));
    assert!(!port_range_covers("20/30", 31));
    assert!(port_range_covers("-1/-1", 65535));
}

#[test]
fn custom_functions_given_the_wrong_type_answer_false_instead_of_failing() {
    // The last clause only lets the query pass the start-up self-test (sample rules have
    // priority 1); on the priority-10 rule below only the wrong-type calls decide.
    let q = "Permissions[?is_world(Priority) || opens_risky_port(`7`) \
             || port_range_covers(PortRange, 'eighty') \
             || (is_world(SourceCidrIp) && Priority == `1`)].SecurityGroupRuleId";
    let s = custom(q)
        .unwrap()
        .evaluate(&[open("sgr-a", json!({}))])
        .unwrap();
    assert!(s.exposed.is_empty());
}

// ----- selector guard rails ---------------------------------------------------------------------

#[test]
fn a_selector_with_a_field_name_typo_is_refused_at_construction_saying_what_the_sample_showed() {
    let q = "Permissions[?direction == 'ingress' && Policy == 'accept' \
             && is_world(SourceCidrIp) && opens_risky_port(PortRange)].SecurityGroupRuleId";
    let err = custom(q).unwrap_err();
    assert!(matches!(err, SelectError::RejectedQuery { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("RULE_SELECTOR"), "{text}");
    assert!(text.contains("does not select sgr-guard-world"), "{text}");
    assert!(text.contains("TCP 22/22 from 0.0.0.0/0"), "{text}");
}

#[test]
fn a_broad_selector_reaching_private_sources_is_refused_at_construction() {
    let err = custom("Permissions[?Direction == 'ingress'].SecurityGroupRuleId").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sgr-guard-10"), "{text}");
    assert!(text.contains("sgr-guard-group"), "{text}");
    assert!(text.contains("never reach private traffic"), "{text}");
}

#[test]
fn the_self_test_uses_a_configured_risky_port_when_neither_ssh_nor_rdp_is_risky() {
    let q =
        "Permissions[?is_world(SourceCidrIp) && opens_risky_port(PortRange)].SecurityGroupRuleId";
    assert!(Selector::new("8000-8080".parse().unwrap(), Some(q)).is_ok());
    let ssh_only =
        "Permissions[?is_world(SourceCidrIp) && PortRange == '22/22'].SecurityGroupRuleId";
    let err = Selector::new("8000-8080".parse().unwrap(), Some(ssh_only)).unwrap_err();
    assert!(err.to_string().contains("8000/8000"), "{err}");
}

#[test]
fn a_rule_a_custom_selector_names_with_a_private_or_group_source_goes_to_review() {
    // Passes the self-test (the sample has no 'app' description), then names private rules.
    let q = "Permissions[?is_world(SourceCidrIp) || Description == 'app'].SecurityGroupRuleId";
    let rules = [
        open("sgr-world", json!({})),
        open(
            "sgr-ten",
            json!({"SourceCidrIp": "10.0.0.0/8", "Description": "app"}),
        ),
        open(
            "sgr-peer",
            json!({"SourceCidrIp": "", "SourceGroupId": "sg-peer", "Description": "app"}),
        ),
    ];
    let s = custom(q).unwrap().evaluate(&rules).unwrap();
    assert_eq!(s.revoke_ids(), ids(&["sgr-world"]));
    assert_eq!(s.review_ids(), ids(&["sgr-ten", "sgr-peer"]));
    assert!(s
        .review
        .iter()
        .all(|r| r.reason == ReviewReason::SelectedNotWorld));
}

#[test]
fn the_default_query_passes_its_own_guard_rails() {
    assert!(Selector::new(RISKY.parse().unwrap(), Some(DEFAULT_QUERY)).is_ok());
}

// ----- bounded selectors ------------------------------------------------------------------------

fn too_complex(query: &str) -> String {
    match custom(query) {
        Err(e @ SelectError::TooComplex(_)) => e.to_string(),
        other => panic!("expected TooComplex, got {other:?}"),
    }
}

#[test]
fn sixty_thousand_nested_parentheses_are_refused_before_parsing() {
    let deep = format!(
        "Permissions[?{}is_world(SourceCidrIp){}]",
        "(".repeat(60_000),
        ")".repeat(60_000)
    );
    let text = too_complex(&deep[..deep.len().min(8000)]);
    assert!(text.starts_with("RULE_SELECTOR is nested"), "{text}");
    assert!(text.contains("at most 64"), "{text}");
    let text = too_complex(&deep);
    assert!(text.contains("bytes long; at most 8192"), "{text}");
}

#[test]
fn a_long_chain_of_prefix_operators_is_refused_before_parsing() {
    let q = format!("Permissions[?{}is_world(SourceCidrIp)]", "!".repeat(2000));
    assert!(too_complex(&q).contains("nested"));
}

#[test]
fn an_expression_that_compiles_too_deep_is_refused() {
    // Flat text, but each `.a` and `||` adds a level to the compiled expression.
    let q = format!(
        "Permissions[?is_world(SourceCidrIp){}].SecurityGroupRuleId",
        " || a".repeat(500)
    );
    let text = too_complex(&q);
    assert!(text.contains("expressions deep; at most 64"), "{text}");
}

#[test]
fn nesting_inside_quoted_text_does_not_count() {
    let q = format!(
        "Permissions[?is_world(SourceCidrIp) && Description != '{}'].SecurityGroupRuleId",
        "(".repeat(500)
    );
    assert!(custom(&q).is_ok());
}

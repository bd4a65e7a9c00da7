//! The rule selector on arbitrary input. The first byte picks what the rest is:
//!
//! - even: a JSON array of rules (as ECS or Config would send them), evaluated with the default
//!   query. Whatever is selected for revocation must be an ingress Accept rule open to the whole
//!   internet: the guard rails hold for any input.
//! - odd: a custom `RULE_SELECTOR` query, compiled (errors must say why) and, if accepted, run
//!   on a small realistic group.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use sg_remediator::rules::{Direction, Permission, Policy, RiskyPorts};
use sg_remediator::select::Selector;

fn ports() -> RiskyPorts {
    "22,3389,8000-8080".parse().expect("valid risky ports")
}

fn sample_group() -> Vec<Permission> {
    [
        json!({"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "Accept",
               "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}),
        json!({"SecurityGroupRuleId": "sgr-2", "Direction": "ingress", "Policy": "Accept",
               "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}),
        json!({"SecurityGroupRuleId": "sgr-3", "Direction": "egress", "Policy": "Accept",
               "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"}),
        json!({"SecurityGroupRuleId": "sgr-4", "Direction": "ingress", "Policy": "Drop",
               "Priority": "1", "IpProtocol": "TCP", "PortRange": "3389/3389",
               "Ipv6SourceCidrIp": "::/0"}),
    ]
    .iter()
    .map(|v| Permission::from_json(v).expect("valid sample rule"))
    .collect()
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(Value::Array(values)) = serde_json::from_slice::<Value>(rest) else {
            return;
        };
        let rules: Vec<Permission> = values
            .iter()
            .filter_map(|v| Permission::from_json(v).ok())
            .collect();
        let selector = Selector::new(ports(), None).expect("the default query compiles");
        if let Ok(selection) = selector.evaluate(&rules) {
            for exposed in &selection.exposed {
                let rule = &exposed.rule;
                assert_eq!(rule.direction, Direction::Ingress, "{rule:?}");
                assert_eq!(rule.policy, Policy::Accept, "{rule:?}");
                assert!(rule.is_world_open(), "{rule:?}");
            }
        }
    } else {
        let Ok(query) = std::str::from_utf8(rest) else {
            return;
        };
        match Selector::new(ports(), Some(query)) {
            Err(e) => assert!(
                !e.to_string().trim().is_empty(),
                "an error without a message"
            ),
            Ok(selector) => {
                if let Ok(selection) = selector.evaluate(&sample_group()) {
                    // Guard rails apply to custom queries too: never egress, never Drop.
                    for id in selection.revoke_ids() {
                        assert!(id.as_str() != "sgr-3" && id.as_str() != "sgr-4", "{id}");
                    }
                }
            }
        }
    }
});

//! What several modules build from the product's own types (the test kit knows no product
//! type): a Config query for a security group, rule ids from names.

use sg_remediator::rules::RuleId;
use sg_remediator::services::config::ResourceQuery;
use sg_test_kit::world::REGION;

/// A `GetDiscoveredResource` query for the security group `id` in [`REGION`], no aggregator.
pub(crate) fn group_query(id: &str) -> ResourceQuery {
    ResourceQuery {
        resource_id: id.into(),
        resource_type: "ACS::ECS::SecurityGroup".into(),
        region: REGION.into(),
        aggregator: None,
    }
}

/// Rule ids from their names.
pub(crate) fn ids(names: &[&str]) -> Vec<RuleId> {
    names.iter().map(|n| RuleId(n.to_string())).collect()
}

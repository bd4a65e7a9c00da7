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
    names.iter().map(|n| RuleId((*n).into())).collect()
}

/// An answer read whole, as a tree, for tests that look at any of its members.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub(crate) struct Whole(pub(crate) serde_json::Value);

impl acs_openapi::response::Reply for Whole {
    fn envelope(&mut self) -> acs_openapi::response::Envelope {
        serde::Deserialize::deserialize(&self.0).unwrap_or_default()
    }
}

/// One call through `client`, its answer read whole.
pub(crate) async fn call_whole(
    client: &acs_openapi::Client,
    req: &acs_openapi::RpcRequest<'_>,
    cx: &acs_openapi::CallContext<'_>,
) -> Result<serde_json::Value, acs_openapi::ApiError> {
    Ok(client.call::<Whole>(req, cx).await.result?.value.0)
}

/// Re-reads one resource from Config, the errors of retried attempts dropped.
pub(crate) async fn get_discovered_resource(
    client: &acs_openapi::Client,
    cx: &acs_openapi::CallContext<'_>,
    endpoint: &acs_openapi::Endpoint,
    query: &ResourceQuery,
) -> Result<sg_remediator::services::config::DiscoveredResource, acs_openapi::ApiError> {
    sg_remediator::services::config::get_discovered_resource_traced(
        client,
        cx,
        endpoint,
        query,
        &mut Vec::new(),
    )
    .await
}

//! Reading the group: Config's record (the gate's input) and the live rules in ECS (what is
//! acted on). Every RequestId goes to the result and every retried attempt to the notes.

use acs_openapi::{ApiError, Endpoint};

use crate::event::ResourceRef;
use crate::remediation::access::Access;
use crate::remediation::gate;
use crate::remediation::notes::{record_retried, Note, Step, Stop};
use crate::remediation::Invoke;
use crate::report::ResourceResult;
use crate::rules::Permission;
use crate::services::config::{self as config_api, AggregatorScope, ResourceQuery};
use crate::services::ecs;

impl Invoke {
    /// Re-reads the group from Config (through the aggregator, with the function's own
    /// credentials, when one is configured), then lets the gate decide whether it may be
    /// touched at all.
    pub(super) async fn read_config(
        &self,
        r: &ResourceRef,
        account: Option<&str>,
        access: &Access,
        out: &mut ResourceResult,
        notes: &mut Vec<Note>,
    ) -> Step<config_api::DiscoveredResource> {
        let aggregator = match &self.config().config_aggregator_id {
            None => None,
            Some(id) => Some(AggregatorScope {
                aggregator_id: id.clone(),
                account_id: gate::aggregator_account(r).map_err(Stop::fail)?,
            }),
        };
        let query = ResourceQuery {
            resource_id: r.resource_id.clone(),
            resource_type: r.resource_type.clone(),
            region: r.region_id.clone(),
            aggregator,
        };
        let (cx, action) = if query.aggregator.is_some() {
            (access.own_cx(self), "GetAggregateDiscoveredResource")
        } else {
            (access.resource_cx(self), "GetDiscoveredResource")
        };
        let mut retried = Vec::new();
        let read = config_api::get_discovered_resource_traced(
            &self.remediator.client,
            &cx,
            self.config().endpoints.config(),
            &query,
            &mut retried,
        )
        .await;
        record_retried(action, &retried, out, notes);
        let discovered = match read {
            Ok(d) => d,
            Err(e) => {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                if config_api::is_not_in_config(&e) {
                    return Err(Stop::skip(Note::NotInConfig(e)));
                }
                return Err(Stop::fail(Note::ApiFailure {
                    step: action,
                    error: e,
                }));
            }
        };
        out.api_request_ids.extend(discovered.request_id.clone());
        match gate::judge_discovered(r, account, &discovered, &self.config().exempt_tag) {
            Some(stop) => Err(stop),
            None => Ok(discovered),
        }
    }

    /// The live rules that decide: a group gone from ECS is skipped, an unreadable one fails.
    pub(super) async fn read_live(
        &self,
        access: &Access,
        r: &ResourceRef,
        out: &mut ResourceResult,
        notes: &mut Vec<Note>,
    ) -> Step<Vec<Permission>> {
        match self.describe(access, r, out, notes).await {
            Ok(rules) => Ok(rules),
            Err(e) if e.code() == Some("InvalidSecurityGroupId.NotFound") => {
                Err(Stop::skip(Note::Gone(e)))
            }
            Err(e) => Err(Stop::fail(Note::ApiFailure {
                step: "DescribeSecurityGroupAttribute",
                error: e,
            })),
        }
    }

    /// The ECS endpoint of a region. Region ids are checked at the event's edge, so this fails
    /// only for an `ECS_ENDPOINT` template that cannot hold the region; the step using it then
    /// fails like a refused call, before anything is sent.
    pub(super) fn ecs_endpoint(&self, region: &str) -> Result<Endpoint, ApiError> {
        self.config().endpoints.ecs(region).map_err(ApiError::from)
    }

    /// Reads the group's live ingress rules (both NIC types of a classic-network group). The
    /// errors of retried attempts go to `notes`, so that none is dropped from the reason.
    pub(super) async fn describe(
        &self,
        access: &Access,
        r: &ResourceRef,
        out: &mut ResourceResult,
        notes: &mut Vec<Note>,
    ) -> Result<Vec<Permission>, ApiError> {
        let endpoint = self.ecs_endpoint(&r.region_id)?;
        let mut retried = Vec::new();
        let read = ecs::describe_security_group_attribute_traced(
            &self.remediator.client,
            &access.resource_cx(self),
            &endpoint,
            &r.region_id,
            &r.resource_id,
            &mut retried,
        )
        .await;
        record_retried("DescribeSecurityGroupAttribute", &retried, out, notes);
        match read {
            Ok(rules) => {
                out.api_request_ids.extend(rules.request_ids);
                Ok(rules.permissions)
            }
            Err(e) => {
                out.api_request_ids
                    .extend(e.request_id().map(str::to_string));
                Err(e)
            }
        }
    }
}

//! Reading the group: Config's record (the gate's input) and the live rules in ECS (what is
//! acted on), at the same time. Every RequestId goes to the result and every retried attempt
//! to the notes.
//!
//! The two reads do not depend on each other: the live read needs only the event's region and
//! group id and the resource's credentials, all known before Config answers. So the group's
//! first round trip carries both, and a group Config then says to leave alone (deleted,
//! managed, exempt by tag, unknown) has cost one ECS read nobody needed. That is the price of
//! the round trip saved on every other group. A group skipped before any call (unsupported
//! type, exempt id, an invalid item, an aggregator item without an account) still makes none.
//!
//! A VPC group's live rules are one call (one page of up to 1,000 rules), so for it both reads
//! are one round trip. A classic-network group answers one NIC type per call and is known to
//! be classic only from that first answer (no `VpcId`), so its second view follows the first:
//! one more round trip. Asking for both NIC types at once would cost every VPC group a second
//! call for a network type Alibaba Cloud no longer offers to new accounts.
//!
//! `apiRequestIds` are in the order the calls started: Config's (retried attempts first), then
//! ECS's (retried attempts first, then one per page), whichever answered first.

use acs_openapi::{ApiError, Endpoint};

use crate::event::ResourceRef;
use crate::note::Note;
use crate::remediation::access::Access;
use crate::remediation::gate;
use crate::remediation::notes::{Step, Stop};
use crate::remediation::Invoke;
use crate::report::ResourceResult;
use crate::rules::Permission;
use crate::services::config::{self as config_api, AggregatorScope, ResourceQuery};
use crate::services::ecs;

/// What the two reads of a group answered, each as it ended; their RequestIds and retried
/// attempts are already in the result and the notes. [`gate::judge_reads`] decides on them.
pub(super) struct Reads {
    /// Config's record of the group, or why it could not be read.
    pub config: Result<config_api::DiscoveredResource, ApiError>,
    /// The Config action that was called (the report names the failed step).
    pub config_action: &'static str,
    /// The group's live ingress rules, or why they could not be read.
    pub live: Result<Vec<Permission>, ApiError>,
}

/// What one read leaves behind for the result: its RequestIds, in the order the calls were
/// made, and a note for each retried attempt.
#[derive(Default)]
struct Trail {
    request_ids: Vec<String>,
    notes: Vec<Note>,
}

impl Trail {
    /// The failed attempts of a call that were retried: their RequestIds and a note each.
    fn retried(&mut self, action: &'static str, retried: Vec<ApiError>) {
        for error in retried {
            self.request_ids
                .extend(error.request_id().map(str::to_string));
            self.notes.push(Note::Retried { action, error });
        }
    }

    /// The RequestId of a call's final failure, if the service gave one.
    fn failed(&mut self, error: &ApiError) {
        self.request_ids
            .extend(error.request_id().map(str::to_string));
    }

    fn append_to(self, out: &mut ResourceResult, notes: &mut Vec<Note>) {
        out.api_request_ids.extend(self.request_ids);
        notes.extend(self.notes);
    }
}

impl Invoke {
    /// Reads the group from Config (through the aggregator, with the function's own
    /// credentials, when one is configured) and its live rules from ECS, concurrently. Only an
    /// aggregator item that cannot name its account stops here, before either call.
    pub(super) async fn read_group(
        &self,
        r: &ResourceRef,
        access: &Access,
        out: &mut ResourceResult,
        notes: &mut Vec<Note>,
    ) -> Step<Reads> {
        let query = self.config_query(r).map_err(Stop::fail)?;
        let config_action = if query.aggregator.is_some() {
            "GetAggregateDiscoveredResource"
        } else {
            "GetDiscoveredResource"
        };
        let (mut config_trail, mut live_trail) = (Trail::default(), Trail::default());
        // Both run to the end: neither is cancelled when the other fails, so every call that
        // was sent is accounted for.
        let (config, live) = tokio::join!(
            self.read_config(&query, config_action, access, &mut config_trail),
            self.describe_traced(access, r, &mut live_trail),
        );
        config_trail.append_to(out, notes);
        live_trail.append_to(out, notes);
        Ok(Reads {
            config,
            config_action,
            live,
        })
    }

    /// What to ask Config: the event's group, through the aggregator when one is configured
    /// (then the item must carry its account, or nothing is sent).
    fn config_query(&self, r: &ResourceRef) -> Result<ResourceQuery, Note> {
        let aggregator = match &self.config().config_aggregator_id {
            None => None,
            Some(id) => Some(AggregatorScope {
                aggregator_id: id.clone(),
                account_id: gate::aggregator_account(r)?,
            }),
        };
        Ok(ResourceQuery {
            resource_id: r.resource_id.clone(),
            resource_type: r.resource_type.clone(),
            region: r.region_id.clone(),
            aggregator,
        })
    }

    /// Config's record of the group.
    async fn read_config(
        &self,
        query: &ResourceQuery,
        action: &'static str,
        access: &Access,
        trail: &mut Trail,
    ) -> Result<config_api::DiscoveredResource, ApiError> {
        let cx = if query.aggregator.is_some() {
            access.own_cx(self)
        } else {
            access.resource_cx(self)
        };
        let mut retried = Vec::new();
        let read = config_api::get_discovered_resource_traced(
            &self.remediator.client,
            &cx,
            self.config().endpoints.config(),
            query,
            &mut retried,
        )
        .await;
        trail.retried(action, retried);
        match &read {
            Ok(d) => trail.request_ids.extend(d.request_id.clone()),
            Err(e) => trail.failed(e),
        }
        read
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
        let mut trail = Trail::default();
        let read = self.describe_traced(access, r, &mut trail).await;
        trail.append_to(out, notes);
        read
    }

    /// [`Invoke::describe`], leaving its RequestIds and retried attempts in `trail`.
    async fn describe_traced(
        &self,
        access: &Access,
        r: &ResourceRef,
        trail: &mut Trail,
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
        trail.retried("DescribeSecurityGroupAttribute", retried);
        match read {
            Ok(rules) => {
                trail.request_ids.extend(rules.request_ids);
                self.observe(r, &rules.permissions);
                Ok(rules.permissions)
            }
            Err(e) => {
                trail.failed(&e);
                Err(e)
            }
        }
    }
}

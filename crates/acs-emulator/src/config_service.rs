//! Config 2020-09-07: GetDiscoveredResource and GetAggregateDiscoveredResource, served from the
//! *snapshot* view of a group, which may lag behind (or contradict) the live ECS view.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::ecs_service::{opt, permissions_value, required};
use super::fixture::ConfigShape;
use super::state::{Group, State};
use super::wire::ApiError;

type Params = BTreeMap<String, String>;

const SG_TYPE: &str = "ACS::ECS::SecurityGroup";

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "ResourceNotExists",
        format!("The specified resource {id} does not exist."),
    )
}

fn compliance_option(params: &Params) -> Result<bool, ApiError> {
    match opt(params, "ComplianceOption") {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(ApiError::invalid("ComplianceOption", "must be 0 or 1")),
    }
}

/// Finds a group in Config's records for `account` (the resource owner).
fn recorded<'a>(
    state: &'a State,
    account: &str,
    params: &Params,
    region: Option<&str>,
) -> Result<&'a Group, ApiError> {
    let id = required(params, "ResourceId")?;
    let kind = required(params, "ResourceType")?;
    if let Some(region) = region {
        if !state.regions.contains(region) {
            return Err(ApiError::invalid(
                "Region",
                format!("unknown region {region}"),
            ));
        }
    }
    if kind != SG_TYPE {
        return Err(not_found(id));
    }
    match state.groups.get(id) {
        Some(g)
            if g.account_id == account
                && !g.snapshot_unknown
                && region.is_none_or(|r| r == g.region_id) =>
        {
            Ok(g)
        }
        _ => Err(not_found(id)),
    }
}

/// `DiscoveredResourceDetail`, with `Configuration` and `Tags` as JSON *strings*.
fn detail(group: &Group, with_compliance: bool) -> Value {
    let snap = &group.snapshot;
    let mut conf = Map::new();
    conf.insert("SecurityGroupId".into(), json!(group.id));
    conf.insert("SecurityGroupName".into(), json!(group.name));
    conf.insert("Description".into(), json!(group.description));
    conf.insert("VpcId".into(), json!(group.vpc_id));
    conf.insert("RegionId".into(), json!(group.region_id));
    conf.insert("SecurityGroupType".into(), json!(group.sg_type));
    conf.insert("InnerAccessPolicy".into(), json!(group.inner_access_policy));
    if let Some(managed) = snap.service_managed {
        conf.insert("ServiceManaged".into(), json!(managed));
    }
    conf.insert(
        "Permissions".into(),
        permissions_value(&snap.rules, group.shape == ConfigShape::BareList),
    );
    let tags: BTreeMap<&String, [&String; 1]> = snap.tags.iter().map(|(k, v)| (k, [v])).collect();
    let account: u64 = group.account_id.parse().unwrap_or_default();
    let mut d = json!({
        "AccountId": account,
        "Region": group.region_id,
        "AvailabilityZone": "",
        "VpcId": group.vpc_id,
        "VSwitchId": "",
        "ResourceId": group.id,
        "ResourceName": group.name,
        "ResourceType": SG_TYPE,
        "ResourceStatus": "",
        "ResourceCreationTime": group.creation_ms,
        "ResourceDeleted": if snap.deleted { 0 } else { 1 },
        "Tags": serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into()),
        "Configuration": Value::Object(conf).to_string(),
    });
    if with_compliance {
        d["ComplianceType"] = json!(group.compliance_type);
    }
    d
}

pub(crate) fn get_discovered_resource(
    state: &State,
    caller: &Caller,
    params: &Params,
    request_id: &str,
) -> Result<Value, ApiError> {
    let with_compliance = compliance_option(params)?;
    let group = recorded(state, &caller.account_id, params, opt(params, "Region"))?;
    Ok(
        json!({ "RequestId": request_id, "DiscoveredResourceDetail": detail(group, with_compliance) }),
    )
}

pub(crate) fn get_aggregate_discovered_resource(
    state: &State,
    caller: &Caller,
    params: &Params,
    request_id: &str,
) -> Result<Value, ApiError> {
    let aggregator_id = required(params, "AggregatorId")?;
    let member = required(params, "ResourceAccountId")?;
    let region = required(params, "Region")?;
    let with_compliance = compliance_option(params)?;
    let Some(aggregator) = state
        .aggregators
        .iter()
        .find(|a| a.aggregator_id == aggregator_id)
    else {
        return Err(ApiError::new(
            404,
            "AggregatorNotExists",
            format!("The specified aggregator {aggregator_id} does not exist."),
        ));
    };
    if aggregator.owner_account_id != caller.account_id {
        return Err(ApiError::new(
            403,
            "NoPermission",
            format!("The caller is not the owner of aggregator {aggregator_id}."),
        ));
    }
    if !aggregator.member_account_ids.iter().any(|m| m == member) {
        return Err(ApiError::new(
            400,
            "MemberNotBelongToMaster",
            format!("Account {member} is not a member of aggregator {aggregator_id}."),
        ));
    }
    let group = recorded(state, member, params, Some(region))?;
    Ok(
        json!({ "RequestId": request_id, "DiscoveredResourceDetail": detail(group, with_compliance) }),
    )
}

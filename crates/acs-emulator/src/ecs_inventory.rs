//! ECS 2014-05-26 `DescribeSecurityGroups`: the groups of the caller's account in a region, paged
//! with `NextToken`/`MaxResults`.
//!
//! Source: `aliyun/alibabacloud-go-sdk`, `ecs-20140526/client/describe_security_groups_request_model.go`
//! (`RegionId` required; `MaxResults` maximum 100, default 10; `SecurityGroupIds` a JSON array of
//! up to 100 ids; filters `SecurityGroupId`, `VpcId`, `SecurityGroupType`) and
//! `describe_security_groups_response_body_model.go` (`SecurityGroups.SecurityGroup[]`,
//! `Tags.Tag[]` of `TagKey`/`TagValue`, `NextToken` empty on the last page, `TotalCount` not
//! returned when paging with `MaxResults`/`NextToken`).
//!
//! `DescribeRegions` (`describe_regions_request_model.go`, `describe_regions_response_body_model.go`):
//! the fixture's regions as `Regions.Region[]` with `RegionId`, `LocalName`, `RegionEndpoint`
//! and `Status` `available`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::auth::Caller;
use super::ecs_service::{opt, required};
use super::state::{Cursor, State};
use super::wire::{random_chars, ApiError, ALNUM};

type Params = BTreeMap<String, String>;

/// `MaxResults` when absent, and its maximum (request model).
const DEFAULT_MAX_RESULTS: usize = 10;
const MAX_MAX_RESULTS: usize = 100;

pub(crate) fn describe_security_groups(
    state: &mut State,
    caller: &Caller,
    params: &Params,
    request_id: &str,
) -> Result<Value, ApiError> {
    let region = required(params, "RegionId")?.to_string();
    if !state.regions.contains(&region) {
        return Err(ApiError::new(
            404,
            "InvalidRegionId.NotFound",
            format!("The specified RegionId {region} does not exist."),
        ));
    }
    let max = match opt(params, "MaxResults") {
        None => DEFAULT_MAX_RESULTS,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_MAX_RESULTS).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(
                    "MaxResults",
                    "must be an integer in 1..=100",
                ))
            }
        },
    };
    let ids: Option<Vec<String>> = match opt(params, "SecurityGroupIds") {
        None => None,
        Some(text) => match serde_json::from_str::<Vec<String>>(text) {
            Ok(list) if list.len() <= 100 => Some(list),
            _ => {
                return Err(ApiError::invalid(
                    "SecurityGroupIds",
                    "must be a JSON array of at most 100 security group ids",
                ))
            }
        },
    };
    let type_filter = match opt(params, "SecurityGroupType") {
        None => None,
        Some(t @ ("normal" | "enterprise")) => Some(t.to_string()),
        Some(_) => {
            return Err(ApiError::invalid(
                "SecurityGroupType",
                "must be normal or enterprise",
            ))
        }
    };
    // The filter a token was issued for: a token is only valid for the same query.
    let filter = format!(
        "{region}|{}|{}|{}|{}",
        opt(params, "SecurityGroupId").unwrap_or(""),
        opt(params, "SecurityGroupIds").unwrap_or(""),
        opt(params, "VpcId").unwrap_or(""),
        type_filter.as_deref().unwrap_or(""),
    );
    let listing = format!("DescribeSecurityGroups|{}", caller.account_id);
    let offset = match opt(params, "NextToken") {
        None => 0,
        Some(token) => match state.cursors.get(token) {
            Some(c) if c.group == listing && c.filter == filter => c.offset,
            _ => {
                return Err(ApiError::invalid(
                    "NextToken",
                    "unknown token, or it belongs to another query",
                ))
            }
        },
    };
    let matching: Vec<Value> = state
        .groups
        .values()
        .filter(|g| g.account_id == caller.account_id && g.region_id == region && !g.live.deleted)
        .filter(|g| opt(params, "SecurityGroupId").is_none_or(|id| g.id == id))
        .filter(|g| ids.as_ref().is_none_or(|list| list.contains(&g.id)))
        .filter(|g| opt(params, "VpcId").is_none_or(|v| g.vpc_id == v))
        .filter(|g| type_filter.as_ref().is_none_or(|t| &g.sg_type == t))
        .map(|g| {
            let tags: Vec<Value> = g
                .live
                .tags
                .iter()
                .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                .collect();
            let created = std::time::UNIX_EPOCH + std::time::Duration::from_millis(g.creation_ms);
            json!({
                "SecurityGroupId": g.id,
                "SecurityGroupName": g.name,
                "Description": g.description,
                "VpcId": g.vpc_id,
                "SecurityGroupType": g.sg_type,
                "ServiceManaged": g.live.service_managed.unwrap_or(false),
                "CreationTime": humantime::format_rfc3339_seconds(created).to_string(),
                "ResourceGroupId": "",
                "RuleCount": g.live.rules.len(),
                "Tags": {"Tag": tags},
            })
        })
        .collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(max).cloned().collect();
    let more = offset + page.len() < matching.len();
    let mut body = json!({
        "RequestId": request_id,
        "RegionId": region,
        "NextToken": "",
        "SecurityGroups": {"SecurityGroup": page},
    });
    if more {
        let token = random_chars(32, ALNUM);
        state.cursors.insert(
            token.clone(),
            Cursor {
                group: listing,
                filter,
                offset: offset + max,
            },
        );
        body["NextToken"] = json!(token);
    }
    Ok(body)
}

pub(crate) fn describe_regions(state: &State, request_id: &str) -> Value {
    let regions: Vec<Value> = state
        .regions
        .iter()
        .map(|r| {
            json!({
                "RegionId": r,
                "LocalName": r,
                "RegionEndpoint": format!("ecs.{r}.aliyuncs.com"),
                "Status": "available",
            })
        })
        .collect();
    json!({"RequestId": request_id, "Regions": {"Region": regions}})
}

//! ECS `DescribeSecurityGroups`: every security group of a region, for the command line's `scan`
//! (which works without Cloud Config). The function itself never lists groups: Config names them.
//!
//! Parameters and response fields follow the official model in `aliyun/alibabacloud-go-sdk`,
//! `ecs-20140526/client/describe_security_groups_request_model.go` (`RegionId` required;
//! `MaxResults` at most 100, default 10, paged with `NextToken`; `PageNumber`/`PageSize` are
//! deprecated in favour of them) and `describe_security_groups_response_body_model.go`
//! (`SecurityGroups.SecurityGroup[]` with `SecurityGroupId`, `SecurityGroupName`, `VpcId`,
//! `ServiceManaged`, `Tags.Tag[]` of `TagKey`/`TagValue`; an empty `NextToken` means the last page).
//!
//! `scan --all-regions` first asks ECS `DescribeRegions` for the regions
//! (`describe_regions_request_model.go`: no required parameter;
//! `describe_regions_response_body_model.go`: `Regions.Region[]` with `RegionId`, `LocalName`,
//! `RegionEndpoint`, `Status`).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::config::Tags;
use super::{call, Api};
use acs_openapi::json::{text, Object};
use acs_openapi::response::{Envelope, Reply};
use acs_openapi::{ApiError, CallContext, Client, Endpoint, Params};

/// Lists the groups of a region, for `scan`.
pub const DESCRIBE_SECURITY_GROUPS: Api = Api {
    service: "ecs",
    action: "DescribeSecurityGroups",
    version: "2014-05-26",
};

/// Lists the regions the account can see, for a `scan` of every region.
pub const DESCRIBE_REGIONS: Api = Api {
    service: "ecs",
    action: "DescribeRegions",
    version: "2014-05-26",
};

/// Groups per page: the API's maximum.
pub const PAGE_SIZE: u32 = 100;

/// More pages than this (100 000 groups) means the server is looping.
pub const MAX_PAGES: u32 = 1000;

/// One listed security group: what `scan` needs to decide whether to look at its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedGroup {
    /// The group's id (`sg-…`).
    pub security_group_id: String,
    /// The name the owner gave it, shown by `scan` to help recognise the group.
    pub security_group_name: String,
    /// The region it is in.
    pub region_id: String,
    /// The VPC it belongs to; `None` for a classic-network group.
    pub vpc_id: Option<String>,
    /// `ServiceManaged`: a group a cloud service manages (ECS refuses changes to it).
    pub service_managed: bool,
    /// Its tags, where the exempt tag is looked for.
    pub tags: Tags,
}

/// Every group of a region, and the RequestId of each page.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Every group of the region.
    pub groups: Vec<ListedGroup>,
    /// One per page, for the audit trail.
    pub request_ids: Vec<String>,
    /// How many pages were read.
    pub pages: u32,
}

/// Lists every security group of `region`, following `NextToken` to the last page. An error on
/// any page fails the whole listing: a partial inventory would silently skip groups.
pub async fn describe_security_groups(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    region: &str,
) -> Result<Inventory, ApiError> {
    let mut inventory = Inventory {
        groups: Vec::new(),
        request_ids: Vec::new(),
        pages: 0,
    };
    let mut seen_tokens = HashSet::new();
    let mut next_token: Option<String> = None;
    loop {
        let mut params = Params::new();
        params.insert("RegionId".into(), region.into());
        params.insert("MaxResults".into(), PAGE_SIZE.to_string());
        if let Some(token) = &next_token {
            params.insert("NextToken".into(), token.clone());
        }
        let answer = call::<GroupsAnswer>(client, cx, endpoint, DESCRIBE_SECURITY_GROUPS, params)
            .await
            .result?;
        inventory.pages += 1;
        inventory.request_ids.extend(answer.request_id);
        let page = page_of(answer.value, region)?;
        inventory.groups.extend(page.groups);
        match page.next_token {
            None => return Ok(inventory),
            Some(token) => {
                if !seen_tokens.insert(token.clone()) || inventory.pages >= MAX_PAGES {
                    return Err(ApiError::Decode {
                        status: 200,
                        detail: format!(
                            "DescribeSecurityGroups pagination: NextToken {token:?} repeated or \
                             more than {MAX_PAGES} pages"
                        ),
                    });
                }
                next_token = Some(token);
            }
        }
    }
}

/// The ids of every region ECS offers to the caller, in the order ECS lists them.
pub async fn describe_regions(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
) -> Result<Vec<String>, ApiError> {
    let answer = call::<RegionsAnswer>(client, cx, endpoint, DESCRIBE_REGIONS, Params::new())
        .await
        .result?;
    regions_of(answer.value)
}

/// A DescribeRegions answer: `Regions.Region[].RegionId`.
#[derive(Debug, Deserialize)]
struct RegionsAnswer {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(rename = "Regions", default)]
    regions: Option<Object<Regions>>,
}

#[derive(Debug, Deserialize)]
struct Regions {
    #[serde(rename = "Region", default)]
    region: Option<Vec<Object<Region>>>,
}

#[derive(Debug, Deserialize)]
struct Region {
    #[serde(rename = "RegionId", default, deserialize_with = "text")]
    region_id: Option<String>,
}

impl Reply for RegionsAnswer {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

/// The region ids of a `DescribeRegions` answer, in ECS's order.
fn regions_of(answer: RegionsAnswer) -> Result<Vec<String>, ApiError> {
    let decode = |detail: &str| ApiError::Decode {
        status: 200,
        detail: format!("DescribeRegions response: {detail}"),
    };
    let list = answer
        .regions
        .and_then(|Object(r)| r.region)
        .ok_or_else(|| decode("no Regions.Region list"))?;
    list.into_iter()
        .map(|Object(r)| {
            r.region_id
                .ok_or_else(|| decode("a region without RegionId"))
        })
        .collect()
}

/// One page of groups and the token of the next (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The groups on this page.
    pub groups: Vec<ListedGroup>,
    /// Where to continue; `None` on the last page.
    pub next_token: Option<String>,
}

/// A DescribeSecurityGroups answer (`describe_security_groups_response_body_model.go`).
#[derive(Debug, Deserialize)]
struct GroupsAnswer {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(rename = "RegionId", default, deserialize_with = "text")]
    region_id: Option<String>,
    #[serde(rename = "NextToken", default, deserialize_with = "text")]
    next_token: Option<String>,
    #[serde(rename = "SecurityGroups", default)]
    security_groups: Option<Object<Groups>>,
}

impl Reply for GroupsAnswer {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

/// `SecurityGroups`: `{"SecurityGroup": [...]}` (`{}` for none).
#[derive(Debug, Deserialize)]
struct Groups {
    #[serde(rename = "SecurityGroup", default)]
    security_group: Option<Vec<Object<Group>>>,
}

/// One listed group, the members `scan` reads.
#[derive(Debug, Deserialize)]
struct Group {
    #[serde(rename = "SecurityGroupId", default, deserialize_with = "text")]
    security_group_id: Option<String>,
    #[serde(rename = "SecurityGroupName", default, deserialize_with = "text")]
    security_group_name: Option<String>,
    #[serde(rename = "VpcId", default, deserialize_with = "text")]
    vpc_id: Option<String>,
    #[serde(rename = "ServiceManaged", default)]
    service_managed: Option<Value>,
    /// `{"Tag": [{"TagKey", "TagValue"}]}`, read by [`Tags::from_json`].
    #[serde(rename = "Tags", default)]
    tags: Option<Value>,
}

/// One page of an answer. A group without an id fails the page.
fn page_of(answer: GroupsAnswer, region: &str) -> Result<Page, ApiError> {
    let decode = |detail: String| ApiError::Decode {
        status: 200,
        detail: format!("DescribeSecurityGroups response: {detail}"),
    };
    let Some(Object(listed)) = answer.security_groups else {
        return Err(decode("no SecurityGroups".into()));
    };
    let entries = listed.security_group.unwrap_or_default();
    let region_id = answer.region_id.unwrap_or_else(|| region.to_string());
    let mut groups = Vec::with_capacity(entries.len());
    for (i, Object(entry)) in entries.into_iter().enumerate() {
        let id = entry
            .security_group_id
            .ok_or_else(|| decode(format!("group #{} has no SecurityGroupId", i + 1)))?;
        let tags = Tags::from_json(entry.tags.as_ref().unwrap_or(&Value::Null))
            .map_err(|e| decode(format!("{id}: Tags: {e}")))?;
        let service_managed = match entry.service_managed {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(_) => return Err(decode(format!("{id}: ServiceManaged is not a boolean"))),
        };
        groups.push(ListedGroup {
            security_group_name: entry.security_group_name.unwrap_or_default(),
            region_id: region_id.clone(),
            vpc_id: entry.vpc_id,
            service_managed,
            tags,
            security_group_id: id,
        });
    }
    let next_token = answer.next_token.filter(|t| !t.trim().is_empty());
    Ok(Page { groups, next_token })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads one `DescribeSecurityGroups` page from its bytes (as a successful answer). A group
    /// without an id fails the page.
    fn parse_page(body: &[u8], region: &str) -> Result<Page, ApiError> {
        let (answer, _) = acs_openapi::response::read_response::<GroupsAnswer>(
            200,
            body,
            None,
            &Default::default(),
        )?;
        page_of(answer, region)
    }

    #[test]
    fn a_page_reads_ids_names_tags_and_the_managed_flag() {
        let page = parse_page(
            json!({
                "RequestId": "r", "RegionId": "cn-hangzhou", "NextToken": "abc",
                "SecurityGroups": {"SecurityGroup": [
                    {"SecurityGroupId": "sg-1", "SecurityGroupName": "web", "VpcId": "vpc-1",
                     "ServiceManaged": false,
                     "Tags": {"Tag": [{"TagKey": "env", "TagValue": "prod"}]}},
                    {"SecurityGroupId": "sg-2", "ServiceManaged": true, "Tags": {"Tag": []}}
                ]}
            })
            .to_string()
            .as_bytes(),
            "cn-hangzhou",
        )
        .unwrap();
        assert_eq!(page.next_token.as_deref(), Some("abc"));
        assert_eq!(page.groups.len(), 2);
        assert_eq!(page.groups[0].security_group_name, "web");
        assert!(page.groups[0].tags.contains("env", Some("prod")));
        assert!(!page.groups[0].service_managed);
        assert!(page.groups[1].service_managed);
    }

    #[test]
    fn regions_are_read_by_id() {
        let body = json!({"Regions": {"Region": [
            {"RegionId": "cn-hangzhou", "LocalName": "China (Hangzhou)"},
            {"RegionId": "ap-southeast-1"}
        ]}});
        let regions = |body: serde_json::Value| {
            acs_openapi::response::read_response::<RegionsAnswer>(
                200,
                body.to_string().as_bytes(),
                None,
                &Default::default(),
            )
            .and_then(|(answer, _)| regions_of(answer))
        };
        assert_eq!(
            regions(body).unwrap(),
            vec!["cn-hangzhou".to_string(), "ap-southeast-1".to_string()]
        );
        assert!(regions(json!({"RequestId": "r"})).is_err());
    }

    #[test]
    fn an_empty_next_token_is_the_last_page() {
        let page = parse_page(
            json!({"NextToken": "", "SecurityGroups": {"SecurityGroup": []}})
                .to_string()
                .as_bytes(),
            "cn-hangzhou",
        )
        .unwrap();
        assert!(page.next_token.is_none());
        assert!(page.groups.is_empty());
    }

    #[test]
    fn a_page_without_the_group_list_is_an_error_not_an_empty_region() {
        let page = |body: serde_json::Value| parse_page(body.to_string().as_bytes(), "cn-hangzhou");
        assert!(page(json!({"RequestId": "r"})).is_err());
        assert!(
            page(json!({"SecurityGroups": {"SecurityGroup": [{"SecurityGroupName": "x"}]}}))
                .is_err()
        );
    }
}

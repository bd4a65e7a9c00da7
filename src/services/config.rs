//! Cloud Config: re-reading a resource (`GetDiscoveredResource`, or
//! `GetAggregateDiscoveredResource` through an aggregator).
//!
//! `Configuration` and `Tags` arrive as strings containing JSON; both are parsed here, once. A
//! string that does not parse is an error, never a silent `null`: an unreadable snapshot must
//! not look like an empty one.

use serde::Deserialize;
use serde_json::Value;

use super::{call, Api};
use crate::rule_lists::{Recorded, Unreadable};
use crate::rules::Permission;
use acs_openapi::json::{kind, text, Object};
use acs_openapi::response::{Envelope, Reply};
use acs_openapi::{ApiError, CallContext, Client, Endpoint, Params};

/// Re-reads one resource in the function's own account; the RAM policy must allow
/// `config:GetDiscoveredResource`.
pub const GET_DISCOVERED_RESOURCE: Api = Api {
    service: "config",
    action: "GetDiscoveredResource",
    version: "2020-09-07",
};

/// Re-reads one resource of a member account through an aggregator (`CONFIG_AGGREGATOR_ID`).
pub const GET_AGGREGATE_DISCOVERED_RESOURCE: Api = Api {
    service: "config",
    action: "GetAggregateDiscoveredResource",
    version: "2020-09-07",
};

/// Which aggregator and member account to read through (multi-account setups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorScope {
    /// The aggregator to read through, from `CONFIG_AGGREGATOR_ID`.
    pub aggregator_id: String,
    /// The resource's account: `ResourceAccountId`, a required int64
    /// (`config-20200907/client/get_aggregate_discovered_resource_request_model.go`).
    pub account_id: String,
}

/// Config's answers that are taken to mean "this resource is not in Config" (deleted, or never
/// recorded), each with its source. They only choose the words of the report: no official error
/// table lists Config's not-found codes. The API reference pages of `GetDiscoveredResource`
/// (<https://www.alibabacloud.com/help/en/cloud-config/latest/api-config-2020-09-07-getdiscoveredresource>)
/// and `GetAggregateDiscoveredResource`
/// (<https://www.alibabacloud.com/help/doc-detail/411703.htm>) list none, the 2020-09-07 error
/// table could not be found, and the 2019-01-08 one has no "resource not found" code (project
/// reference apis.md §3). So when Config answers any error, the live ECS read decides
/// (`remediation::gate::judge_reads`): a group ECS says is gone is `skipped`, any other fails.
/// A code here makes the failure read "not found in Config"; every other code, even one ending
/// in `.NotFound` (`InvalidAction.NotFound` for a wrong endpoint, version or action,
/// `InvalidRegionId.NotFound`, `InvalidAccessKeyId.NotFound`), is reported as a failed call.
pub const NOT_IN_CONFIG: &[(&str, &str)] = &[
    (
        "ResourceNotExists",
        "project reference apis.md §3: an unverified not-found code, no official table",
    ),
    (
        "ResourceNotFound",
        "project reference apis.md §3: an unverified not-found code, no official table",
    ),
];

/// Whether Config's error is one of [`NOT_IN_CONFIG`]: the report then says "not found in
/// Config". Whether the group is skipped is the live read's call, never this code's.
pub fn is_not_in_config(e: &ApiError) -> bool {
    match e {
        ApiError::Service { code, .. } => NOT_IN_CONFIG.iter().any(|(c, _)| c == code),
        _ => false,
    }
}

/// Whether `account` can be sent as `ResourceAccountId` (an int64 of digits).
pub fn is_resource_account_id(account: &str) -> bool {
    !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && account.parse::<i64>().is_ok()
}

/// What to re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceQuery {
    /// The security group's id.
    pub resource_id: String,
    /// e.g. `ACS::ECS::SecurityGroup`.
    pub resource_type: String,
    /// The resource's region (Config's endpoint is central; the region is a parameter).
    pub region: String,
    /// Read through this aggregator when set; otherwise the function's own account is read.
    pub aggregator: Option<AggregatorScope>,
}

/// Config's view of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveredResource {
    /// Kept for the resource's `apiRequestIds`.
    pub request_id: Option<String>,
    /// The owner's UID (Config sends a number; kept as text).
    pub account_id: Option<String>,
    /// The region Config recorded; checked against the event's.
    pub region: String,
    /// The id Config answered for; checked against the one asked.
    pub resource_id: String,
    /// The type Config recorded.
    pub resource_type: String,
    /// `ResourceDeleted == 0`. (Config's `1` means the resource still exists.) A missing field
    /// counts as "exists": the live ECS check that follows decides.
    pub deleted: bool,
    /// The rules of the recorded `Configuration`, or why they cannot be read (also when Config
    /// sent none: an absent configuration must not look like a group without rules).
    pub snapshot: Result<Vec<Permission>, Unreadable>,
    /// The tags, where the exempt tag is looked for.
    pub tags: Tags,
    /// `ServiceManaged` from the configuration; `None` when the key is missing.
    pub service_managed: Option<bool>,
}

/// Resource tags, whatever shape Config serialised them in. Keys and values are case-sensitive,
/// as ECS tags are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

impl Tags {
    /// Parses the decoded `Tags` JSON. Accepted shapes (the real one is undocumented):
    /// `{"k":"v"}`, `{"k":["v"]}`, `[{"Key":…,"Value":…}]`, `[{"TagKey":…,"TagValue":…}]`,
    /// and any of the lists wrapped as `{"Tag":[…]}`. `null` is no tags.
    pub fn from_json(v: &Value) -> Result<Tags, String> {
        let mut pairs = Vec::new();
        match v {
            Value::Null => {}
            Value::Array(items) => collect_tag_list(items, &mut pairs)?,
            Value::Object(map) => {
                let wrapped = if map.len() == 1 {
                    map.iter()
                        .find(|(k, _)| {
                            k.eq_ignore_ascii_case("tag") || k.eq_ignore_ascii_case("tags")
                        })
                        .and_then(|(_, v)| v.as_array())
                        .filter(|items| items.iter().all(Value::is_object))
                } else {
                    None
                };
                if let Some(items) = wrapped {
                    collect_tag_list(items, &mut pairs)?;
                } else {
                    for (key, value) in map {
                        match value {
                            Value::Array(values) => {
                                if values.is_empty() {
                                    pairs.push((key.clone(), String::new()));
                                }
                                for value in values {
                                    pairs.push((key.clone(), scalar(value, key)?));
                                }
                            }
                            other => pairs.push((key.clone(), scalar(other, key)?)),
                        }
                    }
                }
            }
            other => {
                return Err(format!(
                    "tags must be an object or a list, got {}",
                    kind(other)
                ))
            }
        }
        Ok(Tags(pairs))
    }

    /// The first value of tag `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether tag `key` is present (with `value`, when one is given).
    pub fn contains(&self, key: &str, value: Option<&str>) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == key && value.is_none_or(|want| want == v))
    }

    /// Whether the resource has no tags at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `(key, value)` pair, in Config's order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

fn scalar(v: &Value, key: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("tag {key:?} has {} as its value", kind(other))),
    }
}

/// The member `name` of a tag entry: the exact name, else any case (the shape is undocumented).
fn member<'a>(item: &'a Value, name: &str) -> Option<&'a Value> {
    let map = item.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn collect_tag_list(items: &[Value], pairs: &mut Vec<(String, String)>) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(format!("tag entry {i} is {}, not an object", kind(item)));
        }
        let key = ["Key", "TagKey"]
            .iter()
            .filter_map(|name| member(item, name))
            .find_map(|v| scalar(v, "").ok().filter(|k| !k.is_empty()))
            .ok_or_else(|| format!("tag entry {i} has no Key/TagKey"))?;
        let value = member(item, "Value")
            .or_else(|| member(item, "TagValue"))
            .map(|v| scalar(v, &key))
            .transpose()?
            .unwrap_or_default();
        pairs.push((key, value));
    }
    Ok(())
}

/// Re-reads one resource from Config, pushing the errors of retried attempts to `retried`
/// (oldest first), whether the read succeeds or not.
pub async fn get_discovered_resource_traced(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    query: &ResourceQuery,
    retried: &mut Vec<ApiError>,
) -> Result<DiscoveredResource, ApiError> {
    let mut params = Params::new();
    params.insert("ResourceId".into(), query.resource_id.clone());
    params.insert("ResourceType".into(), query.resource_type.clone());
    params.insert("Region".into(), query.region.clone());
    let api = match &query.aggregator {
        None => GET_DISCOVERED_RESOURCE,
        Some(scope) => {
            if !is_resource_account_id(&scope.account_id) {
                return Err(ApiError::InvalidRequest(format!(
                    "GetAggregateDiscoveredResource needs the resource's account id \
                     (ResourceAccountId, an int64), got {:?}",
                    scope.account_id
                )));
            }
            params.insert("AggregatorId".into(), scope.aggregator_id.clone());
            params.insert("ResourceAccountId".into(), scope.account_id.clone());
            GET_AGGREGATE_DISCOVERED_RESOURCE
        }
    };
    let traced = call::<DetailAnswer>(client, cx, endpoint, api, params).await;
    retried.extend(traced.earlier);
    let answer = traced.result?;
    // The call's request id: the answer's `RequestId`, else the `x-acs-request-id` header.
    resource_of(answer.value, answer.request_id, query)
}

fn decode(detail: impl Into<String>) -> ApiError {
    ApiError::Decode {
        status: 200,
        detail: detail.into(),
    }
}

/// A GetDiscoveredResource (or GetAggregateDiscoveredResource) answer: its envelope and its
/// `DiscoveredResourceDetail`. Keys are PascalCase (the 2020-09-07 SDK model); the camelCase
/// of Config's older API is read too.
#[derive(Debug, Deserialize)]
struct DetailAnswer {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(
        rename = "DiscoveredResourceDetail",
        alias = "discoveredResourceDetail",
        default
    )]
    detail: Option<Object<Detail>>,
}

impl Reply for DetailAnswer {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

/// The members of a `DiscoveredResourceDetail` the function reads; the rest is skipped.
#[derive(Debug, Deserialize)]
struct Detail {
    #[serde(
        rename = "ResourceId",
        alias = "resourceId",
        default,
        deserialize_with = "text"
    )]
    resource_id: Option<String>,
    #[serde(
        rename = "ResourceType",
        alias = "resourceType",
        default,
        deserialize_with = "text"
    )]
    resource_type: Option<String>,
    #[serde(
        rename = "Region",
        alias = "region",
        default,
        deserialize_with = "text"
    )]
    region: Option<String>,
    /// `1` (exists) or `0` (deleted), as a number or a string.
    #[serde(rename = "ResourceDeleted", alias = "resourceDeleted", default)]
    resource_deleted: Option<Value>,
    /// JSON inside a string (the real shape), or an object.
    #[serde(rename = "Configuration", alias = "configuration", default)]
    configuration: Option<Value>,
    /// Small and of undocumented shape: kept as a tree for [`Tags::from_json`].
    #[serde(rename = "Tags", alias = "tags", default)]
    tags: Option<Value>,
    /// The owner's UID, a number (kept as text).
    #[serde(
        rename = "AccountId",
        alias = "accountId",
        default,
        deserialize_with = "text"
    )]
    account_id: Option<String>,
}

/// Reads a `DiscoveredResourceDetail` answer from its bytes, checking it describes the resource
/// asked for. `request_id` is the call's; the answer's own `RequestId` is used when it is
/// `None`.
pub fn parse_discovered_resource(
    body: &[u8],
    request_id: Option<String>,
    query: &ResourceQuery,
) -> Result<DiscoveredResource, ApiError> {
    let (answer, answered_id) =
        acs_openapi::response::read_response::<DetailAnswer>(200, body, None, &Default::default())?;
    resource_of(answer, request_id.or(answered_id), query)
}

/// The resource of an answer, or why it cannot be used.
fn resource_of(
    answer: DetailAnswer,
    request_id: Option<String>,
    query: &ResourceQuery,
) -> Result<DiscoveredResource, ApiError> {
    let Object(detail) = answer
        .detail
        .ok_or_else(|| decode("response has no DiscoveredResourceDetail object"))?;
    let resource_id = detail
        .resource_id
        .ok_or_else(|| decode("DiscoveredResourceDetail has no ResourceId"))?;
    if resource_id != query.resource_id {
        return Err(decode(format!(
            "Config answered for {resource_id:?}, not the requested {:?}",
            query.resource_id
        )));
    }
    let resource_type = detail
        .resource_type
        .unwrap_or_else(|| query.resource_type.clone());
    let region = detail.region.unwrap_or_else(|| query.region.clone());
    let deleted = match &detail.resource_deleted {
        None | Some(Value::Null) => false,
        Some(v) => match v {
            Value::Number(n) if n.as_u64() == Some(0) => true,
            Value::Number(n) if n.as_u64() == Some(1) => false,
            Value::String(s) if s == "0" => true,
            Value::String(s) if s == "1" => false,
            other => {
                return Err(decode(format!(
                    "ResourceDeleted is {}, not 0 or 1",
                    kind(other)
                )))
            }
        },
    };
    let recorded = match detail.configuration {
        None | Some(Value::Null) => Recorded::not_an_object("null"),
        Some(Value::String(s)) if s.trim().is_empty() => Recorded::not_an_object("null"),
        Some(Value::String(s)) => match Recorded::from_text(&s) {
            Ok(recorded) => recorded,
            Err(e) if e.is_data() => Recorded {
                rules: Err(Unreadable::Configuration(format!(
                    "Configuration cannot be read: {e}"
                ))),
                service_managed: None,
            },
            Err(e) => return Err(decode(format!("Configuration is not valid JSON: {e}"))),
        },
        Some(v @ Value::Object(_)) => Recorded::from_value(&v),
        Some(other) => return Err(decode(format!("Configuration is {}", kind(&other)))),
    };
    let tags_json = match detail.tags {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
        Some(Value::String(s)) => {
            serde_json::from_str(&s).map_err(|e| decode(format!("Tags is not valid JSON: {e}")))?
        }
        Some(v) => v,
    };
    let tags = Tags::from_json(&tags_json).map_err(|e| decode(format!("Tags: {e}")))?;
    let service_managed = recorded.service_managed.transpose().map_err(|kind| {
        decode(format!(
            "Configuration.ServiceManaged is {kind}, not a boolean"
        ))
    })?;
    Ok(DiscoveredResource {
        request_id,
        account_id: detail.account_id,
        region,
        resource_id,
        resource_type,
        deleted,
        snapshot: recorded.rules,
        tags,
        service_managed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleId;
    use serde_json::json;

    fn query() -> ResourceQuery {
        ResourceQuery {
            resource_id: "sg-1".into(),
            resource_type: "ACS::ECS::SecurityGroup".into(),
            region: "cn-hangzhou".into(),
            aggregator: None,
        }
    }

    /// [`parse_discovered_resource`] of the bytes of `body`, as the answer would arrive.
    fn parse_json(
        body: &Value,
        request_id: Option<String>,
        query: &ResourceQuery,
    ) -> Result<DiscoveredResource, ApiError> {
        parse_discovered_resource(&serde_json::to_vec(body).unwrap(), request_id, query)
    }

    fn body(detail: Value) -> Value {
        json!({"RequestId": "R-1", "DiscoveredResourceDetail": detail})
    }

    #[test]
    fn a_detail_is_parsed_with_its_configuration_and_tags_decoded() {
        let b = body(json!({
            "AccountId": 1234567890123456u64, "Region": "cn-hangzhou", "ResourceId": "sg-1",
            "ResourceType": "ACS::ECS::SecurityGroup", "ResourceDeleted": 1,
            "Configuration": "{\"SecurityGroupId\":\"sg-1\",\"ServiceManaged\":false,\"Permissions\":{\"Permission\":[]}}",
            "Tags": "{\"env\":\"prod\"}"
        }));
        let r = parse_json(&b, None, &query()).unwrap();
        assert_eq!(r.request_id.as_deref(), Some("R-1"));
        assert_eq!(r.account_id.as_deref(), Some("1234567890123456"));
        assert!(!r.deleted);
        assert_eq!(r.snapshot, Ok(vec![]));
        assert_eq!(r.service_managed, Some(false));
        assert_eq!(r.tags.get("env"), Some("prod"));
    }

    #[test]
    fn resource_deleted_zero_means_deleted() {
        let b = body(json!({"ResourceId": "sg-1", "ResourceDeleted": 0}));
        assert!(parse_json(&b, None, &query()).unwrap().deleted);
        let b = body(json!({"ResourceId": "sg-1", "ResourceDeleted": "1"}));
        assert!(!parse_json(&b, None, &query()).unwrap().deleted);
    }

    #[test]
    fn an_unexpected_resource_deleted_value_is_an_error() {
        let b = body(json!({"ResourceId": "sg-1", "ResourceDeleted": 2}));
        assert!(matches!(
            parse_json(&b, None, &query()),
            Err(ApiError::Decode { .. })
        ));
    }

    #[test]
    fn an_account_id_given_as_a_string_is_kept() {
        let b = body(json!({"ResourceId": "sg-1", "AccountId": "1234"}));
        let r = parse_json(&b, None, &query()).unwrap();
        assert_eq!(r.account_id.as_deref(), Some("1234"));
    }

    #[test]
    fn an_unparseable_configuration_is_an_error_not_null() {
        let b = body(json!({"ResourceId": "sg-1", "Configuration": "{not json"}));
        let err = parse_json(&b, None, &query()).unwrap_err();
        assert!(matches!(err, ApiError::Decode { .. }), "{err:?}");
        assert!(err.to_string().contains("Configuration"));
    }

    #[test]
    fn the_configuration_string_is_read_into_rules() {
        let b = body(json!({"ResourceId": "sg-1",
            "Configuration": "{\"Permissions\":{\"Permission\":[{\"SecurityGroupRuleId\":\"sgr-1\",\"Direction\":\"ingress\",\"PortRange\":\"22/22\",\"IpProtocol\":\"TCP\",\"SourceCidrIp\":\"0.0.0.0/0\"}]}}"}));
        let rules = parse_json(&b, None, &query()).unwrap().snapshot.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].rule_id.as_ref().map(RuleId::as_str), Some("sgr-1"));
        assert!(rules[0].is_world_open());
    }

    #[test]
    fn an_absent_configuration_gives_no_snapshot_rather_than_an_empty_one() {
        for configuration in [json!(null), json!("  ")] {
            let b = body(json!({"ResourceId": "sg-1", "Configuration": configuration}));
            let r = parse_json(&b, None, &query()).unwrap();
            assert!(
                matches!(r.snapshot, Err(Unreadable::Configuration(_))),
                "{configuration}: {:?}",
                r.snapshot
            );
        }
    }

    #[test]
    fn a_configuration_that_is_neither_text_nor_an_object_is_an_error() {
        let b = body(json!({"ResourceId": "sg-1", "Configuration": 5}));
        let err = parse_json(&b, None, &query()).unwrap_err();
        assert!(
            err.to_string().contains("Configuration is a number"),
            "{err}"
        );
    }

    #[test]
    fn a_service_managed_that_is_not_a_boolean_is_an_error() {
        let b =
            body(json!({"ResourceId": "sg-1", "Configuration": "{\"ServiceManaged\":\"maybe\"}"}));
        let err = parse_json(&b, None, &query()).unwrap_err();
        assert!(
            err.to_string().contains("ServiceManaged is a string"),
            "{err}"
        );
    }

    #[test]
    fn unparseable_tags_are_an_error() {
        let b = body(json!({"ResourceId": "sg-1", "Tags": "[1,"}));
        assert!(parse_json(&b, None, &query()).is_err());
    }

    #[test]
    fn a_missing_service_managed_key_is_none() {
        let b = body(json!({"ResourceId": "sg-1", "Configuration": "{\"VpcId\":\"v\"}"}));
        let r = parse_json(&b, None, &query()).unwrap();
        assert_eq!(r.service_managed, None);
        let b = body(json!({"ResourceId": "sg-1", "Configuration": "{\"serviceManaged\":true}"}));
        let r = parse_json(&b, None, &query()).unwrap();
        assert_eq!(r.service_managed, Some(true), "case-insensitive fallback");
    }

    #[test]
    fn camel_case_keys_are_read_as_a_fallback() {
        let b = json!({"requestId": "R", "discoveredResourceDetail": {"resourceId": "sg-1", "resourceDeleted": 0}});
        let r = parse_json(&b, None, &query()).unwrap();
        assert!(r.deleted);
    }

    #[test]
    fn a_detail_for_another_resource_is_refused() {
        let b = body(json!({"ResourceId": "sg-other"}));
        assert!(parse_json(&b, None, &query()).is_err());
    }

    #[test]
    fn a_response_without_a_detail_is_an_error() {
        assert!(parse_json(&json!({"RequestId": "R"}), None, &query()).is_err());
    }

    #[test]
    fn tags_as_a_plain_map() {
        let t = Tags::from_json(&json!({"env": "prod", "team": "sec"})).unwrap();
        assert_eq!(t.get("env"), Some("prod"));
        assert!(t.contains("team", Some("sec")));
        assert!(
            !t.contains("team", Some("SEC")),
            "values are case-sensitive"
        );
        assert_eq!(t.get("missing"), None);
    }

    #[test]
    fn tags_as_a_map_of_value_lists() {
        let t = Tags::from_json(&json!({"env": ["prod", "eu"], "flag": []})).unwrap();
        assert!(t.contains("env", Some("eu")));
        assert_eq!(t.get("env"), Some("prod"));
        assert!(t.contains("flag", None));
    }

    #[test]
    fn tags_as_a_key_value_list() {
        let t = Tags::from_json(&json!([{"Key": "env", "Value": "prod"}, {"key": "x"}])).unwrap();
        assert_eq!(t.get("env"), Some("prod"));
        assert!(t.contains("x", None));
    }

    #[test]
    fn tags_as_a_tag_key_tag_value_list() {
        let t = Tags::from_json(&json!([{"TagKey": "env", "TagValue": "prod"}])).unwrap();
        assert_eq!(t.get("env"), Some("prod"));
    }

    #[test]
    fn tags_wrapped_in_a_tag_object() {
        let t = Tags::from_json(&json!({"Tag": [{"TagKey": "env", "TagValue": "prod"}]})).unwrap();
        assert_eq!(t.get("env"), Some("prod"));
        assert!(!t.contains("Tag", None));
    }

    #[test]
    fn a_user_tag_named_tag_with_string_values_is_a_tag() {
        let t = Tags::from_json(&json!({"Tag": ["v"]})).unwrap();
        assert_eq!(t.get("Tag"), Some("v"));
    }

    #[test]
    fn empty_tags_in_any_shape_are_empty() {
        for v in [json!(null), json!({}), json!([])] {
            assert!(Tags::from_json(&v).unwrap().is_empty(), "{v}");
        }
    }

    #[test]
    fn malformed_tag_shapes_are_errors() {
        for v in [
            json!("env=prod"),
            json!(5),
            json!([{"Value": "no key"}]),
            json!(["env"]),
            json!({"env": {"nested": 1}}),
        ] {
            assert!(Tags::from_json(&v).is_err(), "{v}");
        }
    }

    fn service(code: &str) -> ApiError {
        ApiError::Service {
            status: 404,
            code: code.into(),
            message: String::new(),
            request_id: None,
            recommend: None,
        }
    }

    #[test]
    fn only_configs_own_not_found_codes_mean_not_in_config() {
        assert!(is_not_in_config(&service("ResourceNotExists")));
        assert!(is_not_in_config(&service("ResourceNotFound")));
        for other in [
            "InvalidAction.NotFound",
            "InvalidRegionId.NotFound",
            "InvalidAccessKeyId.NotFound",
            "InvalidSecurityGroupId.NotFound",
            "AggregatorNotExists",
            "NoPermission",
        ] {
            assert!(!is_not_in_config(&service(other)), "{other}");
        }
        assert!(!is_not_in_config(&ApiError::DeadlineExceeded {
            last: Some(Box::new(service("ResourceNotExists")))
        }));
    }

    #[test]
    fn a_resource_account_id_is_an_int64() {
        assert!(is_resource_account_id("1234567890123456"));
        assert!(!is_resource_account_id(""));
        assert!(!is_resource_account_id("12ab"));
        assert!(!is_resource_account_id("99999999999999999999"));
    }
}

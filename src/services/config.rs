//! Cloud Config: re-reading a resource (`GetDiscoveredResource`, or
//! `GetAggregateDiscoveredResource` through an aggregator).
//!
//! `Configuration` and `Tags` arrive as strings containing JSON; both are parsed here, once. A
//! string that does not parse is an error, never a silent `null`: an unreadable snapshot must
//! not look like an empty one.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{invoke_reading, Api};
use crate::rule_lists::{Recorded, Unreadable};
use crate::rules::Permission;
use acs_openapi::json::{field, lookup, text_field, Key, Scalar, Seen};
use acs_openapi::response::{self, Envelope, EnvelopeMembers};
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
                    acs_openapi::json::kind(other)
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
        other => Err(format!(
            "tag {key:?} has {} as its value",
            acs_openapi::json::kind(other)
        )),
    }
}

fn collect_tag_list(items: &[Value], pairs: &mut Vec<(String, String)>) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(format!(
                "tag entry {i} is {}, not an object",
                acs_openapi::json::kind(item)
            ));
        }
        let key = text_field(item, "Key")
            .or_else(|| text_field(item, "TagKey"))
            .ok_or_else(|| format!("tag entry {i} has no Key/TagKey"))?;
        let value = field(item, "Value")
            .or_else(|| field(item, "TagValue"))
            .map(|v| scalar(v, &key))
            .transpose()?
            .unwrap_or_default();
        pairs.push((key, value));
    }
    Ok(())
}

/// Re-reads one resource from Config.
pub async fn get_discovered_resource(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    query: &ResourceQuery,
) -> Result<DiscoveredResource, ApiError> {
    get_discovered_resource_traced(client, cx, endpoint, query, &mut Vec::new()).await
}

/// [`get_discovered_resource`], pushing the errors of retried attempts to `retried` (oldest
/// first), whether the read succeeds or not.
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
    let traced = invoke_reading(client, cx, endpoint, api, params, |body| {
        read_discovered_resource(response::text(body)?, query)
    })
    .await;
    retried.extend(traced.earlier);
    let answer = traced.result?;
    // The call's request id: the answer's `RequestId`, else the `x-acs-request-id` header.
    Ok(DiscoveredResource {
        request_id: answer.request_id,
        ..answer.value?
    })
}

fn decode(detail: impl Into<String>) -> ApiError {
    ApiError::Decode {
        status: 200,
        detail: detail.into(),
    }
}

/// The `Configuration` member as it arrived.
#[derive(Debug)]
enum ConfigurationMember {
    /// `null`, or a string of blanks: Config sent none.
    None,
    /// An object, or a string holding JSON: read into the rules and `ServiceManaged`.
    Read(Recorded),
    /// A string that is not JSON: the serde message.
    NotJson(String),
    /// Any other value: its kind.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for ConfigurationMember {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ConfigurationMember;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a configuration")
            }
            // The real shape: JSON inside a string, read directly from the unescaped text.
            fn visit_str<E>(self, v: &str) -> Result<ConfigurationMember, E> {
                if v.trim().is_empty() {
                    return Ok(ConfigurationMember::None);
                }
                Ok(match serde_json::from_str::<Recorded>(v) {
                    Ok(recorded) => ConfigurationMember::Read(recorded),
                    Err(e) => ConfigurationMember::NotJson(e.to_string()),
                })
            }
            // Tolerated: a configuration already delivered as an object.
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Recorded::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(ConfigurationMember::Read)
            }
            fn visit_unit<E>(self) -> Result<ConfigurationMember, E> {
                Ok(ConfigurationMember::None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ConfigurationMember::Other("an array"))
            }
            acs_openapi::visit_other_scalars!(ConfigurationMember::Other);
        }
        d.deserialize_any(V)
    }
}

/// The members of a `DiscoveredResourceDetail` the function reads, in the order [`Detail`]
/// keeps them.
const DETAIL_MEMBERS: [&str; 7] = [
    "ResourceId",
    "ResourceType",
    "Region",
    "ResourceDeleted",
    "Configuration",
    "Tags",
    "AccountId",
];

/// A `DiscoveredResourceDetail` as read off the wire.
#[derive(Debug, Default)]
struct Detail<'de> {
    resource_id: Option<Scalar<'de>>,
    resource_type: Option<Scalar<'de>>,
    region: Option<Scalar<'de>>,
    resource_deleted: Option<Scalar<'de>>,
    configuration: Option<ConfigurationMember>,
    /// Small and of undocumented shape: kept as a tree for [`Tags::from_json`].
    tags: Option<Value>,
    account_id: Option<Scalar<'de>>,
}

/// The answer's envelope and its `DiscoveredResourceDetail` (`None` when it is not an object).
#[derive(Debug, Default)]
struct DetailAnswer<'de> {
    envelope: EnvelopeMembers<'de>,
    detail: Option<Option<Detail<'de>>>,
}

impl<'de> Deserialize<'de> for Detail<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DetailVisitor)
    }
}

struct DetailVisitor;

impl<'de> Visitor<'de> for DetailVisitor {
    type Value = Detail<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DiscoveredResourceDetail object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Detail<'de>, A::Error> {
        let mut seen = Seen::<7>::default();
        let mut d = Detail::default();
        while let Some(Key(key)) = map.next_key()? {
            match lookup(&key, &DETAIL_MEMBERS) {
                Some((i, exact)) if seen.take(i, exact, &key) => match i {
                    0 => d.resource_id = Some(map.next_value()?),
                    1 => d.resource_type = Some(map.next_value()?),
                    2 => d.region = Some(map.next_value()?),
                    3 => d.resource_deleted = Some(map.next_value()?),
                    4 => d.configuration = Some(map.next_value()?),
                    5 => d.tags = Some(map.next_value()?),
                    _ => d.account_id = Some(map.next_value()?),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(d)
    }
}

/// `DiscoveredResourceDetail` when it is an object, `None` (skipped) when it is anything else.
struct MaybeDetail<'de>(Option<Detail<'de>>);

impl<'de> Deserialize<'de> for MaybeDetail<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeDetail<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                DetailVisitor.visit_map(map).map(|d| MaybeDetail(Some(d)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeDetail(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeDetail(None))
            }
            acs_openapi::visit_other_scalars!(|_| MaybeDetail(None));
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeDetail(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for DetailAnswer<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DetailAnswer<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a GetDiscoveredResource answer (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = Seen::<1>::default();
                let mut answer = DetailAnswer::default();
                while let Some(Key(key)) = map.next_key()? {
                    if answer.envelope.read(&key, &mut map)? {
                        continue;
                    }
                    match lookup(&key, &["DiscoveredResourceDetail"]) {
                        Some((0, exact)) if seen.take(0, exact, &key) => {
                            answer.detail = Some(map.next_value::<MaybeDetail<'de>>()?.0);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(answer)
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a `DiscoveredResourceDetail` answer straight from its bytes, checking it describes
/// the resource asked for. The `Configuration` string is read directly into rules.
/// `request_id` is the call's; the answer's own `RequestId` is used when it is `None`.
pub fn parse_discovered_resource(
    body: &[u8],
    request_id: Option<String>,
    query: &ResourceQuery,
) -> Result<DiscoveredResource, ApiError> {
    let (envelope, resource) = response::text(body)
        .and_then(|text| read_discovered_resource(text, query))
        .map_err(|e| decode(format!("GetDiscoveredResource answer: {e}")))?;
    let mut resource = resource?;
    resource.request_id = request_id.or(envelope.request_id);
    Ok(resource)
}

/// Reads a GetDiscoveredResource answer in one pass: its envelope (for the client to judge the
/// answer) and the resource, or why it cannot be used (which only counts once the envelope says
/// the answer is a success). The resource's `request_id` is the answer's `RequestId`.
pub fn read_discovered_resource(
    text: &str,
    query: &ResourceQuery,
) -> Result<(Envelope, Result<DiscoveredResource, ApiError>), serde_json::Error> {
    let mut answer: DetailAnswer<'_> = serde_json::from_str(text)?;
    let envelope = std::mem::take(&mut answer.envelope).finish();
    let resource = resource_of(answer, envelope.request_id.clone(), query);
    Ok((envelope, resource))
}

/// The resource of an answer read by [`read_discovered_resource`].
fn resource_of(
    answer: DetailAnswer<'_>,
    request_id: Option<String>,
    query: &ResourceQuery,
) -> Result<DiscoveredResource, ApiError> {
    let detail = answer
        .detail
        .flatten()
        .ok_or_else(|| decode("response has no DiscoveredResourceDetail object"))?;
    let text = |s: &Option<Scalar<'_>>| s.as_ref().and_then(Scalar::text);
    let resource_id = text(&detail.resource_id)
        .ok_or_else(|| decode("DiscoveredResourceDetail has no ResourceId"))?;
    if resource_id != query.resource_id {
        return Err(decode(format!(
            "Config answered for {resource_id:?}, not the requested {:?}",
            query.resource_id
        )));
    }
    let resource_type = text(&detail.resource_type).unwrap_or_else(|| query.resource_type.clone());
    let region = text(&detail.region).unwrap_or_else(|| query.region.clone());
    let deleted = match &detail.resource_deleted {
        None | Some(Scalar::Null) => false,
        Some(v) => match v.text().as_deref() {
            Some("0") => true,
            Some("1") => false,
            _ => {
                return Err(decode(format!(
                    "ResourceDeleted is {}, not 0 or 1",
                    v.kind()
                )))
            }
        },
    };
    let recorded = match detail.configuration {
        None | Some(ConfigurationMember::None) => Recorded::not_an_object("null"),
        Some(ConfigurationMember::Read(recorded)) => recorded,
        Some(ConfigurationMember::NotJson(e)) => {
            return Err(decode(format!("Configuration is not valid JSON: {e}")))
        }
        Some(ConfigurationMember::Other(kind)) => {
            return Err(decode(format!("Configuration is {kind}")))
        }
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
        account_id: text(&detail.account_id),
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

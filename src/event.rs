//! The `/invoke` body: what Config (or an operator) asks the function to do.
//!
//! Config sends a JSON array of non-compliant resources. Operators testing from the FC console
//! paste a single object, or `{"resources": [...], "dryRun": true}`, and undo a remediation with
//! `{"action": "restore", ...}`. Everything is parsed here, once, into types: a body that is not
//! an event at all is a function error with a message saying what is wrong, while one bad *item*
//! only fails that item, so the other resources of the event are still processed.

use std::fmt;

use serde_json::{Map, Value};

use crate::rules::Permission;
use acs_openapi::json::kind;

/// The only resource type this function remediates.
pub const SECURITY_GROUP: &str = "ACS::ECS::SecurityGroup";

/// An Alibaba Cloud account UID. Config writes it as a JSON number, operators often as a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AccountId {
    /// Accepts digits only (a UID), as a string or a non-negative integer.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let s = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            other => {
                return Err(format!(
                    "accountId must be a number or a string of digits, got {other}"
                ))
            }
        };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 32 {
            return Err(format!("accountId {:?} is not an account UID", quote(&s)));
        }
        Ok(AccountId(s))
    }
}

/// One resource named by the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    /// Absent in hand-made events: then the function's own account is meant.
    pub account_id: Option<AccountId>,
    /// The region whose ECS endpoint the group is fetched and revoked through.
    pub region_id: String,
    /// The security group's id (`sg-…`).
    pub resource_id: String,
    /// Config's type name; anything but a security group is reported as skipped.
    pub resource_type: String,
    /// The Config rule that found the group non-compliant, when the event says so; kept for the
    /// log.
    pub config_rule_id: Option<String>,
}

/// An item of the event that could not be read; it is reported as `failed` with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidItem {
    /// Position in the event, from 0.
    pub index: usize,
    /// Whatever identifying fields could be read, for the report.
    pub account_id: Option<String>,
    /// The region, if the item gave one.
    pub region_id: Option<String>,
    /// The resource id, if the item gave one.
    pub resource_id: Option<String>,
    /// The resource type, if the item gave one.
    pub resource_type: Option<String>,
    /// What is wrong with the item, as the report states it.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// An event item: a resource to remediate, or one that is reported as failed without any call.
pub enum Item {
    /// A well-formed resource reference.
    Resource(ResourceRef),
    /// An item that could not be read; it still gets a `failed` entry in the report.
    Invalid(InvalidItem),
}

/// A remediation request: the resources, and the console's per-invocation `dryRun` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationEvent {
    /// Every item of the event, in order: each gets exactly one entry in the report.
    pub items: Vec<Item>,
    /// The event's `dryRun`: `Some(true)` forces a dry run; it can never switch one off.
    pub dry_run: Option<bool>,
}

/// An undo: put back rules that an earlier remediation revoked (from its report's `revokedRules`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    /// The account of the group; absent means the function's own.
    pub account_id: Option<AccountId>,
    /// The region of the group.
    pub region_id: String,
    /// The group to put the rules back into.
    pub resource_id: String,
    /// The rules to authorize again, as the remediation report listed them.
    pub rules: Vec<Permission>,
    /// The `Seal` of each rule (same positions as `rules`), as the report gave it.
    pub seals: Vec<Option<String>>,
    /// `removeRules`: rules an earlier narrowing added (`narrowedRules[].added` of its report),
    /// to revoke once `rules` are back; each needs its added-rule seal. Empty when absent.
    pub remove_rules: Vec<Permission>,
    /// The `Seal` of each of `remove_rules` (same positions).
    pub remove_seals: Vec<Option<String>>,
    /// The event's `dryRun`: it can only ask for a dry run, never switch one off.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// What an invocation asks for, decided by the event's shape.
pub enum Invocation {
    /// A Config remediation event (or a hand-made list of resources): find and revoke.
    Remediate(RemediationEvent),
    /// An undo of an earlier remediation (`{"action": "restore", …}`).
    Restore(RestoreRequest),
}

/// Why a body is not an event at all (a function error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not UTF-8 text (invalid byte at offset {0})")]
    /// The body is not text; the offset is of the first invalid byte.
    NotUtf8(usize),
    #[error("the event is empty (no body): send a JSON array of resources, e.g. [{{\"accountId\", \"regionId\", \"resourceId\", \"resourceType\"}}]")]
    /// The invocation carried no body at all (e.g. a console test with an empty event).
    NoBody,
    #[error("the event is not valid JSON: {0}")]
    /// The body is not JSON; the parser's message says where.
    Malformed(String),
    #[error("the event names no resource (an empty list): check the remediation wiring or the test event")]
    /// The event is an empty list: nothing to do is more likely a wiring mistake than a request.
    Empty,
    #[error("this is a Config custom-rule evaluation event (it has invokingEvent), not a remediation event: wire this function as the rule's remediation (remediation_type FC, CUSTOM), not as a CUSTOM_FC rule")]
    /// A Config rule-evaluation event reached the function: it is wired as the rule, not as its
    /// remediation.
    RuleEvaluationEvent,
    #[error("the event names more than {0} items, the MAX_EVENT_RESOURCES limit: split it into smaller events or raise MAX_EVENT_RESOURCES")]
    /// More items than `MAX_EVENT_RESOURCES`: refused whole rather than half-processed.
    TooManyItems(usize),
    #[error("{0}")]
    /// JSON that is neither a remediation nor a restore event; the message says what is missing.
    Shape(String),
}

/// Reads the raw body of an invocation, with the default `MAX_EVENT_RESOURCES`.
pub fn parse(body: &[u8]) -> Result<Invocation, EventError> {
    parse_with_limit(body, crate::config::DEFAULT_MAX_EVENT_RESOURCES)
}

/// Reads the raw body of an invocation naming at most `max_items` resources (or restore rules).
///
/// The body is read in one pass that keeps only what an event can use (see `bounded`), so
/// memory stays proportional to the useful part of the body, and an over-long list is refused
/// as soon as its `max_items + 1`-th element is seen.
pub fn parse_with_limit(body: &[u8], max_items: usize) -> Result<Invocation, EventError> {
    let text = std::str::from_utf8(body).map_err(|e| EventError::NotUtf8(e.valid_up_to()))?;
    if text.trim().is_empty() {
        return Err(EventError::NoBody);
    }
    let value = bounded::from_str(text, max_items)?;
    match value {
        Value::Array(items) => Ok(Invocation::Remediate(remediation(items, None)?)),
        Value::Object(obj) => parse_object(obj),
        other => Err(EventError::Shape(format!(
            "the event must be a JSON array of resources or an object, got {}",
            kind(&other)
        ))),
    }
}

fn parse_object(obj: Map<String, Value>) -> Result<Invocation, EventError> {
    if field(&obj, "invokingEvent").is_some() {
        return Err(EventError::RuleEvaluationEvent);
    }
    if let Some(action) = field(&obj, "action") {
        return match action.as_str() {
            Some(a) if a.eq_ignore_ascii_case("restore") => Ok(Invocation::Restore(restore(&obj)?)),
            Some(a) if a.eq_ignore_ascii_case("remediate") => remediate_object(obj),
            _ => Err(EventError::Shape(format!(
                "unknown action {}: expected \"restore\" or \"remediate\"",
                shown(action)
            ))),
        };
    }
    remediate_object(obj)
}

fn dry_run(obj: &Map<String, Value>) -> Result<Option<bool>, EventError> {
    match field(obj, "dryRun") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(EventError::Shape(format!(
            "dryRun must be true or false, got {}",
            shown(other)
        ))),
    }
}

fn remediate_object(mut obj: Map<String, Value>) -> Result<Invocation, EventError> {
    let dry_run = dry_run(&obj)?;
    // Taken out, not copied: the list is most of the event.
    let key = ["resources", "Resources"]
        .into_iter()
        .find(|k| matches!(obj.get(*k), Some(Value::Array(_))));
    if let Some(Value::Array(items)) = key.and_then(|k| obj.remove(k)) {
        return Ok(Invocation::Remediate(remediation(items, dry_run)?));
    }
    match field(&obj, "resources") {
        Some(other) => Err(EventError::Shape(format!(
            "resources must be an array, got {}",
            kind(other)
        ))),
        None if field(&obj, "resourceId").is_some() => Ok(Invocation::Remediate(remediation(
            vec![Value::Object(obj)],
            dry_run,
        )?)),
        None => Err(EventError::Shape(
            "the object has neither resources nor resourceId: expected a Config remediation event \
             ([{\"accountId\", \"regionId\", \"resourceId\", \"resourceType\"}])"
                .into(),
        )),
    }
}

fn remediation(items: Vec<Value>, dry_run: Option<bool>) -> Result<RemediationEvent, EventError> {
    if items.is_empty() {
        return Err(EventError::Empty);
    }
    // Each element is dropped once read: an invalid item keeps only quoted pieces of it.
    let items = items
        .into_iter()
        .enumerate()
        .map(|(index, v)| match resource(&v) {
            Ok(r) => Item::Resource(r),
            Err(reason) => Item::Invalid(invalid(index, &v, reason)),
        })
        .collect();
    Ok(RemediationEvent { items, dry_run })
}

/// Looks a key up as written (camelCase) or in PascalCase, as Config's APIs spell it.
fn field<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| {
        let mut pascal = camel.to_string();
        pascal[..1].make_ascii_uppercase();
        obj.get(&pascal)
    })
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(format!("{key} must be a string, got {}", kind(other))),
    }
}

/// The longest piece of an event value quoted back in a report or log: enough to recognise it,
/// small enough that thousands of bad items cannot make the answer large.
const QUOTE_MAX: usize = 40;

/// `value`, cut to [`QUOTE_MAX`] characters (with `…` when cut).
pub(crate) fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_MAX) {
        None => value.to_string(),
        Some((end, _)) => format!("{}…", &value[..end]),
    }
}

/// A JSON value as short text for an error message.
fn shown(v: &Value) -> String {
    quote(&v.to_string())
}

fn required(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    string(obj, key)?.ok_or_else(|| format!("{key} is missing"))
}

/// Region ids and resource ids travel into API parameters; reject anything that is not one.
fn identifier(key: &str, value: String) -> Result<String, String> {
    let ok = value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(value)
    } else {
        Err(format!(
            "{key} {:?} contains characters an id cannot have",
            quote(&value)
        ))
    }
}

/// A region id becomes part of a host name (`ecs.{region}.aliyuncs.com`) and an API parameter,
/// so only the shape region ids have is accepted: `^[a-z0-9]+(-[a-z0-9]+)*$`, at most 64
/// characters (`cn-hangzhou`, `cn-shanghai-finance-1`, `ap-southeast-1`).
pub fn is_region_id(value: &str) -> bool {
    value.len() <= 64
        && !value.is_empty()
        && value.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn region_id(value: String) -> Result<String, String> {
    if is_region_id(&value) {
        Ok(value)
    } else {
        Err(format!(
            "regionId {:?} is not a region id: only lower-case letters and digits in \
             dash-separated parts (e.g. cn-hangzhou), no other characters",
            quote(&value)
        ))
    }
}

/// Free-text fields that are echoed in the report (`resourceType`, `configRuleId`): at most
/// 128 characters, no control characters.
fn label(key: &str, value: String) -> Result<String, String> {
    if value.chars().count() > 128 || value.chars().any(char::is_control) {
        return Err(format!(
            "{key} {:?} is not a resource type or rule id (too long or control characters)",
            quote(&value)
        ));
    }
    Ok(value)
}

fn account(obj: &Map<String, Value>) -> Result<Option<AccountId>, String> {
    match field(obj, "accountId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => AccountId::from_json(v).map(Some),
    }
}

fn resource(v: &Value) -> Result<ResourceRef, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("a resource must be a JSON object, got {}", kind(v)))?;
    Ok(ResourceRef {
        account_id: account(obj)?,
        region_id: region_id(required(obj, "regionId")?)?,
        resource_id: identifier("resourceId", required(obj, "resourceId")?)?,
        resource_type: label("resourceType", required(obj, "resourceType")?)?,
        config_rule_id: string(obj, "configRuleId")?
            .map(|c| label("configRuleId", c))
            .transpose()?,
    })
}

fn invalid(index: usize, v: &Value, reason: String) -> InvalidItem {
    let text = |key: &str| {
        v.as_object()
            .and_then(|o| field(o, key))
            .and_then(|v| match v {
                Value::String(s) => Some(quote(s)),
                Value::Number(n) => Some(quote(&n.to_string())),
                _ => None,
            })
    };
    InvalidItem {
        index,
        account_id: text("accountId"),
        region_id: text("regionId"),
        resource_id: text("resourceId"),
        resource_type: text("resourceType"),
        reason: format!("event item {index}: {reason}"),
    }
}

fn restore(obj: &Map<String, Value>) -> Result<RestoreRequest, EventError> {
    let shape = EventError::Shape;
    let region_id = required(obj, "regionId")
        .and_then(region_id)
        .map_err(|e| shape(format!("restore: {e}")))?;
    let resource_id = required(obj, "resourceId")
        .and_then(|r| identifier("resourceId", r))
        .map_err(|e| shape(format!("restore: {e}")))?;
    let account_id = account(obj).map_err(|e| shape(format!("restore: {e}")))?;
    let rules = match field(obj, "rules") {
        Some(Value::Array(rules)) if !rules.is_empty() => rules,
        Some(Value::Array(_)) => return Err(shape("restore: rules is empty".into())),
        Some(other) => {
            return Err(shape(format!(
                "restore: rules must be an array, got {}",
                kind(other)
            )))
        }
        None => {
            return Err(shape(
                "restore: rules is missing (copy revokedRules from the report)".into(),
            ))
        }
    };
    let (rules, seals) = sealed_rules(rules, "rule")?;
    let (remove_rules, remove_seals) = match field(obj, "removeRules") {
        None | Some(Value::Null) => (Vec::new(), Vec::new()),
        Some(Value::Array(rules)) => sealed_rules(rules, "removeRules")?,
        Some(other) => {
            return Err(shape(format!(
                "restore: removeRules must be an array, got {}",
                kind(other)
            )))
        }
    };
    Ok(RestoreRequest {
        account_id,
        region_id,
        resource_id,
        rules,
        seals,
        remove_rules,
        remove_seals,
        dry_run: dry_run(obj)?,
    })
}

/// The rules of a restore list and the `Seal` of each (same positions); `what` names an entry
/// in an error (`rule 2`, `removeRules 0`).
fn sealed_rules(
    rules: &[Value],
    what: &str,
) -> Result<(Vec<Permission>, Vec<Option<String>>), EventError> {
    let shape = EventError::Shape;
    let seals = rules
        .iter()
        .enumerate()
        .map(|(i, r)| match r.get("Seal") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(shape(format!(
                "restore: {what} {i}: Seal must be a string, got {}",
                kind(other)
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rules = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Permission::from_json(r)
                .map_err(|e| shape(format!("restore: {what} {i}: {}", quote(&e))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rules, seals))
}

/// Reading a body into a [`Value`] that keeps only what an event can use.
///
/// `serde_json::from_str::<Value>` on 16 MiB of `[1,1,1,…]` builds eight million values (about
/// 256 MiB). This reader walks the same JSON once and keeps:
/// - at the top: an array of items, or an object with only the keys an event has (`resources`,
///   `rules`, `action`, `dryRun`, the resource keys, `invokingEvent`);
/// - `resources` / `rules` / a top-level array: at most `max_items` elements, else
///   [`EventError::TooManyItems`] at once;
/// - in each element: only the resource keys, the rule attributes and `Seal`, each a scalar;
///   a list or object where a scalar belongs is kept as an *empty* list or object, so the error
///   message can still say "got an array".
///
/// Everything else is skipped without being stored, so memory stays proportional to the kept
/// text, never to the number of ignored values.
mod bounded {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    use super::EventError;

    /// The longest string value kept whole: far longer than any value an event can use (ids
    /// and types are at most 128 characters, a rule's description 512, a seal under 200). A
    /// longer one is kept as its first [`MAX_KEPT_STRING`] bytes and `…`, still invalid
    /// wherever it stands and still quotable, so a 16 MiB value is not copied.
    pub(super) const MAX_KEPT_STRING: usize = 4096;

    /// The longest key looked at; a longer one is no key an event has, and is skipped unread.
    const MAX_KEY: usize = 64;

    pub(super) fn kept_string(v: &str) -> String {
        if v.len() <= MAX_KEPT_STRING {
            return v.to_string();
        }
        let mut end = MAX_KEPT_STRING;
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &v[..end])
    }

    /// A map key, or `None` for one too long to be any event's (not copied).
    struct Key;

    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Option<String>;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for Key {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E>(self, v: &str) -> Result<Option<String>, E> {
            Ok((v.len() <= MAX_KEY).then(|| v.to_string()))
        }
    }

    /// Marker of the "too many items" error inside serde_json's error text.
    const TOO_MANY: &str = "sg-remediator: too many items";

    const TOP_KEYS: [&str; 11] = [
        "action",
        "dryRun",
        "resources",
        "rules",
        "removeRules",
        "invokingEvent",
        "accountId",
        "regionId",
        "resourceId",
        "resourceType",
        "configRuleId",
    ];

    fn camel(key: &str) -> String {
        let mut k = key.to_string();
        if let Some(first) = k.get_mut(..1) {
            first.make_ascii_lowercase();
        }
        k
    }

    fn top_key(key: &str) -> bool {
        TOP_KEYS.contains(&camel(key).as_str())
    }

    fn item_key(key: &str) -> bool {
        key == "Seal"
            || crate::rules::Field::from_name(key).is_some()
            || TOP_KEYS[6..].contains(&camel(key).as_str())
    }

    #[derive(Clone, Copy)]
    enum Level {
        /// The whole body.
        Top,
        /// `resources` / `rules`: a bounded list of items.
        List,
        /// One item (a resource or a rule).
        Item,
        /// A value that must be a scalar.
        Scalar,
    }

    struct Seed {
        level: Level,
        max_items: usize,
    }

    impl Seed {
        fn at(&self, level: Level) -> Seed {
            Seed {
                level,
                max_items: self.max_items,
            }
        }
    }

    pub(super) fn from_str(text: &str, max_items: usize) -> Result<Value, EventError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Seed {
            level: Level::Top,
            max_items,
        }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            if e.to_string().starts_with(TOO_MANY) {
                EventError::TooManyItems(max_items)
            } else {
                EventError::Malformed(e.to_string())
            }
        })?;
        Ok(value)
    }

    impl<'de> DeserializeSeed<'de> for Seed {
        type Value = Value;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(kept_string(v)))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            if v.len() <= MAX_KEPT_STRING {
                return Ok(Value::String(v));
            }
            Ok(Value::String(kept_string(&v)))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            match self.level {
                Level::Top | Level::List => {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element_seed(self.at(Level::Item))? {
                        if items.len() == self.max_items {
                            return Err(de::Error::custom(TOO_MANY));
                        }
                        items.push(item);
                    }
                    Ok(Value::Array(items))
                }
                Level::Item | Level::Scalar => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Value::Array(Vec::new()))
                }
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut kept = Map::new();
            while let Some(key) = map.next_key_seed(Key)? {
                let Some(key) = key else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                let level = match self.level {
                    Level::Top if !top_key(&key) => None,
                    Level::Top => match camel(&key).as_str() {
                        "resources" | "rules" | "removeRules" => Some(Level::List),
                        _ => Some(Level::Scalar),
                    },
                    Level::List | Level::Item if item_key(&key) => Some(Level::Scalar),
                    Level::List | Level::Item | Level::Scalar => None,
                };
                match level {
                    Some(level) => {
                        let value = map.next_value_seed(self.at(level))?;
                        kept.insert(key, value);
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Value::Object(kept))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remediate(body: &str) -> RemediationEvent {
        match parse(body.as_bytes()).unwrap() {
            Invocation::Remediate(r) => r,
            other => panic!("expected a remediation, got {other:?}"),
        }
    }

    fn only_resource(e: &RemediationEvent) -> &ResourceRef {
        match &e.items[..] {
            [Item::Resource(r)] => r,
            other => panic!("expected one valid resource, got {other:?}"),
        }
    }

    #[test]
    fn configs_array_form_with_a_numeric_account_id_parses() {
        let e = remediate(
            r#"[{"accountId": 1234567890123456, "regionId": "cn-hangzhou", "resourceId": "sg-bp67acfmxazb4p1234", "resourceType": "ACS::ECS::SecurityGroup", "configRuleId": "cr-5772ba41209e007b0000", "complianceType": "NON_COMPLIANT"}]"#,
        );
        let r = only_resource(&e);
        assert_eq!(r.account_id, Some(AccountId("1234567890123456".into())));
        assert_eq!(r.region_id, "cn-hangzhou");
        assert_eq!(r.config_rule_id.as_deref(), Some("cr-5772ba41209e007b0000"));
        assert_eq!(e.dry_run, None);
    }

    #[test]
    fn pascal_case_keys_and_a_string_account_id_are_accepted() {
        let e = remediate(
            r#"[{"AccountId": "1234567890123456", "RegionId": "cn-hangzhou", "ResourceId": "sg-1", "ResourceType": "ACS::ECS::SecurityGroup"}]"#,
        );
        assert_eq!(
            only_resource(&e).account_id,
            Some(AccountId("1234567890123456".into()))
        );
    }

    #[test]
    fn a_single_object_is_one_resource() {
        let e = remediate(
            r#"{"regionId": "cn-hangzhou", "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup"}"#,
        );
        assert_eq!(only_resource(&e).resource_id, "sg-1");
        assert_eq!(only_resource(&e).account_id, None);
    }

    #[test]
    fn the_console_form_carries_a_dry_run_override() {
        let e = remediate(
            r#"{"resources": [{"regionId": "cn-hangzhou", "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup"}], "dryRun": true}"#,
        );
        assert_eq!(e.dry_run, Some(true));
    }

    #[test]
    fn a_bad_item_is_kept_as_invalid_while_the_others_parse() {
        let e = remediate(
            r#"[{"regionId": "cn-hangzhou", "resourceType": "ACS::ECS::SecurityGroup"}, {"regionId": "cn-hangzhou", "resourceId": "sg-2", "resourceType": "ACS::ECS::SecurityGroup"}, 7]"#,
        );
        assert!(
            matches!(&e.items[0], Item::Invalid(i) if i.reason.contains("resourceId is missing"))
        );
        assert!(matches!(&e.items[1], Item::Resource(r) if r.resource_id == "sg-2"));
        assert!(matches!(&e.items[2], Item::Invalid(i) if i.reason.contains("JSON object")));
    }

    #[test]
    fn wrong_types_in_an_item_name_the_key() {
        let e = remediate(
            r#"[{"regionId": 5, "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup"}]"#,
        );
        assert!(
            matches!(&e.items[0], Item::Invalid(i) if i.reason.contains("regionId must be a string"))
        );
        let e = remediate(
            r#"[{"accountId": "12ab", "regionId": "cn-hangzhou", "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup"}]"#,
        );
        assert!(matches!(&e.items[0], Item::Invalid(i) if i.reason.contains("not an account UID")));
    }

    #[test]
    fn region_ids_are_dash_separated_lower_case_letters_and_digits() {
        for good in [
            "cn-hangzhou",
            "cn-shanghai-finance-1",
            "cn-north-2-gov-1",
            "us-east-1",
        ] {
            assert!(is_region_id(good), "{good}");
        }
        for bad in [
            "",
            "cn.hangzhou",
            "cn_hangzhou",
            "CN-hangzhou",
            "cn--hangzhou",
            "-cn",
            "cn-",
            "cn hangzhou",
            "cn-hangzhou.evil.com",
        ] {
            assert!(!is_region_id(bad), "{bad:?}");
        }
        assert!(!is_region_id(&"a".repeat(65)));
    }

    #[test]
    fn an_event_item_with_a_dotted_region_fails_naming_the_region() {
        let e = remediate(
            r#"[{"regionId": "evil.example.com", "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup"}]"#,
        );
        assert!(
            matches!(&e.items[0], Item::Invalid(i) if i.reason.contains("not a region id")),
            "{:?}",
            e.items[0]
        );
    }

    #[test]
    fn ids_with_query_characters_are_refused() {
        let e = remediate(
            r#"[{"regionId": "cn-hangzhou&Action=x", "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup"}]"#,
        );
        assert!(matches!(&e.items[0], Item::Invalid(i) if i.reason.contains("characters")));
    }

    #[test]
    fn bodies_that_are_not_events_are_errors_that_say_why() {
        assert_eq!(parse(b"[]"), Err(EventError::Empty));
        assert!(matches!(parse(b"{not json"), Err(EventError::Malformed(_))));
        assert_eq!(parse(b"\xff\xfe"), Err(EventError::NotUtf8(0)));
        assert!(matches!(parse(b"42"), Err(EventError::Shape(m)) if m.contains("a number")));
        assert!(
            matches!(parse(br#"{"resources": {}}"#), Err(EventError::Shape(m)) if m.contains("array"))
        );
        assert!(matches!(
            parse(br#"{"resources": [], "dryRun": true}"#),
            Err(EventError::Empty)
        ));
        assert!(
            matches!(parse(br#"{"resources": [{}], "dryRun": "yes"}"#), Err(EventError::Shape(m)) if m.contains("dryRun"))
        );
        assert_eq!(
            parse(br#"{"invokingEvent": {"configurationItem": {}}, "resultToken": "x"}"#),
            Err(EventError::RuleEvaluationEvent)
        );
    }

    #[test]
    fn an_empty_or_blank_body_is_reported_as_empty_not_as_bad_json() {
        assert_eq!(parse(b""), Err(EventError::NoBody));
        assert_eq!(parse(b" \n\t"), Err(EventError::NoBody));
        assert!(EventError::NoBody.to_string().contains("empty"));
    }

    #[test]
    fn a_restore_event_carries_the_backed_up_rules() {
        let body = r#"{"action": "restore", "regionId": "cn-hangzhou", "resourceId": "sg-1", "rules": [{"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "accept", "Priority": "1", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"}]}"#;
        match parse(body.as_bytes()).unwrap() {
            Invocation::Restore(r) => {
                assert_eq!(r.resource_id, "sg-1");
                assert_eq!(r.rules.len(), 1);
                assert_eq!(r.rules[0].port_range.to_string(), "22/22");
            }
            other => panic!("expected a restore, got {other:?}"),
        }
    }

    #[test]
    fn an_event_with_more_items_than_the_limit_is_refused_as_a_whole() {
        assert_eq!(
            parse_with_limit(b"[1,2,3]", 2),
            Err(EventError::TooManyItems(2))
        );
        assert!(parse_with_limit(b"[1,2]", 2).is_ok());
        assert_eq!(
            parse_with_limit(br#"{"resources": [1,2,3]}"#, 2),
            Err(EventError::TooManyItems(2))
        );
    }

    #[test]
    fn keys_no_event_has_are_skipped_and_nested_values_keep_only_their_kind() {
        let e = remediate(
            r#"{"junk": [[1,2],[3]], "resources": [{"regionId": ["a"], "resourceId": "sg-1", "resourceType": "ACS::ECS::SecurityGroup", "extra": {"deep": [1]}}]}"#,
        );
        assert!(
            matches!(&e.items[0], Item::Invalid(i) if i.reason.contains("regionId must be a string, got an array"))
        );
    }

    #[test]
    fn long_values_are_quoted_back_cut_short() {
        let long = "x".repeat(5000);
        let body = format!(
            r#"[{{"regionId": "{long}", "resourceId": "{long}", "resourceType": "{long}"}}]"#
        );
        let e = remediate(&body);
        let Item::Invalid(i) = &e.items[0] else {
            panic!("expected invalid");
        };
        assert!(i.reason.len() < 200, "{}", i.reason);
        assert!(i.resource_id.as_ref().unwrap().chars().count() <= 41);
        // A resource type longer than any real one is invalid, not echoed whole.
        let e = remediate(&format!(
            r#"[{{"regionId": "cn-hangzhou", "resourceId": "sg-1", "resourceType": "{long}"}}]"#
        ));
        assert!(matches!(&e.items[0], Item::Invalid(i) if i.reason.len() < 200));
    }

    #[test]
    fn a_restore_event_carries_each_rules_seal_and_its_dry_run() {
        let body = r#"{"action": "restore", "dryRun": true, "regionId": "cn-hangzhou", "resourceId": "sg-1", "rules": [{"Direction": "ingress", "PortRange": "22/22", "Seal": "v1.1.x"}, {"Direction": "ingress", "PortRange": "3389/3389"}]}"#;
        match parse(body.as_bytes()).unwrap() {
            Invocation::Restore(r) => {
                assert_eq!(r.seals, vec![Some("v1.1.x".to_string()), None]);
                assert_eq!(r.dry_run, Some(true));
            }
            other => panic!("expected a restore, got {other:?}"),
        }
    }

    #[test]
    fn a_restore_event_without_rules_is_refused() {
        assert!(matches!(
            parse(br#"{"action": "restore", "regionId": "cn-hangzhou", "resourceId": "sg-1"}"#),
            Err(EventError::Shape(m)) if m.contains("rules is missing")
        ));
    }

    #[test]
    fn a_huge_value_is_kept_cut_short_and_still_refused() {
        let huge = "a".repeat(16 << 20);
        let body = format!(
            r#"{{"resources":[{{"resourceId":"{huge}","regionId":"cn-hangzhou","resourceType":"{}"}}]}}"#,
            SECURITY_GROUP
        );
        let e = remediate(&body);
        let Item::Invalid(i) = &e.items[0] else {
            panic!("{:?}", e.items[0]);
        };
        assert!(i.reason.contains("resourceId"), "{}", i.reason);
        assert!(i.reason.len() < 200, "{}", i.reason.len());
        assert!(i.resource_id.as_deref().is_some_and(|id| id.len() < 100));
    }

    #[test]
    fn a_long_string_is_cut_to_the_kept_length_and_marked() {
        let kept = bounded::kept_string(&"é".repeat(bounded::MAX_KEPT_STRING));
        assert!(kept.len() <= bounded::MAX_KEPT_STRING + "…".len());
        assert!(kept.ends_with('…'));
        assert_eq!(bounded::kept_string("short"), "short");
    }
}

//! Rule lists as the answers carry them: the `Permissions` of a DescribeSecurityGroupAttribute
//! page and of the configuration Config recorded, read by serde's derived `Deserialize` into
//! [`Record`](crate::rules::Record)s and typed at the edge.
//!
//! The two sources differ, so each says what a shape means: ECS answers are strict (the
//! `{"Permission": [...]}` of the SDK model, no `Permissions` is an error), Config snapshots
//! are tolerant (their shape is undocumented: a bare list, the wrapped list, a lone rule object
//! for a list of one, no or blank `Permissions` for no rules). A rule that cannot be read is
//! never dropped: it fails the list, named.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::rules::{BadRule, Entry, Permission};
use acs_openapi::json::{kind, Object};

/// The rules of a list; or the first entry that cannot be read (its position in the list, from
/// 0, and why).
pub fn typed(entries: Vec<Entry>) -> Result<Vec<Permission>, (usize, BadRule)> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, Entry(rule))| rule.map_err(|bad| (i, bad)))
        .collect()
}

/// Why the rules Config recorded cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// The configuration, or its `Permissions`, has an unusable shape.
    #[error("the security group configuration cannot be read: {0}")]
    Configuration(String),
    /// One rule cannot be read. The whole list fails rather than losing the rule silently.
    #[error("rule #{index}{} cannot be read: {reason}", id.as_ref().map(|i| format!(" ({i})")).unwrap_or_default())]
    Rule {
        /// The rule's position in the list, from 0.
        index: usize,
        /// Its `SecurityGroupRuleId`, if that much could be read.
        id: Option<String>,
        /// What could not be read.
        reason: String,
    },
}

/// What Config recorded of a security group (its `Configuration`): the two members the
/// function uses, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Its rules, or why they cannot be read.
    pub rules: Result<Vec<Permission>, Unreadable>,
    /// `ServiceManaged`: `None` when absent or `null`; `Some(Err(kind))` when it is neither a
    /// boolean nor the text `true`/`false`.
    pub service_managed: Option<Result<bool, &'static str>>,
}

/// A configuration as Config writes it. Keys are PascalCase; the camelCase of Config's older
/// API is read too.
#[derive(Debug, Deserialize)]
struct Configuration {
    #[serde(rename = "Permissions", alias = "permissions", default)]
    permissions: Option<Listed>,
    #[serde(rename = "ServiceManaged", alias = "serviceManaged", default)]
    service_managed: Option<Value>,
}

/// The shapes of a configuration's `Permissions` (`null` is `None` around it).
#[derive(Debug)]
enum Listed {
    /// `[...]`, the bare list of Config's custom-rule samples.
    List(Vec<Entry>),
    /// `{"Permission": [...]}`, the DescribeSecurityGroupAttribute shape.
    Wrapped(Object<Wrapped>),
    /// A string: blank is how Config records "no rules".
    Text(String),
}

/// The object around the list.
#[derive(Debug, Deserialize)]
struct Wrapped {
    #[serde(rename = "Permission", alias = "permission", default)]
    permission: Option<OneOrMany>,
}

/// The list, or one rule object where a list was expected (how XML-to-JSON converters write a
/// list of one).
#[derive(Debug)]
enum OneOrMany {
    Many(Vec<Entry>),
    One(Box<Entry>),
}

// `Listed` and `OneOrMany` are read by the JSON type met, as `#[serde(untagged)]` would read
// them, without its copy of the whole value (every rule of the list) into serde's private buffer
// before the variants are tried on it.

impl<'de> Deserialize<'de> for Listed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ByType;
        impl<'de> Visitor<'de> for ByType {
            type Value = Listed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rules, an object holding `Permission`, or a string")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Listed, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Listed::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Listed, A::Error> {
                Wrapped::deserialize(MapAccessDeserializer::new(map))
                    .map(|w| Listed::Wrapped(Object(w)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Listed, E> {
                Ok(Listed::Text(s.to_owned()))
            }
        }
        d.deserialize_any(ByType)
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ByType;
        impl<'de> Visitor<'de> for ByType {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rules or one rule object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneOrMany, A::Error> {
                Entry::deserialize(MapAccessDeserializer::new(map))
                    .map(|one| OneOrMany::One(Box::new(one)))
            }
        }
        d.deserialize_any(ByType)
    }
}

impl Recorded {
    /// A configuration that is not a JSON object (`null` when Config sent none): no rules can
    /// be read from it, and it says nothing of `ServiceManaged`.
    pub fn not_an_object(kind: &str) -> Recorded {
        Recorded {
            rules: Err(Unreadable::Configuration(format!(
                "Configuration must be a JSON object, got {kind}"
            ))),
            service_managed: None,
        }
    }

    /// Reads a configuration from its JSON text (how Config sends it: JSON inside a string).
    pub fn from_text(text: &str) -> Result<Recorded, serde_json::Error> {
        let Object(configuration) = serde_json::from_str::<Object<Configuration>>(text)?;
        Ok(configuration.into())
    }

    /// Reads a configuration from a parsed tree: an object, or a string holding one (encoded
    /// twice); any other value has no rules.
    pub fn from_value(v: &Value) -> Recorded {
        let read = match v {
            Value::Object(_) => Configuration::deserialize(v).map(Recorded::from),
            Value::String(text) => Recorded::from_text(text).map(|inner| Recorded {
                // `ServiceManaged` is only read from the configuration object itself.
                service_managed: None,
                ..inner
            }),
            other => return Recorded::not_an_object(kind(other)),
        };
        read.unwrap_or_else(|e| Recorded {
            rules: Err(Unreadable::Configuration(format!(
                "Configuration cannot be read: {e}"
            ))),
            service_managed: None,
        })
    }
}

impl From<Configuration> for Recorded {
    fn from(c: Configuration) -> Recorded {
        let service_managed = match c.service_managed {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(Ok(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(Ok(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(Ok(false)),
            Some(other) => Some(Err(kind(&other))),
        };
        Recorded {
            rules: config_rules(c.permissions),
            service_managed,
        }
    }
}

/// Config's reading of a `Permissions` member: no, `null` or blank `Permissions` (or an empty
/// wrapper) is no rules; a rule that cannot be read (e.g. `Priority: "abc"`) is an
/// [`Unreadable::Rule`] naming it.
fn config_rules(listed: Option<Listed>) -> Result<Vec<Permission>, Unreadable> {
    let records = match listed {
        None => return Ok(Vec::new()),
        Some(Listed::Text(t)) if t.trim().is_empty() => return Ok(Vec::new()),
        Some(Listed::Text(_)) => {
            return Err(Unreadable::Configuration(
                "Permissions must be a list of rules or {\"Permission\": [...]}, got a string"
                    .into(),
            ))
        }
        Some(Listed::List(list)) => list,
        Some(Listed::Wrapped(Object(wrapped))) => match wrapped.permission {
            None => return Ok(Vec::new()),
            Some(OneOrMany::Many(list)) => list,
            Some(OneOrMany::One(one)) => vec![*one],
        },
    };
    typed(records).map_err(|(index, bad)| Unreadable::Rule {
        index,
        id: bad.id,
        reason: bad.reason,
    })
}

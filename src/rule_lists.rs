//! Rule lists as the answers carry them: the `Permissions` of a DescribeSecurityGroupAttribute
//! page and of the configuration Config recorded, read straight off the wire into typed rules
//! (no `serde_json::Value` tree).
//!
//! One reader ([`Listed`]) records the shape it met; each caller then says what a shape means,
//! because the two sources differ: ECS answers are strict (no `Permissions` is an error),
//! Config snapshots are tolerant (no `Permissions` is a group without rules, a lone rule object
//! is a list of one). A rule that cannot be read is never dropped: it fails the list, named.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::rules::{BadRule, Entry, EntryVisitor, Permission};
use acs_openapi::json::{lookup, Key, Scalar, Seen};

/// How a `Permissions` value lists its rules, read off the wire before a caller decides what
/// each shape means (ECS answers are strict, Config snapshots tolerant).
#[derive(Debug, Clone, PartialEq)]
pub enum Listed {
    /// `null`.
    Null,
    /// A string of blanks (how Config records "no rules").
    Blank,
    /// `[...]`, the bare list.
    List(Rules),
    /// An object, the `{"Permission": [...]}` wrapper of the XML-shaped answers.
    Wrapped {
        /// Its `Permission` member (exact spelling first, then any case), if any.
        permission: Option<Inner>,
        /// How many keys the object has: `{}` is how an empty list is sometimes serialised.
        keys: usize,
    },
    /// Any other value: its kind, for the error.
    Other(&'static str),
}

/// The `Permission` member of a [`Listed::Wrapped`].
#[derive(Debug, Clone, PartialEq)]
pub enum Inner {
    /// `null`.
    Null,
    /// A list of rules.
    List(Rules),
    /// One rule object where a list was expected (how XML-to-JSON converters write a list of one).
    One(Box<Entry>),
    /// Any other value: its kind.
    Other(&'static str),
}

/// The entries of a rule list as read: the rules, up to the first entry that is not a rule.
/// Both callers fail the list on its first bad entry, so the rules after it are read (the
/// whole answer is still checked) but not kept, and no list of entries is kept to be sorted
/// out afterwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// The rules before the first entry that cannot be read (every rule when there is none).
    pub read: Vec<Permission>,
    /// The first entry that cannot be read: its position in the list, from 0, and why.
    pub bad: Option<(usize, BadRule)>,
}

impl Rules {
    /// The rules, or the first entry that cannot be read (its position and why).
    pub fn into_result(self) -> Result<Vec<Permission>, (usize, BadRule)> {
        match self.bad {
            None => Ok(self.read),
            Some(bad) => Err(bad),
        }
    }
}

/// Reads the entries of a JSON list.
fn entries<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Rules, A::Error> {
    let mut rules = Rules {
        read: Vec::with_capacity(seq.size_hint().unwrap_or(8).min(1024)),
        bad: None,
    };
    let mut index = 0;
    while let Some(Entry(entry)) = seq.next_element::<Entry>()? {
        match entry {
            Ok(rule) if rules.bad.is_none() => rules.read.push(rule),
            Ok(_) => {}
            Err(bad) => {
                rules.bad.get_or_insert((index, bad));
            }
        }
        index += 1;
    }
    Ok(rules)
}

impl<'de> Deserialize<'de> for Listed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Listed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rules")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Listed, A::Error> {
                entries(seq).map(Listed::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listed, A::Error> {
                let mut seen = Seen::<1>::default();
                let mut permission = None;
                let mut keys = 0;
                while let Some(Key(key)) = map.next_key()? {
                    keys += 1;
                    match lookup(&key, &["Permission"]) {
                        Some((0, exact)) if seen.take(0, exact, &key) => {
                            permission = Some(map.next_value::<Inner>()?);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Listed::Wrapped { permission, keys })
            }
            fn visit_str<E>(self, v: &str) -> Result<Listed, E> {
                Ok(if v.trim().is_empty() {
                    Listed::Blank
                } else {
                    Listed::Other("a string")
                })
            }
            acs_openapi::visit_other_scalars!(Listed::Other);
            fn visit_unit<E>(self) -> Result<Listed, E> {
                Ok(Listed::Null)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Inner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Inner;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of rules")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Inner, A::Error> {
                entries(seq).map(Inner::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Inner, A::Error> {
                EntryVisitor
                    .visit_map(map)
                    .map(|entry| Inner::One(Box::new(entry)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Inner, E> {
                Ok(Inner::Other("a string"))
            }
            acs_openapi::visit_other_scalars!(Inner::Other);
            fn visit_unit<E>(self) -> Result<Inner, E> {
                Ok(Inner::Null)
            }
        }
        d.deserialize_any(V)
    }
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

/// What Config recorded of a security group (its `Configuration`), read straight off the wire:
/// the two members the function uses, the rest skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Its rules, or why they cannot be read.
    pub rules: Result<Vec<Permission>, Unreadable>,
    /// `ServiceManaged`: `None` when absent or `null`; `Some(Err(kind))` when it is neither a
    /// boolean nor the text `true`/`false`.
    pub service_managed: Option<Result<bool, &'static str>>,
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

    /// A configuration that is a JSON string holding the configuration (encoded twice).
    fn from_text(text: &str) -> Recorded {
        match serde_json::from_str::<Recorded>(text) {
            Ok(inner) => Recorded {
                rules: inner.rules,
                // As before: `ServiceManaged` is only read from the configuration object itself.
                service_managed: None,
            },
            Err(e) => Recorded {
                rules: Err(Unreadable::Configuration(format!(
                    "Configuration is not JSON: {e}"
                ))),
                service_managed: None,
            },
        }
    }
}

/// Config's reading of a `Permissions` member (absent: `None`).
///
/// Accepts both shapes Config uses, `{"Permission": [...]}` (the DescribeSecurityGroupAttribute
/// shape) and a bare list, and no, `null` or blank `Permissions` (no rules). A rule that
/// cannot be read (e.g. `Priority: "abc"`) is an [`Unreadable::Rule`] naming it.
pub fn config_rules(listed: Option<Listed>) -> Result<Vec<Permission>, Unreadable> {
    let rules = match listed {
        None | Some(Listed::Null | Listed::Blank) => return Ok(Vec::new()),
        Some(Listed::List(list)) => list.into_result(),
        Some(Listed::Wrapped { permission, .. }) => match permission {
            None | Some(Inner::Null) => return Ok(Vec::new()),
            Some(Inner::List(list)) => list.into_result(),
            // XML-to-JSON converters render a one-element list as the element itself.
            Some(Inner::One(entry)) => {
                let Entry(entry) = *entry;
                entry.map(|rule| vec![rule]).map_err(|bad| (0, bad))
            }
            Some(Inner::Other(kind)) => {
                return Err(Unreadable::Configuration(format!(
                    "Permissions.Permission must be a list of rules, got {kind}"
                )))
            }
        },
        Some(Listed::Other(kind)) => {
            return Err(Unreadable::Configuration(format!(
                "Permissions must be a list of rules or {{\"Permission\": [...]}}, got {kind}"
            )))
        }
    };
    rules.map_err(|(index, bad)| Unreadable::Rule {
        index,
        id: bad.id,
        reason: bad.reason,
    })
}

/// The members of a configuration the function reads, in the order [`Recorded`]'s reader
/// keeps them.
const RECORDED_MEMBERS: [&str; 2] = ["Permissions", "ServiceManaged"];

impl<'de> Deserialize<'de> for Recorded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Recorded;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a security group configuration")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Recorded, A::Error> {
                let mut seen = Seen::<2>::default();
                let mut permissions: Option<Listed> = None;
                let mut service_managed: Option<Scalar<'de>> = None;
                while let Some(Key(key)) = map.next_key()? {
                    match lookup(&key, &RECORDED_MEMBERS) {
                        Some((0, exact)) if seen.take(0, exact, &key) => {
                            permissions = Some(map.next_value()?);
                        }
                        Some((1, exact)) if seen.take(1, exact, &key) => {
                            service_managed = Some(map.next_value()?);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let service_managed = match service_managed {
                    None | Some(Scalar::Null) => None,
                    Some(Scalar::Bool(b)) => Some(Ok(b)),
                    Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("true") => Some(Ok(true)),
                    Some(Scalar::Str(s)) if s.eq_ignore_ascii_case("false") => Some(Ok(false)),
                    Some(other) => Some(Err(other.kind())),
                };
                Ok(Recorded {
                    rules: config_rules(permissions),
                    service_managed,
                })
            }
            fn visit_str<E>(self, v: &str) -> Result<Recorded, E> {
                Ok(Recorded::from_text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Recorded, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Recorded::not_an_object("an array"))
            }
            acs_openapi::visit_other_scalars!(Recorded::not_an_object);
            fn visit_unit<E>(self) -> Result<Recorded, E> {
                Ok(Recorded::not_an_object("null"))
            }
        }
        d.deserialize_any(V)
    }
}

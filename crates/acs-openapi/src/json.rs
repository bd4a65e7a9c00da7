//! Reading fields of an answer's JSON: OpenAPI answers are PascalCase, but some services (and
//! some error bodies) spell keys in other cases, and ids arrive as strings or numbers.
//!
//! Two ways to read, with the same rules: [`field`] and [`text_field`] on a parsed
//! [`Value`], and, for answers read straight off the wire without building a tree (a
//! tree costs an allocation per key and per string), [`Key`], [`lookup`], [`Seen`] and
//! [`Scalar`] inside a serde visitor.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Looks a key up in a JSON object: the exact PascalCase name first, then any case; of several
/// keys in other cases, the least in byte order, whatever order the object keeps its keys in.
pub fn field<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .min_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, v)| v)
    })
}

/// A string or number field as text; empty strings and nulls count as absent.
pub fn text_field(obj: &Value, name: &str) -> Option<String> {
    match field(obj, name)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What kind of JSON value `v` is, for error messages ("got a number").
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `visit_bool` and number methods of a serde [`Visitor`], each answering `Ok($make(kind))`
/// with the value's kind named as [`kind`] names it: for readers to which any such value is
/// simply "not what was expected" (strings and `null` usually mean something, so they stay
/// hand-written).
#[macro_export]
macro_rules! visit_other_scalars {
    ($make:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(($make)("a boolean"))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(($make)("a number"))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(($make)("a number"))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(($make)("a number"))
        }
    };
}

/// An object key read off the wire, borrowed from the input when it has no escapes.
#[derive(Debug)]
pub struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Which of `names` the key `key` stands for, and whether it is spelled exactly: the
/// streaming counterpart of [`field`]'s "the exact name, then any case".
pub fn lookup(key: &str, names: &[&str]) -> Option<(usize, bool)> {
    if let Some(i) = names.iter().position(|n| *n == key) {
        return Some((i, true));
    }
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(key))
        .map(|i| (i, false))
}

/// Which of `N` names have been read, and how they were spelled, so that a streaming reader
/// picks the same value as [`field`] on a parsed [`Value`]: the exactly spelled key if there is
/// one, else, among the keys spelled in another case, the one a `Value` object would list
/// first (keys in byte order); of repeated keys, the last (as a `Value` object keeps it).
#[derive(Debug, Clone)]
pub struct Seen<const N: usize>([Spelling; N]);

/// How the value read so far for one name was spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spelling {
    /// Nothing read yet.
    Unread,
    /// The exact name.
    Exact,
    /// Another case: the key as spelled (kept only on this rare path).
    Folded(String),
}

impl<const N: usize> Default for Seen<N> {
    fn default() -> Self {
        Seen(std::array::from_fn(|_| Spelling::Unread))
    }
}

impl<const N: usize> Seen<N> {
    /// Whether the value of name `i` under `key` (spelled exactly or not, as [`lookup`] said)
    /// is to be read, replacing what was read before; otherwise it is skipped.
    pub fn take(&mut self, i: usize, exact: bool, key: &str) -> bool {
        let take = match &self.0[i] {
            _ if exact => true,
            Spelling::Unread => true,
            Spelling::Exact => false,
            Spelling::Folded(before) => key <= before.as_str(),
        };
        if take {
            self.0[i] = if exact {
                Spelling::Exact
            } else {
                Spelling::Folded(key.to_string())
            };
        }
        take
    }
}

/// One value of an answer read off the wire: strings borrowed when they have no escapes,
/// lists and objects kept as a boxed [`Value`] (only fields that should be scalars are read this
/// way, so a compound value is rare and small, and kept to be named in an error; boxed, so that
/// the common scalar stays small to move and to hold in a reader's field table).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'de> {
    /// A JSON string.
    Str(Cow<'de, str>),
    /// A JSON number.
    Number(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A list or an object.
    Compound(Box<Value>),
}

impl Scalar<'_> {
    /// The value as text: strings as they are, numbers and booleans as JSON prints them; `None`
    /// for `null`, lists and objects.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Scalar::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            Scalar::Number(n) => Some(Cow::Owned(n.to_string())),
            Scalar::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Scalar::Null | Scalar::Compound(_) => None,
        }
    }

    /// [`text_field`]'s reading: the text, with an empty string counting as absent.
    pub fn text(&self) -> Option<String> {
        self.as_text()
            .filter(|t| !t.is_empty())
            .map(Cow::into_owned)
    }

    /// What kind of JSON value it is, for error messages (as [`kind`] says it).
    pub fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Number(_) => "a number",
            Scalar::Bool(_) => "a boolean",
            Scalar::Null => "null",
            Scalar::Compound(v) => kind(v),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
                // As `Value` reads it: a number JSON cannot hold is null.
                Ok(serde_json::Number::from_f64(v).map_or(Scalar::Null, Scalar::Number))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(|v| Scalar::Compound(Box::new(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|v| Scalar::Compound(Box::new(v)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_exact_name_wins_over_another_case() {
        let v = json!({"requestid": "lower", "RequestId": "exact"});
        assert_eq!(field(&v, "RequestId"), Some(&json!("exact")));
        assert_eq!(
            field(&json!({"requestId": "r"}), "RequestId"),
            Some(&json!("r"))
        );
        assert_eq!(field(&json!([1]), "RequestId"), None);
    }

    #[test]
    fn text_fields_take_strings_numbers_and_booleans_but_not_empty_or_null() {
        let v = json!({"S": "x", "N": 12, "B": true, "E": "", "Z": null, "O": {}});
        assert_eq!(text_field(&v, "S").as_deref(), Some("x"));
        assert_eq!(text_field(&v, "N").as_deref(), Some("12"));
        assert_eq!(text_field(&v, "B").as_deref(), Some("true"));
        for absent in ["E", "Z", "O", "Missing"] {
            assert_eq!(text_field(&v, absent), None, "{absent}");
        }
    }

    /// Reads `names` from `json` the streaming way, as a product parser does.
    fn streamed<const N: usize>(json: &str, names: [&str; N]) -> [Option<String>; N] {
        struct Reader<'n, const N: usize>([&'n str; N]);
        impl<'de, const N: usize> Visitor<'de> for Reader<'_, N> {
            type Value = [Option<String>; N];
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = Seen::<N>::default();
                let mut out: [Option<Scalar<'de>>; N] = std::array::from_fn(|_| None);
                while let Some(Key(key)) = map.next_key()? {
                    match lookup(&key, &self.0) {
                        Some((i, exact)) if seen.take(i, exact, &key) => {
                            out[i] = Some(map.next_value()?)
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(out.map(|s| s.and_then(|s| s.text())))
            }
        }
        let mut de = serde_json::Deserializer::from_str(json);
        de.deserialize_map(Reader(names)).unwrap()
    }

    #[test]
    fn the_streaming_reader_picks_the_same_field_as_the_tree_reader() {
        let cases = [
            r#"{"requestid": "lower", "RequestId": "exact"}"#,
            r#"{"RequestId": "exact", "requestid": "lower"}"#,
            r#"{"requestId": "first", "REQUESTID": "second"}"#,
            r#"{"REQUESTID": "first", "requestId": "second"}"#,
            r#"{"requestId": "first", "requestId": "again"}"#,
            r#"{"requestid": "a", "REQUESTID": "b", "RequestID": "c", "requestId": "d"}"#,
            r#"{"RequestId": "one", "RequestId": "two"}"#,
            r#"{"RequestId": null, "requestid": "folded"}"#,
            r#"{"RequestId": 12, "Code": true, "Message": ""}"#,
            r#"{"RequestId": [1], "Code": {"a": 1}, "Other": "x"}"#,
            r#"{"Re\u0071uestId": "escaped key"}"#,
        ];
        for json in cases {
            let tree: Value = serde_json::from_str(json).unwrap();
            let names = ["RequestId", "Code", "Message"];
            let expected = names.map(|n| text_field(&tree, n));
            assert_eq!(streamed(json, names), expected, "{json}");
        }
    }

    #[test]
    fn scalars_name_their_kind_as_values_do() {
        for json in [r#""s""#, "1", "1.5", "true", "null", "[1]", "{}"] {
            let tree: Value = serde_json::from_str(json).unwrap();
            let scalar: Scalar<'_> = serde_json::from_str(json).unwrap();
            assert_eq!(scalar.kind(), kind(&tree), "{json}");
        }
    }

    #[test]
    fn kinds_are_named_for_messages() {
        assert_eq!(kind(&json!(1)), "a number");
        assert_eq!(kind(&json!(null)), "null");
        assert_eq!(kind(&json!({})), "an object");
    }
}

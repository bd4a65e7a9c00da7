//! Small pieces for reading answers with serde's derived `Deserialize`: ids and texts arrive as
//! strings or numbers, and a field that should be a scalar can hold anything.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A `T` that must be a JSON object. serde's derived `Deserialize` of a struct also reads a
/// JSON list, member by member in declaration order, which no answer means: wrapping a struct
/// member in `Object` refuses a list (or any other value) where an object belongs.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Map<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Map<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(Map(PhantomData))
    }
}

/// A `deserialize_with` for a member read as text: a string as it is, a number or a boolean as
/// JSON prints it; an empty string, `null`, a list or an object count as absent (`None`).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Member {
        #[serde(default, deserialize_with = "text")]
        v: Option<String>,
    }

    fn read(v: Value) -> Option<String> {
        serde_json::from_value::<Member>(json!({ "v": v }))
            .unwrap()
            .v
    }

    #[test]
    fn text_takes_strings_numbers_and_booleans() {
        assert_eq!(read(json!("x")).as_deref(), Some("x"));
        assert_eq!(
            read(json!(1234567890123456u64)).as_deref(),
            Some("1234567890123456")
        );
        assert_eq!(read(json!(true)).as_deref(), Some("true"));
    }

    #[test]
    fn text_counts_empty_null_and_compound_values_as_absent() {
        for absent in [json!(""), json!(null), json!([1]), json!({"a": 1})] {
            assert_eq!(read(absent.clone()), None, "{absent}");
        }
        let missing: Member = serde_json::from_str("{}").unwrap();
        assert_eq!(missing.v, None);
    }

    #[test]
    fn an_object_member_refuses_a_list_that_a_derived_struct_would_read() {
        #[derive(Debug, Deserialize)]
        struct Pair {
            #[serde(rename = "A")]
            _a: Option<i64>,
        }
        assert!(
            serde_json::from_str::<Pair>("[1]").is_ok(),
            "serde's own reading"
        );
        assert!(serde_json::from_str::<Object<Pair>>("[1]").is_err());
        assert!(serde_json::from_str::<Object<Pair>>("\"x\"").is_err());
        let read: Object<Pair> = serde_json::from_str(r#"{"A": 1, "B": 2}"#).unwrap();
        assert_eq!(read.0._a, Some(1));
    }

    #[test]
    fn kinds_are_named_for_messages() {
        assert_eq!(kind(&json!(1)), "a number");
        assert_eq!(kind(&json!(null)), "null");
        assert_eq!(kind(&json!({})), "an object");
    }
}

//! Reading fields of an answer's JSON: OpenAPI answers are PascalCase, but some services (and
//! some error bodies) spell keys in other cases, and ids arrive as strings or numbers.

use serde_json::Value;

/// Looks a key up in a JSON object: the exact PascalCase name first, then any case.
pub fn field<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
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

    #[test]
    fn kinds_are_named_for_messages() {
        assert_eq!(kind(&json!(1)), "a number");
        assert_eq!(kind(&json!(null)), "null");
        assert_eq!(kind(&json!({})), "an object");
    }
}

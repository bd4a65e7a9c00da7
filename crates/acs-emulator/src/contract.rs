//! The request contract: every parameter each action accepts, its type, whether it is required
//! and its documented range, transcribed from the official SDK request models into
//! `contract.json` at this crate's root (each API names its model file there). And the response
//! contract: the fields and types of each action's success answer, from the SDK response
//! models, which every answer the emulator gives is checked against ([`check_answer`]).
//!
//! The emulator is the client's test oracle, so it must refuse what the real services refuse, and
//! a little more: a parameter the official model does not have is refused too (the real gateway
//! ignores it, which would hide a misspelt name in the client). The contract is embedded at build
//! time, so the emulator binary stays self-contained and the tests read the very same file.
//!
//! Checks run after authentication and before faults and the action, in this order: unknown
//! parameters, missing required ones, then each value (by parameter name, in byte order). The
//! actions keep their own, deeper checks (cross-field rules, state).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::wire::ApiError;

/// The contract file, as vendored at this crate's root.
pub const CONTRACT_JSON: &str = include_str!("../contract.json");

/// The request contract of every modelled action.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    common_parameters: Common,
    /// One entry per modelled action, in file order.
    pub apis: Vec<Api>,
    /// The answer of every modelled action, as the official SDK's response model declares it.
    pub responses: Vec<Response>,
}

/// One action's answer: the SDK response model's fields and types, and the API reference's
/// example answer where one was found.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Response {
    /// The `Action`, as in [`Api::action`].
    pub action: String,
    /// The official response body model this was transcribed from
    /// (`aliyun/alibabacloud-go-sdk`, at the commit the contract names).
    pub model: String,
    /// The success body: every field the model declares, with its type.
    pub body: BTreeMap<String, Shape>,
    /// The API reference's example answer: a fixture under `tests/fixtures/official/` and the
    /// address it was read at, or why there is none.
    pub example: Example,
}

/// Where the API reference's example answer of an action is, if it was found.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Example {
    /// The fixture holding it, relative to the repository root; `None` when none was found.
    pub fixture: Option<String>,
    /// The address the example was read at, or the addresses searched when none was found.
    pub source: String,
    /// How it was found or why not (an excerpt that ends early, a republished copy).
    pub note: Option<String>,
}

/// A field's type in a response model: a scalar, an object of fields, or a list of one shape
/// (written `[shape]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Shape {
    /// `*string`, `*int32`, `*int64`, `*bool`, `*float64`.
    Scalar(Scalar),
    /// A `[]*T` of the model, written as a one-element list.
    List(Vec<Shape>),
    /// A struct of the model.
    Object(BTreeMap<String, Shape>),
}

/// A scalar field type of a response model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalar {
    /// `*string`: a JSON string, never a number (ids, priorities and times stay text).
    String,
    /// `*int32`: a JSON integer in the signed 32-bit range.
    Int32,
    /// `*int64`: a JSON integer in the signed 64-bit range.
    Int64,
    /// `*bool`: `true` or `false`.
    Bool,
    /// `*float32` / `*float64`: any JSON number.
    Float,
    /// `map[string]interface{}`: any JSON value (ActionTrail's untyped events).
    Any,
}

#[derive(Debug, Deserialize)]
struct Common {
    names: Vec<String>,
}

/// One action's request model.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Api {
    /// The `Action` parameter, e.g. `RevokeSecurityGroup`.
    pub action: String,
    /// The listener that serves it: `config`, `ecs` or `sts` (as [`Service::name`] spells it).
    ///
    /// [`Service::name`]: crate::Service::name
    pub service: String,
    /// The `Version` parameter the gateway pairs with the action, e.g. `2014-05-26`.
    pub version: String,
    /// The official model file this was transcribed from, so every fact can be checked against
    /// `aliyun/alibabacloud-go-sdk` at the commit `contract.json` names.
    pub model: String,
    /// Every business parameter the model declares; common parameters are listed once for all.
    pub parameters: Vec<Param>,
}

/// A parameter's type, as the Go model declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Kind {
    /// `*string`: any text, unless a range, values, length, characters or prefix narrow it.
    #[serde(rename = "string")]
    String,
    /// `*int32`: a decimal integer in the signed 32-bit range.
    #[serde(rename = "int32")]
    Int32,
    /// `*int64`: a decimal integer in the signed 64-bit range (account ids, `ResourceOwnerId`).
    #[serde(rename = "int64")]
    Int64,
    /// `*bool`: exactly `true` or `false`.
    #[serde(rename = "bool")]
    Bool,
    /// A repeated scalar, sent as `Name.1`, `Name.2`, ….
    #[serde(rename = "[]string")]
    List,
    /// A repeated struct, sent as `Name.N.Field`.
    #[serde(rename = "[]object")]
    Objects,
}

/// Error codes for a bad value; absent ones default to `InvalidParameter.<Name>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    /// Out of range, not among the values, too long, bad characters.
    pub invalid: Option<String>,
    /// Not of the parameter's type (defaults to `invalid`).
    pub malformed: Option<String>,
}

/// One parameter (or one field of a repeated struct).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Param {
    /// The wire name: `RegionId`, or for a repeated parameter the head of `Name.N[.Field]`.
    pub name: String,
    /// The Go field type, which decides how the value must parse and how it is flattened.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The model's doc comment says "This parameter is required."; absent or empty gets
    /// `MissingParameter`.
    #[serde(default)]
    pub required: bool,
    /// Still in the model but deprecated: accepted here, and left to the action to refuse or
    /// ignore (the flat permission parameters of Revoke and Authorize).
    #[serde(default)]
    pub deprecated: bool,
    /// The documented "Valid values", when the model lists them.
    #[serde(rename = "enum")]
    pub values: Option<Vec<String>>,
    /// Whether `values` match regardless of ASCII case (`Permissions.N.IpProtocol` and
    /// `Permissions.N.Policy` of Revoke and Authorize).
    #[serde(default)]
    pub case_insensitive: bool,
    /// Documented minimum of a numeric value (also of a string-typed number such as `Priority`).
    pub min: Option<i64>,
    /// Documented maximum of a numeric value.
    pub max: Option<i64>,
    /// Documented minimum length, in characters.
    pub min_length: Option<usize>,
    /// Documented maximum length, in characters.
    pub max_length: Option<usize>,
    /// Allowed characters besides ASCII letters and digits.
    pub chars: Option<String>,
    /// Only ASCII characters are allowed (`ClientToken`).
    #[serde(default)]
    pub ascii: bool,
    /// A prefix every valid value starts with (`sg-`): an inference from the models' examples,
    /// not a documented rule (`contract.json`'s `types.prefix` says so).
    pub prefix: Option<String>,
    /// The largest `N` of a repeated parameter ("up to 100", "1 to 20").
    pub max_items: Option<usize>,
    /// The fields of a repeated struct ([`Kind::Objects`]), checked as `Name.N.Field`.
    #[serde(default)]
    pub fields: Vec<Param>,
    /// The codes a bad value answers with: the API reference's error tables where they give
    /// one (they are not in the SDK models), else the emulator's choice, as README.md lists.
    #[serde(default)]
    pub errors: Errors,
    /// What the model's doc comment adds (defaults, meaning); for readers, never checked.
    pub note: Option<String>,
}

impl Contract {
    /// The embedded contract. It is checked by a unit test, so parsing cannot fail at run time.
    pub fn get() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            serde_json::from_str(CONTRACT_JSON).expect("the embedded request contract is valid")
        })
    }

    /// The model of `action`; `None` for an action the contract does not model (its
    /// parameters are then not checked here).
    pub fn api(&self, action: &str) -> Option<&Api> {
        self.apis.iter().find(|a| a.action == action)
    }

    /// The response model of `action`, if the contract has one.
    pub fn response(&self, action: &str) -> Option<&Response> {
        self.responses.iter().find(|r| r.action == action)
    }

    /// Whether `name` is a common parameter (signing, version, format): accepted on every
    /// call, as the RPC signing reference lists them, and checked by authentication instead.
    pub fn is_common(&self, name: &str) -> bool {
        self.common_parameters.names.iter().any(|n| n == name)
    }
}

impl Api {
    /// The parameter whose wire name is exactly `name` (not a flattened `Name.N…` form).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

/// What a flattened wire name refers to.
enum Target<'a> {
    Scalar(&'a Param),
    Item {
        list: &'a Param,
        index: &'a str,
    },
    Field {
        list: &'a Param,
        index: &'a str,
        field: &'a Param,
    },
}

/// Checks `params` (common parameters included) against the contract of `action`. Actions the
/// contract does not model are not checked here (the listeners serve none).
pub(crate) fn check(action: &str, params: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let contract = Contract::get();
    let Some(api) = contract.api(action) else {
        return Ok(());
    };
    let mut targets = Vec::with_capacity(params.len());
    for (name, value) in params {
        if !contract.is_common(name) {
            targets.push((name.as_str(), value.as_str(), resolve(api, name)?));
        }
    }
    for p in api.parameters.iter().filter(|p| p.required) {
        if params.get(&p.name).is_none_or(|v| v.is_empty()) {
            return Err(ApiError::missing(&p.name));
        }
    }
    for (name, value, target) in targets {
        match target {
            Target::Scalar(p) => check_value(p, &p.name, name, value)?,
            Target::Item { list, index } => {
                check_index(list, name, index)?;
                check_item(list, name, value)?;
            }
            Target::Field { list, index, field } => {
                check_index(list, name, index)?;
                check_value(field, &list.name, name, value)?;
            }
        }
    }
    Ok(())
}

/// The code the emulator answers (HTTP 500) instead of a success body that breaks its response
/// model: a bug of the emulator, made loud so that no test passes on an answer the real service
/// would not give.
pub const ANSWER_OUTSIDE_MODEL: &str = "Emulator.AnswerOutsideModel";

/// Checks a success answer of `action` against its response model: every field must be one the
/// model declares, with the model's type (a string stays a JSON string, a number is a JSON
/// integer of the model's width). `Err` names the first field that is not, by its path. Actions
/// without a response model are not checked.
pub fn check_answer(action: &str, body: &serde_json::Value) -> Result<(), String> {
    let Some(response) = Contract::get().response(action) else {
        return Ok(());
    };
    let serde_json::Value::Object(fields) = body else {
        return Err(format!("{action}: the answer is not a JSON object"));
    };
    check_fields(&response.body, fields, "").map_err(|why| {
        format!(
            "{action} answer outside its official model ({}): {why}",
            response.model
        )
    })
}

fn check_fields(
    model: &BTreeMap<String, Shape>,
    fields: &serde_json::Map<String, serde_json::Value>,
    at: &str,
) -> Result<(), String> {
    for (name, value) in fields {
        let path = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        let shape = model
            .get(name)
            .ok_or_else(|| format!("{path} is not a field of the model"))?;
        check_shape(shape, value, &path)?;
    }
    Ok(())
}

fn check_shape(shape: &Shape, value: &serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value;
    let fits = match (shape, value) {
        (Shape::Scalar(Scalar::String), Value::String(_)) => true,
        (Shape::Scalar(Scalar::Bool), Value::Bool(_)) => true,
        (Shape::Scalar(Scalar::Float), Value::Number(_)) => true,
        (Shape::Scalar(Scalar::Any), _) => true,
        (Shape::Scalar(Scalar::Int64), Value::Number(n)) => n.is_i64(),
        (Shape::Scalar(Scalar::Int32), Value::Number(n)) => {
            n.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
        }
        (Shape::Object(fields), Value::Object(given)) => {
            return check_fields(fields, given, path);
        }
        (Shape::List(item), Value::Array(items)) => {
            let [item] = item.as_slice() else {
                return Err(format!("{path}: the model's list has no single item shape"));
            };
            for (i, v) in items.iter().enumerate() {
                check_shape(item, v, &format!("{path}[{i}]"))?;
            }
            return Ok(());
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "{path} is {value}, the model says {}",
            describe(shape)
        ))
    }
}

fn describe(shape: &Shape) -> &'static str {
    match shape {
        Shape::Scalar(Scalar::String) => "a string",
        Shape::Scalar(Scalar::Int32) => "an int32",
        Shape::Scalar(Scalar::Int64) => "an int64",
        Shape::Scalar(Scalar::Bool) => "a bool",
        Shape::Scalar(Scalar::Float) => "a number",
        Shape::Scalar(Scalar::Any) => "any value",
        Shape::List(_) => "a list",
        Shape::Object(_) => "an object",
    }
}

fn resolve<'a>(api: &'a Api, name: &'a str) -> Result<Target<'a>, ApiError> {
    let unknown = || {
        ApiError::new(
            400,
            "InvalidParameter",
            format!(
                "The parameter \"{name}\" is not a parameter of {} (official model {}).",
                api.action, api.model
            ),
        )
    };
    if let Some(p) = api.param(name) {
        return match p.kind {
            Kind::List | Kind::Objects => Err(ApiError::invalid(
                &p.name,
                format!(
                    "{name} is a repeated parameter and must be flattened as {name}.N{}",
                    if p.kind == Kind::Objects {
                        ".Field"
                    } else {
                        ""
                    }
                ),
            )),
            _ => Ok(Target::Scalar(p)),
        };
    }
    let (head, rest) = name.split_once('.').ok_or_else(unknown)?;
    let list = api.param(head).ok_or_else(unknown)?;
    match list.kind {
        Kind::List => Ok(Target::Item { list, index: rest }),
        Kind::Objects => {
            let (index, field) = rest.split_once('.').ok_or_else(|| {
                ApiError::invalid(
                    &list.name,
                    format!("{name} names no field: use {head}.N.<Field>"),
                )
            })?;
            let field = list
                .fields
                .iter()
                .find(|f| f.name == field)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &list.name,
                        format!(
                            "{name}: {field} is not a field of {head} (official model {})",
                            api.model
                        ),
                    )
                })?;
            Ok(Target::Field { list, index, field })
        }
        _ => Err(unknown()),
    }
}

/// `N` of `Name.N…`: a decimal integer from 1, without leading zeros, at most `maxItems`.
fn check_index(list: &Param, name: &str, index: &str) -> Result<(), ApiError> {
    let n = index
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1 && !index.starts_with('0') && index.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::invalid(
                &list.name,
                format!("{name}: {index:?} is not a 1-based index"),
            )
        })?;
    match list.max_items {
        Some(max) if n > max => Err(error(
            list,
            false,
            &list.name,
            format!(
                "At most {max} {}.N may be given in one request ({name}).",
                list.name
            ),
        )),
        _ => Ok(()),
    }
}

/// An item of a repeated scalar: any non-empty text (the models document no item format).
fn check_item(list: &Param, name: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid(&list.name, format!("{name} is empty")));
    }
    Ok(())
}

fn error(p: &Param, malformed: bool, base: &str, message: String) -> ApiError {
    let code = if malformed {
        p.errors.malformed.as_ref().or(p.errors.invalid.as_ref())
    } else {
        p.errors.invalid.as_ref()
    };
    match code {
        Some(code) => ApiError::new(400, code, message),
        None => ApiError::new(400, &format!("InvalidParameter.{base}"), message),
    }
}

/// Checks one value against its parameter's type and documented range. An empty value counts
/// as absent (the SDKs do not send unset fields; a required one was checked before).
fn check_value(p: &Param, base: &str, name: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Ok(());
    }
    let bad = |malformed: bool, why: String| {
        Err(error(
            p,
            malformed,
            base,
            format!("The specified parameter \"{name}\" is not valid: {why}."),
        ))
    };
    let number = match p.kind {
        Kind::Int32 | Kind::Int64 => {
            let bits = if p.kind == Kind::Int32 { 32 } else { 64 };
            let parsed = value
                .parse::<i64>()
                .ok()
                .filter(|n| bits == 64 || i32::try_from(*n).is_ok());
            match parsed {
                Some(n) => Some(n),
                None => return bad(true, format!("{value:?} is not an int{bits}")),
            }
        }
        Kind::Bool => {
            if value != "true" && value != "false" {
                return bad(true, format!("{value:?} is not true or false"));
            }
            None
        }
        Kind::String if p.min.is_some() || p.max.is_some() => match value.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return bad(true, format!("{value:?} is not an integer")),
        },
        _ => None,
    };
    if let Some(n) = number {
        if p.min.is_some_and(|min| n < min) || p.max.is_some_and(|max| n > max) {
            let range = match (p.min, p.max) {
                (Some(a), Some(b)) => format!("{a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (_, b) => format!("at most {}", b.unwrap_or(i64::MAX)),
            };
            return bad(false, format!("{n} is outside {range}"));
        }
    }
    if let Some(values) = &p.values {
        let found = values.iter().any(|v| {
            if p.case_insensitive {
                v.eq_ignore_ascii_case(value)
            } else {
                v == value
            }
        });
        if !found {
            return bad(
                false,
                format!("{value:?} is not one of {}", values.join(", ")),
            );
        }
    }
    if p.ascii && !value.is_ascii() {
        return bad(false, "only ASCII characters are allowed".into());
    }
    let length = value.chars().count();
    if p.min_length.is_some_and(|min| length < min) || p.max_length.is_some_and(|max| length > max)
    {
        return bad(
            false,
            format!(
                "{length} characters, allowed {} to {}",
                p.min_length.unwrap_or(0),
                p.max_length.map_or("any".into(), |m| m.to_string())
            ),
        );
    }
    if let Some(extra) = &p.chars {
        if let Some(c) = value
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !extra.contains(*c))
        {
            return bad(
                false,
                format!("{c:?} is not allowed (letters, digits and {extra})"),
            );
        }
    }
    if let Some(prefix) = &p.prefix {
        if !value.starts_with(prefix.as_str()) || value.len() == prefix.len() {
            return bad(false, format!("{value:?} is not a {prefix}… id"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn code(action: &str, pairs: &[(&str, &str)]) -> Option<String> {
        check(action, &params(pairs)).err().map(|e| e.code)
    }

    #[test]
    fn the_embedded_contract_parses_and_names_a_model_for_every_api() {
        let c = Contract::get();
        assert!(c.apis.len() >= 7);
        for api in &c.apis {
            assert!(api.model.ends_with("_request_model.go"), "{}", api.model);
            assert!(!api.parameters.is_empty());
        }
    }

    #[test]
    fn parameter_names_are_unique_and_only_repeated_structs_have_fields() {
        for api in &Contract::get().apis {
            let mut names: Vec<&str> = api.parameters.iter().map(|p| p.name.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{} repeats a parameter", api.action);
            for p in &api.parameters {
                assert_eq!(p.kind == Kind::Objects, !p.fields.is_empty(), "{}", p.name);
            }
        }
    }

    #[test]
    fn common_parameters_are_accepted() {
        let p = [
            ("Action", "AssumeRole"),
            ("SecurityToken", "t"),
            ("SignatureNonce", "n"),
            ("RoleArn", "acs:ram::1:role/r"),
            ("RoleSessionName", "ab"),
        ];
        assert_eq!(code("AssumeRole", &p), None);
    }

    #[test]
    fn flattened_lists_resolve_and_bad_indices_are_refused() {
        let base = [("RegionId", "r"), ("SecurityGroupId", "sg-1")];
        let with = |extra: (&str, &str)| {
            let mut p = base.to_vec();
            p.push(extra);
            code("RevokeSecurityGroup", &p)
        };
        assert_eq!(with(("SecurityGroupRuleId.1", "sgr-1")), None);
        assert_eq!(with(("Permissions.7.SourceGroupOwnerId", "123")), None);
        assert_eq!(
            with(("SecurityGroupRuleId.01", "sgr-1")).as_deref(),
            Some("InvalidParameter.SecurityGroupRuleId")
        );
        assert_eq!(
            with(("SecurityGroupRuleId.101", "sgr-1")).as_deref(),
            Some("InvalidParameter.TooManySecurityGroupRuleId")
        );
        assert_eq!(
            with(("SecurityGroupRuleId", "sgr-1")).as_deref(),
            Some("InvalidParameter.SecurityGroupRuleId")
        );
        assert_eq!(
            with(("Permissions.1.Foo", "x")).as_deref(),
            Some("InvalidParameter.Permissions")
        );
        assert_eq!(
            with(("Permissions.1.SourceGroupOwnerId", "owner@example.com")).as_deref(),
            Some("InvalidParameter.Permissions")
        );
        assert_eq!(with(("Foo", "x")).as_deref(), Some("InvalidParameter"));
    }

    #[test]
    fn string_typed_numbers_distinguish_malformed_from_out_of_range() {
        let p = |v| {
            [
                ("RegionId", "r"),
                ("SecurityGroupId", "sg-1"),
                ("Permissions.1.Priority", v),
            ]
        };
        assert_eq!(code("AuthorizeSecurityGroup", &p("100")), None);
        assert_eq!(
            code("AuthorizeSecurityGroup", &p("high")).as_deref(),
            Some("InvalidPriority.Malformed")
        );
        assert_eq!(
            code("AuthorizeSecurityGroup", &p("101")).as_deref(),
            Some("InvalidPriority.ValueNotSupported")
        );
    }

    #[test]
    fn int32_and_int64_ranges_are_the_types_ranges() {
        let agg = |v| {
            [
                ("AggregatorId", "ca-1"),
                ("Region", "r"),
                ("ResourceId", "sg-1"),
                ("ResourceType", "ACS::ECS::SecurityGroup"),
                ("ResourceAccountId", v),
            ]
        };
        assert_eq!(
            code(
                "GetAggregateDiscoveredResource",
                &agg("9223372036854775807")
            ),
            None
        );
        assert!(code(
            "GetAggregateDiscoveredResource",
            &agg("9223372036854775808")
        )
        .is_some());
        assert_eq!(
            code("GetAggregateDiscoveredResource", &agg("")).as_deref(),
            Some("MissingParameter")
        );
        let describe = |v| {
            [
                ("RegionId", "r"),
                ("SecurityGroupId", "sg-1"),
                ("MaxResults", v),
            ]
        };
        assert!(code("DescribeSecurityGroupAttribute", &describe("4294967296")).is_some());
    }

    #[test]
    fn characters_lengths_and_prefixes_are_enforced() {
        let sts = |name| [("RoleArn", "acs:ram::1:role/r"), ("RoleSessionName", name)];
        assert_eq!(code("AssumeRole", &sts("sg-remediator@fc.1_x")), None);
        assert!(code("AssumeRole", &sts("a b")).is_some());
        assert!(code("AssumeRole", &sts("a")).is_some());
        assert_eq!(
            code(
                "DescribeSecurityGroupAttribute",
                &[("RegionId", "r"), ("SecurityGroupId", "i-123")]
            )
            .as_deref(),
            Some("InvalidSecurityGroupId.Malformed")
        );
    }

    #[test]
    fn every_modelled_action_has_a_response_model_from_the_same_sdk_package() {
        // DescribeRegions (the CLI's) has a response model but no request model: it takes no
        // parameter the function sends.
        let c = Contract::get();
        for api in &c.apis {
            let response = c
                .response(&api.action)
                .unwrap_or_else(|| panic!("no response model for {}", api.action));
            let package = |m: &str| m.split('/').next().unwrap_or_default().to_string();
            assert_eq!(
                package(&response.model),
                package(&api.model),
                "{}",
                api.action
            );
            assert!(
                response.model.ends_with("_response_body_model.go"),
                "{}",
                response.model
            );
            assert!(response.body.contains_key("RequestId"), "{}", api.action);
        }
    }

    #[test]
    fn every_list_in_a_response_model_has_one_item_shape() {
        fn walk(shape: &Shape) {
            match shape {
                Shape::List(items) => {
                    assert_eq!(items.len(), 1);
                    walk(&items[0]);
                }
                Shape::Object(fields) => fields.values().for_each(walk),
                Shape::Scalar(_) => {}
            }
        }
        for r in &Contract::get().responses {
            r.body.values().for_each(walk);
        }
    }

    fn answer_check(action: &str, body: serde_json::Value) -> Result<(), String> {
        check_answer(action, &body)
    }

    #[test]
    fn an_answer_with_the_models_fields_and_types_passes() {
        let body = serde_json::json!({
            "RequestId": "r",
            "DiscoveredResourceDetail": {"AccountId": 1234567890123456_i64, "ResourceDeleted": 1,
                                         "ResourceId": "sg-1", "Configuration": "{}"}
        });
        assert_eq!(answer_check("GetDiscoveredResource", body), Ok(()));
        let page = serde_json::json!({
            "RequestId": "r", "NextToken": "",
            "Permissions": {"Permission": [{"Priority": "1", "PortRange": "22/22"}]}
        });
        assert_eq!(answer_check("DescribeSecurityGroupAttribute", page), Ok(()));
    }

    #[test]
    fn a_field_the_model_does_not_have_is_refused_by_its_path() {
        let body = serde_json::json!({"RequestId": "r", "Permissions": {"Permission": [{"Colour": "red"}]}});
        let why = answer_check("DescribeSecurityGroupAttribute", body).unwrap_err();
        assert!(
            why.contains("Permissions.Permission[0].Colour is not a field of the model"),
            "{why}"
        );
    }

    #[test]
    fn a_number_where_the_model_says_string_is_refused() {
        let body =
            serde_json::json!({"RequestId": "r", "Permissions": {"Permission": [{"Priority": 1}]}});
        let why = answer_check("DescribeSecurityGroupAttribute", body).unwrap_err();
        assert!(
            why.contains("Permissions.Permission[0].Priority is 1, the model says a string"),
            "{why}"
        );
    }

    #[test]
    fn a_string_or_an_out_of_range_number_where_the_model_says_integer_is_refused() {
        let detail = |v: serde_json::Value| serde_json::json!({"RequestId": "r", "DiscoveredResourceDetail": {"ResourceDeleted": v}});
        assert!(answer_check("GetDiscoveredResource", detail(serde_json::json!("1"))).is_err());
        assert!(answer_check(
            "GetDiscoveredResource",
            detail(serde_json::json!(4294967296_i64))
        )
        .is_err());
        assert!(answer_check("GetDiscoveredResource", detail(serde_json::json!(1.5))).is_err());
        assert_eq!(
            answer_check("GetDiscoveredResource", detail(serde_json::json!(0))),
            Ok(())
        );
    }

    #[test]
    fn an_object_where_the_model_says_list_is_refused() {
        let body = serde_json::json!({"RequestId": "r", "Regions": {"Region": {"RegionId": "cn-hangzhou"}}});
        assert!(answer_check("DescribeRegions", body).is_err());
    }

    #[test]
    fn actions_outside_the_contract_are_not_checked_here() {
        assert_eq!(code("DescribeRegions", &[("Anything", "x")]), None);
    }
}

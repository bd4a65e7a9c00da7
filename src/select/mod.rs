//! Which rules get revoked: the JMESPath rule selector, priority shadowing and guard rails.
//!
//! # Flow
//!
//! 1. Rules come from Config's snapshot ([`rules_from_configuration`]) or from ECS
//!    (`DescribeSecurityGroupAttribute`, [`rules_from_describe`]) as typed [`Permission`]s.
//! 2. Both views are rendered into one **canonical document** ([`canonical_document`]), so the
//!    same query gives the same answer for the snapshot and for the live group.
//! 3. The query ([`DEFAULT_QUERY`] or a custom `RULE_SELECTOR`) runs over that document and
//!    returns rule ids. The default query is evaluated natively on the typed rules (`native.rs`),
//!    with the same answer as JMESPath over the document (a property test checks it); a custom
//!    query always runs through JMESPath.
//! 4. Rust then applies what a query must not be trusted with: **guard rails** (never revoke an
//!    egress or Drop rule, never act on a rule whose ports cannot be read) and **priority
//!    shadowing** (an Accept rule whose risky ports are all denied by higher-precedence Drop
//!    rules is reported, not revoked). Rules that look world-open on a risky port but cannot be
//!    judged from the data (prefix-list source, port list, unreadable fields) go to **review**.
//!
//! # The canonical document
//!
//! `{"Permissions": [rule, …]}`, one object per rule, in the group's order. Every key is always
//! present; absent values are the empty string `""` (never `null`), so a custom query can call
//! string functions such as `starts_with(Description, 'tmp')` on any rule without a type error,
//! exactly as on raw ECS output, where absent values are also `""`.
//!
//! | Key | Value |
//! |---|---|
//! | `SecurityGroupRuleId` | `sgr-…`, or `""` when the rule has none |
//! | `Direction` | `ingress` / `egress` (lower case; unknown text lower-cased verbatim) |
//! | `Policy` | `accept` / `drop` (lower case; absent means ECS's default `accept`) |
//! | `Priority` | **number** 1–100 (absent means ECS's default 1) |
//! | `IpProtocol` | `TCP`, `UDP`, `ICMP`, `ICMPV6`, `GRE`, `ALL` (upper case) |
//! | `PortRange` | `a/b`, or `-1/-1` for every port; unreadable text verbatim |
//! | `SourceCidrIp`, `Ipv6SourceCidrIp` | normalised CIDR (`1.2.3.4` becomes `1.2.3.4/32`) or `""` |
//! | `SourceGroupId`, `SourceGroupOwnerAccount`, `SourcePrefixListId`, `SourcePortRange`, `DestCidrIp`, `Ipv6DestCidrIp`, `PortRangeListId`, `NicType`, `Description`, `CreateTime` | text or `""` |
//!
//! # Custom functions
//!
//! Besides the JMESPath builtins, queries can call (each also exposed as a Rust function here):
//! - `is_world(cidr)`: `true` when `cidr` parses as a CIDR block with prefix length 0
//!   (`0.0.0.0/0`, `::/0`); `""`, unparsable text or a non-string gives `false`.
//! - `opens_risky_port(port_range)`: `true` when the range (`a/b`, `-1/-1` = every port)
//!   contains at least one configured risky port (`RISKY_PORTS`, spans such as `8000-8080`
//!   count when they overlap); unreadable ranges give `false`.
//! - `port_range_covers(port_range, port)`: `true` when the range contains `port` (an integer
//!   1–65535), e.g. `port_range_covers(PortRange, \`80\`)`.
//!
//! # What a query must return
//!
//! An array whose elements are rule-id strings or rule objects with a `SecurityGroupRuleId`
//! (so both `Permissions[?…].SecurityGroupRuleId` and `Permissions[?…]` work). Anything else
//! (`null`, a number, nested arrays) is [`SelectError::BadOutput`]. A custom query is also run
//! once on a built-in sample group when the selector is built, so a query that fails or returns
//! the wrong shape is rejected at start-up rather than on the first event. It must also select
//! at least one of the sample's world-open rules on a risky port (TCP, UDP and ALL, IPv4 and
//! IPv6) and none of their private-source twins; selecting the sample's ICMP, GRE or non-risky
//! rules is allowed, since the narrowing rule keeps them anyway.
//!
//! # Guard rails (apply to every query, including the default)
//!
//! - Ids the query returns that are not in the document are ignored and listed in
//!   [`Selection::ignored_ids`]; they cannot be revoked by id anyway.
//! - A selected egress rule, Drop rule, or rule whose direction, policy, protocol or port range
//!   cannot be read is moved to [`Selection::review`] with the reason, never revoked:
//!   revoking a Drop rule removes a protection, and RevokeSecurityGroup handles ingress only.
//! - **A selector can only narrow.** What any query selects is intersected with what the
//!   built-in selection ([`DEFAULT_QUERY`]) would take: ingress, Accept, world source, TCP, UDP
//!   or ALL, and a port range covering a configured risky port. A world-open rule the query
//!   selects outside it (ICMP, GRE, web ports when they are not in `RISKY_PORTS`) is kept and
//!   not reported: keeping it is what the built-in selection does. To act on every world-open
//!   TCP/UDP rule, configure `RISKY_PORTS=1-65535`.
//! - Shadowing applies to custom selections too, judged on the risky spans the rule opens.

mod functions;
mod native;
mod shadow;

pub use functions::{
    is_world, opens_risky_port, port_range_covers, IS_WORLD, OPENS_RISKY_PORT, PORT_RANGE_COVERS,
};

use std::fmt;
use std::sync::Arc;

use jmespath::{Context, Expression, JmespathError, Rcvar, Runtime, Variable};
use serde_json::{Map, Value};

use crate::rule_lists::{Recorded, Unreadable};

use crate::rules::{
    Address, Direction, Field, Permission, Policy, PortRange, PortSpan, Protocol, RiskyPorts,
    RuleId, FIELDS,
};

/// The default selector: ingress Accept rules from `0.0.0.0/0` or `::/0` on TCP, UDP or ALL whose
/// port range opens a configured risky port. Rules referencing a port list are left to review.
pub const DEFAULT_QUERY: &str = "Permissions[?Direction == 'ingress' && Policy == 'accept' \
&& (is_world(SourceCidrIp) || is_world(Ipv6SourceCidrIp)) \
&& (IpProtocol == 'TCP' || IpProtocol == 'UDP' || IpProtocol == 'ALL') \
&& PortRangeListId == '' && opens_risky_port(PortRange)].SecurityGroupRuleId";

/// Everything that can go wrong while reading rules or selecting them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The query does not parse. `line` and `column` are 1-based.
    #[error("RULE_SELECTOR is not a valid JMESPath expression: {reason} at line {line}, column {column} of {query:?}")]
    InvalidQuery {
        /// The query as configured.
        query: String,
        /// The parser's message.
        reason: String,
        /// Where the parser stopped: the line of the query.
        line: usize,
        /// Where the parser stopped: the column on that line.
        column: usize,
    },
    /// The query is longer or more deeply nested than a selector needs to be, and than
    /// evaluating it safely allows (each level of nesting is a level of recursion).
    #[error("RULE_SELECTOR is {0}")]
    TooComplex(String),
    /// The query parses but fails (or returns the wrong shape) on the built-in sample group.
    #[error("RULE_SELECTOR {query:?} does not work on a sample security group: {reason}")]
    RejectedQuery {
        /// The query as configured.
        query: String,
        /// What went wrong on the sample group.
        reason: String,
    },
    /// The query failed while evaluating a group (e.g. a builtin got a value of the wrong type).
    #[error("the rule selector failed: {0}")]
    QueryFailed(String),
    /// The query returned something other than an array of rule ids or rule objects.
    #[error("the rule selector must return an array of rule-id strings or of objects with a SecurityGroupRuleId, got {0}")]
    BadOutput(String),
    /// The security group's configuration has an unusable shape.
    #[error("the security group configuration cannot be read: {0}")]
    InvalidConfiguration(String),
    /// One rule cannot be read. The whole group fails rather than losing the rule silently.
    #[error("rule #{index}{} cannot be read: {reason}", id.as_ref().map(|i| format!(" ({i})")).unwrap_or_default())]
    InvalidRule {
        /// The rule's position in the group's list, from 0.
        index: usize,
        /// Its `SecurityGroupRuleId`, if that much could be read.
        id: Option<String>,
        /// What could not be read.
        reason: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Reading rules
// ---------------------------------------------------------------------------------------------

impl From<Unreadable> for SelectError {
    fn from(e: Unreadable) -> Self {
        match e {
            Unreadable::Configuration(reason) => SelectError::InvalidConfiguration(reason),
            Unreadable::Rule { index, id, reason } => {
                SelectError::InvalidRule { index, id, reason }
            }
        }
    }
}

/// The rules of a security group's Config `Configuration`.
///
/// Accepts both shapes Config uses, `{"Permissions": {"Permission": [...]}}` (the
/// DescribeSecurityGroupAttribute shape) and `{"Permissions": [...]}` (a bare list), the
/// `Configuration` still encoded as a JSON string, and a configuration with no or empty
/// `Permissions` (no rules). A rule that cannot be read (e.g. `Priority: "abc"`) is an
/// [`SelectError::InvalidRule`] naming it: dropping it could hide an open port, so the group is
/// reported as failed instead.
///
/// The same reader as the function's own (it reads the answer's bytes): [`Recorded`], here
/// over a parsed tree.
pub fn rules_from_configuration(cfg: &Value) -> Result<Vec<Permission>, SelectError> {
    Ok(Recorded::from_value(cfg).rules?)
}

/// The rules of one `DescribeSecurityGroupAttribute` response page (`Permissions.Permission[]`).
///
/// Same tolerance and failure rules as [`rules_from_configuration`].
pub fn rules_from_describe(resp: &Value) -> Result<Vec<Permission>, SelectError> {
    rules_from_configuration(resp)
}

// ---------------------------------------------------------------------------------------------
// The canonical document
// ---------------------------------------------------------------------------------------------

enum Canonical {
    Text(String),
    Number(u8),
}

/// The canonical value of one field of the table (see the module docs): `Direction` and
/// `Policy` lower case, `IpProtocol` upper case, `Priority` a number, the rest the record's text
/// or `""`.
fn canonical_value(p: &Permission, field: Field) -> Canonical {
    let text = p.text(field);
    let text = text.as_deref().unwrap_or("");
    match field {
        Field::Priority => Canonical::Number(p.priority.0),
        Field::Direction | Field::Policy => Canonical::Text(text.trim().to_ascii_lowercase()),
        Field::IpProtocol => Canonical::Text(text.trim().to_ascii_uppercase()),
        _ => Canonical::Text(text.to_string()),
    }
}

/// The canonical fields of one rule, in the table's order; the single definition both
/// renderings use.
fn canonical_fields(p: &Permission) -> impl Iterator<Item = (&'static str, Canonical)> + '_ {
    FIELDS
        .iter()
        .map(move |spec| (spec.name, canonical_value(p, spec.field)))
}

/// The document queries run against, as JSON: `{"Permissions": [...]}` (see the module docs).
pub fn canonical_document(rules: &[Permission]) -> Value {
    let list = rules
        .iter()
        .map(|p| {
            let obj: Map<String, Value> = canonical_fields(p)
                .map(|(k, f)| {
                    let v = match f {
                        Canonical::Text(s) => Value::String(s),
                        Canonical::Number(n) => Value::from(n),
                    };
                    (k.to_string(), v)
                })
                .collect();
            Value::Object(obj)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("Permissions".to_string(), Value::Array(list));
    Value::Object(doc)
}

/// The same document built directly as a JMESPath variable (no JSON round trip on the hot path).
fn canonical_variable(rules: &[Permission]) -> Rcvar {
    let list = rules
        .iter()
        .map(|p| {
            let obj = canonical_fields(p)
                .map(|(k, f)| {
                    let v = match f {
                        Canonical::Text(s) => Variable::String(s),
                        Canonical::Number(n) => Variable::Number(n.into()),
                    };
                    (k.to_string(), Rcvar::new(v))
                })
                .collect();
            Rcvar::new(Variable::Object(obj))
        })
        .collect();
    let mut doc = std::collections::BTreeMap::new();
    doc.insert("Permissions".to_string(), Rcvar::new(Variable::Array(list)));
    Rcvar::new(Variable::Object(doc))
}

// ---------------------------------------------------------------------------------------------
// The selection
// ---------------------------------------------------------------------------------------------

/// A rule to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    /// The rule, with every attribute needed to revoke it and to put it back.
    pub rule: Permission,
    /// The risky spans the rule opens, clipped to its range.
    pub ports: Vec<PortSpan>,
    /// Revoking also removes access beyond those ports (a wider range, or protocol `ALL`):
    /// log it, since it may cut more than the risky exposure.
    pub collateral: bool,
}

/// A selected rule that is not revoked because Drop rules of equal or higher precedence already
/// deny every port it was selected for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// The kept rule.
    pub rule: Permission,
    /// The Drop rules doing the denying (those with an id), sorted.
    pub by: Vec<RuleId>,
    /// The spans found denied.
    pub ports: Vec<PortSpan>,
}

/// A rule that needs a human: it may expose a risky port but cannot be judged or acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The rule to check.
    pub rule: Permission,
    /// Why it cannot be judged or acted on automatically.
    pub reason: ReviewReason,
}

/// Why a rule went to review instead of being revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewReason {
    /// The source is a prefix list; its CIDRs are not resolved, so world access is unknown.
    PrefixListSource,
    /// The source address field is not a CIDR block.
    UnreadableSource,
    /// The rule references a port list (`PortRangeListId`) instead of a port range.
    PortRangeList,
    /// The `PortRange` text cannot be read.
    UnreadablePortRange,
    /// `IpProtocol` is not one ECS documents.
    UnknownProtocol,
    /// `Direction` is neither ingress nor egress.
    UnknownDirection,
    /// `Policy` is neither accept nor drop.
    UnknownPolicy,
    /// The rule has no `SecurityGroupRuleId`, so it cannot be revoked by id.
    MissingRuleId,
    /// The query selected an egress rule; RevokeSecurityGroup handles ingress only.
    SelectedEgress,
    /// The query selected a Drop rule; revoking it would remove a protection.
    SelectedDrop,
    /// The query selected a rule whose source is not exactly `0.0.0.0/0` or `::/0` (a private
    /// range, a host, another security group, a prefix list): only world-open rules are revoked.
    SelectedNotWorld,
}

impl fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewReason::PrefixListSource => {
                "source is a prefix list, which is not resolved: world access cannot be judged"
            }
            ReviewReason::UnreadableSource => "source address is not a CIDR block",
            ReviewReason::PortRangeList => {
                "rule uses a port list (PortRangeListId), whose ports are not resolved"
            }
            ReviewReason::UnreadablePortRange => "PortRange cannot be read",
            ReviewReason::UnknownProtocol => "IpProtocol is not one ECS documents",
            ReviewReason::UnknownDirection => "Direction is neither ingress nor egress",
            ReviewReason::UnknownPolicy => "Policy is neither accept nor drop",
            ReviewReason::MissingRuleId => "rule has no SecurityGroupRuleId to revoke it by",
            ReviewReason::SelectedEgress => {
                "selector chose an egress rule; only ingress rules are revoked"
            }
            ReviewReason::SelectedDrop => {
                "selector chose a Drop rule; revoking it would remove a protection"
            }
            ReviewReason::SelectedNotWorld => {
                "selector chose a rule whose source is not 0.0.0.0/0 or ::/0; only world-open \
                 rules are revoked"
            }
        })
    }
}

/// What to do with each rule of one security group. Rules appear at most once, in group order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Revoke these.
    pub exposed: Vec<Exposed>,
    /// Selected, but already denied by Drop rules: report, never revoke.
    pub shadowed: Vec<Shadowed>,
    /// Possibly exposed but not judgeable, or selected against a guard rail: report only.
    pub review: Vec<Review>,
    /// Ids the query returned that are not in the group (or were empty): ignored.
    pub ignored_ids: Vec<String>,
}

impl Selection {
    /// The ids to pass to RevokeSecurityGroup, without duplicates, in group order.
    pub fn revoke_ids(&self) -> Vec<RuleId> {
        let mut ids: Vec<RuleId> = Vec::with_capacity(self.exposed.len());
        for id in self.exposed.iter().filter_map(|e| e.rule.rule_id.as_ref()) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }
    /// Ids of the shadowed rules.
    pub fn shadowed_ids(&self) -> Vec<RuleId> {
        self.shadowed
            .iter()
            .filter_map(|s| s.rule.rule_id.clone())
            .collect()
    }
    /// Ids of the rules sent to review (rules without an id are omitted).
    pub fn review_ids(&self) -> Vec<RuleId> {
        self.review
            .iter()
            .filter_map(|r| r.rule.rule_id.clone())
            .collect()
    }
    /// Whether there is nothing to revoke (review items may still need a human).
    pub fn nothing_to_revoke(&self) -> bool {
        self.exposed.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// The selector
// ---------------------------------------------------------------------------------------------

struct Inner {
    risky: RiskyPorts,
    query: Expression<'static>,
    runtime: &'static Runtime,
    custom: bool,
}

/// A compiled rule selector: the query plus the risky ports, built once and shared by all tasks.
///
/// Cloning is cheap (an `Arc`). Building it registers the custom functions and compiles the
/// query once; evaluating never recompiles.
#[derive(Clone)]
pub struct Selector {
    inner: Arc<Inner>,
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector")
            .field("risky", &self.inner.risky.to_string())
            .field("query", &self.inner.query.as_str())
            .field("custom", &self.inner.custom)
            .finish()
    }
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Selector>();
};

/// The longest `RULE_SELECTOR` accepted, in bytes: the built-in query is about 330.
pub const MAX_SELECTOR_LEN: usize = 8 * 1024;

/// The deepest nesting accepted in a `RULE_SELECTOR`, both in its text (parentheses, brackets,
/// braces and the prefix operators `!` and `&`, which the parser follows recursively) and in
/// the expression it compiles to (which the interpreter walks recursively). The built-in query
/// is 9 deep; far deeper queries would overflow the stack when compiled or evaluated.
pub const MAX_SELECTOR_DEPTH: usize = 64;

/// Refuses a query too long, or nested too deeply in its text, before the parser (which
/// recurses once per level) sees it.
fn check_bounds(query: &str) -> Result<(), SelectError> {
    if query.len() > MAX_SELECTOR_LEN {
        return Err(SelectError::TooComplex(format!(
            "{} bytes long; at most {MAX_SELECTOR_LEN} are allowed",
            query.len()
        )));
    }
    let depth = text_depth(query);
    if depth > MAX_SELECTOR_DEPTH {
        return Err(SelectError::TooComplex(format!(
            "nested {depth} levels deep (parentheses, brackets, braces, `!` and `&`); at most \
             {MAX_SELECTOR_DEPTH} are allowed"
        )));
    }
    Ok(())
}

/// How deeply the text of a query nests: open `(`, `[` and `{`, plus the prefix operators `!`
/// and `&` met in each open scope (counted until the scope closes, an upper bound of how far
/// they nest). Quoted identifiers, raw strings and literals are skipped.
fn text_depth(query: &str) -> usize {
    let b = query.as_bytes();
    let (mut i, mut depth, mut max) = (0, 0usize, 0usize);
    let mut scopes: Vec<usize> = Vec::new();
    while i < b.len() {
        match b[i] {
            quote @ (b'\'' | b'`' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != quote {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                scopes.push(depth);
                depth += 1;
            }
            b')' | b']' | b'}' => depth = scopes.pop().unwrap_or(0),
            b'!' if b.get(i + 1) != Some(&b'=') => depth += 1,
            b'&' if b.get(i + 1) == Some(&b'&') => i += 1,
            b'&' => depth += 1,
            _ => {}
        }
        max = max.max(depth);
        i += 1;
    }
    max
}

/// The depth of a compiled expression, walked without recursion.
fn ast_depth(ast: &jmespath::ast::Ast) -> usize {
    let mut max = 0;
    let mut pending = vec![(ast, 1usize)];
    while let Some((node, depth)) = pending.pop() {
        max = max.max(depth);
        pending.extend(children(node).into_iter().map(|c| (c, depth + 1)));
    }
    max
}

/// The direct sub-expressions of `node`.
fn children(node: &jmespath::ast::Ast) -> Vec<&jmespath::ast::Ast> {
    use jmespath::ast::Ast;
    match node {
        Ast::Comparison { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. } => vec![lhs, rhs],
        Ast::Condition {
            predicate, then, ..
        } => vec![predicate, then],
        Ast::Expref { ast: node, .. }
        | Ast::Flatten { node, .. }
        | Ast::Not { node, .. }
        | Ast::ObjectValues { node, .. } => vec![node],
        Ast::Function { args: nodes, .. }
        | Ast::MultiList {
            elements: nodes, ..
        } => nodes.iter().collect(),
        Ast::MultiHash { elements, .. } => elements.iter().map(|kv| &kv.value).collect(),
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => Vec::new(),
    }
}

fn invalid_query(query: &str, e: &JmespathError) -> SelectError {
    SelectError::InvalidQuery {
        query: query.to_string(),
        reason: e.reason.to_string(),
        line: e.line + 1,
        column: e.column + 1,
    }
}

/// A small group exercising every field kind, used to try a custom query before accepting it.
fn sample_rules() -> Vec<Permission> {
    let rule = |v: Value| Permission::from_json(&v).expect("the built-in sample rules parse");
    vec![
        rule(
            serde_json::json!({"SecurityGroupRuleId":"sgr-sample-ssh","Direction":"ingress","Policy":"Accept","Priority":10,"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0","NicType":"intranet","Description":"ssh"}),
        ),
        rule(
            serde_json::json!({"SecurityGroupRuleId":"sgr-sample-all6","Direction":"ingress","Policy":"Accept","Priority":100,"IpProtocol":"ALL","PortRange":"-1/-1","Ipv6SourceCidrIp":"::/0"}),
        ),
        rule(
            serde_json::json!({"SecurityGroupRuleId":"sgr-sample-drop","Direction":"ingress","Policy":"Drop","Priority":1,"IpProtocol":"UDP","PortRange":"1/1024","SourceCidrIp":"0.0.0.0/0"}),
        ),
        rule(
            serde_json::json!({"SecurityGroupRuleId":"sgr-sample-sg","Direction":"ingress","Policy":"Accept","Priority":1,"IpProtocol":"TCP","PortRange":"443/443","SourceGroupId":"sg-sample"}),
        ),
        rule(
            serde_json::json!({"SecurityGroupRuleId":"sgr-sample-pl","Direction":"ingress","Policy":"Accept","Priority":1,"IpProtocol":"TCP","PortRange":"3389/3389","SourcePrefixListId":"pl-sample"}),
        ),
        rule(
            serde_json::json!({"SecurityGroupRuleId":"sgr-sample-out","Direction":"egress","Policy":"Accept","Priority":1,"IpProtocol":"ICMP","PortRange":"-1/-1","DestCidrIp":"10.0.0.0/8"}),
        ),
    ]
}

/// The sample group of the start-up self-test.
struct GuardSample {
    rules: Vec<Permission>,
    /// World-open rules on a risky port, over each protocol that has ports and both families:
    /// what the function exists to revoke. A selector must select at least one of them.
    risky_world: Vec<&'static str>,
    /// The first risky world rule's twins from private, host and group sources: a selector
    /// must select none of them.
    private: Vec<&'static str>,
}

/// The sample group of the start-up self-test: world-open rules on a risky port (SSH 22 or RDP
/// 3389 when configured, else the first risky port) over TCP, UDP and ALL, from IPv4 and IPv6;
/// world-open rules the built-in selection keeps (ICMP, GRE and, when some port is not risky,
/// TCP and UDP on it); and the TCP rule from private and group sources.
fn guard_sample(risky: &RiskyPorts) -> GuardSample {
    let covers = |p: u16| risky.spans().iter().any(|s| s.from <= p && p <= s.to);
    let port = [22, 3389]
        .into_iter()
        .find(|p| covers(*p))
        .or_else(|| risky.spans().first().map(|s| s.from))
        .unwrap_or(22);
    let range = format!("{port}/{port}");
    // A port that is not risky, for the rules a selector may select but never gets revoked.
    let safe = [443, 80, 53, 8443]
        .into_iter()
        .chain(1..=u16::MAX)
        .find(|p| !covers(*p))
        .map(|p| format!("{p}/{p}"));
    let rule = |id: &str, protocol: &str, range: &str, source: (&str, &str)| {
        let mut v = serde_json::json!({"SecurityGroupRuleId": id, "Direction": "ingress",
            "Policy": "Accept", "Priority": 1, "IpProtocol": protocol, "PortRange": range,
            "NicType": "intranet"});
        v[source.0] = Value::String(source.1.to_string());
        Permission::from_json(&v).expect("the built-in guard sample parses")
    };
    let v4 = ("SourceCidrIp", "0.0.0.0/0");
    let v6 = ("Ipv6SourceCidrIp", "::/0");
    let risky_world: [(&'static str, &str, &str, (&str, &str)); 5] = [
        ("sgr-guard-world", "TCP", &range, v4),
        ("sgr-guard-world-udp", "UDP", &range, v4),
        ("sgr-guard-world-all", "ALL", "-1/-1", v4),
        ("sgr-guard-world6", "TCP", &range, v6),
        ("sgr-guard-world6-udp", "UDP", &range, v6),
    ];
    let private = [
        ("sgr-guard-10", ("SourceCidrIp", "10.0.0.0/8")),
        ("sgr-guard-172", ("SourceCidrIp", "172.16.0.0/12")),
        ("sgr-guard-192", ("SourceCidrIp", "192.168.0.0/16")),
        ("sgr-guard-host", ("SourceCidrIp", "203.0.113.7/32")),
        ("sgr-guard-ula", ("Ipv6SourceCidrIp", "fd00::/8")),
        ("sgr-guard-group", ("SourceGroupId", "sg-guard-peer")),
    ];
    let mut rules: Vec<Permission> = risky_world
        .iter()
        .map(|(id, proto, range, src)| rule(id, proto, range, *src))
        .collect();
    rules.push(rule("sgr-guard-icmp", "ICMP", "-1/-1", v4));
    rules.push(rule("sgr-guard-gre", "GRE", "-1/-1", v4));
    if let Some(safe) = &safe {
        rules.push(rule("sgr-guard-safe-tcp", "TCP", safe, v4));
        rules.push(rule("sgr-guard-safe-udp", "UDP", safe, v6));
    }
    rules.extend(
        private
            .iter()
            .map(|(id, src)| rule(id, "TCP", &range, *src)),
    );
    GuardSample {
        rules,
        risky_world: risky_world.iter().map(|(id, ..)| *id).collect(),
        private: private.iter().map(|(id, _)| *id).collect(),
    }
}

impl Selector {
    /// Builds a selector for `risky` ports, using `custom_query` (a `RULE_SELECTOR`) when given
    /// and [`DEFAULT_QUERY`] otherwise.
    ///
    /// A custom query that does not parse is [`SelectError::InvalidQuery`] (with position and
    /// reason); one that fails or returns the wrong shape on a built-in sample group (e.g. calls
    /// an unknown function) is [`SelectError::RejectedQuery`].
    pub fn new(risky: RiskyPorts, custom_query: Option<&str>) -> Result<Selector, SelectError> {
        let runtime = functions::runtime_for(&risky);
        let custom = custom_query.is_some_and(|q| !q.trim().is_empty());
        let text = match custom_query {
            Some(q) if custom => q.trim(),
            _ => DEFAULT_QUERY,
        };
        check_bounds(text)?;
        let query = runtime.compile(text).map_err(|e| invalid_query(text, &e))?;
        let depth = ast_depth(query.as_ast());
        if depth > MAX_SELECTOR_DEPTH {
            return Err(SelectError::TooComplex(format!(
                "nested {depth} expressions deep; at most {MAX_SELECTOR_DEPTH} are allowed"
            )));
        }
        let selector = Selector {
            inner: Arc::new(Inner {
                risky,
                query,
                runtime,
                custom,
            }),
        };
        let rejected = |reason: String| SelectError::RejectedQuery {
            query: text.to_string(),
            reason,
        };
        selector
            .run_query(&sample_rules())
            .map_err(|e| rejected(e.to_string()))?;
        if custom {
            selector.self_test().map_err(rejected)?;
        }
        Ok(selector)
    }

    /// A custom query must still find what the function exists for, and must not reach for
    /// private traffic: on a sample group it must select at least one of the world-open rules
    /// on a risky port and none of their private-source twins. A typo (`direction` for
    /// `Direction`) selects nothing and would report every group compliant; a query reaching
    /// private sources is a mistake even though the guard rails would keep those rules. Either
    /// is refused at start, saying what the sample showed. Selecting world-open rules the
    /// built-in selection keeps (ICMP, GRE, ports that are not risky) is harmless: the selection
    /// is intersected with the built-in one (see [`Selector::evaluate`]).
    fn self_test(&self) -> Result<(), String> {
        let sample = guard_sample(&self.inner.risky);
        let ids = self.run_query(&sample.rules).map_err(|e| e.to_string())?;
        let selected = |id: &str| ids.iter().any(|s| s == id);
        let by_id = |id: &str| {
            sample
                .rules
                .iter()
                .find(|r| r.rule_id.as_ref().is_some_and(|r| r.as_str() == id))
        };
        if !sample.risky_world.iter().any(|id| selected(id)) {
            let missed: Vec<String> = sample
                .risky_world
                .iter()
                .filter_map(|id| by_id(id).map(|r| (id, r)))
                .map(|(id, r)| {
                    let source = [&r.source_cidr, &r.ipv6_source_cidr]
                        .into_iter()
                        .flatten()
                        .map(Address::to_text)
                        .next()
                        .unwrap_or_default();
                    format!(
                        "{id} ({} {} from {source})",
                        r.protocol.as_str(),
                        r.port_range
                    )
                })
                .collect();
            return Err(format!(
                "on the built-in sample group it selects none of the world-open rules on a risky \
                 port the function exists to revoke: it does not select {} (it selected {:?}); \
                 check the field names' case (e.g. Direction, not direction)",
                missed.join(", "),
                ids
            ));
        }
        let reached: Vec<&str> = sample
            .private
            .iter()
            .copied()
            .filter(|id| selected(id))
            .collect();
        if !reached.is_empty() {
            return Err(format!(
                "on the built-in sample group it also selects {} (private or group sources): a \
                 selector may only narrow the world-open rules, never reach private traffic",
                reached.join(", ")
            ));
        }
        Ok(())
    }

    /// The query text in use.
    pub fn query(&self) -> &str {
        self.inner.query.as_str()
    }

    /// Whether the query is a custom `RULE_SELECTOR` rather than [`DEFAULT_QUERY`].
    pub fn is_custom(&self) -> bool {
        self.inner.custom
    }

    /// The configured risky ports.
    pub fn risky_ports(&self) -> &RiskyPorts {
        &self.inner.risky
    }

    /// The ids the query selects in `rules`, in order. The default query is evaluated natively
    /// (same answer, see `native.rs`); a custom one through JMESPath.
    pub fn query_ids(&self, rules: &[Permission]) -> Result<Vec<String>, SelectError> {
        if self.inner.custom {
            self.run_query(rules)
        } else {
            Ok(native::default_query_ids(rules, &self.inner.risky))
        }
    }

    /// The ids the query selects, always through the JMESPath interpreter: the reference the
    /// native evaluation of the default query is tested against.
    #[doc(hidden)]
    pub fn jmespath_query_ids(&self, rules: &[Permission]) -> Result<Vec<String>, SelectError> {
        self.run_query(rules)
    }

    /// Runs the query and returns the ids it selected, validated for shape.
    fn run_query(&self, rules: &[Permission]) -> Result<Vec<String>, SelectError> {
        let q = &self.inner.query;
        let mut ctx = Context::new(q.as_str(), self.inner.runtime);
        let out =
            jmespath::interpret(&canonical_variable(rules), q.as_ast(), &mut ctx).map_err(|e| {
                SelectError::QueryFailed(format!("{} at column {}", e.reason, e.column + 1))
            })?;
        ids_from_output(&out)
    }

    /// Decides, for one security group's rules, which to revoke, which are shadowed and which
    /// need review. Whatever the query, a rule is revoked only if the built-in selection would
    /// revoke it too: the result is always a subset of the default query's.
    pub fn evaluate(&self, rules: &[Permission]) -> Result<Selection, SelectError> {
        let ids = self.query_ids(rules)?;
        // Each id with the positions of its rules (an id may repeat), sorted: one allocation
        // and a binary search per selected id, where a map cost a hash per rule.
        let mut by_id: Vec<(&str, usize)> = rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.rule_id.as_ref().map(|id| (id.as_str(), i)))
            .collect();
        by_id.sort_unstable();
        let mut selection = Selection::default();
        let mut selected = vec![false; rules.len()];
        for id in ids {
            let first = by_id.partition_point(|(known, _)| *known < id.as_str());
            let matching = by_id[first..]
                .iter()
                .take_while(|(known, _)| *known == id.as_str());
            let mut found = false;
            for (_, i) in matching {
                selected[*i] = true;
                found = true;
            }
            if !found && !selection.ignored_ids.contains(&id) {
                selection.ignored_ids.push(id);
            }
        }
        let risky = &self.inner.risky;
        for (rule, chosen) in rules.iter().zip(selected) {
            if !chosen {
                if let Some(reason) = unjudgeable(rule, risky) {
                    selection.review.push(Review {
                        rule: rule.clone(),
                        reason,
                    });
                }
                continue;
            }
            if let Some(reason) = guard(rule) {
                selection.review.push(Review {
                    rule: rule.clone(),
                    reason,
                });
                continue;
            }
            // A selector can only narrow: what the built-in selection would not revoke (ICMP,
            // GRE, no risky port opened) is kept whatever the query says.
            if !native::selected(rule, risky) {
                continue;
            }
            let ports = risky.opened_by(&rule.port_range);
            match shadow::judge(rule, &ports, rules) {
                shadow::Verdict::Shadowed { by } => selection.shadowed.push(Shadowed {
                    rule: rule.clone(),
                    by,
                    ports,
                }),
                shadow::Verdict::Exposed => {
                    let collateral = collateral(rule, &ports);
                    selection.exposed.push(Exposed {
                        rule: rule.clone(),
                        ports,
                        collateral,
                    });
                }
            }
        }
        Ok(selection)
    }
}

/// Reads the query result: an array of id strings or of objects carrying `SecurityGroupRuleId`.
fn ids_from_output(out: &Rcvar) -> Result<Vec<String>, SelectError> {
    let Some(items) = out.as_array() else {
        return Err(SelectError::BadOutput(describe(out)));
    };
    items
        .iter()
        .map(|item| match &**item {
            Variable::String(s) => Ok(s.clone()),
            Variable::Object(o) => match o.get("SecurityGroupRuleId").map(|v| &**v) {
                Some(Variable::String(s)) => Ok(s.clone()),
                _ => Err(SelectError::BadOutput(format!(
                    "an array containing an object without a string SecurityGroupRuleId: {}",
                    describe(item)
                ))),
            },
            _ => Err(SelectError::BadOutput(format!(
                "an array containing {}",
                describe(item)
            ))),
        })
        .collect()
}

/// `<type> <value>`, the value cut to a readable length.
fn describe(v: &Rcvar) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    let text = v.to_string();
    let cut: String = text.chars().take(120).collect();
    let ellipsis = if cut.len() < text.len() { "…" } else { "" };
    format!("{} {cut}{ellipsis}", v.get_type())
}

/// Why a rule the query selected must not be revoked, if it must not.
fn guard(rule: &Permission) -> Option<ReviewReason> {
    match rule.direction {
        Direction::Ingress => {}
        Direction::Egress => return Some(ReviewReason::SelectedEgress),
        Direction::Unparsed(_) => return Some(ReviewReason::UnknownDirection),
    }
    match rule.policy {
        Policy::Accept => {}
        Policy::Drop => return Some(ReviewReason::SelectedDrop),
        Policy::Unparsed(_) => return Some(ReviewReason::UnknownPolicy),
    }
    if !rule.is_world_open() {
        return Some(ReviewReason::SelectedNotWorld);
    }
    if let Protocol::Unparsed(_) = rule.protocol {
        return Some(ReviewReason::UnknownProtocol);
    }
    if rule.protocol.has_ports() {
        if rule.port_range_list_id.is_some() {
            return Some(ReviewReason::PortRangeList);
        }
        if let PortRange::Unparsed(_) = rule.port_range {
            return Some(ReviewReason::UnreadablePortRange);
        }
    }
    None
}

/// For a rule the query did not select: whether it may open a risky port to the world but
/// cannot be judged from the data (so the default query could not have selected it).
fn unjudgeable(rule: &Permission, risky: &RiskyPorts) -> Option<ReviewReason> {
    if matches!(rule.direction, Direction::Egress) || matches!(rule.policy, Policy::Drop) {
        return None;
    }
    let unreadable_address = |a: &Option<Address>| matches!(a, Some(Address::Unparsed(_)));
    let world = rule.is_world_open();
    let prefix_list = rule.source_prefix_list_id.is_some();
    let unreadable_source =
        unreadable_address(&rule.source_cidr) || unreadable_address(&rule.ipv6_source_cidr);
    if !(world || prefix_list || unreadable_source) {
        return None;
    }
    let unknown_protocol = matches!(rule.protocol, Protocol::Unparsed(_));
    if !(rule.protocol.has_ports() || unknown_protocol) {
        return None;
    }
    let port_list = rule.port_range_list_id.is_some();
    let unreadable_ports = matches!(rule.port_range, PortRange::Unparsed(_));
    if !(port_list || unreadable_ports) && risky.opened_by(&rule.port_range).is_empty() {
        return None;
    }
    // It would be a candidate if everything were known; name the first thing that is not.
    if let Direction::Unparsed(_) = rule.direction {
        Some(ReviewReason::UnknownDirection)
    } else if let Policy::Unparsed(_) = rule.policy {
        Some(ReviewReason::UnknownPolicy)
    } else if unknown_protocol {
        Some(ReviewReason::UnknownProtocol)
    } else if !world && prefix_list {
        Some(ReviewReason::PrefixListSource)
    } else if !world {
        Some(ReviewReason::UnreadableSource)
    } else if port_list {
        Some(ReviewReason::PortRangeList)
    } else if unreadable_ports {
        Some(ReviewReason::UnreadablePortRange)
    } else if rule.rule_id.is_none() {
        Some(ReviewReason::MissingRuleId)
    } else {
        None
    }
}

/// Whether revoking `rule` removes more than `ports`.
fn collateral(rule: &Permission, ports: &[PortSpan]) -> bool {
    if !rule.protocol.has_ports() || rule.protocol == Protocol::All {
        return true;
    }
    let width = match rule.port_range {
        PortRange::All => 65535,
        PortRange::Range { from, to } => u32::from(to) - u32::from(from) + 1,
        PortRange::Unparsed(_) => return true,
    };
    let judged: u32 = ports
        .iter()
        .map(|s| u32::from(s.to) - u32::from(s.from) + 1)
        .sum();
    width > judged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_query_is_far_within_the_depth_bounds() {
        let query = jmespath::compile(DEFAULT_QUERY).unwrap();
        let depth = ast_depth(query.as_ast());
        assert!(depth <= MAX_SELECTOR_DEPTH / 4, "{depth}");
        assert!(text_depth(DEFAULT_QUERY) <= MAX_SELECTOR_DEPTH / 8);
    }
}

//! A static checker for Terraform modules, against the alicloud provider schema.
//!
//! No `terraform` binary and no provider download are available where the tests run, so
//! `terraform validate` cannot be used. This checker does what matters for our module instead:
//! it parses every `.tf` file with `hcl-rs` and checks each resource and data block against the
//! provider schema extracted from the provider's Go source (arguments, nested blocks, enums,
//! integer ranges, ExactlyOneOf and ConflictsWith, deprecations), and it checks references
//! (`var.*`, `local.*`, resources, data sources, module outputs) like Terraform's own loader.
//!
//! Terraform refuses a `count` or `for_each` it cannot know at plan time ("Invalid count
//! argument"), which only a real plan shows. The checker follows each one through locals and
//! data sources and reports any that depends on a resource attribute or a module output, and
//! any module call that feeds such a value to a variable deciding a `count` in the called module.
//!
//! A value given through a variable is checked through the variable: its default, and the
//! values its `validation` allows (`contains([...], var.x)` for enums, `var.x >= a && var.x <= b`
//! for ranges). A variable that feeds an enum or a range without such a validation is reported,
//! because then any value would reach the provider.
//!
//! Also here: the provider version bounds of a module ([`provider_bounds`]), Terraform's string
//! functions for evaluating `validation` conditions ([`eval`]), and a reader for the YAML subset
//! of Serverless Devs' `s.yaml` ([`yaml`]). The assertions about this project's `terraform/`
//! and `s.yaml` live in its tests (tests/terraform.rs, tests/serverless_devs.rs).

pub mod eval;
pub mod tf;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use hcl::expr::{
    BinaryOperator, Expression, ObjectKey, Operation, TemplateExpr, TraversalOperator,
};
use hcl::template::{Directive, Element, Template};
use hcl::{Block, Body};
use serde::Deserialize;

// ---------------------------------------------------------------------------------------------
// Provider schema (tests/fixtures/terraform/alicloud-schema-subset.json)
// ---------------------------------------------------------------------------------------------

/// The provider schema: the provider block and every resource and data source we use.
#[derive(Debug, Deserialize)]
pub struct Schema {
    /// The `provider "alicloud"` block's arguments.
    pub provider: ResourceSchema,
    /// Every resource type the module uses, by type name.
    pub resources: BTreeMap<String, ResourceSchema>,
    /// Every data source the module uses, by type name.
    pub data_sources: BTreeMap<String, ResourceSchema>,
}

impl Schema {
    /// Reads the checked-in schema subset (tests/fixtures/terraform/alicloud-schema-subset.json).
    pub fn from_json(json: &str) -> Result<Schema, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Arguments and nested blocks of a resource, a data source, the provider or a nested block.
#[derive(Debug, Default, Deserialize)]
pub struct ResourceSchema {
    #[serde(default)]
    /// Arguments by name.
    pub args: BTreeMap<String, ArgSchema>,
    #[serde(default)]
    /// Nested blocks by name.
    pub blocks: BTreeMap<String, BlockSchema>,
}

#[derive(Debug, Deserialize)]
/// One argument as the provider declares it: what a module may set and what it may set it to.
pub struct ArgSchema {
    #[serde(rename = "type")]
    /// The Terraform type (`string`, `number`, `bool`, `list`, …), to catch a value of the wrong
    /// kind.
    pub ty: String,
    #[serde(default)]
    /// The module must set it.
    pub required: bool,
    /// `required || optional`: false for computed-only attributes.
    #[serde(default)]
    pub settable: bool,
    #[serde(default)]
    /// Set when the provider warns on use: the module should not use it.
    pub deprecated: Option<serde_json::Value>,
    #[serde(default)]
    /// The argument the provider says to use instead, named in the finding.
    pub replaced_by: Option<String>,
    #[serde(default)]
    /// The values the provider accepts, when it declares an enum.
    pub values: Option<Vec<String>>,
    #[serde(default)]
    /// The provider's `ValidateFunc`, when it is one the checker evaluates.
    pub validation: Option<Validation>,
    #[serde(default)]
    /// Arguments of which exactly one must be set.
    pub exactly_one_of: Option<Vec<String>>,
    #[serde(default)]
    /// Arguments that must not be set together with this one.
    pub conflicts_with: Option<Vec<String>>,
}

impl ArgSchema {
    fn is_deprecated(&self) -> bool {
        !matches!(self.deprecated, None | Some(serde_json::Value::Null))
    }

    /// The enum the provider enforces at plan time, if any.
    fn allowed_values(&self) -> Option<&[String]> {
        match (&self.values, &self.validation) {
            (Some(values), _) => Some(values),
            (None, Some(Validation::Enum { values })) => Some(values),
            _ => None,
        }
    }

    /// The numeric range the provider enforces, if any (inclusive).
    fn range(&self) -> Option<(f64, f64)> {
        match self.validation {
            Some(Validation::IntRange { min, max }) => Some((min as f64, max as f64)),
            Some(Validation::FloatRange { min, max }) => Some((min, max)),
            Some(Validation::IntAtLeast { min }) => Some((min as f64, f64::INFINITY)),
            _ => None,
        }
    }
}

/// A parsed provider `ValidateFunc`; only the kinds this checker evaluates are distinguished.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validation {
    /// `validation.StringInSlice`: the value must be one of these.
    Enum {
        /// The accepted values.
        values: Vec<String>,
    },
    /// `validation.IntBetween`: an integer in an inclusive range.
    IntRange {
        /// The lowest accepted value.
        min: i64,
        /// The highest accepted value.
        max: i64,
    },
    /// `validation.FloatBetween`: a number in an inclusive range.
    FloatRange {
        /// The lowest accepted value.
        min: f64,
        /// The highest accepted value.
        max: f64,
    },
    /// `validation.IntAtLeast`: an integer with a lower bound.
    IntAtLeast {
        /// The lowest accepted value.
        min: i64,
    },
    #[serde(other)]
    /// Any other validation: not evaluated, so never reported.
    Other,
}

#[derive(Debug, Deserialize)]
/// One nested block as the provider declares it: whether it is needed and how often it may appear.
pub struct BlockSchema {
    #[serde(default)]
    /// The module must write it.
    pub required: bool,
    #[serde(default)]
    /// The fewest times it may appear, when bounded.
    pub min_items: Option<u64>,
    #[serde(default)]
    /// The most times it may appear, when bounded.
    pub max_items: Option<u64>,
    #[serde(default)]
    /// Set when the provider warns on use: the module should not use it.
    pub deprecated: Option<serde_json::Value>,
    #[serde(default)]
    /// Arguments by name.
    pub args: BTreeMap<String, ArgSchema>,
    #[serde(default)]
    /// Nested blocks by name.
    pub blocks: BTreeMap<String, BlockSchema>,
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

/// One problem, with where it is (`dir/file.tf: resource.type.name.block.argument`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Where: `dir/file.tf: resource.type.name.block.argument`.
    pub at: String,
    /// What is wrong and, when known, what to write instead.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

// ---------------------------------------------------------------------------------------------
// Modules
// ---------------------------------------------------------------------------------------------

/// The `.tf` files of one directory: one Terraform module.
#[derive(Debug)]
pub struct Module {
    /// The module's directory, for the findings' locations.
    pub dir: PathBuf,
    /// Each file's name and parsed body, in name order.
    pub files: Vec<(String, Body)>,
}

/// A block found in a module, with the file it is in.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    /// The file's name, for the finding's location.
    pub file: &'a str,
    /// The block itself.
    pub block: &'a Block,
}

impl Module {
    /// Parses every `*.tf` file directly in `dir`, in name order.
    pub fn load(dir: &Path) -> Result<Module, String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tf"))
            .collect();
        names.sort();
        let mut sources = Vec::new();
        for name in names {
            let text = std::fs::read_to_string(dir.join(&name))
                .map_err(|e| format!("{}/{name}: {e}", dir.display()))?;
            sources.push((name, text));
        }
        let borrowed: Vec<(&str, &str)> = sources
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Module::from_sources(dir, &borrowed)
    }

    /// Every module under `root` (the directories holding `.tf` files, hidden ones skipped),
    /// in path order.
    pub fn load_tree(root: &Path) -> Result<Vec<Module>, String> {
        let mut dirs = Vec::new();
        module_dirs(root, &mut dirs)?;
        dirs.iter().map(|dir| Module::load(dir)).collect()
    }

    /// Parses in-memory files (used by the checker's own tests).
    pub fn from_sources(dir: &Path, files: &[(&str, &str)]) -> Result<Module, String> {
        let mut parsed = Vec::new();
        for (name, text) in files {
            let body = hcl::parse(text).map_err(|e| format!("{}/{name}: {e}", dir.display()))?;
            parsed.push((name.to_string(), body));
        }
        Ok(Module {
            dir: dir.to_path_buf(),
            files: parsed,
        })
    }

    fn top_blocks<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = Located<'a>> + 'a {
        self.files.iter().flat_map(move |(file, body)| {
            body.blocks()
                .filter(move |b| b.identifier() == kind)
                .map(move |block| Located { file, block })
        })
    }

    fn where_(&self, file: &str) -> String {
        format!("{}/{file}", self.dir.display())
    }

    /// `variable "name"` blocks by name.
    pub fn variables(&self) -> BTreeMap<String, Located<'_>> {
        self.labelled("variable", 1)
    }

    /// `output "name"` blocks by name.
    pub fn outputs(&self) -> BTreeMap<String, Located<'_>> {
        self.labelled("output", 1)
    }

    /// `module "name"` blocks by name.
    pub fn module_calls(&self) -> BTreeMap<String, Located<'_>> {
        self.labelled("module", 1)
    }

    /// `resource "type" "name"` blocks by `type.name`.
    pub fn resources(&self) -> BTreeMap<String, Located<'_>> {
        self.labelled("resource", 2)
    }

    /// `data "type" "name"` blocks by `type.name`.
    pub fn data_sources(&self) -> BTreeMap<String, Located<'_>> {
        self.labelled("data", 2)
    }

    fn labelled<'a>(&'a self, kind: &'a str, labels: usize) -> BTreeMap<String, Located<'a>> {
        self.top_blocks(kind)
            .filter(|l| l.block.labels().len() == labels)
            .map(|l| {
                let key = l
                    .block
                    .labels()
                    .iter()
                    .map(|label| label.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                (key, l)
            })
            .collect()
    }

    /// Every `locals` entry by name.
    pub fn locals(&self) -> BTreeMap<String, &Expression> {
        self.top_blocks("locals")
            .flat_map(|l| l.block.body().attributes())
            .map(|attr| (attr.key().to_string(), attr.expr()))
            .collect()
    }
}

/// Every directory under `dir` (itself included) that holds `.tf` files.
fn module_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    if entries
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "tf"))
    {
        out.push(dir.to_path_buf());
    }
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_dir() && !hidden {
            module_dirs(&path, out)?;
        }
    }
    Ok(())
}

/// An attribute of a block body.
pub fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// The nested blocks of a body with this identifier.
pub fn blocks<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == ident)
}

/// The key of an object entry as written (`ports = …` and `"ports" = …` are both `ports`).
pub fn object_key(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Identifier(ident) => Some(ident.to_string()),
        ObjectKey::Expression(Expression::Variable(v)) => Some(v.to_string()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `var.name` → `Some("name")`.
pub fn var_name(expr: &Expression) -> Option<&str> {
    reference_path(expr).and_then(|path| match path.as_slice() {
        [root, name] if *root == "var" => Some(*name),
        _ => None,
    })
}

/// `local.name` → `Some("name")`.
pub fn local_name(expr: &Expression) -> Option<&str> {
    reference_path(expr).and_then(|path| match path.as_slice() {
        [root, name] if *root == "local" => Some(*name),
        _ => None,
    })
}

/// A plain reference (`a.b.c`, no index or splat) as its parts.
pub fn reference_path(expr: &Expression) -> Option<Vec<&str>> {
    match expr {
        Expression::Variable(v) => Some(vec![v.as_str()]),
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else {
                return None;
            };
            let mut path = vec![root.as_str()];
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(name) => path.push(name.as_str()),
                    _ => return None,
                }
            }
            Some(path)
        }
        Expression::Parenthesis(inner) => reference_path(inner),
        _ => None,
    }
}

/// A string literal (`"x"` with no interpolation).
pub fn string_literal(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) if !s.contains("${") && !s.contains("%{") => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn number_literal(expr: &Expression) -> Option<f64> {
    match expr {
        Expression::Number(n) => n.as_f64(),
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => number_literal(&u.expr).map(|n| -n),
            Operation::Binary(_) => None,
        },
        _ => None,
    }
}

/// A literal rendered as Terraform would convert it to a string.
fn literal_text(expr: &Expression) -> Option<String> {
    match expr {
        Expression::Bool(b) => Some(b.to_string()),
        Expression::Number(n) => Some(n.to_string()),
        _ => string_literal(expr).map(str::to_string),
    }
}

// ---------------------------------------------------------------------------------------------
// Variables: what values can reach an argument
// ---------------------------------------------------------------------------------------------

/// The top-level `&&` terms of a condition.
fn conjuncts(expr: &Expression) -> Vec<&Expression> {
    match expr {
        Expression::Operation(op) => match op.as_ref() {
            Operation::Binary(b) if b.operator == BinaryOperator::And => {
                let mut all = conjuncts(&b.lhs_expr);
                all.extend(conjuncts(&b.rhs_expr));
                all
            }
            _ => vec![expr],
        },
        Expression::Parenthesis(inner) => conjuncts(inner),
        _ => vec![expr],
    }
}

/// The conditions of a variable's `validation` blocks.
fn validation_conditions(variable: &Block) -> Vec<&Expression> {
    blocks(variable.body(), "validation")
        .filter_map(|v| attr(v.body(), "condition"))
        .collect()
}

/// The list in `contains([...], var.name)` of a variable's validation, if any.
pub fn allowed_by_validation(variable: &Block, name: &str) -> Option<Vec<String>> {
    for condition in validation_conditions(variable) {
        for term in conjuncts(condition) {
            let Expression::FuncCall(call) = term else {
                continue;
            };
            if call.name.name.as_str() != "contains" || call.args.len() != 2 {
                continue;
            }
            if var_name(&call.args[1]) != Some(name) {
                continue;
            }
            let Expression::Array(items) = &call.args[0] else {
                continue;
            };
            return items.iter().map(literal_text).collect();
        }
    }
    None
}

/// The interval `var.name >= a && var.name <= b` (any of `>`, `>=`, `<`, `<=`) of a variable's
/// validation; `None` unless both ends are bounded.
pub fn bounds_by_validation(variable: &Block, name: &str) -> Option<(f64, f64)> {
    let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
    for condition in validation_conditions(variable) {
        for term in conjuncts(condition) {
            let Expression::Operation(op) = term else {
                continue;
            };
            let Operation::Binary(b) = op.as_ref() else {
                continue;
            };
            // Normalise to `var.name <op> number`.
            let (op, n) = match (
                var_name(&b.lhs_expr),
                number_literal(&b.rhs_expr),
                var_name(&b.rhs_expr),
                number_literal(&b.lhs_expr),
            ) {
                (Some(v), Some(n), _, _) if v == name => (b.operator, n),
                (_, _, Some(v), Some(n)) if v == name => (flip(b.operator), n),
                _ => continue,
            };
            match op {
                BinaryOperator::GreaterEq | BinaryOperator::Greater => low = low.max(n),
                BinaryOperator::LessEq | BinaryOperator::Less => high = high.min(n),
                _ => {}
            }
        }
    }
    (low.is_finite() && high.is_finite()).then_some((low, high))
}

fn flip(op: BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Less => BinaryOperator::Greater,
        BinaryOperator::LessEq => BinaryOperator::GreaterEq,
        BinaryOperator::Greater => BinaryOperator::Less,
        BinaryOperator::GreaterEq => BinaryOperator::LessEq,
        other => other,
    }
}

/// What the checker can tell about the values an expression may take.
enum Possible<T> {
    /// Exactly these (literals, or a variable restricted by its validation).
    Known(T),
    /// Computed from other resources or functions: not checkable statically.
    Unknown,
    /// A variable reaches the argument without a validation restricting it.
    Unrestricted(String),
}

struct Values<'m> {
    variables: BTreeMap<String, Located<'m>>,
    locals: BTreeMap<String, &'m Expression>,
}

impl<'m> Values<'m> {
    fn new(module: &'m Module) -> Self {
        Values {
            variables: module.variables(),
            locals: module.locals(),
        }
    }

    fn strings(&self, expr: &Expression, depth: usize) -> Possible<BTreeSet<String>> {
        if depth > 16 {
            return Possible::Unknown;
        }
        if let Some(text) = literal_text(expr) {
            return Possible::Known(BTreeSet::from([text]));
        }
        if let Some(name) = var_name(expr) {
            let Some(variable) = self.variables.get(name) else {
                return Possible::Unknown; // reported as an undeclared reference
            };
            let Some(allowed) = allowed_by_validation(variable.block, name) else {
                return Possible::Unrestricted(format!(
                    "var.{name} has no validation `contains([...], var.{name})` listing its values"
                ));
            };
            let mut all: BTreeSet<String> = allowed.into_iter().collect();
            if let Some(default) = attr(variable.block.body(), "default").and_then(literal_text) {
                all.insert(default);
            }
            return Possible::Known(all);
        }
        if let Some(name) = local_name(expr) {
            return match self.locals.get(name) {
                Some(local) => self.strings(local, depth + 1),
                None => Possible::Unknown,
            };
        }
        match expr {
            Expression::Conditional(c) => {
                match (
                    self.strings(&c.true_expr, depth + 1),
                    self.strings(&c.false_expr, depth + 1),
                ) {
                    (Possible::Known(mut a), Possible::Known(b)) => {
                        a.extend(b);
                        Possible::Known(a)
                    }
                    (Possible::Unrestricted(why), _) | (_, Possible::Unrestricted(why)) => {
                        Possible::Unrestricted(why)
                    }
                    _ => Possible::Unknown,
                }
            }
            Expression::Parenthesis(inner) => self.strings(inner, depth + 1),
            _ => Possible::Unknown,
        }
    }

    fn interval(&self, expr: &Expression, depth: usize) -> Possible<(f64, f64)> {
        if depth > 16 {
            return Possible::Unknown;
        }
        if let Some(n) = number_literal(expr) {
            return Possible::Known((n, n));
        }
        if let Some(name) = var_name(expr) {
            let Some(variable) = self.variables.get(name) else {
                return Possible::Unknown;
            };
            let Some((mut low, mut high)) = bounds_by_validation(variable.block, name) else {
                return Possible::Unrestricted(format!(
                    "var.{name} has no validation bounding it (`var.{name} >= a && var.{name} <= b`)"
                ));
            };
            if let Some(default) = attr(variable.block.body(), "default").and_then(number_literal) {
                low = low.min(default);
                high = high.max(default);
            }
            return Possible::Known((low, high));
        }
        if let Some(name) = local_name(expr) {
            return match self.locals.get(name) {
                Some(local) => self.interval(local, depth + 1),
                None => Possible::Unknown,
            };
        }
        match expr {
            Expression::Conditional(c) => {
                match (
                    self.interval(&c.true_expr, depth + 1),
                    self.interval(&c.false_expr, depth + 1),
                ) {
                    (Possible::Known(a), Possible::Known(b)) => {
                        Possible::Known((a.0.min(b.0), a.1.max(b.1)))
                    }
                    (Possible::Unrestricted(why), _) | (_, Possible::Unrestricted(why)) => {
                        Possible::Unrestricted(why)
                    }
                    _ => Possible::Unknown,
                }
            }
            Expression::Parenthesis(inner) => self.interval(inner, depth + 1),
            _ => Possible::Unknown,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema checks
// ---------------------------------------------------------------------------------------------

/// Meta-arguments Terraform accepts on every resource and data block.
const META_ARGS: &[&str] = &["count", "for_each", "depends_on", "provider"];
/// Meta-arguments Terraform accepts on provider blocks.
const PROVIDER_META_ARGS: &[&str] = &["alias"];
/// Meta-blocks Terraform accepts on resources (`lifecycle` also on data sources).
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection"];

struct Checker<'m> {
    module: &'m Module,
    /// `(resource type, argument)` pairs that must be set even where the schema leaves them
    /// optional.
    always_set: &'m [(&'m str, &'m str)],
    values: Values<'m>,
    findings: Vec<Finding>,
}

impl Checker<'_> {
    fn report(&mut self, file: &str, at: &str, message: impl Into<String>) {
        self.findings.push(Finding {
            at: format!("{}: {at}", self.module.where_(file)),
            message: message.into(),
        });
    }

    /// Checks one body (resource, data source, provider or nested block) against its schema.
    fn check_body(
        &mut self,
        file: &str,
        at: &str,
        args: &BTreeMap<String, ArgSchema>,
        nested: &BTreeMap<String, BlockSchema>,
        body: &Body,
        meta: bool,
    ) {
        let mut set: BTreeSet<&str> = BTreeSet::new();
        for attribute in body.attributes() {
            let key = attribute.key();
            if (meta && META_ARGS.contains(&key))
                || (at.starts_with("provider.") && PROVIDER_META_ARGS.contains(&key))
            {
                continue;
            }
            if !set.insert(key) {
                self.report(file, &format!("{at}.{key}"), "argument set more than once");
            }
            let Some(arg) = args.get(key) else {
                if nested.contains_key(key) {
                    self.report(
                        file,
                        &format!("{at}.{key}"),
                        format!("`{key}` is a block: write `{key} {{ ... }}`"),
                    );
                } else {
                    self.report(file, &format!("{at}.{key}"), "unknown argument");
                }
                continue;
            };
            self.check_arg(file, &format!("{at}.{key}"), arg, attribute.expr());
        }

        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for block in body.blocks() {
            let (name, content) = match block.identifier() {
                "dynamic" => match block.labels().first() {
                    Some(label) => (
                        label.as_str(),
                        blocks(block.body(), "content").next().map(|b| b.body()),
                    ),
                    None => {
                        self.report(file, at, "`dynamic` block without a label");
                        continue;
                    }
                },
                ident => (ident, Some(block.body())),
            };
            if meta && META_BLOCKS.contains(&name) {
                continue;
            }
            let Some(schema) = nested.get(name) else {
                match args.get(name) {
                    Some(arg) if !arg.settable => self.report(
                        file,
                        &format!("{at}.{name}"),
                        "computed-only attribute, cannot be set",
                    ),
                    Some(_) => self.report(
                        file,
                        &format!("{at}.{name}"),
                        format!("`{name}` is an argument: write `{name} = ...`"),
                    ),
                    None => self.report(file, &format!("{at}.{name}"), "unknown block"),
                }
                continue;
            };
            *counts.entry(name).or_default() += 1;
            if !matches!(schema.deprecated, None | Some(serde_json::Value::Null)) {
                self.report(file, &format!("{at}.{name}"), "deprecated block");
            }
            if let Some(content) = content {
                let child_at = format!("{at}.{name}");
                self.check_body(
                    file,
                    &child_at,
                    &schema.args,
                    &schema.blocks,
                    content,
                    false,
                );
            }
        }
        for (name, schema) in nested {
            let count = counts.get(name.as_str()).copied().unwrap_or(0);
            if let Some(max) = schema.max_items {
                if count > max {
                    self.report(
                        file,
                        &format!("{at}.{name}"),
                        format!("block given {count} times, at most {max} allowed"),
                    );
                }
            }
            let min = schema
                .min_items
                .unwrap_or(0)
                .max(u64::from(schema.required));
            if count < min {
                self.report(
                    file,
                    &format!("{at}.{name}"),
                    format!("missing required block (at least {min})"),
                );
            }
        }

        for (name, arg) in args {
            if arg.required && !set.contains(name.as_str()) {
                self.report(file, &format!("{at}.{name}"), "missing required argument");
            }
        }
        let mut groups: BTreeSet<Vec<&str>> = BTreeSet::new();
        for (name, arg) in args {
            if let Some(group) = &arg.exactly_one_of {
                let mut group: Vec<&str> = group.iter().map(String::as_str).collect();
                group.sort_unstable();
                groups.insert(group);
            }
            if let Some(conflicts) = &arg.conflicts_with {
                if set.contains(name.as_str()) {
                    for other in conflicts.iter().filter(|o| set.contains(o.as_str())) {
                        self.report(
                            file,
                            &format!("{at}.{name}"),
                            format!("conflicts with `{other}`"),
                        );
                    }
                }
            }
        }
        for group in groups {
            let given = group.iter().filter(|n| set.contains(*n)).count();
            if given != 1 {
                self.report(
                    file,
                    at,
                    format!(
                        "exactly one of [{}] must be set, found {given}",
                        group.join(", ")
                    ),
                );
            }
        }
    }

    fn check_arg(&mut self, file: &str, at: &str, arg: &ArgSchema, expr: &Expression) {
        if !arg.settable {
            self.report(file, at, "computed-only attribute, cannot be set");
            return;
        }
        if arg.is_deprecated() {
            let instead = arg
                .replaced_by
                .as_deref()
                .map(|r| format!(" (use `{r}`)"))
                .unwrap_or_default();
            self.report(file, at, format!("deprecated argument{instead}"));
        }
        if let Some(problem) = literal_type_mismatch(&arg.ty, expr) {
            self.report(file, at, problem);
        }
        if let Some(allowed) = arg.allowed_values() {
            match self.values.strings(expr, 0) {
                Possible::Known(values) => {
                    for value in values.iter().filter(|v| !allowed.contains(v)) {
                        self.report(
                            file,
                            at,
                            format!("value {value:?} is not one of [{}]", allowed.join(", ")),
                        );
                    }
                }
                Possible::Unrestricted(why) => {
                    self.report(file, at, format!("enum argument not checkable: {why}"))
                }
                Possible::Unknown => {}
            }
        }
        if let Some((min, max)) = arg.range() {
            match self.values.interval(expr, 0) {
                Possible::Known((low, high)) => {
                    if low < min || high > max {
                        self.report(
                            file,
                            at,
                            format!("value range {low}..={high} is outside {min}..={max}"),
                        );
                    }
                }
                Possible::Unrestricted(why) => {
                    self.report(file, at, format!("range argument not checkable: {why}"))
                }
                Possible::Unknown => {}
            }
        }
    }

    fn check_resources(&mut self, schema: &Schema) {
        let module = self.module;
        let kinds = [
            ("resource", &schema.resources, module.resources()),
            ("data", &schema.data_sources, module.data_sources()),
        ];
        for (kind, table, located) in kinds {
            for (key, l) in located {
                let ty = l.block.labels()[0].as_str();
                let at = format!("{kind}.{key}");
                let Some(resource) = table.get(ty) else {
                    self.report(
                        l.file,
                        &at,
                        format!("{kind} type `{ty}` is not in the schema"),
                    );
                    continue;
                };
                self.check_body(
                    l.file,
                    &at,
                    &resource.args,
                    &resource.blocks,
                    l.block.body(),
                    true,
                );
                for (rty, arg) in self.always_set {
                    if *rty == ty && kind == "resource" && attr(l.block.body(), arg).is_none() {
                        self.report(
                            l.file,
                            &format!("{at}.{arg}"),
                            "must be set explicitly (project rule)",
                        );
                    }
                }
            }
        }
        for l in self.module.top_blocks("provider").collect::<Vec<_>>() {
            let name = l.block.labels().first().map(|x| x.as_str()).unwrap_or("");
            if name != "alicloud" {
                continue;
            }
            self.check_body(
                l.file,
                "provider.alicloud",
                &schema.provider.args,
                &schema.provider.blocks,
                l.block.body(),
                false,
            );
            if attr(l.block.body(), "region").is_none() {
                self.report(
                    l.file,
                    "provider.alicloud.region",
                    "set the region: without it the provider falls back to cn-beijing",
                );
            }
        }
    }
}

/// A literal whose shape cannot convert to the argument's type (`timeout = "long"`).
fn literal_type_mismatch(ty: &str, expr: &Expression) -> Option<String> {
    let given = match expr {
        Expression::Bool(_) => "bool",
        Expression::Number(_) => "number",
        Expression::Array(_) => "list",
        Expression::Object(_) => "object",
        _ if string_literal(expr).is_some() => "string",
        _ => return None,
    };
    let fits = match ty.split('(').next().unwrap_or(ty) {
        "string" => matches!(given, "string" | "number" | "bool"),
        "number" => {
            given == "number" || string_literal(expr).is_some_and(|s| s.parse::<f64>().is_ok())
        }
        "bool" => given == "bool" || matches!(string_literal(expr), Some("true" | "false")),
        "list" | "set" => given == "list",
        "map" => given == "object",
        _ => true,
    };
    (!fits).then(|| format!("a {given} literal cannot be a {ty}"))
}

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

/// Every reference in an expression, as its leading attribute path, with the names bound by
/// enclosing `for` expressions removed.
pub fn references(expr: &Expression) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    collect_refs(expr, &mut Vec::new(), &mut found);
    found
}

fn collect_refs(expr: &Expression, bound: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match expr {
        Expression::Variable(v) if !bound.iter().any(|b| b == v.as_str()) => {
            out.push(vec![v.to_string()]);
        }
        Expression::Traversal(t) => {
            if let Expression::Variable(root) = &t.expr {
                if !bound.iter().any(|b| b == root.as_str()) {
                    let mut path = vec![root.to_string()];
                    for op in &t.operators {
                        match op {
                            TraversalOperator::GetAttr(name) => path.push(name.to_string()),
                            _ => break,
                        }
                    }
                    out.push(path);
                }
            } else {
                collect_refs(&t.expr, bound, out);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(index) = op {
                    collect_refs(index, bound, out);
                }
            }
        }
        Expression::Array(items) => items.iter().for_each(|e| collect_refs(e, bound, out)),
        Expression::Object(object) => {
            for (key, value) in object.iter() {
                if let ObjectKey::Expression(key) = key {
                    // A bare identifier key is a literal name, not a reference.
                    if !matches!(key, Expression::Variable(_)) {
                        collect_refs(key, bound, out);
                    }
                }
                collect_refs(value, bound, out);
            }
        }
        Expression::TemplateExpr(t) => {
            if let Ok(template) = Template::from_expr(t) {
                collect_template_refs(&template, bound, out);
            }
        }
        Expression::FuncCall(call) => call.args.iter().for_each(|e| collect_refs(e, bound, out)),
        Expression::Parenthesis(inner) => collect_refs(inner, bound, out),
        Expression::Conditional(c) => {
            collect_refs(&c.cond_expr, bound, out);
            collect_refs(&c.true_expr, bound, out);
            collect_refs(&c.false_expr, bound, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => collect_refs(&u.expr, bound, out),
            Operation::Binary(b) => {
                collect_refs(&b.lhs_expr, bound, out);
                collect_refs(&b.rhs_expr, bound, out);
            }
        },
        Expression::ForExpr(f) => {
            collect_refs(&f.collection_expr, bound, out);
            let before = bound.len();
            if let Some(key) = &f.key_var {
                bound.push(key.to_string());
            }
            bound.push(f.value_var.to_string());
            if let Some(key_expr) = &f.key_expr {
                collect_refs(key_expr, bound, out);
            }
            collect_refs(&f.value_expr, bound, out);
            if let Some(cond) = &f.cond_expr {
                collect_refs(cond, bound, out);
            }
            bound.truncate(before);
        }
        _ => {}
    }
}

fn collect_template_refs(template: &Template, bound: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for element in template.elements() {
        match element {
            Element::Literal(_) => {}
            Element::Interpolation(i) => collect_refs(&i.expr, bound, out),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    collect_refs(&d.cond_expr, bound, out);
                    collect_template_refs(&d.true_template, bound, out);
                    if let Some(f) = &d.false_template {
                        collect_template_refs(f, bound, out);
                    }
                }
                Directive::For(d) => {
                    collect_refs(&d.collection_expr, bound, out);
                    let before = bound.len();
                    if let Some(key) = &d.key_var {
                        bound.push(key.to_string());
                    }
                    bound.push(d.value_var.to_string());
                    collect_template_refs(&d.template, bound, out);
                    bound.truncate(before);
                }
            },
        }
    }
}

/// Attributes whose expressions are not value references (provider addresses, lifecycle
/// attribute lists).
const NOT_VALUES: &[&str] = &[
    "provider",
    "providers",
    "ignore_changes",
    "replace_triggered_by",
];

/// Every value expression of a top-level block, recursively, except those in [`NOT_VALUES`]
/// and a variable's type constraint.
fn block_expressions(block: &Block) -> Vec<&Expression> {
    let mut out = Vec::new();
    for attribute in block.body().attributes() {
        let is_type = block.identifier() == "variable" && attribute.key() == "type";
        if !is_type && !NOT_VALUES.contains(&attribute.key()) {
            out.push(attribute.expr());
        }
    }
    for nested in block.body().blocks() {
        body_expressions(nested.body(), &mut out);
    }
    out
}

fn body_expressions<'a>(body: &'a Body, out: &mut Vec<&'a Expression>) {
    for attribute in body.attributes() {
        if !NOT_VALUES.contains(&attribute.key()) {
            out.push(attribute.expr());
        }
    }
    for block in body.blocks() {
        body_expressions(block.body(), out);
    }
}

/// Roots that are not declarations of the module.
const BUILTIN_ROOTS: &[&str] = &["path", "terraform", "count", "each", "self"];

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Checker<'_> {
    fn check_references(&mut self, modules: &[Module]) {
        let module = self.module;
        let variables = module.variables();
        let locals = module.locals();
        let resources = module.resources();
        let data = module.data_sources();
        let calls = module.module_calls();
        let mut used_vars: BTreeSet<String> = BTreeSet::new();
        let mut used_locals: BTreeSet<String> = BTreeSet::new();

        for (file, body) in &module.files {
            for block in body.blocks() {
                if block.identifier() == "terraform" {
                    continue;
                }
                for expr in block_expressions(block) {
                    for path in references(expr) {
                        let shown = path.join(".");
                        let root = path[0].as_str();
                        let second = path.get(1).map(String::as_str);
                        match root {
                            "var" => match second {
                                Some(name) if variables.contains_key(name) => {
                                    used_vars.insert(name.to_string());
                                }
                                _ => self.report(file, &shown, "undeclared variable"),
                            },
                            "local" => match second {
                                Some(name) if locals.contains_key(name) => {
                                    used_locals.insert(name.to_string());
                                }
                                _ => self.report(file, &shown, "undeclared local value"),
                            },
                            "data" => {
                                let key = path.get(1..3).map(|p| p.join("."));
                                if !key.is_some_and(|k| data.contains_key(&k)) {
                                    self.report(file, &shown, "undeclared data source");
                                }
                            }
                            "module" => match second.and_then(|name| calls.get(name)) {
                                None => self.report(file, &shown, "undeclared module"),
                                Some(call) => {
                                    if let (Some(output), Some(child)) =
                                        (path.get(2), child_module(module, call.block, modules))
                                    {
                                        if !child.outputs().contains_key(output.as_str()) {
                                            self.report(
                                                file,
                                                &shown,
                                                "the called module has no such output",
                                            );
                                        }
                                    }
                                }
                            },
                            _ if BUILTIN_ROOTS.contains(&root) => {}
                            _ => {
                                let key = path.get(0..2).map(|p| p.join("."));
                                if !key.is_some_and(|k| resources.contains_key(&k)) {
                                    self.report(file, &shown, "undeclared resource");
                                }
                            }
                        }
                    }
                }
            }
        }
        for (name, l) in &variables {
            if !used_vars.contains(name) {
                self.report(
                    l.file,
                    &format!("variable.{name}"),
                    "declared but never used",
                );
            }
        }
        for name in locals.keys() {
            if !used_locals.contains(name) {
                let file = module
                    .top_blocks("locals")
                    .find(|l| attr(l.block.body(), name).is_some())
                    .map(|l| l.file)
                    .unwrap_or("?");
                self.report(file, &format!("local.{name}"), "declared but never used");
            }
        }
    }

    fn check_module_calls(&mut self, modules: &[Module]) {
        const CALL_META: &[&str] = &[
            "source",
            "version",
            "count",
            "for_each",
            "providers",
            "depends_on",
        ];
        for (name, call) in self.module.module_calls() {
            let Some(child) = child_module(self.module, call.block, modules) else {
                self.report(
                    call.file,
                    &format!("module.{name}"),
                    "source is not a module directory under check",
                );
                continue;
            };
            if let Some(providers) = attr(call.block.body(), "providers") {
                self.check_providers_mapping(call.file, &name, providers);
            }
            let child_vars = child.variables();
            let mut given = BTreeSet::new();
            for attribute in call.block.body().attributes() {
                let key = attribute.key();
                if CALL_META.contains(&key) {
                    continue;
                }
                given.insert(key.to_string());
                if !child_vars.contains_key(key) {
                    self.report(
                        call.file,
                        &format!("module.{name}.{key}"),
                        "the called module has no such variable",
                    );
                }
            }
            for (var, l) in &child_vars {
                if attr(l.block.body(), "default").is_none() && !given.contains(var) {
                    self.report(
                        call.file,
                        &format!("module.{name}.{var}"),
                        "missing required module variable",
                    );
                }
            }
        }
    }
}

impl Checker<'_> {
    /// `providers = { alicloud = alicloud.<alias> }`: each value names a provider configuration
    /// of this module (the default one, or an `alias` it declares).
    fn check_providers_mapping(&mut self, file: &str, call: &str, providers: &Expression) {
        let aliases: BTreeSet<String> = self
            .module
            .top_blocks("provider")
            .filter_map(|l| {
                let name = l.block.labels().first()?.as_str();
                let alias = attr(l.block.body(), "alias").and_then(string_literal)?;
                Some(format!("{name}.{alias}"))
            })
            .collect();
        let Expression::Object(entries) = providers else {
            self.report(
                file,
                &format!("module.{call}.providers"),
                "must be an object",
            );
            return;
        };
        for (_, value) in entries.iter() {
            let Some(path) = reference_path(value) else {
                self.report(
                    file,
                    &format!("module.{call}.providers"),
                    "values must be provider references",
                );
                continue;
            };
            let shown = path.join(".");
            if path.len() == 2 && !aliases.contains(&shown) {
                self.report(
                    file,
                    &format!("module.{call}.providers.{shown}"),
                    "no provider block declares this alias",
                );
            }
        }
    }
}

/// The module a `module` block calls, when its `source` is a local path among `modules`.
fn child_module<'a>(parent: &Module, call: &Block, modules: &'a [Module]) -> Option<&'a Module> {
    let source = attr(call.body(), "source").and_then(string_literal)?;
    if !(source.starts_with("./") || source.starts_with("../")) {
        return None;
    }
    let wanted = normalize(&parent.dir.join(source));
    modules.iter().find(|m| normalize(&m.dir) == wanted)
}

// ---------------------------------------------------------------------------------------------
// Plan-time knowledge: `count` and `for_each`
// ---------------------------------------------------------------------------------------------

/// What decides whether an expression is known at plan time.
#[derive(Debug, Default)]
struct PlanTime {
    /// References whose value Terraform knows only after apply (a resource attribute, a module
    /// output, a data source read at apply), each as written.
    unknown: BTreeSet<String>,
    /// Input variables the value depends on: known at plan time in a root module, and in a
    /// called module exactly when the caller's argument is.
    vars: BTreeSet<String>,
}

/// Follows an expression through locals (and data sources, which Terraform reads during plan
/// only when their own arguments are known and they have no `depends_on`) to what it depends on.
fn plan_time(module: &Module, expr: &Expression) -> PlanTime {
    let mut found = PlanTime::default();
    let mut seen = BTreeSet::new();
    plan_time_into(module, expr, &mut found, &mut seen, 0);
    found
}

fn plan_time_into(
    module: &Module,
    expr: &Expression,
    found: &mut PlanTime,
    seen: &mut BTreeSet<String>,
    depth: usize,
) {
    if depth > 32 {
        found
            .unknown
            .insert("(references nest too deeply to follow)".into());
        return;
    }
    for path in references(expr) {
        let shown = path.join(".");
        let root = path[0].as_str();
        match root {
            "var" => {
                if let Some(name) = path.get(1) {
                    found.vars.insert(name.clone());
                }
            }
            "local" => {
                let Some(name) = path.get(1) else { continue };
                if seen.insert(format!("local.{name}")) {
                    if let Some(local) = module.locals().get(name.as_str()) {
                        plan_time_into(module, local, found, seen, depth + 1);
                    }
                }
            }
            "data" => {
                let Some(key) = path.get(1..3).map(|p| p.join(".")) else {
                    continue;
                };
                if !seen.insert(format!("data.{key}")) {
                    continue;
                }
                let Some(data) = module.data_sources().get(&key).map(|l| l.block) else {
                    continue; // reported as an undeclared reference
                };
                if attr(data.body(), "depends_on").is_some() {
                    found.unknown.insert(format!(
                        "{shown} (a data source with depends_on is read at apply)"
                    ));
                    continue;
                }
                let mut inner = PlanTime::default();
                for e in block_expressions(data) {
                    plan_time_into(module, e, &mut inner, seen, depth + 1);
                }
                if inner.unknown.is_empty() {
                    found.vars.extend(inner.vars);
                } else {
                    found.unknown.insert(format!(
                        "{shown} (read at apply: its arguments depend on {})",
                        inner.unknown.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            "module" => {
                found.unknown.insert(format!(
                    "{shown} (a module output; the checker does not follow it into the module)"
                ));
            }
            _ if BUILTIN_ROOTS.contains(&root) => {}
            _ => {
                found.unknown.insert(shown);
            }
        }
    }
}

/// The `count` / `for_each` of every resource, data source and module call of a module, with
/// where it is.
fn repetitions(module: &Module) -> Vec<(&str, String, &Expression)> {
    let mut out = Vec::new();
    let kinds = [
        ("resource", module.resources()),
        ("data", module.data_sources()),
        ("module", module.module_calls()),
    ];
    for (kind, located) in kinds {
        for (key, l) in located {
            for meta in ["count", "for_each"] {
                if let Some(expr) = attr(l.block.body(), meta) {
                    out.push((l.file, format!("{kind}.{key}.{meta}"), expr));
                }
            }
        }
    }
    out
}

/// The input variables of `module` that some `count` / `for_each` depends on, in the module
/// itself or, through a module call's arguments, in a module it calls.
fn plan_time_vars(module: &Module, modules: &[Module], depth: usize) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    if depth > 8 {
        return vars;
    }
    for (_, _, expr) in repetitions(module) {
        vars.extend(plan_time(module, expr).vars);
    }
    for (_, call) in module.module_calls() {
        let Some(child) = child_module(module, call.block, modules) else {
            continue;
        };
        for var in plan_time_vars(child, modules, depth + 1) {
            if let Some(argument) = attr(call.block.body(), &var) {
                vars.extend(plan_time(module, argument).vars);
            }
        }
    }
    vars
}

impl Checker<'_> {
    /// Terraform refuses a `count` or `for_each` it cannot know at plan time ("Invalid count
    /// argument"): each must depend on input variables, locals, literals and data sources read
    /// during plan only, and every module call must feed the variables a called module's
    /// `count` / `for_each` depend on with such values too.
    fn check_plan_time_repetitions(&mut self, modules: &[Module]) {
        let module = self.module;
        for (file, at, expr) in repetitions(module) {
            for unknown in plan_time(module, expr).unknown {
                self.report(
                    file,
                    &at,
                    format!("must be known at plan time, but depends on {unknown}, known only after apply"),
                );
            }
        }
        for (name, call) in module.module_calls() {
            let Some(child) = child_module(module, call.block, modules) else {
                continue;
            };
            for var in plan_time_vars(child, modules, 0) {
                let Some(argument) = attr(call.block.body(), &var) else {
                    continue;
                };
                for unknown in plan_time(module, argument).unknown {
                    self.report(
                        call.file,
                        &format!("module.{name}.{var}"),
                        format!(
                            "decides a count or for_each in the called module, so it must be known at plan time, but depends on {unknown}, known only after apply"
                        ),
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Checks every module in `modules` (module calls between them are resolved). `always_set`
/// lists `(resource type, argument)` pairs a project requires beyond the schema (reported as
/// "must be set explicitly (project rule)").
pub fn check(schema: &Schema, modules: &[Module], always_set: &[(&str, &str)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for module in modules {
        let mut checker = Checker {
            module,
            always_set,
            values: Values::new(module),
            findings: Vec::new(),
        };
        checker.check_resources(schema);
        checker.check_references(modules);
        checker.check_module_calls(modules);
        checker.check_plan_time_repetitions(modules);
        findings.append(&mut checker.findings);
    }
    findings.sort();
    findings
}

// ---------------------------------------------------------------------------------------------
// Provider version bounds
// ---------------------------------------------------------------------------------------------

/// `1.267.0` → `[1, 267, 0]` (a suffix after the digits of a part is ignored).
pub fn version(text: &str) -> Result<Vec<u32>, String> {
    text.split('.')
        .map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits
                .parse()
                .map_err(|_| format!("{text:?} is not a version"))
        })
        .collect()
}

/// `>= a.b.c, < d.e.f` → (floor, ceiling); any other shape is an error.
pub fn bounds(constraint: &str) -> Result<(Vec<u32>, Vec<u32>), String> {
    let parts: Vec<&str> = constraint.split(',').map(str::trim).collect();
    let [floor, ceiling] = parts.as_slice() else {
        return Err(format!("{constraint:?} is not `>= x.y.z, < a.b.c`"));
    };
    let floor = floor
        .strip_prefix(">= ")
        .ok_or_else(|| format!("{constraint:?}: no `>= x.y.z` floor"))?;
    let ceiling = ceiling
        .strip_prefix("< ")
        .ok_or_else(|| format!("{constraint:?}: no `< x.y.z` ceiling"))?;
    Ok((version(floor)?, version(ceiling)?))
}

/// The version constraint of `provider` in a module's `terraform { required_providers }`.
pub fn provider_constraint(module: &Module, provider: &str) -> Option<String> {
    module
        .files
        .iter()
        .flat_map(|(_, body)| blocks(body, "terraform"))
        .flat_map(|t| blocks(t.body(), "required_providers"))
        .filter_map(|rp| attr(rp.body(), provider))
        .find_map(|expr| match expr {
            Expression::Object(o) => o
                .iter()
                .find(|(k, _)| object_key(k).as_deref() == Some("version"))
                .and_then(|(_, v)| string_literal(v))
                .map(str::to_string),
            _ => None,
        })
}

/// A module's `(floor, ceiling)` for `provider` (see [`bounds`]).
pub fn provider_bounds(module: &Module, provider: &str) -> Result<(Vec<u32>, Vec<u32>), String> {
    let constraint = provider_constraint(module, provider)
        .ok_or_else(|| format!("{}: no {provider} version constraint", module.dir.display()))?;
    bounds(&constraint)
}

#[cfg(test)]
mod tests;

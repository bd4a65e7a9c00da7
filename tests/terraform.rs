//! The Terraform module under `terraform/`, checked statically.
//!
//! There is no `terraform` binary and no provider download here, so the module is parsed with
//! `hcl-rs` and checked against the alicloud provider schema (a subset kept in
//! `tests/fixtures/terraform/`), see `tests/terraform/lint.rs`. On top of the schema, the tests
//! pin what ties the deployment to the code: the RAM policy grants exactly
//! `sg_remediator::services::API_ACTIONS`, the Config rule and the function judge the same
//! ports, and FC starts the function the way the runtime expects.
//!
//! The checker's own negative tests (bottom) feed it small broken snippets, so a clean result on
//! the real module means something.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hcl::expr::{BinaryOperator, Expression, Operation};
use hcl::Block;
use sg_remediator::services::{ApiAction, Needed, API_ACTIONS};
use sg_test_kit::terraform_check::eval::{evaluate_with, terraform_functions, validation_admits};
use sg_test_kit::terraform_check::tf;
use sg_test_kit::terraform_check::{
    self as lint, attr, blocks, local_name, object_key, provider_bounds, string_literal, var_name,
    version, Module, Schema,
};

/// The port FC dials when `custom_runtime_config.port` is unset, and the function's fallback
/// when neither `FC_CUSTOM_LISTEN_PORT` nor `FC_SERVER_PORT` is set (fc-custom-runtime.md §1).
const FC_DEFAULT_PORT: f64 = 9000.0;

fn repo() -> PathBuf {
    crate::repo_root()
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::from_json(include_str!(
            "fixtures/terraform/alicloud-schema-subset.json"
        ))
        .expect("schema subset parses")
    })
}

/// Arguments the schema leaves optional but that this project always sets: without them the
/// server generates a name (a ForceNew attribute, so later changes replace the resource) or
/// creation fails at apply time (terraform.md §3, §5).
const PROJECT_REQUIRED: &[(&str, &str)] = &[
    ("alicloud_fcv3_function", "function_name"),
    ("alicloud_ram_role", "role_name"),
    ("alicloud_ram_role", "assume_role_policy_document"),
    ("alicloud_ram_policy", "policy_name"),
    ("alicloud_ram_policy", "policy_document"),
];

/// The checker with this project's rules.
fn lint(schema: &Schema, modules: &[Module]) -> Vec<lint::Finding> {
    lint::check(schema, modules, PROJECT_REQUIRED)
}

fn repo_modules() -> &'static [Module] {
    static MODULES: OnceLock<Vec<Module>> = OnceLock::new();
    MODULES.get_or_init(|| {
        Module::load_tree(&repo().join("terraform")).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn root_module() -> &'static Module {
    let root = repo().join("terraform");
    repo_modules()
        .iter()
        .find(|m| m.dir == root)
        .expect("terraform/ is a module")
}

fn resource<'a>(module: &'a Module, ty: &str) -> &'a Block {
    let found: Vec<&Block> = module
        .resources()
        .into_iter()
        .filter(|(key, _)| key.starts_with(&format!("{ty}.")))
        .map(|(_, l)| l.block)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one {ty} in {}",
        module.dir.display()
    );
    found[0]
}

fn show(findings: &[lint::Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// The module against the provider schema
// ---------------------------------------------------------------------------------------------

#[test]
fn module_and_examples_are_found() {
    let dirs: Vec<PathBuf> = repo_modules().iter().map(|m| m.dir.clone()).collect();
    assert!(dirs.contains(&repo().join("terraform")));
    assert!(dirs.contains(&repo().join("terraform/examples/basic")));
    assert!(dirs.contains(&repo().join("terraform/examples/organization")));
    assert!(dirs.contains(&repo().join("terraform/modules/member-role")));
}

fn module_at(relative: &str) -> &'static Module {
    let dir = repo().join(relative);
    repo_modules()
        .iter()
        .find(|m| m.dir == dir)
        .unwrap_or_else(|| panic!("{relative} is a module"))
}

#[test]
fn every_tf_file_passes_the_schema_and_reference_checks() {
    let findings = lint(schema(), repo_modules());
    assert!(findings.is_empty(), "findings:\n{}", show(&findings));
}

/// `x.y.z` (leading digits of each part) as numbers.
/// The version from which the provider has a resource type (`available_since` in the schema,
/// taken from the provider's docs or source).
fn available_since(ty: &str) -> Vec<u32> {
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/terraform/alicloud-schema-subset.json"
    ))
    .expect("schema JSON");
    let since = schema["resources"][ty]["available_since"]
        .as_str()
        .unwrap_or_else(|| panic!("{ty} has available_since"));
    version(since.split_whitespace().next().unwrap_or(since)).expect("a version")
}

#[test]
fn every_module_bounds_the_provider_between_its_floor_and_the_next_major() {
    // custom.debian11/12 exist from alicloud 1.260.0 (terraform.md §1); Terraform needs the
    // schema of every resource type a configuration names, even with count = 0, so each
    // module's floor also covers every resource type under terraform/ (the aggregate
    // remediation: 1.267.0).
    let mut needed = vec![1, 260, 0];
    for module in repo_modules() {
        for key in module.resources().keys() {
            let ty = key.split('.').next().unwrap_or_default();
            needed = needed.max(available_since(ty));
        }
    }
    assert_eq!(
        needed,
        vec![1, 267, 0],
        "alicloud_config_aggregate_remediation sets the floor"
    );
    for module in repo_modules() {
        let constraint = lint::provider_constraint(module, "alicloud").unwrap_or_default();
        let (floor, ceiling) =
            provider_bounds(module, "alicloud").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            floor >= needed,
            "{}: {constraint} is below {needed:?}",
            module.dir.display()
        );
        assert_eq!(
            ceiling,
            vec![2, 0, 0],
            "{}: {constraint} must stay below the next major",
            module.dir.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RAM policy = API_ACTIONS
// ---------------------------------------------------------------------------------------------

/// Variables under which an action is granted (empty: unconditionally).
type Grants = BTreeMap<String, Vec<BTreeSet<String>>>;

/// The gate of [`Needed::Authorize`], as [`condition_var`] spells `local.authorizes`: a restore
/// or narrowing.
const AUTHORIZE_GATE: &str = "enable_restore || remediation_action == \"narrow\"";

/// The module variable that gates each [`Needed`] condition.
fn gate(needed: Needed) -> Option<&'static str> {
    match needed {
        Needed::Always => None,
        Needed::Authorize => Some(AUTHORIZE_GATE),
        Needed::CrossAccount => Some("cross_account_role_name"),
        Needed::Aggregator => Some("config_aggregator_id"),
        Needed::LookupOpener => Some("lookup_opener"),
    }
}

/// A grant condition as the variables it reads: `var.x`, `var.x != ""` or `var.x != null` →
/// `x`; `var.x == "v"` → `x == "v"`; `a || b` → both, joined by ` || `; `local.l` → its
/// expression's.
fn condition_var(module: &Module, cond: &Expression) -> Result<String, String> {
    condition_text(module, cond, 0)
}

fn condition_text(module: &Module, cond: &Expression, depth: usize) -> Result<String, String> {
    if depth > 16 {
        return Err("grant condition nests too deeply".into());
    }
    if let Some(name) = var_name(cond) {
        return Ok(name.to_string());
    }
    if let Some(name) = local_name(cond) {
        let locals = module.locals();
        let local = locals
            .get(name)
            .ok_or_else(|| format!("local.{name} is not declared"))?;
        return condition_text(module, local, depth + 1);
    }
    if let Expression::Parenthesis(inner) = cond {
        return condition_text(module, inner, depth + 1);
    }
    if let Expression::Operation(op) = cond {
        if let Operation::Binary(b) = op.as_ref() {
            let empty =
                |e: &Expression| matches!(e, Expression::Null) || string_literal(e) == Some("");
            match b.operator {
                BinaryOperator::NotEq => match (var_name(&b.lhs_expr), var_name(&b.rhs_expr)) {
                    (Some(v), None) if empty(&b.rhs_expr) => return Ok(v.to_string()),
                    (None, Some(v)) if empty(&b.lhs_expr) => return Ok(v.to_string()),
                    _ => {}
                },
                BinaryOperator::Eq => {
                    if let (Some(v), Some(value)) =
                        (var_name(&b.lhs_expr), string_literal(&b.rhs_expr))
                    {
                        return Ok(format!("{v} == {value:?}"));
                    }
                }
                BinaryOperator::Or => {
                    return Ok(format!(
                        "{} || {}",
                        condition_text(module, &b.lhs_expr, depth + 1)?,
                        condition_text(module, &b.rhs_expr, depth + 1)?
                    ))
                }
                _ => {}
            }
        }
    }
    Err(format!("unsupported grant condition {cond:?}"))
}

fn is_empty_list(expr: &Expression) -> bool {
    matches!(expr, Expression::Array(items) if items.is_empty())
}

/// Collects the actions an expression grants and the conditions they are granted under.
fn collect_actions(
    module: &Module,
    expr: &Expression,
    conditions: &BTreeSet<String>,
    grants: &mut Grants,
    depth: usize,
) -> Result<(), String> {
    if depth > 16 {
        return Err("policy actions nest too deeply".into());
    }
    if let Some(action) = string_literal(expr) {
        grants
            .entry(action.to_string())
            .or_default()
            .push(conditions.clone());
        return Ok(());
    }
    if let Some(name) = local_name(expr) {
        let locals = module.locals();
        let local = locals
            .get(name)
            .ok_or_else(|| format!("local.{name} is not declared"))?;
        return collect_actions(module, local, conditions, grants, depth + 1);
    }
    match expr {
        Expression::Array(items) => items
            .iter()
            .try_for_each(|e| collect_actions(module, e, conditions, grants, depth + 1)),
        Expression::FuncCall(call) if call.name.name.as_str() == "concat" => call
            .args
            .iter()
            .try_for_each(|e| collect_actions(module, e, conditions, grants, depth + 1)),
        Expression::Parenthesis(inner) => {
            collect_actions(module, inner, conditions, grants, depth + 1)
        }
        Expression::Conditional(c) => {
            let var = condition_var(module, &c.cond_expr)?;
            if !is_empty_list(&c.false_expr) {
                return Err(format!(
                    "actions granted when var.{var} is off: the false branch must be []"
                ));
            }
            let mut inner = conditions.clone();
            inner.insert(var);
            collect_actions(module, &c.true_expr, &inner, grants, depth + 1)
        }
        other => Err(format!(
            "policy actions are not statically checkable: {other:?}"
        )),
    }
}

/// The actions of the module's single `alicloud_ram_policy`, from
/// `policy_document = jsonencode({ Statement = [{ Effect = "Allow", Action = ... }] })`.
fn policy_grants(module: &Module) -> Result<Grants, String> {
    let policy = resource(module, "alicloud_ram_policy");
    let document = attr(policy.body(), "policy_document").ok_or("no policy_document")?;
    let Expression::FuncCall(call) = document else {
        return Err("policy_document must be jsonencode({...})".into());
    };
    let [Expression::Object(doc)] = call.args.as_slice() else {
        return Err("policy_document must be jsonencode({...})".into());
    };
    if call.name.name.as_str() != "jsonencode" {
        return Err("policy_document must be jsonencode({...})".into());
    }
    let field = |object: &hcl::Object<hcl::ObjectKey, Expression>, name: &str| {
        object
            .iter()
            .find(|(k, _)| object_key(k).as_deref() == Some(name))
            .map(|(_, v)| v.clone())
    };
    let Some(Expression::Array(statements)) = field(doc, "Statement") else {
        return Err("Statement must be a list of objects".into());
    };
    let mut grants = Grants::new();
    for statement in &statements {
        let Expression::Object(statement) = statement else {
            return Err("each Statement must be an object".into());
        };
        let effect = field(statement, "Effect");
        if effect.as_ref().and_then(string_literal) != Some("Allow") {
            return Err("only Allow statements are expected".into());
        }
        let action = field(statement, "Action").ok_or("statement without Action")?;
        collect_actions(module, &action, &BTreeSet::new(), &mut grants, 0)?;
    }
    Ok(grants)
}

/// Differences between the actions the code calls and the policy's grants.
fn policy_mismatches(actions: &[ApiAction], grants: &Grants) -> Vec<String> {
    policy_mismatches_with(actions, grants, |a| gate(a.needed))
}

/// [`policy_mismatches`] with the gate of each action given by `gate_of`.
fn policy_mismatches_with(
    actions: &[ApiAction],
    grants: &Grants,
    gate_of: impl Fn(&ApiAction) -> Option<&'static str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for action in actions {
        let expected: BTreeSet<String> = gate_of(action).map(str::to_string).into_iter().collect();
        match grants.get(action.ram_action) {
            None => problems.push(format!(
                "{} ({:?}) is called by the code but not granted",
                action.ram_action, action.needed
            )),
            Some(paths) if paths.len() > 1 => problems.push(format!(
                "{} is granted {} times",
                action.ram_action,
                paths.len()
            )),
            Some(paths) if paths[0] != expected => problems.push(format!(
                "{} ({:?}) is granted under {:?}, expected {:?}",
                action.ram_action, action.needed, paths[0], expected
            )),
            Some(_) => {}
        }
    }
    for granted in grants.keys() {
        if !actions.iter().any(|a| a.ram_action == granted) {
            problems.push(format!("{granted} is granted but the code never calls it"));
        }
    }
    problems
}

#[test]
fn ram_policy_grants_exactly_the_api_actions_the_code_calls() {
    let grants = policy_grants(root_module()).expect("policy is statically checkable");
    let problems = policy_mismatches(API_ACTIONS, &grants);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_new_api_action_without_its_permission_fails_the_policy_check() {
    let grants = policy_grants(root_module()).expect("policy is statically checkable");
    let mut actions = API_ACTIONS.to_vec();
    actions.push(ApiAction {
        ram_action: "ecs:DescribeSecurityGroups",
        needed: Needed::Always,
    });
    let problems = policy_mismatches(&actions, &grants);
    assert_eq!(
        problems,
        vec!["ecs:DescribeSecurityGroups (Always) is called by the code but not granted"]
    );
}

#[test]
fn an_action_granted_under_the_wrong_condition_fails_the_policy_check() {
    let module = snippet(
        r#"
        variable "enable_restore" { type = bool }
        resource "alicloud_ram_policy" "p" {
          policy_name = "p"
          policy_document = jsonencode({ Version = "1", Statement = [{
            Effect = "Allow", Resource = ["*"],
            Action = concat(["ecs:RevokeSecurityGroup", "ecs:AuthorizeSecurityGroup"],
                            var.enable_restore ? ["ecs:DescribeSecurityGroupAttribute"] : [])
          }] })
        }"#,
    );
    let grants = policy_grants(&module).expect("checkable");
    let actions = [
        ApiAction {
            ram_action: "ecs:RevokeSecurityGroup",
            needed: Needed::Always,
        },
        ApiAction {
            ram_action: "ecs:AuthorizeSecurityGroup",
            needed: Needed::Authorize,
        },
        ApiAction {
            ram_action: "ecs:DescribeSecurityGroupAttribute",
            needed: Needed::Always,
        },
    ];
    let problems = policy_mismatches(&actions, &grants);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("ecs:AuthorizeSecurityGroup (Authorize) is granted under {}"));
    assert!(problems[1].starts_with(
        "ecs:DescribeSecurityGroupAttribute (Always) is granted under {\"enable_restore\"}"
    ));
}

#[test]
fn an_action_granted_when_its_condition_is_off_is_rejected() {
    let module = snippet(
        r#"
        variable "enable_restore" { type = bool }
        resource "alicloud_ram_policy" "p" {
          policy_name = "p"
          policy_document = jsonencode({ Statement = [{
            Effect = "Allow", Resource = ["*"],
            Action = var.enable_restore ? [] : ["ecs:AuthorizeSecurityGroup"]
          }] })
        }"#,
    );
    let err = policy_grants(&module).expect_err("inverted condition");
    assert!(err.contains("false branch must be []"), "{err}");
}

#[test]
fn policy_gates_are_the_variables_that_configure_the_function() {
    // sts:AssumeRole is granted when cross_account_role_name is set, and the same variable must
    // be what makes the function assume roles (and likewise for the aggregator).
    let module = root_module();
    for (env, var) in [
        ("CROSS_ACCOUNT_ROLE_NAME", "cross_account_role_name"),
        ("CONFIG_AGGREGATOR_ID", "config_aggregator_id"),
    ] {
        let source = function_env(module, env).unwrap_or_else(|| panic!("{env} is set"));
        assert_eq!(var_name(source), Some(var), "{env}");
    }
    let restore = module.variables();
    let restore = restore
        .get("enable_restore")
        .expect("enable_restore declared");
    let ty = attr(restore.block.body(), "type").and_then(lint::reference_path);
    assert_eq!(ty, Some(vec!["bool"]));
}

// ---------------------------------------------------------------------------------------------
// Function, rule and remediation wiring
// ---------------------------------------------------------------------------------------------

/// Follows `local.x`, `{ for k, v in coll : k => v if ... }` and `merge(...)` to the expression
/// that sets environment variable `name` of the function.
fn env_entry<'a>(
    module: &'a Module,
    expr: &'a Expression,
    name: &str,
    depth: usize,
) -> Option<&'a Expression> {
    if depth > 16 {
        return None;
    }
    if let Some(local) = local_name(expr) {
        let locals = module.locals();
        let local: &'a Expression = locals.get(local)?;
        return env_entry(module, local, name, depth + 1);
    }
    match expr {
        Expression::Object(object) => object
            .iter()
            .find(|(k, _)| object_key(k).as_deref() == Some(name))
            .map(|(_, v)| v),
        Expression::ForExpr(f) => env_entry(module, &f.collection_expr, name, depth + 1),
        Expression::FuncCall(call) if call.name.name.as_str() == "merge" => call
            .args
            .iter()
            .rev()
            .find_map(|arg| env_entry(module, arg, name, depth + 1)),
        _ => None,
    }
}

fn function_env<'a>(module: &'a Module, name: &str) -> Option<&'a Expression> {
    let function = resource(module, "alicloud_fcv3_function");
    let env = attr(function.body(), "environment_variables")?;
    env_entry(module, env, name, 0)
}

#[test]
fn rule_ports_and_function_risky_ports_come_from_one_variable() {
    let module = root_module();
    for ty in [
        "alicloud_config_rule",
        "alicloud_config_aggregate_config_rule",
    ] {
        rule_ports_come_from_risky_ports(module, resource(module, ty));
    }
}

fn rule_ports_come_from_risky_ports(module: &Module, rule: &Block) {
    let Some(Expression::Object(params)) = attr(rule.body(), "input_parameters") else {
        panic!("input_parameters is an object");
    };
    let ports = params
        .iter()
        .find(|(k, _)| object_key(k).as_deref() == Some("ports"))
        .map(|(_, v)| v)
        .expect("input_parameters.ports");
    let risky_ports = function_env(module, "RISKY_PORTS").expect("RISKY_PORTS is set");
    let variable = var_name(ports).expect("ports comes from a variable");
    assert_eq!(var_name(risky_ports), Some(variable));
}

#[test]
fn function_environment_drops_empty_values() {
    // The function rejects "" for variables that have defaults (RISKY_PORTS, LOG_FORMAT, …), so
    // unset module variables must not reach it as empty strings.
    let function = resource(root_module(), "alicloud_fcv3_function");
    let env = attr(function.body(), "environment_variables").expect("environment_variables");
    let locals = root_module().locals();
    let expr = local_name(env)
        .and_then(|n| locals.get(n).copied())
        .unwrap_or(env);
    let Expression::ForExpr(for_expr) = expr else {
        panic!("environment_variables is a filtering for-expression");
    };
    let cond = for_expr
        .cond_expr
        .as_ref()
        .expect("for-expression has an `if`");
    let Expression::Operation(op) = cond else {
        panic!("`if value != \"\"`");
    };
    let Operation::Binary(b) = op.as_ref() else {
        panic!("`if value != \"\"`");
    };
    assert_eq!(b.operator, BinaryOperator::NotEq);
    assert_eq!(
        lint::reference_path(&b.lhs_expr),
        Some(vec![for_expr.value_var.as_str()])
    );
    assert_eq!(string_literal(&b.rhs_expr), Some(""));
}

#[test]
fn function_starts_bootstrap_on_the_runtime_default_port() {
    let function = resource(root_module(), "alicloud_fcv3_function");
    let handler = attr(function.body(), "handler").and_then(string_literal);
    assert_eq!(handler, Some("bootstrap"));
    let config: Vec<&Block> = blocks(function.body(), "custom_runtime_config").collect();
    assert_eq!(config.len(), 1);
    let port = match attr(config[0].body(), "port") {
        Some(Expression::Number(n)) => n.as_f64(),
        _ => None,
    };
    assert_eq!(port, Some(FC_DEFAULT_PORT));
    assert!(
        attr(config[0].body(), "command").is_none(),
        "no command: FC runs /code/bootstrap"
    );
}

#[test]
fn function_deploys_the_packaged_zip_with_its_checksum() {
    let module = root_module();
    let function = resource(module, "alicloud_fcv3_function");
    let code: Vec<&Block> = blocks(function.body(), "code").collect();
    assert_eq!(code.len(), 1);
    let Some(Expression::FuncCall(zip)) = attr(code[0].body(), "zip_file") else {
        panic!("zip_file = filebase64(...)");
    };
    assert_eq!(zip.name.name.as_str(), "filebase64");
    let package = local_name(&zip.args[0]).expect("zip path is a local");

    let checksum = attr(code[0].body(), "checksum").and_then(lint::reference_path);
    let Some([_, ty, name, field]) = checksum.as_deref() else {
        panic!("checksum = data.alicloud_file_crc64_checksum.<name>.checksum");
    };
    assert_eq!((*ty, *field), ("alicloud_file_crc64_checksum", "checksum"));
    let data = module.data_sources();
    let data = data
        .get(&format!("{ty}.{name}"))
        .expect("checksum data source");
    let filename = attr(data.block.body(), "filename").and_then(local_name);
    assert_eq!(filename, Some(package), "checksum of the same file");

    let ignored = blocks(function.body(), "lifecycle")
        .filter_map(|l| attr(l.body(), "ignore_changes"))
        .count();
    assert_eq!(
        ignored, 0,
        "no ignore_changes: ignoring code would never deploy a new build"
    );
}

#[test]
fn default_package_path_is_where_package_sh_writes_the_zip() {
    let locals = root_module().locals();
    let expr = locals.get("package_path").expect("local.package_path");
    let Expression::Conditional(c) = expr else {
        panic!("package_path = var.package_path != \"\" ? var.package_path : <default>");
    };
    let Expression::TemplateExpr(template) = &c.false_expr else {
        panic!("default is a template");
    };
    // path.module of terraform/ is the module directory itself.
    let default = template.to_string().replace("${path.module}", "terraform");
    let resolved = Path::new(&default)
        .components()
        .fold(PathBuf::new(), |mut acc, c| {
            match c {
                std::path::Component::ParentDir => {
                    acc.pop();
                }
                other => acc.push(other.as_os_str()),
            }
            acc
        });
    assert_eq!(resolved, Path::new("dist/sg-remediator.zip"));
    let script = std::fs::read_to_string(repo().join("scripts/package.sh")).expect("package.sh");
    assert!(script.contains("dist/sg-remediator.zip"));
}

#[test]
fn remediation_invokes_the_function_for_the_managed_rule() {
    let module = root_module();
    let rule = resource(module, "alicloud_config_rule");
    let literal = |block: &Block, key: &str| {
        attr(block.body(), key)
            .and_then(string_literal)
            .map(str::to_string)
    };
    assert_eq!(literal(rule, "source_owner").as_deref(), Some("ALIYUN"));
    assert_eq!(
        literal(rule, "source_identifier").as_deref(),
        Some("sg-risky-ports-check")
    );

    let remediation = resource(module, "alicloud_config_remediation");
    assert_eq!(
        literal(remediation, "remediation_type").as_deref(),
        Some("FC")
    );
    assert_eq!(
        literal(remediation, "remediation_source_type").as_deref(),
        Some("CUSTOM")
    );
    assert_eq!(literal(remediation, "params").as_deref(), Some("{}"));
    let target = attr(remediation.body(), "remediation_template_id").and_then(lint::reference_path);
    assert_eq!(
        target.as_ref().map(|p| (p[0], p[2])),
        Some(("alicloud_fcv3_function", "function_arn"))
    );
    let rule_id = attr(remediation.body(), "config_rule_id").and_then(reference);
    assert_eq!(
        rule_id,
        Some(vec![
            "alicloud_config_rule".to_string(),
            "sg_risky_ports".into(),
            "config_rule_id".into()
        ])
    );
}

/// A reference as its attribute names, literal indexes (`[0]`) and splats dropped:
/// `alicloud_config_rule.sg_risky_ports[0].config_rule_id` → its three names.
fn reference(expr: &Expression) -> Option<Vec<String>> {
    use hcl::expr::TraversalOperator;
    match expr {
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else {
                return None;
            };
            let mut path = vec![root.to_string()];
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(name) => path.push(name.to_string()),
                    TraversalOperator::Index(Expression::Number(_))
                    | TraversalOperator::LegacyIndex(_)
                    | TraversalOperator::FullSplat
                    | TraversalOperator::AttrSplat => {}
                    _ => return None,
                }
            }
            Some(path)
        }
        Expression::Variable(v) => Some(vec![v.to_string()]),
        _ => None,
    }
}

/// `count = local.aggregator_mode ? a : b` → (a, b).
fn count_by_mode(block: &Block) -> (f64, f64) {
    let Some(Expression::Conditional(c)) = attr(block.body(), "count") else {
        panic!("count = local.aggregator_mode ? n : m");
    };
    assert_eq!(local_name(&c.cond_expr), Some("aggregator_mode"));
    let n = |e: &Expression| match e {
        Expression::Number(n) => n.as_f64().expect("a number"),
        other => panic!("a literal count, not {other:?}"),
    };
    (n(&c.true_expr), n(&c.false_expr))
}

/// `expr` of the root module evaluated with these inputs (the others at their defaults).
fn evaluated(expr: &Expression, vars: &[(&str, &str)]) -> Result<hcl::value::Value, String> {
    let vars: Vec<(&str, hcl::value::Value)> = vars
        .iter()
        .map(|(k, v)| (*k, hcl::value::Value::from(*v)))
        .collect();
    evaluate_with(root_module(), expr, &vars)
}

#[test]
fn the_mode_is_the_deployment_input_so_it_is_known_at_plan_time() {
    // Not derived from config_aggregator_id: an aggregator created in the same configuration
    // has its id only after apply, and Terraform refuses a count it cannot know at plan time.
    let module = root_module();
    let locals = module.locals();
    let mode = locals
        .get("aggregator_mode")
        .expect("local.aggregator_mode");
    let refs: Vec<Vec<String>> = lint::references(mode);
    assert_eq!(refs, vec![vec!["var".to_string(), "deployment".into()]]);
    for (deployment, on) in [("account", false), ("organization", true)] {
        assert_eq!(
            evaluated(mode, &[("deployment", deployment)]),
            Ok(hcl::value::Value::Bool(on)),
            "{deployment}"
        );
    }
    let admits = |d: &str| validation_admits(module, "deployment", d);
    assert!(admits("account") && admits("organization"));
    assert!(!admits("aggregator") && !admits(""));
    let variables = module.variables();
    let default = attr(variables["deployment"].block.body(), "default").and_then(string_literal);
    assert_eq!(
        default,
        Some("account"),
        "existing account deployments keep planning"
    );
}

#[test]
fn the_aggregator_id_must_agree_with_the_deployment() {
    let function = resource(root_module(), "alicloud_fcv3_function");
    let conditions: Vec<&Expression> = blocks(function.body(), "lifecycle")
        .flat_map(|l| blocks(l.body(), "precondition"))
        .filter_map(|p| attr(p.body(), "condition"))
        .filter(|c| {
            lint::references(c)
                .iter()
                .any(|r| r.get(1).map(String::as_str) == Some("config_aggregator_id"))
        })
        .collect();
    assert_eq!(conditions.len(), 1, "one precondition on the aggregator id");
    let holds = |deployment: &str, id: &str| {
        evaluated(
            conditions[0],
            &[("deployment", deployment), ("config_aggregator_id", id)],
        )
    };
    let yes = Ok(hcl::value::Value::Bool(true));
    let no = Ok(hcl::value::Value::Bool(false));
    assert_eq!(holds("organization", "ca-1"), yes);
    assert_eq!(holds("organization", ""), no);
    assert_eq!(holds("account", ""), yes);
    assert_eq!(holds("account", "ca-1"), no);
}

#[test]
fn config_site_is_required_and_names_one_of_the_two_sites() {
    let module = root_module();
    let variables = module.variables();
    let site = variables.get("config_site").expect("variable config_site");
    assert!(
        attr(site.block.body(), "default").is_none(),
        "no default: the site belongs to the account and nothing guesses it"
    );
    let admits = |s: &str| validation_admits(module, "config_site", s);
    assert!(admits("china") && admits("international"));
    for bad in ["", "China", "cn-shanghai", "intl", "placeholder"] {
        assert!(!admits(bad), "{bad:?}");
    }
}

#[test]
fn config_site_sets_the_config_endpoint_of_its_site() {
    let endpoint = function_env(root_module(), "CONFIG_ENDPOINT").expect("CONFIG_ENDPOINT is set");
    let with_site = |site: &str| evaluated(endpoint, &[("config_site", site)]);
    // The China site's endpoint is the function's own default, so a China-site deployment
    // behaves as before.
    assert_eq!(
        with_site("china"),
        Ok(hcl::value::Value::from(
            sg_remediator::config::DEFAULT_CONFIG_ENDPOINT
        ))
    );
    assert_eq!(
        with_site("international"),
        Ok(hcl::value::Value::from(
            "https://config.ap-southeast-1.aliyuncs.com"
        ))
    );
}

#[test]
fn an_explicit_config_endpoint_wins_over_config_site() {
    let endpoint = function_env(root_module(), "CONFIG_ENDPOINT").expect("CONFIG_ENDPOINT is set");
    for site in ["china", "international"] {
        assert_eq!(
            evaluated(
                endpoint,
                &[
                    ("config_site", site),
                    ("config_endpoint", "https://config.example.internal")
                ]
            ),
            Ok(hcl::value::Value::from("https://config.example.internal")),
            "{site}"
        );
    }
}

#[test]
fn the_site_endpoints_parse_as_the_function_parses_config_endpoint() {
    for site in ["china", "international"] {
        let endpoint = function_env(root_module(), "CONFIG_ENDPOINT").expect("CONFIG_ENDPOINT");
        let value = evaluated(endpoint, &[("config_site", site)]).expect("evaluates");
        let value = value.as_str().expect("a string").to_string();
        let parsed = sg_remediator::config::Config::from_lookup(|name| {
            (name == "CONFIG_ENDPOINT").then(|| value.clone())
        });
        assert!(parsed.is_ok(), "{site}: {value}: {parsed:?}");
    }
}

#[test]
fn every_count_in_the_modules_and_examples_is_known_at_plan_time() {
    // The same check as the schema test, on its own: the organisation example once failed
    // `terraform plan` with "Invalid count argument".
    let found: Vec<lint::Finding> = lint(schema(), repo_modules())
        .into_iter()
        .filter(|f| f.message.contains("known at plan time"))
        .collect();
    assert!(found.is_empty(), "{}", show(&found));
}

#[test]
fn aggregator_mode_replaces_the_account_rule_and_remediation_by_the_aggregate_pair() {
    let module = root_module();
    for (ty, (on, off)) in [
        ("alicloud_config_rule", (0.0, 1.0)),
        ("alicloud_config_remediation", (0.0, 1.0)),
        ("alicloud_config_aggregate_config_rule", (1.0, 0.0)),
        ("alicloud_config_aggregate_remediation", (1.0, 0.0)),
    ] {
        assert_eq!(count_by_mode(resource(module, ty)), (on, off), "{ty}");
    }
    // Existing deployments keep their account-level rule and remediation (state addresses).
    let moved: Vec<(Vec<String>, Vec<String>)> = module
        .files
        .iter()
        .flat_map(|(_, body)| blocks(body, "moved"))
        .map(|m| {
            let from = attr(m.body(), "from").and_then(reference).expect("from");
            let to = attr(m.body(), "to").and_then(reference).expect("to");
            (from, to)
        })
        .collect();
    for ty in ["alicloud_config_rule", "alicloud_config_remediation"] {
        assert!(
            moved.iter().any(|(from, to)| from == to && from[0] == ty),
            "moved {{ from = {ty}.sg_risky_ports, to = {ty}.sg_risky_ports[0] }}"
        );
    }
}

#[test]
fn the_aggregate_rule_is_the_account_rule_on_the_aggregator() {
    let module = root_module();
    let rule = resource(module, "alicloud_config_rule");
    let aggregate = resource(module, "alicloud_config_aggregate_config_rule");
    // Every argument of the account rule, with the same expression (rule_name is named
    // aggregate_config_rule_name there); nothing the account rule lacks but the aggregator.
    for attribute in rule.body().attributes() {
        let key = match attribute.key() {
            "rule_name" => "aggregate_config_rule_name",
            "count" => continue,
            other => other,
        };
        assert_eq!(
            attr(aggregate.body(), key),
            Some(attribute.expr()),
            "aggregate rule argument {key}"
        );
    }
    let extra: Vec<&str> = aggregate
        .body()
        .attributes()
        .map(|a| a.key())
        .filter(|k| !["count", "aggregate_config_rule_name", "aggregator_id"].contains(k))
        .filter(|k| attr(rule.body(), k).is_none())
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
    assert_eq!(
        attr(aggregate.body(), "aggregator_id").and_then(var_name),
        Some("config_aggregator_id")
    );
    for scope in [
        "region_ids_scope",
        "resource_group_ids_scope",
        "tag_key_scope",
        "tag_value_scope",
    ] {
        assert!(attr(rule.body(), scope).is_some(), "{scope} is an input");
    }
}

#[test]
fn the_aggregate_remediation_invokes_the_function_for_the_aggregate_rule() {
    let module = root_module();
    let remediation = resource(module, "alicloud_config_aggregate_remediation");
    let literal = |key: &str| {
        attr(remediation.body(), key)
            .and_then(string_literal)
            .map(str::to_string)
    };
    assert_eq!(literal("remediation_type").as_deref(), Some("FC"));
    assert_eq!(
        literal("remediation_source_type").as_deref(),
        Some("CUSTOM")
    );
    // The aggregate resource names Params `remediation_origin_params` (there is no `params`).
    assert_eq!(literal("remediation_origin_params").as_deref(), Some("{}"));
    assert_eq!(
        attr(remediation.body(), "remediation_template_id").and_then(reference),
        Some(vec![
            "alicloud_fcv3_function".to_string(),
            "fn".into(),
            "function_arn".into()
        ])
    );
    assert_eq!(
        attr(remediation.body(), "config_rule_id").and_then(reference),
        Some(vec![
            "alicloud_config_aggregate_config_rule".to_string(),
            "sg_risky_ports".into(),
            "config_rule_id".into()
        ])
    );
    assert_eq!(
        attr(remediation.body(), "aggregator_id").and_then(var_name),
        Some("config_aggregator_id")
    );
    assert_eq!(
        attr(remediation.body(), "invoke_type").and_then(var_name),
        Some("invoke_type")
    );
}

#[test]
fn catches_params_on_the_aggregate_remediation() {
    let template = r#"
        resource "alicloud_config_aggregate_remediation" "r" {
          aggregator_id             = "ca-1"
          config_rule_id            = "cr-1"
          remediation_type          = "FC"
          remediation_template_id   = "acs:fc:cn-hangzhou:1:functions/f"
          invoke_type               = "AUTO_EXECUTION"
          HOLE
        }"#;
    assert_clean(&template.replace("HOLE", "remediation_origin_params = \"{}\""));
    let found = findings(&template.replace("HOLE", "params = \"{}\""));
    assert!(
        found
            .iter()
            .any(|f| f.contains(".params: unknown argument"))
            && found
                .iter()
                .any(|f| f.contains(".remediation_origin_params: missing required argument")),
        "{found:#?}"
    );
}

#[test]
fn outputs_give_the_rule_and_remediation_of_either_mode() {
    let outputs = root_module().outputs();
    for (name, types) in [
        (
            "config_rule_id",
            [
                "alicloud_config_rule",
                "alicloud_config_aggregate_config_rule",
            ],
        ),
        (
            "remediation_id",
            [
                "alicloud_config_remediation",
                "alicloud_config_aggregate_remediation",
            ],
        ),
    ] {
        let value = attr(outputs[name].block.body(), "value").expect("value");
        let Expression::FuncCall(one) = value else {
            panic!("{name} = one(concat(...))");
        };
        assert_eq!(one.name.name.as_str(), "one", "{name}");
        let roots: BTreeSet<String> = lint::references(value)
            .into_iter()
            .map(|p| p[0].clone())
            .collect();
        assert_eq!(
            roots,
            types.iter().map(|t| t.to_string()).collect(),
            "{name}"
        );
    }
}

#[test]
fn the_central_module_outputs_what_the_member_module_needs() {
    let outputs = root_module().outputs();
    let value = attr(outputs["member_role"].block.body(), "value").expect("value");
    let Expression::Object(fields) = value else {
        panic!("member_role is an object");
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| object_key(k).as_deref() == Some(name))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("member_role.{name}"))
    };
    assert_eq!(
        var_name(field("role_name")),
        Some("cross_account_role_name")
    );
    assert_eq!(
        reference(field("trusted_role_arn")),
        Some(vec![
            "alicloud_ram_role".to_string(),
            "fn".into(),
            "arn".into()
        ])
    );
    assert_eq!(var_name(field("enable_restore")), Some("enable_restore"));
    assert_eq!(
        var_name(field("remediation_action")),
        Some("remediation_action")
    );
    // Every member-role input but the cosmetic ones is given by this output.
    let member_inputs = module_at("terraform/modules/member-role").variables();
    for input in member_inputs.keys() {
        if ["policy_name", "max_session_duration", "tags"].contains(&input.as_str()) {
            continue;
        }
        let _ = field(input);
    }
}

// ---------------------------------------------------------------------------------------------
// terraform/modules/member-role
// ---------------------------------------------------------------------------------------------

#[test]
fn the_member_role_trusts_only_the_central_functions_role() {
    let module = module_at("terraform/modules/member-role");
    let role = resource(module, "alicloud_ram_role");
    let Some(Expression::FuncCall(call)) = attr(role.body(), "assume_role_policy_document") else {
        panic!("assume_role_policy_document = jsonencode({{...}})");
    };
    let document = hcl::to_string(&call.args[0]).expect("printable");
    let value: serde_json::Value = {
        let mut ctx = hcl::eval::Context::new();
        ctx.declare_var(
            "var",
            hcl::value::Value::from_iter([(
                "trusted_role_arn".to_string(),
                hcl::value::Value::from("acs:ram::1234567890123456:role/sg-remediator-fc"),
            )]),
        );
        let evaluated = hcl::eval::Evaluate::evaluate(&call.args[0], &ctx)
            .unwrap_or_else(|e| panic!("{document}: {e}"));
        serde_json::to_value(evaluated).expect("JSON")
    };
    assert_eq!(
        value["Statement"],
        serde_json::json!([{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"RAM": ["acs:ram::1234567890123456:role/sg-remediator-fc"]}
        }]),
        "{value}"
    );
}

#[test]
fn the_member_role_refuses_a_whole_account_as_the_trusted_principal() {
    let module = module_at("terraform/modules/member-role");
    let admits = |arn: &str| validation_admits(module, "trusted_role_arn", arn);
    assert!(admits("acs:ram::1234567890123456:role/sg-remediator-fc"));
    assert!(!admits("acs:ram::1234567890123456:root"));
    assert!(!admits("1234567890123456"));
    assert!(!admits("acs:ram::1234567890123456:role/*"));
    assert!(!admits(""));
}

#[test]
fn the_member_role_grants_exactly_what_the_function_calls_in_a_member() {
    // In a member the function reads the live group and revokes (ECS), authorizes only for a
    // restore or when narrowing, and reads Config only when there is no aggregator (then it calls
    // GetDiscoveredResource with the member's credentials). AssumeRole and the aggregate read
    // happen in the central account.
    let module = module_at("terraform/modules/member-role");
    let grants = policy_grants(module).expect("policy is statically checkable");
    let in_member: Vec<ApiAction> = API_ACTIONS
        .iter()
        .copied()
        .filter(|a| {
            matches!(
                a.needed,
                Needed::Always | Needed::Authorize | Needed::LookupOpener
            )
        })
        .collect();
    let problems = policy_mismatches_with(&in_member, &grants, |a| match a.needed {
        Needed::Authorize => Some(AUTHORIZE_GATE),
        Needed::LookupOpener => Some("lookup_opener"),
        _ if a.ram_action.starts_with("config:") => Some("reads_config_in_member"),
        _ => None,
    });
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        grants.keys().cloned().collect::<Vec<_>>(),
        [
            "actiontrail:LookupEvents",
            "config:GetDiscoveredResource",
            "ecs:AuthorizeSecurityGroup",
            "ecs:DescribeSecurityGroupAttribute",
            "ecs:RevokeSecurityGroup"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// terraform/examples/organization
// ---------------------------------------------------------------------------------------------

#[test]
fn the_organization_example_runs_the_central_module_on_an_aggregator_with_member_roles() {
    let example = module_at("terraform/examples/organization");
    let calls = example.module_calls();
    let central = calls["sg_remediator"].block.body();
    assert_eq!(
        attr(central, "config_aggregator_id").and_then(reference),
        Some(vec![
            "alicloud_config_aggregator".to_string(),
            "organization".into(),
            "id".into()
        ])
    );
    assert_eq!(
        attr(central, "deployment").and_then(string_literal),
        Some("organization"),
        "the mode is a literal, known at plan time"
    );
    assert!(attr(central, "cross_account_role_name").is_some());
    let aggregator = resource(example, "alicloud_config_aggregator");
    assert_eq!(
        attr(aggregator.body(), "aggregator_type").and_then(string_literal),
        Some("RD")
    );

    let members: Vec<&Block> = calls
        .values()
        .filter(|c| {
            attr(c.block.body(), "source").and_then(string_literal)
                == Some("../../modules/member-role")
        })
        .map(|c| c.block)
        .collect();
    assert_eq!(members.len(), 2, "two member accounts");
    let mut aliases = BTreeSet::new();
    for member in members {
        // Each through its own provider alias (a session in that account).
        let Some(Expression::Object(providers)) = attr(member.body(), "providers") else {
            panic!("providers = {{ alicloud = alicloud.<alias> }}");
        };
        let (_, target) = providers.iter().next().expect("one provider");
        aliases.insert(reference(target).expect("a provider reference").join("."));
        // The member role is named as the function assumes it and trusts the function's role.
        assert_eq!(
            attr(member.body(), "role_name"),
            attr(central, "cross_account_role_name")
        );
        // The function's role itself: Terraform creates it before the member roles, in the
        // same apply.
        assert_eq!(
            attr(member.body(), "trusted_role_arn").and_then(reference),
            Some(vec![
                "module".to_string(),
                "sg_remediator".into(),
                "role_arn".into()
            ])
        );
    }
    assert_eq!(aliases.len(), 2, "{aliases:?}");
}

#[test]
fn the_basic_example_deploys_one_account() {
    let example = module_at("terraform/examples/basic");
    let calls = example.module_calls();
    let central = calls["sg_remediator"].block.body();
    assert_eq!(
        attr(central, "deployment").and_then(string_literal),
        Some("account")
    );
    assert!(attr(central, "config_aggregator_id").is_none());
}

#[test]
fn examples_name_a_config_site_the_module_accepts() {
    // A placeholder for a required input (what a plan without tfvars gives it) would fail the
    // module's validation: the examples default it, and the default must be a site.
    for dir in [
        "terraform/examples/basic",
        "terraform/examples/organization",
    ] {
        let example = module_at(dir);
        let calls = example.module_calls();
        let site = attr(calls["sg_remediator"].block.body(), "config_site")
            .unwrap_or_else(|| panic!("{dir}: config_site is given"));
        let variable = var_name(site).unwrap_or_else(|| panic!("{dir}: from a variable"));
        let variables = example.variables();
        let default = attr(variables[variable].block.body(), "default")
            .and_then(string_literal)
            .unwrap_or_else(|| panic!("{dir}: var.{variable} has a default"));
        assert!(
            validation_admits(root_module(), "config_site", default),
            "{dir}: {default}"
        );
    }
}

#[test]
fn examples_start_with_restore_off() {
    // The examples are the dry-run first step: a restore re-opens ports.
    for dir in [
        "terraform/examples/basic",
        "terraform/examples/organization",
    ] {
        let example = module_at(dir);
        for (name, call) in example.module_calls() {
            let restore = attr(call.block.body(), "enable_restore");
            assert!(
                restore.is_none() || matches!(restore, Some(Expression::Bool(false))),
                "{dir}: module.{name} sets enable_restore"
            );
        }
    }
}

#[test]
fn catches_a_module_call_through_an_undeclared_provider_alias() {
    let child = Module::from_sources(
        Path::new("mod"),
        &[("main.tf", "output \"o\" { value = 1 }")],
    )
    .expect("child parses");
    let parent = |providers: &str| {
        Module::from_sources(
            Path::new("mod/examples/x"),
            &[(
                "main.tf",
                &format!(
                    "provider \"alicloud\" {{\n alias = \"a\"\n region = \"cn-hangzhou\"\n}}\n\
                     module \"m\" {{\n source = \"../..\"\n providers = {{ alicloud = {providers} }}\n}}"
                ),
            )],
        )
        .expect("parent parses")
    };
    let check = |providers: &str| -> Vec<String> {
        lint(schema(), &[child_clone(&child), parent(providers)])
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert!(check("alicloud.a").is_empty(), "{:#?}", check("alicloud.a"));
    let found = check("alicloud.b");
    assert!(
        found
            .iter()
            .any(|f| f.contains("providers.alicloud.b: no provider block declares this alias")),
        "{found:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Names: function_name and the SLS names derived from it
// ---------------------------------------------------------------------------------------------

/// The root module's locals `wanted` for `function_name` in account `account`.
fn derived_names(function_name: &str, account: &str, wanted: &[&str]) -> Vec<String> {
    use hcl::value::Value;
    let module = root_module();
    let locals = module.locals();
    let mut ctx = hcl::eval::Context::new();
    terraform_functions(&mut ctx);
    ctx.declare_var(
        "var",
        Value::from_iter([
            ("function_name".to_string(), Value::from(function_name)),
            ("log_project_name".to_string(), Value::from("")),
        ]),
    );
    ctx.declare_var(
        "data",
        serde_json::from_value::<Value>(serde_json::json!({
            "alicloud_caller_identity": {"current": {"account_id": account}}
        }))
        .expect("value"),
    );
    // Locals in dependency order: the stem first.
    let mut known = hcl::Map::new();
    for name in ["log_name_stem", "log_store_name", "log_project_name"] {
        ctx.declare_var("local", Value::Object(known.clone()));
        let expr = locals.get(name).unwrap_or_else(|| panic!("local.{name}"));
        let value = hcl::eval::Evaluate::evaluate(*expr, &ctx)
            .unwrap_or_else(|e| panic!("local.{name} for {function_name:?}: {e}"));
        known.insert(name.to_string(), value);
    }
    wanted
        .iter()
        .map(|w| known[*w].as_str().expect("a string").to_string())
        .collect()
}

/// SLS: 3-63 characters, lower-case letters, digits and '-' (and '_' in logstores), starting
/// and ending with a letter or digit.
fn valid_sls_name(name: &str, underscore: bool) -> bool {
    let b = name.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len())
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter()
            .all(|c| edge(c) || *c == b'-' || (underscore && *c == b'_'))
}

#[test]
fn function_names_are_1_to_64_characters_as_fc_allows() {
    let module = root_module();
    let admits = |n: &str| validation_admits(module, "function_name", n);
    assert!(admits("sg-remediator"));
    assert!(admits("f"));
    assert!(admits(&format!("a{}", "b".repeat(63))));
    assert!(!admits(&format!("a{}", "b".repeat(64))), "65 characters");
    assert!(!admits(""));
    assert!(!admits("1fn"), "FC names start with a letter or '_'");
    assert!(!admits("fn.name"));
}

#[test]
fn the_default_function_name_keeps_its_log_names() {
    // Existing deployments must not see their logstore replaced.
    let names = derived_names(
        "sg-remediator",
        "1234567890123456",
        &["log_store_name", "log_project_name"],
    );
    assert_eq!(names, ["sg-remediator", "sg-remediator-1234567890123456"]);
    let names = derived_names("My_Remediator", "1234567890123456", &["log_store_name"]);
    assert_eq!(names, ["my-remediator"]);
}

#[test]
fn awkward_function_names_still_derive_valid_log_names() {
    for name in [
        "_",
        "a",
        "ab",
        "A_",
        "__x__",
        "_-_",
        "fn-",
        "x__",
        &format!("a{}", "b".repeat(63)),
        &format!("a{}-", "b".repeat(62)),
        &format!("{}z", "_".repeat(63)),
    ] {
        assert!(validation_admits(root_module(), "function_name", name));
        let [store, project] = <[String; 2]>::try_from(derived_names(
            name,
            "1234567890123456",
            &["log_store_name", "log_project_name"],
        ))
        .expect("two names");
        assert!(
            valid_sls_name(&store, true),
            "{name:?} -> logstore {store:?}"
        );
        assert!(
            valid_sls_name(&project, false),
            "{name:?} -> project {project:?}"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any name the validation admits gives valid SLS names.
    #[test]
    fn every_admitted_function_name_derives_valid_log_names(
        name in "[A-Za-z_][0-9A-Za-z_-]{0,63}",
        account in "[1-9][0-9]{15}",
    ) {
        proptest::prop_assume!(validation_admits(root_module(), "function_name", &name));
        let names = derived_names(&name, &account, &["log_store_name", "log_project_name"]);
        proptest::prop_assert!(valid_sls_name(&names[0], true), "{} -> {}", name, names[0]);
        proptest::prop_assert!(valid_sls_name(&names[1], false), "{} -> {}", name, names[1]);
    }
}

#[test]
fn an_invalid_log_project_name_is_refused_at_plan() {
    let module = root_module();
    let admits = |n: &str| validation_admits(module, "log_project_name", n);
    assert!(admits(""));
    assert!(admits("sg-remediator-logs"));
    assert!(!admits("-logs"));
    assert!(!admits("ab"));
    assert!(!admits("Logs"));
}

// ---------------------------------------------------------------------------------------------
// terraform fmt
// ---------------------------------------------------------------------------------------------

#[test]
fn terraform_fmt_check_passes_when_the_cli_is_installed() {
    // `make lint` runs the same check; here it also guards `make test`. Without the CLI (it
    // cannot be downloaded in every environment) there is nothing to run.
    let Ok(output) = std::process::Command::new("terraform")
        .args(["fmt", "-check", "-recursive", "-list=true"])
        .arg(repo().join("terraform"))
        .output()
    else {
        eprintln!("terraform is not installed: fmt check skipped");
        return;
    };
    assert!(
        output.status.success(),
        "terraform fmt -check -recursive terraform/ lists:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn readme_documents_every_variable_and_output() {
    let readme = std::fs::read_to_string(repo().join("terraform/README.md")).expect("README");
    let module = root_module();
    let names = module
        .variables()
        .into_keys()
        .chain(module.outputs().into_keys());
    let missing: Vec<String> = names
        .filter(|name| !readme.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in terraform/README.md tables: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The checker catches what it claims to (negative tests on small snippets)
// ---------------------------------------------------------------------------------------------

fn snippet(source: &str) -> Module {
    Module::from_sources(Path::new("snippet"), &[("main.tf", source)]).expect("snippet parses")
}

fn findings(source: &str) -> Vec<String> {
    lint(schema(), &[snippet(source)])
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn assert_clean(source: &str) {
    let found = findings(source);
    assert!(found.is_empty(), "snippet is not clean: {found:#?}");
}

/// The snippet with `HOLE` left empty is clean, and with `defect` in it is reported as
/// `expected` (a substring of one finding).
fn assert_caught(template: &str, defect: &str, expected: &str) {
    assert_clean(&template.replace("HOLE", ""));
    let found = findings(&template.replace("HOLE", defect));
    assert!(
        found.iter().any(|f| f.contains(expected)),
        "expected a finding containing {expected:?}, got {found:#?}"
    );
}

const ROLE: &str = r#"
resource "alicloud_ram_role" "r" {
  role_name                   = "r"
  assume_role_policy_document = "{}"
  HOLE
}"#;

const REMEDIATION: &str = r#"
resource "alicloud_config_remediation" "r" {
  config_rule_id          = "cr-1"
  remediation_type        = "FC"
  remediation_template_id = "acs:fc:cn-hangzhou:1:functions/f"
  invoke_type             = INVOKE
  params                  = "{}"
}
HOLE"#;

const FUNCTION: &str = r#"
resource "alicloud_fcv3_function" "f" {
  function_name = "f"
  runtime       = "custom.debian11"
  handler       = "bootstrap"
  code {
    zip_file = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="
  }
  custom_runtime_config {
    port = 9000
  }
  HOLE
}"#;

#[test]
fn catches_an_unknown_argument() {
    assert_caught(
        ROLE,
        "colour = \"blue\"",
        "resource.alicloud_ram_role.r.colour: unknown argument",
    );
}

#[test]
fn catches_the_deprecated_name_on_ram_role() {
    let with_name = ROLE
        .replace("HOLE", "")
        .replace("role_name                   = \"r\"", "HOLE");
    assert_clean(&with_name.replace("HOLE", "role_name = \"r\""));
    let found = findings(&with_name.replace("HOLE", "name = \"r\""));
    assert!(
        found
            .iter()
            .any(|f| f.contains(".name: deprecated argument (use `role_name`)")),
        "{found:#?}"
    );
}

#[test]
fn catches_a_literal_invoke_type_outside_the_enum() {
    assert_clean(
        &REMEDIATION
            .replace("INVOKE", "\"AUTO_EXECUTION\"")
            .replace("HOLE", ""),
    );
    let found = findings(
        &REMEDIATION
            .replace("INVOKE", "\"Automatic\"")
            .replace("HOLE", ""),
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("invoke_type: value \"Automatic\" is not one of")),
        "{found:#?}"
    );
}

#[test]
fn catches_a_variable_invoke_type_whose_validation_allows_a_bad_value() {
    let template = REMEDIATION.replace("INVOKE", "var.invoke_type").replace(
        "HOLE",
        r#"variable "invoke_type" {
             type    = string
             default = "AUTO_EXECUTION"
             validation {
               condition     = contains(["AUTO_EXECUTION", "MANUAL_EXECUTIONHOLE"], var.invoke_type)
               error_message = "bad"
             }
           }"#,
    );
    assert_caught(&template, "S", "value \"MANUAL_EXECUTIONS\" is not one of");
}

#[test]
fn catches_a_variable_default_outside_the_enum() {
    let template = REMEDIATION.replace("INVOKE", "var.invoke_type").replace(
        "HOLE",
        r#"variable "invoke_type" {
             type    = string
             default = "AUTO_EXECUTIONHOLE"
             validation {
               condition     = contains(["AUTO_EXECUTION"], var.invoke_type)
               error_message = "bad"
             }
           }"#,
    );
    assert_caught(
        &template,
        "_NOW",
        "value \"AUTO_EXECUTION_NOW\" is not one of",
    );
}

#[test]
fn catches_a_variable_feeding_an_enum_without_a_validation() {
    let found = findings(&REMEDIATION.replace("INVOKE", "var.invoke_type").replace(
        "HOLE",
        "variable \"invoke_type\" { default = \"AUTO_EXECUTION\" }",
    ));
    assert!(
        found
            .iter()
            .any(|f| f.contains("has no validation `contains([...], var.invoke_type)`")),
        "{found:#?}"
    );
}

#[test]
fn catches_a_missing_required_argument() {
    let template = REMEDIATION
        .replace("INVOKE", "\"AUTO_EXECUTION\"")
        .replace("params                  = \"{}\"", "HOLE");
    assert_clean(&template.replace("HOLE", "params = \"{}\""));
    let found = findings(&template.replace("HOLE", ""));
    assert!(
        found
            .iter()
            .any(|f| f.contains(".params: missing required argument")),
        "{found:#?}"
    );
}

#[test]
fn catches_a_block_given_more_often_than_max_items() {
    assert_caught(
        FUNCTION,
        "code {\n zip_file = \"x\"\n }",
        ".code: block given 2 times, at most 1 allowed",
    );
}

#[test]
fn catches_an_undeclared_variable() {
    assert_caught(
        FUNCTION,
        "description = var.nope",
        "var.nope: undeclared variable",
    );
}

#[test]
fn catches_an_undeclared_variable_inside_a_string_template() {
    assert_caught(
        FUNCTION,
        "description = \"remediates ${var.nope}\"",
        "var.nope: undeclared variable",
    );
}

#[test]
fn catches_an_undeclared_local_in_a_nested_block() {
    assert_caught(
        FUNCTION,
        "log_config {\n project = local.nope\n }",
        "local.nope: undeclared local value",
    );
}

#[test]
fn catches_an_unused_variable() {
    assert_caught(
        FUNCTION,
        "}\nvariable \"spare\" {\n",
        "variable.spare: declared but never used",
    );
}

#[test]
fn catches_an_undeclared_resource_reference() {
    assert_caught(
        FUNCTION,
        "role = alicloud_ram_role.missing.arn",
        "alicloud_ram_role.missing.arn: undeclared resource",
    );
}

#[test]
fn catches_a_computed_only_attribute_being_set() {
    assert_caught(
        FUNCTION,
        "function_arn = \"x\"",
        ".function_arn: computed-only attribute",
    );
}

#[test]
fn catches_literals_outside_the_provider_ranges() {
    assert_caught(
        FUNCTION,
        "timeout = 86401",
        ".timeout: value range 86401..=86401 is outside 0..=86400",
    );
    assert_caught(
        FUNCTION,
        "instance_concurrency = 201",
        ".instance_concurrency: value range",
    );
    let port = FUNCTION
        .replace("HOLE", "")
        .replace("port = 9000", "port = 9000HOLE");
    let found = findings(&port.replace("HOLE", "0"));
    assert!(
        found
            .iter()
            .any(|f| f.contains("custom_runtime_config.port: value range 90000..=90000")),
        "{found:#?}"
    );
    let health = FUNCTION.replace("HOLE", "").replace(
        "port = 9000",
        "port = 9000\n health_check_config {\n timeout_seconds = HOLE\n }",
    );
    assert_clean(&health.replace("HOLE", "3"));
    let found = findings(&health.replace("HOLE", "4"));
    assert!(
        found
            .iter()
            .any(|f| f.contains("health_check_config.timeout_seconds: value range 4..=4")),
        "{found:#?}"
    );
}

#[test]
fn catches_a_variable_range_wider_than_the_provider_allows() {
    assert_caught(
        FUNCTION,
        r#"memory_size = var.memory
           }
           variable "memory" {
             type    = number
             default = 128
             validation {
               condition     = var.memory >= 64 && var.memory <= 65536
               error_message = "bad"
             }"#,
        ".memory_size: value range 64..=65536 is outside 64..=32768",
    );
}

#[test]
fn catches_an_unknown_argument_in_a_nested_block() {
    assert_caught(
        FUNCTION,
        "log_config {\n colour = 1\n }",
        ".log_config.colour: unknown argument",
    );
}

#[test]
fn catches_a_bad_literal_runtime_and_log_begin_rule() {
    assert_caught(
        FUNCTION,
        "log_config {\n log_begin_rule = \"Regex\"\n }",
        "log_begin_rule: value \"Regex\" is not one of [None, DefaultRegex]",
    );
    let found = findings(
        &FUNCTION
            .replace("custom.debian11", "custom.debian13")
            .replace("HOLE", ""),
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("runtime: value \"custom.debian13\" is not one of")),
        "{found:#?}"
    );
}

#[test]
fn catches_an_unset_exactly_one_of_pair() {
    let rule = r#"
        resource "alicloud_config_rule" "r" {
          rule_name                 = "r"
          source_owner              = "ALIYUN"
          source_identifier         = "sg-risky-ports-check"
          risk_level                = 1
          config_rule_trigger_types = "ConfigurationItemChangeNotification"
          HOLE
        }"#;
    assert_clean(&rule.replace(
        "HOLE",
        "resource_types_scope = [\"ACS::ECS::SecurityGroup\"]",
    ));
    let found = findings(&rule.replace("HOLE", ""));
    assert!(
        found.iter().any(|f| f.contains(
            "exactly one of [resource_types_scope, scope_compliance_resource_types] must be set, found 0"
        )),
        "{found:#?}"
    );
}

#[test]
fn catches_a_project_name_missing_on_the_log_project() {
    let project = "resource \"alicloud_log_project\" \"p\" {\n HOLE \n}";
    assert_clean(&project.replace("HOLE", "project_name = \"p\""));
    let found = findings(&project.replace("HOLE", "description = \"d\""));
    assert!(
        found
            .iter()
            .any(|f| f.contains("exactly one of [name, project_name] must be set, found 0")),
        "{found:#?}"
    );
}

#[test]
fn catches_an_unknown_resource_type() {
    let found = findings("resource \"alicloud_fc_function\" \"f\" {}");
    assert!(
        found
            .iter()
            .any(|f| f.contains("resource type `alicloud_fc_function` is not in the schema")),
        "{found:#?}"
    );
}

#[test]
fn catches_a_role_without_an_explicit_name() {
    let found = findings(
        &ROLE
            .replace("role_name                   = \"r\"", "")
            .replace("HOLE", ""),
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains(".role_name: must be set explicitly")),
        "{found:#?}"
    );
}

#[test]
fn catches_module_calls_with_unknown_or_missing_variables() {
    let child = Module::from_sources(
        Path::new("mod"),
        &[(
            "main.tf",
            "variable \"needed\" { type = string }\noutput \"o\" { value = var.needed }",
        )],
    )
    .expect("child parses");
    let call = |body: &str| {
        let parent = Module::from_sources(
            Path::new("mod/examples/x"),
            &[("main.tf", &format!("module \"m\" {{\n source = \"../..\"\n {body}\n}}\noutput \"p\" {{ value = module.m.o }}"))],
        )
        .expect("parent parses");
        lint(schema(), &[child_clone(&child), parent])
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert!(call("needed = \"x\"").is_empty());
    let found = call("needed = \"x\"\n extra = 1");
    assert!(
        found
            .iter()
            .any(|f| f.contains("module.m.extra: the called module has no such variable")),
        "{found:#?}"
    );
    let found = call("");
    assert!(
        found
            .iter()
            .any(|f| f.contains("module.m.needed: missing required module variable")),
        "{found:#?}"
    );
}

fn child_clone(module: &Module) -> Module {
    Module {
        dir: module.dir.clone(),
        files: module.files.clone(),
    }
}

#[test]
fn catches_a_reference_to_a_missing_module_output() {
    let child = Module::from_sources(
        Path::new("mod"),
        &[("main.tf", "output \"o\" { value = 1 }")],
    )
    .expect("child parses");
    let parent = Module::from_sources(
        Path::new("mod/examples/x"),
        &[(
            "main.tf",
            "module \"m\" {\n source = \"../..\"\n}\noutput \"p\" { value = module.m.nope }",
        )],
    )
    .expect("parent parses");
    let found: Vec<String> = lint(schema(), &[child, parent])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        found
            .iter()
            .any(|f| f.contains("module.m.nope: the called module has no such output")),
        "{found:#?}"
    );
}

/// Every name Config reads, learned by recording the lookups of a parse with nothing set.
fn variables_the_function_reads() -> BTreeSet<String> {
    let seen = std::sync::Mutex::new(BTreeSet::new());
    sg_remediator::config::Config::from_lookup(|name| {
        seen.lock().unwrap().insert(name.to_string());
        None
    })
    .expect("the defaults parse");
    seen.into_inner().unwrap()
}

#[test]
fn every_environment_variable_the_module_sets_is_one_the_function_reads() {
    let module = root_module();
    let locals = module.locals();
    let Some(Expression::Object(env)) = locals.get("environment_all").copied() else {
        panic!("local.environment_all is an object");
    };
    let read = variables_the_function_reads();
    for (key, _) in env.iter() {
        let name = object_key(key).expect("a plain key");
        assert!(
            read.contains(&name),
            "{name} is set by Terraform but not read by the function"
        );
    }
}

#[test]
fn the_notify_inputs_set_the_functions_notify_variables() {
    let url = "https://oapi.dingtalk.com/robot/send?access_token=t";
    let env = |name: &str, vars: &[(&str, &str)]| {
        let expression = function_env(root_module(), name).unwrap_or_else(|| panic!("{name}"));
        evaluated(expression, vars)
    };
    let configured = [
        ("notify_webhook_url", url),
        ("notify_format", "dingtalk"),
        ("notify_webhook_secret", "SECabc"),
    ];
    assert_eq!(
        env("NOTIFY_WEBHOOK_URL", &configured),
        Ok(hcl::value::Value::from(url))
    );
    assert_eq!(
        env("NOTIFY_FORMAT", &configured),
        Ok(hcl::value::Value::from("dingtalk"))
    );
    assert_eq!(
        env("NOTIFY_WEBHOOK_SECRET", &configured),
        Ok(hcl::value::Value::from("SECabc"))
    );
}

#[test]
fn without_a_webhook_no_notify_variable_is_passed() {
    // Empty values are dropped from the function's environment, so nothing is configured.
    let dry_run = [
        ("notify_format", hcl::value::Value::from("slack")),
        ("notify_dry_run", hcl::value::Value::from(true)),
    ];
    for name in ["NOTIFY_FORMAT", "NOTIFY_DRY_RUN"] {
        let expression = function_env(root_module(), name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            evaluate_with(root_module(), expression, &dry_run),
            Ok(hcl::value::Value::from("")),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Narrowing, the allowed ranges and the periodic trigger
// ---------------------------------------------------------------------------------------------

fn strings(items: &[&str]) -> hcl::value::Value {
    hcl::value::Value::from_iter(items.iter().map(|s| hcl::value::Value::from(*s)))
}

fn cidr_refusals(items: &[&str]) -> Vec<String> {
    tf::refusals(root_module(), "allowed_source_cidrs", strings(items))
}

#[test]
fn allowed_source_cidrs_admits_ipv4_and_ipv6_networks() {
    for ok in [
        vec![],
        vec!["203.0.113.0/24"],
        vec!["203.0.113.0/24", "2001:db8:1234::/48"],
        vec!["10.0.0.0/8", "2001::/16", "192.0.2.7/32", "2001:DB8::/32"],
    ] {
        assert_eq!(cidr_refusals(&ok), Vec::<String>::new(), "{ok:?}");
    }
}

/// The one validation message `items` gets, checked to contain `says`.
fn refused_with(items: &[&str], says: &str) {
    let refusals = cidr_refusals(items);
    assert_eq!(refusals.len(), 1, "{items:?}: {refusals:#?}");
    assert!(refusals[0].contains(says), "{items:?}: {}", refusals[0]);
}

#[test]
fn allowed_source_cidrs_refuses_a_world_range() {
    refused_with(&["0.0.0.0/0"], "world range");
    refused_with(&["203.0.113.0/24", "::/0"], "world range");
}

#[test]
fn allowed_source_cidrs_refuses_ipv4_wider_than_8_and_ipv6_wider_than_16() {
    refused_with(&["10.0.0.0/7"], "no wider than /8");
    refused_with(&["2000::/15"], "no wider than /16");
}

#[test]
fn allowed_source_cidrs_refuses_host_bits() {
    refused_with(&["10.0.0.1/8"], "host bits");
    refused_with(&["2001:db8::1/32"], "host bits");
}

#[test]
fn allowed_source_cidrs_refuses_malformed_entries() {
    for bad in [
        "bogus",
        "10.0.0.0",
        "010.0.0.0/8",
        "10.0.0.0/33",
        "2001:db8::/129",
        "256.0.0.0/8",
        " 10.0.0.0/8",
        "10.0.0.0/8,10.1.0.0/16",
    ] {
        refused_with(&[bad], "must be an IPv4 or IPv6 CIDR");
    }
}

#[test]
fn allowed_source_cidrs_refuses_more_than_20_entries() {
    let twenty: Vec<String> = (1..=20).map(|i| format!("10.{i}.0.0/16")).collect();
    let twenty: Vec<&str> = twenty.iter().map(String::as_str).collect();
    assert_eq!(cidr_refusals(&twenty), Vec::<String>::new());
    let mut more = twenty.clone();
    more.push("10.99.0.0/16");
    refused_with(&more, "at most 20");
}

#[test]
fn remediation_action_is_revoke_or_narrow_and_revoke_by_default() {
    let module = root_module();
    let admits = |v: &str| validation_admits(module, "remediation_action", v);
    assert!(admits("revoke") && admits("narrow"));
    for bad in ["", "Narrow", "delete", "enforce"] {
        assert!(!admits(bad), "{bad:?}");
    }
    let variables = module.variables();
    let default =
        attr(variables["remediation_action"].block.body(), "default").and_then(string_literal);
    assert_eq!(
        default,
        Some("revoke"),
        "existing deployments keep revoking"
    );
}

/// The function's environment (empty values dropped, as the module drops them) with these
/// inputs.
fn environment(vars: &[(&str, hcl::value::Value)]) -> BTreeMap<String, String> {
    let module = root_module();
    let ctx = tf::module_context(module, vars);
    let env = function_env_all(module);
    let value = tf::eval(env, &ctx).expect("the environment evaluates");
    let hcl::value::Value::Object(map) = value else {
        panic!("environment_variables is an object");
    };
    map.into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
        .collect()
}

/// The expression of the function's `environment_variables`.
fn function_env_all(module: &Module) -> &Expression {
    let function = resource(module, "alicloud_fcv3_function");
    attr(function.body(), "environment_variables").expect("environment_variables")
}

fn narrowing_inputs(cidrs: &[&str]) -> Vec<(&'static str, hcl::value::Value)> {
    vec![
        ("remediation_action", hcl::value::Value::from("narrow")),
        ("allowed_source_cidrs", strings(cidrs)),
        ("config_site", hcl::value::Value::from("china")),
    ]
}

#[test]
fn narrowing_passes_the_action_and_the_comma_joined_ranges_to_the_function() {
    let env = environment(&narrowing_inputs(&["203.0.113.0/24", "2001:db8:1234::/48"]));
    assert_eq!(
        env.get("REMEDIATION_ACTION").map(String::as_str),
        Some("narrow")
    );
    assert_eq!(
        env.get("ALLOWED_SOURCE_CIDRS").map(String::as_str),
        Some("203.0.113.0/24,2001:db8:1234::/48")
    );
}

#[test]
fn revoking_passes_neither_the_action_nor_the_ranges() {
    let env = environment(&[("config_site", hcl::value::Value::from("china"))]);
    assert!(!env.contains_key("REMEDIATION_ACTION"), "{env:?}");
    assert!(!env.contains_key("ALLOWED_SOURCE_CIDRS"), "{env:?}");
    assert_eq!(env.get("RISKY_PORTS").map(String::as_str), Some("22,3389"));
}

/// The function's preconditions that mention `variable`, evaluated with `vars`.
fn preconditions_hold(variable: &str, vars: &[(&str, hcl::value::Value)]) -> Vec<bool> {
    let module = root_module();
    let ctx = tf::module_context(module, vars);
    let function = resource(module, "alicloud_fcv3_function");
    blocks(function.body(), "lifecycle")
        .flat_map(|l| blocks(l.body(), "precondition"))
        .filter_map(|p| attr(p.body(), "condition"))
        .filter(|c| {
            lint::references(c)
                .iter()
                .any(|r| r.get(1).map(String::as_str) == Some(variable))
        })
        .map(|c| tf::eval(c, &ctx) == Ok(hcl::value::Value::Bool(true)))
        .collect()
}

#[test]
fn narrowing_without_allowed_ranges_fails_the_plan() {
    let held = preconditions_hold("allowed_source_cidrs", &narrowing_inputs(&[]));
    assert!(held.len() >= 2 && held.contains(&false), "{held:?}");
    let held = preconditions_hold(
        "allowed_source_cidrs",
        &narrowing_inputs(&["203.0.113.0/24"]),
    );
    assert!(held.iter().all(|h| *h), "{held:?}");
}

#[test]
fn allowed_ranges_without_narrowing_fail_the_plan() {
    // Whoever set them expects narrowing; revoke mode would delete the rules instead.
    let held = preconditions_hold(
        "allowed_source_cidrs",
        &[("allowed_source_cidrs", strings(&["203.0.113.0/24"]))],
    );
    assert!(held.contains(&false), "{held:?}");
    let held = preconditions_hold("allowed_source_cidrs", &[]);
    assert!(held.iter().all(|h| *h), "{held:?}");
}

/// Whether `local.authorizes` of `module` holds with these inputs.
fn authorizes(module: &Module, vars: &[(&str, hcl::value::Value)]) -> bool {
    let ctx = tf::module_context(module, vars);
    let expr: Expression = "local.authorizes".parse().expect("parses");
    tf::eval(&expr, &ctx) == Ok(hcl::value::Value::Bool(true))
}

#[test]
fn authorize_is_granted_when_narrowing_or_restoring_and_only_then() {
    use hcl::value::Value;
    for module in [root_module(), module_at("terraform/modules/member-role")] {
        let dir = module.dir.display();
        let with = |action: &str, restore: bool| {
            authorizes(
                module,
                &[
                    ("remediation_action", Value::from(action)),
                    ("enable_restore", Value::Bool(restore)),
                ],
            )
        };
        assert!(
            !with("revoke", false),
            "{dir}: revoking alone never authorizes"
        );
        assert!(with("narrow", false), "{dir}: narrowing authorizes");
        assert!(with("revoke", true), "{dir}: a restore authorizes");
        assert!(with("narrow", true), "{dir}");
    }
    // And the grant is exactly that condition (the policy check above pins the action to it).
    let grants = policy_grants(root_module()).expect("checkable");
    assert_eq!(
        grants["ecs:AuthorizeSecurityGroup"],
        vec![BTreeSet::from([AUTHORIZE_GATE.to_string()])]
    );
}

#[test]
fn the_member_role_validates_remediation_action_like_the_central_module() {
    let member = module_at("terraform/modules/member-role");
    for value in ["revoke", "narrow", "", "Narrow", "delete"] {
        assert_eq!(
            validation_admits(member, "remediation_action", value),
            validation_admits(root_module(), "remediation_action", value),
            "{value:?}"
        );
    }
}

#[test]
fn both_rules_are_also_evaluated_on_a_schedule() {
    // A change-triggered rule never re-evaluates a group whose configuration stays the same, so
    // an exemption that expires would never be enforced (terraform/README.md).
    let module = root_module();
    let ctx = tf::module_context(module, &[]);
    for ty in [
        "alicloud_config_rule",
        "alicloud_config_aggregate_config_rule",
    ] {
        let rule = resource(module, ty);
        let triggers = attr(rule.body(), "config_rule_trigger_types").expect("triggers");
        let triggers = tf::eval(triggers, &ctx).expect("evaluates");
        assert_eq!(
            triggers.as_str(),
            Some("ConfigurationItemChangeNotification,ScheduledNotification"),
            "{ty}"
        );
        assert_eq!(
            attr(rule.body(), "maximum_execution_frequency").and_then(var_name),
            Some("maximum_execution_frequency"),
            "{ty}"
        );
    }
}

#[test]
fn maximum_execution_frequency_takes_the_providers_values_and_defaults_to_a_day() {
    let module = root_module();
    let admits = |v: &str| validation_admits(module, "maximum_execution_frequency", v);
    // The aggregate rule's ValidateFunc in the provider (the schema subset) lists these.
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/terraform/alicloud-schema-subset.json"
    ))
    .expect("schema JSON");
    let values = schema["resources"]["alicloud_config_aggregate_config_rule"]["args"]
        ["maximum_execution_frequency"]["values"]
        .as_array()
        .expect("the provider's values");
    assert_eq!(values.len(), 5);
    for v in values {
        assert!(admits(v.as_str().expect("text")), "{v}");
    }
    for bad in ["", "one_hour", "24h", "Two_Hours"] {
        assert!(!admits(bad), "{bad:?}");
    }
    let variables = module.variables();
    let default = attr(
        variables["maximum_execution_frequency"].block.body(),
        "default",
    )
    .and_then(string_literal);
    assert_eq!(default, Some("TwentyFour_Hours"));
}

/// The module refuses at plan time exactly the blocks the function would refuse at start, so a
/// plan that passes never deploys a function that cannot start (and the reverse).
#[test]
fn allowed_source_cidrs_are_judged_by_the_module_as_the_function_judges_them() {
    use sg_remediator::rules::AllowedSources;
    for entry in [
        "203.0.113.0/24",
        "192.0.2.7/32",
        "10.0.0.0/8",
        "10.0.0.0/7",
        "10.0.0.1/8",
        "0.0.0.0/0",
        "0.0.0.0/8",
        "10.0.0.0",
        "010.0.0.0/8",
        "10.0.0.0/33",
        "256.0.0.0/8",
        "bogus",
        "2001:db8:1234::/48",
        "2001:DB8::/32",
        "2001::/16",
        "2000::/15",
        "2001:db8::1/32",
        "2001:db8::/129",
        "::/0",
        "::/16",
        "::ffff:203.0.113.0/120",
    ] {
        let module = cidr_refusals(&[entry]).is_empty();
        let function = entry.parse::<AllowedSources>().is_ok();
        assert_eq!(
            module, function,
            "{entry}: module accepts {module}, function {function}"
        );
    }
}

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

#[path = "terraform/lint.rs"]
mod lint;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hcl::expr::{BinaryOperator, Expression, Operation};
use hcl::Block;
use lint::{attr, blocks, lint, local_name, object_key, string_literal, var_name, Module, Schema};
use sg_remediator::services::{ApiAction, Needed, API_ACTIONS};

/// The port FC dials when `custom_runtime_config.port` is unset, and the function's fallback
/// when neither `FC_CUSTOM_LISTEN_PORT` nor `FC_SERVER_PORT` is set (fc-custom-runtime.md §1).
const FC_DEFAULT_PORT: f64 = 9000.0;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// Every directory under `terraform/` that holds `.tf` files: the module and its examples.
fn module_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
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
            module_dirs(&path, out);
        }
    }
}

fn repo_modules() -> &'static [Module] {
    static MODULES: OnceLock<Vec<Module>> = OnceLock::new();
    MODULES.get_or_init(|| {
        let mut dirs = Vec::new();
        module_dirs(&repo().join("terraform"), &mut dirs);
        dirs.iter()
            .map(|dir| Module::load(dir).unwrap_or_else(|e| panic!("{e}")))
            .collect()
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
}

#[test]
fn every_tf_file_passes_the_schema_and_reference_checks() {
    let findings = lint(schema(), repo_modules());
    assert!(findings.is_empty(), "findings:\n{}", show(&findings));
}

#[test]
fn provider_floor_covers_the_custom_debian11_and_12_runtimes() {
    // custom.debian11/12 exist from alicloud 1.260.0 (terraform.md §1).
    for module in repo_modules() {
        let floor = module
            .files
            .iter()
            .flat_map(|(_, body)| blocks(body, "terraform"))
            .flat_map(|t| blocks(t.body(), "required_providers"))
            .filter_map(|rp| attr(rp.body(), "alicloud"))
            .find_map(|expr| match expr {
                Expression::Object(o) => o
                    .iter()
                    .find(|(k, _)| object_key(k).as_deref() == Some("version"))
                    .and_then(|(_, v)| string_literal(v)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: alicloud version constraint", module.dir.display()));
        let version = floor
            .strip_prefix(">= ")
            .unwrap_or_else(|| panic!("{floor:?} is a `>= x.y.z` floor"));
        let parts: Vec<u32> = version
            .split('.')
            .map(|p| p.parse().expect("numeric version"))
            .collect();
        assert!(
            parts >= vec![1, 260, 0],
            "{}: {floor}",
            module.dir.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RAM policy = API_ACTIONS
// ---------------------------------------------------------------------------------------------

/// Variables under which an action is granted (empty: unconditionally).
type Grants = BTreeMap<String, Vec<BTreeSet<String>>>;

/// The module variable that gates each [`Needed`] condition.
fn gate(needed: Needed) -> Option<&'static str> {
    match needed {
        Needed::Always => None,
        Needed::Restore => Some("enable_restore"),
        Needed::CrossAccount => Some("cross_account_role_name"),
        Needed::Aggregator => Some("config_aggregator_id"),
    }
}

/// `var.x`, `var.x != ""` or `var.x != null` → `x`.
fn condition_var(cond: &Expression) -> Result<String, String> {
    if let Some(name) = var_name(cond) {
        return Ok(name.to_string());
    }
    if let Expression::Operation(op) = cond {
        if let Operation::Binary(b) = op.as_ref() {
            let empty =
                |e: &Expression| matches!(e, Expression::Null) || string_literal(e) == Some("");
            if b.operator == BinaryOperator::NotEq {
                match (var_name(&b.lhs_expr), var_name(&b.rhs_expr)) {
                    (Some(v), None) if empty(&b.rhs_expr) => return Ok(v.to_string()),
                    (None, Some(v)) if empty(&b.lhs_expr) => return Ok(v.to_string()),
                    _ => {}
                }
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
            let var = condition_var(&c.cond_expr)?;
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
    let mut problems = Vec::new();
    for action in actions {
        let expected: BTreeSet<String> = gate(action.needed)
            .map(str::to_string)
            .into_iter()
            .collect();
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
            needed: Needed::Restore,
        },
        ApiAction {
            ram_action: "ecs:DescribeSecurityGroupAttribute",
            needed: Needed::Always,
        },
    ];
    let problems = policy_mismatches(&actions, &grants);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("ecs:AuthorizeSecurityGroup (Restore) is granted under {}"));
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
    let rule = resource(module, "alicloud_config_rule");
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
    let rule_id = attr(remediation.body(), "config_rule_id").and_then(lint::reference_path);
    assert_eq!(
        rule_id.as_ref().map(|p| (p[0], p[2])),
        Some(("alicloud_config_rule", "config_rule_id"))
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

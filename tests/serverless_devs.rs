//! `s.yaml` (Serverless Devs 3.x, component `fc3`) kept consistent with the Terraform module.
//!
//! The Terraform module is the reference deployment; `s.yaml` is a convenience for Serverless
//! Devs users that deploys only the function. These tests fail when the two drift apart: the
//! runtime, handler, port, code path, sizing and log rule, and the environment (every name one
//! the function reads and the module sets, every value one the function's own parser accepts,
//! and the same effective configuration as the module's defaults).
//!
//! `s.yaml` is read by the test kit's reader of the YAML subset it uses
//! (`sg_test_kit::terraform_check::yaml`, with its own tests) instead of a YAML crate: a
//! construct the reader does not understand is an error, never misread silently.
//!
//! Each check is a function from the `s.yaml` text to a list of mismatches; the negative tests
//! at the bottom run the same checks on altered copies and expect them to be reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use hcl::expr::Expression;
use sg_remediator::config::Config;
use sg_remediator::services::{Needed, API_ACTIONS};
use sg_test_kit::terraform_check::yaml::{parse_yaml, Node};
use sg_test_kit::terraform_check::{attr, blocks, object_key, string_literal, var_name, Module};

fn repo() -> PathBuf {
    crate::repo_root()
}

fn s_yaml_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string(repo().join("s.yaml")).expect("s.yaml at the root"))
}

// ---------------------------------------------------------------------------------------------
// What s.yaml is compared with: the Terraform module, package.sh and the function itself
// ---------------------------------------------------------------------------------------------

/// How the Terraform module sets one environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TfEnv {
    /// `NAME = var.x`; `default` is the variable's literal default ("" when it has none).
    Var { default: String },
    /// Anything else (`join(...)`, a conditional, ...).
    Computed,
}

#[derive(Debug)]
struct Terraform {
    runtime: String,
    handler: String,
    port: f64,
    has_command: bool,
    memory_size: f64,
    timeout: f64,
    instance_concurrency: f64,
    log_begin_rule: String,
    /// `local.environment_all` by name.
    environment: BTreeMap<String, TfEnv>,
}

fn variable_default<'a>(module: &'a Module, name: &str) -> Option<&'a Expression> {
    let variables = module.variables();
    attr(variables.get(name)?.block.body(), "default")
}

fn number(expr: Option<&Expression>) -> Option<f64> {
    match expr? {
        Expression::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// A number attribute of the function that is either a literal or `var.x` with a default.
fn function_number(module: &Module, function: &hcl::Block, key: &str) -> f64 {
    let expr = attr(function.body(), key).unwrap_or_else(|| panic!("function sets {key}"));
    match var_name(expr) {
        Some(variable) => number(variable_default(module, variable)),
        None => number(Some(expr)),
    }
    .unwrap_or_else(|| panic!("{key}: a number or a variable with a number default"))
}

fn terraform() -> &'static Terraform {
    static TERRAFORM: OnceLock<Terraform> = OnceLock::new();
    TERRAFORM.get_or_init(|| {
        let module = Module::load(&repo().join("terraform")).unwrap_or_else(|e| panic!("{e}"));
        let resources = module.resources();
        let function = resources
            .get("alicloud_fcv3_function.fn")
            .expect("alicloud_fcv3_function.fn")
            .block;
        let body = function.body();

        let runtime = attr(body, "runtime")
            .and_then(var_name)
            .expect("runtime = var.runtime");
        let runtime = variable_default(&module, runtime)
            .and_then(string_literal)
            .expect("var.runtime has a string default")
            .to_string();
        let handler = attr(body, "handler")
            .and_then(string_literal)
            .expect("handler is a literal")
            .to_string();
        let custom = blocks(body, "custom_runtime_config")
            .next()
            .expect("custom_runtime_config");
        let port = number(attr(custom.body(), "port")).expect("custom_runtime_config.port");
        let log = blocks(body, "log_config").next().expect("log_config");
        let log_begin_rule = attr(log.body(), "log_begin_rule")
            .and_then(string_literal)
            .expect("log_begin_rule is a literal")
            .to_string();

        let locals = module.locals();
        let Some(Expression::Object(env)) = locals.get("environment_all").copied() else {
            panic!("local.environment_all is an object");
        };
        let environment = env
            .iter()
            .map(|(key, value)| {
                let name = object_key(key).expect("a plain key");
                let how = match var_name(value) {
                    Some(variable) => TfEnv::Var {
                        default: variable_default(&module, variable)
                            .and_then(string_literal)
                            .unwrap_or("")
                            .to_string(),
                    },
                    None => TfEnv::Computed,
                };
                (name, how)
            })
            .collect();

        Terraform {
            runtime,
            handler,
            port,
            has_command: attr(custom.body(), "command").is_some(),
            memory_size: function_number(&module, function, "memory_size"),
            timeout: function_number(&module, function, "timeout"),
            instance_concurrency: function_number(&module, function, "instance_concurrency"),
            log_begin_rule,
            environment,
        }
    })
}

/// The zip `scripts/package.sh` writes by default: the last argument of its `make-zip.py` call,
/// with `$out` read as the script's default output directory (`out=…`).
fn packaged_zip() -> String {
    let script = std::fs::read_to_string(repo().join("scripts/package.sh")).expect("package.sh");
    let code = || script.lines().filter(|l| !l.trim_start().starts_with('#'));
    let calls: Vec<&str> = code().filter(|l| l.contains("make-zip.py")).collect();
    assert_eq!(calls.len(), 1, "one make-zip.py call in package.sh");
    let out = code()
        .find_map(|l| l.trim().strip_prefix("out="))
        .expect("package.sh sets its default output directory");
    calls[0]
        .split_whitespace()
        .last()
        .expect("an output argument")
        .trim_matches('"')
        .replace("$out", out)
}

/// Every name `Config::from_lookup` asks for, recorded from a parse with nothing set.
fn variables_the_function_reads() -> BTreeSet<String> {
    let seen = std::sync::Mutex::new(BTreeSet::new());
    Config::from_lookup(|name| {
        seen.lock().unwrap().insert(name.to_string());
        None
    })
    .expect("the defaults parse");
    seen.into_inner().unwrap()
}

/// A path with `.` and `..` resolved lexically.
fn normalize(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .fold(PathBuf::new(), |mut acc, c| {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    acc.pop();
                }
                other => acc.push(other.as_os_str()),
            }
            acc
        })
}

// ---------------------------------------------------------------------------------------------
// The checks: s.yaml text in, mismatches out
// ---------------------------------------------------------------------------------------------

/// The `props` of the single fc3 resource.
fn props(text: &str) -> Result<Node, String> {
    let root = parse_yaml(text)?;
    let edition = root.path(&["edition"]).and_then(Node::scalar);
    if edition.map(|s| s.text.as_str()) != Some("3.0.0") {
        return Err(format!("edition must be 3.0.0, got {edition:?}"));
    }
    let resources = root.path(&["resources"]).ok_or("no resources")?.entries();
    let [(name, resource)] = resources else {
        return Err(format!("expected one resource, got {}", resources.len()));
    };
    let component = resource.path(&["component"]).and_then(Node::scalar);
    if component.map(|s| s.text.as_str()) != Some("fc3") {
        return Err(format!("{name}: component must be fc3, got {component:?}"));
    }
    resource
        .get("props")
        .cloned()
        .ok_or_else(|| format!("{name}: no props"))
}

fn prop<'a>(props: &'a Node, keys: &[&str]) -> Result<&'a str, String> {
    props
        .path(keys)
        .and_then(Node::scalar)
        .map(|s| s.text.as_str())
        .ok_or_else(|| format!("props.{} is missing", keys.join(".")))
}

/// Compares one prop with what Terraform deploys.
fn expect_eq(found: &mut Vec<String>, what: &str, s_yaml: &str, terraform: &str) {
    if s_yaml != terraform {
        found.push(format!(
            "{what}: s.yaml has {s_yaml:?}, Terraform {terraform:?}"
        ));
    }
}

fn expect_number(found: &mut Vec<String>, what: &str, s_yaml: &str, terraform: f64) {
    if s_yaml.parse::<f64>().ok() != Some(terraform) {
        found.push(format!(
            "{what}: s.yaml has {s_yaml:?}, Terraform {terraform}"
        ));
    }
}

/// Runtime, handler, port and command of the custom runtime.
fn start_mismatches(text: &str) -> Result<Vec<String>, String> {
    let props = props(text)?;
    let tf = terraform();
    let mut found = Vec::new();
    expect_eq(
        &mut found,
        "runtime",
        prop(&props, &["runtime"])?,
        &tf.runtime,
    );
    expect_eq(
        &mut found,
        "handler",
        prop(&props, &["handler"])?,
        "bootstrap",
    );
    expect_eq(&mut found, "handler", &tf.handler, "bootstrap");
    let port = prop(&props, &["customRuntimeConfig", "port"])?;
    expect_number(&mut found, "customRuntimeConfig.port", port, tf.port);
    let has_command = props.path(&["customRuntimeConfig", "command"]).is_some();
    if has_command || tf.has_command {
        found.push("customRuntimeConfig.command: FC must run /code/bootstrap".to_string());
    }
    Ok(found)
}

/// Memory, timeout, concurrency and the log rule equal the module's defaults.
fn sizing_mismatches(text: &str) -> Result<Vec<String>, String> {
    let props = props(text)?;
    let tf = terraform();
    let mut found = Vec::new();
    let memory = prop(&props, &["memorySize"])?;
    expect_number(&mut found, "memorySize", memory, tf.memory_size);
    expect_number(
        &mut found,
        "timeout",
        prop(&props, &["timeout"])?,
        tf.timeout,
    );
    let concurrency = prop(&props, &["instanceConcurrency"])?;
    expect_number(
        &mut found,
        "instanceConcurrency",
        concurrency,
        tf.instance_concurrency,
    );
    let rule = prop(&props, &["logConfig", "logBeginRule"])?;
    expect_eq(
        &mut found,
        "logConfig.logBeginRule",
        rule,
        &tf.log_begin_rule,
    );
    Ok(found)
}

/// The code is the zip package.sh writes.
fn code_mismatches(text: &str) -> Result<Vec<String>, String> {
    let props = props(text)?;
    let code = prop(&props, &["code"])?;
    let zip = packaged_zip();
    Ok(if normalize(code) == normalize(&zip) {
        Vec::new()
    } else {
        vec![format!(
            "code: s.yaml has {code:?}, package.sh writes {zip:?}"
        )]
    })
}

/// The environment as name → value, with values that are not quoted strings reported.
fn environment(text: &str) -> Result<(BTreeMap<String, String>, Vec<String>), String> {
    let props = props(text)?;
    let node = props
        .get("environmentVariables")
        .ok_or("props.environmentVariables is missing")?;
    let mut env = BTreeMap::new();
    let mut found = Vec::new();
    for (name, value) in node.entries() {
        match value.scalar() {
            Some(s) if s.quoted => {
                env.insert(name.clone(), s.text.clone());
            }
            Some(s) => found.push(format!(
                "{name}: {:?} must be a quoted string (FC takes strings only)",
                s.text
            )),
            None => found.push(format!("{name}: not a scalar")),
        }
    }
    Ok((env, found))
}

/// Names: read by the function and set by the module; ALLOW_RESTORE stays off.
fn environment_name_mismatches(text: &str) -> Result<Vec<String>, String> {
    let (env, mut found) = environment(text)?;
    let read = variables_the_function_reads();
    let tf = terraform();
    for name in env.keys() {
        if !read.contains(name) {
            found.push(format!("{name}: not read by the function"));
        }
        if !tf.environment.contains_key(name) {
            found.push(format!("{name}: not in the module's local.environment_all"));
        }
    }
    if env.contains_key("ALLOW_RESTORE") {
        found.push("ALLOW_RESTORE: restore is an opt-in, off by default".to_string());
    }
    Ok(found)
}

/// Values: the function's own parser accepts exactly this environment.
fn environment_parse_mismatches(text: &str) -> Result<Vec<String>, String> {
    let (env, mut found) = environment(text)?;
    if let Err(e) = Config::from_lookup(|name| env.get(name).cloned()) {
        found.push(format!("the function rejects the environment: {e}"));
    }
    Ok(found)
}

/// Values: the same effective configuration as the module with its defaults. A variable whose
/// module default is empty is not passed by the module, so the function's built-in default
/// applies, and the s.yaml value must amount to the same.
fn environment_default_mismatches(text: &str) -> Result<Vec<String>, String> {
    let (env, mut found) = environment(text)?;
    let tf = terraform();
    let mut module_env = BTreeMap::new();
    for name in env.keys() {
        match tf.environment.get(name) {
            Some(TfEnv::Var { default, .. }) if !default.is_empty() => {
                module_env.insert(name.clone(), default.clone());
            }
            Some(TfEnv::Var { .. }) => {}
            Some(TfEnv::Computed) => found.push(format!(
                "{name}: computed in Terraform; extend this test to compare it"
            )),
            None => {}
        }
    }
    for name in ["RISKY_PORTS", "REMEDIATION_MODE"] {
        let s_yaml = env.get(name).map(String::as_str);
        let module = module_env.get(name).map(String::as_str);
        if s_yaml.is_none() || s_yaml != module {
            found.push(format!(
                "{name}: s.yaml has {s_yaml:?}, the Terraform default is {module:?}"
            ));
        }
    }
    let ours = Config::from_lookup(|name| env.get(name).cloned());
    let theirs = Config::from_lookup(|name| module_env.get(name).cloned());
    // Config has no PartialEq; its derived Debug shows every field.
    if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
        if format!("{ours:?}") != format!("{theirs:?}") {
            found.push(format!(
                "the function is configured differently:\n  s.yaml:    {ours:?}\n  Terraform: {theirs:?}"
            ));
        }
    }
    Ok(found)
}

fn assert_consistent(check: fn(&str) -> Result<Vec<String>, String>) {
    let found = check(s_yaml_text()).unwrap_or_else(|e| panic!("s.yaml: {e}"));
    assert!(
        found.is_empty(),
        "s.yaml drifts from Terraform:\n{found:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// s.yaml against Terraform
// ---------------------------------------------------------------------------------------------

#[test]
fn s_yaml_deploys_one_fc3_function_named_like_the_module_default() {
    let props = props(s_yaml_text()).unwrap_or_else(|e| panic!("s.yaml: {e}"));
    let module = Module::load(&repo().join("terraform")).unwrap_or_else(|e| panic!("{e}"));
    let default = variable_default(&module, "function_name").and_then(string_literal);
    assert_eq!(prop(&props, &["functionName"]).ok(), default);
}

#[test]
fn runtime_handler_and_port_are_the_terraform_ones() {
    assert_consistent(start_mismatches);
}

#[test]
fn sizing_and_log_rule_are_the_terraform_defaults() {
    assert_consistent(sizing_mismatches);
}

#[test]
fn code_is_the_zip_package_sh_writes() {
    assert_consistent(code_mismatches);
}

#[test]
fn every_environment_variable_is_read_by_the_function_and_set_by_terraform() {
    assert_consistent(environment_name_mismatches);
}

#[test]
fn every_environment_value_passes_the_function_config_parser() {
    assert_consistent(environment_parse_mismatches);
}

#[test]
fn environment_configures_the_function_like_the_terraform_defaults() {
    assert_consistent(environment_default_mismatches);
}

#[test]
fn comments_name_every_action_the_role_always_needs() {
    // s.yaml does not create the role, so its comment is what the user builds it from.
    let missing: Vec<&str> = API_ACTIONS
        .iter()
        .filter(|a| a.needed == Needed::Always)
        .map(|a| a.ram_action)
        .filter(|action| !s_yaml_text().contains(action))
        .collect();
    assert!(missing.is_empty(), "s.yaml does not mention {missing:?}");
    let restore = API_ACTIONS
        .iter()
        .find(|a| a.needed == Needed::Authorize)
        .expect("a restore action");
    assert!(s_yaml_text().contains(restore.ram_action));
}

#[test]
fn comments_name_the_config_endpoint_of_each_site_the_module_knows() {
    // s.yaml leaves CONFIG_ENDPOINT unset (the China site); its comment is how an
    // international-site user finds the other endpoint, the one the module's config_site picks.
    let module = Module::load(&repo().join("terraform")).unwrap_or_else(|e| panic!("{e}"));
    let locals = module.locals();
    let Some(Expression::Object(sites)) = locals.get("config_endpoint_by_site").copied() else {
        panic!("local.config_endpoint_by_site is an object");
    };
    assert_eq!(sites.len(), 2, "china and international");
    for (site, endpoint) in sites.iter() {
        let endpoint = string_literal(endpoint).expect("a literal endpoint");
        assert!(
            s_yaml_text().contains(endpoint),
            "s.yaml does not name {endpoint} ({site:?})"
        );
    }
}

#[test]
fn terraform_readme_points_serverless_devs_users_at_s_yaml() {
    let readme = std::fs::read_to_string(repo().join("terraform/README.md")).expect("README");
    let section = readme
        .find("## Serverless Devs")
        .expect("a Serverless Devs section");
    let inputs = readme.find("## Inputs").expect("an Inputs section");
    assert!(section < inputs);
    assert!(readme[section..inputs].contains("s.yaml"));
}

// ---------------------------------------------------------------------------------------------
// The checks catch what they claim to (altered copies of s.yaml)
// ---------------------------------------------------------------------------------------------

/// `s.yaml` with `from` (which must occur exactly once) replaced by `to`.
fn altered(from: &str, to: &str) -> String {
    let text = s_yaml_text();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} occurs once in s.yaml"
    );
    text.replace(from, to)
}

fn assert_reported(check: fn(&str) -> Result<Vec<String>, String>, text: &str, expected: &str) {
    let found = check(text).unwrap_or_else(|e| panic!("altered s.yaml: {e}"));
    assert!(
        found.iter().any(|f| f.contains(expected)),
        "expected a mismatch containing {expected:?}, got {found:#?}"
    );
}

#[test]
fn a_different_port_is_reported() {
    let text = altered("port: 9000", "port: 9001");
    assert_reported(start_mismatches, &text, "customRuntimeConfig.port");
}

#[test]
fn a_different_runtime_is_reported() {
    let text = altered("runtime: custom.debian11", "runtime: custom.debian10");
    assert_reported(start_mismatches, &text, "runtime");
}

#[test]
fn a_different_code_path_is_reported() {
    let text = altered(
        "code: ./dist/sg-remediator.zip",
        "code: ./target/bootstrap.zip",
    );
    assert_reported(code_mismatches, &text, "code");
}

#[test]
fn a_variable_the_function_does_not_read_is_reported() {
    let text = altered(
        "RUST_LOG: 'info'",
        "RUST_LOG: 'info'\n        LOG_LEVEL: 'info'",
    );
    assert_reported(
        environment_name_mismatches,
        &text,
        "LOG_LEVEL: not read by the function",
    );
}

#[test]
fn enabling_restore_is_reported() {
    let text = altered(
        "RUST_LOG: 'info'",
        "RUST_LOG: 'info'\n        ALLOW_RESTORE: 'true'",
    );
    assert_reported(environment_name_mismatches, &text, "ALLOW_RESTORE");
}

#[test]
fn a_value_the_function_rejects_is_reported() {
    let text = altered("LOG_FORMAT: 'json'", "LOG_FORMAT: 'yaml'");
    assert_reported(environment_parse_mismatches, &text, "LOG_FORMAT");
}

#[test]
fn an_unquoted_value_is_reported() {
    let text = altered("LOG_FORMAT: 'json'", "LOG_FORMAT: json");
    assert_reported(
        environment_parse_mismatches,
        &text,
        "must be a quoted string",
    );
}

#[test]
fn enforce_mode_differs_from_the_terraform_default() {
    let text = altered("REMEDIATION_MODE: 'dry-run'", "REMEDIATION_MODE: 'enforce'");
    assert_reported(environment_default_mismatches, &text, "REMEDIATION_MODE");
}

#[test]
fn other_risky_ports_differ_from_the_terraform_default() {
    let text = altered("RISKY_PORTS: '22,3389'", "RISKY_PORTS: '22'");
    assert_reported(environment_default_mismatches, &text, "RISKY_PORTS");
}

#[test]
fn a_built_in_default_changed_in_s_yaml_is_reported() {
    // The module passes no EXEMPT_TAG, so the function's default is what s.yaml must match.
    let text = altered(
        "EXEMPT_TAG: 'sg-remediator:exempt'",
        "EXEMPT_TAG: 'keep-open'",
    );
    assert_reported(
        environment_default_mismatches,
        &text,
        "configured differently",
    );
}

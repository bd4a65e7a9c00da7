//! Evaluating a module's `validation` conditions as Terraform would, with `hcl::eval` and the
//! few Terraform functions such conditions use.

use hcl::expr::Expression;

use super::{attr, blocks, Module};

/// A function of `n` string parameters, for `hcl::eval`.
pub(super) fn string_func(n: usize, f: hcl::eval::Func) -> hcl::eval::FuncDef {
    let mut b = hcl::eval::FuncDef::builder();
    for _ in 0..n {
        b = b.param(hcl::eval::ParamType::String);
    }
    b.build(f)
}

/// Terraform's functions the module's expressions use, for `hcl::eval`. `regex` answers
/// whether the pattern matches and `can` passes that through: the module uses them only as
/// `can(regex(pattern, value))`.
pub fn terraform_functions(ctx: &mut hcl::eval::Context) {
    use hcl::eval::{FuncArgs, FuncDef, ParamType};
    use hcl::value::Value;
    fn text(args: &FuncArgs, i: usize) -> String {
        args[i].as_str().expect("a string argument").to_string()
    }
    let strings = string_func;
    ctx.declare_func(
        "lower",
        strings(1, |a| Ok(Value::from(text(&a, 0).to_lowercase()))),
    );
    ctx.declare_func(
        "replace",
        strings(3, |a| {
            Ok(Value::from(text(&a, 0).replace(&text(&a, 1), &text(&a, 2))))
        }),
    );
    ctx.declare_func(
        "trim",
        strings(2, |a| {
            let cut = text(&a, 1);
            Ok(Value::from(
                text(&a, 0).trim_matches(|c| cut.contains(c)).to_string(),
            ))
        }),
    );
    ctx.declare_func(
        "length",
        strings(1, |a| Ok(Value::from(text(&a, 0).chars().count() as u64))),
    );
    ctx.declare_func(
        "substr",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::Number)
            .param(ParamType::Number)
            .build(|a| {
                let s = text(&a, 0);
                let offset = a[1].as_u64().ok_or("offset")? as usize;
                let length = a[2].as_i64().ok_or("length")?;
                let rest = s.chars().skip(offset);
                Ok(Value::from(if length < 0 {
                    rest.collect::<String>()
                } else {
                    rest.take(length as usize).collect()
                }))
            }),
    );
    ctx.declare_func(
        "format",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::Any)
            .build(|a| {
                let mut out = text(&a, 0);
                for v in a.variadic_args() {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out = out.replacen("%s", &s, 1);
                }
                Ok(Value::from(out))
            }),
    );
    ctx.declare_func(
        "regex",
        strings(2, |a| {
            let re = regex::Regex::new(&text(&a, 0)).map_err(|e| e.to_string())?;
            Ok(Value::from(re.is_match(&text(&a, 1))))
        }),
    );
    ctx.declare_func(
        "contains",
        FuncDef::builder()
            .param(ParamType::Array(Box::new(ParamType::Any)))
            .param(ParamType::Any)
            .build(|a| {
                let list = a[0].as_array().ok_or("a list")?;
                Ok(Value::from(list.contains(&a[1])))
            }),
    );
    ctx.declare_func(
        "can",
        FuncDef::builder()
            .param(ParamType::Bool)
            .build(|a| Ok(a[0].clone())),
    );
}

/// Whether every `validation` of variable `name` in `module` admits `value` (panics when the
/// variable or its validation is missing, or a condition does not evaluate to a bool).
pub fn validation_admits(module: &Module, name: &str, value: &str) -> bool {
    let variables = module.variables();
    let variable = variables
        .get(name)
        .unwrap_or_else(|| panic!("variable {name}"));
    let mut ctx = hcl::eval::Context::new();
    terraform_functions(&mut ctx);
    ctx.declare_var(
        "var",
        hcl::value::Value::from_iter([(name.to_string(), hcl::value::Value::from(value))]),
    );
    let conditions: Vec<&Expression> = blocks(variable.block.body(), "validation")
        .map(|v| attr(v.body(), "condition").expect("condition"))
        .collect();
    assert!(!conditions.is_empty(), "variable {name} has a validation");
    conditions.iter().all(|c| {
        match hcl::eval::Evaluate::evaluate(*c, &ctx).unwrap_or_else(|e| panic!("{name}: {e}")) {
            hcl::value::Value::Bool(b) => b,
            other => panic!("{name}: condition gave {other}"),
        }
    })
}

/// Evaluates `expr` of `module` as Terraform would at plan time with the input variables
/// `vars` (every other variable at its literal default), and the locals that evaluate from
/// them. Resource and data-source attributes are unknown here: an expression that needs one
/// is an error.
pub fn evaluate_with(
    module: &Module,
    expr: &Expression,
    vars: &[(&str, hcl::value::Value)],
) -> Result<hcl::value::Value, String> {
    use hcl::value::{Map, Value};
    let mut var_values = Map::new();
    for (name, variable) in module.variables() {
        if let Some(default) = attr(variable.block.body(), "default") {
            let empty = hcl::eval::Context::new();
            if let Ok(value) = hcl::eval::Evaluate::evaluate(default, &empty) {
                var_values.insert(name, value);
            }
        }
    }
    for (name, value) in vars {
        var_values.insert(name.to_string(), value.clone());
    }
    let mut ctx = hcl::eval::Context::new();
    terraform_functions(&mut ctx);
    ctx.declare_var("var", Value::Object(var_values));
    // Locals may refer to each other: evaluate in passes until none is added.
    let locals = module.locals();
    let mut known = Map::new();
    loop {
        let before = known.len();
        for (name, local) in &locals {
            if known.contains_key(name) {
                continue;
            }
            if let Ok(value) = hcl::eval::Evaluate::evaluate(*local, &ctx) {
                known.insert(name.clone(), value);
            }
        }
        ctx.declare_var("local", Value::Object(known.clone()));
        if known.len() == before {
            break;
        }
    }
    hcl::eval::Evaluate::evaluate(expr, &ctx).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn module_with_validation(condition: &str) -> Module {
        let source = format!(
            "variable \"name\" {{\n  validation {{\n    condition = {condition}\n    \
             error_message = \"no\"\n  }}\n}}\n"
        );
        Module::from_sources(Path::new("m"), &[("main.tf", &source)]).unwrap()
    }

    #[test]
    fn a_regex_validation_admits_matching_values_only() {
        let m = module_with_validation("can(regex(\"^[a-z][a-z0-9-]{0,9}$\", var.name))");
        assert!(validation_admits(&m, "name", "fn-1"));
        assert!(!validation_admits(&m, "name", "Fn_1"));
    }

    #[test]
    fn string_functions_evaluate_as_terraform_does() {
        let m = module_with_validation(
            "length(substr(format(\"%s-%s\", lower(var.name), \"X\"), 0, 3)) == 3 && \
             trim(replace(var.name, \"A\", \"-\"), \"-\") == \"b\"",
        );
        assert!(validation_admits(&m, "name", "AbA"));
        assert!(!validation_admits(&m, "name", "AcA"));
    }
}

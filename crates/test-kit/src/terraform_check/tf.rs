//! Evaluates module expressions as Terraform does, for the conditions `evaluate_with` cannot
//! run: `can(...)` and `try(...)` catch an error of their argument (hcl-rs evaluates a
//! function's arguments before calling it, so they are handled here, around it), and the list
//! and network functions the validations use behave as Terraform's (`regex` fails when the
//! pattern does not match, `cidrhost` parses a prefix and masks it).

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Expression, TraversalOperator};
use hcl::value::{Map, Value};
use std::net::IpAddr;

use super::eval::{string_func, terraform_functions};
use super::{attr, blocks, string_literal, Module};

fn text(args: &FuncArgs, i: usize) -> Result<String, String> {
    args[i]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("argument {i} is not a string"))
}

/// Terraform's `cidrhost(prefix, 0)`: the prefix's network address, in Go's notation
/// (RFC 5952 for IPv6, which Rust's `Display` also follows).
fn cidrhost(prefix: &str, host: u64) -> Result<String, String> {
    let (addr, len) = prefix
        .split_once('/')
        .ok_or_else(|| format!("invalid CIDR address {prefix:?}"))?;
    let len: u32 = len
        .parse()
        .map_err(|_| format!("invalid prefix length in {prefix:?}"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("invalid address in {prefix:?}"))?;
    if host != 0 {
        return Err("only host number 0 is modelled".into());
    }
    match addr {
        IpAddr::V4(a) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            Ok(std::net::Ipv4Addr::from(u32::from(a) & mask).to_string())
        }
        IpAddr::V6(a) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            Ok(std::net::Ipv6Addr::from(u128::from(a) & mask).to_string())
        }
        _ => Err(format!("prefix length too long in {prefix:?}")),
    }
}

/// The test kit's functions plus the ones the allowed-ranges validations and the
/// environment use, with Terraform's semantics.
pub fn context() -> Context<'static> {
    let mut ctx = Context::new();
    terraform_functions(&mut ctx);
    let strings = string_func;
    ctx.declare_func(
        "split",
        strings(2, |a| {
            let sep = text(&a, 0)?;
            Ok(Value::from_iter(
                text(&a, 1)?.split(sep.as_str()).map(Value::from),
            ))
        }),
    );
    ctx.declare_func(
        "join",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::Array(Box::new(ParamType::String)))
            .build(|a| {
                let items: Vec<String> = a[1]
                    .as_array()
                    .ok_or("a list")?
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect();
                Ok(Value::from(items.join(&text(&a, 0)?)))
            }),
    );
    ctx.declare_func(
        "concat",
        FuncDef::builder()
            .variadic_param(ParamType::Array(Box::new(ParamType::Any)))
            .build(|a| {
                Ok(Value::from_iter(
                    a.variadic_args()
                        .flat_map(|l| l.as_array().cloned().unwrap_or_default()),
                ))
            }),
    );
    ctx.declare_func(
        "alltrue",
        FuncDef::builder()
            .param(ParamType::Array(Box::new(ParamType::Bool)))
            .build(|a| {
                let items = a[0].as_array().ok_or("a list")?;
                Ok(Value::from(items.iter().all(|v| v.as_bool() == Some(true))))
            }),
    );
    ctx.declare_func(
        "tonumber",
        strings(1, |a| {
            let t = text(&a, 0)?;
            let n: f64 = t.parse().map_err(|_| format!("cannot convert {t:?}"))?;
            Ok(Value::from(n))
        }),
    );
    ctx.declare_func(
        "length",
        FuncDef::builder()
            .param(ParamType::Any)
            .build(|a| match &a[0] {
                Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
                Value::Array(l) => Ok(Value::from(l.len() as u64)),
                Value::Object(o) => Ok(Value::from(o.len() as u64)),
                other => Err(format!("length of {other}")),
            }),
    );
    ctx.declare_func(
        "cidrhost",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::Number)
            .build(|a| {
                let host = a[1].as_u64().ok_or("a host number")?;
                cidrhost(&text(&a, 0)?, host).map(Value::from)
            }),
    );
    ctx
}

/// `expr` evaluated in `ctx`, with `can` and `try` catching their argument's error.
pub fn eval(expr: &Expression, ctx: &Context) -> Result<Value, String> {
    match expr {
        Expression::FuncCall(call) if call.name.name.as_str() == "can" => {
            Ok(Value::from(eval(&call.args[0], ctx).is_ok()))
        }
        Expression::FuncCall(call) if call.name.name.as_str() == "try" => call
            .args
            .iter()
            .find_map(|a| eval(a, ctx).ok())
            .ok_or_else(|| "no argument of try evaluated".to_string()),
        Expression::FuncCall(call) => {
            let is_regex = call.name.name.as_str() == "regex";
            let mut literal = call.as_ref().clone();
            for arg in &mut literal.args {
                *arg = Expression::from(eval(arg, ctx)?);
            }
            let value = Expression::FuncCall(Box::new(literal))
                .evaluate(ctx)
                .map_err(|e| e.to_string())?;
            // The kit's `regex` answers whether the pattern matches; Terraform's fails when
            // it does not (the module uses it only inside `can`).
            match value {
                Value::Bool(false) if is_regex => Err("the pattern does not match".into()),
                other => Ok(other),
            }
        }
        Expression::Parenthesis(inner) => eval(inner, ctx),
        Expression::Array(items) => items
            .iter()
            .map(|i| eval(i, ctx))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::from_iter),
        Expression::Conditional(c) => match eval(&c.cond_expr, ctx)? {
            Value::Bool(true) => eval(&c.true_expr, ctx),
            Value::Bool(false) => eval(&c.false_expr, ctx),
            other => Err(format!("condition is {other}")),
        },
        Expression::Operation(op) => {
            let mut literal = op.as_ref().clone();
            match &mut literal {
                hcl::expr::Operation::Unary(u) => {
                    u.expr = Expression::from(eval(&u.expr, ctx)?);
                }
                hcl::expr::Operation::Binary(b) => {
                    b.lhs_expr = Expression::from(eval(&b.lhs_expr, ctx)?);
                    b.rhs_expr = Expression::from(eval(&b.rhs_expr, ctx)?);
                }
            }
            Expression::Operation(Box::new(literal))
                .evaluate(ctx)
                .map_err(|e| e.to_string())
        }
        Expression::Traversal(t) => {
            let mut literal = t.as_ref().clone();
            literal.expr = Expression::from(eval(&t.expr, ctx)?);
            for op in &mut literal.operators {
                if let TraversalOperator::Index(index) = op {
                    *index = Expression::from(eval(index, ctx)?);
                }
            }
            Expression::Traversal(Box::new(literal))
                .evaluate(ctx)
                .map_err(|e| e.to_string())
        }
        Expression::ForExpr(f) if f.key_expr.is_none() && !f.grouping => {
            let collection = eval(&f.collection_expr, ctx)?;
            let items: Vec<(Value, Value)> = match collection {
                Value::Array(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Value::from(i as u64), v))
                    .collect(),
                Value::Object(map) => map.into_iter().map(|(k, v)| (Value::from(k), v)).collect(),
                other => return Err(format!("cannot iterate {other}")),
            };
            let mut out = Vec::new();
            for (key, value) in items {
                let mut inner = ctx.clone();
                if let Some(k) = &f.key_var {
                    inner.declare_var(k.clone(), key);
                }
                inner.declare_var(f.value_var.clone(), value);
                if let Some(cond) = &f.cond_expr {
                    if eval(cond, &inner)? != Value::Bool(true) {
                        continue;
                    }
                }
                out.push(eval(&f.value_expr, &inner)?);
            }
            Ok(Value::from_iter(out))
        }
        other => other.evaluate(ctx).map_err(|e| e.to_string()),
    }
}

/// A context with `var` (every variable at its literal default, then `vars`) and the locals
/// that evaluate from them.
pub fn module_context(module: &Module, vars: &[(&str, Value)]) -> Context<'static> {
    let mut var_values = Map::new();
    for (name, variable) in module.variables() {
        if let Some(default) = attr(variable.block.body(), "default") {
            if let Ok(value) = eval(default, &Context::new()) {
                var_values.insert(name, value);
            }
        }
    }
    for (name, value) in vars {
        var_values.insert(name.to_string(), value.clone());
    }
    let mut ctx = context();
    ctx.declare_var("var", Value::Object(var_values));
    let locals = module.locals();
    let mut known = Map::new();
    loop {
        let before = known.len();
        for (name, local) in &locals {
            if !known.contains_key(name) {
                if let Ok(value) = eval(local, &ctx) {
                    known.insert(name.clone(), value);
                }
            }
        }
        ctx.declare_var("local", Value::Object(known.clone()));
        if known.len() == before {
            break;
        }
    }
    ctx
}

/// The error messages of the validations of variable `name` that refuse `value`.
pub fn refusals(module: &Module, name: &str, value: Value) -> Vec<String> {
    let ctx = module_context(module, &[(name, value)]);
    let variables = module.variables();
    let variable = variables
        .get(name)
        .unwrap_or_else(|| panic!("variable {name}"));
    blocks(variable.block.body(), "validation")
        .filter_map(|v| {
            let condition = attr(v.body(), "condition").expect("condition");
            match eval(condition, &ctx) {
                Ok(Value::Bool(true)) => None,
                Ok(Value::Bool(false)) => Some(
                    attr(v.body(), "error_message")
                        .and_then(string_literal)
                        .unwrap_or("?")
                        .to_string(),
                ),
                other => panic!("{name}: a validation condition gave {other:?}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrhost_masks_the_host_bits_as_terraform_does() {
        assert_eq!(cidrhost("10.1.2.3/8", 0).as_deref(), Ok("10.0.0.0"));
        assert_eq!(cidrhost("2001:DB8::1/32", 0).as_deref(), Ok("2001:db8::"));
        assert!(cidrhost("10.0.0.0/33", 0).is_err());
        assert!(cidrhost("bogus", 0).is_err());
    }

    #[test]
    fn can_and_try_catch_their_arguments_error() {
        let ctx = context();
        let e = |s: &str| eval(&s.parse::<Expression>().expect("parses"), &ctx);
        assert_eq!(e("can(cidrhost(\"x\", 0))"), Ok(Value::Bool(false)));
        assert_eq!(e("can(regex(\"^a\", \"b\"))"), Ok(Value::Bool(false)));
        assert_eq!(e("try(tonumber(\"x\"), 7)"), Ok(Value::from(7u64)));
        assert_eq!(
            e("alltrue([for c in [\"1\", \"2\"] : tonumber(c) > 0])"),
            Ok(Value::Bool(true))
        );
    }
}

//! Each check on a small inline schema and snippet: the violation is reported, the corrected
//! snippet is clean.

use std::path::Path;

use super::*;

/// A provider with `region`, and two resource types exercising every kind of schema rule.
const SCHEMA: &str = r#"{
  "provider": {"args": {"region": {"type": "string", "settable": true}}},
  "resources": {
    "demo_thing": {
      "args": {
        "name": {"type": "string", "required": true, "settable": true},
        "label": {"type": "string", "settable": true},
        "old_label": {"type": "string", "settable": true, "deprecated": "use label",
                      "replaced_by": "label"},
        "kind": {"type": "string", "settable": true, "values": ["small", "large"]},
        "size": {"type": "number", "settable": true,
                 "validation": {"kind": "int_range", "min": 1, "max": 10}},
        "enabled": {"type": "bool", "settable": true},
        "arn": {"type": "string", "settable": false},
        "left": {"type": "string", "settable": true, "exactly_one_of": ["left", "right"]},
        "right": {"type": "string", "settable": true, "exactly_one_of": ["left", "right"]},
        "solo": {"type": "string", "settable": true, "conflicts_with": ["label"]}
      },
      "blocks": {
        "part": {"max_items": 1, "args": {"port": {"type": "number", "required": true,
                                                    "settable": true}}},
        "legacy": {"deprecated": "gone", "args": {}}
      }
    },
    "demo_box": {
      "blocks": {"lid": {"required": true, "args": {}}}
    }
  },
  "data_sources": {
    "demo_info": {"args": {"id": {"type": "string", "settable": false}}}
  }
}"#;

/// The provider and one valid `demo_thing`; `HOLE` is where a test adds to the resource.
const THING: &str = r#"
provider "alicloud" {
  region = "cn-hangzhou"
}

resource "demo_thing" "t" {
  name = "n"
  left = "l"
  HOLE
}
"#;

fn schema() -> Schema {
    Schema::from_json(SCHEMA).expect("the test schema parses")
}

fn module(dir: &str, source: &str) -> Module {
    Module::from_sources(Path::new(dir), &[("main.tf", source)]).expect("the snippet parses")
}

fn findings_in(modules: &[Module], always_set: &[(&str, &str)]) -> Vec<String> {
    check(&schema(), modules, always_set)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn findings(source: &str) -> Vec<String> {
    findings_in(&[module("snippet", source)], &[])
}

fn assert_clean(source: &str) {
    let found = findings(source);
    assert!(found.is_empty(), "the snippet is not clean: {found:#?}");
}

fn assert_reported(source: &str, expected: &str) {
    let found = findings(source);
    assert!(
        found.iter().any(|f| f.contains(expected)),
        "expected a finding containing {expected:?}, got {found:#?}"
    );
}

/// `THING` with `HOLE` set to `good` is clean, and set to `bad` is reported as `expected`.
fn assert_caught_in_thing(good: &str, bad: &str, expected: &str) {
    assert_clean(&THING.replace("HOLE", good));
    assert_reported(&THING.replace("HOLE", bad), expected);
}

#[test]
fn an_unknown_argument_is_reported() {
    assert_caught_in_thing(
        "label = \"x\"",
        "colour = \"x\"",
        "t.colour: unknown argument",
    );
}

#[test]
fn an_argument_set_as_a_block_is_reported() {
    assert_caught_in_thing("label = \"x\"", "label {}", "`label` is an argument");
}

#[test]
fn a_block_set_as_an_argument_is_reported() {
    assert_caught_in_thing("part {\n port = 1\n}", "part = {}", "`part` is a block");
}

#[test]
fn a_computed_only_attribute_is_reported() {
    assert_caught_in_thing("", "arn = \"x\"", "computed-only attribute, cannot be set");
}

#[test]
fn an_unknown_block_is_reported() {
    assert_caught_in_thing("part {\n port = 1\n}", "wheel {}", "t.wheel: unknown block");
}

#[test]
fn a_deprecated_block_is_reported() {
    assert_caught_in_thing("", "legacy {}", "deprecated block");
}

#[test]
fn a_deprecated_argument_is_reported_with_its_replacement() {
    assert_caught_in_thing(
        "label = \"x\"",
        "old_label = \"x\"",
        "deprecated argument (use `label`)",
    );
}

#[test]
fn a_block_given_more_often_than_max_items_is_reported() {
    assert_caught_in_thing(
        "part {\n port = 1\n}",
        "part {\n port = 1\n}\npart {\n port = 2\n}",
        "block given 2 times, at most 1 allowed",
    );
}

#[test]
fn a_missing_required_argument_of_a_nested_block_is_reported() {
    assert_caught_in_thing(
        "part {\n port = 1\n}",
        "part {}",
        "t.part.port: missing required argument",
    );
}

#[test]
fn a_missing_required_argument_is_reported() {
    assert_clean(&THING.replace("HOLE", ""));
    assert_reported(
        &THING.replace("name = \"n\"", "").replace("HOLE", ""),
        "t.name: missing required argument",
    );
}

#[test]
fn a_missing_required_block_is_reported() {
    let good = "resource \"demo_box\" \"b\" {\n  lid {}\n}\n";
    assert_clean(good);
    assert_reported(
        "resource \"demo_box\" \"b\" {\n}\n",
        "missing required block (at least 1)",
    );
}

#[test]
fn conflicting_arguments_are_reported() {
    assert_caught_in_thing(
        "solo = \"x\"",
        "solo = \"x\"\nlabel = \"y\"",
        "t.solo: conflicts with `label`",
    );
}

#[test]
fn both_or_neither_of_an_exactly_one_of_pair_is_reported() {
    let expected = "exactly one of [left, right] must be set";
    assert_caught_in_thing("", "right = \"r\"", expected);
    assert_reported(
        &THING.replace("left = \"l\"", "").replace("HOLE", ""),
        "found 0",
    );
}

#[test]
fn a_literal_of_the_wrong_type_is_reported() {
    assert_caught_in_thing(
        "enabled = true",
        "enabled = \"maybe\"",
        "a string literal cannot be a bool",
    );
}

#[test]
fn a_literal_outside_the_enum_is_reported() {
    assert_caught_in_thing(
        "kind = \"small\"",
        "kind = \"huge\"",
        "value \"huge\" is not one of [small, large]",
    );
}

#[test]
fn a_literal_outside_the_range_is_reported() {
    assert_caught_in_thing(
        "size = 10",
        "size = 11",
        "value range 11..=11 is outside 1..=10",
    );
}

#[test]
fn a_variable_default_or_validation_outside_the_enum_is_reported() {
    let variable = |default: &str, allowed: &str| {
        format!(
            "variable \"kind\" {{\n  default = \"{default}\"\n  validation {{\n    \
             condition = contains([{allowed}], var.kind)\n    error_message = \"no\"\n  }}\n}}\n"
        )
    };
    let thing = THING.replace("HOLE", "kind = var.kind");
    assert_clean(&format!(
        "{}{thing}",
        variable("small", "\"small\", \"large\"")
    ));
    assert_reported(
        &format!("{}{thing}", variable("huge", "\"small\", \"huge\"")),
        "value \"huge\" is not one of [small, large]",
    );
}

#[test]
fn a_variable_feeding_an_enum_without_a_validation_is_reported() {
    let thing = THING.replace("HOLE", "kind = var.kind");
    assert_reported(
        &format!("variable \"kind\" {{\n  default = \"small\"\n}}\n{thing}"),
        "enum argument not checkable",
    );
}

#[test]
fn a_variable_range_wider_than_the_provider_allows_is_reported() {
    let variable = |max: u32| {
        format!(
            "variable \"size\" {{\n  default = 2\n  validation {{\n    \
             condition = var.size >= 1 && var.size <= {max}\n    error_message = \"no\"\n  }}\n}}\n"
        )
    };
    let thing = THING.replace("HOLE", "size = var.size");
    assert_clean(&format!("{}{thing}", variable(10)));
    assert_reported(
        &format!("{}{thing}", variable(99)),
        "value range 1..=99 is outside 1..=10",
    );
}

#[test]
fn a_variable_feeding_a_range_without_a_validation_is_reported() {
    let thing = THING.replace("HOLE", "size = var.size");
    assert_reported(
        &format!("variable \"size\" {{\n  default = 2\n}}\n{thing}"),
        "range argument not checkable",
    );
}

#[test]
fn a_resource_type_missing_from_the_schema_is_reported() {
    assert_reported(
        "resource \"demo_ghost\" \"g\" {\n}\n",
        "resource type `demo_ghost` is not in the schema",
    );
}

#[test]
fn a_project_rule_argument_left_unset_is_reported() {
    let rule = [("demo_thing", "label")];
    let set = module("snippet", &THING.replace("HOLE", "label = \"x\""));
    assert_eq!(findings_in(&[set], &rule), Vec::<String>::new());
    let unset = module("snippet", &THING.replace("HOLE", ""));
    let found = findings_in(&[unset], &rule);
    assert!(
        found
            .iter()
            .any(|f| f.contains("t.label: must be set explicitly (project rule)")),
        "{found:#?}"
    );
}

#[test]
fn a_provider_without_a_region_is_reported() {
    assert_reported(
        &THING
            .replace("region = \"cn-hangzhou\"", "")
            .replace("HOLE", ""),
        "set the region",
    );
}

#[test]
fn undeclared_references_are_reported() {
    for (reference, expected) in [
        ("var.nope", "undeclared variable"),
        ("local.nope", "undeclared local value"),
        ("data.demo_info.nope.id", "undeclared data source"),
        ("module.nope.x", "undeclared module"),
        ("demo_thing.nope.arn", "undeclared resource"),
        ("\"${var.nope}-x\"", "undeclared variable"),
    ] {
        assert_reported(
            &THING.replace("HOLE", &format!("label = {reference}")),
            expected,
        );
    }
}

#[test]
fn declared_references_are_accepted() {
    assert_clean(&format!(
        "variable \"v\" {{\n  default = \"x\"\n}}\nlocals {{\n  l = var.v\n}}\n\
         data \"demo_info\" \"i\" {{\n}}\n{}",
        THING.replace("HOLE", "label = \"${local.l}-${data.demo_info.i.id}\"")
    ));
}

#[test]
fn unused_variables_and_locals_are_reported() {
    let found = findings(&format!(
        "variable \"v\" {{\n  default = \"x\"\n}}\nlocals {{\n  l = 1\n}}\n{}",
        THING.replace("HOLE", "")
    ));
    for expected in [
        "variable.v: declared but never used",
        "local.l: declared but never used",
    ] {
        assert!(found.iter().any(|f| f.contains(expected)), "{found:#?}");
    }
}

/// A child module with one required and one optional variable and an output.
fn child() -> Module {
    module(
        "root/child",
        "variable \"need\" {}\nvariable \"maybe\" {\n  default = 1\n}\n\
         output \"out\" {\n  value = \"${var.need}${var.maybe}\"\n}\n",
    )
}

fn parent(call_body: &str, extra: &str) -> Module {
    module(
        "root",
        &format!(
            "provider \"alicloud\" {{\n  region = \"cn-hangzhou\"\n}}\n{extra}\
             module \"c\" {{\n  source = \"./child\"\n{call_body}\n}}\n"
        ),
    )
}

#[test]
fn module_calls_are_checked_against_the_called_module() {
    assert_eq!(
        findings_in(&[child(), parent("need = 1", "")], &[]),
        Vec::<String>::new()
    );
    let found = findings_in(&[child(), parent("wrong = 1", "")], &[]);
    for expected in [
        "module.c.wrong: the called module has no such variable",
        "module.c.need: missing required module variable",
    ] {
        assert!(found.iter().any(|f| f.contains(expected)), "{found:#?}");
    }
}

#[test]
fn a_reference_to_a_missing_module_output_is_reported() {
    let uses = |output: &str| format!("output \"o\" {{\n  value = module.c.{output}\n}}\n");
    assert_eq!(
        findings_in(&[child(), parent("need = 1", &uses("out"))], &[]),
        Vec::<String>::new()
    );
    let found = findings_in(&[child(), parent("need = 1", &uses("gone"))], &[]);
    assert!(
        found
            .iter()
            .any(|f| f.contains("the called module has no such output")),
        "{found:#?}"
    );
}

#[test]
fn a_module_source_outside_the_checked_modules_is_reported() {
    let found = findings_in(&[parent("need = 1", "")], &[]);
    assert!(
        found
            .iter()
            .any(|f| f.contains("source is not a module directory under check")),
        "{found:#?}"
    );
}

#[test]
fn a_providers_mapping_to_an_undeclared_alias_is_reported() {
    let aliased = "provider \"alicloud\" {\n  alias  = \"member\"\n  region = \"cn-shanghai\"\n}\n";
    let call = |target: &str| format!("need = 1\nproviders = {{\n  alicloud = {target}\n}}");
    assert_eq!(
        findings_in(&[child(), parent(&call("alicloud.member"), aliased)], &[]),
        Vec::<String>::new()
    );
    let found = findings_in(&[child(), parent(&call("alicloud.other"), aliased)], &[]);
    assert!(
        found
            .iter()
            .any(|f| f.contains("no provider block declares this alias")),
        "{found:#?}"
    );
}

#[test]
fn module_tree_loading_finds_every_directory_with_tf_files() {
    let root = std::env::temp_dir().join(format!("tf-check-{}", std::process::id()));
    std::fs::create_dir_all(root.join("child/.hidden")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("main.tf"), "locals {}\n").unwrap();
    std::fs::write(root.join("child/main.tf"), "locals {}\n").unwrap();
    std::fs::write(root.join("child/.hidden/main.tf"), "locals {}\n").unwrap();
    let dirs: Vec<PathBuf> = Module::load_tree(&root)
        .unwrap()
        .into_iter()
        .map(|m| m.dir)
        .collect();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(dirs, vec![root.clone(), root.join("child")]);
}

#[test]
fn version_bounds_are_a_floor_and_a_ceiling() {
    assert_eq!(
        bounds(">= 1.267.0, < 2.0.0"),
        Ok((vec![1, 267, 0], vec![2, 0, 0]))
    );
}

#[test]
fn the_version_bounds_parser_refuses_a_constraint_without_a_ceiling() {
    assert!(bounds(">= 1.267.0").is_err());
    assert!(bounds("~> 1.267").is_err());
}

#[test]
fn a_modules_provider_bounds_come_from_required_providers() {
    let m = module(
        "m",
        "terraform {\n  required_providers {\n    alicloud = {\n      \
         source  = \"aliyun/alicloud\"\n      version = \">= 1.260.0, < 2.0.0\"\n    }\n  }\n}\n",
    );
    assert_eq!(
        provider_bounds(&m, "alicloud"),
        Ok((vec![1, 260, 0], vec![2, 0, 0]))
    );
    assert!(provider_bounds(&m, "random").is_err());
}

#[test]
fn a_dynamic_block_is_checked_through_its_content() {
    assert_caught_in_thing(
        "dynamic \"part\" {\n  for_each = [1]\n  content {\n    port = 1\n  }\n}",
        "dynamic \"part\" {\n  for_each = [1]\n  content {\n    colour = 1\n  }\n}",
        "t.part.colour: unknown argument",
    );
}

#[test]
fn a_dynamic_block_without_a_label_is_reported() {
    assert_reported(
        &THING.replace("HOLE", "dynamic {\n  content {}\n}"),
        "`dynamic` block without a label",
    );
}

#[test]
fn a_providers_mapping_that_is_not_an_object_of_references_is_reported() {
    for (providers, expected) in [
        ("providers = \"alicloud\"", "must be an object"),
        (
            "providers = {\n  alicloud = \"alicloud\"\n}",
            "values must be provider references",
        ),
    ] {
        let found = findings_in(
            &[child(), parent(&format!("need = 1\n{providers}"), "")],
            &[],
        );
        assert!(found.iter().any(|f| f.contains(expected)), "{found:#?}");
    }
}

/// A second `demo_thing` whose `count` is `HOLE`, beside the valid one of [`THING`].
fn counted(count: &str) -> String {
    format!(
        "{}\nresource \"demo_thing\" \"counted\" {{\n  count = {count}\n  name  = \"c\"\n  left  = \"l\"\n}}\n",
        THING.replace("HOLE", "")
    )
}

#[test]
fn a_count_on_a_resource_attribute_is_reported() {
    assert_reported(
        &counted("demo_thing.t.arn != \"\" ? 1 : 0"),
        "resource.demo_thing.counted.count: must be known at plan time, but depends on demo_thing.t.arn",
    );
}

#[test]
fn a_count_on_a_resource_attribute_through_a_local_is_reported() {
    assert_reported(
        &format!(
            "locals {{\n  on = demo_thing.t.arn != \"\"\n}}\n{}",
            counted("local.on ? 1 : 0")
        ),
        "counted.count: must be known at plan time, but depends on demo_thing.t.arn",
    );
}

#[test]
fn a_for_each_on_a_module_output_is_reported() {
    let found = findings_in(
        &[
            child(),
            parent(
                "need = 1",
                "resource \"demo_thing\" \"each\" {\n  for_each = toset([module.c.out])\n  name = each.key\n  left = \"l\"\n}\n",
            ),
        ],
        &[],
    );
    assert!(
        found.iter().any(|f| f.contains(
            "resource.demo_thing.each.for_each: must be known at plan time, but depends on module.c.out"
        )),
        "{found:#?}"
    );
}

#[test]
fn a_count_on_variables_locals_and_a_data_source_read_at_plan_is_accepted() {
    assert_clean(&format!(
        "variable \"mode\" {{\n  default = \"a\"\n}}\nlocals {{\n  on = var.mode == \"a\"\n}}\n\
         data \"demo_info\" \"i\" {{\n}}\n{}",
        counted("local.on && data.demo_info.i.id != \"\" ? 1 : 0")
    ));
}

#[test]
fn a_count_on_a_data_source_read_at_apply_is_reported() {
    assert_reported(
        &format!(
            "data \"demo_info\" \"i\" {{\n  depends_on = [demo_thing.t]\n}}\n{}",
            counted("data.demo_info.i.id != \"\" ? 1 : 0")
        ),
        "depends on data.demo_info.i.id (a data source with depends_on is read at apply)",
    );
}

/// A child module whose resource's `count` is decided by its variable `on`.
fn counting_child() -> Module {
    module(
        "root/child",
        "variable \"on\" {\n  default = \"\"\n}\nlocals {\n  enabled = var.on != \"\"\n}\n\
         resource \"demo_thing\" \"c\" {\n  count = local.enabled ? 1 : 0\n  name  = \"c\"\n  left  = \"l\"\n}\n",
    )
}

#[test]
fn a_module_argument_deciding_a_count_in_the_module_must_be_known_at_plan() {
    // The organisation example's first form: the module derived its mode from an aggregator id
    // that the caller took from an aggregator created in the same configuration.
    let known = findings_in(&[counting_child(), parent("on = \"ca-1\"", "")], &[]);
    assert_eq!(known, Vec::<String>::new());
    let found = findings_in(
        &[
            counting_child(),
            parent(
                "on = demo_thing.made.arn",
                "resource \"demo_thing\" \"made\" {\n  name = \"m\"\n  left = \"l\"\n}\n",
            ),
        ],
        &[],
    );
    assert!(
        found.iter().any(|f| f.contains(
            "module.c.on: decides a count or for_each in the called module, so it must be known at plan time, but depends on demo_thing.made.arn"
        )),
        "{found:#?}"
    );
}

#[test]
fn a_module_argument_that_decides_no_count_may_be_known_only_after_apply() {
    let child = module(
        "root/child",
        "variable \"on\" {\n  default = \"\"\n}\n\
         resource \"demo_thing\" \"c\" {\n  name  = \"c\"\n  left  = var.on\n}\n",
    );
    let found = findings_in(
        &[
            child,
            parent(
                "on = demo_thing.made.arn",
                "resource \"demo_thing\" \"made\" {\n  name = \"m\"\n  left = \"l\"\n}\n",
            ),
        ],
        &[],
    );
    assert_eq!(found, Vec::<String>::new());
}

# sg-remediator: Cloud Config managed rule sg-risky-ports-check, remediated by an FC 3.0
# custom-runtime function (the static `bootstrap` built by `make package`).
#
# Config -> (remediation, FC) -> function -> Config GetDiscoveredResource, ECS
# DescribeSecurityGroupAttribute / RevokeSecurityGroup (and AuthorizeSecurityGroup when narrowing
# or restoring), with the function's own RAM role.
#
# Two modes, chosen by deployment:
# - "account": alicloud_config_rule + alicloud_config_remediation in this account;
# - "organization": alicloud_config_aggregate_config_rule + alicloud_config_aggregate_remediation
#   on the aggregator config_aggregator_id, so Config sends the function the resources of every
#   member account; the function reads them through the aggregator and assumes
#   cross_account_role_name in each member (created there by modules/member-role).
# The mode is its own input, not derived from config_aggregator_id: an aggregator created in the
# same configuration has an id only after apply, and Terraform refuses a count it cannot know at
# plan time. Every count and for_each here depends on input variables only.

locals {
  aggregator_mode = var.deployment == "organization"

  # Narrowing authorizes the approved ranges before revoking, and a restore re-authorizes a
  # revoked rule: either needs ecs:AuthorizeSecurityGroup (Needed::Authorize in
  # src/services/mod.rs), nothing else does.
  narrowing  = var.remediation_action == "narrow"
  authorizes = var.enable_restore || local.narrowing

  # Config evaluates on a change of a group's configuration and, on a schedule, every group:
  # an exemption that expires changes nothing in the group, so only the scheduled evaluation
  # finds it expired (terraform/README.md, "Periodic evaluation"). Both triggers, comma-joined,
  # as the provider sends them (Alibaba's quickstart 201-use-case-automatically-remediate-security-group-rule).
  rule_trigger_types = "ConfigurationItemChangeNotification,ScheduledNotification"

  # Config's API has one endpoint per site (the official SDK's endpoint rule is "central":
  # cn-shanghai for the China site, ap-southeast-1 for the international site). The site belongs
  # to the account, not to the function's region, so it is an input; config_endpoint, when set,
  # wins over it.
  config_endpoint_by_site = {
    china         = "https://config.cn-shanghai.aliyuncs.com"
    international = "https://config.ap-southeast-1.aliyuncs.com"
  }
  config_endpoint = var.config_endpoint != "" ? var.config_endpoint : local.config_endpoint_by_site[var.config_site]

  package_path = var.package_path != "" ? var.package_path : "${path.module}/../dist/sg-remediator.zip"

  create_log_project = var.log_project == ""
  create_log_store   = var.log_store == ""

  # SLS names: 3-63 characters of [a-z0-9-] (logstores also allow '_'), starting and ending with
  # a letter or digit. The function name is lower-cased with '_' turned into '-'; the trims keep
  # the ends valid for every name function_name's validation admits, and leave a name that was
  # already valid unchanged (so existing logstores are not replaced).
  log_name_stem = trim(replace(lower(var.function_name), "_", "-"), "-")
  log_store_name = (length(local.log_name_stem) >= 3
    ? trim(substr(local.log_name_stem, 0, 63), "-")
    : trim("sg-remediator-${local.log_name_stem}", "-")
  )
  log_project_name = var.log_project_name != "" ? var.log_project_name : trim(format(
    "%s-%s",
    substr(local.log_name_stem, 0, 40),
    data.alicloud_caller_identity.current.account_id,
  ), "-")

  log_project = local.create_log_project ? alicloud_log_project.fn[0].project_name : var.log_project
  log_store   = local.create_log_store ? alicloud_log_store.fn[0].logstore_name : var.log_store

  # Function environment. The function treats an empty value of a variable that has a default
  # as a configuration error, so unset (empty) values are dropped, not passed as "".
  environment_all = {
    RISKY_PORTS      = var.risky_ports
    REMEDIATION_MODE = var.remediation_mode
    # Only when narrowing: "revoke" is the function's default, and the ranges mean nothing then.
    REMEDIATION_ACTION        = local.narrowing ? var.remediation_action : ""
    ALLOWED_SOURCE_CIDRS      = local.narrowing ? join(",", var.allowed_source_cidrs) : ""
    EXEMPT_TAG                = var.exempt_tag
    EXEMPT_SECURITY_GROUP_IDS = join(",", var.exempt_security_group_ids)
    RULE_SELECTOR             = var.rule_selector
    CROSS_ACCOUNT_ROLE_NAME   = var.cross_account_role_name
    CONFIG_AGGREGATOR_ID      = var.config_aggregator_id
    CONFIG_ENDPOINT           = local.config_endpoint
    ECS_ENDPOINT              = var.ecs_endpoint
    STS_ENDPOINT              = var.sts_endpoint
    LOOKUP_OPENER             = var.lookup_opener ? "true" : ""
    ACTIONTRAIL_ENDPOINT      = var.actiontrail_endpoint
    MAX_CONCURRENCY           = var.max_concurrency == null ? "" : tostring(var.max_concurrency)
    LOG_FORMAT                = var.log_format
    RUST_LOG                  = var.rust_log
    ALLOW_RESTORE             = var.enable_restore ? "true" : ""
    # Sensitive; passed only when set (the function refuses ALLOW_RESTORE without it).
    RESTORE_SEAL_KEY = var.restore_seal_key
    # Notifications; the URL and the secret are sensitive (the URL carries the webhook's token).
    NOTIFY_WEBHOOK_URL    = var.notify_webhook_url
    NOTIFY_WEBHOOK_SECRET = var.notify_webhook_secret
    NOTIFY_FORMAT         = var.notify_webhook_url != "" ? var.notify_format : ""
    NOTIFY_DRY_RUN        = var.notify_webhook_url != "" && var.notify_dry_run ? "true" : ""
  }

  environment_variables = { for name, value in local.environment_all : name => value if value != "" }

  # RAM actions of the function role, one list per condition under which the code calls them
  # (src/services/mod.rs API_ACTIONS; tests/terraform.rs keeps the two equal).
  # No log:* action: FC delivers stdout/stderr to SLS through its service-linked role
  # AliyunServiceRoleForFC, not through the function role. Unverified: see the open questions
  # in terraform/README.md.
  policy_actions_always        = ["config:GetDiscoveredResource", "ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"]
  policy_actions_authorize     = ["ecs:AuthorizeSecurityGroup"]
  policy_actions_cross_account = ["sts:AssumeRole"]
  policy_actions_aggregator    = ["config:GetAggregateDiscoveredResource"]
  policy_actions_lookup_opener = ["actiontrail:LookupEvents"]

  # Rule scope, shared by both modes; empty inputs are left unset.
  rule_description          = "Security groups must not open risky ports to 0.0.0.0/0; remediated by ${var.function_name}."
  rule_exclude_resource_ids = var.exclude_exempt_groups_from_rule && length(var.exempt_security_group_ids) > 0 ? join(",", var.exempt_security_group_ids) : null
  rule_region_ids           = length(var.rule_region_ids) > 0 ? join(",", var.rule_region_ids) : null
  rule_resource_group_ids   = length(var.rule_resource_group_ids) > 0 ? join(",", var.rule_resource_group_ids) : null
  rule_tag_key              = var.rule_tag_key != "" ? var.rule_tag_key : null
  rule_tag_value            = var.rule_tag_value != "" ? var.rule_tag_value : null

  policy_actions = concat(
    local.policy_actions_always,
    local.authorizes ? local.policy_actions_authorize : [],
    var.cross_account_role_name != "" ? local.policy_actions_cross_account : [],
    var.config_aggregator_id != "" ? local.policy_actions_aggregator : [],
    var.lookup_opener ? local.policy_actions_lookup_opener : [],
  )
}

# ---------------------------------------------------------------------------------------------
# RAM: the role the function runs as
# ---------------------------------------------------------------------------------------------

resource "alicloud_ram_role" "fn" {
  role_name   = var.role_name
  description = "sg-remediator function role: reads security groups and revokes world-open risky-port rules."
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Service = ["fc.aliyuncs.com"] }
    }]
  })
  force = true
  tags  = var.tags
}

resource "alicloud_ram_policy" "fn" {
  policy_name = var.policy_name
  description = "sg-remediator: exactly the API actions the function calls."
  policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect   = "Allow"
      Action   = local.policy_actions
      Resource = ["*"]
    }]
  })
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  force           = true
  tags            = var.tags
}

resource "alicloud_ram_role_policy_attachment" "fn" {
  role_name   = alicloud_ram_role.fn.role_name
  policy_name = alicloud_ram_policy.fn.policy_name
  policy_type = "Custom"
}

# ---------------------------------------------------------------------------------------------
# Logs: the function's stdout/stderr (one JSON line per resource, the restore records)
# ---------------------------------------------------------------------------------------------

# The account id makes the default project name unique (SLS project names are global).
data "alicloud_caller_identity" "current" {}

resource "alicloud_log_project" "fn" {
  count        = local.create_log_project ? 1 : 0
  project_name = local.log_project_name
  description  = "sg-remediator function logs"
  tags         = var.tags
}

resource "alicloud_log_store" "fn" {
  count            = local.create_log_store ? 1 : 0
  project_name     = local.create_log_project ? alicloud_log_project.fn[0].project_name : var.log_project
  logstore_name    = local.log_store_name
  retention_period = var.log_retention_days
}

# ---------------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------------

data "alicloud_file_crc64_checksum" "pkg" {
  filename = local.package_path
}

resource "alicloud_fcv3_function" "fn" {
  function_name         = var.function_name
  description           = "Revokes security-group rules that open risky ports to the internet (Config rule sg-risky-ports-check)."
  runtime               = var.runtime
  handler               = "bootstrap"
  role                  = alicloud_ram_role.fn.arn
  memory_size           = var.memory_size
  timeout               = var.timeout
  instance_concurrency  = var.instance_concurrency
  environment_variables = local.environment_variables
  tags                  = var.tags

  # The checksum changes with the zip's content, so a new build is deployed by the next apply
  # (the zip is reproducible: an unchanged binary gives an unchanged checksum).
  code {
    zip_file = filebase64(local.package_path)
    checksum = data.alicloud_file_crc64_checksum.pkg.checksum
  }

  # No command: FC runs /code/bootstrap. 9000 is FC's default port and the function's
  # fallback when FC_CUSTOM_LISTEN_PORT is not set.
  custom_runtime_config {
    port = 9000
  }

  log_config {
    project        = local.log_project
    logstore       = local.log_store
    log_begin_rule = "DefaultRegex"
  }

  lifecycle {
    # A logstore name alone would be looked up in a project the module creates, where it
    # does not exist.
    precondition {
      condition     = var.log_store == "" || var.log_project != ""
      error_message = "log_store names an existing logstore: set log_project to the project that holds it."
    }
    # The mode is chosen by deployment; the aggregator id must agree with it. (Checked at apply
    # when the id comes from an aggregator created in the same run.)
    precondition {
      condition     = local.aggregator_mode ? var.config_aggregator_id != "" : var.config_aggregator_id == ""
      error_message = "deployment = \"organization\" needs config_aggregator_id (the Config aggregator, ca-...); deployment = \"account\" must leave config_aggregator_id empty."
    }
    # The function refuses to start with REMEDIATION_ACTION=narrow but no ALLOWED_SOURCE_CIDRS;
    # ranges without narrowing are refused too: whoever set them expects rules to be narrowed,
    # and revoke mode would delete them.
    precondition {
      condition     = !local.narrowing || length(var.allowed_source_cidrs) > 0
      error_message = "remediation_action = \"narrow\" needs allowed_source_cidrs: the approved ranges (e.g. [\"203.0.113.0/24\"]) the world-open rules are narrowed to."
    }
    precondition {
      condition     = local.narrowing || length(var.allowed_source_cidrs) == 0
      error_message = "allowed_source_cidrs is used only with remediation_action = \"narrow\"; without it world-open rules are revoked, not narrowed. Set remediation_action = \"narrow\" or leave allowed_source_cidrs empty."
    }
    # The function refuses to start with ALLOW_RESTORE but no seal key; say so at plan time.
    precondition {
      condition     = !var.enable_restore || var.restore_seal_key != ""
      error_message = "enable_restore needs restore_seal_key (at least 32 random bytes, hex or base64: openssl rand -hex 32), so only rules this deployment revoked can be restored."
    }
    # The function refuses a webhook without its format, and a signing secret for Slack.
    precondition {
      condition     = var.notify_webhook_url == "" || var.notify_format != ""
      error_message = "notify_webhook_url needs notify_format (dingtalk, lark or slack)."
    }
    precondition {
      condition     = var.notify_format != "slack" || var.notify_webhook_secret == ""
      error_message = "notify_webhook_secret is for DingTalk and Lark robots; Slack incoming webhooks are not signed."
    }
  }

  # The role must hold its permissions before Config can invoke the function.
  depends_on = [alicloud_ram_role_policy_attachment.fn]
}

# ---------------------------------------------------------------------------------------------
# Cloud Config: the managed rule and its FC remediation
# ---------------------------------------------------------------------------------------------

resource "alicloud_config_rule" "sg_risky_ports" {
  count = local.aggregator_mode ? 0 : 1

  rule_name                   = var.rule_name
  description                 = local.rule_description
  source_owner                = "ALIYUN"
  source_identifier           = "sg-risky-ports-check"
  risk_level                  = 1
  config_rule_trigger_types   = local.rule_trigger_types
  maximum_execution_frequency = var.maximum_execution_frequency
  resource_types_scope        = ["ACS::ECS::SecurityGroup"]
  input_parameters            = { ports = var.risky_ports }
  exclude_resource_ids_scope  = local.rule_exclude_resource_ids
  region_ids_scope            = local.rule_region_ids
  resource_group_ids_scope    = local.rule_resource_group_ids
  tag_key_scope               = local.rule_tag_key
  tag_value_scope             = local.rule_tag_value
}

resource "alicloud_config_remediation" "sg_risky_ports" {
  count = local.aggregator_mode ? 0 : 1

  config_rule_id          = alicloud_config_rule.sg_risky_ports[0].config_rule_id
  remediation_type        = "FC"
  remediation_source_type = "CUSTOM"
  remediation_template_id = alicloud_fcv3_function.fn.function_arn
  invoke_type             = var.invoke_type
  params                  = "{}"
}

# Before aggregator mode the account-level pair had no count: keep their state addresses.
moved {
  from = alicloud_config_rule.sg_risky_ports
  to   = alicloud_config_rule.sg_risky_ports[0]
}

moved {
  from = alicloud_config_remediation.sg_risky_ports
  to   = alicloud_config_remediation.sg_risky_ports[0]
}

# ---------------------------------------------------------------------------------------------
# Aggregator mode: the same rule and remediation over every account of the aggregator
# (alicloud/resource_alicloud_config_aggregate_config_rule.go,
# resource_alicloud_config_aggregate_remediation.go; the remediation needs alicloud >= 1.267.0)
# ---------------------------------------------------------------------------------------------

resource "alicloud_config_aggregate_config_rule" "sg_risky_ports" {
  count = local.aggregator_mode ? 1 : 0

  aggregator_id               = var.config_aggregator_id
  aggregate_config_rule_name  = var.rule_name
  description                 = local.rule_description
  source_owner                = "ALIYUN"
  source_identifier           = "sg-risky-ports-check"
  risk_level                  = 1
  config_rule_trigger_types   = local.rule_trigger_types
  maximum_execution_frequency = var.maximum_execution_frequency
  resource_types_scope        = ["ACS::ECS::SecurityGroup"]
  input_parameters            = { ports = var.risky_ports }
  exclude_resource_ids_scope  = local.rule_exclude_resource_ids
  region_ids_scope            = local.rule_region_ids
  resource_group_ids_scope    = local.rule_resource_group_ids
  tag_key_scope               = local.rule_tag_key
  tag_value_scope             = local.rule_tag_value

  lifecycle {
    # Member accounts' groups can only be remediated through a role there.
    precondition {
      condition     = var.cross_account_role_name != ""
      error_message = "deployment = \"organization\": also set cross_account_role_name, the role that modules/member-role creates in every member account (without it every member account's group fails)."
    }
  }
}

resource "alicloud_config_aggregate_remediation" "sg_risky_ports" {
  count = local.aggregator_mode ? 1 : 0

  aggregator_id             = var.config_aggregator_id
  config_rule_id            = alicloud_config_aggregate_config_rule.sg_risky_ports[0].config_rule_id
  remediation_type          = "FC"
  remediation_source_type   = "CUSTOM"
  remediation_template_id   = alicloud_fcv3_function.fn.function_arn
  invoke_type               = var.invoke_type
  remediation_origin_params = "{}"
}

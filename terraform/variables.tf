# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

variable "function_name" {
  description = "Name of the FC 3.0 function (ForceNew). The created logstore and the default log project name derive from it (lower case, '_' as '-')."
  type        = string
  default     = "sg-remediator"

  # FC 3.0: 1-64 characters. The derived SLS names are made valid in main.tf (local.log_name_stem).
  validation {
    condition     = can(regex("^[A-Za-z_][0-9A-Za-z_-]{0,63}$", var.function_name))
    error_message = "function_name: 1-64 characters (FC 3.0), letters, digits, '_' and '-', starting with a letter or '_'."
  }
}

variable "role_name" {
  description = "Name of the RAM role the function runs as (trusted by fc.aliyuncs.com)."
  type        = string
  default     = "sg-remediator-fc"

  validation {
    condition     = can(regex("^[0-9A-Za-z.-]{1,64}$", var.role_name))
    error_message = "role_name: 1-64 characters, letters, digits, '.' and '-'."
  }
}

variable "policy_name" {
  description = "Name of the custom RAM policy holding exactly the API actions the function calls."
  type        = string
  default     = "sg-remediator-fc"

  validation {
    condition     = can(regex("^[0-9A-Za-z-]{1,128}$", var.policy_name))
    error_message = "policy_name: 1-128 characters, letters, digits and '-'."
  }
}

variable "rule_name" {
  description = "Name of the Cloud Config rule (managed rule sg-risky-ports-check); in aggregator mode, of the aggregate rule."
  type        = string
  default     = "sg-risky-ports-check"
}

variable "tags" {
  description = "Tags for the function, RAM role, RAM policy and the log project the module creates."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------------

variable "package_path" {
  description = "Path of the code zip built by `make package`. Empty: the repository's dist/sg-remediator.zip."
  type        = string
  default     = ""
}

variable "runtime" {
  description = "FC custom runtime. The static musl bootstrap runs on all of them; custom.debian12 is in public preview in a few regions only."
  type        = string
  default     = "custom.debian11"

  validation {
    condition     = contains(["custom", "custom.debian10", "custom.debian11", "custom.debian12"], var.runtime)
    error_message = "runtime must be one of custom, custom.debian10, custom.debian11, custom.debian12."
  }
}

variable "memory_size" {
  description = "Function memory in MB. The function keeps one event and a few security groups in memory; 128 is plenty."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 32768 && var.memory_size % 64 == 0
    error_message = "memory_size must be a multiple of 64 between 128 and 32768."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. One invocation may carry every non-compliant group of the rule (a manual run); each needs a few API calls with retries, MAX_CONCURRENCY at a time. 120 s covers hundreds of groups; raise it for larger fleets."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 86400
    error_message = "timeout must be between 1 and 86400 seconds."
  }
}

variable "instance_concurrency" {
  description = "Requests one instance serves at once. 1 keeps every instance's log lines between one pair of FC Invoke Start/End markers, so the console attributes them to the right request; remediations are rare, so the extra instances cost nothing."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_concurrency >= 1 && var.instance_concurrency <= 200
    error_message = "instance_concurrency must be between 1 and 200."
  }
}

# ---------------------------------------------------------------------------------------------
# Behaviour (function environment; empty means "use the function's built-in default")
# ---------------------------------------------------------------------------------------------

variable "risky_ports" {
  description = "Comma-separated risky ports, e.g. \"22,3389\". The SAME value configures the Config rule (parameter `ports`) and the function (RISKY_PORTS), so both judge the same ports."
  type        = string
  default     = "22,3389"

  validation {
    condition = can(regex("^[0-9]{1,5}(,[0-9]{1,5})*$", var.risky_ports)) && alltrue([
      for port in split(",", var.risky_ports) : try(tonumber(port) >= 1 && tonumber(port) <= 65535, false)
    ])
    error_message = "risky_ports: comma-separated ports 1-65535 without spaces, e.g. \"22,3389\" (the Config rule takes no ranges)."
  }
}

variable "remediation_mode" {
  description = "REMEDIATION_MODE: \"dry-run\" reports what would be revoked and changes nothing; \"enforce\" revokes. Start with dry-run, read the reports, then switch."
  type        = string
  default     = "dry-run"

  validation {
    condition     = contains(["dry-run", "enforce"], var.remediation_mode)
    error_message = "remediation_mode must be \"dry-run\" or \"enforce\"."
  }
}

variable "exempt_tag" {
  description = "EXEMPT_TAG: tag `key` or `key=value` that exempts a security group. Empty: the function's default (sg-remediator:exempt)."
  type        = string
  default     = ""
}

variable "exempt_security_group_ids" {
  description = "EXEMPT_SECURITY_GROUP_IDS: security groups the function never touches (reported as skipped)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.exempt_security_group_ids : can(regex("^sg-[0-9a-z]+$", id))])
    error_message = "exempt_security_group_ids: each entry must look like sg-xxxxxxxx."
  }
}

variable "exclude_exempt_groups_from_rule" {
  description = "Also put exempt_security_group_ids into the rule's exclude_resource_ids_scope, so Config does not evaluate them at all. Off by default: an exempt group then still shows as non-compliant in Config, which keeps the exemption visible."
  type        = bool
  default     = false
}

variable "rule_selector" {
  description = "RULE_SELECTOR (advanced): a JMESPath expression replacing the built-in rule selection. Empty: built-in selection."
  type        = string
  default     = ""
}

variable "remediation_action" {
  description = "REMEDIATION_ACTION: what happens to a world-open risky-port rule. \"revoke\" deletes it (the function's default). \"narrow\" first authorizes the same rule from each of allowed_source_cidrs of the rule's address family, then revokes the world-open rule only if every authorize succeeded, so an approved admin never loses access. Narrowing grants ecs:AuthorizeSecurityGroup. Roll out with remediation_mode = \"dry-run\" first: its reports show what would be added and removed."
  type        = string
  default     = "revoke"

  validation {
    condition     = contains(["revoke", "narrow"], var.remediation_action)
    error_message = "remediation_action must be \"revoke\" or \"narrow\"."
  }
}

# Checked like the function checks ALLOWED_SOURCE_CIDRS at start (a malformed entry, a world
# range, a range wider than /8 or /16, host bits set, more than 20 entries), so a plan fails
# where the function would refuse to start. Each check but the first skips a malformed entry
# (try), so an entry gets one message.
variable "allowed_source_cidrs" {
  description = "ALLOWED_SOURCE_CIDRS (comma-joined): the approved source ranges a world-open rule is narrowed to, IPv4 and IPv6 CIDRs such as \"203.0.113.0/24\" or \"2001:db8:1234::/48\". Required with remediation_action = \"narrow\" (and only then): at most 20, none the whole internet, IPv4 no wider than /8, IPv6 no wider than /16, no host bits set. A rule whose address family has no entry here is revoked."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.allowed_source_cidrs) <= 20
    error_message = "allowed_source_cidrs: at most 20 entries."
  }
  validation {
    condition     = alltrue([for c in var.allowed_source_cidrs : can(regex("^((0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)/(0|[1-9][0-9]{0,2})$", c)) && can(cidrhost(c, 0))])
    error_message = "allowed_source_cidrs: each entry must be an IPv4 or IPv6 CIDR block written address/prefix-length, e.g. \"203.0.113.0/24\" or \"2001:db8:1234::/48\"."
  }
  validation {
    condition     = alltrue([for c in var.allowed_source_cidrs : try(tonumber(split("/", c)[1]) != 0, true)])
    error_message = "allowed_source_cidrs: a world range (0.0.0.0/0, ::/0) is what remediation removes; name the approved ranges instead."
  }
  validation {
    condition     = alltrue([for c in var.allowed_source_cidrs : try(tonumber(split("/", c)[1]) == 0 || tonumber(split("/", c)[1]) >= (can(regex(":", c)) ? 16 : 8), true)])
    error_message = "allowed_source_cidrs: an IPv4 range may be no wider than /8 and an IPv6 range no wider than /16."
  }
  validation {
    condition     = alltrue([for c in var.allowed_source_cidrs : try(cidrhost(c, 0) == cidrhost("${split("/", c)[0]}/${can(regex(":", c)) ? 128 : 32}", 0), true)])
    error_message = "allowed_source_cidrs: an entry has host bits set (e.g. 10.0.0.1/8); write the network address (10.0.0.0/8)."
  }
}

variable "enable_restore" {
  description = "Accept restore events (ALLOW_RESTORE=true) and grant ecs:AuthorizeSecurityGroup so they can re-create revoked rules (narrowing grants it too)."
  type        = bool
  default     = false
}

variable "restore_seal_key" {
  description = "RESTORE_SEAL_KEY: at least 32 random bytes, hex or base64 (generate with `openssl rand -hex 32`). Every revoked rule in a report is sealed with it, and a restore event is accepted only for rules whose seal verifies (revoked by this deployment, unchanged, same account, region and group). Required with enable_restore. Passed to the function only when set."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.restore_seal_key == "" || can(regex("^([0-9A-Fa-f]{2}){32,}$", var.restore_seal_key)) || can(regex("^[A-Za-z0-9+/_-]{43,}={0,2}$", var.restore_seal_key))
    error_message = "restore_seal_key: at least 32 bytes as hex (64+ hex digits) or base64 (43+ characters); generate one with: openssl rand -hex 32."
  }
}

variable "cross_account_role_name" {
  description = "CROSS_ACCOUNT_ROLE_NAME: RAM role assumed in member accounts (created there by modules/member-role). Setting it grants sts:AssumeRole."
  type        = string
  default     = ""
}

variable "deployment" {
  description = "\"account\": the Config rule and remediation in this account. \"organization\": the aggregate rule and remediation on config_aggregator_id, over every member account (needs config_aggregator_id and cross_account_role_name). An input of its own, so that every count is known at plan time even when the aggregator is created in the same run."
  type        = string
  default     = "account"

  validation {
    condition     = contains(["account", "organization"], var.deployment)
    error_message = "deployment must be \"account\" or \"organization\"."
  }
}

variable "config_aggregator_id" {
  description = "With deployment = \"organization\": the Config aggregator (ca-...) whose accounts are remediated. Sets CONFIG_AGGREGATOR_ID and grants config:GetAggregateDiscoveredResource. May come from an aggregator created in the same configuration. Empty with deployment = \"account\"."
  type        = string
  default     = ""
}

variable "config_site" {
  description = "Site of the account's Cloud Config: \"china\" (aliyun.com accounts: https://config.cn-shanghai.aliyuncs.com) or \"international\" (alibabacloud.com accounts: https://config.ap-southeast-1.aliyuncs.com). Sets CONFIG_ENDPOINT unless config_endpoint is set. The site belongs to the account, not to the function's region; the wrong one makes every resource look \"not in Config\"."
  type        = string

  validation {
    condition     = contains(["china", "international"], var.config_site)
    error_message = "config_site must be \"china\" (China site, aliyun.com) or \"international\" (international site, alibabacloud.com)."
  }
}

variable "config_endpoint" {
  description = "CONFIG_ENDPOINT override; when set it wins over config_site. Empty: the endpoint of config_site."
  type        = string
  default     = ""
}

variable "ecs_endpoint" {
  description = "ECS_ENDPOINT override; `{region}` is replaced by the resource's region. Empty: the official ECS SDK endpoint map for the region (finance and government regions included), else https://ecs.{region}.aliyuncs.com."
  type        = string
  default     = ""
}

variable "lookup_opener" {
  description = "LOOKUP_OPENER=true: after a revoke, ask ActionTrail (LookupEvents) who opened each revoked rule and add openedBy to the report; grants actiontrail:LookupEvents (also in modules/member-role, output member_role.lookup_opener)."
  type        = bool
  default     = false
}

variable "actiontrail_endpoint" {
  description = "ACTIONTRAIL_ENDPOINT override; `{region}` is replaced by the group's region. Empty: https://actiontrail.{region}.aliyuncs.com (the official ActionTrail SDK's endpoint)."
  type        = string
  default     = ""
}

variable "sts_endpoint" {
  description = "STS_ENDPOINT override. Empty: https://sts.aliyuncs.com."
  type        = string
  default     = ""
}

variable "max_concurrency" {
  description = "MAX_CONCURRENCY: resources remediated at once inside one invocation (1-256). null: the function's default (8)."
  type        = number
  default     = null

  validation {
    condition     = var.max_concurrency == null ? true : (var.max_concurrency >= 1 && var.max_concurrency <= 256 && floor(var.max_concurrency) == var.max_concurrency)
    error_message = "max_concurrency must be a whole number between 1 and 256, or null."
  }
}

variable "log_format" {
  description = "LOG_FORMAT: \"json\" (one JSON object per line, for SLS queries) or \"text\". Empty: json."
  type        = string
  default     = ""

  validation {
    condition     = contains(["", "json", "text"], var.log_format)
    error_message = "log_format must be \"json\", \"text\" or empty."
  }
}

variable "rust_log" {
  description = "RUST_LOG: tracing filter, e.g. \"info\" or \"sg_remediator=debug\". Empty: info."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------------------------
# Config rule and remediation
# ---------------------------------------------------------------------------------------------

variable "rule_region_ids" {
  description = "Regions the Config rule evaluates (region_ids_scope), e.g. [\"cn-hangzhou\"]. Empty: all regions."
  type        = list(string)
  default     = []
}

variable "rule_resource_group_ids" {
  description = "Resource groups the Config rule evaluates (resource_group_ids_scope). Empty: all."
  type        = list(string)
  default     = []
}

variable "rule_tag_key" {
  description = "Only groups with this tag key are evaluated (tag_key_scope). Empty: no tag scope."
  type        = string
  default     = ""
}

variable "rule_tag_value" {
  description = "With rule_tag_key: only groups whose tag has this value (tag_value_scope). Empty: any value."
  type        = string
  default     = ""
}

variable "maximum_execution_frequency" {
  description = "How often Config also evaluates the rule on a schedule (maximum_execution_frequency with the ScheduledNotification trigger): One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours. Change-triggered evaluation alone never re-evaluates a group whose configuration stays the same, so an exemption that expires (EXEMPT_TAG until=...) is enforced at the next scheduled evaluation."
  type        = string
  default     = "TwentyFour_Hours"

  validation {
    condition     = contains(["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"], var.maximum_execution_frequency)
    error_message = "maximum_execution_frequency must be one of One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours."
  }
}

variable "invoke_type" {
  description = "When Config runs the remediation: AUTO_EXECUTION (on every non-compliant evaluation), MANUAL_EXECUTION (from the console or StartRemediation), NON_EXECUTION or NOT_CONFIG."
  type        = string
  default     = "AUTO_EXECUTION"

  validation {
    condition     = contains(["NON_EXECUTION", "AUTO_EXECUTION", "MANUAL_EXECUTION", "NOT_CONFIG"], var.invoke_type)
    error_message = "invoke_type must be one of NON_EXECUTION, AUTO_EXECUTION, MANUAL_EXECUTION, NOT_CONFIG."
  }
}

# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

variable "log_project" {
  description = "Existing SLS project for the function's logs. Empty: the module creates one named log_project_name."
  type        = string
  default     = ""
}

variable "log_store" {
  description = "Existing logstore (in log_project) for the function's logs. Empty: the module creates one named after the function."
  type        = string
  default     = ""
}

variable "log_project_name" {
  description = "Name of the SLS project the module creates when log_project is empty. Project names are globally unique; empty: \"<function_name>-<account id>\" in lower case."
  type        = string
  default     = ""

  validation {
    condition     = var.log_project_name == "" || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.log_project_name))
    error_message = "log_project_name: 3-63 characters, lower-case letters, digits and '-', starting and ending with a letter or digit."
  }
}

variable "log_retention_days" {
  description = "Retention of the logstore the module creates, in days (the restore records live in these logs)."
  type        = number
  default     = 30

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650
    error_message = "log_retention_days must be between 1 and 3650."
  }
}

variable "notify_webhook_url" {
  description = "NOTIFY_WEBHOOK_URL: a DingTalk custom robot, Lark/Feishu custom bot or Slack incoming webhook told about every invocation that revoked, restored or failed anything. https:// (http:// only for a test receiver). Empty: no notifications. The URL carries the webhook's token, so it is sensitive."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.notify_webhook_url == "" || can(regex("^https?://[^/@\\s]+(/.*)?$", var.notify_webhook_url))
    error_message = "notify_webhook_url must be an https:// (or http://) URL without user information, or empty."
  }
}

variable "notify_format" {
  description = "NOTIFY_FORMAT: dingtalk, lark or slack. Required with notify_webhook_url."
  type        = string
  default     = ""

  validation {
    condition     = contains(["", "dingtalk", "lark", "slack"], var.notify_format)
    error_message = "notify_format must be dingtalk, lark or slack (or empty without a webhook)."
  }
}

variable "notify_webhook_secret" {
  description = "NOTIFY_WEBHOOK_SECRET: the robot's signing secret (DingTalk and Lark); not used by Slack. Optional."
  type        = string
  default     = ""
  sensitive   = true
}

variable "notify_dry_run" {
  description = "NOTIFY_DRY_RUN: also notify dry runs (what would be revoked)."
  type        = bool
  default     = false
}

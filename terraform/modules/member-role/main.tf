# sg-remediator member-account role: applied in every member account (a provider alias per
# account), it lets the central function, and only it, remediate this account's security groups.
#
# The function assumes this role (STS AssumeRole) for each resource Config reports in this
# account, then calls ECS with the role's credentials. The trust policy names the function's own
# role ARN, not the central account: no other user or role there can assume it.

locals {
  policy_name = var.policy_name != "" ? var.policy_name : replace("${var.role_name}-policy", ".", "-")

  # Narrowing authorizes the approved ranges in the member's groups, and a restore re-authorizes
  # a revoked rule there; as in the central module.
  authorizes = var.enable_restore || var.remediation_action == "narrow"

  # Exactly what the function calls with this role's credentials (src/services/mod.rs
  # API_ACTIONS; tests/terraform.rs keeps the two equal). Config is read in the central account
  # through the aggregator, unless reads_config_in_member says otherwise.
  actions_always    = ["ecs:DescribeSecurityGroupAttribute", "ecs:RevokeSecurityGroup"]
  actions_authorize = ["ecs:AuthorizeSecurityGroup"]
  actions_config    = ["config:GetDiscoveredResource"]
  actions_opener    = ["actiontrail:LookupEvents"]

  actions = concat(
    local.actions_always,
    local.authorizes ? local.actions_authorize : [],
    var.reads_config_in_member ? local.actions_config : [],
    var.lookup_opener ? local.actions_opener : [],
  )
}

resource "alicloud_ram_role" "member" {
  role_name   = var.role_name
  description = "sg-remediator: assumed by the central function (${var.trusted_role_arn}) to revoke world-open risky-port rules in this account."
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { RAM = [var.trusted_role_arn] }
    }]
  })
  max_session_duration = var.max_session_duration
  force                = true
  tags                 = var.tags
}

resource "alicloud_ram_policy" "member" {
  policy_name = local.policy_name
  description = "sg-remediator member role: exactly the API actions the function calls in this account."
  policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect   = "Allow"
      Action   = local.actions
      Resource = ["*"]
    }]
  })
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  force           = true
  tags            = var.tags
}

resource "alicloud_ram_role_policy_attachment" "member" {
  role_name   = alicloud_ram_role.member.role_name
  policy_name = alicloud_ram_policy.member.policy_name
  policy_type = "Custom"
}

# sg-remediator for a whole organisation (Resource Directory): one Config aggregator over every
# account, the central function in the management (or a delegated security) account, and the
# member role in each member account, reached through a provider alias per account.
#
# Rollout (README, "Organisation (Resource Directory)"), two applies:
#   1. everything, dry-run:  terraform apply   (aggregator, function, member roles; dry-run,
#                                               MANUAL_EXECUTION; Terraform orders the creates)
#   2. enforce:              terraform apply -var remediation_mode=enforce -var invoke_type=AUTO_EXECUTION
# Build the package first (`make package` at the repository root).

terraform {
  required_version = ">= 1.3.0"

  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.267.0, < 2.0.0"
    }
  }
}

variable "region" {
  description = "Region of the function and of the deploying sessions (the provider would otherwise fall back to cn-beijing)."
  type        = string
  default     = "cn-hangzhou"
}

variable "member_a_account_id" {
  description = "Account id of the first member account."
  type        = string
}

variable "member_b_account_id" {
  description = "Account id of the second member account."
  type        = string
}

variable "member_access_role_name" {
  description = "Role Terraform assumes in each member account to create the member role. Resource Directory creates ResourceDirectoryAccountAccessRole in every member it creates."
  type        = string
  default     = "ResourceDirectoryAccountAccessRole"
}

variable "config_site" {
  description = "Site of the account's Cloud Config: \"china\" for an aliyun.com account, \"international\" for an alibabacloud.com account. The site belongs to the account, not to the region: set it to yours (the default matches the default region)."
  type        = string
  default     = "china"
}

variable "remediation_mode" {
  description = "\"dry-run\" first; \"enforce\" once the dry-run reports look right."
  type        = string
  default     = "dry-run"
}

variable "invoke_type" {
  description = "MANUAL_EXECUTION first; AUTO_EXECUTION together with enforce."
  type        = string
  default     = "MANUAL_EXECUTION"
}

# The management (or delegated security) account: aggregator and function.
provider "alicloud" {
  region = var.region
}

provider "alicloud" {
  alias  = "member_a"
  region = var.region
  assume_role {
    role_arn     = "acs:ram::${var.member_a_account_id}:role/${var.member_access_role_name}"
    session_name = "sg-remediator-deploy"
  }
}

provider "alicloud" {
  alias  = "member_b"
  region = var.region
  assume_role {
    role_arn     = "acs:ram::${var.member_b_account_id}:role/${var.member_access_role_name}"
    session_name = "sg-remediator-deploy"
  }
}

locals {
  member_role_name = "sg-remediation"
}

# Every account of the Resource Directory.
resource "alicloud_config_aggregator" "organization" {
  aggregator_name = "sg-remediator-organization"
  description     = "All Resource Directory accounts, remediated by sg-remediator."
  aggregator_type = "RD"
}

module "sg_remediator" {
  source = "../.."

  function_name    = "sg-remediator"
  risky_ports      = "22,3389"
  remediation_mode = var.remediation_mode
  invoke_type      = var.invoke_type
  config_site      = var.config_site
  # The mode is a literal, known at plan time; the aggregator's id is known only after it is
  # created, in the same apply.
  deployment              = "organization"
  config_aggregator_id    = alicloud_config_aggregator.organization.id
  cross_account_role_name = local.member_role_name

  tags = {
    app = "sg-remediator"
  }
}

# Each member role trusts the function's role: Terraform creates that role first, then these, in
# the same apply. enable_restore, remediation_action and lookup_opener (defaults false, "revoke",
# false) must match the central module's (module.sg_remediator.member_role.enable_restore,
# .remediation_action and .lookup_opener): narrowing and restoring authorize rules in the members.
module "member_role_a" {
  source    = "../../modules/member-role"
  providers = { alicloud = alicloud.member_a }

  role_name        = local.member_role_name
  trusted_role_arn = module.sg_remediator.role_arn
}

module "member_role_b" {
  source    = "../../modules/member-role"
  providers = { alicloud = alicloud.member_b }

  role_name        = local.member_role_name
  trusted_role_arn = module.sg_remediator.role_arn
}

output "aggregator_id" {
  description = "Id of the Config aggregator."
  value       = alicloud_config_aggregator.organization.id
}

output "function_arn" {
  description = "ARN of the remediation function."
  value       = module.sg_remediator.function_arn
}

output "function_role_arn" {
  description = "ARN of the function's RAM role: the only principal the member roles trust."
  value       = module.sg_remediator.role_arn
}

output "member_role_arns" {
  description = "The role the function assumes in each member account."
  value       = [module.member_role_a.role_arn, module.member_role_b.role_arn]
}

output "config_rule_id" {
  description = "Id of the aggregate Config rule."
  value       = module.sg_remediator.config_rule_id
}

output "remediation_id" {
  description = "Id of the aggregate remediation."
  value       = module.sg_remediator.remediation_id
}

output "log_project" {
  description = "SLS project with the function's logs."
  value       = module.sg_remediator.log_project
}

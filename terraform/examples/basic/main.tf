# Minimal deployment of sg-remediator in one region, in the first step of the recommended
# rollout: dry-run, manual execution. Build the package first (`make package` at the
# repository root), then `terraform init && terraform apply -var config_site=<china|international>`
# here: one apply deploys everything.

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
  description = "Region of the function (the provider would otherwise fall back to cn-beijing)."
  type        = string
  default     = "cn-hangzhou"
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

provider "alicloud" {
  region = var.region
}

module "sg_remediator" {
  source = "../.."

  function_name    = "sg-remediator"
  deployment       = "account"
  config_site      = var.config_site
  risky_ports      = "22,3389"
  remediation_mode = var.remediation_mode
  invoke_type      = var.invoke_type
  # enable_restore stays off in this first, dry-run step: a restore re-opens ports. Turn it on
  # only when you need to undo a remediation: enable_restore = true together with
  # restore_seal_key (a secret, e.g. from TF_VAR_restore_seal_key; see terraform/README.md).
  # To narrow world-open rules to approved ranges instead of deleting them, add
  # remediation_action = "narrow" and allowed_source_cidrs = ["203.0.113.0/24"], still dry-run
  # first.

  tags = {
    app = "sg-remediator"
  }
}

output "function_arn" {
  description = "ARN of the remediation function."
  value       = module.sg_remediator.function_arn
}

output "role_arn" {
  description = "ARN of the function's RAM role."
  value       = module.sg_remediator.role_arn
}

output "config_rule_id" {
  description = "Id of the Config rule."
  value       = module.sg_remediator.config_rule_id
}

output "remediation_id" {
  description = "Id of the Config remediation."
  value       = module.sg_remediator.remediation_id
}

output "log_project" {
  description = "SLS project with the function's logs."
  value       = module.sg_remediator.log_project
}

output "log_store" {
  description = "SLS logstore with the function's logs."
  value       = module.sg_remediator.log_store
}

output "function_name" {
  description = "Name of the FC 3.0 function."
  value       = alicloud_fcv3_function.fn.function_name
}

output "function_arn" {
  description = "ARN of the function (the remediation's template id)."
  value       = alicloud_fcv3_function.fn.function_arn
}

output "role_arn" {
  description = "ARN of the RAM role the function runs as."
  value       = alicloud_ram_role.fn.arn
}

output "policy_actions" {
  description = "RAM actions granted to the function role."
  value       = local.policy_actions
}

output "config_rule_id" {
  description = "Id of the Config rule (cr-...)."
  value       = alicloud_config_rule.sg_risky_ports.config_rule_id
}

output "remediation_id" {
  description = "Id of the Config remediation (crr-...)."
  value       = alicloud_config_remediation.sg_risky_ports.remediation_id
}

output "log_project" {
  description = "SLS project holding the function's logs."
  value       = local.log_project
}

output "log_store" {
  description = "SLS logstore holding the function's logs."
  value       = local.log_store
}

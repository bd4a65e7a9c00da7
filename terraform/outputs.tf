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
  description = "Id of the Config rule (cr-...): the account-level rule, or the aggregate rule in aggregator mode."
  value       = one(concat(alicloud_config_rule.sg_risky_ports[*].config_rule_id, alicloud_config_aggregate_config_rule.sg_risky_ports[*].config_rule_id))
}

output "remediation_id" {
  description = "Id of the Config remediation (crr-...): account-level, or on the aggregator in aggregator mode."
  value       = one(concat(alicloud_config_remediation.sg_risky_ports[*].remediation_id, alicloud_config_aggregate_remediation.sg_risky_ports[*].remediation_id))
}

output "aggregator_mode" {
  description = "True when the rule and remediation are on the aggregator config_aggregator_id."
  value       = local.aggregator_mode
}

output "member_role" {
  description = "Inputs of modules/member-role for every member account: the role name to create, the function role it must trust, whether restore is enabled, the remediation action (narrowing authorizes), whether ActionTrail is read (lookup_opener), and whether the function reads Config in the member (only without an aggregator)."
  value = {
    role_name              = var.cross_account_role_name
    trusted_role_arn       = alicloud_ram_role.fn.arn
    enable_restore         = var.enable_restore
    remediation_action     = var.remediation_action
    lookup_opener          = var.lookup_opener
    reads_config_in_member = !local.aggregator_mode
  }
}

output "log_project" {
  description = "SLS project holding the function's logs."
  value       = local.log_project
}

output "log_store" {
  description = "SLS logstore holding the function's logs."
  value       = local.log_store
}

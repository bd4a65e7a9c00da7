output "role_arn" {
  description = "ARN of the member role (what the function assumes: acs:ram::<member>:role/<role_name>)."
  value       = alicloud_ram_role.member.arn
}

output "role_name" {
  description = "Name of the member role."
  value       = alicloud_ram_role.member.role_name
}

output "policy_actions" {
  description = "RAM actions granted to the member role."
  value       = local.actions
}

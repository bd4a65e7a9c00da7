variable "role_name" {
  description = "Name of the role to create: the central module's cross_account_role_name (output member_role.role_name)."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z.-]{1,64}$", var.role_name))
    error_message = "role_name: 1-64 characters, letters, digits, '.' and '-'."
  }
}

variable "trusted_role_arn" {
  description = "ARN of the central function's RAM role (output member_role.trusted_role_arn / role_arn). The only principal the role trusts."
  type        = string

  validation {
    condition     = can(regex("^acs:ram::[0-9]+:role/[0-9A-Za-z.-]{1,64}$", var.trusted_role_arn))
    error_message = "trusted_role_arn: the central function's role ARN, acs:ram::<account id>:role/<name>; an account (:root) is refused, so that no other identity of the central account can assume this role."
  }
}

variable "enable_restore" {
  description = "Grant ecs:AuthorizeSecurityGroup, for restore events. Set it as in the central module (output member_role.enable_restore)."
  type        = bool
  default     = false
}

variable "remediation_action" {
  description = "\"narrow\" grants ecs:AuthorizeSecurityGroup: the function authorizes the approved ranges in this account's groups before it revokes a world-open rule. Set it as in the central module (output member_role.remediation_action)."
  type        = string
  default     = "revoke"

  validation {
    condition     = contains(["revoke", "narrow"], var.remediation_action)
    error_message = "remediation_action must be \"revoke\" or \"narrow\", as in the central module."
  }
}

variable "lookup_opener" {
  description = "Grant actiontrail:LookupEvents, to name who opened a revoked rule. Set it as in the central module (output member_role.lookup_opener)."
  type        = bool
  default     = false
}

variable "reads_config_in_member" {
  description = "Grant config:GetDiscoveredResource: only when the central function runs without an aggregator and so reads Config in the member (output member_role.reads_config_in_member)."
  type        = bool
  default     = false
}

variable "policy_name" {
  description = "Name of the custom policy attached to the role. Empty: \"<role_name>-policy\"."
  type        = string
  default     = ""

  validation {
    condition     = var.policy_name == "" || can(regex("^[0-9A-Za-z-]{1,128}$", var.policy_name))
    error_message = "policy_name: 1-128 characters, letters, digits and '-'."
  }
}

variable "max_session_duration" {
  description = "Longest AssumeRole session in seconds; the function asks for 3600."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 (the function's session length) and 43200."
  }
}

variable "tags" {
  description = "Tags for the role and the policy."
  type        = map(string)
  default     = {}
}

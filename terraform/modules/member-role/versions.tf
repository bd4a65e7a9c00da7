terraform {
  required_version = ">= 1.3.0"

  required_providers {
    # Only RAM resources (role_name / assume_role_policy_document since 1.252.0, policy tags
    # since 1.246.0); the same bounds as the central module so one provider serves both.
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.267.0, < 2.0.0"
    }
  }
}

terraform {
  # 1.3: validation blocks that reference only their own variable, and lifecycle
  # preconditions (1.2), are all the module needs.
  required_version = ">= 1.3.0"

  required_providers {
    # 1.267.0 adds alicloud_config_aggregate_remediation (aggregator mode). Terraform needs the
    # schema of every resource type in the configuration, even with count = 0, so the floor holds
    # in account mode too. 1.260.0 added the fcv3 runtimes custom.debian11/12 (our default is
    # custom.debian11); ram_role.role_name is 1.252.0, fcv3 tags 1.242.0, ram_policy tags 1.246.0.
    # Below 2.0.0: the next major may break arguments.
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.267.0, < 2.0.0"
    }
  }
}

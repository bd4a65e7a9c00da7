terraform {
  # 1.3: validation blocks that reference only their own variable, and lifecycle
  # preconditions (1.2), are all the module needs.
  required_version = ">= 1.3.0"

  required_providers {
    # 1.260.0 adds the fcv3 runtimes custom.debian11 and custom.debian12 (our default is
    # custom.debian11); it also covers ram_role.role_name (1.252.0), fcv3 tags (1.242.0) and
    # ram_policy tags (1.246.0).
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.260.0"
    }
  }
}

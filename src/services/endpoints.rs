//! The default ECS endpoint of each region, as the official SDK resolves it.
//!
//! Source: the `EndpointMap` that `Client.Init` sets in `aliyun/alibabacloud-go-sdk`,
//! `ecs-20140526/client/client.go` (transcribed as data; the SDK's order). A region in the map
//! uses its host; any other region follows the SDK's "regional" endpoint rule,
//! `ecs.<region>.aliyuncs.com`. Finance, government and some special regions are served
//! elsewhere (e.g. `cn-shanghai-finance-1` by `ecs-cn-hangzhou.aliyuncs.com`, `cn-north-2-gov-1`
//! by `ecs.aliyuncs.com`), so the pattern alone would send them to a host that does not exist.
//! An explicit `ECS_ENDPOINT` always wins over this table.

use acs_openapi::{Endpoint, EndpointError};

/// `(region id, ECS host)`, from the official SDK's `EndpointMap`.
pub const ECS_ENDPOINT_MAP: &[(&str, &str)] = &[
    ("cn-hangzhou", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai-finance-1", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shenzhen-finance-1", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-north-2-gov-1", "ecs.aliyuncs.com"),
    ("ap-northeast-2-pop", "ecs.aliyuncs.com"),
    ("cn-beijing-finance-pop", "ecs.aliyuncs.com"),
    ("cn-beijing-gov-1", "ecs.aliyuncs.com"),
    ("cn-beijing-nu16-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-edge-1", "ecs.cn-qingdao-nebula.aliyuncs.com"),
    ("cn-fujian", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-haidian-cm12-c01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hangzhou-bj-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hangzhou-finance", "ecs.aliyuncs.com"),
    (
        "cn-hangzhou-internal-prod-1",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    (
        "cn-hangzhou-internal-test-1",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    (
        "cn-hangzhou-internal-test-2",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    (
        "cn-hangzhou-internal-test-3",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("cn-hangzhou-test-306", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-hongkong-finance-pop", "ecs.aliyuncs.com"),
    (
        "cn-huhehaote-nebula-1",
        "ecs.cn-qingdao-nebula.aliyuncs.com",
    ),
    ("cn-shanghai-et15-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai-et2-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai-inner", "ecs.aliyuncs.com"),
    (
        "cn-shanghai-internal-test-1",
        "ecs-cn-hangzhou.aliyuncs.com",
    ),
    ("cn-shenzhen-inner", "ecs.aliyuncs.com"),
    ("cn-shenzhen-st4-d01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-shenzhen-su18-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-wuhan", "ecs.aliyuncs.com"),
    ("cn-yushanfang", "ecs.aliyuncs.com"),
    ("cn-zhangbei", "ecs.aliyuncs.com"),
    ("cn-zhangbei-na61-b01", "ecs-cn-hangzhou.aliyuncs.com"),
    ("cn-zhangjiakou-na62-a01", "ecs.cn-zhangjiakou.aliyuncs.com"),
    (
        "cn-zhengzhou-nebula-1",
        "ecs.cn-qingdao-nebula.aliyuncs.com",
    ),
    ("eu-west-1-oxs", "ecs.cn-shenzhen-cloudstone.aliyuncs.com"),
    ("rus-west-1-pop", "ecs.aliyuncs.com"),
    ("us-west-1", "ecs.us-west-1.aliyuncs.com"),
    ("us-southeast-1", "ecs.us-southeast-1.aliyuncs.com"),
    ("us-east-1", "ecs.us-east-1.aliyuncs.com"),
    ("na-south-1", "ecs.na-south-1.aliyuncs.com"),
    ("me-east-1", "ecs.me-east-1.aliyuncs.com"),
    ("me-central-1", "ecs.me-central-1.aliyuncs.com"),
    ("eu-west-2", "ecs.eu-west-2.aliyuncs.com"),
    ("eu-west-1", "ecs.eu-west-1.aliyuncs.com"),
    ("eu-central-1", "ecs.eu-central-1.aliyuncs.com"),
    ("cn-zhongwei", "ecs.cn-zhongwei.aliyuncs.com"),
    ("cn-zhengzhou-jva", "ecs.cn-zhengzhou-jva.aliyuncs.com"),
    ("cn-zhangjiakou", "ecs.cn-zhangjiakou.aliyuncs.com"),
    (
        "cn-wulanchabu-gic-1",
        "ecs.cn-wulanchabu-gic-1.aliyuncs.com",
    ),
    ("cn-wulanchabu", "ecs.cn-wulanchabu.aliyuncs.com"),
    ("cn-wuhan-lr", "ecs.cn-wuhan-lr.aliyuncs.com"),
    ("cn-shenzhen", "ecs.cn-shenzhen.aliyuncs.com"),
    ("cn-shanghai", "ecs.cn-shanghai.aliyuncs.com"),
    ("cn-qingdao", "ecs.cn-qingdao.aliyuncs.com"),
    ("cn-nanjing", "ecs.cn-nanjing.aliyuncs.com"),
    ("cn-huhehaote", "ecs.cn-huhehaote.aliyuncs.com"),
    ("cn-hongkong", "ecs.cn-hongkong.aliyuncs.com"),
    ("cn-heyuan-acdr-1", "ecs.cn-heyuan-acdr-1.aliyuncs.com"),
    ("cn-heyuan", "ecs.cn-heyuan.aliyuncs.com"),
    ("cn-guangzhou", "ecs.cn-guangzhou.aliyuncs.com"),
    ("cn-fuzhou", "ecs.cn-fuzhou.aliyuncs.com"),
    ("cn-chengdu", "ecs.cn-chengdu.aliyuncs.com"),
    (
        "cn-beijing-finance-1",
        "ecs.cn-beijing-finance-1.aliyuncs.com",
    ),
    ("cn-beijing", "ecs.cn-beijing.aliyuncs.com"),
    ("ap-southeast-8", "ecs.ap-southeast-8.aliyuncs.com"),
    ("ap-southeast-7", "ecs.ap-southeast-7.aliyuncs.com"),
    ("ap-southeast-6", "ecs.ap-southeast-6.aliyuncs.com"),
    ("ap-southeast-5", "ecs.ap-southeast-5.aliyuncs.com"),
    ("ap-southeast-3", "ecs.ap-southeast-3.aliyuncs.com"),
    ("ap-southeast-1", "ecs.ap-southeast-1.aliyuncs.com"),
    ("ap-northeast-2", "ecs.ap-northeast-2.aliyuncs.com"),
    ("ap-northeast-1", "ecs.ap-northeast-1.aliyuncs.com"),
];

/// The default ECS endpoint (`https://host`) for `region`: its entry in [`ECS_ENDPOINT_MAP`],
/// else `https://ecs.<region>.aliyuncs.com` (an error if `region` cannot be part of a host name).
pub fn default_ecs_endpoint(region: &str) -> Result<Endpoint, EndpointError> {
    match ECS_ENDPOINT_MAP.iter().find(|(r, _)| *r == region) {
        Some((_, host)) => Endpoint::parse(&format!("https://{host}")),
        None => Endpoint::parse(&format!("https://ecs.{region}.aliyuncs.com")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecs(region: &str) -> String {
        default_ecs_endpoint(region).unwrap().to_string()
    }

    #[test]
    fn finance_and_government_regions_use_the_official_sdks_hosts() {
        assert_eq!(
            ecs("cn-shanghai-finance-1"),
            "https://ecs-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            ecs("cn-shenzhen-finance-1"),
            "https://ecs-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(ecs("cn-north-2-gov-1"), "https://ecs.aliyuncs.com");
        assert_eq!(
            ecs("cn-beijing-finance-1"),
            "https://ecs.cn-beijing-finance-1.aliyuncs.com"
        );
    }

    #[test]
    fn mapped_public_regions_and_unmapped_regions_follow_the_regional_pattern() {
        assert_eq!(ecs("cn-shanghai"), "https://ecs.cn-shanghai.aliyuncs.com");
        assert_eq!(
            ecs("ap-southeast-1"),
            "https://ecs.ap-southeast-1.aliyuncs.com"
        );
        // Not in the map: the SDK's "regional" rule.
        assert_eq!(ecs("ap-south-1"), "https://ecs.ap-south-1.aliyuncs.com");
    }

    #[test]
    fn the_table_has_one_entry_per_region() {
        let mut regions: Vec<&str> = ECS_ENDPOINT_MAP.iter().map(|(r, _)| *r).collect();
        regions.sort_unstable();
        let before = regions.len();
        regions.dedup();
        assert_eq!(regions.len(), before);
    }

    #[test]
    fn every_mapped_host_is_a_valid_https_endpoint() {
        for (region, _) in ECS_ENDPOINT_MAP {
            let e = default_ecs_endpoint(region).unwrap();
            assert!(!e.is_plain_http(), "{region}");
        }
    }

    #[test]
    fn a_region_that_cannot_be_in_a_host_name_gets_no_endpoint() {
        for bad in ["cn_hangzhou", "a/b", "x?y", "a@b"] {
            assert!(default_ecs_endpoint(bad).is_err(), "{bad:?}");
        }
    }
}

//! DingTalk custom robots (自定义机器人).
//!
//! Signing, as DingTalk's custom-robot guide gives it
//! (open.dingtalk.com/document/robots/customize-robot-security-settings; its Python sample is
//! quoted at blog.csdn.net/weixin_31560545/article/details/116255918): `timestamp` is the current
//! time in milliseconds, `sign` = URL-encode(Base64(HMAC-SHA256(key = secret,
//! message = "{timestamp}\n{secret}"))), both added to the webhook's query.
//!
//! Message: `{"msgtype": "text", "text": {"content": …}}`; the answer is HTTP 200 with
//! `{"errcode": 0, "errmsg": "ok"}`, any other `errcode` is a refusal.
//!
//! Rate: "每个机器人每分钟最多发送20条。如果超过20条,会限流10分钟" — at most 20 messages a
//! minute per robot, then throttled for 10 minutes (DingTalk's custom-robot guide, as quoted at
//! 3fwork.com/kaifa200/001550MYM007109 and blog.csdn.net/qq_23564667/article/details/119456301);
//! the throttled answer is "send too fast" (m.elefans.com/dongtai/1725725310a1038879.html),
//! errcode 130101.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use serde_json::{json, Value};
use sha2::Sha256;

use super::Verdict;

/// DingTalk's throttled answer (`send too fast`).
const RATE_LIMITED_ERRCODE: i64 = 130101;

/// How long DingTalk throttles a robot that sent more than 20 messages in a minute.
const THROTTLE: Duration = Duration::from_secs(10 * 60);

/// The `sign` of `timestamp_ms` before URL-encoding: Base64(HMAC-SHA256(secret,
/// "{timestamp}\n{secret}")).
pub(super) fn sign(secret: &str, timestamp_ms: u128) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The URL to post to: the webhook with `timestamp` and `sign` appended when there is a secret
/// (the query encoder URL-encodes the Base64 once, as the guide asks).
pub(super) fn url(webhook: &Url, secret: Option<&str>, timestamp_ms: u128) -> Url {
    let mut url = webhook.clone();
    if let Some(secret) = secret {
        url.query_pairs_mut()
            .append_pair("timestamp", &timestamp_ms.to_string())
            .append_pair("sign", &sign(secret, timestamp_ms));
    }
    url
}

/// The message body.
pub(super) fn body(text: &str) -> Value {
    json!({"msgtype": "text", "text": {"content": text}})
}

/// What a 2xx answer means.
pub(super) fn verdict(body: &[u8]) -> Verdict {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let errcode = answer.get("errcode").and_then(Value::as_i64);
    let errmsg = answer.get("errmsg").and_then(Value::as_str).unwrap_or("");
    match errcode {
        Some(0) => Verdict::Delivered,
        Some(RATE_LIMITED_ERRCODE) => Verdict::RateLimited {
            retry_after: Some(THROTTLE),
            detail: format!("DingTalk errcode {RATE_LIMITED_ERRCODE} ({errmsg})"),
        },
        Some(code) => Verdict::Refused(format!("DingTalk errcode {code} ({errmsg})")),
        None => Verdict::Refused("DingTalk answered without an errcode".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently with Python's hmac/base64/urllib (the guide's own sample):
    // timestamp 1700000000000, secret "SECtest-secret-value".
    const SIGN: &str = "0l/PJNXME+9IDjcrWgyMbP5rKw2A4CAMsnYhxTw0oAY=";

    #[test]
    fn the_sign_is_base64_of_the_hmac_of_timestamp_newline_secret_keyed_by_the_secret() {
        assert_eq!(sign("SECtest-secret-value", 1_700_000_000_000), SIGN);
    }

    #[test]
    fn the_url_carries_the_timestamp_in_ms_and_the_url_encoded_sign_in_its_query() {
        let webhook = Url::parse("https://oapi.dingtalk.com/robot/send?access_token=t").unwrap();
        let url = url(&webhook, Some("SECtest-secret-value"), 1_700_000_000_000);
        let encoded = SIGN
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        assert_eq!(
            url.query(),
            Some(format!("access_token=t&timestamp=1700000000000&sign={encoded}").as_str())
        );
    }

    #[test]
    fn without_a_secret_the_url_is_the_webhook() {
        let webhook = Url::parse("https://oapi.dingtalk.com/robot/send?access_token=t").unwrap();
        assert_eq!(url(&webhook, None, 1), webhook);
    }

    #[test]
    fn errcode_130101_is_a_ten_minute_throttle_and_others_are_refusals() {
        assert_eq!(
            verdict(br#"{"errcode":0,"errmsg":"ok"}"#),
            Verdict::Delivered
        );
        assert!(matches!(
            verdict(br#"{"errcode":130101,"errmsg":"send too fast"}"#),
            Verdict::RateLimited { retry_after: Some(d), .. } if d == THROTTLE
        ));
        assert!(matches!(
            verdict(br#"{"errcode":310000,"errmsg":"sign not match"}"#),
            Verdict::Refused(m) if m.contains("310000")
        ));
    }
}

//! Lark / Feishu custom bots (自定义机器人).
//!
//! Signing, as Feishu's custom-bot guide gives it (open.feishu.cn/document/client-docs/bot-v3/
//! add-custom-bot, "签名校验"; its Python sample is quoted at m.down10s.com/jiaocheng/
//! 5605312225.html, and gitea's implementation follows it: github.com/go-gitea/gitea/pull/34788):
//! `timestamp` is the current time in seconds, `sign` = Base64(HMAC-SHA256(key =
//! "{timestamp}\n{secret}", message = empty)), both in the JSON body beside the message. Feishu
//! accepts a timestamp within an hour of its own clock.
//!
//! Message: `{"msg_type": "text", "content": {"text": …}}`; the answer is `{"code": 0, …}` (older
//! deployments answer `{"StatusCode": 0, …}`), any other code is a refusal.
//!
//! Rate: a custom bot takes at most 100 requests a minute and 5 a second
//! (docs.flashcat.cloud/en/flashduty/lark-integration-guide, quoting Feishu's limits).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::Verdict;

/// The `sign` of `timestamp_s`: Base64(HMAC-SHA256(key = "{timestamp}\n{secret}", empty)).
pub(super) fn sign(secret: &str, timestamp_s: u64) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(format!("{timestamp_s}\n{secret}").as_bytes())
        .expect("HMAC takes a key of any length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The message body, signed when there is a secret (the timestamp is a string, as in the
/// guide's sample body).
pub(super) fn body(text: &str, secret: Option<&str>, timestamp_s: u64) -> Value {
    let mut body = json!({"msg_type": "text", "content": {"text": text}});
    if let (Some(secret), Some(map)) = (secret, body.as_object_mut()) {
        map.insert("timestamp".into(), Value::String(timestamp_s.to_string()));
        map.insert("sign".into(), Value::String(sign(secret, timestamp_s)));
    }
    body
}

/// What a 2xx answer means.
pub(super) fn verdict(body: &[u8]) -> Verdict {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = answer
        .get("code")
        .or_else(|| answer.get("StatusCode"))
        .and_then(Value::as_i64);
    let msg = answer
        .get("msg")
        .or_else(|| answer.get("StatusMessage"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match code {
        Some(0) => Verdict::Delivered,
        Some(code) => Verdict::Refused(format!("Lark code {code} ({msg})")),
        None => Verdict::Refused("Lark answered without a code".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_is_base64_of_an_hmac_of_nothing_keyed_by_timestamp_newline_secret() {
        // Computed independently with Python's hmac/base64 (the guide's own sample).
        assert_eq!(
            sign("SECtest-secret-value", 1_700_000_000),
            "9RUmzYQqTHrTM+3NQ7a0qcxiqa0FqI43tVEPYnbpyS4="
        );
    }

    #[test]
    fn a_signed_body_carries_the_timestamp_in_seconds_and_the_sign_beside_the_text() {
        let body = body("hello", Some("SECtest-secret-value"), 1_700_000_000);
        assert_eq!(body["msg_type"], "text");
        assert_eq!(body["content"]["text"], "hello");
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], "9RUmzYQqTHrTM+3NQ7a0qcxiqa0FqI43tVEPYnbpyS4=");
    }

    #[test]
    fn an_unsigned_body_has_no_timestamp_or_sign() {
        let body = body("hello", None, 1);
        assert!(body.get("timestamp").is_none() && body.get("sign").is_none());
    }

    #[test]
    fn code_zero_is_delivered_and_any_other_code_a_refusal() {
        assert_eq!(
            verdict(br#"{"code":0,"msg":"success"}"#),
            Verdict::Delivered
        );
        assert_eq!(verdict(br#"{"StatusCode":0}"#), Verdict::Delivered);
        assert!(matches!(
            verdict(br#"{"code":19021,"msg":"sign match fail"}"#),
            Verdict::Refused(m) if m.contains("19021")
        ));
    }
}

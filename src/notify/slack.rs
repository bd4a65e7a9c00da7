//! Slack incoming webhooks.
//!
//! Message: `{"text": …}` (api.slack.com/messaging/webhooks); unsigned (the URL is the secret), so
//! `NOTIFY_WEBHOOK_SECRET` is refused with Slack. Slack truncates a `text` longer than 40,000
//! characters (learn.microsoft.com, Slack connector `PostMessageRequest.MessageText`, quoting
//! Slack). Over the rate limit an incoming webhook answers HTTP 429 with a `Retry-After` header
//! in seconds (Slack's rate-limit page, github.com/slackhq/slack-api-docs page_rate_limits.md).
//! Any 2xx is delivered.

use serde_json::{json, Value};

/// The message body.
pub(super) fn body(text: &str) -> Value {
    json!({ "text": text })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_body_is_the_text() {
        assert_eq!(super::body("hi"), serde_json::json!({"text": "hi"}));
    }
}

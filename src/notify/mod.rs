//! Notifications: one signed message to a DingTalk, Lark/Feishu or Slack webhook after an
//! invocation that revoked, restored or failed anything.
//!
//! Configured by `NOTIFY_WEBHOOK_URL`, `NOTIFY_WEBHOOK_SECRET`, `NOTIFY_FORMAT` and
//! `NOTIFY_DRY_RUN` ([`NotifyConfig::from_lookup`], called by [`crate::config::Config`]). The
//! message is built from the report ([`message`]), scrubbed like every other output
//! ([`acs_openapi::credentials::Scrubber::scrub`]), cut to the platform's size, signed as the platform documents
//! (one module per platform) and posted with no redirects. A webhook that fails or hangs is tried
//! again briefly within the invocation's deadline; the outcome is the report's `notification`
//! ([`Notification`]) and never changes the remediation or its report otherwise.
//!
//! The webhook URL carries its token (Slack and Lark in the path, DingTalk in the query), so only
//! its scheme and host are ever logged, and the URL and the secret are remembered so that the
//! scrubber masks them wherever they might be echoed.

mod dingtalk;
mod lark;
pub mod message;
mod slack;

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use serde::Serialize;

use crate::config::{ConfigError, Mode};
use crate::report::{Report, RestoreReport};
use acs_openapi::credentials::{Scrubber, Secret};

pub use message::Origin;

/// Which platform the webhook belongs to (`NOTIFY_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// DingTalk custom robot: signed in the query.
    DingTalk,
    /// Lark / Feishu custom bot: signed in the body.
    Lark,
    /// Slack incoming webhook: unsigned.
    Slack,
}

impl Format {
    /// The `NOTIFY_FORMAT` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DingTalk => "dingtalk",
            Format::Lark => "lark",
            Format::Slack => "slack",
        }
    }

    /// The most bytes of text one message carries on this platform.
    ///
    /// - Slack truncates `text` past 40,000 characters (see [`slack`]); bytes ≤ characters×4, and
    ///   a message is far smaller anyway, so 20,000 bytes keeps it whole.
    /// - Lark: a custom bot's request body is at most 20 KB (Feishu's custom-bot guide, "使用限制");
    ///   18,000 bytes of text leaves room for the JSON around it and its escapes.
    /// - DingTalk: the same 18,000 bytes; DingTalk's guide asks to summarise rather than flood
    ///   ("将这些信息进行整合,通过markdown消息以摘要的形式发送", see [`dingtalk`]).
    fn max_text_bytes(self) -> usize {
        match self {
            Format::DingTalk | Format::Lark => 18_000,
            Format::Slack => 20_000,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dingtalk" => Ok(Format::DingTalk),
            "lark" => Ok(Format::Lark),
            "slack" => Ok(Format::Slack),
            other => Err(format!(
                "{other:?} is not a format; use \"dingtalk\", \"lark\" or \"slack\""
            )),
        }
    }
}

impl Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The webhook URL. `Debug` and [`WebhookUrl::origin`] show only its scheme and host: the rest
/// carries the token.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// `scheme://host[:port]`, the only part of the URL ever logged.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// Whether it is plain `http://` (only as explicitly configured, e.g. a local receiver).
    pub fn is_plain_http(&self) -> bool {
        self.0.scheme() == "http"
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({}/***)", self.origin())
    }
}

impl FromStr for WebhookUrl {
    type Err = String;
    /// `https://` (or an explicit `http://`) with a host, no user or password. The value never
    /// appears in an error: it carries the token.
    ///
    /// An internationalised host must be written in its ASCII (`xn--`) form: the URL parser is
    /// built without a Unicode back end, so it maps no name itself.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s.trim()).map_err(|e| {
            if s.is_ascii() {
                format!("is not a URL ({e})")
            } else {
                format!(
                    "is not a URL ({e}); write an internationalised host in its ASCII (xn--) form"
                )
            }
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!(
                "must start with https:// (or an explicit http://), not {}://",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("has no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user or password".into());
        }
        Ok(WebhookUrl(url))
    }
}

/// The notification settings; absent when `NOTIFY_WEBHOOK_URL` is unset.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// `NOTIFY_WEBHOOK_URL`.
    pub url: WebhookUrl,
    /// `NOTIFY_WEBHOOK_SECRET`: signs DingTalk and Lark messages; never printed.
    pub secret: Option<Secret>,
    /// `NOTIFY_FORMAT`.
    pub format: Format,
    /// `NOTIFY_DRY_RUN`: also notify dry runs (default false).
    pub dry_run: bool,
}

fn error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl NotifyConfig {
    /// The notification variables from `lookup`; `Ok(None)` when `NOTIFY_WEBHOOK_URL` is unset or
    /// empty. A secret or format without a URL, a missing format, a secret with Slack (which does
    /// not sign) or a bad value is an error naming the variable.
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<NotifyConfig>, ConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let dry_run = match lookup("NOTIFY_DRY_RUN") {
            None => false,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(error(
                        "NOTIFY_DRY_RUN",
                        format!("must be true or false, got {other:?}"),
                    ))
                }
            },
        };
        let Some(url) = set("NOTIFY_WEBHOOK_URL") else {
            for orphan in ["NOTIFY_WEBHOOK_SECRET", "NOTIFY_FORMAT"] {
                if set(orphan).is_some() {
                    return Err(error(
                        orphan,
                        "is set but NOTIFY_WEBHOOK_URL is not; set the URL or unset this",
                    ));
                }
            }
            return Ok(None);
        };
        let url = url
            .parse::<WebhookUrl>()
            .map_err(|e| error("NOTIFY_WEBHOOK_URL", e))?;
        let format = set("NOTIFY_FORMAT")
            .ok_or_else(|| {
                error(
                    "NOTIFY_FORMAT",
                    "is required with NOTIFY_WEBHOOK_URL: \"dingtalk\", \"lark\" or \"slack\"",
                )
            })?
            .parse::<Format>()
            .map_err(|e| error("NOTIFY_FORMAT", e))?;
        let secret = set("NOTIFY_WEBHOOK_SECRET").map(Secret::new);
        if format == Format::Slack && secret.is_some() {
            return Err(error(
                "NOTIFY_WEBHOOK_SECRET",
                "Slack incoming webhooks are not signed; unset it (the URL is the secret)",
            ));
        }
        Ok(Some(NotifyConfig {
            url,
            secret,
            format,
            dry_run,
        }))
    }
}

/// How the notification of an invocation went: the report's `notification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// `format`: the platform posted to.
    pub format: Format,
    /// `delivered`: whether the platform accepted the message.
    pub delivered: bool,
    /// `attempts`: posts made (retries included).
    pub attempts: u32,
    /// `note`: why it was not delivered, in words (never the URL or the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What one post's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Delivered,
    /// Too many messages: try again after `retry_after`, if the deadline allows.
    RateLimited {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// A network error, timeout or 5xx: worth a brief retry.
    Transient(String),
    /// The platform refused the message (bad signature, bad request): a retry would not help.
    Refused(String),
}

/// Posts made at most for one message (rate-limit retries included).
const MAX_ATTEMPTS: u32 = 3;
/// The longest one post may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before a retry after a transient failure (doubled each time).
const BACKOFF: Duration = Duration::from_millis(300);
/// Time kept back from the deadline for the answer itself: a notification never makes the
/// invocation late.
const RESERVE: Duration = Duration::from_millis(1_500);
/// A post is not started with less time than this.
const MIN_ATTEMPT: Duration = Duration::from_millis(200);

/// The webhook client of the process: the settings and one HTTP client (no redirects).
pub struct Notifier {
    config: NotifyConfig,
    client: Result<reqwest::Client, String>,
    /// The program's scrubber: the message and the notes go through it, and the URL (which
    /// carries the webhook's token) and the signing secret are registered with it.
    scrubber: Scrubber,
}

impl Notifier {
    /// A notifier for `config`, scrubbing with `scrubber` (with which it registers the URL and
    /// the secret for the process's lifetime). An HTTP client that cannot be built only turns
    /// every send into a note.
    pub fn new(config: NotifyConfig, scrubber: Scrubber) -> Self {
        scrubber.register_secret(config.url.0.as_str(), None);
        if let Some(secret) = &config.secret {
            scrubber.register_secret(secret.expose(), None);
        }
        let mut builder = reqwest::Client::builder()
            // A redirect could carry the signed message (and the token in the URL) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(ATTEMPT_TIMEOUT);
        if config.url.is_plain_http() {
            // As the OpenAPI client: a plain http:// URL is always reached directly.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"));
        Notifier {
            config,
            client,
            scrubber,
        }
    }

    /// The settings.
    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// Whether an invocation in `mode` may notify (a dry run only with `NOTIFY_DRY_RUN=true`).
    pub fn wants(&self, mode: Mode) -> bool {
        mode == Mode::Enforce || self.config.dry_run
    }

    /// Notifies a remediation report when it has something to tell; `None` when it has not (or is
    /// a dry run without `NOTIFY_DRY_RUN`).
    pub async fn remediation(
        &self,
        report: &Report,
        origin: &Origin,
        deadline: Instant,
    ) -> Option<Notification> {
        if !self.wants(report.mode) {
            return None;
        }
        let text = message::remediation(report, origin)?;
        Some(self.send(&text, deadline).await)
    }

    /// Notifies a restore report when it restored or failed.
    pub async fn restore(
        &self,
        report: &RestoreReport,
        origin: &Origin,
        deadline: Instant,
    ) -> Option<Notification> {
        if !self.wants(report.mode) {
            return None;
        }
        let text = message::restore(report, origin)?;
        Some(self.send(&text, deadline).await)
    }

    /// Posts `text` (scrubbed and cut to size), retrying briefly within `deadline`.
    pub async fn send(&self, text: &str, deadline: Instant) -> Notification {
        let format = self.config.format;
        let text = message::bounded(&self.scrubber.scrub(text), format.max_text_bytes());
        let mut attempts = 0;
        let mut rate_limited_once = false;
        let mut backoff = BACKOFF;
        let note = loop {
            let Some(timeout) = time_for_attempt(deadline) else {
                break Some(if attempts == 0 {
                    "not sent: no time left before the invocation's deadline".to_string()
                } else {
                    "no time left before the invocation's deadline to try again".to_string()
                });
            };
            attempts += 1;
            let verdict = self.post(&text, timeout).await;
            let (wait, last) = match verdict {
                Verdict::Delivered => break None,
                Verdict::Refused(why) => break Some(format!("refused: {why}")),
                Verdict::RateLimited {
                    retry_after,
                    detail,
                } => {
                    let wait = retry_after.unwrap_or(backoff);
                    if rate_limited_once || !fits(deadline, wait) {
                        break Some(format!(
                            "rate-limited ({detail}); not retried: the advised delay of {}s does \
                             not fit before the invocation's deadline",
                            wait.as_secs()
                        ));
                    }
                    rate_limited_once = true;
                    (wait, format!("rate-limited ({detail})"))
                }
                Verdict::Transient(why) => {
                    let wait = backoff;
                    backoff *= 2;
                    (wait, why)
                }
            };
            if attempts >= MAX_ATTEMPTS || !fits(deadline, wait) {
                break Some(format!("{last}; gave up after {attempts} attempt(s)"));
            }
            tokio::time::sleep(wait).await;
        };
        let notification = Notification {
            format,
            delivered: note.is_none(),
            attempts,
            note: note.map(|n| self.scrubber.scrub(&n).into_owned()),
        };
        let webhook = self.config.url.origin();
        match &notification.note {
            None => tracing::info!(
                webhook,
                format = format.as_str(),
                attempts,
                "notification sent"
            ),
            Some(note) => tracing::warn!(
                webhook,
                format = format.as_str(),
                attempts,
                note,
                "notification not delivered"
            ),
        }
        notification
    }

    /// One post and what its answer means.
    async fn post(&self, text: &str, timeout: Duration) -> Verdict {
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => return Verdict::Refused(e.clone()),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secret = self.config.secret.as_ref().map(Secret::expose);
        let webhook = &self.config.url.0;
        let (url, body) = match self.config.format {
            Format::DingTalk => (
                dingtalk::url(webhook, secret, now.as_millis()),
                dingtalk::body(text),
            ),
            Format::Lark => (webhook.clone(), lark::body(text, secret, now.as_secs())),
            Format::Slack => (webhook.clone(), slack::body(text)),
        };
        let request = client
            .post(url)
            .timeout(timeout)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body.to_string());
        let response = match request.send().await {
            Ok(r) => r,
            // The error's text would name the URL: say only what kind of failure it was.
            Err(e) if e.is_timeout() => {
                return Verdict::Transient(format!("no answer within {}s", timeout.as_secs_f32()))
            }
            Err(e) if e.is_connect() => return Verdict::Transient("cannot connect".into()),
            Err(_) => return Verdict::Transient("the request failed".into()),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                return Verdict::Transient(format!("no answer within {}s", timeout.as_secs_f32()))
            }
            Err(_) => return Verdict::Transient("the answer was cut off".into()),
        };
        if status.as_u16() == 429 {
            return Verdict::RateLimited {
                retry_after,
                detail: "HTTP 429".into(),
            };
        }
        if status.is_server_error() {
            return Verdict::Transient(format!("HTTP {}", status.as_u16()));
        }
        if !status.is_success() {
            return Verdict::Refused(format!("HTTP {}", status.as_u16()));
        }
        match self.config.format {
            Format::DingTalk => dingtalk::verdict(&body),
            Format::Lark => lark::verdict(&body),
            Format::Slack => Verdict::Delivered,
        }
    }
}

/// The timeout of a post started now, or `None` when there is no time for one.
fn time_for_attempt(deadline: Instant) -> Option<Duration> {
    let left = deadline
        .checked_duration_since(Instant::now())?
        .checked_sub(RESERVE)?;
    (left >= MIN_ATTEMPT).then(|| left.min(ATTEMPT_TIMEOUT))
}

/// Whether waiting `wait` still leaves time for a post before `deadline`.
fn fits(deadline: Instant, wait: Duration) -> bool {
    Instant::now()
        .checked_add(wait + MIN_ATTEMPT + RESERVE)
        .is_some_and(|t| t <= deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Option<NotifyConfig>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NotifyConfig::from_lookup(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn without_a_url_there_is_no_notification() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&[("NOTIFY_WEBHOOK_URL", "")]), Ok(None));
    }

    #[test]
    fn a_url_with_its_format_and_secret_is_parsed() {
        let c = parse(&[
            (
                "NOTIFY_WEBHOOK_URL",
                "https://oapi.dingtalk.com/robot/send?access_token=abc",
            ),
            ("NOTIFY_FORMAT", "dingtalk"),
            ("NOTIFY_WEBHOOK_SECRET", "SECparse-test-secret-1234"),
            ("NOTIFY_DRY_RUN", "true"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.format, Format::DingTalk);
        assert!(c.dry_run);
        assert_eq!(c.secret.unwrap().expose(), "SECparse-test-secret-1234");
        assert_eq!(c.url.origin(), "https://oapi.dingtalk.com");
    }

    #[test]
    fn an_internationalised_host_is_taken_in_its_ascii_form() {
        let url: WebhookUrl = "https://xn--bcher-kva.example/hook?token=t"
            .parse()
            .unwrap();
        assert_eq!(url.origin(), "https://xn--bcher-kva.example");
    }

    #[test]
    fn an_internationalised_host_outside_ascii_is_refused_with_the_form_to_use() {
        let e = "https://bücher.example/hook?token=t"
            .parse::<WebhookUrl>()
            .unwrap_err();
        assert!(e.contains("ASCII (xn--) form"), "{e}");
        assert!(!e.contains("token"), "{e}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let url = (
            "NOTIFY_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/x",
        );
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[url], "NOTIFY_FORMAT"),
            (&[url, ("NOTIFY_FORMAT", "teams")], "NOTIFY_FORMAT"),
            (
                &[
                    url,
                    ("NOTIFY_FORMAT", "slack"),
                    ("NOTIFY_WEBHOOK_SECRET", "s"),
                ],
                "NOTIFY_WEBHOOK_SECRET",
            ),
            (
                &[
                    ("NOTIFY_WEBHOOK_URL", "ftp://x/y"),
                    ("NOTIFY_FORMAT", "slack"),
                ],
                "NOTIFY_WEBHOOK_URL",
            ),
            (
                &[
                    ("NOTIFY_WEBHOOK_URL", "not a url"),
                    ("NOTIFY_FORMAT", "slack"),
                ],
                "NOTIFY_WEBHOOK_URL",
            ),
            (&[("NOTIFY_FORMAT", "slack")], "NOTIFY_FORMAT"),
            (
                &[url, ("NOTIFY_FORMAT", "slack"), ("NOTIFY_DRY_RUN", "yes")],
                "NOTIFY_DRY_RUN",
            ),
        ];
        for (vars, variable) in cases {
            let e = parse(vars).expect_err("refused");
            assert_eq!(e.variable, variable, "{vars:?}: {e}");
        }
    }

    #[test]
    fn an_error_and_the_debug_form_never_show_the_token() {
        let e = parse(&[
            ("NOTIFY_WEBHOOK_URL", "gopher://host/secret-token-path"),
            ("NOTIFY_FORMAT", "slack"),
        ])
        .unwrap_err();
        assert!(!e.to_string().contains("secret-token-path"), "{e}");
        let c = parse(&[
            (
                "NOTIFY_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/tokenvalue99",
            ),
            ("NOTIFY_FORMAT", "slack"),
        ])
        .unwrap()
        .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("tokenvalue99"), "{printed}");
        assert!(printed.contains("https://hooks.slack.com"), "{printed}");
    }

    #[test]
    fn a_dry_run_notifies_only_when_asked_to() {
        let mut c = parse(&[
            (
                "NOTIFY_WEBHOOK_URL",
                "https://hooks.slack.com/services/T/B/x",
            ),
            ("NOTIFY_FORMAT", "slack"),
        ])
        .unwrap()
        .unwrap();
        assert!(Notifier::new(c.clone(), Scrubber::new()).wants(Mode::Enforce));
        assert!(!Notifier::new(c.clone(), Scrubber::new()).wants(Mode::DryRun));
        c.dry_run = true;
        assert!(Notifier::new(c, Scrubber::new()).wants(Mode::DryRun));
    }

    #[test]
    fn no_post_is_started_without_time_before_the_deadline() {
        assert_eq!(time_for_attempt(Instant::now()), None);
        assert_eq!(
            time_for_attempt(Instant::now() + Duration::from_secs(60)),
            Some(ATTEMPT_TIMEOUT)
        );
        assert!(!fits(
            Instant::now() + Duration::from_secs(5),
            Duration::from_secs(600)
        ));
    }
}

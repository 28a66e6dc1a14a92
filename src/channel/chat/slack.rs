//! Slack, through the Web API (`chat.postMessage` with a bot token; updates
//! reply in the first contact's thread) or through incoming webhooks (one URL
//! per channel; no threads).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::chat::slack::SlackChannel;
//!
//! // Web API: targets are channel ids ("C0123ABCD"). Needs the chat:write scope.
//! let slack = SlackChannel::web_api("xoxb-your-bot-token")
//!     .reply_broadcast(true) // updates also appear in the channel, not only in the thread
//!     .keep_first_message_current(true) // the first message is edited to the latest text
//!     .build()?;
//!
//! // Incoming webhooks: targets are the names you give each webhook URL.
//! let hooks = SlackChannel::incoming_webhooks()
//!     .webhook("incidents", "https://hooks.slack.com/services/T000/B000/XXXX")
//!     .build()?;
//! # let _ = (slack, hooks); Ok(()) }
//! ```
//!
//! Text is Slack `mrkdwn`: user text has `&`, `<` and `>` escaped (so it cannot
//! mention `<!channel>` or smuggle `<url|links>`), and the link to the status page
//! is rendered as `<url|View status page>`. Default rate: one message per second
//! per channel, Slack's posting limit.
//!
//! Errors: HTTP 429 and `ratelimited` are rate limits (with `Retry-After`); 5xx,
//! `internal_error`, `fatal_error`, `service_unavailable` and
//! `request_timeout` are transient; `channel_not_found`, `not_in_channel`,
//! `is_archived` mean the target is invalid; auth errors (`invalid_auth`,
//! `not_authed`, `token_revoked`, `account_inactive`, `missing_scope`) are
//! configuration errors; everything else Slack refuses is permanent.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    RateLimitScope, Receipt,
};
use crate::render::markup::slack_mrkdwn;
use crate::render::{Format, Pieces, TextLimit};

/// The Web API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api/";

/// Slack recommends messages under 4,000 characters (it truncates at 40,000).
pub const MAX_TEXT: usize = 4_000;

/// The link label, as rendered: `\n<url|View status page>`.
const LINK_LABEL: &str = "|View status page>";

/// Slack's `mrkdwn`: the text before the link with `&`, `<` and `>` escaped
/// (user text cannot open a link, a mention or a broadcast), then the link as
/// `<url|View status page>` on its own line. The channel's limit
/// ([`MAX_TEXT`] characters) is measured on this, exactly.
#[derive(Debug, Clone, Copy, Default)]
pub struct SlackFormat;

impl Format for SlackFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        // `&`, `<`, `>` and `|` would break out of `<url|label>`.
        let url = slack_mrkdwn(pieces.link).replace('|', "%7C");
        format!(
            "{}\n<{url}{LINK_LABEL}",
            slack_mrkdwn(&pieces.text_before_link())
        )
    }
}

enum Mode {
    WebApi { base: Url, token: String },
    Webhooks { hooks: Named<Url> },
}

/// Posts to Slack. See the [module docs](self).
pub struct SlackChannel {
    mode: Mode,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
    reply_broadcast: bool,
    keep_first_current: bool,
}

impl fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SlackChannel");
        match &self.mode {
            Mode::WebApi { base, .. } => d
                .field("mode", &"web_api")
                .field("base", &base.as_str())
                .field("token", &"<redacted>"),
            Mode::Webhooks { hooks } => d
                .field("mode", &"incoming_webhooks")
                .field("webhooks", hooks),
        };
        d.field("reply_broadcast", &self.reply_broadcast)
            .field("keep_first_message_current", &self.keep_first_current)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SlackChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct SlackChannelBuilder {
    token: Option<String>,
    base: String,
    webhooks: Vec<(String, String)>,
    http: HttpOptions,
    per_target_rate: RateLimit,
    reply_broadcast: bool,
    keep_first_current: bool,
}

impl fmt::Debug for SlackChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackChannelBuilder")
            .field("web_api", &self.token.is_some())
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.0).collect::<Vec<_>>(),
            )
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl SlackChannel {
    /// The Web API with a bot token (`xoxb-…`, scope `chat:write`). Targets are
    /// channel ids; updates thread under the first contact.
    pub fn web_api(token: impl Into<String>) -> SlackChannelBuilder {
        SlackChannelBuilder::new(Some(token.into()))
    }

    /// Incoming webhooks. Targets are the names given to each URL with
    /// [`SlackChannelBuilder::webhook`]; messages do not thread.
    pub fn incoming_webhooks() -> SlackChannelBuilder {
        SlackChannelBuilder::new(None)
    }
}

impl SlackChannelBuilder {
    fn new(token: Option<String>) -> Self {
        Self {
            token,
            base: DEFAULT_BASE_URL.to_owned(),
            webhooks: Vec::new(),
            http: HttpOptions::new(),
            per_target_rate: RateLimit::per_second(NonZeroU32::MIN),
            reply_broadcast: false,
            keep_first_current: false,
        }
    }

    /// The Web API base URL (default [`DEFAULT_BASE_URL`]; tests point it at a
    /// local server).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// Adds an incoming webhook: the route target `name` posts to `url`.
    pub fn webhook(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.webhooks.push((name.into(), url.into()));
        self
    }

    /// Web API: thread replies are also shown in the channel.
    pub fn reply_broadcast(mut self, yes: bool) -> Self {
        self.reply_broadcast = yes;
        self
    }

    /// Web API: after each threaded update, the first message is edited
    /// (`chat.update`) to the latest text, so the channel shows the current
    /// state. A failed edit is logged; the update itself was delivered.
    pub fn keep_first_message_current(mut self, yes: bool) -> Self {
        self.keep_first_current = yes;
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Messages to each route target, a Slack channel (Web API) or a
    /// webhook (default one per second, Slack's posting limit).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = rate;
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<SlackChannel, BuildError> {
        let web_api = self.token.is_some();
        if !web_api && (self.reply_broadcast || self.keep_first_current) {
            return Err(BuildError::setting(
                "Slack reply_broadcast / keep_first_message_current",
                "they need the Web API; webhooks cannot thread",
            ));
        }
        let mode = match self.token {
            Some(token) => {
                if !self.webhooks.is_empty() {
                    return Err(BuildError::setting(
                        "Slack webhook",
                        "a Slack channel is either Web API or webhooks, not both",
                    ));
                }
                if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(BuildError::credential(
                        "Slack token",
                        "it is empty or has spaces or control characters",
                    ));
                }
                let mut base = self.base.clone();
                if !base.ends_with('/') {
                    base.push('/');
                }
                let base = http::url_setting(&base, false, "Slack base URL")?;
                Mode::WebApi { base, token }
            }
            None => {
                let hooks = Named::build("Slack webhook", self.webhooks, |label, url: String| {
                    http::url_setting(&url, false, label)
                })?;
                Mode::Webhooks { hooks }
            }
        };
        let mut limits = ChannelLimits::new()
            // Rate limits are per webhook / per chat channel.
            .with_rate_limit_scope(RateLimitScope::Target)
            .with_text(TextLimit::chars(MAX_TEXT))
            .with_per_target_rate(self.per_target_rate);
        if web_api {
            limits = limits.threaded();
        }
        let client = http::client(&self.http)?;
        Ok(SlackChannel {
            mode,
            client,
            timeout: self.http.request_timeout(),
            limits,
            reply_broadcast: self.reply_broadcast,
            keep_first_current: self.keep_first_current,
        })
    }
}

#[derive(Serialize)]
struct PostMessage<'a> {
    channel: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    reply_broadcast: bool,
}

#[derive(Serialize)]
struct UpdateMessage<'a> {
    channel: &'a str,
    ts: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct WebhookMessage<'a> {
    text: &'a str,
}

#[derive(Deserialize)]
struct ApiAnswer {
    ok: bool,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Maps a Web API `error` code (answered with HTTP 200 and `"ok": false`).
fn map_api_error(code: &str, target: &str) -> ChannelError {
    match code {
        // Slack's own rate limit, when it answers 200 instead of 429.
        "ratelimited" | "rate_limited" => ChannelError::RateLimited { retry_after: None },
        // Slack-side failures: "the server could not complete your operation".
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ChannelError::Transient {
                reason: format!("Slack answered {code}"),
                status: Some(200),
                retry_after: None,
            }
        }
        // The channel does not exist, the bot is not in it, or it is archived.
        "channel_not_found" | "not_in_channel" | "is_archived" => ChannelError::InvalidTarget {
            target: target.to_owned(),
            reason: format!("Slack answered {code}"),
        },
        // The token is wrong, revoked or lacks chat:write.
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked" | "token_expired"
        | "missing_scope" | "no_permission" => ChannelError::Config {
            reason: format!("Slack refused the token: {code}"),
        },
        // msg_too_long, no_text, invalid_blocks, …: this message will never pass.
        other => ChannelError::Rejected {
            reason: format!("Slack answered {}", sanitize(other)),
            status: Some(200),
        },
    }
}

/// Maps an incoming webhook's error answer (status and plain-text body).
fn map_webhook_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    target: &str,
) -> ChannelError {
    let code = body.trim();
    match (status.as_u16(), code) {
        (429, _) | (_, "ratelimited") => {
            http::error_for_status(StatusCode::TOO_MANY_REQUESTS, headers)
        }
        // 404 channel_not_found; 410 channel_is_archived.
        (_, "channel_not_found" | "channel_is_archived") => ChannelError::InvalidTarget {
            target: target.to_owned(),
            reason: format!("Slack answered {code}"),
        },
        // The webhook was revoked or its app removed.
        (_, "no_service" | "no_team" | "invalid_token" | "action_prohibited") => {
            ChannelError::Config {
                reason: format!("Slack refused the webhook: {code}"),
            }
        }
        (500..=599, _) => ChannelError::Transient {
            reason: format!("Slack answered {status} {}", sanitize(code)),
            status: Some(status.as_u16()),
            retry_after: http::retry_after(headers, std::time::SystemTime::now()),
        },
        _ => ChannelError::Rejected {
            reason: format!("Slack answered {status} {}", sanitize(code)),
            status: Some(status.as_u16()),
        },
    }
}

/// Slack error codes are short snake_case words; anything else is cut.
fn sanitize(code: &str) -> String {
    code.chars()
        .take(64)
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

impl SlackChannel {
    async fn api_call(
        &self,
        base: &Url,
        token: &str,
        method: &str,
        body: &impl Serialize,
        target: &str,
    ) -> Result<ApiAnswer, ChannelError> {
        let url = base.join(method).map_err(|e| ChannelError::Config {
            reason: format!("Slack base URL: {e}"),
        })?;
        let request = self
            .client
            .post(url.clone())
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .json(body);
        let response = http::send(request, &url, self.timeout).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(http::error_for_status(status, response.headers()));
        }
        let text = http::body_text(response).await;
        let answer: ApiAnswer =
            serde_json::from_str(&text).map_err(|_| ChannelError::Transient {
                reason: "Slack answered with something other than its JSON".into(),
                status: Some(status.as_u16()),
                retry_after: None,
            })?;
        if answer.ok {
            Ok(answer)
        } else {
            Err(map_api_error(
                answer.error.as_deref().unwrap_or("unknown_error"),
                target,
            ))
        }
    }

    async fn send_web_api(
        &self,
        base: &Url,
        token: &str,
        delivery: &Delivery,
    ) -> Result<Receipt, ChannelError> {
        let channel = delivery.target.as_str();
        if channel.chars().any(char::is_whitespace) {
            return Err(ChannelError::InvalidTarget {
                target: channel.to_owned(),
                reason: "a Slack channel id has no spaces".into(),
            });
        }
        let text = &*delivery.text;
        let thread_ts = delivery.thread.as_ref().map(|t| t.root.as_str());
        let body = PostMessage {
            channel,
            text,
            thread_ts,
            reply_broadcast: thread_ts.is_some() && self.reply_broadcast,
        };
        let answer = self
            .api_call(base, token, "chat.postMessage", &body, channel)
            .await?;
        let Some(ts) = answer.ts else {
            return Err(ChannelError::Transient {
                reason: "Slack accepted the message but returned no ts".into(),
                status: Some(200),
                retry_after: None,
            });
        };
        if let (true, Some(root)) = (self.keep_first_current, thread_ts) {
            let edit = UpdateMessage {
                channel,
                ts: root,
                text,
            };
            if let Err(e) = self
                .api_call(base, token, "chat.update", &edit, channel)
                .await
            {
                tracing::warn!(key = %delivery.key, error = %e, "could not edit the first Slack message");
            }
        }
        Ok(Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(ts))
            .with_status(200))
    }

    async fn send_webhook(
        &self,
        hooks: &Named<Url>,
        delivery: &Delivery,
    ) -> Result<Receipt, ChannelError> {
        let name = delivery.target.as_str();
        let url = hooks.get(&delivery.target)?;
        let text = &*delivery.text;
        let request = self.client.post(url.clone()).json(&WebhookMessage { text });
        let response = http::send(request, url, self.timeout).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(Receipt::new(crate::clock::now()).with_status(status.as_u16()));
        }
        let headers = response.headers().clone();
        let body = http::body_text(response).await;
        Err(map_webhook_error(status, &headers, &body, name))
    }
}

#[async_trait]
impl Channel for SlackChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("slack")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &SlackFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        match &self.mode {
            Mode::WebApi { base, token } => self.send_web_api(base, token, delivery).await,
            Mode::Webhooks { hooks } => self.send_webhook(hooks, delivery).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_map_to_what_to_do_next() {
        // Recorded `error` values from Slack's chat.postMessage documentation.
        assert!(matches!(
            map_api_error("channel_not_found", "C1"),
            ChannelError::InvalidTarget { .. }
        ));
        assert!(matches!(
            map_api_error("not_in_channel", "C1"),
            ChannelError::InvalidTarget { .. }
        ));
        assert!(matches!(
            map_api_error("invalid_auth", "C1"),
            ChannelError::Config { .. }
        ));
        assert!(matches!(
            map_api_error("ratelimited", "C1"),
            ChannelError::RateLimited { .. }
        ));
        assert!(map_api_error("internal_error", "C1").is_retryable());
        assert!(map_api_error("fatal_error", "C1").is_retryable());
        let e = map_api_error("msg_too_long", "C1");
        assert!(!e.is_retryable() && e.to_string().contains("msg_too_long"));
        assert!(!map_api_error("<script>", "C1").to_string().contains('<'));
    }

    #[test]
    fn webhook_errors_map_to_what_to_do_next() {
        let h = reqwest::header::HeaderMap::new();
        let e = |status: u16, body: &str| {
            map_webhook_error(StatusCode::from_u16(status).unwrap(), &h, body, "hook")
        };
        assert!(matches!(
            e(400, "invalid_payload"),
            ChannelError::Rejected { .. }
        ));
        assert!(matches!(
            e(403, "action_prohibited"),
            ChannelError::Config { .. }
        ));
        assert!(matches!(
            e(404, "channel_not_found"),
            ChannelError::InvalidTarget { .. }
        ));
        assert!(matches!(
            e(410, "channel_is_archived"),
            ChannelError::InvalidTarget { .. }
        ));
        assert!(matches!(e(404, "no_service"), ChannelError::Config { .. }));
        assert!(e(500, "rollup_error").is_retryable());
        assert!(matches!(e(429, ""), ChannelError::RateLimited { .. }));
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        assert!(matches!(
            SlackChannel::web_api("").build().unwrap_err(),
            BuildError::InvalidCredential { .. }
        ));
        assert!(SlackChannel::web_api("xoxb bad").build().is_err());
        assert!(matches!(
            SlackChannel::web_api("xoxb-1")
                .base_url("ftp://slack.example.com/api/")
                .build()
                .unwrap_err(),
            BuildError::InvalidUrl { .. }
        ));
        assert!(matches!(
            SlackChannel::web_api("xoxb-1")
                .http(HttpOptions::new().timeout(Duration::ZERO))
                .build()
                .unwrap_err(),
            BuildError::InvalidSetting { .. }
        ));
        assert_eq!(
            SlackChannel::incoming_webhooks().build().unwrap_err(),
            BuildError::NoEndpoint {
                endpoint: "Slack webhook"
            }
        );
        assert!(
            SlackChannel::incoming_webhooks()
                .reply_broadcast(true)
                .webhook("a", "https://hooks.slack.com/x")
                .build()
                .is_err()
        );
        let err = SlackChannel::incoming_webhooks()
            .webhook("a", "http://hooks.slack.com/services/T/B/SECRET")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        let ch = SlackChannel::web_api("xoxb-SECRET").build().unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        let ch = SlackChannel::incoming_webhooks()
            .webhook("a", "https://hooks.slack.com/services/T/B/SECRET")
            .build()
            .unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!ch.limits().threads);
    }
}

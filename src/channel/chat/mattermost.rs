//! Mattermost, through incoming webhooks: each target is the name of a
//! webhook URL, optionally posting to another channel or under another name.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::chat::mattermost::{MattermostChannel, MattermostWebhook};
//!
//! // Targets are the names you give each webhook URL (Integrations →
//! // Incoming Webhooks). The URLs are secrets.
//! let mattermost = MattermostChannel::builder()
//!     .webhook("incidents", "https://chat.example.com/hooks/xxxgeneratedkeyxxx")
//!     .webhook(
//!         "ops",
//!         MattermostWebhook::new("https://chat.example.com/hooks/xxxgeneratedkeyxxx")
//!             .channel("ops-incidents") // unless the webhook is locked to its channel
//!             .username("Status"),      // if the server allows integrations to override it
//!     )
//!     .build()?;
//! # let _ = mattermost; Ok(()) }
//! ```
//!
//! Each message is `POST https://<server>/hooks/<key>` with
//! `{"text": …}` (plus `channel` and `username` when configured); Mattermost
//! answers `200 ok`. Incoming webhooks return no post id and cannot reply in a
//! thread, so the channel does not thread.
//!
//! Text is Mattermost Markdown, laid out by [`MattermostFormat`]: user text
//! is escaped with [`markdown`] (no formatting, links or
//! `@channel`/`@all`/`@here` mentions) and, because Mattermost rewrites
//! Slack's `<!channel>` into `@channel` in webhook text, `<!` is broken up as
//! well. The link to the status page is a masked link, `[View status
//! page](url)`. The channel's limit is 16,383 characters (Mattermost 5.0+;
//! older servers take 4,000: see
//! [`max_text`](MattermostChannelBuilder::max_text)), measured on exactly the
//! `text` sent, in Unicode scalar values: the server counts runes
//! (`utf8.RuneCountInString`) both when it validates a post and when it
//! splits longer webhook text into several posts. The 16,383 default is the
//! server's `PostMessageMaxRunesV2`; a server whose database column is wider
//! or narrower may take another length (see `max_text`).
//!
//! Rate: Mattermost's rate limiting is per client address on the server
//! (when enabled; 10 requests per second by default), so the default limit
//! is 10 messages per second for the whole channel. A 429 is a rate limit
//! with `Retry-After` (else `X-Ratelimit-Reset`).
//!
//! Errors: 5xx are transient, except 501 (incoming
//! webhooks disabled on the server), which is a configuration error; an
//! unknown webhook key, a missing channel or user are invalid targets; a
//! channel override on a locked webhook and missing permissions are
//! configuration errors; other 4xx are permanent rejections.

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, RateLimit, Receipt,
};
use crate::render::markup::markdown;
use crate::render::{Format, Pieces, TextLimit};

/// The longest post of Mattermost 5.0 and later, in characters (Unicode
/// scalar values); Mattermost splits longer webhook text into several posts.
pub const MAX_TEXT: usize = 16_383;

/// The default rate for the whole channel: Mattermost's default
/// (`RateLimitSettings.PerSec`).
const DEFAULT_PER_SECOND: NonZeroU32 = match NonZeroU32::new(10) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// The link, as rendered after the text: `\n[View status page](url)`.
const LINK_OPEN: &str = "[View status page](";

/// Escapes user text for a Mattermost webhook: Markdown escaping, and a
/// zero-width space in `<!`, so Mattermost's Slack compatibility cannot turn
/// `<!channel>`, `<!here>` or `<!all>` into a mention.
fn escape(text: &str) -> String {
    markdown(text).replace("\\<!", "\\<\u{200B}!")
}

/// Mattermost Markdown: the text before the link (title, body, part number,
/// next-update line) escaped with [`markdown`], so that it can neither
/// format, link nor mention, and with `<!` broken up by a zero-width space so
/// that Mattermost's Slack compatibility cannot read `<!channel>` as a
/// mention; then the link on its own line as a masked link, `[View status
/// page](url)`, with `(` and `)` in the URL percent-encoded so that they
/// cannot end it early. The channel's limit (16,383 characters by default)
/// is measured on this, exactly: it is the `text` sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MattermostFormat;

impl Format for MattermostFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let text = escape(pieces.text_before_link().trim_end());
        // A parsed URL has no spaces or `<>`; `(` and `)` would end the link
        // early.
        let url = pieces.link.replace('(', "%28").replace(')', "%29");
        if text.is_empty() {
            format!("{LINK_OPEN}{url})")
        } else {
            format!("{text}\n{LINK_OPEN}{url})")
        }
    }
}

/// One Mattermost incoming webhook: its URL (a secret: anyone with it can
/// post), and optionally a channel and a username to post as.
#[must_use]
#[derive(Clone)]
pub struct MattermostWebhook {
    url: String,
    channel: Option<String>,
    username: Option<String>,
}

impl MattermostWebhook {
    /// A webhook URL, `https://<server>/hooks/<key>`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            channel: None,
            username: None,
        }
    }

    /// Posts to this channel (its name, as in its URL, e.g. `town-square`, or
    /// `@user` for a direct message) instead of the webhook's own. Refused by
    /// Mattermost when the webhook is locked to its channel.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Posts under this name; Mattermost ignores it unless "Enable
    /// integrations to override usernames" is on.
    pub fn username(mut self, name: impl Into<String>) -> Self {
        self.username = Some(name.into());
        self
    }
}

impl From<&str> for MattermostWebhook {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for MattermostWebhook {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl fmt::Debug for MattermostWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MattermostWebhook")
            .field("url", &"<redacted>")
            .field("channel", &self.channel)
            .field("username", &self.username)
            .finish()
    }
}

/// A configured webhook, checked.
struct Hook {
    url: Url,
    channel: Option<String>,
    username: Option<String>,
}

/// Posts to Mattermost incoming webhooks. See the [module docs](self).
pub struct MattermostChannel {
    hooks: Named<Hook>,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for MattermostChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MattermostChannel")
            .field("webhooks", &self.hooks)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MattermostChannel`]; every check happens in
/// [`build`](Self::build).
#[must_use]
pub struct MattermostChannelBuilder {
    webhooks: Vec<(String, MattermostWebhook)>,
    http: HttpOptions,
    rate: RateLimit,
    max_text: usize,
}

impl fmt::Debug for MattermostChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MattermostChannelBuilder")
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.0).collect::<Vec<_>>(),
            )
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl MattermostChannel {
    /// A builder; add at least one
    /// [`webhook`](MattermostChannelBuilder::webhook).
    pub fn builder() -> MattermostChannelBuilder {
        MattermostChannelBuilder {
            webhooks: Vec::new(),
            http: HttpOptions::new(),
            rate: RateLimit::per_second(DEFAULT_PER_SECOND),
            max_text: MAX_TEXT,
        }
    }
}

impl MattermostChannelBuilder {
    /// Adds a webhook: the route target `name` posts to it. Takes a URL or a
    /// [`MattermostWebhook`] with a channel or username.
    pub fn webhook(
        mut self,
        name: impl Into<String>,
        webhook: impl Into<MattermostWebhook>,
    ) -> Self {
        self.webhooks.push((name.into(), webhook.into()));
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Messages for the whole channel (default 10 per second, Mattermost's
    /// default per client address).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// The longest text, in characters (default [`MAX_TEXT`]; 4,000 for
    /// servers before 5.0). At least 100.
    pub fn max_text(mut self, max: usize) -> Self {
        self.max_text = max;
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<MattermostChannel, BuildError> {
        if self.max_text < 100 {
            return Err(BuildError::setting(
                "Mattermost max_text",
                "it must be at least 100",
            ));
        }
        let hooks = Named::build("Mattermost webhook", self.webhooks, check_webhook)?;
        let limits = ChannelLimits::new()
            // Runes, as the server counts, on the text exactly as sent.
            .with_text(TextLimit::chars(self.max_text))
            .with_rate(self.rate);
        let client = http::client(&self.http)?;
        Ok(MattermostChannel {
            hooks,
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

/// Checks one webhook, `label` in errors; they never contain the URL.
fn check_webhook(label: &str, hook: MattermostWebhook) -> Result<Hook, BuildError> {
    let url = http::url_setting(&hook.url, false, label)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BuildError::url(
            label,
            "the URL must have no query or fragment",
        ));
    }
    if let Some(channel) = &hook.channel
        && (channel.is_empty() || channel.len() > 65 || channel.chars().any(char::is_whitespace))
    {
        return Err(BuildError::setting(
            format!("{label} channel override"),
            format!("{channel:?} must be a channel name without spaces"),
        ));
    }
    if let Some(name) = &hook.username
        && (name.trim().is_empty()
            || name.chars().count() > 64
            || name.chars().any(char::is_control))
    {
        return Err(BuildError::setting(
            format!("{label} username"),
            "it must be 1 to 64 characters, not blank",
        ));
    }
    Ok(Hook {
        url,
        channel: hook.channel,
        username: hook.username,
    })
}

#[derive(Serialize)]
struct WebhookPost<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
}

/// Mattermost's error body (an `AppError`): only its `id` is read. Its
/// `message` can name users or channels and `detailed_error` server
/// internals; neither is kept.
#[derive(Deserialize, Default)]
struct AppError {
    #[serde(default)]
    id: Option<String>,
}

/// Maps Mattermost's answer to a failed webhook post (its status, headers and
/// body) to what to do next. Only the error `id` of the JSON body is read,
/// sanitized; the body is never copied into the error.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str, target: &str) -> ChannelError {
    let id = serde_json::from_str::<AppError>(body)
        .ok()
        .and_then(|e| e.id)
        .map(|id| sanitize(&id))
        .unwrap_or_default();
    let code = status.as_u16();
    let answer = if id.is_empty() {
        format!("Mattermost answered {status}")
    } else {
        format!("Mattermost answered {code} {id}")
    };
    let invalid = |reason: &str| ChannelError::InvalidTarget {
        target: target.to_owned(),
        reason: format!("{answer}: {reason}"),
    };
    let config = |reason: &str| ChannelError::Config {
        reason: format!("{answer} for webhook {target:?}: {reason}"),
    };
    match (code, id.as_str()) {
        // The rate limiter (when enabled) answers 429 with `Retry-After` and
        // `X-Ratelimit-Reset`, both in seconds.
        (429, _) => ChannelError::RateLimited {
            retry_after: http::retry_after(headers, SystemTime::now()).or_else(|| {
                headers
                    .get("x-ratelimit-reset")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .filter(|s| *s <= 86_400)
                    .map(Duration::from_secs)
            }),
        },
        // 501 `web.incoming_webhook.disabled.app_error`: an admin turned
        // incoming webhooks off. Not a server failure: retrying cannot help.
        (_, "web.incoming_webhook.disabled.app_error") | (501, _) => {
            config("incoming webhooks are disabled on this server")
        }
        // Other 5xx (including store failures looking up the channel): retry.
        (408 | 500..=599, _) => http::error_for_status(status, headers),
        // 400 `web.incoming_webhook.invalid.app_error`: no webhook has this
        // key (deleted, or a wrong URL).
        (_, "web.incoming_webhook.invalid.app_error") => {
            invalid("no such webhook (deleted, or a wrong URL)")
        }
        // 404 `web.incoming_webhook.channel.app_error` (the channel override
        // does not exist) or `app.channel.get.existing.app_error` (the
        // webhook's channel was deleted).
        (_, "web.incoming_webhook.channel.app_error" | "app.channel.get.existing.app_error") => {
            invalid("the channel does not exist")
        }
        // 400 `web.incoming_webhook.user.app_error`: the `@user` of a direct
        // message does not exist. (With 403, the webhook's owner is gone.)
        (400, "web.incoming_webhook.user.app_error") => invalid("the user does not exist"),
        (_, "web.incoming_webhook.user.app_error") => {
            config("the webhook's owner no longer exists; create the webhook again")
        }
        // 403 `web.incoming_webhook.channel_locked.app_error`: the webhook may
        // only post to its own channel; remove the channel override.
        (_, "web.incoming_webhook.channel_locked.app_error") => {
            config("the webhook is locked to its channel; remove the channel override")
        }
        // 403 `web.incoming_webhook.permissions.app_error`: the webhook's
        // owner cannot read the (private) channel.
        (_, "web.incoming_webhook.permissions.app_error") => {
            config("the webhook's owner may not post in this channel")
        }
        // 401/403 without a known id: a proxy or the server refuses us.
        (401 | 403, _) => config("access refused"),
        // 404 without a known id: nothing answers at this URL.
        (404, "") => invalid("no webhook at this URL"),
        // 400 `web.incoming_webhook.text.app_error` (no text),
        // `web.incoming_webhook.parse.app_error` (unreadable payload) and
        // other 4xx: this message will never pass.
        (400..=499, _) => ChannelError::Rejected {
            reason: answer,
            status: Some(code),
        },
        // Redirects (not followed) and anything else: the general rules.
        _ => http::error_for_status(status, headers),
    }
}

/// Mattermost error ids are dotted snake_case words; anything else is cut.
fn sanitize(id: &str) -> String {
    id.chars()
        .take(80)
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect()
}

#[async_trait]
impl Channel for MattermostChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("mattermost")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &MattermostFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let name = delivery.target.as_str();
        let hook = self.hooks.get(&delivery.target)?;
        let body = WebhookPost {
            text: &delivery.text,
            channel: hook.channel.as_deref(),
            username: hook.username.as_deref(),
        };
        let request = self.client.post(hook.url.clone()).json(&body);
        let response = http::send(request, &hook.url, self.timeout).await?;
        let status = response.status();
        if status.is_success() {
            let answer = http::body_text(response).await;
            if answer.trim() != "ok" {
                tracing::warn!(
                    key = %delivery.key,
                    "Mattermost accepted the post but did not answer `ok`"
                );
            }
            return Ok(Receipt::new(crate::clock::now()).with_status(status.as_u16()));
        }
        let headers = response.headers().clone();
        let body = http::body_text(response).await;
        Err(map_error(status, &headers, &body, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn map(status: u16, body: &str) -> ChannelError {
        map_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
            "ops",
        )
    }

    fn app_error(id: &str, message: &str, status: u16) -> String {
        // The shape of Mattermost's AppError, as the server serialises it.
        serde_json::json!({
            "id": id,
            "message": message,
            "detailed_error": "internal detail SECRET-DETAIL",
            "request_id": "x1y2z3",
            "status_code": status,
        })
        .to_string()
    }

    #[test]
    fn failures_map_to_what_to_do_next() {
        let e = map(
            400,
            &app_error(
                "web.incoming_webhook.invalid.app_error",
                "Invalid webhook.",
                400,
            ),
        );
        assert!(matches!(e, ChannelError::InvalidTarget { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("web.incoming_webhook.invalid.app_error")
        );
        let e = map(
            501,
            &app_error(
                "web.incoming_webhook.disabled.app_error",
                "Incoming webhooks have been disabled by the system admin.",
                501,
            ),
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(!e.is_retryable());
        let e = map(
            403,
            &app_error(
                "web.incoming_webhook.channel_locked.app_error",
                "This webhook is not permitted to post to the requested channel.",
                403,
            ),
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        let e = map(
            404,
            &app_error(
                "web.incoming_webhook.channel.app_error",
                "Couldn't find the channel.",
                404,
            ),
        );
        assert!(matches!(e, ChannelError::InvalidTarget { .. }), "{e}");
        let e = map(
            400,
            &app_error(
                "web.incoming_webhook.user.app_error",
                "Couldn't find the user bob.",
                400,
            ),
        );
        assert!(matches!(e, ChannelError::InvalidTarget { .. }), "{e}");
        assert!(
            !e.to_string().contains("bob"),
            "messages are not echoed: {e}"
        );
        let e = map(
            400,
            &app_error(
                "web.incoming_webhook.text.app_error",
                "No text specified.",
                400,
            ),
        );
        assert!(
            matches!(
                e,
                ChannelError::Rejected {
                    status: Some(400),
                    ..
                }
            ),
            "{e}"
        );
        let e = map(
            500,
            &app_error(
                "web.incoming_webhook.channel.app_error",
                "Couldn't find the channel.",
                500,
            ),
        );
        assert!(e.is_retryable(), "{e}");
        assert!(map(502, "<html>Bad Gateway</html>").is_retryable());
        assert!(matches!(
            map(404, "404 page not found"),
            ChannelError::InvalidTarget { .. }
        ));
        assert!(matches!(map(401, ""), ChannelError::Config { .. }));
        for e in [
            map(400, &app_error("x.<script>", "SECRET-DETAIL", 400)),
            map(500, &app_error("a", "b", 500)),
        ] {
            assert!(
                !e.to_string().contains("SECRET-DETAIL") && !e.to_string().contains('<'),
                "{e}"
            );
        }
    }

    #[test]
    fn rate_limits_take_retry_after_then_the_reset_header() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2"));
        let e = map_error(StatusCode::TOO_MANY_REQUESTS, &h, "limit exceeded\n", "ops");
        assert_eq!(
            e,
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        h.insert("retry-after", HeaderValue::from_static("1"));
        let e = map_error(StatusCode::TOO_MANY_REQUESTS, &h, "limit exceeded\n", "ops");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn escaping_defuses_slack_style_mentions() {
        let e = escape("<!channel> <!here> <!all> <@abc123>");
        assert!(!e.contains("<!") && !e.contains("<@abc"), "{e}");
    }

    #[test]
    fn the_format_escapes_the_text_and_masks_the_link() {
        let pieces = Pieces {
            title: "[Identified] <!channel> **x**",
            body: "@all (y)",
            part: None,
            next_update: Some("Next update by 14:30 UTC."),
            link: "https://status.example.com/incidents/(inc)_7",
        };
        let z = '\u{200B}';
        assert_eq!(
            MattermostFormat.layout(&pieces),
            format!(
                "\\[Identified\\] \\<{z}!channel> \\*\\*x\\*\\*\n\n@{z}all (y)\n\nNext update by 14:30 UTC.\n[View status page](https://status.example.com/incidents/%28inc%29_7)"
            )
        );
        let bare = Pieces {
            title: "",
            body: "",
            next_update: None,
            ..pieces
        };
        assert_eq!(
            MattermostFormat.layout(&bare),
            "[View status page](https://status.example.com/incidents/%28inc%29_7)"
        );
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        let url = "https://chat.example.com/hooks/SECRETKEY";
        assert!(MattermostChannel::builder().build().is_err());
        assert!(
            MattermostChannel::builder()
                .webhook("a", url)
                .max_text(10)
                .build()
                .is_err()
        );
        for bad in [
            MattermostWebhook::new(format!("{url}?x=1")),
            MattermostWebhook::new(url).channel("two words"),
            MattermostWebhook::new(url).username(""),
            MattermostWebhook::new("http://chat.example.com/hooks/SECRETKEY"),
        ] {
            let err = MattermostChannel::builder()
                .webhook("a", bad)
                .build()
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    BuildError::InvalidUrl { .. } | BuildError::InvalidSetting { .. }
                ),
                "{err:?}"
            );
            assert!(!err.to_string().contains("SECRETKEY"), "{err}");
        }
        let hook = MattermostWebhook::new(url).channel("ops");
        assert!(!format!("{hook:?}").contains("SECRETKEY"));
        let builder = MattermostChannel::builder().webhook("a", hook);
        assert!(!format!("{builder:?}").contains("SECRETKEY"));
        let ch = builder.max_text(4_000).build().unwrap();
        assert!(!format!("{ch:?}").contains("SECRETKEY"));
        assert!(!ch.limits().threads);
        assert_eq!(ch.limits().text, Some(TextLimit::chars(4_000)));
        assert_eq!(
            ch.limits().rate,
            Some(RateLimit::per_second(DEFAULT_PER_SECOND))
        );
    }
}

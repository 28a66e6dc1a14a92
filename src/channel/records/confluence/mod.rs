//! Confluence Cloud: the postmortem as a page in a space, updated (never
//! duplicated) when it is published again.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::records::confluence::{ConfluenceChannel, ConfluenceSpace};
//!
//! // An Atlassian account's e-mail and an API token (a secret).
//! let token = std::env::var("CONFLUENCE_API_TOKEN").unwrap_or_default();
//! let confluence = ConfluenceChannel::builder("https://acme.atlassian.net", "sre-bot@acme.example", token)
//!     // Route targets name a space: its key, and optionally the page to file under.
//!     .space("postmortems", ConfluenceSpace::new("OPS").parent_page("123456789"))
//!     .build()?;
//! # let _ = confluence; Ok(()) }
//! ```
//!
//! **What is sent.** Only the postmortem: when an update's status is
//! [`Postmortem`](crate::incident::Status::Postmortem), its message (the
//! review's Markdown, with its timeline) becomes the page body, laid out by
//! [`ConfluenceFormat`] in Confluence's storage format (XHTML: Markdown
//! converted with pulldown-cmark, raw HTML shown as text, code in the `code`
//! macro; see [`ConfluenceFormat`]), followed by the link to the status
//! page. The page is titled `Postmortem: <incident title> (<incident id>)`
//! (at most 255 characters; titles are unique in a space). Every other act
//! (first contact, updates, the resolution, maintenance) is **declined**:
//! the send succeeds with a bare receipt and no request is made, as every
//! channel declines an act it has nothing to show for.
//!
//! **Requests** (REST API v2, HTTP Basic authentication with the account's
//! e-mail and API token, all under `<site>/wiki/api/v2/`):
//!
//! 1. `GET spaces?keys=<key>`: the space's id (kept for the channel's
//!    life); no such space (or none the account may see) is an invalid
//!    target.
//! 2. `GET pages?space-id=<id>&title=<title>&status=current&body-format=storage`:
//!    the page published before, if any (only an exact title counts).
//! 3. No page: `POST pages` with `{"spaceId", "status": "current", "title",
//!    "parentId" (if configured), "body": {"representation": "storage",
//!    "value"}}`. A page whose stored body is already this one: nothing
//!    more. Else `PUT pages/<id>` with the same body, the page's `id` and
//!    `"version": {"number": <current + 1>, "message"}` (optimistic
//!    locking: a stale number is refused with 409, and the retry reads the
//!    page again).
//!
//! The receipt's message handle is the page id.
//!
//! **Duplicates.** Because every publish looks the page up by its title
//! first, publishing again (a resend after a lost answer, another replica,
//! a corrected postmortem) updates the one page: the channel declares that
//! it deduplicates ([`ChannelLimits::deduplicates`]).
//!
//! **Errors.** 401 (wrong e-mail or token) and 403 (no permission in the
//! space) are configuration errors; 400 and 413 refuse the page for good,
//! keeping a short, cleaned copy of Confluence's error (`{"errors":[{"status",
//! "code", "title", "detail"}]}` in v2, `{"statusCode", "message"}` in v1),
//! except a 400 saying a page with this title already exists (a page
//! created meanwhile), which is transient, like 409; 404 refuses; 429 is a
//! rate limit with its `Retry-After`; 408 and 5xx are transient.
//!
//! **Facts and their sources.** Atlassian's REST v2 reference
//! (developer.atlassian.com/cloud/confluence/rest/v2, "Page" group: `GET
//! /pages` with `space-id`, `title`, `status` and `body-format`; `POST
//! /pages`; `PUT /pages/{id}` with `version.number`; the page object's
//! `id`, `title`, `version.number`, `body.storage`); the `/wiki` prefix and
//! Basic authentication with e-mail and API token (Atlassian's and
//! third-party guides alike). UNCONFIRMED: whether the `title` filter of `GET
//! /pages` matches exactly or by prefix (the channel keeps only an exact
//! match); `GET /spaces?keys=` answering `{"results": [{"id", "key"}]}`;
//! which XHTML elements storage format refuses (`thead` is avoided;
//! `del` for strikethrough is kept); the exact error text of a duplicate
//! title; whether Confluence sends `Retry-After` with every 429.

mod storage;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{cut, sanitize};
use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::incident::Status;
use crate::render::{Format, Pieces};

/// The longest page title Confluence takes.
pub const MAX_TITLE: usize = 255;

/// The label of the link to the status page, under the postmortem.
const LINK_LABEL: &str = "Status page";

/// The postmortem page's body in Confluence's storage format: the body
/// (Markdown) converted to XHTML, made safe (raw HTML shown as text, only
/// `http`, `https` and `mailto` links, images as links, code blocks in the
/// `code` macro, characters XML forbids dropped), then the part marker and
/// the next-update line, if any, and the link to the status page as
/// `<p>Status page: <a href="…">…</a></p>`. The title is not in the body:
/// it is the page's own title.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfluenceFormat;

impl Format for ConfluenceFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let mut out = storage::to_storage(pieces.body);
        if let Some((index, count)) = pieces.part {
            out.push_str(&format!("<p>({index}/{count})</p>"));
        }
        if let Some(next) = pieces.next_update.filter(|n| !n.trim().is_empty()) {
            out.push_str(&format!("<p>{}</p>", storage::escape(next)));
        }
        let link = storage::escape(pieces.link);
        out.push_str(&format!(
            "<p>{LINK_LABEL}: <a href=\"{link}\">{link}</a></p>"
        ));
        out
    }
}

/// Where postmortems of one route target go: a space, by key, and
/// optionally the page they are filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfluenceSpace {
    key: String,
    parent_page: Option<String>,
}

impl ConfluenceSpace {
    /// The space whose key is `key` (`OPS`; a personal space's `~…`).
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            parent_page: None,
        }
    }

    /// Files new pages under the page with this id (digits), in the same
    /// space.
    #[must_use]
    pub fn parent_page(mut self, id: impl Into<String>) -> Self {
        self.parent_page = Some(id.into());
        self
    }

    /// The space key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Publishes postmortems as Confluence pages. See the [module docs](self).
pub struct ConfluenceChannel {
    site: Url,
    email: String,
    token: String,
    spaces: Named<ConfluenceSpace>,
    /// Space key → space id, once looked up.
    space_ids: Mutex<HashMap<String, String>>,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

/// The site, the account and the spaces; never the token.
impl fmt::Debug for ConfluenceChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceChannel")
            .field("site", &self.site.as_str())
            .field("email", &self.email)
            .field("token", &"<redacted>")
            .field("spaces", &self.spaces)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ConfluenceChannel`]; every check happens in
/// [`build`](Self::build).
#[must_use]
pub struct ConfluenceChannelBuilder {
    site: String,
    email: String,
    token: String,
    spaces: Vec<(String, ConfluenceSpace)>,
    http: HttpOptions,
    rate: Option<RateLimit>,
}

/// Never the token.
impl fmt::Debug for ConfluenceChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceChannelBuilder")
            .field("site", &self.site)
            .field("email", &self.email)
            .field("token", &"<redacted>")
            .field("spaces", &self.spaces)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl ConfluenceChannel {
    /// The Confluence Cloud site (`https://<site>.atlassian.net`; `/wiki`
    /// is added), the account's e-mail and an API token for it (a secret).
    pub fn builder(
        site: impl Into<String>,
        email: impl Into<String>,
        api_token: impl Into<String>,
    ) -> ConfluenceChannelBuilder {
        ConfluenceChannelBuilder {
            site: site.into(),
            email: email.into(),
            token: api_token.into(),
            spaces: Vec::new(),
            http: HttpOptions::new(),
            rate: None,
        }
    }
}

impl ConfluenceChannelBuilder {
    /// Adds a space: the route target `name` publishes there.
    pub fn space(mut self, name: impl Into<String>, space: ConfluenceSpace) -> Self {
        self.spaces.push((name.into(), space));
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Publishes for the whole channel (default none: a postmortem is rare).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<ConfluenceChannel, BuildError> {
        let mut site = self.site.trim().to_owned();
        if !site.ends_with('/') {
            site.push('/');
        }
        let site = http::url_setting(&site, false, "Confluence site URL")?;
        if site.query().is_some() {
            return Err(BuildError::url(
                "Confluence site URL",
                "it may not have a query",
            ));
        }
        let email = self.email.trim().to_owned();
        if email.is_empty() || !email.contains('@') || email.chars().any(char::is_whitespace) {
            return Err(BuildError::credential(
                "Confluence account e-mail",
                "it must be the Atlassian account's e-mail address",
            ));
        }
        if self.token.is_empty() || !self.token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BuildError::credential(
                "Confluence API token",
                "it is empty or has spaces or control characters",
            ));
        }
        let spaces = Named::build("Confluence space", self.spaces, |label, space| {
            let key_ok = !space.key.is_empty()
                && space.key.len() <= 255
                && space
                    .key
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '~' || c == '_' || c == '-');
            if !key_ok {
                return Err(BuildError::setting(
                    format!("{label} key"),
                    "a space key is letters and digits (a personal space's starts with ~)",
                ));
            }
            if let Some(parent) = &space.parent_page
                && (parent.is_empty() || !parent.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(BuildError::setting(
                    format!("{label} parent page"),
                    "a page id is digits",
                ));
            }
            Ok(space)
        })?;
        let mut limits = ChannelLimits::new().deduplicating();
        if let Some(rate) = self.rate {
            limits = limits.with_rate(rate);
        }
        let client = http::client(&self.http)?;
        Ok(ConfluenceChannel {
            site,
            email,
            token: self.token,
            spaces,
            space_ids: Mutex::new(HashMap::new()),
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

#[derive(Deserialize)]
struct Results<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
}

#[derive(Deserialize)]
struct SpaceAnswer {
    id: serde_json::Value,
    #[serde(default)]
    key: Option<String>,
}

#[derive(Deserialize)]
struct PageAnswer {
    id: serde_json::Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    version: Option<Version>,
    #[serde(default)]
    body: Option<PageBody>,
}

#[derive(Deserialize)]
struct Version {
    number: u64,
}

#[derive(Deserialize)]
struct PageBody {
    #[serde(default)]
    storage: Option<StorageBody>,
}

#[derive(Deserialize)]
struct StorageBody {
    #[serde(default)]
    value: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    representation: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct Create<'a> {
    #[serde(rename = "spaceId")]
    space_id: &'a str,
    status: &'static str,
    title: &'a str,
    #[serde(rename = "parentId", skip_serializing_if = "Option::is_none")]
    parent_id: Option<&'a str>,
    body: Body<'a>,
}

#[derive(Serialize)]
struct UpdatePage<'a> {
    id: &'a str,
    status: &'static str,
    title: &'a str,
    body: Body<'a>,
    version: NewVersion,
}

#[derive(Serialize)]
struct NewVersion {
    number: u64,
    message: &'static str,
}

/// Confluence's error bodies: v2 `{"errors":[{"status","code","title","detail"}]}`,
/// v1 `{"statusCode","message"}`.
#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// An id as Confluence writes it: a string of digits (v2) or a number.
fn id_text(id: &serde_json::Value) -> Option<String> {
    match id {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Maps Confluence's answer to a failed request.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let code = status.as_u16();
    let answer: ErrorAnswer = serde_json::from_str(body).unwrap_or_default();
    let mut said: Vec<String> = answer
        .errors
        .iter()
        .map(|e| {
            [&e.code, &e.title, &e.detail]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    said.extend(answer.message);
    let said = sanitize(&said.join("; "), 300);
    let reason = if said.is_empty() {
        format!("Confluence answered {status}")
    } else {
        format!("Confluence answered {status}: {said}")
    };
    let lower = said.to_ascii_lowercase();
    match code {
        429 => ChannelError::RateLimited {
            retry_after: http::retry_after(headers, SystemTime::now()),
        },
        // Wrong e-mail or token; no permission in the space.
        401 | 403 => ChannelError::Config { reason },
        // A page with this title was created meanwhile, or the version we
        // sent is stale: the next attempt reads the page again.
        409 => ChannelError::Transient {
            reason,
            status: Some(code),
            retry_after: None,
        },
        400 if lower.contains("already exists") => ChannelError::Transient {
            reason,
            status: Some(code),
            retry_after: None,
        },
        400 | 404 | 413 => ChannelError::Rejected {
            reason,
            status: Some(code),
        },
        _ => http::error_for_status(status, headers),
    }
}

/// The page's title: `Postmortem: <incident title> (<id>)`, the incident
/// title cut to fit [`MAX_TITLE`].
fn page_title(delivery: &Delivery) -> String {
    let id = delivery.incident.id().as_str();
    let fixed = "Postmortem: ".chars().count() + " ()".chars().count() + id.chars().count();
    let title: String = delivery
        .incident
        .title()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "Postmortem: {} ({id})",
        cut(&title, MAX_TITLE.saturating_sub(fixed))
    )
}

impl ConfluenceChannel {
    fn url(&self, path: &str) -> Result<Url, ChannelError> {
        self.site
            .join("wiki/api/v2/")
            .and_then(|u| u.join(path))
            .map_err(|e| ChannelError::Config {
                reason: format!("Confluence site URL: {e}"),
            })
    }

    /// One request; the status and body of a success.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&(dyn erased::Json + Sync)>,
    ) -> Result<(u16, String), ChannelError> {
        let mut request = self
            .client
            .request(method, url.clone())
            .basic_auth(&self.email, Some(&self.token))
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = body.attach(request);
        }
        let response = http::send(request, &url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(status, &headers, &text));
        }
        Ok((status.as_u16(), text))
    }

    /// The id of the space with `key`.
    async fn space_id(&self, target: &str, key: &str) -> Result<String, ChannelError> {
        if let Some(id) = self
            .space_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
        {
            return Ok(id.clone());
        }
        let mut url = self.url("spaces")?;
        url.query_pairs_mut().append_pair("keys", key);
        let (_, text) = self.call(Method::GET, url, None).await?;
        let answer: Results<SpaceAnswer> =
            serde_json::from_str(&text).map_err(|_| unreadable("the space"))?;
        let id = answer
            .results
            .iter()
            .find(|s| s.key.as_deref().is_none_or(|k| k == key))
            .and_then(|s| id_text(&s.id))
            .ok_or_else(|| ChannelError::InvalidTarget {
                target: target.to_owned(),
                reason: "Confluence has no space with this key that the account may see".into(),
            })?;
        self.space_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned(), id.clone());
        Ok(id)
    }

    /// The current page titled `title` in the space, if any.
    async fn find(&self, space_id: &str, title: &str) -> Result<Option<PageAnswer>, ChannelError> {
        let mut url = self.url("pages")?;
        url.query_pairs_mut()
            .append_pair("space-id", space_id)
            .append_pair("title", title)
            .append_pair("status", "current")
            .append_pair("body-format", "storage");
        let (_, text) = self.call(Method::GET, url, None).await?;
        let answer: Results<PageAnswer> =
            serde_json::from_str(&text).map_err(|_| unreadable("the pages"))?;
        Ok(answer
            .results
            .into_iter()
            .find(|p| p.title.as_deref() == Some(title)))
    }

    async fn publish(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let target = delivery.target.as_str();
        let space = self.spaces.get(&delivery.target)?;
        let space_id = self.space_id(target, &space.key).await?;
        let title = page_title(delivery);
        let value = &*delivery.text;
        let body = Body {
            representation: "storage",
            value,
        };
        let (status, text) = match self.find(&space_id, &title).await? {
            None => {
                let create = Create {
                    space_id: &space_id,
                    status: "current",
                    title: &title,
                    parent_id: space.parent_page.as_deref(),
                    body,
                };
                self.call(Method::POST, self.url("pages")?, Some(&create))
                    .await?
            }
            Some(page) => {
                let id = id_text(&page.id).ok_or_else(|| unreadable("the page"))?;
                let stored = page
                    .body
                    .and_then(|b| b.storage)
                    .and_then(|s| s.value)
                    .unwrap_or_default();
                if stored == value {
                    tracing::debug!(page = %id, "the Confluence page already has this postmortem");
                    return Ok(Receipt::new(crate::clock::now())
                        .with_message_ref(MessageRef::new(id))
                        .with_status(200));
                }
                let version = page.version.map_or(1, |v| v.number);
                let update = UpdatePage {
                    id: &id,
                    status: "current",
                    title: &title,
                    body,
                    version: NewVersion {
                        number: version + 1,
                        message: "Postmortem updated by tidings",
                    },
                };
                self.call(
                    Method::PUT,
                    self.url(&format!("pages/{id}"))?,
                    Some(&update),
                )
                .await?
            }
        };
        let handle = serde_json::from_str::<PageAnswer>(&text)
            .ok()
            .and_then(|p| id_text(&p.id))
            .ok_or_else(|| unreadable("the published page"))?;
        Ok(Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(handle))
            .with_status(status))
    }
}

/// An answer that is not Confluence's JSON (a proxy's page, a change of
/// API): transient, as the next attempt may read it.
fn unreadable(what: &str) -> ChannelError {
    ChannelError::transient(format!(
        "Confluence answered with something other than its JSON for {what}"
    ))
}

/// A JSON body behind `dyn`, so one `call` takes each request's own type.
mod erased {
    pub(super) trait Json {
        fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    }

    impl<T: serde::Serialize> Json for T {
        fn attach(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            request.json(self)
        }
    }
}

#[async_trait]
impl Channel for ConfluenceChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("confluence")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &ConfluenceFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        // An unknown target is refused whatever the act.
        self.spaces.get(&delivery.target)?;
        if delivery.update.status != Status::Postmortem || delivery.update.is_prompt() {
            tracing::debug!(
                key = %delivery.key,
                act = delivery.update.act().as_str(),
                "not a postmortem; nothing to publish on Confluence"
            );
            return Ok(Receipt::new(crate::clock::now()));
        }
        self.publish(delivery).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> ChannelError {
        map_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
        )
    }

    #[test]
    fn answers_map_to_what_to_do_next() {
        let e = err(
            400,
            r#"{"errors":[{"status":400,"code":"INVALID_REQUEST_PARAMETER","title":"Provided value {abc} for 'spaceId' is not the correct type. Expected type is SpaceId","detail":null}]}"#,
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
        assert!(e.to_string().contains("INVALID_REQUEST_PARAMETER"), "{e}");
        let e = err(
            400,
            r#"{"errors":[{"status":400,"code":"BAD_REQUEST","title":"A page with this title already exists: A page already exists with the same TITLE in this space","detail":null}]}"#,
        );
        assert!(e.is_retryable(), "{e}");
        assert!(matches!(
            err(
                401,
                r#"{"code":401,"message":"Unauthorized; scope does not match"}"#
            ),
            ChannelError::Config { .. }
        ));
        assert!(matches!(err(403, ""), ChannelError::Config { .. }));
        assert!(err(409, r#"{"errors":[{"status":409,"code":"CONFLICT","title":"Version must be incremented on update. Current version is: 3","detail":null}]}"#).is_retryable());
        assert!(!err(413, "").is_retryable());
        assert!(!err(404, "").is_retryable());
        assert!(err(503, "").is_retryable());
        assert_eq!(
            err(429, ""),
            ChannelError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn the_layout_is_storage_format_with_the_link() {
        let p = Pieces {
            title: "[Postmortem] API errors",
            body: "## Timeline\n\n- 14:02 deploy",
            part: None,
            next_update: None,
            link: "https://status.example.com/incidents/inc-7?a=1&b=2",
        };
        let s = ConfluenceFormat.layout(&p);
        assert_eq!(
            s,
            "<h2>Timeline</h2>\n<ul>\n<li>14:02 deploy</li>\n</ul>\n<p>Status page: <a href=\"https://status.example.com/incidents/inc-7?a=1&amp;b=2\">https://status.example.com/incidents/inc-7?a=1&amp;b=2</a></p>"
        );
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_the_token() {
        let ok = || {
            ConfluenceChannel::builder(
                "https://acme.atlassian.net",
                "bot@acme.example",
                "SECRET-token",
            )
            .space("pm", ConfluenceSpace::new("OPS"))
        };
        let ch = ok().build().unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(ch.limits().deduplicates);
        assert!(!format!("{:?}", ok()).contains("SECRET"));
        let e = ConfluenceChannel::builder(
            "https://acme.atlassian.net",
            "bot@acme.example",
            "has SECRET space",
        )
        .space("pm", ConfluenceSpace::new("OPS"))
        .build()
        .unwrap_err();
        assert!(matches!(e, BuildError::InvalidCredential { .. }));
        assert!(!e.to_string().contains("SECRET"));
        assert!(matches!(
            ConfluenceChannel::builder("http://acme.atlassian.net", "bot@acme.example", "t")
                .space("pm", ConfluenceSpace::new("OPS"))
                .build()
                .unwrap_err(),
            BuildError::InvalidUrl { .. }
        ));
        assert!(
            ConfluenceChannel::builder("https://acme.atlassian.net", "nobody", "t")
                .space("pm", ConfluenceSpace::new("OPS"))
                .build()
                .is_err()
        );
        assert!(
            ok().space("bad", ConfluenceSpace::new("O PS"))
                .build()
                .is_err()
        );
        assert!(
            ok().space("x", ConfluenceSpace::new("X").parent_page("12a"))
                .build()
                .is_err()
        );
        assert_eq!(
            ConfluenceChannel::builder("https://acme.atlassian.net", "bot@acme.example", "t")
                .build()
                .unwrap_err(),
            BuildError::NoEndpoint {
                endpoint: "Confluence space"
            }
        );
    }
}

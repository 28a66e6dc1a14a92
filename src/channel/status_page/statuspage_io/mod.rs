//! Atlassian Statuspage (statuspage.io) as the primary source of truth,
//! through its REST API v1: the first contact creates an incident, every later
//! update changes the same incident (status, message, impact, component
//! statuses), and the incident's `shortlink` is the link every other channel
//! carries.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tidings::channel::status_page::statuspage_io::{Postmortem, StatuspageIoChannel};
//! use tidings::prelude::*;
//!
//! let statuspage = StatuspageIoChannel::builder("your-api-key", "kctbh9vrtdwd")
//!     // Our component ids → Statuspage component ids; others are not sent.
//!     .component("api", "8kbf7d35c070")
//!     .component("db", "vtnh60py4yd7")
//!     // The fallback permalink when an answer has no shortlink.
//!     .page_url("https://status.example.com")
//!     .deliver_notifications(true) // the default: subscribers are notified
//!     .postmortem(Postmortem::Skip) // the default (see below)
//!     .build()?;
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
//!     .primary("statuspage", Arc::new(statuspage))
//!     .build()?;
//! # let _ = dispatcher; Ok(()) }
//! ```
//!
//! **Requests.** Authenticated with `Authorization: OAuth <api_key>`; JSON
//! bodies.
//! - First contact (no thread yet): `POST /v1/pages/{page_id}/incidents` with
//!   `{"incident": {name, status, body, impact_override, components,
//!   component_ids, deliver_notifications, metadata}}`; Statuspage answers
//!   `201` with the incident, whose id becomes the receipt's message ref (the
//!   thread root of every later update) and whose `shortlink` becomes the
//!   permalink. `metadata` is `{"tidings": {"incident_id": "<our id>"}}`.
//! - Later updates (the journal's thread root is the Statuspage incident id):
//!   `PATCH /v1/pages/{page_id}/incidents/{incident_id}` with `{"incident":
//!   {status, body, impact_override, components, deliver_notifications}}`,
//!   which posts a new incident update; answered `200`. The receipt keeps the
//!   same message ref and permalink.
//!
//! `status` is ours (`investigating`, `identified`, `monitoring`,
//! `resolved`; for a maintenance, see below); `body` is the update's public message (never internal notes),
//! cut at 25,000 characters ([`MAX_BODY`]); `name` is the incident title, cut
//! at 255 characters ([`MAX_NAME`]), both on a character (and grapheme)
//! boundary; `impact_override` is the incident's impact. `components` carries
//! the status, as of this update, of every affected component that has a
//! Statuspage id configured ([`StatuspageIoChannelBuilder::component`]);
//! components without one are skipped (logged at debug level). "As of this
//! update" means the latest change made by this update or an earlier one, else
//! the component's current status, so an update published late or again sends
//! what it said then; a component whose status was only changed by later
//! updates is left out. The delivery's target is not used:
//! the page is configured.
//!
//! **Permalink.** The incident's `shortlink`; when an answer has none, the
//! configured [page URL](StatuspageIoChannelBuilder::page_url) followed by
//! `/incidents/<id>`; without a page URL, no permalink (the dispatcher then
//! links to its canonical URL and says so in the report).
//!
//! **Duplicates.** Statuspage documents no idempotency: a create whose answer
//! was lost (a timeout, a dropped connection) may have created the incident,
//! and creating again would show customers two incidents. The dispatcher does
//! not tell a channel whether a send is a retry, and a retry may come from
//! another process after a restart, so **every first contact looks first**:
//! `GET /v1/pages/{page_id}/incidents/unresolved` (the first page, up to 100
//! incidents) and, if one carries our `metadata.tidings.incident_id`, updates
//! that incident instead of creating one, or, if it already has an incident
//! update with the same status and body, only returns its receipt. That is
//! one extra request per incident. An incident created already resolved is
//! not among the unresolved, so a lost answer to such a create can still
//! duplicate it. A later update that is sent again after a lost answer
//! ([`Delivery::resend`]) reads the incident first
//! (`GET /v1/pages/{page_id}/incidents/{incident_id}`) and is not posted again
//! if the incident already has it. So the channel declares that it
//! deduplicates ([`ChannelLimits::deduplicates`]), and the dispatcher resends
//! what is in doubt.
//!
//! **Postmortem.** Statuspage keeps postmortems apart from incident updates
//! (a separate postmortem API with its own publish step), and `postmortem` is
//! not an incident status. By default ([`Postmortem::Skip`]) the postmortem act
//! does not change the incident: the channel reads the incident
//! (`GET /v1/pages/{page_id}/incidents/{incident_id}`) only to return its
//! permalink, so the postmortem messages on other channels still link to it.
//! With [`Postmortem::AsUpdate`] the postmortem's public message is posted as
//! one more `resolved` incident update. Neither fails the delivery.
//!
//! **Scheduled maintenance.** A [maintenance](crate::incident::Incident::maintenance)
//! is a Statuspage scheduled incident: its statuses are `scheduled`,
//! `in_progress`, `verifying` and `completed`, and `impact_override` is
//! `maintenance`. The create also sends `scheduled_for` and
//! `scheduled_until`; `scheduled_remind_prior` (the same as
//! `deliver_notifications`: Statuspage reminds its own subscribers); and the
//! automatic transitions
//! ([`maintenance_auto_transitions`](StatuspageIoChannelBuilder::maintenance_auto_transitions):
//! by default to in progress at the start, with the components under
//! maintenance, and never to completed by the clock, so an overrun is not
//! shown as done), with their notifications as `deliver_notifications` says.
//! While it is scheduled, its components are sent only as `component_ids` (no
//! status: they are not under maintenance before the window). The update that
//! completes it, or that puts it off once its window has started, sets its
//! components `operational`, unless the update itself sets them otherwise.
//! Whether Statuspage takes `scheduled_auto_completed` without
//! `scheduled_auto_in_progress` is UNCONFIRMED; the flags are sent as set.
//! The duplicate check of a first contact reads
//! `GET /v1/pages/{page_id}/incidents/scheduled` and then
//! `.../incidents/active_maintenance` instead of `/unresolved` (a maintenance
//! created already completed is in neither, so a lost answer to such a create
//! can still duplicate it). A
//! [reminder](crate::incident::Update::reminder) changes nothing on
//! Statuspage: the channel reads the incident
//! (`GET /v1/pages/{page_id}/incidents/{incident_id}`, or the look-up above
//! when the journal has no thread) to return its permalink; a reminder for a
//! maintenance that is not on Statuspage is rejected.
//!
//! **Rate.** "Each API token is limited to 1 request / second as measured on
//! a 60 second rolling window": the default rate is one send per second for the
//! whole channel. A first contact makes two requests (the look-up and the
//! create; a maintenance's three), and a skipped postmortem or a reminder one
//! read; the 60-second window absorbs these.
//!
//! **Errors.** 420 and 429 are rate limits (with `Retry-After`); 401 (and
//! 403) mean the API key is wrong or may not manage the page (configuration
//! errors); 400, 404 and 422 are refusals, keeping a short, cleaned copy of
//! Statuspage's `{"message": …}` or `{"error": …}`; 408 and 5xx are
//! transient. The API key is a secret: it never appears in `Debug` output,
//! logs or errors.

mod api;
mod client;
mod error;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::incident::{ComponentId, ComponentStatus, Incident, Status};
use crate::render::TextLimit;

use self::api::*;
use self::error::map_error;

/// The REST API's base URL (the API's paths start with `/v1`).
pub const DEFAULT_BASE_URL: &str = "https://api.statuspage.io";

/// The longest incident update body Statuspage takes, in characters.
pub const MAX_BODY: usize = 25_000;

/// The longest incident name Statuspage takes, in characters.
pub const MAX_NAME: usize = 255;

/// The metadata key under which the channel stores our incident id.
pub const METADATA_KEY: &str = "tidings";

/// What the channel does with the postmortem act. See the
/// [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Postmortem {
    /// Leave the Statuspage incident as it is; only read it for its permalink.
    #[default]
    Skip,
    /// Post the postmortem's public message as one more `resolved` incident
    /// update.
    AsUpdate,
}

/// Creates and updates incidents on an Atlassian Statuspage page. See the
/// [module docs](self).
pub struct StatuspageIoChannel {
    client: reqwest::Client,
    base: Url,
    page_id: String,
    api_key: String,
    auth: HeaderValue,
    components: BTreeMap<ComponentId, String>,
    page_url: Option<Url>,
    deliver_notifications: bool,
    postmortem: Postmortem,
    maintenance: AutoTransitions,
    timeout: Duration,
    limits: ChannelLimits,
}

/// Whether Statuspage moves a scheduled maintenance along by the clock. See
/// [`StatuspageIoChannelBuilder::maintenance_auto_transitions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AutoTransitions {
    start: bool,
    end: bool,
}

impl fmt::Debug for StatuspageIoChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatuspageIoChannel")
            .field("base", &self.base.as_str())
            .field("page_id", &self.page_id)
            .field("api_key", &"<redacted>")
            .field("components", &self.components)
            .field("page_url", &self.page_url.as_ref().map(Url::as_str))
            .field("deliver_notifications", &self.deliver_notifications)
            .field("postmortem", &self.postmortem)
            .field("maintenance_auto_transitions", &self.maintenance)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`StatuspageIoChannel`]; every check happens in
/// [`build`](Self::build).
#[must_use]
pub struct StatuspageIoChannelBuilder {
    api_key: String,
    page_id: String,
    base: String,
    page_url: Option<String>,
    components: Vec<(String, String)>,
    deliver_notifications: bool,
    postmortem: Postmortem,
    maintenance: AutoTransitions,
    http: HttpOptions,
    rate: RateLimit,
}

impl fmt::Debug for StatuspageIoChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatuspageIoChannelBuilder")
            .field("page_id", &self.page_id)
            .field("api_key", &"<redacted>")
            .field("components", &self.components)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl StatuspageIoChannel {
    /// A channel for the page `page_id`, authenticated with `api_key` (from
    /// the Statuspage user's API info page).
    pub fn builder(
        api_key: impl Into<String>,
        page_id: impl Into<String>,
    ) -> StatuspageIoChannelBuilder {
        StatuspageIoChannelBuilder {
            api_key: api_key.into(),
            page_id: page_id.into(),
            base: DEFAULT_BASE_URL.to_owned(),
            page_url: None,
            components: Vec::new(),
            deliver_notifications: true,
            postmortem: Postmortem::Skip,
            maintenance: AutoTransitions {
                start: true,
                end: false,
            },
            http: HttpOptions::new(),
            rate: RateLimit::per_second(NonZeroU32::MIN),
        }
    }
}

impl StatuspageIoChannelBuilder {
    /// The REST API's base URL, without `/v1` (default [`DEFAULT_BASE_URL`];
    /// tests point it at a local server).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// The public URL of the status page (`https://status.example.com`): the
    /// permalink is `<page_url>/incidents/<id>` when Statuspage returns no
    /// shortlink.
    pub fn page_url(mut self, url: impl Into<String>) -> Self {
        self.page_url = Some(url.into());
        self
    }

    /// Maps our component id to a Statuspage component id. Components of an
    /// incident without a mapping are not sent to Statuspage.
    pub fn component(mut self, ours: impl Into<String>, statuspage: impl Into<String>) -> Self {
        self.components.push((ours.into(), statuspage.into()));
        self
    }

    /// Whether Statuspage notifies the page's subscribers of the incident and
    /// its updates (default `true`).
    pub fn deliver_notifications(mut self, yes: bool) -> Self {
        self.deliver_notifications = yes;
        self
    }

    /// What to do with the postmortem act (default [`Postmortem::Skip`]).
    pub fn postmortem(mut self, postmortem: Postmortem) -> Self {
        self.postmortem = postmortem;
        self
    }

    /// Whether Statuspage moves a scheduled maintenance along by the clock:
    /// to in progress at the window's start (`start`, default `true`, as the
    /// static page does while nobody has posted) and to completed at its end
    /// (`end`, default `false`: a maintenance that overruns is not shown as
    /// completed; post [`Status::Completed`] when it is). Sent at creation as
    /// `scheduled_auto_in_progress` and `scheduled_auto_completed`, with the
    /// components moved under maintenance and back
    /// (`auto_transition_to_maintenance_state`,
    /// `auto_transition_to_operational_state`) and subscribers notified of
    /// the transitions as [`deliver_notifications`](Self::deliver_notifications)
    /// says. With `start`, an explicit in-progress update adds a second
    /// update on Statuspage.
    pub fn maintenance_auto_transitions(mut self, start: bool, end: bool) -> Self {
        self.maintenance = AutoTransitions { start, end };
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Sends for the whole channel (default one per second: Statuspage's
    /// limit per API token).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<StatuspageIoChannel, BuildError> {
        if self.api_key.is_empty() || !self.api_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BuildError::credential(
                "Statuspage API key",
                "it is empty or has spaces or control characters",
            ));
        }
        if !is_statuspage_id(&self.page_id) {
            return Err(BuildError::setting(
                "Statuspage page id",
                format!("{:?} is not an id (ASCII letters and digits)", self.page_id),
            ));
        }
        let mut components = BTreeMap::new();
        let mut theirs = std::collections::BTreeSet::new();
        for (ours, statuspage) in self.components {
            let setting = || format!("Statuspage component {ours:?}");
            let id = ComponentId::new(ours.clone())
                .map_err(|e| BuildError::setting(setting(), e.to_string()))?;
            if !is_statuspage_id(&statuspage) {
                return Err(BuildError::setting(
                    setting(),
                    format!("{statuspage:?} is not a Statuspage component id"),
                ));
            }
            if !theirs.insert(statuspage.clone()) || components.insert(id, statuspage).is_some() {
                return Err(BuildError::setting(
                    setting(),
                    "it is mapped twice, or shares a Statuspage id with another component",
                ));
            }
        }
        let field = "Statuspage base URL";
        let mut base = http::url_setting(&self.base, false, field)?;
        base.set_query(None);
        base.set_fragment(None);
        if base.cannot_be_a_base() {
            return Err(BuildError::url(field, "it cannot have paths"));
        }
        let page_url = self
            .page_url
            .map(|raw| http::url_setting(&raw, false, "Statuspage page URL"))
            .transpose()?;
        let mut auth = HeaderValue::from_str(&format!("OAuth {}", self.api_key)).map_err(|_| {
            BuildError::credential("Statuspage API key", "it is not a valid header value")
        })?;
        auth.set_sensitive(true);
        let client = http::client(&self.http)?;
        let limits = ChannelLimits::new()
            .with_text(TextLimit::chars(MAX_BODY))
            .with_rate(self.rate)
            .threaded()
            .as_primary()
            .deduplicating();
        Ok(StatuspageIoChannel {
            client,
            base,
            page_id: self.page_id,
            api_key: self.api_key,
            auth,
            components,
            page_url,
            deliver_notifications: self.deliver_notifications,
            postmortem: self.postmortem,
            maintenance: self.maintenance,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

/// Statuspage ids (pages, components, incidents) are short strings of ASCII
/// letters and digits; `-` and `_` are tolerated.
#[async_trait]
impl Channel for StatuspageIoChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("statuspage_io")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let body = truncate(&delivery.update.message, MAX_BODY);
        if delivery.update.reminder {
            // Statuspage reminds its own subscribers (`scheduled_remind_prior`);
            // a reminder is not an incident update.
            if let Some(thread) = &delivery.thread {
                return self.current(thread.root.as_str()).await;
            }
            return match self.find_existing(delivery).await? {
                Some(existing) => Ok(self.receipt(
                    existing.id.as_deref().unwrap_or_default(),
                    existing.shortlink.as_deref(),
                    StatusCode::OK,
                )),
                None => Err(ChannelError::Rejected {
                    reason: format!(
                        "a reminder for {}, which is not on Statuspage: publish its announcement first",
                        delivery.incident.id()
                    ),
                    status: None,
                }),
            };
        }
        let Some(status) = status_name(delivery.update.status) else {
            return self.postmortem(delivery, &body).await;
        };
        match &delivery.thread {
            Some(thread) => {
                self.update(thread.root.as_str(), delivery, status, &body)
                    .await
            }
            None => self.first_contact(delivery, status, &body).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error::error_message;
    use super::*;
    use reqwest::header::RETRY_AFTER;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        h
    }

    fn map(code: u16, body: &str) -> ChannelError {
        map_error(StatusCode::from_u16(code).unwrap(), &headers("60"), body)
    }

    #[test]
    fn errors_map_to_what_to_do_next() {
        // Rate limits: both codes, with the Retry-After Statuspage sends.
        for code in [420, 429] {
            assert_eq!(
                map(code, r#"{"error":"Rate limit exceeded"}"#),
                ChannelError::RateLimited {
                    retry_after: Some(Duration::from_secs(60))
                },
                "{code}"
            );
        }
        // Recorded ErrorEntity bodies.
        let e = map(401, r#"{"message":"Could not authenticate"}"#);
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        let e = map(422, r#"{"message":"Name can't be blank"}"#);
        assert_eq!(
            e,
            ChannelError::Rejected {
                reason: "Statuspage answered 422: Name can't be blank".into(),
                status: Some(422)
            }
        );
        let e = map(400, r#"{"error":"incident is missing"}"#);
        assert!(e.to_string().contains("incident is missing"), "{e}");
        assert!(!e.is_retryable());
        let e = map(404, r#"{"error":["Record not found"]}"#);
        assert_eq!(e.status(), Some(404));
        assert!(e.to_string().contains("Record not found"), "{e}");
        let e = map(404, "<html>Not Found</html>");
        assert_eq!(
            e.to_string(),
            "rejected by the provider (status 404): Statuspage answered 404"
        );
        for code in [500, 502, 503, 504, 408] {
            let e = map(code, "<html>oops</html>");
            assert!(e.is_retryable(), "{code}");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        }
        assert!(!map(409, "").is_retryable());
    }

    #[test]
    fn error_messages_are_short_and_clean() {
        let long = format!(r#"{{"message":"bad\u0007 {}\n<script>"}}"#, "x".repeat(500));
        let m = error_message(&long).unwrap();
        assert!(
            m.chars().count() <= 160 && !m.contains('\u{7}') && !m.contains('\n'),
            "{m}"
        );
        assert_eq!(error_message("not json"), None);
        assert_eq!(error_message(r#"{"message": "  "}"#), None);
        assert_eq!(error_message(r#"{"message": 3}"#), None);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("short", 10), "short");
        let t = truncate(&"é".repeat(300), MAX_NAME).into_owned();
        assert_eq!(t.chars().count(), MAX_NAME);
        assert!(t.ends_with('…'));
        // A family emoji is one grapheme of five characters: never split.
        let t = truncate(&format!("{}👩‍👩‍👧", "a".repeat(252)), MAX_NAME).into_owned();
        assert_eq!(t, format!("{}…", "a".repeat(252)));
        assert_eq!(truncate(&"x".repeat(MAX_BODY), MAX_BODY).len(), MAX_BODY);
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_the_key() {
        let b = || StatuspageIoChannel::builder("SECRET-KEY", "kctbh9vrtdwd");
        for bad in [
            StatuspageIoChannel::builder("", "page"),
            StatuspageIoChannel::builder("a SECRET key", "page"),
        ] {
            let err = bad.build().unwrap_err();
            assert!(
                matches!(&err, BuildError::InvalidCredential { credential, .. } if credential == "Statuspage API key"),
                "{err:?}"
            );
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
        for bad in [
            StatuspageIoChannel::builder("k", ""),
            StatuspageIoChannel::builder("k", "../x"),
            b().http(HttpOptions::new().timeout(Duration::ZERO)),
            b().component("not ok", "abc"),
            b().component("api", "a/b"),
            b().component("api", "a").component("api", "b"),
            b().component("api", "a").component("db", "a"),
        ] {
            let err = bad.build().unwrap_err();
            assert!(matches!(err, BuildError::InvalidSetting { .. }), "{err:?}");
        }
        for bad in [
            b().base_url("http://api.example.com"),
            b().page_url("ftp://status.example.com"),
        ] {
            let err = bad.build().unwrap_err();
            assert!(matches!(err, BuildError::InvalidUrl { .. }), "{err:?}");
        }
        let ch = b().component("api", "a").build().unwrap();
        let dbg = format!("{ch:?} {:?}", b());
        assert!(!dbg.contains("SECRET"), "{dbg}");
        let limits = ch.limits();
        assert!(limits.primary && limits.threads);
        assert_eq!(limits.rate, Some(RateLimit::per_second(NonZeroU32::MIN)));
        assert_eq!(limits.text, Some(TextLimit::chars(MAX_BODY)));
    }

    #[test]
    fn component_statuses_are_as_of_the_update() {
        use crate::incident::{IncidentId, UpdateDraft};
        let t0 = chrono::Utc::now();
        let min = chrono::Duration::minutes;
        let (api, db, cdn) = (
            ComponentId::new("api").unwrap(),
            ComponentId::new("db").unwrap(),
            ComponentId::new("cdn").unwrap(),
        );
        let mut inc = Incident::new(
            IncidentId::new("i").unwrap(),
            "t",
            crate::incident::Impact::Major,
            t0,
        )
        .unwrap()
        .with_component(api.clone(), "API", ComponentStatus::MajorOutage)
        .with_component(db.clone(), "DB", ComponentStatus::DegradedPerformance)
        .with_component(cdn.clone(), "CDN", ComponentStatus::Operational);
        let draft = |status, m: i64, msg: &str| {
            UpdateDraft::new(status, t0 + min(m), msg).next_update_at(t0 + min(m + 30))
        };
        inc.post(draft(Status::Investigating, 1, "a")).unwrap();
        inc.post(
            draft(Status::Identified, 2, "b")
                .component(api.clone(), ComponentStatus::PartialOutage)
                .component(db.clone(), ComponentStatus::MajorOutage),
        )
        .unwrap();
        inc.post(
            draft(Status::Monitoring, 3, "c").component(api.clone(), ComponentStatus::Operational),
        )
        .unwrap();
        let as_of = |seq| {
            statuses_as_of(&inc, seq)
                .map(|(id, s)| (id.as_str().to_owned(), s))
                .collect::<Vec<_>>()
        };
        let own = |id: &str, s| (id.to_owned(), s);
        // Update 1 said nothing about api and db, and their first status was
        // overwritten since: unknown. The CDN never changed.
        assert_eq!(
            as_of(1),
            [
                own("api", None),
                own("db", None),
                own("cdn", Some(ComponentStatus::Operational))
            ]
        );
        assert_eq!(
            as_of(2),
            [
                own("api", Some(ComponentStatus::PartialOutage)),
                own("db", Some(ComponentStatus::MajorOutage)),
                own("cdn", Some(ComponentStatus::Operational))
            ]
        );
        assert_eq!(as_of(3)[0], own("api", Some(ComponentStatus::Operational)));
    }

    #[test]
    fn urls_have_the_page_and_incident() {
        let ch = StatuspageIoChannel::builder("k", "page1")
            .base_url("http://127.0.0.1:9/prefix/")
            .page_url("https://status.example.com/")
            .build()
            .unwrap();
        assert_eq!(
            ch.url(&["abc"]).unwrap().as_str(),
            "http://127.0.0.1:9/prefix/v1/pages/page1/incidents/abc"
        );
        let r = ch.receipt("abc", None, StatusCode::OK);
        assert_eq!(
            r.permalink.unwrap().as_str(),
            "https://status.example.com/incidents/abc"
        );
        let r = ch.receipt("abc", Some("https://stspg.io/xyz"), StatusCode::CREATED);
        assert_eq!(r.permalink.unwrap().as_str(), "https://stspg.io/xyz");
        assert_eq!(r.message_ref.unwrap().as_str(), "abc");
        let default = StatuspageIoChannel::builder("k", "page1").build().unwrap();
        assert_eq!(
            default.url(&[]).unwrap().as_str(),
            "https://api.statuspage.io/v1/pages/page1/incidents"
        );
        assert!(
            default
                .receipt("abc", Some("javascript:x"), StatusCode::OK)
                .permalink
                .is_none()
        );
    }
}

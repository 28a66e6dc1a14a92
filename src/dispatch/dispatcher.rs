//! Publishing an update: primary first, then every audience's channels.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::breaker::Breaker;
use super::builder::{DispatcherBuilder, canonical_url};
use super::journal::{Claim, DeliveryState, Journal, JournalEntry};
use super::limiter::Limiters;
use super::metrics::{ChannelMetrics, Counters};
use super::report::{DeliveryReport, DispatchReport, Failure, LinkSource, Outcome};
use super::retry::RetryPolicy;
use crate::audience::{Audience, AudiencePolicy, Detail, Route, Target};
use crate::channel::{Channel, ChannelError, Delivery, ErrorKind, IdempotencyKey, Part, Receipt};
use crate::clock;
use crate::incident::{Incident, IncidentId, Update};
use crate::render::{FitError, Overflow, RenderedMessage, TemplateError, Templates, fit};

/// Why a publish could not start. Per-delivery failures are not errors: they
/// are in the [`DispatchReport`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The update is not the incident's update with that sequence number
    /// (post it with [`Incident::post`] first).
    #[error("update {seq} is not part of incident {incident}")]
    UnknownUpdate {
        /// The incident.
        incident: IncidentId,
        /// The update's sequence number.
        seq: u32,
    },
    /// A template failed to render this update.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The canonical URL could not be built for this incident.
    #[error("canonical URL for incident {incident}: {reason}")]
    CanonicalUrl {
        /// The incident.
        incident: IncidentId,
        /// What is wrong.
        reason: String,
    },
}

/// Publishes incident updates: to the primary first, then to every audience's
/// routes, rate-limited, retried, journaled, and each carrying the link back to
/// the primary.
///
/// Cheap to clone (shared state); build one with [`Dispatcher::builder`]. See
/// the [crate docs](crate) for a full example.
#[derive(Clone)]
pub struct Dispatcher {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) canonical: String,
    pub(crate) canonical_maintenance: String,
    pub(crate) primary: Lane,
    pub(crate) lanes: Vec<Lane>,
    pub(crate) audiences: Vec<PolicyPlan>,
    /// (lane, target) pairs routed from more than one audience: sent once.
    pub(crate) shared: HashSet<(usize, Target)>,
    pub(crate) journal: Arc<dyn Journal>,
    pub(crate) templates: Templates,
    pub(crate) retry: RetryPolicy,
    pub(crate) send_timeout: Duration,
    pub(crate) concurrency: usize,
    pub(crate) claim_lease: Duration,
}

/// A registered channel with its limiters and circuit breaker.
pub(crate) struct Lane {
    pub(crate) name: Arc<str>,
    pub(crate) channel: Arc<dyn Channel>,
    pub(crate) limiters: Limiters,
    pub(crate) breaker: Breaker,
    pub(crate) counters: Counters,
}

/// An audience policy with its routes resolved to lanes.
pub(crate) struct PolicyPlan {
    pub(crate) policy: AudiencePolicy,
    pub(crate) routes: Vec<(usize, Route)>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Dispatcher")
            .field("primary", &i.primary.name)
            .field(
                "channels",
                &i.lanes.iter().map(|l| &l.name).collect::<Vec<_>>(),
            )
            .field(
                "audiences",
                &i.audiences
                    .iter()
                    .map(|a| a.policy.audience())
                    .collect::<Vec<_>>(),
            )
            .field("journal", &i.journal)
            .field("retry", &i.retry)
            .field("send_timeout", &i.send_timeout)
            .field("concurrency_per_channel", &i.concurrency)
            .field("claim_lease", &i.claim_lease)
            .finish()
    }
}

/// The incident and update as one detail level may see them.
struct View {
    incident: Arc<Incident>,
    update: Arc<Update>,
}

/// One audience's message, rendered and fitted to one channel: what all the
/// route's targets share.
struct Prepared<'a> {
    audience: &'a Audience,
    detail: Detail,
    view: &'a View,
    message: Arc<RenderedMessage>,
    parts: Result<Vec<(Arc<str>, bool)>, FitError>,
    planned_at: DateTime<Utc>,
}

/// A prepared message and the targets of one route.
struct RoutePlan<'a> {
    lane: usize,
    prepared: Prepared<'a>,
    targets: &'a [Target],
}

/// The primary's target in reports and the journal.
const PRIMARY_TARGET: &str = "page";

/// How often a publish that finds the primary in flight elsewhere looks again.
const PRIMARY_POLL: Duration = Duration::from_millis(250);

impl Dispatcher {
    /// Starts a builder. `canonical_url` is the incident page's URL with `{id}`
    /// for the incident id (`https://status.example.com/incidents/{id}`); it is
    /// the link when the primary gives no permalink.
    pub fn builder(canonical_url: impl Into<String>) -> DispatcherBuilder {
        DispatcherBuilder::new(canonical_url.into())
    }

    /// Counters per channel (the primary first) since the dispatcher was built.
    pub fn metrics(&self) -> Vec<ChannelMetrics> {
        let inner = &*self.inner;
        std::iter::once(&inner.primary)
            .chain(&inner.lanes)
            .map(|lane| lane.counters.snapshot(&lane.name))
            .collect()
    }

    /// The journal deliveries are recorded in.
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.inner.journal
    }

    /// Every audience policy, in the order they were added.
    pub fn policies(&self) -> impl ExactSizeIterator<Item = &AudiencePolicy> + '_ {
        self.inner.audiences.iter().map(|plan| &plan.policy)
    }

    /// The policy of `audience`, if it has one.
    pub fn policy(&self, audience: &Audience) -> Option<&AudiencePolicy> {
        self.policies().find(|p| p.audience() == audience)
    }

    /// The primary channel's registered name.
    pub fn primary_name(&self) -> &str {
        &self.inner.primary.name
    }

    /// Publishes `update` of `incident`: to the primary first (when the update
    /// is for customers), then to every audience it is for, each message
    /// carrying the primary's permalink, or the canonical URL when the primary
    /// gave none, which the report says.
    ///
    /// Every message is rendered before anything is sent, so a template error
    /// sends nothing. Deliveries already sent for this update (per the journal)
    /// are not sent again; failed ones are retried. If another worker is
    /// publishing the same update, this call waits for its primary rather than
    /// racing ahead of it. Channels run independently, each with its own
    /// concurrency, rate limits, retries and circuit breaker.
    ///
    /// Dropping the returned future abandons the deliveries in flight: they are
    /// journaled as failed (retryable), so publishing again sends them.
    pub async fn publish(
        &self,
        incident: &Incident,
        update: &Update,
    ) -> Result<DispatchReport, DispatchError> {
        let span = tracing::info_span!("publish", incident = %incident.id(), seq = update.seq);
        self.publish_inner(incident, update).instrument(span).await
    }

    async fn publish_inner(
        &self,
        incident: &Incident,
        update: &Update,
    ) -> Result<DispatchReport, DispatchError> {
        let inner = &*self.inner;
        if incident.update(update.seq) != Some(update) {
            return Err(DispatchError::UnknownUpdate {
                incident: incident.id().clone(),
                seq: update.seq,
            });
        }
        let template = if incident.is_maintenance() {
            &inner.canonical_maintenance
        } else {
            &inner.canonical
        };
        let canonical = canonical_url(template, incident.id().as_str()).map_err(|reason| {
            DispatchError::CanonicalUrl {
                incident: incident.id().clone(),
                reason,
            }
        })?;
        let canonical = Arc::new(canonical);
        let internal = View {
            incident: Arc::new(incident.clone()),
            update: Arc::new(update.clone()),
        };
        let public = View {
            incident: Arc::new(incident.without_internal_notes()),
            update: Arc::new(update.public()),
        };
        let planned_at = clock::now();

        // 1. Render every message before sending anything.
        let customers = Audience::Customers;
        let page_message = if update.recipients.includes(&customers) {
            Some(Arc::new(inner.templates.render(
                &public.incident,
                &public.update,
                &customers,
                Detail::Public,
            )?))
        } else {
            None
        };
        let mut rendered = Vec::new();
        for plan in &inner.audiences {
            let policy = &plan.policy;
            if !update.recipients.includes(policy.audience()) || !policy.cares_about(incident) {
                continue;
            }
            let detail = if policy.audience().may_see_internal() {
                policy.detail_level()
            } else {
                Detail::Public
            };
            let view = match detail {
                Detail::Internal => &internal,
                Detail::Public => &public,
            };
            let message =
                inner
                    .templates
                    .render(&view.incident, &view.update, policy.audience(), detail)?;
            rendered.push((plan, detail, view, Arc::new(message)));
        }

        // 2. The primary, first; its permalink is the link.
        let (primary, link, link_source) = match page_message {
            None => (
                None,
                canonical.clone(),
                LinkSource::Canonical {
                    reason: "the update is not for customers, so the status page was not updated"
                        .into(),
                },
            ),
            Some(message) => {
                let prepared = Prepared {
                    audience: &customers,
                    detail: Detail::Public,
                    view: &public,
                    parts: fitted(&message, &canonical, &inner.primary, Overflow::Shorten),
                    message,
                    planned_at,
                };
                let report = self.publish_primary(&prepared, &canonical).await;
                let (link, source) = link_from(report.as_ref(), &canonical);
                (report, link, source)
            }
        };
        if let LinkSource::Canonical { reason } = &link_source {
            tracing::warn!(%reason, "fanning out with the canonical URL");
        }

        // 3. Fit each audience's message to each of its routes' channels.
        let mut plans = Vec::new();
        for (plan, detail, view, message) in rendered {
            for (lane, route) in &plan.routes {
                plans.push(RoutePlan {
                    lane: *lane,
                    prepared: Prepared {
                        audience: plan.policy.audience(),
                        detail,
                        view,
                        parts: fitted(&message, &link, &inner.lanes[*lane], route.overflow),
                        message: message.clone(),
                        planned_at,
                    },
                    targets: route.targets(),
                });
            }
        }

        // 4. Execute: every channel in its own lane, all lanes at once.
        let lanes = (0..inner.lanes.len()).filter_map(|i| {
            let routes: Vec<&RoutePlan<'_>> = plans.iter().filter(|p| p.lane == i).collect();
            (!routes.is_empty()).then(|| self.run_lane(i, routes, &link))
        });
        let deliveries: Vec<DeliveryReport> = futures::future::join_all(lanes)
            .await
            .into_iter()
            .flatten()
            .collect();

        Ok(DispatchReport {
            incident: incident.id().clone(),
            seq: update.seq,
            link: (*link).clone(),
            link_source,
            primary,
            deliveries,
        })
    }

    /// Sends to the primary. If another worker holds the primary's claim, waits
    /// (bounded) for its outcome instead of fanning out ahead of it.
    async fn publish_primary(
        &self,
        prepared: &Prepared<'_>,
        canonical: &Arc<Url>,
    ) -> Option<DeliveryReport> {
        let inner = &*self.inner;
        let patience = inner.send_timeout.saturating_mul(inner.retry.attempts());
        let deadline = Instant::now() + patience;
        let target = Target::from_static(PRIMARY_TARGET);
        loop {
            let report = self
                .run_job(&inner.primary, true, prepared, target.clone(), canonical)
                .await
                .into_iter()
                .next()?;
            if !matches!(report.outcome, Outcome::InFlight { .. }) || Instant::now() >= deadline {
                return Some(report);
            }
            tokio::time::sleep(PRIMARY_POLL).await;
        }
    }

    /// Every delivery of one channel, `concurrency` at a time.
    async fn run_lane(
        &self,
        lane_index: usize,
        routes: Vec<&RoutePlan<'_>>,
        link: &Arc<Url>,
    ) -> Vec<DeliveryReport> {
        let inner = &*self.inner;
        let lane = &inner.lanes[lane_index];
        let mut seen: HashSet<Target> = HashSet::new();
        let capacity = routes.iter().map(|p| p.targets.len()).sum();
        let jobs = routes
            .into_iter()
            .flat_map(|p| p.targets.iter().map(move |t| (&p.prepared, t)))
            .filter(move |(_, t)| {
                // A target routed from several audiences is sent to once.
                inner.shared.is_empty()
                    || !inner.shared.contains(&(lane_index, (*t).clone()))
                    || seen.insert((*t).clone())
            });
        let mut reports = Vec::with_capacity(capacity);
        // Boxed: the adapters' closures would otherwise be part of the
        // future's type, and rustc cannot prove such futures `Send` (so a
        // publish could not be spawned).
        let mut done = stream::iter(jobs)
            .map(|(p, t)| self.run_job(lane, false, p, t.clone(), link))
            .buffer_unordered(inner.concurrency)
            .boxed();
        while let Some(job_reports) = done.next().await {
            reports.extend(job_reports);
        }
        lane.limiters.shrink();
        reports
    }

    /// Sends every part of one message to one target, in order.
    async fn run_job(
        &self,
        lane: &Lane,
        primary: bool,
        prepared: &Prepared<'_>,
        target: Target,
        link: &Arc<Url>,
    ) -> Vec<DeliveryReport> {
        let view = prepared.view;
        let key = |index: u16| {
            IdempotencyKey::derive(
                view.incident.id(),
                view.update.seq,
                &lane.name,
                &target,
                index,
            )
        };
        let report = |key, part, outcome, attempts, latency| DeliveryReport {
            key,
            channel: lane.name.clone(),
            audience: prepared.audience.clone(),
            target: target.clone(),
            part,
            outcome,
            attempts,
            latency,
        };
        let entry = |key: IdempotencyKey, part: Part, has_link: bool| JournalEntry {
            key,
            incident: view.incident.id().clone(),
            seq: view.update.seq,
            channel: lane.name.clone(),
            primary,
            audience: prepared.audience.clone(),
            target: target.clone(),
            part,
            has_link,
            planned_at: prepared.planned_at,
        };
        let parts = match &prepared.parts {
            Ok(parts) => parts,
            Err(e) => {
                let failure = Failure::Fit(e.clone());
                let key = key(1);
                let outcome = self
                    .record_unsent(entry(key.clone(), Part::WHOLE, false), failure)
                    .await;
                count_outcome(lane, &outcome);
                return vec![report(key, Part::WHOLE, outcome, 0, Duration::ZERO)];
            }
        };
        let count = u16::try_from(parts.len()).unwrap_or(u16::MAX);
        let mut reports = Vec::with_capacity(parts.len());
        let mut held_back = false;
        for (index, (text, has_link)) in (1..=count).zip(parts) {
            let part = Part { index, count };
            let key = key(index);
            let entry = entry(key.clone(), part, *has_link);
            if held_back {
                let outcome = self.record_unsent(entry, Failure::EarlierPartFailed).await;
                count_outcome(lane, &outcome);
                reports.push(report(key, part, outcome, 0, Duration::ZERO));
                continue;
            }
            let delivery = Delivery {
                key: key.clone(),
                channel: lane.name.clone(),
                incident: view.incident.clone(),
                update: view.update.clone(),
                audience: prepared.audience.clone(),
                detail: prepared.detail,
                target: target.clone(),
                message: prepared.message.clone(),
                text: text.clone(),
                link: link.clone(),
                thread: None,
                part,
            };
            let started = Instant::now();
            let (outcome, attempts) = self.deliver(lane, entry, delivery).await;
            count_outcome(lane, &outcome);
            held_back = matches!(outcome, Outcome::Failed(_));
            reports.push(report(key, part, outcome, attempts, started.elapsed()));
        }
        reports
    }

    /// Journals a delivery that will not be attempted, so the journal (and the
    /// review built on it) sees every planned message.
    async fn record_unsent(&self, entry: JournalEntry, failure: Failure) -> Outcome {
        let journal = &self.inner.journal;
        let now = clock::now();
        match journal
            .claim(&entry, now, now + lease(self.inner.claim_lease))
            .await
        {
            Ok(Claim::Claimed) => {
                let state = DeliveryState::Failed {
                    reason: failure.to_string(),
                    retryable: failure.is_retryable(),
                    attempts: 0,
                };
                if let Err(e) = journal.finish(&entry.key, state, now).await {
                    tracing::error!(key = %entry.key, error = %e, "journal finish failed");
                }
                Outcome::Failed(failure)
            }
            Ok(Claim::AlreadySent(receipt)) => Outcome::AlreadySent(receipt),
            Ok(Claim::InFlight { lease_until }) => Outcome::InFlight { lease_until },
            Err(e) => Outcome::Failed(Failure::Journal(e)),
        }
    }

    /// Claims, sends (with retries) and records one delivery.
    async fn deliver(
        &self,
        lane: &Lane,
        entry: JournalEntry,
        mut delivery: Delivery,
    ) -> (Outcome, u32) {
        let journal = &self.inner.journal;
        let now = clock::now();
        match journal
            .claim(&entry, now, now + lease(self.inner.claim_lease))
            .await
        {
            Ok(Claim::Claimed) => {}
            Ok(Claim::AlreadySent(receipt)) => return (Outcome::AlreadySent(receipt), 0),
            Ok(Claim::InFlight { lease_until }) => return (Outcome::InFlight { lease_until }, 0),
            Err(e) => {
                tracing::error!(channel = %lane.name, key = %delivery.key, error = %e, "journal claim failed; not sending");
                return (Outcome::Failed(Failure::Journal(e)), 0);
            }
        }
        let mut guard = ClaimGuard {
            journal: journal.clone(),
            key: Some(delivery.key.clone()),
        };
        if lane.channel.limits().threads {
            match journal
                .thread(delivery.incident.id(), &lane.name, &delivery.target)
                .await
            {
                Ok(thread) => delivery.thread = thread,
                Err(e) => {
                    tracing::warn!(channel = %lane.name, key = %delivery.key, error = %e, "thread lookup failed; sending unthreaded");
                }
            }
        }
        let (result, attempts) = self.attempt(lane, &delivery).await;
        let state = match &result {
            Ok(receipt) => DeliveryState::Sent(receipt.clone()),
            Err(failure) => DeliveryState::Failed {
                reason: failure.to_string(),
                retryable: failure.is_retryable(),
                attempts,
            },
        };
        guard.key = None;
        let at = match &result {
            Ok(receipt) => receipt.at,
            Err(_) => clock::now(),
        };
        if let Err(e) = journal.finish(&delivery.key, state, at).await {
            // The send happened (or failed) regardless; report what happened.
            // The claim's lease frees the delivery later if the journal missed it.
            tracing::error!(channel = %lane.name, key = %delivery.key, error = %e, "journal finish failed");
        }
        match result {
            Ok(receipt) => (Outcome::Sent(receipt), attempts),
            Err(failure) => {
                tracing::warn!(channel = %lane.name, key = %delivery.key, attempts, "delivery failed: {failure}");
                (Outcome::Failed(failure), attempts)
            }
        }
    }

    /// Calls the channel until success, a permanent error, an open circuit, or
    /// the retry policy gives up; each call waits for the rate limiters and has
    /// a timeout.
    async fn attempt(&self, lane: &Lane, delivery: &Delivery) -> (Result<Receipt, Failure>, u32) {
        let inner = &*self.inner;
        let mut attempts = 0;
        loop {
            if !lane.breaker.allows() {
                let failure = Failure::CircuitOpen {
                    channel: lane.name.to_string(),
                };
                return (Err(failure), attempts);
            }
            lane.limiters.until_ready(&delivery.target).await;
            attempts += 1;
            Counters::add(&lane.counters.attempts);
            let span = tracing::debug_span!(
                "send",
                channel = %lane.name,
                kind = %lane.channel.kind(),
                key = %delivery.key,
                attempt = attempts,
            );
            let result = tokio::time::timeout(inner.send_timeout, lane.channel.send(delivery))
                .instrument(span)
                .await
                .unwrap_or(Err(ChannelError::Timeout {
                    after: inner.send_timeout,
                }));
            let error = match result {
                Ok(receipt) => {
                    lane.breaker.success();
                    return (Ok(receipt), attempts);
                }
                Err(e) => e,
            };
            match error.kind() {
                ErrorKind::Transient | ErrorKind::Timeout => lane.breaker.failure(),
                ErrorKind::RateLimited => Counters::add(&lane.counters.rate_limited),
                _ => {}
            }
            if !error.is_retryable() {
                return (Err(Failure::Channel(error)), attempts);
            }
            match inner.retry.delay(attempts, error.retry_after()) {
                Some(wait) => {
                    tracing::debug!(channel = %lane.name, key = %delivery.key, ?wait, "retrying: {error}");
                    tokio::time::sleep(wait).await;
                }
                None => return (Err(Failure::Channel(error)), attempts),
            }
        }
    }
}

/// Counts a delivery's outcome on its lane.
fn count_outcome(lane: &Lane, outcome: &Outcome) {
    let c = &lane.counters;
    match outcome {
        Outcome::Sent(_) => Counters::add(&c.sent),
        Outcome::AlreadySent(_) => Counters::add(&c.already_sent),
        Outcome::Failed(failure) => {
            Counters::add(&c.failed);
            if matches!(failure, Failure::CircuitOpen { .. }) {
                Counters::add(&c.circuit_open);
            }
        }
        Outcome::InFlight { .. } => {}
    }
}

/// Marks a claimed delivery failed (retryable) if the publish is dropped before
/// its outcome is recorded, so the next publish sends it instead of waiting for
/// the claim's lease to end.
struct ClaimGuard {
    journal: Arc<dyn Journal>,
    key: Option<IdempotencyKey>,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let journal = self.journal.clone();
        runtime.spawn(async move {
            let state = DeliveryState::Failed {
                reason: "the publish was cancelled before the outcome was known".into(),
                retryable: true,
                attempts: 0,
            };
            if let Err(e) = journal.finish(&key, state, clock::now()).await {
                tracing::error!(%key, error = %e, "could not release an abandoned claim");
            }
        });
    }
}

fn lease(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The fan-out link: the primary's permalink, else the canonical URL and why.
fn link_from(report: Option<&DeliveryReport>, canonical: &Arc<Url>) -> (Arc<Url>, LinkSource) {
    let canonical_because = |reason: String| (canonical.clone(), LinkSource::Canonical { reason });
    let Some(report) = report else {
        return canonical_because("the primary produced no message".into());
    };
    match &report.outcome {
        Outcome::Sent(r) | Outcome::AlreadySent(r) => match &r.permalink {
            Some(url) => (Arc::new(url.clone()), LinkSource::Primary),
            None => canonical_because("the primary returned no permalink".into()),
        },
        Outcome::Failed(f) => canonical_because(format!("the primary failed: {f}")),
        Outcome::InFlight { .. } => {
            canonical_because("the primary is still being published by another worker".into())
        }
    }
}

/// Fits a message to a lane's channel; each part with whether it has the link.
fn fitted(
    message: &RenderedMessage,
    link: &Url,
    lane: &Lane,
    overflow: Overflow,
) -> Result<Vec<(Arc<str>, bool)>, FitError> {
    let link = link.as_str();
    let parts = fit(message, link, lane.channel.limits().text.as_ref(), overflow)?;
    Ok(parts
        .into_iter()
        .map(|p| {
            let has_link = p.contains(link);
            (Arc::from(p), has_link)
        })
        .collect())
}

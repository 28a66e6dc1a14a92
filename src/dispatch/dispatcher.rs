//! Publishing an update: primary first, then every audience's channels.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream;
use tracing::Instrument;
use url::Url;

use super::builder::{DispatcherBuilder, canonical_url};
use super::journal::{Claim, DeliveryState, Journal, JournalEntry};
use super::limiter::Limiters;
use super::report::{DeliveryReport, DispatchReport, Failure, LinkSource, Outcome};
use super::retry::RetryPolicy;
use crate::audience::{Audience, AudiencePolicy, Detail, Route, Target};
use crate::channel::{Channel, ChannelError, Delivery, IdempotencyKey, Part, Receipt};
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
}

/// A registered channel and its limiters.
pub(crate) struct Lane {
    pub(crate) name: Arc<str>,
    pub(crate) channel: Arc<dyn Channel>,
    pub(crate) limiters: Limiters,
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
            .finish()
    }
}

/// The incident and update as one detail level may see them.
struct View {
    incident: Arc<Incident>,
    update: Arc<Update>,
}

/// One route of one audience, rendered and fitted: everything its targets share.
struct Prepared<'a> {
    lane: usize,
    audience: &'a Audience,
    detail: Detail,
    view: &'a View,
    message: Arc<RenderedMessage>,
    parts: Result<Vec<(Arc<str>, bool)>, FitError>,
    targets: &'a [Target],
    planned_at: DateTime<Utc>,
}

/// The primary's target in reports and the journal.
const PRIMARY_TARGET: &str = "page";

impl Dispatcher {
    /// Starts a builder. `canonical_url` is the incident page's URL with `{id}`
    /// for the incident id (`https://status.example.com/incidents/{id}`); it is
    /// the link when the primary gives no permalink.
    pub fn builder(canonical_url: impl Into<String>) -> DispatcherBuilder {
        DispatcherBuilder::new(canonical_url.into())
    }

    /// The journal deliveries are recorded in.
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.inner.journal
    }

    /// Publishes `update` of `incident`: to the primary first, then to every
    /// audience it is for, each message carrying the primary's permalink (or the
    /// canonical URL if the primary failed, which the report says).
    ///
    /// Deliveries already sent for this update (per the journal) are not sent
    /// again; failed ones are retried. Channels run independently, each with
    /// its own concurrency, rate limits and retries.
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
        let canonical =
            canonical_url(&inner.canonical, incident.id().as_str()).map_err(|reason| {
                DispatchError::CanonicalUrl {
                    incident: incident.id().clone(),
                    reason,
                }
            })?;
        let internal = View {
            incident: Arc::new(incident.clone()),
            update: Arc::new(update.clone()),
        };
        let public = View {
            incident: Arc::new(incident.without_internal_notes()),
            update: Arc::new(update.public()),
        };

        // 1. The primary, first.
        let planned_at = Utc::now();
        let customers = Audience::Customers;
        let primary_message = Arc::new(inner.templates.render(
            &public.incident,
            &public.update,
            &customers,
            Detail::Public,
        )?);
        let primary = Prepared {
            lane: usize::MAX,
            audience: &customers,
            detail: Detail::Public,
            view: &public,
            parts: fitted(
                &primary_message,
                &canonical,
                &inner.primary,
                Overflow::Shorten,
            ),
            message: primary_message,
            targets: &[],
            planned_at,
        };
        let canonical = Arc::new(canonical);
        let primary_reports = self
            .run_job(
                &inner.primary,
                true,
                &primary,
                Target::from_static(PRIMARY_TARGET),
                &canonical,
            )
            .await;
        let mut primary_reports = primary_reports.into_iter();
        let Some(primary_report) = primary_reports.next() else {
            return Err(DispatchError::CanonicalUrl {
                incident: incident.id().clone(),
                reason: "the primary produced no delivery".into(),
            });
        };
        let (link, link_source) = match primary_report.outcome.receipt() {
            Some(Receipt {
                permalink: Some(url),
                ..
            }) => (Arc::new(url.clone()), LinkSource::Primary),
            Some(_) => (
                canonical.clone(),
                LinkSource::Canonical {
                    reason: "the primary returned no permalink".into(),
                },
            ),
            None => (
                canonical.clone(),
                LinkSource::Canonical {
                    reason: match &primary_report.outcome {
                        Outcome::Failed(f) => format!("the primary failed: {f}"),
                        _ => "the primary is being published by another worker".into(),
                    },
                },
            ),
        };
        if let LinkSource::Canonical { reason } = &link_source {
            tracing::warn!(%reason, "fanning out with the canonical URL");
        }

        // 2. Plan: one prepared route per audience × route, rendered once.
        let mut prepared = Vec::new();
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
            let message = Arc::new(inner.templates.render(
                &view.incident,
                &view.update,
                policy.audience(),
                detail,
            )?);
            for (lane, route) in &plan.routes {
                prepared.push(Prepared {
                    lane: *lane,
                    audience: policy.audience(),
                    detail,
                    view,
                    parts: fitted(&message, &link, &inner.lanes[*lane], route.overflow),
                    message: message.clone(),
                    targets: route.targets(),
                    planned_at,
                });
            }
        }

        // 3. Execute: every channel in its own lane, all lanes at once.
        let lanes = (0..inner.lanes.len()).filter_map(|i| {
            let routes: Vec<&Prepared<'_>> = prepared.iter().filter(|p| p.lane == i).collect();
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
            primary: primary_report,
            deliveries,
        })
    }

    /// Every delivery of one channel, `concurrency` at a time.
    async fn run_lane(
        &self,
        lane_index: usize,
        routes: Vec<&Prepared<'_>>,
        link: &Arc<Url>,
    ) -> Vec<DeliveryReport> {
        let inner = &*self.inner;
        let lane = &inner.lanes[lane_index];
        let mut seen: HashSet<Target> = HashSet::new();
        let routes_len = routes.iter().map(|p| p.targets.len()).sum();
        let jobs = routes
            .into_iter()
            .flat_map(|p| p.targets.iter().map(move |t| (p, t)))
            .filter(|(_, t)| {
                // A target routed from several audiences is sent to once.
                inner.shared.is_empty()
                    || !inner.shared.contains(&(lane_index, (*t).clone()))
                    || seen.insert((*t).clone())
            });
        let mut reports = Vec::with_capacity(routes_len);
        let mut done = stream::iter(jobs)
            .map(|(p, t)| self.run_job(lane, false, p, t.clone(), link))
            .buffer_unordered(inner.concurrency);
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
        let parts = match &prepared.parts {
            Ok(parts) => parts,
            Err(e) => {
                return vec![report(
                    key(1),
                    Part::WHOLE,
                    Outcome::Failed(Failure::Fit(e.clone())),
                    0,
                    Duration::ZERO,
                )];
            }
        };
        let count = u16::try_from(parts.len()).unwrap_or(u16::MAX);
        let mut reports = Vec::with_capacity(parts.len());
        let mut held_back = false;
        for (index, (text, has_link)) in (1..=count).zip(parts) {
            let part = Part { index, count };
            if held_back {
                reports.push(report(
                    key(index),
                    part,
                    Outcome::Failed(Failure::EarlierPartFailed),
                    0,
                    Duration::ZERO,
                ));
                continue;
            }
            let delivery = Delivery {
                key: key(index),
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
            let started = tokio::time::Instant::now();
            let (outcome, attempts) = self
                .deliver(lane, primary, delivery, *has_link, prepared.planned_at)
                .await;
            held_back = matches!(outcome, Outcome::Failed(_));
            reports.push(report(
                key(index),
                part,
                outcome,
                attempts,
                started.elapsed(),
            ));
        }
        reports
    }

    /// Claims, sends (with retries) and records one delivery.
    async fn deliver(
        &self,
        lane: &Lane,
        primary: bool,
        mut delivery: Delivery,
        has_link: bool,
        planned_at: DateTime<Utc>,
    ) -> (Outcome, u32) {
        let journal = &self.inner.journal;
        let entry = JournalEntry {
            key: delivery.key.clone(),
            incident: delivery.incident.id().clone(),
            seq: delivery.update.seq,
            channel: lane.name.clone(),
            primary,
            audience: delivery.audience.clone(),
            target: delivery.target.clone(),
            part: delivery.part,
            has_link,
            planned_at,
        };
        match journal.claim(&entry).await {
            Ok(Claim::Claimed) => {}
            Ok(Claim::AlreadySent(receipt)) => return (Outcome::AlreadySent(receipt), 0),
            Ok(Claim::InFlight) => return (Outcome::InFlight, 0),
            Err(e) => {
                tracing::error!(channel = %lane.name, key = %delivery.key, error = %e, "journal claim failed; not sending");
                return (Outcome::Failed(Failure::Journal(e)), 0);
            }
        }
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
            Err(error) => DeliveryState::Failed {
                error: error.clone(),
                attempts,
            },
        };
        if let Err(e) = journal.finish(&delivery.key, state).await {
            // The send happened (or failed) regardless; report what happened.
            tracing::error!(channel = %lane.name, key = %delivery.key, error = %e, "journal finish failed");
        }
        match result {
            Ok(receipt) => (Outcome::Sent(receipt), attempts),
            Err(error) => {
                tracing::warn!(channel = %lane.name, key = %delivery.key, kind = error.kind().as_str(), attempts, "delivery failed: {error}");
                (Outcome::Failed(Failure::Channel(error)), attempts)
            }
        }
    }

    /// Calls the channel until success, a permanent error, or the retry policy
    /// gives up; each call waits for the rate limiters and has a timeout.
    async fn attempt(
        &self,
        lane: &Lane,
        delivery: &Delivery,
    ) -> (Result<Receipt, ChannelError>, u32) {
        let inner = &*self.inner;
        let mut attempts = 0;
        loop {
            lane.limiters.until_ready(&delivery.target).await;
            attempts += 1;
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
                Ok(receipt) => return (Ok(receipt), attempts),
                Err(e) if !e.is_retryable() => return (Err(e), attempts),
                Err(e) => e,
            };
            match inner.retry.delay(attempts, error.retry_after()) {
                Some(wait) => {
                    tracing::debug!(channel = %lane.name, key = %delivery.key, ?wait, "retrying: {error}");
                    tokio::time::sleep(wait).await;
                }
                None => return (Err(error), attempts),
            }
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

//! Publishing an update: primary first (within its deadline), then every
//! audience's channels, every send journaled.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream;
use futures::{FutureExt, StreamExt};
use tracing::Instrument;
use url::Url;

use super::builder::{DispatcherBuilder, canonical_url};
use super::lane::{Finishes, Job, Lane, unsettled};
use super::metrics::ChannelMetrics;
use super::plan::{Prepared, RoutePlan, View, fitted};
use super::report::{DeliveryReport, DispatchReport, Kept, Outcome};
use super::retry::RetryPolicy;
use crate::audience::{Audience, AudiencePolicy, Detail, Route, Target};
use crate::clock;
use crate::incident::{Incident, IncidentId, Update};
use crate::journal::{
    ClaimOptions, Journal, JournalError, LinkChoice, LinkSource, Owner, Publication,
};
use crate::render::{Overflow, TemplateError, Templates};

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
    /// The journal could not record the update, so nothing was sent. Retry
    /// when [`JournalError::is_retryable`] says so.
    #[error("the journal could not record the update: {0}")]
    Journal(#[from] JournalError),
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
    /// (lane, target) pairs routed from more than one audience: sent once,
    /// for all of them.
    pub(crate) shared: HashSet<(usize, Target)>,
    pub(crate) journal: Arc<dyn Journal>,
    pub(crate) owner: Owner,
    pub(crate) templates: Templates,
    pub(crate) retry: RetryPolicy,
    pub(crate) send_timeout: Duration,
    pub(crate) concurrency: usize,
    pub(crate) report_limit: usize,
    pub(crate) claim_lease: Duration,
    pub(crate) primary_deadline: Duration,
    pub(crate) delivery_deadline: Duration,
    pub(crate) outbox_backoff: (Duration, Duration),
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
            .field("owner", &i.owner)
            .field("retry", &i.retry)
            .field("send_timeout", &i.send_timeout)
            .field("concurrency_per_channel", &i.concurrency)
            .field("claim_lease", &i.claim_lease)
            .field("primary_deadline", &i.primary_deadline)
            .field("delivery_deadline", &i.delivery_deadline)
            .finish()
    }
}

/// The primary's target in reports and the journal.
const PRIMARY_TARGET: &str = "page";

/// How often a publish that finds the primary in flight elsewhere looks again.
const PRIMARY_POLL: Duration = Duration::from_millis(250);

/// Whether a pass is an explicit publish or the outbox finishing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// [`Dispatcher::publish`]: failures of any kind are tried again (the
    /// caller may have fixed the configuration).
    Publish,
    /// The outbox: only what may succeed is tried again.
    Outbox,
}

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

    /// Who this dispatcher's claims belong to.
    pub fn owner(&self) -> &Owner {
        &self.inner.owner
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
    /// gave none or did not answer within its deadline, which the report
    /// says.
    ///
    /// The incident and the update's publication are journaled before
    /// anything is sent, so a restarted process (or another replica) can
    /// finish the job with its [outbox](Dispatcher::outbox). Every message is
    /// rendered before anything is sent, so a template error sends nothing.
    /// Deliveries already sent for this update (per the journal) are not sent
    /// again; failed ones are tried again. If another worker is publishing the
    /// same update, this call waits (up to the primary deadline) for its
    /// primary rather than racing ahead of it. Channels run independently,
    /// each with its own concurrency, rate limits, retries and circuit
    /// breaker.
    ///
    /// Dropping the returned future abandons the deliveries in flight: one
    /// whose request had not started is journaled failed (retryable), one
    /// whose request was on its way is journaled in doubt (resent only where
    /// the channel deduplicates or the route says so).
    pub async fn publish(
        &self,
        incident: &Incident,
        update: &Update,
    ) -> Result<DispatchReport, DispatchError> {
        let span = tracing::info_span!("publish", incident = %incident.id(), seq = update.seq);
        async {
            if incident.update(update.seq) != Some(update) {
                return Err(DispatchError::UnknownUpdate {
                    incident: incident.id().clone(),
                    seq: update.seq,
                });
            }
            let inner = &*self.inner;
            let now = clock::now();
            let publication = inner
                .journal
                .record_update(
                    incident,
                    update.seq,
                    now,
                    add(now, inner.delivery_deadline),
                    self.lease_from(now),
                )
                .await?;
            self.pass(incident, update, &publication, Mode::Publish)
                .await
        }
        .instrument(span)
        .await
    }

    /// One pass over a publication: renders, sends what is not settled,
    /// records when the outbox should look again.
    pub(crate) async fn pass(
        &self,
        incident: &Incident,
        update: &Update,
        publication: &Publication,
        mode: Mode,
    ) -> Result<DispatchReport, DispatchError> {
        let inner = &*self.inner;
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
        let internal = Arc::new(View {
            incident: Arc::new(incident.clone()),
            update: Arc::new(update.clone()),
        });
        let public = Arc::new(View {
            incident: Arc::new(incident.without_internal_notes()),
            update: Arc::new(update.public()),
        });
        let planned_at = publication.created_at;
        let now = clock::now();
        let expired =
            (mode == Mode::Outbox && now >= publication.deadline).then_some(publication.deadline);

        let finishes = Finishes::default();

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
        // A prompt to an incident role goes to the person in it alone.
        let role_plan = update
            .prompt
            .as_ref()
            .and_then(|prompt| self.role_plan(incident, prompt.role));
        let mut rendered = Vec::new();
        if let Some(plan) = &role_plan {
            let message = inner.templates.render(
                &internal.incident,
                &internal.update,
                plan.policy.audience(),
                Detail::Internal,
            )?;
            rendered.push((plan, Detail::Internal, internal.clone(), Arc::new(message)));
        }
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
            let message = inner
                .templates
                .render_for(&view.incident, &view.update, policy)?;
            rendered.push((plan, detail, view.clone(), Arc::new(message)));
        }

        // 2. The primary, first, within its deadline; its permalink is the
        //    link, fixed once for every pass and every replica.
        let primary_prepared = page_message.map(|message| Prepared {
            audience: customers.clone(),
            detail: Detail::Public,
            view: public.clone(),
            parts: fitted(&message, &canonical, &inner.primary, Overflow::Shorten),
            message,
            planned_at,
        });
        let primary_options = self.options(mode, inner.primary.deduplicates, None);
        type PrimaryJob<'f> = Pin<Box<dyn Future<Output = Option<DeliveryReport>> + Send + 'f>>;
        let mut primary_job: Option<PrimaryJob<'_>> = primary_prepared.as_ref().map(|prepared| {
            Box::pin(self.publish_primary(
                prepared,
                &canonical,
                primary_options,
                expired,
                &finishes,
            )) as PrimaryJob<'_>
        });
        let mut primary_done: Option<Option<DeliveryReport>> = None;
        let choice = match (&publication.link, primary_job.as_mut()) {
            (Some(fixed), _) => fixed.clone(),
            (None, None) => {
                let reason = "the update is not for customers, so the status page was not updated";
                let choice = LinkChoice::new(
                    (*canonical).clone(),
                    LinkSource::Canonical {
                        reason: reason.into(),
                    },
                );
                self.fix_link(incident, update.seq, choice).await
            }
            (None, Some(job)) => {
                let choice = match tokio::time::timeout(inner.primary_deadline, job.as_mut()).await
                {
                    Ok(report) => {
                        let choice = link_from(report.as_ref(), &canonical);
                        primary_done = Some(report);
                        choice
                    }
                    Err(_) => LinkChoice::new(
                        (*canonical).clone(),
                        LinkSource::Canonical {
                            reason: format!(
                                "the primary did not answer within {:?}",
                                inner.primary_deadline
                            ),
                        },
                    ),
                };
                self.fix_link(incident, update.seq, choice).await
            }
        };
        let LinkChoice {
            url: link,
            source: link_source,
            ..
        } = choice;
        if let LinkSource::Canonical { reason } = &link_source {
            tracing::warn!(%reason, "fanning out with the canonical URL");
        }
        let link = Arc::new(link);

        // 3. Fit each audience's message to each of its routes' channels.
        let mut plans = Vec::new();
        for (plan, detail, view, message) in rendered {
            for (lane, route) in &plan.routes {
                let channel = &inner.lanes[*lane];
                plans.push(RoutePlan {
                    lane: *lane,
                    prepared: Prepared {
                        audience: plan.policy.audience().clone(),
                        detail,
                        view: view.clone(),
                        parts: fitted(&message, &link, channel, route.overflow),
                        message: message.clone(),
                        planned_at,
                    },
                    targets: route.targets(),
                    options: self.options(mode, channel.deduplicates, route.resend_in_doubt),
                });
            }
        }

        // 4. Execute: every channel in its own lane, all lanes at once, the
        //    primary finishing beside them if it missed its deadline.
        let lanes = (0..inner.lanes.len()).filter_map(|i| {
            let routes: Vec<&RoutePlan<'_>> = plans.iter().filter(|p| p.lane == i).collect();
            (!routes.is_empty()).then(|| self.run_lane(i, routes, &link, mode, expired, &finishes))
        });
        let fan_out = futures::future::join_all(lanes);
        let primary = async {
            match (primary_done, primary_job) {
                (Some(report), _) => report,
                (None, Some(job)) => job.await,
                (None, None) => None,
            }
        };
        let (primary, lanes) = futures::future::join(primary, fan_out).await;
        // Every outcome is in the journal before the pass ends.
        finishes.wait().await;
        let mut pending_since: Option<DateTime<Utc>> = None;
        let mut pending = false;
        let mut deliveries = Kept::new(inner.report_limit);
        for (kept, resend) in lanes {
            // Only deliveries that need attention can be unsettled, and a
            // lane never drops one of those for a sent one.
            if kept.counts.failed + kept.counts.in_flight + kept.counts.in_doubt
                > kept.reports.len()
            {
                // Some were dropped beyond the limit: the outbox looks again.
                pending = true;
            }
            for report in &kept.reports {
                let resend = resend.get(&report.key).copied().unwrap_or(false);
                if unsettled(&report.outcome, resend) {
                    pending = true;
                    if let Outcome::InFlight { lease_until, .. } = &report.outcome {
                        pending_since =
                            Some(pending_since.map_or(*lease_until, |p| p.min(*lease_until)));
                    }
                }
            }
            deliveries.merge(kept);
        }
        if let Some(report) = &primary
            && unsettled(&report.outcome, primary_options.resend_in_doubt)
        {
            pending = true;
        }

        // 5. When the outbox should look again.
        let next = pending.then(|| {
            let (base, max) = inner.outbox_backoff;
            let exp = 2u32.saturating_pow(publication.passes.min(16));
            let backoff = base.saturating_mul(exp).min(max);
            let at = add(clock::now(), backoff);
            pending_since.map_or(at, |lease| at.min(lease))
        });
        if let Err(e) = inner
            .journal
            .end_pass(incident.id(), update.seq, next)
            .await
        {
            tracing::error!(error = %e, "could not record the end of a pass; the outbox will look again");
        }

        Ok(DispatchReport {
            incident: incident.id().clone(),
            seq: update.seq,
            link: (*link).clone(),
            link_source,
            primary,
            deliveries: deliveries.reports,
            counts: deliveries.counts,
            omitted: deliveries.omitted,
            pending,
        })
    }

    /// The claim options of a route.
    fn options(&self, mode: Mode, deduplicates: bool, resend: Option<bool>) -> ClaimOptions {
        ClaimOptions::new()
            .resend_in_doubt(resend.unwrap_or(deduplicates))
            .retry_permanent(mode == Mode::Publish)
    }

    /// Fixes the link in the journal (the first choice wins across replicas)
    /// and returns the one fixed. If the journal cannot record it, `choice`
    /// is used for this pass.
    async fn fix_link(&self, incident: &Incident, seq: u32, choice: LinkChoice) -> LinkChoice {
        match self
            .inner
            .journal
            .choose_link(incident.id(), seq, &choice)
            .await
        {
            Ok(fixed) => fixed,
            Err(e) => {
                tracing::error!(error = %e, "could not record the link; using it for this pass");
                choice
            }
        }
    }

    /// Sends to the primary. If another worker holds the primary's claim,
    /// waits (bounded by the primary deadline) for its outcome instead of
    /// fanning out ahead of it.
    async fn publish_primary(
        &self,
        prepared: &Prepared,
        canonical: &Arc<Url>,
        options: ClaimOptions,
        expired: Option<DateTime<Utc>>,
        finishes: &Finishes,
    ) -> Option<DeliveryReport> {
        let inner = &*self.inner;
        let deadline = tokio::time::Instant::now() + inner.primary_deadline;
        loop {
            let job = Job {
                lane: &inner.primary,
                primary: true,
                prepared,
                target: Target::from_static(PRIMARY_TARGET),
                audiences: vec![Audience::Customers],
                link: canonical,
                options,
                expired,
                peek: false,
                finishes,
            };
            let report = self.run_job(job).await.into_iter().next()?;
            if !matches!(report.outcome, Outcome::InFlight { .. })
                || tokio::time::Instant::now() >= deadline
            {
                return Some(report);
            }
            tokio::time::sleep(PRIMARY_POLL).await;
        }
    }

    /// Every delivery of one channel, `concurrency` at a time; returns the
    /// reports and, per key, whether a doubt would be resent.
    async fn run_lane(
        &self,
        lane_index: usize,
        routes: Vec<&RoutePlan<'_>>,
        link: &Arc<Url>,
        mode: Mode,
        expired: Option<DateTime<Utc>>,
        finishes: &Finishes,
    ) -> (Kept, HashMap<crate::channel::IdempotencyKey, bool>) {
        let inner = &*self.inner;
        let lane = &inner.lanes[lane_index];
        // Audiences per shared target: one message reaches them all.
        let mut shared: HashMap<&Target, Vec<Audience>> = HashMap::new();
        if !inner.shared.is_empty() {
            for plan in &routes {
                for t in plan.targets {
                    if inner.shared.contains(&(lane_index, t.clone())) {
                        let list = shared.entry(t).or_default();
                        if !list.contains(&plan.prepared.audience) {
                            list.push(plan.prepared.audience.clone());
                        }
                    }
                }
            }
        }
        let mut seen: HashSet<&Target> = HashSet::new();
        let peek = lane.limiters.is_limited() || mode == Mode::Outbox;
        let jobs = routes
            .into_iter()
            .flat_map(|p| p.targets.iter().map(move |t| (p, t)))
            .filter_map(|(p, t)| {
                let audiences = match shared.get(t) {
                    // A target routed from several audiences is sent to once.
                    Some(list) => {
                        if !seen.insert(t) {
                            return None;
                        }
                        list.clone()
                    }
                    None => vec![p.prepared.audience.clone()],
                };
                Some(Job {
                    lane,
                    primary: false,
                    prepared: &p.prepared,
                    target: t.clone(),
                    audiences,
                    link,
                    options: p.options,
                    expired,
                    peek,
                    finishes,
                })
            });
        let mut kept = Kept::new(inner.report_limit);
        let mut resend = HashMap::new();
        // Boxed: the adapters' closures would otherwise be part of the
        // future's type, and rustc cannot prove such futures `Send` (so a
        // publish could not be spawned).
        let mut done = stream::iter(jobs)
            .map(|job| {
                let options = job.options;
                self.run_job(job).map(move |r| (r, options))
            })
            .buffer_unordered(inner.concurrency)
            .boxed();
        while let Some((job_reports, options)) = done.next().await {
            for r in &job_reports {
                if matches!(r.outcome, Outcome::InDoubt(_)) {
                    resend.insert(r.key.clone(), options.resend_in_doubt);
                }
            }
            for r in job_reports {
                kept.push(r);
            }
        }
        lane.limiters.shrink();
        (kept, resend)
    }

    /// When a claim taken at `now` runs out.
    pub(crate) fn lease_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        add(now, self.inner.claim_lease)
    }
}

/// `t + d`, saturating.
pub(crate) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(chrono_duration(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A std duration as chrono's, saturating.
pub(crate) fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The fan-out link: the primary's permalink, else the canonical URL and why.
fn link_from(report: Option<&DeliveryReport>, canonical: &Arc<Url>) -> LinkChoice {
    let canonical_because =
        |reason: String| LinkChoice::new((**canonical).clone(), LinkSource::Canonical { reason });
    let Some(report) = report else {
        return canonical_because("the primary produced no message".into());
    };
    match &report.outcome {
        Outcome::Sent(r) | Outcome::AlreadySent(r) => match &r.permalink {
            Some(url) => LinkChoice::new(url.clone(), LinkSource::Primary),
            None => canonical_because("the primary returned no permalink".into()),
        },
        Outcome::Failed(f) => canonical_because(format!("the primary failed: {f}")),
        Outcome::InDoubt(reason) => canonical_because(format!("the primary is in doubt: {reason}")),
        Outcome::InFlight { .. } => {
            canonical_because("the primary is still being published by another worker".into())
        }
    }
}

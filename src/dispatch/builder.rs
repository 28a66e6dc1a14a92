//! Configuring a [`Dispatcher`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::breaker::{Breaker, CircuitBreaker};
use super::budget::{Budget, RetryBudget};
use super::dispatcher::{Dispatcher, Inner, PolicyPlan};
use super::lane::Lane;
use super::limiter::Limiters;
use super::metrics::Telemetry;
use super::pause::Pauses;
use super::retry::RetryPolicy;
use crate::audience::{AudiencePolicy, Detail, PolicyError, Target};
use crate::channel::{Channel, RateLimit};
use crate::journal::{Journal, MemoryJournal, Owner};
use crate::render::Templates;

/// Why a dispatcher could not be built. Each variant names the bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The canonical URL template is not an absolute http(s) URL with `{id}`.
    #[error("canonical URL {template:?}: {reason}")]
    CanonicalUrl {
        /// The template as given.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// No primary channel was configured.
    #[error("no primary channel: call .primary(name, channel)")]
    NoPrimary,
    /// The channel given as primary does not say it can be one.
    #[error("channel {0:?} cannot be the primary (its limits().primary is false)")]
    NotAPrimary(String),
    /// Two channels share a name.
    #[error("two channels are named {0:?}")]
    DuplicateChannel(String),
    /// A route names a channel that was not registered.
    #[error("audience {audience}: route to unknown channel {channel:?}")]
    UnknownChannel {
        /// The audience.
        audience: String,
        /// The channel name.
        channel: String,
    },
    /// A route names the primary; the primary already receives every update.
    #[error("audience {0}: routes cannot name the primary; it receives every update already")]
    RouteToPrimary(String),
    /// Two policies for the same audience.
    #[error("audience {0} has two policies")]
    DuplicateAudience(String),
    /// A policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The same channel target is routed from audiences with different detail
    /// levels; it would receive one message, and which detail is ambiguous.
    #[error("target {target} on channel {channel:?} is routed at both public and internal detail")]
    ConflictingDetail {
        /// The channel name.
        channel: String,
        /// The target.
        target: Target,
    },
    /// A rate-limit override names an unknown channel.
    #[error("rate limit for unknown channel {0:?}")]
    UnknownRateLimitChannel(String),
    /// Concurrency or timeout was zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

/// The default [`DispatcherBuilder::claim_lease`].
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(60);
/// The default [`DispatcherBuilder::primary_deadline`].
pub const DEFAULT_PRIMARY_DEADLINE: Duration = Duration::from_secs(10);
/// The default [`DispatcherBuilder::delivery_deadline`].
pub const DEFAULT_DELIVERY_DEADLINE: Duration = Duration::from_secs(6 * 60 * 60);

/// How many deliveries a report keeps one by one unless
/// [`DispatcherBuilder::report_limit`] says otherwise.
pub const DEFAULT_REPORT_LIMIT: usize = 10_000;

/// Builds a [`Dispatcher`]; start with [`Dispatcher::builder`].
#[must_use]
pub struct DispatcherBuilder {
    canonical: String,
    canonical_maintenance: Option<String>,
    primary: Option<(String, Arc<dyn Channel>)>,
    channels: Vec<(String, Arc<dyn Channel>)>,
    audiences: Vec<AudiencePolicy>,
    journal: Option<Arc<dyn Journal>>,
    owner: Option<Owner>,
    templates: Templates,
    retry: RetryPolicy,
    send_timeout: Duration,
    concurrency: usize,
    report_limit: usize,
    claim_lease: Duration,
    primary_deadline: Duration,
    delivery_deadline: Duration,
    outbox_backoff: (Duration, Duration),
    breaker: CircuitBreaker,
    budget: RetryBudget,
    rates: HashMap<String, (Option<RateLimit>, Option<RateLimit>)>,
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("canonical", &self.canonical)
            .field("canonical_maintenance", &self.canonical_maintenance)
            .field("primary", &self.primary.as_ref().map(|p| &p.0))
            .field(
                "channels",
                &self.channels.iter().map(|c| &c.0).collect::<Vec<_>>(),
            )
            .field("audiences", &self.audiences.len())
            .finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    pub(crate) fn new(canonical_url: String) -> Self {
        Self {
            canonical: canonical_url,
            canonical_maintenance: None,
            primary: None,
            channels: Vec::new(),
            audiences: Vec::new(),
            journal: None,
            owner: None,
            templates: Templates::new(),
            retry: RetryPolicy::default(),
            send_timeout: Duration::from_secs(30),
            concurrency: 16,
            report_limit: DEFAULT_REPORT_LIMIT,
            claim_lease: DEFAULT_CLAIM_LEASE,
            primary_deadline: DEFAULT_PRIMARY_DEADLINE,
            delivery_deadline: DEFAULT_DELIVERY_DEADLINE,
            outbox_backoff: (Duration::from_secs(5), Duration::from_secs(300)),
            breaker: CircuitBreaker::default(),
            budget: RetryBudget::default(),
            rates: HashMap::new(),
        }
    }

    /// The primary source of truth (a status page). It receives every update
    /// first; its permalink is the link in every other message.
    pub fn primary(mut self, name: impl Into<String>, channel: Arc<dyn Channel>) -> Self {
        self.primary = Some((name.into(), channel));
        self
    }

    /// The canonical URL of a scheduled maintenance's page, with `{id}` for
    /// its id (`https://status.example.com/maintenance/{id}.html`, where the
    /// static status page puts it): the link when the primary gives no
    /// permalink for a [maintenance](crate::incident::Incident::maintenance).
    /// By default, the incidents' canonical URL.
    pub fn canonical_maintenance_url(mut self, template: impl Into<String>) -> Self {
        self.canonical_maintenance = Some(template.into());
        self
    }

    /// Registers a channel under `name`, for routes to name.
    pub fn channel(mut self, name: impl Into<String>, channel: Arc<dyn Channel>) -> Self {
        self.channels.push((name.into(), channel));
        self
    }

    /// Adds an audience and how it is told.
    pub fn audience(mut self, policy: AudiencePolicy) -> Self {
        self.audiences.push(policy);
        self
    }

    /// Where deliveries, incidents and publications are journaled (default:
    /// a new [`MemoryJournal`], forgotten at exit; a service that must
    /// survive a restart uses the SQLite journal, replicas a shared
    /// PostgreSQL one).
    pub fn journal(mut self, journal: Arc<dyn Journal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Who this dispatcher's claims belong to (default: a fresh
    /// [`Owner::unique`] per dispatcher). Two live dispatchers must never
    /// share an owner.
    pub fn owner(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// The message templates (default: [`Templates::new`]).
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// How failed sends are retried (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The longest one call to a channel may take (default 30 s; HTTP channels
    /// also have their own, shorter, request timeouts).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// How many deliveries may be in flight on one channel at once (default
    /// 16). Channels are independent: a slow one never takes another's slots.
    pub fn concurrency_per_channel(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// How many deliveries a [`DispatchReport`](super::DispatchReport) keeps
    /// one by one (default 10,000): beyond it, those that need attention
    /// (failed, in doubt) are kept first and those sent are only counted,
    /// so a publish's memory does not grow with its audience. The journal
    /// has every one.
    pub fn report_limit(mut self, limit: usize) -> Self {
        self.report_limit = limit;
        self
    }

    /// How long a claim on a delivery holds unless renewed (default 60 s).
    /// A live sender renews it every third of the lease while its request
    /// runs, so the lease only bounds how long a crashed worker's claim
    /// blocks the delivery before the outbox (here or on another replica)
    /// takes it over, in doubt.
    pub fn claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    /// How long the fan-out waits for the primary before it goes out with the
    /// canonical URL (default 10 s). The primary keeps trying beside the
    /// fan-out, and the outbox after it; the report says which link every
    /// message carries.
    pub fn primary_deadline(mut self, deadline: Duration) -> Self {
        self.primary_deadline = deadline;
        self
    }

    /// How long after an update is first published its deliveries may still
    /// be sent (default 6 hours); past it, what is not sent fails for good
    /// ([`Failure::DeadlinePassed`](crate::journal::Failure::DeadlinePassed)),
    /// since the news would be stale.
    pub fn delivery_deadline(mut self, deadline: Duration) -> Self {
        self.delivery_deadline = deadline;
        self
    }

    /// How long the outbox waits before its next pass over an update that
    /// still has work: `base` after the first pass, doubling up to `max`
    /// (default 5 s to 5 minutes). A claim held elsewhere is looked at again
    /// when its lease ends.
    pub fn outbox_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.outbox_backoff = (base, max.max(base));
        self
    }

    /// How many retries each channel may make, against its first attempts
    /// (default: [`RetryBudget::default`], as tower's).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// When a channel's circuit opens (default: [`CircuitBreaker::default`]).
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = breaker;
        self
    }

    /// Overrides a channel's own rate limit (all targets together).
    pub fn rate_limit(mut self, channel: impl Into<String>, rate: RateLimit) -> Self {
        self.rates.entry(channel.into()).or_default().0 = Some(rate);
        self
    }

    /// Overrides a channel's own per-target rate limit.
    pub fn per_target_rate_limit(mut self, channel: impl Into<String>, rate: RateLimit) -> Self {
        self.rates.entry(channel.into()).or_default().1 = Some(rate);
        self
    }

    /// Validates everything and builds the dispatcher.
    pub fn build(self) -> Result<Dispatcher, ConfigError> {
        check_canonical(&self.canonical)?;
        if let Some(template) = &self.canonical_maintenance {
            check_canonical(template)?;
        }
        if self.concurrency == 0 {
            return Err(ConfigError::Zero("concurrency_per_channel"));
        }
        if self.send_timeout.is_zero() {
            return Err(ConfigError::Zero("send_timeout"));
        }
        if self.claim_lease.is_zero() {
            return Err(ConfigError::Zero("claim_lease"));
        }
        if self.primary_deadline.is_zero() {
            return Err(ConfigError::Zero("primary_deadline"));
        }
        if self.delivery_deadline.is_zero() {
            return Err(ConfigError::Zero("delivery_deadline"));
        }
        if self.outbox_backoff.0.is_zero() {
            return Err(ConfigError::Zero("outbox_backoff"));
        }
        let (primary_name, primary) = self.primary.ok_or(ConfigError::NoPrimary)?;
        if !primary.limits().primary {
            return Err(ConfigError::NotAPrimary(primary_name));
        }
        let mut names: HashSet<&str> = HashSet::from([primary_name.as_str()]);
        for (name, _) in &self.channels {
            if !names.insert(name) {
                return Err(ConfigError::DuplicateChannel(name.clone()));
            }
        }
        if let Some(name) = self.rates.keys().find(|n| !names.contains(n.as_str())) {
            return Err(ConfigError::UnknownRateLimitChannel(name.clone()));
        }
        let lane = |name: &str, channel: &Arc<dyn Channel>| {
            let limits = channel.limits();
            let (rate, per_target) = self.rates.get(name).copied().unwrap_or_default();
            Lane {
                name: name.into(),
                channel: channel.clone(),
                limiters: Limiters::new(
                    rate.or(limits.rate),
                    per_target.or(limits.per_target_rate),
                ),
                pauses: Pauses::new(limits.rate_limit_scope),
                breaker: Breaker::new(self.breaker),
                budget: Budget::new(self.budget),
                counters: Default::default(),
                telemetry: Telemetry::new(name.into()),
                deduplicates: limits.deduplicates,
            }
        };
        let primary = lane(&primary_name, &primary);
        let lanes: Vec<Lane> = self.channels.iter().map(|(n, c)| lane(n, c)).collect();

        let mut seen_audiences = HashSet::new();
        let mut target_detail: HashMap<(usize, &Target), (Detail, u32)> = HashMap::new();
        let mut plans = Vec::with_capacity(self.audiences.len());
        for policy in &self.audiences {
            policy.validate()?;
            if !seen_audiences.insert(policy.audience.clone()) {
                return Err(ConfigError::DuplicateAudience(policy.audience.to_string()));
            }
            let mut routes = Vec::with_capacity(policy.routes.len());
            for route in &policy.routes {
                if route.channel == primary_name {
                    return Err(ConfigError::RouteToPrimary(policy.audience.to_string()));
                }
                let Some(i) = lanes.iter().position(|l| *l.name == *route.channel) else {
                    return Err(ConfigError::UnknownChannel {
                        audience: policy.audience.to_string(),
                        channel: route.channel.clone(),
                    });
                };
                for target in &route.targets {
                    let e = target_detail
                        .entry((i, target))
                        .or_insert((policy.detail, 0));
                    if e.0 != policy.detail {
                        return Err(ConfigError::ConflictingDetail {
                            channel: route.channel.clone(),
                            target: target.clone(),
                        });
                    }
                    e.1 += 1;
                }
                routes.push((i, route.clone()));
            }
            plans.push(PolicyPlan {
                policy: policy.clone(),
                routes,
            });
        }
        let shared: HashSet<(usize, Target)> = target_detail
            .into_iter()
            .filter(|(_, (_, n))| *n > 1)
            .map(|((i, t), _)| (i, t.clone()))
            .collect();
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                canonical_maintenance: self
                    .canonical_maintenance
                    .unwrap_or_else(|| self.canonical.clone()),
                canonical: self.canonical,
                primary,
                lanes,
                audiences: plans,
                shared,
                journal: self
                    .journal
                    .unwrap_or_else(|| Arc::new(MemoryJournal::new())),
                owner: self.owner.unwrap_or_else(Owner::unique),
                templates: self.templates,
                retry: self.retry,
                send_timeout: self.send_timeout,
                concurrency: self.concurrency,
                report_limit: self.report_limit,
                claim_lease: self.claim_lease,
                primary_deadline: self.primary_deadline,
                delivery_deadline: self.delivery_deadline,
                outbox_backoff: self.outbox_backoff,
            }),
        })
    }
}

/// The canonical URL of an incident: the template with `{id}` replaced.
pub(crate) fn canonical_url(template: &str, id: &str) -> Result<Url, String> {
    let url = Url::parse(&template.replace("{id}", id)).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("scheme {other:?} is not http(s)")),
    }
}

fn check_canonical(template: &str) -> Result<(), ConfigError> {
    let err = |reason: String| ConfigError::CanonicalUrl {
        template: template.to_owned(),
        reason,
    };
    if !template.contains("{id}") {
        return Err(err("must contain {id}".into()));
    }
    canonical_url(template, "inc-1").map(|_| ()).map_err(err)
}

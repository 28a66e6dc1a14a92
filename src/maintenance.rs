//! Scheduled maintenance: announced in advance, a reminder before it starts,
//! then told like an incident.
//!
//! A maintenance is an [`Incident`] made with [`Incident::maintenance`]: it
//! has a [`MaintenanceWindow`](crate::incident::MaintenanceWindow) and moves
//! through Statuspage's maintenance statuses ([`Status::Scheduled`],
//! [`Status::InProgress`], [`Status::Verifying`], [`Status::Completed`]). It is
//! published with [`Dispatcher::publish`] like any incident:
//!
//! - the primary shows it as a scheduled maintenance (the static status page,
//!   feature `status-page`, as upcoming, in progress or completed, with its
//!   own page as the permalink; Statuspage, feature `statuspage-io`, as a
//!   scheduled incident), and every message links to it;
//! - each act has its own templates (`announcement`, `reminder`,
//!   `maintenance` while under way, `completion`), and the title says
//!   "Maintenance";
//! - [`Dispatcher::send_maintenance_reminders`] reminds every audience that
//!   was told of it, once, at the lead time its policy asks for
//!   ([`AudiencePolicy::maintenance_reminder`], one hour by default), before
//!   the window starts; [`Dispatcher::watch`] does so on its own;
//! - messages the primary is not sent (updates not for customers) link to the
//!   dispatcher's canonical URL for maintenances
//!   ([`canonical_maintenance_url`](crate::dispatch::DispatcherBuilder::canonical_maintenance_url);
//!   set it to where your status page puts them);
//! - silences before the window starts are not gaps in the
//!   [cadence](crate::cadence) or the [review](crate::review): there is
//!   nothing to tell until the work starts (and the announcement promised the
//!   start).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tidings::channel::memory::MemoryChannel;
//! use tidings::prelude::*;
//!
//! let email = Arc::new(MemoryChannel::new());
//! let dispatcher = Dispatcher::builder("https://status.example.com/maintenance/{id}")
//!     .primary("page", Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?)))
//!     .channel("email", email.clone())
//!     .audience(
//!         AudiencePolicy::new(Audience::Customers)
//!             .route(Route::new("email", [Target::new("customers@example.com")?]))
//!             .maintenance_reminder(Some(Duration::from_secs(24 * 3600))),
//!     )
//!     .build()?;
//!
//! let now = tidings::clock::now();
//! let start = now + chrono::Duration::days(3);
//! let mut m = Incident::maintenance(
//!     IncidentId::new("mnt-1")?,
//!     "Database upgrade",
//!     MaintenanceWindow::new(start, start + chrono::Duration::hours(2))?,
//!     now,
//! )?;
//! let announcement = m
//!     .post(UpdateDraft::new(Status::Scheduled, now, "The API will be read-only."))?
//!     .clone();
//! dispatcher.publish(&m, &announcement).await?;
//! assert!(email.texts()[0].starts_with("[Maintenance scheduled] Database upgrade"));
//!
//! // Nothing is due until a day before the start...
//! assert_eq!(dispatcher.next_maintenance_reminder(&m), Some(start - chrono::Duration::days(1)));
//! assert!(dispatcher.send_maintenance_reminders(&mut m, now).await?.is_empty());
//! // ...then the reminder goes out, once.
//! tokio::time::sleep(Duration::from_secs(2 * 24 * 3600)).await;
//! let now = tidings::clock::now();
//! assert_eq!(dispatcher.send_maintenance_reminders(&mut m, now).await?.len(), 1);
//! assert!(email.texts()[1].starts_with("[Maintenance reminder] Database upgrade"));
//! assert!(dispatcher.send_maintenance_reminders(&mut m, now).await?.is_empty());
//! assert_eq!(email.texts().len(), 2);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::audience::{Audience, AudiencePolicy};
use crate::cadence::CadenceError;
use crate::dispatch::{DispatchReport, Dispatcher};
use crate::incident::{Incident, Status, Update, UpdateDraft};
use crate::journal::DeliveryState;

impl Dispatcher {
    /// Reminds every audience that is due a reminder of the scheduled
    /// maintenance `incident` at `now`; returns the reports (empty when
    /// nobody was due).
    ///
    /// An audience is due when its policy asks for reminders
    /// ([`AudiencePolicy::maintenance_reminder`]), it was told of the
    /// maintenance (an earlier update was for it, and the latest of those was
    /// posted before the lead time began: news that late is its own
    /// reminder), it has not been reminded yet, and `now` is within its lead
    /// time before the window starts. The
    /// reminder is an [`Update`] posted on `incident`: status scheduled,
    /// marked [`Update::reminder`] (rendered with the `reminder.*`
    /// templates), repeating the latest announcement's public message, only
    /// for the due audiences. It is published like any other, so it is
    /// journaled, carries the link, threads under the announcement and shows
    /// in the review.
    ///
    /// Nothing is sent for an incident that is not a maintenance, before its
    /// announcement, once it has started (by the clock or by an update), or
    /// once it is completed. A reminder whose deliveries failed and may be
    /// retried is published again (sending only what failed) instead of a new
    /// one being posted.
    pub async fn send_maintenance_reminders(
        &self,
        incident: &mut Incident,
        now: DateTime<Utc>,
    ) -> Result<Vec<DispatchReport>, CadenceError> {
        let mut reports = Vec::new();
        if incident.window().is_none_or(|w| now >= w.scheduled_for()) {
            return Ok(reports);
        }
        for seq in self.undelivered_reminders(incident, now).await? {
            if let Some(update) = incident.update(seq).cloned() {
                tracing::info!(incident = %incident.id(), seq, "publishing an undelivered maintenance reminder again");
                reports.push(self.publish(incident, &update).await?);
            }
        }
        let Some(announcement) = latest_announcement(incident) else {
            return Ok(reports);
        };
        let due: Vec<Audience> = self
            .reminders(incident)
            .filter(|(_, at)| *at <= now)
            .map(|(policy, _)| policy.audience().clone())
            .collect();
        if due.is_empty() {
            return Ok(reports);
        }
        let at = now.max(incident.latest().map_or(now, |u| u.at));
        let draft = UpdateDraft::new(Status::Scheduled, at, announcement.message.clone())
            .reminder()
            .only_for(due);
        let update = incident.post(draft)?.clone();
        tracing::info!(incident = %incident.id(), seq = update.seq, "sending a maintenance reminder");
        reports.push(self.publish(incident, &update).await?);
        Ok(reports)
    }

    /// When the next reminder of the scheduled maintenance `incident` falls
    /// due (possibly already past), if any audience is still to be reminded.
    /// `None` for an incident that is not a maintenance, before its
    /// announcement, and once an update says the work started (or was posted
    /// after the window's start). Past the start by the clock alone it may
    /// still give a time, but
    /// [`send_maintenance_reminders`](Self::send_maintenance_reminders) then
    /// sends nothing.
    pub fn next_maintenance_reminder(&self, incident: &Incident) -> Option<DateTime<Utc>> {
        self.reminders(incident).map(|(_, at)| at).min()
    }

    /// Every audience still to be reminded, with when it falls due.
    fn reminders<'a>(
        &'a self,
        incident: &'a Incident,
    ) -> impl Iterator<Item = (&'a AudiencePolicy, DateTime<Utc>)> + 'a {
        let start = incident
            .window()
            .map(|w| w.scheduled_for())
            .filter(|_| incident.status() == Status::Scheduled)
            .filter(|start| incident.latest().is_some_and(|u| u.at < *start));
        start.into_iter().flat_map(move |start| {
            self.policies().filter_map(move |policy| {
                let before = chrono::Duration::from_std(policy.reminds_before()?).ok()?;
                let due = start.checked_sub_signed(before).unwrap_or(start);
                let audience = policy.audience();
                let mut for_them = incident
                    .updates()
                    .iter()
                    .filter(|u| u.recipients.includes(audience));
                let reminded = for_them.clone().any(|u| u.reminder);
                // Told, and not so late that the news is its own reminder.
                let told_before_due = for_them.rfind(|u| !u.reminder).is_some_and(|u| u.at < due);
                (told_before_due && !reminded && policy.cares_about(incident))
                    .then_some((policy, due))
            })
        })
    }

    /// When [`Dispatcher::watch`] should look at the reminders of `incident`
    /// again: the next reminder or the start, or within
    /// [`WATCH_RETRY`](crate::cadence::WATCH_RETRY) while an audience that
    /// asks for reminders has not been told yet (it may be, and then be
    /// due) or a reminder waits to be delivered again. `None` once no
    /// reminder can come due: not a maintenance, started, or closed.
    pub(crate) async fn reminder_wake(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, CadenceError> {
        let Some(start) = incident
            .window()
            .map(|w| w.scheduled_for())
            .filter(|start| now < *start && incident.status() == Status::Scheduled)
        else {
            return Ok(None);
        };
        let mut wake = self
            .next_maintenance_reminder(incident)
            .map_or(start, |due| due.min(start));
        let untold = self.policies().any(|p| {
            p.reminds_before().is_some()
                && p.cares_about(incident)
                && !incident
                    .updates()
                    .iter()
                    .any(|u| u.recipients.includes(p.audience()))
        });
        if untold || !self.undelivered_reminders(incident, now).await?.is_empty() {
            wake = wake.min(crate::cadence::add(now, crate::cadence::WATCH_RETRY));
        }
        Ok(Some(wake))
    }

    /// Reminders posted on `incident` with deliveries that failed and may be
    /// retried, claimed by a worker whose lease has ended (it stopped), or
    /// with no delivery journaled at all (the process stopped between posting
    /// and publishing).
    async fn undelivered_reminders(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<u32>, CadenceError> {
        let reminders: Vec<&Update> = incident.updates().iter().filter(|u| u.reminder).collect();
        if reminders.is_empty() || incident.status().is_closed() {
            return Ok(BTreeSet::new());
        }
        let records = self.journal().records(incident.id()).await?;
        Ok(reminders
            .into_iter()
            .filter(|u| {
                let mut mine = records.iter().filter(|r| r.entry.seq == u.seq).peekable();
                mine.peek().is_none()
                    || mine.any(|r| match &r.state {
                        DeliveryState::Failed { failure, .. } => failure.is_retryable(),
                        DeliveryState::Claimed { lease_until, .. } => *lease_until <= now,
                        _ => false,
                    })
            })
            .map(|u| u.seq)
            .collect())
    }
}

/// The latest update of a scheduled maintenance that is not a reminder, if
/// the maintenance is still scheduled: what a reminder repeats.
fn latest_announcement(incident: &Incident) -> Option<&Update> {
    if incident.status() != Status::Scheduled {
        return None;
    }
    incident.news().rev().find(|u| !u.reminder)
}

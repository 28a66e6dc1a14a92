//! The post-incident review: how well did we communicate?
//!
//! The play asks three things of a team: say something early, keep every
//! promise about the next update, and afterwards find every gap, its root
//! cause and what will fill it next time. From the
//! [journal](crate::journal::Journal)'s records *and* history, the incident's
//! updates, the audience policies and the time the review is made
//! ([`Dispatcher::review_at`](crate::dispatch::Dispatcher::review_at); [`Dispatcher::review`](crate::dispatch::Dispatcher::review) is as of now), per
//! audience and per channel:
//!
//! - **Every silence**: from the start (or when the audience became relevant)
//!   to the first message, between received messages, and from the last one
//!   to the resolution, or, while the incident is open, to the time of the
//!   review. An audience that never hears has one silence over the whole
//!   span. Each is judged against its target: the audience's first-message
//!   target ([`first_message_within`](crate::audience::AudiencePolicy::first_message_within))
//!   before an incident's first message, its longest silence
//!   ([`max_silence`](crate::audience::AudiencePolicy::max_silence))
//!   otherwise. The summary counts silences per audience (one silence seen on
//!   three channels is one); the channels' rows are beside them.
//! - **Every promise** ([`Update::next_update_at`](crate::incident::Update::next_update_at)):
//!   kept, kept late (and by how much), broken (the resolution came without
//!   an update), pending or overdue.
//! - **Deliveries that failed before they went out**, with the delay it cost,
//!   besides those that failed for good, went out without the link, or are
//!   unfinished.
//! - **The postmortem**, flagged when missing longer than
//!   [`DEFAULT_POSTMORTEM_WITHIN`] after the resolution
//!   ([`ReviewBuilder::postmortem_within`]).
//! - **Who owned the communication**: the incident's roles, and every
//!   reminder to the owner and escalation to the commander.
//! - **The review table** ([`Review::findings`], [`Review::review_table`]):
//!   for each gap, the gap, its root cause (for the team to fill in) and a
//!   recommendation from the play's common causes: nobody owned the
//!   communication (define roles), the team did not know what to say
//!   (templates approved in advance), there was no plan (a communication
//!   plan).
//!
//! [`Review::to_markdown`] writes it as a report with tables;
//! [`Review::to_svg`] draws the timeline (one row per channel and audience, a
//! dot per message coloured by act, silences over target in red, promises as
//! diamonds). Both are deterministic for a given journal and time, and escape
//! every piece of user text.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tidings::channel::memory::MemoryChannel;
//! use tidings::prelude::*;
//!
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
//!     .primary("page", Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?)))
//!     .channel("chat", Arc::new(MemoryChannel::new()))
//!     .audience(
//!         AudiencePolicy::new(Audience::CoreResponders)
//!             .route(Route::new("chat", [Target::new("#inc")?])),
//!     )
//!     .build()?;
//! let t0 = tidings::clock::now();
//! let mut incident = Incident::new(IncidentId::new("inc-1")?, "API errors", Impact::Major, t0)?;
//! tokio::time::sleep(Duration::from_secs(5 * 60)).await;
//! let now = tidings::clock::now();
//! let first = incident
//!     .post(UpdateDraft::new(Status::Investigating, now, "Errors on the API.")
//!         .next_update_at(now + chrono::Duration::minutes(20)))?
//!     .clone();
//! dispatcher.publish(&incident, &first).await?;
//!
//! let review = dispatcher.review(&incident).await?;
//! let chat = review.channel("chat", &Audience::CoreResponders).unwrap();
//! assert_eq!(chat.timeline.first_message, Some(Duration::from_secs(5 * 60)));
//! assert!(review.to_markdown().contains("| chat | core\\_responders |"));
//! assert!(review.to_svg().starts_with("<svg"));
//! # Ok(())
//! # }
//! ```

mod analysis;
mod markdown;
mod svg;

pub use analysis::{
    AudienceReview, ChannelReview, DEFAULT_POSTMORTEM_WITHIN, FailedDelivery, Finding, FindingKind,
    Gap, GapEnd, Message, MessageKind, MissingLink, PostmortemStatus, Promise, PromiseOutcome,
    PromptReview, Recommendation, RecoveredDelivery, Review, ReviewBuilder, Timeline,
    UpdateSummary,
};

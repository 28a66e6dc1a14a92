//! The post-incident review: how well did we communicate?
//!
//! From the [journal](crate::journal::Journal), per audience and per channel:
//! the time from the incident start to the first message, every silence
//! between messages against the audience's target (its
//! [`max_silence`](crate::audience::AudiencePolicy::max_silence)), the longest
//! silence, the time from the last update to the resolution, messages that went
//! out without the link, and failed deliveries. [`Review::to_markdown`] writes
//! it as a report with tables; [`Review::to_svg`] draws the timeline (one row
//! per channel and audience, a dot per message coloured by act, silences over
//! target in red). Both are deterministic for a given journal and escape every
//! piece of user text.
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
    AudienceReview, ChannelReview, FailedDelivery, Gap, Message, MessageKind, MissingLink, Review,
    Timeline, UpdateSummary,
};

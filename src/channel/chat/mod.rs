//! Chat channels: where responders and employees live during an incident.
//!
//! | provider | module | feature | threads | text |
//! |---|---|---|---|---|
//! | Slack | `slack` | `slack` | Web API: replies in the first contact's thread | `mrkdwn`, up to 4,000 characters |
//! | Discord | `discord` | `discord` | no (a webhook may post into a configured thread) | Markdown, up to 2,000 characters |
//! | Mattermost | `mattermost` | `mattermost` | no | Markdown, up to 16,383 characters |
//! | Microsoft Teams | `teams` | `teams` | no (Workflows webhooks) | Adaptive Card; whole payload within 20,000 bytes |
//! | Google Chat | `google_chat` | `google-chat` | one thread per incident (`threadKey`) | Chat markup, up to 4,096 characters |
//!
//! Every chat channel escapes user text for its markup
//! ([`render::markup`](crate::render::markup)), so titles and messages can
//! inject neither mentions nor links, and renders the link to the source of
//! truth as a link. Webhook URLs and tokens are secrets: they never appear in
//! `Debug` output, logs or errors.

#[cfg(feature = "slack")]
#[cfg_attr(docsrs, doc(cfg(feature = "slack")))]
pub mod slack;

#[cfg(feature = "discord")]
#[cfg_attr(docsrs, doc(cfg(feature = "discord")))]
pub mod discord;

#[cfg(feature = "mattermost")]
#[cfg_attr(docsrs, doc(cfg(feature = "mattermost")))]
pub mod mattermost;
#[cfg(feature = "teams")]
#[cfg_attr(docsrs, doc(cfg(feature = "teams")))]
pub mod teams;

#[cfg(feature = "google-chat")]
#[cfg_attr(docsrs, doc(cfg(feature = "google-chat")))]
pub mod google_chat;

//! The shared channel contract, run against every channel implementation.
//!
//! To add a channel: write a module with a [`suite::Harness`] for it and call
//! `conformance_tests!(make_harness().await)`.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;
#[macro_use]
mod suite;

#[cfg(any(feature = "jsm", feature = "opsgenie"))]
mod alerts;
#[cfg(feature = "bluesky")]
mod bluesky;
#[cfg(feature = "confluence")]
mod confluence;
#[cfg(feature = "discord")]
mod discord;
#[cfg(feature = "email")]
mod email;
#[cfg(feature = "google-chat")]
mod google_chat;
#[cfg(feature = "mastodon")]
mod mastodon;
#[cfg(feature = "mattermost")]
mod mattermost;
mod memory;
#[cfg(feature = "pagerduty")]
mod pagerduty;
#[cfg(feature = "slack")]
mod slack;
#[cfg(feature = "status-page")]
mod status_page;
#[cfg(feature = "statuspage-io")]
mod statuspage_io;
#[cfg(feature = "teams")]
mod teams;
#[cfg(feature = "sms-twilio")]
mod twilio;
#[cfg(feature = "webhook")]
mod webhook;
#[cfg(feature = "x")]
mod x;

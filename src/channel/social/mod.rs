//! Social channels: where customers look for outages.
//!
//! | provider | module | feature | threads | text |
//! |---|---|---|---|---|
//! | Bluesky (AT Protocol) | `bluesky` | `bluesky` | replies: root = first post, parent = previous post | plain text, 300 graphemes and 3,000 UTF-8 bytes; the link as a facet |
//!
//! Each network counts length its own way, and fitting counts it that way, so
//! posts are shortened (never the link, never in the middle of a grapheme)
//! rather than refused. Updates thread under the first post, so an incident
//! reads as one thread. User text cannot mention or link anyone. Passwords
//! and tokens are secrets: they never appear in `Debug` output, logs or
//! errors.

#[cfg(feature = "bluesky")]
#[cfg_attr(docsrs, doc(cfg(feature = "bluesky")))]
pub mod bluesky;

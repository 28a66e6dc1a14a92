//! Status pages: the primary source of truth every other message links to.
//!
//! | status page | module | feature | permalink |
//! |---|---|---|---|
//! | Atlassian Statuspage (REST API v1) | `statuspage_io` | `statuspage-io` | the incident's `shortlink` |
//!
//! A status page is registered as the dispatcher's
//! [primary](crate::dispatch::DispatcherBuilder::primary): it is written first,
//! and the permalink in its receipt becomes the link in every other channel's
//! message. Later updates change the same incident rather than adding new
//! ones. API keys are secrets: they never appear in `Debug` output, logs or
//! errors.

#[cfg(feature = "statuspage-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "statuspage-io")))]
pub mod statuspage_io;

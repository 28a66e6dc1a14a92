//! Rendering: from an update to the text each channel sends.
//!
//! Three steps. [`Templates::render`] turns an update into a
//! [`RenderedMessage`] (title, body, next-update line) for an audience's detail
//! level; each channel's [`Format`] lays the pieces out on its wire, link
//! included; [`fit`] searches for the longest message whose *laid-out* text is
//! within the channel's [`TextLimit`], shortening or splitting per the route's
//! [`Overflow`] policy, and never cutting the link.

mod fit;
mod format;
pub mod markup;
mod measure;
pub mod sms;
mod templates;

pub use fit::{FitError, Overflow, fit};
pub use format::{Fitted, Format, Pieces, Plain};
pub use measure::{LengthUnit, TextLimit};
pub use templates::{MessageVars, TemplateError, Templates};
pub(crate) use templates::{elapsed, utc};

use serde::{Deserialize, Serialize};

/// An update rendered for one detail level, before it is fitted to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedMessage {
    /// One line, e.g. `[Investigating] API errors`. Channels with a subject or a
    /// card title use it there.
    pub title: String,
    /// The message itself.
    pub body: String,
    /// `Next update by 2026-11-25 14:30 UTC.`; `None` once closed (resolved, or
    /// a maintenance completed).
    pub next_update: Option<String>,
}

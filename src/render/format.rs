//! Formats: how a channel lays a message's pieces out on its wire.
//!
//! Rendering gives the pieces (title, body, next-update line, link, and the
//! part numbering of a split message); each channel's [`Format`] turns them
//! into exactly what the provider receives (plain text, Slack `mrkdwn`,
//! Markdown, an Adaptive Card's JSON), and the channel's text limit is
//! measured on that. The fitter asks the format for every candidate it
//! tries, so what it measures is what is sent: no channel edits the text
//! afterwards.

use std::fmt;
use std::sync::Arc;

/// The pieces of one message, or one part of a split message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pieces<'a> {
    /// One line, e.g. `[Investigating] API errors`; empty in later parts of a
    /// split message.
    pub title: &'a str,
    /// The body, possibly cut (ending in `…`); empty when even the shortest
    /// body does not fit.
    pub body: &'a str,
    /// `(index, count)` when the message is split into numbered parts.
    pub part: Option<(u16, u16)>,
    /// `Next update by …`; only in the last part, and `None` once closed.
    pub next_update: Option<&'a str>,
    /// The link to the source of truth. Never cut.
    pub link: &'a str,
}

impl Pieces<'_> {
    /// Everything but the link, in the plain layout: title, a blank line,
    /// the body with its part marker (`(1/3)`), a blank line, the next-update
    /// line. For formats that place the link their own way (a button, a
    /// markup link), escaping this text as their markup needs.
    pub fn text_before_link(&self) -> String {
        let mut out = String::with_capacity(
            self.title.len() + self.body.len() + self.next_update.map_or(0, str::len) + 16,
        );
        if !self.title.is_empty() {
            out.push_str(self.title);
        }
        if !self.body.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(self.body);
            if let Some((index, count)) = self.part {
                out.push_str(&format!(" ({index}/{count})"));
            }
        }
        if let Some(next) = self.next_update.filter(|n| !n.is_empty()) {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(next);
        }
        out
    }
}

/// How a channel lays a message out on its wire. The channel's text limit
/// ([`ChannelLimits::text`](crate::channel::ChannelLimits::text)) is measured
/// on what [`Format::layout`] returns.
pub trait Format: Send + Sync + fmt::Debug {
    /// The text the provider receives for these pieces.
    fn layout(&self, pieces: &Pieces<'_>) -> String;
}

/// The plain layout: the text before the link, then the link on its own
/// line:
///
/// ```text
/// <title>
///
/// <body> (1/3)
///
/// <next-update line>
/// <link>
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plain;

impl Format for Plain {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let mut out = pieces.text_before_link();
        if !out.is_empty() {
            // The next-update line sits right above the link; anything else
            // keeps a blank line.
            out.push_str(if pieces.next_update.is_some_and(|n| !n.is_empty()) {
                "\n"
            } else {
                "\n\n"
            });
        }
        out.push_str(pieces.link);
        out
    }
}

/// A message fitted to a channel: its pieces and their layout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fitted {
    /// The title (empty in later parts of a split message).
    pub title: String,
    /// The body, possibly cut.
    pub body: String,
    /// `(index, count)` of a split message's part.
    pub part: Option<(u16, u16)>,
    /// The next-update line (in the last part only).
    pub next_update: Option<String>,
    /// The link.
    pub link: String,
    /// The pieces laid out by the channel's format: what it sends.
    pub text: Arc<str>,
}

impl Fitted {
    /// The pieces, borrowed.
    pub fn pieces(&self) -> Pieces<'_> {
        Pieces {
            title: &self.title,
            body: &self.body,
            part: self.part,
            next_update: self.next_update.as_deref(),
            link: &self.link,
        }
    }

    pub(crate) fn new(pieces: &Pieces<'_>, format: &dyn Format) -> Self {
        Self {
            title: pieces.title.to_owned(),
            body: pieces.body.to_owned(),
            part: pieces.part,
            next_update: pieces.next_update.map(str::to_owned),
            link: pieces.link.to_owned(),
            text: format.layout(pieces).into(),
        }
    }

    /// The whole of `message` with `link`, laid out by `format`, unfitted
    /// (for tests of a channel, and channels without a limit).
    pub fn whole(message: &super::RenderedMessage, link: &str, format: &dyn Format) -> Self {
        Self::new(
            &Pieces {
                title: &message.title,
                body: &message.body,
                part: None,
                next_update: message.next_update.as_deref(),
                link,
            },
            format,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_layout() {
        let p = Pieces {
            title: "[Investigating] API errors",
            body: "We are looking.",
            part: None,
            next_update: Some("Next update by 14:30 UTC."),
            link: "https://s.example/i",
        };
        assert_eq!(
            Plain.layout(&p),
            "[Investigating] API errors\n\nWe are looking.\n\nNext update by 14:30 UTC.\nhttps://s.example/i"
        );
        let later = Pieces {
            title: "",
            part: Some((2, 3)),
            next_update: None,
            ..p
        };
        assert_eq!(
            Plain.layout(&later),
            "We are looking. (2/3)\n\nhttps://s.example/i"
        );
        let bare = Pieces {
            title: "",
            body: "",
            part: None,
            next_update: None,
            ..p
        };
        assert_eq!(Plain.layout(&bare), "https://s.example/i");
        assert_eq!(
            p.text_before_link(),
            "[Investigating] API errors\n\nWe are looking.\n\nNext update by 14:30 UTC."
        );
    }
}

//! What a channel is asked to send, and what it answers.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::audience::{Audience, Detail, Target};
use crate::incident::{Incident, IncidentId, Update};
use crate::render::{Fitted, RenderedMessage};

/// A deterministic key per (incident, update, channel, target, part): the same
/// delivery always has the same key, so journals and providers can refuse to send
/// it twice. It is `tdg_` followed by 32 hex digits (no `.`, safe in headers and
/// as a Standard Webhooks `webhook-id`), and reveals nothing about the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdempotencyKey(Arc<str>);

impl IdempotencyKey {
    /// Derives the key of one delivery.
    pub fn derive(
        incident: &IncidentId,
        seq: u32,
        channel: &str,
        target: &Target,
        part: u16,
    ) -> Self {
        let mut h = Sha256::new();
        for field in [incident.as_str(), channel, target.as_str()] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field.as_bytes());
        }
        h.update(seq.to_be_bytes());
        h.update(part.to_be_bytes());
        let digest = h.finalize();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(36);
        s.push_str("tdg_");
        for b in digest.iter().take(16) {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Self(s.into())
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key as stored (by a journal), without checking its form.
    #[cfg_attr(
        not(any(test, feature = "journal-sqlite", feature = "journal-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn from_raw(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A provider's handle on a sent message (Slack `ts`, e-mail `Message-ID`, a post
/// id): what later messages reply to or thread under. Opaque to the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef(Arc<str>);

impl MessageRef {
    /// Wraps a provider's message handle.
    pub fn new(handle: impl Into<Arc<str>>) -> Self {
        Self(handle.into())
    }
    /// The handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Earlier messages about the same incident on the same channel and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The first contact's handle (Slack `thread_ts`, the first `Message-ID`).
    pub root: MessageRef,
    /// The latest message's handle (what a reply chain replies to).
    pub latest: MessageRef,
}

/// Which part of a split message a delivery is (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Part {
    /// This part's number, from 1.
    pub index: u16,
    /// How many parts the message has.
    pub count: u16,
}

impl Part {
    /// A message in one piece.
    pub const WHOLE: Part = Part { index: 1, count: 1 };
}

/// One message for one target on one channel.
///
/// Outer rings get an [`Incident`] and [`Update`] with every internal note
/// removed, so a channel that serialises them cannot leak what it was not meant
/// to see.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// Deterministic idempotency key.
    pub key: IdempotencyKey,
    /// The name the channel is registered under in the dispatcher.
    pub channel: Arc<str>,
    /// The incident as this audience may see it.
    pub incident: Arc<Incident>,
    /// The update as this audience may see it.
    pub update: Arc<Update>,
    /// Who it is for.
    pub audience: Audience,
    /// How much detail was rendered.
    pub detail: Detail,
    /// Where it goes on the channel.
    pub target: Target,
    /// The rendered pieces (title, body, next-update line), before fitting; for
    /// channels with a layout of their own (cards, embeds, subjects).
    pub message: Arc<RenderedMessage>,
    /// The message fitted to the channel: its pieces (title, body, part
    /// numbering, next-update line, link) and their layout in the channel's
    /// [format](super::Channel::format).
    pub fitted: Arc<Fitted>,
    /// The text laid out by the channel's format and fitted to its limit:
    /// what the channel sends (the same as `fitted.text`).
    pub text: Arc<str>,
    /// The link to the source of truth (the primary's permalink).
    pub link: Arc<Url>,
    /// Earlier messages on this target about this incident, if any.
    pub thread: Option<Thread>,
    /// Which part of a split message this is.
    pub part: Part,
    /// Whether an earlier send of this delivery (same key) may have reached
    /// the provider without an answer: a channel that can check before
    /// sending again (look the message up) should.
    pub resend: bool,
}

impl Delivery {
    /// A delivery of `text` on channel `channel`, whatever the channel's
    /// format would make of `message` (for tests of a channel's answers to
    /// a given text); the key is derived, there is no thread yet. Use
    /// [`Delivery::fitted`] for what the dispatcher sends.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        channel: impl Into<Arc<str>>,
        incident: Arc<Incident>,
        update: Arc<Update>,
        audience: Audience,
        detail: Detail,
        target: Target,
        message: Arc<RenderedMessage>,
        text: impl Into<Arc<str>>,
        link: Arc<Url>,
    ) -> Self {
        let mut fitted = Fitted::whole(&message, link.as_str(), &crate::render::Plain);
        fitted.text = text.into();
        Self::fitted(
            channel, incident, update, audience, detail, target, message, fitted, link,
        )
    }

    /// A delivery of a message fitted to the channel (`fitted`, from
    /// [`fit`](crate::render::fit) with the channel's format, or
    /// [`Fitted::whole`] for a whole message); the key is derived, there is
    /// no thread yet. Used by the dispatcher, and by tests of your own
    /// channels.
    #[allow(clippy::too_many_arguments)]
    pub fn fitted(
        channel: impl Into<Arc<str>>,
        incident: Arc<Incident>,
        update: Arc<Update>,
        audience: Audience,
        detail: Detail,
        target: Target,
        message: Arc<RenderedMessage>,
        fitted: Fitted,
        link: Arc<Url>,
    ) -> Self {
        let channel = channel.into();
        let key = IdempotencyKey::derive(incident.id(), update.seq, &channel, &target, 1);
        let text = fitted.text.clone();
        Self {
            key,
            channel,
            incident,
            update,
            audience,
            detail,
            target,
            message,
            fitted: Arc::new(fitted),
            text,
            link,
            thread: None,
            part: Part::WHOLE,
            resend: false,
        }
    }

    /// Sets the thread of earlier messages.
    #[must_use]
    pub fn with_thread(mut self, thread: Option<Thread>) -> Self {
        self.thread = thread;
        self
    }

    /// Marks the delivery as one part of a split message (and re-derives its key).
    #[must_use]
    pub fn with_part(mut self, part: Part) -> Self {
        self.part = part;
        self.key = IdempotencyKey::derive(
            self.incident.id(),
            self.update.seq,
            &self.channel,
            &self.target,
            part.index,
        );
        self
    }
}

/// A channel's answer to a successful send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Receipt {
    /// When the provider accepted the message.
    pub at: DateTime<Utc>,
    /// The provider's handle on the message, for threading later messages.
    pub message_ref: Option<MessageRef>,
    /// For a primary: the public page of the incident every message links to.
    pub permalink: Option<Url>,
    /// The provider's response status (HTTP status, SMTP reply code).
    pub status: Option<u16>,
    /// For SMS: how many segments the message was sent as (what it is billed
    /// as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
}

impl Receipt {
    /// A receipt at `at` with nothing else.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            at,
            message_ref: None,
            permalink: None,
            status: None,
            segments: None,
        }
    }
    /// Sets the message handle.
    #[must_use]
    pub fn with_message_ref(mut self, r: MessageRef) -> Self {
        self.message_ref = Some(r);
        self
    }
    /// Sets the permalink.
    #[must_use]
    pub fn with_permalink(mut self, url: Url) -> Self {
        self.permalink = Some(url);
        self
    }
    /// Sets the provider status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
    /// Sets the number of SMS segments.
    #[must_use]
    pub fn with_segments(mut self, segments: u32) -> Self {
        self.segments = Some(segments);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let inc = IncidentId::new("inc-1").unwrap();
        let t = Target::new("#ops").unwrap();
        let k = IdempotencyKey::derive(&inc, 1, "chat", &t, 1);
        assert_eq!(k, IdempotencyKey::derive(&inc, 1, "chat", &t, 1));
        assert_eq!(k.as_str().len(), 36);
        assert!(k.as_str().starts_with("tdg_") && !k.as_str().contains('.'));
        let others = [
            IdempotencyKey::derive(&inc, 2, "chat", &t, 1),
            IdempotencyKey::derive(&inc, 1, "mail", &t, 1),
            IdempotencyKey::derive(&inc, 1, "chat", &Target::new("#ops2").unwrap(), 1),
            IdempotencyKey::derive(&inc, 1, "chat", &t, 2),
            // Length prefixes keep field boundaries apart.
            IdempotencyKey::derive(&inc, 1, "chat#", &Target::new("ops").unwrap(), 1),
        ];
        for o in others {
            assert_ne!(k, o);
        }
    }
}

//! How a channel counts the length of a text.

use std::fmt;

use unicode_segmentation::UnicodeSegmentation;

/// How a channel counts length.
///
/// Besides the general units, the exact counting rules of the networks and
/// providers whose channels this crate has are units of their own, each
/// measuring the text exactly as the provider receives it (what the
/// channel's [`Format`](super::Format) lays out). A third-party channel with
/// a rule of its own uses [`Custom`](Self::Custom).
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum LengthUnit {
    /// Unicode scalar values (`char`s): Discord, Slack.
    Chars,
    /// Extended grapheme clusters, as a person sees characters: Bluesky.
    Graphemes,
    /// UTF-8 bytes: payload-size limits.
    Utf8Bytes,
    /// UTF-16 code units: JavaScript-based providers.
    Utf16Units,
    /// X's weighted length of a post, as X counts it: twitter-text 3.x's
    /// `parseTweet` (twitter-text 3.1.0, ported, and compared with the npm
    /// package on every test run) on the text in NFC. Code points in
    /// U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 weigh
    /// 1, others 2; an emoji twitter-text knows (Emoji 11.0, sequences
    /// included) 2; every link 23, however long. See
    /// [`x::weighted_length`](crate::channel::social::x::weighted_length).
    ///
    /// The count can decrease when text is appended (`a.co` is a link that
    /// weighs 23, `a.cop` text that weighs 5); fitting checks every cut.
    #[cfg(feature = "x")]
    #[cfg_attr(docsrs, doc(cfg(feature = "x")))]
    XWeighted,
    /// Mastodon's length of a status: characters, every link (`http://`,
    /// `https://` and the other schemes Mastodon links, without the
    /// punctuation that ends it) counted as 23
    /// (`characters_reserved_per_url`), however long. Current Mastodon
    /// counts grapheme clusters, which are never more than characters, so
    /// the count is exact on plain text and safe on every version. See
    /// [`mastodon::status_length`](crate::channel::social::mastodon::status_length).
    ///
    /// Like X's, the count can decrease when text is appended (a link's
    /// trailing `.` counts at the end of the text, and is part of the link
    /// once a letter follows); fitting checks every cut.
    #[cfg(feature = "mastodon")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mastodon")))]
    MastodonChars,
    /// SMS segments the text is sent as, exactly as it is: GSM-7 (160
    /// septets, 153 each when concatenated) or UCS-2 (70 UTF-16 units, 67
    /// each), never splitting a GSM-7 escape pair or a UCS-2 grapheme
    /// cluster, as Twilio's segment calculator counts (and every test run
    /// compares). See [`sms::segments`](super::sms::segments). It never
    /// decreases when text is appended. A channel that replaces typographic
    /// look-alikes ([`sms::cheapest`](super::sms::cheapest)) does so in its
    /// format, so that this counts what is sent.
    SmsSegments,
    /// A counting rule of the channel's own, for channels outside this
    /// crate. Fitting finds the longest text that fits best when the count
    /// does not decrease as text is appended; with a rule that can, every
    /// text it returns still fits, it may only cut a little shorter than it
    /// could.
    Custom {
        /// A short name, for `Debug` and equality.
        name: &'static str,
        /// The counting function.
        measure: fn(&str) -> usize,
    },
}

impl LengthUnit {
    /// The length of `text` in this unit.
    pub fn measure(&self, text: &str) -> usize {
        match self {
            LengthUnit::Chars => text.chars().count(),
            LengthUnit::Graphemes => text.graphemes(true).count(),
            LengthUnit::Utf8Bytes => text.len(),
            LengthUnit::Utf16Units => text.encode_utf16().count(),
            #[cfg(feature = "x")]
            LengthUnit::XWeighted => crate::channel::social::x::weighted_length(text),
            #[cfg(feature = "mastodon")]
            LengthUnit::MastodonChars => crate::channel::social::mastodon::status_length(text),
            LengthUnit::SmsSegments => super::sms::segments(text).count,
            LengthUnit::Custom { measure, .. } => measure(text),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            LengthUnit::Chars => "chars",
            LengthUnit::Graphemes => "graphemes",
            LengthUnit::Utf8Bytes => "utf8_bytes",
            LengthUnit::Utf16Units => "utf16_units",
            #[cfg(feature = "x")]
            LengthUnit::XWeighted => "x_weighted",
            #[cfg(feature = "mastodon")]
            LengthUnit::MastodonChars => "mastodon_chars",
            LengthUnit::SmsSegments => "sms_segments",
            LengthUnit::Custom { name, .. } => name,
        }
    }
}

impl fmt::Debug for LengthUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for LengthUnit {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for LengthUnit {}

/// One bound of a [`TextLimit`]: at most `max`, counted in `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The maximum, in `unit`s.
    pub max: usize,
    /// How length is counted.
    pub unit: LengthUnit,
}

impl Bound {
    /// Whether `text` is within this bound.
    pub fn allows(&self, text: &str) -> bool {
        self.unit.measure(text) <= self.max
    }
}

/// The longest text a channel takes, and how it is counted: `max` in `unit`,
/// and, for a channel with two limits, a second bound ([`and`](Self::and))
/// that must hold as well. Bluesky, for instance, takes at most 300 graphemes
/// **and** 3,000 UTF-8 bytes:
///
/// ```
/// use tidings::render::{LengthUnit, TextLimit};
///
/// let limit = TextLimit::graphemes(300).and(3_000, LengthUnit::Utf8Bytes);
/// assert!(limit.allows(&"a".repeat(300)));
/// // 300 graphemes of 18 bytes each: within the first bound, not the second.
/// assert!(!limit.allows(&"👩\u{200d}👩\u{200d}👧".repeat(300)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    /// The maximum, in `unit`s.
    pub max: usize,
    /// How length is counted.
    pub unit: LengthUnit,
    /// A second bound that must hold too.
    also: Option<Bound>,
}

impl TextLimit {
    /// At most `max`, counted in `unit`.
    pub const fn new(max: usize, unit: LengthUnit) -> Self {
        Self {
            max,
            unit,
            also: None,
        }
    }

    /// This limit and, as well, at most `max` counted in `unit`: a text must
    /// be within both. A limit has at most two bounds; calling `and` again
    /// replaces the second.
    pub const fn and(mut self, max: usize, unit: LengthUnit) -> Self {
        self.also = Some(Bound { max, unit });
        self
    }

    /// At most `max` Unicode scalar values.
    pub const fn chars(max: usize) -> Self {
        Self::new(max, LengthUnit::Chars)
    }

    /// At most `max` grapheme clusters.
    pub const fn graphemes(max: usize) -> Self {
        Self::new(max, LengthUnit::Graphemes)
    }

    /// At most `max` UTF-8 bytes.
    pub const fn bytes(max: usize) -> Self {
        Self::new(max, LengthUnit::Utf8Bytes)
    }

    /// Every bound of the limit: `max` in `unit` first, then the second
    /// bound, if any.
    pub fn bounds(&self) -> impl Iterator<Item = Bound> + use<> {
        let first = Bound {
            max: self.max,
            unit: self.unit,
        };
        std::iter::once(first).chain(self.also)
    }

    /// Whether `text` is within every bound of the limit.
    pub fn allows(&self, text: &str) -> bool {
        self.bounds().all(|b| b.allows(text))
    }

    /// The first bound `text` is over, with what `text` measures in its
    /// unit; `None` if `text` is within the limit.
    pub fn exceeded(&self, text: &str) -> Option<(Bound, usize)> {
        self.bounds().find_map(|b| {
            let n = b.unit.measure(text);
            (n > b.max).then_some((b, n))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_count_differently() {
        let s = "e\u{301}👩‍👩‍👧";
        assert_eq!(LengthUnit::Chars.measure(s), 7);
        assert_eq!(LengthUnit::Graphemes.measure(s), 2);
        assert_eq!(LengthUnit::Utf8Bytes.measure(s), 21);
        assert_eq!(LengthUnit::Utf16Units.measure(s), 10);
        let custom = LengthUnit::Custom {
            name: "double",
            measure: |t| 2 * t.len(),
        };
        assert_eq!(custom.measure("ab"), 4);
        assert_eq!(format!("{custom:?}"), "double");
        assert_eq!(LengthUnit::SmsSegments.measure(&"a".repeat(161)), 2);
        assert_eq!(LengthUnit::SmsSegments.measure(&"ç".repeat(70)), 1);
        assert_eq!(format!("{:?}", LengthUnit::SmsSegments), "sms_segments");
    }

    #[cfg(feature = "x")]
    #[test]
    fn x_weighs_as_x_does() {
        let post = "障害 https://status.example.com/incidents/inc-7 e\u{301}";
        assert_eq!(LengthUnit::XWeighted.measure(post), 5 + 23 + 2);
        assert_eq!(format!("{:?}", LengthUnit::XWeighted), "x_weighted");
    }

    #[cfg(feature = "mastodon")]
    #[test]
    fn mastodon_counts_links_as_23() {
        let status = "Fixed: https://status.example.com/incidents/inc-7.";
        assert_eq!(LengthUnit::MastodonChars.measure(status), 7 + 23 + 1);
        assert_ne!(LengthUnit::MastodonChars, LengthUnit::Chars);
    }

    #[test]
    fn every_bound_must_hold() {
        let limit = TextLimit::graphemes(3).and(6, LengthUnit::Utf8Bytes);
        assert!(limit.allows("abc"));
        assert!(!limit.allows("abcd"), "4 graphemes");
        assert!(!limit.allows("ééé\u{301}"), "3 graphemes, 8 bytes");
        assert_eq!(limit.bounds().count(), 2);
        assert_eq!(TextLimit::chars(5).bounds().count(), 1);
        let (bound, n) = limit.exceeded("ééé\u{301}").unwrap();
        assert_eq!((bound.unit, bound.max, n), (LengthUnit::Utf8Bytes, 6, 8));
        assert_eq!(limit.exceeded("abc"), None);
        assert_ne!(limit, TextLimit::graphemes(3));
        assert_eq!(
            TextLimit::new(3, LengthUnit::Graphemes),
            TextLimit::graphemes(3)
        );
    }
}

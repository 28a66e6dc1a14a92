//! How a channel counts the length of a text.

use std::fmt;

use unicode_segmentation::UnicodeSegmentation;

/// How a channel counts length.
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
    /// A counting rule of the channel's own (weighted characters, URLs counted
    /// as a fixed length, SMS segments' characters). It must not decrease when
    /// text is appended.
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
            LengthUnit::Custom { measure, .. } => measure(text),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            LengthUnit::Chars => "chars",
            LengthUnit::Graphemes => "graphemes",
            LengthUnit::Utf8Bytes => "utf8_bytes",
            LengthUnit::Utf16Units => "utf16_units",
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

/// The longest text a channel takes, and how it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    /// The maximum, in `unit`s.
    pub max: usize,
    /// How length is counted.
    pub unit: LengthUnit,
}

impl TextLimit {
    /// At most `max` Unicode scalar values.
    pub const fn chars(max: usize) -> Self {
        Self {
            max,
            unit: LengthUnit::Chars,
        }
    }

    /// At most `max` grapheme clusters.
    pub const fn graphemes(max: usize) -> Self {
        Self {
            max,
            unit: LengthUnit::Graphemes,
        }
    }

    /// At most `max` UTF-8 bytes.
    pub const fn bytes(max: usize) -> Self {
        Self {
            max,
            unit: LengthUnit::Utf8Bytes,
        }
    }

    /// Whether `text` is within the limit.
    pub fn allows(&self, text: &str) -> bool {
        self.unit.measure(text) <= self.max
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
    }
}

//! SMS text: which encoding a text needs, and how many segments it costs.
//!
//! An SMS carries 140 octets. A text made only of characters of the GSM 03.38
//! default alphabet is sent as **GSM-7** (7-bit septets); any other character
//! switches the whole text to **UCS-2** (UTF-16 code units).
//!
//! | encoding | one segment | per segment when concatenated | unit |
//! |---|---|---|---|
//! | GSM-7 | 160 | 153 | septet (`^ { } \ [ ~ ] \| €` and form feed take 2) |
//! | UCS-2 | 70 | 67 | UTF-16 code unit (emoji and other non-BMP characters take 2) |
//!
//! A concatenated segment loses 7 septets (6 octets) to its header. A
//! character is never split across two segments: a GSM-7 escape pair that
//! would straddle a boundary starts the next segment, leaving one unit
//! unused; in UCS-2 a whole grapheme cluster (a surrogate pair, an emoji with
//! a skin tone, a flag, a `ZWJ` sequence, a letter and its accents) moves to
//! the next segment when it does not fit, as Twilio's segment calculator
//! (TwilioDevEd/message-segment-calculator) counts it.
//!
//! ```
//! use tidings::render::sms::{Encoding, segments};
//!
//! let s = segments("Deploy rolled back [EU]");
//! assert_eq!((s.encoding, s.units, s.count), (Encoding::Gsm7, 25, 1));
//!
//! // One curly apostrophe makes the whole text UCS-2.
//! assert_eq!(segments("It’s fixed").encoding, Encoding::Ucs2);
//! assert_eq!(segments(&"x".repeat(161)).count, 2);
//! ```
//!
//! For fitting a message to a budget of segments, [`segment_limit`] gives a
//! [`TextLimit`] whose unit is *segments* ([`LengthUnit::SmsSegments`]):
//! `max` is the budget and the measure is [`segments`]' count of the text as
//! it is sent, which never decreases when text is appended. Typographic
//! characters with a plain GSM-7 look-alike (curly quotes, dashes, `…`,
//! unusual spaces) would force UCS-2 and cost up to three times as many
//! segments; [`smart_encode`] replaces them, and [`cheapest`] does when that
//! costs fewer segments. A channel that sends [`cheapest`] applies it in its
//! [`Format`](super::Format) (as Twilio's does), so that the limit counts what
//! is sent, and a shortened message (which ends its cut with `…`) still fits
//! as GSM-7 when the rest of it is.

use std::borrow::Cow;

use unicode_segmentation::UnicodeSegmentation;

use super::{LengthUnit, TextLimit};

/// Septets in one GSM-7 segment.
pub const GSM7_SINGLE: usize = 160;
/// Septets per segment of a concatenated GSM-7 message.
pub const GSM7_CONCATENATED: usize = 153;
/// UTF-16 code units in one UCS-2 segment.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 code units per segment of a concatenated UCS-2 message.
pub const UCS2_CONCATENATED: usize = 67;

/// How an SMS text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The GSM 03.38 default alphabet and its extension table, 7 bits a
    /// character (two for extension characters).
    Gsm7,
    /// UCS-2, counted as UTF-16 code units (two for characters outside the
    /// Basic Multilingual Plane, such as most emoji).
    Ucs2,
}

impl Encoding {
    /// Units in a message of exactly one segment.
    pub const fn single(self) -> usize {
        match self {
            Encoding::Gsm7 => GSM7_SINGLE,
            Encoding::Ucs2 => UCS2_SINGLE,
        }
    }

    /// Units per segment of a concatenated message.
    pub const fn concatenated(self) -> usize {
        match self {
            Encoding::Gsm7 => GSM7_CONCATENATED,
            Encoding::Ucs2 => UCS2_CONCATENATED,
        }
    }
}

/// What a text costs as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Segments {
    /// The encoding the text needs.
    pub encoding: Encoding,
    /// Its length in the encoding's units: septets for GSM-7, UTF-16 code
    /// units for UCS-2.
    pub units: usize,
    /// How many segments it is sent as; 0 for the empty text.
    pub count: usize,
}

/// Septets `c` takes in GSM-7: 1 in the default alphabet, 2 in the extension
/// table (escape + character), `None` if GSM-7 cannot carry it.
pub const fn gsm7_septets(c: char) -> Option<usize> {
    match c {
        'A'..='Z' | 'a'..='z' | '0'..='9' => Some(1),
        '\n' | '\r' | ' ' | '!' | '"' | '#' | '$' | '%' | '&' | '\'' | '(' | ')' | '*' | '+'
        | ',' | '-' | '.' | '/' | ':' | ';' | '<' | '=' | '>' | '?' | '@' | '_' => Some(1),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Æ' | 'æ' | 'ß'
        | 'É' | '¤' | '¡' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => {
            Some(1)
        }
        // Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ
        '\u{394}' | '\u{3A6}' | '\u{393}' | '\u{39B}' | '\u{3A9}' | '\u{3A0}' | '\u{3A8}'
        | '\u{3A3}' | '\u{398}' | '\u{39E}' => Some(1),
        // The extension table: form feed and ^ { } \ [ ~ ] | €.
        '\u{C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

/// The encoding `text` needs: GSM-7 if every character is in the GSM 03.38
/// default alphabet or its extension table, UCS-2 otherwise.
pub fn encoding(text: &str) -> Encoding {
    if text.chars().all(|c| gsm7_septets(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// The pieces of `text` that are never split across two segments: its
/// extended grapheme clusters, except that `\r\n` is two pieces (as Twilio's
/// segment calculator counts it), and that a cluster ending in a zero-width
/// joiner is joined with the next one (older grapheme rules, which Twilio's
/// calculator follows, keep `ZWJ` and an emoji after it together whatever
/// came before).
fn atoms(text: &str) -> impl Iterator<Item = &str> {
    let mut clusters = text.grapheme_indices(true).peekable();
    let mut pending: Option<&str> = None;
    std::iter::from_fn(move || {
        if let Some(p) = pending.take() {
            return Some(p);
        }
        let (start, first) = clusters.next()?;
        if first == "\r\n" {
            pending = Some("\n");
            return Some("\r");
        }
        let mut end = start + first.len();
        while text[..end].ends_with('\u{200D}') {
            match clusters.next_if(|(_, c)| *c != "\r\n") {
                Some((_, next)) => end += next.len(),
                None => break,
            }
        }
        Some(&text[start..end])
    })
}

/// Counts the segments of `text` exactly (see the [module docs](self)).
///
/// A concatenated message is cut the way Twilio's segment calculator cuts
/// it: greedily, and never inside a piece that must stay whole, which is a
/// GSM-7 escape pair, or in UCS-2 a whole grapheme cluster (a surrogate
/// pair, an emoji with a skin tone, a flag, a sequence joined with `ZWJ`, a
/// letter with its accents). A piece that does not fit in what is left of a
/// segment starts the next one. A single cluster longer than a whole segment
/// (a letter with dozens of combining marks) is counted as the segments it
/// fills, so the count is never below what any carrier sends.
///
/// Every test run compares it with Twilio's calculator itself (the npm
/// package `sms-segments-calculator`, in Node.js: `tests/sms_oracle.rs`):
/// the encoding and the units are always the calculator's, and so is the
/// count wherever the calculator cuts the text into the same pieces. It cuts
/// smaller pieces in places, following the grapheme rules of Unicode 10
/// (`grapheme-splitter`): an emoji modifier after a letter, `ZWJ` before
/// an emoji newer than those rules, an Indic conjunct; there this count may
/// be higher, never lower. The empty text is 0 segments here (nothing is
/// sent), 1 in the calculator, and a cluster longer than a segment fills
/// segments here where the calculator overfills one.
pub fn segments(text: &str) -> Segments {
    let encoding = encoding(text);
    let width = |c: char| match encoding {
        Encoding::Gsm7 => gsm7_septets(c).unwrap_or(2),
        Encoding::Ucs2 => c.len_utf16(),
    };
    let units: usize = text.chars().map(width).sum();
    let count = if units == 0 {
        0
    } else if units <= encoding.single() {
        1
    } else {
        let capacity = encoding.concatenated();
        let (mut count, mut used) = (1, 0);
        for w in atoms(text).map(|a| a.chars().map(width).sum::<usize>()) {
            if used + w <= capacity {
                used += w;
                continue;
            }
            if used > 0 {
                count += 1;
            }
            // A piece longer than a segment fills whole segments, and the
            // last one as far as it goes.
            count += (w - 1) / capacity;
            used = (w - 1) % capacity + 1;
        }
        count
    };
    Segments {
        encoding,
        units,
        count,
    }
}

/// The GSM-7 look-alike of a typographic character, if it has one.
const fn look_alike(c: char) -> Option<&'static str> {
    match c {
        // ‘ ’ ‚ ‛ ′ ʼ
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2BC}' => Some("'"),
        // “ ” „ ‟ ″ « »
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{AB}' | '\u{BB}' => {
            Some("\"")
        }
        // hyphen, non-breaking hyphen, figure dash, – — ―, minus sign
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some("-"),
        '\u{2026}' => Some("..."),
        // no-break space, the typographic spaces, narrow no-break space,
        // medium mathematical space, ideographic space
        '\u{A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => Some(" "),
        // zero-width space, zero-width no-break space (BOM)
        '\u{200B}' | '\u{FEFF}' => Some(""),
        _ => None,
    }
}

/// `text` with typographic characters that force UCS-2 replaced by their plain
/// GSM-7 look-alikes: curly quotes by `'` and `"`, dashes by `-`, `…` by `...`,
/// unusual spaces by a space; zero-width spaces are dropped. Other characters
/// are kept. Like Twilio's "Smart Encoding", done before counting so that what
/// is counted is what is sent.
pub fn smart_encode(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| look_alike(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match look_alike(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// What to send for `text`: [`smart_encode`]d if that costs fewer segments,
/// else `text` as it is (look-alikes cost more than they save in a text that
/// is UCS-2 anyway, e.g. `…` becomes three units).
pub fn cheapest(text: &str) -> Cow<'_, str> {
    let smart = smart_encode(text);
    if matches!(smart, Cow::Owned(_)) && segments(&smart).count < segments(text).count {
        smart
    } else {
        Cow::Borrowed(text)
    }
}

/// Segments `text` costs when sent as [`cheapest`] makes it. It never
/// decreases when text is appended (it is the smaller of two counts that
/// never do).
pub fn segment_count(text: &str) -> usize {
    segments(&cheapest(text)).count
}

/// Segments `text` costs when sent exactly as it is: the measure of
/// [`LengthUnit::SmsSegments`].
pub fn segment_count_exact(text: &str) -> usize {
    segments(text).count
}

/// A [`TextLimit`] of at most `budget` segments of the text exactly as it is
/// sent ([`LengthUnit::SmsSegments`]).
pub const fn segment_limit(budget: usize) -> TextLimit {
    TextLimit::new(budget, LengthUnit::SmsSegments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_127_characters_and_10_extensions() {
        let all = (0..=0x10FFFF_u32).filter_map(char::from_u32);
        let (mut basic, mut ext) = (0, 0);
        for c in all {
            match gsm7_septets(c) {
                Some(1) => basic += 1,
                Some(2) => ext += 1,
                Some(_) => unreachable!(),
                None => {}
            }
        }
        // 128 positions, one of which is the escape to the extension table.
        assert_eq!((basic, ext), (127, 10));
        assert_eq!(gsm7_septets('`'), None);
        assert_eq!(
            gsm7_septets('ç'),
            None,
            "only the capital Ç is in GSM 03.38"
        );
    }

    #[test]
    fn boundaries_are_exact() {
        let s = |t: &str| segments(t).count;
        assert_eq!(s(""), 0);
        assert_eq!(s(&"a".repeat(160)), 1);
        assert_eq!(s(&"a".repeat(161)), 2);
        assert_eq!(s(&"a".repeat(306)), 2);
        assert_eq!(s(&"a".repeat(307)), 3);
        assert_eq!(s(&"€".repeat(80)), 1);
        assert_eq!(s(&"€".repeat(81)), 2);
        // 152 septets then an escape pair: the pair starts segment two.
        assert_eq!(s(&format!("{}€{}", "a".repeat(152), "a".repeat(152))), 3);
        assert_eq!(s(&format!("{}€{}", "a".repeat(151), "a".repeat(151))), 2);
        assert_eq!(s(&"é".repeat(160)), 1);
        assert_eq!(s(&"ç".repeat(70)), 1);
        assert_eq!(s(&"ç".repeat(71)), 2);
        assert_eq!(s(&"ç".repeat(134)), 2);
        assert_eq!(s(&"ç".repeat(135)), 3);
        assert_eq!(s(&"😀".repeat(35)), 1);
        assert_eq!(s(&"😀".repeat(36)), 2);
        // 66 units then a surrogate pair: the pair starts segment two.
        assert_eq!(s(&format!("{}😀{}", "ç".repeat(66), "ç".repeat(66))), 3);
        // A flag or an emoji with a skin tone (4 units) is never split: 65
        // units leave 2, so it starts segment two.
        for emoji in ["🇫🇷", "👍🏽"] {
            assert_eq!(
                s(&format!("{}{emoji}{}", "ç".repeat(65), "ç".repeat(65))),
                3
            );
            assert_eq!(
                s(&format!("{}{emoji}{}", "ç".repeat(63), "ç".repeat(63))),
                2
            );
        }
        // A family (11 units) after 60 units: 7 are left.
        let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
        assert_eq!(
            s(&format!("{}{family}{}", "ç".repeat(60), "ç".repeat(60))),
            3
        );
        assert_eq!(
            s(&format!("{}{family}{}", "ç".repeat(56), "ç".repeat(56))),
            2
        );
        // A letter with 100 accents fills two segments and part of a third.
        let heavy = format!("e{}", "\u{301}".repeat(100));
        assert_eq!(s(&format!("ç{heavy}")), 3);
        assert_eq!(s(&format!("{heavy}{}", "ç".repeat(33))), 2);
        assert_eq!(s(&format!("{heavy}{}", "ç".repeat(34))), 3);
        assert_eq!(segments("😀").units, 2);
        assert_eq!(segments("a^b").units, 4);
    }

    #[test]
    fn atoms_are_clusters_with_crlf_split_and_zwj_joined() {
        fn a(t: &str) -> Vec<&str> {
            atoms(t).collect()
        }
        assert_eq!(a("a\r\nb"), ["a", "\r", "\n", "b"]);
        assert_eq!(a("e\u{301}👍🏽🇫🇷"), ["e\u{301}", "👍🏽", "🇫🇷"]);
        assert_eq!(a("x\u{200D}♀y"), ["x\u{200D}♀", "y"]);
        assert_eq!(a("x\u{200D}\r\n"), ["x\u{200D}", "\r", "\n"]);
        assert_eq!(a("\u{200D}"), ["\u{200D}"]);
        assert_eq!(a(""), Vec::<&str>::new());
    }

    #[test]
    fn look_alikes_are_replaced_only_when_cheaper() {
        assert_eq!(smart_encode("“It’s down” – …"), "\"It's down\" - ...");
        assert!(matches!(smart_encode("plain"), Cow::Borrowed(_)));
        let cut = format!("{}…", "a".repeat(100));
        assert_eq!(cheapest(&cut), format!("{}...", "a".repeat(100)));
        assert_eq!(segment_count(&cut), 1);
        assert_eq!(segment_count_exact(&cut), 2);
        // Already UCS-2: `…` stays one unit.
        let cjk = format!("{}…", "障".repeat(69));
        assert_eq!(cheapest(&cjk), cjk);
        assert_eq!(segment_count(&cjk), 1);
        assert_eq!(segment_limit(2).max, 2);
        assert_eq!(segment_limit(2).unit.measure(&cut), 2);
    }
}

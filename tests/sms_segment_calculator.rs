//! The published test cases of Twilio's segment calculator
//! (TwilioDevEd/message-segment-calculator, MIT licence: `tests/index.test.js`
//! and `tests/segments.test.js`), run against [`segments`]. Each case is
//! written here as the calculator's test builds it (the same texts, built
//! from their parts) with the calculator's expected encoding, segment count,
//! message size and total size in bits (7 a septet, 16 a UTF-16 unit, 48 bits
//! of header per segment of a concatenated message).
//!
//! Not ported: the Smart Encoding map tests (they test the calculator's own
//! replacement table, which `smart_encode` does not claim to copy), the line
//! break style warnings, and `getNonGsmCharacters`, which have no
//! counterpart here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tidings::render::sms::{Encoding, Segments, segments};

/// `1234567890` repeated, cut to `n` characters.
fn digits(n: usize) -> String {
    "1234567890".chars().cycle().take(n).collect()
}

/// The calculator's `messageSize`: the text's bits without headers.
fn message_bits(s: &Segments) -> usize {
    match s.encoding {
        Encoding::Gsm7 => 7 * s.units,
        Encoding::Ucs2 => 16 * s.units,
    }
}

/// The calculator's `totalSize`: with a 6-octet header in every segment of a
/// concatenated message.
fn total_bits(s: &Segments) -> usize {
    message_bits(s) + if s.count > 1 { 48 * s.count } else { 0 }
}

struct Case {
    description: &'static str,
    body: String,
    encoding: Encoding,
    segments: usize,
    message_size: usize,
    total_size: usize,
}

/// "Basic tests": the calculator's `TestData`.
fn basic() -> Vec<Case> {
    let case = |description, body: String, encoding, segments, message_size, total_size| Case {
        description,
        body,
        encoding,
        segments,
        message_size,
        total_size,
    };
    use Encoding::{Gsm7, Ucs2};
    vec![
        case("GSM-7 in one segment", digits(160), Gsm7, 1, 1120, 1120),
        case("GSM-7 in two segments", digits(161), Gsm7, 2, 1127, 1223),
        case("GSM-7 in three segments", digits(307), Gsm7, 3, 2149, 2293),
        // 😜 then the digits from 2 on.
        case(
            "UCS-2 message in one segment",
            format!("😜{}", &digits(69)[1..]),
            Ucs2,
            1,
            1120,
            1120,
        ),
        case(
            "UCS-2 message in two segments",
            format!("😜{}", &digits(70)[1..]),
            Ucs2,
            2,
            1136,
            1232,
        ),
        case(
            "UCS-2 message in three segments",
            format!("😜{}", &digits(134)[1..]),
            Ucs2,
            3,
            2160,
            2304,
        ),
        case(
            "UCS-2 with two bytes extended characters in one segments boundary",
            format!("🇮🇹{}", &digits(67)[1..]),
            Ucs2,
            1,
            1120,
            1120,
        ),
        case(
            "UCS-2 with extended characters in two segments boundary",
            format!("🇮🇹{}", &digits(68)[1..]),
            Ucs2,
            2,
            1136,
            1232,
        ),
        case(
            "UCS-2 with four bytes extended characters in one segments boundary",
            format!("🏳\u{FE0F}\u{200D}🌈{}", &digits(65)[1..]),
            Ucs2,
            1,
            1120,
            1120,
        ),
        case(
            "UCS-2 with four bytes extended characters in two segments boundary",
            format!("🏳\u{FE0F}\u{200D}🌈{}", &digits(66)[1..]),
            Ucs2,
            2,
            1136,
            1232,
        ),
    ]
}

#[test]
fn basic_tests() {
    for case in basic() {
        let s = segments(&case.body);
        let got = (s.encoding, s.count, message_bits(&s), total_bits(&s));
        let expected = (
            case.encoding,
            case.segments,
            case.message_size,
            case.total_size,
        );
        assert_eq!(got, expected, "{}", case.description);
    }
}

#[test]
fn gsm7_escape_characters() {
    for escape in ['|', '^', '€', '{', '}', '[', ']', '~', '\\'] {
        // The escape character then the digits 1 to 8 …: 159 characters,
        // 160 septets.
        let one = format!("{escape}{}", digits(158));
        let s = segments(&one);
        assert_eq!(
            (s.encoding, s.count, message_bits(&s), total_bits(&s)),
            (Encoding::Gsm7, 1, 1120, 1120),
            "one segment with {escape}"
        );
        let two = format!("{escape}{}", digits(159));
        let s = segments(&two);
        assert_eq!(
            (s.encoding, s.count, message_bits(&s), total_bits(&s)),
            (Encoding::Gsm7, 2, 1127, 1223),
            "two segments with {escape}"
        );
    }
}

#[test]
fn one_grapheme_ucs2_characters() {
    for c in ['Á', 'Ú', 'ú', 'ç', 'í', 'Í', 'ó', 'Ó'] {
        let s = segments(&c.to_string().repeat(70));
        assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 1), "70 × {c}");
        let s = segments(&c.to_string().repeat(71));
        assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 2), "71 × {c}");
    }
}

#[test]
fn special_tests() {
    // Issue #18: GSM-7 extension characters in a UCS-2 message take one
    // UTF-16 unit, not two.
    let s = segments(&format!("😀{}", "]".repeat(68)));
    assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 1));
    let s = segments(&format!("😀{}", "]".repeat(69)));
    assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 2));
}

#[test]
fn triple_accents() {
    // Issue #17: e with three combining acute accents is one grapheme of
    // four code points.
    let accented = "e\u{301}\u{301}\u{301}";
    let s = segments(&format!("{accented}{}", "a".repeat(66)));
    assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 1), "one segment");
    let s = segments(&format!("{accented}{}", "a".repeat(67)));
    assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 2), "two segments");
}

/// `segments.test.js`: the last of three segments holds one character.
#[test]
fn segment_contents() {
    let s = segments(&digits(307));
    assert_eq!((s.count, s.units - 2 * 153), (3, 1));
    let ucs2 = format!("😜{}", &digits(134)[1..]);
    let s = segments(&ucs2);
    assert_eq!((s.count, s.units - 2 * 67), (3, 1));
}

//! Text generators for SMS segment counting, shared by the property tests
//! (`sms_props.rs`) and the differential test against Twilio's segment
//! calculator (`sms_oracle.rs`): GSM-7 text with extension characters, mixed
//! text, multi-code-point grapheme clusters, and long runs that put pairs and
//! clusters on segment boundaries.

use proptest::prelude::*;

/// The GSM 03.38 default alphabet, in code order (0x00..=0x7F); 0x1B is the
/// escape to the extension table, not a character.
pub const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: character and its code after the escape.
pub const EXTENSION: [(char, u8); 10] = [
    ('\u{c}', 0x0A),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2F),
    ('[', 0x3C),
    ('~', 0x3D),
    (']', 0x3E),
    ('|', 0x40),
    ('€', 0x65),
];

pub fn gsm_char() -> impl Strategy<Value = char> {
    let basic: Vec<char> = BASIC.chars().filter(|&c| c != '\u{1b}').collect();
    let ext: Vec<char> = EXTENSION.iter().map(|(c, _)| *c).collect();
    prop_oneof![
        8 => proptest::sample::select(basic),
        2 => proptest::sample::select(ext),
    ]
}

pub fn any_sms_char() -> impl Strategy<Value = char> {
    prop_oneof![
        12 => gsm_char(),
        // Latin letters outside GSM, CJK, BMP symbols, look-alikes.
        1 => proptest::sample::select(vec!['ç', 'á', 'ê', 'ő', 'ž', '`', '障', '害', '✓', '…', '’', '—', '\u{a0}']),
        // Outside the BMP: surrogate pairs in UTF-16.
        1 => proptest::sample::select(vec!['😀', '👍', '🇫', '𝄞']),
    ]
}

/// Grapheme clusters of several code points: emoji with skin tones, flags,
/// `ZWJ` sequences, keycaps, tag sequences, letters with accents, Hangul
/// jamo, an Indic conjunct.
pub fn cluster() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "👍🏽",
        "🇫🇷",
        "🇮🇹",
        "👨\u{200D}👩\u{200D}👧\u{200D}👦",
        "🏳\u{FE0F}\u{200D}🌈",
        "👩🏿\u{200D}⚕\u{FE0F}",
        "1\u{FE0F}\u{20E3}",
        "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
        "e\u{301}\u{301}\u{301}",
        "a\u{308}",
        "\u{1100}\u{1161}\u{11A8}",
        "क्ष",
        "\r\n",
    ])
    .prop_map(str::to_owned)
}

/// Mixed text with multi-code-point clusters among the characters.
pub fn clustered_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![6 => any_sms_char().prop_map(String::from), 1 => cluster()],
        0..200,
    )
    .prop_map(|v| v.concat())
}

pub fn gsm_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(gsm_char(), 0..500).prop_map(|v| v.into_iter().collect())
}

pub fn mixed_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any_sms_char(), 0..300).prop_map(|v| v.into_iter().collect())
}

/// Long runs of one character: pairs land on segment boundaries often.
pub fn runs(chars: impl Strategy<Value = char>) -> impl Strategy<Value = String> {
    proptest::collection::vec((chars, 1usize..120), 0..8).prop_map(|v| {
        v.into_iter()
            .map(|(c, n)| c.to_string().repeat(n))
            .collect()
    })
}

/// Runs of one cluster after runs of UCS-2 filler: clusters land on segment
/// boundaries often.
pub fn cluster_runs() -> impl Strategy<Value = String> {
    proptest::collection::vec((cluster(), 1usize..30, 0usize..70), 0..6).prop_map(|v| {
        v.into_iter()
            .map(|(c, n, fill)| format!("{}{}", "ç".repeat(fill), c.repeat(n)))
            .collect()
    })
}

/// GSM-7 text, mixed text, text with multi-code-point clusters, and runs.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        gsm_text(),
        mixed_text(),
        clustered_text(),
        runs(gsm_char()),
        runs(any_sms_char()),
        cluster_runs(),
    ]
}

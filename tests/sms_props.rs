//! Property tests for SMS segment arithmetic: counts match a reference that
//! encodes the text and cuts it as Twilio's segment calculator does (never
//! inside a GSM-7 escape pair or a UCS-2 grapheme cluster: skin tones, flags,
//! `ZWJ` sequences, accents), counts never decrease when text is appended,
//! boundaries sit exactly at 160/153 and 70/67, and fitting to a segment
//! budget (with the Twilio channel's own format) keeps the link and stays
//! within the budget.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::OnceLock;

mod support;

use proptest::prelude::*;
use support::sms_texts::*;
use tidings::render::LengthUnit;
use tidings::render::sms::{
    Encoding, cheapest, segment_count, segment_count_exact, segment_limit, segments, smart_encode,
};
use unicode_segmentation::UnicodeSegmentation;

/// The escape to the extension table.
const ESC: u8 = 0x1B;

/// Each default-alphabet character's code: its position in [`BASIC`].
fn basic_codes() -> &'static HashMap<char, u8> {
    static CODES: OnceLock<HashMap<char, u8>> = OnceLock::new();
    CODES.get_or_init(|| {
        assert_eq!(BASIC.chars().count(), 128);
        BASIC
            .chars()
            .enumerate()
            .map(|(i, c)| (c, u8::try_from(i).unwrap()))
            .collect()
    })
}

/// Encodes `text` as GSM-7 septets, or `None` if it cannot be.
fn gsm_encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for c in text.chars() {
        if let Some(&(_, code)) = EXTENSION.iter().find(|(e, _)| *e == c) {
            out.extend([ESC, code]);
        } else {
            let code = *basic_codes().get(&c)?;
            if code == ESC {
                return None;
            }
            out.push(code);
        }
    }
    Some(out)
}

/// What one piece (a GSM-7 character or a UCS-2 grapheme cluster) takes in
/// a segment, in bits, as Twilio's segment calculator sizes it: 7 bits a
/// septet in GSM-7, 16 bits a UTF-16 code unit in UCS-2.
const SEGMENT_BITS: usize = 1120;
const HEADER_BITS: usize = 48;

/// Twilio's segment calculator (TwilioDevEd/message-segment-calculator), its
/// algorithm followed step by step: pieces go into the current segment while
/// they fit in its 1,120 bits; the first piece that does not opens a new
/// segment with a 6-octet header, and the previous segment, if it had no
/// header yet, gets one and gives its last pieces to the new segment until
/// it fits again. Returns the pieces' bits per segment.
fn calculator(pieces: &[usize]) -> Vec<Vec<usize>> {
    struct Segment {
        header: bool,
        items: Vec<usize>,
    }
    impl Segment {
        fn size(&self) -> usize {
            self.items.iter().sum::<usize>() + if self.header { HEADER_BITS } else { 0 }
        }
    }
    if pieces.is_empty() {
        return Vec::new();
    }
    let mut segments = vec![Segment {
        header: false,
        items: Vec::new(),
    }];
    for &bits in pieces {
        let current = segments.last().unwrap();
        if current.size() + bits > SEGMENT_BITS {
            let mut next = Segment {
                header: true,
                items: Vec::new(),
            };
            let previous = segments.last_mut().unwrap();
            if !previous.header {
                previous.header = true;
                let mut moved = Vec::new();
                while previous.size() > SEGMENT_BITS {
                    moved.insert(0, previous.items.pop().unwrap());
                }
                next.items.extend(moved);
            }
            segments.push(next);
        }
        segments.last_mut().unwrap().items.push(bits);
    }
    segments.into_iter().map(|s| s.items).collect()
}

/// The pieces Twilio's calculator never splits: grapheme clusters, with
/// `\r\n` as two.
fn clusters(text: &str) -> Vec<&str> {
    text.graphemes(true)
        .flat_map(|g| {
            if g == "\r\n" {
                vec!["\r", "\n"]
            } else {
                vec![g]
            }
        })
        .collect()
}

/// The reference: (encoding, units, units per segment).
fn reference(text: &str) -> (Encoding, usize, Vec<usize>) {
    if let Some(septets) = gsm_encode(text) {
        let bits: Vec<usize> = text
            .chars()
            .map(|c| 7 * gsm_encode(&c.to_string()).unwrap().len())
            .collect();
        let parts = calculator(&bits);
        (
            Encoding::Gsm7,
            septets.len(),
            parts.iter().map(|p| p.iter().sum::<usize>() / 7).collect(),
        )
    } else {
        let bits: Vec<usize> = clusters(text)
            .iter()
            .map(|g| 16 * g.encode_utf16().count())
            .collect();
        let parts = calculator(&bits);
        (
            Encoding::Ucs2,
            text.encode_utf16().count(),
            parts.iter().map(|p| p.iter().sum::<usize>() / 16).collect(),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn counts_match_the_reference(t in text()) {
        let (encoding, units, parts) = reference(&t);
        let s = segments(&t);
        prop_assert_eq!(s.encoding, encoding);
        prop_assert_eq!(s.units, units);
        prop_assert_eq!(s.count, parts.len());
        prop_assert_eq!(segment_count_exact(&t), parts.len());
        prop_assert_eq!(LengthUnit::SmsSegments.measure(&t), parts.len());
        prop_assert_eq!(segment_limit(3).unit.measure(&t), parts.len());
    }

    #[test]
    fn appending_never_lowers_the_count(a in text(), b in text()) {
        let whole = format!("{a}{b}");
        prop_assert!(segments(&whole).count >= segments(&a).count);
        prop_assert!(segment_count(&whole) >= segment_count(&a));
        prop_assert!(segment_count(&whole) <= segment_count_exact(&whole));
    }

    #[test]
    fn cheapest_is_counted_as_sent(t in mixed_text()) {
        let sent = cheapest(&t);
        prop_assert_eq!(segments(&sent).count, segment_count(&t));
        // Sending it again changes nothing.
        prop_assert_eq!(cheapest(&sent), sent.clone());
        let once = smart_encode(&t).into_owned();
        prop_assert_eq!(smart_encode(&once), once.as_str());
    }
}

/// Segments of `n` copies of `c`, from the arithmetic: `width` units per
/// character, `single` in one segment, else whole characters per `concat`.
fn expected(n: usize, width: usize, single: usize, concat: usize) -> usize {
    match n * width {
        0 => 0,
        u if u <= single => 1,
        _ => n.div_ceil(concat / width),
    }
}

#[test]
fn single_and_concatenated_boundaries_are_exact() {
    for n in 0..=1_600 {
        let count = |c: char| segments(&c.to_string().repeat(n)).count;
        assert_eq!(count('a'), expected(n, 1, 160, 153), "{n} × a");
        assert_eq!(count('€'), expected(n, 2, 160, 153), "{n} × €");
        assert_eq!(count('ç'), expected(n, 1, 70, 67), "{n} × ç");
        assert_eq!(count('😀'), expected(n, 2, 70, 67), "{n} × 😀");
    }
    // Exactly at the edges.
    for k in 2..=10 {
        assert_eq!(segments(&"a".repeat(153 * k)).count, k);
        assert_eq!(segments(&"a".repeat(153 * k + 1)).count, k + 1);
        assert_eq!(segments(&"障".repeat(67 * k)).count, k);
        assert_eq!(segments(&"障".repeat(67 * k + 1)).count, k + 1);
    }
    assert_eq!(segments(&"a".repeat(160)).count, 1);
    assert_eq!(segments(&"a".repeat(161)).count, 2);
    assert_eq!(segments(&"障".repeat(70)).count, 1);
    assert_eq!(segments(&"障".repeat(71)).count, 2);
    // A single non-GSM character turns 160 septets into 3 UCS-2 segments.
    assert_eq!(segments(&format!("{}ç", "a".repeat(159))).count, 3);
}

#[test]
fn every_alignment_of_a_pair_matches_the_reference() {
    for (filler, pair) in [("a", "€"), ("é", "\u{c}"), ("ç", "😀"), ("障", "𝄞")] {
        for lead in 0..=170 {
            for pairs in 1..=2 {
                for tail in [0, 1, 2, 3, 65, 66, 67, 75, 76, 150, 151, 152, 153] {
                    let t = format!(
                        "{}{}{}",
                        filler.repeat(lead),
                        pair.repeat(pairs),
                        filler.repeat(tail)
                    );
                    let parts = reference(&t).2;
                    assert_eq!(
                        segments(&t).count,
                        parts.len(),
                        "{lead} × {filler}, {pairs} × {pair:?}, {tail} × {filler}: {parts:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn clusters_never_straddle_a_boundary() {
    // 65 units, then a flag (4 units): it cannot start at unit 66.
    for emoji in ["🇮🇹", "👍🏽", "e\u{301}\u{301}\u{301}"] {
        let t = format!("{}{emoji}{}", "ç".repeat(65), "ç".repeat(10));
        assert_eq!(reference(&t).2, vec![65, 14]);
        assert_eq!(segments(&t).count, 2);
    }
    let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";
    for lead in 0..=80 {
        for tail in [0, 1, 50, 56, 57, 70, 120] {
            let t = format!("{}{family}{}", "障".repeat(lead), "障".repeat(tail));
            assert_eq!(
                segments(&t).count,
                reference(&t).2.len(),
                "{lead} + family + {tail}"
            );
        }
    }
}

#[test]
fn pairs_never_straddle_a_boundary() {
    // 152 septets, then an escape pair: it cannot start at septet 153.
    let t = format!("{}{}", "a".repeat(152), "€".repeat(10));
    assert_eq!(segments(&t).count, 2);
    assert_eq!(reference(&t).2, vec![152, 20]);
    // 66 units, then a surrogate pair: it cannot start at unit 67.
    let t = format!("{}{}", "ç".repeat(66), "😀".repeat(3));
    assert_eq!(reference(&t).2, vec![66, 6]);
    assert_eq!(segments(&t).count, 2);
    let t = format!("{}{}", "ç".repeat(66), "😀".repeat(34));
    assert_eq!(reference(&t).2, vec![66, 66, 2]);
    assert_eq!(segments(&t).count, 3);
}

/// Fitting with the Twilio channel's own format and limit.
#[cfg(feature = "sms-twilio")]
mod fitting {
    use super::*;
    use tidings::channel::Channel;
    use tidings::channel::sms::twilio::TwilioChannel;
    use tidings::render::{Overflow, RenderedMessage};

    const LINK: &str = "https://status.example.com/incidents/inc-2026-11-25";

    /// Fits `m` with `channel`'s format and limit; each part's text, which
    /// is what the channel sends.
    fn fit(
        channel: &dyn Channel,
        m: &RenderedMessage,
        overflow: Overflow,
    ) -> Result<Vec<String>, tidings::render::FitError> {
        let limit = channel.limits().text;
        tidings::render::fit(m, LINK, limit.as_ref(), channel.format(), overflow)
            .map(|parts| parts.into_iter().map(|p| p.text.to_string()).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn fitted_text_is_within_the_budget_and_ends_with_the_link(
            title in mixed_text(), body in text(), next in any::<bool>(),
            budget in 1u32..=4, parts in 1u16..=3, smart in any::<bool>(),
        ) {
            let channel = TwilioChannel::with_auth_token("AC0123456789abcdef0123456789abcdef", "secret")
                .from("+15005550006")
                .segment_budget(budget)
                .smart_encoding(smart)
                .build()
                .unwrap();
            let budget = budget as usize;
            let message = RenderedMessage {
                title: title.chars().take(80).collect(),
                body,
                next_update: next.then(|| "Next update by 2026-11-25 14:30 UTC.".to_owned()),
            };
            let out = fit(&channel, &message, Overflow::split(parts)).unwrap();
            prop_assert!(out.len() <= usize::from(parts));
            for sent in &out {
                prop_assert!(segments(sent).count <= budget, "{} > {budget}: {sent:?}", segments(sent).count);
                prop_assert!(sent.ends_with(LINK));
                if smart {
                    // Already the cheapest: sending it changes nothing.
                    prop_assert_eq!(cheapest(sent), sent.as_str());
                }
            }
        }
    }
}

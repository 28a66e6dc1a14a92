//! Property tests for fitting text to a channel: within the limit, link whole,
//! never splitting a grapheme, nothing lost when splitting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tidings::render::{LengthUnit, Overflow, RenderedMessage, TextLimit};
use unicode_segmentation::UnicodeSegmentation;

/// Fits `m` in the plain layout; each part's text.
fn fit(
    m: &tidings::render::RenderedMessage,
    link: &str,
    limit: Option<&tidings::render::TextLimit>,
    overflow: tidings::render::Overflow,
) -> Result<Vec<String>, tidings::render::FitError> {
    tidings::render::fit(m, link, limit, &tidings::render::Plain, overflow)
        .map(|parts| parts.into_iter().map(|p| p.text.to_string()).collect())
}

const LINK: &str = "https://status.example.com/incidents/inc-2026-11-25";

/// Text with the hard cases: combining marks, ZWJ emoji, CJK, long words.
fn text(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z]{1,12}",
        Just(" ".to_owned()),
        Just("  ".to_owned()),
        Just("\n".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("👩‍👩‍👧".to_owned()),
        Just("🇫🇷".to_owned()),
        Just("障害".to_owned()),
        Just("…".to_owned()),
        Just("&<>*@channel".to_owned()),
        "[a-z]{30,60}",
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

fn unit() -> impl Strategy<Value = LengthUnit> {
    prop_oneof![
        Just(LengthUnit::Chars),
        Just(LengthUnit::Graphemes),
        Just(LengthUnit::Utf8Bytes),
        Just(LengthUnit::Utf16Units),
        Just(LengthUnit::Custom {
            name: "wide-is-two",
            measure: |s| s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
        }),
    ]
}

fn message(title: String, body: String, next: bool) -> RenderedMessage {
    RenderedMessage {
        title,
        body,
        next_update: next.then(|| "Next update by 2026-11-25 14:30 UTC.".to_owned()),
    }
}

/// The body text a part carries (between the title block and the footer).
fn is_grapheme_prefix(whole: &str, prefix: &str) -> bool {
    whole.starts_with(prefix)
        && (prefix.len() == whole.len()
            || whole.grapheme_indices(true).any(|(i, _)| i == prefix.len()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn shortened_text_fits_keeps_the_link_and_cuts_at_graphemes(
        title in text(6), body in text(80), next in any::<bool>(), max in 60usize..600, unit in unit(),
    ) {
        let limit = TextLimit::new(max, unit);
        let m = message(title, body.clone(), next);
        match fit(&m, LINK, Some(&limit), Overflow::Shorten) {
            Ok(parts) => {
                prop_assert_eq!(parts.len(), 1);
                let out = &parts[0];
                prop_assert!(limit.allows(out), "{} > {}", unit.measure(out), max);
                prop_assert!(out.ends_with(LINK));
                prop_assert_eq!(next, out.contains("Next update by"));
                // Whatever of the body was kept is a grapheme-aligned prefix of it.
                let trimmed = body.trim();
                if let Some(cut) = out.find('…').filter(|_| !trimmed.contains('…')) {
                    let before = &out[..cut];
                    let kept = before.rsplit("\n\n").next().unwrap_or("");
                    if !kept.is_empty() && trimmed.starts_with(kept) {
                        prop_assert!(is_grapheme_prefix(trimmed, kept));
                    }
                }
            }
            Err(_) => {
                // Only when the footer alone is over the limit.
                let footer = format!("{}{LINK}", if next { "Next update by 2026-11-25 14:30 UTC.\n" } else { "" });
                prop_assert!(!limit.allows(&footer));
            }
        }
    }

    #[test]
    fn split_parts_fit_carry_the_link_and_lose_no_word(
        words in proptest::collection::vec("[a-z]{1,15}", 1..120), max in 120usize..400, unit in unit(),
    ) {
        let body = words.join(" ");
        let limit = TextLimit::new(max, unit);
        let m = message("[Identified] Outage".into(), body.clone(), true);
        let parts = fit(&m, LINK, Some(&limit), Overflow::split(50)).unwrap();
        let n = parts.len();
        for (i, p) in parts.iter().enumerate() {
            prop_assert!(limit.allows(p));
            prop_assert!(p.ends_with(LINK));
            prop_assert_eq!(p.contains("Next update by"), i + 1 == n);
            if n > 1 {
                let marker = format!("({}/{})", i + 1, n);
                prop_assert!(p.contains(&marker));
            }
        }
        // Every word arrives, in order, whole.
        let got: Vec<&str> = parts
            .iter()
            .flat_map(|p| {
                let p = p.strip_prefix("[Identified] Outage\n\n").unwrap_or(p);
                let body = p.split("\n\n").next().unwrap_or("");
                let body = match body.rfind(" (") { Some(i) if n > 1 => &body[..i], _ => body };
                body.split_whitespace().collect::<Vec<_>>()
            })
            .collect();
        prop_assert_eq!(got, words.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn no_limit_means_one_whole_part(title in text(4), body in text(40)) {
        let m = message(title, body, true);
        let parts = fit(&m, LINK, None, Overflow::split(3)).unwrap();
        prop_assert_eq!(parts.len(), 1);
        prop_assert!(parts[0].ends_with(LINK));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Split text full of graphemes and runs of whitespace: every part fits and
    /// carries the link, no grapheme is broken, and (outside whitespace and
    /// markers) nothing is lost or reordered.
    #[test]
    fn split_keeps_every_grapheme(body in text(120), max in 110usize..400, unit in unit()) {
        let limit = TextLimit::new(max, unit);
        let m = message("T".into(), body.clone(), true);
        let parts = fit(&m, LINK, Some(&limit), Overflow::split(200)).unwrap();
        let n = parts.len();
        let mut got = String::new();
        for (i, p) in parts.iter().enumerate() {
            prop_assert!(limit.allows(p));
            prop_assert!(p.ends_with(LINK));
            let p = p.strip_prefix("T\n\n").unwrap_or(p);
            let chunk = match p.find(&format!(" ({}/{n})\n\n", i + 1)) {
                Some(end) if n > 1 => &p[..end],
                _ => p.split("\n\nNext update").next().unwrap_or(""),
            };
            got.push_str(chunk);
        }
        if n == 1 {
            return Ok(());
        }
        fn squash(s: &str) -> Vec<String> {
            s.graphemes(true).filter(|g| !g.trim().is_empty()).map(str::to_owned).collect()
        }
        prop_assert_eq!(squash(&got), squash(body.trim()));
    }
}

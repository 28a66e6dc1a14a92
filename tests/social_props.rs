//! Property tests for the social networks' length rules: Mastodon's and X's
//! counts match a reference built from pieces of known weight (ASCII,
//! Latin-1, CJK, Hangul, emoji sequences, combining marks, typographic
//! punctuation, links and bare domains, and for X the cases twitter-text
//! links differently: URLs followed by punctuation, scheme-less domains
//! after punctuation, internationalised top-level domains, user information,
//! a trailing `?`; their weights were checked against twitter-text 3.1.0);
//! Mastodon's measure never decreases when text is appended, X's is X's own
//! count of what is sent; and fitting stays within each network's limit as
//! the network counts the post, keeps the link last and whole, and never
//! cuts a grapheme.
#![cfg(all(feature = "mastodon", feature = "x"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use proptest::prelude::*;
use support::social_texts::*;
use tidings::channel::social::{mastodon, x};
use tidings::render::markup::defuse_mentions;
use tidings::render::{Overflow, RenderedMessage, TextLimit};
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

const LINK: &str = "https://status.example.com/incidents/inc-2026-11-25-api-errors";

/// What the X channel sends for `text`: mentions defused, the characters X
/// refuses (U+FEFF, U+FFFE, U+FFFF) removed.
fn x_sent(text: &str) -> String {
    defuse_mentions(text)
        .chars()
        .filter(|c| !matches!(c, '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'))
        .collect()
}

fn message(title: String, body: String, next: bool) -> RenderedMessage {
    RenderedMessage {
        title,
        body,
        next_update: next.then(|| "Next update by 2026-11-25 14:30 UTC.".to_owned()),
    }
}

fn is_grapheme_prefix(whole: &str, prefix: &str) -> bool {
    whole.starts_with(prefix)
        && (prefix.len() == whole.len()
            || whole.grapheme_indices(true).any(|(i, _)| i == prefix.len()))
}

/// Checks one fitted part: within the limit as the network counts what is
/// sent (mentions defused), the link last and whole.
fn check_part(
    part: &str,
    limit: &TextLimit,
    count: fn(&str) -> usize,
) -> Result<(), TestCaseError> {
    prop_assert!(
        limit.allows(part),
        "{} > {}",
        limit.unit.measure(part),
        limit.max
    );
    let sent = x_sent(part);
    prop_assert!(
        count(&sent) <= limit.max,
        "sent: {} > {}",
        count(&sent),
        limit.max
    );
    let tail = format!("\n{LINK}");
    prop_assert!(part == LINK || part.ends_with(&tail), "{:?}", part);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mastodon_counts_match_the_reference((text, expected, _) in mixed_text()) {
        prop_assert_eq!(mastodon::status_length(&text), expected, "{:?}", text);
    }

    #[test]
    fn x_counts_match_the_reference((text, _, expected) in mixed_text()) {
        prop_assert_eq!(x::weighted_length(&text), expected, "{:?}", text);
    }

    #[test]
    fn x_counts_match_twitter_text_where_it_differs((text, expected) in x_text()) {
        prop_assert_eq!(x::weighted_length(&text), expected, "{:?}", text);
    }

    #[test]
    fn measures_count_the_defused_text((text, _, _) in mixed_text()) {
        // Away from a link that ends the text, the measure is the count of
        // what is sent.
        let text = format!("{text} end");
        let defused = defuse_mentions(&text);
        prop_assert_eq!(mastodon::text_limit(500).unit.measure(&text), mastodon::status_length(&defused));
        prop_assert_eq!(x::text_limit().unit.measure(&text), x::weighted_length(&defused));
    }

    #[test]
    fn mastodon_measure_never_decreases_when_text_is_appended(a in soup(), b in soup()) {
        for unit in [mastodon::text_limit(500).unit] {
            let whole = format!("{a}{b}");
            let mut last = 0;
            for i in (0..=whole.len()).filter(|i| whole.is_char_boundary(*i)) {
                let n = unit.measure(&whole[..i]);
                prop_assert!(n >= last, "{:?}: {:?} measures {} < {}", unit, &whole[..i], n, last);
                last = n;
            }
        }
    }

    #[test]
    fn measures_bound_what_the_network_counts(a in soup(), (b, _, _) in mixed_text()) {
        // Whatever the text, Mastodon's measure is at least its count of
        // what is sent (followed by a word, as fitting always follows text);
        // X's measure is X's count of what is sent.
        for text in [format!("{a}{b} end"), format!("{b}{a} end"), format!("{a}{b}")] {
            let sent = defuse_mentions(&text);
            let m = mastodon::text_limit(500).unit.measure(&text);
            if text.ends_with(" end") {
                prop_assert!(m >= mastodon::status_length(&sent), "{:?}", text);
            }
            let x = x::text_limit().unit.measure(&text);
            prop_assert_eq!(x, x::weighted_length(&x_sent(&text)), "{:?}", text);
        }
    }

    #[test]
    fn mastodon_mixed_measure_never_decreases((a, _, _) in mixed_text(), (b, _, _) in mixed_text()) {
        for unit in [mastodon::text_limit(500).unit] {
            let whole = format!("{a}{b}");
            let mut last = 0;
            for i in (0..=whole.len()).filter(|i| whole.is_char_boundary(*i)) {
                let n = unit.measure(&whole[..i]);
                prop_assert!(n >= last, "{:?}: {:?} measures {} < {}", unit, &whole[..i], n, last);
                last = n;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn shortened_posts_fit_keep_the_link_and_cut_at_graphemes(
        (title, _, _) in mixed_text(),
        (body, _, _) in mixed_text(),
        next in any::<bool>(),
        max in 100usize..600,
        network in any::<bool>(),
    ) {
        let title: String = title.chars().take(80).collect::<String>().replace('\n', " ");
        let (limit, count): (TextLimit, fn(&str) -> usize) = if network {
            (mastodon::text_limit(max), mastodon::status_length)
        } else {
            (x::text_limit(), x::weighted_length)
        };
        let m = message(title, body.repeat(3), next);
        let parts = fit(&m, LINK, Some(&limit), Overflow::Shorten).unwrap();
        prop_assert_eq!(parts.len(), 1);
        let out = &parts[0];
        check_part(out, &limit, count)?;
        prop_assert_eq!(next, out.contains("Next update by"));
        // What was kept of the body is a grapheme-aligned prefix of it.
        let body = m.body.trim();
        if !body.contains('…')
            && let Some(cut) = out.rfind('…') {
                let kept = out[..cut].rsplit("\n\n").next().unwrap_or("");
                if !kept.is_empty() && body.starts_with(kept) {
                    prop_assert!(is_grapheme_prefix(body, kept), "{:?}", kept);
                }
            }
    }

    #[test]
    fn split_posts_fit_and_each_keeps_the_link(
        (body, _, _) in mixed_text(),
        max in 100usize..300,
        network in any::<bool>(),
    ) {
        let (limit, count): (TextLimit, fn(&str) -> usize) = if network {
            (mastodon::text_limit(max), mastodon::status_length)
        } else {
            (x::text_limit(), x::weighted_length)
        };
        let m = message("[Identified] API errors".into(), body.repeat(4), true);
        let parts = fit(&m, LINK, Some(&limit), Overflow::split(4)).unwrap();
        for part in &parts {
            check_part(part, &limit, count)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// Posts full of what twitter-text links differently (URLs before
    /// punctuation, bare and internationalised domains, user information,
    /// U+FEFF): every post fitted for X is one X takes, by X's own count of
    /// what the channel sends.
    #[test]
    fn x_posts_fit_as_x_counts_them(
        (title, _) in x_text(),
        (body, _) in x_text(),
        extra in soup(),
        next in any::<bool>(),
        split in any::<bool>(),
    ) {
        let limit = x::text_limit();
        let title: String = title.chars().take(80).collect::<String>().replace('\n', " ");
        let m = message(title, format!("{body} {extra} {body}"), next);
        let overflow = if split { Overflow::split(3) } else { Overflow::Shorten };
        let parts = fit(&m, LINK, Some(&limit), overflow).unwrap();
        for part in &parts {
            check_part(part, &limit, x::weighted_length)?;
            prop_assert!(x::is_valid_post(&x_sent(part)), "{:?}", part);
        }
    }
}

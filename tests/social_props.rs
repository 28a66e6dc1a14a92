//! Property tests for the social networks' length rules: Mastodon's and X's
//! counts match a reference built from pieces of known weight (ASCII,
//! Latin-1, CJK, Hangul, emoji sequences, combining marks, typographic
//! punctuation, links and bare domains, and for X the cases twitter-text
//! links differently: URLs followed by punctuation, scheme-less domains
//! after punctuation, internationalised top-level domains, user information,
//! a trailing `?`; their weights were checked against twitter-text 3.1.0);
//! each network's format lays out what is sent (mentions defused; for X
//! without the characters it refuses, in NFC) and its limit's unit is the
//! network's own count; and fitting with the channel's own format stays
//! within each network's limit as the network counts the post, keeps the
//! link last and whole, and never cuts a grapheme.
#![cfg(all(feature = "mastodon", feature = "x"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use proptest::prelude::*;
use support::social_texts::*;
use tidings::channel::Channel;
use tidings::channel::social::mastodon::{MastodonChannel, MastodonFormat};
use tidings::channel::social::x::{XChannel, XFormat};
use tidings::channel::social::{mastodon, x};
use tidings::render::markup::defuse_mentions;
use tidings::render::{Format, LengthUnit, Overflow, Pieces, Plain, RenderedMessage, TextLimit};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Fits `m` with `channel`'s format and limit; each part's text, which is
/// what the channel sends.
fn fit(
    channel: &dyn Channel,
    m: &RenderedMessage,
    overflow: Overflow,
) -> Result<Vec<String>, tidings::render::FitError> {
    let limit = channel.limits().text;
    tidings::render::fit(m, LINK, limit.as_ref(), channel.format(), overflow)
        .map(|parts| parts.into_iter().map(|p| p.text.to_string()).collect())
}

fn x_channel() -> XChannel {
    XChannel::builder("token").build().unwrap()
}

fn mastodon_channel(max: usize) -> MastodonChannel {
    MastodonChannel::builder("https://mastodon.example", "token")
        .max_characters(max)
        .build()
        .unwrap()
}

/// A network's own count of a post.
type Count = fn(&str) -> usize;

/// The channel of a network (Mastodon with `max` characters, or X), its
/// limit and the network's own count.
fn network(mastodon: bool, max: usize) -> (Box<dyn Channel>, TextLimit, Count) {
    let (channel, count): (Box<dyn Channel>, Count) = if mastodon {
        (Box::new(mastodon_channel(max)), mastodon::status_length)
    } else {
        (Box::new(x_channel()), x::weighted_length)
    };
    let limit = channel.limits().text.unwrap();
    (channel, limit, count)
}

const LINK: &str = "https://status.example.com/incidents/inc-2026-11-25-api-errors";

/// Whether every `@` and `＠` that could start a mention is defused (a
/// zero-width space after it).
fn defused(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().all(|(i, c)| {
        let in_word = i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
        !matches!(c, '@' | '＠') || in_word || chars.get(i + 1) == Some(&'\u{200B}')
    })
}

fn pieces<'a>(title: &'a str, body: &'a str, next: Option<&'a str>) -> Pieces<'a> {
    Pieces {
        title,
        body,
        part: None,
        next_update: next,
        link: LINK,
    }
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

/// Checks one fitted part, which is what the channel sends: within the limit
/// as the network counts it, mentions defused, the link last and whole.
fn check_part(part: &str, limit: &TextLimit, count: Count) -> Result<(), TestCaseError> {
    prop_assert!(
        limit.allows(part),
        "{} > {}",
        limit.unit.measure(part),
        limit.max
    );
    prop_assert_eq!(limit.unit.measure(part), count(part));
    prop_assert!(defused(part), "{:?}", part);
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
    fn the_units_are_the_networks_counts(a in soup(), (b, _, _) in mixed_text()) {
        for text in [format!("{a}{b}"), format!("{b}{a} end")] {
            prop_assert_eq!(LengthUnit::MastodonChars.measure(&text), mastodon::status_length(&text));
            prop_assert_eq!(mastodon::text_limit(500).unit, LengthUnit::MastodonChars);
            prop_assert_eq!(LengthUnit::XWeighted.measure(&text), x::weighted_length(&text));
            prop_assert_eq!(x::text_limit().unit, LengthUnit::XWeighted);
        }
    }

    #[test]
    fn the_formats_lay_out_what_is_sent(
        a in soup(), (b, _, _) in mixed_text(), (c, _) in x_text(), next in any::<bool>(),
    ) {
        let title: String = a.chars().take(40).collect();
        let body = format!("{b} {c}");
        let next = next.then_some("Next update by 14:30 UTC.");
        let p = pieces(&title, &body, next);
        let plain = Plain.layout(&p);
        let before = plain.strip_suffix(LINK).unwrap();
        // Mastodon: the plain layout with mentions defused, the link as it is.
        let status = MastodonFormat.layout(&p);
        prop_assert_eq!(&status, &format!("{}{LINK}", defuse_mentions(before)));
        prop_assert!(defused(&status));
        prop_assert_eq!(mastodon_channel(500).format().layout(&p), status.clone());
        // X: also without the characters X refuses, in NFC.
        let post = XFormat.layout(&p);
        let expected: String = defuse_mentions(before)
            .chars()
            .filter(|c| !matches!(c, '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'))
            .nfc()
            .collect();
        prop_assert_eq!(&post, &format!("{expected}{LINK}"));
        prop_assert!(defused(&post));
        prop_assert_eq!(x_channel().format().layout(&p), post);
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
        let (channel, limit, count) = self::network(network, max);
        let m = message(title, body.repeat(3), next);
        let parts = fit(channel.as_ref(), &m, Overflow::Shorten).unwrap();
        prop_assert_eq!(parts.len(), 1);
        let out = &parts[0];
        check_part(out, &limit, count)?;
        prop_assert_eq!(next, out.contains("Next update by"));
        // What was kept of the body is a grapheme-aligned prefix of it.
        // (As sent: defused, and for X in NFC.)
        let body: String = if network {
            defuse_mentions(m.body.trim())
        } else {
            defuse_mentions(m.body.trim()).nfc().collect()
        };
        if !body.contains('…')
            && !body.contains(['\u{FEFF}', '\u{FFFE}', '\u{FFFF}'])
            && let Some(cut) = out.rfind('…') {
                let kept = out[..cut].rsplit("\n\n").next().unwrap_or("");
                if !kept.is_empty() && body.starts_with(kept) {
                    prop_assert!(is_grapheme_prefix(&body, kept), "{:?}", kept);
                }
            }
    }

    #[test]
    fn split_posts_fit_and_each_keeps_the_link(
        (body, _, _) in mixed_text(),
        max in 100usize..300,
        network in any::<bool>(),
    ) {
        let (channel, limit, count) = self::network(network, max);
        let m = message("[Identified] API errors".into(), body.repeat(4), true);
        let parts = fit(channel.as_ref(), &m, Overflow::split(4)).unwrap();
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
        let channel = x_channel();
        let limit = channel.limits().text.unwrap();
        prop_assert_eq!(limit, x::text_limit());
        let title: String = title.chars().take(80).collect::<String>().replace('\n', " ");
        let m = message(title, format!("{body} {extra} {body}"), next);
        let overflow = if split { Overflow::split(3) } else { Overflow::Shorten };
        let parts = fit(&channel, &m, overflow).unwrap();
        for part in &parts {
            check_part(part, &limit, x::weighted_length)?;
            prop_assert!(x::is_valid_post(part), "{:?}", part);
            prop_assert_eq!(part, &part.nfc().collect::<String>());
        }
    }
}

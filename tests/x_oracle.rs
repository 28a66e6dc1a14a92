//! A differential test of X's length counting against the reference:
//! **twitter-text 3.1.0**, the official JavaScript implementation that the
//! port in `src/channel/social/twitter_text/` follows, as published on the
//! npm registry (`twitter-text@3.1.0`, pinned with its dependencies and their
//! integrity hashes by `tests/oracle/package-lock.json`), run in Node.js.
//!
//! Why a differential test: twitter-text's own conformance files
//! (`conformance/*.yml` of its repository) cannot be copied into this
//! repository, so the unit test that reads them is `#[ignore]`d and run by
//! hand where they are at hand. twitter-text itself is an ordinary npm
//! package that CI installs (`./scripts/test`), so every run compares this
//! crate with it on a few thousand texts drawn with a fixed seed: the
//! generators of `social_props.rs` (pieces of known weight, the cases
//! twitter-text links differently, "soup"), links built from parts (punctuation
//! after them, no scheme, internationalised domains and top-level domains,
//! user information, a trailing `?`, ports), texts on either side of 280,
//! U+FEFF and the other refused characters, and every emoji of the `emojis`
//! crate (Unicode 16, skin tones included) in several forms. For each text
//! [`x::weighted_length`] and [`x::is_valid_post`] must equal `parseTweet`'s
//! `weightedLength` and `valid`.
//!
//! Then every post the fitter makes for X with the channel's own format
//! ([`x::XFormat`]), which is what the channel sends, must be valid by
//! twitter-text's own count.
//!
//! Needs `TIDINGS_TEST_NODE` and `TIDINGS_TEST_NPM_DIR` (see
//! `support/oracle.rs`): run `./scripts/test`.
#![cfg(feature = "x")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use proptest::prelude::*;
use support::oracle::{Answer, ask, samples};
use support::social_texts::*;
use tidings::channel::Channel;
use tidings::channel::social::x::{self, XChannel};
use tidings::render::{Overflow, RenderedMessage};

/// Fits `m` with `channel`'s format and limit; each part's text, which is
/// what the channel sends.
fn fit(
    channel: &dyn Channel,
    m: &RenderedMessage,
    link: &str,
    overflow: Overflow,
) -> Result<Vec<String>, tidings::render::FitError> {
    let limit = channel.limits().text;
    tidings::render::fit(m, link, limit.as_ref(), channel.format(), overflow)
        .map(|parts| parts.into_iter().map(|p| p.text.to_string()).collect())
}

const LINK: &str = "https://status.example.com/incidents/inc-2026-11-25-api-errors";

/// The version the port follows and the lock file pins.
const TWITTER_TEXT: &str = "3.1.0";

/// Asks twitter-text for `(weightedLength, valid)` of every text.
fn twitter_text(texts: &[String]) -> Vec<(usize, bool)> {
    let Answer {
        package,
        version,
        results,
    } = ask("twitter-text", texts);
    assert_eq!(
        (package.as_str(), version.as_str()),
        ("twitter-text", TWITTER_TEXT)
    );
    results
        .iter()
        .map(|r| {
            let length = usize::try_from(r[0].as_u64().expect("weightedLength")).unwrap();
            (length, r[1].as_bool().expect("valid"))
        })
        .collect()
}

/// Compares this crate's count with twitter-text's for every text; fails
/// with the first differences.
fn compare(what: &str, texts: &[String]) {
    let theirs = twitter_text(texts);
    let mut differences = Vec::new();
    for (text, &want) in texts.iter().zip(&theirs) {
        let ours = (x::weighted_length(text), x::is_valid_post(text));
        if ours != want {
            differences.push(format!("{text:?}: ours {ours:?}, twitter-text {want:?}"));
        }
    }
    let valid = theirs.iter().filter(|(_, v)| *v).count();
    println!(
        "{what}: {} texts compared with twitter-text {TWITTER_TEXT} ({valid} valid), {} differences",
        texts.len(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{what}: {} of {} texts counted differently from twitter-text {TWITTER_TEXT}:\n{}",
        differences.len(),
        texts.len(),
        differences
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Texts near the limit: generated texts with filler before or after them,
/// so that they weigh about 274 to 286 by this crate's count and
/// twitter-text's validity is checked on both sides of 280.
fn near_the_limit() -> Vec<String> {
    let strategy = (
        prop_oneof![x_text().prop_map(|(t, _)| t), soup(), url_sentence()],
        proptest::sample::select(vec!['a', '障', 'é', ' ', '😀', '—']),
        274usize..=286,
        any::<bool>(),
    );
    samples(strategy, 300, 3)
        .into_iter()
        .map(|(text, filler, target, before)| {
            let text: String = text.chars().take(100).collect();
            // The filler weighs 1 or 2 apiece.
            let each = x::weighted_length(&filler.to_string());
            let n = target.saturating_sub(x::weighted_length(&text)) / each;
            let pad = filler.to_string().repeat(n);
            // Filler first, then the text (a link or an emoji at the end
            // decides), or the other way round.
            if before {
                format!("{pad}{text}")
            } else {
                format!("{text}{pad}")
            }
        })
        .collect()
}

/// Hand-picked edges: empty and blank texts, exactly 280 and 281, the
/// refused characters alone and among text, `t.co` slugs of 40 and 41
/// characters, a very long link and a very long domain.
fn edges() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\n",
        "\u{FEFF}",
        "\u{FFFE}",
        "\u{FFFF}",
        "a\u{FEFF}b",
        "\u{200B}",
        "\u{202A}",
        "e\u{301}",
        "\u{212B}",
        "\u{FB01}",
        "#hashtag",
        "@mention",
        "$CASH",
        "https://t.co/abcdefghijklmnopqrstuvwxyz0123456789ABCD",
        "https://t.co/abcdefghijklmnopqrstuvwxyz0123456789ABCDE/x",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (c, n) in [
        ('a', 280),
        ('a', 281),
        ('障', 140),
        ('障', 141),
        ('😀', 140),
        ('😀', 141),
    ] {
        v.push(c.to_string().repeat(n));
    }
    v.push(format!("{}{}", "a".repeat(279), "\u{FEFF}"));
    v.push(format!("{} https://example.com", "a".repeat(256)));
    v.push(format!("{} https://example.com", "a".repeat(257)));
    v.push(format!("https://example.com/{}", "a".repeat(5000)));
    v.push(format!("{}.com", "a".repeat(300)));
    v
}

#[test]
fn weighted_length_and_validity_match_twitter_text() {
    let mut texts = edges();
    texts.extend(samples(x_text().prop_map(|(t, _)| t), 800, 1));
    texts.extend(samples(mixed_text().prop_map(|(t, _, _)| t), 400, 2));
    texts.extend(samples(soup(), 1_500, 4));
    texts.extend(samples(url_sentence(), 1_500, 5));
    texts.extend(samples(
        (soup(), url_sentence(), soup()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        500,
        6,
    ));
    texts.extend(near_the_limit());
    compare("generated texts", &texts);
}

#[test]
fn every_emoji_weighs_as_in_twitter_text() {
    let mut texts = Vec::new();
    let all =
        emojis::iter().flat_map(|e| std::iter::once(e).chain(e.skin_tones().into_iter().flatten()));
    for e in all {
        let s = e.as_str();
        texts.push(s.to_owned());
        // Without its variation selectors, between letters, before a
        // domain (a link can start after its first surrogate), twice.
        let bare: String = s.chars().filter(|&c| c != '\u{FE0F}').collect();
        if bare != s {
            texts.push(bare);
        }
        texts.push(format!("a{s}b"));
        texts.push(format!("{s}example.com"));
        texts.push(format!("{s}{s}"));
    }
    compare("emoji", &texts);
}

fn message(title: String, body: String, next: bool) -> RenderedMessage {
    RenderedMessage {
        title,
        body,
        next_update: next.then(|| "Next update by 2026-11-25 14:30 UTC.".to_owned()),
    }
}

#[test]
fn fitted_posts_are_valid_for_twitter_text() {
    let strategy = (
        x_text(),
        x_text(),
        prop_oneof![soup(), url_sentence()],
        any::<bool>(),
        any::<bool>(),
        1usize..=3,
    );
    let channel = XChannel::builder("token").build().unwrap();
    assert_eq!(channel.limits().text, Some(x::text_limit()));
    let mut posts = Vec::new();
    for ((title, _), (body, _), extra, next, split, repeat) in samples(strategy, 250, 7) {
        let title: String = title
            .chars()
            .take(80)
            .collect::<String>()
            .replace('\n', " ");
        let m = message(title, format!("{body} {extra} {body}").repeat(repeat), next);
        let overflow = if split {
            Overflow::split(3)
        } else {
            Overflow::Shorten
        };
        let Ok(parts) = fit(&channel, &m, LINK, overflow) else {
            continue;
        };
        posts.extend(parts);
    }
    assert!(posts.len() >= 250, "{} posts", posts.len());
    let theirs = twitter_text(&posts);
    let mut refused = Vec::new();
    for (post, &(length, valid)) in posts.iter().zip(&theirs) {
        if !valid || length > x::MAX_WEIGHTED_LENGTH || length != x::weighted_length(post) {
            refused.push(format!(
                "{post:?}: twitter-text {length}, valid {valid}; ours {}",
                x::weighted_length(post)
            ));
        }
    }
    println!(
        "{} fitted posts checked with twitter-text {TWITTER_TEXT}, {} refused",
        posts.len(),
        refused.len()
    );
    assert!(
        refused.is_empty(),
        "{} of {} fitted posts are not valid for twitter-text:\n{}",
        refused.len(),
        posts.len(),
        refused
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

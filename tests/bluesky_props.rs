//! Property tests for Bluesky posts: the link facet's UTF-8 byte offsets
//! always slice exactly the link out of the text (as found, and as a PDS
//! receives it), and text fitted with the channel's format stays within 300
//! graphemes and 3,000 UTF-8 bytes, ends with the link and never splits a
//! grapheme.
#![cfg(feature = "bluesky")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use tidings::channel::Channel;
use tidings::channel::social::bluesky::{
    BlueskyChannel, MAX_BYTES, MAX_GRAPHEMES, link_range, text_limit,
};
use tidings::prelude::*;
use tidings::render::{LengthUnit, Overflow, RenderedMessage};
use unicode_segmentation::UnicodeSegmentation;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Fits `m` with the channel's format and limit; each part's text, which is
/// what the channel posts.
fn fit(
    m: &RenderedMessage,
    link: &str,
    overflow: Overflow,
) -> Result<Vec<String>, tidings::render::FitError> {
    let ch = channel();
    let limit = ch.limits().text;
    tidings::render::fit(m, link, limit.as_ref(), ch.format(), overflow)
        .map(|parts| parts.into_iter().map(|p| p.text.to_string()).collect())
}

const LINK: &str = "https://status.example.com/incidents/inc-2026-11-25";
const NEXT: &str = "Next update by 2026-11-25 14:30 UTC.";

/// Text with the hard cases: combining marks, ZWJ emoji, flags, CJK, accents,
/// long words, URLs and mentions of its own.
fn text(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z]{1,12}",
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("é".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("👩\u{200d}👩\u{200d}👧".to_owned()),
        Just("🇫🇷".to_owned()),
        Just("🎉".to_owned()),
        Just("障害".to_owned()),
        Just("…".to_owned()),
        Just("@someone.bsky.social".to_owned()),
        Just("https://evil.example/x".to_owned()),
        "[a-z]{30,60}",
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// Text heavy in bytes: long emoji sequences (up to 35 bytes a grapheme),
/// Devanagari with combining marks, and a few words, so that 300 graphemes
/// are far over 3,000 bytes.
fn heavy(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(vec![
            "👨\u{200d}👩\u{200d}👧\u{200d}👦",
            "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
            "👩🏽\u{200d}❤\u{fe0f}\u{200d}💋\u{200d}👨🏿",
            "🧑🏿\u{200d}🚀",
            "क्षि",
            "🇫🇷",
        ]).prop_map(str::to_owned),
        1 => Just(" ".to_owned()),
        1 => "[a-z]{1,8}",
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// Status page links as [`url::Url`] serialises them: ASCII, percent-encoded.
fn link() -> impl Strategy<Value = String> {
    ("[a-z0-9-]{1,24}", proptest::option::of("[a-z]{1,8}")).prop_map(|(id, q)| {
        let raw = match q {
            Some(q) => format!("https://status.example.com/incidents/{id}?ref=é{q}"),
            None => format!("https://status.example.com/incidents/{id}"),
        };
        url::Url::parse(&raw).unwrap().to_string()
    })
}

fn graphemes(s: &str) -> HashSet<String> {
    s.graphemes(true).map(str::to_owned).collect()
}

/// A channel (building it makes no request).
fn channel() -> BlueskyChannel {
    BlueskyChannel::builder("status.example.com", "app-pass-word-0000")
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn facet_offsets_slice_exactly_the_link(prefix in text(30), link in link(), how in 0u8..3) {
        let text = match how {
            0 => format!("{prefix}{link}"),           // as fitted: the link last
            1 => format!("{link} {prefix}\n{link}"),  // the link also earlier
            _ => prefix.clone(),                      // no link: no facet
        };
        match link_range(&text, &link) {
            Some(range) => {
                prop_assert!(how < 2);
                prop_assert_eq!(&text.as_bytes()[range.clone()], link.as_bytes());
                prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
                prop_assert_eq!(range.end, text.len(), "the facet is the link at the end");
            }
            None => prop_assert!(how == 2 && !text.contains(&link)),
        }
    }

    #[test]
    fn fitted_posts_fit_end_with_the_link_and_keep_graphemes_whole(
        title in text(8), body in text(150), next in any::<bool>(), split in any::<bool>(),
    ) {
        prop_assert_eq!(channel().limits().text, Some(text_limit()));
        let message = RenderedMessage {
            title: title.clone(),
            body: body.clone(),
            next_update: next.then(|| NEXT.to_owned()),
        };
        let overflow = if split { Overflow::split(3) } else { Overflow::Shorten };
        let parts = fit(&message, LINK, overflow).unwrap();
        let allowed = graphemes(&format!("{title}{body}{NEXT}{LINK} (0123456789/)…\n"));
        for part in &parts {
            prop_assert!(LengthUnit::Graphemes.measure(part) <= MAX_GRAPHEMES);
            prop_assert!(part.len() <= MAX_BYTES);
            prop_assert!(part.ends_with(LINK));
            prop_assert_eq!(link_range(part, LINK), Some(part.len() - LINK.len()..part.len()));
            // A split grapheme would leave a cluster found nowhere in the input
            // (a lone regional indicator, an emoji ending in a joiner).
            for g in part.graphemes(true) {
                prop_assert!(allowed.contains(g), "{:?} is not a whole grapheme of the input", g);
            }
        }
        // Shortened: what is kept of the body is a grapheme-aligned prefix of it.
        let trimmed = body.trim();
        if parts.len() == 1 && !trimmed.contains('…')
            && let Some(cut) = parts[0].find('…') {
                let kept = parts[0][..cut].rsplit("\n\n").next().unwrap_or("");
                if !kept.is_empty() && trimmed.starts_with(kept) {
                    prop_assert!(
                        kept.len() == trimmed.len()
                            || trimmed.grapheme_indices(true).any(|(i, _)| i == kept.len())
                    );
                }
            }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Posts of long emoji sequences: within 300 graphemes is not enough,
    /// the fitter must also keep them within 3,000 bytes.
    #[test]
    fn byte_heavy_posts_fit_both_limits(
        title in heavy(10), body in heavy(400), next in any::<bool>(), split in any::<bool>(),
    ) {
        let message = RenderedMessage {
            title: title.clone(),
            body: body.clone(),
            next_update: next.then(|| NEXT.to_owned()),
        };
        let overflow = if split { Overflow::split(4) } else { Overflow::Shorten };
        let parts = fit(&message, LINK, overflow).unwrap();
        let allowed = graphemes(&format!("{title}{body}{NEXT}{LINK} (0123456789/)…\n"));
        for part in &parts {
            prop_assert!(LengthUnit::Graphemes.measure(part) <= MAX_GRAPHEMES);
            prop_assert!(part.len() <= MAX_BYTES, "{} bytes", part.len());
            prop_assert!(part.ends_with(LINK));
            for g in part.graphemes(true) {
                prop_assert!(allowed.contains(g), "{:?} is not a whole grapheme of the input", g);
            }
        }
        // Text long in bytes but short in graphemes is shortened, not kept.
        if message.body.len() + message.title.len() > MAX_BYTES {
            prop_assert!(parts.len() > 1 || parts[0].contains('…') || !parts[0].contains(message.body.trim()));
        }
    }
}

proptest! {
    // Each case starts a local PDS stand-in; fewer cases.
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// What the PDS receives: the facet's byteStart..byteEnd of the record's
    /// text is the link, whatever came before it.
    #[test]
    fn the_pds_receives_offsets_that_slice_the_link(prefix in text(40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let record = runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/xrpc/com.atproto.server.createSession"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "accessJwt": "a", "refreshJwt": "r", "did": "did:plc:p", "handle": "status.example.com",
                })))
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .and(path("/xrpc/com.atproto.repo.createRecord"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "uri": "at://did:plc:p/app.bsky.feed.post/3lp", "cid": "bafyp",
                })))
                .mount(&server)
                .await;
            let ch = BlueskyChannel::builder("status.example.com", "app-pass-word-0000")
                .base_url(server.uri())
                .build()
                .unwrap();
            let (inc, first) = support::incident();
            let text = format!("{}{LINK}", prefix.chars().take(200).collect::<String>());
            let text: String = if LengthUnit::Graphemes.measure(&text) > MAX_GRAPHEMES {
                LINK.to_owned()
            } else {
                text
            };
            let d = tidings::channel::Delivery::new(
                "bluesky",
                Arc::new(inc),
                Arc::new(first),
                Audience::Customers,
                Detail::Public,
                Target::new("status.example.com").unwrap(),
                Arc::new(RenderedMessage { title: String::new(), body: String::new(), next_update: None }),
                text,
                Arc::new(LINK.parse().unwrap()),
            );
            ch.send(&d).await.unwrap();
            let requests = server.received_requests().await.unwrap();
            let body: Value = requests.last().unwrap().body_json().unwrap();
            body["record"].clone()
        });
        let text = record["text"].as_str().unwrap().as_bytes();
        let facets = record["facets"].as_array().unwrap();
        prop_assert_eq!(facets.len(), 1);
        let start = usize::try_from(facets[0]["index"]["byteStart"].as_u64().unwrap()).unwrap();
        let end = usize::try_from(facets[0]["index"]["byteEnd"].as_u64().unwrap()).unwrap();
        prop_assert_eq!(&text[start..end], LINK.as_bytes());
        prop_assert_eq!(&facets[0]["features"], &json!([{"$type": "app.bsky.richtext.facet#link", "uri": LINK}]));
    }
}

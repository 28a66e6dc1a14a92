//! Social networks: where customers look for an outage when the product is
//! down.
//!
//! | network | module | feature | threads | text |
//! |---|---|---|---|---|
//! | Mastodon | `mastodon` | `mastodon` | replies to the previous post (`in_reply_to_id`) | 500 characters by default (per instance), every link 23 |
//! | X | `x` | `x` | replies to the previous post (`reply.in_reply_to_tweet_id`) | 280 weighted characters (twitter-text 3.x, ported: its URL rules and top-level domains, emoji 2), every link 23 |
//! | Bluesky (AT Protocol) | `bluesky` | `bluesky` | replies: root = first post, parent = previous post | plain text, 300 graphemes and 3,000 UTF-8 bytes; the link as a facet (Bluesky links nothing else, so user text cannot mention or link) |
//!
//! Posts are plain text: the fitted message, then the link to the status
//! page, which the network shows as a link and counts at its fixed link
//! length. Each network's format (`MastodonFormat`, `XFormat`; Bluesky's is
//! the plain layout) lays a message out exactly as it is posted, and its text
//! limit is measured on that, so the channel posts the fitted text as it is.
//! Each update replies to the one before it on the same account, so first
//! contact, updates and resolution read as one thread.
//!
//! User text cannot notify anyone: every `@` that could start a mention gets
//! a zero-width space after it
//! ([`defuse_mentions`](crate::render::markup::defuse_mentions)), so
//! `@everyone` or `@someone@example.social` reads the same and mentions
//! nobody. Hashtags and links in the text are left as written (they notify
//! nobody). The formats defuse, and each network's text limit counts the
//! text as it is sent (defused), by the network's own rule, so fitting never
//! produces a post the network refuses as too long; a post that would be (a
//! hand-built delivery) is refused before any request.
//!
//! Access tokens are secrets: they never appear in `Debug` output, logs or
//! errors.

#[cfg(feature = "bluesky")]
#[cfg_attr(docsrs, doc(cfg(feature = "bluesky")))]
pub mod bluesky;

#[cfg(feature = "mastodon")]
mod links;

#[cfg(feature = "mastodon")]
#[cfg_attr(docsrs, doc(cfg(feature = "mastodon")))]
pub mod mastodon;

#[cfg(feature = "x")]
mod twitter_text;

#[cfg(feature = "x")]
#[cfg_attr(docsrs, doc(cfg(feature = "x")))]
pub mod x;

/// Keeps the first `max` characters of a provider's error text that are
/// letters, digits, spaces or plain punctuation; whitespace runs become one
/// space. Provider bodies are never copied into errors whole.
#[cfg(any(feature = "mastodon", feature = "x"))]
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric() || " .,:;'!?()-_".contains(*c))
            .collect();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// The plain layout of `pieces` with the mentions of everything but the link
/// defused ([`defuse_mentions`](crate::render::markup::defuse_mentions));
/// the link, last, is left as it is (`https://mastodon.example/@status` must
/// stay a working link).
#[cfg(any(feature = "mastodon", feature = "x"))]
pub(crate) fn defused_plain(pieces: &crate::render::Pieces<'_>) -> String {
    use crate::render::markup::defuse_mentions;
    use crate::render::{Format, Pieces, Plain};
    // The plain layout without its link is everything before the link,
    // separator included.
    let before = Plain.layout(&Pieces {
        link: "",
        ..*pieces
    });
    defuse_mentions(&before) + pieces.link
}

/// The delay of a 429 answer: the latest of the moments the provider named
/// (`resets`, as wall-clock times), else `Retry-After`; rounded up to whole
/// seconds (waiting a little longer than asked is safe), at most a day.
#[cfg(any(feature = "mastodon", feature = "x"))]
pub(crate) fn delay_until(
    resets: impl IntoIterator<Item = chrono::DateTime<chrono::Utc>>,
    headers: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
) -> Option<std::time::Duration> {
    use std::time::Duration;
    let now_utc = chrono::DateTime::<chrono::Utc>::from(now);
    let latest = resets.into_iter().max();
    let delay = match latest {
        Some(at) => (at - now_utc).to_std().unwrap_or(Duration::ZERO),
        None => crate::channel::http::retry_after(headers, now)?,
    };
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    Some(Duration::from_secs(secs.min(86_400)))
}

#[cfg(all(test, any(feature = "mastodon", feature = "x")))]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn sanitize_keeps_short_plain_text() {
        assert_eq!(
            sanitize(
                "Validation failed: Text character limit of 500 exceeded",
                200
            ),
            "Validation failed: Text character limit of 500 exceeded"
        );
        assert_eq!(
            sanitize("<script>https://evil/?token=abc</script>\n\tx", 200),
            "scripthttps:evil?tokenabcscript x"
        );
        assert_eq!(sanitize(&"a".repeat(300), 10).chars().count(), 10);
    }

    #[test]
    fn delays_round_up_and_fall_back_to_retry_after() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = chrono::DateTime::<chrono::Utc>::from(now + Duration::from_millis(2_500));
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(delay_until([at], &h, now), Some(Duration::from_secs(3)));
        let past = chrono::DateTime::<chrono::Utc>::from(now - Duration::from_secs(5));
        assert_eq!(delay_until([past], &h, now), Some(Duration::ZERO));
        assert_eq!(
            delay_until([past, at], &h, now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(delay_until([], &h, now), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(delay_until([], &h, now), Some(Duration::from_secs(7)));
    }

    #[test]
    fn posts_keep_the_link_and_defuse_the_rest() {
        use crate::render::{Format, Pieces, Plain};
        let link = "https://mastodon.example/@status/1";
        let pieces = Pieces {
            title: "@everyone down",
            body: "ask @ops@example.social",
            part: Some((1, 2)),
            next_update: Some("Next @ 14:30."),
            link,
        };
        assert_eq!(
            defused_plain(&pieces),
            format!(
                "@\u{200B}everyone down\n\nask @\u{200B}ops@example.social (1/2)\n\nNext @\u{200B} 14:30.\n{link}"
            )
        );
        let bare = Pieces {
            title: "",
            body: "",
            part: None,
            next_update: None,
            link,
        };
        assert_eq!(defused_plain(&bare), link);
        // Only `@`s gain a zero-width space: the plain layout otherwise.
        let plain = Plain.layout(&pieces);
        assert_eq!(defused_plain(&pieces).replace('\u{200B}', ""), plain);
    }
}

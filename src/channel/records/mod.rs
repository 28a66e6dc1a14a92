//! Where incidents are recorded and responders paged: the incident tools
//! (PagerDuty, Jira Service Management Operations, Opsgenie) and the wiki
//! that keeps the postmortem (Confluence).
//!
//! | provider | module | feature | what an incident becomes |
//! |---|---|---|---|
//! | PagerDuty Events API v2 | `pagerduty` | `pagerduty` | one alert (`dedup_key` from the incident id): triggered, optionally acknowledged when identified, resolved |
//! | Jira Service Management Operations alerts | `alerts` (`AlertChannel::jsm`) | `jsm` | one alert (`alias` from the incident id): created, a note per update, closed |
//! | Opsgenie alerts | `alerts` (`AlertChannel::opsgenie`) | `opsgenie` | the same, on Opsgenie's own API |
//! | Confluence Cloud | `confluence` | `confluence` | the postmortem as one page in a space, updated when published again |
//!
//! Each incident is one record on the provider, keyed by the incident id
//! (`tidings-<incident id>`), so every update about it lands on the same
//! alert or page whatever process sends it. Acts a provider has nothing to
//! show for (Confluence before the postmortem; PagerDuty's postmortem) are
//! **declined** the way the Statuspage channel declines a skipped
//! postmortem: the send succeeds with a bare [`Receipt`](super::Receipt)
//! (no status, no message handle), no request is made, and a debug log line
//! says why. The dispatcher records it sent, so it is neither retried nor
//! reported as a failure.
//!
//! An update that arrives after the incident's resolution was already
//! posted (an outbox resending an older update that was in doubt) is
//! declined too by the alert channels: triggering or creating again would
//! open a **new** alert after the old one was resolved or closed.
//!
//! Integration keys, API keys and API tokens are secrets: they never appear
//! in `Debug` output, logs or errors.

#[cfg(any(feature = "jsm", feature = "opsgenie"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "jsm", feature = "opsgenie"))))]
pub mod alerts;

#[cfg(feature = "confluence")]
#[cfg_attr(docsrs, doc(cfg(feature = "confluence")))]
pub mod confluence;

#[cfg(feature = "pagerduty")]
#[cfg_attr(docsrs, doc(cfg(feature = "pagerduty")))]
pub mod pagerduty;

#[cfg(any(feature = "pagerduty", feature = "jsm", feature = "opsgenie"))]
use crate::channel::Delivery;

/// The provider-side key of an incident: `tidings-<incident id>` (at most
/// 136 characters: ids are at most 128 ASCII letters, digits, `-` and `_`),
/// within PagerDuty's 255 for a `dedup_key` and Opsgenie's 512 for an
/// `alias`, and safe in a URL path. A [prompt](crate::incident::Update::prompt)
/// to a person in an incident role is a record of its own,
/// `tidings-<incident id>-prompt-<seq>`, so that it notifies the person
/// even when the incident's own alert is acknowledged.
#[cfg(any(feature = "pagerduty", feature = "jsm", feature = "opsgenie"))]
pub(crate) fn incident_key(delivery: &Delivery) -> String {
    if delivery.update.is_prompt() {
        format!(
            "tidings-{}-prompt-{}",
            delivery.incident.id(),
            delivery.update.seq
        )
    } else {
        format!("tidings-{}", delivery.incident.id())
    }
}

/// Whether the delivery's update is older than a closing update the
/// incident already has (resolved, or a maintenance completed): sending it
/// now would open the provider's record again.
#[cfg(any(feature = "pagerduty", feature = "jsm", feature = "opsgenie"))]
pub(crate) fn superseded(delivery: &Delivery) -> bool {
    let update = &delivery.update;
    !update.status.is_closed()
        && delivery
            .incident
            .news()
            .any(|u| u.seq > update.seq && u.status.is_closed())
}

/// At most `max` characters of `text`, cut at a grapheme boundary and
/// marked with `…` when cut.
#[cfg(feature = "__records")]
pub(crate) fn cut(text: &str, max: usize) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut count = 0;
    for g in text.graphemes(true) {
        let n = g.chars().count();
        if count + n + 1 > max {
            break;
        }
        out.push_str(g);
        count += n;
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('…');
    out
}

/// Keeps the first `max` characters of a provider's error text that are
/// letters, digits, spaces or plain punctuation; whitespace runs become one
/// space. Provider bodies are never copied into errors whole.
#[cfg(feature = "__records")]
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let cleaned: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric() || " .,:;'!?()-_/".contains(*c))
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    cut(&cleaned.join(" "), max)
}

#[cfg(all(test, feature = "__records"))]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_graphemes_whole_and_mark_the_cut() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("ab e\u{301}e\u{301}", 4), "ab…");
        assert_eq!(cut("ab cd", 4), "ab…");
        assert_eq!(
            sanitize("<b>bad</b>   \"input\"\n\tok", 100),
            "bbad/b input ok"
        );
    }
}

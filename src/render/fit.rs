//! Fitting a rendered message to a channel's length limit without ever cutting
//! the link.
//!
//! A message is laid out as
//!
//! ```text
//! <title>
//!
//! <body>
//!
//! <next-update line>
//! <link>
//! ```
//!
//! The title counts toward the limit. A limit with two bounds (Bluesky: 300
//! graphemes and 3,000 bytes) is met when both are. When the whole does not
//! fit, the body is cut first (at a word boundary when one is near, always at
//! a grapheme boundary, with `…`), then the title; the next-update line and
//! the link are never cut. With [`Overflow::Split`] the body is spread over numbered parts
//! instead (`(1/3)`), each of which carries the link; the title is in the first
//! part and the next-update line in the last.

use std::num::NonZeroU16;

use unicode_segmentation::UnicodeSegmentation;

use super::format::{Fitted, Format, Pieces};
use super::{RenderedMessage, TextLimit};
use crate::render::LengthUnit;

const ELLIPSIS: &str = "…";

/// What to do with a message longer than the channel allows.
///
/// In a configuration file: `"shorten"`, or `{"split": {"max_parts": 3}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Cut the body (then the title) and mark the cut with `…`.
    #[default]
    Shorten,
    /// Split the body into numbered parts, at most `max_parts`; what does not fit
    /// in them is shortened in the last part.
    Split {
        /// The most parts to send.
        max_parts: NonZeroU16,
    },
}

impl Overflow {
    /// Split into at most `max_parts` parts (at least 1).
    pub fn split(max_parts: u16) -> Self {
        Overflow::Split {
            max_parts: NonZeroU16::new(max_parts).unwrap_or(NonZeroU16::MIN),
        }
    }
}

/// The message cannot be made to fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// Even without title and body, the next-update line and the link are longer
    /// than the limit (the first of its bounds they are over). Use a shorter
    /// link or a channel with a higher limit.
    #[error(
        "the link and next-update line alone measure {needed} {unit:?}, over the limit of {max}"
    )]
    DoesNotFit {
        /// What the smallest possible message measures.
        needed: usize,
        /// The limit.
        max: usize,
        /// How it was counted.
        unit: LengthUnit,
    },
}

/// Fits `message` plus `link` into `limit` (no limit: one part, whole).
///
/// Every returned part is within every bound of the limit and contains `link`
/// whole.
pub fn fit(
    message: &RenderedMessage,
    link: &str,
    limit: Option<&TextLimit>,
    format: &dyn Format,
    overflow: Overflow,
) -> Result<Vec<Fitted>, FitError> {
    let next = message.next_update.as_deref();
    let whole = Fitted::new(
        &pieces(&message.title, &message.body, None, next, link),
        format,
    );
    let Some(limit) = limit else {
        return Ok(vec![whole]);
    };
    if limit.allows(&whole.text) {
        return Ok(vec![whole]);
    }
    let fitter = Fitter {
        limit,
        format,
        link,
        next,
        title: &message.title,
        body: message.body.trim(),
    };
    match overflow {
        Overflow::Split { max_parts } if max_parts.get() > 1 && !fitter.body.is_empty() => {
            fitter.split(max_parts.get())
        }
        _ => fitter.shorten().map(|s| vec![s]),
    }
}

/// The pieces of a candidate: `marker` is the part numbering, if any.
fn pieces<'a>(
    title: &'a str,
    body: &'a str,
    part: Option<(u16, u16)>,
    next: Option<&'a str>,
    link: &'a str,
) -> Pieces<'a> {
    Pieces {
        title,
        body,
        part: part.filter(|_| !body.is_empty()),
        next_update: next,
        link,
    }
}

/// Largest `k` in `lo..=hi` with `ok(k)`, for an `ok` that holds up to some `k`
/// and fails after it. For any other `ok` it is still a `k` with `ok(k)`
/// (checked), if not always the largest.
fn largest(lo: usize, hi: usize, mut ok: impl FnMut(usize) -> bool) -> Option<usize> {
    if lo > hi || !ok(lo) {
        return None;
    }
    let (mut good, mut bad) = (lo, hi + 1);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if ok(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Some(good)
}

/// Byte offsets of every grapheme boundary of `s`, including 0 and `s.len()`.
fn boundaries(s: &str) -> Vec<usize> {
    s.grapheme_indices(true)
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect()
}

/// Moves a cut at `bounds[end]` back to a word boundary, if one is within the
/// part of `bounds[start]..bounds[end]` after `keep` (a fraction of it: what a
/// cut may give up); returns a boundary index.
fn soften(s: &str, bounds: &[usize], start: usize, end: usize, keep: Keep) -> usize {
    let (from, to) = (bounds[start], bounds[end]);
    let floor = match keep {
        Keep::TwoThirds => from + (to - from) * 2 / 3,
        Keep::Any => from,
    };
    (start + 1..end)
        .rev()
        .take_while(|&i| bounds[i] > floor)
        .find(|&i| s[bounds[i]..].starts_with(char::is_whitespace))
        .unwrap_or(end)
}

/// The word-boundary cut `soft` if it fits, else the cut `hard` it was moved
/// back from (which fits). A measure that is not monotone (X's: `a.co` is a
/// link that weighs 23, `a.cop` plain text that weighs 5) can make a shorter
/// cut longer.
fn checked(soft: usize, hard: usize, mut ok: impl FnMut(usize) -> bool) -> usize {
    if soft == hard || ok(soft) { soft } else { hard }
}

/// How much of a piece a word-boundary cut may give up.
#[derive(Clone, Copy)]
enum Keep {
    /// Shortening drops text: give up at most the last third.
    TwoThirds,
    /// Splitting loses nothing: any earlier word boundary will do.
    Any,
}

struct Fitter<'a> {
    limit: &'a TextLimit,
    format: &'a dyn Format,
    link: &'a str,
    next: Option<&'a str>,
    title: &'a str,
    body: &'a str,
}

impl Fitter<'_> {
    fn fits(&self, title: &str, body: &str, part: Option<(u16, u16)>, next: Option<&str>) -> bool {
        self.limit.allows(
            &self
                .format
                .layout(&pieces(title, body, part, next, self.link)),
        )
    }

    fn fitted(
        &self,
        title: &str,
        body: &str,
        part: Option<(u16, u16)>,
        next: Option<&str>,
    ) -> Fitted {
        Fitted::new(&pieces(title, body, part, next, self.link), self.format)
    }

    /// `s[..bounds[k]]` with trailing space removed and `…` appended.
    fn cut(s: &str, bounds: &[usize], k: usize) -> String {
        let mut out = s[..bounds[k]].trim_end().to_owned();
        out.push_str(ELLIPSIS);
        out
    }

    fn shorten(&self) -> Result<Fitted, FitError> {
        let next = self.next;
        let body_bounds = boundaries(self.body);
        let n = body_bounds.len() - 1;
        if n > 0 {
            let ok = |k: usize| {
                self.fits(
                    self.title,
                    &Self::cut(self.body, &body_bounds, k),
                    None,
                    next,
                )
            };
            if let Some(k) = largest(1, n - 1, &ok) {
                let k = checked(
                    soften(self.body, &body_bounds, 0, k, Keep::TwoThirds),
                    k,
                    &ok,
                );
                let body = Self::cut(self.body, &body_bounds, k);
                return Ok(self.fitted(self.title, &body, None, next));
            }
        }
        let title_bounds = boundaries(self.title);
        let t = title_bounds.len() - 1;
        if self.fits(self.title, "", None, next) {
            return Ok(self.fitted(self.title, "", None, next));
        }
        if t > 0 {
            let ok = |k: usize| self.fits(&Self::cut(self.title, &title_bounds, k), "", None, next);
            if let Some(k) = largest(1, t - 1, ok) {
                let title = Self::cut(self.title, &title_bounds, k);
                return Ok(self.fitted(&title, "", None, next));
            }
        }
        let bare = self.fitted("", "", None, next);
        match self.limit.exceeded(&bare.text) {
            None => Ok(bare),
            Some((bound, needed)) => Err(FitError::DoesNotFit {
                needed,
                max: bound.max,
                unit: bound.unit,
            }),
        }
    }

    fn split(&self, max_parts: u16) -> Result<Vec<Fitted>, FitError> {
        let bounds = boundaries(self.body);
        for count in 2..=max_parts {
            if let Some(parts) = self.split_into(&bounds, count, count == max_parts) {
                return Ok(parts);
            }
        }
        // Not even the title and a first grapheme fit next to a part marker.
        self.shorten().map(|s| vec![s])
    }

    /// Greedy split into at most `count` parts; with `shorten_last`, whatever is
    /// left for the last part is shortened instead of failing.
    fn split_into(&self, bounds: &[usize], count: u16, shorten_last: bool) -> Option<Vec<Fitted>> {
        let body = self.body;
        let n = bounds.len() - 1;
        let mut chunks: Vec<String> = Vec::new();
        let mut start = 0;
        for index in 1..=count {
            let title = if index == 1 { self.title } else { "" };
            let marker = Some((index, count));
            let rest = body[bounds[start]..].trim_start();
            if self.fits(title, rest, marker, self.next) {
                chunks.push(rest.to_owned());
                break;
            }
            if index == count {
                if !shorten_last {
                    return None;
                }
                let local = boundaries(rest);
                let ok =
                    |k: usize| self.fits(title, &Self::cut(rest, &local, k), marker, self.next);
                let k = largest(1, local.len().saturating_sub(2), &ok)?;
                let k = checked(soften(rest, &local, 0, k, Keep::TwoThirds), k, &ok);
                chunks.push(Self::cut(rest, &local, k));
                break;
            }
            // Leave at least the last grapheme for a later part, which carries
            // the next-update line.
            let ok =
                |k: usize| self.fits(title, body[bounds[start]..bounds[k]].trim(), marker, None);
            let end = largest(start + 1, n.checked_sub(1)?, &ok)?;
            let end = checked(soften(body, bounds, start, end, Keep::Any), end, &ok);
            chunks.push(body[bounds[start]..bounds[end]].trim().to_owned());
            start = end;
        }
        let total = chunks.len();
        let count = u16::try_from(total).unwrap_or(u16::MAX);
        let parts: Vec<Fitted> = chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let (title, next) = (
                    if i == 0 { self.title } else { "" },
                    if i + 1 == total { self.next } else { None },
                );
                let index = u16::try_from(i + 1).unwrap_or(u16::MAX);
                let marker = (total > 1).then_some((index, count));
                self.fitted(title, chunk, marker, next)
            })
            .collect();
        parts
            .iter()
            .all(|p| self.limit.allows(&p.text))
            .then_some(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fits in the plain layout; each part's text.
    fn fit(
        m: &RenderedMessage,
        link: &str,
        limit: Option<&TextLimit>,
        overflow: Overflow,
    ) -> Result<Vec<String>, FitError> {
        super::fit(m, link, limit, &super::super::Plain, overflow)
            .map(|parts| parts.into_iter().map(|p| p.text.to_string()).collect())
    }

    fn msg(title: &str, body: &str, next: Option<&str>) -> RenderedMessage {
        RenderedMessage {
            title: title.into(),
            body: body.into(),
            next_update: next.map(Into::into),
        }
    }

    const LINK: &str = "https://status.example.com/incidents/inc-1";

    #[test]
    fn short_messages_are_untouched() {
        let m = msg(
            "[Investigating] API errors",
            "We are looking.",
            Some("Next update by 14:30 UTC."),
        );
        let out = fit(&m, LINK, Some(&TextLimit::chars(500)), Overflow::Shorten).unwrap();
        assert_eq!(
            out,
            vec![format!(
                "[Investigating] API errors\n\nWe are looking.\n\nNext update by 14:30 UTC.\n{LINK}"
            )]
        );
    }

    #[test]
    fn shortening_cuts_the_body_at_a_word_and_keeps_the_link() {
        let body = "The API returns errors for some requests in the EU region. ".repeat(10);
        let m = msg(
            "[Identified] API errors",
            &body,
            Some("Next update by 14:30 UTC."),
        );
        let limit = TextLimit::chars(160);
        let out = fit(&m, LINK, Some(&limit), Overflow::Shorten).unwrap();
        assert_eq!(out.len(), 1);
        let text = &out[0];
        assert!(limit.allows(text), "{text}");
        assert!(text.ends_with(&format!("Next update by 14:30 UTC.\n{LINK}")));
        assert!(text.starts_with("[Identified] API errors\n\nThe API"));
        assert!(text.contains("…"));
        let kept = text.split("\n\n").nth(1).unwrap().trim_end_matches('…');
        assert!(
            body.starts_with(kept) && body[kept.len()..].starts_with(' '),
            "cut at a word: {kept:?}"
        );
    }

    #[test]
    fn the_title_is_cut_when_the_body_cannot_help() {
        let m = msg(&"Very long title ".repeat(10), "body", None);
        let out = fit(&m, LINK, Some(&TextLimit::chars(60)), Overflow::Shorten).unwrap();
        assert!(out[0].ends_with(LINK) && out[0].contains('…') && out[0].chars().count() <= 60);
    }

    #[test]
    fn both_bounds_of_a_limit_are_met() {
        // Long emoji sequences: 300 graphemes would be far over 3,000 bytes.
        let body = "👩\u{200d}👩\u{200d}👧 ".repeat(200);
        let m = msg(
            "[Identified] Outage",
            &body,
            Some("Next update by 14:30 UTC."),
        );
        let limit = TextLimit::graphemes(300).and(3_000, LengthUnit::Utf8Bytes);
        let out = fit(&m, LINK, Some(&limit), Overflow::Shorten).unwrap();
        assert!(
            out[0].len() <= 3_000 && out[0].len() > 2_000,
            "{}",
            out[0].len()
        );
        assert!(out[0].ends_with(LINK));
        let parts = fit(&m, LINK, Some(&limit), Overflow::split(5)).unwrap();
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| limit.allows(p) && p.ends_with(LINK)));
        let err = fit(
            &m,
            LINK,
            Some(&TextLimit::graphemes(300).and(20, LengthUnit::Utf8Bytes)),
            Overflow::Shorten,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                FitError::DoesNotFit {
                    max: 20,
                    unit: LengthUnit::Utf8Bytes,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_link_longer_than_the_limit_is_an_error() {
        let m = msg("t", "b", Some("Next update by 14:30 UTC."));
        let err = fit(&m, LINK, Some(&TextLimit::chars(30)), Overflow::Shorten).unwrap_err();
        assert!(matches!(err, FitError::DoesNotFit { max: 30, .. }));
    }

    #[test]
    fn splitting_numbers_parts_and_puts_the_link_in_each() {
        let body = (1..=40)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let m = msg(
            "[Investigating] Outage",
            &body,
            Some("Next update by 14:30 UTC."),
        );
        let limit = TextLimit::chars(140);
        let parts = fit(&m, LINK, Some(&limit), Overflow::split(10)).unwrap();
        assert!(parts.len() > 1);
        let n = parts.len();
        for (i, p) in parts.iter().enumerate() {
            assert!(limit.allows(p), "{p}");
            assert!(p.ends_with(LINK));
            assert!(p.contains(&format!(" ({}/{n})", i + 1)), "{p}");
            assert_eq!(p.contains("Next update"), i + 1 == n);
            assert_eq!(p.starts_with("[Investigating] Outage"), i == 0);
        }
        let words: Vec<&str> = parts
            .iter()
            .flat_map(|p| p.split_whitespace())
            .filter(|w| w.starts_with("word"))
            .collect();
        assert_eq!(words.len(), 40, "no word lost or cut: {parts:?}");
    }

    #[test]
    fn splitting_beyond_max_parts_shortens_the_last() {
        let body = "lorem ipsum dolor sit amet ".repeat(40);
        let m = msg("T", &body, None);
        let limit = TextLimit::chars(100);
        let parts = fit(&m, LINK, Some(&limit), Overflow::split(3)).unwrap();
        assert_eq!(parts.len(), 3);
        assert!(
            parts[2].contains('…') && parts.iter().all(|p| limit.allows(p) && p.ends_with(LINK))
        );
    }
}

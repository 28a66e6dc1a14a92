//! The review as an SVG timeline.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::analysis::{duration, end_words, full_time, row_name, short_time};
use super::{MessageKind, PromiseOutcome, Review};

/// Escapes text for XML character data and attribute values, dropping
/// characters XML 1.0 cannot hold.
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Width of the drawing.
const WIDTH: f64 = 1000.0;
/// Where the plot starts (the row labels are left of it).
const PLOT_LEFT: f64 = 290.0;
/// Right margin.
const MARGIN_RIGHT: f64 = 30.0;
/// Width of the column for messages long after the incident (postmortems).
const LATER_WIDTH: f64 = 90.0;
/// Top of the first row.
const ROWS_TOP: f64 = 134.0;
/// Height of a row.
const ROW_HEIGHT: f64 = 40.0;
/// Longest row label shown (the full one is in its tooltip).
const LABEL_CHARS: usize = 38;

/// Tick steps, in minutes.
const STEPS: [i64; 16] = [
    1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440, 2880, 10_080, 43_200,
];

/// Maps times to x.
struct Scale {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    left: f64,
    right: f64,
    /// Centre of the "later" column, if any.
    later: Option<f64>,
}

impl Scale {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_milliseconds().max(1) as f64;
        let at = (t - self.from).num_milliseconds() as f64;
        let x = self.left + at / span * (self.right - self.left);
        x.clamp(self.left, self.right)
    }

    /// Where a message goes: on the axis, or in the "later" column.
    fn place(&self, t: DateTime<Utc>, kind: MessageKind) -> f64 {
        match self.later {
            Some(x) if kind == MessageKind::Postmortem => x,
            _ => self.x(t),
        }
    }
}

/// The points of a diamond centred on (`x`, `y`).
fn diamond(x: f64, y: f64) -> String {
    format!(
        "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
        x,
        y - 5.0,
        x + 5.0,
        y,
        x,
        y + 5.0,
        x - 5.0,
        y
    )
}

/// A promise's fill and stroke.
fn promise_style(outcome: PromiseOutcome) -> (&'static str, &'static str) {
    match outcome {
        PromiseOutcome::Kept { .. } => ("#009E73", "#006B4F"),
        PromiseOutcome::Late { .. } => ("#E69F00", "#8A5F00"),
        PromiseOutcome::Broken { .. } | PromiseOutcome::Overdue { .. } => ("#D55E00", "#7A3600"),
        PromiseOutcome::Pending => ("#ffffff", "#767676"),
    }
}

fn tooltip(o: &mut String, text: &str) {
    let _ = write!(o, "<title>{}</title>", xml(text));
}

impl Review {
    /// The review as an SVG timeline: one row per channel and audience (the
    /// primary first), a dot per message coloured by act, silences over their
    /// target as red bands (up to the resolution, or to the time of the review
    /// for an open incident), every promise of a next update as a diamond at
    /// the promised time (green kept, orange late with a line to when the
    /// update came, vermilion broken or overdue, grey pending), failed
    /// deliveries as crosses, the start and the resolution (or "now") as
    /// vertical lines, and a time axis in UTC. Postmortems
    /// sit in a separate "later" column so that they do not squash the
    /// incident. Self-contained (no external assets), with a `<title>` and
    /// `<desc>` for screen readers and a tooltip on every mark; user text is
    /// escaped.
    pub fn to_svg(&self) -> String {
        let start = self.started_at;
        let kind_of = |seq: u32| {
            self.updates
                .iter()
                .find(|u| u.seq == seq)
                .map_or(MessageKind::Update, |u| u.kind)
        };
        // The axis spans the incident (up to the review, while it is open);
        // postmortems go in the "later" column.
        let mut to = self
            .resolved_at
            .unwrap_or_else(|| self.reviewed_at.max(start));
        let mut from = start;
        let mut later = false;
        let mut extend = |t: DateTime<Utc>, kind: MessageKind| {
            if kind == MessageKind::Postmortem && self.resolved_at.is_some() {
                later = true;
            } else {
                to = to.max(t);
                from = from.min(t);
            }
        };
        for c in &self.channels {
            for m in &c.timeline.messages {
                extend(m.at, m.kind);
            }
            for f in &c.failures {
                extend(f.at, kind_of(f.seq));
            }
            // A promise kept needs no room of its own: past the end, it sits
            // at the edge.
            for p in c
                .timeline
                .promises
                .iter()
                .filter(|p| !matches!(p.outcome, PromiseOutcome::Kept { .. }))
            {
                extend(p.due, MessageKind::Update);
            }
        }
        if to - from < chrono::Duration::minutes(1) {
            to = from + chrono::Duration::minutes(1);
        }
        let right = WIDTH - MARGIN_RIGHT - if later { LATER_WIDTH } else { 0.0 };
        let scale = Scale {
            from,
            to,
            left: PLOT_LEFT,
            right,
            later: later.then_some(WIDTH - MARGIN_RIGHT - LATER_WIDTH / 2.0),
        };
        let rows = self.channels.len().max(1) as f64;
        let axis_y = ROWS_TOP + rows * ROW_HEIGHT + 8.0;
        let height = axis_y + 56.0;

        let mut o = String::new();
        let title = format!(
            "Communication timeline: {} ({})",
            self.title,
            self.incident.as_str()
        );
        let over: usize = self
            .channels
            .iter()
            .map(|c| c.timeline.gaps_over_target().count())
            .sum();
        let failed = self.failures().count();
        let not_kept: usize = self
            .channels
            .iter()
            .map(|c| c.timeline.promises_not_kept().count())
            .sum();
        let desc = format!(
            "Every message sent about the incident, one row per channel and audience, from {} to {}. {} silences longer than their target, {} promises of a next update not kept, {} failed deliveries.",
            full_time(from),
            full_time(to),
            over,
            not_kept,
            failed
        );
        let _ = write!(
            o,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0}" height="{height:.0}" viewBox="0 0 {WIDTH:.0} {height:.0}" role="img" aria-labelledby="review-title review-desc" xml:lang="en" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12" fill="#1a1a1a">"##
        );
        let _ = write!(
            o,
            r#"<title id="review-title">{}</title><desc id="review-desc">{}</desc>"#,
            xml(&title),
            xml(&desc)
        );
        let _ = write!(
            o,
            r##"<rect x="0" y="0" width="{WIDTH:.0}" height="{height:.0}" fill="#ffffff"/>"##
        );
        let _ = write!(
            o,
            r#"<text x="20" y="30" font-size="18" font-weight="bold">{}</text>"#,
            xml(&title)
        );
        let subtitle = format!(
            "Started {}{}",
            full_time(start),
            self.resolved_at.map_or_else(
                || format!(
                    ", not resolved when reviewed {}",
                    full_time(self.reviewed_at)
                ),
                |r| format!(
                    ", resolved {} (after {})",
                    full_time(r),
                    duration((r - start).to_std().unwrap_or_default())
                )
            )
        );
        let _ = write!(
            o,
            r##"<text x="20" y="52" fill="#444444">{}</text>"##,
            xml(&subtitle)
        );

        // Legend.
        let _ = write!(o, r#"<g aria-label="Legend">"#);
        let mut lx = 20.0;
        // A maintenance reminder only where there is one; prompts to the
        // roles are not on the rows.
        let shown = MessageKind::ALL.into_iter().filter(|kind| {
            !kind.is_prompt()
                && (*kind != MessageKind::Reminder || self.updates.iter().any(|u| u.kind == *kind))
        });
        for kind in shown {
            let _ = write!(
                o,
                r##"<circle cx="{:.1}" cy="78" r="6" fill="{}" stroke="#ffffff" stroke-width="1.5"/><text x="{:.1}" y="82">{}</text>"##,
                lx + 6.0,
                kind.colour(),
                lx + 16.0,
                kind.label()
            );
            lx += 30.0 + kind.label().len() as f64 * 7.0;
        }
        let _ = write!(
            o,
            r##"<rect x="{lx:.1}" y="72" width="22" height="12" fill="#D55E00" fill-opacity="0.35" stroke="#B34700" stroke-width="1"/><text x="{:.1}" y="82">silence over target</text>"##,
            lx + 28.0
        );
        lx += 28.0 + 19.0 * 7.0 + 16.0;
        let _ = write!(
            o,
            r##"<path d="M{:.1} 73 l10 10 m0 -10 l-10 10" stroke="#000000" stroke-width="2"/><text x="{:.1}" y="82">failed delivery</text>"##,
            lx,
            lx + 16.0
        );
        // Promises, on a second line.
        let mut px = 20.0;
        for (outcome, label) in [
            (PromiseOutcome::Pending, "promise kept"),
            (
                PromiseOutcome::Late {
                    at: start,
                    by: std::time::Duration::ZERO,
                },
                "promise kept late",
            ),
            (
                PromiseOutcome::Overdue {
                    by: std::time::Duration::ZERO,
                },
                "promise broken",
            ),
            (PromiseOutcome::Pending, "promise pending"),
        ] {
            let (fill, stroke) = if label == "promise kept" {
                promise_style(PromiseOutcome::Kept { at: start })
            } else {
                promise_style(outcome)
            };
            let _ = write!(
                o,
                r#"<polygon points="{}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/><text x="{:.1}" y="104">{label}</text>"#,
                diamond(px + 6.0, 100.0),
                px + 16.0
            );
            px += 30.0 + label.len() as f64 * 7.0;
        }
        let _ = write!(o, "</g>");

        // Rows.
        if self.channels.is_empty() {
            let _ = write!(
                o,
                r##"<text x="{PLOT_LEFT:.0}" y="{:.1}" fill="#444444">No delivery was recorded.</text>"##,
                ROWS_TOP + ROW_HEIGHT / 2.0 + 4.0
            );
        }
        for (i, c) in self.channels.iter().enumerate() {
            let top = ROWS_TOP + i as f64 * ROW_HEIGHT;
            let y = top + ROW_HEIGHT / 2.0;
            let label = format!("{} · {}", row_name(c), c.audience.as_str());
            let shown: String = if label.chars().count() > LABEL_CHARS {
                let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
                s.push('…');
                s
            } else {
                label.clone()
            };
            let _ = write!(o, r#"<g aria-label="{}">"#, xml(&label));
            if i % 2 == 0 {
                let _ = write!(
                    o,
                    r##"<rect x="10" y="{top:.1}" width="{:.1}" height="{ROW_HEIGHT:.1}" fill="#f3f4f6"/>"##,
                    WIDTH - 20.0
                );
            }
            let _ = write!(
                o,
                r#"<text x="20" y="{:.1}" font-weight="{}">{}"#,
                y + 4.0,
                if c.primary { "bold" } else { "normal" },
                xml(&shown)
            );
            tooltip(
                &mut o,
                &format!(
                    "{label}: {} messages, target silence {}",
                    c.timeline.messages.len(),
                    duration(c.timeline.target)
                ),
            );
            let _ = write!(o, "</text>");
            let _ = write!(
                o,
                r##"<line x1="{PLOT_LEFT:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#9ca3af" stroke-width="1"/>"##
            );
            for g in c.timeline.gaps_over_target() {
                let (x1, x2) = (scale.x(g.from), scale.x(g.to));
                let _ = write!(
                    o,
                    r##"<rect x="{x1:.1}" y="{:.1}" width="{:.1}" height="18" fill="#D55E00" fill-opacity="0.35" stroke="#B34700" stroke-width="1">"##,
                    y - 9.0,
                    (x2 - x1).max(1.0)
                );
                let after = g
                    .after
                    .map_or_else(|| "the start".to_owned(), |s| format!("#{s}"));
                tooltip(
                    &mut o,
                    &format!(
                        "Silence of {} after {after} ({} UTC) until {} UTC, target {}",
                        duration(g.length),
                        short_time(g.from, start),
                        end_words(g, start),
                        duration(g.target)
                    ),
                );
                let _ = write!(o, "</rect>");
            }
            for p in &c.timeline.promises {
                let x = scale.x(p.due);
                if let PromiseOutcome::Late { at, .. } = p.outcome {
                    let _ = write!(
                        o,
                        r##"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#B36B00" stroke-width="1.5" stroke-dasharray="3 2"/>"##,
                        y - 12.0,
                        scale.x(at),
                        y - 12.0
                    );
                }
                let (fill, stroke) = promise_style(p.outcome);
                let _ = write!(
                    o,
                    r#"<polygon points="{}" fill="{fill}" stroke="{stroke}" stroke-width="1.5">"#,
                    diamond(x, y - 12.0)
                );
                let what = match p.outcome {
                    PromiseOutcome::Kept { at } => {
                        format!(
                            "kept: the next message came at {} UTC",
                            short_time(at, start)
                        )
                    }
                    PromiseOutcome::Late { at, by } => format!(
                        "kept late: the next update came at {} UTC, {} late",
                        short_time(at, start),
                        duration(by)
                    ),
                    PromiseOutcome::Broken { resolved_at } => format!(
                        "broken: no update before the resolution at {} UTC",
                        short_time(resolved_at, start)
                    ),
                    PromiseOutcome::Pending => "pending".to_owned(),
                    PromiseOutcome::Overdue { by } => {
                        format!("overdue by {} when reviewed", duration(by))
                    }
                };
                tooltip(
                    &mut o,
                    &format!(
                        "#{} promised the next update by {} UTC: {what}",
                        p.seq,
                        short_time(p.due, start)
                    ),
                );
                let _ = write!(o, "</polygon>");
            }
            for f in &c.failures {
                let x = scale.place(f.at, kind_of(f.seq));
                let _ = write!(
                    o,
                    r##"<path d="M{:.1} {:.1} l10 10 m0 -10 l-10 10" stroke="#000000" stroke-width="2">"##,
                    x - 5.0,
                    y - 5.0
                );
                tooltip(
                    &mut o,
                    &format!(
                        "Failed: #{} to {} at {} UTC after {} attempts: {}",
                        f.seq,
                        f.target,
                        short_time(f.at, start),
                        f.attempts,
                        f.reason
                    ),
                );
                let _ = write!(o, "</path>");
            }
            for m in &c.timeline.messages {
                let x = scale.place(m.at, m.kind);
                let _ = write!(
                    o,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="6" fill="{}" stroke="#ffffff" stroke-width="1.5">"##,
                    m.kind.colour()
                );
                tooltip(
                    &mut o,
                    &format!(
                        "#{} {} at {} UTC ({} deliveries)",
                        m.seq,
                        m.kind.label(),
                        short_time(m.at, start),
                        m.deliveries
                    ),
                );
                let _ = write!(o, "</circle>");
            }
            let _ = write!(o, "</g>");
        }

        // Start and resolution.
        let rows_bottom = ROWS_TOP + rows * ROW_HEIGHT;
        let marker = |o: &mut String, t: DateTime<Utc>, colour: &str, label: &str| {
            let x = scale.x(t);
            let _ = write!(
                o,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{rows_bottom:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{colour}">{label}</text>"#,
                ROWS_TOP - 4.0,
                ROWS_TOP - 8.0
            );
        };
        marker(&mut o, start, "#444444", "start");
        match self.resolved_at {
            Some(r) => marker(&mut o, r, "#007A5A", "resolved"),
            None => marker(&mut o, self.reviewed_at.max(start), "#B34700", "now"),
        }

        // Axis.
        let _ = write!(
            o,
            r##"<g aria-label="Time axis (UTC)"><line x1="{PLOT_LEFT:.1}" y1="{axis_y:.1}" x2="{right:.1}" y2="{axis_y:.1}" stroke="#444444" stroke-width="1"/>"##
        );
        let span_min = (to - from).num_seconds() as f64 / 60.0;
        let step = STEPS
            .iter()
            .copied()
            .find(|s| span_min / *s as f64 <= 8.0)
            .unwrap_or(43_200);
        let step_s = step * 60;
        let mut tick = from.timestamp().div_euclid(step_s) * step_s;
        if tick < from.timestamp() {
            tick += step_s;
        }
        let format = if (to - from) > chrono::Duration::days(1) {
            "%m-%d %H:%M"
        } else {
            "%H:%M"
        };
        while let Some(t) = DateTime::<Utc>::from_timestamp(tick, 0).filter(|t| *t <= to) {
            let x = scale.x(t);
            let _ = write!(
                o,
                r##"<line x1="{x:.1}" y1="{ROWS_TOP:.1}" x2="{x:.1}" y2="{:.1}" stroke="#d1d5db" stroke-width="0.5"/><line x1="{x:.1}" y1="{axis_y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444444"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                rows_bottom,
                axis_y + 5.0,
                axis_y + 18.0,
                t.format(format)
            );
            tick += step_s;
        }
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444444">Time (UTC) from {}</text></g>"##,
            (PLOT_LEFT + right) / 2.0,
            axis_y + 38.0,
            full_time(from)
        );
        if let Some(x) = scale.later {
            let _ = write!(
                o,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{rows_bottom:.1}" stroke="#9ca3af" stroke-dasharray="2 4"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#444444">later</text>"##,
                right + 10.0,
                ROWS_TOP - 4.0,
                right + 10.0,
                axis_y + 18.0
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_escaping_is_total() {
        assert_eq!(
            xml(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(xml("nul\u{0}bell\u{7}\u{FFFE}ok\n"), "nulbellok ");
    }
}

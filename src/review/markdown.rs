//! The review as Markdown.

use std::fmt::Write as _;

use super::analysis::{duration, full_time, row_name, short_time, span};
use std::time::Duration;

use super::{Gap, Review};
use crate::incident::Recipients;

/// Escapes text for Markdown (and the HTML a Markdown renderer passes
/// through): no markup, link, table cell break or tag survives.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn recipients(r: &Recipients) -> String {
    match r {
        Recipients::All => "everyone".to_owned(),
        Recipients::Only(list) => list
            .iter()
            .map(|a| md(a.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_owned(), duration)
}

fn gap_from(g: &Gap) -> String {
    g.after
        .map_or_else(|| "start".to_owned(), |s| format!("#{s}"))
}

impl Review {
    /// The review as a Markdown report: a summary, the updates, a table per
    /// audience and per channel, every silence over target, every gap, links
    /// missing and failed deliveries. User text is escaped.
    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let start = self.started_at;
        let _ = writeln!(
            o,
            "# Communication review: {} ({})\n",
            md(&self.title),
            md(self.incident.as_str())
        );
        let _ = writeln!(o, "- Started: {}", full_time(start));
        match self.resolved_at {
            Some(r) => {
                let _ = writeln!(
                    o,
                    "- Resolved: {} (after {})",
                    full_time(r),
                    duration(span(start, r))
                );
            }
            None => {
                let _ = writeln!(o, "- Resolved: not yet");
            }
        }
        let _ = writeln!(
            o,
            "- First message, on any channel: {}",
            self.first_message.map_or_else(
                || "none".to_owned(),
                |d| format!("{} after the start", duration(d))
            )
        );
        if let Some(d) = self.last_update_to_resolution {
            let _ = writeln!(
                o,
                "- Last update before the resolution: {} before it",
                duration(d)
            );
        }
        let sent = self.deliveries_sent;
        let over: usize = self
            .channels
            .iter()
            .map(|c| c.timeline.gaps_over_target().count())
            .sum();
        let _ = writeln!(
            o,
            "- Deliveries: {sent} sent, {} failed, {} without the link, {} unfinished",
            self.failures().count(),
            self.missing_links().count(),
            self.channels.iter().map(|c| c.unfinished).sum::<usize>()
        );
        let _ = writeln!(o, "- Silences over target: {over}");

        let _ = writeln!(o, "\n## Updates\n");
        let _ = writeln!(o, "| # | Act | Status | Written (UTC) | For |");
        let _ = writeln!(o, "|---:|---|---|---|---|");
        for u in &self.updates {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                u.seq,
                u.kind.label(),
                u.status.label(),
                short_time(u.at, start),
                recipients(&u.recipients)
            );
        }

        let _ = writeln!(o, "\n## Audiences\n");
        let _ = writeln!(
            o,
            "| Audience | Target silence | First message after | Messages | Longest silence | Over target | Last update → resolution |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|");
        for a in &self.audiences {
            let t = &a.timeline;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                md(a.audience.as_str()),
                duration(t.target),
                opt(t.first_message),
                t.messages.len(),
                opt(t.longest_silence().map(|g| g.length)),
                t.gaps_over_target().count(),
                opt(t.last_update_to_resolution),
            );
        }

        let _ = writeln!(o, "\n## Channels\n");
        let _ = writeln!(
            o,
            "| Channel | Audience | Target silence | First message after | Messages | Longest silence | Over target | Last update → resolution | Without link | Failed |"
        );
        let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for c in &self.channels {
            let t = &c.timeline;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&row_name(c)),
                md(c.audience.as_str()),
                duration(t.target),
                opt(t.first_message),
                t.messages.len(),
                opt(t.longest_silence().map(|g| g.length)),
                t.gaps_over_target().count(),
                opt(t.last_update_to_resolution),
                c.missing_link.len(),
                c.failures.len(),
            );
        }

        let _ = writeln!(o, "\n## Silences over target\n");
        if over == 0 {
            let _ = writeln!(o, "None: every silence was within its target.");
        } else {
            let _ = writeln!(o, "| Channel | Audience | From | To | Silence | Target |");
            let _ = writeln!(o, "|---|---|---|---|---:|---:|");
            for c in &self.channels {
                for g in c.timeline.gaps_over_target() {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} {} | #{} {} | {} | {} |",
                        md(&row_name(c)),
                        md(c.audience.as_str()),
                        gap_from(g),
                        short_time(g.from, start),
                        g.before,
                        short_time(g.to, start),
                        duration(g.length),
                        duration(c.timeline.target),
                    );
                }
            }
        }

        let _ = writeln!(o, "\n## Every silence\n");
        for c in &self.channels {
            let _ = writeln!(
                o,
                "### {} · {}\n",
                md(&row_name(c)),
                md(c.audience.as_str())
            );
            if c.timeline.gaps.is_empty() {
                let _ = writeln!(o, "No message was sent on this channel.\n");
                continue;
            }
            let _ = writeln!(
                o,
                "| From | To | Silence | Within {} |",
                duration(c.timeline.target)
            );
            let _ = writeln!(o, "|---|---|---:|---|");
            for g in &c.timeline.gaps {
                let _ = writeln!(
                    o,
                    "| {} {} | #{} {} | {} | {} |",
                    gap_from(g),
                    short_time(g.from, start),
                    g.before,
                    short_time(g.to, start),
                    duration(g.length),
                    if g.over_target { "**no**" } else { "yes" },
                );
            }
            let _ = writeln!(o);
        }

        let _ = writeln!(o, "## Messages without the link\n");
        if self.missing_links().next().is_none() {
            let _ = writeln!(o, "None: every message carried the link.");
        } else {
            let _ = writeln!(o, "| Channel | Audience | Target | Update | Part | Sent |");
            let _ = writeln!(o, "|---|---|---|---:|---|---|");
            for (c, m) in self.missing_links() {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | #{} | {}/{} | {} |",
                    md(&row_name(c)),
                    md(c.audience.as_str()),
                    md(m.target.as_str()),
                    m.seq,
                    m.part.index,
                    m.part.count,
                    short_time(m.at, start),
                );
            }
        }

        let _ = writeln!(o, "\n## Failed deliveries\n");
        if self.failures().next().is_none() {
            let _ = writeln!(o, "None.");
        } else {
            let _ = writeln!(
                o,
                "| Channel | Audience | Target | Update | Part | Given up | Attempts | Retryable | Reason |"
            );
            let _ = writeln!(o, "|---|---|---|---:|---|---|---:|---|---|");
            for (c, f) in self.failures() {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | #{} | {}/{} | {} | {} | {} | {} |",
                    md(&row_name(c)),
                    md(c.audience.as_str()),
                    md(f.target.as_str()),
                    f.seq,
                    f.part.index,
                    f.part.count,
                    short_time(f.at, start),
                    f.attempts,
                    if f.retryable { "yes" } else { "no" },
                    md(&f.reason),
                );
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn markdown_escaping_leaves_no_markup() {
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("<b>&</b>"), "&lt;b&gt;&amp;&lt;/b&gt;");
        assert_eq!(
            md("[x](y) *z* _w_ `c`"),
            "\\[x\\](y) \\*z\\* \\_w\\_ \\`c\\`"
        );
        assert_eq!(md("two\nlines"), "two lines");
    }
}

//! The review as Markdown.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::analysis::{duration, full_time, row_name, short_time, span};
use super::{Gap, GapEnd, PostmortemStatus, PromiseOutcome, Review, Timeline};
use crate::incident::{Person, Recipients, Role};

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

fn gap_to(g: &Gap, start: DateTime<Utc>) -> String {
    let what = match g.end {
        GapEnd::Message(seq) => format!("#{seq}"),
        GapEnd::Resolution => "resolution".to_owned(),
        GapEnd::Now => "now".to_owned(),
    };
    format!("{what} {}", short_time(g.to, start))
}

fn person(p: Option<&Person>, role: Role) -> String {
    match p {
        Some(p) => {
            let targets: Vec<String> = p.route().targets().iter().map(|t| md(t.as_str())).collect();
            format!(
                "{} ({}: {})",
                md(p.name()),
                md(p.route().channel()),
                targets.join(", ")
            )
        }
        None if role == Role::CommunicationOwner => {
            "**none named**: nobody owned the communication".to_owned()
        }
        None => "none named".to_owned(),
    }
}

fn promise_cells(t: &Timeline) -> String {
    let (kept, late, broken, pending) = t.promise_counts();
    format!("{kept} | {late} | {broken} | {pending}")
}

impl Review {
    /// The review as a Markdown report: a summary (roles, deliveries,
    /// silences counted per audience, promises, the postmortem), the play's
    /// review table (every gap, its root cause, a recommendation), the
    /// updates, the prompts to the roles, a table per audience and per
    /// channel, every promise not kept, every silence over target and every
    /// silence, deliveries that failed before they went out, links missing
    /// and failed deliveries. User text is escaped.
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
                let _ = writeln!(
                    o,
                    "- Resolved: not yet (reviewed {}, {} after the start)",
                    full_time(self.reviewed_at),
                    duration(span(start, self.reviewed_at))
                );
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
        let _ = writeln!(
            o,
            "- Communication owner: {}",
            person(self.roles.owner.as_ref(), Role::CommunicationOwner)
        );
        let _ = writeln!(
            o,
            "- Incident commander: {}",
            person(self.roles.commander.as_ref(), Role::IncidentCommander)
        );
        let sent = self.deliveries_sent;
        let recovered: Vec<Duration> = self.recovered().map(|(_, r)| r.delay).collect();
        let _ = writeln!(
            o,
            "- Deliveries: {sent} sent, {} failed, {} sent after failing first{}, {} without the link, {} unfinished",
            self.failures().count(),
            recovered.len(),
            recovered
                .iter()
                .max()
                .map_or_else(String::new, |d| format!(" (up to {} late)", duration(*d))),
            self.missing_links().count(),
            self.channels.iter().map(|c| c.unfinished).sum::<usize>()
        );
        let over = self.silences_over_target().count();
        let _ = writeln!(o, "- Silences over target: {over} (counted per audience)");
        let late_first = self
            .audiences
            .iter()
            .filter(|a| a.timeline.first_message_late())
            .count();
        let _ = writeln!(o, "- First messages later than their target: {late_first}");
        let (mut kept, mut late, mut broken, mut pending) = (0, 0, 0, 0);
        for a in &self.audiences {
            let c = a.timeline.promise_counts();
            kept += c.0;
            late += c.1;
            broken += c.2;
            pending += c.3;
        }
        let _ = writeln!(
            o,
            "- Promises of a next update (per audience): {kept} kept, {late} late, {broken} broken or overdue, {pending} pending"
        );
        let postmortem = match self.postmortem {
            PostmortemStatus::NotExpected => "not expected yet".to_owned(),
            PostmortemStatus::Pending { due } => format!("due by {}", full_time(due)),
            PostmortemStatus::Published { after, late, .. } => format!(
                "published {} after the resolution{}",
                duration(after),
                if late { " (late)" } else { "" }
            ),
            PostmortemStatus::Missing { due, late_by } => format!(
                "**missing**: due {}, {} overdue",
                full_time(due),
                duration(late_by)
            ),
        };
        let _ = writeln!(o, "- Postmortem: {postmortem}");
        let reminders = self
            .prompts
            .iter()
            .filter(|p| p.role == Role::CommunicationOwner)
            .count();
        let _ = writeln!(
            o,
            "- Reminders to the communication owner: {reminders}; escalations to the incident commander: {}",
            self.prompts.len() - reminders
        );

        let _ = writeln!(o, "\n## Review table\n");
        o.push_str(&self.review_table());

        let _ = writeln!(o, "\n## Updates\n");
        let _ = writeln!(
            o,
            "| # | Act | Status | Written (UTC) | Next update by | For |"
        );
        let _ = writeln!(o, "|---:|---|---|---|---|---|");
        for u in &self.updates {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                u.seq,
                u.kind.label(),
                u.status.label(),
                short_time(u.at, start),
                u.next_update_at
                    .map_or_else(|| "—".to_owned(), |t| short_time(t, start)),
                recipients(&u.recipients)
            );
        }

        let _ = writeln!(o, "\n## Reminders and escalations\n");
        if self.prompts.is_empty() {
            let _ = writeln!(o, "None was sent.");
        } else {
            let _ = writeln!(o, "| # | Sent (UTC) | To | About | Due | Reached them |");
            let _ = writeln!(o, "|---:|---|---|---|---|---|");
            for p in &self.prompts {
                let about: Vec<String> = p.audiences.iter().map(|a| md(a.as_str())).collect();
                let _ = writeln!(
                    o,
                    "| {} | {} | {}{} | {} | {} | {} |",
                    p.seq,
                    short_time(p.at, start),
                    p.role.label(),
                    p.person
                        .as_deref()
                        .map_or_else(String::new, |n| format!(" ({})", md(n))),
                    about.join(", "),
                    short_time(p.due, start),
                    p.delivered_at
                        .map_or_else(|| "**no**".to_owned(), |t| short_time(t, start)),
                );
            }
        }

        let _ = writeln!(o, "\n## Audiences\n");
        let _ = writeln!(
            o,
            "| Audience | First message target | First message after | Target silence | Messages | Longest silence | Over target | Promises kept | Late | Broken | Pending | Last update → resolution |"
        );
        let _ = writeln!(
            o,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for a in &self.audiences {
            let t = &a.timeline;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md(a.audience.as_str()),
                duration(t.first_message_target),
                opt(t.first_message),
                duration(t.target),
                t.messages.len(),
                opt(t.longest_silence().map(|g| g.length)),
                t.gaps_over_target().count(),
                promise_cells(t),
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

        let _ = writeln!(o, "\n## Promises not kept\n");
        let not_kept: Vec<_> = self
            .audiences
            .iter()
            .flat_map(|a| a.timeline.promises_not_kept().map(move |p| (a, p)))
            .collect();
        if not_kept.is_empty() {
            let _ = writeln!(o, "None: every promise of a next update was kept.");
        } else {
            let _ = writeln!(
                o,
                "| Audience | Update | Received | Next update by | What happened |"
            );
            let _ = writeln!(o, "|---|---:|---|---|---|");
            for (a, p) in not_kept {
                let what = match p.outcome {
                    PromiseOutcome::Late { at, by } => {
                        format!(
                            "late by {}: #{} at {}",
                            duration(by),
                            p.next.unwrap_or_default(),
                            short_time(at, start)
                        )
                    }
                    PromiseOutcome::Broken { resolved_at } => format!(
                        "**broken**: no update before the resolution at {}",
                        short_time(resolved_at, start)
                    ),
                    PromiseOutcome::Overdue { by } => {
                        format!("**overdue** by {}", duration(by))
                    }
                    other => other.label().to_owned(),
                };
                let _ = writeln!(
                    o,
                    "| {} | #{} | {} | {} | {} |",
                    md(a.audience.as_str()),
                    p.seq,
                    short_time(p.made_at, start),
                    short_time(p.due, start),
                    what
                );
            }
        }

        let _ = writeln!(o, "\n## Silences over target\n");
        if over == 0 {
            let _ = writeln!(o, "None: every silence was within its target.");
        } else {
            let _ = writeln!(o, "| Audience | From | To | Silence | Target |");
            let _ = writeln!(o, "|---|---|---|---:|---:|");
            for (a, g) in self.silences_over_target() {
                let _ = writeln!(
                    o,
                    "| {} | {} {} | {} | {} | {} |",
                    md(a.audience.as_str()),
                    gap_from(g),
                    short_time(g.from, start),
                    gap_to(g, start),
                    duration(g.length),
                    duration(g.target),
                );
            }
            let _ = writeln!(o, "\nOn each channel:\n");
            let _ = writeln!(o, "| Channel | Audience | From | To | Silence | Target |");
            let _ = writeln!(o, "|---|---|---|---|---:|---:|");
            for c in &self.channels {
                for g in c.timeline.gaps_over_target() {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} {} | {} | {} | {} |",
                        md(&row_name(c)),
                        md(c.audience.as_str()),
                        gap_from(g),
                        short_time(g.from, start),
                        gap_to(g, start),
                        duration(g.length),
                        duration(g.target),
                    );
                }
            }
        }

        let _ = writeln!(o, "\n## Every silence\n");
        let rows = self
            .audiences
            .iter()
            .map(|a| (md(a.audience.as_str()), &a.timeline))
            .chain(self.channels.iter().map(|c| {
                (
                    format!("{} · {}", md(&row_name(c)), md(c.audience.as_str())),
                    &c.timeline,
                )
            }));
        for (name, t) in rows {
            let _ = writeln!(o, "### {name}\n");
            if t.gaps.is_empty() {
                if t.relevant_from.is_none() {
                    let _ = writeln!(o, "No update was for this audience.\n");
                } else {
                    let _ = writeln!(o, "No silence was counted.\n");
                }
                continue;
            }
            let _ = writeln!(o, "| From | To | Silence | Target | Within |");
            let _ = writeln!(o, "|---|---|---:|---:|---|");
            for g in &t.gaps {
                let _ = writeln!(
                    o,
                    "| {} {} | {} | {} | {} | {} |",
                    gap_from(g),
                    short_time(g.from, start),
                    gap_to(g, start),
                    duration(g.length),
                    duration(g.target),
                    if g.over_target { "**no**" } else { "yes" },
                );
            }
            if t.messages.is_empty() {
                let _ = writeln!(o, "\nNo message was received.");
            }
            let _ = writeln!(o);
        }

        let _ = writeln!(o, "## Deliveries that failed before they went out\n");
        if self.recovered().next().is_none() {
            let _ = writeln!(o, "None.");
        } else {
            let _ = writeln!(
                o,
                "| Channel | Audience | Target | Update | Part | First failed | Failures | Sent | Delay | First failure |"
            );
            let _ = writeln!(o, "|---|---|---|---:|---|---|---:|---|---:|---|");
            for (c, r) in self.recovered() {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | #{} | {}/{} | {} | {} | {} | {} | {} |",
                    md(&row_name(c)),
                    md(c.audience.as_str()),
                    md(r.target.as_str()),
                    r.seq,
                    r.part.index,
                    r.part.count,
                    short_time(r.first_failed_at, start),
                    r.failures,
                    short_time(r.sent_at, start),
                    duration(r.delay),
                    md(&r.reason),
                );
            }
        }

        let _ = writeln!(o, "\n## Messages without the link\n");
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

    /// The play's review table alone, as Markdown, ready for the postmortem
    /// page: for each gap, the gap, its root cause (as filled in with
    /// [`Review::set_root_cause`], or left for the team with the common
    /// cause it may be) and the recommendation.
    pub fn review_table(&self) -> String {
        let mut o = String::new();
        if self.findings.is_empty() {
            let _ = writeln!(
                o,
                "No gap: every audience heard in time, every promise was kept, and no postmortem is missing."
            );
            return o;
        }
        let _ = writeln!(o, "| # | Gap | Root cause | Recommendation |");
        let _ = writeln!(o, "|---:|---|---|---|");
        for (i, f) in self.findings.iter().enumerate() {
            let cause = match &f.root_cause {
                Some(c) => md(c),
                None => format!(
                    "*To be filled in.* Common cause: {}",
                    md(f.recommendation.cause())
                ),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                i + 1,
                md(&f.gap),
                cause,
                md(f.recommendation.advice()),
            );
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

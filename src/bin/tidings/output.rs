//! What the command line prints: text for people (red where something is
//! late, on a terminal), or one JSON document for scripts.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tidings::audience::AudiencePolicy;
use tidings::cadence::Cadence;
use tidings::config::Config;
use tidings::dispatch::{DispatchReport, OutboxPass, Outcome};
use tidings::incident::Incident;
use tidings::render::RenderedMessage;
use tidings::review::Review;

/// Where output goes, and how.
pub(crate) struct Out {
    json: bool,
    color: bool,
}

fn minutes(d: Duration) -> String {
    let m = d.as_secs() / 60;
    if m >= 60 {
        format!("{} h {} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

fn since(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    minutes((now - at).to_std().unwrap_or_default())
}

impl Out {
    pub(crate) fn new(json: bool) -> Self {
        let color = !json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Out { json, color }
    }

    fn red(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[31m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    fn print_json(value: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    }

    pub(crate) fn error(&self, message: &str) {
        if self.json {
            Self::print_json(&json!({ "error": message }));
        } else {
            eprintln!("error: {message}");
        }
    }

    pub(crate) fn check(&self, config: &Config, audiences: &[(&AudiencePolicy, RenderedMessage)]) {
        if self.json {
            let list: Vec<Value> = audiences
                .iter()
                .map(|(p, m)| {
                    json!({
                        "audience": p.audience().as_str(),
                        "detail": p.detail_level().as_str(),
                        "longest_silence_s": p.longest_silence().as_secs(),
                        "time_zone": p.time_zone().name(),
                        "routes": p.routes().iter().map(|r| json!({
                            "channel": r.channel(),
                            "targets": r.targets().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                        "first_contact": { "title": m.title, "body": m.body, "next_update": m.next_update },
                    })
                })
                .collect();
            Self::print_json(&json!({
                "ok": true,
                "primary": config.primary(),
                "channels": config.channels().map(|(n, p)| json!({ "name": n, "provider": p })).collect::<Vec<_>>(),
                "audiences": list,
            }));
            return;
        }
        println!("configuration OK");
        println!("primary: {}", config.primary());
        let channels: Vec<String> = config
            .channels()
            .map(|(n, p)| format!("{n} ({p})"))
            .collect();
        println!("channels: {}", channels.join(", "));
        for (policy, message) in audiences {
            println!();
            println!(
                "{} — {} detail, longest silence {}, times in {}",
                policy.audience().as_str(),
                policy.detail_level().as_str(),
                minutes(policy.longest_silence()),
                policy.time_zone().name()
            );
            for route in policy.routes() {
                let targets: Vec<&str> = route.targets().iter().map(|t| t.as_str()).collect();
                println!("  → {}: {}", route.channel(), targets.join(", "));
            }
            println!("  first contact:");
            println!("  | {}", message.title);
            for line in message.body.lines() {
                println!("  | {line}");
            }
            if let Some(next) = &message.next_update {
                println!("  | {next}");
            }
        }
    }

    pub(crate) fn report(&self, incident: &Incident, report: &DispatchReport) {
        let outcome = |o: &Outcome| -> (&'static str, Option<String>) {
            match o {
                Outcome::Sent(_) => ("sent", None),
                Outcome::AlreadySent(_) => ("already sent", None),
                Outcome::InFlight { owner, .. } => {
                    ("in flight", Some(format!("sending by {owner}")))
                }
                Outcome::Failed(f) => ("failed", Some(f.to_string())),
                Outcome::InDoubt(r) => ("in doubt", Some(r.to_string())),
                _ => ("other", None),
            }
        };
        if self.json {
            let deliveries: Vec<Value> = report
                .deliveries
                .iter()
                .map(|d| {
                    let (o, why) = outcome(&d.outcome);
                    json!({
                        "channel": &*d.channel,
                        "audience": d.audience.as_str(),
                        "target": d.target.as_str(),
                        "outcome": o,
                        "detail": why,
                        "attempts": d.attempts,
                    })
                })
                .collect();
            Self::print_json(&json!({
                "incident": incident.id().as_str(),
                "seq": report.seq,
                "link": report.link.as_str(),
                "link_source": format!("{:?}", report.link_source),
                "primary": report.primary.as_ref().map(|p| outcome(&p.outcome).0),
                "all_sent": report.all_sent(),
                "pending": report.pending,
                "deliveries": deliveries,
            }));
            return;
        }
        let mut sent = 0;
        let mut not = Vec::new();
        if let Some(p) = &report.primary {
            match outcome(&p.outcome) {
                ("sent" | "already sent", _) => println!("{}: updated", p.channel),
                (o, why) => println!(
                    "{}",
                    self.red(&format!("{}: {o}: {}", p.channel, why.unwrap_or_default()))
                ),
            }
        }
        for d in &report.deliveries {
            match outcome(&d.outcome) {
                ("sent" | "already sent", _) => sent += 1,
                (o, why) => not.push(format!(
                    "  {} {} → {} ({}): {}",
                    o,
                    d.channel,
                    d.target.as_str(),
                    d.audience.as_str(),
                    why.unwrap_or_default()
                )),
            }
        }
        println!(
            "{} update {}: {} of {} messages sent; link {}",
            incident.id(),
            report.seq,
            sent,
            sent + not.len(),
            report.link
        );
        for line in not {
            println!("{}", self.red(&line));
        }
        if report.pending {
            println!(
                "{}",
                self.red("some messages are still pending: run `tidings retry` to send them")
            );
        }
    }

    pub(crate) fn status(&self, now: DateTime<Utc>, rows: &[(Incident, Cadence)]) {
        if self.json {
            let list: Vec<Value> = rows
                .iter()
                .map(|(i, c)| {
                    json!({
                        "incident": i.id().as_str(),
                        "title": i.title(),
                        "status": i.latest().map(|u| u.status.as_str()),
                        "audiences": c.audiences().iter().map(|a| json!({
                            "audience": a.audience.as_str(),
                            "last_heard": a.last.as_ref().map(|l| l.at.to_rfc3339()),
                            "due": a.due.map(|d| d.to_rfc3339()),
                            "overdue": a.due.is_some_and(|d| d <= now),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            Self::print_json(&json!({ "now": now.to_rfc3339(), "open": list }));
            return;
        }
        if rows.is_empty() {
            println!("no open incidents");
            return;
        }
        for (incident, cadence) in rows {
            println!(
                "{} — {} ({}), started {} ago",
                incident.id(),
                incident.title(),
                incident.latest().map_or("no update", |u| u.status.label()),
                since(now, incident.started_at())
            );
            for a in cadence.audiences() {
                let heard = a.last.as_ref().map_or_else(
                    || "never heard".to_owned(),
                    |l| format!("heard {} ago", since(now, l.at)),
                );
                let due = match a.due {
                    Some(d) if d <= now => self.red(&format!("OVERDUE by {}", since(now, d))),
                    Some(d) => format!("due in {}", since(d, now)),
                    None => "closed".to_owned(),
                };
                println!("  {:<20} {:<22} {}", a.audience.as_str(), heard, due);
            }
        }
    }

    pub(crate) fn review(&self, incident: &Incident, review: &Review, md: &Path, svg: &Path) {
        if self.json {
            Self::print_json(&json!({
                "incident": incident.id().as_str(),
                "markdown": md.display().to_string(),
                "svg": svg.display().to_string(),
                "findings": review.findings.iter().map(|f| json!({
                    "gap": f.gap,
                    "audience": f.audience.as_ref().map(|a| a.as_str()),
                    "at": f.at.to_rfc3339(),
                })).collect::<Vec<_>>(),
            }));
            return;
        }
        println!(
            "review of {} written to {} and {}",
            incident.id(),
            md.display(),
            svg.display()
        );
        if review.findings.is_empty() {
            println!("no gaps found");
        }
        for f in &review.findings {
            println!("  gap: {}", f.gap);
        }
    }

    pub(crate) fn page(&self, dir: &Path) {
        if self.json {
            Self::print_json(&json!({ "served_dir": dir.display().to_string() }));
        } else {
            println!("status page written; serve {}", dir.display());
        }
    }

    pub(crate) fn retried(&self, pass: &OutboxPass) {
        if self.json {
            Self::print_json(&json!({
                "sent": pass.sent_now(),
                "unsettled": pass.unsettled,
                "errors": pass.errors.iter().map(|(i, s, e)| json!({
                    "incident": i.as_str(), "seq": s, "error": e,
                })).collect::<Vec<_>>(),
            }));
            return;
        }
        println!(
            "{} messages sent; {} publications still unsettled",
            pass.sent_now(),
            pass.unsettled
        );
        for (i, s, e) in &pass.errors {
            println!("{}", self.red(&format!("  {i} update {s}: {e}")));
        }
    }

    pub(crate) fn verified(&self, error: Option<String>) {
        if self.json {
            Self::print_json(&json!({ "valid": error.is_none(), "error": error }));
            return;
        }
        match error {
            None => println!("signature valid"),
            Some(e) => println!("{}", self.red(&format!("signature invalid: {e}"))),
        }
    }
}

/// A line on standard error while a fan-out runs (only on a terminal).
pub(crate) struct Progress {
    task: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    )>,
}

impl Progress {
    pub(crate) fn start(out: &Out, what: String) -> Progress {
        if out.json || !std::io::stderr().is_terminal() {
            return Progress { task: None };
        }
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            loop {
                eprint!(
                    "\r{} {what}… {} s ",
                    frames[i % frames.len()],
                    start.elapsed().as_secs()
                );
                i += 1;
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            eprint!("\r\x1b[2K");
        });
        Progress {
            task: Some((task, stop)),
        }
    }

    pub(crate) async fn stop(self) {
        if let Some((task, stop)) = self.task {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

//! An incident drill, entirely offline: first contact, two updates, the
//! resolution and the postmortem, 20–30 minutes apart in the story, fanned
//! out to five audiences through every provider, each against a local
//! stand-in on 127.0.0.1 (Slack's Web API, Discord, Mattermost, Teams,
//! Google Chat, an SMTP server, Twilio, Bluesky, Mastodon, X, a webhook
//! receiver that verifies every signature), with a SQLite journal and a
//! restart mid-incident. Then a scheduled maintenance is announced, and
//! every audience is reminded an hour before it starts. Prints the timeline
//! and the review's gist (who owned the communication, the promises, the
//! gap with the play's recommendation); exits non-zero if anything was not
//! delivered.
//!
//! The story's time is tokio's clock, moved forward between acts (every
//! request is real, and takes real time); the journal, the cadence and the
//! review read the same clock, so their times agree with the story.
//!
//! ```text
//! cargo run --example drill --all-features -- [--verbose] [output folder]
//! ```
//!
//! The output folder defaults to `drill/` in the cargo target directory in
//! use (`CARGO_TARGET_DIR` honoured). `--verbose` prints every delivery, the
//! texts different audiences read and the e-mail threading headers.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod receiver;
mod smtp;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tidings::channel::ChannelLimits;
use tidings::channel::HttpOptions;
use tidings::channel::chat::discord::DiscordChannel;
use tidings::channel::chat::google_chat::GoogleChatChannel;
use tidings::channel::chat::mattermost::MattermostChannel;
use tidings::channel::chat::slack::SlackChannel;
use tidings::channel::chat::teams::TeamsChannel;
use tidings::channel::email::EmailChannel;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::records::alerts::AlertChannel;
use tidings::channel::records::confluence::{ConfluenceChannel, ConfluenceSpace};
use tidings::channel::records::pagerduty::PagerDutyChannel;
use tidings::channel::sms::twilio::TwilioChannel;
use tidings::channel::social::bluesky::BlueskyChannel;
use tidings::channel::social::mastodon::MastodonChannel;
use tidings::channel::social::x::XChannel;
use tidings::channel::status_page::StaticStatusPage;
use tidings::channel::webhook::{WebhookChannel, WebhookSecret};
use tidings::dispatch::{DispatchReport, Outcome};
use tidings::incident::{Act, Person, Update};
use tidings::journal::{DeliveryState, Journal, LinkSource, SqliteJournal};
use tidings::prelude::*;
use tidings::render::TextLimit;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Moves the story forward: tokio's clock (and so tidings' clock) jumps
/// by `minutes`, then runs on in real time.
async fn later(minutes: i64) {
    let by = Duration::from_secs(u64::try_from(minutes).unwrap_or(0) * 60);
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// The cargo target directory this example was built in
/// (`<target>/<profile>/examples/drill`), else `target`.
fn target_dir() -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| std::path::PathBuf::from("target"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    // A customer's webhook receiver on loopback. It throttles its first request
    // (429, Retry-After: 1) to show the retry path.
    let secret: WebhookSecret = SECRET.parse()?;
    let (addr, stats) = receiver::spawn(Some(secret), true).await?;

    // Where the status page and the review are written.
    let out = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or_else(|| target_dir().join("drill"), std::path::PathBuf::from);
    std::fs::create_dir_all(&out)?;
    // The primary source of truth: a static status page written to a folder.
    let status_page = Arc::new(
        StaticStatusPage::builder(out.join("status-page"), "https://status.example.com/")
            .name("Example status")
            .component(ComponentId::new("checkout")?, "Checkout")
            .component(ComponentId::new("api")?, "Public API")
            .component(ComponentId::new("web")?, "Website")
            .build()?,
    );
    let mastodon = Arc::new(
        MastodonChannel::builder(format!("http://{addr}/mastodon"), "drill-mastodon-token")
            .build()?,
    );
    let x = Arc::new(
        XChannel::builder("drill-x-user-token")
            .base_url(format!("http://{addr}/x"))
            .build()?,
    );
    let bluesky = Arc::new(
        BlueskyChannel::builder("status.example.com", "drill-app-password")
            .base_url(format!("http://{addr}/bluesky"))
            .build()?,
    );
    let slack = Arc::new(
        SlackChannel::web_api("xoxb-drill-token")
            .base_url(format!("http://{addr}/slack/api/"))
            .keep_first_message_current(true)
            .build()?,
    );
    let discord = Arc::new(
        DiscordChannel::builder()
            .webhook(
                "support",
                format!("http://{addr}/discord/api/webhooks/1/drill-token"),
            )
            .build()?,
    );
    let mattermost = Arc::new(
        MattermostChannel::builder()
            .webhook(
                "town-square",
                format!("http://{addr}/mattermost/hooks/drillkey"),
            )
            .build()?,
    );
    let teams = Arc::new(
        TeamsChannel::builder()
            .webhook(
                "leadership",
                format!("http://{addr}/teams/workflows/drill/invoke?sig=drill"),
            )
            .build()?,
    );
    let google_chat = Arc::new(
        GoogleChatChannel::builder()
            .webhook(
                "all-hands",
                format!("http://{addr}/gchat/v1/spaces/DRILL/messages?key=k&token=t"),
            )
            .build()?,
    );
    let (smtp_port, inbox) = smtp::spawn().await?;
    let email = Arc::new(
        EmailChannel::builder_dangerous("127.0.0.1")
            .port(smtp_port)
            .from("Example Status <status@example.com>")
            .list_unsubscribe_url(
                "https://status.example.com/unsubscribe?t={token}",
                b"drill-unsubscribe-key",
            )
            .build()?,
    );
    let sms = Arc::new(
        TwilioChannel::with_auth_token("AC00000000000000000000000000000000", "drill-auth-token")
            .base_url(format!("http://{addr}/twilio"))
            .from("+14155550100")
            // The drill's updates are minutes apart in the story but milliseconds
            // apart here; the default (one per 30 s per recipient) would hold them.
            .per_target_rate(tidings::channel::RateLimit::per_second(
                std::num::NonZeroU32::MIN,
            ))
            .build()?,
    );
    let chat = Arc::new(MemoryChannel::new());
    let pager = Arc::new(
        MemoryChannel::new().with_limits(
            ChannelLimits::new()
                .threaded()
                .with_text(TextLimit::chars(160)),
        ),
    );
    let webhook = Arc::new(
        WebhookChannel::builder()
            .endpoint(
                "customer-portal",
                format!("http://{addr}/hooks/tidings"),
                SECRET,
            )
            .http(HttpOptions::new().timeout(Duration::from_secs(5)))
            .build()?,
    );
    // Where the incident is recorded and paged, and the postmortem kept.
    let pagerduty = Arc::new(
        PagerDutyChannel::builder()
            .integration("payments-oncall", "R0UT1NGKEYDR1LL0000000000000000A")
            .acknowledge_when_identified(true)
            .base_url(format!("http://{addr}/pagerduty/"))
            .build()?,
    );
    let jsm = Arc::new(
        AlertChannel::jsm()
            .integration("ops", "drill-jsm-genie-key")
            .base_url(format!("http://{addr}/atlassian/"))
            .build()?,
    );
    let confluence = Arc::new(
        ConfluenceChannel::builder(
            format!("http://{addr}/confluence"),
            "sre-bot@example.com",
            "drill-confluence-token",
        )
        .space("postmortems", ConfluenceSpace::new("OPS"))
        .build()?,
    );

    // The journal: a SQLite file, fresh for each drill. A restarted process
    // opens it again and finishes what was pending (see the restart below).
    let journal_path = out.join("journal.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", journal_path.display()));
    }
    let t = |s: &str| Target::new(s);
    let make_dispatcher = |journal: Arc<dyn Journal>| -> Result<Dispatcher, Box<dyn Error>> {
        Ok(
            Dispatcher::builder("https://status.example.com/incidents/{id}.html")
                .canonical_maintenance_url("https://status.example.com/maintenance/{id}.html")
                .primary("status-page", status_page.clone())
                .channel("slack", slack.clone())
                .channel("discord", discord.clone())
                .channel("mattermost", mattermost.clone())
                .channel("teams", teams.clone())
                .channel("google-chat", google_chat.clone())
                .channel("chat", chat.clone())
                .channel("email", email.clone())
                .channel("sms", sms.clone())
                .channel("bluesky", bluesky.clone())
                .channel("mastodon", mastodon.clone())
                .channel("x", x.clone())
                .channel("pager", pager.clone())
                .channel("webhook", webhook.clone())
                .channel("pagerduty", pagerduty.clone())
                .channel("jsm", jsm.clone())
                .channel("confluence", confluence.clone())
                .audience(
                    AudiencePolicy::new(Audience::CoreResponders)
                        .route(Route::new("slack", [t("C0INCIDENT")?]))
                        .route(
                            Route::new(
                                "pager",
                                [t("+15550100"), t("+15550101")]
                                    .into_iter()
                                    .collect::<Result<Vec<_>, _>>()?,
                            )
                            // A pager shows one short message: shortened to
                            // fit, the link kept whole.
                            .overflow(Overflow::Shorten),
                        )
                        // Recorded and paged where responders work.
                        .route(Route::new("pagerduty", [t("payments-oncall")?]))
                        .route(Route::new("jsm", [t("ops")?])),
                )
                .audience(
                    AudiencePolicy::new(Audience::FrontLineSupport)
                        .route(Route::new("slack", [t("C0SUPPORT")?]))
                        .route(Route::new("discord", [t("support")?])),
                )
                .audience(
                    // Leadership asked to hear within two minutes: the drill's
                    // first message, four minutes in, misses that on purpose,
                    // and the review finds the gap.
                    AudiencePolicy::new(Audience::Leadership)
                        .first_message_within(Duration::from_secs(2 * 60))
                        .route(Route::new("email", [t("leadership@example.com")?]))
                        .route(Route::new("teams", [t("leadership")?]))
                        .route(Route::new("sms", [t("+14155550123")?])),
                )
                .audience(
                    AudiencePolicy::new(Audience::Employees)
                        .route(Route::new("chat", [t("#announcements")?]))
                        .route(Route::new("mattermost", [t("town-square")?]))
                        .route(Route::new("google-chat", [t("all-hands")?]))
                        // The postmortem, published on the wiki.
                        .route(Route::new("confluence", [t("postmortems")?])),
                )
                .audience(
                    AudiencePolicy::new(Audience::Customers)
                        .route(Route::new("email", [t("status-subscribers@example.com")?]))
                        .route(Route::new("webhook", [t("customer-portal")?]))
                        .route(Route::new("bluesky", [t("status.example.com")?]))
                        .route(Route::new(
                            "mastodon",
                            [t(tidings::channel::social::mastodon::DEFAULT_TARGET)?],
                        ))
                        .route(Route::new(
                            "x",
                            [t(tidings::channel::social::x::DEFAULT_TARGET)?],
                        )),
                )
                .journal(journal)
                // Retries quickly: the drill's providers are local stand-ins.
                .retry(
                    RetryPolicy::default()
                        .backoff(Duration::from_millis(20), Duration::from_millis(200)),
                )
                .build()?,
        )
    };
    let mut dispatcher = make_dispatcher(Arc::new(SqliteJournal::open(&journal_path).await?))?;

    // The story starts four minutes before the first message; every act is
    // posted when it happens, stamped with tidings' clock, which the story
    // moves forward between acts, so the journal, the cadence and the
    // review agree.
    let started = tidings::clock::now() - chrono::Duration::minutes(4);
    let mut incident = Incident::new(
        IncidentId::new("inc-checkout-drill")?,
        "Checkout errors",
        Impact::Major,
        started,
    )?
    .with_component(
        ComponentId::new("checkout")?,
        "Checkout",
        ComponentStatus::MajorOutage,
    )
    .with_component(
        ComponentId::new("api")?,
        "Public API",
        ComponentStatus::DegradedPerformance,
    )
    // Somebody owns the communication, and somebody makes sure it goes out.
    .with_owner(Person::new(
        "Dana Reyes",
        Route::new("chat", [t("@dana")?]),
    )?)
    .with_commander(Person::new("Sam Okafor", Route::new("chat", [t("@sam")?]))?);
    let checkout = ComponentId::new("checkout")?;
    let api = ComponentId::new("api")?;
    let acts: Vec<Box<dyn Fn(DateTime<Utc>) -> UpdateDraft>> = vec![
        Box::new(|at| {
            UpdateDraft::new(
                Status::Investigating,
                at,
                "Some customers cannot complete checkout. We are investigating and will update you shortly.",
            )
            .internal_notes("Error rate 38% on checkout-svc; paging payments on-call.")
            .next_update_at(at + chrono::Duration::minutes(25))
        }),
        Box::new(|at| {
            UpdateDraft::new(
                Status::Identified,
                at,
                "We found the cause: a configuration change to our payment gateway connection. We are rolling it back.",
            )
            .internal_notes("Deploy 8f3e2a flipped the gateway TLS pool size to 1. Rollback started.")
            .next_update_at(at + chrono::Duration::minutes(20))
        }),
        Box::new(|at| {
            UpdateDraft::new(
                Status::Monitoring,
                at,
                "The rollback is complete and checkout is working again. We are watching closely.",
            )
            .component(checkout.clone(), ComponentStatus::Operational)
            .component(api.clone(), ComponentStatus::Operational)
            .next_update_at(at + chrono::Duration::minutes(25))
        }),
        Box::new(|at| {
            UpdateDraft::new(
                Status::Resolved,
                at,
                "Checkout has been stable since the rollback. This incident is resolved.",
            )
        }),
        Box::new(|at| {
            UpdateDraft::new(
                Status::Postmortem,
                at,
                "For about 50 minutes a third of checkouts failed. A configuration change shrank our connection \
                 pool to the payment gateway. We now validate pool settings before deploys and alert on checkout \
                 errors within two minutes. We are sorry for the disruption this caused.",
            )
        }),
    ];

    println!(
        "tidings drill: incident {} — {} (results under {})",
        incident.id(),
        incident.title(),
        out.display()
    );
    println!("roles: communication owner Dana Reyes, incident commander Sam Okafor\n");
    let mut reports = Vec::new();
    let mut restart = None;
    for (i, act) in acts.iter().enumerate() {
        if i == 2 {
            // The pager provider is down during the third update: both pager
            // messages fail after their retries (5 attempts each).
            for _ in 0..10 {
                pager.fail_next(ChannelError::transient("pager gateway 503 (drill)"));
            }
        }
        // Minutes after the previous act: each update keeps the promise of
        // the one before; the postmortem comes two days after the resolution.
        later([0, 19, 18, 18, 2 * 24 * 60][i]).await;
        let update = incident.post(act(tidings::clock::now()))?.clone();
        let report = dispatcher.publish(&incident, &update).await?;
        print_report(&update, &report, verbose);
        let pending = report.pending;
        reports.push((update, report));
        if i == 2 && pending {
            // The service restarts mid-incident: this dispatcher is gone; a new
            // process opens the same journal file, and its outbox finishes
            // what was pending, without the caller supplying anything.
            drop(dispatcher);
            println!(
                "       the process stops; a new one opens {}",
                journal_path.display()
            );
            dispatcher = make_dispatcher(Arc::new(SqliteJournal::open(&journal_path).await?))?;
            let pass = dispatcher.outbox().drain(Duration::from_secs(30)).await?;
            let sent: Vec<_> = pass
                .reports
                .iter()
                .flat_map(|r| r.all())
                .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
                .collect();
            let again = pass
                .reports
                .iter()
                .flat_map(|r| r.all())
                .filter(|d| matches!(d.outcome, Outcome::AlreadySent(_)))
                .count();
            let channels: std::collections::BTreeSet<&str> =
                sent.iter().map(|d| &*d.channel).collect();
            println!(
                "       its outbox: {} pending messages sent (channels: {channels:?}); {again} already sent, not sent again",
                sent.len()
            );
            restart = Some((sent.len(), channels.len()));
        }
    }

    let first = |ch: &MemoryChannel, target: &str| {
        ch.deliveries()
            .into_iter()
            .find(|d| d.target.as_str() == target)
            .map(|d| d.text.to_string())
            .unwrap_or_default()
    };
    if verbose {
        println!("\n── what different audiences read (first contact) ──");
        println!(
            "\n[chat #announcements, all employees: public detail]\n{}",
            first(&chat, "#announcements")
        );
    }
    let pager_text = first(&pager, "+15550100");
    println!("\npager +15550100 (160 characters, internal detail, shortened): {pager_text:?}");

    // Publishing an update again is safe: nothing is sent twice.
    let (last, _) = reports.last().unwrap();
    let again = dispatcher.publish(&incident, last).await?;
    println!(
        "re-publishing update {}: {} new messages (idempotent)",
        last.seq,
        again.sent_now()
    );

    // Planned work: a scheduled maintenance of the public API, announced
    // the next day to every audience, starting 90 minutes later. Each
    // audience is reminded an hour before the start (the default lead time):
    // the story moves to that moment.
    later(24 * 60).await;
    let announced = tidings::clock::now();
    let start = announced + chrono::Duration::minutes(90);
    let mut maintenance = Incident::maintenance(
        IncidentId::new("mnt-api-drill")?,
        "Public API database upgrade",
        MaintenanceWindow::new(start, start + chrono::Duration::hours(1))?,
        announced,
    )?
    .with_component(
        ComponentId::new("api")?,
        "Public API",
        ComponentStatus::UnderMaintenance,
    );
    let announcement = maintenance
        .post(UpdateDraft::new(
            Status::Scheduled,
            announced,
            "We are upgrading the database behind the public API. API calls that write data may fail for up to 10 minutes during the window; reads are not affected.",
        ))?
        .clone();
    println!(
        "\nscheduled maintenance {} — {}",
        maintenance.id(),
        maintenance.title()
    );
    let report = dispatcher.publish(&maintenance, &announcement).await?;
    print_report(&announcement, &report, verbose);
    reports.push((announcement, report));
    let remind_at = dispatcher
        .next_maintenance_reminder(&maintenance)
        .ok_or("no maintenance reminder is due")?;
    let wait = (remind_at - tidings::clock::now()).num_minutes() + 1;
    later(wait).await;
    let now = tidings::clock::now();
    for report in dispatcher
        .send_maintenance_reminders(&mut maintenance, now)
        .await?
    {
        let update = maintenance
            .update(report.seq)
            .ok_or("unknown reminder")?
            .clone();
        print_report(&update, &report, verbose);
        reports.push((update, report));
    }
    let reminded = maintenance.updates().iter().filter(|u| u.reminder).count();
    let reminders_again = dispatcher
        .send_maintenance_reminders(&mut maintenance, now)
        .await?
        .len();
    if verbose {
        println!(
            "\n[chat #announcements, the reminder]\n{}",
            chat.texts().last().cloned().unwrap_or_default()
        );
    }
    println!(
        "asking for reminders again: {reminders_again} more sent (each audience is reminded once)"
    );

    // Failures that are still failures: from the journal, after the outbox.
    let mut failures = 0;
    for id in [incident.id(), maintenance.id()] {
        failures += dispatcher
            .journal()
            .records(id)
            .await?
            .iter()
            .filter(|r| !matches!(r.state, DeliveryState::Sent(_)))
            .count();
    }
    let sent: usize = reports.iter().map(|(_, r)| r.sent_now()).sum();
    println!(
        "\nsummary: {sent} messages sent, {failures} failed; webhook receiver on {addr}: {} received, {} signatures verified, {} refused, {} throttled on purpose",
        receiver::Stats::get(&stats.received),
        receiver::Stats::get(&stats.verified),
        receiver::Stats::get(&stats.refused),
        receiver::Stats::get(&stats.throttled),
    );
    let mail = inbox.lock().map(|m| m.clone()).unwrap_or_default();
    let subscribers: Vec<&String> = mail
        .iter()
        .filter(|m| m.contains("To: status-subscribers@example.com"))
        .collect();
    let replies = subscribers
        .iter()
        .filter(|m| m.lines().any(|l| l.starts_with("In-Reply-To:")))
        .count();
    println!(
        "e-mail to status-subscribers@: {} messages, {replies} of them replies in their incident's thread, each with one-click List-Unsubscribe",
        subscribers.len()
    );
    let pager_events = stats
        .pager_events
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let alert_requests = stats
        .alert_requests
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let pages = stats.pages.lock().map(|p| p.clone()).unwrap_or_default();
    println!(
        "recorded: PagerDuty events {pager_events:?} (one alert per incident, by its dedup_key); Jira Service Management {alert_requests:?}; Confluence pages {:?}",
        pages
            .iter()
            .map(|(title, (_, version, _))| format!("{title} (version {version})"))
            .collect::<Vec<_>>()
    );
    if verbose {
        println!("\n── e-mail to status-subscribers@ (one thread per incident) ──");
        for raw in &subscribers {
            for header in [
                "Subject:",
                "Message-ID:",
                "In-Reply-To:",
                "List-Unsubscribe-Post:",
            ] {
                if let Some(line) = raw.lines().find(|l| l.starts_with(header)) {
                    println!("  {line}");
                }
            }
            println!();
        }
    }
    // The review: every message per channel and audience, the silences and
    // promises against each audience's targets, the play's review table;
    // Markdown and SVG.
    let review = dispatcher.review(&incident).await?;
    std::fs::write(out.join("review.md"), review.to_markdown())?;
    std::fs::write(out.join("review.svg"), review.to_svg())?;
    println!("\nthe review:");
    let who = |p: Option<&Person>| {
        p.map_or_else(
            || "none named".to_owned(),
            |p| {
                format!(
                    "{} ({} {})",
                    p.name(),
                    p.route().channel(),
                    p.route().targets()[0]
                )
            },
        )
    };
    println!(
        "  communication owner: {}; incident commander: {}",
        who(review.roles.owner.as_ref()),
        who(review.roles.commander.as_ref())
    );
    let (mut kept, mut late, mut broken) = (0, 0, 0);
    for a in &review.audiences {
        let (k, l, b, _) = a.timeline.promise_counts();
        (kept, late, broken) = (kept + k, late + l, broken + b);
    }
    println!(
        "  promises of a next update, per audience: {kept} kept, {late} late, {broken} broken"
    );
    for f in &review.findings {
        println!("  gap: {}", f.gap);
        println!(
            "    → {} {}",
            f.recommendation.cause(),
            f.recommendation.advice()
        );
    }
    let deliberate_gap = review.findings.len() == 1
        && review.findings[0].audience == Some(Audience::Leadership)
        && late + broken == 0;
    println!(
        "\nstatus page: {0} (serve it: python3 -m http.server -d {0})\nreview: {1}/review.md and {1}/review.svg",
        status_page.served_dir().display(),
        out.display()
    );
    let all_linked = [&chat, &pager]
        .iter()
        .flat_map(|c| c.deliveries())
        .all(|d| d.text.contains(d.link.as_str()));
    println!("every message links to the status page: {all_linked}");
    let providers = stats
        .providers
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    println!("local provider stand-ins answered: {providers:?}");
    if !verbose {
        println!("(every delivery, the texts and the e-mail headers: --verbose)");
    }
    let every_signature_verified = receiver::Stats::get(&stats.refused) == 0
        && receiver::Stats::get(&stats.verified) == receiver::Stats::get(&stats.received);
    if failures > 0
        || restart.is_none_or(|(sent, channels)| sent == 0 || channels != 1)
        || !every_signature_verified
        || again.sent_now() > 0
        || !all_linked
        || reminded != 1
        || reminders_again > 0
        || !deliberate_gap
        || pager_events.first().map(String::as_str) != Some("trigger")
        || !pager_events.iter().any(|e| e == "resolve")
        || !alert_requests.iter().any(|r| r == "close")
        || pages.len() != 1
    {
        return Err("the drill found a problem (see above)".into());
    }
    Ok(())
}

fn print_report(update: &Update, report: &DispatchReport, verbose: bool) {
    let act = match update.act() {
        Act::FirstContact => "FIRST CONTACT",
        Act::Update => "UPDATE",
        Act::Resolution => "RESOLUTION",
        Act::Postmortem => "POSTMORTEM",
        Act::Announcement => "ANNOUNCED",
        Act::Reminder => "REMINDER",
        Act::Maintenance => "UNDER WAY",
        Act::Completion => "COMPLETED",
    };
    let next = update.next_update_at.map_or_else(
        || "no next update".to_owned(),
        |t| format!("next by {}", t.format("%H:%M")),
    );
    let source = match &report.link_source {
        LinkSource::Primary => "the page's permalink".to_owned(),
        LinkSource::Canonical { reason } => format!("canonical URL: {reason}"),
        _ => "other".to_owned(),
    };
    let sent = report.counts.delivered();
    println!(
        "{} {act:<13} {:<13} {next:<16} {sent:>2}/{} sent, link: {source}",
        update.at.format("%a %H:%M"),
        update.status.label(),
        report.counts.total(),
    );
    for d in report.all() {
        let (mark, what) = match &d.outcome {
            Outcome::Sent(_) => ("✓", "sent".to_owned()),
            Outcome::AlreadySent(_) => ("=", "already sent".to_owned()),
            Outcome::InFlight { .. } => ("…", "in flight elsewhere".to_owned()),
            Outcome::Failed(f) if f.is_retryable() => {
                ("✗", format!("failed, the outbox retries: {f}"))
            }
            Outcome::Failed(f) => ("✗", format!("FAILED: {f}")),
            Outcome::InDoubt(r) => ("?", format!("IN DOUBT: {r}")),
            _ => ("?", "unknown".to_owned()),
        };
        if !verbose && d.outcome.receipt().is_some() {
            continue;
        }
        let part = if d.part.count > 1 {
            format!(" part {}/{}", d.part.index, d.part.count)
        } else {
            String::new()
        };
        let retries = if d.attempts > 1 {
            format!(" after {} attempts ({:.1?})", d.attempts, d.latency)
        } else {
            String::new()
        };
        println!(
            "       {mark} {:<12} {:<32} {:<19} {what}{part}{retries}",
            d.channel,
            d.target.as_str(),
            d.audience.as_str(),
        );
    }
}

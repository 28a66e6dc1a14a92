//! `tidings`: post an incident's acts from a terminal or a runbook, see who
//! is overdue, review an incident, rebuild the status page, check a webhook
//! signature. Everything it knows lives in the journal the configuration
//! file names, so commands run from different machines continue one
//! incident when they share it (PostgreSQL).
//!
//! Exit codes: 0 done; 1 something was not delivered (failed, or still
//! pending), an audience is overdue (`status`), or a signature is invalid
//! (`verify-webhook`); 2 bad input or configuration; 3 every message went
//! out or is in doubt, and some are in doubt (the provider may have it:
//! check before sending again).

// A command line prints: that is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod output;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use tidings::config::Config;
use tidings::dispatch::Dispatcher;
use tidings::incident::{
    ComponentId, ComponentStatus, Impact, Incident, IncidentId, Status, UpdateDraft,
};

use output::{Out, Progress};

/// Incident communication from the command line: every audience told, on
/// every channel it reads, each message linking back to the status page.
#[derive(Parser)]
#[command(name = "tidings", version, after_help = EXIT_CODES)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        default_value = "tidings.toml",
        env = "TIDINGS_CONFIG"
    )]
    config: PathBuf,
    /// Print JSON (one document) instead of text, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 done; 1 not delivered (failed or pending), an audience overdue, or an invalid signature; 2 bad input or configuration; 3 some messages in doubt (the provider may have them).";

#[derive(Subcommand)]
enum Command {
    /// Check the configuration without sending: every audience, its
    /// channels and targets, and its first-contact message.
    Check,
    /// Open an incident: first contact to every audience.
    Open(OpenArgs),
    /// Post an update to an open incident.
    Update(ActArgs),
    /// Resolve an incident.
    Resolve(CloseArgs),
    /// Publish the postmortem of a resolved incident.
    Postmortem(CloseArgs),
    /// Open incidents, and for each audience when it last heard and when it
    /// is due.
    Status,
    /// Write an incident's review (Markdown and SVG timeline).
    Review(ReviewArgs),
    /// Write the static status page again from its state (after a
    /// maintenance window's edge, or to drop expired history).
    Page,
    /// Send again what an earlier command left pending (failed for a
    /// while, or interrupted), until done or the timeout.
    Retry {
        /// How long to keep trying.
        #[arg(long, default_value = "60s", value_parser = duration)]
        timeout: Duration,
    },
    /// Check a Standard Webhooks signature, as a receiver would.
    VerifyWebhook(VerifyArgs),
}

#[derive(Args)]
struct OpenArgs {
    /// Its title, e.g. "Checkout errors".
    #[arg(long)]
    title: String,
    /// none, minor, major or critical.
    #[arg(long, default_value = "major", value_parser = parse_enum::<Impact>)]
    impact: Impact,
    #[command(flatten)]
    act: ActArgs,
}

#[derive(Args)]
struct ActArgs {
    /// The incident's id (letters, digits, `-`, `_`).
    #[arg(long)]
    id: String,
    /// investigating, identified or monitoring.
    #[arg(long, default_value = "investigating", value_parser = parse_enum::<Status>)]
    status: Status,
    /// What is happening, for every audience.
    #[arg(long, short)]
    message: String,
    /// Notes only the inner rings read (internal detail).
    #[arg(long)]
    notes: Option<String>,
    /// When the next update comes, from now (the play: 20–30 minutes).
    #[arg(long, default_value = "30m", value_parser = duration)]
    next_update: Duration,
    /// A component and its status, e.g. `api=major_outage` (repeat).
    #[arg(long = "component", value_parser = component)]
    components: Vec<(ComponentId, ComponentStatus)>,
}

#[derive(Args)]
struct CloseArgs {
    /// The incident's id.
    #[arg(long)]
    id: String,
    /// What to say.
    #[arg(long, short)]
    message: String,
    /// Notes only the inner rings read.
    #[arg(long)]
    notes: Option<String>,
    /// A component and its status after this act, e.g. `api=operational`.
    #[arg(long = "component", value_parser = component)]
    components: Vec<(ComponentId, ComponentStatus)>,
}

#[derive(Args)]
struct ReviewArgs {
    /// The incident's id.
    id: String,
    /// Where to write review.md and review.svg.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

#[derive(Args)]
struct VerifyArgs {
    /// The endpoint's secret (`whsec_…`); or set TIDINGS_WEBHOOK_SECRET.
    #[arg(long, env = "TIDINGS_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// The `webhook-id` header.
    #[arg(long)]
    id: String,
    /// The `webhook-timestamp` header.
    #[arg(long)]
    timestamp: String,
    /// The `webhook-signature` header.
    #[arg(long)]
    signature: String,
    /// The body as received: a file, or `-` for standard input.
    #[arg(long, default_value = "-")]
    body: PathBuf,
    /// How far the timestamp may be from now.
    #[arg(long, default_value = "5m", value_parser = duration)]
    tolerance: Duration,
}

/// `30s`, `20m`, `1h 30m`.
fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); e.g. 30s, 20m, 1h30m"))
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| e.to_string())
}

fn component(s: &str) -> Result<(ComponentId, ComponentStatus), String> {
    let (id, status) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write <component>=<status>, e.g. api=major_outage"))?;
    let id = ComponentId::new(id).map_err(|e| e.to_string())?;
    Ok((id, parse_enum(status)?))
}

/// A failed command: what to print, and the exit code.
struct Failed(u8, String);

impl<E: std::fmt::Display> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed(2, e.to_string())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out::new(cli.json);
    match run(&cli, &out).await {
        Ok(code) => ExitCode::from(code),
        Err(Failed(code, message)) => {
            out.error(&message);
            ExitCode::from(code)
        }
    }
}

async fn run(cli: &Cli, out: &Out) -> Result<u8, Failed> {
    if let Command::VerifyWebhook(args) = &cli.command {
        return verify(args, out);
    }
    let config = Config::load(&cli.config)?;
    match &cli.command {
        Command::Check => check(&config, out),
        Command::Open(args) => {
            let dispatcher = config.dispatcher().await?;
            let id = IncidentId::new(args.act.id.clone())?;
            if dispatcher.journal().incident(&id).await?.is_some() {
                return Err(Failed(
                    2,
                    format!("incident {id} exists already: post with `tidings update --id {id}`"),
                ));
            }
            let now = Utc::now();
            let mut incident = Incident::new(id, args.title.clone(), args.impact, now)?;
            for (c, status) in &args.act.components {
                incident = incident.with_component(c.clone(), c.as_str(), *status);
            }
            let draft = draft(args.act.status, now, &args.act)?;
            publish(&dispatcher, incident, draft, out).await
        }
        Command::Update(args) => {
            let dispatcher = config.dispatcher().await?;
            let incident = load(&dispatcher, &args.id).await?;
            let draft = draft(args.status, Utc::now(), args)?;
            publish(&dispatcher, incident, draft, out).await
        }
        Command::Resolve(args) | Command::Postmortem(args) => {
            let status = if matches!(cli.command, Command::Resolve(_)) {
                Status::Resolved
            } else {
                Status::Postmortem
            };
            let dispatcher = config.dispatcher().await?;
            let incident = load(&dispatcher, &args.id).await?;
            let mut draft = UpdateDraft::new(status, Utc::now(), args.message.clone());
            if let Some(notes) = &args.notes {
                draft = draft.internal_notes(notes.clone());
            }
            for (c, s) in &args.components {
                draft = draft.component(c.clone(), *s);
            }
            publish(&dispatcher, incident, draft, out).await
        }
        Command::Status => status(&config, out).await,
        Command::Review(args) => {
            let dispatcher = config.dispatcher().await?;
            let incident = load(&dispatcher, &args.id).await?;
            let review = dispatcher.review(&incident).await?;
            std::fs::create_dir_all(&args.out)?;
            let md = args.out.join("review.md");
            let svg = args.out.join("review.svg");
            std::fs::write(&md, review.to_markdown())?;
            std::fs::write(&svg, review.to_svg())?;
            out.review(&incident, &review, &md, &svg);
            Ok(0)
        }
        Command::Page => {
            let page = config
                .status_page()?
                .ok_or_else(|| Failed(2, "the primary is not a static status page".to_owned()))?;
            page.refresh().await.map_err(|e| Failed(1, e.to_string()))?;
            out.page(&page.served_dir());
            Ok(0)
        }
        Command::Retry { timeout } => {
            let dispatcher = config.dispatcher().await?;
            let pass = dispatcher
                .outbox()
                .drain(*timeout)
                .await
                .map_err(|e| Failed(1, e.to_string()))?;
            out.retried(&pass);
            Ok(u8::from(pass.unsettled > 0))
        }
        Command::VerifyWebhook(_) => Ok(0),
    }
}

fn draft(status: Status, now: DateTime<Utc>, args: &ActArgs) -> Result<UpdateDraft, Failed> {
    let next = chrono::Duration::from_std(args.next_update)
        .map_err(|_| Failed(2, "--next-update is too long".to_owned()))?;
    let mut draft = UpdateDraft::new(status, now, args.message.clone()).next_update_at(now + next);
    if let Some(notes) = &args.notes {
        draft = draft.internal_notes(notes.clone());
    }
    for (c, s) in &args.components {
        draft = draft.component(c.clone(), *s);
    }
    Ok(draft)
}

async fn load(dispatcher: &Dispatcher, id: &str) -> Result<Incident, Failed> {
    let id = IncidentId::new(id)?;
    dispatcher.journal().incident(&id).await?.ok_or_else(|| {
        Failed(
            2,
            format!("no incident {id} in the journal: open it with `tidings open --id {id}`"),
        )
    })
}

async fn publish(
    dispatcher: &Dispatcher,
    mut incident: Incident,
    draft: UpdateDraft,
    out: &Out,
) -> Result<u8, Failed> {
    let update = incident.post(draft)?.clone();
    let progress = Progress::start(
        out,
        format!("publishing {} update {}", incident.id(), update.seq),
    );
    let report = dispatcher.publish(&incident, &update).await;
    progress.stop().await;
    let report = report.map_err(|e| Failed(1, e.to_string()))?;
    out.report(&incident, &report);
    let failed = report.failures().next().is_some() || report.pending;
    let doubt = report.in_doubt().next().is_some();
    Ok(if failed {
        1
    } else if doubt {
        3
    } else {
        0
    })
}

fn check(config: &Config, out: &Out) -> Result<u8, Failed> {
    // Every channel built and every secret read, against a journal in
    // memory: nothing is sent, no database is touched.
    let dispatcher =
        config.dispatcher_with(std::sync::Arc::new(tidings::journal::MemoryJournal::new()))?;
    let now = Utc::now();
    let mut incident = Incident::new(
        IncidentId::new("example")?,
        "Checkout errors",
        Impact::Major,
        now,
    )?;
    let first = incident
        .post(
            UpdateDraft::new(
                Status::Investigating,
                now,
                "Some customers cannot complete checkout. We are investigating.",
            )
            .internal_notes("Error rate 12% on checkout-api since the 14:02 deploy.")
            .next_update_at(now + chrono::Duration::minutes(30)),
        )?
        .clone();
    let mut audiences = Vec::new();
    for policy in dispatcher.policies() {
        let message = config
            .templates()
            .render_for(&incident, &first, policy)
            .map_err(|e| Failed(2, e.to_string()))?;
        audiences.push((policy, message));
    }
    out.check(config, &audiences);
    Ok(0)
}

async fn status(config: &Config, out: &Out) -> Result<u8, Failed> {
    let dispatcher = config.dispatcher().await?;
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut overdue = false;
    for incident in dispatcher.journal().open_incidents().await? {
        let cadence = dispatcher.cadence(&incident).await?;
        overdue |= !cadence.overdue(now).is_empty();
        rows.push((incident, cadence));
    }
    out.status(now, &rows);
    Ok(u8::from(overdue))
}

fn verify(args: &VerifyArgs, out: &Out) -> Result<u8, Failed> {
    use std::io::Read;
    let secret: tidings::channel::webhook::WebhookSecret = args
        .secret
        .parse()
        .map_err(|e: tidings::channel::webhook::SecretError| Failed(2, e.to_string()))?;
    let mut body = Vec::new();
    if args.body.as_os_str() == "-" {
        if std::io::stdin().is_terminal() {
            return Err(Failed(
                2,
                "give the body with --body <file>, or on standard input".to_owned(),
            ));
        }
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(&args.body)?;
    }
    let result = tidings::channel::webhook::verify(
        &secret,
        &args.id,
        &args.timestamp,
        &args.signature,
        &body,
        std::time::SystemTime::now(),
        args.tolerance,
    );
    out.verified(result.as_ref().err().map(ToString::to_string));
    Ok(u8::from(result.is_err()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}

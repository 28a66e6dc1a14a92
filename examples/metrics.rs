//! The dispatcher's metrics, exported in the Prometheus text format.
//!
//! tidings records through the `metrics` facade; any recorder exports them.
//! Here, `metrics-exporter-prometheus` (without its HTTP listener) renders
//! them as the text a Prometheus scrape would read, after one fan-out in
//! which a provider rate-limits once and another rejects one target.
//!
//! ```text
//! cargo run --example metrics
//! ```

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use tidings::channel::ChannelError;
use tidings::channel::memory::MemoryChannel;
use tidings::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let page = Arc::new(MemoryChannel::primary(
        "https://status.example.com/".parse()?,
    ));
    let chat = Arc::new(MemoryChannel::new());
    chat.fail_next(ChannelError::RateLimited {
        retry_after: Some(Duration::from_millis(200)),
    });
    let sms = Arc::new(MemoryChannel::new());
    sms.fail_next(ChannelError::rejected("unknown number"));
    let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
        .primary("status-page", page)
        .channel("chat", chat)
        .channel("sms", sms)
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new(
                    "chat",
                    [Target::new("#incidents")?, Target::new("#api")?],
                ))
                .route(Route::new(
                    "sms",
                    [Target::new("+15550100")?, Target::new("+15550101")?],
                )),
        )
        .build()?;

    let now = tidings::clock::now();
    let mut incident = Incident::new(IncidentId::new("inc-1")?, "API errors", Impact::Major, now)?;
    let first = incident
        .post(
            UpdateDraft::new(Status::Investigating, now, "Some API requests fail.")
                .next_update_at(now + chrono::Duration::minutes(30)),
        )?
        .clone();
    dispatcher.publish(&incident, &first).await?;

    // The cadence sets the gauge of audiences overdue (none yet).
    dispatcher.cadence(&incident).await?;

    let text = prometheus.render();
    print!("{text}");
    for series in [
        "tidings_deliveries_total",
        "tidings_delivery_failures_total",
        "tidings_send_attempts_total",
        "tidings_send_seconds",
        "tidings_rate_limited_total",
        "tidings_audiences_overdue",
    ] {
        if !text.contains(series) {
            return Err(format!("{series} is missing from the export").into());
        }
    }
    Ok(())
}

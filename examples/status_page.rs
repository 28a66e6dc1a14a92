//! Writes a sample status page (open incidents, maintenance, 90 days of
//! uptime, a subscribe form) to the directory given as the first argument
//! (default `target/status-page-demo`) and prints the directory to serve.
//! `scripts/screenshot` photographs it for the README.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::status_page::{
    Maintenance, MaintenanceStatus, PageComponent, StaticStatusPage,
};
use tidings::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/status-page-demo".into());
    let _ = std::fs::remove_dir_all(&dir);
    let now = Utc::now();
    let start = (now - Duration::days(120)).date_naive();
    let component = |id: &str, name: &str| -> Result<PageComponent, Box<dyn std::error::Error>> {
        Ok(PageComponent::new(ComponentId::new(id)?, name).with_start_date(start))
    };
    let page = Arc::new(
        StaticStatusPage::builder(&dir, "https://status.example.com/")
            .name("Example Cloud status")
            .page_component(component("api", "API")?.with_description("REST and GraphQL endpoints"))
            .page_component(component("dashboard", "Dashboard")?)
            .page_component(component("auth", "Sign-in and single sign-on")?)
            .page_component(component("db", "Managed databases")?)
            .footer_link("Support", "https://example.com/support")
            .subscribe_email("https://example.com/status/subscribe")
            .build()?,
    );
    let d = Dispatcher::builder("https://status.example.com/incidents/{id}.html")
        .primary("status-page", page.clone())
        .channel("mail", Arc::new(MemoryChannel::new()))
        .audience(AudiencePolicy::new(Audience::Customers).route(Route::new(
            "mail",
            [Target::new("subscribers@example.com")?],
        )))
        .build()?;

    // Past incidents: an API outage and a slow dashboard.
    for (id, title, component, status, days, hours) in [
        (
            "inc-api-5xx",
            "Elevated API error rates",
            "api",
            ComponentStatus::MajorOutage,
            23,
            2,
        ),
        (
            "inc-dash-slow",
            "Slow dashboard loads",
            "dashboard",
            ComponentStatus::PartialOutage,
            61,
            5,
        ),
        (
            "inc-sso",
            "Single sign-on failures for some identity providers",
            "auth",
            ComponentStatus::PartialOutage,
            8,
            3,
        ),
    ] {
        let at = now - Duration::days(days);
        let mut inc = Incident::new(IncidentId::new(id)?, title, Impact::Major, at)?
            .with_component(ComponentId::new(component)?, component, status);
        let u = inc
            .post(
                UpdateDraft::new(Status::Investigating, at, "We are investigating.")
                    .next_update_at(at + Duration::minutes(30)),
            )?
            .clone();
        d.publish(&inc, &u).await?;
        let u = inc
            .post(UpdateDraft::new(
                Status::Resolved,
                at + Duration::hours(hours),
                "This incident has been resolved.",
            ))?
            .clone();
        d.publish(&inc, &u).await?;
    }

    // Open now: degraded sign-ins.
    let at = now - Duration::minutes(40);
    let mut open = Incident::new(
        IncidentId::new("inc-login")?,
        "Slow sign-ins",
        Impact::Minor,
        at,
    )?
    .with_component(
        ComponentId::new("auth")?,
        "auth",
        ComponentStatus::DegradedPerformance,
    );
    let u = open
        .post(
            UpdateDraft::new(
                Status::Identified,
                at,
                "Sign-ins take up to 20 seconds. We found a saturated session store and are adding capacity.",
            )
            .next_update_at(now + Duration::minutes(20)),
        )?
        .clone();
    d.publish(&open, &u).await?;

    // Upcoming maintenance.
    let from = now + Duration::days(2);
    let mut m = Maintenance::new(
        IncidentId::new("mnt-db")?,
        "Managed database upgrade",
        from,
        from + Duration::hours(2),
    )?
    .with_component(ComponentId::new("db")?);
    m.post(
        MaintenanceStatus::Scheduled,
        now - Duration::hours(3),
        "Databases will be read-only for up to five minutes during the window.",
    )?;
    page.publish_maintenance(&m).await?;
    println!("{}", page.served_dir().display());
    Ok(())
}

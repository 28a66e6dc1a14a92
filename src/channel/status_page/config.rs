//! What a page is: its name, address, components and directory.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use url::Url;

use crate::incident::{ComponentId, IncidentId};

/// A component the page lists, in the order given, whether or not an incident
/// affects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageComponent {
    /// The id incidents use for it.
    pub id: ComponentId,
    /// Its name on the page.
    pub name: String,
    /// An optional line of description.
    pub description: Option<String>,
    /// The first day its uptime counts (Statuspage's `start_date`); days
    /// before it show no data. Default: the day the page was first written.
    pub start_date: Option<NaiveDate>,
}

impl PageComponent {
    /// A component with a name and no description.
    pub fn new(id: ComponentId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            description: None,
            start_date: None,
        }
    }

    /// Adds a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the first day its uptime counts (see
    /// [`start_date`](Self::start_date)).
    #[must_use]
    pub fn with_start_date(mut self, date: NaiveDate) -> Self {
        self.start_date = Some(date);
        self
    }
}

/// A form on the index that posts to an endpoint the page's owner runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscribe {
    pub(crate) kind: SubscribeKind,
    pub(crate) endpoint: Url,
}

/// What a subscribe form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscribeKind {
    /// An e-mail address, posted as `email`.
    Email,
    /// A webhook URL, posted as `url`.
    Webhook,
}

/// The page's look beyond its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Branding {
    /// An image shown above the name: its URL and its text alternative.
    pub(crate) logo: Option<(Url, String)>,
    /// The accent (links, focus rings, the header's rule) for light and
    /// dark mode, as `#rrggbb`.
    pub(crate) accent: Option<(String, String)>,
    /// Links in the footer, in order: label and URL.
    pub(crate) footer_links: Vec<(String, Url)>,
}

/// The validated configuration of one page.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) dir: PathBuf,
    /// Ends with `/`.
    pub(crate) base: Url,
    pub(crate) name: String,
    pub(crate) page_id: String,
    pub(crate) components: Vec<PageComponent>,
    pub(crate) branding: Branding,
    pub(crate) subscribe: Vec<Subscribe>,
    pub(crate) history_limit: usize,
    /// Resolved incidents and completed maintenances last updated longer ago
    /// than this many days are forgotten.
    pub(crate) history_days: u32,
    /// How long a writer waits for another to release the directory.
    pub(crate) lock_timeout: Duration,
}

impl Config {
    /// `<base>incidents/<id>.html`: the incident's page.
    pub(crate) fn permalink(&self, id: &IncidentId) -> Url {
        self.join(&incident_path(id))
    }

    /// `<base>maintenance/<id>.html`: the maintenance's page.
    pub(crate) fn maintenance_permalink(&self, id: &IncidentId) -> Url {
        self.join(&maintenance_path(id))
    }

    /// The oldest last update a resolved incident (or completed maintenance)
    /// may have to stay on the page at `now`; `None` if the history reaches
    /// further back than time can be counted.
    pub(crate) fn history_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        chrono::Duration::try_days(i64::from(self.history_days))
            .and_then(|days| now.checked_sub_signed(days))
    }

    pub(crate) fn join(&self, path: &str) -> Url {
        // Ids are ASCII letters, digits, '-' and '_', and paths are built from
        // them and constants, so joining to a base that ends in '/' cannot fail;
        // the fallback is never taken.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }
}

/// The site-relative path of an incident's page.
pub(crate) fn incident_path(id: &IncidentId) -> String {
    format!("incidents/{id}.html")
}

/// The site-relative path of a maintenance's page.
pub(crate) fn maintenance_path(id: &IncidentId) -> String {
    format!("maintenance/{id}.html")
}

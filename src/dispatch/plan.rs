//! What a pass over one update shares between its deliveries: the views each
//! detail level may see, and each audience's message fitted to each channel.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use url::Url;

use super::lane::Lane;
use crate::audience::{Audience, Detail, Target};
use crate::incident::{Incident, Update};
use crate::journal::ClaimOptions;
use crate::render::{FitError, Overflow, RenderedMessage, fit};

/// The incident and update as one detail level may see them.
pub(crate) struct View {
    pub(crate) incident: Arc<Incident>,
    pub(crate) update: Arc<Update>,
}

/// One audience's message, rendered and fitted to one channel: what all the
/// route's targets share.
pub(crate) struct Prepared {
    pub(crate) audience: Audience,
    pub(crate) detail: Detail,
    pub(crate) view: Arc<View>,
    pub(crate) message: Arc<RenderedMessage>,
    /// Each part's text, and whether it carries the link.
    pub(crate) parts: Result<Vec<(Arc<str>, bool)>, FitError>,
    pub(crate) planned_at: DateTime<Utc>,
}

/// A prepared message and the targets of one route.
pub(crate) struct RoutePlan<'a> {
    pub(crate) lane: usize,
    pub(crate) prepared: Prepared,
    pub(crate) targets: &'a [Target],
    pub(crate) options: ClaimOptions,
}

/// Fits a message to a lane's channel; each part with whether it has the link.
pub(crate) fn fitted(
    message: &RenderedMessage,
    link: &Url,
    lane: &Lane,
    overflow: Overflow,
) -> Result<Vec<(Arc<str>, bool)>, FitError> {
    let link = link.as_str();
    let parts = fit(message, link, lane.channel.limits().text.as_ref(), overflow)?;
    Ok(parts
        .into_iter()
        .map(|p| {
            let has_link = p.contains(link);
            (Arc::from(p), has_link)
        })
        .collect())
}

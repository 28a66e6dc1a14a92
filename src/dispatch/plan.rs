//! What a pass over one update shares between its deliveries: the views each
//! detail level may see, and each audience's message fitted to each channel.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use url::Url;

use super::lane::Lane;
use crate::audience::{Audience, Detail, Target};
use crate::incident::{Incident, Update};
use crate::journal::ClaimOptions;
use crate::render::{FitError, Fitted, Overflow, RenderedMessage, fit};

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
    /// Each part, fitted and laid out, and whether it carries the link.
    pub(crate) parts: Result<Vec<(Arc<Fitted>, bool)>, FitError>,
    pub(crate) planned_at: DateTime<Utc>,
}

/// A prepared message and the targets of one route.
pub(crate) struct RoutePlan<'a> {
    pub(crate) lane: usize,
    pub(crate) prepared: Prepared,
    pub(crate) targets: &'a [Target],
    pub(crate) options: ClaimOptions,
}

/// Fits a message to a lane's channel, in its format; each part with whether
/// it carries the link. Every part has the link among its pieces (the fitter
/// never cuts it), and the channel's format places it, escaped or as a
/// button as its wire needs, so the text is not searched for it.
pub(crate) fn fitted(
    message: &RenderedMessage,
    link: &Url,
    lane: &Lane,
    overflow: Overflow,
) -> Result<Vec<(Arc<Fitted>, bool)>, FitError> {
    let link = link.as_str();
    let channel = &lane.channel;
    let parts = fit(
        message,
        link,
        channel.limits().text.as_ref(),
        channel.format(),
        overflow,
    )?;
    Ok(parts
        .into_iter()
        .map(|p| {
            let has_link = !p.link.is_empty();
            (Arc::new(p), has_link)
        })
        .collect())
}

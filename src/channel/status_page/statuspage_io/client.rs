//! The requests: create, update, look up, read.

use super::*;

impl StatuspageIoChannel {
    /// `{base}/v1/pages/{page_id}/incidents[/tail…]`, each segment encoded.
    pub(super) fn url(&self, tail: &[&str]) -> Result<Url, ChannelError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ChannelError::Config {
                reason: "Statuspage base URL cannot have paths".into(),
            })?
            .pop_if_empty()
            .extend(["v1", "pages", &self.page_id, "incidents"])
            .extend(tail);
        Ok(url)
    }

    /// One request; the answer's status and body on success, the mapped
    /// error otherwise.
    pub(super) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Envelope<'_>>,
    ) -> Result<(StatusCode, String), ChannelError> {
        let mut request = self
            .client
            .request(method, url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = http::send(request, &url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::body_text(response).await;
        if status.is_success() {
            Ok((status, text))
        } else {
            Err(self.redact(map_error(status, &headers, &text)))
        }
    }

    /// Removes the API key from an error's text, should a provider ever echo
    /// it.
    pub(super) fn redact(&self, err: ChannelError) -> ChannelError {
        let clean = |s: String| s.replace(&self.api_key, "<redacted>");
        match err {
            ChannelError::Rejected { reason, status } => ChannelError::Rejected {
                reason: clean(reason),
                status,
            },
            ChannelError::Transient {
                reason,
                status,
                retry_after,
            } => ChannelError::Transient {
                reason: clean(reason),
                status,
                retry_after,
            },
            other => other,
        }
    }

    /// The incident fields for a create (`create`) or an update.
    pub(super) fn fields<'a>(
        &'a self,
        delivery: &'a Delivery,
        status: &'static str,
        body: &'a str,
        create: bool,
    ) -> IncidentFields<'a> {
        let incident = &delivery.incident;
        // A maintenance not yet started leaves its components as they are;
        // Statuspage moves them under maintenance (and back) on the window's
        // edges.
        // A maintenance scheduled to start later leaves its components as
        // they are (Statuspage moves them on the window's edges)...
        let started = incident
            .window()
            .is_some_and(|w| delivery.update.at >= w.scheduled_for());
        let scheduled = delivery.update.status == Status::Scheduled && !started;
        // ...and one completed, or put off after its start (Statuspage may
        // have moved it to in progress), gives them back, unless the update
        // itself says otherwise.
        let completed = delivery.update.status == Status::Completed
            || (delivery.update.status == Status::Scheduled && started);
        let set_here = |id: &ComponentId| {
            delivery
                .update
                .component_changes
                .iter()
                .any(|(changed, _)| changed == id)
        };
        let mut components = BTreeMap::new();
        let mut component_ids = Vec::new();
        for (id, status) in statuses_as_of(incident, delivery.update.seq) {
            let status = if completed && !set_here(id) {
                Some(ComponentStatus::Operational)
            } else {
                status
            };
            match (self.components.get(id), status) {
                (Some(theirs), _) if scheduled => component_ids.push(theirs.as_str()),
                (Some(theirs), Some(status)) => {
                    components.insert(theirs.as_str(), status.as_str());
                }
                (None, _) => {
                    tracing::debug!(component = %id, "no Statuspage component id configured; not sent");
                }
                (Some(_), None) => {
                    tracing::debug!(component = %id, "status as of this update unknown; not sent");
                }
            }
        }
        IncidentFields {
            name: create.then(|| truncate(incident.title(), MAX_NAME)),
            status,
            body,
            impact_override: if incident.is_maintenance() {
                "maintenance"
            } else {
                incident.impact().as_str()
            },
            component_ids: if create {
                component_ids.extend(components.keys().copied());
                component_ids
            } else {
                Vec::new()
            },
            components,
            deliver_notifications: self.deliver_notifications,
            metadata: create.then(|| {
                BTreeMap::from([(
                    METADATA_KEY,
                    Tag {
                        incident_id: incident.id().as_str(),
                    },
                )])
            }),
            schedule: incident.window().filter(|_| create).map(|w| Schedule {
                scheduled_for: w.scheduled_for(),
                scheduled_until: w.scheduled_until(),
                scheduled_remind_prior: self.deliver_notifications,
                scheduled_auto_in_progress: self.maintenance.start,
                scheduled_auto_completed: self.maintenance.end,
                auto_transition_to_maintenance_state: self.maintenance.start,
                auto_transition_to_operational_state: self.maintenance.end,
                auto_transition_deliver_notifications_at_start: self.deliver_notifications,
                auto_transition_deliver_notifications_at_end: self.deliver_notifications,
            }),
        }
    }

    /// The receipt for Statuspage incident `id`: its shortlink, else the
    /// page URL's incident page, as the permalink.
    pub(super) fn receipt(&self, id: &str, shortlink: Option<&str>, status: StatusCode) -> Receipt {
        let shortlink = shortlink
            .and_then(|s| Url::parse(s.trim()).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http"));
        let permalink = shortlink.or_else(|| {
            let mut url = self.page_url.clone()?;
            url.path_segments_mut()
                .ok()?
                .pop_if_empty()
                .extend(["incidents", id]);
            Some(url)
        });
        let mut receipt = Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(id))
            .with_status(status.as_u16());
        if let Some(url) = permalink {
            receipt = receipt.with_permalink(url);
        }
        receipt
    }

    /// The unresolved incident (or scheduled or active maintenance) an
    /// earlier attempt created for this incident, if any.
    pub(super) async fn find_existing(
        &self,
        delivery: &Delivery,
    ) -> Result<Option<IncidentAnswer>, ChannelError> {
        // Maintenances are listed apart from realtime incidents: the
        // scheduled ones and those under way (UNCONFIRMED whether the first
        // list holds both, so both are read).
        let lists: &[&str] = if delivery.incident.is_maintenance() {
            &["scheduled", "active_maintenance"]
        } else {
            &["unresolved"]
        };
        let ours = delivery.incident.id().as_str();
        for list in lists {
            let url = self.url(&[list])?;
            let (_, text) = self.call(Method::GET, url, None).await?;
            let Ok(found) = serde_json::from_str::<Vec<IncidentAnswer>>(&text) else {
                tracing::warn!(
                    list,
                    "could not read Statuspage's incident list; not checked for a duplicate"
                );
                continue;
            };
            if let Some(existing) = found
                .into_iter()
                .find(|i| i.is_ours(ours) && i.id.as_deref().is_some_and(|id| !id.is_empty()))
            {
                return Ok(Some(existing));
            }
        }
        Ok(None)
    }

    pub(super) async fn first_contact(
        &self,
        delivery: &Delivery,
        status: &'static str,
        body: &str,
    ) -> Result<Receipt, ChannelError> {
        if let Some(existing) = self.find_existing(delivery).await? {
            let id = existing.id.as_deref().unwrap_or_default();
            if existing.has_update(status, body.trim()) {
                tracing::info!(statuspage_incident = %id, "the Statuspage incident already has this update; not sending it again");
                return Ok(self.receipt(id, existing.shortlink.as_deref(), StatusCode::OK));
            }
            tracing::info!(statuspage_incident = %id, "found the Statuspage incident an earlier attempt created; updating it");
            return self.update(id, delivery, status, body).await;
        }
        let envelope = Envelope {
            incident: self.fields(delivery, status, body, true),
        };
        let (code, text) = self
            .call(Method::POST, self.url(&[])?, Some(&envelope))
            .await?;
        // The incident exists but its id is unknown: a retry's look-up finds it.
        let unreadable = || ChannelError::Transient {
            reason: "Statuspage created the incident but its answer has no incident id".into(),
            status: Some(code.as_u16()),
            retry_after: None,
        };
        let answer: IncidentAnswer = serde_json::from_str(&text).map_err(|_| unreadable())?;
        let id = answer
            .id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or_else(unreadable)?;
        Ok(self.receipt(id, answer.shortlink.as_deref(), code))
    }

    pub(super) async fn update(
        &self,
        id: &str,
        delivery: &Delivery,
        status: &'static str,
        body: &str,
    ) -> Result<Receipt, ChannelError> {
        if delivery.resend {
            // An earlier attempt's answer was lost: it may have posted this
            // update already. Look before posting it again.
            let (code, text) = self.call(Method::GET, self.url(&[id])?, None).await?;
            if let Ok(current) = serde_json::from_str::<IncidentAnswer>(&text)
                && current.has_update(status, body.trim())
            {
                tracing::info!(statuspage_incident = %id, "the Statuspage incident already has this update; not sending it again");
                return Ok(self.receipt(id, current.shortlink.as_deref(), code));
            }
        }
        let envelope = Envelope {
            incident: self.fields(delivery, status, body, false),
        };
        let (code, text) = self
            .call(Method::PATCH, self.url(&[id])?, Some(&envelope))
            .await?;
        // The update is applied; an unreadable answer only costs the shortlink.
        let shortlink = serde_json::from_str::<IncidentAnswer>(&text)
            .ok()
            .and_then(|a| a.shortlink);
        Ok(self.receipt(id, shortlink.as_deref(), code))
    }

    pub(super) async fn postmortem(
        &self,
        delivery: &Delivery,
        body: &str,
    ) -> Result<Receipt, ChannelError> {
        let Some(thread) = &delivery.thread else {
            tracing::debug!(
                incident = %delivery.incident.id(),
                "postmortem for an incident that is not on Statuspage; nothing to attach it to"
            );
            return Ok(Receipt::new(crate::clock::now()));
        };
        let id = thread.root.as_str();
        match self.postmortem {
            Postmortem::AsUpdate => self.update(id, delivery, "resolved", body).await,
            Postmortem::Skip => self.current(id).await,
        }
    }

    /// Reads Statuspage incident `id`, changing nothing: the receipt for an
    /// act Statuspage does not show (a skipped postmortem, a reminder).
    pub(super) async fn current(&self, id: &str) -> Result<Receipt, ChannelError> {
        let (code, text) = self.call(Method::GET, self.url(&[id])?, None).await?;
        let shortlink = serde_json::from_str::<IncidentAnswer>(&text)
            .ok()
            .and_then(|a| a.shortlink);
        Ok(self.receipt(id, shortlink.as_deref(), code))
    }
}

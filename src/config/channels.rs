//! `[channels.<name>]`: one table per channel, `provider` naming which.

// With only some providers compiled in, the others' tables are read and
// refused, never built.
#![cfg_attr(not(feature = "full"), allow(dead_code))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::values::{Rate, Secret, Span};
use crate::channel::Channel;

/// What every channel table may set besides its provider's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Common {
    /// The dispatcher's rate for the whole channel.
    pub(crate) rate: Option<Rate>,
    /// The dispatcher's rate per target.
    pub(crate) per_target_rate: Option<Rate>,
    /// The per-request timeout.
    pub(crate) timeout: Option<Span>,
}

/// The keys every table shares, taken out before the provider's are read.
pub(crate) const COMMON_KEYS: [&str; 3] = ["rate", "per_target_rate", "timeout"];

/// A component of the static status page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ComponentSpec {
    id: String,
    name: String,
}

/// A named endpoint whose URL may hold a secret (a chat webhook).
type Hooks = BTreeMap<String, Secret>;

/// One channel, by provider. Field names follow the builders'.
#[derive(Debug, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case", deny_unknown_fields)]
// Fields of providers not compiled in are read by no one.
#[allow(dead_code)]
pub(crate) enum ChannelSpec {
    /// The static status page.
    StatusPage {
        dir: PathBuf,
        base_url: String,
        name: Option<String>,
        #[serde(default)]
        components: Vec<ComponentSpec>,
        history_days: Option<u32>,
    },
    /// Atlassian Statuspage.
    StatuspageIo {
        api_key: Secret,
        page_id: String,
        base_url: Option<String>,
        page_url: Option<String>,
        /// Our component id → Statuspage's.
        #[serde(default)]
        components: BTreeMap<String, String>,
        deliver_notifications: Option<bool>,
    },
    /// The signed generic webhook.
    Webhook {
        endpoints: Vec<WebhookEndpoint>,
        /// Plain `http` URLs (for receivers on a private network).
        #[serde(default)]
        allow_http: bool,
    },
    /// Slack: `token` (Web API) or `webhooks` (incoming webhooks).
    Slack {
        token: Option<Secret>,
        #[serde(default)]
        webhooks: Hooks,
        base_url: Option<String>,
        keep_first_message_current: Option<bool>,
        reply_broadcast: Option<bool>,
    },
    /// Discord execute webhooks.
    Discord { webhooks: Hooks },
    /// Microsoft Teams Workflows webhooks.
    Teams { webhooks: Hooks },
    /// Mattermost incoming webhooks.
    Mattermost { webhooks: Hooks },
    /// Google Chat incoming webhooks.
    GoogleChat { webhooks: Hooks },
    /// E-mail over SMTP.
    Email {
        host: String,
        /// `tls` (implicit TLS, the default), `starttls`, or `none` (plain
        /// SMTP, only for a relay on loopback or a private network).
        #[serde(default)]
        security: SmtpSecurity,
        port: Option<u16>,
        from: String,
        reply_to: Option<String>,
        user: Option<String>,
        password: Option<Secret>,
        list_unsubscribe_url: Option<String>,
        unsubscribe_key: Option<Secret>,
        list_unsubscribe_mailto: Option<String>,
    },
    /// SMS through Twilio.
    Twilio {
        account_sid: String,
        auth_token: Option<Secret>,
        api_key_sid: Option<String>,
        api_key_secret: Option<Secret>,
        from: Option<String>,
        messaging_service: Option<String>,
        base_url: Option<String>,
        segment_budget: Option<u32>,
    },
    /// Mastodon.
    Mastodon {
        instance_url: String,
        access_token: Secret,
    },
    /// Bluesky.
    Bluesky {
        identifier: String,
        app_password: Secret,
        base_url: Option<String>,
    },
    /// X.
    X {
        user_access_token: Secret,
        base_url: Option<String>,
    },
    /// PagerDuty Events API v2: integration name → routing key.
    Pagerduty {
        integrations: Hooks,
        source: Option<String>,
        acknowledge_when_identified: Option<bool>,
        base_url: Option<String>,
    },
    /// Jira Service Management Operations alerts: integration name → API key.
    Jsm {
        integrations: Hooks,
        source: Option<String>,
        base_url: Option<String>,
    },
    /// Opsgenie alerts: integration name → API key.
    Opsgenie {
        integrations: Hooks,
        source: Option<String>,
        base_url: Option<String>,
    },
    /// Confluence Cloud postmortem pages.
    Confluence {
        site: String,
        email: String,
        api_token: Secret,
        spaces: BTreeMap<String, ConfluenceSpaceSpec>,
    },
}

/// A Confluence space a route target names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfluenceSpaceSpec {
    key: String,
    parent_page: Option<String>,
}

/// One endpoint of the signed webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookEndpoint {
    name: String,
    url: Secret,
    secret: Secret,
}

/// How the e-mail channel reaches its relay.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SmtpSecurity {
    #[default]
    Tls,
    Starttls,
    None,
}

/// A channel built, and what the rest of the file is checked against.
pub(crate) struct Built {
    pub(crate) channel: Arc<dyn Channel>,
    /// A static status page's link templates (incident, maintenance), for
    /// the canonical URLs' check.
    pub(crate) page_links: Option<(String, String)>,
}

/// Reads a secret, the error naming the key.
fn secret(key: &str, s: &Secret) -> Result<String, String> {
    s.resolve().map_err(|e| format!("{key}: {e}"))
}

fn hooks(hooks: &Hooks) -> Result<Vec<(String, String)>, String> {
    named_secrets("webhooks", hooks)
}

/// Each named secret of the table `key`, read.
fn named_secrets(key: &str, named: &Hooks) -> Result<Vec<(String, String)>, String> {
    named
        .iter()
        .map(|(name, s)| Ok((name.clone(), secret(&format!("{key}.{name}"), s)?)))
        .collect()
}

/// An alert channel's builder with the table's keys set.
#[cfg(any(feature = "jsm", feature = "opsgenie"))]
fn alerts(
    mut b: crate::channel::records::alerts::AlertChannelBuilder,
    integrations: &Hooks,
    source: Option<&str>,
    base_url: Option<&str>,
    http: crate::channel::HttpOptions,
) -> Result<crate::channel::records::alerts::AlertChannelBuilder, String> {
    for (name, key) in named_secrets("integrations", integrations)? {
        b = b.integration(name, key);
    }
    if let Some(s) = source {
        b = b.source(s);
    }
    if let Some(u) = base_url {
        b = b.base_url(u);
    }
    Ok(b.http(http))
}

impl ChannelSpec {
    /// Builds the channel; a message saying what is wrong otherwise.
    // Which arms exist depends on the provider features: with few or none,
    // some of the shared bindings go unused.
    #[allow(clippy::too_many_lines, unreachable_code, unused_mut, unused_variables)]
    pub(crate) fn build(&self, timeout: Option<Duration>) -> Result<Built, String> {
        let err = |e: crate::channel::BuildError| e.to_string();
        let mut page_links = None;
        // Every HTTP channel's options: the table's timeout, else the defaults.
        #[cfg(feature = "__http")]
        let http = timeout.map_or_else(crate::channel::HttpOptions::new, |t| {
            crate::channel::HttpOptions::new().timeout(t)
        });
        let channel: Arc<dyn Channel> = match self {
            #[cfg(feature = "status-page")]
            ChannelSpec::StatusPage { .. } => {
                let page = self
                    .static_status_page()?
                    .ok_or_else(|| "not a static status page".to_owned())?;
                page_links = Some((
                    page.incident_url_template(),
                    page.maintenance_url_template(),
                ));
                Arc::new(page)
            }
            #[cfg(feature = "statuspage-io")]
            ChannelSpec::StatuspageIo {
                api_key,
                page_id,
                base_url,
                page_url,
                components,
                deliver_notifications,
            } => {
                use crate::channel::status_page::statuspage_io::StatuspageIoChannel;
                let mut b = StatuspageIoChannel::builder(secret("api_key", api_key)?, page_id);
                if let Some(u) = base_url {
                    b = b.base_url(u.clone());
                }
                if let Some(u) = page_url {
                    b = b.page_url(u.clone());
                }
                for (ours, theirs) in components {
                    b = b.component(ours.clone(), theirs.clone());
                }
                if let Some(yes) = deliver_notifications {
                    b = b.deliver_notifications(*yes);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "webhook")]
            ChannelSpec::Webhook {
                endpoints,
                allow_http,
            } => {
                use crate::channel::webhook::WebhookChannel;
                let mut b = WebhookChannel::builder();
                for e in endpoints {
                    let url = secret(&format!("endpoints.{}.url", e.name), &e.url)?;
                    let key = secret(&format!("endpoints.{}.secret", e.name), &e.secret)?;
                    b = b.endpoint(e.name.clone(), url, key);
                }
                if *allow_http {
                    b = b.danger_allow_http();
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "slack")]
            ChannelSpec::Slack {
                token,
                webhooks,
                base_url,
                keep_first_message_current,
                reply_broadcast,
            } => {
                use crate::channel::chat::slack::SlackChannel;
                let mut b = match (token, webhooks.is_empty()) {
                    (Some(token), true) => SlackChannel::web_api(secret("token", token)?),
                    (None, false) => {
                        let mut b = SlackChannel::incoming_webhooks();
                        for (name, url) in hooks(webhooks)? {
                            b = b.webhook(name, url);
                        }
                        b
                    }
                    _ => {
                        return Err(
                            "set either token (Web API) or webhooks (incoming webhooks), not both nor neither"
                                .into(),
                        );
                    }
                };
                if let Some(u) = base_url {
                    b = b.base_url(u.clone());
                }
                if let Some(yes) = keep_first_message_current {
                    b = b.keep_first_message_current(*yes);
                }
                if let Some(yes) = reply_broadcast {
                    b = b.reply_broadcast(*yes);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "discord")]
            ChannelSpec::Discord { webhooks } => {
                use crate::channel::chat::discord::DiscordChannel;
                let mut b = DiscordChannel::builder();
                for (name, url) in hooks(webhooks)? {
                    b = b.webhook(name, url);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "teams")]
            ChannelSpec::Teams { webhooks } => {
                use crate::channel::chat::teams::TeamsChannel;
                let mut b = TeamsChannel::builder();
                for (name, url) in hooks(webhooks)? {
                    b = b.webhook(name, url);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "mattermost")]
            ChannelSpec::Mattermost { webhooks } => {
                use crate::channel::chat::mattermost::MattermostChannel;
                let mut b = MattermostChannel::builder();
                for (name, url) in hooks(webhooks)? {
                    b = b.webhook(name, url);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "google-chat")]
            ChannelSpec::GoogleChat { webhooks } => {
                use crate::channel::chat::google_chat::GoogleChatChannel;
                let mut b = GoogleChatChannel::builder();
                for (name, url) in hooks(webhooks)? {
                    b = b.webhook(name, url);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "email")]
            ChannelSpec::Email {
                host,
                security,
                port,
                from,
                reply_to,
                user,
                password,
                list_unsubscribe_url,
                unsubscribe_key,
                list_unsubscribe_mailto,
            } => {
                use crate::channel::email::EmailChannel;
                let mut b = match security {
                    SmtpSecurity::Tls => EmailChannel::relay(host.clone()),
                    SmtpSecurity::Starttls => EmailChannel::starttls_relay(host.clone()),
                    SmtpSecurity::None => EmailChannel::builder_dangerous(host.clone()),
                };
                b = b.from(from.clone());
                if let Some(p) = port {
                    b = b.port(*p);
                }
                if let Some(r) = reply_to {
                    b = b.reply_to(r.clone());
                }
                match (user, password) {
                    (Some(user), Some(password)) => {
                        b = b.credentials(user.clone(), secret("password", password)?);
                    }
                    (None, None) => {}
                    _ => return Err("set both user and password, or neither".into()),
                }
                match (list_unsubscribe_url, unsubscribe_key) {
                    (Some(url), Some(key)) => {
                        let key = secret("unsubscribe_key", key)?;
                        b = b.list_unsubscribe_url(url.clone(), key.as_bytes());
                    }
                    (None, None) => {}
                    _ => {
                        return Err(
                            "list_unsubscribe_url needs unsubscribe_key (at least 16 bytes), and the key needs the URL"
                                .into(),
                        );
                    }
                }
                if let Some(m) = list_unsubscribe_mailto {
                    b = b.list_unsubscribe_mailto(m.clone());
                }
                if let Some(t) = timeout {
                    b = b.timeout(t);
                }
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "sms-twilio")]
            ChannelSpec::Twilio {
                account_sid,
                auth_token,
                api_key_sid,
                api_key_secret,
                from,
                messaging_service,
                base_url,
                segment_budget,
            } => {
                use crate::channel::sms::twilio::TwilioChannel;
                let mut b = match (auth_token, api_key_sid, api_key_secret) {
                    (Some(token), None, None) => {
                        TwilioChannel::with_auth_token(account_sid, secret("auth_token", token)?)
                    }
                    (None, Some(sid), Some(key)) => TwilioChannel::with_api_key(
                        account_sid,
                        sid,
                        secret("api_key_secret", key)?,
                    ),
                    _ => {
                        return Err(
                            "set auth_token, or api_key_sid with api_key_secret (one of the two)"
                                .into(),
                        );
                    }
                };
                if let Some(f) = from {
                    b = b.from(f.clone());
                }
                if let Some(m) = messaging_service {
                    b = b.messaging_service(m.clone());
                }
                if let Some(u) = base_url {
                    b = b.base_url(u.clone());
                }
                if let Some(n) = segment_budget {
                    b = b.segment_budget(*n);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "mastodon")]
            ChannelSpec::Mastodon {
                instance_url,
                access_token,
            } => {
                use crate::channel::social::mastodon::MastodonChannel;
                let mut b = MastodonChannel::builder(
                    instance_url.clone(),
                    secret("access_token", access_token)?,
                );
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "bluesky")]
            ChannelSpec::Bluesky {
                identifier,
                app_password,
                base_url,
            } => {
                use crate::channel::social::bluesky::BlueskyChannel;
                let mut b = BlueskyChannel::builder(
                    identifier.clone(),
                    secret("app_password", app_password)?,
                );
                if let Some(u) = base_url {
                    b = b.base_url(u.clone());
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "x")]
            ChannelSpec::X {
                user_access_token,
                base_url,
            } => {
                use crate::channel::social::x::XChannel;
                let mut b = XChannel::builder(secret("user_access_token", user_access_token)?);
                if let Some(u) = base_url {
                    b = b.base_url(u.clone());
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "pagerduty")]
            ChannelSpec::Pagerduty {
                integrations,
                source,
                acknowledge_when_identified,
                base_url,
            } => {
                use crate::channel::records::pagerduty::PagerDutyChannel;
                let mut b = PagerDutyChannel::builder();
                for (name, key) in named_secrets("integrations", integrations)? {
                    b = b.integration(name, key);
                }
                if let Some(s) = source {
                    b = b.source(s.clone());
                }
                if let Some(yes) = acknowledge_when_identified {
                    b = b.acknowledge_when_identified(*yes);
                }
                if let Some(u) = base_url {
                    b = b.base_url(u.clone());
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[cfg(feature = "jsm")]
            ChannelSpec::Jsm {
                integrations,
                source,
                base_url,
            } => Arc::new(
                alerts(
                    crate::channel::records::alerts::AlertChannel::jsm(),
                    integrations,
                    source.as_deref(),
                    base_url.as_deref(),
                    http.clone(),
                )?
                .build()
                .map_err(err)?,
            ),
            #[cfg(feature = "opsgenie")]
            ChannelSpec::Opsgenie {
                integrations,
                source,
                base_url,
            } => Arc::new(
                alerts(
                    crate::channel::records::alerts::AlertChannel::opsgenie(),
                    integrations,
                    source.as_deref(),
                    base_url.as_deref(),
                    http.clone(),
                )?
                .build()
                .map_err(err)?,
            ),
            #[cfg(feature = "confluence")]
            ChannelSpec::Confluence {
                site,
                email,
                api_token,
                spaces,
            } => {
                use crate::channel::records::confluence::{ConfluenceChannel, ConfluenceSpace};
                let mut b = ConfluenceChannel::builder(
                    site.clone(),
                    email.clone(),
                    secret("api_token", api_token)?,
                );
                for (name, space) in spaces {
                    let mut s = ConfluenceSpace::new(space.key.clone());
                    if let Some(parent) = &space.parent_page {
                        s = s.parent_page(parent.clone());
                    }
                    b = b.space(name.clone(), s);
                }
                b = b.http(http.clone());
                Arc::new(b.build().map_err(err)?)
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(format!(
                    "provider {:?} is not compiled in: enable its cargo feature",
                    other.provider()
                ));
            }
        };
        Ok(Built {
            channel,
            page_links,
        })
    }

    /// The static status page this table describes, if it describes one.
    #[cfg(feature = "status-page")]
    pub(crate) fn static_status_page(
        &self,
    ) -> Result<Option<crate::channel::status_page::StaticStatusPage>, String> {
        let ChannelSpec::StatusPage {
            dir,
            base_url,
            name,
            components,
            history_days,
        } = self
        else {
            return Ok(None);
        };
        let mut b =
            crate::channel::status_page::StaticStatusPage::builder(dir.clone(), base_url.clone());
        if let Some(name) = name {
            b = b.name(name.clone());
        }
        for c in components {
            let id = crate::incident::ComponentId::new(c.id.clone())
                .map_err(|e| format!("components: {e}"))?;
            b = b.component(id, c.name.clone());
        }
        if let Some(days) = history_days {
            b = b.history_days(*days);
        }
        b.build().map(Some).map_err(|e| e.to_string())
    }

    /// The provider's name as the file writes it.
    pub(crate) fn provider(&self) -> &'static str {
        match self {
            ChannelSpec::StatusPage { .. } => "status-page",
            ChannelSpec::StatuspageIo { .. } => "statuspage-io",
            ChannelSpec::Webhook { .. } => "webhook",
            ChannelSpec::Slack { .. } => "slack",
            ChannelSpec::Discord { .. } => "discord",
            ChannelSpec::Teams { .. } => "teams",
            ChannelSpec::Mattermost { .. } => "mattermost",
            ChannelSpec::GoogleChat { .. } => "google-chat",
            ChannelSpec::Email { .. } => "email",
            ChannelSpec::Twilio { .. } => "twilio",
            ChannelSpec::Mastodon { .. } => "mastodon",
            ChannelSpec::Bluesky { .. } => "bluesky",
            ChannelSpec::X { .. } => "x",
            ChannelSpec::Pagerduty { .. } => "pagerduty",
            ChannelSpec::Jsm { .. } => "jsm",
            ChannelSpec::Opsgenie { .. } => "opsgenie",
            ChannelSpec::Confluence { .. } => "confluence",
        }
    }
}

//! E-mail over SMTP (lettre, rustls): a `multipart/alternative` message with a
//! plain-text and an HTML part, both carrying the link; threading headers so
//! each incident is one thread; `List-Unsubscribe` for subscriber audiences.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::email::EmailChannel;
//!
//! let email = EmailChannel::relay("smtp.example.com") // implicit TLS, port 465
//!     .credentials("status-bot", "app-password")
//!     .from("Example Status <status@example.com>")
//!     .list_unsubscribe_url("https://status.example.com/unsubscribe?r={recipient}&t={token}", b"a long random key")
//!     .build()?;
//! # let _ = email; Ok(()) }
//! ```
//!
//! - **Transport.** [`EmailChannel::relay`] (implicit TLS, port 465),
//!   [`EmailChannel::starttls_relay`] (STARTTLS required, port 587), or
//!   [`EmailChannel::builder_dangerous`] (plain text, port 25: local relays
//!   only). Optional authentication; pooled connections; a timeout on every
//!   SMTP step (connect, and every socket read and write). lettre's blocking
//!   transport runs on tokio's blocking pool: its socket timeouts cover every
//!   step, which its async transport does not (it only times out connecting).
//! - **Message.** Subject `[Status] Title`, changing with the status. Both
//!   parts are laid out by [`EmailFormat`] from the message's pieces: the
//!   plain part is the plain layout (the delivery's text, as it is); the HTML
//!   part has every user string HTML-escaped, the link as an `<a href>`, no
//!   external assets. Targets are e-mail addresses.
//! - **Threading.** `Message-ID` is `<idempotency-key@domain>`, so retries and
//!   re-publishes keep it; updates set `In-Reply-To` and `References` to the
//!   first contact's `Message-ID`.
//! - **Unsubscribe.** For subscriber audiences (default: customers),
//!   `List-Unsubscribe` (RFC 2369) with an https URL carrying an HMAC token of
//!   the recipient and/or a `mailto:`; with an https URL also
//!   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). Sign your
//!   mail with DKIM (at your relay) covering both headers.
//! - **Errors.** Invalid addresses are `InvalidTarget` without any SMTP traffic;
//!   configuration with CR/LF (header injection) is refused in `build()`; SMTP
//!   4xx replies are transient, 5xx permanent (`550`/`551`/`553`: that
//!   recipient is invalid; `530`/`535`: credentials); timeouts are `Timeout`.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{PoolConfig, SmtpTransport};
use lettre::{Message, Transport};
use minijinja::HtmlEscape;
use sha2::Sha256;

use super::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::audience::Audience;
use crate::render::{Format, Pieces, Plain};

/// The per-step SMTP timeout by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    ImplicitTls,
    StartTls,
    Plaintext,
}

/// Sends e-mail over SMTP. See the [module docs](self).
pub struct EmailChannel {
    transport: SmtpTransport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    domain: String,
    unsubscribe: Unsubscribe,
    subscribers: Vec<Audience>,
    timeout: Duration,
    limits: ChannelLimits,
    describe: String,
}

#[derive(Default)]
struct Unsubscribe {
    url: Option<(String, Vec<u8>)>,
    mailto: Option<String>,
}

impl fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailChannel")
            .field("relay", &self.describe)
            .field("from", &self.from.to_string())
            .field("message_id_domain", &self.domain)
            .field("subscribers", &self.subscribers)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds an [`EmailChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct EmailChannelBuilder {
    host: String,
    security: Security,
    port: Option<u16>,
    credentials: Option<(String, String)>,
    from: Option<String>,
    reply_to: Option<String>,
    domain: Option<String>,
    url: Option<(String, Vec<u8>)>,
    mailto: Option<String>,
    subscribers: Vec<Audience>,
    timeout: Duration,
    max_connections: u32,
    roots: Vec<Vec<u8>>,
    rate: Option<RateLimit>,
}

impl fmt::Debug for EmailChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailChannelBuilder")
            .field("host", &self.host)
            .field("security", &self.security)
            .field("port", &self.port)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// A relay with implicit TLS (port 465 unless set).
    pub fn relay(host: impl Into<String>) -> EmailChannelBuilder {
        EmailChannelBuilder::new(host.into(), Security::ImplicitTls)
    }

    /// A relay that requires STARTTLS (port 587 unless set).
    pub fn starttls_relay(host: impl Into<String>) -> EmailChannelBuilder {
        EmailChannelBuilder::new(host.into(), Security::StartTls)
    }

    /// A relay spoken to in plain text (port 25 unless set): only for a local
    /// relay you trust; messages and credentials travel unencrypted.
    pub fn builder_dangerous(host: impl Into<String>) -> EmailChannelBuilder {
        EmailChannelBuilder::new(host.into(), Security::Plaintext)
    }
}

/// Whether `s` could break out of a header (CR, LF or another control
/// character).
fn unsafe_header(s: &str) -> bool {
    s.chars().any(char::is_control)
}

impl EmailChannelBuilder {
    fn new(host: String, security: Security) -> Self {
        Self {
            host,
            security,
            port: None,
            credentials: None,
            from: None,
            reply_to: None,
            domain: None,
            url: None,
            mailto: None,
            subscribers: vec![Audience::Customers],
            timeout: DEFAULT_TIMEOUT,
            max_connections: 4,
            roots: Vec::new(),
            rate: None,
        }
    }

    /// The port (default: 465, 587 or 25 for the constructor used).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Authenticates with these credentials.
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// The sender, e.g. `Example Status <status@example.com>` (required).
    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// A `Reply-To` address.
    pub fn reply_to(mut self, reply_to: impl Into<String>) -> Self {
        self.reply_to = Some(reply_to.into());
        self
    }

    /// The domain of `Message-ID`s (default: the sender's domain).
    pub fn message_id_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// One-click unsubscribe URL for subscriber audiences: https, with
    /// `{token}` (an HMAC-SHA256 of the recipient address under `key`,
    /// base64url) and optionally `{recipient}` (the address, URL-encoded). Your
    /// service recomputes the token with [`unsubscribe_token`] to check a
    /// request.
    ///
    /// `key` must be at least 16 bytes (32 random bytes are a good choice;
    /// keep it secret, and stable: a new key invalidates every link already
    /// sent); `build()` refuses a shorter one.
    pub fn list_unsubscribe_url(mut self, template: impl Into<String>, key: &[u8]) -> Self {
        self.url = Some((template.into(), key.to_vec()));
        self
    }

    /// A `mailto:` unsubscribe address for subscriber audiences.
    pub fn list_unsubscribe_mailto(mut self, address: impl Into<String>) -> Self {
        self.mailto = Some(address.into());
        self
    }

    /// Which audiences are subscribers and get `List-Unsubscribe` (default:
    /// customers).
    pub fn subscribers(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        self.subscribers = audiences.into_iter().collect();
        self
    }

    /// Timeout of each SMTP step (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Most pooled connections kept open to the relay (default 4).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Trusts this PEM root certificate too (a private CA).
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(pem.into());
        self
    }

    /// Messages for the whole channel: the relay's or provider's sending
    /// limit (default: no limit).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Validates everything and builds the channel.
    pub fn build(self) -> Result<EmailChannel, BuildError> {
        if self.host.trim().is_empty() || unsafe_header(&self.host) || self.host.contains('/') {
            return Err(BuildError::setting(
                "SMTP host",
                "it must be a plain host name",
            ));
        }
        if self.timeout.is_zero() {
            return Err(BuildError::setting(
                "SMTP timeout",
                "it must be greater than zero",
            ));
        }
        if self.max_connections == 0 {
            return Err(BuildError::setting(
                "SMTP max_connections",
                "it must be greater than zero",
            ));
        }
        if let Some((user, password)) = &self.credentials {
            if user.trim().is_empty() || user.chars().any(char::is_control) {
                return Err(BuildError::credential(
                    "SMTP user name",
                    "it is empty or has control characters",
                ));
            }
            if password.is_empty() || password.chars().any(char::is_control) {
                return Err(BuildError::credential(
                    "SMTP password",
                    "it is empty or has control characters",
                ));
            }
        }
        let mailbox = |what: &str, s: &str| -> Result<Mailbox, BuildError> {
            let setting = format!("e-mail {what}");
            if unsafe_header(s) {
                return Err(BuildError::setting(
                    setting,
                    "it contains CR, LF or control characters",
                ));
            }
            s.parse::<Mailbox>()
                .map_err(|e| BuildError::setting(setting, format!("not a valid mailbox: {e}")))
        };
        let from = mailbox(
            "from",
            self.from
                .as_deref()
                .ok_or_else(|| BuildError::setting("e-mail from", "it is required"))?,
        )?;
        let reply_to = self
            .reply_to
            .as_deref()
            .map(|r| mailbox("reply_to", r))
            .transpose()?;
        let domain = match self.domain {
            Some(d) => d,
            None => from.email.domain().to_owned(),
        };
        if domain.is_empty() || unsafe_header(&domain) || domain.contains(['<', '>', '@', ' ']) {
            return Err(BuildError::setting(
                "e-mail message_id_domain",
                "it is not a plain domain",
            ));
        }
        if let Some((template, key)) = &self.url {
            let field = "e-mail list_unsubscribe_url";
            let check =
                url::Url::parse(&template.replace("{token}", "t").replace("{recipient}", "r"));
            if unsafe_header(template)
                || template.contains(['<', '>', ','])
                || !template.contains("{token}")
            {
                return Err(BuildError::url(
                    field,
                    "it must contain {token} and no <, >, comma or control characters",
                ));
            }
            if !matches!(check, Ok(u) if u.scheme() == "https") {
                return Err(BuildError::url(
                    field,
                    "a one-click unsubscribe URL must be https (RFC 8058)",
                ));
            }
            if key.len() < 16 {
                return Err(BuildError::credential(
                    "e-mail unsubscribe key",
                    "it must be at least 16 bytes",
                ));
            }
        }
        if let Some(m) = &self.mailto {
            mailbox("list_unsubscribe_mailto", m)?;
        }
        let port = self.port.unwrap_or(match self.security {
            Security::ImplicitTls => 465,
            Security::StartTls => 587,
            Security::Plaintext => 25,
        });
        let tls = match self.security {
            Security::Plaintext => Tls::None,
            security => {
                let mut params = TlsParameters::builder(self.host.clone());
                for pem in &self.roots {
                    let cert = Certificate::from_pem(pem)
                        .map_err(|e| BuildError::setting("SMTP root certificate", e.to_string()))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build()
                    .map_err(|e| BuildError::client(format!("SMTP TLS setup: {e}")))?;
                match security {
                    Security::StartTls => Tls::Required(params),
                    _ => Tls::Wrapper(params),
                }
            }
        };
        let mut transport = SmtpTransport::builder_dangerous(self.host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(self.timeout))
            .pool_config(PoolConfig::new().max_size(self.max_connections));
        if let Some((user, password)) = self.credentials {
            transport = transport.credentials(Credentials::new(user, password));
        }
        let mut limits = ChannelLimits::new().threaded();
        limits.rate = self.rate;
        Ok(EmailChannel {
            transport: transport.build(),
            from,
            reply_to,
            domain,
            unsubscribe: Unsubscribe {
                url: self.url,
                mailto: self.mailto,
            },
            subscribers: self.subscribers,
            timeout: self.timeout,
            limits,
            describe: format!("{}:{port} ({:?})", self.host, self.security),
        })
    }
}

/// The HMAC token of a recipient for the unsubscribe URL: base64url (no
/// padding) of HMAC-SHA256(key, address), first 16 bytes.
pub fn unsubscribe_token(key: &[u8], recipient: &str) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(recipient.as_bytes());
            let tag = mac.finalize().into_bytes();
            URL_SAFE_NO_PAD.encode(&tag[..16])
        }
        // HMAC takes keys of any length; an empty token fails closed.
        Err(_) => String::new(),
    }
}

/// How [`EmailChannel`] lays a message out: its [`layout`](Format::layout)
/// is the `text/plain` part (the plain layout: title, body, next-update
/// line, link), and [`html`](Self::html) the `text/html` part, from the
/// same pieces.
///
/// ```
/// use tidings::channel::email::EmailFormat;
/// use tidings::render::{Format, Pieces};
///
/// let pieces = Pieces {
///     title: "[Identified] <API> errors",
///     body: "Fixed soon & more.",
///     part: None,
///     next_update: Some("Next update by 14:30 UTC."),
///     link: "https://status.example.com/i/1",
/// };
/// assert_eq!(
///     EmailFormat.layout(&pieces),
///     "[Identified] <API> errors\n\nFixed soon & more.\n\nNext update by 14:30 UTC.\nhttps://status.example.com/i/1"
/// );
/// let html = EmailFormat.html(&pieces);
/// assert!(html.contains("<p>Fixed soon &amp; more.</p>\n<p>Next update by 14:30 UTC.</p>"));
/// assert!(html.contains("&lt;API&gt;") && !html.contains("<API>"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailFormat;

impl Format for EmailFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        Plain.layout(pieces)
    }
}

impl EmailFormat {
    /// The HTML part: the title as the document's title and heading, the
    /// body's paragraphs (with its part marker, if any) and the next-update
    /// line as paragraphs, every user string escaped, the link as a link, no
    /// external assets.
    pub fn html(&self, pieces: &Pieces<'_>) -> String {
        // Everything after the title, as in the plain part.
        let text = Pieces {
            title: "",
            ..*pieces
        }
        .text_before_link();
        let title = HtmlEscape(pieces.title).to_string();
        let mut out = String::with_capacity(text.len() * 2 + 512);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>");
        out.push_str(&title);
        out.push_str("</title></head>\n<body style=\"font-family:system-ui,sans-serif;color:#1a1a1a;line-height:1.5;max-width:40em\">\n<h1 style=\"font-size:1.25em\">");
        out.push_str(&title);
        out.push_str("</h1>\n");
        for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            out.push_str("<p>");
            let lines: Vec<String> = paragraph
                .lines()
                .map(|l| HtmlEscape(l).to_string())
                .collect();
            out.push_str(&lines.join("<br>\n"));
            out.push_str("</p>\n");
        }
        out.push_str("<p><a href=\"");
        out.push_str(&HtmlEscape(pieces.link).to_string());
        out.push_str("\" style=\"color:#0b57d0\">View the status page</a></p>\n</body></html>\n");
        out
    }
}

/// Maps an SMTP error: 4xx transient, 5xx permanent (some per recipient).
fn map_smtp_error(
    err: &lettre::transport::smtp::Error,
    target: &str,
    timeout: Duration,
) -> ChannelError {
    if err.is_timeout() || timed_out(err) {
        return ChannelError::Timeout { after: timeout };
    }
    let code = err.status().map(u16::from);
    let reason = |what: &str| match code {
        Some(c) => format!("SMTP {c}: {what}"),
        None => what.to_owned(),
    };
    if err.is_transient() {
        // 4xx: "try again later" (greylisting, mailbox busy, server busy).
        return ChannelError::Transient {
            reason: reason("the server asked to try again later"),
            status: code,
            retry_after: None,
        };
    }
    if err.is_permanent() {
        return match code {
            // 550 mailbox unavailable, 551 not local, 553 name not allowed:
            // this recipient, not the message.
            Some(550 | 551 | 553) => ChannelError::InvalidTarget {
                target: target.to_owned(),
                reason: reason("the server refused this recipient"),
            },
            // 530 authentication required, 535 credentials invalid.
            Some(530 | 534 | 535) => ChannelError::Config {
                reason: reason("the server refused our credentials"),
            },
            _ => ChannelError::Rejected {
                reason: reason("the server refused the message"),
                status: code,
            },
        };
    }
    if err.is_tls() {
        return ChannelError::Config {
            reason: "TLS with the SMTP server failed; check the host, port and certificates".into(),
        };
    }
    ChannelError::transient("connection to the SMTP server failed")
}

/// Whether a socket read or write timed out (lettre reports those as network
/// errors wrapping the I/O error).
fn timed_out(err: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        source = e.source();
    }
    false
}

impl EmailChannel {
    fn list_unsubscribe(&self, recipient: &str) -> Option<(String, bool)> {
        let mut uris = Vec::new();
        let mut one_click = false;
        if let Some((template, key)) = &self.unsubscribe.url {
            let encoded: String =
                url::form_urlencoded::byte_serialize(recipient.as_bytes()).collect();
            uris.push(format!(
                "<{}>",
                template
                    .replace("{recipient}", &encoded)
                    .replace("{token}", &unsubscribe_token(key, recipient))
            ));
            one_click = true;
        }
        if let Some(mailto) = &self.unsubscribe.mailto {
            uris.push(format!("<mailto:{mailto}?subject=unsubscribe>"));
        }
        (!uris.is_empty()).then(|| (uris.join(", "), one_click))
    }

    /// Builds the message for a delivery: the plain part is its text, as it
    /// is; the HTML part [`EmailFormat::html`] of its fitted pieces.
    fn message(&self, delivery: &Delivery) -> Result<(Message, String), ChannelError> {
        let recipient = delivery.target.as_str();
        let to: Mailbox = recipient.parse().map_err(|e| ChannelError::InvalidTarget {
            target: recipient.to_owned(),
            reason: format!("not an e-mail address: {e}"),
        })?;
        let subject = delivery.message.title.as_str();
        if unsafe_header(subject) {
            return Err(ChannelError::Rejected {
                reason: "the subject contains CR, LF or control characters".into(),
                status: None,
            });
        }
        let message_id = format!("<{}@{}>", delivery.key, self.domain);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .date(SystemTime::now());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(thread) = &delivery.thread {
            let root = thread.root.as_str();
            builder = builder
                .in_reply_to(root.to_owned())
                .references(root.to_owned());
        }
        if self.subscribers.contains(&delivery.audience)
            && let Some((value, one_click)) = self.list_unsubscribe(recipient)
        {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                value,
            ));
            if one_click {
                builder = builder.raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
            }
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                delivery.text.to_string(),
                EmailFormat.html(&delivery.fitted.pieces()),
            ))
            .map_err(|e| ChannelError::Rejected {
                reason: format!("cannot build the e-mail: {e}"),
                status: None,
            })?;
        Ok((message, message_id))
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("email")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &EmailFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let (message, message_id) = self.message(delivery)?;
        let transport = self.transport.clone();
        // Bounded by the socket timeouts of every step, so the blocking task
        // always ends; if this future is dropped, it still finishes cleanly
        // and its pooled connection stays in a consistent state.
        let response = tokio::task::spawn_blocking(move || transport.send(&message))
            .await
            .map_err(|_| ChannelError::transient("the SMTP send task failed"))?
            .map_err(|e| map_smtp_error(&e, delivery.target.as_str(), self.timeout))?;
        Ok(Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(message_id))
            .with_status(u16::from(response.code())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_refuses_header_injection_and_bad_settings() {
        let base =
            || EmailChannel::builder_dangerous("127.0.0.1").from("Status <status@example.com>");
        base().build().unwrap();
        let setting = |b: EmailChannelBuilder| match b.build() {
            Err(BuildError::InvalidSetting { setting, .. }) => setting,
            other => panic!("expected an invalid setting, got {other:?}"),
        };
        assert_eq!(
            setting(EmailChannel::builder_dangerous("127.0.0.1")),
            "e-mail from",
            "from is required"
        );
        assert_eq!(
            setting(base().from("status@example.com\r\nBcc: all@example.com")),
            "e-mail from"
        );
        assert_eq!(
            setting(base().reply_to("x@example.com\nBcc: y@example.com")),
            "e-mail reply_to"
        );
        assert_eq!(
            setting(base().message_id_domain("a\r\nb")),
            "e-mail message_id_domain"
        );
        assert_eq!(
            setting(base().list_unsubscribe_mailto("not an address")),
            "e-mail list_unsubscribe_mailto"
        );
        assert_eq!(
            setting(EmailChannel::builder_dangerous("smtp.example.com/x").from("a@b.example")),
            "SMTP host"
        );
        assert_eq!(setting(base().timeout(Duration::ZERO)), "SMTP timeout");
        assert_eq!(setting(base().max_connections(0)), "SMTP max_connections");
        for (bad, why) in [
            (
                base().list_unsubscribe_url("http://x.example/u?t={token}", &[7; 32]),
                "https only",
            ),
            (
                base().list_unsubscribe_url("https://x.example/u", &[7; 32]),
                "needs a token",
            ),
        ] {
            assert!(
                matches!(bad.build(), Err(BuildError::InvalidUrl { .. })),
                "{why}"
            );
        }
        let credential = |b: EmailChannelBuilder| match b.build() {
            Err(e @ BuildError::InvalidCredential { .. }) => e,
            other => panic!("expected an invalid credential, got {other:?}"),
        };
        credential(base().list_unsubscribe_url("https://x.example/u?t={token}", &[7; 8]));
        let e = credential(base().credentials("user", ""));
        assert_eq!(
            e.to_string(),
            "invalid SMTP password: it is empty or has control characters"
        );
        let e = credential(base().credentials(" ", "hunter2"));
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let dbg = format!("{:?}", base().credentials("user", "hunter2"));
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn tokens_are_stable_and_keyed() {
        let a = unsubscribe_token(b"0123456789abcdef", "a@example.com");
        assert_eq!(a, unsubscribe_token(b"0123456789abcdef", "a@example.com"));
        assert_ne!(a, unsubscribe_token(b"0123456789abcdeX", "a@example.com"));
        assert_ne!(a, unsubscribe_token(b"0123456789abcdef", "b@example.com"));
        assert_eq!(a.len(), 22);
    }

    #[test]
    fn html_escapes_everything_the_user_wrote() {
        let h = EmailFormat.html(&Pieces {
            title: "[Investigating] <b>x</b>",
            body: "a & b\n<script>alert(1)</script>\n\n\"quoted\"",
            part: None,
            next_update: None,
            link: "https://s.example/i?a=1&b=2",
        });
        assert!(h.contains("&lt;script&gt;") && !h.contains("<script>"));
        assert!(
            h.contains(
                "<h1 style=\"font-size:1.25em\">[Investigating] &lt;b&gt;x&lt;&#x2f;b&gt;</h1>"
            ) || h.contains("&lt;b&gt;x&lt;/b&gt;"),
            "{h}"
        );
        assert!(
            h.contains("href=\"https:&#x2f;&#x2f;s.example&#x2f;i?a=1&amp;b=2\"")
                || h.contains("href=\"https://s.example/i?a=1&amp;b=2\""),
            "{h}"
        );
    }

    #[test]
    fn html_has_the_pieces_as_paragraphs() {
        let h = EmailFormat.html(&Pieces {
            title: "[Identified] API errors",
            body: "First.\nSecond line.\n\nThird.",
            part: Some((1, 2)),
            next_update: Some("Next update by 14:30 UTC."),
            link: "https://s.example/i",
        });
        assert!(
            h.contains(
                "</h1>\n<p>First.<br>\nSecond line.</p>\n<p>Third. (1&#x2f;2)</p>\n<p>Next update by 14:30 UTC.</p>\n<p><a href="
            ) || h.contains(
                "</h1>\n<p>First.<br>\nSecond line.</p>\n<p>Third. (1/2)</p>\n<p>Next update by 14:30 UTC.</p>\n<p><a href="
            ),
            "{h}"
        );
        assert!(
            !h.contains("[Identified] API errors</p>"),
            "the title is the heading only"
        );
    }
}

//! Every channel builder refuses what it cannot use in `build()`, with a
//! `BuildError` that names the field and never shows a secret; HTTP options
//! are checked by every HTTP channel the same way.
#![cfg(all(
    feature = "webhook",
    feature = "chat",
    feature = "email",
    feature = "sms",
    feature = "social",
    feature = "status-page",
    feature = "statuspage-io"
))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Debug;
use std::time::Duration;

use tidings::channel::chat::discord::{DiscordChannel, DiscordWebhook};
use tidings::channel::chat::google_chat::GoogleChatChannel;
use tidings::channel::chat::mattermost::MattermostChannel;
use tidings::channel::chat::slack::SlackChannel;
use tidings::channel::chat::teams::TeamsChannel;
use tidings::channel::email::EmailChannel;
use tidings::channel::sms::twilio::TwilioChannel;
use tidings::channel::social::bluesky::BlueskyChannel;
use tidings::channel::social::mastodon::MastodonChannel;
use tidings::channel::social::x::XChannel;
use tidings::channel::status_page::StaticStatusPage;
use tidings::channel::status_page::statuspage_io::StatuspageIoChannel;
use tidings::channel::webhook::WebhookChannel;
use tidings::channel::{BuildError, HttpOptions};

/// What every secret in these tests contains.
const SECRET: &str = "SECRET";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SID: &str = "AC0123456789abcdef0123456789abcdef";

/// The error of a build that must fail, checked for secrets.
fn refused<T: Debug>(built: Result<T, BuildError>) -> BuildError {
    let err = built.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    let converted = tidings::Error::from(err.clone());
    assert!(matches!(converted, tidings::Error::Build(_)));
    assert_eq!(converted.to_string(), err.to_string());
    err
}

fn invalid_url(err: BuildError, expected: &str) {
    match &err {
        BuildError::InvalidUrl { field, .. } => assert_eq!(field, expected, "{err}"),
        other => panic!("expected an invalid URL ({expected}), got {other:?}"),
    }
}

fn invalid_credential(err: BuildError, expected: &str) {
    match &err {
        BuildError::InvalidCredential { credential, .. } => {
            assert_eq!(credential, expected, "{err}")
        }
        other => panic!("expected an invalid credential ({expected}), got {other:?}"),
    }
}

fn duplicate(err: BuildError, endpoint: &'static str) {
    assert_eq!(
        err,
        BuildError::DuplicateEndpoint {
            endpoint,
            name: "ops".into()
        }
    );
}

fn bad_http() -> HttpOptions {
    support::install_crypto_provider();
    HttpOptions::new()
        .client(reqwest::Client::new())
        .proxy(format!("http://u:{SECRET}@proxy.internal:3128"))
}

fn http_refused(err: BuildError) {
    assert!(
        matches!(&err, BuildError::InvalidSetting { setting, .. } if setting == "HTTP options"),
        "{err:?}"
    );
}

const HOOK: &str = "https://hooks.example.com/SECRET/path";
const PLAIN_HOOK: &str = "http://hooks.example.com/SECRET/path";

#[test]
fn chat_webhooks_refuse_bad_urls_repeated_or_blank_names_and_none() {
    // Slack (incoming webhooks), Teams, Google Chat: plain URLs.
    invalid_url(
        refused(
            SlackChannel::incoming_webhooks()
                .webhook("ops", PLAIN_HOOK)
                .build(),
        ),
        r#"Slack webhook "ops""#,
    );
    duplicate(
        refused(
            SlackChannel::incoming_webhooks()
                .webhook("ops", HOOK)
                .webhook("ops", HOOK)
                .build(),
        ),
        "Slack webhook",
    );
    invalid_url(
        refused(TeamsChannel::builder().webhook("ops", PLAIN_HOOK).build()),
        r#"Teams webhook "ops""#,
    );
    duplicate(
        refused(
            TeamsChannel::builder()
                .webhook("ops", HOOK)
                .webhook("ops", HOOK)
                .build(),
        ),
        "Teams webhook",
    );
    invalid_url(
        refused(
            GoogleChatChannel::builder()
                .webhook("ops", PLAIN_HOOK)
                .build(),
        ),
        r#"Google Chat webhook "ops""#,
    );
    duplicate(
        refused(
            GoogleChatChannel::builder()
                .webhook("ops", HOOK)
                .webhook("ops", HOOK)
                .build(),
        ),
        "Google Chat webhook",
    );
    // Discord and Mattermost: URLs or webhooks with options.
    invalid_url(
        refused(
            DiscordChannel::builder()
                .webhook("ops", DiscordWebhook::new(PLAIN_HOOK))
                .build(),
        ),
        r#"Discord webhook "ops""#,
    );
    duplicate(
        refused(
            DiscordChannel::builder()
                .webhook("ops", HOOK)
                .webhook("ops", HOOK)
                .build(),
        ),
        "Discord webhook",
    );
    invalid_url(
        refused(
            MattermostChannel::builder()
                .webhook("ops", PLAIN_HOOK)
                .build(),
        ),
        r#"Mattermost webhook "ops""#,
    );
    duplicate(
        refused(
            MattermostChannel::builder()
                .webhook("ops", HOOK)
                .webhook("ops", HOOK)
                .build(),
        ),
        "Mattermost webhook",
    );
    // None at all, or a blank name.
    assert_eq!(
        refused(DiscordChannel::builder().build()),
        BuildError::NoEndpoint {
            endpoint: "Discord webhook"
        }
    );
    assert_eq!(
        refused(MattermostChannel::builder().webhook(" ", HOOK).build()),
        BuildError::EmptyEndpointName {
            endpoint: "Mattermost webhook"
        }
    );
    assert_eq!(
        refused(TeamsChannel::builder().build()),
        BuildError::NoEndpoint {
            endpoint: "Teams webhook"
        }
    );
    assert_eq!(
        refused(GoogleChatChannel::builder().webhook("", HOOK).build()),
        BuildError::EmptyEndpointName {
            endpoint: "Google Chat webhook"
        }
    );
}

#[test]
fn the_signed_webhook_refuses_bad_urls_secrets_and_repeated_names() {
    invalid_url(
        refused(
            WebhookChannel::builder()
                .endpoint("ops", PLAIN_HOOK, WHSEC)
                .build(),
        ),
        r#"webhook endpoint "ops""#,
    );
    invalid_credential(
        refused(
            WebhookChannel::builder()
                .endpoint("ops", HOOK, "whsec_SECRET")
                .build(),
        ),
        r#"webhook endpoint "ops" secret"#,
    );
    invalid_credential(
        refused(WebhookChannel::builder().endpoint("ops", HOOK, "").build()),
        r#"webhook endpoint "ops" secret"#,
    );
    duplicate(
        refused(
            WebhookChannel::builder()
                .endpoint("ops", HOOK, WHSEC)
                .endpoint("ops", HOOK, WHSEC)
                .build(),
        ),
        "webhook endpoint",
    );
    assert_eq!(
        refused(WebhookChannel::builder().build()),
        BuildError::NoEndpoint {
            endpoint: "webhook endpoint"
        }
    );
}

#[test]
fn api_channels_refuse_empty_credentials_and_bad_base_urls() {
    invalid_credential(refused(SlackChannel::web_api("").build()), "Slack token");
    invalid_url(
        refused(
            SlackChannel::web_api("xoxb-SECRET")
                .base_url("http://slack.example.com/api/")
                .build(),
        ),
        "Slack base URL",
    );

    let twilio = || TwilioChannel::with_auth_token(SID, "SECRET-token").from("+14155550100");
    invalid_credential(
        refused(
            TwilioChannel::with_auth_token(SID, "")
                .from("+14155550100")
                .build(),
        ),
        "Twilio auth token or API key secret",
    );
    invalid_credential(
        refused(
            TwilioChannel::with_auth_token("AC-not-a-sid", "SECRET-token")
                .from("+14155550100")
                .build(),
        ),
        "Twilio Account SID",
    );
    invalid_url(
        refused(twilio().base_url("ftp://api.twilio.com").build()),
        "Twilio base URL",
    );
    invalid_url(
        refused(
            twilio()
                .status_callback("http://hooks.example.com/SECRET")
                .build(),
        ),
        "Twilio status callback URL",
    );

    invalid_credential(
        refused(StatuspageIoChannel::builder("", "kctbh9vrtdwd").build()),
        "Statuspage API key",
    );
    invalid_url(
        refused(
            StatuspageIoChannel::builder("SECRET-key", "kctbh9vrtdwd")
                .base_url("not a url")
                .build(),
        ),
        "Statuspage base URL",
    );

    invalid_credential(
        refused(BlueskyChannel::builder("status.example.com", "").build()),
        "Bluesky app password",
    );
    invalid_url(
        refused(
            BlueskyChannel::builder("status.example.com", "SECRET-pw")
                .base_url("http://pds.example.com")
                .build(),
        ),
        "Bluesky base URL (PDS)",
    );

    invalid_credential(
        refused(MastodonChannel::builder("https://mastodon.example", "").build()),
        "Mastodon access token",
    );
    invalid_url(
        refused(MastodonChannel::builder("mastodon.example", "SECRET-token").build()),
        "Mastodon instance URL",
    );

    invalid_credential(refused(XChannel::builder("").build()), "X access token");
    invalid_url(
        refused(
            XChannel::builder("SECRET-token")
                .base_url("https://api.x.com/?SECRET")
                .build(),
        ),
        "X base URL",
    );

    invalid_credential(
        refused(
            EmailChannel::relay("smtp.example.com")
                .from("status@example.com")
                .credentials("status", "")
                .build(),
        ),
        "SMTP password",
    );
    let dir = tempfile::tempdir().unwrap();
    invalid_url(
        refused(StaticStatusPage::builder(dir.path(), "ftp://status.example.com/").build()),
        "status page base URL",
    );
}

#[test]
fn every_http_channel_checks_its_http_options() {
    http_refused(refused(
        SlackChannel::web_api("xoxb-SECRET")
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        DiscordChannel::builder()
            .webhook("ops", HOOK)
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        MattermostChannel::builder()
            .webhook("ops", HOOK)
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        TeamsChannel::builder()
            .webhook("ops", HOOK)
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        GoogleChatChannel::builder()
            .webhook("ops", HOOK)
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        WebhookChannel::builder()
            .endpoint("ops", HOOK, WHSEC)
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        TwilioChannel::with_auth_token(SID, "SECRET-token")
            .from("+14155550100")
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        StatuspageIoChannel::builder("SECRET-key", "kctbh9vrtdwd")
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        BlueskyChannel::builder("status.example.com", "SECRET-pw")
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        MastodonChannel::builder("https://mastodon.example", "SECRET-token")
            .http(bad_http())
            .build(),
    ));
    http_refused(refused(
        XChannel::builder("SECRET-token").http(bad_http()).build(),
    ));
    // A zero timeout, through one of them.
    let err = refused(
        XChannel::builder("SECRET-token")
            .http(HttpOptions::new().timeout(Duration::ZERO))
            .build(),
    );
    assert_eq!(
        err.to_string(),
        "invalid HTTP timeout: it must be greater than zero"
    );
}

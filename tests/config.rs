//! The configuration file: the example in `examples/` loads, every kind of
//! mistake is an error naming its key and line, and a file drives a real
//! publish (a static status page, a signed webhook to a loopback server).

#![cfg(all(feature = "config", feature = "full", feature = "journal-sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use tidings::config::{Config, ConfigFileError};
use tidings::prelude::*;
use tidings::render::Overflow;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const EXAMPLE: &str = include_str!("../examples/tidings.toml");

#[test]
fn the_example_loads_as_documented() {
    let config = Config::from_toml("examples/tidings.toml", EXAMPLE).unwrap();
    assert_eq!(config.primary(), "status-page");
    let channels: Vec<_> = config.channels().collect();
    assert!(channels.contains(&("sms", "twilio")), "{channels:?}");
    assert!(
        channels.contains(&("all-hands", "google-chat")),
        "{channels:?}"
    );
    assert_eq!(channels.len(), 8);
    let audiences = config.audiences();
    assert_eq!(audiences.len(), 4);
    let core = &audiences[0];
    assert_eq!(core.audience(), &Audience::CoreResponders);
    assert_eq!(core.detail_level(), Detail::Internal);
    assert_eq!(core.longest_silence(), Duration::from_secs(20 * 60));
    assert_eq!(core.first_message_target(), Duration::from_secs(5 * 60));
    let customers = &audiences[3];
    assert_eq!(customers.time_zone(), chrono_tz::Europe::Berlin);
    assert!(customers.sends_holding_statements());
    assert_eq!(customers.routes().len(), 4);
    assert_eq!(customers.routes()[1].overflow_policy(), Overflow::split(2));
    assert_eq!(customers.component_scope().unwrap().len(), 2);
}

#[tokio::test]
async fn a_secret_that_is_not_set_is_named_with_its_key_and_line() {
    let config = Config::from_toml("examples/tidings.toml", EXAMPLE).unwrap();
    let journal = std::sync::Arc::new(tidings::journal::MemoryJournal::new());
    let err = config.dispatcher_with(journal).unwrap_err().to_string();
    // Channels are built in the order of their names: "all-hands" first.
    let line = EXAMPLE
        .lines()
        .position(|l| l == "[channels.all-hands]")
        .unwrap()
        + 1;
    assert!(
        err.starts_with(&format!("examples/tidings.toml:{line}:")),
        "{err}"
    );
    assert!(
        err.contains("channels.all-hands: webhooks.all-hands: the environment variable GOOGLE_CHAT_WEBHOOK is not set"),
        "{err}"
    );
}

/// A small valid file, with `extra` appended.
fn file(extra: &str) -> String {
    format!(
        r#"primary = "page"
canonical_url = "https://status.example.com/incidents/{{id}}"
[journal]
kind = "memory"
[channels.page]
provider = "webhook"
endpoints = [{{ name = "page", url = "https://page.example.com/", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }}]
[channels.hooks]
provider = "webhook"
endpoints = [{{ name = "ops", url = "https://ops.example.com/", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }}]
{extra}"#
    )
}

fn invalid(text: &str) -> (String, Option<usize>, String) {
    match Config::from_toml("t.toml", text) {
        Err(ConfigFileError::Invalid {
            key, line, message, ..
        }) => (key, line, message),
        other => panic!("expected an invalid file, got {other:?}"),
    }
}

#[test]
fn mistakes_are_errors_that_name_the_key_and_the_line() {
    // A typo in a key: refused, not ignored.
    let (key, line, message) = invalid(&file(
        "[[audiences]]\naudience = \"customers\"\nlongest_silense = \"30m\"\nroutes = []\n",
    ));
    assert_eq!(
        (key.as_str(), line),
        ("audiences.longest_silense", Some(13)),
        "{message}"
    );
    assert!(
        message.contains("unknown field `longest_silense`"),
        "{message}"
    );

    // A value of the wrong shape.
    let (key, line, message) = invalid(&file(
        "[[audiences]]\naudience = \"customers\"\nlongest_silence = \"half an hour\"\nroutes = []\n",
    ));
    assert_eq!(
        (key.as_str(), line),
        ("audiences.longest_silence", Some(13))
    );
    assert!(message.contains("\"30s\""), "{message}");

    let (_, _, message) = invalid(&file(
        "[[audiences]]\naudience = \"customers\"\ntime_zone = \"Mars/Olympus\"\nroutes = []\n",
    ));
    assert!(message.contains("IANA time zone"), "{message}");

    // A route to a channel that does not exist, and one to the primary.
    let (key, line, message) = invalid(&file(
        "[[audiences]]\naudience = \"customers\"\nroutes = [{ channel = \"mail\", targets = [\"a@example.com\"] }]\n",
    ));
    assert_eq!((key.as_str(), line), ("audiences[0].routes", Some(11)));
    assert!(
        message.contains("no channel is named \"mail\""),
        "{message}"
    );
    let (_, _, message) = invalid(&file(
        "[[audiences]]\naudience = \"customers\"\nroutes = [{ channel = \"page\", targets = [\"page\"] }]\n",
    ));
    assert!(message.contains("is the primary"), "{message}");

    // Internal detail for customers.
    let (key, _, message) = invalid(&file(
        "[[audiences]]\naudience = \"customers\"\ndetail = \"internal\"\nroutes = [{ channel = \"hooks\", targets = [\"ops\"] }]\n",
    ));
    assert_eq!(key, "audiences[0]");
    assert!(message.contains("internal"), "{message}");

    // A provider that does not exist, and a channel key it does not have.
    let (key, line, message) = invalid(&file("[channels.pager]\nprovider = \"carrier-pigeon\"\n"));
    assert_eq!((key.as_str(), line), ("channels.pager", Some(11)));
    assert!(message.contains("carrier-pigeon"), "{message}");
    let (key, _, message) = invalid(&file(
        "[channels.pager]\nprovider = \"slack\"\ntoken = \"xoxb-1\"\nchannel = \"#inc\"\n",
    ));
    assert_eq!(key, "channels.pager");
    assert!(message.contains("unknown field `channel`"), "{message}");

    // The primary must be a channel.
    let text = file("").replace("primary = \"page\"", "primary = \"statuspage\"");
    let (key, line, message) = invalid(&text);
    assert_eq!((key.as_str(), line), ("primary", Some(1)));
    assert!(message.contains("[channels.statuspage]"), "{message}");

    // A syntax error.
    let (_, line, _) = invalid(&file("[[audiences]\n"));
    assert_eq!(line, Some(11));
}

#[tokio::test]
async fn a_canonical_url_that_is_not_the_status_page_s_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"primary = "page"
canonical_url = "https://status.example.com/incident/{{id}}"
[journal]
kind = "memory"
[channels.page]
provider = "status-page"
dir = "{}"
base_url = "https://status.example.com/"
"#,
        dir.path().join("site").display()
    );
    let config = Config::from_toml("t.toml", &text).unwrap();
    let err = config.dispatcher().await.unwrap_err().to_string();
    assert!(err.starts_with("t.toml:2:17: canonical_url:"), "{err}");
    assert!(
        err.contains("\"https://status.example.com/incidents/{id}.html\""),
        "{err}"
    );
    // Left out, it is the page's own.
    let config = Config::from_toml(
        "t.toml",
        &text.replace(
            "canonical_url = \"https://status.example.com/incident/{id}\"\n",
            "",
        ),
    )
    .unwrap();
    config.dispatcher().await.unwrap();
}

#[tokio::test]
async fn a_file_drives_a_publish_with_secrets_read_from_files() {
    support::install_crypto_provider();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .and(header_exists("webhook-signature"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap();
    let text = format!(
        r#"primary = "page"
[journal]
kind = "sqlite"
path = "{journal}"
[dispatch]
primary_deadline = "2s"
[channels.page]
provider = "status-page"
dir = "{site}"
base_url = "https://status.example.com/"
components = [{{ id = "api", name = "API" }}]
[channels.hooks]
provider = "webhook"
allow_http = true
timeout = "5s"
rate = "100/s"
endpoints = [{{ name = "ops", url = "{url}/hooks", secret = {{ file = "{secret}" }} }}]
[[audiences]]
audience = "core_responders"
routes = [{{ channel = "hooks", targets = ["ops"] }}]
"#,
        journal = dir.path().join("j.db").display(),
        site = dir.path().join("site").display(),
        url = server.uri(),
        secret = secret.display(),
    );
    let config = Config::from_toml("t.toml", &text).unwrap();
    let dispatcher = config.dispatcher().await.unwrap();
    let (incident, first) = support::incident();
    let report = dispatcher.publish(&incident, &first).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(
        report.link.as_str(),
        "https://status.example.com/incidents/inc-7.html"
    );
    assert!(
        dir.path()
            .join("site/current/incidents/inc-7.html")
            .exists()
    );
}

#[tokio::test]
async fn incident_record_channels_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let head = format!(
        "primary = \"page\"\n[journal]\nkind = \"memory\"\n[channels.page]\nprovider = \"status-page\"\ndir = \"{}\"\nbase_url = \"https://status.example.com/\"\n",
        dir.path().join("site").display()
    );
    let records = r#"[channels.pagerduty]
provider = "pagerduty"
integrations = { payments = "R0123456789abcdefABCDEF012345678" }
acknowledge_when_identified = true
source = "status.example.com"
[channels.jsm]
provider = "jsm"
integrations = { payments = "eb243592-faa2-4ba2-a551-1afdf565c889" }
[channels.opsgenie]
provider = "opsgenie"
base_url = "https://api.eu.opsgenie.com"
integrations = { payments = "eb243592-faa2-4ba2-a551-1afdf565c889" }
[channels.wiki]
provider = "confluence"
site = "https://acme.atlassian.net"
email = "sre-bot@acme.example"
api_token = "ATATT3xFfGF0-token"
spaces = { postmortems = { key = "OPS", parent_page = "131073" } }
[[audiences]]
audience = "core_responders"
routes = [
    { channel = "pagerduty", targets = ["payments"] },
    { channel = "jsm", targets = ["payments"] },
    { channel = "opsgenie", targets = ["payments"] },
    { channel = "wiki", targets = ["postmortems"] },
]
"#;
    let text = format!("{head}{records}");
    let journal = || std::sync::Arc::new(tidings::journal::MemoryJournal::new());
    let config = Config::from_toml("t.toml", &text).unwrap();
    config.dispatcher_with(journal()).unwrap();
    // A malformed key is refused, named by its table and setting, never quoted.
    let bad = text.replace("R0123456789abcdefABCDEF012345678", "R0-not-a-key");
    let err = Config::from_toml("t.toml", &bad)
        .unwrap()
        .dispatcher_with(journal())
        .unwrap_err()
        .to_string();
    assert!(err.contains("channels.pagerduty"), "{err}");
    assert!(err.contains("routing key"), "{err}");
    assert!(!err.contains("R0-not-a-key"), "{err}");
}

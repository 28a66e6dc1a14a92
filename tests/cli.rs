//! The `tidings` command line, run as a process against a static status
//! page in a temporary folder, a SQLite journal, and a signed webhook to a
//! loopback server: check, open → status → update → resolve → review →
//! page, a failed delivery's exit code, a webhook signature checked, and a
//! bad file's error.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn tidings(config: &Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TIDINGS_TEST_SECRET", SECRET)
        .env_remove("TIDINGS_CONFIG")
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn write_config(dir: &Path, hook: &str) -> std::path::PathBuf {
    let text = format!(
        r#"primary = "page"
[journal]
kind = "sqlite"
path = "{journal}"
[channels.page]
provider = "status-page"
dir = "{site}"
base_url = "https://status.example.com/"
components = [{{ id = "api", name = "API" }}]
[channels.hooks]
provider = "webhook"
allow_http = true
endpoints = [{{ name = "ops", url = "{hook}", secret = {{ env = "TIDINGS_TEST_SECRET" }} }}]
[[audiences]]
audience = "core_responders"
time_zone = "Asia/Tokyo"
routes = [{{ channel = "hooks", targets = ["ops"] }}]
"#,
        journal = dir.join("journal.db").display(),
        site = dir.join("site").display(),
    );
    let path = dir.join("tidings.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn open_update_resolve_from_the_command_line() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("{}/hooks", server.uri()));

    let run = tidings(&config, &["check"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("core_responders"), "{}", run.stdout);
    assert!(run.stdout.contains("→ hooks: ops"), "{}", run.stdout);
    assert!(run.stdout.contains(" JST."), "{}", run.stdout);
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "check sent something"
    );

    let run = tidings(
        &config,
        &[
            "open",
            "--id",
            "inc-1",
            "--title",
            "API errors",
            "--impact",
            "major",
            "--component",
            "api=major_outage",
            "-m",
            "Some API calls fail.",
            "--next-update",
            "20m",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("inc-1 update 1: 1 of 1 messages sent; link https://status.example.com/incidents/inc-1.html"),
        "{}",
        run.stdout
    );
    assert!(
        dir.path()
            .join("site/current/incidents/inc-1.html")
            .exists()
    );

    // Opening it again is refused: its state is in the journal.
    let run = tidings(
        &config,
        &["open", "--id", "inc-1", "--title", "x", "-m", "x"],
    )
    .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("exists already"), "{}", run.stderr);

    let run = tidings(&config, &["--json", "status"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let open = &status["open"][0];
    assert_eq!(open["incident"], "inc-1");
    assert_eq!(open["audiences"][0]["audience"], "core_responders");
    assert_eq!(open["audiences"][0]["overdue"], false);
    assert!(open["audiences"][0]["last_heard"].is_string());

    let run = tidings(
        &config,
        &[
            "update",
            "--id",
            "inc-1",
            "--status",
            "identified",
            "-m",
            "A bad deploy; rolling back.",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = tidings(
        &config,
        &[
            "resolve",
            "--id",
            "inc-1",
            "-m",
            "Fixed.",
            "--component",
            "api=operational",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let run = tidings(&config, &["status"]).await;
    assert_eq!((run.code, run.stdout.trim()), (0, "no open incidents"));

    let out = dir.path().join("review");
    let run = tidings(
        &config,
        &["review", "inc-1", "--out", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let md = std::fs::read_to_string(out.join("review.md")).unwrap();
    assert!(md.contains("API errors"), "{md}");
    assert!(
        std::fs::read_to_string(out.join("review.svg"))
            .unwrap()
            .starts_with("<svg")
    );

    let run = tidings(&config, &["page"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // The receiver's side: the signature of a message checks out, and a
    // tampered body does not.
    let request = &server.received_requests().await.unwrap()[0];
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let body = dir.path().join("body.json");
    std::fs::write(&body, &request.body).unwrap();
    let verify = |body: std::path::PathBuf| {
        let args = [
            "verify-webhook".to_owned(),
            "--id".to_owned(),
            header("webhook-id"),
            "--timestamp".to_owned(),
            header("webhook-timestamp"),
            "--signature".to_owned(),
            header("webhook-signature"),
            "--body".to_owned(),
            body.display().to_string(),
            "--secret".to_owned(),
            SECRET.to_owned(),
        ];
        let config = config.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tidings(&config, &args).await
        }
    };
    let run = verify(body.clone()).await;
    assert_eq!(
        (run.code, run.stdout.trim()),
        (0, "signature valid"),
        "{}",
        run.stderr
    );
    let mut tampered = request.body.clone();
    tampered.push(b' ');
    let bad = dir.path().join("tampered.json");
    std::fs::write(&bad, tampered).unwrap();
    let run = verify(bad).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("signature invalid"), "{}", run.stdout);
}

#[tokio::test]
async fn a_refused_delivery_and_a_bad_file_have_their_exit_codes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("{}/hooks", server.uri()));
    let run = tidings(
        &config,
        &[
            "--json",
            "open",
            "--id",
            "inc-2",
            "--title",
            "API errors",
            "-m",
            "Failing.",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["all_sent"], false);
    assert_eq!(report["deliveries"][0]["outcome"], "failed");

    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replace(
            "time_zone = \"Asia/Tokyo\"",
            "time_zone = \"Asia/Atlantis\"",
        ),
    )
    .unwrap();
    let run = tidings(&config, &["check"]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("tidings.toml:16:13: audiences.time_zone:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("audiences.time_zone"), "{}", run.stderr);
}

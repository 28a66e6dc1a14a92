//! Values a configuration file writes as text: durations, rates, secrets and
//! time zones.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::channel::RateLimit;

/// A secret: written in the file, or (better) named by where to read it.
///
/// ```toml
/// token = "xoxb-…"                       # in the file itself
/// token = { env = "SLACK_TOKEN" }        # from an environment variable
/// token = { file = "/run/secrets/slack" } # from a file (one trailing newline dropped)
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "a string, { env = \"NAME\" } or { file = \"path\" }"
)]
pub enum Secret {
    /// The value itself.
    Value(String),
    /// The name of an environment variable holding it.
    Env {
        /// The variable's name.
        env: String,
    },
    /// A file holding it; one trailing newline is dropped.
    File {
        /// The file's path, relative to the working directory.
        file: PathBuf,
    },
}

/// Never shows a written value.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Value(_) => f.write_str("Secret(<redacted>)"),
            Secret::Env { env } => write!(f, "Secret(env {env})"),
            Secret::File { file } => write!(f, "Secret(file {})", file.display()),
        }
    }
}

impl Secret {
    /// Reads the secret; the error says where it looked, never the value.
    #[cfg_attr(not(feature = "full"), allow(dead_code))]
    pub(crate) fn resolve(&self) -> Result<String, String> {
        match self {
            Secret::Value(v) => Ok(v.clone()),
            Secret::Env { env } => std::env::var(env).map_err(|e| match e {
                std::env::VarError::NotPresent => {
                    format!("the environment variable {env} is not set")
                }
                std::env::VarError::NotUnicode(_) => {
                    format!("the environment variable {env} is not UTF-8")
                }
            }),
            Secret::File { file } => match std::fs::read_to_string(file) {
                Ok(mut v) => {
                    if v.ends_with('\n') {
                        v.pop();
                        if v.ends_with('\r') {
                            v.pop();
                        }
                    }
                    Ok(v)
                }
                Err(e) => Err(format!("cannot read {}: {e}", file.display())),
            },
        }
    }
}

/// A duration written as text: `30s`, `20m`, `1h 30m`, `500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Span(pub(crate) Duration);

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        humantime::parse_duration(&s).map(Span).map_err(|e| {
            format!("{s:?} is not a duration ({e}); write e.g. \"30s\", \"20m\" or \"1h 30m\"")
        })
    }
}

/// A rate written as text: `10/s`, `100/min`, `1/30s`, `5/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Rate(pub(crate) RateLimit);

impl TryFrom<String> for Rate {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let hint = "write a count per duration, e.g. \"10/s\", \"100/min\" or \"1/30s\"";
        let (count, per) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a rate; {hint}"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: {count:?} is not a count; {hint}"))?;
        let per = per.trim();
        let per = match per {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other)
                .map_err(|_| format!("{s:?}: {other:?} is not a duration; {hint}"))?,
        };
        RateLimit::new(count, per)
            .map(Rate)
            .map_err(|e| format!("{s:?}: {e}"))
    }
}

/// A time zone by its IANA name: `Europe/Berlin`, `America/New_York`, `UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Zone(pub(crate) chrono_tz::Tz);

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse::<chrono_tz::Tz>()
            .map(Zone)
            .map_err(|_| format!("{s:?} is not an IANA time zone name (e.g. \"Europe/Berlin\")"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_rates_and_zones_parse_or_say_why_not() {
        assert_eq!(
            Span::try_from("1h 30m".to_owned()).unwrap().0,
            Duration::from_secs(5400)
        );
        assert!(
            Span::try_from("soon".to_owned())
                .unwrap_err()
                .contains("20m")
        );
        let r = Rate::try_from("1/30s".to_owned()).unwrap().0;
        assert_eq!((r.count().get(), r.per()), (1, Duration::from_secs(30)));
        let r = Rate::try_from("100/min".to_owned()).unwrap().0;
        assert_eq!((r.count().get(), r.per()), (100, Duration::from_secs(60)));
        assert!(Rate::try_from("0/s".to_owned()).is_err());
        assert!(
            Rate::try_from("ten/s".to_owned())
                .unwrap_err()
                .contains("not a count")
        );
        assert!(
            Rate::try_from("10".to_owned())
                .unwrap_err()
                .contains("10/s")
        );
        assert_eq!(
            Zone::try_from("Europe/Berlin".to_owned()).unwrap().0,
            chrono_tz::Europe::Berlin
        );
        assert!(Zone::try_from("Mars/Olympus".to_owned()).is_err());
    }

    #[test]
    fn secrets_come_from_the_environment_or_a_file_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        assert_eq!(Secret::File { file: path }.resolve().unwrap(), "from-file");
        let missing = Secret::Env {
            env: "TIDINGS_TEST_SURELY_UNSET_VARIABLE".into(),
        };
        assert!(missing.resolve().unwrap_err().contains("is not set"));
        assert_eq!(
            format!("{:?}", Secret::Value("hunter2".into())),
            "Secret(<redacted>)"
        );
    }
}

//! Endpoints by name, for the providers whose route targets name a configured
//! endpoint (a webhook URL, which holds a secret) rather than an address.

use std::collections::HashMap;
use std::fmt;

use super::ChannelError;
use crate::audience::Target;

/// A provider's named endpoints. Names are checked when built (non-blank, not
/// repeated, at least one); a route target that names none is
/// [`ChannelError::InvalidTarget`]. Errors name the endpoint, never its URL.
pub(crate) struct Named<E> {
    /// `"Discord webhook"`, `"webhook endpoint"`: how errors call one.
    what: &'static str,
    by_name: HashMap<String, E>,
}

impl<E> Named<E> {
    /// Checks every `(name, endpoint)` with `check` (whose error must not
    /// contain the URL) and keeps the checked endpoints by name.
    pub(crate) fn build<C>(
        what: &'static str,
        entries: Vec<(String, C)>,
        mut check: impl FnMut(C) -> Result<E, String>,
    ) -> Result<Self, ChannelError> {
        let config = |reason: String| ChannelError::Config { reason };
        let mut by_name = HashMap::with_capacity(entries.len());
        for (name, endpoint) in entries {
            if name.trim().is_empty() || by_name.contains_key(&name) {
                return Err(config(format!("{what} name {name:?} is empty or repeated")));
            }
            let endpoint = check(endpoint).map_err(|r| config(format!("{what} {name:?}: {r}")))?;
            by_name.insert(name, endpoint);
        }
        if by_name.is_empty() {
            return Err(config(format!("no {what} configured")));
        }
        Ok(Self { what, by_name })
    }

    /// The endpoint `target` names.
    pub(crate) fn get(&self, target: &Target) -> Result<&E, ChannelError> {
        self.by_name
            .get(target.as_str())
            .ok_or_else(|| ChannelError::InvalidTarget {
                target: target.to_string(),
                reason: format!("no {} has this name", self.what),
            })
    }

    /// Every endpoint with its name, sorted by name (for `Debug`).
    pub(crate) fn sorted(&self) -> Vec<(&str, &E)> {
        let mut all: Vec<(&str, &E)> = self.by_name.iter().map(|(n, e)| (n.as_str(), e)).collect();
        all.sort_by_key(|(n, _)| *n);
        all
    }
}

/// The names, sorted; never the endpoints.
impl<E> fmt::Debug for Named<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.sorted().into_iter().map(|(name, _)| name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<String, String> {
        if url.starts_with("https://") {
            Ok(url.to_owned())
        } else {
            Err("not https".into())
        }
    }

    fn entries(list: &[(&str, &str)]) -> Vec<(String, &'static str)> {
        list.iter()
            .map(|(n, u)| {
                (
                    (*n).to_owned(),
                    if u.starts_with("https") {
                        "https://x/SECRET"
                    } else {
                        "http://x/SECRET"
                    },
                )
            })
            .collect()
    }

    #[test]
    fn names_are_checked_and_urls_never_shown() {
        let err = |list: &[(&str, &str)]| match Named::build("Test webhook", entries(list), check) {
            Err(ChannelError::Config { reason }) => reason,
            other => panic!("expected a config error, got {other:?}"),
        };
        assert_eq!(err(&[]), "no Test webhook configured");
        assert_eq!(
            err(&[(" ", "https")]),
            r#"Test webhook name " " is empty or repeated"#
        );
        assert_eq!(
            err(&[("a", "https"), ("a", "https")]),
            r#"Test webhook name "a" is empty or repeated"#
        );
        let reason = err(&[("a", "http")]);
        assert_eq!(reason, r#"Test webhook "a": not https"#);
        assert!(!reason.contains("SECRET"));

        let named = Named::build(
            "Test webhook",
            entries(&[("b", "https"), ("a", "https")]),
            check,
        )
        .unwrap();
        assert_eq!(format!("{named:?}"), r#"["a", "b"]"#);
        assert_eq!(
            named.get(&Target::new("a").unwrap()).unwrap(),
            "https://x/SECRET"
        );
        match named.get(&Target::new("c").unwrap()) {
            Err(ChannelError::InvalidTarget { target, reason }) => {
                assert_eq!(target, "c");
                assert_eq!(reason, "no Test webhook has this name");
            }
            other => panic!("expected InvalidTarget, got {other:?}"),
        }
    }
}

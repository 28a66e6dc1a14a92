//! Endpoints by name, for the providers whose route targets name a configured
//! endpoint (a webhook URL, which holds a secret) rather than an address.

use std::collections::HashMap;
use std::fmt;

use super::{BuildError, ChannelError};
use crate::audience::Target;

/// A provider's named endpoints. Names are checked when built (non-blank, not
/// repeated, at least one: [`BuildError`]); a route target that names none is
/// [`ChannelError::InvalidTarget`]. Errors name the endpoint, never its URL.
pub(crate) struct Named<E> {
    /// `"Discord webhook"`, `"webhook endpoint"`: how errors call one.
    what: &'static str,
    by_name: HashMap<String, E>,
}

impl<E> Named<E> {
    /// Checks every `(name, endpoint)` with `check`, which is given the
    /// endpoint's label for its errors (`Discord webhook "ops"`; its errors
    /// must not contain the URL), and keeps the checked endpoints by name.
    pub(crate) fn build<C>(
        what: &'static str,
        entries: Vec<(String, C)>,
        mut check: impl FnMut(&str, C) -> Result<E, BuildError>,
    ) -> Result<Self, BuildError> {
        let mut by_name = HashMap::with_capacity(entries.len());
        for (name, endpoint) in entries {
            if name.trim().is_empty() {
                return Err(BuildError::EmptyEndpointName { endpoint: what });
            }
            if by_name.contains_key(&name) {
                return Err(BuildError::DuplicateEndpoint {
                    endpoint: what,
                    name,
                });
            }
            let endpoint = check(&format!("{what} {name:?}"), endpoint)?;
            by_name.insert(name, endpoint);
        }
        if by_name.is_empty() {
            return Err(BuildError::NoEndpoint { endpoint: what });
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

    fn check(label: &str, url: &str) -> Result<String, BuildError> {
        if url.starts_with("https://") {
            Ok(url.to_owned())
        } else {
            Err(BuildError::url(label, "not https"))
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
            Err(e) => e,
            Ok(named) => panic!("expected an error, got {named:?}"),
        };
        assert_eq!(
            err(&[]),
            BuildError::NoEndpoint {
                endpoint: "Test webhook"
            }
        );
        assert_eq!(
            err(&[(" ", "https")]),
            BuildError::EmptyEndpointName {
                endpoint: "Test webhook"
            }
        );
        assert_eq!(
            err(&[("a", "https"), ("a", "https")]),
            BuildError::DuplicateEndpoint {
                endpoint: "Test webhook",
                name: "a".into()
            }
        );
        let e = err(&[("a", "http")]);
        assert_eq!(e, BuildError::url(r#"Test webhook "a""#, "not https"));
        assert!(!e.to_string().contains("SECRET"));

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

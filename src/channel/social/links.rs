//! The links Mastodon counts at a fixed length: its count of a status, the
//! measure of its text limit.
//!
//! A **link** starts with a scheme (`http://`, `https://`, and for Mastodon
//! a few more) at the start of the text or after a character that is not an
//! ASCII letter or digit, `@`, `$`, `#`, `＠`, `＃` or a bidirectional
//! embedding (U+202A–U+202E), as in twitter-text, followed by at least one
//! link character. It runs over link characters: ASCII letters and digits and
//! ``-._~:/?#@!$&*+,;=%``. It counts [`URL_LENGTH`], however long it is.
//!
//! Links leave punctuation at their end out of them (`See
//! https://example.com/x.` links `https://example.com/x`): the link's trailing
//! ``.,:;!?*=$%~&@`` count as characters of their own, at the end of the text
//! too. So the count can decrease when text is appended (`https://a.co/x.`
//! counts 24, `https://a.co/x.y` 23); fitting checks every cut it makes.
//!
//! X (not Mastodon) also links **bare domains** such as `status.example.com`:
//! a run of link characters that starts a word and contains a `.` followed by
//! two ASCII letters counts the larger of [`URL_LENGTH`] and its own length
//! (X links it at 23 when its top-level domain is real, and counts it in full
//! otherwise; without X's list of top-level domains, the larger is the safe
//! bound).
//!
//! Everything else is counted by the network's own rule for plain text.

/// What every link counts: Mastodon's `characters_reserved_per_url` and X's
/// `transformedURLLength`.
pub(crate) const URL_LENGTH: usize = 23;

/// How a network finds links.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Schemes, lower case and without `://`, that start a link.
    pub(crate) schemes: &'static [&'static str],
    /// Whether a word that looks like a domain is a link.
    pub(crate) bare_domains: bool,
    /// Whether a character right after a link may compose with the link's
    /// last character when the network normalises the text (X: a combining
    /// mark, as in `e` + U+0301 → `é`, which would end the link one
    /// character earlier). Such a link is charged its last character and
    /// the punctuation that would then end it, as an upper bound.
    pub(crate) composes: fn(char) -> bool,
}

/// For networks that do not normalise: nothing composes.
#[cfg(any(feature = "mastodon", test))]
pub(crate) fn never(_: char) -> bool {
    false
}

/// Whether `b` is a link character.
fn is_link_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#@!$&*+,;=%".contains(&b)
}

/// Punctuation a link leaves out when it ends with it.
fn is_trailing(b: u8) -> bool {
    b".,:;!?*=$%~&@".contains(&b)
}

/// Characters after which no link starts.
fn blocks_link(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '@' | '$' | '#' | '\u{FF20}' | '\u{FF03}' | '\u{202A}'..='\u{202E}'
        )
}

/// The length of the scheme (with `://`) that starts `text`, if one does.
fn scheme_len(text: &str, rules: Rules) -> Option<usize> {
    rules.schemes.iter().find_map(|scheme| {
        let len = scheme.len() + 3;
        let head = text.as_bytes().get(..len)?;
        (head[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes()) && head.ends_with(b"://"))
            .then_some(len)
    })
}

/// The end of the run of link characters from `from`.
fn run_end(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .iter()
        .take_while(|b| is_link_byte(**b))
        .count()
}

/// The end of `bytes[from..to]` without its trailing punctuation.
fn core_end(bytes: &[u8], from: usize, to: usize) -> usize {
    let mut end = to;
    while end > from && is_trailing(bytes[end - 1]) {
        end -= 1;
    }
    end
}

/// Whether `word` contains `.` followed by two ASCII letters.
fn looks_like_domain(word: &[u8]) -> bool {
    word.windows(3)
        .any(|w| w[0] == b'.' && w[1].is_ascii_alphabetic() && w[2].is_ascii_alphabetic())
}

/// The length of `text` with links counted [`URL_LENGTH`] and everything else
/// by `plain` (called on the pieces between links, and on a link's trailing
/// punctuation).
pub(crate) fn length(text: &str, rules: Rules, plain: &dyn Fn(&str) -> usize) -> usize {
    scan(text, None, rules, plain)
}

/// [`length`] of `text` where it follows the character `prev`.
fn scan(text: &str, mut prev: Option<char>, rules: Rules, plain: &dyn Fn(&str) -> usize) -> usize {
    let bytes = text.as_bytes();
    let mut total = 0;
    let mut plain_from = 0;
    let mut i = 0;
    // Charges a link's trailing punctuation.
    let tail = |from: usize, to: usize| plain(&text[from..to]);
    // What a link's end costs when the next character composes with it: its
    // last character, and the punctuation before that, as plain text.
    let composed = |from: usize, to: usize| {
        if text[to..].chars().next().is_some_and(rules.composes) {
            let last = to - 1;
            1 + plain(&text[core_end(bytes, from, last)..last])
        } else {
            0
        }
    };
    while let Some(c) = text[i..].chars().next() {
        if !prev.is_some_and(blocks_link)
            && let Some(scheme) = scheme_len(&text[i..], rules)
        {
            let body = i + scheme;
            let to = run_end(bytes, body);
            if to > body {
                let core = core_end(bytes, body, to);
                total +=
                    plain(&text[plain_from..i]) + URL_LENGTH + tail(core, to) + composed(body, to);
                (i, plain_from, prev) = (to, to, Some(char::from(bytes[to - 1])));
                continue;
            }
        }
        let word_start = !prev.is_some_and(|p| p.is_ascii() && is_link_byte(p as u8));
        if rules.bare_domains && word_start && is_link_byte(bytes[i]) {
            let to = run_end(bytes, i);
            let core = core_end(bytes, i, to);
            if looks_like_domain(&bytes[i..core]) {
                // Links with a scheme inside the word keep counting as they
                // did before the word looked like a domain.
                let inner = Rules {
                    bare_domains: false,
                    ..rules
                };
                let word = scan(&text[i..core], prev, inner, plain).max(URL_LENGTH);
                total += plain(&text[plain_from..i]) + word + tail(core, to) + composed(i, to);
                (i, plain_from, prev) = (to, to, Some(char::from(bytes[to - 1])));
                continue;
            }
        }
        prev = Some(c);
        i += c.len_utf8();
    }
    total + plain(&text[plain_from..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: Rules = Rules {
        schemes: &["https", "http"],
        bare_domains: false,
        composes: never,
    };
    const BARE: Rules = Rules {
        schemes: &["https", "http"],
        bare_domains: true,
        composes: never,
    };

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    fn closed(text: &str, rules: Rules) -> usize {
        length(text, rules, &chars)
    }

    #[test]
    fn links_count_23_whatever_their_length() {
        let link = "https://status.example.com/incidents/inc-2026-11-25-api-errors";
        assert_eq!(closed(link, WEB), 23);
        assert_eq!(closed("HTTP://a.co", WEB), 23);
        assert_eq!(closed(&format!("See {link} now"), WEB), 4 + 23 + 4);
        assert_eq!(
            closed(&format!("({link})"), WEB),
            25,
            "parentheses end a link"
        );
        assert_eq!(closed("xhttps://a.com", WEB), 14, "no link inside a word");
        assert_eq!(closed("@https://a.com", WEB), 14, "no link after @");
        assert_eq!(closed("https://", WEB), 8, "a scheme alone is text");
        assert_eq!(closed("https:// x", WEB), 10);
        assert_eq!(closed("ftp://a.com", WEB), 11);
        assert_eq!(closed("a https://x.io, https://y.io", WEB), 2 + 23 + 2 + 23);
    }

    #[test]
    fn trailing_punctuation_counts_on_its_own() {
        assert_eq!(closed("https://a.com/x.", WEB), 24);
        assert_eq!(closed("https://a.com/x.y", WEB), 23, "a count can decrease");
        assert_eq!(closed("https://a.com/x. ", WEB), 25);
        assert_eq!(closed("https://a.com/x?!…", WEB), 26);
        assert_eq!(
            closed("https://a.com/?a=b&c=", WEB),
            24,
            "a trailing = counts"
        );
    }

    #[test]
    fn bare_domains_count_at_least_23_where_they_are_links() {
        assert_eq!(closed("status.example.com", WEB), 18);
        assert_eq!(closed("status.example.com", BARE), 23);
        assert_eq!(closed("see status.example.com.", BARE), 4 + 23 + 1);
        let long = "a-very-long-subdomain.status.example.com/path";
        assert_eq!(closed(long, BARE), long.len());
        assert_eq!(closed("e.g. v1.2 x.y", BARE), 13);
        assert_eq!(closed("ops@example.com", BARE), 23);
        assert_eq!(closed("a-https://x.io", BARE), 25);
        // A scheme right after ＠ starts no link, inside a domain-like word too.
        assert_eq!(closed("＠https://https://.co", BARE), 1 + 8 + 23);
    }

    #[test]
    fn a_composing_character_after_a_link_charges_its_end() {
        let marks = Rules {
            composes: |c| c == '\u{301}',
            ..BARE
        };
        assert_eq!(closed("https://a.com,e\u{301}", marks), 23 + 1 + 1 + 1);
        assert_eq!(closed("https://a.com,e\u{301}", BARE), 23 + 1);
        assert_eq!(closed("a.co,e\u{301}", marks), 23 + 1 + 1 + 1);
    }
}

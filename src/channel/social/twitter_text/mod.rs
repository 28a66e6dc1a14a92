//! twitter-text 3.x, the rules X counts a post's length by (`parseTweet` of
//! twitter-text 3.1.0, with its `v3` configuration), ported to Rust.
//!
//! A post is normalised to NFC, then read left to right, in UTF-16 code
//! units as twitter-text does:
//!
//! - a **URL** (see [`urls`]) weighs 23, however long;
//! - an **emoji** (see [`emoji_len`]) weighs 2, however many code points it
//!   has;
//! - any other code point weighs 1 in U+0000–U+10FF, U+2000–U+200D,
//!   U+2010–U+201F and U+2032–U+2037, and 2 elsewhere (CJK, most symbols,
//!   everything outside the Basic Multilingual Plane).
//!
//! A post is valid when it weighs between 1 and 280 and has none of the
//! characters twitter-text refuses: U+FFFE, U+FEFF (the zero-width no-break
//! space, or byte order mark) and U+FFFF.
//!
//! URLs are found as twitter-text's `extractUrlsWithIndices` finds them: an
//! optional `http://` or `https://`, a domain whose top-level domain is on
//! twitter-text's list (or punycode, `xn--…`), an optional port, path and
//! query, where the path and the query end on characters that can end them
//! (`https://example.com/x.` links `https://example.com/x`; a trailing `?`
//! is left out). A URL starts after a character that is not an ASCII letter
//! or digit, `@`, `$`, `#`, `＠` or `＃`. Without a scheme only ASCII
//! domains are links (`例え.jp` is not, `status.example.com` is), and not
//! right after `-`, `_`, `.` or `/`; a domain whose labels are too long once
//! punycode-encoded (over 63) is no link.
//!
//! twitter-text is JavaScript and reads UTF-16 code units: so does this
//! port, where it matters (a URL without a scheme can start after the first
//! surrogate of an emoji, and a surrogate is part of a domain name).
//!
//! The emoji twitter-text 3.1.0 knows are those of its emoji parser
//! (`twemoji-parser` 11): Emoji 11.0, taken here from the `emojis` crate's
//! list with the emoji versions. Newer emoji are weighed code point by code
//! point (a newer `ZWJ` sequence weighs more than 2), as twitter-text weighs
//! them; X may count them as 2, never as more.
//!
//! The port follows twitter-text's JavaScript source (github.com/twitter/
//! twitter-text, Apache-2.0) and its top-level domain list (`tlds.rs`).
//! Every test run compares it with twitter-text 3.1.0 itself, the npm
//! package run in Node.js (`tests/x_oracle.rs`), on a few thousand
//! generated posts, on every emoji and on every post the fitter makes. Its
//! published conformance cases, which cannot be copied here, are run by
//! hand (the ignored `conformance` tests, which read them from outside the
//! repository).

#[cfg(test)]
mod conformance;
mod tlds;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::OnceLock;

/// The longest post, in weighted characters (`maxWeightedTweetLength`).
pub(crate) const MAX_WEIGHTED_LENGTH: usize = 280;

/// What every URL weighs (`transformedURLLength`).
pub(crate) const URL_WEIGHT: usize = 23;

/// The longest URL twitter-text links, scheme included, in UTF-16 units.
const MAX_URL_LENGTH: usize = 4096;

/// The longest `t.co` slug twitter-text links.
const MAX_TCO_SLUG_LENGTH: usize = 40;

/// The longest DNS label, punycode-encoded.
const MAX_LABEL_LENGTH: usize = 63;

/// A post as twitter-text counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Its weighted length.
    pub(crate) weighted_length: usize,
    /// Whether X takes it: 1 to 280 weighted characters, no invalid
    /// character.
    pub(crate) valid: bool,
}

/// U+FFFE, U+FEFF, U+FFFF: characters twitter-text refuses in a post.
pub(crate) const fn is_invalid(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

/// A UTF-16 code unit. twitter-text is JavaScript: its patterns read code
/// units, so a URL can start in the middle of a character outside the Basic
/// Multilingual Plane (after its first surrogate), and a surrogate is a
/// character of a domain name like any letter.
type Unit = u16;

/// The character a unit is, `None` for a surrogate.
fn char_of(u: Unit) -> Option<char> {
    char::from_u32(u32::from(u))
}

/// Whether unit `u` is the character `c`.
fn is(u: Option<&Unit>, c: char) -> bool {
    u.and_then(|u| char_of(*u)) == Some(c)
}

/// The weight of a UTF-16 code unit outside URLs and emoji, ×100 as in
/// twitter-text's configuration (a surrogate weighs the default, 200).
const fn unit_weight(unit: Unit) -> usize {
    match unit {
        0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037 => 100,
        _ => 200,
    }
}

/// Counts `text` (already in NFC) as twitter-text's `parseTweet` does with
/// its `v3` configuration, X's.
pub(crate) fn parse(text: &str) -> Parsed {
    parse_with(text, true)
}

/// [`parse`], with emoji weighed as one (`v3`) or code point by code point
/// (`v2`).
fn parse_with(text: &str, emoji_parsing: bool) -> Parsed {
    let units: Vec<Unit> = text.encode_utf16().collect();
    // twitter-text skips as many units as the URL's text has, from where
    // it starts.
    let urls: HashMap<usize, usize> = urls_in(&units)
        .into_iter()
        .map(|u| (u.start, u.start + u.text.len()))
        .collect();
    let emoji = if emoji_parsing {
        emoji_in(text)
    } else {
        HashMap::new()
    };
    let mut weight = 0;
    let mut valid = true;
    let mut i = 0;
    while i < units.len() {
        // The index of the last unit read.
        let last = if let Some(&end) = urls.get(&i) {
            weight += URL_WEIGHT * 100;
            end - 1
        } else if let Some(&end) = emoji.get(&i) {
            weight += 200;
            end - 1
        } else {
            let pair = (0xD800..0xDC00).contains(&units[i])
                && units
                    .get(i + 1)
                    .is_some_and(|u| (0xDC00..0xE000).contains(u));
            let last = i + usize::from(pair);
            weight += unit_weight(units[last]);
            last
        };
        valid &= !char_of(units[last]).is_some_and(is_invalid);
        i = last + 1;
    }
    let weighted_length = weight / 100;
    Parsed {
        weighted_length,
        valid: valid && (1..=MAX_WEIGHTED_LENGTH).contains(&weighted_length),
    }
}

/// The URLs twitter-text finds in `text` (already in NFC).
#[cfg(test)]
fn urls(text: &str) -> Vec<String> {
    let units: Vec<Unit> = text.encode_utf16().collect();
    urls_in(&units)
        .into_iter()
        .map(|u| String::from_utf16_lossy(&u.text))
        .collect()
}

// ---------------------------------------------------------------------------
// Character classes (twitter-text's `regexp/*.js`). Letter ranges are matched
// case-insensitively, as twitter-text compiles its URL pattern with `i`.

/// Directional formatting characters.
const fn is_directional(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2066}'..='\u{2069}'
    )
}

/// Spaces (`spacesGroup`).
const fn is_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{D}'
            | ' '
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{180E}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// ASCII punctuation as twitter-text's `punct` lists it (without `"` and
/// `` ` ``).
fn is_punct(c: char) -> bool {
    "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$".contains(c)
}

/// A unit of a domain label (`validDomainChars`): anything but punctuation,
/// spaces, invalid and directional characters; surrogates are.
fn is_domain_unit(u: Unit) -> bool {
    char_of(u).is_none_or(|c| !(is_punct(c) || is_space(c) || is_invalid(c) || is_directional(c)))
}

/// `latinAccentChars`.
const fn is_latin_accent(c: char) -> bool {
    matches!(c,
        '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{FF}' | '\u{100}'..='\u{24F}'
        | '\u{253}' | '\u{254}' | '\u{256}' | '\u{257}' | '\u{259}' | '\u{25B}' | '\u{263}'
        | '\u{268}' | '\u{26F}' | '\u{272}' | '\u{289}' | '\u{28B}' | '\u{2BB}'
        | '\u{300}'..='\u{36F}' | '\u{1E00}'..='\u{1EFF}')
}

/// `cyrillicLettersAndMarks`.
const fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{400}'..='\u{4FF}')
}

/// `validGeneralUrlPathChars`.
fn is_path_unit(u: Unit) -> bool {
    char_of(u).is_some_and(|c| {
        c.is_ascii_alphanumeric()
            || "!*';:=+,.$/%#[]-_~@|&\u{2013}".contains(c)
            || is_cyrillic(c)
            || is_latin_accent(c)
    })
}

/// `validUrlPathEndingChars` (besides balanced parentheses).
fn is_path_end(u: Unit) -> bool {
    char_of(u).is_some_and(|c| {
        c.is_ascii_alphanumeric() || "+-=_#/".contains(c) || is_cyrillic(c) || is_latin_accent(c)
    })
}

/// `validUrlQueryChars`.
fn is_query_unit(u: Unit) -> bool {
    char_of(u).is_some_and(|c| c.is_ascii_alphanumeric() || "!?*'@();:&=+$/%#[]-_.,~|".contains(c))
}

/// `validUrlQueryEndingChars`.
fn is_query_end(u: Unit) -> bool {
    char_of(u).is_some_and(|c| c.is_ascii_alphanumeric() || "-_&=#/".contains(c))
}

/// `validUrlPrecedingChars`: a URL may start after unit `u`.
fn may_precede_url(u: Unit) -> bool {
    char_of(u).is_none_or(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '@' | '＠' | '$' | '#' | '＃') || is_invalid(c))
            || is_directional(c)
    })
}

/// Whether a unit of an ASCII domain's label (`validAsciiDomain`).
fn is_ascii_label_unit(u: Unit) -> bool {
    char_of(u).is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || is_latin_accent(c))
}

/// Case-insensitive equality of two units, as a JavaScript pattern with the
/// `i` flag compares them (simple case mapping).
fn same_unit(a: Unit, b: Unit) -> bool {
    a == b
        || match (char_of(a), char_of(b)) {
            (Some(a), Some(b)) => {
                let (mut la, mut lb) = (a.to_lowercase(), b.to_lowercase());
                matches!((la.next(), la.next(), lb.next(), lb.next()),
                    (Some(x), None, Some(y), None) if x == y)
            }
            _ => false,
        }
}

/// Whether `units[at..]` starts with `word` (ASCII), ignoring case.
fn starts_with(units: &[Unit], at: usize, word: &str) -> bool {
    let word: Vec<Unit> = word.encode_utf16().collect();
    starts_with_units(units, at, &word)
}

fn starts_with_units(units: &[Unit], at: usize, word: &[Unit]) -> bool {
    units.len() >= at + word.len()
        && units[at..at + word.len()]
            .iter()
            .zip(word)
            .all(|(a, b)| same_unit(*a, *b))
}

/// The end of the run of units from `from` that satisfy `f`.
fn run(units: &[Unit], from: usize, f: impl Fn(Unit) -> bool) -> usize {
    from + units[from..].iter().take_while(|u| f(**u)).count()
}

// ---------------------------------------------------------------------------
// Top-level domains.

/// twitter-text's top-level domains, by their first (lower-case) unit, each
/// list in twitter-text's order.
struct Tlds {
    generic: HashMap<Unit, Vec<Vec<Unit>>>,
    country: HashMap<Unit, Vec<Vec<Unit>>>,
}

/// A unit in lower case, for looking top-level domains up.
fn lower(u: Unit) -> Unit {
    match char_of(u).map(|c| c.to_lowercase()) {
        Some(mut l) => match (l.next(), l.next()) {
            (Some(l), None) if l.len_utf16() == 1 => {
                let mut buf = [0; 1];
                l.encode_utf16(&mut buf)[0]
            }
            _ => u,
        },
        None => u,
    }
}

fn tld_table() -> &'static Tlds {
    static TLDS: OnceLock<Tlds> = OnceLock::new();
    TLDS.get_or_init(|| {
        let index = |list: &[&str]| {
            let mut map: HashMap<Unit, Vec<Vec<Unit>>> = HashMap::new();
            for tld in list {
                let units: Vec<Unit> = tld.encode_utf16().collect();
                if let Some(first) = units.first() {
                    map.entry(lower(*first)).or_default().push(units);
                }
            }
            map
        };
        Tlds {
            generic: index(tlds::GENERIC),
            country: index(tlds::COUNTRY),
        }
    })
}

/// The end of the top-level domain at `units[at..]` (a generic one, else a
/// country code, else punycode).
fn tld_end(units: &[Unit], at: usize) -> Option<usize> {
    let first = lower(*units.get(at)?);
    // A top-level domain is followed by the end, or by a character that
    // cannot continue it.
    let ends = |end: usize| {
        !units
            .get(end)
            .and_then(|u| char_of(*u))
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '+' | '-'))
    };
    let table = tld_table();
    for list in [&table.generic, &table.country] {
        for tld in list.get(&first).into_iter().flatten() {
            if starts_with_units(units, at, tld) && ends(at + tld.len()) {
                return Some(at + tld.len());
            }
        }
    }
    // Punycode: `xn--` and at least one of `-0-9a-z`.
    if starts_with(units, at, "xn--") {
        let end = run(units, at + 4, |u| {
            char_of(u).is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if end > at + 4 {
            return Some(end);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// The URL pattern (`extractUrl`), one part at a time.

/// A label and its dot at `units[at..]`: its end (after the dot) and
/// whether it has an underscore (allowed in subdomains only).
fn label(units: &[Unit], at: usize) -> Option<(usize, bool)> {
    if !units.get(at).is_some_and(|u| is_domain_unit(*u)) {
        return None;
    }
    let end = run(units, at, |u| {
        is_domain_unit(u) || is(Some(&u), '-') || is(Some(&u), '_')
    });
    let ok = is(units.get(end), '.') && is_domain_unit(units[end - 1]);
    ok.then(|| (end + 1, units[at..end].iter().any(|u| is(Some(u), '_'))))
}

/// The end of the domain at `units[at..]` (`validDomain`): subdomains, a
/// domain name and a top-level domain, with as many subdomains as allow a
/// top-level domain after the domain name.
fn domain_end(units: &[Unit], at: usize) -> Option<usize> {
    let mut labels = Vec::new();
    let mut pos = at;
    while let Some((end, underscore)) = label(units, pos) {
        labels.push((end, underscore));
        pos = end;
    }
    // The domain name is one of the labels (the later the better, as the
    // subdomains before it are matched greedily), without an underscore.
    labels
        .iter()
        .rev()
        .filter(|(_, underscore)| !underscore)
        .find_map(|(end, _)| tld_end(units, *end))
}

/// The end of a balanced parenthesis at `units[at..]`: `(` path characters
/// `)`, or one level of nested parentheses (`(a(b)c)`).
fn balanced_parens_end(units: &[Unit], at: usize) -> Option<usize> {
    if !is(units.get(at), '(') {
        return None;
    }
    let inner = run(units, at + 1, is_path_unit);
    if inner > at + 1 && is(units.get(inner), ')') {
        return Some(inner + 1);
    }
    if !is(units.get(inner), '(') {
        return None;
    }
    let nested = run(units, inner + 1, is_path_unit);
    if nested == inner + 1 || !is(units.get(nested), ')') {
        return None;
    }
    let after = run(units, nested + 1, is_path_unit);
    is(units.get(after), ')').then_some(after + 1)
}

/// The end of the path after a `/` at `units[at..]` (`validUrlPath*`).
///
/// twitter-text's path pattern is `G*(?:B G*)*E|B|@G+/`, repeated, where
/// `G` is a path character, `B` a balanced parenthesis and `E` a character
/// that can end a path: its alternation binds loosely, so a parenthesis ends
/// a path only right after a character that can end one (`/x(a)` links,
/// `/x.(a)` links `/x`). That is: the longest run of path characters and
/// parentheses that ends on a character that can end a path, then any
/// parentheses right after it.
fn path_end(units: &[Unit], at: usize) -> usize {
    let (mut pos, mut good) = (at, at);
    while let Some(&u) = units.get(pos) {
        if is_path_unit(u) {
            pos += 1;
            if is_path_end(u) {
                good = pos;
            }
        } else if let Some(end) = balanced_parens_end(units, pos) {
            pos = end;
        } else {
            break;
        }
    }
    while let Some(end) = balanced_parens_end(units, good) {
        good = end;
    }
    good
}

/// The end of the query at `units[at..]`, which starts with `?`: the longest
/// run of query characters that ends on one that can end a query.
fn query_end(units: &[Unit], at: usize) -> Option<usize> {
    if !is(units.get(at), '?') {
        return None;
    }
    let end = run(units, at + 1, is_query_unit);
    (at + 1..end)
        .rev()
        .find(|i| is_query_end(units[*i]))
        .map(|i| i + 1)
}

/// What the URL pattern matches at `units[at..]`.
struct Match {
    /// Where the domain starts (after the scheme, if any).
    domain: usize,
    domain_end: usize,
    has_path: bool,
    end: usize,
}

/// The URL pattern at `units[at..]`: an optional scheme, a domain, an
/// optional port, path and query.
fn url_at(units: &[Unit], at: usize) -> Option<Match> {
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| starts_with(units, at, s))
        .map_or(0, str::len);
    // With the scheme if a domain follows it, else without.
    let (domain, domain_end) = [at + scheme, at]
        .into_iter()
        .find_map(|d| domain_end(units, d).map(|e| (d, e)))?;
    let mut end = domain_end;
    if is(units.get(end), ':') {
        let digits = run(units, end + 1, |u| {
            char_of(u).is_some_and(|c| c.is_ascii_digit())
        });
        if digits > end + 1 {
            end = digits;
        }
    }
    let has_path = is(units.get(end), '/');
    if has_path {
        end = path_end(units, end + 1);
    }
    if let Some(q) = query_end(units, end) {
        end = q;
    }
    Some(Match {
        domain,
        domain_end,
        has_path,
        end,
    })
}

/// The length of `label` encoded as punycode.js's `toASCII` encodes it: as
/// it is if ASCII, else `xn--` and its RFC 3492 encoding (a lone surrogate
/// counts as the code point of its value, as punycode.js decodes it).
fn punycode_len(label: &[Unit]) -> Option<usize> {
    if label.iter().all(|u| *u < 0x80) {
        return Some(label.len());
    }
    // punycode.js's ucs2decode: pairs are code points, lone surrogates
    // their own value.
    let mut cps = Vec::with_capacity(label.len());
    let mut i = 0;
    while i < label.len() {
        let u = u32::from(label[i]);
        if (0xD800..0xDC00).contains(&u)
            && let Some(&low) = label.get(i + 1)
        {
            let low = u32::from(low);
            if (0xDC00..0xE000).contains(&low) {
                cps.push(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
                i += 2;
                continue;
            }
        }
        cps.push(u);
        i += 1;
    }
    Some(4 + punycode_encoded_len(&cps)?)
}

/// The length of the RFC 3492 encoding of `input`.
fn punycode_encoded_len(input: &[u32]) -> Option<usize> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    fn adapt(mut delta: u32, points: u32, first: bool) -> u32 {
        delta /= if first { 700 } else { 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + 38)
    }
    let basic = input.iter().filter(|c| **c < 0x80).count();
    let mut out = basic + usize::from(basic > 0);
    let (mut n, mut delta, mut bias) = (128_u32, 0_u32, 72_u32);
    let mut handled = u32::try_from(basic).ok()?;
    let total = u32::try_from(input.len()).ok()?;
    while handled < total {
        let m = *input.iter().filter(|c| **c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out += 1;
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out += 1;
                bias = adapt(delta, handled + 1, handled == u32::try_from(basic).ok()?);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

/// twitter-text's `idna.toAscii` check: a domain starting `xn--` must hold an
/// ASCII domain, and every label, punycode-encoded, is 1 to 63 long.
fn domain_is_valid(domain: &[Unit]) -> bool {
    let prefix: Vec<Unit> = "xn--".encode_utf16().collect();
    if domain.starts_with(&prefix) && ascii_domains(domain).is_empty() {
        return false;
    }
    domain.split(|u| is(Some(u), '.')).all(|label| {
        // punycode.js also splits at the ideographic full stops.
        let mut len = 0;
        for (i, part) in label
            .split(|u| matches!(u, 0x3002 | 0xFF0E | 0xFF61))
            .enumerate()
        {
            match punycode_len(part) {
                Some(n) => len += n + usize::from(i > 0),
                None => return false,
            }
        }
        (1..=MAX_LABEL_LENGTH).contains(&len)
    })
}

/// The ASCII domains in `domain` (`validAsciiDomain`, matched again and
/// again from the end of the last match), as ranges of `domain`.
fn ascii_domains(domain: &[Unit]) -> Vec<Range<usize>> {
    let at = |start: usize| {
        let mut ends = Vec::new();
        let mut pos = start;
        loop {
            let end = run(domain, pos, is_ascii_label_unit);
            if end == pos || !is(domain.get(end), '.') {
                break;
            }
            pos = end + 1;
            ends.push(pos);
        }
        ends.iter().rev().find_map(|end| tld_end(domain, *end))
    };
    let mut found = Vec::new();
    let mut start = 0;
    while let Some((s, e)) = (start..domain.len()).find_map(|s| at(s).map(|e| (s, e))) {
        found.push(s..e);
        start = e;
    }
    found
}

/// The end of a `t.co` link that starts at `start` and ends at `end`: only
/// the slug and a query count. `None` for a slug over 40 (no link); `end`
/// for any other link.
fn tco_end(units: &[Unit], start: usize, end: usize) -> Option<usize> {
    let url = &units[..end];
    let host = ["https://t.co/", "http://t.co/"]
        .into_iter()
        .find(|p| starts_with(url, start, p))
        .map(str::len);
    let Some(host) = host else {
        return Some(end);
    };
    let slug = start + host;
    let slug_end = run(url, slug, |u| {
        char_of(u).is_some_and(|c| c.is_ascii_alphanumeric())
    });
    if slug_end == slug {
        return Some(end);
    }
    if slug_end - slug > MAX_TCO_SLUG_LENGTH {
        return None;
    }
    Some(query_end(url, slug_end).unwrap_or(slug_end))
}

/// A URL twitter-text found.
struct Url {
    /// Where it starts, in UTF-16 units.
    start: usize,
    /// Where it ends (for a URL without a scheme and with a path, the end of
    /// the path, which need not be `start + text.len()`).
    #[cfg_attr(not(test), allow(dead_code))]
    end: usize,
    /// Its text.
    text: Vec<Unit>,
}

/// The URLs of `units` (twitter-text's `extractUrlsWithIndices`).
fn urls_in(units: &[Unit]) -> Vec<Url> {
    let mut found = Vec::new();
    if !units.iter().any(|u| is(Some(u), '.')) {
        return found;
    }
    let mut from = 0;
    while from < units.len() {
        // The leftmost match: a unit that may precede a URL and the URL
        // after it, or the URL at the very start.
        let hit = (from..units.len()).find_map(|s| {
            if may_precede_url(units[s])
                && let Some(m) = url_at(units, s + 1)
            {
                return Some((Some(units[s]), s + 1, m));
            }
            (s == 0)
                .then(|| url_at(units, 0))
                .flatten()
                .map(|m| (None, 0, m))
        });
        let Some((before, start, m)) = hit else {
            break;
        };
        from = m.end;
        let scheme = m.domain - start;
        let domain = &units[m.domain..m.domain_end];
        let length = if scheme == 0 { 8 } else { scheme } + (m.end - start);
        if !domain_is_valid(domain) || length > MAX_URL_LENGTH {
            continue;
        }
        if scheme == 0 {
            if before
                .and_then(char_of)
                .is_some_and(|b| matches!(b, '-' | '_' | '.' | '/'))
            {
                continue;
            }
            let mut ascii: Vec<Url> = ascii_domains(domain)
                .into_iter()
                .map(|r| Url {
                    start: m.domain + r.start,
                    end: m.domain + r.end,
                    text: domain[r].to_vec(),
                })
                .collect();
            // The last one takes the port, path and query along, in its text
            // and its end: twitter-text then skips that text's length from
            // where the URL starts, whatever lies between (a domain can hold
            // more than its ASCII part: `ller.foo` of `müller.foo_bar.org/a`).
            if m.has_path
                && let Some(last) = ascii.last_mut()
            {
                last.text.extend_from_slice(&units[m.domain_end..m.end]);
                last.end = m.end;
            }
            found.extend(ascii);
        } else if let Some(end) = tco_end(units, start, m.end) {
            found.push(Url {
                start,
                end,
                text: units[start..end].to_vec(),
            });
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Emoji.

/// The emoji twitter-text 3.1.0's emoji parser (`twemoji-parser` 11) knows,
/// the characters they start with, and the most code points one has.
struct EmojiSet {
    sequences: HashSet<String>,
    starts: HashSet<char>,
    longest: usize,
}

/// Emoji-style symbols (shown as emoji without U+FE0F) that twemoji 11 also
/// knows followed by U+FE0F: those with a standardized variation sequence.
const VARIATION_BASES: [char; 42] = [
    '\u{231A}',
    '\u{231B}',
    '\u{25FD}',
    '\u{25FE}',
    '\u{2614}',
    '\u{2615}',
    '\u{2648}',
    '\u{2649}',
    '\u{264A}',
    '\u{264B}',
    '\u{264C}',
    '\u{264D}',
    '\u{264E}',
    '\u{264F}',
    '\u{2650}',
    '\u{2651}',
    '\u{2652}',
    '\u{2653}',
    '\u{267F}',
    '\u{2693}',
    '\u{26A1}',
    '\u{26AA}',
    '\u{26AB}',
    '\u{26BD}',
    '\u{26BE}',
    '\u{26C4}',
    '\u{26C5}',
    '\u{26D4}',
    '\u{26EA}',
    '\u{26F2}',
    '\u{26F3}',
    '\u{26F5}',
    '\u{26FA}',
    '\u{26FD}',
    '\u{2757}',
    '\u{2B1B}',
    '\u{2B1C}',
    '\u{2B50}',
    '\u{2B55}',
    '\u{1F004}',
    '\u{1F21A}',
    '\u{1F22F}',
];

/// Keycaps written without U+FE0F (`1⃣`), which twemoji knows too.
const KEYCAP_BASES: &str = "#*0123456789";

fn emoji_set() -> &'static EmojiSet {
    static SET: OnceLock<EmojiSet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut sequences: HashSet<String> = HashSet::new();
        // Every emoji, with its skin tones.
        let all = emojis::iter()
            .flat_map(|e| std::iter::once(e).chain(e.skin_tones().into_iter().flatten()));
        for e in all {
            let s = e.as_str();
            let v = e.emoji_version();
            // Emoji 11.0 and before; and the gendered "person in tuxedo",
            // which twemoji had before Unicode listed it (Emoji 13.0).
            let known = (v.major(), v.minor()) <= (11, 0)
                || (s.starts_with('\u{1F935}') && s.contains('\u{200D}'));
            // Two emoji of Emoji 11.0 twemoji 11 does not have in this form.
            if known && !matches!(s, "👁\u{FE0F}\u{200D}🗨\u{FE0F}" | "♾\u{FE0F}") {
                sequences.insert(s.to_owned());
            }
        }
        let mut more = vec!["👁\u{200D}🗨".to_owned()];
        for s in &sequences {
            let mut cps = s.chars();
            match (cps.next(), cps.next(), cps.next(), cps.next()) {
                // A text-style symbol written without U+FE0F is an emoji too,
                // except those twemoji leaves as text.
                (Some(c), Some('\u{FE0F}'), None, None) if !matches!(c, '©' | '®' | '™' | '♟') =>
                {
                    more.push(c.to_string());
                }
                // Keycaps without U+FE0F.
                (Some(c), Some('\u{FE0F}'), Some('\u{20E3}'), None) if KEYCAP_BASES.contains(c) => {
                    more.push(format!("{c}\u{20E3}"));
                }
                // An emoji-style symbol with a standardized variation
                // sequence, written with a redundant U+FE0F (`⭕️`).
                (Some(c), None, None, None) if VARIATION_BASES.contains(&c) => {
                    more.push(format!("{c}\u{FE0F}"));
                }
                _ => {}
            }
        }
        sequences.extend(more);
        let starts = sequences.iter().filter_map(|s| s.chars().next()).collect();
        let longest = sequences
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(1);
        EmojiSet {
            sequences,
            starts,
            longest,
        }
    })
}

/// The code points of the emoji at `chars[at..]`, if one starts there: the
/// longest sequence twitter-text knows.
fn emoji_len(chars: &[char], at: usize) -> Option<usize> {
    let set = emoji_set();
    if !set.starts.contains(chars.get(at)?) {
        return None;
    }
    let most = set.longest.min(chars.len() - at);
    let mut buf = String::new();
    let mut best = None;
    for (n, c) in chars[at..at + most].iter().enumerate() {
        buf.push(*c);
        if set.sequences.contains(buf.as_str()) {
            best = Some(n + 1);
        }
    }
    best
}

/// The emoji of `text`, found left to right as twemoji's parser finds them:
/// start → end, in UTF-16 units.
fn emoji_in(text: &str) -> HashMap<usize, usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut offsets = Vec::with_capacity(chars.len() + 1);
    let mut unit = 0;
    for c in &chars {
        offsets.push(unit);
        unit += c.len_utf16();
    }
    offsets.push(unit);
    let mut found = HashMap::new();
    let mut i = 0;
    while i < chars.len() {
        match emoji_len(&chars, i) {
            Some(n) => {
                found.insert(offsets[i], offsets[i + n]);
                i += n;
            }
            None => i += 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(text: &str) -> usize {
        parse(text).weighted_length
    }

    fn url_texts(text: &str) -> Vec<String> {
        urls(text)
    }

    #[test]
    fn urls_end_where_twitter_text_ends_them() {
        assert_eq!(url_texts("see https://a.com/x. now"), ["https://a.com/x"]);
        assert_eq!(url_texts("https://a.com/x?"), ["https://a.com/x"]);
        assert_eq!(
            url_texts("https://a.com/x?a=1&b=2"),
            ["https://a.com/x?a=1&b=2"]
        );
        assert_eq!(url_texts("(https://a.com)"), ["https://a.com"]);
        assert_eq!(
            url_texts("https://en.wikipedia.org/wiki/Primer_(film)."),
            ["https://en.wikipedia.org/wiki/Primer_(film)"]
        );
        assert_eq!(url_texts("https://a.com:8080/x"), ["https://a.com:8080/x"]);
        assert!(url_texts("https://user:pass@example.com").is_empty());
        assert_eq!(url_texts("see status.example.com."), ["status.example.com"]);
        assert_eq!(url_texts("a.co"), ["a.co"]);
        assert!(url_texts("e.g. v1.2 x.y a.cop").is_empty());
        assert!(url_texts("例え.jp").is_empty());
        assert_eq!(url_texts("foo.みんな"), ["foo.みんな"]);
        assert_eq!(url_texts("https://例え.テスト"), Vec::<String>::new());
        assert_eq!(
            url_texts("http://foobar.پاکستان/"),
            ["http://foobar.پاکستان/"]
        );
        assert!(url_texts("ftp://x.c").is_empty());
        assert!(
            url_texts("ftp://x.com").is_empty(),
            "no bare domain after /"
        );
        assert!(url_texts("xhttps://a.com @a.com #a.com $a.com").is_empty());
        assert!(url_texts(".a.com -a.com _a.com /a.com").is_empty());
        assert_eq!(url_texts("https://t.co/abc/def"), ["https://t.co/abc"]);
        assert_eq!(url_texts("HTTPS://A.COM"), ["HTTPS://A.COM"]);
    }

    #[test]
    fn punycode_lengths_are_rfc_3492() {
        let len = |s: &str| punycode_len(&s.encode_utf16().collect::<Vec<_>>());
        assert_eq!(len("bücher"), Some("xn--bcher-kva".len()));
        assert_eq!(len("例え"), Some("xn--r8jz45g".len()));
        assert_eq!(len("müller"), Some("xn--mller-kva".len()));
        assert_eq!(len("パキスタン"), Some("xn--nckyas3e3i".len()));
        assert_eq!(len("پاکستان"), Some("xn--mgbai9azgqp6j".len()));
        assert_eq!(len("example"), Some(7));
        assert_eq!(len("😀"), Some("xn--e28h".len()));
    }

    #[test]
    fn weights_follow_parse_tweet() {
        assert_eq!(weight(""), 0);
        assert!(!parse("").valid);
        assert_eq!(weight("Hi http://test.co"), 26);
        assert_eq!(weight("https://a.com/x?"), 24);
        assert_eq!(weight("https://user:pass@example.com"), 29);
        assert_eq!(weight("©"), 1);
        assert_eq!(weight("©\u{FE0F}"), 2);
        assert_eq!(weight("1\u{20E3}"), 2);
        assert_eq!(
            weight("🧑\u{200D}🚀"),
            5,
            "Emoji 12.1: code point by code point"
        );
        assert_eq!(weight("👩\u{200D}⚕\u{FE0F}"), 2);
        assert_eq!(weight("🙋🏽👨\u{200D}🎤"), 4);
        assert_eq!(weight("\u{FEFF}"), 2);
        assert!(!parse("x\u{FEFF}y").valid);
        assert!(!parse("\u{FFFE}").valid && !parse("\u{FFFF}").valid);
        assert!(parse(&"a".repeat(280)).valid && !parse(&"a".repeat(281)).valid);
    }
}

//! twitter-text's published conformance cases (`conformance/validate.yml`
//! and `conformance/extract.yml` of github.com/twitter/twitter-text,
//! Apache-2.0), run against this port: every weighted-length case (weighted
//! length and validity, exactly) and every URL extraction case.
//!
//! The files cannot be copied into this repository, so these two tests are
//! `#[ignore]`d: run them by hand where the files are, with
//! `cargo test --features x --lib conformance -- --ignored`. They read the
//! files from the directory named by `TWITTER_TEXT_CONFORMANCE`, else from
//! `../shared/conformance/twitter-text/` beside the crate, and fail without
//! them. What CI runs instead is the differential test against twitter-text
//! 3.1.0 itself (`tests/x_oracle.rs`).
//!
//! Not run: `tweets` (the deprecated 140-character check), `urls`,
//! `urls_without_protocol`, `usernames`, `lists` and `hashtags` of
//! `validate.yml` (whether a string is a valid URL, user name, list or
//! hashtag: nothing to do with length), and the mention, hashtag and
//! cashtag sections of `extract.yml` (entities X weighs as text).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::PathBuf;

use unicode_normalization::UnicodeNormalization;

use super::{Unit, parse_with, urls_in};

/// A scalar or a nested value of the YAML subset the conformance files use.
#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(usize),
    Bool(bool),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    fn int(&self) -> usize {
        match self {
            Value::Int(n) => *n,
            other => panic!("not an integer: {other:?}"),
        }
    }
    fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            other => panic!("not a boolean: {other:?}"),
        }
    }
    fn list(&self) -> &[Value] {
        match self {
            Value::List(items) => items,
            other => panic!("not a list: {other:?}"),
        }
    }
}

/// A double-quoted YAML string at the start of `s`: its value and the rest.
fn quoted(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                let (_, e) = chars.next().unwrap();
                let hex = |chars: &mut dyn Iterator<Item = (usize, char)>, n: usize| {
                    let digits: String = chars.take(n).map(|(_, c)| c).collect();
                    char::from_u32(u32::from_str_radix(&digits, 16).unwrap()).unwrap()
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    'x' => out.push(hex(&mut chars, 2)),
                    'u' => out.push(hex(&mut chars, 4)),
                    'U' => out.push(hex(&mut chars, 8)),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated string: {s}");
}

/// A scalar or a flow list (`["a", "b"]`, `[5, 22]`).
fn scalar(s: &str) -> Value {
    let s = s.trim();
    if s.starts_with('"') {
        return Value::Str(quoted(s).0);
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let mut items = Vec::new();
        let mut rest = inner.trim();
        while !rest.is_empty() {
            if rest.starts_with('"') {
                let (v, r) = quoted(rest);
                items.push(Value::Str(v));
                rest = r.trim_start().trim_start_matches(',').trim_start();
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                items.push(scalar(&rest[..end]));
                rest = rest[end..].trim_start_matches(',').trim_start();
            }
        }
        return Value::List(items);
    }
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => s
            .parse()
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Str(s.to_owned())),
    }
}

/// The lines of a file without comments and blank lines: (indent, text).
fn lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| (l.len() - l.trim_start().len(), l.trim()))
        .collect()
}

/// Parses the block at `lines[*at..]` indented by `indent`.
fn block(lines: &[(usize, &str)], at: &mut usize, indent: usize) -> Value {
    if lines[*at].1.starts_with("- ") {
        let mut items = Vec::new();
        while *at < lines.len() && lines[*at].0 == indent && lines[*at].1.starts_with("- ") {
            items.push(map(lines, at, indent + 2, true));
        }
        Value::List(items)
    } else {
        map(lines, at, indent, false)
    }
}

/// A map at `indent` (the first entry after `- ` when `item`).
fn map(lines: &[(usize, &str)], at: &mut usize, indent: usize, item: bool) -> Value {
    let mut entries = Vec::new();
    let mut first = item;
    while *at < lines.len() {
        let (ind, text) = lines[*at];
        let text = if first {
            text.strip_prefix("- ").unwrap()
        } else {
            if ind != indent || text.starts_with("- ") {
                break;
            }
            text
        };
        first = false;
        let (key, rest) = text.split_once(':').unwrap();
        *at += 1;
        let value = if rest.trim().is_empty() {
            match lines.get(*at) {
                Some((inner, _)) if *inner > indent => block(lines, at, *inner),
                // Nothing under it: null, read as an empty list.
                _ => Value::List(Vec::new()),
            }
        } else {
            scalar(rest)
        };
        entries.push((key.trim().to_owned(), value));
    }
    Value::Map(entries)
}

/// The `tests` of a conformance file; fails if it is not there.
fn load(name: &str) -> Value {
    let dir = std::env::var_os("TWITTER_TEXT_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/twitter-text")
        });
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "twitter-text conformance: cannot read {} ({e}); set TWITTER_TEXT_CONFORMANCE to \
             the directory of twitter-text's conformance/*.yml",
            path.display()
        )
    });
    let lines = lines(&text);
    let mut at = 0;
    let root = block(&lines, &mut at, 0);
    root.get("tests")
        .cloned()
        .unwrap_or_else(|| panic!("{}: no tests", path.display()))
}

/// Unit offset → code point offset.
fn code_points(units: &[Unit], offset: usize) -> usize {
    char::decode_utf16(units[..offset].iter().copied()).count()
}

#[test]
fn the_parser_reads_the_subset() {
    let text = "tests:\n  a:\n    - description: \"x \\\"y\\\" \\U0001f431\\u200B\"\n      text: \"t\"\n      expected:\n        weightedLength: 26\n        valid: true\n\n    - description: \"z\"\n      text: \"u\"\n      expected: [\"a, b\", \"c\"]\n  b:\n    - description: \"i\"\n      text: \"v\"\n      expected:\n        - url: \"w\"\n          indices: [5, 22]\n";
    let lines = lines(text);
    let mut at = 0;
    let root = block(&lines, &mut at, 0);
    let a = root.get("tests").unwrap().get("a").unwrap().list();
    assert_eq!(a[0].get("description").unwrap().str(), "x \"y\" 🐱\u{200B}");
    let expected = a[0].get("expected").unwrap();
    assert_eq!(expected.get("weightedLength").unwrap().int(), 26);
    assert!(expected.get("valid").unwrap().bool());
    let list = a[1].get("expected").unwrap().list();
    assert_eq!((list[0].str(), list[1].str()), ("a, b", "c"));
    let b = root.get("tests").unwrap().get("b").unwrap().list();
    let url = &b[0].get("expected").unwrap().list()[0];
    assert_eq!(url.get("indices").unwrap().list()[1].int(), 22);
}

#[test]
#[ignore = "needs twitter-text's conformance files; set TWITTER_TEXT_CONFORMANCE"]
fn weighted_length_cases() {
    let tests = load("validate.yml");
    let mut failures = Vec::new();
    let mut run = 0;
    // v2: code points weighed one by one; v3 (X's): emoji weigh 2; the
    // directional marker cases use the default configuration, v3.
    for (section, emoji) in [
        ("WeightedTweetsCounterTest", false),
        ("WeightedTweetsWithDiscountedEmojiCounterTest", true),
        ("UnicodeDirectionalMarkerCounterTest", true),
    ] {
        let cases = tests.get(section).map_or(&[][..], Value::list);
        assert!(!cases.is_empty(), "{section}: no cases");
        for case in cases {
            let text: String = case.get("text").unwrap().str().nfc().collect();
            let expected = case.get("expected").unwrap();
            let want = (
                expected.get("weightedLength").unwrap().int(),
                expected.get("valid").unwrap().bool(),
            );
            let got = parse_with(&text, emoji);
            run += 1;
            if (got.weighted_length, got.valid) != want {
                failures.push(format!(
                    "{section}: {}: got {:?}, want {want:?}",
                    case.get("description").unwrap().str(),
                    (got.weighted_length, got.valid)
                ));
            }
        }
    }
    println!("twitter-text validate.yml: {run} weighted-length cases run");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs twitter-text's conformance files; set TWITTER_TEXT_CONFORMANCE"]
fn url_extraction_cases() {
    let tests = load("extract.yml");
    let mut failures = Vec::new();
    let mut run = 0;
    for section in [
        "urls",
        "urls_with_indices",
        "urls_with_directional_markers",
        "tco_urls_with_params",
    ] {
        let cases = tests.get(section).map_or(&[][..], Value::list);
        assert!(!cases.is_empty(), "{section}: no cases");
        for case in cases {
            let text = case.get("text").unwrap().str();
            let units: Vec<Unit> = text.encode_utf16().collect();
            let found: Vec<(String, [usize; 2])> = urls_in(&units)
                .into_iter()
                .map(|u| {
                    let indices = [code_points(&units, u.start), code_points(&units, u.end)];
                    (String::from_utf16_lossy(&u.text), indices)
                })
                .collect();
            let expected = case.get("expected").unwrap().list();
            let ok = found.len() == expected.len()
                && found
                    .iter()
                    .zip(expected)
                    .all(|((url, indices), want)| match want {
                        Value::Str(s) => url == s,
                        map => {
                            let i = map.get("indices").unwrap().list();
                            url == map.get("url").unwrap().str()
                                && *indices == [i[0].int(), i[1].int()]
                        }
                    });
            run += 1;
            if !ok {
                failures.push(format!(
                    "{section}: {}: got {found:?}, want {expected:?}",
                    case.get("description").unwrap().str()
                ));
            }
        }
    }
    println!("twitter-text extract.yml: {run} URL cases run");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The reference implementations published on npm, run in Node.js by the
//! differential tests (`x_oracle.rs`: twitter-text; `sms_oracle.rs`:
//! Twilio's segment calculator).
//!
//! `./scripts/test` installs Node.js if it is missing and the packages at the
//! versions (and integrity hashes) pinned by `tests/oracle/package-lock.json`
//! with `npm ci`, then names them in `TIDINGS_TEST_NODE` (the `node`
//! program) and `TIDINGS_TEST_NPM_DIR` (the directory holding their
//! `node_modules`). Without them the tests fail: they never pass without
//! having compared anything.
//!
//! All texts of a test go to one `node` process (`tests/oracle/oracle.js`)
//! as one JSON file; it answers with one JSON document.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// What the reference implementation answered.
#[derive(Debug)]
pub struct Answer {
    /// The npm package that answered.
    pub package: String,
    /// Its version, from its `package.json`.
    pub version: String,
    /// One result per text, in order.
    pub results: Vec<Value>,
}

fn env(name: &str) -> PathBuf {
    match std::env::var_os(name) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => panic!(
            "{name} is not set: run ./scripts/test, which installs Node.js and the reference \
             implementations (twitter-text, Twilio's segment calculator) pinned by \
             tests/oracle/package-lock.json, and sets TIDINGS_TEST_NODE and TIDINGS_TEST_NPM_DIR"
        ),
    }
}

/// Asks the reference implementation (`mode`: `twitter-text` or
/// `calculator`) about every text, in one `node` process.
pub fn ask(mode: &str, texts: &[String]) -> Answer {
    let node = env("TIDINGS_TEST_NODE");
    let npm_dir = env("TIDINGS_TEST_NPM_DIR");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/oracle.js");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = dir.path().join("texts.json");
    std::fs::write(&input, serde_json::to_vec(texts).unwrap()).expect("write the texts");
    let output = Command::new(&node)
        .arg(&script)
        .arg(mode)
        .arg(&npm_dir)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", node.display()));
    assert!(
        output.status.success(),
        "{} {} {mode} failed ({}): {}",
        node.display(),
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{mode}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let results = doc["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), texts.len(), "{mode}: one result per text");
    Answer {
        package: doc["package"].as_str().expect("package").to_owned(),
        version: doc["version"].as_str().expect("version").to_owned(),
        results,
    }
}

/// `n` values of `strategy`, the same on every run: drawn with a fixed
/// `seed`.
pub fn samples<S: Strategy>(strategy: S, n: usize, seed: u8) -> Vec<S::Value> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

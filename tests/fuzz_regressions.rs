//! Every input the fuzzers found a problem with (and a few seeds) kept as a regression test
//! that plain `cargo test` runs on stable: the files under `tests/data/fuzz/<target>/` and
//! the seed corpus `fuzz/seeds/<target>/` go through the same check the fuzz target
//! `<target>` runs (`fuzz/checks.rs`; see FUZZING.md).

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// Run `check` on every file in the target's regression and seed directories.
fn run(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for dir in [
        root.join("tests/data/fuzz").join(target),
        root.join("fuzz/seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).expect("readable fuzz input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
            ran += 1;
        }
    }
    assert!(ran > 0, "no inputs for {target}");
}

#[test]
fn normalize() {
    run("normalize", checks::check_normalize);
}

#[test]
fn matcher() {
    run("matcher", checks::check_matcher);
}

#[test]
fn lexicon_yaml() {
    run("lexicon_yaml", checks::check_lexicon_yaml);
}

#[test]
fn policy_yaml() {
    run("policy_yaml", checks::check_policy_yaml);
}

#[test]
fn csv() {
    run("csv", checks::check_csv);
}

#[test]
fn jsonl() {
    run("jsonl", checks::check_jsonl);
}

#[test]
fn service() {
    run("service", checks::check_service);
}

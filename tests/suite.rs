//! Runs the behavioural suite in tests/data/*.yaml. Set ART9_SUITE_FILTER to run a subset.

use std::path::Path;

use art9::Scanner;

#[test]
fn behavioural_suite() {
    let files = art9::suite::load_suite(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    let builtin = Scanner::builtin();
    if let Err(e) = &builtin {
        eprintln!("built-in lexicons failed to load: {e}");
    }
    let filter = std::env::var("ART9_SUITE_FILTER").ok();
    let (run, failures) = art9::suite::run_suite(builtin.as_ref().ok(), &files, filter.as_deref());
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    assert!(run > 0, "no suite cases ran");
    assert!(
        failures.is_empty(),
        "{} of {run} suite cases failed",
        failures.len()
    );
}

#[test]
fn builtin_examples_and_counterexamples() {
    let scanner = Scanner::builtin().unwrap_or_else(|e| panic!("{e}"));
    let (checked, failures) = art9::suite::check_examples(&scanner, None);
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    assert!(checked > 100, "only {checked} lexicon examples");
    assert!(
        failures.is_empty(),
        "{} of {checked} lexicon examples failed",
        failures.len()
    );
}

#[test]
fn all_21_builtin_lexicons_are_embedded() {
    let set = art9::LexiconSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let mut pairs: Vec<(art9::Lang, art9::Category)> =
        set.iter().map(|l| (l.lang, l.category)).collect();
    pairs.sort();
    assert_eq!(pairs.len(), 21, "{pairs:?}");
    for lex in set.iter() {
        assert!(!lex.sources.is_empty(), "{} names no sources", lex.path);
        assert!(
            lex.entries.len() >= 3,
            "{} has {} entries",
            lex.path,
            lex.entries.len()
        );
    }
}

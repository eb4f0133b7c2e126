//! `art9 lexicon test|lint|stats|export`: the lexicon maintainer's tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use art9::lexicon::{CaseMode, Entry, MatchMode};
use art9::{normalize, LexiconSet, ScannerBuilder};
use serde_json::json;

use super::args::{LexiconCommand, LexiconExportArgs, LexiconStatsArgs, LexiconTestArgs};
use super::common;
use super::ExitCode;

pub fn run(cmd: LexiconCommand) -> Result<ExitCode> {
    match cmd {
        LexiconCommand::Test(a) => test(&a, false),
        LexiconCommand::Lint(a) => test(&a, true),
        LexiconCommand::Stats(a) => stats(&a),
        LexiconCommand::Export(a) => export(&a),
    }
}

fn load(dir: Option<&Path>) -> Result<LexiconSet> {
    match dir {
        None => Ok(LexiconSet::builtin()?),
        Some(d) => {
            // A directory given on the command line replaces the built-ins pair by pair (it is
            // a lexicon under test, typically an edited copy of `lexicons/`).
            let mut set = LexiconSet::builtin()?;
            set.add_path_replacing(d)
                .with_context(|| format!("loading lexicons from {}", d.display()))?;
            Ok(set)
        }
    }
}

/// What lint found about terms (beyond what loading checks).
#[derive(Default)]
struct Lint {
    errors: Vec<String>,
    warnings: Vec<String>,
    /// Pairs of entries of one category that share terms on purpose: their context rules are
    /// complementary (one requires a word the other forbids), so that the term is found in
    /// one kind of sentence by one entry and in another by the other. Entry ids → shared
    /// terms.
    splits: BTreeMap<(String, String), usize>,
}

/// Whether two entries split a term between them by context: a word one requires is one
/// the other forbids (e.g. a union name near membership words, and the same name when none
/// is near but an order is not either).
fn complementary(a: &Entry, b: &Entry) -> bool {
    let opposed = |x: &Entry, y: &Entry| match (&x.context, &y.context) {
        (Some(cx), Some(cy)) => cx.require.iter().any(|w| cy.forbid.contains(w)),
        _ => false,
    };
    opposed(a, b) || opposed(b, a)
}

/// Lint the terms of every entry.
fn lint_terms(set: &LexiconSet) -> Lint {
    let mut lint = Lint::default();
    // normalised term -> (lang, category, entry, term as written)
    let mut seen: BTreeMap<String, Vec<(String, String, &Entry, &str)>> = BTreeMap::new();
    for lex in set.iter() {
        for e in &lex.entries {
            for t in &e.terms {
                let n = normalize(t);
                let letters = n.chars().filter(|c| c.is_alphanumeric()).count();
                if letters <= 3 && e.case == CaseMode::Insensitive && e.context.is_none() {
                    lint.warnings.push(format!(
                        "{}:{}: entry {}: term {t:?} is {letters} letters, case-insensitive and without context: it will match ordinary words",
                        e.path, e.line, e.id
                    ));
                }
                if e.mode == MatchMode::Compound && letters <= 4 {
                    lint.warnings.push(format!(
                        "{}:{}: entry {}: compound term {t:?} is short: it will fire inside ordinary words",
                        e.path, e.line, e.id
                    ));
                }
                seen.entry(n).or_default().push((
                    e.lang.to_string(),
                    e.category.to_string(),
                    e,
                    t.as_str(),
                ));
            }
        }
    }
    for (term, uses) in &seen {
        for (i, a) in uses.iter().enumerate() {
            for b in &uses[i + 1..] {
                if a.0 != b.0 || a.2.case != b.2.case {
                    continue;
                }
                // Case-sensitive terms that differ in case never match the same text.
                if a.2.case == CaseMode::Sensitive && a.3 != b.3 {
                    continue;
                }
                let msg = format!(
                    "term {term:?} (normalised) is in both {} and {}",
                    a.2.id, b.2.id
                );
                if a.1 != b.1 || a.2.id == b.2.id {
                    lint.errors.push(msg);
                } else if complementary(a.2, b.2) {
                    *lint
                        .splits
                        .entry((a.2.id.clone(), b.2.id.clone()))
                        .or_default() += 1;
                } else {
                    lint.warnings.push(msg);
                }
            }
        }
    }
    lint.errors.dedup();
    lint.warnings.dedup();
    lint
}

fn test(a: &LexiconTestArgs, lint: bool) -> Result<ExitCode> {
    let set = load(a.dir.as_deref())?;
    let scanner = ScannerBuilder::new().lexicons(set.clone()).build()?;
    let mut failures = 0usize;
    if lint {
        let Lint {
            errors,
            warnings,
            splits,
        } = lint_terms(&set);
        for w in &warnings {
            outln!("warning: {w}");
        }
        for e in &errors {
            outln!("error: {e}");
        }
        for ((a, b), n) in &splits {
            outln!(
                "note: {a} and {b} share {n} term{}, split by context (one requires a word \
                 the other forbids): deliberate, not a warning",
                if *n == 1 { "" } else { "s" }
            );
        }
        failures += errors.len();
        outln!(
            "lint: {} errors, {} warnings, {} deliberate splits (notes)",
            errors.len(),
            warnings.len(),
            splits.len()
        );
    }
    let (checked, fails) = art9::suite::check_examples(&scanner, a.filter.as_deref());
    for f in &fails {
        outln!("FAIL {f}");
    }
    outln!(
        "examples: {} checked, {} passed, {} failed",
        checked,
        checked - fails.len(),
        fails.len()
    );
    failures += fails.len();
    let (checked, fails) = art9::suite::check_cue_examples(&scanner, a.filter.as_deref());
    for f in &fails {
        outln!("FAIL {f}");
    }
    outln!(
        "cue examples: {} checked, {} passed, {} failed",
        checked,
        checked - fails.len(),
        fails.len()
    );
    failures += fails.len();
    let suite_dir: Option<PathBuf> = match &a.suite {
        Some(d) => Some(d.clone()),
        None => {
            let d = PathBuf::from("tests/data");
            d.is_dir().then_some(d)
        }
    };
    if !lint {
        if let Some(dir) = suite_dir {
            let files = art9::suite::load_suite(&dir).map_err(anyhow::Error::msg)?;
            let (run, fails) = art9::suite::run_suite(Some(&scanner), &files, a.filter.as_deref());
            for f in &fails {
                outln!("FAIL {f}");
            }
            outln!(
                "suite {}: {} cases, {} passed, {} failed",
                dir.display(),
                run,
                run - fails.len(),
                fails.len()
            );
            failures += fails.len();
        }
    }
    Ok(if failures == 0 {
        ExitCode::Clean
    } else {
        ExitCode::Found
    })
}

fn stats(a: &LexiconStatsArgs) -> Result<ExitCode> {
    let set = common::lexicon_set(&a.lexicons)?;
    let mut rows = Vec::new();
    for lex in set.iter() {
        let mut by_mode: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for e in &lex.entries {
            let m = by_mode.entry(e.mode.as_str()).or_default();
            m.0 += 1;
            m.1 += e.terms.len();
        }
        for (mode, (entries, terms)) in by_mode {
            rows.push((
                lex.lang.to_string(),
                lex.category.to_string(),
                mode,
                entries,
                terms,
            ));
        }
    }
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(l, c, m, e, t)| json!({"lang": l, "category": c, "mode": m, "entries": e, "terms": t}))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        outln!(
            "{:<4} {:<20} {:<9} {:>7} {:>7}",
            "LANG",
            "CATEGORY",
            "MODE",
            "ENTRIES",
            "TERMS"
        );
        let (mut te, mut tt) = (0, 0);
        for (l, c, m, e, t) in &rows {
            outln!("{l:<4} {c:<20} {m:<9} {e:>7} {t:>7}");
            te += e;
            tt += t;
        }
        outln!("{:<4} {:<20} {:<9} {te:>7} {tt:>7}", "all", "", "");
    }
    Ok(ExitCode::Clean)
}

fn export(a: &LexiconExportArgs) -> Result<ExitCode> {
    let set = common::lexicon_set(&a.lexicons)?;
    // term -> (langs, category); the same surface form in several languages is one row.
    let mut rows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for lex in set.iter() {
        for e in &lex.entries {
            for t in &e.terms {
                let langs = rows
                    .entry((t.clone(), lex.category.to_string()))
                    .or_default();
                let l = lex.lang.to_string();
                if !langs.contains(&l) {
                    langs.push(l);
                }
            }
        }
    }
    outln!("term\tlang\tcategory");
    for ((term, cat), mut langs) in rows {
        langs.sort();
        outln!("{term}\t{}\t{cat}", langs.join(","));
    }
    Ok(ExitCode::Clean)
}

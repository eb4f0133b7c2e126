//! The data-driven behavioural suite (`tests/data/*.yaml`) and lexicon example checks.
//!
//! A suite file:
//! ```yaml
//! cases:
//!   - name: nl-compound-kankerpatient
//!     lexicon: builtin            # default; or a lexicon file/dir relative to the suite file
//!     text: "Dhr. is kankerpatiënt."
//!     expect:                     # exactly these findings, in any order
//!       - {text: kankerpatiënt, category: health}
//!       - {start: 0, end: 3, category: health}   # byte offsets also work
//! ```
//! An empty `expect` means the text must yield no finding.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::category::Category;
use crate::grade::Move;
use crate::lexicon::LexiconSet;
use crate::matcher::{Scanner, ScannerBuilder, Verdict};
use crate::yaml::{read_yaml_file, yaml_error_parts, yaml_options};

/// One suite file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// The cases.
    pub cases: Vec<Case>,
}

/// One behavioural case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique name.
    pub name: String,
    /// `builtin` (default) or a lexicon file/dir relative to the suite file.
    #[serde(default)]
    pub lexicon: Option<String>,
    /// The note.
    pub text: String,
    /// The expected findings.
    #[serde(default)]
    pub expect: Vec<Expected>,
}

/// An expected finding: by text (first occurrence, or `occurrence`) or by byte offsets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The exact span text.
    #[serde(default)]
    pub text: Option<String>,
    /// 1-based occurrence of `text`.
    #[serde(default)]
    pub occurrence: Option<usize>,
    /// Byte start.
    #[serde(default)]
    pub start: Option<usize>,
    /// Byte end.
    #[serde(default)]
    pub end: Option<usize>,
    /// Category.
    pub category: Category,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Case name or entry id.
    pub name: String,
    /// What went wrong (may quote lexicon examples, which are synthetic test text).
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// Check every entry's examples (must match the entry) and counterexamples (must not).
/// An entry "matches" when it passes its own checks, even if a longer finding wins the span.
pub fn check_examples(scanner: &Scanner, filter: Option<&str>) -> (usize, Vec<Failure>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (i, e) in scanner.entries().iter().enumerate() {
        if filter.is_some_and(|f| !e.id.contains(f)) {
            continue;
        }
        let matches = |text: &str| {
            scanner.explain(text).iter().any(|x| {
                x.entry.index() == i
                    && matches!(x.verdict, Verdict::Accepted | Verdict::Overlapped { .. })
            })
        };
        for ex in &e.examples {
            checked += 1;
            if !matches(ex) {
                failures.push(Failure {
                    name: e.id.clone(),
                    message: format!("{}:{}: example does not match: {ex:?}", e.path, e.line),
                });
            }
        }
        for cx in &e.counterexamples {
            checked += 1;
            if matches(cx) {
                failures.push(Failure {
                    name: e.id.clone(),
                    message: format!("{}:{}: counterexample matches: {cx:?}", e.path, e.line),
                });
            }
        }
    }
    (checked, failures)
}

/// Check every context cue's examples (a finding in the note must be moved by the cue) and
/// counterexamples (no finding may be), as `art9 explain` grades them.
pub fn check_cue_examples(scanner: &Scanner, filter: Option<&str>) -> (usize, Vec<Failure>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for cue in scanner.grader().cues() {
        if filter.is_some_and(|f| !cue.id.contains(f)) {
            continue;
        }
        let moved = |text: &str| {
            scanner.explain(text).iter().any(|x| {
                x.graded.as_ref().is_some_and(|g| {
                    g.moves
                        .iter()
                        .any(|m| matches!(m, Move::Cue { id, .. } if *id == cue.id))
                })
            })
        };
        for (list, want, what) in [
            (
                &cue.examples,
                true,
                "example: no finding is moved by the cue",
            ),
            (
                &cue.counterexamples,
                false,
                "counterexample: a finding is moved by the cue",
            ),
        ] {
            for ex in list {
                checked += 1;
                if moved(ex) != want {
                    failures.push(Failure {
                        name: cue.id.clone(),
                        message: format!("{}:{}: {what}: {ex:?}", cue.path, cue.line),
                    });
                }
            }
        }
    }
    (checked, failures)
}

/// Load the suite files of a directory, in path order.
///
/// # Errors
/// A file that cannot be read or parsed, as `path:line: message`.
pub fn load_suite(dir: &Path) -> Result<Vec<(PathBuf, SuiteFile)>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let yaml = read_yaml_file(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let suite: SuiteFile =
            serde_saphyr::from_str_with_options(&yaml, yaml_options()).map_err(|e| {
                let (line, msg) = yaml_error_parts(&e);
                format!("{}:{}: {msg}", f.display(), line.unwrap_or(0))
            })?;
        out.push((f, suite));
    }
    Ok(out)
}

/// Run the suite. `builtin` is the scanner for `lexicon: builtin` cases (`None`: such cases
/// fail).
pub fn run_suite(
    builtin: Option<&Scanner>,
    files: &[(PathBuf, SuiteFile)],
    filter: Option<&str>,
) -> (usize, Vec<Failure>) {
    let mut scanners: BTreeMap<PathBuf, Result<Scanner, String>> = BTreeMap::new();
    let mut names = std::collections::HashSet::new();
    let mut run = 0;
    let mut failures = Vec::new();
    for (path, suite) in files {
        for case in &suite.cases {
            if filter.is_some_and(|f| !case.name.contains(f)) {
                continue;
            }
            run += 1;
            let fail = |message: String| Failure {
                name: case.name.clone(),
                message: format!("{}: {message}", path.display()),
            };
            if !names.insert(case.name.clone()) {
                failures.push(fail("duplicate case name".into()));
                continue;
            }
            let scanner = match case.lexicon.as_deref() {
                None | Some("builtin") => match builtin {
                    Some(b) => b,
                    None => {
                        failures.push(fail("the built-in lexicons did not load".into()));
                        continue;
                    }
                },
                Some(rel) => {
                    let p = path.parent().unwrap_or(Path::new(".")).join(rel);
                    let entry = scanners.entry(p.clone()).or_insert_with(|| {
                        let mut set = LexiconSet::new();
                        set.add_path(&p).map_err(|e| e.to_string())?;
                        ScannerBuilder::new()
                            .lexicons(set)
                            .build()
                            .map_err(|e| e.to_string())
                    });
                    match entry {
                        Ok(s) => s,
                        Err(e) => {
                            failures.push(fail(format!("lexicon {rel}: {e}")));
                            continue;
                        }
                    }
                }
            };
            let mut want = Vec::new();
            let mut bad = None;
            for x in &case.expect {
                match (&x.text, x.start, x.end) {
                    (Some(t), None, None) => {
                        let occ = x.occurrence.unwrap_or(1).max(1);
                        match case.text.match_indices(t.as_str()).nth(occ - 1) {
                            Some((s, _)) => want.push((s, s + t.len(), x.category)),
                            None => {
                                bad = Some(format!("expected text {t:?} is not in the case text"))
                            }
                        }
                    }
                    (None, Some(s), Some(e)) => want.push((s, e, x.category)),
                    _ => bad = Some("an expectation needs text, or start and end".into()),
                }
            }
            if let Some(b) = bad {
                failures.push(fail(b));
                continue;
            }
            want.sort();
            let mut got: Vec<(usize, usize, Category)> = scanner
                .scan(&case.text)
                .iter()
                .map(|f| (f.start, f.end, f.category))
                .collect();
            got.sort();
            if got != want {
                let show = |v: &[(usize, usize, Category)]| {
                    v.iter()
                        .map(|(s, e, c)| {
                            format!("{:?}@{s}..{e} {c}", &case.text.get(*s..*e).unwrap_or("?"))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                failures.push(fail(format!(
                    "expected [{}], got [{}]",
                    show(&want),
                    show(&got)
                )));
            }
        }
    }
    (run, failures)
}

//! Peer expectations: the keyword-matching test tables of flashtext and of Presidio's deny-list
//! recognizer, run against art9's matcher with whole-word semantics.
//!
//! For every case a lexicon is built in memory (`lang: en`, `category: health`, `match: word`,
//! case sensitive or insensitive per the case) with one entry per keyword group, and the spans
//! art9 finds are compared with the ones the peer expects. Where art9 deliberately behaves
//! differently the case is listed in [`DIVERGENCES`] with the reason; those cases are asserted
//! to *still* diverge, so the list cannot silently go stale. LEXICONS.md carries the same list.
//!
//! The tables live in `../shared/reference/peer-tests` (outside this repository). When that
//! directory is missing the test prints "skipped: ../shared not found" and passes.
//! Set `ART9_PEERS_VERBOSE=1` to print every case with what art9 found.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use art9::{Lexicon, LexiconSet, Scanner, ScannerBuilder};
use serde_json::Value;

/// Cases where art9 intentionally differs from the peer: case name -> reason.
///
/// Names: `flashtext/extract/NN[/cs]`, `flashtext/remove/NN[/cs]` (NN = index in the JSON file,
/// `/cs` = the case-sensitive run), `presidio/<id>`.
const DIVERGENCES: &[(&str, &str)] = &[
    (
        "flashtext/probe/accented-letter-is-boundary",
        "flashtext's word characters are only [A-Za-z0-9_], so an accented letter ends a word and \
         'caf' is found inside 'café'; art9 treats every Unicode letter as a word character",
    ),
    (
        "flashtext/probe/danish-letter-is-boundary",
        "same rule for æ/ø/å: flashtext finds 'kr' inside 'kræft'; for Danish text that would make \
         every short term fire inside ordinary words, so art9 does not",
    ),
    (
        "flashtext/probe/underscore-is-word-char",
        "flashtext counts '_' as a word character ('python_3' is one word); art9's word \
         characters are letters and digits only, so '_' is a boundary",
    ),
    (
        "presidio/probe/underscore-is-word-char",
        "Presidio's \\W excludes '_', so 'python_3' hides 'python'; art9 treats '_' as a boundary",
    ),
    (
        "presidio/probe/punctuation-ending-term-glued",
        "a term ending in punctuation ('Mr.') needs a non-word character after it in Presidio \
         ('Mr.Smith' does not match); in art9 the term's own final '.' already supplies the boundary",
    ),
    (
        "presidio/probe/diacritics-folded",
        "art9 matches on normalised text (diacritics folded, NORMALIZATION.md), so 'cafe' \
         finds 'café'; Presidio's regex compares characters literally",
    ),
    (
        "presidio/probe/list-order-vs-longest",
        "Presidio's alternation takes the first listed term that matches ('A B'); art9 resolves \
         overlaps by the longest finding ('A B C')",
    ),
];

/// Cases written for art9 from each peer's documented matching rule (flashtext: word characters
/// `[A-Za-z0-9_]`, see its SOURCES.md; Presidio: `(?:^|(?<=\W))(t1|t2)(?:(?=\W)|$)`, case
/// insensitive, see deny_list_cases.json). The peer's tables do not exercise these rules, so
/// without them the known semantic differences would go untested. Expected spans are what the
/// peer's rule yields (checked with Python's `re`): (name, terms, text, [char start, end)).
/// (case name, terms, text, expected char spans).
type Probe = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [(usize, usize)],
);

const PROBES: &[Probe] = &[
    (
        "flashtext/probe/accented-letter-is-boundary",
        &["caf"],
        "un café noir",
        &[(3, 6)],
    ),
    (
        "flashtext/probe/danish-letter-is-boundary",
        &["kr"],
        "kræft",
        &[(0, 2)],
    ),
    (
        "flashtext/probe/underscore-is-word-char",
        &["python"],
        "python_3 release",
        &[],
    ),
    (
        "flashtext/probe/multi-word",
        &["new york"],
        "I love New York!",
        &[(7, 15)],
    ),
    (
        "presidio/probe/underscore-is-word-char",
        &["python"],
        "use python_3",
        &[],
    ),
    (
        "presidio/probe/punctuation-ending-term-glued",
        &["Mr."],
        "Mr.Smith",
        &[],
    ),
    (
        "presidio/probe/punctuation-ending-term-spaced",
        &["Mr."],
        "Mr. Smith",
        &[(0, 3)],
    ),
    ("presidio/probe/diacritics-folded", &["cafe"], "café", &[]),
    (
        "presidio/probe/list-order-vs-longest",
        &["A B", "A B C"],
        "A B C",
        &[(0, 3)],
    ),
];

/// `../shared/reference/peer-tests`, or `$ART9_PEER_TESTS` when set (used to check the skip path).
fn peer_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("ART9_PEER_TESTS").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/reference/peer-tests"
            ))
        },
        PathBuf::from,
    );
    dir.is_dir().then_some(dir)
}

fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A scanner with one `word` entry per group of surface forms (entry `k<i>` = group i).
fn scanner_for(groups: &[Vec<String>], case_sensitive: bool) -> Scanner {
    let mut yaml = String::from(
        "lang: en\ncategory: health\ndescription: peer test\nsources:\n  - name: peer test tables\n    licence: MIT\nentries:\n",
    );
    for (i, terms) in groups.iter().enumerate() {
        let quoted: Vec<String> = terms
            .iter()
            .map(|t| serde_json::to_string(t).expect("string serialises"))
            .collect();
        yaml.push_str(&format!(
            "  - id: en.health.k{i}\n    terms: [{}]\n    match: word\n    case: {}\n",
            quoted.join(", "),
            if case_sensitive {
                "sensitive"
            } else {
                "insensitive"
            }
        ));
    }
    let lexicon = Lexicon::from_yaml("peers.yaml", &yaml)
        .unwrap_or_else(|e| panic!("generated lexicon rejected: {e}\n{yaml}"));
    let mut set = LexiconSet::new();
    set.insert(lexicon).unwrap_or_else(|e| panic!("{e}"));
    ScannerBuilder::new()
        .lexicons(set)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Findings as (group index, char start, char end), in text order.
fn find(scanner: &Scanner, text: &str) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = scanner
        .scan(text)
        .iter()
        .map(|f| {
            let id = &scanner.entry(f.entry).id;
            let group = id
                .rsplit(".k")
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected entry id {id}"));
            (group, f.char_start, f.char_end)
        })
        .collect();
    out.sort_by_key(|&(_, s, _)| s);
    out
}

/// One peer case after running it: did art9 agree, and a line to show if not.
struct Outcome {
    name: String,
    agrees: bool,
    report: String,
}

fn flashtext_cases(dir: &Path, file: &str, kind: &str, out: &mut Vec<Outcome>) {
    let cases = load_json(&dir.join("flashtext").join(file));
    let cases = cases.as_array().expect("flashtext file is a JSON array");
    for (i, case) in cases.iter().enumerate() {
        let sentence = case["sentence"].as_str().expect("sentence");
        let removed: BTreeSet<String> = case
            .get("remove_keyword_dict")
            .and_then(Value::as_object)
            .map(|m| {
                m.values()
                    .flat_map(|v| v.as_array().into_iter().flatten())
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut names = Vec::new();
        let mut groups = Vec::new();
        for (clean, forms) in case["keyword_dict"].as_object().expect("keyword_dict") {
            let forms: Vec<String> = forms
                .as_array()
                .expect("forms")
                .iter()
                .filter_map(Value::as_str)
                .filter(|f| !removed.contains(*f))
                .map(str::to_string)
                .collect();
            if !forms.is_empty() {
                names.push(clean.clone());
                groups.push(forms);
            }
        }
        for (sensitive, key, suffix) in [
            (false, "keywords", ""),
            (true, "keywords_case_sensitive", "/cs"),
        ] {
            let expected: Vec<String> = case[key]
                .as_array()
                .expect("expected keywords")
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let found: Vec<String> = if groups.is_empty() {
                Vec::new()
            } else {
                let scanner = scanner_for(&groups, sensitive);
                find(&scanner, sentence)
                    .into_iter()
                    .map(|(g, _, _)| names[g].clone())
                    .collect()
            };
            out.push(Outcome {
                name: format!("flashtext/{kind}/{i:02}{suffix}"),
                agrees: found == expected,
                report: format!("{sentence:?}: expected {expected:?}, art9 found {found:?}"),
            });
        }
    }
}

fn presidio_cases(dir: &Path, out: &mut Vec<Outcome>) {
    let doc = load_json(&dir.join("presidio").join("deny_list_cases.json"));
    for case in doc["cases"].as_array().expect("cases") {
        let id = case["id"].as_str().expect("id");
        let text = case["text"].as_str().expect("text");
        let terms: Vec<String> = case["deny_list"]
            .as_array()
            .expect("deny_list")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let sensitive = !case["case_insensitive"].as_bool().unwrap_or(true);
        let found: Vec<(usize, usize)> = if terms.is_empty() {
            Vec::new()
        } else {
            // One entry per term, so a term that art9 cannot load is reported per case.
            let groups: Vec<Vec<String>> = terms.iter().map(|t| vec![t.clone()]).collect();
            let scanner = scanner_for(&groups, sensitive);
            find(&scanner, text)
                .into_iter()
                .map(|(_, s, e)| (s, e))
                .collect()
        };
        let want_count = case["expected_count"].as_u64().expect("expected_count") as usize;
        let want_spans: Option<Vec<(usize, usize)>> = case.get("expected_spans").map(|v| {
            v.as_array()
                .expect("spans")
                .iter()
                .map(|p| {
                    (
                        p[0].as_u64().expect("start") as usize,
                        p[1].as_u64().expect("end") as usize,
                    )
                })
                .collect()
        });
        let agrees = found.len() == want_count && want_spans.as_ref().is_none_or(|w| *w == found);
        out.push(Outcome {
            name: format!("presidio/{id}"),
            agrees,
            report: format!(
                "{text:?} deny {terms:?}: expected {want_count} {want_spans:?}, art9 found {found:?}"
            ),
        });
    }
}

#[test]
fn peer_expectations() {
    let Some(dir) = peer_dir() else {
        eprintln!("skipped: ../shared not found");
        return;
    };
    let mut outcomes = Vec::new();
    flashtext_cases(
        &dir,
        "keyword_extractor_test_cases.json",
        "extract",
        &mut outcomes,
    );
    flashtext_cases(
        &dir,
        "keyword_remover_test_cases.json",
        "remove",
        &mut outcomes,
    );
    presidio_cases(&dir, &mut outcomes);
    for (name, terms, text, want) in PROBES {
        let groups: Vec<Vec<String>> = terms.iter().map(|t| vec![t.to_string()]).collect();
        let found: Vec<(usize, usize)> = find(&scanner_for(&groups, false), text)
            .into_iter()
            .map(|(_, s, e)| (s, e))
            .collect();
        outcomes.push(Outcome {
            name: name.to_string(),
            agrees: found == *want,
            report: format!(
                "{text:?} terms {terms:?}: peer rule gives {want:?}, art9 found {found:?}"
            ),
        });
    }
    assert!(
        outcomes.len() > 100,
        "only {} peer cases ran",
        outcomes.len()
    );

    let mut problems = Vec::new();
    for (name, _) in DIVERGENCES {
        if !outcomes.iter().any(|o| o.name == *name) {
            problems.push(format!(
                "DIVERGENCES names {name}, which is not a peer case"
            ));
        }
    }
    let verbose = std::env::var_os("ART9_PEERS_VERBOSE").is_some();
    let mut diverged = 0;
    for o in &outcomes {
        if verbose {
            eprintln!(
                "{} {}: {}",
                if o.agrees { "agree" } else { "DIFFER" },
                o.name,
                o.report
            );
        }
        let listed = DIVERGENCES.iter().find(|(n, _)| *n == o.name);
        match (o.agrees, listed) {
            (true, None) => {}
            (false, Some((_, why))) => {
                diverged += 1;
                eprintln!("documented divergence {}: {} ({why})", o.name, o.report);
            }
            (false, None) => problems.push(format!("{} disagrees: {}", o.name, o.report)),
            (true, Some(_)) => problems.push(format!(
                "{} now agrees with the peer; remove it from DIVERGENCES and LEXICONS.md: {}",
                o.name, o.report
            )),
        }
    }
    eprintln!(
        "peer cases: {} run, {} agree, {} documented divergences",
        outcomes.len(),
        outcomes.len() - diverged - problems.len(),
        diverged
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

//! Scoring against a labelled corpus (format: `CATEGORIES.md` of the shared corpus), computing
//! exactly what `shared/eval/evaluate.py` computes: per-category note-level P/R/F1, span
//! recall/precision, per-language scores, clean notes flagged, core and all micro F1.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::category::Category;

/// One labelled note.
#[derive(Clone, Debug, Deserialize)]
pub struct Note {
    /// Note id.
    pub id: String,
    /// Language code.
    pub lang: String,
    /// The text.
    pub text: String,
    /// Gold spans.
    #[serde(default)]
    pub spans: Vec<GoldSpan>,
    /// Marked as a trap (optional).
    #[serde(default)]
    pub trap: bool,
}

/// A gold span: exact text, nth occurrence.
#[derive(Clone, Debug, Deserialize)]
pub struct GoldSpan {
    /// Exact text.
    pub text: String,
    /// Category name.
    pub category: String,
    /// 1-based occurrence (default 1).
    #[serde(default)]
    pub occurrence: Option<usize>,
}

/// A finding as the scorer sees it: category and char range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Category name.
    pub category: String,
    /// Char start.
    pub char_start: usize,
    /// Char end.
    pub char_end: usize,
}

/// Precision, recall, F1 with counts.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct CategoryScore {
    /// Precision.
    pub P: f64,
    /// Recall.
    pub R: f64,
    /// F1.
    pub F1: f64,
    /// True positives (notes).
    pub tp: u64,
    /// False positives (notes).
    pub fp: u64,
    /// False negatives (notes).
    pub r#fn: u64,
    /// Share of gold spans overlapped by a finding of the category.
    pub span_recall: Option<f64>,
    /// Share of findings overlapping a gold span of the category.
    pub span_precision: Option<f64>,
}

/// P/R/F1 only.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct Prf {
    /// Precision.
    pub P: f64,
    /// Recall.
    pub R: f64,
    /// F1.
    pub F1: f64,
}

/// P/R/F1 with support.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct PrfSupport {
    /// Precision.
    pub P: f64,
    /// Recall.
    pub R: f64,
    /// F1.
    pub F1: f64,
    /// Notes with the category in gold.
    pub support: u64,
}

/// The whole report, with the same keys as `evaluate.py --json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Per category.
    pub categories: BTreeMap<String, CategoryScore>,
    /// Per language (micro over categories).
    pub languages: BTreeMap<String, Prf>,
    /// Per language × category.
    pub by_language: BTreeMap<String, BTreeMap<String, PrfSupport>>,
    /// Micro over the four core categories.
    pub core_micro: Prf,
    /// Micro over all categories.
    pub all_micro: Prf,
    /// "flagged/clean".
    pub clean_notes_flagged: String,
    /// Rate of clean notes flagged.
    pub clean_notes_flagged_rate: f64,
    /// Findings that could not be matched to a note.
    pub unreadable_findings: u64,
    /// Note ids of false positives per category (not in evaluate.py).
    pub false_positives: BTreeMap<String, Vec<String>>,
    /// Note ids of false negatives per category (not in evaluate.py).
    pub false_negatives: BTreeMap<String, Vec<String>>,
    /// Clean note ids that were flagged.
    pub clean_flagged_ids: Vec<String>,
}

fn prf(t: u64, p: u64, f: u64) -> (f64, f64, f64) {
    let pp = if t + p > 0 {
        t as f64 / (t + p) as f64
    } else {
        1.0
    };
    let r = if t + f > 0 {
        t as f64 / (t + f) as f64
    } else {
        1.0
    };
    let f1 = if pp + r > 0.0 {
        2.0 * pp * r / (pp + r)
    } else {
        0.0
    };
    (pp, r, f1)
}

/// Char offsets of each gold span (as evaluate.py finds them: nth occurrence, overlapping
/// search). `None` when a span is not in the text.
pub fn gold_spans(note: &Note) -> Option<Vec<(String, usize, usize)>> {
    let text = &note.text;
    let mut out = Vec::new();
    for s in &note.spans {
        let occ = s.occurrence.unwrap_or(1);
        let mut pos: Option<usize> = None; // byte position of the last hit
        for _ in 0..occ {
            let from = match pos {
                None => 0,
                Some(p) => p + text[p..].chars().next().map_or(1, char::len_utf8),
            };
            pos = Some(from + text.get(from..)?.find(s.text.as_str())?);
        }
        let b = pos?;
        let cs = text[..b].chars().count();
        let ce = cs + s.text.chars().count();
        out.push((s.category.clone(), cs, ce));
    }
    Some(out)
}

/// Score findings (by note id) against the notes.
pub fn score(notes: &[Note], found: &HashMap<String, Vec<Found>>, unreadable: u64) -> Report {
    let cats: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let core: Vec<&str> = Category::CORE.iter().map(|c| c.as_str()).collect();
    let mut tp: HashMap<&str, u64> = HashMap::new();
    let mut fp: HashMap<&str, u64> = HashMap::new();
    let mut fnn: HashMap<&str, u64> = HashMap::new();
    let mut span_hit: HashMap<&str, u64> = HashMap::new();
    let mut span_all: HashMap<&str, u64> = HashMap::new();
    let mut find_ok: HashMap<String, u64> = HashMap::new();
    let mut find_all: HashMap<String, u64> = HashMap::new();
    let mut lang_t: HashMap<String, (u64, u64, u64)> = HashMap::new();
    let mut lc: HashMap<(String, &str), (u64, u64, u64)> = HashMap::new();
    let mut fps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut fns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut clean_flagged_ids = Vec::new();
    let (mut trap_notes, mut trap_flagged) = (0u64, 0u64);
    let empty = Vec::new();
    for n in notes {
        let g = gold_spans(n).unwrap_or_default();
        let gcats: BTreeSet<&str> = g.iter().map(|x| x.0.as_str()).collect();
        let fs = found.get(&n.id).unwrap_or(&empty);
        let fcats: BTreeSet<&str> = fs.iter().map(|f| f.category.as_str()).collect();
        let l = n.lang.clone();
        lang_t.entry(l.clone()).or_default();
        for &c in &cats {
            let e = lc.entry((l.clone(), c)).or_default();
            let lt = lang_t.entry(l.clone()).or_default();
            match (gcats.contains(c), fcats.contains(c)) {
                (true, true) => {
                    *tp.entry(c).or_default() += 1;
                    lt.0 += 1;
                    e.0 += 1;
                }
                (false, true) => {
                    *fp.entry(c).or_default() += 1;
                    lt.1 += 1;
                    e.1 += 1;
                    fps.entry(c.to_string()).or_default().push(n.id.clone());
                }
                (true, false) => {
                    *fnn.entry(c).or_default() += 1;
                    lt.2 += 1;
                    e.2 += 1;
                    fns.entry(c.to_string()).or_default().push(n.id.clone());
                }
                (false, false) => {}
            }
        }
        for (c, cs, ce) in &g {
            let c = cats
                .iter()
                .find(|x| **x == c.as_str())
                .copied()
                .unwrap_or("other");
            *span_all.entry(c).or_default() += 1;
            if fs
                .iter()
                .any(|f| f.category == c && f.char_start < *ce && f.char_end > *cs)
            {
                *span_hit.entry(c).or_default() += 1;
            }
        }
        for f in fs {
            *find_all.entry(f.category.clone()).or_default() += 1;
            if g.iter()
                .any(|(c, cs, ce)| *c == f.category && f.char_start < *ce && f.char_end > *cs)
            {
                *find_ok.entry(f.category.clone()).or_default() += 1;
            }
        }
        if g.is_empty() {
            trap_notes += 1;
            if !fs.is_empty() {
                trap_flagged += 1;
                clean_flagged_ids.push(n.id.clone());
            }
        }
    }
    let get = |m: &HashMap<&str, u64>, c: &str| m.get(c).copied().unwrap_or(0);
    let mut categories = BTreeMap::new();
    for &c in &cats {
        let (p, r, f1) = prf(get(&tp, c), get(&fp, c), get(&fnn, c));
        let sa = get(&span_all, c);
        let fa = find_all.get(c).copied().unwrap_or(0);
        categories.insert(
            c.to_string(),
            CategoryScore {
                P: p,
                R: r,
                F1: f1,
                tp: get(&tp, c),
                fp: get(&fp, c),
                r#fn: get(&fnn, c),
                span_recall: (sa > 0).then(|| get(&span_hit, c) as f64 / sa as f64),
                span_precision: (fa > 0)
                    .then(|| find_ok.get(c).copied().unwrap_or(0) as f64 / fa as f64),
            },
        );
    }
    let mut languages = BTreeMap::new();
    let mut by_language = BTreeMap::new();
    for (l, (t, p, f)) in &lang_t {
        let (pp, r, f1) = prf(*t, *p, *f);
        languages.insert(
            l.clone(),
            Prf {
                P: pp,
                R: r,
                F1: f1,
            },
        );
        let mut m = BTreeMap::new();
        for &c in &cats {
            let (t, p, f) = lc.get(&(l.clone(), c)).copied().unwrap_or_default();
            let (pp, r, f1) = prf(t, p, f);
            m.insert(
                c.to_string(),
                PrfSupport {
                    P: pp,
                    R: r,
                    F1: f1,
                    support: t + f,
                },
            );
        }
        by_language.insert(l.clone(), m);
    }
    let sum = |m: &HashMap<&str, u64>, which: &[&str]| which.iter().map(|c| get(m, c)).sum::<u64>();
    let (p, r, f1) = prf(sum(&tp, &core), sum(&fp, &core), sum(&fnn, &core));
    let core_micro = Prf { P: p, R: r, F1: f1 };
    let (p, r, f1) = prf(sum(&tp, &cats), sum(&fp, &cats), sum(&fnn, &cats));
    let all_micro = Prf { P: p, R: r, F1: f1 };
    Report {
        categories,
        languages,
        by_language,
        core_micro,
        all_micro,
        clean_notes_flagged: format!("{trap_flagged}/{trap_notes}"),
        clean_notes_flagged_rate: if trap_notes > 0 {
            trap_flagged as f64 / trap_notes as f64
        } else {
            0.0
        },
        unreadable_findings: unreadable,
        false_positives: fps,
        false_negatives: fns,
        clean_flagged_ids,
    }
}

/// The report as text, in the layout of `evaluate.py`.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "{:20} {:>5} {:>5} {:>5} {:>4} {:>4} {:>4} {:>6} {:>6}\n",
        "category", "P", "R", "F1", "tp", "fp", "fn", "spanR", "spanP"
    );
    for c in Category::ALL {
        let s = &r.categories[c.as_str()];
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
        out.push_str(&format!(
            "{:20} {:5.2} {:5.2} {:5.2} {:4} {:4} {:4} {:>6} {:>6}\n",
            c.as_str(),
            s.P,
            s.R,
            s.F1,
            s.tp,
            s.fp,
            s.r#fn,
            f(s.span_recall),
            f(s.span_precision)
        ));
    }
    for (l, s) in &r.languages {
        out.push_str(&format!(
            "lang {l:15} {:5.2} {:5.2} {:5.2}\n",
            s.P, s.R, s.F1
        ));
    }
    out.push_str("F1 by language x category (support):\n");
    for (l, cats) in &r.by_language {
        let cells: Vec<String> = Category::ALL
            .iter()
            .map(|c| {
                let v = &cats[c.as_str()];
                let name: String = c.as_str().chars().take(9).collect();
                format!("{name}={:.2}({})", v.F1, v.support)
            })
            .collect();
        out.push_str(&format!("  {l}: {}\n", cells.join("  ")));
    }
    out.push_str(&format!(
        "clean notes flagged: {}; unreadable findings: {}\n",
        r.clean_notes_flagged, r.unreadable_findings
    ));
    out.push_str(&format!(
        "core micro P={:.3} R={:.3} F1={:.3}; all micro F1={:.3}\n",
        r.core_micro.P, r.core_micro.R, r.core_micro.F1, r.all_micro.F1
    ));
    out
}

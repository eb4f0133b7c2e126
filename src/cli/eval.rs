//! `art9 eval CORPUS.jsonl`: the scores of shared/eval/evaluate.py, computed in Rust, plus the
//! ids of false positives and negatives.

use std::collections::HashMap;
use std::io::BufRead;

use anyhow::{bail, Context, Result};
use art9::eval::{render, score, Found, Note};
use art9::policy::DEFAULT_MIN_LIKELIHOOD;
use art9::{Lang, Likelihood, Scanner};

use super::args::EvalArgs;
use super::common;
use super::ExitCode;

pub fn eval(a: EvalArgs) -> Result<ExitCode> {
    let (reader, _) = common::open_input(&a.corpus, Default::default())?;
    let mut notes = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", a.corpus, i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let note: Note = serde_json::from_str(&line).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: not a corpus note (column {})",
                a.corpus,
                i + 1,
                e.column()
            )
        })?;
        if art9::eval::gold_spans(&note).is_none() {
            bail!(
                "{}:{}: a gold span is not in note {}",
                a.corpus,
                i + 1,
                note.id
            );
        }
        notes.push(note);
    }
    let mut found: HashMap<String, Vec<Found>> = HashMap::new();
    // Scanning: every finding with its likelihood, to score each threshold.
    let mut graded: HashMap<String, Vec<(Likelihood, Found)>> = HashMap::new();
    let mut lang_lines = Vec::new();
    let min = a.min_likelihood.unwrap_or(DEFAULT_MIN_LIKELIHOOD);
    let mut unreadable = 0;
    match &a.findings {
        Some(path) => {
            let by_id: HashMap<&str, &Note> = notes.iter().map(|n| (n.id.as_str(), n)).collect();
            for line in common::open_input(path, Default::default())?.0.lines() {
                let line = line.with_context(|| format!("reading {path}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    unreadable += 1;
                    continue;
                };
                let rec = match v.get("record").or(v.get("id")).or(v.get("key")) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let (Some(note), Some(cat)) = (
                    by_id.get(rec.as_str()),
                    v.get("category").and_then(|c| c.as_str()),
                ) else {
                    unreadable += 1;
                    continue;
                };
                let (cs, ce) = match (
                    v.get("char_start").and_then(|x| x.as_u64()),
                    v.get("char_end").and_then(|x| x.as_u64()),
                ) {
                    (Some(s), Some(e)) => (s as usize, e as usize),
                    _ => {
                        let b = note.text.as_bytes();
                        let s = v.get("start").and_then(|x| x.as_u64()).unwrap_or(0) as usize;
                        let e = v.get("end").and_then(|x| x.as_u64()).unwrap_or(0) as usize;
                        let count = |n: usize| {
                            String::from_utf8_lossy(&b[..n.min(b.len())])
                                .chars()
                                .count()
                        };
                        (count(s), count(e))
                    }
                };
                found.entry(rec).or_default().push(Found {
                    category: cat.to_string(),
                    char_start: cs,
                    char_end: ce,
                });
            }
        }
        None => {
            let scanner = common::scanner(&a.lexicons, false)?;
            for n in &notes {
                let fs = scanner.scan(&n.text);
                graded.insert(
                    n.id.clone(),
                    fs.iter()
                        .map(|f| {
                            let found = Found {
                                category: f.category.as_str().to_string(),
                                char_start: f.char_start,
                                char_end: f.char_end,
                            };
                            (f.likelihood, found)
                        })
                        .collect(),
                );
            }
            found = at_threshold(&graded, min);
            lang_lines = note_lang_accuracy(&scanner, &notes);
        }
    }
    let report = score(&notes, &found, unreadable);
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::Clean);
    }
    out!("{}", render(&report));
    if !graded.is_empty() {
        outln!("scored at min_likelihood {min}; by threshold:");
        outln!(
            "  {:<14} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9}",
            "min_likelihood",
            "core P",
            "core R",
            "core F1",
            "all F1",
            "clean fl.",
            "trap fl."
        );
        for level in Likelihood::ALL {
            let f = at_threshold(&graded, level);
            let r = score(&notes, &f, 0);
            let traps: Vec<&Note> = notes
                .iter()
                .filter(|n| n.trap && n.spans.is_empty())
                .collect();
            let trap_flagged = traps
                .iter()
                .filter(|n| f.get(&n.id).is_some_and(|v| !v.is_empty()))
                .count();
            outln!(
                "  {:<14} {:>6.3} {:>6.3} {:>7.3} {:>7.3} {:>9} {:>9}",
                level.as_str(),
                r.core_micro.P,
                r.core_micro.R,
                r.core_micro.F1,
                r.all_micro.F1,
                r.clean_notes_flagged,
                format!("{trap_flagged}/{}", traps.len())
            );
        }
        for line in &lang_lines {
            outln!("{line}");
        }
    }
    let text_of: HashMap<&str, &str> = notes
        .iter()
        .map(|n| (n.id.as_str(), n.text.as_str()))
        .collect();
    let show = |label: &str, ids: &[String]| -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        outln!("{label}: {}", ids.join(" "));
        if a.show_text {
            for id in ids {
                outln!(
                    "    {id}: {}",
                    text_of.get(id.as_str()).copied().unwrap_or("")
                );
            }
        }
        Ok(())
    };
    for (cat, ids) in &report.false_positives {
        show(&format!("false positives {cat}"), ids)?;
    }
    for (cat, ids) in &report.false_negatives {
        show(&format!("false negatives {cat}"), ids)?;
    }
    show("clean notes flagged", &report.clean_flagged_ids)?;
    Ok(ExitCode::Clean)
}

/// The findings at or above `min`.
fn at_threshold(
    graded: &HashMap<String, Vec<(Likelihood, Found)>>,
    min: Likelihood,
) -> HashMap<String, Vec<Found>> {
    graded
        .iter()
        .map(|(id, fs)| {
            let kept = fs
                .iter()
                .filter(|(l, _)| *l >= min)
                .map(|(_, f)| f.clone())
                .collect();
            (id.clone(), kept)
        })
        .collect()
}

/// How often the reported note language (the function-word vote, else the trigram
/// fallback) and the vote alone (what grading uses) name each note's labelled language (all
/// notes, not only those with findings), per language, with the ids of the reported misses;
/// then how the fallback did on the notes the vote left undecided.
fn note_lang_accuracy(scanner: &Scanner, notes: &[Note]) -> Vec<String> {
    // Per language: notes, [right, und, wrong] reported, the same by the vote alone, and
    // by the fallback on the vote's und notes.
    struct Tally {
        lang: Lang,
        notes: usize,
        reported: [usize; 3],
        vote: [usize; 3],
        fallback: [usize; 3],
    }
    let mut per: Vec<Tally> = Vec::new();
    let mut misses: Vec<String> = Vec::new();
    let tally = |got: Option<Lang>, lang: Lang, t: &mut [usize; 3]| match got {
        Some(l) if l == lang => t[0] += 1,
        None => t[1] += 1,
        Some(_) => t[2] += 1,
    };
    for lang in Lang::ALL {
        let of_lang: Vec<&Note> = notes.iter().filter(|n| n.lang == lang.as_str()).collect();
        if of_lang.is_empty() {
            continue;
        }
        let (mut rep, mut vote, mut fb) = ([0; 3], [0; 3], [0; 3]);
        for n in &of_lang {
            let v = scanner.note_lang_vote(&n.text);
            let r = scanner.note_lang(&n.text);
            tally(v, lang, &mut vote);
            tally(r, lang, &mut rep);
            if v.is_none() {
                tally(r, lang, &mut fb);
            }
            match r {
                Some(l) if l == lang => {}
                None => misses.push(format!("{}=und", n.id)),
                Some(l) => misses.push(format!("{}={l}", n.id)),
            }
        }
        per.push(Tally {
            lang,
            notes: of_lang.len(),
            reported: rep,
            vote,
            fallback: fb,
        });
    }
    let total: usize = per.iter().map(|p| p.notes).sum();
    if total == 0 {
        return Vec::new();
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    let mut out = Vec::new();
    let titles = [
        "note language (reported: function-word vote, else trigram fallback)",
        "note language, function-word vote alone (what grading uses)",
    ];
    for (title, reported) in titles.into_iter().zip([true, false]) {
        let t = |p: &Tally| if reported { p.reported } else { p.vote };
        let right: usize = per.iter().map(|p| t(p)[0]).sum();
        out.push(format!(
            "{title}: {right}/{total} right ({:.1}%)",
            pct(right, total)
        ));
        for p in &per {
            let c = t(p);
            out.push(format!(
                "  {}: {}/{} ({:.1}%), und {}, another language {}",
                p.lang,
                c[0],
                p.notes,
                pct(c[0], p.notes),
                c[1],
                c[2]
            ));
        }
    }
    let fb: Vec<String> = per
        .iter()
        .map(|p| {
            let c = p.fallback;
            format!(
                "{} {}/{} right, und {}, another language {}",
                p.lang,
                c[0],
                c.iter().sum::<usize>(),
                c[1],
                c[2]
            )
        })
        .collect();
    out.push(format!(
        "  fallback on the notes the vote left und: {}",
        fb.join("; ")
    ));
    if !misses.is_empty() {
        out.push(format!("  missed (reported): {}", misses.join(" ")));
    }
    out
}

//! `art9 eval CORPUS.jsonl`: the scores of shared/eval/evaluate.py, computed in Rust, plus the
//! ids of false positives and negatives.

use std::collections::HashMap;
use std::io::BufRead;

use anyhow::{bail, Context, Result};
use art9::eval::{render, score, Found, Note};

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
                found.insert(
                    n.id.clone(),
                    fs.iter()
                        .map(|f| Found {
                            category: f.category.as_str().to_string(),
                            char_start: f.char_start,
                            char_end: f.char_end,
                        })
                        .collect(),
                );
            }
        }
    }
    let report = score(&notes, &found, unreadable);
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::Clean);
    }
    out!("{}", render(&report));
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

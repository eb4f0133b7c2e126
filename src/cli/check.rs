//! `art9 check` (one note through the policy) and `art9 explain` (why each candidate matched).

use anyhow::Result;
use art9::{mask, Outcome, Verdict};
use serde::Serialize;
use serde_json::json;

use super::args::{CheckArgs, ExplainArgs};
use super::common;
use super::ExitCode;

#[derive(Serialize)]
struct CheckFinding<'a> {
    category: &'static str,
    lang: &'static str,
    start: usize,
    end: usize,
    char_start: usize,
    char_end: usize,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a str>,
}

pub fn check(a: CheckArgs) -> Result<ExitCode> {
    if a.stdio {
        return super::stdio::run(&a);
    }
    let scanner = common::scanner(&a.lexicons)?;
    let policy = common::policy(&a.policy)?;
    let text = common::text_arg(a.text.as_deref().unwrap_or("-"))?;
    let findings = scanner.scan(&text);
    let decision = policy.decide(a.field.as_deref(), &findings);
    let rows: Vec<CheckFinding<'_>> = findings
        .iter()
        .zip(&decision.actions)
        .map(|(f, (action, _))| CheckFinding {
            category: f.category.as_str(),
            lang: f.lang.as_str(),
            start: f.start,
            end: f.end,
            char_start: f.char_start,
            char_end: f.char_end,
            action: action.as_str(),
            text: a.include_text.then(|| &text[f.start..f.end]),
            entry: a.include_text.then(|| scanner.entry(f.entry).id.as_str()),
        })
        .collect();
    let mut out = json!({
        "decision": decision.outcome.as_str(),
        "policy": policy.name(),
        "findings": rows,
    });
    if decision.outcome == Outcome::Mask {
        out["text"] = json!(mask(&text, &findings, &decision, &policy));
    }
    outln!("{out}");
    Ok(if decision.outcome == Outcome::Reject {
        ExitCode::Found
    } else {
        ExitCode::Clean
    })
}

pub fn explain(a: ExplainArgs) -> Result<ExitCode> {
    let scanner = common::scanner(&a.lexicons)?;
    let text = common::text_arg(&a.text)?;
    let explained = scanner.explain(&text);
    let mut any = false;
    if a.json {
        let rows: Vec<_> = explained
            .iter()
            .map(|x| {
                let e = scanner.entry(x.entry);
                any |= x.verdict == Verdict::Accepted;
                json!({
                    "entry": e.id,
                    "category": e.category.as_str(),
                    "lang": e.lang.as_str(),
                    "term": e.terms[x.term],
                    "mode": e.mode.as_str(),
                    "case": if e.case == art9::lexicon::CaseMode::Sensitive { "sensitive" } else { "insensitive" },
                    "start": x.start,
                    "end": x.end,
                    "text": &text[x.start..x.end],
                    "verdict": x.verdict,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        if explained.is_empty() {
            outln!("no candidate matches");
        }
        for x in &explained {
            let e = scanner.entry(x.entry);
            any |= x.verdict == Verdict::Accepted;
            let why = match &x.verdict {
                Verdict::Accepted => format!(
                    "ACCEPTED: {} match{}{}",
                    e.mode.as_str(),
                    if e.case == art9::lexicon::CaseMode::Sensitive {
                        ", case agrees"
                    } else {
                        ""
                    },
                    match &e.context {
                        Some(_) => ", context rule satisfied",
                        None => "",
                    }
                ),
                Verdict::NoWordStart => "rejected: a letter or digit comes before the term".into(),
                Verdict::NoWordEnd => {
                    "rejected: a letter or digit follows the term (no allowed ending)".into()
                }
                Verdict::CaseMismatch => "rejected: case-sensitive entry, case differs".into(),
                Verdict::Excluded { phrase } => format!("rejected: inside exclusion {phrase:?}"),
                Verdict::ContextMissing => "rejected: no required context word nearby".into(),
                Verdict::ContextForbidden { word } => {
                    format!("rejected: forbidden context word {word:?} nearby")
                }
                Verdict::MaskToken => "rejected: inside an art9 mask token".into(),
                Verdict::Overlapped { by } => format!("rejected: overlapped by {by}"),
            };
            outln!(
                "{:>5}..{:<5} {:?}  {} ({}, {}) term {:?}: {}",
                x.start,
                x.end,
                &text[x.start..x.end],
                e.id,
                e.category,
                e.lang,
                e.terms[x.term],
                why
            );
        }
    }
    Ok(if any {
        ExitCode::Found
    } else {
        ExitCode::Clean
    })
}

//! `art9 check` (one note through the policy) and `art9 explain` (why each candidate matched).

use std::collections::BTreeMap;

use anyhow::Result;
use art9::service::{Engine, Limits, Op, Request};
use art9::{Outcome, Verdict};
use serde_json::json;

use super::args::{CheckArgs, ExplainArgs};
use super::common;
use super::ExitCode;

/// `art9 check TEXT` and `art9 check -`: one request to the same [`Engine`] that answers
/// `check --stdio` and `POST /v1/check`, so that all three print the same JSON for the same
/// note and policy. `--field NAME` makes it a request with named fields (`{"fields":
/// {NAME: TEXT}}`), so that the policy's per-field rules apply. Exit 1 on `reject`.
pub fn check(a: CheckArgs) -> Result<ExitCode> {
    if a.stdio {
        return super::stdio::run(&a);
    }
    // Loaded first for its `typos` switch; its error still comes after the lexicons'.
    let policy = common::policy(&a.policy);
    let typos = policy.as_ref().is_ok_and(art9::CompiledPolicy::typos);
    let scanner = common::scanner(&a.lexicons, typos)?;
    let policy = policy?;
    let engine = Engine::new(scanner, policy);
    let arg = a.text.as_deref().unwrap_or("-");
    let mut text = common::text_arg(arg)?;
    if arg == "-" {
        strip_one_newline(&mut text);
    }
    let mut req = Request {
        include_text: a.include_text,
        min_likelihood: a.min_likelihood,
        ..Request::default()
    };
    match a.field {
        Some(name) => req.fields = Some(BTreeMap::from([(name, text)])),
        None => req.text = Some(text),
    }
    let limits = Limits::default();
    let resp = engine
        .handle(Op::Check, req, &limits)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    outln!("{}", serde_json::to_string(&resp)?);
    Ok(if resp.decision == Some(Outcome::Reject) {
        ExitCode::Found
    } else {
        ExitCode::Clean
    })
}

/// Remove one line end (`\n` or `\r\n`) from the end of a text read from standard input: the
/// newline that `echo` and editors add is not part of the note.
fn strip_one_newline(text: &mut String) {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
}

pub fn explain(a: ExplainArgs) -> Result<ExitCode> {
    let scanner = common::scanner(&a.lexicons, false)?;
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
                    "note_lang": x.note_lang.map_or("und", |l| l.as_str()),
                    "note_lang_vote": x.note_lang_vote.map_or("und", |l| l.as_str()),
                    "grade": x.graded,
                    "evasion": x.evasion,
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
                Verdict::Accepted if x.evasion == Some(art9::Evasion::Typo) => {
                    "ACCEPTED: a whole word one or two typing errors from the term".into()
                }
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
            let lane = match x.evasion {
                Some(lane) => format!(" [evasion: {lane}]"),
                None => String::new(),
            };
            outln!(
                "{:>5}..{:<5} {:?}  {} ({}, {}) term {:?}: {}{}",
                x.start,
                x.end,
                &text[x.start..x.end],
                e.id,
                e.category,
                e.lang,
                e.terms[x.term],
                why,
                lane
            );
            if let Some(g) = &x.graded {
                outln!("{}", grade_lines(g, x.note_lang, x.note_lang_vote));
            }
        }
    }
    Ok(if any {
        ExitCode::Found
    } else {
        ExitCode::Clean
    })
}

/// How `art9 explain` shows a finding's grade: base, each move, the result.
/// The note language is the reported one; when the function-word vote left it undecided
/// and the trigram fallback named it, the line says so (the grade used `und`).
fn grade_lines(
    g: &art9::grade::Graded,
    note_lang: Option<art9::Lang>,
    vote: Option<art9::Lang>,
) -> String {
    use art9::grade::Move;
    let lang = match (note_lang, vote) {
        (Some(l), None) => format!("{l} by trigrams; graded as und"),
        (l, _) => l.map_or("und", |l| l.as_str()).to_string(),
    };
    let mut s = format!(
        "             likelihood: base {} (note language {lang})",
        g.base
    );
    for m in &g.moves {
        match m {
            Move::Cue {
                id,
                kind,
                shift,
                word,
                counted,
            } => s.push_str(&format!(
                "\n               {shift:+} {} cue {id} ({word:?}){}",
                kind.as_str(),
                if *counted {
                    ""
                } else {
                    ", not counted: a stronger cue of this direction counts"
                }
            )),
            Move::Language { entry, note, shift } => s.push_str(&format!(
                "\n               {shift:+} language: a {entry} entry in a note detected as {note}"
            )),
        }
    }
    s.push_str(&format!("\n               = {}", g.likelihood));
    s
}

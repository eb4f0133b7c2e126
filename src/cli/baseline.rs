//! `art9 baseline add` and `art9 baseline prune`: keep the review baseline file.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use art9::review::baseline::is_date;
use art9::review::{Baseline, BaselineEntry, Fingerprint, Review};
use art9::Category;
use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;

use super::review::write_atomic;
use super::ExitCode;

/// `art9 baseline ...`.
#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Add reviewed findings (JSON Lines from `art9 scan --fingerprints --format jsonl`,
    /// cut down to the reviewed ones) to the baseline with one decision. Idempotent: a
    /// finding already there with the same decision, reason and reviewer is left as it is.
    Add(AddArgs),
    /// Remove entries from the baseline: those listed in a stale list (`scan --baseline
    /// FILE --stale-out STALE`), or given by --fingerprint.
    Prune(PruneArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum DecisionArg {
    /// Not special-category data: never reported, counted or masked again.
    #[value(name = "false_positive")]
    FalsePositive,
    /// Special-category data, reviewed and kept: not reported again (mask still masks it).
    Accepted,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Reviewed findings (JSON Lines with fingerprint and record keys), or - for standard
    /// input.
    #[arg(value_name = "FINDINGS.jsonl|-")]
    pub findings: String,
    /// The baseline file to add to (created if missing; rewritten sorted, atomically).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// The decision for every finding given.
    #[arg(long, value_enum)]
    pub decision: DecisionArg,
    /// Why (kept in the baseline; do not quote the note).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Who reviewed them.
    #[arg(long, value_name = "NAME")]
    pub reviewer: String,
    /// The review date, YYYY-MM-DD (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// The baseline file to prune (rewritten sorted, atomically).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// A list of stale entries (`scan --stale-out`): each is removed.
    #[arg(long, value_name = "FILE")]
    pub stale: Option<PathBuf>,
    /// A fingerprint to remove (repeatable).
    #[arg(long, value_name = "FP")]
    pub fingerprint: Vec<String>,
}

pub fn run(c: BaselineCommand) -> Result<ExitCode> {
    match c {
        BaselineCommand::Add(a) => add(a),
        BaselineCommand::Prune(a) => prune(a),
    }
}

/// What `add` reads of a finding line (other keys, offsets or text, are ignored).
#[derive(Deserialize)]
struct FindingLine {
    fingerprint: Option<Fingerprint>,
    record: Option<String>,
    field: Option<String>,
    category: Option<Category>,
}

/// The baseline in `path`, or an empty one if there is no such file.
fn load_or_new(path: &Path) -> Result<Baseline> {
    if path.exists() {
        Ok(Baseline::load(path)?)
    } else {
        Ok(Baseline::default())
    }
}

fn add(a: AddArgs) -> Result<ExitCode> {
    let date = match a.date {
        Some(d) if is_date(&d) => d,
        Some(_) => bail!("--date must be YYYY-MM-DD"),
        None => art9::output::summary::utc_now()[..10].to_string(),
    };
    if a.reviewer.trim().is_empty() {
        bail!("--reviewer must name someone");
    }
    let decision = match a.decision {
        DecisionArg::FalsePositive => Review::FalsePositive,
        DecisionArg::Accepted => Review::Accepted,
    };
    let mut baseline = load_or_new(&a.baseline)?;
    let reader: Box<dyn Read> = if a.findings == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&a.findings)
                .with_context(|| format!("cannot open {}", a.findings))?,
        )
    };
    let name = if a.findings == "-" {
        "standard input"
    } else {
        a.findings.as_str()
    };
    let (mut added, mut updated, mut same) = (0u64, 0u64, 0u64);
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("reading {name}"))?;
        let at = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // serde_json's messages can quote values (text, with --include-text): not shown.
        let f: FindingLine = serde_json::from_str(&line).map_err(|_| {
            anyhow::anyhow!(
                "{name}:{at}: not a finding (a JSON object with fingerprint, record, field and \
                 category, as scan --fingerprints --format jsonl writes)"
            )
        })?;
        let (Some(fingerprint), Some(record)) = (f.fingerprint, f.record) else {
            bail!(
                "{name}:{at}: the finding has no fingerprint or record key: scan with \
                 --fingerprints (or --baseline) and --format jsonl"
            );
        };
        let entry = BaselineEntry {
            fingerprint,
            decision,
            reason: a.reason.clone(),
            reviewer: a.reviewer.clone(),
            date: date.clone(),
            record,
            field: f.field,
            category: f.category,
        };
        match baseline.get(&fingerprint) {
            Some(old)
                if old.decision == entry.decision
                    && old.reason == entry.reason
                    && old.reviewer == entry.reviewer =>
            {
                same += 1;
            }
            Some(_) => {
                baseline.insert(entry);
                updated += 1;
            }
            None => {
                baseline.insert(entry);
                added += 1;
            }
        }
    }
    write_atomic(&a.baseline, "baseline", |w| baseline.write_jsonl(w))?;
    eprintln!(
        "art9: baseline {}: {added} added, {updated} updated (new decision, reason or \
         reviewer), {same} already there; {} entries",
        a.baseline.display(),
        baseline.len()
    );
    Ok(ExitCode::Clean)
}

fn prune(a: PruneArgs) -> Result<ExitCode> {
    if a.stale.is_none() && a.fingerprint.is_empty() {
        bail!("baseline prune needs --stale FILE or --fingerprint FP");
    }
    let baseline = Baseline::load(&a.baseline)?;
    let mut remove: std::collections::HashSet<Fingerprint> = Default::default();
    if let Some(path) = &a.stale {
        remove.extend(
            Baseline::load(path)?
                .entries()
                .iter()
                .map(|e| e.fingerprint),
        );
    }
    for fp in &a.fingerprint {
        remove.insert(
            fp.parse()
                .map_err(|e| anyhow::anyhow!("--fingerprint {fp}: {e}"))?,
        );
    }
    let before = baseline.len();
    let kept: Vec<BaselineEntry> = baseline
        .entries()
        .iter()
        .filter(|e| !remove.contains(&e.fingerprint))
        .cloned()
        .collect();
    let kept = Baseline::from_entries(kept);
    write_atomic(&a.baseline, "baseline", |w| kept.write_jsonl(w))?;
    eprintln!(
        "art9: baseline {}: {} entries removed; {} entries",
        a.baseline.display(),
        before - kept.len(),
        kept.len()
    );
    Ok(ExitCode::Clean)
}

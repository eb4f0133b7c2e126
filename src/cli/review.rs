//! The review flags of `scan` and `mask` (`--fingerprints`, `--baseline`, `--stale-out`)
//! and `scan --state`: their set-up before the run and their reports after it.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use art9::input::Record;
use art9::pipeline::{Filter, Item};
use art9::review::baseline::BaselineCounts;
use art9::review::state::{Fresh, StateCounts};
use art9::review::{Baseline, Fingerprinter, Prior, ReviewKey, Tracker};
use art9::CompiledPolicy;
use clap::Args;
use sha2::{Digest, Sha256};

use super::common::AtomicFile;

/// At most this many stale baseline entries are listed one by one on stderr.
const MAX_STALE_LINES: usize = 100;

/// Review baseline flags (scan and mask).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Review")]
pub struct ReviewArgs {
    /// Add each finding's fingerprint (a keyed hash of record key, field, category and the
    /// normalised span with its neighbouring words; never the text) to the findings: the
    /// `fingerprint` key of jsonl/json, a last csv column. Needs ART9_HASH_KEY or a policy
    /// with hash_key. Implied by --baseline.
    #[arg(long)]
    pub fingerprints: bool,
    /// Review baseline (JSON Lines, `art9 baseline add` writes it): its `false_positive`
    /// findings are not reported, counted or masked; its `accepted` ones are not reported
    /// again (mask still masks them). Entries whose record was scanned but whose finding is
    /// gone are listed as stale on stderr and in the run summary.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the stale baseline entries to FILE (baseline format), e.g. for `art9 baseline
    /// prune --stale FILE`.
    #[arg(long, value_name = "FILE", requires = "baseline")]
    pub stale_out: Option<PathBuf>,
}

/// `scan --state`.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Incremental runs")]
pub struct StateArgs {
    /// Remember what was scanned in FILE (record key → keyed hash of the scanned fields; no
    /// text) and leave out the records unchanged since the run that wrote it: they are
    /// counted as filtered ("unchanged"). Written atomically after a run that read its whole
    /// input. Needs --key, and ART9_HASH_KEY or a policy with hash_key. A change of
    /// lexicons, policy or scan options makes the next run scan everything.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub state: Option<PathBuf>,
}

/// What a run needs of the review flags.
#[derive(Default)]
pub(super) struct Review {
    pub(super) fingerprints: Option<Arc<Fingerprinter>>,
    pub(super) baseline: Option<Arc<Baseline>>,
}

/// Load the baseline and the fingerprint key, when asked for.
pub(super) fn setup(a: &ReviewArgs, policy: Option<&CompiledPolicy>) -> Result<Review> {
    if !a.fingerprints && a.baseline.is_none() {
        return Ok(Review::default());
    }
    let what = if a.baseline.is_some() {
        "--baseline"
    } else {
        "--fingerprints"
    };
    let key = ReviewKey::resolve(policy, what)?;
    let baseline = match &a.baseline {
        Some(path) => Some(Arc::new(Baseline::load(path)?)),
        None => None,
    };
    Ok(Review {
        fingerprints: Some(Arc::new(Fingerprinter::new(&key))),
        baseline,
    })
}

/// After the run: say what the baseline matched, list its stale entries on stderr (keys and
/// fingerprints, never text), write them to `--stale-out`.
pub(super) fn finish_baseline(
    a: &ReviewArgs,
    baseline: &Baseline,
    quiet: bool,
) -> Result<BaselineCounts> {
    let stale = baseline.stale();
    let counts = baseline.counts();
    if !quiet || !stale.is_empty() {
        eprintln!(
            "art9: baseline {}: {} entries, {} matched, {} stale, {} not checked (their records \
             were not scanned in this run)",
            a.baseline
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            counts.entries,
            counts.matched,
            counts.stale,
            counts.unchecked
        );
    }
    for e in stale.iter().take(MAX_STALE_LINES) {
        let mut what = vec![format!("record {}", e.record)];
        if let Some(f) = &e.field {
            what.push(format!("field {f}"));
        }
        if let Some(c) = e.category {
            what.push(format!("category {c}"));
        }
        eprintln!(
            "art9: stale baseline entry {} ({}; {} by {} on {}): its finding is gone",
            e.fingerprint,
            what.join(", "),
            e.decision,
            e.reviewer,
            e.date
        );
    }
    if stale.len() > MAX_STALE_LINES {
        eprintln!(
            "art9: ... and {} more stale baseline entries{}",
            stale.len() - MAX_STALE_LINES,
            if a.stale_out.is_some() {
                " (all in --stale-out)"
            } else {
                " (--stale-out FILE lists them all)"
            }
        );
    }
    if let Some(path) = &a.stale_out {
        let only = Baseline::from_entries(stale.into_iter().cloned().collect());
        write_atomic(path, "stale", |w| only.write_jsonl(w))?;
    }
    Ok(counts)
}

/// Write `path` through a temporary file, synced and renamed.
pub(super) fn write_atomic(
    path: &Path,
    prefix: &str,
    body: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let file = AtomicFile::create(path, prefix)?;
    let mut w = BufWriter::new(file.file()?);
    body(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", path.display()))?;
    drop(w);
    file.commit()
}

/// The configuration a state is valid for: what decides which findings a record gives
/// and how they are reported, besides the record itself (see `art9::review::state`).
pub(super) fn state_config(parts: &[(&str, String)]) -> String {
    let mut h = Sha256::new();
    for (name, value) in parts {
        h.update(name.as_bytes());
        h.update(b"=");
        h.update(value.as_bytes());
        h.update(b"\n");
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Load the previous state for `--state`, saying on stderr when it is not used.
pub(super) fn load_state(
    path: &Path,
    policy: Option<&CompiledPolicy>,
    config: &str,
    quiet: bool,
) -> Result<Arc<Prior>> {
    let key = ReviewKey::resolve(policy, "--state")?;
    let (prior, fresh) = Prior::load(path, &key, config)?;
    match fresh {
        Some(Fresh::NoFile) if quiet => {}
        Some(why) => eprintln!(
            "art9: --state {}: {why}; scanning every record",
            path.display()
        ),
        None => {}
    }
    Ok(Arc::new(prior))
}

/// Follow one item of the run for the next state.
pub(super) fn track(t: &mut Tracker<'_>, prior: &Prior, item: &Item) {
    match item {
        Item::Scanned { record, .. } => t.scanned(&record.key, prior.hash(record)),
        Item::Filtered(record, Filter::Unchanged) => t.unchanged(&record.key),
        Item::Filtered(record, _) => t.passed_over(&record.key),
        Item::Skipped(s) => t.skipped(s.key.as_deref()),
    }
}

/// One item of a batch, as [`track`] needs it, computed on the worker that scanned the
/// batch (the hash of a scanned record is the costly part).
pub(super) enum Seen {
    Scanned(String, art9::review::Digest128),
    Unchanged(String),
    PassedOver(String),
    Skipped(Option<String>),
}

/// [`Seen`] of an item.
pub(super) fn seen(prior: &Prior, item: &Item) -> Seen {
    let key = |r: &Record| r.key.clone();
    match item {
        Item::Scanned { record, .. } => Seen::Scanned(key(record), prior.hash(record)),
        Item::Filtered(record, Filter::Unchanged) => Seen::Unchanged(key(record)),
        Item::Filtered(record, _) => Seen::PassedOver(key(record)),
        Item::Skipped(s) => Seen::Skipped(s.key.clone()),
    }
}

/// Apply what a worker saw to the tracker.
pub(super) fn apply(t: &mut Tracker<'_>, seen: &[Seen]) {
    for s in seen {
        match s {
            Seen::Scanned(k, h) => t.scanned(k, *h),
            Seen::Unchanged(k) => t.unchanged(k),
            Seen::PassedOver(k) => t.passed_over(k),
            Seen::Skipped(k) => t.skipped(k.as_deref()),
        }
    }
}

/// After a complete run: write the next state and say what changed.
pub(super) fn finish_state(
    path: &Path,
    t: &Tracker<'_>,
    started: &str,
    quiet: bool,
) -> Result<StateCounts> {
    write_atomic(path, "state", |w| t.write(started, w))?;
    let c = t.counts();
    if !quiet {
        eprintln!(
            "art9: --state {}: {} new, {} changed, {} unchanged (not scanned), {} gone since the \
             last run{}",
            path.display(),
            c.new,
            c.changed,
            c.unchanged,
            c.deleted,
            if c.duplicate_keys > 0 {
                format!(
                    "; {} record keys appear more than once (such records are scanned every run)",
                    c.duplicate_keys
                )
            } else {
                String::new()
            }
        );
    }
    Ok(c)
}

//! The batch engine: the worker threads (rayon) read records in batches, one read at a
//! time and in input order, and each scans the batch it read; one writer takes the results
//! in input order.
//!
//! Memory is bounded whatever the input size: at most [`QUEUED_BATCHES`] (or twice the
//! worker threads, if more) + 1 batches are being scanned or wait to be written, and each
//! batch holds about `batch_records` input lines (less than twice that) or about
//! [`BATCH_BYTES`] bytes. A batch job takes records from the source in runs
//! ([`RecordSource::next_run`]: one record, or for JSON Lines the whole lines of a block,
//! which the job splits), sends the writer a receiver for the batch's results, starts the
//! job that reads the next batch (another worker takes it), and then splits, parses and
//! scans its own batch: a record is read, built, scanned and freed on one thread, and
//! there is no reading thread besides the workers (`--threads N` keeps N threads busy).
//! The writer (the caller's thread) takes the results in input order and writes them
//! while the workers go on with the next batches; with [`run_prepared`] the workers also
//! turn each batch into what the writer needs (formatted findings, say). Within its batch a
//! worker matches every field first and grades the notes with findings after (`Deferred`,
//! whose buffers, a copy of those notes, each worker keeps for its next batch).
//!
//! Every record read is accounted for: `records_read = records_scanned + records_skipped +
//! records_filtered` (filtered = not the subject asked for with [`Options::subject_id`]).
//! A stop request ([`Options::stop`], set by Ctrl-C) is checked before each run of records
//! is read: records already read are still scanned and handed to the writer, then
//! the scan ends with [`Summary::stopped_early`] set and [`Summary::stopped_at`] naming the
//! record.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::html;
use crate::input::{oversized_field, RecordSource, Run, Skipped};
use crate::mask::mask;
use crate::matcher::{Deferred, Finding, Scanner};
use crate::policy::{CompiledPolicy, Decision, Outcome};
use crate::record::Record;
use crate::review::{Baseline, Fingerprint, Fingerprinter, Prior, Review};

/// Batches being scanned or waiting to be written, besides the one being written (at least;
/// twice the worker threads when there are more than two).
pub const QUEUED_BATCHES: usize = 4;
/// Soft byte limit of one batch.
pub const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// How to run a batch scan.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Records per batch.
    pub batch_records: usize,
    /// Policy to decide (and mask) with; `None` = findings only.
    pub policy: Option<CompiledPolicy>,
    /// Produce masked text for fields the policy masks.
    pub mask: bool,
    /// Scan fields with HTML tags stripped and entities decoded (see README, `--strip-html`); findings
    /// and masks still refer to the original value.
    pub strip_html: bool,
    /// Scan only records whose [`Record::subject`] is this; others are passed on as
    /// [`Item::Filtered`].
    pub subject_id: Option<String>,
    /// Set to stop reading (Ctrl-C); checked before each record.
    pub stop: Option<Arc<AtomicBool>>,
    /// A record with a field longer than this (bytes of text; 0 = no limit) is skipped
    /// ([`crate::input::SkipKind::FieldTooLarge`]), never truncated.
    pub max_field_bytes: usize,
    /// Read on the worker threads, one read at a time in input order, each worker scanning
    /// the batch it read, instead of on a thread of its own. For sources whose reading is
    /// work (a file: copying it in, finding record ends), so that `threads` workers keep
    /// that many cores busy, not one more, and a batch is scanned where its bytes are
    /// cached. Not for sources whose reading waits (a database connection, a pipe): a
    /// reading thread of its own waits for them without holding up a worker.
    pub read_on_workers: bool,
    /// Keep only findings at or above this likelihood; `None`: the policy's
    /// `min_likelihood`, else [`crate::policy::DEFAULT_MIN_LIKELIHOOD`].
    pub min_likelihood: Option<crate::Likelihood>,
    /// Compute each finding's fingerprint into [`FieldReview::fingerprints`]
    /// (`--fingerprints`; a baseline needs them too). `None`: no fingerprint is computed.
    pub fingerprints: Option<Arc<Fingerprinter>>,
    /// A review baseline (`--baseline`, needs `fingerprints`): findings it lists are taken
    /// out of [`FieldResult::findings`] into [`FieldReview::silenced`], except `accepted`
    /// ones when masking (a masked copy masks them still).
    pub baseline: Option<Arc<Baseline>>,
    /// An incremental run's previous state (`--state`): records it holds unchanged are
    /// passed on as [`Item::Filtered`] with [`Filter::Unchanged`], not scanned.
    pub state: Option<Arc<Prior>>,
    /// `--since`: scan only records whose date is at or after this time; records dated
    /// before it are [`Item::Filtered`] (counted as `since` in [`Summary::filtered`]),
    /// records without a readable date are scanned (counted in [`Summary::undated`]).
    pub since: Option<Since>,
}

/// Which records `--since` lets through ([`Options::since`]).
#[derive(Clone, Debug)]
pub struct Since {
    /// The record's date column (a [`Record::context`] name).
    pub date_field: String,
    /// How to read it.
    pub parser: crate::date::DateParser,
    /// The earliest date scanned.
    pub time: crate::date::Timestamp,
}

impl Since {
    /// The record's date, `None` when it has none or one that is not a date.
    fn date(&self, record: &Record) -> Option<crate::date::Timestamp> {
        self.parser.parse(record.context.get(&self.date_field)?)
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: 0,
            batch_records: 1024,
            policy: None,
            mask: false,
            strip_html: false,
            subject_id: None,
            stop: None,
            max_field_bytes: crate::input::DEFAULT_MAX_FIELD_BYTES,
            read_on_workers: false,
            min_likelihood: None,
            fingerprints: None,
            baseline: None,
            state: None,
            since: None,
        }
    }
}

/// The result for one field.
#[derive(Clone, Debug)]
pub struct FieldResult {
    /// Field name.
    pub name: String,
    /// Findings, sorted by start.
    pub findings: Vec<Finding>,
    /// The policy's decision (when a policy was given).
    pub decision: Option<Decision>,
    /// The masked text, when masking was asked for and something was masked.
    pub masked: Option<String>,
    /// Fingerprints and silenced findings, when [`Options::fingerprints`] is set and the
    /// field had findings (boxed: a field result stays as small as before when it is off).
    pub review: Option<Box<FieldReview>>,
}

/// What the review baseline made of one field's findings.
#[derive(Clone, Debug, Default)]
pub struct FieldReview {
    /// The fingerprint of each finding in [`FieldResult::findings`], in the same order.
    pub fingerprints: Vec<Fingerprint>,
    /// Findings the baseline silenced (category and decision), not in `findings`.
    pub silenced: Vec<(Category, Review)>,
}

/// What the pipeline hands to the writer, in input order.
#[derive(Clone, Debug)]
pub enum Item {
    /// A record that was scanned.
    Scanned {
        /// The record.
        record: Record,
        /// One result per field, in field order.
        fields: Vec<FieldResult>,
    },
    /// A record that could not be scanned.
    Skipped(Skipped),
    /// A record read but not scanned (a masked copy keeps it unchanged), and why.
    Filtered(Record, Filter),
}

/// Why a record was read but not scanned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// Another subject than [`Options::subject_id`].
    Subject,
    /// Dated before [`Options::since`].
    Since,
    /// Unchanged since the run that wrote [`Options::state`].
    Unchanged,
}

impl Filter {
    /// The reason's name in summaries: `subject_id`, `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Filter::Subject => "subject_id",
            Filter::Since => "since",
            Filter::Unchanged => "unchanged",
        }
    }
}

/// Counts for one run. `records_read == records_scanned + records_skipped +
/// records_filtered` always holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Summary {
    /// Records read from the source.
    pub records_read: u64,
    /// Records scanned.
    pub records_scanned: u64,
    /// Records skipped (see `skipped`).
    pub records_skipped: u64,
    /// Skipped records per reason.
    pub skipped: BTreeMap<String, u64>,
    /// Records read but not scanned, not an error: other subjects than `--subject-id`,
    /// dated before `--since`, unchanged since the last `--state` run.
    pub records_filtered: u64,
    /// Filtered records per reason ([`Filter::as_str`]: `subject_id`, `since`,
    /// `unchanged`); left out when none were.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub filtered: BTreeMap<String, u64>,
    /// Findings silenced by the review baseline, per decision (`false_positive`,
    /// `accepted`); not in `findings`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub silenced: BTreeMap<String, u64>,
    /// With `--since`: records scanned because their date could not be read (none, or not
    /// a date).
    #[serde(skip_serializing_if = "is_zero")]
    pub undated: u64,
    /// Fields scanned.
    pub fields_scanned: u64,
    /// Bytes of field text scanned.
    pub bytes_scanned: u64,
    /// Records with at least one finding.
    pub records_with_findings: u64,
    /// Findings per category (all seven listed).
    pub findings: BTreeMap<String, u64>,
    /// Records per policy outcome (when a policy was applied).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, u64>,
    /// Findings per retention status (`due`, `ok`, `unknown`), when the policy has
    /// retention rules.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub retention: BTreeMap<String, u64>,
    /// Findings whose retention is due, per category.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub retention_due: BTreeMap<String, u64>,
    /// Findings an active consent of the consent ledger covers, per category.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub consent: BTreeMap<String, u64>,
    /// Findings whose erasure is due, per reason (`retention`, `consent_withdrawn`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub erasure_due: BTreeMap<String, u64>,
    /// Whether the run stopped before the end of the input.
    pub stopped_early: bool,
    /// When stopped early by a stop request: the number of records read until then (the
    /// next record, 1-based, is where a rerun would resume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<u64>,
}

impl Summary {
    fn new() -> Summary {
        Summary {
            findings: Category::ALL
                .iter()
                .map(|c| (c.as_str().to_string(), 0))
                .collect(),
            ..Summary::default()
        }
    }

    /// Add the counts of `other` (a later part of the same run) to these.
    pub fn add(&mut self, other: &Summary) {
        self.records_read += other.records_read;
        self.records_scanned += other.records_scanned;
        self.records_skipped += other.records_skipped;
        self.records_filtered += other.records_filtered;
        self.undated += other.undated;
        self.fields_scanned += other.fields_scanned;
        self.bytes_scanned += other.bytes_scanned;
        self.records_with_findings += other.records_with_findings;
        for (map, from) in [
            (&mut self.skipped, &other.skipped),
            (&mut self.findings, &other.findings),
            (&mut self.outcomes, &other.outcomes),
            (&mut self.filtered, &other.filtered),
            (&mut self.silenced, &other.silenced),
            (&mut self.retention, &other.retention),
            (&mut self.retention_due, &other.retention_due),
            (&mut self.consent, &other.consent),
            (&mut self.erasure_due, &other.erasure_due),
        ] {
            for (k, n) in from {
                add_to(map, k, *n);
            }
        }
    }

    /// Retention, consent and erasure counts of one field's findings.
    fn count_gdpr(&mut self, findings: &[Finding], d: &Decision) {
        for (x, g) in findings.iter().zip(&d.gdpr) {
            if let Some(r) = g.retention {
                bump(&mut self.retention, r.as_str());
                if r == crate::policy::RetentionStatus::Due {
                    bump(&mut self.retention_due, x.category.as_str());
                }
            }
            if g.consent_active {
                bump(&mut self.consent, x.category.as_str());
            }
            if let Some(e) = g.erasure {
                bump(&mut self.erasure_due, e.as_str());
            }
        }
    }

    /// Total findings.
    pub fn total_findings(&self) -> u64 {
        self.findings.values().sum()
    }

    fn count(&mut self, item: &Item, options: &Options) {
        self.records_read += 1;
        match item {
            Item::Skipped(s) => {
                self.records_skipped += 1;
                bump(&mut self.skipped, s.kind.as_str());
            }
            Item::Filtered(_, why) => {
                self.records_filtered += 1;
                bump(&mut self.filtered, why.as_str());
            }
            Item::Scanned { record, fields } => {
                self.records_scanned += 1;
                if options
                    .since
                    .as_ref()
                    .is_some_and(|s| s.date(record).is_none())
                {
                    self.undated += 1;
                }
                let mut any = false;
                let mut outcome: Option<Outcome> = None;
                for f in fields {
                    self.fields_scanned += 1;
                    for x in &f.findings {
                        any = true;
                        bump(&mut self.findings, x.category.as_str());
                    }
                    if let Some(r) = &f.review {
                        for (_, review) in &r.silenced {
                            bump(&mut self.silenced, review.as_str());
                        }
                    }
                    if let Some(d) = &f.decision {
                        outcome = Some(outcome.map_or(d.outcome, |o| o.max(d.outcome)));
                        if !d.gdpr.is_empty() {
                            self.count_gdpr(&f.findings, d);
                        }
                    }
                }
                self.bytes_scanned += record
                    .fields
                    .iter()
                    .map(|f| f.text.len() as u64)
                    .sum::<u64>();
                if any {
                    self.records_with_findings += 1;
                }
                if let Some(o) = outcome {
                    bump(&mut self.outcomes, o.as_str());
                }
            }
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `map[key] += 1`, allocating the key only the first time (this runs per finding).
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    add_to(map, key, 1);
}

/// `map[key] += n`, allocating the key only the first time.
fn add_to(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(m) => *m += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

/// A run that could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The source could not be read any more (after `records_read` records).
    #[error("read error after {records_read} records")]
    Read {
        /// Records read before the error.
        records_read: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The writer failed.
    #[error("write error: {0}")]
    Write(#[source] io::Error),
    /// The thread pool could not be created.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

impl PipelineError {
    /// Whether this is a write to a closed pipe (`art9 scan | head`), which is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, PipelineError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Scan one text, with HTML stripped first when asked; offsets refer to `text`.
fn scan_text(scanner: &Scanner, strip_html: bool, text: &str) -> Vec<Finding> {
    if !strip_html || !html::may_be_html(text) {
        return scanner.scan(text);
    }
    let stripped = html::strip(text);
    let findings = scanner.scan(stripped.text());
    unstrip(text, &stripped, findings)
}

/// Findings of the stripped text mapped back to `text`, their chars recounted (they are
/// sorted by start).
fn unstrip(text: &str, stripped: &html::Stripped, mut findings: Vec<Finding>) -> Vec<Finding> {
    let (mut byte, mut chars) = (0, 0);
    for f in &mut findings {
        let (start, end) = stripped.map_span(f.start, f.end);
        chars += text[byte..start].chars().count();
        f.start = start;
        f.char_start = chars;
        chars += text[start..end].chars().count();
        f.end = end;
        f.char_end = chars;
        byte = end;
    }
    findings
}

/// A field scanned by [`Scanner::scan_deferred`], its findings waiting in a [`Deferred`]: the
/// note's number there, and the stripped text when HTML was stripped first.
struct DeferredField {
    note: usize,
    stripped: Option<html::Stripped>,
}

/// [`scan_text`], the grading left to [`Scanner::grade_deferred`].
fn scan_text_deferred(
    scanner: &Scanner,
    strip_html: bool,
    text: &str,
    deferred: &mut Deferred,
) -> DeferredField {
    if !strip_html || !html::may_be_html(text) {
        let note = scanner.scan_deferred(text, deferred);
        return DeferredField {
            note,
            stripped: None,
        };
    }
    let stripped = html::strip(text);
    let note = scanner.scan_deferred(stripped.text(), deferred);
    DeferredField {
        note,
        stripped: Some(stripped),
    }
}

/// Drop the findings below the run's likelihood threshold.
fn keep_likely(options: &Options, field: &str, findings: &mut Vec<Finding>) {
    match (&options.policy, options.min_likelihood) {
        (Some(p), at_least) => p.retain_likely(Some(field), findings, at_least),
        (None, at_least) => {
            let min = at_least.unwrap_or(crate::policy::DEFAULT_MIN_LIKELIHOOD);
            findings.retain(|f| f.likelihood >= min);
        }
    }
}

/// Scan one record's fields.
pub fn process(scanner: &Scanner, options: &Options, record: &Record) -> Vec<FieldResult> {
    record
        .fields
        .iter()
        .map(|field| {
            let findings = scan_text(scanner, options.strip_html, &field.text);
            finish_field(options, record, field, findings)
        })
        .collect()
}

/// The result of one field of `record` from its findings: those below the likelihood
/// threshold dropped, the baseline's silenced, the policy's decision and the masked text.
fn finish_field(
    options: &Options,
    record: &Record,
    field: &crate::input::Field,
    mut findings: Vec<Finding>,
) -> FieldResult {
    if !findings.is_empty() {
        keep_likely(options, &field.name, &mut findings);
    }
    let review = match &options.fingerprints {
        Some(fp) if !findings.is_empty() => {
            let mut r = FieldReview::default();
            fp.field(
                &record.key,
                &field.name,
                &field.text,
                &findings,
                &mut r.fingerprints,
            );
            if let Some(b) = &options.baseline {
                silence(b, options.mask, &mut findings, &mut r);
            }
            Some(Box::new(r))
        }
        _ => None,
    };
    let decision = options
        .policy
        .as_ref()
        .map(|p| p.decide(&record.context_for(&field.name), &findings));
    let masked = match (&decision, &options.policy) {
        (Some(d), Some(p)) if options.mask && d.outcome != Outcome::Accept => {
            Some(mask(&field.text, &findings, d, p))
        }
        _ => None,
    };
    FieldResult {
        name: field.name.clone(),
        findings,
        decision,
        masked,
        review,
    }
}

/// Take the findings `baseline` lists out of `findings` (and their fingerprints) into
/// `r.silenced`; when `masking`, `accepted` ones stay (they are masked, and counted as
/// findings of the masked copy).
fn silence(baseline: &Baseline, masking: bool, findings: &mut Vec<Finding>, r: &mut FieldReview) {
    let mut i = 0;
    while i < findings.len() {
        match baseline.review(&r.fingerprints[i]) {
            Some(Review::Accepted) if masking => i += 1,
            Some(review) => {
                r.silenced.push((findings[i].category, review));
                findings.remove(i);
                r.fingerprints.remove(i);
            }
            None => i += 1,
        }
    }
}

/// Run `source` through `scanner`, calling `sink` for every record in input order.
///
/// # Errors
/// A fatal read error, a write error from `sink`, or no worker threads.
pub fn run<S, F>(
    source: S,
    scanner: &Scanner,
    options: &Options,
    mut sink: F,
) -> Result<Summary, PipelineError>
where
    S: RecordSource,
    F: FnMut(&Item) -> io::Result<()>,
{
    // Freeing a batch is a fifth of the writer's work when the writer only prints findings,
    // and the writer is the one serial stage: with several workers (or one per core, 0), a
    // worker frees it (most of it was allocated there, so the frees are thread-local). With
    // one worker the writer has a core to itself and keeps the job.
    let free_on_workers = options.threads != 1;
    run_prepared(
        source,
        scanner,
        options,
        |items: Vec<Item>| items,
        |items, written| {
            let result = items.iter().try_for_each(&mut sink);
            if free_on_workers {
                written.free(items);
            }
            result
        },
    )
}

/// A handle the writer uses to give a written batch back to the workers to free.
pub struct Written<'a, 'scope> {
    scope: &'a rayon::Scope<'scope>,
}

impl<'scope> Written<'_, 'scope> {
    /// Drop `value` on a worker thread instead of the writer's.
    pub fn free<T: Send + 'scope>(&self, value: T) {
        self.scope.spawn(move |_| drop(value));
    }
}

/// Like [`run`], but each scanned batch is first turned into a `T` by `prepare` on the
/// worker that scanned it, and `sink` gets the `T`s in input order. Counting also runs on
/// the workers. So the writer's share of the work can be as small as copying bytes: a
/// `prepare` that formats a batch's findings leaves the writer only `write_all`, and the
/// records are freed where they were built.
///
/// # Errors
/// A fatal read error, a write error from `sink`, or no worker threads.
pub fn run_prepared<S, P, T, F>(
    source: S,
    scanner: &Scanner,
    options: &Options,
    prepare: P,
    mut sink: F,
) -> Result<Summary, PipelineError>
where
    S: RecordSource,
    P: Fn(Vec<Item>) -> T + Sync,
    T: Send,
    F: FnMut(T, &Written<'_, '_>) -> io::Result<()>,
{
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| PipelineError::Threads(e.to_string()))?;
    let batch_records = options.batch_records.max(1);
    let mut summary = Summary::new();
    // Records travel unparsed (`Pending`, JSON runs) so that parsing runs on the workers.
    // Each batch read sends a receiver for its results, in input order, to this thread
    // (which writes them). Reading on the workers, a batch job reads its batch, starts the
    // job for the next one, then scans its own (`step`); else a reading thread spawns a
    // scan job per batch (`read_all`). So the workers go from batch to batch without
    // waiting for the writer, and the writer's share of the work runs beside them. At most
    // `QUEUED_BATCHES` + 1 batches are being scanned or waiting to be written.
    // Each batch runs on one worker, so there must be batches enough for every worker.
    let queued = QUEUED_BATCHES.max(2 * pool.current_num_threads());
    let (tx, rx) = sync_channel::<io::Result<Results<T>>>(queued);
    let stopped = AtomicBool::new(false);
    let env = Env {
        scanner,
        options,
        prepare: &prepare,
        stopped: &stopped,
        batch_records,
    };
    let env = &env;
    let reader = Reader {
        source,
        tx,
        runs: batch_records,
    };
    pool.in_place_scope(|pool_scope| {
        std::thread::scope(|thread_scope| {
            if options.read_on_workers {
                // The first worker free reads the first batch; each read starts the next.
                pool_scope.spawn(move |s| step(s, reader, env));
            } else {
                thread_scope.spawn(move || read_all(pool_scope, reader, env));
            }
            // Owned here so that an early return drops it and stops the reading.
            let rx = rx;
            let written = Written { scope: pool_scope };
            for results in rx.iter() {
                let results = match results {
                    Ok(r) => r,
                    Err(source) => {
                        return Err(PipelineError::Read {
                            records_read: summary.records_read,
                            source,
                        })
                    }
                };
                // A scan job that panicked dropped its sender; the panic resurfaces when
                // the pool scope ends.
                let Ok((counts, out)) = results.recv() else {
                    break;
                };
                summary.add(&counts);
                if let Err(e) = sink(out, &written) {
                    summary.stopped_early = true;
                    // Returning drops the receiver, which stops the reading.
                    return Err(PipelineError::Write(e));
                }
            }
            Ok(())
        })
    })?;
    // Every batch read has been sent; the last read tells whether it was stopped.
    let stopped = stopped.into_inner();
    if stopped {
        // Every batch read was scanned and written: the records counted are those read.
        summary.stopped_early = true;
        summary.stopped_at = Some(summary.records_read);
    }
    Ok(summary)
}

/// The results of one batch, in the order the batches were read.
type Results<T> = Receiver<(Summary, T)>;

/// What every batch job shares.
struct Env<'a, P> {
    scanner: &'a Scanner,
    options: &'a Options,
    prepare: &'a P,
    /// Set by the last read when a stop request ended it.
    stopped: &'a AtomicBool,
    batch_records: usize,
}

/// The input and where batches go, handed from one read to the next.
struct Reader<S, T> {
    source: S,
    tx: SyncSender<io::Result<Results<T>>>,
    /// Runs in the last batch (the next one is sized like it).
    runs: usize,
}

/// How a read ended short of a full batch.
enum End {
    Input,
    Stopped,
    Failed(io::Error),
}

/// A batch read: its scan job (none when it holds no records, or the writer has stopped),
/// and whether more input may follow.
struct Read<T> {
    job: Option<(Vec<Run>, Done<T>)>,
    more: bool,
}

impl<S: RecordSource, T> Reader<S, T> {
    /// Read the next batch and send the writer the receiver for its results. A read error
    /// follows the batch read before it, like any record; a stop request ends the input,
    /// and `env.stopped` says so.
    fn next_batch<P>(&mut self, env: &Env<'_, P>) -> Read<T> {
        let stop = env.options.stop.as_deref();
        let mut batch = Vec::with_capacity(self.runs);
        let (mut bytes, mut lines) = (0, 0);
        let end = loop {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                break Some(End::Stopped);
            }
            match self.source.next_run(env.batch_records) {
                None => break Some(End::Input),
                Some(Err(e)) => break Some(End::Failed(e)),
                Some(Ok(run)) => {
                    bytes += run.raw_len();
                    lines += run.lines();
                    batch.push(run);
                    if lines >= env.batch_records || bytes >= BATCH_BYTES {
                        break None;
                    }
                }
            }
        };
        let mut job = None;
        if !batch.is_empty() {
            self.runs = batch.len();
            let (done_tx, done_rx) = sync_channel(1);
            if self.tx.send(Ok(done_rx)).is_err() {
                return Read { job, more: false }; // the writer stopped
            }
            job = Some((batch, done_tx));
        }
        match end {
            None => return Read { job, more: true },
            Some(End::Input) => {}
            Some(End::Stopped) => env.stopped.store(true, Ordering::Relaxed),
            Some(End::Failed(e)) => {
                let _ = self.tx.send(Err(e));
            }
        }
        Read { job, more: false }
    }
}

/// Where a batch's results go: to the writer, through the receiver sent before.
type Done<T> = SyncSender<(Summary, T)>;

/// Scan one batch and send its counts and prepared results.
fn scan_job<P, T>(batch: Vec<Run>, done: Done<T>, env: &Env<'_, P>)
where
    P: Fn(Vec<Item>) -> T,
{
    let items = scan_batch(batch, env.scanner, env.options);
    let mut counts = Summary::default();
    for item in &items {
        counts.count(item, env.options);
    }
    // The writer may have stopped: then nobody wants the results.
    let _ = done.send((counts, (env.prepare)(items)));
}

/// One batch job ([`Options::read_on_workers`]): read the next batch, send the receiver
/// for its results to the writer, start the next job (which reads the batch after this
/// one) unless the input ended, then scan the batch on this thread.
///
/// So reading moves from worker to worker, one read at a time and in input order: the
/// batch is scanned by the thread that just read it (its bytes are still in that core's
/// cache), and `threads` workers keep that many cores busy, not one more (issue 7). The
/// writer's receiver queue (`queued` long) holds reading back when the writer falls
/// behind; every batch sent before a full queue is scanned by the job that sent it, so the
/// writer always has one to take.
fn step<'s, S, P, T>(scope: &rayon::Scope<'s>, mut r: Reader<S, T>, env: &'s Env<'s, P>)
where
    S: RecordSource + 's,
    P: Fn(Vec<Item>) -> T + Sync,
    T: Send + 's,
{
    // Batches the writer gave back to free (`Written::free`) wait in the pool's queue
    // behind the next batch job, which is always there to take: run them first.
    while let Some(rayon::Yield::Executed) = rayon::yield_now() {}
    let Read { job, more } = r.next_batch(env);
    if more {
        scope.spawn(move |s| step(s, r, env));
    } else {
        drop(r); // the writer's queue ends after the last batch
    }
    if let Some((batch, done)) = job {
        scan_job(batch, done, env);
    }
}

/// Read every batch on a thread of its own and hand each to the workers.
fn read_all<'s, S, P, T>(scope: &rayon::Scope<'s>, mut r: Reader<S, T>, env: &'s Env<'s, P>)
where
    S: RecordSource,
    P: Fn(Vec<Item>) -> T + Sync,
    T: Send + 's,
{
    loop {
        let Read { job, more } = r.next_batch(env);
        if let Some((batch, done)) = job {
            scope.spawn(move |_| scan_job(batch, done, env));
        }
        if !more {
            return;
        }
    }
}

/// Resolve and scan one batch, in input order, on the one worker thread that runs it: the
/// workers share the load batch by batch (several are in flight), so a record is built,
/// scanned, prepared and freed on one thread, and no allocation crosses to another.
///
/// The records' fields are matched first and graded together after ([`Deferred`]), then
/// each field's result is finished.
fn scan_batch(batch: Vec<Run>, scanner: &Scanner, options: &Options) -> Vec<Item> {
    thread_local! {
        /// The worker's buffers of deferred grading, kept from batch to batch.
        static DEFERRED: std::cell::RefCell<Deferred> = std::cell::RefCell::default();
    }
    DEFERRED.with(|d| scan_batch_with(batch, scanner, options, &mut d.borrow_mut()))
}

/// [`scan_batch`] with the worker's buffers of deferred grading.
fn scan_batch_with(
    batch: Vec<Run>,
    scanner: &Scanner,
    options: &Options,
    deferred: &mut Deferred,
) -> Vec<Item> {
    deferred.clear();
    let mut items = Vec::with_capacity(batch.iter().map(Run::lines).sum());
    // The scanned records' items, and their fields waiting in `deferred`, record after
    // record (one buffer for the batch, not one a record).
    let mut waiting: Vec<usize> = Vec::new();
    let mut fields: Vec<DeferredField> = Vec::new();
    for run in batch {
        run.resolve_each(|r| {
            items.push(match r {
                Ok(record) => match filter(options, &record) {
                    Some(why) => Item::Filtered(record, why),
                    None => match oversized_field(&record, options.max_field_bytes) {
                        Some(skip) => Item::Skipped(skip),
                        None => {
                            if let Some(b) = &options.baseline {
                                b.record_scanned(&record.key);
                            }
                            let html = options.strip_html;
                            let at = fields.len();
                            fields.extend(
                                record
                                    .fields
                                    .iter()
                                    .map(|f| scan_text_deferred(scanner, html, &f.text, deferred)),
                            );
                            // A record without findings is finished now, while it is in the
                            // cache: only the few with findings are read again after grading.
                            if fields[at..].iter().any(|d| deferred.waits(d.note)) {
                                waiting.push(items.len());
                                Item::Scanned {
                                    record,
                                    fields: Vec::new(),
                                }
                            } else {
                                fields.truncate(at);
                                let fields = record
                                    .fields
                                    .iter()
                                    .map(|field| finish_field(options, &record, field, Vec::new()))
                                    .collect();
                                Item::Scanned { record, fields }
                            }
                        }
                    },
                },
                Err(s) => Item::Skipped(s),
            });
        });
    }
    scanner.grade_deferred(deferred);
    let mut scanned = fields.into_iter();
    for at in waiting {
        if let Some(Item::Scanned { record, fields }) = items.get_mut(at) {
            *fields = record
                .fields
                .iter()
                .zip(scanned.by_ref())
                .map(|(field, d)| {
                    let mut findings = deferred.take(d.note);
                    if let Some(stripped) = &d.stripped {
                        findings = unstrip(&field.text, stripped, findings);
                    }
                    finish_field(options, record, field, findings)
                })
                .collect();
        }
    }
    items
}

/// Why the record is not scanned, if it is not: another subject than `--subject-id`, dated
/// before `--since`, or unchanged since the `--state` run.
#[inline]
fn filter(options: &Options, record: &Record) -> Option<Filter> {
    if options.subject_id.is_none() && options.since.is_none() && options.state.is_none() {
        return None;
    }
    if let Some(id) = &options.subject_id {
        if record.subject.as_deref() != Some(id.as_str()) {
            return Some(Filter::Subject);
        }
    }
    if let Some(s) = &options.since {
        if s.date(record).is_some_and(|d| d < s.time) {
            return Some(Filter::Since);
        }
    }
    match &options.state {
        Some(prior) if prior.unchanged(record) => Some(Filter::Unchanged),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Field;

    /// `n` one-field records, then a read error if `fail`.
    struct Numbers {
        next: u64,
        n: u64,
        fail: bool,
    }

    impl RecordSource for Numbers {
        fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
            if self.next == self.n {
                self.next += 1;
                return self.fail.then(|| Err(io::Error::other("disk gone")));
            }
            if self.next > self.n {
                return None;
            }
            self.next += 1;
            let line = self.next;
            let text = if line % 5 == 0 {
                "Klant heeft diabetes."
            } else {
                "Geen bijzonderheden."
            };
            Some(Ok(Ok(Record {
                line,
                key: line.to_string(),
                fields: vec![Field {
                    name: "note".into(),
                    text: text.into(),
                    raw_span: None,
                }],
                raw: text.into(),
                terminator: "\n",
                subject: None,
                context: Default::default(),
            })))
        }
    }

    /// Two-field records, each field with findings or without (plain text or HTML).
    struct Mixed {
        next: usize,
    }

    const MIXED_TEXTS: [&str; 5] = [
        "Geen bijzonderheden.",
        "Klant heeft diabetes.",
        "<p>She is a devout <b>Muslim</b>.</p>",
        "<p>Nothing to report.</p>",
        "Kunden var til landsmøde i partiet Venstre.",
    ];

    impl RecordSource for Mixed {
        fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
            let n = MIXED_TEXTS.len();
            if self.next >= n * n {
                return None;
            }
            let line = self.next;
            self.next += 1;
            let field = |name: &str, text: &str| Field {
                name: name.into(),
                text: text.into(),
                raw_span: None,
            };
            let (a, b) = (MIXED_TEXTS[line / n], MIXED_TEXTS[line % n]);
            Some(Ok(Ok(Record {
                line: line as u64 + 1,
                key: line.to_string(),
                fields: vec![field("note", a), field("summary", b)],
                raw: format!("{a}\t{b}"),
                terminator: "\n",
                subject: None,
                context: Default::default(),
            })))
        }
    }

    /// A batch scan (records without findings finished at once, the others after grading)
    /// gives every record what scanning it alone gives, in input order.
    #[test]
    fn batch_scan_equals_one_record_at_a_time() {
        let scanner = Scanner::builtin().unwrap();
        for strip_html in [false, true] {
            for (threads, on_workers) in [1, 2].map(|t| READ_ON_WORKERS.map(|w| (t, w))).concat() {
                let options = Options {
                    strip_html,
                    ..options(threads, on_workers)
                };
                let mut got = Vec::new();
                run(Mixed { next: 0 }, &scanner, &options, |item| {
                    if let Item::Scanned { record, fields } = item {
                        got.push((record.clone(), fields.clone()));
                    }
                    Ok(())
                })
                .unwrap();
                assert_eq!(got.len(), MIXED_TEXTS.len().pow(2));
                let with_findings = got
                    .iter()
                    .filter(|(_, f)| !f[0].findings.is_empty())
                    .count();
                assert!(with_findings > 0 && with_findings < got.len());
                for (i, (record, fields)) in got.iter().enumerate() {
                    assert_eq!(record.line, i as u64 + 1);
                    let want = process(&scanner, &options, record);
                    let show = |f: &[FieldResult]| {
                        format!(
                            "{:?}",
                            f.iter()
                                .map(|f| (&f.name, &f.findings, &f.decision, &f.masked))
                                .collect::<Vec<_>>()
                        )
                    };
                    assert_eq!(
                        show(fields),
                        show(&want),
                        "record {i}, strip_html {strip_html}"
                    );
                }
            }
        }
    }

    /// Both ways of reading: on a thread of its own, and on the workers.
    const READ_ON_WORKERS: [bool; 2] = [false, true];

    fn options(threads: usize, read_on_workers: bool) -> Options {
        Options {
            threads,
            batch_records: 3,
            read_on_workers,
            ..Options::default()
        }
    }

    #[test]
    fn many_small_batches_come_out_in_order() {
        let scanner = Scanner::builtin().unwrap();
        for (threads, on_workers) in [1, 2, 3].map(|t| READ_ON_WORKERS.map(|w| (t, w))).concat() {
            let src = Numbers {
                next: 0,
                n: 200,
                fail: false,
            };
            let mut lines = Vec::new();
            let summary = run(src, &scanner, &options(threads, on_workers), |item| {
                if let Item::Scanned { record, .. } = item {
                    lines.push(record.line);
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(lines, (1..=200).collect::<Vec<u64>>());
            assert_eq!((summary.records_read, summary.records_scanned), (200, 200));
            assert_eq!(summary.findings["health"], 40);
        }
    }

    #[test]
    fn read_and_write_errors_stop_the_run_after_what_was_written() {
        let scanner = Scanner::builtin().unwrap();
        for on_workers in READ_ON_WORKERS {
            let src = Numbers {
                next: 0,
                n: 50,
                fail: true,
            };
            let mut written = 0;
            let e = run(src, &scanner, &options(2, on_workers), |_| {
                written += 1;
                Ok(())
            })
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    PipelineError::Read {
                        records_read: 50,
                        ..
                    }
                ),
                "{e:?}"
            );
            assert_eq!(written, 50);

            let src = Numbers {
                next: 0,
                n: 10_000,
                fail: false,
            };
            let mut written = 0;
            let e = run(src, &scanner, &options(2, on_workers), |_| {
                written += 1;
                if written == 7 {
                    return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
                }
                Ok(())
            })
            .unwrap_err();
            assert!(e.is_broken_pipe(), "{e:?}");
            assert_eq!(written, 7);
        }
    }

    #[test]
    fn batches_given_back_to_free_do_not_pile_up() {
        // When the workers read, the next batch job is always there for one to take, so the
        // jobs that free written batches (`Written::free`) would wait behind every one of
        // them until the end of the input, holding every batch, unless the batch jobs run
        // them first.
        struct Counted(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let scanner = Scanner::builtin().unwrap();
        for threads in [2, 3] {
            let freed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let src = Numbers {
                next: 0,
                n: 6_000,
                fail: false,
            };
            let (mut written, mut most_held) = (0, 0);
            let summary = run_prepared(
                src,
                &scanner,
                &options(threads, true),
                |items: Vec<Item>| items.len(),
                |_, w| {
                    written += 1;
                    most_held = most_held.max(written - freed.load(Ordering::Relaxed));
                    w.free(Counted(Arc::clone(&freed)));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(summary.records_read, 6_000);
            assert_eq!(written, 2_000);
            assert_eq!(freed.load(Ordering::Relaxed), 2_000);
            assert!(
                most_held <= 20,
                "{most_held} batches held at once ({threads} threads)"
            );
        }
    }

    #[test]
    fn a_stop_request_ends_the_run_with_what_was_read() {
        let scanner = Scanner::builtin().unwrap();
        for on_workers in READ_ON_WORKERS {
            let stop = Arc::new(AtomicBool::new(false));
            let src = Numbers {
                next: 0,
                n: u64::MAX - 1,
                fail: false,
            };
            let opts = Options {
                stop: Some(stop.clone()),
                ..options(2, on_workers)
            };
            let mut written = 0u64;
            let summary = run(src, &scanner, &opts, |_| {
                written += 1;
                if written == 100 {
                    stop.store(true, Ordering::Relaxed);
                }
                Ok(())
            })
            .unwrap();
            assert!(summary.stopped_early);
            assert_eq!(summary.stopped_at, Some(summary.records_read));
            assert_eq!(summary.records_read, written);
        }
    }
}

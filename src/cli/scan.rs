//! `art9 scan` and `art9 mask`: the batch commands.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{bail, Context, Result};
use art9::encoding::{Sniffed, TextEncoding};
use art9::input::{Compression, Record, RecordSource, SkipKind, Skipped};
use art9::matcher::Scanner;
use art9::output::masked::{MaskedCopy, RawFormat as Kind};
use art9::output::summary::{Month, RunInfo, RunSummary, SubjectKey, SubjectRows, Tally};
use art9::output::{row, summary_text, FindingOut, Format, Printer};
use art9::pipeline::{self, FieldResult, Item, Options, Summary};
use art9::source::{InFormat, SourceSpec};
use art9::subjects::Rollup;
use art9::ContextColumn;

use super::args::{FormatArg, InFormatArg, InputArgs, MaskArgs, ScanArgs};
use super::common;
use super::progress::{self, Progress, Unit};
use super::review::Seen;
use super::ExitCode;

/// At most this many skipped records are reported one by one on stderr.
const MAX_SKIP_LINES: u64 = 100;

/// An opened input, with what the progress bar and the end of the run need of it.
struct Opened {
    source: Box<dyn RecordSource>,
    kind: Kind,
    sniffed: Sniffed,
    /// How the file was compressed (a masked copy is compressed the same way).
    compression: Compression,
    /// CSV header bytes (written first in a masked copy).
    header_raw: Vec<u8>,
    /// Whether the pipeline's workers read the file in turns.
    read_on_workers: bool,
    /// What the progress bar counts (bytes of a file, rows of a database) and the total
    /// when known.
    unit: Unit,
    total: Option<u64>,
    /// A database's notes, printed once the scan is done.
    notes: Option<super::db::SourceNotes>,
}

fn in_format(input: &InputArgs) -> Result<Option<InFormat>> {
    let arg = if input.text {
        if input.format_in.is_some_and(|f| f != InFormatArg::Text) {
            bail!("--text and --format-in disagree");
        }
        Some(InFormatArg::Text)
    } else {
        input.format_in
    };
    Ok(arg.map(|f| match f {
        InFormatArg::Jsonl => InFormat::Jsonl,
        InFormatArg::Json => InFormat::Json,
        InFormatArg::Csv => InFormat::Csv,
        InFormatArg::Tsv => InFormat::Tsv,
        InFormatArg::Text => InFormat::Text,
        InFormatArg::Parquet => InFormat::Parquet,
    }))
}

fn parse_delimiter(d: &str) -> Result<u8> {
    match d {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        "," | ";" | "|" | ":" => Ok(d.as_bytes()[0]),
        _ => bail!("--delimiter must be one of , ; | : or tab (got {d:?})"),
    }
}

/// The input arguments as the library's source spec.
pub(super) fn source_spec(input: &InputArgs) -> Result<SourceSpec> {
    Ok(SourceSpec {
        input: input.input.clone(),
        format: in_format(input)?,
        fields: input.field.clone(),
        key: input.key.clone(),
        subject: input.subject.clone(),
        subject_id: input.subject_id.clone(),
        context: input.context.clone(),
        delimiter: input
            .delimiter
            .as_deref()
            .map(parse_delimiter)
            .transpose()?,
        has_header: !input.no_header,
        encoding: input
            .encoding
            .as_deref()
            .map(TextEncoding::from_label)
            .transpose()?,
        max_record_bytes: input.max_record_bytes,
        max_field_bytes: input.max_field_bytes,
        table: input.db.table.clone(),
        query: input.db.query.clone(),
    })
}

/// Open the input as its format says. `spans`: locate fields for masking. `progress`: a
/// progress bar will be drawn (a database's rows are then counted first). `command`: the
/// command's name, for the hint on a terminal.
fn open(input: &InputArgs, spans: bool, progress: bool, command: &str) -> Result<Opened> {
    let spec = source_spec(input)?;
    if spec.is_database() {
        let (opened, total, notes) = super::db::source(&spec, input.db.no_count, progress)?;
        return Ok(Opened {
            total,
            notes: Some(notes),
            unit: Unit::Rows,
            ..Opened::from(opened)
        });
    }
    if input.input == "-" && io::stdin().is_terminal() {
        eprintln!(
            "art9: reading notes from standard input (end with Ctrl-D; see art9 {command} --help)"
        );
    }
    let opened = spec.open(spans)?;
    Ok(Opened {
        total: opened.size,
        unit: Unit::Bytes(opened.bytes_read.clone()),
        ..Opened::from(opened)
    })
}

impl From<art9::source::Opened> for Opened {
    fn from(o: art9::source::Opened) -> Opened {
        Opened {
            source: o.source,
            kind: o.format,
            sniffed: o.sniffed,
            compression: o.compression,
            header_raw: o.header_raw,
            read_on_workers: o.read_on_workers,
            unit: Unit::Rows,
            total: None,
            notes: None,
        }
    }
}

fn pipeline_options(
    input: &InputArgs,
    read_on_workers: bool,
    mask: bool,
    stop: Arc<AtomicBool>,
) -> Options {
    Options {
        threads: input.threads,
        batch_records: input.batch_records,
        mask,
        strip_html: input.strip_html,
        subject_id: input.subject_id.clone(),
        stop: Some(stop),
        max_field_bytes: input.max_field_bytes,
        min_likelihood: input.min_likelihood,
        // Reading a file is work (the kernel's copy, finding record ends): the workers take
        // it in turns. A pipe or a database is waited for on a thread of its own, and so
        // is a decompressing reader (as for a pipe, its reads are not the file's).
        read_on_workers,
        ..Options::default()
    }
}

pub(super) struct BoxedSource(pub(super) Box<dyn RecordSource>);

impl RecordSource for BoxedSource {
    fn next_record(&mut self) -> Option<io::Result<Result<art9::input::Record, Skipped>>> {
        self.0.next_record()
    }

    fn next_pending(&mut self) -> Option<io::Result<art9::input::Pending>> {
        self.0.next_pending()
    }

    fn next_run(&mut self, max_lines: usize) -> Option<io::Result<art9::input::Run>> {
        self.0.next_run(max_lines)
    }
}

/// Report one skipped record on stderr (no record text, ever).
pub(super) fn report_skip(input: &str, s: &Skipped, count: &mut u64) {
    *count += 1;
    if *count > MAX_SKIP_LINES {
        return;
    }
    let mut msg = format!("art9: {input}:{}: skipped", s.line);
    let mut what = Vec::new();
    if let Some(k) = &s.key {
        what.push(format!("record {k}"));
    }
    if let Some(f) = &s.field {
        what.push(format!("field {f}"));
    }
    if !what.is_empty() {
        msg.push_str(&format!(" ({})", what.join(", ")));
    }
    msg.push_str(&format!(": {}", s.reason));
    eprintln!("{msg}");
}

pub(super) fn finish_skips(count: u64) {
    if count > MAX_SKIP_LINES {
        eprintln!(
            "art9: ... and {} more skipped records (see the summary)",
            count - MAX_SKIP_LINES
        );
    }
}

/// No record among the first this many has a field that `--field` or `--key` names: the name
/// is taken for a typo and the run stops.
const MISSING_FIELD_RECORDS: usize = 100;

/// Reports skipped records on stderr, except while every record so far was skipped because
/// the same field is missing: those reports are held back until a record has the field
/// (then they are printed, in order). If none of the first [`MISSING_FIELD_RECORDS`]
/// records has it, or none at all in a shorter input, the run stops with one error naming
/// the field and, when they can be read, the fields the first record has (a CSV input gets
/// that error from its header already).
pub(super) struct SkipReport {
    input: String,
    path: String,
    count: u64,
    held: Vec<Skipped>,
    deciding: bool,
    tripped: Option<String>,
}

impl SkipReport {
    /// Reports naming `input`, the input given as `path`.
    pub(super) fn new(input: &str, path: &str) -> SkipReport {
        SkipReport {
            input: input.to_string(),
            path: path.to_string(),
            count: 0,
            held: Vec::new(),
            deciding: true,
            tripped: None,
        }
    }

    /// `n` records were read, of which `skipped` were skipped (in input order).
    ///
    /// # Errors
    /// When the missing field is taken for a typo: an error that stops the pipeline (the
    /// message is in [`SkipReport::finish`]).
    pub(super) fn batch(&mut self, n: u64, skipped: &[Skipped]) -> io::Result<()> {
        if self.deciding {
            let field = self
                .held
                .first()
                .or(skipped.first())
                .and_then(|s| s.field.clone());
            let all_missing = field.is_some()
                && skipped.len() as u64 == n
                && skipped
                    .iter()
                    .all(|s| s.kind == SkipKind::MissingField && s.field == field);
            if all_missing {
                self.held.extend(skipped.iter().cloned());
                if self.held.len() >= MISSING_FIELD_RECORDS {
                    self.trip();
                    return Err(io::Error::other("a requested field is missing"));
                }
                return Ok(());
            }
            self.deciding = false;
            for s in std::mem::take(&mut self.held) {
                report_skip(&self.input, &s, &mut self.count);
            }
        }
        for s in skipped {
            report_skip(&self.input, s, &mut self.count);
        }
        Ok(())
    }

    /// One record read: skipped (`Some`) or not.
    pub(super) fn item(&mut self, skipped: Option<&Skipped>) -> io::Result<()> {
        match skipped {
            Some(s) => self.batch(1, std::slice::from_ref(s)),
            None => self.batch(1, &[]),
        }
    }

    fn trip(&mut self) {
        let Some(field) = self.held.first().and_then(|s| s.field.clone()) else {
            return;
        };
        let n = self.held.len();
        let which = if n >= MISSING_FIELD_RECORDS {
            format!("any of the first {MISSING_FIELD_RECORDS} records")
        } else if n == 1 {
            "the only record".to_string()
        } else {
            format!("any of the {n} records")
        };
        let mut msg = format!(
            "field {field:?} (from --field or --key) is not in {which} of {}",
            self.input
        );
        if let Some(seen) = first_record_fields(&self.path) {
            msg.push_str(&format!(
                "; the first record has the fields: {}",
                seen.join(", ")
            ));
        }
        msg.push_str("; check the spelling (nested fields: --field parent.child)");
        self.tripped = Some(msg);
    }

    /// After the run: the error that stopped it, if the field was taken for a typo (also
    /// when the input ended with every record missing it); otherwise the reports still
    /// held back are printed and the number of skipped records reported is returned.
    pub(super) fn finish(mut self) -> Result<u64> {
        if self.deciding && !self.held.is_empty() && self.tripped.is_none() {
            self.trip();
        }
        if let Some(msg) = self.tripped.take() {
            bail!(msg);
        }
        for s in std::mem::take(&mut self.held) {
            report_skip(&self.input, &s, &mut self.count);
        }
        finish_skips(self.count);
        Ok(self.count)
    }
}

/// The top-level field names of the first line of a JSON Lines file (not standard input,
/// not compressed), to name them in an error. Field names only, never values.
fn first_record_fields(path: &str) -> Option<Vec<String>> {
    use std::io::{BufRead, Read};
    if path == "-" {
        return None;
    }
    let f = std::fs::File::open(path).ok()?;
    let mut line = Vec::new();
    io::BufReader::new(f)
        .take(1024 * 1024)
        .read_until(b'\n', &mut line)
        .ok()?;
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&line);
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
    Some(v.keys().cloned().collect())
}

pub(super) fn exit_for(summary: &Summary) -> ExitCode {
    if summary.records_skipped > 0 || summary.stopped_early {
        ExitCode::Error
    } else if summary.total_findings() > 0 {
        ExitCode::Found
    } else {
        ExitCode::Clean
    }
}

/// Hand every finding of a scanned record to `f` as an output row, in field order.
fn each_row(
    scanner: &Scanner,
    record: &Record,
    fields: &[FieldResult],
    include_text: bool,
    mut f: impl FnMut(&FindingOut<'_>) -> io::Result<()>,
) -> io::Result<()> {
    for (fr, field) in fields.iter().zip(&record.fields) {
        for i in 0..fr.findings.len() {
            f(&row(scanner, record, &field.text, fr, i, include_text))?;
        }
    }
    Ok(())
}

/// Read the columns the policy's `when` rules name along with `--context`.
fn add_policy_columns(input: &mut InputArgs, policy: Option<&art9::CompiledPolicy>) {
    for c in policy.map(|p| p.context_columns()).unwrap_or_default() {
        if !input.context.iter().any(|x| x == c) {
            input.context.push(c.to_string());
        }
    }
}

pub fn scan(mut a: ScanArgs) -> Result<ExitCode> {
    // First, so that a Ctrl-C during start-up already stops cleanly.
    let stop = progress::stop_flag();
    let policy = a.policy.as_deref().map(common::policy).transpose()?;
    let as_of = a.gdpr.as_of()?;
    let policy = match policy {
        Some(p) => Some(a.gdpr.apply(p, &a.input, as_of)?),
        None => {
            a.gdpr.without_policy()?;
            None
        }
    };
    add_policy_columns(&mut a.input, policy.as_ref());
    let date_field = a.gdpr.date_field(policy.as_ref());
    let since = a.gdpr.since(policy.as_ref())?;
    let uses_dates = policy.as_ref().is_some_and(art9::CompiledPolicy::has_gdpr);
    if let Some(date) = &date_field {
        if a.summary_out.is_none() && a.report.is_none() && since.is_none() && !uses_dates {
            bail!("--date-field is for the run summary (--summary-out, --report), --since and a policy's retention or consent rules; none is given");
        }
        if !a.input.context.contains(date) {
            a.input.context.push(date.clone());
        }
    }
    if a.show_subjects {
        if a.input.subject.is_none() {
            bail!(
                "--show-subjects shows subject ids: name the subject column with --subject COLUMN"
            );
        }
        if a.summary_out.is_none() && a.report.is_none() {
            bail!("--show-subjects is for the run summary and report: add --summary-out FILE or --report FILE");
        }
    }
    let date_parser = a.gdpr.date_parser(policy.as_ref())?;
    // The lexicons are compiled while the input is opened (for a database: connecting, TLS,
    // preparing the statement); both take tens of milliseconds. Errors are reported in the
    // order the steps are listed here.
    let typos = policy.as_ref().is_some_and(art9::CompiledPolicy::typos);
    let (scanner, opened) = std::thread::scope(|s| {
        let building = s.spawn(|| common::scanner(&a.lexicons, typos));
        let opened = open(&a.input, false, progress::wanted(!a.quiet), "scan");
        let scanner = building
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (scanner, opened)
    });
    let scanner = scanner?;
    let review = super::review::setup(&a.review, policy.as_ref())?;
    let state = match &a.state.state {
        Some(path) => {
            let config = state_config(&a, &scanner);
            Some(super::review::load_state(
                path,
                policy.as_ref(),
                &config,
                a.quiet,
            )?)
        }
        None => None,
    };
    let format = match a.format {
        Some(FormatArg::Table) => Format::Table,
        Some(FormatArg::Jsonl) => Format::Jsonl,
        Some(FormatArg::Json) => Format::Json,
        Some(FormatArg::Csv) => Format::Csv,
        None if super::stdout_is_tty() => Format::Table,
        None => Format::Jsonl,
    };
    let opened = opened?;
    let mut progress = Progress::new(!a.quiet, opened.total, opened.unit);
    let notes = opened.notes;
    let src = BoxedSource(opened.source);
    let gdpr_columns = policy.as_ref().is_some_and(art9::CompiledPolicy::has_gdpr);
    let options = Options {
        policy,
        fingerprints: review.fingerprints.clone(),
        baseline: review.baseline.clone(),
        state: state.clone(),
        since,
        ..pipeline_options(&a.input, opened.read_on_workers, false, stop)
    };
    let mut tracker = state.as_deref().map(art9::review::Tracker::new);
    // The per-subject roll-up, only where it is read: written with --subjects-out, or counted
    // in the closing line on stderr. It keeps every subject's record keys (about 1.1 KB a
    // subject with findings: 11 GB for 10 million) and is fed on the writer, record by
    // record, so with `-q` and no --subjects-out a scan with --subject runs the batch path
    // without it.
    let mut rollup = (a.input.subject.is_some() && (a.subjects_out.is_some() || !a.quiet))
        .then(|| Rollup::new(a.input.subject_id.clone()));
    // The run summary's counts (--summary-out, --report): counted on the workers (in the
    // batch path) or here, and added up here.
    let mut tally = if a.summary_out.is_some() || a.report.is_some() {
        let key = match &a.input.subject {
            Some(_) => Some(
                SubjectKey::resolve(options.policy.as_ref())
                    .map_err(|e| anyhow::anyhow!("pseudonymising subjects: {e}"))?,
            ),
            None => None,
        };
        let t = Tally::new(key, date_field.is_some());
        Some(if a.show_subjects {
            t.with_subject_ids()
        } else {
            t
        })
    } else {
        None
    };
    let template = tally.as_ref().map(Tally::empty_like);
    // Only for a summary, report, audit line or review state: the lexicon fingerprint hashes
    // every term (22M instructions of a 5,000-term `--terms` scan of 5 MB, 8% of it, when
    // nothing used it).
    let run_info = if tally.is_some() || a.audit.is_some() || tracker.is_some() {
        RunInfo::new(&scanner, options.policy.as_ref())
    } else {
        RunInfo::default()
    };
    let audit_entry = a.audit.as_ref().map(|_| {
        super::audit::entry(
            "scan",
            &run_info,
            Vec::new(),
            a.input
                .subject_id
                .as_deref()
                .map(|id| art9::audit::subject_pseudonym(options.policy.as_ref(), id)),
        )
    });
    let started = std::time::Instant::now();
    let date_column = date_field.as_deref();
    let auto_dates = date_parser == art9::date::DateParser::auto();
    // The date column's value is found by its position in the records' shared context
    // names, looked up once per batch (not by name per record).
    let date_reader = || date_column.map(ContextColumn::new);
    let month_of = |r: &Record, date: &mut Option<ContextColumn>| {
        let text = date.as_mut()?.get(&r.context)?;
        // A bare ISO date, the common case, without the full parser (the same month).
        if auto_dates {
            if let Some(m) = Month::from_iso_date(text) {
                return Some(m);
            }
        }
        let date = date_parser.parse(text)?;
        let (y, m) = date.year_month();
        Month::new(u32::try_from(y).ok()?, u32::try_from(m).ok()?)
    };
    let stdout = io::stdout();
    let action_column = options.policy.is_some();
    let fingerprint_column = options.fingerprints.is_some();
    let mut printer = Printer::new(BufWriter::with_capacity(256 * 1024, stdout.lock()), format)
        .with_action_column(action_column)
        .with_gdpr_columns(gdpr_columns)
        .with_fingerprint_column(fingerprint_column);
    printer.begin(a.include_text)?;
    // How the workers format findings (they write to buffers of their own).
    let formatter = Printer::new(io::sink(), format)
        .with_action_column(action_column)
        .with_gdpr_columns(gdpr_columns)
        .with_fingerprint_column(fingerprint_column);
    let input_name = source_spec(&a.input)?.display_name();
    let mut skips = SkipReport::new(&input_name, &a.input.input);
    let include_text = a.include_text;
    let result = if rollup.is_none() && printer.formats_apart() {
        // The workers format each batch's findings and keep its skips; this thread only
        // copies bytes to stdout, so it never waits on the records.
        type Prepared = (Vec<u8>, Vec<Skipped>, u64, Option<SubjectRows>, Vec<Seen>);
        // The run summary's counts: each batch is counted on its worker into a tally taken
        // from this pool and put back after the batch, so there are at most as many
        // tallies as batches scanned at once (one per worker), each kept from batch to
        // batch and added up once, after the scan. Only the batch's subjects with findings
        // go to the writer with the batch, into the one table of the run's subjects (a
        // table per worker would hold most subjects once per worker). Adding up a whole
        // tally per batch on the writer cost a 4 KiB sketch and the count tables grown
        // from empty per batch of 1,024 records, and the writer's time beside the workers.
        let tallies: Mutex<Vec<Tally>> = Mutex::new(Vec::new());
        let pool = || tallies.lock().unwrap_or_else(PoisonError::into_inner);
        let prepare = |items: Vec<Item>| -> io::Result<Prepared> {
            let mut out = Vec::new();
            let mut skipped = Vec::new();
            let mut counts = template
                .as_ref()
                .map(|t| pool().pop().unwrap_or_else(|| t.empty_like()));
            let n = items.len() as u64;
            let mut seen = Vec::new();
            let mut date = date_reader();
            for item in items {
                if let Some(prior) = state.as_deref() {
                    seen.push(super::review::seen(prior, &item));
                }
                match item {
                    Item::Skipped(s) => skipped.push(s),
                    Item::Filtered(..) => {}
                    Item::Scanned { record, fields } => {
                        if let Some(t) = counts.as_mut() {
                            t.record(&record, &fields, month_of(&record, &mut date));
                        }
                        each_row(&scanner, &record, &fields, include_text, |r| {
                            formatter.format_finding(&mut out, r)
                        })?;
                    }
                }
            }
            let rows = counts.as_mut().map(Tally::take_subject_rows);
            if let Some(c) = counts {
                pool().push(c);
            }
            Ok((out, skipped, n, rows, seen))
        };
        let result = pipeline::run_prepared(src, &scanner, &options, prepare, |prepared, _| {
            let (out, skipped, n, rows, seen) = prepared?;
            if let Some(t) = tracker.as_mut() {
                super::review::apply(t, &seen);
            }
            progress.records(n);
            skips.batch(n, &skipped)?;
            if let (Some(t), Some(rows)) = (tally.as_mut(), rows) {
                t.add_subject_rows(rows);
            }
            printer.prepared(&out)
        });
        if let Some(t) = tally.as_mut() {
            for c in tallies.into_inner().unwrap_or_else(PoisonError::into_inner) {
                t.merge(&c)?;
            }
        }
        result
    } else {
        let mut date = date_reader();
        pipeline::run(src, &scanner, &options, |item| {
            progress.record();
            if let (Some(t), Some(prior)) = (tracker.as_mut(), state.as_deref()) {
                super::review::track(t, prior, item);
            }
            match item {
                Item::Skipped(s) => skips.item(Some(s))?,
                Item::Filtered(..) => skips.item(None)?,
                Item::Scanned { record, fields } => {
                    skips.item(None)?;
                    if let Some(r) = rollup.as_mut() {
                        r.add(record, fields);
                    }
                    if let Some(t) = tally.as_mut() {
                        t.record(record, fields, month_of(record, &mut date));
                    }
                    each_row(&scanner, record, fields, include_text, |r| {
                        printer.finding(r)
                    })?;
                }
            }
            Ok(())
        })
    };
    progress.finish();
    let result = skips.finish().and(result.map_err(anyhow::Error::from));
    let summary = result?;
    if let Some(n) = &notes {
        n.print();
    }
    printer.end(&summary)?;
    if let (Some(r), Some(path)) = (&rollup, &a.subjects_out) {
        write_rollup(r, path)?;
    }
    let baseline_counts = match &review.baseline {
        Some(b) => Some(super::review::finish_baseline(&a.review, b, a.quiet)?),
        None => None,
    };
    let state_counts = match (&tracker, &a.state.state) {
        (Some(t), Some(path)) if !summary.stopped_early => Some(super::review::finish_state(
            path,
            t,
            &run_info.started,
            a.quiet,
        )?),
        (Some(_), Some(path)) => {
            eprintln!(
                "art9: --state {}: not updated (the run stopped early); the next run starts \
                 from the previous state",
                path.display()
            );
            None
        }
        _ => None,
    };
    if let Some(t) = tally {
        let info = RunInfo {
            baseline: baseline_counts,
            state: state_counts,
            seconds: started.elapsed().as_secs_f64(),
            source: input_name.clone(),
            command: super::report::command_line(),
            subject_column: a.input.subject.clone(),
            date_column: date_field.clone(),
            as_of: (uses_dates || a.gdpr.since.is_some()).then(|| as_of.to_string()),
            ..run_info
        };
        let run = RunSummary::new(info, summary.clone(), t);
        // The summary and the report are written side by side: each is synced before it is
        // renamed into place, and the summary of a large run (a row per subject with
        // findings, 7 MB for 3 million records) takes as long to reach the disk as the
        // report takes to render.
        std::thread::scope(|s| -> Result<()> {
            let summary = a
                .summary_out
                .as_ref()
                .map(|path| s.spawn(|| super::report::write_summary(path, &run)));
            let report = a
                .report
                .as_ref()
                .map(|path| super::report::write_scan_report(path, &run, a.show_subjects));
            if let Some(done) = summary {
                done.join()
                    .map_err(|_| anyhow::anyhow!("writing the run summary failed"))??;
            }
            report.transpose().map(|_| ())
        })?;
    }
    let code = exit_for(&summary);
    if let (Some(path), Some(mut e)) = (&a.audit, audit_entry) {
        e.sources.push(input_name.clone());
        super::audit::counts_from_summary(&mut e, &summary, "found");
        for p in [&a.subjects_out, &a.summary_out, &a.report]
            .into_iter()
            .flatten()
        {
            super::audit::output(&mut e, p)?;
        }
        super::audit::write(path, e, code)?;
    }
    if !a.quiet {
        eprintln!("{}", summary_text(&summary));
        if let Some(r) = &rollup {
            let to = a
                .subjects_out
                .as_ref()
                .map(|p| format!(" (roll-up in {})", p.display()))
                .unwrap_or_default();
            eprintln!("art9: {} data subjects with findings{to}", r.affected());
        }
    }
    // The process ends here: freeing the automaton and every lexicon entry one by one (5M
    // instructions for a 5,000-term list, after the scan, on the critical path) is left to
    // the operating system.
    std::mem::forget(scanner);
    Ok(code)
}

/// The configuration fingerprint of a `--state` run: lexicons, policy, and the options that
/// change which findings a record gives (see README "Incremental runs"). The policy counts
/// by its file's bytes (or built-in name), not by the compiled policy, which holds the run's
/// reference time.
fn state_config(a: &ScanArgs, scanner: &Scanner) -> String {
    let info = RunInfo::new(scanner, None);
    let policy = match a.policy.as_deref() {
        Some(p) => match std::fs::read(p) {
            Ok(bytes) => {
                use sha2::Digest;
                let d = sha2::Sha256::digest(&bytes);
                d[..8].iter().map(|b| format!("{b:02x}")).collect()
            }
            Err(_) => format!("built-in {p}"),
        },
        None => String::new(),
    };
    let i = &a.input;
    super::review::state_config(&[
        ("lexicons", info.lexicon_fingerprint),
        ("lexicon_args", format!("{:?}", a.lexicons)),
        ("policy", policy),
        ("fields", format!("{:?}", i.field)),
        ("key", format!("{:?}", i.key)),
        ("subject", format!("{:?}", i.subject)),
        ("context", format!("{:?}", i.context)),
        ("date_field", format!("{:?}", a.gdpr.date_field)),
        ("date_format", format!("{:?}", a.gdpr.date_format)),
        ("min_likelihood", format!("{:?}", i.min_likelihood)),
        ("strip_html", i.strip_html.to_string()),
    ])
}

/// Write the per-subject roll-up: CSV for `*.csv`, JSON Lines otherwise; atomically, as a
/// masked copy is.
fn write_rollup(rollup: &Rollup, path: &Path) -> Result<()> {
    let file = common::AtomicFile::create(path, "subjects")?;
    let mut w = BufWriter::new(file.file()?);
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        rollup.write_csv(&mut w)
    } else {
        rollup.write_jsonl(&mut w)
    }
    .and_then(|()| w.flush())
    .with_context(|| format!("writing {}", path.display()))?;
    file.commit()
}

/// How a masked copy is compressed: as its `-o` name says (`.gz`, `.zst`), else as the
/// input was, except on a terminal (`-o -`), which gets text. A compressed copy under a
/// name that does not say so gets a note.
fn out_compression(output: &str, input: Compression, quiet: bool) -> Compression {
    if output == "-" && super::stdout_is_tty() {
        return Compression::None;
    }
    match Compression::from_name(output) {
        Compression::None if input != Compression::None => {
            if !quiet && output != "-" {
                eprintln!(
                    "art9: note: the input is {input}-compressed, and so is the masked copy \
                     {output}"
                );
            }
            input
        }
        Compression::None => Compression::None,
        named => named,
    }
}

pub fn mask(mut a: MaskArgs) -> Result<ExitCode> {
    let policy = a
        .gdpr
        .apply(common::policy(&a.policy)?, &a.input, a.gdpr.as_of()?)?;
    add_policy_columns(&mut a.input, Some(&policy));
    let since = a.gdpr.since(Some(&policy))?;
    if let Some(date) = since.as_ref().map(|s| &s.date_field) {
        if !a.input.context.contains(date) {
            a.input.context.push(date.clone());
        }
    }
    if source_spec(&a.input)?.is_database() {
        return super::db::mask(a, policy, since);
    }
    if a.db.into.is_some() || a.db.update || a.db.summary_json.is_some() {
        bail!("--into, --update and --summary-json are for database masking; a file is masked with -o OUT");
    }
    let stop = progress::stop_flag();
    let scanner = common::scanner(&a.lexicons, policy.typos())?;
    let Some(output) = a.output.clone() else {
        bail!("mask needs -o OUT (or - for standard output)");
    };
    if output != "-"
        && a.input.input != "-"
        && common::same_file(Path::new(&a.input.input), Path::new(&output))
    {
        bail!("refusing to write the masked copy over the input ({output}); choose another -o");
    }
    let opened = open(&a.input, true, progress::wanted(!a.quiet), "mask")?;
    let kind = opened.kind;
    let mut progress = Progress::new(!a.quiet, opened.total, opened.unit);
    let src = BoxedSource(opened.source);
    let review = super::review::setup(&a.review, Some(&policy))?;
    let options = Options {
        policy: Some(policy),
        fingerprints: review.fingerprints.clone(),
        baseline: review.baseline.clone(),
        since,
        ..pipeline_options(&a.input, opened.read_on_workers, true, stop)
    };
    let compression = out_compression(&output, opened.compression, a.quiet);
    let (writer, temp): (Box<dyn Write>, Option<common::AtomicFile>) = if output == "-" {
        (
            Box::new(BufWriter::with_capacity(256 * 1024, io::stdout().lock())),
            None,
        )
    } else {
        let tmp = common::AtomicFile::create(Path::new(&output), "mask")?;
        let f = tmp.file()?;
        (Box::new(BufWriter::with_capacity(256 * 1024, f)), Some(tmp))
    };
    let mut writer = MaskedCopy::new(
        writer,
        kind,
        opened.sniffed,
        compression,
        &opened.header_raw,
    )
    .context("writing the masked copy")?;
    let mut skips = SkipReport::new(&a.input.input, &a.input.input);
    let mut audit_entry =
        a.audit.as_ref().map(|_| {
            let info = RunInfo::new(&scanner, options.policy.as_ref());
            super::audit::entry(
                "mask",
                &info,
                vec![source_spec(&a.input)
                    .map_or_else(|_| a.input.input.clone(), |s| s.display_name())],
                a.input
                    .subject_id
                    .as_deref()
                    .map(|id| art9::audit::subject_pseudonym(options.policy.as_ref(), id)),
            )
        });
    let summary = pipeline::run(src, &scanner, &options, |item| {
        progress.record();
        let (record, fields) = match item {
            Item::Skipped(s) => {
                skips.item(Some(s))?;
                return Ok(());
            }
            Item::Filtered(record, _) => (record, &[][..]),
            Item::Scanned { record, fields } => (record, &fields[..]),
        };
        skips.item(None)?;
        if let Some(e) = audit_entry.as_mut() {
            super::subject::count_fields(e, fields);
        }
        writer.write(record, fields)
    });
    progress.finish();
    // A field missing from every record stops the run: that error, not the pipeline's.
    // The temporary file is removed when dropped; the output is not touched.
    skips.finish().context("no output file was written")?;
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            // The temporary file is removed when dropped; the output is not touched.
            return Err(e).context("masking stopped; no output file was written");
        }
    };
    if summary.stopped_early && temp.is_some() {
        eprintln!("{}", summary_text(&summary));
        bail!("interrupted; no output file was written (the masked copy would be incomplete)");
    }
    if kind == Kind::JsonArray && summary.records_skipped > 0 {
        eprintln!("{}", summary_text(&summary));
        bail!(
            "{} array elements could not be read; a JSON copy without them would not be valid \
             JSON, so no output file was written",
            summary.records_skipped
        );
    }
    writer.finish().context("writing the masked copy")?;
    // Synced, renamed, the directory synced: a masked copy that has its name is complete
    // on the disk.
    if let Some(tmp) = temp {
        tmp.commit()?;
    }
    if let Some(b) = &review.baseline {
        super::review::finish_baseline(&a.review, b, a.quiet)?;
    }
    if !a.quiet {
        eprintln!("{}", summary_text(&summary));
        if summary.records_skipped > 0 {
            eprintln!(
                "art9: {} skipped records are NOT in the masked copy (they could not be read)",
                summary.records_skipped
            );
        }
    }
    let code = exit_for(&summary);
    if let (Some(path), Some(mut e)) = (&a.audit, audit_entry) {
        e.records_from(&summary);
        if output != "-" {
            super::audit::output(&mut e, Path::new(&output))?;
        }
        super::audit::write(path, e, code)?;
    }
    Ok(code)
}

//! `art9 scan` and `art9 mask`: the batch commands.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use art9::encoding::{self, EncodeWriter, Sniffed, TextEncoding};
use art9::input::{
    CsvOptions, CsvSource, JsonArray, JsonLines, JsonOptions, Record, RecordSource, Skipped,
    TextLines,
};
use art9::matcher::Scanner;
use art9::output::{row, summary_text, FindingRow, Format, Printer};
use art9::pipeline::{self, FieldResult, Item, Options, Summary};
use art9::subjects::Rollup;

use super::args::{FormatArg, InFormatArg, InputArgs, MaskArgs, ScanArgs};
use super::common;
use super::progress::{self, Progress, Unit};
use super::ExitCode;

/// At most this many skipped records are reported one by one on stderr.
const MAX_SKIP_LINES: u64 = 100;

/// The shape of the input, as the masked copy needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Jsonl,
    JsonArray,
    Text,
    Csv { delimiter: u8 },
}

/// An opened input: the records, and what a copy of it must reproduce.
struct Opened {
    source: Box<dyn RecordSource>,
    kind: Kind,
    sniffed: Sniffed,
    /// CSV header bytes (written first in a masked copy).
    header_raw: Vec<u8>,
    /// What the progress bar counts (bytes of a file, rows of a database) and the total
    /// when known.
    unit: Unit,
    total: Option<u64>,
    /// A database's notes, printed once the scan is done.
    notes: Option<super::db::SourceNotes>,
}

fn in_format(input: &InputArgs) -> Result<InFormatArg> {
    if input.text {
        if input.format_in.is_some_and(|f| f != InFormatArg::Text) {
            bail!("--text and --format-in disagree");
        }
        return Ok(InFormatArg::Text);
    }
    if let Some(f) = input.format_in {
        return Ok(f);
    }
    let ext = Path::new(&input.input)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        _ if input.input == "-" => InFormatArg::Jsonl,
        Some("csv") => InFormatArg::Csv,
        Some("tsv") | Some("tab") => InFormatArg::Tsv,
        Some("json") => InFormatArg::Json,
        Some("txt") => InFormatArg::Text,
        _ => InFormatArg::Jsonl,
    })
}

fn parse_delimiter(d: &str) -> Result<u8> {
    match d {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        "," | ";" | "|" | ":" => Ok(d.as_bytes()[0]),
        _ => bail!("--delimiter must be one of , ; | : or tab (got {d:?})"),
    }
}

fn names(list: &[String], what: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for f in list {
        if f.is_empty() {
            bail!("{what} needs a name");
        }
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// Open the input as its format says. `spans`: locate fields for masking. `progress`: a
/// progress bar will be drawn (a database's rows are then counted first).
fn open(input: &InputArgs, spans: bool, progress: bool) -> Result<Opened> {
    if super::db::is_db_input(input) {
        let (source, total, notes) = super::db::source(input, progress)?;
        return Ok(Opened {
            source,
            notes: Some(notes),
            kind: Kind::Jsonl,
            sniffed: Sniffed {
                encoding: TextEncoding::Utf8,
                bom: false,
                explicit: false,
            },
            header_raw: Vec::new(),
            unit: Unit::Rows,
            total,
        });
    }
    let format = in_format(input)?;
    let is_csv = matches!(format, InFormatArg::Csv | InFormatArg::Tsv);
    if !is_csv && (input.delimiter.is_some() || input.no_header) {
        bail!("--delimiter and --no-header apply to CSV/TSV input");
    }
    let requested = input
        .encoding
        .as_deref()
        .map(TextEncoding::from_label)
        .transpose()?;
    let bytes = Arc::new(AtomicU64::new(0));
    let (reader, total) = common::open_input(&input.input, bytes.clone())?;
    let (reader, sniffed) = encoding::decoded(reader, requested)
        .with_context(|| format!("cannot read {}", input.input))?;
    let fields = names(&input.field, "--field")?;
    let key = names(&input.key, "--key")?;
    // 0 = no limit, as for --max-field-bytes (a quarter of the address space leaves room for
    // the readers' own arithmetic on the limit).
    let max = match input.max_record_bytes {
        0 => usize::MAX / 4,
        n => n,
    };
    let (source, kind, header_raw): (Box<dyn RecordSource>, Kind, Vec<u8>) = match format {
        InFormatArg::Text => {
            if !fields.is_empty() || !key.is_empty() || input.subject.is_some() {
                bail!("--field, --key and --subject do not apply to plain text input");
            }
            (
                Box::new(TextLines::new(reader, max)),
                Kind::Text,
                Vec::new(),
            )
        }
        InFormatArg::Jsonl | InFormatArg::Json => {
            let options = JsonOptions {
                fields,
                key,
                subject: input.subject.clone(),
            };
            if format == InFormatArg::Json {
                let src = JsonArray::new(reader, max, options);
                (Box::new(src), Kind::JsonArray, Vec::new())
            } else {
                let src = JsonLines::new(reader, max, options);
                // Only a masked copy rewrites the lines; a scan needs the fields alone.
                let src = if spans { src } else { src.without_raw() };
                (Box::new(src), Kind::Jsonl, Vec::new())
            }
        }
        InFormatArg::Csv | InFormatArg::Tsv => {
            let delimiter = match (&input.delimiter, format) {
                (Some(d), _) => Some(parse_delimiter(d)?),
                (None, InFormatArg::Tsv) => Some(b'\t'),
                (None, _) => None,
            };
            let options = CsvOptions {
                delimiter,
                has_header: !input.no_header,
                fields,
                key,
                subject: input.subject.clone(),
                max_record_bytes: max,
                spans,
            };
            let src = CsvSource::new(reader, options)
                .with_context(|| format!("cannot read {} as CSV", input.input))?;
            let kind = Kind::Csv {
                delimiter: src.delimiter(),
            };
            let header = src.header_raw().to_vec();
            (Box::new(src), kind, header)
        }
    };
    Ok(Opened {
        source,
        kind,
        sniffed,
        header_raw,
        unit: Unit::Bytes(bytes),
        total,
        notes: None,
    })
}

fn pipeline_options(input: &InputArgs, mask: bool, stop: Arc<AtomicBool>) -> Options {
    Options {
        threads: input.threads,
        batch_records: input.batch_records,
        mask,
        strip_html: input.strip_html,
        subject_id: input.subject_id.clone(),
        stop: Some(stop),
        max_field_bytes: input.max_field_bytes,
        // Reading a file is work (the kernel's copy, finding record ends): the workers take
        // it in turns. A pipe or a database is waited for on a thread of its own.
        read_on_workers: !super::db::is_db_input(input)
            && input.input != "-"
            && std::fs::metadata(&input.input).is_ok_and(|m| m.is_file()),
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
    mut f: impl FnMut(&FindingRow<'_>) -> io::Result<()>,
) -> io::Result<()> {
    for (fr, field) in fields.iter().zip(&record.fields) {
        for i in 0..fr.findings.len() {
            f(&row(scanner, record, &field.text, fr, i, include_text))?;
        }
    }
    Ok(())
}

pub fn scan(a: ScanArgs) -> Result<ExitCode> {
    // First, so that a Ctrl-C during start-up already stops cleanly.
    let stop = progress::stop_flag();
    // The lexicons are compiled while the input is opened (for a database: connecting, TLS,
    // preparing the statement); both take tens of milliseconds. Errors are reported in the
    // order the steps are listed here.
    let (scanner, opened) = std::thread::scope(|s| {
        let building = s.spawn(|| common::scanner(&a.lexicons));
        let opened = open(&a.input, false, progress::wanted(!a.quiet));
        let scanner = building
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (scanner, opened)
    });
    let scanner = scanner?;
    let policy = a.policy.as_deref().map(common::policy).transpose()?;
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
    let options = Options {
        policy,
        ..pipeline_options(&a.input, false, stop)
    };
    let mut rollup = a
        .input
        .subject
        .is_some()
        .then(|| Rollup::new(a.input.subject_id.clone()));
    let stdout = io::stdout();
    let mut printer = Printer::new(BufWriter::with_capacity(256 * 1024, stdout.lock()), format);
    printer.begin(a.include_text)?;
    let mut skips = 0;
    let input_name = super::db::display_name(&a.input);
    let include_text = a.include_text;
    let result = if rollup.is_none() && printer.formats_apart() {
        // The workers format each batch's findings and keep its skips; this thread only
        // copies bytes to stdout, so it never waits on the records.
        let prepare = |items: Vec<Item>| -> io::Result<(Vec<u8>, Vec<Skipped>, u64)> {
            let mut out = Vec::new();
            let mut skipped = Vec::new();
            let n = items.len() as u64;
            for item in items {
                match item {
                    Item::Skipped(s) => skipped.push(s),
                    Item::Filtered(_) => {}
                    Item::Scanned { record, fields } => {
                        each_row(&scanner, &record, &fields, include_text, |r| {
                            Printer::<Vec<u8>>::format_finding(format, &mut out, r)
                        })?;
                    }
                }
            }
            Ok((out, skipped, n))
        };
        pipeline::run_prepared(src, &scanner, &options, prepare, |prepared, _| {
            let (out, skipped, n) = prepared?;
            progress.records(n);
            for s in &skipped {
                report_skip(&input_name, s, &mut skips);
            }
            printer.prepared(&out)
        })
    } else {
        pipeline::run(src, &scanner, &options, |item| {
            progress.record();
            match item {
                Item::Skipped(s) => report_skip(&input_name, s, &mut skips),
                Item::Filtered(_) => {}
                Item::Scanned { record, fields } => {
                    if let Some(r) = rollup.as_mut() {
                        r.add(record, fields);
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
    let summary = result?;
    if let Some(n) = &notes {
        n.print();
    }
    finish_skips(skips);
    printer.end(&summary)?;
    if let (Some(r), Some(path)) = (&rollup, &a.subjects_out) {
        write_rollup(r, path)?;
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
    Ok(exit_for(&summary))
}

/// Write the per-subject roll-up: CSV for `*.csv`, JSON Lines otherwise.
fn write_rollup(rollup: &Rollup, path: &Path) -> Result<()> {
    let f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let w = BufWriter::new(f);
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        rollup.write_csv(w)
    } else {
        rollup.write_jsonl(w)
    }
    .with_context(|| format!("writing {}", path.display()))
}

/// A masked value as it goes back into the raw record.
fn encode_value(kind: Kind, original_raw: &str, masked: &str) -> io::Result<String> {
    Ok(match kind {
        Kind::Jsonl | Kind::JsonArray => serde_json::to_string(masked).map_err(io::Error::other)?,
        Kind::Text => masked.to_string(),
        Kind::Csv { delimiter } => art9::input::csv::encode_field(delimiter, original_raw, masked),
    })
}

/// Splice masked field values into the raw record.
fn masked_record(item_raw: &str, replacements: &mut [(usize, usize, String)]) -> String {
    replacements.sort_by_key(|r| r.0);
    let mut out = String::with_capacity(item_raw.len() + 32);
    let mut pos = 0;
    for (s, e, text) in replacements.iter() {
        if *s < pos {
            continue;
        }
        out.push_str(&item_raw[pos..*s]);
        out.push_str(text);
        pos = *e;
    }
    out.push_str(&item_raw[pos..]);
    out
}

pub fn mask(a: MaskArgs) -> Result<ExitCode> {
    if super::db::is_db_input(&a.input) {
        return super::db::mask(a);
    }
    let stop = progress::stop_flag();
    let scanner = common::scanner(&a.lexicons)?;
    let policy = common::policy(&a.policy)?;
    let Some(output) = a.output.clone() else {
        bail!("mask needs -o OUT (or - for standard output)");
    };
    if output != "-"
        && a.input.input != "-"
        && common::same_file(Path::new(&a.input.input), Path::new(&output))
    {
        bail!("refusing to write the masked copy over the input ({output}); choose another -o");
    }
    let opened = open(&a.input, true, progress::wanted(!a.quiet))?;
    let kind = opened.kind;
    let mut progress = Progress::new(!a.quiet, opened.total, opened.unit);
    let src = BoxedSource(opened.source);
    let options = Options {
        policy: Some(policy),
        ..pipeline_options(&a.input, true, stop)
    };
    let (writer, temp): (Box<dyn Write>, Option<tempfile::NamedTempFile>) = if output == "-" {
        (
            Box::new(BufWriter::with_capacity(256 * 1024, io::stdout().lock())),
            None,
        )
    } else {
        let out = Path::new(&output);
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".art9-mask-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let f = tmp.reopen().context("reopening the temporary file")?;
        (Box::new(BufWriter::with_capacity(256 * 1024, f)), Some(tmp))
    };
    // Same encoding and BOM as the input; the CSV header goes first, byte for byte.
    let mut writer = EncodeWriter::new(writer, opened.sniffed.encoding, opened.sniffed.bom)
        .context("writing the masked copy")?;
    writer
        .write_all(&opened.header_raw)
        .context("writing the masked copy")?;
    let mut skips = 0;
    let input_name = a.input.input.clone();
    let summary = pipeline::run(src, &scanner, &options, |item| {
        progress.record();
        let (record, fields) = match item {
            Item::Skipped(s) => {
                report_skip(&input_name, s, &mut skips);
                return Ok(());
            }
            Item::Filtered(record) => (record, &[][..]),
            Item::Scanned { record, fields } => (record, &fields[..]),
        };
        let mut replacements: Vec<(usize, usize, String)> = Vec::new();
        for (fr, field) in fields.iter().zip(&record.fields) {
            if let (Some(masked), Some((s, e))) = (&fr.masked, field.raw_span) {
                let original = record.raw.get(s..e).unwrap_or("");
                replacements.push((s, e, encode_value(kind, original, masked)?));
            }
        }
        if replacements.is_empty() {
            writer.write_all(record.raw.as_bytes())?;
        } else {
            writer.write_all(masked_record(&record.raw, &mut replacements).as_bytes())?;
        }
        writer.write_all(record.terminator.as_bytes())
    });
    progress.finish();
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
        finish_skips(skips);
        eprintln!("{}", summary_text(&summary));
        bail!(
            "{} array elements could not be read; a JSON copy without them would not be valid \
             JSON, so no output file was written",
            summary.records_skipped
        );
    }
    finish_skips(skips);
    writer
        .finish()
        .and_then(|mut w| w.flush())
        .context("writing the masked copy")?;
    if let Some(tmp) = temp {
        tmp.as_file().sync_all().ok();
        tmp.persist(&output)
            .with_context(|| format!("cannot rename the masked copy to {output}"))?;
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
    Ok(exit_for(&summary))
}

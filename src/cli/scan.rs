//! `art9 scan` and `art9 mask`: the batch commands.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use art9::input::{JsonLines, JsonOptions, RecordSource, Skipped, TextLines};
use art9::output::{row, summary_text, Format, Printer};
use art9::pipeline::{self, Item, Options, Summary};

use super::args::{FormatArg, InputArgs, MaskArgs, ScanArgs};
use super::common;
use super::ExitCode;

/// At most this many skipped records are reported one by one on stderr.
const MAX_SKIP_LINES: u64 = 100;

fn source(input: &InputArgs) -> Result<Box<dyn RecordSource>> {
    let reader = common::open_input(&input.input)?;
    if input.text {
        if !input.field.is_empty() || !input.key.is_empty() {
            bail!("--field and --key apply to JSON input, not to --text");
        }
        return Ok(Box::new(TextLines::new(reader, input.max_record_bytes)));
    }
    let mut fields: Vec<String> = Vec::new();
    for f in &input.field {
        if f.is_empty() {
            bail!("--field needs a name");
        }
        if !fields.contains(f) {
            fields.push(f.clone());
        }
    }
    Ok(Box::new(JsonLines::new(
        reader,
        input.max_record_bytes,
        JsonOptions {
            fields,
            key: input.key.clone(),
        },
    )))
}

struct BoxedSource(Box<dyn RecordSource>);

impl RecordSource for BoxedSource {
    fn next_record(&mut self) -> Option<io::Result<Result<art9::input::Record, Skipped>>> {
        self.0.next_record()
    }

    fn next_pending(&mut self) -> Option<io::Result<art9::input::Pending>> {
        self.0.next_pending()
    }
}

/// Report one skipped record on stderr (no record text, ever).
fn report_skip(input: &str, s: &Skipped, count: &mut u64) {
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

fn finish_skips(count: u64) {
    if count > MAX_SKIP_LINES {
        eprintln!(
            "art9: ... and {} more skipped records (see the summary)",
            count - MAX_SKIP_LINES
        );
    }
}

fn exit_for(summary: &Summary) -> ExitCode {
    if summary.records_skipped > 0 {
        ExitCode::Error
    } else if summary.total_findings() > 0 {
        ExitCode::Found
    } else {
        ExitCode::Clean
    }
}

pub fn scan(a: ScanArgs) -> Result<ExitCode> {
    let scanner = common::scanner_for(&a.lexicons, common::input_bytes(&a.input.input))?;
    let policy = a.policy.as_deref().map(common::policy).transpose()?;
    let format = match a.format {
        Some(FormatArg::Table) => Format::Table,
        Some(FormatArg::Jsonl) => Format::Jsonl,
        Some(FormatArg::Json) => Format::Json,
        Some(FormatArg::Csv) => Format::Csv,
        None if super::stdout_is_tty() => Format::Table,
        None => Format::Jsonl,
    };
    let src = BoxedSource(source(&a.input)?);
    let options = Options {
        threads: a.input.threads,
        batch_records: a.input.batch_records,
        policy,
        mask: false,
    };
    let stdout = io::stdout();
    let mut printer = Printer::new(BufWriter::with_capacity(256 * 1024, stdout.lock()), format);
    printer.begin(a.include_text)?;
    let mut skips = 0;
    let input_name = a.input.input.clone();
    let include_text = a.include_text;
    let summary = pipeline::run(src, &scanner, &options, |item| {
        match item {
            Item::Skipped(s) => report_skip(&input_name, s, &mut skips),
            Item::Scanned { record, fields } => {
                for (fr, field) in fields.iter().zip(&record.fields) {
                    for i in 0..fr.findings.len() {
                        printer.finding(&row(
                            &scanner,
                            record,
                            &field.text,
                            fr,
                            i,
                            include_text,
                        ))?;
                    }
                }
            }
        }
        Ok(())
    })?;
    finish_skips(skips);
    printer.end(&summary)?;
    if !a.quiet {
        eprintln!("{}", summary_text(&summary));
    }
    Ok(exit_for(&summary))
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
    let scanner = common::scanner_for(&a.lexicons, common::input_bytes(&a.input.input))?;
    let policy = common::policy(&a.policy)?;
    if a.output != "-"
        && a.input.input != "-"
        && common::same_file(Path::new(&a.input.input), Path::new(&a.output))
    {
        bail!(
            "refusing to write the masked copy over the input ({}); choose another -o",
            a.output
        );
    }
    let json = !a.input.text;
    let src = BoxedSource(source(&a.input)?);
    let options = Options {
        threads: a.input.threads,
        batch_records: a.input.batch_records,
        policy: Some(policy),
        mask: true,
    };
    let (mut writer, temp): (Box<dyn Write>, Option<tempfile::NamedTempFile>) = if a.output == "-" {
        (
            Box::new(BufWriter::with_capacity(256 * 1024, io::stdout().lock())),
            None,
        )
    } else {
        let out = Path::new(&a.output);
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
    let mut skips = 0;
    let input_name = a.input.input.clone();
    let summary = pipeline::run(src, &scanner, &options, |item| {
        match item {
            Item::Skipped(s) => report_skip(&input_name, s, &mut skips),
            Item::Scanned { record, fields } => {
                let mut replacements: Vec<(usize, usize, String)> = Vec::new();
                for (fr, field) in fields.iter().zip(&record.fields) {
                    if let (Some(masked), Some((s, e))) = (&fr.masked, field.raw_span) {
                        let encoded = if json {
                            serde_json::to_string(masked).map_err(io::Error::other)?
                        } else {
                            masked.clone()
                        };
                        replacements.push((s, e, encoded));
                    }
                }
                if replacements.is_empty() {
                    writer.write_all(record.raw.as_bytes())?;
                } else {
                    writer.write_all(masked_record(&record.raw, &mut replacements).as_bytes())?;
                }
                writer.write_all(record.terminator.as_bytes())?;
            }
        }
        Ok(())
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            // The temporary file is removed when dropped; the output is not touched.
            return Err(e).context("masking stopped; no output file was written");
        }
    };
    finish_skips(skips);
    writer.flush().context("writing the masked copy")?;
    drop(writer);
    if let Some(tmp) = temp {
        tmp.as_file().sync_all().ok();
        tmp.persist(&a.output)
            .with_context(|| format!("cannot rename the masked copy to {}", a.output))?;
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

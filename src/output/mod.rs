//! Printers for findings: JSON Lines, one JSON document, a table, CSV.
//!
//! By default no printer writes the matched text or the entry id (an id such as
//! `nl.health.diabetes` spells the diagnosis). `include_text` opts in to both.

pub mod db;
pub mod masked;
pub mod subjects;

use std::io::{self, Write};

use serde::Serialize;

use crate::input::Record;
use crate::matcher::{Finding, Scanner};
use crate::pipeline::{FieldResult, Summary};

/// Output format of findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One finding a line.
    Jsonl,
    /// One JSON document `{"findings": [...], "summary": {...}}`.
    Json,
    /// Aligned columns for people.
    Table,
    /// CSV with a header row.
    Csv,
}

/// One finding as printed.
#[derive(Serialize)]
pub struct FindingRow<'a> {
    /// Record key.
    pub record: &'a str,
    /// Line in the input where the record starts.
    pub line: u64,
    /// Field name.
    pub field: &'a str,
    /// Category.
    pub category: &'static str,
    /// Lexicon language.
    pub lang: &'static str,
    /// Byte start in the field text.
    pub start: usize,
    /// Byte end.
    pub end: usize,
    /// Char start.
    pub char_start: usize,
    /// Char end.
    pub char_end: usize,
    /// Policy action, when a policy was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// The matched text (only with `include_text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// The entry id (only with `include_text`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<&'a str>,
}

/// Build the printable row of a finding.
pub fn row<'a>(
    scanner: &'a Scanner,
    record: &'a Record,
    field_text: &'a str,
    field: &'a FieldResult,
    index: usize,
    include_text: bool,
) -> FindingRow<'a> {
    let f: &Finding = &field.findings[index];
    FindingRow {
        record: &record.key,
        line: record.line,
        field: &field.name,
        category: f.category.as_str(),
        lang: f.lang.as_str(),
        start: f.start,
        end: f.end,
        char_start: f.char_start,
        char_end: f.char_end,
        action: field.decision.as_ref().map(|d| d.actions[index].0.as_str()),
        text: include_text.then(|| &field_text[f.start..f.end]),
        entry: include_text.then(|| scanner.entry(f.entry).id.as_str()),
    }
}

/// Writes findings in one format.
pub struct Printer<W: Write> {
    out: W,
    format: Format,
    first: bool,
    header_done: bool,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, format: Format) -> Printer<W> {
        Printer {
            out,
            format,
            first: true,
            header_done: false,
        }
    }

    /// Write what comes before the first finding.
    ///
    /// # Errors
    /// On write errors.
    pub fn begin(&mut self, include_text: bool) -> io::Result<()> {
        match self.format {
            Format::Json => self.out.write_all(b"{\"findings\":["),
            Format::Table => {
                self.header_done = true;
                let mut h = format!(
                    "{:<16} {:<20} {:<18} {:<4} {:>7} {:>7}",
                    "RECORD", "FIELD", "CATEGORY", "LANG", "START", "END"
                );
                if include_text {
                    h.push_str("  TEXT / ENTRY");
                }
                writeln!(self.out, "{h}")
            }
            Format::Csv => {
                self.header_done = true;
                let mut h = String::from(
                    "record,line,field,category,lang,start,end,char_start,char_end,action",
                );
                if include_text {
                    h.push_str(",text,entry");
                }
                writeln!(self.out, "{h}")
            }
            Format::Jsonl => Ok(()),
        }
    }

    /// Write one finding.
    ///
    /// # Errors
    /// On write errors.
    pub fn finding(&mut self, r: &FindingRow<'_>) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, r)?;
                self.out.write_all(b"\n")
            }
            Format::Json => {
                if !self.first {
                    self.out.write_all(b",")?;
                }
                self.first = false;
                self.out.write_all(b"\n")?;
                serde_json::to_writer(&mut self.out, r)?;
                Ok(())
            }
            Format::Table => {
                let mut line = format!(
                    "{:<16} {:<20} {:<18} {:<4} {:>7} {:>7}",
                    r.record, r.field, r.category, r.lang, r.start, r.end
                );
                if let (Some(t), Some(e)) = (r.text, r.entry) {
                    line.push_str(&format!("  {:?} {e}", t));
                }
                writeln!(self.out, "{line}")
            }
            Format::Csv => {
                let mut cells = vec![
                    csv_cell(r.record),
                    r.line.to_string(),
                    csv_cell(r.field),
                    r.category.to_string(),
                    r.lang.to_string(),
                    r.start.to_string(),
                    r.end.to_string(),
                    r.char_start.to_string(),
                    r.char_end.to_string(),
                    r.action.unwrap_or("").to_string(),
                ];
                if let (Some(t), Some(e)) = (r.text, r.entry) {
                    cells.push(csv_cell(t));
                    cells.push(csv_cell(e));
                }
                writeln!(self.out, "{}", cells.join(","))
            }
        }
    }

    /// Write findings already formatted by [`Printer::format_finding`], in input order.
    ///
    /// # Errors
    /// On write errors.
    pub fn prepared(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Whether findings in this format can be formatted apart, each by itself
    /// ([`Printer::format_finding`]) and written later with [`Printer::prepared`]: all but
    /// `json`, whose separators depend on what came before.
    pub fn formats_apart(&self) -> bool {
        self.format != Format::Json
    }

    /// Append one finding in `format` to `buf`, as [`Printer::finding`] would write it
    /// (formats where [`Printer::formats_apart`] holds).
    pub fn format_finding(format: Format, buf: &mut Vec<u8>, r: &FindingRow<'_>) -> io::Result<()> {
        Printer::new(buf, format).finding(r)
    }

    /// Write what comes after the last finding (the summary, for `json`).
    ///
    /// # Errors
    /// On write errors.
    pub fn end(&mut self, summary: &Summary) -> io::Result<()> {
        if self.format == Format::Json {
            self.out.write_all(b"\n],\"summary\":")?;
            serde_json::to_writer(&mut self.out, summary)?;
            self.out.write_all(b"}\n")?;
        }
        self.out.flush()
    }

    /// Flush the underlying writer.
    ///
    /// # Errors
    /// On write errors.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One-paragraph human summary for stderr. Contains counts only.
pub fn summary_text(s: &Summary) -> String {
    let mut out = format!(
        "art9: {} records read, {} scanned, {} skipped",
        s.records_read, s.records_scanned, s.records_skipped
    );
    if !s.skipped.is_empty() {
        let reasons: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(" ({})", reasons.join(", ")));
    }
    if s.records_filtered > 0 {
        out.push_str(&format!(
            ", {} filtered (other subjects, not scanned)",
            s.records_filtered
        ));
    }
    out.push_str(&format!(
        "; {} findings in {} records",
        s.total_findings(),
        s.records_with_findings
    ));
    let per: Vec<String> = s
        .findings
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !per.is_empty() {
        out.push_str(&format!(" ({})", per.join(", ")));
    }
    if !s.outcomes.is_empty() {
        let per: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("; records by decision: {}", per.join(", ")));
    }
    if s.stopped_early {
        match s.stopped_at {
            Some(n) => out.push_str(&format!(
                "; stopped early (interrupted) after record {n}: the rest of the input was not read"
            )),
            None => out.push_str("; stopped early"),
        }
    }
    out
}

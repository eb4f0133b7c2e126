//! The consent ledger (`--consent FILE|table:NAME`): who gave explicit consent for which
//! special category, when, whether it was withdrawn, and the reference of the statement.
//!
//! A ledger is rows of `subject, category, given_at, withdrawn_at, reference`, from a CSV
//! file with a header, a JSON Lines file of objects with those keys, or a table with those
//! columns in the database being scanned. `category` is an art9 category (`health`) or its
//! fideslang key (`user.health`); `given_at` and `withdrawn_at` are dates as
//! [`DateParser::auto`] reads them (ISO 8601 recommended); `withdrawn_at` may be empty.
//! Other columns or keys are ignored. A bad row is one error naming the file, the line and
//! the field, never the row's values (a subject id is personal data).
//!
//! What a ledger row changes is the policy's business ([`crate::policy`], `consent:` rules);
//! this module answers one question: [`ConsentLedger::lookup`].
//!
//! # Resource usage
//! The whole ledger is held in memory: one hash-map entry per subject and ~64 bytes per row.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use crate::category::Category;
use crate::date::{DateParser, Timestamp};

/// The ledger's columns, in the order a table is read.
pub const COLUMNS: [&str; 5] = [
    "subject",
    "category",
    "given_at",
    "withdrawn_at",
    "reference",
];

/// A ledger file or table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub struct ConsentError {
    /// The file (or `table NAME`).
    pub file: String,
    /// 1-based line (row of a table), when the error is about one row.
    pub line: Option<u64>,
    /// The field, when the error is about one.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConsentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "consent ledger {}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(field) = self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// One row of the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentEntry {
    /// The special category consented to.
    pub category: Category,
    /// When it was given.
    pub given_at: Timestamp,
    /// When it was withdrawn, if it was.
    pub withdrawn_at: Option<Timestamp>,
    /// The reference of the consent statement (form, recording, e-mail id).
    pub reference: Arc<str>,
}

impl ConsentEntry {
    /// Given and not withdrawn at `as_of`.
    pub fn active_at(&self, as_of: Timestamp) -> bool {
        self.given_at <= as_of && self.withdrawn_at.is_none_or(|w| w > as_of)
    }

    /// Withdrawn at or before `as_of`.
    pub fn withdrawn_at(&self, as_of: Timestamp) -> bool {
        self.withdrawn_at.is_some_and(|w| w <= as_of)
    }
}

/// What the ledger says about one finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsentState {
    /// An active consent covers the note (given on or before the note's date, not
    /// withdrawn at the reference time): its reference.
    Active(Arc<str>),
    /// No active consent covers the note, and a consent for the category was withdrawn:
    /// the reference of the (latest) withdrawn one.
    Withdrawn(Arc<str>),
    /// No ledger row covers the note: the subject is not in the ledger, has no row for the
    /// category, the note has no subject or no known date, or it predates every consent.
    None,
}

/// The consent ledger, by subject.
#[derive(Clone, Default)]
pub struct ConsentLedger {
    by_subject: HashMap<String, Vec<ConsentEntry>>,
    rows: usize,
}

/// Counts only: subject ids are personal data.
impl fmt::Debug for ConsentLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentLedger")
            .field("subjects", &self.by_subject.len())
            .field("rows", &self.rows)
            .finish()
    }
}

impl ConsentLedger {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Add one row.
    pub fn insert(&mut self, subject: impl Into<String>, entry: ConsentEntry) {
        self.by_subject
            .entry(subject.into())
            .or_default()
            .push(entry);
        self.rows += 1;
    }

    /// What the ledger says about a finding of `category` in a note of `subject` dated
    /// `note_date`, at the reference time `as_of`:
    /// * [`ConsentState::Active`] when a row for the subject and category was given on or
    ///   before the note's date (and on or before `as_of`) and is not withdrawn at `as_of`.
    ///   A note without a known date is not covered: consent is not retroactive, so what
    ///   cannot be shown to be written under it is not;
    /// * else [`ConsentState::Withdrawn`] when a row for the subject and category was
    ///   withdrawn at or before `as_of` (whatever the note's date);
    /// * else [`ConsentState::None`].
    pub fn lookup(
        &self,
        subject: &str,
        category: Category,
        note_date: Option<Timestamp>,
        as_of: Timestamp,
    ) -> ConsentState {
        let Some(rows) = self.by_subject.get(subject) else {
            return ConsentState::None;
        };
        let rows = || rows.iter().filter(|r| r.category == category);
        if let Some(d) = note_date {
            if let Some(r) = rows().find(|r| r.active_at(as_of) && r.given_at <= d) {
                return ConsentState::Active(r.reference.clone());
            }
        }
        match rows()
            .filter(|r| r.withdrawn_at(as_of))
            .max_by_key(|r| r.withdrawn_at)
        {
            Some(r) => ConsentState::Withdrawn(r.reference.clone()),
            None => ConsentState::None,
        }
    }

    /// Read a ledger file: CSV (a `.csv` name, or a first character other than `{`) or JSON
    /// Lines (`.jsonl`, `.ndjson`, `.json`, or a first character `{`).
    ///
    /// # Errors
    /// The file cannot be read; a header without the five columns; a bad row (file:line and
    /// field).
    pub fn from_path(path: &Path) -> Result<ConsentLedger, ConsentError> {
        let source = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| ConsentError {
            file: source.clone(),
            line: None,
            field: None,
            message: e.to_string(),
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let mut reader = BufReader::new(file);
        let jsonl = match ext.as_deref() {
            Some("csv") => false,
            Some("jsonl" | "ndjson" | "json") => true,
            _ => {
                let head = reader.fill_buf().map_err(|e| ConsentError {
                    file: source.clone(),
                    line: None,
                    field: None,
                    message: e.to_string(),
                })?;
                head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
            }
        };
        if jsonl {
            ConsentLedger::from_jsonl(&source, reader)
        } else {
            ConsentLedger::from_csv(&source, reader)
        }
    }

    /// Read a CSV ledger (a header naming the five columns, in any order).
    ///
    /// # Errors
    /// As [`ConsentLedger::from_path`].
    pub fn from_csv(source: &str, input: impl Read) -> Result<ConsentLedger, ConsentError> {
        let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(input);
        let err = |line: Option<u64>, message: String| ConsentError {
            file: source.to_string(),
            line,
            field: None,
            message,
        };
        let header = r
            .headers()
            .map_err(|e| err(Some(1), csv_error(&e)))?
            .clone();
        let mut at = [0usize; 5];
        for (slot, name) in at.iter_mut().zip(COLUMNS) {
            *slot = header
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
                .ok_or_else(|| {
                    err(
                        Some(1),
                        format!(
                            "the header has no column {name:?} (needs {})",
                            COLUMNS.join(", ")
                        ),
                    )
                })?;
        }
        let mut ledger = ConsentLedger::default();
        for row in r.records() {
            let row = row.map_err(|e| err(e.position().map(|p| p.line()), csv_error(&e)))?;
            let line = row.position().map_or(0, |p| p.line());
            let values: [Option<&str>; 5] = at.map(|i| row.get(i));
            ledger.add_row(source, line, values)?;
        }
        Ok(ledger)
    }

    /// Read a JSON Lines ledger (one object a line; blank lines are skipped).
    ///
    /// # Errors
    /// As [`ConsentLedger::from_path`].
    pub fn from_jsonl(source: &str, input: impl BufRead) -> Result<ConsentLedger, ConsentError> {
        let mut ledger = ConsentLedger::default();
        for (i, line) in input.lines().enumerate() {
            let n = i as u64 + 1;
            let err = |message: String| ConsentError {
                file: source.to_string(),
                line: Some(n),
                field: None,
                message,
            };
            let line = line.map_err(|e| err(e.to_string()))?;
            let line = line.trim_start_matches('\u{feff}');
            if line.trim().is_empty() {
                continue;
            }
            // serde_json's messages can quote values: only its category and column.
            let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
                .map_err(|e| {
                    err(format!(
                        "not a JSON object ({:?} error at column {})",
                        e.classify(),
                        e.column()
                    ))
                })?;
            let mut texts: [Option<String>; 5] = Default::default();
            for (slot, name) in texts.iter_mut().zip(COLUMNS) {
                *slot = match obj.get(name) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Number(x)) => Some(x.to_string()),
                    Some(_) => {
                        return Err(ConsentError {
                            field: Some(name),
                            ..err("must be a string".into())
                        })
                    }
                };
            }
            ledger.add_row(source, n, texts.each_ref().map(|t| t.as_deref()))?;
        }
        Ok(ledger)
    }

    /// Read the ledger from `table` of the database `url` (columns [`COLUMNS`]); rows are
    /// numbered in the order of their `subject`.
    ///
    /// # Errors
    /// The database errors of a scan; a bad row (table, row number and field).
    pub fn from_table(
        url: &crate::input::db::DbUrl,
        table: &str,
    ) -> Result<ConsentLedger, ConsentError> {
        let source = format!("{url} table {table}");
        let rows = crate::input::db::rows::read_text_rows(url, table, &COLUMNS).map_err(|e| {
            ConsentError {
                file: source.clone(),
                line: None,
                field: None,
                message: e.message().to_string(),
            }
        })?;
        let mut ledger = ConsentLedger::default();
        for (i, row) in rows.iter().enumerate() {
            let values: [Option<&str>; 5] =
                std::array::from_fn(|c| row.get(c).and_then(|v| v.as_deref()));
            ledger.add_row(&source, i as u64 + 1, values)?;
        }
        Ok(ledger)
    }

    /// Validate and add one row (values in [`COLUMNS`] order).
    fn add_row(
        &mut self,
        source: &str,
        line: u64,
        values: [Option<&str>; 5],
    ) -> Result<(), ConsentError> {
        let at = |field: &'static str, message: &str| ConsentError {
            file: source.to_string(),
            line: Some(line),
            field: Some(field),
            message: message.to_string(),
        };
        let [subject, category, given, withdrawn, reference] =
            values.map(|v| v.map(str::trim).filter(|v| !v.is_empty()));
        let subject = subject.ok_or_else(|| at("subject", "missing"))?;
        let category = category.ok_or_else(|| at("category", "missing"))?;
        let category = category
            .parse::<Category>()
            .ok()
            .or_else(|| Category::from_data_category(category))
            .ok_or_else(|| {
                at(
                    "category",
                    "not a category (health, politics, religion, ethnicity, sexual_orientation, \
                     trade_union, criminal, or its fideslang key such as user.health)",
                )
            })?;
        let parser = DateParser::auto();
        let date = |field: &'static str, v: &str| {
            parser
                .parse(v)
                .ok_or_else(|| at(field, "not a date (ISO 8601, e.g. 2026-12-07T10:00:00Z)"))
        };
        let given_at = date("given_at", given.ok_or_else(|| at("given_at", "missing"))?)?;
        let withdrawn_at = withdrawn.map(|w| date("withdrawn_at", w)).transpose()?;
        if withdrawn_at.is_some_and(|w| w < given_at) {
            return Err(at("withdrawn_at", "is before given_at"));
        }
        let reference = reference.ok_or_else(|| at("reference", "missing"))?;
        self.insert(
            subject,
            ConsentEntry {
                category,
                given_at,
                withdrawn_at,
                reference: Arc::from(reference),
            },
        );
        Ok(())
    }
}

/// A CSV error without the record's values.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, the header has {expected_len}"),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "not valid CSV".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const CSV: &str = "subject,category,given_at,withdrawn_at,reference,extra\n\
        c1,health,2025-01-01,,FORM-1,x\n\
        c2,user.health,2025-01-01,2026-06-01,FORM-2,x\n\
        c2,health,2026-09-01,,FORM-3,x\n\
        c3,religion,2025-01-01T10:00:00Z,2025-02-01,FORM-4,x\n";

    #[test]
    fn lookup_rules() {
        let l = ConsentLedger::from_csv("l.csv", CSV.as_bytes()).unwrap();
        assert_eq!(l.len(), 4);
        let as_of = ts("2026-12-01");
        let active = |r: &str| ConsentState::Active(Arc::from(r));
        let withdrawn = |r: &str| ConsentState::Withdrawn(Arc::from(r));
        let h = Category::Health;
        // A note on or after given_at is covered; one before, or undated, is not.
        assert_eq!(
            l.lookup("c1", h, Some(ts("2025-03-01")), as_of),
            active("FORM-1")
        );
        assert_eq!(
            l.lookup("c1", h, Some(ts("2024-12-31")), as_of),
            ConsentState::None
        );
        assert_eq!(l.lookup("c1", h, None, as_of), ConsentState::None);
        // Other category, other subject.
        assert_eq!(
            l.lookup("c1", Category::Religion, Some(ts("2025-03-01")), as_of),
            ConsentState::None
        );
        assert_eq!(
            l.lookup("nobody", h, Some(ts("2025-03-01")), as_of),
            ConsentState::None
        );
        // Withdrawn, then given again: notes after the new consent are covered, older ones
        // are due for erasure.
        assert_eq!(
            l.lookup("c2", h, Some(ts("2026-10-01")), as_of),
            active("FORM-3")
        );
        assert_eq!(
            l.lookup("c2", h, Some(ts("2025-03-01")), as_of),
            withdrawn("FORM-2")
        );
        // Before the withdrawal (as of), it was active.
        assert_eq!(
            l.lookup("c2", h, Some(ts("2025-03-01")), ts("2026-05-01")),
            active("FORM-2")
        );
        assert_eq!(
            l.lookup("c3", Category::Religion, None, as_of),
            withdrawn("FORM-4")
        );
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let cases = [
            (
                "c1,health,yesterday,,F",
                "l.csv:2: field given_at: not a date",
            ),
            (
                "c1,health,2025-01-01,2024-01-01,F",
                "l.csv:2: field withdrawn_at: is before given_at",
            ),
            (
                "c1,wealth,2025-01-01,,F",
                "l.csv:2: field category: not a category",
            ),
            (",health,2025-01-01,,F", "l.csv:2: field subject: missing"),
            (
                "c1,health,2025-01-01,,",
                "l.csv:2: field reference: missing",
            ),
            (
                "c1,health,2025-01-01,F",
                "l.csv:2: 4 fields, the header has 5",
            ),
        ];
        for (row, want) in cases {
            let text = format!("subject,category,given_at,withdrawn_at,reference\n{row}\n");
            let e = ConsentLedger::from_csv("l.csv", text.as_bytes()).unwrap_err();
            assert!(
                e.to_string().starts_with(&format!("consent ledger {want}")),
                "{e} / {want}"
            );
            // Never the subject id.
            assert!(!e.to_string().contains("c1,"), "{e}");
        }
        let e = ConsentLedger::from_csv("l.csv", "subject,category\n".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no column \"given_at\""), "{e}");
    }

    #[test]
    fn jsonl_rows() {
        let text = "{\"subject\":\"c1\",\"category\":\"health\",\"given_at\":\"2025-01-01\",\"reference\":\"F\"}\n\n\
                    {\"subject\":42,\"category\":\"criminal\",\"given_at\":\"2025-01-01\",\"withdrawn_at\":null,\"reference\":\"G\"}\n\
                    {\"subject\":\"SECRET\",\"category\":[1],\"given_at\":\"2025-01-01\",\"reference\":\"G\"}\n";
        let e = ConsentLedger::from_jsonl("l.jsonl", text.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "consent ledger l.jsonl:4: field category: must be a string"
        );
        let ok: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
        let l = ConsentLedger::from_jsonl("l.jsonl", ok.as_bytes()).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            l.lookup(
                "42",
                Category::Criminal,
                Some(ts("2025-06-01")),
                ts("2026-01-01")
            ),
            ConsentState::Active(Arc::from("G"))
        );
        let e = ConsentLedger::from_jsonl("l.jsonl", "{\"subject\": \"SECRET\"\n".as_bytes())
            .unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }
}

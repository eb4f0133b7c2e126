//! The review baseline: findings a person has reviewed, by fingerprint, with the decision.
//!
//! A baseline file is JSON Lines, one entry a line, sorted by fingerprint:
//!
//! ```json
//! {"fingerprint":"5f0c…","decision":"false_positive","reason":"product name","reviewer":"dpo","date":"2026-12-07","record":"N-1002","field":"note","category":"health"}
//! ```
//!
//! `false_positive`: not special-category data; the finding is not reported, not counted
//! as a finding and not masked. `accepted`: special-category data that was reviewed and
//! may stay (a lawful basis, say); it is not reported again by `scan`, but `mask` still
//! masks it (a masked copy holds no such data, reviewed or not). Both are counted as
//! silenced in the summaries.
//!
//! During a run, the workers mark each entry whose fingerprint a finding has (matched) and
//! each entry whose record was scanned (checked); an entry that was checked but not matched
//! is **stale**: its record was scanned and the finding is gone (edited, deleted, or no
//! longer found by the lexicons). Entries whose record was not scanned in the run (another
//! subject under `--subject-id`, unchanged under `--state`, skipped, or not in the input)
//! are neither: they are counted as unchecked.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::Fingerprint;
use crate::category::Category;

/// A reviewer's decision on a finding.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Not special-category data: silenced everywhere, not masked.
    FalsePositive,
    /// Special-category data, reviewed and kept: not reported again; still masked by `mask`.
    Accepted,
}

impl Review {
    /// `false_positive` or `accepted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Review::FalsePositive => "false_positive",
            Review::Accepted => "accepted",
        }
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a baseline file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    /// The finding's fingerprint.
    pub fingerprint: Fingerprint,
    /// The decision.
    pub decision: Review,
    /// Why (free text, written by the reviewer: it should not quote the note).
    pub reason: String,
    /// Who reviewed it.
    pub reviewer: String,
    /// When (`YYYY-MM-DD`).
    pub date: String,
    /// The record key of the finding (what stale detection goes by).
    pub record: String,
    /// The field of the finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The category of the finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

/// A baseline that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file cannot be read.
    #[error("cannot read {file}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: io::Error,
    },
    /// A line is not a valid entry.
    #[error("{file}:{line}: {message}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong (never the line's text).
        message: String,
    },
}

/// Whether `s` is a date `YYYY-MM-DD` (month 01–12, day 01–31).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
        return false;
    }
    if !digits(5..7) || !digits(8..10) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Check one entry's values (the shape is serde's).
fn validate(e: &BaselineEntry) -> Result<(), String> {
    if !is_date(&e.date) {
        return Err("\"date\" must be YYYY-MM-DD".into());
    }
    if e.reviewer.trim().is_empty() {
        return Err("\"reviewer\" is empty".into());
    }
    if e.record.is_empty() {
        return Err("\"record\" is empty".into());
    }
    Ok(())
}

/// What a run made of a baseline, for the summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineCounts {
    /// Entries in the baseline.
    pub entries: u64,
    /// Entries a finding of this run matched (silenced).
    pub matched: u64,
    /// Entries whose record was scanned but whose finding was not found.
    pub stale: u64,
    /// Entries whose record was not scanned in this run.
    pub unchecked: u64,
}

/// A loaded baseline, shared by the workers of a run.
#[derive(Debug, Default)]
pub struct Baseline {
    entries: Vec<BaselineEntry>,
    by_fingerprint: HashMap<Fingerprint, usize>,
    by_record: HashMap<String, Vec<usize>>,
    matched: Vec<AtomicBool>,
    checked: Vec<AtomicBool>,
}

impl Baseline {
    /// Parse a baseline file's text; `name` is used in errors. Blank lines are allowed.
    ///
    /// # Errors
    /// The first bad line: not JSON, an unknown or missing key, a bad fingerprint, decision
    /// or date, or a fingerprint already on an earlier line (both lines named).
    pub fn parse(name: &str, text: &str) -> Result<Baseline, BaselineError> {
        let mut entries = Vec::new();
        let mut lines: HashMap<Fingerprint, usize> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| BaselineError::Line {
                file: name.to_string(),
                line: i + 1,
                message,
            };
            if line.trim().is_empty() {
                continue;
            }
            let e: BaselineEntry = serde_json::from_str(line)
                .map_err(|e| err(format!("not a baseline entry: {}", json_reason(&e))))?;
            validate(&e).map_err(err)?;
            if let Some(first) = lines.insert(e.fingerprint, i + 1) {
                return Err(err(format!(
                    "fingerprint {} is already on line {first}",
                    e.fingerprint
                )));
            }
            entries.push(e);
        }
        Ok(Baseline::from_entries(entries))
    }

    /// Read a baseline file.
    ///
    /// # Errors
    /// As [`Baseline::parse`], or the file cannot be read.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
            file: name.clone(),
            source,
        })?;
        Baseline::parse(&name, &text)
    }

    /// A baseline of these entries (one per fingerprint: a later duplicate replaces an
    /// earlier one).
    pub fn from_entries(entries: Vec<BaselineEntry>) -> Baseline {
        let mut b = Baseline::default();
        for e in entries {
            b.insert(e);
        }
        b
    }

    /// Add an entry, or replace the one with its fingerprint. Returns the entry replaced.
    pub fn insert(&mut self, e: BaselineEntry) -> Option<BaselineEntry> {
        if let Some(&i) = self.by_fingerprint.get(&e.fingerprint) {
            let old = std::mem::replace(&mut self.entries[i], e);
            if old.record != self.entries[i].record {
                if let Some(v) = self.by_record.get_mut(&old.record) {
                    v.retain(|&j| j != i);
                }
                let rec = self.entries[i].record.clone();
                self.by_record.entry(rec).or_default().push(i);
            }
            return Some(old);
        }
        let i = self.entries.len();
        self.by_fingerprint.insert(e.fingerprint, i);
        self.by_record.entry(e.record.clone()).or_default().push(i);
        self.entries.push(e);
        self.matched.push(AtomicBool::new(false));
        self.checked.push(AtomicBool::new(false));
        None
    }

    /// The entry with this fingerprint.
    pub fn get(&self, fp: &Fingerprint) -> Option<&BaselineEntry> {
        self.by_fingerprint.get(fp).map(|&i| &self.entries[i])
    }

    /// The decision on the finding with this fingerprint, if it was reviewed; marks the
    /// entry matched.
    pub fn review(&self, fp: &Fingerprint) -> Option<Review> {
        let &i = self.by_fingerprint.get(fp)?;
        self.matched[i].store(true, Ordering::Relaxed);
        Some(self.entries[i].decision)
    }

    /// The record `key` was scanned in this run: its entries are checked.
    pub fn record_scanned(&self, key: &str) {
        if let Some(ix) = self.by_record.get(key) {
            for &i in ix {
                self.checked[i].store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether any entry is for the record `key`.
    pub fn has_record(&self, key: &str) -> bool {
        self.by_record.contains_key(key)
    }

    /// Entries whose record was scanned in this run but whose finding was not found, in
    /// file order.
    pub fn stale(&self) -> Vec<&BaselineEntry> {
        (0..self.entries.len())
            .filter(|&i| {
                self.checked[i].load(Ordering::Relaxed) && !self.matched[i].load(Ordering::Relaxed)
            })
            .map(|i| &self.entries[i])
            .collect()
    }

    /// Entries whose record was not scanned in this run (neither matched nor stale).
    pub fn unchecked(&self) -> usize {
        (0..self.entries.len())
            .filter(|&i| {
                !self.checked[i].load(Ordering::Relaxed) && !self.matched[i].load(Ordering::Relaxed)
            })
            .count()
    }

    /// Entries matched by a finding in this run.
    pub fn matched(&self) -> usize {
        self.matched
            .iter()
            .filter(|m| m.load(Ordering::Relaxed))
            .count()
    }

    /// The counts of this run so far.
    pub fn counts(&self) -> BaselineCounts {
        BaselineCounts {
            entries: self.entries.len() as u64,
            matched: self.matched() as u64,
            stale: self.stale().len() as u64,
            unchecked: self.unchecked() as u64,
        }
    }

    /// Every entry, in the order read.
    pub fn entries(&self) -> &[BaselineEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Write the entries as a baseline file: JSON Lines sorted by fingerprint, so that the
    /// same entries always give the same bytes (and a diff shows what a review changed).
    ///
    /// # Errors
    /// On write errors.
    pub fn write_jsonl(&self, mut w: impl Write) -> io::Result<()> {
        let mut sorted: Vec<&BaselineEntry> = self.entries.iter().collect();
        sorted.sort_by_key(|e| e.fingerprint);
        for e in sorted {
            serde_json::to_writer(&mut w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// serde_json's error without any quoted value: its category, line and column.
fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category as C;
    let what = match e.classify() {
        C::Io => "read error",
        C::Syntax => "invalid JSON",
        C::Eof => "truncated JSON",
        // A data error's message names keys and types (`unknown field `x``, `missing
        // field`), never values of the line: the serde messages of this struct's fields.
        C::Data => return format!("{e}"),
    };
    format!("{what} at column {}", e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP1: &str = "00112233445566778899aabbccddeeff";
    const FP2: &str = "ffeeddccbbaa99887766554433221100";

    fn line(fp: &str, decision: &str, record: &str) -> String {
        format!(
            r#"{{"fingerprint":"{fp}","decision":"{decision}","reason":"r","reviewer":"dpo","date":"2026-12-07","record":"{record}"}}"#
        )
    }

    #[test]
    fn parses_matches_and_finds_stale_entries() {
        let text = format!(
            "{}\n\n{}\n",
            line(FP1, "false_positive", "N-1"),
            line(FP2, "accepted", "N-2")
        );
        let b = Baseline::parse("b.jsonl", &text).unwrap();
        assert_eq!(b.len(), 2);
        let fp1: Fingerprint = FP1.parse().unwrap();
        b.record_scanned("N-1");
        b.record_scanned("N-2");
        assert_eq!(b.review(&fp1), Some(Review::FalsePositive));
        let stale = b.stale();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].record, "N-2");
        assert_eq!(b.unchecked(), 0);
        assert_eq!(b.matched(), 1);
    }

    #[test]
    fn unscanned_records_are_not_stale() {
        let b = Baseline::parse("b", &line(FP1, "accepted", "N-9")).unwrap();
        b.record_scanned("N-1");
        assert!(b.stale().is_empty());
        assert_eq!(b.unchecked(), 1);
    }

    #[test]
    fn bad_lines_name_file_and_line_without_text() {
        let cases = [
            (
                format!("{}\nnot json SECRETWORD", line(FP1, "accepted", "a")),
                2,
            ),
            (line("xyz", "accepted", "a"), 1),
            (line(FP1, "maybe", "a"), 1),
            (
                line(FP1, "accepted", "a").replace("2026-12-07", "07-12-2026"),
                1,
            ),
            (
                line(FP1, "accepted", "a").replace("\"reason\"", "\"SECRETWORD\""),
                1,
            ),
            (
                format!(
                    "{}\n{}",
                    line(FP1, "accepted", "a"),
                    line(FP1, "accepted", "b")
                ),
                2,
            ),
        ];
        for (text, at) in cases {
            let e = Baseline::parse("base.jsonl", &text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("base.jsonl:{at}: ")), "{e}");
            if !text.contains("\"SECRETWORD\"") {
                assert!(!e.contains("SECRETWORD"), "{e}");
            }
        }
    }

    #[test]
    fn writes_sorted_and_insert_replaces() {
        let mut b = Baseline::parse("b", &line(FP2, "accepted", "N-2")).unwrap();
        let e1: BaselineEntry = serde_json::from_str(&line(FP1, "accepted", "N-1")).unwrap();
        assert!(b.insert(e1.clone()).is_none());
        let mut changed = e1.clone();
        changed.decision = Review::FalsePositive;
        assert_eq!(b.insert(changed), Some(e1));
        let mut out = Vec::new();
        b.write_jsonl(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains(FP1) && lines[0].contains("false_positive"));
        assert!(lines[1].contains(FP2));
        assert!(Baseline::parse("b", &text).is_ok());
    }

    #[test]
    fn dates() {
        assert!(is_date("2026-12-07"));
        assert!(!is_date("2026-13-07"));
        assert!(!is_date("2026-12-7"));
        assert!(!is_date("２０２６-12-07"));
    }
}

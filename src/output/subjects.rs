//! Per data subject roll-up (`--subject COLUMN`): which records about a person hold which
//! special categories. This answers access and erasure requests ("which notes about customer
//! C123 hold special-category data?").
//!
//! Memory: per subject with findings, counts per category plus the keys of the records and
//! the names of the fields with findings; never note text. A subject without findings costs
//! one count of its records (its id and a number: the records scanned before a subject's
//! first finding must be counted too, or `records_scanned` would start there). Only subjects
//! with findings are reported, and the one named by `--subject-id`, which is always reported
//! so that "nothing found" is an explicit answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};

use serde::Serialize;

use crate::pipeline::FieldResult;
use crate::record::Record;

/// What is known about one subject.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SubjectEntry {
    /// The subject id (`null` for records without one).
    pub subject: Option<String>,
    /// Records of this subject that were scanned.
    pub records_scanned: u64,
    /// Records with at least one finding.
    pub records_with_findings: u64,
    /// Findings per category (only categories found).
    pub findings: BTreeMap<String, u64>,
    /// Keys of the records with findings, in input order.
    pub records: Vec<String>,
    /// Fields with findings.
    pub fields: BTreeSet<String>,
}

impl SubjectEntry {
    /// The categories found, in name order.
    pub fn categories(&self) -> Vec<&str> {
        self.findings.keys().map(String::as_str).collect()
    }
}

/// Accumulates [`SubjectEntry`]s over a run.
#[derive(Clone, Debug, Default)]
pub struct Rollup {
    entries: BTreeMap<Option<String>, SubjectEntry>,
    /// Records scanned per subject without a finding so far; moved into the subject's entry
    /// at its first finding.
    clean: HashMap<Option<String>, u64>,
    /// The subject reported even without findings (`--subject-id`).
    always: Option<String>,
}

impl Rollup {
    /// An empty roll-up; `always` names a subject reported even without findings.
    pub fn new(always: Option<String>) -> Rollup {
        let mut r = Rollup {
            entries: BTreeMap::new(),
            clean: HashMap::new(),
            always: always.clone(),
        };
        if let Some(id) = always {
            r.entries.insert(
                Some(id.clone()),
                SubjectEntry {
                    subject: Some(id),
                    ..SubjectEntry::default()
                },
            );
        }
        r
    }

    /// Count one scanned record.
    pub fn add(&mut self, record: &Record, fields: &[FieldResult]) {
        let any = fields.iter().any(|f| !f.findings.is_empty());
        let kept = self.entries.contains_key(&record.subject);
        if !any && !kept {
            match self.clean.get_mut(&record.subject) {
                Some(n) => *n += 1,
                None => {
                    self.clean.insert(record.subject.clone(), 1);
                }
            }
            return;
        }
        let clean = &mut self.clean;
        let e = self
            .entries
            .entry(record.subject.clone())
            .or_insert_with(|| SubjectEntry {
                subject: record.subject.clone(),
                records_scanned: clean.remove(&record.subject).unwrap_or(0),
                ..SubjectEntry::default()
            });
        e.records_scanned += 1;
        if !any {
            return;
        }
        e.records_with_findings += 1;
        if e.records.last() != Some(&record.key) {
            e.records.push(record.key.clone());
        }
        for f in fields {
            if f.findings.is_empty() {
                continue;
            }
            e.fields.insert(f.name.clone());
            for x in &f.findings {
                *e.findings
                    .entry(x.category.as_str().to_string())
                    .or_default() += 1;
            }
        }
    }

    /// Subjects with at least one finding.
    pub fn affected(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.records_with_findings > 0)
            .count()
    }

    /// The entries, by subject id (records without a subject first).
    pub fn entries(&self) -> impl Iterator<Item = &SubjectEntry> {
        self.entries.values()
    }

    /// The subject that is always reported, if any.
    pub fn always(&self) -> Option<&str> {
        self.always.as_deref()
    }

    /// Write one JSON object per subject per line.
    ///
    /// # Errors
    /// On write errors.
    pub fn write_jsonl<W: Write>(&self, mut out: W) -> io::Result<()> {
        for e in self.entries() {
            #[derive(Serialize)]
            struct Row<'a> {
                #[serde(flatten)]
                entry: &'a SubjectEntry,
                categories: Vec<&'a str>,
            }
            serde_json::to_writer(
                &mut out,
                &Row {
                    entry: e,
                    categories: e.categories(),
                },
            )?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Write CSV: `subject,records_scanned,records_with_findings,categories,<one column per
    /// category>,records,fields` (lists joined with `;`).
    ///
    /// # Errors
    /// On write errors.
    pub fn write_csv<W: Write>(&self, mut out: W) -> io::Result<()> {
        let cats: Vec<&str> = crate::Category::ALL.iter().map(|c| c.as_str()).collect();
        writeln!(
            out,
            "subject,records_scanned,records_with_findings,categories,{},records,fields",
            cats.join(",")
        )?;
        for e in self.entries() {
            let mut cells = vec![
                csv_cell(e.subject.as_deref().unwrap_or("")),
                e.records_scanned.to_string(),
                e.records_with_findings.to_string(),
                csv_cell(&e.categories().join(";")),
            ];
            for c in &cats {
                cells.push(e.findings.get(*c).copied().unwrap_or(0).to_string());
            }
            cells.push(csv_cell(&e.records.join(";")));
            let fields: Vec<&str> = e.fields.iter().map(String::as_str).collect();
            cells.push(csv_cell(&fields.join(";")));
            writeln!(out, "{}", cells.join(","))?;
        }
        out.flush()
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

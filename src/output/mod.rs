//! Printers for findings: JSON Lines, one JSON document, a table, CSV.
//!
//! By default no printer writes the matched text or the entry id (an id such as
//! `nl.health.diabetes` spells the diagnosis). `include_text` opts in to both.

pub mod access;
pub mod compress;
pub mod db;
pub mod masked;
#[cfg(feature = "report")]
pub mod report;
pub mod subjects;
pub mod summary;

use std::io::{self, Write};

use std::borrow::Cow;

use serde::Serialize;

use crate::category::{Category, Lang};
use crate::lexicon::Likelihood;
use crate::matcher::{Evasion, Finding, Scanner};
use crate::pipeline::{FieldResult, Summary};
use crate::policy::{Action, ErasureReason, FindingGdpr, RetentionStatus};
use crate::record::Record;
use crate::review::Fingerprint;

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

/// One finding as written by every command that prints findings as JSON: `art9 scan`
/// (`jsonl`, `json`; `csv` has the same columns), `art9 check`, `art9 check --stdio` and
/// `art9 serve` (the `Finding` schema of `openapi.json`). Fields that do not apply are left
/// out: `record` and `line` exist only in scan output, `field` only where the input has
/// named fields, `action` only when a policy was applied, `text` and `entry` only when the
/// matched text was asked for (`--include-text`, `"include_text": true`), `evasion` only for
/// a finding of an evasion lane (`homoglyph`, `spaced`, `typo`; issue 20).
///
/// The order of the fields is the order of the keys in the output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingOut<'a> {
    /// Record key (scan output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Cow<'a, str>>,
    /// Line in the input where the record starts (scan output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Field name (scan output, and requests with named fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'a, str>>,
    /// Category.
    pub category: Category,
    /// The category's key in the fideslang data-category taxonomy (`user.health`; see
    /// [`Category::data_category`]).
    pub data_category: &'static str,
    /// Language of the lexicon that matched.
    pub lang: Lang,
    /// Language of the note by a function-word vote (`nl`, `da`, `en`; `und` when
    /// undetermined), which need not be `lang`.
    #[serde(serialize_with = "serialize_note_lang")]
    pub note_lang: Option<Lang>,
    /// Byte start in the original field text.
    pub start: usize,
    /// Byte end (exclusive).
    pub end: usize,
    /// Char start.
    pub char_start: usize,
    /// Char end (exclusive).
    pub char_end: usize,
    /// How likely the finding is to be special-category data about a person.
    pub likelihood: Likelihood,
    /// Policy action, when a policy was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The evasion lane that found it (`homoglyph`, `spaced`, `typo`); left out for an exact
    /// match of a term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evasion: Option<Evasion>,
    /// Retention status (`due`, `ok`, `unknown`), when a retention rule names the category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionStatus>,
    /// The consent ledger reference of an active consent covering the finding, or of the
    /// withdrawn one that makes its erasure due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Cow<'a, str>>,
    /// Why its erasure is due (`retention`, `consent_withdrawn`), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure_due: Option<ErasureReason>,
    /// The matched text (only when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
    /// The entry id (only when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<Cow<'a, str>>,
    /// The finding's fingerprint (`art9 scan --fingerprints` or `--baseline`): a keyed hash
    /// of the record key, field, category and the normalised span with its neighbouring
    /// words ([`crate::review::fingerprint`]), never the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
}

impl<'a> FindingOut<'a> {
    /// A finding of `scanner` in `text`, without record, line or field; `action` is the
    /// policy's action for it, if any; `include_text` adds the matched text and entry id.
    pub fn new(
        scanner: &'a Scanner,
        text: &'a str,
        f: &Finding,
        action: Option<Action>,
        include_text: bool,
    ) -> FindingOut<'a> {
        FindingOut {
            record: None,
            line: None,
            field: None,
            category: f.category,
            data_category: f.category.data_category(),
            lang: f.lang,
            note_lang: f.note_lang,
            start: f.start,
            end: f.end,
            char_start: f.char_start,
            char_end: f.char_end,
            likelihood: f.likelihood,
            action,
            evasion: f.evasion,
            retention: None,
            consent: None,
            erasure_due: None,
            text: include_text.then(|| Cow::Borrowed(text.get(f.start..f.end).unwrap_or(""))),
            entry: include_text.then(|| Cow::Borrowed(scanner.entry(f.entry).id.as_str())),
            fingerprint: None,
        }
    }

    /// Add what the policy's retention and consent rules say about the finding.
    pub fn with_gdpr(self, g: &'a FindingGdpr) -> FindingOut<'a> {
        FindingOut {
            retention: g.retention,
            consent: g.consent.as_deref().map(Cow::Borrowed),
            erasure_due: g.erasure,
            ..self
        }
    }

    /// The same finding owning its strings.
    pub fn into_owned(self) -> FindingOut<'static> {
        let own = |c: Option<Cow<'a, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        FindingOut {
            record: own(self.record),
            line: self.line,
            field: own(self.field),
            category: self.category,
            data_category: self.data_category,
            lang: self.lang,
            note_lang: self.note_lang,
            start: self.start,
            end: self.end,
            char_start: self.char_start,
            char_end: self.char_end,
            likelihood: self.likelihood,
            action: self.action,
            evasion: self.evasion,
            retention: self.retention,
            consent: own(self.consent),
            erasure_due: self.erasure_due,
            text: own(self.text),
            entry: own(self.entry),
            fingerprint: self.fingerprint,
        }
    }
}

/// `note_lang` as written: the language code, or `und` (undetermined, as in BCP 47).
fn serialize_note_lang<S: serde::Serializer>(l: &Option<Lang>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(note_lang_str(*l))
}

/// The code of a note's language, `und` when undetermined.
pub fn note_lang_str(l: Option<Lang>) -> &'static str {
    l.map_or("und", Lang::as_str)
}

/// Build the printable finding `index` of a field of a record (scan output).
pub fn row<'a>(
    scanner: &'a Scanner,
    record: &'a Record,
    field_text: &'a str,
    field: &'a FieldResult,
    index: usize,
    include_text: bool,
) -> FindingOut<'a> {
    let f: &Finding = &field.findings[index];
    let action = field.decision.as_ref().map(|d| d.actions[index].0);
    let out = FindingOut {
        record: Some(Cow::Borrowed(&record.key)),
        line: Some(record.line),
        field: Some(Cow::Borrowed(&field.name)),
        fingerprint: field
            .review
            .as_ref()
            .and_then(|r| r.fingerprints.get(index).copied()),
        ..FindingOut::new(scanner, field_text, f, action, include_text)
    };
    match field.decision.as_ref().and_then(|d| d.gdpr.get(index)) {
        None => out,
        Some(g) => out.with_gdpr(g),
    }
}

/// Writes findings in one format.
pub struct Printer<W: Write> {
    out: W,
    format: Format,
    first: bool,
    header_done: bool,
    action_column: bool,
    gdpr_columns: bool,
    fingerprint_column: bool,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`.
    pub fn new(out: W, format: Format) -> Printer<W> {
        Printer {
            out,
            format,
            first: true,
            header_done: false,
            action_column: false,
            gdpr_columns: false,
            fingerprint_column: false,
        }
    }

    /// Show the policy's action in a column of its own in the `table` format (when a policy
    /// is applied). The other formats always carry it: `csv` in its `action` column (empty
    /// without a policy), `jsonl` and `json` as the `action` key.
    pub fn with_action_column(mut self, on: bool) -> Printer<W> {
        self.action_column = on;
        self
    }

    /// Add the columns `retention,consent,erasure_due` at the end of the `csv`
    /// format (when the policy has retention or consent rules; the JSON formats carry these
    /// keys when a finding has them, the table appends them to the line).
    pub fn with_gdpr_columns(mut self, on: bool) -> Printer<W> {
        self.gdpr_columns = on;
        self
    }

    /// Add a `fingerprint` column at the end of `csv` rows (`--fingerprints`); the other
    /// formats show a finding's fingerprint whenever it has one.
    pub fn with_fingerprint_column(mut self, on: bool) -> Printer<W> {
        self.fingerprint_column = on;
        self
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
                    "{:<16} {:<20} {:<18} {:<4} {:<4} {:>7} {:>7}  {:<13}",
                    "RECORD", "FIELD", "CATEGORY", "LANG", "NOTE", "START", "END", "LIKELIHOOD"
                );
                if self.action_column {
                    h.push_str("  ACTION");
                }
                if include_text {
                    h.push_str("  TEXT / ENTRY");
                }
                writeln!(self.out, "{h}")
            }
            Format::Csv => {
                self.header_done = true;
                let mut h = String::from(
                    "record,line,field,category,data_category,lang,note_lang,start,end,char_start,char_end,likelihood,action,evasion",
                );
                if include_text {
                    h.push_str(",text,entry");
                }
                if self.gdpr_columns {
                    h.push_str(",retention,consent,erasure_due");
                }
                if self.fingerprint_column {
                    h.push_str(",fingerprint");
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
    pub fn finding(&mut self, r: &FindingOut<'_>) -> io::Result<()> {
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
                    "{:<16} {:<20} {:<18} {:<4} {:<4} {:>7} {:>7}  {:<13}",
                    r.record.as_deref().unwrap_or(""),
                    r.field.as_deref().unwrap_or(""),
                    r.category.as_str(),
                    r.lang.as_str(),
                    note_lang_str(r.note_lang),
                    r.start,
                    r.end,
                    r.likelihood.as_str()
                );
                if self.action_column {
                    let action = r.action.map(Action::as_str).unwrap_or("");
                    if r.text.is_some() {
                        line.push_str(&format!("  {action:<6}"));
                    } else {
                        line.push_str(&format!("  {action}"));
                    }
                }
                if let (Some(t), Some(e)) = (&r.text, &r.entry) {
                    line.push_str(&format!("  {:?} {e}", t));
                }
                if let Some(lane) = r.evasion {
                    line.push_str(&format!("  (evasion: {lane})"));
                }
                if let Some(st) = r.retention {
                    line.push_str(&format!("  (retention: {})", st.as_str()));
                }
                if let Some(c) = &r.consent {
                    line.push_str(&format!("  (consent: {c})"));
                }
                if let Some(e) = r.erasure_due {
                    line.push_str(&format!("  (erasure due: {})", e.as_str()));
                }
                if let Some(fp) = r.fingerprint {
                    line.push_str(&format!("  {fp}"));
                }
                writeln!(self.out, "{line}")
            }
            Format::Csv => {
                let mut cells = vec![
                    csv_cell(r.record.as_deref().unwrap_or("")),
                    r.line.map(|l| l.to_string()).unwrap_or_default(),
                    csv_cell(r.field.as_deref().unwrap_or("")),
                    r.category.to_string(),
                    r.data_category.to_string(),
                    r.lang.to_string(),
                    note_lang_str(r.note_lang).to_string(),
                    r.start.to_string(),
                    r.end.to_string(),
                    r.char_start.to_string(),
                    r.char_end.to_string(),
                    r.likelihood.to_string(),
                    r.action.map(Action::as_str).unwrap_or("").to_string(),
                    r.evasion.map(Evasion::as_str).unwrap_or("").to_string(),
                ];
                if let (Some(t), Some(e)) = (&r.text, &r.entry) {
                    cells.push(csv_cell(t));
                    cells.push(csv_cell(e));
                }
                if self.gdpr_columns {
                    cells.push(r.retention.map_or("", RetentionStatus::as_str).to_string());
                    cells.push(csv_cell(r.consent.as_deref().unwrap_or("")));
                    cells.push(r.erasure_due.map_or("", ErasureReason::as_str).to_string());
                }
                if self.fingerprint_column {
                    cells.push(r.fingerprint.map(|f| f.to_string()).unwrap_or_default());
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

    /// Append one finding to `buf` as this printer's [`Printer::finding`] would write it
    /// (formats where [`Printer::formats_apart`] holds); for worker threads, which each
    /// have their own buffer.
    pub fn format_finding(&self, buf: &mut Vec<u8>, r: &FindingOut<'_>) -> io::Result<()> {
        Printer::new(buf, self.format)
            .with_action_column(self.action_column)
            .with_gdpr_columns(self.gdpr_columns)
            .with_fingerprint_column(self.fingerprint_column)
            .finding(r)
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
        let words = |k: &str| match k {
            "subject_id" => "other subjects".to_string(),
            "since" => "dated before --since".to_string(),
            "unchanged" => "unchanged since the last run".to_string(),
            _ => k.replace('_', " "),
        };
        // One reason: named; several: each with its count. A summary without reasons (an
        // earlier version) filtered by --subject-id only.
        let why = match s.filtered.len() {
            0 => words("subject_id"),
            1 => s.filtered.keys().map(|k| words(k)).collect(),
            _ => s
                .filtered
                .iter()
                .map(|(k, v)| format!("{v} {}", words(k)))
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push_str(&format!(
            ", {} filtered ({why}, not scanned)",
            s.records_filtered
        ));
    }
    if s.undated > 0 {
        out.push_str(&format!(
            ", {} scanned without a readable date (--since)",
            s.undated
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
    if !s.silenced.is_empty() {
        let per: Vec<String> = s.silenced.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(
            "; {} findings silenced by the baseline ({})",
            s.silenced.values().sum::<u64>(),
            per.join(", ")
        ));
    }
    if !s.outcomes.is_empty() {
        let per: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("; records by decision: {}", per.join(", ")));
    }
    for (what, map) in [
        ("retention", &s.retention),
        ("retention due", &s.retention_due),
        ("under active consent", &s.consent),
        ("erasure due", &s.erasure_due),
    ] {
        if !map.is_empty() {
            let per: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("; findings {what}: {}", per.join(", ")));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding with every optional field set.
    fn full() -> FindingOut<'static> {
        FindingOut {
            record: Some("r1".into()),
            line: Some(3),
            field: Some("notes".into()),
            category: Category::Health,
            data_category: "user.health",
            lang: Lang::Nl,
            note_lang: None,
            start: 12,
            end: 20,
            char_start: 12,
            char_end: 20,
            likelihood: Likelihood::Likely,
            action: Some(Action::Mask),
            evasion: Some(Evasion::Spaced),
            retention: Some(RetentionStatus::Due),
            consent: Some("FORM-1".into()),
            erasure_due: Some(ErasureReason::Retention),
            text: Some("diabetes".into()),
            entry: Some("nl.health.diabetes".into()),
            fingerprint: Some(crate::review::Digest128([0xab; 16])),
        }
    }

    #[test]
    fn keys_in_order_and_optional_ones_left_out() {
        let v = serde_json::to_string(&full()).unwrap();
        assert_eq!(
            v,
            r#"{"record":"r1","line":3,"field":"notes","category":"health","data_category":"user.health","lang":"nl","note_lang":"und","start":12,"end":20,"char_start":12,"char_end":20,"likelihood":"likely","action":"mask","evasion":"spaced","retention":"due","consent":"FORM-1","erasure_due":"retention","text":"diabetes","entry":"nl.health.diabetes","fingerprint":"abababababababababababababababab"}"#
        );
        let bare = FindingOut {
            record: None,
            line: None,
            field: None,
            action: None,
            evasion: None,
            retention: None,
            consent: None,
            erasure_due: None,
            text: None,
            entry: None,
            fingerprint: None,
            ..full()
        };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"category":"health","data_category":"user.health","lang":"nl","note_lang":"und","start":12,"end":20,"char_start":12,"char_end":20,"likelihood":"likely"}"#
        );
    }

    /// The OpenAPI document's `Finding` schema lists exactly the keys of [`FindingOut`].
    #[cfg(feature = "serve")]
    #[test]
    fn openapi_finding_schema_is_this_type() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../serve/openapi.json")).unwrap();
        let schema = &doc["components"]["schemas"]["Finding"]["properties"];
        let mut documented: Vec<&str> = schema
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort_unstable();
        let v = serde_json::to_value(full()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(documented, keys);
    }
}

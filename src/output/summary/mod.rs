//! The run summary: what `art9 scan --summary-out run.json` writes and `art9 report` reads
//! (schema `art9-run-summary`, version [`SCHEMA_VERSION`]; documented in SCHEMAS.md).
//!
//! A [`RunSummary`] is the stderr [`Summary`] (records read, scanned, skipped by reason,
//! findings per category, records per policy outcome) plus a [`Tally`]: counts of findings,
//! records and data subjects by category × field × lexicon language × policy action, with
//! the optional dimensions note language and likelihood (when findings carry them) and
//! month (when records carry a date). The tally is counted during the scan on the worker
//! that scanned the batch ([`Tally::record`]), into a tally of that worker's kept from batch
//! to batch; after each batch the worker hands its subjects with findings to the run's tally
//! on the writer ([`Tally::take_subject_rows`], [`Tally::add_subject_rows`]), so that the
//! run holds one table of subjects, and the workers' tallies are added up once, at the end
//! ([`Tally::merge`]). Summaries of partitions of one export merge the same way
//! ([`RunSummary::merge`]): the merged halves equal the whole.
//!
//! What it never holds: note text, entry ids (an id such as `nl.health.diabetes` spells the
//! diagnosis), record keys, line numbers, raw subject ids. Subjects are 64-bit keyed
//! pseudonyms: HMAC-SHA256 of the subject id under the policy's hash key (else the
//! `ART9_HASH_KEY` environment variable, else a random key for this run alone), see
//! [`SubjectKey`]. Subjects without findings are only counted into a sketch (SipHash under
//! a key derived from the same key), which is why the HMAC is paid per record with
//! findings, not per record.
//!
//! # Resource usage
//! Fixed: one count per (category, field, language, action[, note language, likelihood,
//! month, evasion lane]) combination seen (a hash table: one lookup a finding), the counts
//! of records with findings in arrays indexed by category and dimension value (1.2 KiB, plus
//! 64 bytes a field name; `counts.rs`: a record adds to each of its ~16 values by index, not
//! by hash), and the 4 KiB [`Sketch`] of distinct subjects, once per worker while scanning.
//! Growing with the data: one 32-byte table slot per **subject with findings**, in the
//! run's table only (`with_findings`; about 83 bytes with the hash table's room, measured in
//! BENCHMARKS.md at 10 million subjects) and, with a date column, 72 bytes per month from
//! the first to the last seen (an array: every record's month is an index; at most a
//! century of them, months beyond in a hash table). Subjects without findings cost nothing
//! beyond the sketch.
//!
//! Per record the tally costs the field count, the month (the date column's value found by
//! position, [`ContextColumn`](crate::ContextColumn), and [`Month::from_iso_date`]) and the
//! subject's SipHash into the sketch; a record with findings adds the HMAC pseudonym and the
//! counts above (BENCHMARKS.md, "Session 15").

mod counts;
mod key;
mod run;
pub mod sketch;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

pub use self::key::{ByPseudonym, KeySource, PseudonymHasher, SubjectKey, KEY_ENV};
pub use self::run::{MergeError, RunInfo, RunSummary};
pub use self::sketch::Sketch;
use crate::category::{Category, Lang};
use crate::input::Record;
use crate::pipeline::{FieldResult, Summary};
use crate::policy::Action;

use self::counts::{MonthCounts, MonthTable, RecordCounts, ANY, ROWS};

/// The `schema` value of a run summary file.
pub const SCHEMA: &str = "art9-run-summary";
/// The version of the run summary schema this build writes (2: evasion lanes and, with
/// `--show-subjects`, subject ids).
pub const SCHEMA_VERSION: u32 = 2;
/// The versions this build reads (a version 1 summary has no evasion lanes or subject
/// ids; it can be a report's `--previous` but is not added up with a version 2 one).
pub const READS_VERSIONS: [u32; 2] = [1, 2];
/// Subjects per field and category are counted for this many field names (the first seen);
/// a per-subject bit set of 9 fields × 7 categories fits in 64 bits.
pub const SUBJECT_FIELDS: usize = 9;

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(u32);

impl Month {
    /// `year`-`month` (1–12); `None` outside years 1000–9999.
    pub fn new(year: u32, month: u32) -> Option<Month> {
        ((1000..=9999).contains(&year) && (1..=12).contains(&month))
            .then(|| Month(year * 12 + month - 1))
    }

    /// The year.
    pub fn year(self) -> u32 {
        self.0 / 12
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.0 % 12 + 1
    }

    /// Months from `self` to `later` (negative if `later` is earlier).
    pub fn months_until(self, later: Month) -> i64 {
        i64::from(later.0) - i64::from(self.0)
    }

    /// The month of a date written `YYYY-MM…` (ISO 8601, also a timestamp; `/` or `.` for
    /// `-` too), `DD-MM-YYYY`, `DD/MM/YYYY` or `DD.MM.YYYY` (day first, as in the Netherlands
    /// and Denmark), or seconds (10 digits) or milliseconds (13) since 1970.
    pub fn from_date(text: &str) -> Option<Month> {
        let t = text.as_bytes().trim_ascii();
        // The common case first: `YYYY-MM-…`.
        if let [y0, y1, y2, y3, b'-', m0, m1, ..] = *t {
            let d = [y0, y1, y2, y3, m0, m1];
            if d.iter().all(u8::is_ascii_digit) {
                let v = |i: usize| u32::from(d[i] - b'0');
                let year = v(0) * 1000 + v(1) * 100 + v(2) * 10 + v(3);
                if t.get(7).is_none_or(|b| !b.is_ascii_digit()) {
                    return Month::new(year, v(4) * 10 + v(5));
                }
            }
        }
        let num = |s: &[u8]| -> Option<u64> {
            if s.is_empty() || s.len() > 13 || !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(s.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
        };
        let small = |s: &[u8]| num(s).and_then(|n| u32::try_from(n).ok());
        if t.len() >= 7 && matches!(t[4], b'-' | b'/' | b'.') && small(&t[..4]).is_some() {
            let month = t[5..].split(|b| !b.is_ascii_digit()).next()?;
            return (month.len() <= 2).then(|| Month::new(small(&t[..4])?, small(month)?))?;
        }
        // Seconds or milliseconds since 1970 (a number column).
        if let Some(n) = num(t) {
            let secs = match t.len() {
                9 | 10 => n,
                12 | 13 => n / 1000,
                _ => return None,
            };
            return Month::from_date(&utc_timestamp(secs)[..7]);
        }
        let sep = *t.iter().find(|b| matches!(b, b'-' | b'/' | b'.'))?;
        let mut parts = t.split(|&b| b == sep);
        let (_day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
        let year = year.split(|b| !b.is_ascii_digit()).next()?;
        (year.len() == 4 && month.len() <= 2)
            .then(|| Month::new(small(year)?, small(month)?))
            .flatten()
    }
}

impl Month {
    /// The month of a bare ISO date `YYYY-MM-DD` (the common form of a date column), without
    /// the full date parser: `None` for anything else, and for a date that does not exist
    /// (as [`DateParser::parse`](crate::date::DateParser::parse) gives none). For these
    /// dates it gives the month that parser's UTC reading gives, at a tenth of the cost.
    pub fn from_iso_date(text: &str) -> Option<Month> {
        // Every record of a dated run comes here: the bytes are checked and read a word at
        // a time, a third of the instructions of a byte at a time.
        let t = text.as_bytes();
        let t = if t.len() == 10 { t } else { t.trim_ascii() };
        let t: &[u8; 10] = t.try_into().ok()?;
        // `YYYY-MM-` and `DD`, first byte lowest, each byte XOR '0': a digit is then its
        // value (0–9), a dash 0x1d.
        const ZEROS: u64 = 0x3030_3030_3030_3030;
        const DASHES: u64 = 0xff00_00ff_0000_0000;
        let head = u64::from_le_bytes(*t.first_chunk::<8>()?) ^ ZEROS;
        let day = u64::from(u16::from_le_bytes(*t.last_chunk::<2>()?)) ^ 0x3030;
        if head & DASHES != 0x1d00_001d_0000_0000 {
            return None;
        }
        // A byte is a digit when it is below 10: adding 0x76 leaves its high bit clear (a
        // byte of 0x80 or more has it set already, whatever a carry does to the next).
        let is_digits =
            |w: u64| (w | w.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080 == 0;
        let head = head & !DASHES;
        if !is_digits(head) || !is_digits(day) {
            return None;
        }
        // Digit pairs (10 × first + second) in bytes 0 and 2, then the year from them.
        let pairs = ((head & 0xffff_ffff) * 10 + (head >> 8)) & 0x00ff_00ff;
        let year = (pairs & 0xff) * 100 + (pairs >> 16);
        let month = ((head >> 40) & 0xff) * 10 + ((head >> 48) & 0xff);
        let day = (day & 0xff) * 10 + (day >> 8);
        if !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        // The Gregorian calendar, as the parser's (jiff's) is; tested equal to it. Days 1–28
        // are in every month.
        if day > 28 {
            const DAYS: [u64; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let days = if month == 2 && leap {
                29
            } else {
                DAYS[month as usize]
            };
            if day > days {
                return None;
            }
        }
        Month::new(year as u32, month as u32)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let text = String::deserialize(d)?;
        let ok = text.len() == 7 && text.as_bytes()[4] == b'-';
        ok.then(|| Month::from_date(&text))
            .flatten()
            .ok_or_else(|| serde::de::Error::custom(format!("not a month (YYYY-MM): {text:?}")))
    }
}

pub use crate::lexicon::Likelihood;
pub use crate::matcher::Evasion;

/// Counts for one field name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCounts {
    /// The field name (a column or JSON path, never a value).
    pub name: String,
    /// Values of this field scanned (one per record that has it).
    pub values: u64,
    /// Values with at least one finding.
    pub values_with_findings: u64,
}

/// One combination of the dimensions of a finding (`field` indexes [`Tally::fields`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    /// Category.
    pub category: Category,
    /// Field (index into [`Tally::fields`]).
    pub field: u32,
    /// Language of the lexicon that matched.
    pub lang: Lang,
    /// The policy's action (when a policy was applied).
    pub action: Option<Action>,
    /// The note's detected language (when findings carry it).
    pub note_lang: Option<Lang>,
    /// The finding's likelihood (when findings carry it).
    pub likelihood: Option<Likelihood>,
    /// The record's month (with a date column).
    pub month: Option<Month>,
    /// The evasion lane that found it (`None`: an exact match of a term).
    pub evasion: Option<Evasion>,
}

/// One dimension value that records with findings are counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum By {
    /// No further dimension (records with findings of the category, or at all).
    All,
    /// A field (index into [`Tally::fields`]).
    Field(u32),
    /// A lexicon language.
    Lang(Lang),
    /// A policy action.
    Action(Action),
    /// A note language.
    NoteLang(Lang),
    /// A likelihood.
    Likelihood(Likelihood),
    /// A month.
    Month(Month),
    /// An evasion lane.
    Evasion(Evasion),
}

/// Per subject with findings: records with findings, findings, and which categories were
/// found in which language (bit `category * 3 + lang`) and field (bit `slot * 7 +
/// category`, slot = index into the subject fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubjectCounts {
    /// Records with findings.
    pub records: u32,
    /// Findings.
    pub findings: u32,
    /// Category × lexicon language bits.
    pub cat_lang: u32,
    /// Subject field slot × category bits.
    pub field_cat: u64,
}

impl SubjectCounts {
    fn add(&mut self, o: &SubjectCounts) {
        self.records = self.records.saturating_add(o.records);
        self.findings = self.findings.saturating_add(o.findings);
        self.cat_lang |= o.cat_lang;
        self.field_cat |= o.field_cat;
    }

    /// Whether a finding of `category` was made.
    pub fn has_category(&self, category: Category) -> bool {
        (0..Lang::ALL.len()).any(|l| self.cat_lang & cat_lang_bit(category, Lang::ALL[l]) != 0)
    }
}

fn cat_lang_bit(c: Category, l: Lang) -> u32 {
    1 << (c.index() * Lang::ALL.len() + counts::lang_index(l))
}

fn field_cat_bit(slot: usize, c: Category) -> u64 {
    1 << (slot * Category::ALL.len() + c.index())
}

/// The per-subject part of a tally (only with a subject column).
#[derive(Clone, Debug)]
pub struct SubjectTally {
    key_id: String,
    key_source: KeySource,
    /// Distinct subjects scanned (estimate).
    pub scanned: Sketch,
    /// Records scanned without a subject id.
    pub records_without_subject: u64,
    /// The field names the `field_cat` bits refer to (at most [`SUBJECT_FIELDS`]).
    pub fields: Vec<String>,
    /// Whether more fields had findings than [`SUBJECT_FIELDS`] (their subjects are not
    /// counted per field).
    pub fields_partial: bool,
    /// Per subject with findings, by pseudonym.
    pub with_findings: HashMap<u64, SubjectCounts, ByPseudonym>,
    /// Only with `--show-subjects`: the raw subject id of a pseudonym. While counting, every
    /// subject with findings (the top ones are known only at the end); in a summary file,
    /// only the [`TOP_SUBJECTS`] most affected.
    ids: Option<HashMap<u64, Box<str>, ByPseudonym>>,
}

impl SubjectTally {
    /// The fingerprint of the pseudonym key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Where the pseudonym key came from.
    pub fn key_source(&self) -> KeySource {
        self.key_source
    }

    /// Whether raw subject ids are kept (`--show-subjects`): the tally then holds personal
    /// data.
    pub fn holds_ids(&self) -> bool {
        self.ids.is_some()
    }

    /// The raw subject id of pseudonym `p`, when kept.
    pub fn id_of(&self, p: u64) -> Option<&str> {
        self.ids.as_ref()?.get(&p).map(|s| &**s)
    }

    /// Forget the raw subject ids.
    pub fn drop_ids(&mut self) {
        self.ids = None;
    }

    /// The `n` most affected subjects: most records with findings first, then most
    /// findings, then by pseudonym (a stable order, so that every reader lists the same).
    pub fn top(&self, n: usize) -> Vec<(u64, SubjectCounts)> {
        let order = |a: &(u64, SubjectCounts), b: &(u64, SubjectCounts)| {
            b.1.records
                .cmp(&a.1.records)
                .then(b.1.findings.cmp(&a.1.findings))
                .then(a.0.cmp(&b.0))
        };
        // The best `n` so far, in a buffer of 2n: when it is full, the best n are kept
        // (memory n, not one row per subject: 10 million subjects would be 320 MB).
        let mut best: Vec<(u64, SubjectCounts)> = Vec::with_capacity(2 * n.max(1));
        let keep = |best: &mut Vec<(u64, SubjectCounts)>| {
            if best.len() > n && n > 0 {
                best.select_nth_unstable_by(n - 1, order);
            }
            best.truncate(n);
        };
        for (p, c) in &self.with_findings {
            if best.len() == best.capacity() {
                keep(&mut best);
            }
            best.push((*p, *c));
        }
        keep(&mut best);
        best.sort_unstable_by(order);
        best
    }
}

impl SubjectTally {
    /// Add per-subject counts of another tally whose subject field slot `i` is `map[i]`
    /// here (see [`Tally::subject_slots`]).
    fn add_rows(
        &mut self,
        map: &[Option<u8>],
        rows: impl IntoIterator<Item = (u64, SubjectCounts)>,
        ids: Option<impl IntoIterator<Item = (u64, Box<str>)>>,
    ) {
        let identity = map.iter().enumerate().all(|(i, s)| *s == Some(i as u8));
        if !identity && map.iter().any(Option::is_none) {
            self.fields_partial = true;
        }
        for (p, mut c) in rows {
            if !identity {
                c.field_cat = remap_field_bits(c.field_cat, map);
            }
            self.with_findings.entry(p).or_default().add(&c);
        }
        if let Some(theirs) = ids {
            let ids = self.ids.get_or_insert_with(HashMap::default);
            for (p, id) in theirs {
                ids.entry(p).or_insert(id);
            }
        }
    }
}

/// Subjects with findings taken out of a tally ([`Tally::take_subject_rows`]): the names
/// of the subject fields their bits refer to, the counts by pseudonym, and, when kept, the
/// raw ids.
#[derive(Debug, Default)]
pub struct SubjectRows {
    fields: Vec<String>,
    rows: Vec<(u64, SubjectCounts)>,
    ids: Option<Vec<(u64, Box<str>)>>,
}

/// What one record's findings add up to while [`Tally::record`] counts them.
#[derive(Default)]
struct Found {
    findings: u32,
    /// Category × language bits, subject field × category bits ([`SubjectCounts`]).
    cat_lang: u32,
    field_cat: u64,
    /// The columns (dimension values) of the findings per row (category, and any), and the
    /// rows with findings: each is counted once per record, however many findings have it.
    marks: [u32; ROWS],
    rows: u8,
}

/// How many of the most affected subjects the report lists (and, with `--show-subjects`,
/// a summary keeps the raw ids of).
pub const TOP_SUBJECTS: usize = 10;

/// Counts by dimension, added up during a scan. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    fields: Vec<FieldCounts>,
    /// Field name → index into `fields`.
    field_index: FxHashMap<String, u32>,
    /// Field index → slot in the subject fields.
    subject_slot: Vec<Option<u8>>,
    /// Findings per combination.
    findings: FxHashMap<CellKey, u64>,
    /// Records with findings per (category or any, dimension value), but by month.
    records: RecordCounts,
    /// Per month (with a date column): records scanned, and records with findings per
    /// category or any (the counts by month of `records`).
    months: MonthTable,
    /// Records scanned without a date (with a date column).
    records_without_date: u64,
    dated: bool,
    subjects: Option<SubjectTally>,
    /// Counting (not merging) needs the key.
    key: Option<SubjectKey>,
    /// Per-record scratch: the fields with findings and the rows (categories and any)
    /// their findings count in.
    field_rows: Vec<(u32, u8)>,
}

impl Tally {
    /// An empty tally; `subjects`: count data subjects under this key (records need a
    /// subject id, `--subject`); `dated`: records carry a date (count by month).
    pub fn new(subjects: Option<SubjectKey>, dated: bool) -> Tally {
        Tally {
            subjects: subjects.as_ref().map(|k| SubjectTally {
                key_id: k.id.clone(),
                key_source: k.source,
                scanned: Sketch::default(),
                records_without_subject: 0,
                fields: Vec::new(),
                fields_partial: false,
                with_findings: HashMap::default(),
                ids: None,
            }),
            key: subjects,
            dated,
            ..Tally::default()
        }
    }

    /// Keep the raw id of every subject with findings (`--show-subjects`; with subjects
    /// only). The tally then holds personal data.
    pub fn with_subject_ids(mut self) -> Tally {
        if let Some(s) = self.subjects.as_mut() {
            s.ids = Some(HashMap::default());
        }
        self
    }

    /// An empty tally counting like this one (for one batch).
    pub fn empty_like(&self) -> Tally {
        let t = Tally::new(self.key.clone(), self.dated);
        if self.subjects.as_ref().is_some_and(SubjectTally::holds_ids) {
            t.with_subject_ids()
        } else {
            t
        }
    }

    /// The index of field `name`, made when new; `hint`: where it likely is (a record's
    /// fields come in the same order record after record), checked first, inline.
    #[inline]
    fn intern(&mut self, name: &str, hint: usize) -> u32 {
        if let Some(f) = self.fields.get(hint) {
            if crate::record::same_name(&f.name, name) {
                return hint as u32;
            }
        }
        self.intern_new(name)
    }

    #[inline(never)]
    fn intern_new(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.field_index.get(name) {
            return i;
        }
        let i = self.fields.len() as u32;
        self.fields.push(FieldCounts {
            name: name.to_string(),
            ..FieldCounts::default()
        });
        self.field_index.insert(name.to_string(), i);
        let slot = self.subjects.as_mut().and_then(|s| {
            if s.fields.len() < SUBJECT_FIELDS {
                s.fields.push(name.to_string());
                Some((s.fields.len() - 1) as u8)
            } else {
                s.fields_partial = true;
                None
            }
        });
        self.subject_slot.push(slot);
        i
    }

    /// Count one scanned record (`fields`: its scan results, in field order). `month`: the
    /// record's month, when the run has a date column.
    pub fn record(&mut self, record: &Record, fields: &[FieldResult], month: Option<Month>) {
        // Most records have no findings: their path (field, month and sketch counts) stays
        // short, and the findings are counted out of line.
        let mut found = Found::default();
        for (position, fr) in fields.iter().enumerate() {
            let fi = self.intern(&fr.name, position);
            self.fields[fi as usize].values += 1;
            if !fr.findings.is_empty() {
                self.field_findings(fi, fr, month, &mut found);
            }
        }
        if found.rows != 0 {
            self.records.add_marks(&found.marks, found.rows);
            for (fi, r) in self.field_rows.drain(..) {
                self.records.add_field(fi, r);
            }
        }
        match month {
            Some(m) if self.dated || found.rows != 0 => {
                let counts = self.months.at(m);
                counts.scanned += u64::from(self.dated);
                counts::add_rows(&mut counts.records, found.rows, 1);
            }
            None if self.dated => self.records_without_date += 1,
            _ => {}
        }
        if let Some(s) = self.subjects.as_mut() {
            let Some(id) = &record.subject else {
                s.records_without_subject += 1;
                return;
            };
            let Some(key) = &self.key else {
                return;
            };
            s.scanned.insert(key.sketch_hash(id));
            if found.findings > 0 {
                Self::subject_findings(s, key, id, &found);
            }
        }
    }

    /// Count the findings of field `fi` of a record ([`Tally::record`]).
    #[inline(never)]
    fn field_findings(
        &mut self,
        fi: u32,
        fr: &FieldResult,
        month: Option<Month>,
        found: &mut Found,
    ) {
        self.fields[fi as usize].values_with_findings += 1;
        let slot = self.subject_slot[fi as usize];
        let mut field_rows = 1u8 << ANY;
        for (i, f) in fr.findings.iter().enumerate() {
            let action = fr
                .decision
                .as_ref()
                .and_then(|d| d.actions.get(i))
                .map(|a| a.0);
            let key = CellKey {
                category: f.category,
                field: fi,
                lang: f.lang,
                action,
                note_lang: f.note_lang,
                likelihood: Some(f.likelihood),
                month,
                evasion: f.evasion,
            };
            *self.findings.entry(key).or_default() += 1;
            found.findings += 1;
            found.cat_lang |= cat_lang_bit(f.category, f.lang);
            if let Some(s) = slot {
                found.field_cat |= field_cat_bit(usize::from(s), f.category);
            }
            let columns = counts::columns_of(f.lang, f.likelihood, action, f.note_lang, f.evasion);
            let row = f.category.index();
            found.marks[row] |= columns;
            found.marks[ANY] |= columns;
            field_rows |= 1 << row;
        }
        found.rows |= field_rows;
        // A field's name once a record (sources give each once; counted once if not).
        match self.field_rows.iter_mut().find(|(f, _)| *f == fi) {
            Some((_, r)) => *r |= field_rows,
            None => self.field_rows.push((fi, field_rows)),
        }
    }

    /// Count a record with findings for its subject `id` ([`Tally::record`]).
    #[inline(never)]
    fn subject_findings(s: &mut SubjectTally, key: &SubjectKey, id: &str, found: &Found) {
        let p = key.pseudonym(id);
        if let Some(ids) = s.ids.as_mut() {
            ids.entry(p).or_insert_with(|| id.into());
        }
        s.with_findings.entry(p).or_default().add(&SubjectCounts {
            records: 1,
            findings: found.findings,
            cat_lang: found.cat_lang,
            field_cat: found.field_cat,
        });
    }

    /// Add the counts of `other` (another batch or partition of the same export).
    ///
    /// # Errors
    /// One counts subjects and the other does not, or under another key.
    pub fn merge(&mut self, other: &Tally) -> Result<(), MergeError> {
        match (&self.subjects, &other.subjects) {
            (Some(a), Some(b)) if a.key_id != b.key_id => return Err(MergeError::OtherKey),
            (Some(_), None) | (None, Some(_)) => return Err(MergeError::Subjects),
            _ => {}
        }
        if self.dated != other.dated {
            return Err(MergeError::Dates);
        }
        // Field indexes of `other` → of `self`. Interning the subject fields first keeps
        // their slots where they can be.
        let subject_map = other
            .subjects
            .as_ref()
            .map(|s| self.subject_slots(&s.fields))
            .unwrap_or_default();
        let map: Vec<u32> = other
            .fields
            .iter()
            .map(|f| self.intern(&f.name, usize::MAX))
            .collect();
        for (f, &i) in other.fields.iter().zip(&map) {
            let mine = &mut self.fields[i as usize];
            mine.values += f.values;
            mine.values_with_findings += f.values_with_findings;
        }
        for (k, n) in &other.findings {
            let key = CellKey {
                field: map[k.field as usize],
                ..*k
            };
            *self.findings.entry(key).or_default() += n;
        }
        for (c, by, n) in other.records.iter() {
            let by = match by {
                By::Field(f) => By::Field(map[f as usize]),
                other => other,
            };
            self.records.add(c, by, n);
        }
        for (m, counts) in other.months.iter() {
            if *counts != MonthCounts::default() {
                self.months.at(m).add(counts);
            }
        }
        self.records_without_date += other.records_without_date;
        if let (Some(mine), Some(theirs)) = (self.subjects.as_mut(), &other.subjects) {
            mine.scanned.merge(&theirs.scanned);
            mine.records_without_subject += theirs.records_without_subject;
            mine.fields_partial |= theirs.fields_partial;
            mine.add_rows(
                &subject_map,
                theirs.with_findings.iter().map(|(p, c)| (*p, *c)),
                theirs
                    .ids
                    .as_ref()
                    .map(|ids| ids.iter().map(|(p, id)| (*p, id.clone()))),
            );
        }
        Ok(())
    }

    /// The slots here of subject fields `names` (another tally's, in its slot order),
    /// interning them.
    fn subject_slots(&mut self, names: &[String]) -> Vec<Option<u8>> {
        names
            .iter()
            .map(|name| {
                let i = self.intern(name, usize::MAX);
                self.subject_slot[i as usize]
            })
            .collect()
    }

    /// Take out the subjects with findings counted so far (and their ids, when kept), to be
    /// added to another tally with [`Tally::add_subject_rows`]. A worker's tally, kept from
    /// batch to batch, hands its subjects on after every batch: the run's subjects are then
    /// held in one table (on the writer), not in one per worker.
    pub fn take_subject_rows(&mut self) -> SubjectRows {
        let Some(s) = self.subjects.as_mut() else {
            return SubjectRows::default();
        };
        SubjectRows {
            fields: s.fields.clone(),
            rows: s.with_findings.drain().collect(),
            ids: s.ids.as_mut().map(|ids| ids.drain().collect()),
        }
    }

    /// Add subjects taken out of another tally counting like this one
    /// ([`Tally::take_subject_rows`]).
    pub fn add_subject_rows(&mut self, rows: SubjectRows) {
        if self.subjects.is_none() || (rows.rows.is_empty() && rows.ids.is_none()) {
            return;
        }
        let map = self.subject_slots(&rows.fields);
        if let Some(mine) = self.subjects.as_mut() {
            mine.add_rows(&map, rows.rows, rows.ids);
        }
    }

    /// The field names with their counts.
    pub fn fields(&self) -> &[FieldCounts] {
        &self.fields
    }

    /// Findings per combination of dimensions.
    pub fn findings(&self) -> impl Iterator<Item = (&CellKey, u64)> {
        self.findings.iter().map(|(k, n)| (k, *n))
    }

    /// Records with findings of `category` (`None`: of any category) counted `by` a
    /// dimension value.
    pub fn records(&self, category: Option<Category>, by: By) -> u64 {
        match by {
            By::Month(m) => self
                .months
                .get(m)
                .map_or(0, |c| c.records[counts::row(category)]),
            by => self.records.get(category, by),
        }
    }

    /// Every (category, dimension value) → records with findings (above zero), in no
    /// particular order.
    pub fn record_counts(&self) -> impl Iterator<Item = (Option<Category>, By, u64)> + '_ {
        let by_month = self.months.iter().flat_map(|(m, c)| {
            c.records
                .iter()
                .enumerate()
                .map(move |(row, n)| (Category::ALL.get(row).copied(), By::Month(m), *n))
        });
        self.records
            .iter()
            .chain(by_month.filter(|(_, _, n)| *n > 0))
    }

    /// Add `n` records with findings of `category` (`None`: any) by `by`.
    fn add_records(&mut self, category: Option<Category>, by: By, n: u64) {
        match by {
            By::Month(m) => self.months.at(m).records[counts::row(category)] += n,
            by => self.records.add(category, by, n),
        }
    }

    /// Records scanned per month (with a date column), by month.
    pub fn months(&self) -> BTreeMap<Month, u64> {
        self.months
            .iter()
            .filter(|(_, c)| c.scanned > 0)
            .map(|(m, c)| (m, c.scanned))
            .collect()
    }

    /// Records scanned without a readable date (with a date column).
    pub fn records_without_date(&self) -> u64 {
        self.records_without_date
    }

    /// Whether records were counted by month.
    pub fn is_dated(&self) -> bool {
        self.dated
    }

    /// The per-subject counts (with a subject column).
    pub fn subjects(&self) -> Option<&SubjectTally> {
        self.subjects.as_ref()
    }

    /// The per-subject counts, to change.
    pub fn subjects_mut(&mut self) -> Option<&mut SubjectTally> {
        self.subjects.as_mut()
    }
}

/// Move the per-field bits of one subject from the slots of another tally to this one's
/// (`map[old slot]`); bits of a field without a slot here are dropped.
fn remap_field_bits(bits: u64, map: &[Option<u8>]) -> u64 {
    let mut out = 0;
    for (old, new) in map.iter().enumerate() {
        let Some(new) = new else { continue };
        let cats = (bits >> (old * Category::ALL.len())) & 0x7f;
        out |= cats << (usize::from(*new) * Category::ALL.len());
    }
    out
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_timestamp(secs)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, H. Hinnant's
/// days-to-civil).
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

mod file;

#[cfg(test)]
mod tests;

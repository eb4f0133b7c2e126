//! The run summary: what `art9 scan --summary-out run.json` writes and `art9 report` reads
//! (schema `art9-run-summary`, version [`SCHEMA_VERSION`]; documented in SCHEMAS.md).
//!
//! A [`RunSummary`] is the stderr [`Summary`] (records read, scanned, skipped by reason,
//! findings per category, records per policy outcome) plus a [`Tally`]: counts of findings,
//! records and data subjects by category × field × lexicon language × policy action, with
//! the optional dimensions note language and likelihood (when findings carry them) and
//! month (when records carry a date). The tally is counted during the scan, batch by batch
//! on the worker that scanned the batch ([`Tally::record`]), and the batches' tallies are
//! added up in input order on the writer ([`Tally::merge`]); summaries of partitions of one
//! export merge the same way ([`RunSummary::merge`]): the merged halves equal the whole.
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
//! month]) combination seen, one per field name, and the 4 KiB [`Sketch`] of distinct
//! subjects. Growing with the data: one 32-byte table slot per **subject with findings**
//! (`with_findings`; 83 bytes with the hash table's room, measured in
//! BENCHMARKS.md at 10 million subjects) and, with a date column, one count per month.
//! Subjects without findings cost nothing beyond the sketch.

pub mod sketch;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use hmac::{Hmac, Mac};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use self::sketch::Sketch;
use crate::category::{Category, Lang};
use crate::input::Record;
use crate::matcher::Scanner;
use crate::pipeline::{FieldResult, Summary};
use crate::policy::{Action, CompiledPolicy};

/// The `schema` value of a run summary file.
pub const SCHEMA: &str = "art9-run-summary";
/// The version of the run summary schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
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

/// Where the key of the subject pseudonyms came from. Pseudonyms of two runs can be
/// compared (and the runs merged) only under the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// The policy's `hash_key`.
    Policy,
    /// The `ART9_HASH_KEY` environment variable.
    Env,
    /// A random key for this run only: its pseudonyms match no other run's.
    Random,
}

/// The keyed pseudonym function for subject ids.
#[derive(Clone)]
pub struct SubjectKey {
    mac: Hmac<Sha256>,
    /// SipHash-1-3 keys for the sketch of all subjects, derived from the key.
    sketch_keys: (u64, u64),
    id: String,
    source: KeySource,
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        write!(f, "SubjectKey({}, {:?})", self.id, self.source)
    }
}

/// The environment variable read for the subject key when the policy has none.
pub const KEY_ENV: &str = "ART9_HASH_KEY";

impl SubjectKey {
    /// A key of at least 16 bytes.
    ///
    /// # Errors
    /// A shorter key.
    pub fn new(key: &[u8], source: KeySource) -> Result<SubjectKey, String> {
        if key.len() < 16 {
            return Err("the subject pseudonym key must be at least 16 bytes".into());
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
        let derive = |label: &[u8]| {
            let mut m = mac.clone();
            m.update(label);
            m.finalize().into_bytes()
        };
        let id = hex(&derive(b"art9 key id")[..8]);
        let sk = derive(b"art9 subject sketch");
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let sketch_keys = (word(&sk[..8]), word(&sk[8..16]));
        Ok(SubjectKey {
            mac,
            sketch_keys,
            id,
            source,
        })
    }

    /// The policy's hash key, else [`KEY_ENV`], else a random key.
    ///
    /// # Errors
    /// [`KEY_ENV`] is set but shorter than 16 bytes, or no random bytes could be had.
    pub fn resolve(policy: Option<&CompiledPolicy>) -> Result<SubjectKey, String> {
        if let Some(key) = policy.and_then(CompiledPolicy::hash_key) {
            return SubjectKey::new(key, KeySource::Policy);
        }
        if let Some(key) = std::env::var_os(KEY_ENV) {
            return SubjectKey::new(key.as_encoded_bytes(), KeySource::Env)
                .map_err(|e| format!("{KEY_ENV}: {e}"));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no random key: {e}"))?;
        SubjectKey::new(&key, KeySource::Random)
    }

    /// The pseudonym of `subject`: the first 64 bits of HMAC-SHA256(key, "subject:" id).
    /// With 10 million subjects the chance that two share one is about 3 in a million.
    pub fn pseudonym(&self, subject: &str) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(b"subject:");
        mac.update(subject.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    /// The value `subject` counts as in the sketch of all subjects: SipHash-1-3 under a key
    /// derived from this one. A keyed PRF like the pseudonym, but a tenth of its cost, which
    /// every record with a subject pays (the HMAC is computed only for records with
    /// findings). It is never written out itself: only the sketch's per-register maxima.
    pub fn sketch_hash(&self, subject: &str) -> u64 {
        use std::hash::Hasher;
        let mut h =
            siphasher::sip::SipHasher13::new_with_keys(self.sketch_keys.0, self.sketch_keys.1);
        h.write(subject.as_bytes());
        h.finish()
    }

    /// A fingerprint of the key (not the key): equal for equal keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        self.source
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
    let li = Lang::ALL.iter().position(|x| *x == l).unwrap_or(0);
    1 << (c.index() * Lang::ALL.len() + li)
}

fn field_cat_bit(slot: usize, c: Category) -> u64 {
    1 << (slot * Category::ALL.len() + c.index())
}

/// Hashes a pseudonym as itself: it is already the uniform output of a keyed PRF, so
/// hashing it again (SipHash, the default) would only cost time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ByPseudonym;

impl std::hash::BuildHasher for ByPseudonym {
    type Hasher = PseudonymHasher;
    fn build_hasher(&self) -> PseudonymHasher {
        PseudonymHasher(0)
    }
}

/// See [`ByPseudonym`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PseudonymHasher(u64);

impl std::hash::Hasher for PseudonymHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (u64 keys); fold anything else in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
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
}

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
    /// Records with findings per (category or any, dimension value).
    records: FxHashMap<(Option<Category>, By), u64>,
    /// Records scanned per month, and without a date (with a date column). A hash map: one
    /// lookup a record (sorted when written).
    months: FxHashMap<Month, u64>,
    records_without_date: u64,
    dated: bool,
    subjects: Option<SubjectTally>,
    /// Counting (not merging) needs the key.
    key: Option<SubjectKey>,
    /// Per-record scratch: the (category, dimension) pairs of the record's findings.
    seen: Vec<(Option<Category>, By)>,
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
            }),
            key: subjects,
            dated,
            ..Tally::default()
        }
    }

    /// An empty tally counting like this one (for one batch).
    pub fn empty_like(&self) -> Tally {
        Tally::new(self.key.clone(), self.dated)
    }

    fn intern(&mut self, name: &str, hint: usize) -> u32 {
        if let Some(f) = self.fields.get(hint) {
            if f.name == name {
                return hint as u32;
            }
        }
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
        let (mut findings, mut cat_lang, mut field_cat) = (0u32, 0u32, 0u64);
        for (position, fr) in fields.iter().enumerate() {
            let fi = self.intern(&fr.name, position);
            let counts = &mut self.fields[fi as usize];
            counts.values += 1;
            if fr.findings.is_empty() {
                continue;
            }
            counts.values_with_findings += 1;
            let slot = self.subject_slot[fi as usize];
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
                };
                *self.findings.entry(key).or_default() += 1;
                findings += 1;
                cat_lang |= cat_lang_bit(f.category, f.lang);
                if let Some(s) = slot {
                    field_cat |= field_cat_bit(usize::from(s), f.category);
                }
                let mut dims = [
                    By::All,
                    By::Field(fi),
                    By::Lang(f.lang),
                    By::All,
                    By::All,
                    By::All,
                    By::Likelihood(f.likelihood),
                ];
                if let Some(a) = action {
                    dims[3] = By::Action(a);
                }
                if let Some(m) = month {
                    dims[4] = By::Month(m);
                }
                if let Some(l) = f.note_lang {
                    dims[5] = By::NoteLang(l);
                }
                for by in dims {
                    for cat in [Some(f.category), None] {
                        if !self.seen.contains(&(cat, by)) {
                            self.seen.push((cat, by));
                        }
                    }
                }
            }
        }
        for key in self.seen.drain(..) {
            *self.records.entry(key).or_default() += 1;
        }
        if self.dated {
            match month {
                Some(m) => *self.months.entry(m).or_default() += 1,
                None => self.records_without_date += 1,
            }
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
            if findings > 0 {
                let p = key.pseudonym(id);
                s.with_findings.entry(p).or_default().add(&SubjectCounts {
                    records: 1,
                    findings,
                    cat_lang,
                    field_cat,
                });
            }
        }
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
        let mut subject_map = Vec::new();
        if let Some(s) = &other.subjects {
            for name in &s.fields {
                let i = self.intern(name, usize::MAX);
                subject_map.push(self.subject_slot[i as usize]);
            }
        }
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
        for ((c, by), n) in &other.records {
            let by = match by {
                By::Field(f) => By::Field(map[*f as usize]),
                other => *other,
            };
            *self.records.entry((*c, by)).or_default() += n;
        }
        for (m, n) in &other.months {
            *self.months.entry(*m).or_default() += n;
        }
        self.records_without_date += other.records_without_date;
        if let (Some(mine), Some(theirs)) = (self.subjects.as_mut(), &other.subjects) {
            mine.scanned.merge(&theirs.scanned);
            mine.records_without_subject += theirs.records_without_subject;
            mine.fields_partial |= theirs.fields_partial;
            let identity = subject_map
                .iter()
                .enumerate()
                .all(|(i, s)| *s == Some(i as u8));
            if !identity && subject_map.iter().any(Option::is_none) {
                mine.fields_partial = true;
            }
            for (p, c) in &theirs.with_findings {
                let mut c = *c;
                if !identity {
                    c.field_cat = remap_field_bits(c.field_cat, &subject_map);
                }
                mine.with_findings.entry(*p).or_default().add(&c);
            }
        }
        Ok(())
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
        self.records.get(&(category, by)).copied().unwrap_or(0)
    }

    /// Every (category, dimension value) → records with findings.
    pub fn record_counts(&self) -> impl Iterator<Item = (Option<Category>, By, u64)> + '_ {
        self.records.iter().map(|((c, b), n)| (*c, *b, *n))
    }

    /// Records scanned per month (with a date column), by month.
    pub fn months(&self) -> BTreeMap<Month, u64> {
        self.months.iter().map(|(m, n)| (*m, *n)).collect()
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

/// Two summaries that cannot be added up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The pseudonym keys differ: the same person would count twice.
    #[error(
        "the summaries pseudonymise subjects under different keys (the same person would count \
         twice); scan every part with the same policy hash_key or ART9_HASH_KEY"
    )]
    OtherKey,
    /// Only one counts subjects.
    #[error("one summary counts data subjects (--subject) and the other does not")]
    Subjects,
    /// Only one counts by month.
    #[error("one summary counts by month (a date column) and the other does not")]
    Dates,
    /// Not a summary of this schema version.
    #[error(
        "schema {schema:?} version {version} (this art9 reads {SCHEMA:?} version {SCHEMA_VERSION})"
    )]
    Schema {
        /// The file's schema name.
        schema: String,
        /// The file's version.
        version: u32,
    },
    /// Nothing to merge.
    #[error("no summaries to merge")]
    Empty,
}

/// How a run was made: what the report's "how these numbers were produced" shows. No
/// secrets: the source and the command line have passwords and subject ids redacted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    /// When the scan started (UTC, RFC 3339).
    pub started: String,
    /// Wall-clock seconds the scan took.
    pub seconds: f64,
    /// The art9 version.
    pub art9_version: String,
    /// The input (a file name, or a database URL without its password).
    pub source: String,
    /// The command line, with passwords and `--subject-id` values replaced by `***`.
    pub command: Vec<String>,
    /// Lexicon entries loaded.
    pub lexicon_entries: usize,
    /// A fingerprint of the lexicons (SHA-256 of every entry's id, language, category,
    /// mode and terms; 16 hex digits): equal fingerprints, equal lexicons.
    pub lexicon_fingerprint: String,
    /// The policy's name, when one was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// A fingerprint of the policy's rules (not its key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_fingerprint: Option<String>,
    /// The subject column (`--subject`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_column: Option<String>,
    /// The date column, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_column: Option<String>,
    /// The reference time of retention and consent rules (`--as-of`, else the run's
    /// start), RFC 3339, when the policy has such rules or `--since` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// With `--baseline`: its entries, how many this run matched, stale and did not check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::review::BaselineCounts>,
    /// With `--state`: records new, changed, unchanged (not scanned) and gone since the
    /// previous run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::review::StateCounts>,
}

impl RunInfo {
    /// Lexicon and policy fingerprints and the version for a run of `scanner` (with
    /// `policy`); the caller fills in the rest.
    pub fn new(scanner: &Scanner, policy: Option<&CompiledPolicy>) -> RunInfo {
        let mut h = Sha256::new();
        for e in scanner.entries() {
            h.update(format!(
                "{}\0{}\0{}\0{:?}\0",
                e.id, e.lang, e.category, e.mode
            ));
            for t in &e.terms {
                h.update(t.as_bytes());
                h.update(b"\0");
            }
            h.update(b"\n");
        }
        RunInfo {
            art9_version: env!("CARGO_PKG_VERSION").to_string(),
            lexicon_entries: scanner.entries().len(),
            lexicon_fingerprint: hex(&h.finalize()[..8]),
            policy: policy.map(|p| p.name().to_string()),
            // The Debug form lists every rule and field override (BTreeMaps: a stable
            // order) and prints the key only as "<set>".
            policy_fingerprint: policy.map(|p| hex(&Sha256::digest(format!("{p:?}"))[..8])),
            started: utc_now(),
            ..RunInfo::default()
        }
    }
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

/// A run summary file: how the run was made, the [`Summary`] and the [`Tally`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// The runs added up here (one; several after [`RunSummary::merge`]).
    pub runs: Vec<RunInfo>,
    /// Records read, scanned, skipped by reason; findings per category; records per
    /// outcome (the stderr summary).
    pub summary: Summary,
    /// Counts by dimension.
    #[serde(with = "file")]
    pub tally: Tally,
    /// Each category's fideslang data-category key (`health` → `user.health`), so that
    /// tools speaking fideslang can read the counts (issue 21). Empty when read from a file
    /// of an earlier build.
    #[serde(default)]
    pub data_categories: BTreeMap<String, String>,
}

/// Category name → fideslang key, for [`RunSummary::data_categories`].
fn data_categories() -> BTreeMap<String, String> {
    Category::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), c.data_category().to_string()))
        .collect()
}

impl RunSummary {
    /// The summary of one run.
    pub fn new(run: RunInfo, summary: Summary, tally: Tally) -> RunSummary {
        RunSummary {
            schema: SCHEMA.to_string(),
            version: SCHEMA_VERSION,
            runs: vec![run],
            summary,
            tally,
            data_categories: data_categories(),
        }
    }

    /// Read a summary written by this version.
    ///
    /// # Errors
    /// Not JSON of this schema, or another schema version ([`MergeError::Schema`]).
    pub fn from_json(text: &str) -> Result<RunSummary, String> {
        #[derive(Deserialize)]
        struct Head {
            schema: String,
            version: u32,
        }
        let head: Head = serde_json::from_str(text)
            .map_err(|e| format!("not an art9 run summary ({})", e.classify_name()))?;
        if head.schema != SCHEMA || head.version != SCHEMA_VERSION {
            return Err(MergeError::Schema {
                schema: head.schema,
                version: head.version,
            }
            .to_string());
        }
        serde_json::from_str(text).map_err(|e| {
            format!(
                "run summary line {} column {}: {}",
                e.line(),
                e.column(),
                e.classify_name()
            )
        })
    }

    /// Add up the summaries of partitions of one export (runs listed in order).
    ///
    /// # Errors
    /// An empty list, or parts that cannot be added up ([`MergeError`]).
    pub fn merge(parts: &[RunSummary]) -> Result<RunSummary, MergeError> {
        let (first, rest) = parts.split_first().ok_or(MergeError::Empty)?;
        let mut out = first.clone();
        for p in rest {
            out.tally.merge(&p.tally)?;
            out.summary.add(&p.summary);
            out.summary.stopped_early |= p.summary.stopped_early;
            out.runs.extend(p.runs.iter().cloned());
        }
        Ok(out)
    }
}

/// Classifies a serde_json error without its message (which can quote a value).
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "a key is missing or has the wrong type",
            serde_json::error::Category::Eof => "the file ends early",
        }
    }
}

mod file;

#[cfg(test)]
mod tests;

//! The tally as written in a run summary file: lists in a fixed order (fields by name,
//! counts by their keys, subjects by pseudonym), field names instead of indexes, so equal
//! tallies are equal files however their counting was split up.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    By, CellKey, Evasion, FieldCounts, KeySource, Likelihood, Month, Sketch, SubjectCounts,
    SubjectTally, Tally, SUBJECT_FIELDS, TOP_SUBJECTS,
};
use crate::category::{Category, Lang};
use crate::policy::Action;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TallyFile {
    fields: Vec<FieldCounts>,
    findings: Vec<FindingsRow>,
    records: Vec<RecordsRow>,
    #[serde(default)]
    dated: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    months_scanned: BTreeMap<Month, u64>,
    #[serde(default)]
    records_without_date: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subjects: Option<SubjectsFile>,
}

/// [`TallyFile`] as written (borrowing the tally's subjects).
#[derive(Serialize)]
struct TallyOut<'a> {
    fields: Vec<FieldCounts>,
    findings: Vec<FindingsRow>,
    records: Vec<RecordsRow>,
    dated: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    months_scanned: BTreeMap<Month, u64>,
    records_without_date: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    subjects: Option<SubjectsOut<'a>>,
}

/// [`SubjectsFile`] as written.
#[derive(Serialize)]
struct SubjectsOut<'a> {
    key_id: &'a str,
    key_source: KeySource,
    scanned_estimate: u64,
    scanned_sketch: &'a Sketch,
    records_without_subject: u64,
    fields: Vec<&'a str>,
    fields_partial: bool,
    with_findings: Rows<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_ids: Option<BTreeMap<String, &'a str>>,
}

/// The per-subject rows, sorted, with the field slot map to name order.
struct Rows<'a> {
    rows: Vec<(u64, &'a SubjectCounts)>,
    map: Vec<Option<u8>>,
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for (p, c) in &self.rows {
            let bits = super::remap_field_bits(c.field_cat, &self.map);
            // 16 hex digits formatted on the stack: one row per subject with findings.
            let hex = hex16(*p);
            let hex = std::str::from_utf8(&hex).unwrap_or_default();
            seq.serialize_element(&(hex, c.records, c.findings, c.cat_lang, bits))?;
        }
        seq.end()
    }
}

/// `p` as 16 lowercase hex digits (as `format!("{p:016x}")`, without a `String`): a byte
/// at a time from a table of digit pairs.
pub(super) fn hex16(p: u64) -> [u8; 16] {
    /// The two hex digits of every byte.
    static PAIRS: [[u8; 2]; 256] = {
        let digits = b"0123456789abcdef";
        let mut t = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [digits[i >> 4], digits[i & 15]];
            i += 1;
        }
        t
    };
    let mut out = [0u8; 16];
    for (pair, b) in out.chunks_exact_mut(2).zip(p.to_be_bytes()) {
        pair.copy_from_slice(&PAIRS[usize::from(b)]);
    }
    out
}

#[derive(Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct FindingsRow {
    category: Category,
    field: String,
    lang: Lang,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note_lang: Option<Lang>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    likelihood: Option<Likelihood>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    month: Option<Month>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evasion: Option<Evasion>,
    findings: u64,
}

/// Records with findings of `category` (absent: any), by at most one other dimension.
#[derive(Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct RecordsRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lang: Option<Lang>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note_lang: Option<Lang>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    likelihood: Option<Likelihood>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    month: Option<Month>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evasion: Option<Evasion>,
    records: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectsFile {
    key_id: String,
    key_source: KeySource,
    /// Informative for readers of the file; recomputed from the sketch when read here.
    #[serde(default, rename = "scanned_estimate")]
    _scanned_estimate: u64,
    scanned_sketch: Sketch,
    records_without_subject: u64,
    fields: Vec<String>,
    fields_partial: bool,
    /// `[pseudonym (16 hex digits), records with findings, findings, category × language
    /// bits, field × category bits]`, by pseudonym.
    with_findings: Vec<(String, u32, u32, u32, u64)>,
    /// `--show-subjects` only: pseudonym → raw subject id, for the most affected subjects.
    #[serde(default)]
    subject_ids: Option<BTreeMap<String, String>>,
}

pub(super) fn serialize<S: Serializer>(t: &Tally, s: S) -> Result<S::Ok, S::Error> {
    let name = |i: u32| t.fields[i as usize].name.clone();
    let mut fields = t.fields.clone();
    fields.sort_by(|a, b| a.name.cmp(&b.name));
    let mut findings: Vec<FindingsRow> = t
        .findings
        .iter()
        .map(|(k, n)| FindingsRow {
            category: k.category,
            field: name(k.field),
            lang: k.lang,
            action: k.action,
            note_lang: k.note_lang,
            likelihood: k.likelihood,
            month: k.month,
            evasion: k.evasion,
            findings: *n,
        })
        .collect();
    findings.sort();
    let mut records: Vec<RecordsRow> = t
        .record_counts()
        .map(|(c, by, n)| {
            let mut row = RecordsRow {
                category: c,
                field: None,
                lang: None,
                action: None,
                note_lang: None,
                likelihood: None,
                month: None,
                evasion: None,
                records: n,
            };
            match by {
                By::All => {}
                By::Field(f) => row.field = Some(name(f)),
                By::Lang(l) => row.lang = Some(l),
                By::Action(a) => row.action = Some(a),
                By::NoteLang(l) => row.note_lang = Some(l),
                By::Likelihood(l) => row.likelihood = Some(l),
                By::Month(m) => row.month = Some(m),
                By::Evasion(e) => row.evasion = Some(e),
            }
            row
        })
        .collect();
    records.sort();
    let subjects = t.subjects.as_ref().map(|st| {
        // Slots in name order.
        let mut order: Vec<usize> = (0..st.fields.len()).collect();
        order.sort_by(|a, b| st.fields[*a].cmp(&st.fields[*b]));
        let mut map = vec![None; st.fields.len()];
        for (new, old) in order.iter().enumerate() {
            map[*old] = Some(new as u8);
        }
        // Pseudonyms with a reference to their counts, sorted by pseudonym (16 bytes a
        // subject; the pseudonym copied, so that sorting does not read the table); each row
        // is formatted as it is written, so writing 10 million subjects does not build 10
        // million strings.
        let mut rows: Vec<(u64, &SubjectCounts)> =
            st.with_findings.iter().map(|(p, c)| (*p, c)).collect();
        rows.sort_unstable_by_key(|(p, _)| *p);
        SubjectsOut {
            key_id: &st.key_id,
            key_source: st.key_source,
            scanned_estimate: st.scanned.estimate(),
            scanned_sketch: &st.scanned,
            records_without_subject: st.records_without_subject,
            fields: order.iter().map(|i| st.fields[*i].as_str()).collect(),
            fields_partial: st.fields_partial,
            with_findings: Rows { rows, map },
            // Only the ids of the subjects a report lists: the rest are not written.
            subject_ids: st.ids.as_ref().map(|ids| {
                st.top(TOP_SUBJECTS)
                    .iter()
                    .filter_map(|(p, _)| Some((format!("{p:016x}"), &**ids.get(p)?)))
                    .collect()
            }),
        }
    });
    TallyOut {
        fields,
        findings,
        records,
        dated: t.dated,
        months_scanned: t.months(),
        records_without_date: t.records_without_date,
        subjects,
    }
    .serialize(s)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tally, D::Error> {
    use serde::de::Error;
    let f = TallyFile::deserialize(d)?;
    let mut t = Tally {
        dated: f.dated,
        records_without_date: f.records_without_date,
        ..Tally::default()
    };
    for (m, n) in f.months_scanned {
        t.months.at(m).scanned += n;
    }
    if let Some(s) = &f.subjects {
        if s.fields.len() > SUBJECT_FIELDS {
            return Err(D::Error::custom("subjects: too many fields"));
        }
        t.subjects = Some(SubjectTally {
            key_id: s.key_id.clone(),
            key_source: s.key_source,
            scanned: s.scanned_sketch.clone(),
            records_without_subject: s.records_without_subject,
            fields: Vec::new(),
            fields_partial: s.fields_partial,
            with_findings: Default::default(),
            ids: None,
        });
        // The subject fields first, so that they get their slots in the file's order.
        for name in &s.fields {
            t.intern(name, usize::MAX);
        }
    }
    for c in &f.fields {
        let i = t.intern(&c.name, usize::MAX) as usize;
        t.fields[i].values += c.values;
        t.fields[i].values_with_findings += c.values_with_findings;
    }
    let index = |t: &Tally, name: &str| -> Result<u32, D::Error> {
        t.field_index
            .get(name)
            .copied()
            .ok_or_else(|| D::Error::custom("a count names a field not in `fields`"))
    };
    for r in f.findings {
        let key = CellKey {
            category: r.category,
            field: index(&t, &r.field)?,
            lang: r.lang,
            action: r.action,
            note_lang: r.note_lang,
            likelihood: r.likelihood,
            month: r.month,
            evasion: r.evasion,
        };
        *t.findings.entry(key).or_default() += r.findings;
    }
    for r in f.records {
        let mut by = Vec::new();
        if let Some(name) = &r.field {
            by.push(By::Field(index(&t, name)?));
        }
        by.extend(r.lang.map(By::Lang));
        by.extend(r.action.map(By::Action));
        by.extend(r.note_lang.map(By::NoteLang));
        by.extend(r.likelihood.map(By::Likelihood));
        by.extend(r.month.map(By::Month));
        by.extend(r.evasion.map(By::Evasion));
        if by.len() > 1 {
            return Err(D::Error::custom(
                "a records count has more than one dimension",
            ));
        }
        let by = by.pop().unwrap_or(By::All);
        t.add_records(r.category, by, r.records);
    }
    let pseudonym = |p: &str| -> Result<u64, D::Error> {
        u64::from_str_radix(p, 16)
            .ok()
            .filter(|_| p.len() == 16)
            .ok_or_else(|| D::Error::custom("subjects: a pseudonym is not 16 hex digits"))
    };
    if let (Some(st), Some(s)) = (t.subjects.as_mut(), f.subjects) {
        if let Some(ids) = s.subject_ids {
            let mut kept = super::HashMap::default();
            for (p, id) in ids {
                kept.insert(pseudonym(&p)?, id.into_boxed_str());
            }
            st.ids = Some(kept);
        }
        st.with_findings.reserve(s.with_findings.len());
        for (p, records, findings, cat_lang, field_cat) in s.with_findings {
            let p = pseudonym(&p)?;
            st.with_findings.entry(p).or_default().add(&SubjectCounts {
                records,
                findings,
                cat_lang,
                field_cat,
            });
        }
    }
    Ok(t)
}

/// Pretty-printed JSON, except that an array inside an array (a per-subject row of
/// [`SubjectsOut::with_findings`]) is written compactly, on one line.
///
/// The pretty part writes what `serde_json`'s `PrettyFormatter` (two-space indent) writes,
/// byte for byte (tested), but a line break and its indent in one write: the pretty
/// printer writes the indent one level at a time, five writes before each key of a
/// findings row and each subject row.
#[derive(Default)]
pub(super) struct RowsOnOneLine {
    /// Depth of the open pretty containers (the indent in levels).
    indent: usize,
    /// Whether the innermost pretty container has a value (as `PrettyFormatter`'s).
    has_value: bool,
    /// Per open container: whether it is an array.
    open: Vec<bool>,
    /// While writing compactly: the depth of the array that began it.
    compact_from: Option<usize>,
}

/// A line break and the spaces of 39 levels of indent.
const BREAK: [u8; 79] = {
    let mut b = [b' '; 79];
    b[0] = b'\n';
    b
};

impl RowsOnOneLine {
    /// `,` when not `first`, a line break and the current indent (two spaces a level).
    #[inline]
    fn new_line<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.line_break(w)
    }

    #[inline]
    fn line_break<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        match BREAK.get(..1 + 2 * self.indent) {
            Some(line) => w.write_all(line),
            None => {
                w.write_all(b"\n")?;
                (0..self.indent).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }

    fn begin<W: ?Sized + std::io::Write>(&mut self, w: &mut W, open: &[u8]) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(open)
    }

    fn end<W: ?Sized + std::io::Write>(&mut self, w: &mut W, close: &[u8]) -> std::io::Result<()> {
        self.indent = self.indent.saturating_sub(1);
        if self.has_value {
            self.line_break(w)?;
        }
        w.write_all(close)
    }
}

impl serde_json::ser::Formatter for RowsOnOneLine {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let inside_array = self.open.last() == Some(&true);
        self.open.push(true);
        if self.compact_from.is_none() && inside_array {
            self.compact_from = Some(self.open.len());
        }
        if self.compact_from.is_some() {
            w.write_all(b"[")
        } else {
            self.begin(w, b"[")
        }
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let depth = self.open.len();
        self.open.pop();
        match self.compact_from {
            Some(from) => {
                if from == depth {
                    self.compact_from = None;
                }
                w.write_all(b"]")
            }
            None => self.end(w, b"]"),
        }
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        match self.compact_from {
            Some(_) if first => Ok(()),
            Some(_) => w.write_all(b","),
            None => self.new_line(w, first),
        }
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        if self.compact_from.is_none() {
            self.has_value = true;
        }
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open.push(false);
        match self.compact_from {
            Some(_) => w.write_all(b"{"),
            None => self.begin(w, b"{"),
        }
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open.pop();
        match self.compact_from {
            Some(_) => w.write_all(b"}"),
            None => self.end(w, b"}"),
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        match self.compact_from {
            Some(_) if first => Ok(()),
            Some(_) => w.write_all(b","),
            None => self.new_line(w, first),
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        match self.compact_from {
            Some(_) => w.write_all(b":"),
            None => w.write_all(b": "),
        }
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        if self.compact_from.is_none() {
            self.has_value = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RowsOnOneLine;
    use serde::Serialize;

    fn written(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, RowsOnOneLine::default());
        v.serialize(&mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pretty_as_serde_jsons_pretty_printer_and_rows_on_one_line() {
        // Without arrays in arrays: byte for byte the pretty printer's, empty containers and
        // indents deeper than the one-write line breaks included.
        let mut deep = serde_json::json!({"leaf": [1, {}], "empty": []});
        for i in 0..45 {
            deep = serde_json::json!({ format!("k{i}"): deep, "n": i, "e": {}, "s": "x\"y" });
        }
        for v in [
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"a": {"b": [], "c": {"d": 1}}, "e": [{"f": null}, {}], "g": "h"}),
            deep,
        ] {
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            assert_eq!(written(&v), pretty);
        }
        let v = serde_json::json!({"rows": [["ab", 1, 2], ["cd", 3, [4, 5]], []]});
        assert_eq!(
            written(&v),
            "{\n  \"rows\": [\n    [\"ab\",1,2],\n    [\"cd\",3,[4,5]],\n    []\n  ]\n}"
        );
    }
}

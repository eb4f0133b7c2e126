//! The access extract (`art9 subject ... --access -o DIR`): everything held about one data
//! subject that has special-category findings, across the sources given, WITH the text —
//! the one art9 output that holds note text by design (GDPR Art. 15: the subject is
//! entitled to their own data). It says so: the JSON has `"contains_text": true` and a
//! `notice`, the HTML a banner, and the command a warning on stderr.
//!
//! [`AccessExtract`] is built record by record ([`AccessExtract::add_record`]) and holds, per
//! category found, the policy's purpose, legal basis, recipients and storage period, and the
//! Art. 15(1) information in one place ([`Art15`]). Schema `art9-access/1` (SCHEMAS.md).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::category::Category;
use crate::matcher::Scanner;
use crate::pipeline::{FieldResult, Summary};
use crate::policy::{CompiledPolicy, Purpose};
use crate::record::Record;

/// The schema name and version of the JSON extract.
pub const ACCESS_SCHEMA: &str = "art9-access/1";

/// What the extract says about itself, in the JSON and as the HTML banner.
pub const NOTICE: &str = "This extract holds the full text of the records about you that \
contain special-category personal data (health, political opinions, religion, ethnic origin, \
sexual orientation, trade union membership, criminal matters), as required by GDPR Art. 15. \
It is the only art9 output that contains note text, by design. Keep it confidential and \
deliver it to the data subject only.";

/// Counts of one source for the subject.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SourceCount {
    /// The source (a file name, or a database URL without its password, and table).
    pub source: String,
    /// Records read.
    pub records_read: u64,
    /// Records of the subject that were scanned.
    pub records_of_subject: u64,
    /// Of those, records with findings (all in `records`).
    pub records_with_findings: u64,
    /// Records that could not be read (their subject is unknown: check them by hand).
    pub records_skipped: u64,
}

/// One category found, with what the policy says about it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CategoryInfo {
    /// The category.
    pub category: String,
    /// Findings of it.
    pub findings: u64,
    /// Records with it.
    pub records: u64,
    /// The policy's purpose, basis, recipients and storage period (`purposes:`), if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
}

/// The Art. 15(1) information, gathered from the categories found and the policy.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Art15 {
    /// (a) The purposes of the processing, with their legal basis, per category.
    pub purposes: Vec<PurposeLine>,
    /// (b) The categories of personal data concerned.
    pub categories: Vec<String>,
    /// (c) The recipients (from the policy's `purposes:`).
    pub recipients: Vec<String>,
    /// (d) The storage period or its criteria, per category: the policy's retention rule,
    /// else the `storage` text of its purpose.
    pub storage: Vec<StorageLine>,
    /// (g) Where the data came from: the sources read.
    pub sources: Vec<String>,
    /// Categories the policy gives no purpose for: the controller must supply it.
    pub missing_purpose: Vec<String>,
}

/// A purpose of one category.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PurposeLine {
    /// The category.
    pub category: String,
    /// The purpose.
    pub purpose: String,
    /// The legal basis.
    pub basis: String,
}

/// The storage period of one category.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StorageLine {
    /// The category.
    pub category: String,
    /// The period or its criteria.
    pub storage: String,
}

/// One field with findings, with its text.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccessField {
    /// The field's name.
    pub field: String,
    /// The field's whole text.
    pub text: String,
    /// The findings in it (the shape of `art9 scan --include-text` findings).
    pub findings: Vec<serde_json::Value>,
}

/// One record with findings.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccessRecord {
    /// The source it was read from.
    pub source: String,
    /// Its key.
    pub key: String,
    /// The line or row where it starts.
    pub line: u64,
    /// The categories found in it.
    pub categories: Vec<String>,
    /// The fields with findings.
    pub fields: Vec<AccessField>,
}

/// The whole extract.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccessExtract {
    /// [`ACCESS_SCHEMA`].
    pub schema: &'static str,
    /// Always `true`: this output holds note text.
    pub contains_text: bool,
    /// [`NOTICE`].
    pub notice: &'static str,
    /// When it was made (UTC, RFC 3339).
    pub generated: String,
    /// The subject's id, as given.
    pub subject: String,
    /// The policy whose purposes are quoted.
    pub policy: String,
    /// Counts per source.
    pub sources: Vec<SourceCount>,
    /// Per category found.
    pub categories: Vec<CategoryInfo>,
    /// The Art. 15(1) information.
    pub art15: Art15,
    /// The records with findings, per source in input order.
    pub records: Vec<AccessRecord>,
}

impl AccessExtract {
    /// An empty extract for `subject` under `policy`.
    pub fn new(subject: &str, policy: &CompiledPolicy) -> AccessExtract {
        AccessExtract {
            schema: ACCESS_SCHEMA,
            contains_text: true,
            notice: NOTICE,
            generated: crate::output::summary::utc_now(),
            subject: subject.to_string(),
            policy: policy.name().to_string(),
            sources: Vec::new(),
            categories: Vec::new(),
            art15: Art15::default(),
            records: Vec::new(),
        }
    }

    /// Add one scanned record of the subject (kept when it has findings).
    pub fn add_record(
        &mut self,
        source: &str,
        scanner: &Scanner,
        record: &Record,
        fields: &[FieldResult],
    ) -> serde_json::Result<()> {
        let mut out = Vec::new();
        let mut cats = BTreeSet::new();
        for (fr, field) in fields.iter().zip(&record.fields) {
            if fr.findings.is_empty() {
                continue;
            }
            let mut findings = Vec::with_capacity(fr.findings.len());
            for i in 0..fr.findings.len() {
                cats.insert(fr.findings[i].category.as_str().to_string());
                findings.push(serde_json::to_value(super::row(
                    scanner,
                    record,
                    &field.text,
                    fr,
                    i,
                    true,
                ))?);
            }
            out.push(AccessField {
                field: fr.name.clone(),
                text: field.text.clone(),
                findings,
            });
        }
        if !out.is_empty() {
            self.records.push(AccessRecord {
                source: source.to_string(),
                key: record.key.clone(),
                line: record.line,
                categories: cats.into_iter().collect(),
                fields: out,
            });
        }
        Ok(())
    }

    /// Add a source's counts (after its run).
    pub fn add_source(&mut self, source: &str, summary: &Summary) {
        self.sources.push(SourceCount {
            source: source.to_string(),
            records_read: summary.records_read,
            records_of_subject: summary.records_scanned,
            records_with_findings: summary.records_with_findings,
            records_skipped: summary.records_skipped,
        });
    }

    /// Fill in the categories and the Art. 15(1) information (after the last source).
    pub fn finish(&mut self, policy: &CompiledPolicy) {
        let mut findings: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for r in &self.records {
            for c in &r.categories {
                findings.entry(c.clone()).or_default().1 += 1;
            }
            for f in &r.fields {
                for x in &f.findings {
                    if let Some(c) = x.get("category").and_then(|c| c.as_str()) {
                        findings.entry(c.to_string()).or_default().0 += 1;
                    }
                }
            }
        }
        let mut art = Art15 {
            sources: self.sources.iter().map(|s| s.source.clone()).collect(),
            ..Art15::default()
        };
        let mut recipients = BTreeSet::new();
        self.categories = Category::ALL
            .iter()
            .filter_map(|c| {
                let (n, records) = findings.get(c.as_str()).copied()?;
                let purpose = policy.purpose(*c).cloned();
                art.categories.push(c.as_str().to_string());
                match &purpose {
                    Some(p) => {
                        art.purposes.push(PurposeLine {
                            category: c.as_str().to_string(),
                            purpose: p.purpose.clone(),
                            basis: p.basis.clone(),
                        });
                        recipients.extend(p.recipients.iter().cloned());
                    }
                    None => art.missing_purpose.push(c.as_str().to_string()),
                }
                if let Some(s) = policy.storage_period(*c) {
                    art.storage.push(StorageLine {
                        category: c.as_str().to_string(),
                        storage: s,
                    });
                }
                Some(CategoryInfo {
                    category: c.as_str().to_string(),
                    findings: n,
                    records,
                    purpose,
                })
            })
            .collect();
        art.recipients = recipients.into_iter().collect();
        self.art15 = art;
    }

    /// The extract as HTML: one self-contained page (the report's stylesheet, no script,
    /// nothing fetched), the notice as a banner, the findings marked in the text.
    #[cfg(feature = "report")]
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

#[cfg(feature = "report")]
mod html {
    use maud::{html, Markup, PreEscaped, DOCTYPE};

    use super::{AccessExtract, AccessField};
    use crate::output::report::{CSP, CSS};

    /// Extra rules for the extract, on top of the report's stylesheet.
    const EXTRA_CSS: &str =
        ".banner{border:2px solid #b00020;background:#fff4f4;padding:.75em 1em;\
margin:1em 0}.note{white-space:pre-wrap;border-left:3px solid #ccc;padding-left:.75em}\
mark{background:#ffe08a}";

    pub(super) fn render(x: &AccessExtract) -> String {
        let title = format!("Access extract: data subject {}", x.subject);
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta http-equiv="Content-Security-Policy" content=(CSP);
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="referrer" content="no-referrer";
                    title { (title) }
                    style { (PreEscaped(CSS)) (PreEscaped(EXTRA_CSS)) }
                }
                body {
                    header {
                        h1 { (title) }
                        p.meta { "Made " (x.generated) " under policy " (x.policy) }
                    }
                    main {
                        div.banner role="note" id="notice" {
                            strong { "Contains personal data: the text of your notes. " }
                            (x.notice)
                        }
                        (art15(x))
                        (records(x))
                    }
                }
            }
        };
        page.into_string()
    }

    fn art15(x: &AccessExtract) -> Markup {
        let a = &x.art15;
        html! {
            section id="art15" {
                h2 { "What we hold about you and why (GDPR Art. 15(1))" }
                table {
                    thead { tr { th { "category" } th { "findings" } th { "records" }
                        th { "purpose" } th { "legal basis" } th { "recipients" } th { "storage period" } } }
                    tbody {
                        @for c in &x.categories {
                            tr {
                                td { (c.category) }
                                td.num { (c.findings) }
                                td.num { (c.records) }
                                @match &c.purpose {
                                    Some(p) => {
                                        td { (p.purpose) }
                                        td { (p.basis) }
                                        td { (p.recipients.join(", ")) }
                                    }
                                    None => { td colspan="3" { "not stated in the policy" } }
                                }
                                td { (a.storage.iter().find(|s| s.category == c.category)
                                    .map_or("", |s| s.storage.as_str())) }
                            }
                        }
                    }
                }
                @if x.categories.is_empty() {
                    p { "No special-category data was found about you in these sources." }
                }
                h3 { "Sources" }
                table {
                    thead { tr { th { "source" } th { "records read" } th { "your records" }
                        th { "with special-category data" } th { "unreadable" } } }
                    tbody {
                        @for s in &x.sources {
                            tr { td { (s.source) } td.num { (s.records_read) }
                                td.num { (s.records_of_subject) } td.num { (s.records_with_findings) }
                                td.num { (s.records_skipped) } }
                        }
                    }
                }
                @if !a.missing_purpose.is_empty() {
                    p.warn { "No purpose stated in the policy for: " (a.missing_purpose.join(", ")) }
                }
            }
        }
    }

    fn records(x: &AccessExtract) -> Markup {
        html! {
            section id="records" {
                h2 { "Your records (" (x.records.len()) ")" }
                @for r in &x.records {
                    article.record {
                        h3 { (r.source) ", record " (r.key) }
                        p.meta { "categories: " (r.categories.join(", ")) }
                        @for f in &r.fields {
                            h4 { (f.field) }
                            p.note { (marked(f)) }
                        }
                    }
                }
            }
        }
    }

    /// The field's text with each finding in a `<mark>` (escaped by maud).
    fn marked(f: &AccessField) -> Markup {
        let mut spans: Vec<(usize, usize, String)> = f
            .findings
            .iter()
            .filter_map(|v| {
                let s = v.get("start")?.as_u64()? as usize;
                let e = v.get("end")?.as_u64()? as usize;
                let c = v.get("category")?.as_str()?.to_string();
                Some((s, e, c))
            })
            .collect();
        spans.sort();
        let text = f.text.as_str();
        let mut parts: Vec<(&str, Option<String>)> = Vec::new();
        let mut pos = 0;
        for (s, e, c) in spans {
            if s < pos || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
                continue;
            }
            parts.push((&text[pos..s], None));
            parts.push((&text[s..e], Some(c)));
            pos = e;
        }
        parts.push((&text[pos..], None));
        html! {
            @for (t, c) in &parts {
                @match c {
                    Some(c) => { mark title=(c) { (t) } }
                    None => { (t) }
                }
            }
        }
    }
}

//! The HTML report (`art9 report run.json -o report.html`, `art9 scan ... --report`): one
//! self-contained file a privacy officer reads, prints (A4) and compares month to month.
//!
//! It is drawn from a [`RunSummary`] alone, so it holds what the summary holds: counts, field
//! names, the source's name and keyed subject pseudonyms, never note text, entry ids or
//! record keys. Counts of people below [`ReportOptions::min_count`] are shown as "< k".
//!
//! The file has no JavaScript and loads nothing: the CSS and the SVG charts
//! ([`chart`]) are inline, and a Content-Security-Policy meta tag forbids every fetch
//! (`default-src 'none'`). The markup is written with maud, which escapes every value put
//! into it (field and source names come from the data and may hold markup).

pub mod chart;
mod people;
mod tables;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use self::chart::{Bar, CATEGORY_COLOURS, NEUTRAL};
use super::summary::{By, KeySource, RunSummary, SubjectTally, Tally};
use crate::category::{Category, Lang};
use crate::pipeline::Summary;
use crate::policy::Action;

/// How to draw the report.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Counts of people from 1 to `min_count - 1` are shown as "< min_count" (default 5).
    pub min_count: u64,
    /// Notes of a month at least this many months before the run's month are flagged for
    /// retention review (with a date column).
    pub retention_months: u32,
    /// Show the raw subject ids of the most affected people (`--show-subjects`), when the
    /// summary kept them. The report then holds personal data and says so in a banner.
    pub show_subjects: bool,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            min_count: 5,
            retention_months: 24,
            show_subjects: false,
        }
    }
}

pub(crate) const CSS: &str = include_str!("style.css");

/// The Content-Security-Policy of the report: nothing may be fetched or run; only the
/// inline stylesheet applies.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; \
                       base-uri 'none'; form-action 'none'";

/// The score of a field, 0–100: the share of its values with findings, times five, capped
/// (1% of values → 5, 20% or more → 100).
pub fn field_score(values: u64, with_findings: u64) -> u64 {
    if values == 0 {
        return 0;
    }
    let score = (500.0 * with_findings as f64 / values as f64).round() as u64;
    score.min(100)
}

/// The formula of [`field_score`], as printed beside the scores.
pub const SCORE_FORMULA: &str =
    "score = min(100, round(500 × values with findings ÷ values scanned))";

/// Write the report of `run` (compared with `previous`, when given).
pub fn render(run: &RunSummary, previous: Option<&RunSummary>, opts: &ReportOptions) -> String {
    let r = Report {
        run,
        previous,
        opts,
        people: run.tally.subjects().map(People::count),
    };
    let title = match run.runs.first() {
        Some(info) if run.runs.len() == 1 => format!("art9 report: {}", info.source),
        Some(info) => format!(
            "art9 report: {} and {} more",
            info.source,
            run.runs.len() - 1
        ),
        None => "art9 report".to_string(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.meta { (r.when()) }
                }
                @if r.shows_ids() {
                    div.personal role="note" aria-label="Personal data" {
                        p { strong { "This report holds personal data." }
                            " It lists the subject ids of the most affected people (" code { "--show-subjects" }
                            "). Keep it, share it and delete it as you do the CRM export itself; "
                            "without " code { "--show-subjects" } " the report shows keyed pseudonyms only." }
                    }
                }
                main {
                    (r.headline())
                    (r.warnings())
                    (r.categories())
                    (r.by_field())
                    (r.by_lang())
                    (r.by_month())
                    (r.people_section())
                    (r.scores())
                    (r.decisions())
                    (r.skipped())
                    (r.likelihood())
                    (r.evasion())
                    (r.next_steps())
                    (r.provenance())
                }
                footer {
                    p { "Written by art9 " (env!("CARGO_PKG_VERSION")) " from run summary schema "
                        (super::summary::SCHEMA) " v" (run.version) ". "
                        @if r.shows_ids() {
                            "This file holds counts and the subject ids of the most affected people (personal data); no note text, entry ids or record keys."
                        } @else {
                            "This file holds counts only: no note text, entry ids, record keys or subject ids."
                        } }
                }
            }
        }
    }
    .into_string()
}

struct Report<'a> {
    run: &'a RunSummary,
    previous: Option<&'a RunSummary>,
    opts: &'a ReportOptions,
    /// The run's people counts (with a subject column).
    people: Option<People>,
}

/// The people (subjects with findings) the report counts, in one pass over the subjects: in
/// all, per category, per category × language bit and per subject field × category bit of
/// [`SubjectCounts`](super::summary::SubjectCounts), and by notes with findings. A pass per
/// table cell read the table of every subject with findings some 40 times (215,000 subjects
/// on 1 GB of notes).
#[derive(Debug)]
struct People {
    all: u64,
    category: [u64; Category::ALL.len()],
    cat_lang: [u64; 32],
    field_cat: [u64; 64],
    /// Per bucket of [`NOTES_BUCKETS`]: people with that many notes with findings.
    notes: [u64; NOTES_BUCKETS.len()],
}

/// The buckets of people by notes with findings: name, fewest, most.
const NOTES_BUCKETS: [(&str, u32, u32); 4] = [
    ("1 note", 1, 1),
    ("2–5 notes", 2, 5),
    ("6–20 notes", 6, 20),
    ("more than 20", 21, u32::MAX),
];

impl People {
    fn count(s: &SubjectTally) -> People {
        let mut p = People {
            all: 0,
            category: [0; Category::ALL.len()],
            cat_lang: [0; 32],
            field_cat: [0; 64],
            notes: [0; NOTES_BUCKETS.len()],
        };
        for c in s.with_findings.values() {
            p.all += 1;
            for (n, &cat) in p.category.iter_mut().zip(&Category::ALL) {
                *n += u64::from(c.has_category(cat));
            }
            let mut bits = c.cat_lang;
            while bits != 0 {
                p.cat_lang[bits.trailing_zeros() as usize] += 1;
                bits &= bits - 1;
            }
            let mut bits = c.field_cat;
            while bits != 0 {
                p.field_cat[bits.trailing_zeros() as usize] += 1;
                bits &= bits - 1;
            }
            let bucket = NOTES_BUCKETS
                .iter()
                .position(|(_, lo, hi)| (*lo..=*hi).contains(&c.records));
            if let Some(b) = bucket {
                p.notes[b] += 1;
            }
        }
        p
    }
}

/// `n` and the noun in its number: "1 note", "3 notes".
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    let p = 100.0 * part as f64 / whole as f64;
    if p > 0.0 && p < 0.1 {
        "< 0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// A signed change, with a real minus sign.
fn delta(now: i128, before: i128) -> String {
    match now - before {
        0 => "±0".into(),
        d if d > 0 => format!("+{d}"),
        d => format!("−{}", -d),
    }
}

fn category_name(c: Category) -> &'static str {
    match c {
        Category::Health => "Health",
        Category::Politics => "Political opinion",
        Category::Religion => "Religion or belief",
        Category::Ethnicity => "Racial or ethnic origin",
        Category::SexualOrientation => "Sex life or sexual orientation",
        Category::TradeUnion => "Trade-union membership",
        Category::Criminal => "Criminal offences",
    }
}

fn lang_name(l: Lang) -> &'static str {
    match l {
        Lang::Nl => "Dutch",
        Lang::Da => "Danish",
        Lang::En => "English",
    }
}

fn findings_where(t: &Tally, pred: impl Fn(&super::summary::CellKey) -> bool) -> u64 {
    t.findings().filter(|(k, _)| pred(k)).map(|(_, n)| n).sum()
}

impl Report<'_> {
    fn tally(&self) -> &Tally {
        &self.run.tally
    }

    fn subjects(&self) -> Option<&SubjectTally> {
        self.run.tally.subjects()
    }

    /// Whether subject ids are shown (asked for, and kept in the summary).
    fn shows_ids(&self) -> bool {
        self.opts.show_subjects && self.subjects().is_some_and(SubjectTally::holds_ids)
    }

    /// A count of people: "< k" from 1 to k − 1.
    fn people(&self, n: u64) -> String {
        if n > 0 && n < self.opts.min_count {
            format!("< {}", self.opts.min_count)
        } else {
            n.to_string()
        }
    }

    /// A people count of the run (with a subject column).
    fn people_count(&self, get: impl Fn(&People) -> Option<u64>) -> Option<u64> {
        self.people.as_ref().and_then(get)
    }

    fn when(&self) -> String {
        let runs = &self.run.runs;
        let first = runs.first().map(|r| r.started.as_str()).unwrap_or("");
        let mut s = format!("Scanned {}", first.replace('T', " ").replace('Z', " UTC"));
        if runs.len() > 1 {
            s.push_str(&format!(" (first of {} merged runs)", runs.len()));
        }
        if let Some(p) = self.previous.and_then(|p| p.runs.first()) {
            s.push_str(&format!(
                "; compared with the run of {}",
                p.started.replace('T', " ").replace('Z', " UTC")
            ));
        }
        s
    }

    fn headline(&self) -> Markup {
        let s = &self.run.summary;
        let with = s.records_with_findings;
        let scanned = s.records_scanned;
        let criminal = self.tally().records(Some(Category::Criminal), By::All);
        let outcome = |o: &str| s.outcomes.get(o).copied().unwrap_or(0);
        let people = self.people_count(|p| Some(p.all));
        let prev = self.previous.map(|p| &p.summary);
        html! {
            section #headline aria-labelledby="h-headline" {
                h2 #h-headline { "At a glance" }
                div.cards {
                    div.card {
                        p.big { (with) }
                        p { "of " (scanned) " notes scanned (" (pct(with, scanned)) ") hold special-category data" }
                        @if let Some(p) = prev {
                            p.trend { (delta(i128::from(with), i128::from(p.records_with_findings)))
                                " notes since the previous run (then " (p.records_with_findings) " of "
                                (p.records_scanned) ", " (pct(p.records_with_findings, p.records_scanned)) ")" }
                        }
                    }
                    @if let (Some(n), Some(st)) = (people, self.subjects()) {
                        div.card {
                            p.big { (self.people(n)) }
                            p { "people have such notes, of about " (st.scanned.estimate().max(n))
                                " people in the export" }
                            @if let Some(pn) = self.previous.and_then(|p| p.tally.subjects()).map(|ps| ps.with_findings.len() as u64) {
                                p.trend { "previous run: " (self.people(pn)) " people" }
                            }
                        }
                    }
                    @if !s.outcomes.is_empty() {
                        div.card {
                            p.big { (pct(outcome("mask") + outcome("reject"), scanned)) }
                            p { "of notes would be changed by the policy: " (outcome("mask")) " masked, "
                                (outcome("reject")) " rejected" }
                            @if let Some(p) = prev.filter(|p| !p.outcomes.is_empty()) {
                                @let before = p.outcomes.get("mask").copied().unwrap_or(0) + p.outcomes.get("reject").copied().unwrap_or(0);
                                p.trend { "previous run: " (pct(before, p.records_scanned)) }
                            }
                        }
                    }
                    div.card.art10 {
                        p.big { (criminal) }
                        p { (if criminal == 1 { "note holds" } else { "notes hold" }) " data on criminal offences (Art. 10, shown apart below)" }
                    }
                }
                (self.outcome_bar())
            }
        }
    }

    /// One stacked bar: notes without findings, with findings accepted, masked, rejected.
    fn outcome_bar(&self) -> Markup {
        let s = &self.run.summary;
        let scanned = s.records_scanned.max(1) as f64;
        let o = |k: &str| s.outcomes.get(k).copied().unwrap_or(0);
        let parts: Vec<(&str, u64, &str)> = if s.outcomes.is_empty() {
            vec![
                (
                    "no findings",
                    s.records_scanned - s.records_with_findings,
                    "#E8E8E8",
                ),
                ("with findings", s.records_with_findings, NEUTRAL),
            ]
        } else {
            vec![
                (
                    "no findings",
                    s.records_scanned - s.records_with_findings,
                    "#E8E8E8",
                ),
                (
                    "accepted with findings",
                    o("accept").saturating_sub(s.records_scanned - s.records_with_findings),
                    "#56B4E9",
                ),
                ("masked", o("mask"), "#E69F00"),
                ("rejected", o("reject"), "#D55E00"),
            ]
        };
        let mut x = 0.0;
        let rects: Vec<(f64, f64, &str)> = parts
            .iter()
            .map(|(_, n, colour)| {
                let w = *n as f64 / scanned * 560.0;
                x += w;
                (x - w, w, *colour)
            })
            .collect();
        html! {
            svg.stack xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 560 28"
                aria-labelledby="stack-title stack-desc" preserveAspectRatio="none" {
                title #stack-title { "Notes scanned by what the policy does with them" }
                desc #stack-desc {
                    @for (i, (name, n, _)) in parts.iter().enumerate() {
                        @if i > 0 { "; " } (name) ": " (n)
                    }
                }
                @for (x, w, colour) in &rects {
                    rect x=(format!("{x:.2}")) y="0" width=(format!("{w:.2}")) height="28" fill=(colour) {}
                }
            }
            ul.legend {
                @for (name, n, colour) in parts.iter().filter(|(name, n, _)| *n > 0 || *name == "no findings") {
                    li { span.swatch style=(format!("background:{colour}")) {} (name) ": " (n) " (" (pct(*n, s.records_scanned)) ")" }
                }
            }
        }
    }

    fn warnings(&self) -> Markup {
        let s = &self.run.summary;
        let random = self
            .subjects()
            .is_some_and(|st| st.key_source() == KeySource::Random);
        let partial = self.subjects().is_some_and(|st| st.fields_partial);
        let without = self.subjects().map_or(0, |st| st.records_without_subject);
        let any = s.records_skipped > 0 || s.stopped_early || random || partial || without > 0;
        html! {
            @if any {
                section.warnings aria-label="Caveats" {
                    ul {
                        @if s.records_skipped > 0 {
                            li { strong { (s.records_skipped) " records could not be scanned" }
                                " (see " a href="#skipped" { "Skipped records" } "): the numbers below do not include them." }
                        }
                        @if s.stopped_early {
                            li { strong { "The scan was stopped early" } ": the rest of the input was not read." }
                        }
                        @if random {
                            li { "Subjects were pseudonymised under a random key for this run only: the pseudonyms cannot be compared with other runs. Set the policy's hash_key or ART9_HASH_KEY for stable ones." }
                        }
                        @if partial {
                            li { "People are counted per field for the first " (super::summary::SUBJECT_FIELDS) " fields only." }
                        }
                        @if without > 0 {
                            li { (count(without, "note", "notes")) " had no subject id: counted as notes, not as people." }
                        }
                    }
                }
            }
        }
    }

    fn categories(&self) -> Markup {
        let t = self.tally();
        let prev = self.previous.map(|p| &p.tally);
        let rows: Vec<Bar> = Category::ALL
            .iter()
            .map(|&c| {
                let n = t.records(Some(c), By::All);
                Bar {
                    label: category_name(c).into(),
                    value: n as f64,
                    shown: n.to_string(),
                    colour: CATEGORY_COLOURS[c.index()],
                }
            })
            .collect();
        let table = |cats: &[Category]| -> Markup {
            html! {
                table {
                    thead { tr {
                        th scope="col" { "Category" }
                        th.num scope="col" { "Notes" }
                        @if self.subjects().is_some() { th.num scope="col" { "People" } }
                        th.num scope="col" { "Findings" }
                        @if prev.is_some() { th.num scope="col" { "Notes vs previous" } }
                    } }
                    tbody {
                        @for &c in cats {
                            @let n = t.records(Some(c), By::All);
                            tr {
                                th scope="row" { span.swatch style=(format!("background:{}", CATEGORY_COLOURS[c.index()])) {} (category_name(c)) }
                                td.num { (n) }
                                @if let Some(p) = self.people_count(|p| Some(p.category[c.index()])) { td.num { (self.people(p)) } }
                                td.num { (findings_where(t, |k| k.category == c)) }
                                @if let Some(p) = prev { td.num { (delta(i128::from(n), i128::from(p.records(Some(c), By::All)))) } }
                            }
                        }
                    }
                }
            }
        };
        let art9: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| *c != Category::Criminal)
            .collect();
        html! {
            section #categories aria-labelledby="h-categories" {
                h2 #h-categories { "By category" }
                p { "Notes with at least one finding of each category. A note can hold several categories, so the rows add up to more than the total." }
                div.figure {
                    (chart::bars("chart-categories", "Notes with findings per category",
                        &rows.iter().map(|b| format!("{}: {}", b.label, b.shown)).collect::<Vec<_>>().join("; "),
                        &rows, None))
                }
                h3 { "Special categories (GDPR Art. 9)" }
                div.scroll { (table(&art9)) }
                h3 { "Criminal convictions and offences (GDPR Art. 10)" }
                p { "Art. 10 data may only be processed under official authority or where law allows it: it is shown apart." }
                div.scroll { (table(&[Category::Criminal])) }
            }
        }
    }

    /// A category matrix: one row per `rows` value, a cell per category with notes, people
    /// and findings.
    /// A category matrix: a row per category found, a column per `cols` value (fields or
    /// languages: few, so the table stays narrow), each cell with notes, people and
    /// findings.
    fn matrix<K: Copy>(
        &self,
        cols: &[(String, K)],
        notes: impl Fn(Category, K) -> u64,
        people: impl Fn(Category, K) -> Option<u64>,
        findings: impl Fn(Category, K) -> u64,
        head: &str,
    ) -> Markup {
        let cats: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|&c| cols.iter().any(|(_, k)| findings(c, *k) > 0))
            .collect();
        html! {
            @if cats.is_empty() {
                p { "No findings." }
            } @else {
                div.scroll {
                    table.matrix {
                        caption { "Rows: categories; columns: " (head) "." }
                        thead { tr {
                            th scope="col" { "Category" }
                            @for (name, _) in cols { th.num scope="col" { (name) } }
                        } }
                        tbody {
                            @for &c in &cats {
                                tr {
                                    th scope="row" { span.swatch style=(format!("background:{}", CATEGORY_COLOURS[c.index()])) {} (category_name(c)) }
                                    @for (_, k) in cols {
                                        @let n = notes(c, *k);
                                        td.num.cell {
                                            @if n == 0 { span.zero { "0" } } @else {
                                                strong { (count(n, "note", "notes")) }
                                                br;
                                                span.sub {
                                                    @if let Some(p) = people(c, *k) { (self.people(p)) " people · " }
                                                    (count(findings(c, *k), "finding", "findings"))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn by_field(&self) -> Markup {
        let t = self.tally();
        let mut rows: Vec<(String, u32)> = t
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i as u32))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let slot = |fi: u32| -> Option<usize> {
            let name = &t.fields()[fi as usize].name;
            self.subjects()?.fields.iter().position(|f| f == name)
        };
        html! {
            section #fields aria-labelledby="h-fields" {
                h2 #h-fields { "Category × field" }
                p { "Where in the records the data sits: notes (records) with findings of each category per field, the people they are about, and the findings." }
                (self.matrix(&rows,
                    |c, fi| t.records(Some(c), By::Field(fi)),
                    |c, fi| { let s = slot(fi)?; self.people_count(|p| p.field_cat.get(s * 7 + c.index()).copied()) },
                    |c, fi| findings_where(t, |k| k.category == c && k.field == fi),
                    "fields"))
            }
        }
    }

    fn by_lang(&self) -> Markup {
        let t = self.tally();
        let rows: Vec<(String, Lang)> = Lang::ALL
            .iter()
            .filter(|&&l| t.records(None, By::Lang(l)) > 0)
            .map(|&l| (lang_name(l).to_string(), l))
            .collect();
        let bit = |c: Category, l: Lang| -> usize {
            let li = Lang::ALL.iter().position(|x| *x == l).unwrap_or(0);
            c.index() * Lang::ALL.len() + li
        };
        html! {
            section #languages aria-labelledby="h-languages" {
                h2 #h-languages { "Category × language" }
                p { "The language of the lexicon that matched (every lexicon is applied to every note)." }
                (self.matrix(&rows,
                    |c, l| t.records(Some(c), By::Lang(l)),
                    |c, l| self.people_count(|p| p.cat_lang.get(bit(c, l)).copied()),
                    |c, l| findings_where(t, |k| k.category == c && k.lang == l),
                    "lexicon languages"))
            }
        }
    }

    fn by_month(&self) -> Markup {
        let t = self.tally();
        let rs = &self.run.summary;
        let get =
            |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        if !t.is_dated() {
            return html! {};
        }
        let now = self
            .run
            .runs
            .first()
            .and_then(|r| super::summary::Month::from_date(&r.started));
        let review = |m: super::summary::Month| {
            now.is_some_and(|n| m.months_until(n) >= i64::from(self.opts.retention_months))
        };
        let months: Vec<_> = t.months().into_iter().collect();
        let bars: Vec<Bar> = months
            .iter()
            .map(|(m, _)| {
                let w = t.records(None, By::Month(*m));
                Bar {
                    // Whole months while they fit; else the month, and the year each January.
                    label: if months.len() <= 12 || m.month() == 1 {
                        m.to_string()
                    } else {
                        format!("{:02}", m.month())
                    },
                    value: w as f64,
                    shown: w.to_string(),
                    colour: if review(*m) { "#D55E00" } else { NEUTRAL },
                }
            })
            .collect();
        let old: u64 = months
            .iter()
            .filter(|(m, _)| review(*m))
            .map(|(m, _)| t.records(None, By::Month(*m)))
            .sum();
        html! {
            section #months aria-labelledby="h-months" {
                h2 #h-months { "By month" }
                @if !rs.retention.is_empty() {
                    // The policy's retention rules are the source of truth when there are any.
                    p { "Under the policy's retention rules: "
                        (count(get(&rs.retention, "due"), "finding", "findings")) " due, "
                        (get(&rs.retention, "ok")) " within their maximum age, "
                        (get(&rs.retention, "unknown")) " in notes without a readable date (unknown, to check by hand)"
                        @if !rs.erasure_due.is_empty() {
                            "; erasure due for " (rs.erasure_due.values().sum::<u64>()) " ("
                            @for (i, (why, n)) in rs.erasure_due.iter().enumerate() { @if i > 0 { ", " } (n) " " (why.replace('_', " ")) } ")"
                        }
                        ". The months marked below are a guide only." }
                }
                p { (count(old, "note", "notes")) " with findings " (if old == 1 { "is " } else { "are " }) (self.opts.retention_months)
                    " months old or older: due for retention review (orange in the chart)." }
                @if t.records_without_date() > 0 {
                    p { (count(t.records_without_date(), "note", "notes")) " had no readable date: not in this section." }
                }
                div.figure {
                    (chart::columns("chart-months", "Notes with findings per month",
                        &months.iter().map(|(m, _)| format!("{m}: {}", t.records(None, By::Month(*m)))).collect::<Vec<_>>().join("; "),
                        &bars))
                }
                div.scroll {
                    table {
                        thead { tr { th scope="col" { "Month" } th.num scope="col" { "Notes scanned" }
                            th.num scope="col" { "With findings" } th.num scope="col" { "Share" } th scope="col" { "Retention" } } }
                        tbody {
                            @for (m, n) in &months {
                                @let w = t.records(None, By::Month(*m));
                                tr { th scope="row" { (m) } td.num { (n) } td.num { (w) } td.num { (pct(w, *n)) }
                                    td { @if review(*m) { "review" } } }
                            }
                        }
                    }
                }
            }
        }
    }

    fn scores(&self) -> Markup {
        let t = self.tally();
        let source = self
            .run
            .runs
            .first()
            .map(|r| r.source.as_str())
            .unwrap_or("");
        let mut fields: Vec<_> = t.fields().iter().collect();
        fields.sort_by_key(|f| {
            std::cmp::Reverse((
                field_score(f.values, f.values_with_findings),
                f.values_with_findings,
            ))
        });
        let prev_score = |name: &str| -> Option<u64> {
            let p = self.previous?;
            let f = p.tally.fields().iter().find(|f| f.name == name)?;
            Some(field_score(f.values, f.values_with_findings))
        };
        let rating = |s: u64| match s {
            0 => "none",
            1..=9 => "low",
            10..=49 => "moderate",
            _ => "high",
        };
        let bars: Vec<Bar> = fields
            .iter()
            .map(|f| {
                let s = field_score(f.values, f.values_with_findings);
                Bar {
                    label: f.name.clone(),
                    value: s as f64,
                    shown: s.to_string(),
                    colour: if s >= 50 {
                        "#D55E00"
                    } else if s >= 10 {
                        "#E69F00"
                    } else {
                        NEUTRAL
                    },
                }
            })
            .collect();
        html! {
            section #scores aria-labelledby="h-scores" {
                h2 #h-scores { "Score per field" }
                p.formula { code { (SCORE_FORMULA) } " — 0 none, 1–9 low, 10–49 moderate, 50–100 high. A field where 1 value in 20 holds special-category data scores 25." }
                div.figure {
                    (chart::bars("chart-scores", "Score per field (0 to 100)",
                        &bars.iter().map(|b| format!("{}: {}", b.label, b.shown)).collect::<Vec<_>>().join("; "),
                        &bars, Some(100.0)))
                }
                div.scroll {
                    table {
                        thead { tr { th scope="col" { "Source" } th scope="col" { "Field" } th.num scope="col" { "Values scanned" }
                            th.num scope="col" { "With findings" } th.num scope="col" { "Score" } th scope="col" { "Rating" }
                            @if self.previous.is_some() { th.num scope="col" { "Previous score" } } } }
                        tbody {
                            @for f in &fields {
                                @let s = field_score(f.values, f.values_with_findings);
                                tr { td { (source) } th scope="row" { (f.name) } td.num { (f.values) } td.num { (f.values_with_findings) }
                                    td.num { strong { (s) } } td { (rating(s)) }
                                    @if self.previous.is_some() { td.num { (prev_score(&f.name).map_or("–".to_string(), |p| p.to_string())) } } }
                            }
                        }
                    }
                }
            }
        }
    }

    fn decisions(&self) -> Markup {
        let t = self.tally();
        let s = &self.run.summary;
        if s.outcomes.is_empty() {
            return html! {
                section #policy aria-labelledby="h-policy" {
                    h2 #h-policy { "Policy" }
                    p { "No policy was applied in this run (" code { "--policy default" } " shows what masking would do)." }
                }
            };
        }
        let policy = self
            .run
            .runs
            .first()
            .and_then(|r| r.policy.clone())
            .unwrap_or_default();
        let actions = [Action::Allow, Action::Flag, Action::Mask, Action::Reject];
        html! {
            section #policy aria-labelledby="h-policy" {
                h2 #h-policy { "Policy: " (policy) }
                div.scroll {
                    table {
                        thead { tr { th scope="col" { "Action" } @for c in Category::ALL { th.num scope="col" { (category_name(c)) } } th.num scope="col" { "Findings" } } }
                        tbody {
                            @for a in actions {
                                @let n = findings_where(t, |k| k.action == Some(a));
                                @if n > 0 {
                                    tr { th scope="row" { (a.as_str()) }
                                        @for c in Category::ALL { td.num { (findings_where(t, |k| k.action == Some(a) && k.category == c)) } }
                                        td.num { strong { (n) } } }
                                }
                            }
                        }
                    }
                }
                p { "Notes by outcome: "
                    @for (i, (o, n)) in s.outcomes.iter().enumerate() { @if i > 0 { ", " } (o) " " (n) } "." }
            }
        }
    }

    fn next_steps(&self) -> Markup {
        let info = self.run.runs.first();
        let source = info.map(|r| r.source.as_str()).unwrap_or("INPUT");
        let mut fields: Vec<&str> = self
            .tally()
            .fields()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        fields.sort_unstable();
        let field_args: String = fields
            .iter()
            .map(|f| format!(" --field {}", shell_word(f)))
            .collect();
        let policy = info
            .and_then(|r| r.policy.clone())
            .unwrap_or_else(|| "default".into());
        let subject = info.and_then(|r| r.subject_column.clone());
        let src = shell_word(source);
        html! {
            section #next aria-labelledby="h-next" {
                h2 #h-next { "What to do next" }
                ol {
                    li { p { "Mask the notes (a masked copy; the input is not changed):" }
                        pre { code { "art9 mask " (src) (field_args) " --key ID --policy " (shell_word(&policy)) " -o masked-copy" } } }
                    li { p { "Answer an access request (GDPR Art. 15): which notes about one person hold which categories:" }
                        pre { code { "art9 scan " (src) (field_args) " --key ID --subject " (subject.as_deref().map(shell_word).unwrap_or_else(|| "SUBJECT_COLUMN".into()))
                            " --subject-id PERSON --subjects-out person.csv" } } }
                    li { p { "Prepare an erasure request (Art. 17): the same command lists the record keys to delete or mask." } }
                    li { p { "Next month: run the same scan with " code { "--summary-out" } " and compare:" }
                        pre { code { "art9 report this-month.json --previous last-month.json -o report.html" } } }
                }
            }
        }
    }

    fn provenance(&self) -> Markup {
        let st = self.subjects();
        html! {
            section #provenance aria-labelledby="h-provenance" {
                h2 #h-provenance { "How these numbers were produced" }
                @for (i, r) in self.run.runs.iter().enumerate() {
                    @if self.run.runs.len() > 1 { h3 { "Part " (i + 1) } }
                    dl {
                        dt { "Started" } dd { (r.started) " (" (format!("{:.1}", r.seconds)) " s)" }
                        dt { "art9 version" } dd { (r.art9_version) }
                        dt { "Source" } dd { code { (r.source) } }
                        dt { "Lexicons" } dd { (r.lexicon_entries) " entries, fingerprint " code { (r.lexicon_fingerprint) } }
                        dt { "Policy" } dd { @if let Some(p) = &r.policy { (p) ", fingerprint " code { (r.policy_fingerprint.clone().unwrap_or_default()) } } @else { "none" } }
                        @if let Some(c) = &r.subject_column { dt { "Subject column" } dd { code { (c) } } }
                        @if let Some(c) = &r.date_column { dt { "Date column" } dd { code { (c) } } }
                        dt { "Command" } dd { code.cmd { (r.command.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ")) } }
                    }
                }
                @if let Some(st) = st {
                    p { "Subject pseudonym key: " (match st.key_source() { KeySource::Policy => "the policy's hash_key", KeySource::Env => "ART9_HASH_KEY", KeySource::Random => "random, this run only" })
                        ", key id " code { (st.key_id()) } " (a fingerprint, not the key)." }
                }
                p { "Passwords and subject ids on the command line are replaced by ***. Fingerprints are SHA-256 prefixes: two runs with equal fingerprints used the same lexicons and policy." }
            }
        }
    }
}

/// `s` as one shell word (quoted when needed), for the commands shown.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+*%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The reasons records were left out, in words.
fn filtered_reasons(s: &Summary) -> String {
    if s.filtered.is_empty() {
        // A summary of an earlier version: only --subject-id filtered.
        return "other subjects".into();
    }
    s.filtered
        .iter()
        .map(|(k, v)| match k.as_str() {
            "subject_id" => format!("{v} of other subjects"),
            "unchanged" => format!("{v} unchanged since the last run"),
            "since" => format!("{v} dated before --since"),
            _ => format!("{v} {}", k.replace('_', " ")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_formula() {
        assert_eq!(field_score(0, 0), 0);
        assert_eq!(field_score(1000, 0), 0);
        assert_eq!(field_score(1000, 10), 5);
        assert_eq!(field_score(100, 5), 25);
        assert_eq!(field_score(100, 20), 100);
        assert_eq!(field_score(100, 90), 100);
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("notes.jsonl"), "notes.jsonl");
        assert_eq!(shell_word("my notes"), "'my notes'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}

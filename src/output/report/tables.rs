//! The sections that are a table each: records read and skipped, likelihood, evasion lanes.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::{category_name, filtered_reasons, pct, Report};
use crate::category::Category;
use crate::output::summary::{By, Evasion};

impl Report<'_> {
    pub(super) fn skipped(&self) -> Markup {
        let s = &self.run.summary;
        html! {
            section #skipped aria-labelledby="h-skipped" {
                h2 #h-skipped { "Records read and skipped" }
                p { (s.records_read) " records read: " (s.records_scanned) " scanned, " (s.records_skipped) " skipped"
                    @if s.records_filtered > 0 { ", " (s.records_filtered) " left out (" (filtered_reasons(s)) ")" } "." }
                @if !s.silenced.is_empty() {
                    p { (s.silenced.values().sum::<u64>()) " findings were silenced by the review baseline and are not counted as findings here ("
                        (s.silenced.iter().map(|(k, v)| format!("{} {v}", k.replace('_', " "))).collect::<Vec<_>>().join(", ")) ")." }
                }
                @if !s.skipped.is_empty() {
                    div.scroll {
                        table {
                            thead { tr { th scope="col" { "Reason" } th.num scope="col" { "Records" } } }
                            tbody { @for (reason, n) in &s.skipped { tr { th scope="row" { (reason.replace('_', " ")) } td.num { (n) } } } }
                        }
                    }
                    p { "Skipped records were not scanned: fix them (the scan's stderr names each one by line) or check them by hand." }
                }
            }
        }
    }

    pub(super) fn likelihood(&self) -> Markup {
        let t = self.tally();
        let mut by: BTreeMap<crate::output::summary::Likelihood, u64> = BTreeMap::new();
        for (k, n) in t.findings() {
            if let Some(l) = k.likelihood {
                *by.entry(l).or_default() += n;
            }
        }
        html! {
            section #likelihood aria-labelledby="h-likelihood" {
                h2 #h-likelihood { "Likelihood" }
                @if by.is_empty() {
                    p { "The findings of this run carry no likelihood grade: every finding counts the same." }
                } @else {
                    div.scroll { table {
                        thead { tr { th scope="col" { "Likelihood" } th.num scope="col" { "Findings" } } }
                        tbody { @for (l, n) in &by { tr { th scope="row" { (l.as_str().replace('_', " ")) } td.num { (n) } } } }
                    } }
                }
            }
        }
    }

    /// Findings of the evasion lanes (homoglyph, spaced, typo), when there are any.
    pub(super) fn evasion(&self) -> Markup {
        let t = self.tally();
        let mut findings = [0u64; Evasion::ALL.len()];
        let mut cats = [[false; Category::ALL.len()]; Evasion::ALL.len()];
        let mut all = 0;
        for (k, n) in t.findings() {
            all += n;
            if let Some(e) = k.evasion {
                findings[e.index()] += n;
                cats[e.index()][k.category.index()] = true;
            }
        }
        if findings.iter().all(|n| *n == 0) {
            return html! {};
        }
        let what = |e: Evasion| {
            match e {
            Evasion::Homoglyph => "look-alike letters of another script in a word (Cyrillic \u{201c}а\u{201d} for Latin \u{201c}a\u{201d})",
            Evasion::Spaced => "letters spaced or dotted out (\u{201c}d i a b e t e s\u{201d})",
            Evasion::Typo => "a typing error in a term (with --typos or the policy's typos)",
        }
        };
        html! {
            section #evasion aria-labelledby="h-evasion" {
                h2 #h-evasion { "Evasion lanes" }
                p { "Findings of words written so that a plain search would miss them, or mistyped. "
                    "Many of them in one field can mean that people work around the check; the policy can treat them apart (" code { "evasion:" } " rules)." }
                div.scroll { table {
                    thead { tr { th scope="col" { "Lane" } th scope="col" { "What it finds" } th.num scope="col" { "Notes" }
                        th.num scope="col" { "Findings" } th.num scope="col" { "Share of all findings" } th scope="col" { "Categories" } } }
                    tbody {
                        @for e in Evasion::ALL {
                            @let n = findings[e.index()];
                            @if n > 0 {
                                tr { th.nowrap scope="row" { (e.as_str()) } td { (what(e)) }
                                    td.num { (t.records(None, By::Evasion(e))) }
                                    td.num { (n) } td.num { (pct(n, all)) }
                                    td { (Category::ALL.iter().filter(|c| cats[e.index()][c.index()]).map(|c| category_name(*c)).collect::<Vec<_>>().join(", ")) } }
                            }
                        }
                    }
                } }
            }
        }
    }
}

//! The people section: how many notes with findings each person has, and the most
//! affected people by pseudonym (with `--show-subjects`, by subject id too).

use maud::{html, Markup};

use super::chart::{self, Bar, NEUTRAL};
use super::{category_name, Report};
use crate::category::Category;
use crate::output::summary::{KeySource, TOP_SUBJECTS};

impl Report<'_> {
    pub(super) fn people_section(&self) -> Markup {
        let Some(st) = self.subjects() else {
            return html! {
                section #people aria-labelledby="h-people" {
                    h2 #h-people { "People" }
                    p { "This run did not name a subject column (" code { "--subject COLUMN" }
                        "), so notes cannot be counted per person." }
                }
            };
        };
        let buckets = super::NOTES_BUCKETS;
        let k = self.opts.min_count;
        let counts = self.people.as_ref().map(|p| p.notes).unwrap_or_default();
        let bars: Vec<Bar> = buckets
            .iter()
            .zip(&counts)
            .map(|((name, _, _), n)| Bar {
                label: (*name).into(),
                // A suppressed count gets no bar: its length would tell the number.
                value: if *n < k { 0.0 } else { *n as f64 },
                shown: self.people(*n),
                colour: NEUTRAL,
            })
            .collect();
        // Most first; a summary of `scan --show-subjects` kept the ids of these same ones.
        let top: Vec<_> = st
            .top(TOP_SUBJECTS)
            .into_iter()
            .filter(|(_, c)| u64::from(c.records) >= k)
            .collect();
        let ids = self.opts.show_subjects && st.holds_ids();
        html! {
            section #people aria-labelledby="h-people" {
                h2 #h-people { "People" }
                p { "How many notes with findings each person has. People are keyed pseudonyms (HMAC of the subject id under the "
                    (match st.key_source() { KeySource::Policy => "policy's hash key", KeySource::Env => "ART9_HASH_KEY key", KeySource::Random => "random key of this run" })
                    @if ids { "); the subject ids of the most affected are listed below, as asked for (" code { "--show-subjects" } ")." }
                    @else { "): the report cannot be turned back into ids without the key." } }
                div.figure {
                    (chart::bars("chart-people", "People by number of notes with findings",
                        &bars.iter().map(|b| format!("{}: {}", b.label, b.shown)).collect::<Vec<_>>().join("; "),
                        &bars, None))
                }
                div.scroll {
                    table {
                        thead { tr { th scope="col" { "Notes with findings" } th.num scope="col" { "People" } } }
                        tbody {
                            @for (b, n) in bars.iter().zip(&counts) {
                                tr { th scope="row" { (b.label) } td.num { (self.people(*n)) } }
                            }
                        }
                    }
                }
                h3 { "Most affected people" }
                @if top.is_empty() {
                    p { "Nobody has " (k) " or more notes with findings." }
                } @else {
                    @if ids {
                        p { "People with " (k) " or more notes with findings, most first (at most " (TOP_SUBJECTS) "), with their subject ids (" code { "--show-subjects" } ")." }
                    } @else {
                        p { "People with " (k) " or more notes with findings, most first (at most " (TOP_SUBJECTS) "), by pseudonym. "
                            code { "art9 report --show-subjects" } " shows their subject ids, from a summary written by " code { "art9 scan --show-subjects" } "; the report then holds personal data." }
                    }
                    div.scroll {
                        table.top {
                            thead { tr {
                                th scope="col" { "Pseudonym" }
                                @if ids { th scope="col" { "Subject id" } }
                                th.num scope="col" { "Notes" } th.num scope="col" { "Findings" } th scope="col" { "Categories" } } }
                            tbody {
                                @for (p, c) in &top {
                                    tr {
                                        td { code { (format!("{p:016x}")) } }
                                        @if ids {
                                            @match st.id_of(*p) {
                                                Some(id) => td.subject-id { (id) },
                                                None => td.unknown { "not kept (this person was not among the " (TOP_SUBJECTS) " most affected of any part added up)" },
                                            }
                                        }
                                        td.num { (c.records) }
                                        td.num { (c.findings) }
                                        td { (Category::ALL.iter().filter(|x| c.has_category(**x)).map(|x| category_name(*x)).collect::<Vec<_>>().join(", ")) }
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

//! [`Scanner::explain`]: every candidate with its verdict, for `art9 explain` and lexicon
//! tests.

use super::*;

/// A candidate and its verdict, for `art9 explain` and lexicon tests.
#[derive(Clone, Debug)]
pub struct Explained {
    /// The entry.
    pub entry: EntryId,
    /// Index of the term in the entry's `terms`.
    pub term: usize,
    /// Byte range of the term match in the original text.
    pub term_start: usize,
    /// End of the term match.
    pub term_end: usize,
    /// Byte range of the would-be finding (after extending compounds) in the original text.
    pub start: usize,
    /// End of the would-be finding.
    pub end: usize,
    /// What happened to it.
    pub verdict: Verdict,
    /// The evasion lane that found it (`None`: an exact match of the term).
    pub evasion: Option<Evasion>,
}

impl Scanner {
    /// Every candidate and why it was accepted or rejected.
    pub fn explain(&self, text: &str) -> Vec<Explained> {
        let mut scratch = Scratch::default();
        self.run(text, &mut scratch, true);
        let mut out: Vec<Explained> = scratch
            .cands
            .iter()
            .map(|c| {
                let (ts, te) = scratch.norm.original_range(text, c.nstart, c.nend);
                let (s, e) = scratch.norm.original_range(text, c.sstart, c.send);
                Explained {
                    entry: EntryId(c.entry),
                    term: c.term as usize,
                    term_start: ts,
                    term_end: te,
                    start: s,
                    end: e,
                    verdict: c.verdict.clone(),
                    evasion: c.evasion,
                }
            })
            .collect();
        out.sort_by_key(|x| (x.start, x.end));
        out
    }
}

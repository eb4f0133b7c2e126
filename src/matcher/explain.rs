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
    /// For an accepted candidate: its likelihood, the entry's base and what moved it.
    pub graded: Option<crate::grade::Graded>,
    /// The note's language as reported ([`Scanner::note_lang`]: the function-word vote, else
    /// the trigram fallback; `None`: undetermined).
    pub note_lang: Option<Lang>,
    /// The function-word vote alone ([`Scanner::note_lang_vote`]): the language the grade
    /// used (its cues, language disagreement); `None` = graded as `und`.
    pub note_lang_vote: Option<Lang>,
    /// The evasion lane that found it (`None`: an exact match of the term).
    pub evasion: Option<Evasion>,
}

impl Scanner {
    /// Every candidate and why it was accepted or rejected.
    pub fn explain(&self, text: &str) -> Vec<Explained> {
        let mut scratch = Scratch::default();
        self.run(text, &mut scratch, true);
        let mut findings = Vec::new();
        self.push_accepted(&scratch.cands, &mut findings);
        let mut grades = Vec::new();
        if !findings.is_empty() {
            let norm = scratch.norm.search_text(text);
            self.inner.grade(
                text,
                norm,
                &scratch.cands,
                &mut scratch.tokens,
                &mut scratch.grading,
                &mut findings,
                Some(&mut grades),
            );
        }
        let note_lang = findings.first().and_then(|f| f.note_lang);
        let note_lang_vote = if findings.is_empty() {
            None
        } else {
            self.note_lang_vote(text)
        };
        let mut grades = grades.into_iter();
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
                    graded: if c.verdict == Verdict::Accepted {
                        grades.next()
                    } else {
                        None
                    },
                    note_lang,
                    note_lang_vote,
                    evasion: c.evasion,
                }
            })
            .collect();
        out.sort_by_key(|x| (x.start, x.end));
        out
    }
}

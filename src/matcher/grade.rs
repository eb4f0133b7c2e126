//! The grading step after matching (issue 19): the note's language and each finding's
//! likelihood, computed by [`crate::grade::Grader`] from the candidates of the scan. Only
//! notes with findings get here; the matching path is untouched.

use super::*;
use crate::grade::{Graded, Span};

/// The grading step's buffers, kept from note to note: the note's tokens looked up, the
/// findings' spans and all candidates' spans.
#[derive(Default)]
pub(super) struct GradeBufs {
    note: crate::grade::NoteWords,
    spans: crate::grade::SpanIndex,
    all: crate::grade::SpanIndex,
}

impl Inner {
    /// The note's language (when the scanner has cues) and the grade of each accepted
    /// candidate of `cands`, in candidate order, into `out` (one finding per accepted
    /// candidate, in the same order). `norm` is the text the candidates' `s` offsets are in
    /// (the normalised text, or `text` on the zero-copy path), `tokens` its word tokens
    /// (computed here when empty). With `trace`, each grade's reasons too.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn grade(
        &self,
        text: &str,
        norm: &str,
        cands: &[Cand],
        tokens: &mut Vec<(usize, usize)>,
        bufs: &mut GradeBufs,
        out: &mut [Finding],
        mut trace: Option<&mut Vec<Graded>>,
    ) {
        if self.grader.is_empty() {
            return;
        }
        if tokens.is_empty() {
            crate::grade::tokenize(norm, tokens);
        }
        let tokens = &tokens[..];
        let note = &mut bufs.note;
        // The vote grades (cues of its language, language disagreement); a note it leaves
        // undecided is graded as `und` and reported with the fallback's guess, if any.
        let note_lang = self.grader.prepare(text, norm, tokens, note);
        let reported = note_lang.or_else(|| self.grader.fallback(text));
        let accepted = || cands.iter().filter(|c| c.verdict == Verdict::Accepted);
        self.grader.look_up_cues(
            norm,
            tokens,
            note_lang,
            accepted().map(|c| (c.sstart, c.send)),
            note,
        );
        let spans = &mut bufs.spans;
        spans.fill(accepted().map(|c| (c.sstart, c.send)));
        // Every candidate, to find the ones overlapping a finding (`backing` below): only
        // when a finding's entry is not of the note's language.
        let all = &mut bufs.all;
        // The findings' lang, category and base likelihood are their entries' (copied by
        // `push_accepted`): read there, not in the entries, which are out of the cache by
        // the time a deferred note is graded.
        if out.iter().any(|f| note_lang.is_some_and(|l| l != f.lang)) {
            all.fill(cands.iter().map(|c| (c.sstart, c.send)));
        }
        for (k, (c, f)) in accepted().zip(out.iter_mut()).enumerate() {
            let (lang, category, base) = (f.lang, f.category, f.likelihood);
            // An entry of the note's language and the same category that matched these words
            // too (it lost the overlap to an entry of another language: shared vocabulary).
            let backing = note_lang.filter(|&l| l != lang).and_then(|l| {
                // Of those with the finding's own span the first entry, else of the others:
                // the same whichever order the automata produced the candidates in (the
                // word-start walk and the overlapping search list them differently).
                all.overlapping(c.sstart, c.send)
                    .map(|(_, _, i)| &cands[i])
                    .filter(|o| {
                        let oe = &self.entries[o.entry as usize];
                        oe.lang == l
                            && oe.category == category
                            && matches!(o.verdict, Verdict::Accepted | Verdict::Overlapped { .. })
                    })
                    .min_by_key(|o| {
                        (
                            (o.ostart, o.oend) != (c.ostart, c.oend),
                            o.entry,
                            o.sstart,
                            o.send,
                        )
                    })
            });
            let backed_by_note_lang = backing.is_some();
            // Same span: report the note's own entry, so that `lang` is the note's.
            if let Some(o) = backing.filter(|o| (o.ostart, o.oend) == (c.ostart, c.oend)) {
                f.entry = EntryId(o.entry);
                f.lang = self.entries[o.entry as usize].lang;
            }
            let span = Span {
                lang,
                category,
                base,
                start: c.sstart,
                end: c.send,
                backed_by_note_lang,
            };
            let mut moves = trace.as_ref().map(|_| Vec::new());
            f.likelihood = match note.bounds(k) {
                Some(bounds) => self.grader.grade_at(
                    norm,
                    tokens,
                    note,
                    note_lang,
                    &span,
                    bounds,
                    spans,
                    moves.as_mut(),
                ),
                None => {
                    self.grader
                        .grade(norm, tokens, note, note_lang, &span, spans, moves.as_mut())
                }
            };
            f.note_lang = reported;
            if let (Some(t), Some(moves)) = (trace.as_deref_mut(), moves) {
                t.push(Graded {
                    base,
                    moves,
                    likelihood: f.likelihood,
                });
            }
        }
    }
}

impl Scanner {
    /// The language of `text` as reported: the function-word vote of
    /// [`crate::grade::Grader::detect`], else the trigram guess of
    /// [`crate::grade::Grader::fallback`] (`None`: undetermined, or no cue files loaded). A
    /// scan computes it only for notes with findings (`Finding::note_lang`); this computes it
    /// for any text (`art9 eval` measures it on whole corpora).
    pub fn note_lang(&self, text: &str) -> Option<Lang> {
        let norm = normalize(text);
        let mut tokens = Vec::new();
        crate::grade::tokenize(&norm, &mut tokens);
        self.inner.grader.detect_or_guess(text, &norm, &tokens)
    }

    /// The function-word vote alone ([`crate::grade::Grader::detect`]), without the
    /// fallback of [`Scanner::note_lang`]: the language grading uses.
    pub fn note_lang_vote(&self, text: &str) -> Option<Lang> {
        let norm = normalize(text);
        let mut tokens = Vec::new();
        crate::grade::tokenize(&norm, &mut tokens);
        self.inner.grader.detect(text, &norm, &tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The grader's tokeniser (a byte loop for ASCII) splits as the context check's does.
        #[test]
        fn grade_tokens_equal_context_tokens(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["klant", "KRÆFT", " ", "-", "é", "e\u{301}", "😀", "3F", "_", "ß", "’", ".", "\u{200B}", "Ab"]),
                0..20,
            )
        ) {
            let text: String = parts.concat();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            crate::grade::tokenize(&text, &mut a);
            tokenize(&text, &mut b);
            proptest::prop_assert_eq!(a, b);
        }

        /// The same on long text, ASCII or not, across the tokeniser's 64-byte chunks.
        #[test]
        fn long_grade_tokens_equal_context_tokens(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["klant", "KRAEFT", " ", "  ", "-", "3F", "_", "'", ".", "Ab", "z", "Z0", "@[`{", "abcdefghijklmnopqrstuvwxyz0123456789", "\t\n", "~\u{7f}", "€", "£5", "😀", "Æble", "ñ", "\u{301}", "日本"]),
                0..80,
            )
        ) {
            let text: String = parts.concat();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            crate::grade::tokenize(&text, &mut a);
            tokenize(&text, &mut b);
            proptest::prop_assert_eq!(a, b);
        }
    }
}

//! Grading deferred to the end of a batch: a batch scan matches all its notes first, then
//! grades the ones with findings one after another, so that the matcher's code and tables
//! and the grader's each stay in the CPU's caches through their loop.

use std::ops::Range;

use super::*;

/// Notes scanned by [`Scanner::scan_deferred`] whose findings wait for their grades, which
/// [`Scanner::grade_deferred`] gives them all at once; then [`Deferred::take`] hands them
/// out, the same findings [`Scanner::scan`] gives.
///
/// What grading needs of a note with findings (its text, normalised text, candidates and
/// tokens) is copied out of the scan's scratch buffers into buffers kept here, one after
/// another; a note without findings costs nothing.
#[derive(Default)]
pub(crate) struct Deferred {
    /// The findings of each note scanned, by its number ([`Scanner::scan_deferred`]'s).
    found: Vec<Vec<Finding>>,
    /// The notes with findings.
    notes: Vec<Pending>,
    /// Their texts, one after another.
    texts: String,
    /// Their normalised texts, where they are not the text itself.
    norms: String,
    /// Their candidates.
    cands: Vec<Cand>,
    /// Their word tokens, where the scan computed them (else grading does).
    tokens: Vec<(usize, usize)>,
}

/// A note with findings: its number and where its parts are in [`Deferred`]'s buffers.
struct Pending {
    note: usize,
    text: Range<usize>,
    /// `None`: the text is its own normalised text (the zero-copy path).
    norm: Option<Range<usize>>,
    cands: Range<usize>,
    tokens: Range<usize>,
}

/// Append `items` to `buf` and return where they are.
fn append<T: Clone>(buf: &mut Vec<T>, items: &[T]) -> Range<usize> {
    let start = buf.len();
    buf.extend_from_slice(items);
    start..buf.len()
}

/// Append the candidates `Inner::grade` reads (the accepted ones, and the overlapped ones
/// that may back a finding; not the rejected, some of which hold a string) to `buf` and
/// return where they are.
fn kept_cands(buf: &mut Vec<Cand>, cands: &[Cand]) -> Range<usize> {
    let start = buf.len();
    buf.extend(
        cands
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Accepted | Verdict::Overlapped { .. }))
            .cloned(),
    );
    start..buf.len()
}

/// Append `s` to `buf` and return where it is.
fn append_str(buf: &mut String, s: &str) -> Range<usize> {
    let start = buf.len();
    buf.push_str(s);
    start..buf.len()
}

impl Deferred {
    /// Empty, its buffers kept for the next batch.
    pub(crate) fn clear(&mut self) {
        self.found.clear();
        self.notes.clear();
        self.texts.clear();
        self.norms.clear();
        self.cands.clear();
        self.tokens.clear();
    }

    /// Whether note `note` (a number [`Scanner::scan_deferred`] gave) has findings, which
    /// wait for [`Scanner::grade_deferred`].
    pub(crate) fn waits(&self, note: usize) -> bool {
        self.found.get(note).is_some_and(|f| !f.is_empty())
    }

    /// The findings of note `note` (a number [`Scanner::scan_deferred`] gave), once: empty
    /// for a number it did not give, or the second time.
    pub(crate) fn take(&mut self, note: usize) -> Vec<Finding> {
        debug_assert!(self.notes.is_empty(), "take before grade_deferred");
        self.found
            .get_mut(note)
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

impl Scanner {
    /// Scan `text` as [`Scanner::scan`] does, but leave its findings ungraded in `deferred`
    /// until [`Scanner::grade_deferred`]; returns the note's number for [`Deferred::take`].
    pub(crate) fn scan_deferred(&self, text: &str, deferred: &mut Deferred) -> usize {
        let note = deferred.found.len();
        let mut out = Vec::new();
        if !text.is_empty() {
            SCRATCH.with(|s| {
                let mut guard = s.borrow_mut();
                let scratch = &mut *guard;
                self.run(text, scratch, false);
                self.push_accepted(&scratch.cands, &mut out);
                if out.is_empty() {
                    return;
                }
                let d = &mut *deferred;
                let text_range = append_str(&mut d.texts, text);
                let norm = (!scratch.norm.is_zero_copy())
                    .then(|| append_str(&mut d.norms, scratch.norm.search_text(text)));
                d.notes.push(Pending {
                    note,
                    text: text_range,
                    norm,
                    cands: kept_cands(&mut d.cands, &scratch.cands),
                    tokens: append(&mut d.tokens, &scratch.tokens),
                });
            });
        }
        deferred.found.push(out);
        note
    }

    /// Grade the findings of every note in `deferred` that waits for it, sort them by start
    /// and fill their char offsets: after this, [`Deferred::take`] gives each note what
    /// [`Scanner::scan`] would have.
    pub(crate) fn grade_deferred(&self, deferred: &mut Deferred) {
        let d = deferred;
        if d.notes.is_empty() {
            return;
        }
        SCRATCH.with(|s| {
            let mut guard = s.borrow_mut();
            let scratch = &mut *guard;
            for p in &d.notes {
                let Some(out) = d.found.get_mut(p.note) else {
                    continue;
                };
                let text = &d.texts[p.text.clone()];
                let norm = p.norm.clone().map_or(text, |r| &d.norms[r]);
                scratch.tokens.clear();
                scratch
                    .tokens
                    .extend_from_slice(&d.tokens[p.tokens.clone()]);
                let cands = &d.cands[p.cands.clone()];
                let tokens = &mut scratch.tokens;
                self.inner
                    .grade(text, norm, cands, tokens, &mut scratch.grading, out, None);
                out.sort_by_key(|f| f.start);
                fill_char_offsets(text, out);
            }
        });
        d.notes.clear();
        d.texts.clear();
        d.norms.clear();
        d.cands.clear();
        d.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static Scanner {
        static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
        SCANNER.get_or_init(|| Scanner::builtin().unwrap())
    }

    /// Words of the three languages: terms, cue words (person, organisation, non-human),
    /// function words, and text that takes the scan off the zero-copy path (accents,
    /// ligatures, look-alike letters, wide spaces) or into the fallback (no function word).
    const WORDS: &[&str] = &[
        "klant",
        "heeft",
        "diabetes",
        "kanker",
        "de",
        "het",
        "en",
        "is",
        "patiënt",
        "kerk",
        "stichting",
        "vereniging",
        "B.V.",
        "kunden",
        "har",
        "kræft",
        "og",
        "er",
        "jeg",
        "sygemeldt",
        "menighed",
        "A/S",
        "customer",
        "she",
        "the",
        "is",
        "a",
        "devout",
        "Muslim",
        "church",
        "Ltd",
        "dog",
        "cancer",
        "depression",
        "Mevr.",
        "Mr",
        "fru",
        "Labour",
        "Party",
        "vakbond",
        "FNV",
        "3F",
        "moskee",
        "IDA",
        "SØRENSEN",
        "Ｄiabetes",
        "dіabetes",
        "d i a b e t e s",
        "\u{a0}",
        "é",
        "2024",
        ".",
        ",",
        "\n",
        "—",
        "😀",
    ];

    proptest::proptest! {
        /// A batch of notes scanned with grading deferred gives each note what `scan` gives.
        #[test]
        fn deferred_equals_scan(
            notes in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(WORDS), 0..30),
                0..12,
            ),
            seps in proptest::collection::vec(
                proptest::sample::select(vec![" ", "  ", "", "\t"]),
                30,
            ),
        ) {
            let s = builtin();
            let texts: Vec<String> = notes
                .iter()
                .map(|words| {
                    words
                        .iter()
                        .zip(seps.iter().cycle())
                        .map(|(w, sep)| format!("{w}{sep}"))
                        .collect()
                })
                .collect();
            let mut d = Deferred::default();
            let numbers: Vec<usize> = texts.iter().map(|t| s.scan_deferred(t, &mut d)).collect();
            s.grade_deferred(&mut d);
            for (t, n) in texts.iter().zip(numbers) {
                proptest::prop_assert_eq!(d.take(n), s.scan(t), "{:?}", t);
            }
        }
    }

    #[test]
    fn take_gives_each_note_once() {
        let s = builtin();
        let mut d = Deferred::default();
        let a = s.scan_deferred("klant heeft diabetes", &mut d);
        let b = s.scan_deferred("", &mut d);
        let c = s.scan_deferred("she is a devout Muslim", &mut d);
        s.grade_deferred(&mut d);
        assert_eq!(d.take(a), s.scan("klant heeft diabetes"));
        assert!(d.take(a).is_empty());
        assert!(d.take(b).is_empty());
        assert_eq!(d.take(c).len(), 1);
        assert!(d.take(99).is_empty());
    }
}

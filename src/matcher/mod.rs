//! The matcher: Aho-Corasick over every normalised term (word-start patterns walked from word
//! starts, the rest searched overlapping; see DESIGN.md), then mode, boundary, case,
//! exclusion and context checks, then overlap resolution. Exclusion phrases are not in the
//! automata: they are compared at the few places where a candidate was found.
//!
//! # Why overlapping search
//! aho-corasick knows nothing of word boundaries. A leftmost-longest search could report
//! "kankerstraat" (an exclusion) and hide nothing, but it could equally report a long term
//! that then fails its boundary check and so hide a shorter term that would have passed. We
//! therefore search *overlapping* (every pattern occurrence), filter each candidate, and only
//! then choose among the survivors.
//!
//! # Overlap rule
//! Among accepted candidates whose spans (in the original text) overlap, the longest span
//! wins; equal lengths go to the category that comes first in [`Category::ALL`] (health,
//! politics, religion, ethnicity, sexual_orientation, trade_union, criminal); then the earlier
//! start; then the entry loaded first. The result is sorted by start.
//!
//! # Mask tokens
//! Text that art9 itself wrote when masking (`[HEALTH]`, `[RELIGION:4f1a9c]`) is never
//! reported, so that scanning a masked file finds nothing the policy masked.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous;
use aho_corasick::{AhoCorasick, Anchored as AcAnchored, MatchKind};
use serde::{Deserialize, Serialize};

use crate::category::{Category, Lang};
use crate::grade::Grader;
use crate::lexicon::{CaseMode, Entry, LexiconError, LexiconSet, Likelihood, MatchMode};
use crate::normalize::{fold_keep_case, is_word_char, normalize, NormalizedText};

mod automaton;
mod build;
mod check;
mod deferred;
mod evasion;
mod explain;
mod grade;
mod overlap;
mod typo;

use self::automaton::*;
pub use self::build::ScannerBuilder;
use self::check::*;
pub(crate) use self::deferred::Deferred;
use self::evasion::spaced_letters;
pub use self::evasion::Evasion;
pub use self::explain::Explained;
use self::overlap::*;
use self::typo::TypoIndex;

/// Index of an entry in a [`Scanner`]; see [`Scanner::entry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId(u32);

impl EntryId {
    /// The position of the entry in [`Scanner::entries`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One piece of special-category data found in a text.
///
/// Offsets refer to the ORIGINAL text: `start..end` are UTF-8 byte offsets on char
/// boundaries, `char_start..char_end` the same span counted in Unicode scalar values.
/// A finding never carries the matched text; slice the original when you need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The category.
    pub category: Category,
    /// The language of the lexicon that matched.
    pub lang: Lang,
    /// The entry that matched (its id names the concept, so treat it as sensitive too).
    pub entry: EntryId,
    /// Byte start in the original text.
    pub start: usize,
    /// Byte end (exclusive) in the original text.
    pub end: usize,
    /// Char start in the original text.
    pub char_start: usize,
    /// Char end (exclusive) in the original text.
    pub char_end: usize,
    /// How likely it is to be special-category data about a person: the entry's base moved
    /// by context cues and language disagreement ([`crate::grade`]).
    pub likelihood: Likelihood,
    /// The note's language by a function-word vote, else (a note the vote leaves undecided)
    /// a trigram guess when it is sure ([`crate::grade::Grader::fallback`]; it does not
    /// grade); `None` = undetermined (`und`).
    pub note_lang: Option<Lang>,
    /// The evasion lane that found it (homoglyph, spaced-out letters, typo); `None` for an
    /// exact match of a term.
    pub evasion: Option<Evasion>,
}

/// Why a candidate match was accepted or rejected; see [`Scanner::explain`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Reported as a finding.
    Accepted,
    /// The char before the term is a letter or digit (mode needs a word start).
    NoWordStart,
    /// The char after the term is a letter or digit and no allowed ending follows.
    NoWordEnd,
    /// The entry is case-sensitive and the text's case differs.
    CaseMismatch,
    /// An exclusion phrase covers the match.
    Excluded {
        /// The (normalised) exclusion phrase.
        phrase: String,
    },
    /// None of the required context words is near.
    ContextMissing,
    /// A forbidden context word is near.
    ContextForbidden {
        /// The (normalised) context word.
        word: String,
    },
    /// The match lies inside a mask token art9 wrote (`[HEALTH]`).
    MaskToken,
    /// A longer (or higher-priority) finding overlaps it.
    Overlapped {
        /// The entry that won.
        by: String,
    },
}

/// A scanner could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A lexicon failed to load.
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    /// The automaton could not be built (too many or too long patterns).
    #[error("cannot build the term automaton: {0}")]
    Automaton(String),
    /// No lexicon is left after filtering.
    #[error("no lexicons loaded (check --lang / --category / --lexicon)")]
    Empty,
}

/// A term behind a pattern.
#[derive(Clone, Copy, Debug)]
struct Target {
    entry: u32,
    term: u32,
}

#[derive(Debug)]
struct Inner {
    /// Patterns that can only be found at a word start (see the module docs), walked
    /// anchored from each word start; `None` if there are none.
    anchored: Option<Anchored>,
    /// Every other pattern, searched overlapping over the whole text; `None` if none.
    ac: Option<Unanchored>,
    /// Per global pattern id: what it stands for.
    targets: Vec<Vec<Target>>,
    entries: Vec<Entry>,
    /// Per entry, per term: the case-keeping fold (only filled for case-sensitive entries).
    keep_case: Vec<Vec<String>>,
    pattern_count: usize,
    /// Grades findings after matching (cues and function words of the lexicon set).
    grader: Grader,
    /// The automaton is ASCII case-insensitive, so plain ASCII notes are searched as they are
    /// ([`NormalizedText::normalize_for_search`]); otherwise every note is normalised.
    zero_copy: bool,
    /// The typo lane's index, when it is on ([`ScannerBuilder::typos`]).
    typos: Option<Box<TypoIndex>>,
}

/// An immutable, `Send + Sync` scanner. Clone it freely (an `Arc` inside).
///
/// # Example
/// ```
/// let scanner = art9::Scanner::builtin().unwrap();
/// let note = "Klant heeft diabetes, belt volgende week terug.";
/// let findings = scanner.scan(note);
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].category, art9::Category::Health);
/// assert_eq!(&note[findings[0].start..findings[0].end], "diabetes");
/// ```
#[derive(Clone, Debug)]
pub struct Scanner {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Scratch {
    norm: NormalizedText,
    cands: Vec<Cand>,
    tokens: Vec<(usize, usize)>,
    /// The grading step's buffers ([`Inner::grade`]).
    grading: grade::GradeBufs,
    /// The typo lane's cache of words with no target in reach.
    typo_cache: typo::TypoCache,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[derive(Clone, Debug)]
struct Cand {
    entry: u32,
    term: u32,
    /// Term match in normalised text.
    nstart: usize,
    nend: usize,
    /// Span (after extension) in normalised text.
    sstart: usize,
    send: usize,
    /// Span in original text (filled once accepted by the local checks).
    ostart: usize,
    oend: usize,
    verdict: Verdict,
    /// The evasion lane that found it, if not the exact one.
    evasion: Option<Evasion>,
}

impl Scanner {
    /// A scanner over the built-in lexicons.
    ///
    /// # Errors
    /// Only if a built-in lexicon is broken (ruled out by the test suite).
    pub fn builtin() -> Result<Scanner, BuildError> {
        ScannerBuilder::builtin()?.into_scanner()
    }

    /// All entries, indexed by [`EntryId::index`].
    pub fn entries(&self) -> &[Entry] {
        &self.inner.entries
    }

    /// The entry behind a finding.
    pub fn entry(&self, id: EntryId) -> &Entry {
        &self.inner.entries[id.index()]
    }

    /// The grader of this scanner's findings (its cues and language detection).
    pub fn grader(&self) -> &Grader {
        &self.inner.grader
    }

    /// Number of distinct normalised terms in the automata (exclusion phrases are not in
    /// them; they are compared where a candidate was found).
    pub fn pattern_count(&self) -> usize {
        self.inner.pattern_count
    }

    /// Find the special-category data in `text`, sorted by start, non-overlapping.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        out
    }

    /// Like [`Scanner::scan`], appending to `out` (which is cleared first).
    pub fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        out.clear();
        if text.is_empty() {
            return;
        }
        SCRATCH.with(|s| {
            let mut guard = s.borrow_mut();
            let scratch = &mut *guard;
            self.run(text, scratch, false);
            self.push_accepted(&scratch.cands, out);
            if !out.is_empty() {
                let norm = scratch.norm.search_text(text);
                let tokens = &mut scratch.tokens;
                let bufs = &mut scratch.grading;
                self.inner
                    .grade(text, norm, &scratch.cands, tokens, bufs, out, None);
            }
        });
        out.sort_by_key(|f| f.start);
        fill_char_offsets(text, out);
    }

    /// A finding (ungraded: its entry's base likelihood) for each accepted candidate, in
    /// candidate order, appended to `out`.
    fn push_accepted(&self, cands: &[Cand], out: &mut Vec<Finding>) {
        for c in cands.iter().filter(|c| c.verdict == Verdict::Accepted) {
            let e = &self.inner.entries[c.entry as usize];
            out.push(Finding {
                category: e.category,
                lang: e.lang,
                entry: EntryId(c.entry),
                start: c.ostart,
                end: c.oend,
                char_start: 0,
                char_end: 0,
                likelihood: e.likelihood,
                note_lang: None,
                evasion: c.evasion,
            });
        }
    }

    fn run(&self, text: &str, scratch: &mut Scratch, explain: bool) {
        let inner = &*self.inner;
        // On the zero-copy path `norm` is the original ASCII text: everything below compares
        // ASCII case-insensitively (or only asks whether a char is a letter or digit).
        if inner.zero_copy {
            scratch.norm.normalize_for_search(text);
        } else {
            scratch.norm.normalize(text);
        }
        scratch.cands.clear();
        scratch.tokens.clear();
        let norm = scratch.norm.search_text(text);
        let cands = &mut scratch.cands;
        match &inner.ac {
            None => {}
            Some(Unanchored::Everywhere(a)) => {
                a.walk_everywhere(norm.as_bytes(), |start, id, end| {
                    inner.candidate(norm, id, start, end, explain, cands);
                });
            }
            Some(Unanchored::Overlapping { ac, ids }) => {
                for m in ac.find_overlapping_iter(norm) {
                    let id = ids[m.pattern().as_usize()];
                    inner.candidate(norm, id, m.start(), m.end(), explain, cands);
                }
            }
        }
        if let Some(a) = &inner.anchored {
            let bytes = norm.as_bytes();
            let mut walk = |at: usize| {
                a.walk(bytes, at, |id, end| {
                    inner.candidate(norm, id, at, end, explain, cands);
                });
            };
            if explain {
                // Every char start, so that `explain` also shows the matches that fail for
                // want of a word start.
                norm.char_indices().for_each(|(i, _)| walk(i));
            } else {
                for_each_word_start(norm, walk);
            }
        }
        inner.spaced_candidates(norm, &scratch.norm, text, cands);
        if let Some(typos) = &inner.typos {
            typos.candidates(norm, &scratch.norm, text, cands, &mut scratch.typo_cache);
        }
        if scratch.cands.is_empty() {
            return;
        }
        let Scratch {
            norm: normtext,
            cands,
            tokens,
            ..
        } = scratch;
        let norm = normtext.search_text(text);
        for c in cands.iter_mut() {
            let (os, oe) = normtext.original_range(text, c.sstart, c.send);
            c.ostart = os;
            c.oend = oe;
            if c.evasion.is_none() && normtext.has_homoglyph(os, oe) {
                c.evasion = Some(Evasion::Homoglyph);
            }
            if c.verdict != Verdict::Accepted {
                continue;
            }
            let e = &inner.entries[c.entry as usize];
            if e.case == CaseMode::Sensitive {
                let (ts, te) = normtext.original_range(text, c.nstart, c.nend);
                let want = &inner.keep_case[c.entry as usize][c.term as usize];
                let agrees = match c.evasion {
                    // The typo lane compared the word's case shape ([`typo`]).
                    Some(Evasion::Typo) => true,
                    Some(Evasion::Spaced) => {
                        spaced_letters(&fold_keep_case(&text[ts..te])) == spaced_letters(want)
                    }
                    _ => fold_keep_case(&text[ts..te]) == *want,
                };
                if !agrees {
                    c.verdict = Verdict::CaseMismatch;
                    continue;
                }
            }
            if let Some(phrase) = covering_exclusion(norm, &e.exclude, c.nstart, c.nend) {
                c.verdict = Verdict::Excluded {
                    phrase: phrase.clone(),
                };
                continue;
            }
            if let Some(ctx) = &e.context {
                if tokens.is_empty() {
                    crate::grade::tokenize(norm, tokens);
                }
                let first = tokens.partition_point(|&(_, te)| te <= c.sstart);
                let last = tokens.partition_point(|&(ts, _)| ts < c.send);
                let lo = first.saturating_sub(ctx.window);
                let hi = (last + ctx.window).min(tokens.len());
                let tokens = &*tokens;
                let (required_seen, forbidden) = ctx.check([lo..first, last..hi], |i| {
                    let (ts, te) = tokens[i];
                    &norm[ts..te]
                });
                if let Some(w) = forbidden {
                    c.verdict = Verdict::ContextForbidden {
                        word: w.word.clone(),
                    };
                    continue;
                }
                if !required_seen {
                    c.verdict = Verdict::ContextMissing;
                    continue;
                }
            }
            if is_in_mask_token(text, c.ostart, c.oend) {
                c.verdict = Verdict::MaskToken;
            }
        }
        resolve_overlaps(cands, &inner.entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::Lexicon;

    fn scanner(yaml_entries: &str) -> Scanner {
        let yaml = format!("lang: nl\ncategory: health\ndescription: t\nentries:\n{yaml_entries}");
        let mut set = LexiconSet::new();
        set.insert(Lexicon::from_yaml("t.yaml", &yaml).unwrap())
            .unwrap();
        ScannerBuilder::new().lexicons(set).build().unwrap()
    }

    fn spans<'a>(s: &Scanner, text: &'a str) -> Vec<&'a str> {
        s.scan(text).iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn word_mode_needs_boundaries() {
        let s = scanner("  - id: nl.health.hart\n    terms: [hart]\n");
        assert_eq!(spans(&s, "hart en longen"), ["hart"]);
        assert!(spans(&s, "hartelijk dank").is_empty());
        assert!(spans(&s, "ons hart").len() == 1);
    }

    #[test]
    fn prefix_suffix_compound() {
        let s = scanner(
            "  - id: nl.health.kanker\n    terms: [kanker]\n    match: prefix\n  - id: nl.health.patient\n    terms: [patiënt]\n    match: suffix\n  - id: nl.health.kraeft\n    terms: [kræft]\n    match: compound\n",
        );
        assert_eq!(spans(&s, "een kankerpatiënt"), ["kankerpatiënt"]);
        assert_eq!(spans(&s, "suikerpatiënt."), ["suikerpatiënt"]);
        assert_eq!(spans(&s, "TARMKRAEFTRAMT"), ["TARMKRAEFTRAMT"]);
        assert!(spans(&s, "blikkanker").is_empty());
    }

    #[test]
    fn shorter_match_not_hidden_by_longer_failing_one() {
        let s = scanner(
            "  - id: nl.health.a\n    terms: [in het ziekenhuis]\n  - id: nl.health.b\n    terms: [ziekenhuis opname]\n",
        );
        assert_eq!(
            spans(&s, "ligt in het ziekenhuis opnamedatum"),
            ["in het ziekenhuis"]
        );
    }

    #[test]
    fn endings() {
        let s = scanner("  - id: nl.health.a\n    terms: [patiënt]\n    endings: [en, e]\n");
        assert_eq!(spans(&s, "twee patienten"), ["patienten"]);
        assert_eq!(spans(&s, "de patiënt"), ["patiënt"]);
        assert!(spans(&s, "patiënter").is_empty());
    }

    #[test]
    fn case_sensitive() {
        let s = scanner("  - id: nl.health.cva\n    terms: [CVA]\n    case: sensitive\n");
        assert_eq!(spans(&s, "na zijn CVA"), ["CVA"]);
        assert!(spans(&s, "cva").is_empty());
    }

    #[test]
    fn exclusions_and_context() {
        let s = scanner(
            "  - id: nl.health.kerk\n    terms: [kerk]\n    match: prefix\n    exclude: [kerkstraat]\n  - id: nl.health.volt\n    terms: [volt]\n    context:\n      require: [partij, stem*]\n      forbid: [meter]\n",
        );
        assert!(spans(&s, "Hoofdkerkstraat 1, Kerkstraat 2").is_empty());
        assert_eq!(spans(&s, "naar de kerk"), ["kerk"]);
        assert!(spans(&s, "230 volt").is_empty());
        assert_eq!(spans(&s, "hij stemt Volt"), ["Volt"]);
        assert!(spans(&s, "stemt volt meter").is_empty());
    }

    #[test]
    fn offsets_exact_with_unicode() {
        let s = scanner("  - id: nl.health.kraeft\n    terms: [kræft]\n    match: compound\n");
        let text = "😀 e\u{301} KRÆ\u{200B}FTSYG, ok";
        let f = s.scan(text);
        assert_eq!(f.len(), 1);
        assert_eq!(&text[f[0].start..f[0].end], "KRÆ\u{200B}FTSYG");
        let chars: Vec<char> = text.chars().collect();
        let cs: String = chars[f[0].char_start..f[0].char_end].iter().collect();
        assert_eq!(cs, "KRÆ\u{200B}FTSYG");
    }

    #[test]
    fn mask_tokens_are_not_findings() {
        let s = scanner("  - id: nl.health.health\n    terms: [health]\n");
        assert!(spans(&s, "klant heeft [HEALTH] en [HEALTH:0a1b2c]").is_empty());
        assert_eq!(spans(&s, "health"), ["health"]);
    }

    #[test]
    fn overlap_longest_wins() {
        let s = scanner(
            "  - id: nl.health.a\n    terms: [long]\n  - id: nl.health.b\n    terms: [long cancer]\n",
        );
        assert_eq!(spans(&s, "long cancer"), ["long cancer"]);
    }

    /// The zero-copy ASCII path (ASCII-case-insensitive automaton, checks on the original
    /// text) finds exactly what the normalising path finds, with both automaton kinds.
    #[test]
    fn zero_copy_path_agrees() {
        let mut set = LexiconSet::new();
        set.insert(Lexicon::from_yaml("t.yaml", &format!(
            "lang: nl\ncategory: health\ndescription: t\nentries:\n{}",
            "  - id: nl.health.a\n    terms: [in het ziekenhuis, patiënt]\n    endings: [en, e]\n  - id: nl.health.k\n    terms: [kerk]\n    match: prefix\n    exclude: [kerkstraat]\n  - id: nl.health.v\n    terms: [volt]\n    context:\n      require: [partij, stem*]\n      forbid: [meter]\n  - id: nl.health.c\n    terms: [CVA]\n    case: sensitive\n  - id: nl.health.h\n    terms: [health]\n"
        )).unwrap())
        .unwrap();
        let texts = [
            "Ligt IN HET Ziekenhuis, twee PATIENTEN en een Patiente",
            "Hoofdkerkstraat 1, KERKSTRAAT 2, naar de Kerkdienst",
            "hij STEMT Volt. een twee drie vier vijf zes zeven. 230 volt, Stemt VOLT Meter",
            "na zijn CVA of Cva",
            "klant heeft [HEALTH] en Health",
            "in  het\tziekenhuis, patiënten",
        ];
        for all_overlapping in [false, true] {
            let plain = ScannerBuilder::new()
                .lexicons(set.clone())
                .all_overlapping(all_overlapping)
                .build()
                .unwrap();
            let zc = ScannerBuilder::new()
                .lexicons(set.clone())
                .all_overlapping(all_overlapping)
                .zero_copy_ascii(true)
                .build()
                .unwrap();
            for t in texts {
                assert_eq!(plain.scan(t), zc.scan(t), "{t:?}");
                assert!(!plain.scan(t).is_empty(), "{t:?}");
            }
        }
    }

    #[test]
    fn into_scanner_equals_build() {
        let builder = ScannerBuilder::builtin().unwrap();
        let built = builder.build().unwrap();
        let moved = builder.clone().into_scanner().unwrap();
        assert_eq!(built.entries().len(), moved.entries().len());
        // Compared whole (every field), without printing ~8,000 terms when they differ.
        let same = format!("{:?}", built.entries()) == format!("{:?}", moved.entries());
        assert!(same, "the entries differ");
        assert_eq!(built.pattern_count(), moved.pattern_count());
        for text in [
            "Klant heeft diabetes en is kankerpatiënt.",
            "Hun er kræftramt og medlem af 3F; var til landsmøde i partiet.",
            "She is a devout Muslim, member of Unite, on sick leave.",
        ] {
            assert_eq!(
                format!("{:?}", built.explain(text)),
                format!("{:?}", moved.explain(text))
            );
        }
        assert!(matches!(
            ScannerBuilder::new().into_scanner(),
            Err(BuildError::Empty)
        ));
    }

    #[test]
    fn scanner_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Scanner>();
    }
}

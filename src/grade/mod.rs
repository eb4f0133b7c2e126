//! Likelihood per finding (issue 19): the note's language by a function-word vote (and, to
//! report only, a trigram guess for notes the vote leaves undecided: [`Grader::fallback`]),
//! and each finding's grade: its entry's base, moved by the context cues of `lexicons/cues/` found
//! within a window of words, and lowered when the entry's language is not the note's.
//!
//! Runs after matching, only for notes with findings, on the normalised text and its word
//! tokens that the matcher already has; the matching path itself is untouched. A [`Grader`]
//! is compiled once from the cue files and is immutable (`Send + Sync`).
//!
//! # Rule
//! `result = base + strongest person cue + strongest organisation or non-human cue +
//! language disagreement`, kept within `very_unlikely ..= very_likely`. Only the strongest cue
//! of each direction counts, so ten person words do not outweigh a legal form. The cues of the
//! note's language apply (of every language when it is `und`). Language disagreement
//! ([`LANG_DISAGREEMENT`]) applies when the note's language is known and has lexicons in the
//! scanner, the entry's is another, no entry of the note's language and the same category
//! matched the same words (shared words such as *diabetes* are in several lexicons), and no
//! function word of the entry's language is within [`LOCAL_WINDOW`] words (a quoted passage in
//! that language: "jeg er sygemeldt" in an English note). "The note's language" here is the
//! vote's: a note it leaves undecided is graded as `und` whatever [`Grader::fallback`] guesses
//! (measured: letting the guess choose the cues or lower by disagreement moved no finding of
//! the dev corpora and one of the real-text sentences, for the worse; LEXICONS.md).

use std::collections::HashMap;

mod fallback;
mod tokens;
mod words;

pub(crate) use self::tokens::tokenize;
#[cfg(test)]
use self::words::{eq_at, hash_at, word_hash};
use self::words::{Cues, Looked, WordTable};

use serde::Serialize;

use crate::category::{Category, Lang};
use crate::lexicon::{Cue, CueKind, CueLexicon, CueWord, Likelihood, Side, Spelling};

/// Grades a finding moves when its lexicon's language is not the note's.
pub const LANG_DISAGREEMENT: i32 = -3;

/// Words either side of a finding in which one function word of the entry's own language
/// marks a passage in that language (a quoted reply, a mixed note): no disagreement then.
pub const LOCAL_WINDOW: usize = 6;

/// One thing that moved a finding's grade, for `art9 explain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "move", rename_all = "snake_case")]
pub enum Move {
    /// A cue word near the finding.
    Cue {
        /// The cue's id.
        id: String,
        /// Its kind.
        kind: CueKind,
        /// Grades it moved (only the strongest of each direction counts).
        shift: i32,
        /// The cue word found (normalised, as listed in the cue file).
        word: String,
        /// Whether it counted (the strongest of its direction).
        counted: bool,
    },
    /// The entry's language is not the note's.
    Language {
        /// The entry's language.
        entry: Lang,
        /// The note's.
        note: Lang,
        /// Grades it moved.
        shift: i32,
    },
}

/// A finding's grade with its reasons, for `art9 explain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Graded {
    /// The entry's base likelihood.
    pub base: Likelihood,
    /// What moved it.
    pub moves: Vec<Move>,
    /// The result.
    pub likelihood: Likelihood,
}

/// What the grader needs to know about one finding.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// The entry's language.
    pub lang: Lang,
    /// The category.
    pub category: Category,
    /// The entry's base likelihood.
    pub base: Likelihood,
    /// Byte range in the normalised text.
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// Whether an entry of the note's language and the same category matched this span too.
    pub backed_by_note_lang: bool,
}

/// Byte ranges (of findings or candidates) sorted by start, with the running maximum of their
/// ends, so that the ranges overlapping a query are found by a binary search and a short walk
/// back: O(log n + k) per query instead of a pass over every range, which made a note with
/// 100,000 findings take hours (each finding's context words were checked against all).
#[derive(Clone, Debug, Default)]
pub struct SpanIndex {
    /// (start, end, the caller's index), by start.
    spans: Vec<(usize, usize, usize)>,
    /// `max_end[i]`: the largest end among `spans[..=i]`.
    max_end: Vec<usize>,
}

impl SpanIndex {
    /// Index `spans` (any order, overlaps allowed); a range's index is its position in
    /// `spans`.
    pub fn new(spans: impl IntoIterator<Item = (usize, usize)>) -> SpanIndex {
        let mut index = SpanIndex::default();
        index.fill(spans);
        index
    }

    /// Index `spans` in place of what this index held (its buffers are kept).
    pub fn fill(&mut self, spans: impl IntoIterator<Item = (usize, usize)>) {
        self.spans.clear();
        self.spans
            .extend(spans.into_iter().enumerate().map(|(i, (s, e))| (s, e, i)));
        self.spans.sort_unstable();
        self.max_end.clear();
        let mut m = 0;
        for &(_, e, _) in &self.spans {
            m = m.max(e);
            self.max_end.push(m);
        }
    }

    /// The ranges that overlap `lo..hi` (`s < hi && lo < e`), as (start, end, index), in no
    /// particular order.
    pub fn overlapping(
        &self,
        lo: usize,
        hi: usize,
    ) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let j = self.spans.partition_point(|&(s, _, _)| s < hi);
        (0..j)
            .rev()
            .take_while(move |&i| self.max_end[i] > lo)
            .map(move |i| self.spans[i])
            .filter(move |&(_, e, _)| lo < e)
    }
}

/// Whether token `tok` lies inside one of the note's findings other than `span` (normalised
/// byte ranges): the words of another finding are not context. This also keeps a grade from
/// changing when another finding is masked ("PCS branch secretary": `branch` is part of the
/// finding *branch secretary*, not an organisation cue for *PCS*).
fn in_other_finding(tok: (usize, usize), span: &Span, findings: &SpanIndex) -> bool {
    // Most notes have one finding: `span` itself.
    if let [(s, e, _)] = findings.spans[..] {
        if (s, e) == (span.start, span.end) {
            return false;
        }
    }
    findings
        .overlapping(tok.0, tok.1)
        .any(|(s, e, _)| (s, e) != (span.start, span.end))
}

/// Compiled cues of one language.
#[derive(Clone, Debug, Default)]
struct LangCues {
    cues: Vec<Cue>,
    /// The widest window of its cues.
    widest: usize,
    /// The widest window of its cues with a prefix or suffix word.
    affix_widest: usize,
    /// Where its cues start in [`NoteWords::hit`].
    offset: usize,
}

/// A cue word: the language's slot in [`Grader::langs`], the cue, the word.
#[derive(Clone, Copy, Debug)]
struct CueRef {
    lang: u8,
    cue: u32,
    word: u32,
}

/// How a cue word met a token of a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Met {
    /// The token is the first part of a whole word or phrase (the rest is checked per
    /// finding, within its language's widest window).
    Start,
    /// A `word*` prefix word matched the token.
    Prefix,
    /// A `*word` suffix word matched the token.
    Suffix,
}

/// The compiled cues and function words of every language. Cheap to share (`Arc` it).
#[derive(Clone, Debug, Default)]
pub struct Grader {
    /// The cue files in their order (nl, da, en: the order of [`Lang`]).
    langs: Vec<(Lang, LangCues)>,
    /// Function words and the first parts of whole cue words and phrases: one lookup per
    /// token of a note ([`Grader::prepare`]) for the vote and for the cues near findings
    /// ([`Grader::look_up_cues`]).
    words: WordTable<CueRef>,
    /// Prefix words (`word*`, one part) by their first three bytes, suffix words (`*word`)
    /// by their last three ([`affix_bucket`]); words under three bytes in the last bucket,
    /// which every token meets. A token meets only the few words that can match it (by the
    /// last byte alone, a Dutch note's every `-en` word met six suffix words).
    prefixes: Vec<Vec<CueRef>>,
    suffixes: Vec<Vec<CueRef>>,
    /// A bit per bucket of `prefixes` and `suffixes` that holds words: a token whose bucket
    /// holds none is let go by one bit test in a table of 136 bytes, without reading the
    /// bucket (a cache miss: the buckets' 24 KiB are cold when a note is graded).
    prefix_buckets: [u64; AFFIX_BUCKETS / 64 + 1],
    suffix_buckets: [u64; AFFIX_BUCKETS / 64 + 1],
    /// Whether there are prefix or suffix words under three bytes (the last bucket of
    /// `prefixes` and `suffixes`, which every token meets).
    short_affixes: bool,
    /// Cues of all languages (the length of [`NoteWords::hit`]).
    cue_count: usize,
    /// Spellings and letters by language (`Lang as usize`), for notes the function words
    /// leave undecided.
    spellings: Vec<(usize, Spelling)>,
    letters: Vec<(usize, char)>,
    /// The languages the scanner has lexicons of (`Lang as usize`); all when not set.
    /// Disagreement needs the note's language among them: without its lexicons (`--lang en`
    /// on a Dutch note) no entry of it could have backed a shared word.
    lexicon_langs: [bool; 3],
    /// The fallback for notes the vote leaves undecided ([`Grader::fallback`]): whatlang's
    /// method, for the languages of the cue files.
    fallback: fallback::Fallback,
}

/// A note's tokens looked up once for the language vote and for every finding's grade
/// ([`Grader::prepare`], [`Grader::look_up_cues`]): per token its function-word languages,
/// and near the findings the cue words that start or match at a token. Reuse one per thread
/// (the buffers are kept).
#[derive(Clone, Debug, Default)]
pub struct NoteWords {
    /// Per token: the bits of the languages whose function word it is, and the cue words
    /// whose first part it is (a range of the grader's words).
    looked: Vec<Looked>,
    /// (token, how, cue word), by token; per token the whole words first, then prefix, then
    /// suffix words, each in cue file order. Only for the tokens within the widest cue window
    /// of a finding, and only cue words of the languages whose cues grade the note.
    met: Vec<(u32, Met, CueRef)>,
    /// Per span given to [`Grader::look_up_cues`], in that order, the tokens it covers
    /// ([`token_bounds`]).
    bounds: Vec<(usize, usize)>,
    /// The token ranges looked up for cues (scratch of [`Grader::look_up_cues`]).
    windows: Vec<(usize, usize)>,
    /// The tokens of a window that may meet cue words (scratch of [`Grader::look_up_cues`]).
    gathered: Vec<u32>,
    /// Per cue of every language, the word of it found near the finding being graded (all
    /// `None` between findings).
    hit: Vec<Option<u32>>,
    /// The cues of `hit` set for the finding being graded.
    touched: Vec<u32>,
    /// The note's normalised text and [`PAD`] zero bytes: every token's first 16 bytes
    /// are read as two loads, with no bounds to test at the note's end.
    pad: Vec<u8>,
    /// Where the text `pad` copies was (address and length), for
    /// [`Grader::look_up_cues`] to tell that it is given the same note.
    padded: (usize, usize),
}

/// Zero bytes after a note in [`NoteWords`]' copy of it.
const PAD: usize = 16;

impl Grader {
    /// Compile cue files (one per language; see [`crate::LexiconSet::cues`]).
    pub fn new<'a>(files: impl IntoIterator<Item = &'a CueLexicon>) -> Grader {
        let mut langs: Vec<(Lang, LangCues)> = Vec::new();
        let mut words: HashMap<String, (u8, Vec<CueRef>)> = HashMap::new();
        let mut prefixes = vec![Vec::new(); AFFIX_BUCKETS + 1];
        let mut suffixes = vec![Vec::new(); AFFIX_BUCKETS + 1];
        let mut cue_count = 0;
        let mut spellings = Vec::new();
        let mut letters = Vec::new();
        let mut fallback_langs = Vec::new();
        for f in files {
            if !fallback_langs.contains(&f.lang) {
                fallback_langs.push(f.lang);
            }
            spellings.extend(f.spellings.iter().map(|s| (f.lang as usize, s.clone())));
            letters.extend(f.letters.iter().map(|&c| (f.lang as usize, c)));
            for w in &f.function_words {
                words.entry(w.clone()).or_default().0 |= 1 << (f.lang as u8);
            }
            let slot = u8::try_from(langs.len()).unwrap_or(u8::MAX);
            let mut lc = LangCues {
                offset: cue_count,
                ..LangCues::default()
            };
            for (ci, cue) in f.cues.iter().enumerate() {
                lc.widest = lc.widest.max(cue.window);
                if cue
                    .words
                    .iter()
                    .any(|w| w.parts.len() == 1 && (w.prefix || w.suffix))
                {
                    lc.affix_widest = lc.affix_widest.max(cue.window);
                }
                for (wi, w) in cue.words.iter().enumerate() {
                    let key = CueRef {
                        lang: slot,
                        cue: ci as u32,
                        word: wi as u32,
                    };
                    let part = w.parts[0].as_bytes();
                    if w.suffix && w.parts.len() == 1 {
                        let end = part.len().saturating_sub(3);
                        suffixes[affix_bucket(&part[end..])].push(key);
                    } else if w.prefix && w.parts.len() == 1 {
                        prefixes[affix_bucket(&part[..part.len().min(3)])].push(key);
                    } else {
                        words.entry(w.parts[0].clone()).or_default().1.push(key);
                    }
                }
            }
            lc.cues = f.cues.clone();
            cue_count += lc.cues.len();
            langs.push((f.lang, lc));
        }
        let short_affixes =
            !prefixes[AFFIX_BUCKETS].is_empty() || !suffixes[AFFIX_BUCKETS].is_empty();
        let prefix_buckets = bucket_bits(&prefixes);
        let suffix_buckets = bucket_bits(&suffixes);
        Grader {
            langs,
            words: WordTable::build(words),
            prefixes,
            suffixes,
            prefix_buckets,
            suffix_buckets,
            short_affixes,
            cue_count,
            spellings,
            letters,
            lexicon_langs: [true; 3],
            fallback: fallback::Fallback::new(&fallback_langs),
        }
    }

    /// The language of a note the vote left undecided ([`Grader::detect`] gave `None`), by
    /// whatlang's character-trigram and alphabet profiles restricted to the languages of the
    /// cue files, on at most the first [`FALLBACK_BYTES`] of `text`, when whatlang's
    /// confidence is at least [`FALLBACK_CONFIDENCE`]. A best guess to report (`note_lang`),
    /// which grading does not use (see the module's rule); `None` when the text has no
    /// letters, the guess is less sure, or no cue files are loaded.
    pub fn fallback(&self, text: &str) -> Option<Lang> {
        let mut end = text.len().min(FALLBACK_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let (lang, confidence) = self.fallback.detect(&text[..end])?;
        (confidence >= FALLBACK_CONFIDENCE).then_some(lang)
    }

    /// [`Grader::detect`], else [`Grader::fallback`]: the note language art9 reports.
    pub fn detect_or_guess(
        &self,
        text: &str,
        norm: &str,
        tokens: &[(usize, usize)],
    ) -> Option<Lang> {
        self.detect(text, norm, tokens)
            .or_else(|| self.fallback(text))
    }

    /// Tell the grader which languages the scanner has lexicons of (see `lexicon_langs`).
    pub fn with_lexicon_langs(mut self, langs: impl IntoIterator<Item = Lang>) -> Grader {
        self.lexicon_langs = [false; 3];
        for l in langs {
            self.lexicon_langs[l as usize] = true;
        }
        self
    }

    /// Every cue, by language (the order of the cue files).
    pub fn cues(&self) -> impl Iterator<Item = &Cue> {
        self.langs.iter().flat_map(|(_, lc)| &lc.cues)
    }

    /// Whether there is anything to grade with (no cue files: every finding keeps its base
    /// and no language is detected).
    pub fn is_empty(&self) -> bool {
        self.langs.is_empty()
    }

    /// The note's language by a vote of its function words: each word votes for every
    /// language whose file lists it (a word of all three votes for none); the language with
    /// the most votes wins. When that leaves a tie or no vote, the spellings (`*heid`) of
    /// the words and the letters (`æ`) of `text` vote too, a function word counting twice;
    /// `None` (`und`) if still tied or nothing voted. `norm` is `text` normalised (or `text`
    /// itself when it is ASCII) and `tokens` are its word-char runs.
    pub fn detect(&self, text: &str, norm: &str, tokens: &[(usize, usize)]) -> Option<Lang> {
        self.prepare(text, norm, tokens, &mut NoteWords::default())
    }

    /// Look up the function words of every token of a note, into `note`, and return the
    /// note's language as [`Grader::detect`] does. Then [`Grader::look_up_cues`] and
    /// [`Grader::grade`].
    pub fn prepare(
        &self,
        text: &str,
        norm: &str,
        tokens: &[(usize, usize)],
        note: &mut NoteWords,
    ) -> Option<Lang> {
        note.met.clear();
        let b = norm.as_bytes();
        // The votes of the three languages, 21 bits each in one integer: one add a token, in a
        // register (an add to a counter in memory picked by the token's bits made each token
        // wait for the one before). Summed into `counts` every 2^20 tokens, before a field
        // could overflow.
        let mut counts = [0u32; 3];
        note.looked.clear();
        note.pad.clear();
        note.pad.extend_from_slice(b);
        note.pad.extend_from_slice(&[0; PAD]);
        note.padded = (b.as_ptr() as usize, b.len());
        let pad = &note.pad[..];
        // Every token looked up, amounts and dates too (no word begins with a digit, and a
        // test for one was a branch mispredicted on a sixth of the tokens).
        for part in tokens.chunks(1 << 20) {
            let votes = self.words.look_all(pad, part, &VOTES, &mut note.looked);
            for (l, c) in counts.iter_mut().enumerate() {
                *c = c.saturating_add((votes >> (21 * l) & ((1 << 21) - 1)) as u32);
            }
        }
        if let Some(l) = winner(&counts) {
            return Some(l);
        }
        if self.spellings.is_empty() && self.letters.is_empty() {
            return None;
        }
        // Undecided: spellings and letters vote, a function word counting twice.
        for c in &mut counts {
            *c *= 2;
        }
        for &(s, e) in tokens {
            for (l, sp) in &self.spellings {
                counts[*l] += u32::from(sp.matches(&b[s..e]));
            }
        }
        if !self.letters.is_empty() && !text.is_ascii() {
            for c in text.chars().filter(|c| !c.is_ascii()) {
                let c = c.to_lowercase().next().unwrap_or(c);
                for &(l, letter) in &self.letters {
                    counts[l] += u32::from(letter == c);
                }
            }
        }
        winner(&counts)
    }

    /// Look up the cue words of the tokens near the note's findings (`spans`, normalised byte
    /// ranges), into `note` (after [`Grader::prepare`], before [`Grader::grade`]): the cues of
    /// `note_lang`'s file (of every file when it is `None`), for the tokens within its widest
    /// cue window of a finding. [`Grader::grade`] looks no further for a finding in `spans`
    /// graded in `note_lang` (or, when `note_lang` is `None`, in any language): a note's words
    /// far from its findings cost one function-word lookup each, not the cue lookups.
    pub fn look_up_cues(
        &self,
        norm: &str,
        tokens: &[(usize, usize)],
        note_lang: Option<Lang>,
        spans: impl IntoIterator<Item = (usize, usize)>,
        note: &mut NoteWords,
    ) {
        note.met.clear();
        let grades = |slot: u8| {
            note_lang.is_none_or(|n| self.langs.get(usize::from(slot)).is_some_and(|l| l.0 == n))
        };
        let graded = || (0..self.langs.len()).filter(|&slot| grades(slot as u8));
        let widest = graded().map(|slot| self.langs[slot].1.widest).max();
        note.windows.clear();
        note.bounds.clear();
        for (start, end) in spans {
            let (first, last) = token_bounds(tokens, start, end);
            note.bounds.push((first, last));
            if let Some(w) = widest {
                note.windows
                    .push((first.saturating_sub(w), (last + w).min(tokens.len())));
            }
        }
        if widest.is_none() {
            return;
        }
        // Prefix and suffix words only when a graded language has them (not English's file).
        let affixes = graded().any(|slot| self.langs[slot].1.affix_widest > 0);
        note.windows.sort_unstable();
        let b = norm.as_bytes();
        // The note's bytes with zeros after them (from `prepare`): three bytes at a token's
        // start and before its end are read without a test of its length. A token under three
        // bytes then meets the words of some bucket, which `open_matches` tells apart.
        let pad = if note.padded == (b.as_ptr() as usize, b.len()) && note.pad.len() >= b.len() + 3
        {
            std::mem::take(&mut note.pad)
        } else {
            b.iter().copied().chain([0; 3]).collect()
        };
        let three = |at: usize| pad.get(at..at + 3).unwrap_or_default();
        // Whether a bucket may hold words for the token at `s..e`: a bit of each table.
        let bits = |table: &[u64], k: usize| table.get(k / 64).map_or(0, |w| w >> (k % 64) & 1);
        let buckets = |s: usize, e: usize| {
            let pre = bits(&self.prefix_buckets, affix_bucket(three(s)));
            let suf = bits(
                &self.suffix_buckets,
                affix_bucket(three(e.saturating_sub(3))),
            );
            pre | suf
        };
        let all = u64::from(affixes && self.short_affixes);
        let mut next = 0;
        for k in 0..note.windows.len() {
            let (lo, hi) = note.windows[k];
            let from = lo.max(next);
            next = next.max(hi);
            // The window's tokens that begin a cue word or whose buckets hold prefix or suffix
            // words: most tokens do neither, and whether one does is a coin toss for a
            // branch, so they are gathered without one (each token written, the count moved
            // on by whether it counts).
            let window = tokens.get(from..hi).unwrap_or_default();
            // Grown, never cleared: every number read is written first.
            if note.gathered.len() <= window.len() {
                note.gathered.resize(window.len() + 1, 0);
            }
            let mut n = 0;
            for (j, &(s, e)) in window.iter().enumerate() {
                let i = from + j;
                let starts = note.looked.get(i).map_or(0, |l| l.refs.0);
                let affix = if affixes { buckets(s, e) | all } else { 0 };
                note.gathered[n] = i as u32;
                n += usize::from((starts != 0) | (affix != 0));
            }
            for g in 0..n {
                let i = note.gathered[g] as usize;
                let (s, e) = tokens[i];
                let tok = b.get(s..e).unwrap_or_default();
                let starts = note.looked.get(i).map(|l| l.refs).unwrap_or_default();
                let (pre, suf) = if affixes {
                    (
                        bucket(&self.prefix_buckets, &self.prefixes, affix_bucket(three(s))),
                        bucket(
                            &self.suffix_buckets,
                            &self.suffixes,
                            affix_bucket(three(e.saturating_sub(3))),
                        ),
                    )
                } else {
                    (&[][..], &[][..])
                };
                self.cues_at(
                    tok,
                    i as u32,
                    starts,
                    affixes,
                    (pre, suf),
                    &grades,
                    &mut note.met,
                );
            }
        }
        note.pad = pad;
    }

    /// The cue words (of the languages `grades` lets through) that start or match at the
    /// token `tok`, the `i`th, into `met`: `starts` (from [`Grader::prepare`]'s lookup) and,
    /// with `affixes`, the prefix and suffix words of its buckets (`pre`, `suf`) and the
    /// short ones.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn cues_at(
        &self,
        tok: &[u8],
        i: u32,
        starts: Cues,
        affixes: bool,
        (pre, suf): (&[CueRef], &[CueRef]),
        grades: &impl Fn(u8) -> bool,
        met: &mut Vec<(u32, Met, CueRef)>,
    ) {
        met.extend(
            self.words
                .refs(starts)
                .iter()
                .filter(|r| grades(r.lang))
                .map(|&r| (i, Met::Start, r)),
        );
        if !affixes {
            return;
        }
        let short = bucket(&self.prefix_buckets, &self.prefixes, AFFIX_BUCKETS);
        for &r in pre.iter().chain(short) {
            if grades(r.lang) && open_matches(self.word(r), tok) {
                met.push((i, Met::Prefix, r));
            }
        }
        let short = bucket(&self.suffix_buckets, &self.suffixes, AFFIX_BUCKETS);
        for &r in suf.iter().chain(short) {
            if grades(r.lang) && open_matches(self.word(r), tok) {
                met.push((i, Met::Suffix, r));
            }
        }
    }

    fn cue(&self, r: CueRef) -> &Cue {
        &self.langs[usize::from(r.lang)].1.cues[r.cue as usize]
    }

    fn word(&self, r: CueRef) -> &CueWord {
        &self.cue(r).words[r.word as usize]
    }

    /// The grade of one finding in a note of language `note_lang`, whose tokens `note` holds
    /// ([`Grader::prepare`]); `findings` are the normalised spans of all the note's findings
    /// (their words are not cues for the others); with `trace`, every move.
    // The note's parts are separate arguments because the matcher holds them in separate
    // scratch buffers; a struct of seven borrows would only be built to be taken apart.
    #[allow(clippy::too_many_arguments)]
    pub fn grade(
        &self,
        norm: &str,
        tokens: &[(usize, usize)],
        note: &mut NoteWords,
        note_lang: Option<Lang>,
        span: &Span,
        findings: &SpanIndex,
        trace: Option<&mut Vec<Move>>,
    ) -> Likelihood {
        let bounds = token_bounds(tokens, span.start, span.end);
        self.grade_at(norm, tokens, note, note_lang, span, bounds, findings, trace)
    }

    /// [`Grader::grade`] of a finding whose tokens are `first..last` (its
    /// [`NoteWords::bounds`], which [`Grader::look_up_cues`] found).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grade_at(
        &self,
        norm: &str,
        tokens: &[(usize, usize)],
        note: &mut NoteWords,
        note_lang: Option<Lang>,
        span: &Span,
        (first, last): (usize, usize),
        findings: &SpanIndex,
        mut trace: Option<&mut Vec<Move>>,
    ) -> Likelihood {
        let mut up = 0;
        let mut down = 0;
        if note.hit.len() != self.cue_count {
            note.hit.clear();
            note.hit.resize(self.cue_count, None);
        }
        let met = &note.met[..];
        // The met words of tokens `a..b`.
        let range = |a: usize, b: usize| {
            let lo = met.partition_point(|m| (m.0 as usize) < a);
            let hi = lo + met[lo..].partition_point(|m| (m.0 as usize) < b);
            &met[lo..hi]
        };
        let applies = |c: &Cue| c.categories.is_empty() || c.categories.contains(&span.category);
        for (slot, (lang, lc)) in self.langs.iter().enumerate() {
            if note_lang.is_some_and(|n| n != *lang) {
                continue;
            }
            let slot = slot as u8;
            let lo = first.saturating_sub(lc.widest);
            let hi = (last + lc.widest).min(tokens.len());
            // Per cue of the language, the first word found (a cue counts once); all `None`
            // between findings (only the cues `touched` are set, and taken back below).
            let hit = &mut note.hit[lc.offset..lc.offset + lc.cues.len()];
            let touched = &mut note.touched;
            touched.clear();
            for &(i, how, r) in range(lo, first).iter().chain(range(last, hi)) {
                let i = i as usize;
                if r.lang != slot || in_other_finding(tokens[i], span, findings) {
                    continue;
                }
                let ci = r.cue as usize;
                let cue = &lc.cues[ci];
                let dist = if i < first { first - i } else { i - last + 1 };
                let in_reach = dist <= cue.window
                    && match cue.side {
                        Side::Both => true,
                        Side::Before => i < first,
                        Side::After => i >= last,
                    }
                    && applies(cue);
                if hit[ci].is_none()
                    && in_reach
                    // A one-part word met as a start is the token (the table's lookup is
                    // exact); a phrase's other parts are compared here.
                    && (how != Met::Start
                        || cue.words[r.word as usize].parts.len() == 1
                        || phrase_matches(&cue.words[r.word as usize], norm, &tokens[i..hi]))
                {
                    hit[ci] = Some(r.word);
                    touched.push(ci as u32);
                }
            }
            // The finding's own words: a suffix word marks its compound ("Diabetesvereniging"),
            // and a whole word after its first one its head ("Labour Party", "RCN member").
            let inside = range(first, last);
            let mut k = 0;
            while k < inside.len() {
                let i = inside[k].0;
                let n = inside[k..].iter().take_while(|m| m.0 == i).count();
                let group = &inside[k..k + n];
                k += n;
                let (ts, te) = tokens[i as usize];
                let tok = &norm[ts..te];
                for &(_, _, r) in group
                    .iter()
                    .filter(|m| m.1 == Met::Suffix && m.2.lang == slot)
                {
                    let cue = &lc.cues[r.cue as usize];
                    let w = &cue.words[r.word as usize];
                    if hit[r.cue as usize].is_none()
                        && applies(cue)
                        && !tok.eq_ignore_ascii_case(&w.parts[0])
                    {
                        hit[r.cue as usize] = Some(r.word);
                        touched.push(r.cue);
                    }
                }
                if i as usize == first {
                    continue;
                }
                // Not animals and things: "guide dog" names a person's aid.
                for &(_, _, r) in group
                    .iter()
                    .filter(|m| m.1 == Met::Start && m.2.lang == slot)
                {
                    let cue = &lc.cues[r.cue as usize];
                    if hit[r.cue as usize].is_none()
                        && cue.words[r.word as usize].parts.len() == 1
                        && cue.kind != CueKind::NonHuman
                        && applies(cue)
                    {
                        hit[r.cue as usize] = Some(r.word);
                        touched.push(r.cue);
                    }
                }
            }
            // In cue order, as the cue file lists them.
            touched.sort_unstable();
            for &ci in touched.iter() {
                let ci = ci as usize;
                let Some(wi) = hit.get_mut(ci).and_then(Option::take) else {
                    continue;
                };
                let cue = &lc.cues[ci];
                if cue.shift > 0 {
                    up = up.max(cue.shift);
                } else {
                    down = down.min(cue.shift);
                }
                if let Some(t) = trace.as_deref_mut() {
                    t.push(Move::Cue {
                        id: cue.id.clone(),
                        kind: cue.kind,
                        shift: cue.shift,
                        word: cue.words[wi as usize].word.clone(),
                        counted: false,
                    });
                }
            }
        }
        let mut shift = up + down;
        if let Some(t) = trace.as_deref_mut() {
            // Mark the strongest of each direction (the first listed of equals).
            let mut up_done = false;
            let mut down_done = false;
            for m in t.iter_mut() {
                if let Move::Cue { shift, counted, .. } = m {
                    if *shift == up && !up_done {
                        *counted = true;
                        up_done = true;
                    } else if *shift == down && !down_done {
                        *counted = true;
                        down_done = true;
                    }
                }
            }
        }
        if let Some(note_l) = note_lang {
            let near = first.saturating_sub(LOCAL_WINDOW)..(last + LOCAL_WINDOW).min(tokens.len());
            let own = 1u8 << (span.lang as u8);
            if note_l != span.lang
                && self.lexicon_langs[note_l as usize]
                && !span.backed_by_note_lang
                && !note.looked[near].iter().any(|l| l.function == own)
            {
                shift += LANG_DISAGREEMENT;
                if let Some(t) = trace {
                    t.push(Move::Language {
                        entry: span.lang,
                        note: note_l,
                        shift: LANG_DISAGREEMENT,
                    });
                }
            }
        }
        span.base.shifted(shift)
    }
}

/// The tokens a normalised byte range covers, `first..last`: from the first that ends after
/// `start` to the last that begins before `end`.
fn token_bounds(tokens: &[(usize, usize)], start: usize, end: usize) -> (usize, usize) {
    let first = tokens.partition_point(|&(_, te)| te <= start);
    let last = first + tokens[first..].partition_point(|&(ts, _)| ts < end);
    (first, last)
}

impl NoteWords {
    /// The tokens of the `k`th span given to [`Grader::look_up_cues`].
    pub(crate) fn bounds(&self, k: usize) -> Option<(usize, usize)> {
        self.bounds.get(k).copied()
    }
}

/// Per set of function-word languages (bit `l`: language `l`), the votes it adds, one in the
/// 21-bit field of each of its languages; a word of all three files votes for none.
const VOTES: [u64; 8] = {
    let mut t = [0u64; 8];
    let mut bits = 0;
    while bits < 7 {
        let mut l = 0;
        while l < 3 {
            if bits >> l & 1 == 1 {
                t[bits] += 1 << (21 * l);
            }
            l += 1;
        }
        bits += 1;
    }
    t
};

/// The language with the most votes, `None` on a tie or when none has any.
fn winner(counts: &[u32; 3]) -> Option<Lang> {
    let n = counts.iter().copied().max().unwrap_or(0);
    if n == 0 || counts.iter().filter(|&&c| c == n).count() > 1 {
        return None;
    }
    let best = counts.iter().position(|&c| c == n)?;
    Lang::ALL.get(best).copied()
}

/// How much of an undecided note [`Grader::fallback`] reads: the trigram detector builds a
/// table of the text's trigrams, and a long note that no function word decided is rare.
pub const FALLBACK_BYTES: usize = 2048;

/// The least whatlang confidence (0..=1, the relative gap between its two best scores) at
/// which [`Grader::fallback`] answers. On the real-text lines the vote leaves `und`, answers
/// below 0.2 were right 45% of the time (three languages: near chance), and at 0 whatlang
/// names English whenever no trigram tells the languages apart (its order, not evidence);
/// from 0.2 up they were right 82% of the time (LEXICONS.md, "Note language").
pub const FALLBACK_CONFIDENCE: f64 = 0.2;

/// Buckets of prefix and suffix words ([`affix_bucket`]); one more holds the short words.
const AFFIX_BUCKETS: usize = 1024;

/// A bit per bucket that holds words.
fn bucket_bits(buckets: &[Vec<CueRef>]) -> [u64; AFFIX_BUCKETS / 64 + 1] {
    let mut bits = [0u64; AFFIX_BUCKETS / 64 + 1];
    for (k, b) in buckets.iter().enumerate() {
        if !b.is_empty() {
            bits[k / 64] |= 1 << (k % 64);
        }
    }
    bits
}

/// The words of bucket `k` of `buckets`, read only when its bit in `bits` is set.
#[inline]
fn bucket<'a>(bits: &[u64], buckets: &'a [Vec<CueRef>], k: usize) -> &'a [CueRef] {
    if bits.get(k / 64).is_some_and(|w| w >> (k % 64) & 1 == 1) {
        buckets.get(k).map_or(&[][..], |b| &b[..])
    } else {
        &[][..]
    }
}

/// The bucket of three bytes (the first or last three of a word or token, ASCII case
/// ignored); shorter slices (only words are this short) go to the last bucket.
fn affix_bucket(three: &[u8]) -> usize {
    if three.len() < 3 {
        return AFFIX_BUCKETS;
    }
    // The three bytes with the ASCII case bit set (bytes that differ only in ASCII case
    // meet; a few others do too, which the comparison after the bucket tells apart), mixed
    // by one multiplication.
    let x = u32::from_le_bytes([three[0], three[1], three[2], 0]) | 0x0020_2020;
    (x.wrapping_mul(0x9E37_79B1) >> 22) as usize % AFFIX_BUCKETS
}

/// A one-part prefix or suffix word against a token (ASCII case ignored).
fn open_matches(w: &CueWord, tok: &[u8]) -> bool {
    let (t, p) = (tok, w.parts[0].as_bytes());
    if t.len() < p.len() {
        return false;
    }
    if w.suffix {
        t[t.len() - p.len()..].eq_ignore_ascii_case(p)
    } else {
        t[..p.len()].eq_ignore_ascii_case(p)
    }
}

/// A whole word or phrase starting at `tokens[0]` (whose first part already matched).
fn phrase_matches(w: &CueWord, norm: &str, tokens: &[(usize, usize)]) -> bool {
    let last = w.parts.len() - 1;
    if tokens.len() < w.parts.len() {
        return false;
    }
    for (i, part) in w.parts.iter().enumerate() {
        let (ts, te) = tokens[i];
        let tok = &norm.as_bytes()[ts..te];
        let ok = if i == last && w.prefix {
            tok.len() >= part.len() && tok[..part.len()].eq_ignore_ascii_case(part.as_bytes())
        } else {
            tok.eq_ignore_ascii_case(part.as_bytes())
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;

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
use serde::Serialize;

use crate::category::{Category, Lang};
use crate::lexicon::{CaseMode, Entry, LexiconError, LexiconSet, MatchMode};
use crate::normalize::{fold_keep_case, is_word_char, normalize, NormalizedText};

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
    /// The automaton is ASCII case-insensitive, so plain ASCII notes are searched as they are
    /// ([`NormalizedText::normalize_for_search`]); otherwise every note is normalised.
    zero_copy: bool,
}

/// The word-start automaton: a contiguous NFA walked with [`AcAnchored::Yes`].
#[derive(Debug)]
struct Anchored {
    nfa: contiguous::NFA,
    start: StateID,
    /// Local pattern id → global pattern id.
    ids: Vec<u32>,
    /// Which word starts can begin a pattern at all.
    prefilter: StartFilter,
    /// The state after the first four bytes of the patterns of four or more bytes.
    prefix4: StateTable,
    /// The state after each pattern of one to three bytes, keyed by [`short_key`].
    short: StateTable,
    /// Bit `n` set if a pattern of `n` bytes (1 to 3) exists.
    short_lens: u8,
}

/// Automaton states by key, in an open-addressing table: the state after the first four
/// bytes of every pattern of four or more bytes (a walk that passed the start filter takes
/// one probe instead of its first four transitions, which were dependent loads and the
/// walk's main cost in cache misses; issue 7), or after each pattern of one to three bytes.
/// Keys are [`lower4`] keys (a pattern never starts with a NUL byte, so 0 marks an empty
/// slot). Each slot also holds the set of bytes that can follow (see [`next_bit`]): most
/// walks past four bytes die at the fifth, and the set says so without touching the
/// automaton. Key, state and set share one 16-byte slot, so a probe is one cache line.
#[derive(Clone, Debug)]
struct StateTable {
    slots: Box<[Slot]>,
    shift: u32,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: u32,
    state: StateID,
    /// Bit [`next_bit`]`(b)` set if the state has a transition on a byte `b`.
    next: u64,
}

/// The bit of byte `b` in a [`Slot`]'s set: ASCII letters in either case share one, other
/// bytes may share one too (a set only ever says "maybe").
#[inline(always)]
fn next_bit(b: u8) -> u64 {
    1 << ((b | 0x20) & 63)
}

impl StateTable {
    /// The table of the states after the first four bytes of `patterns` of four or more
    /// bytes.
    fn prefixes<'a>(
        nfa: &contiguous::NFA,
        start: StateID,
        patterns: impl Iterator<Item = &'a [u8]>,
    ) -> StateTable {
        let mut prefixes: HashMap<u32, (StateID, u64)> = HashMap::new();
        for p in patterns.filter(|p| p.len() >= 4 && p[0] != 0) {
            let slot = prefixes
                .entry(lower4(p))
                .or_insert_with(|| (walk_bytes(nfa, start, &p[..4]), 0));
            // An anchored walk has no failure transitions: the bytes that can follow the
            // first four are the fifth bytes of the patterns that begin with them.
            if let Some(&b) = p.get(4) {
                slot.1 |= next_bit(b);
            }
        }
        StateTable::from_map(prefixes, start)
    }

    /// The table of `states` and their next-byte sets (keys never 0).
    fn from_map(states: HashMap<u32, (StateID, u64)>, start: StateID) -> StateTable {
        let size = (states.len() * 2).next_power_of_two().max(16);
        let empty = Slot {
            key: 0,
            state: start,
            next: 0,
        };
        let mut t = StateTable {
            slots: vec![empty; size].into_boxed_slice(),
            shift: 32 - size.trailing_zeros(),
        };
        for (key, (state, next)) in states {
            let mut i = t.slot(key);
            while t.slots[i].key != 0 {
                i = (i + 1) & (size - 1);
            }
            t.slots[i] = Slot { key, state, next };
        }
        t
    }

    #[inline(always)]
    fn slot(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> self.shift) as usize
    }

    /// The slot of `key`, if a pattern starts with its bytes.
    #[inline]
    fn get(&self, key: u32) -> Option<&Slot> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            let s = &self.slots[i];
            if s.key == key {
                return Some(s);
            }
            if s.key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

/// The first four bytes of `b` (at least four), little-endian, ASCII letters lowercased
/// (SWAR: for a byte `c < 0x80`, `c + (0x80 - lo)` has its high bit set iff `c >= lo`).
#[inline(always)]
fn lower4(b: &[u8]) -> u32 {
    let x = load4(b);
    let low7 = x & 0x7f7f_7f7f;
    let upper = low7.wrapping_add(0x3f3f_3f3f) & !low7.wrapping_add(0x2525_2525) & !x & 0x8080_8080;
    x | (upper >> 2)
}

/// The automaton's state after `bytes` from `sid` (ASCII-lowercased, as the keys are).
fn walk_bytes(nfa: &contiguous::NFA, sid: StateID, bytes: &[u8]) -> StateID {
    bytes.iter().fold(sid, |sid, &b| {
        nfa.next_state(AcAnchored::Yes, sid, b.to_ascii_lowercase())
    })
}

/// The key of the first `len` (1 to 3) bytes of a [`lower4`] key: those bytes, and the
/// length in the top byte (so that keys of different lengths never meet).
#[inline(always)]
fn short_key(lower: u32, len: usize) -> u32 {
    (lower & (u32::MAX >> (32 - 8 * len))) | (len as u32) << 24
}

/// A filter on the first bytes at a word start, so that the automaton is only walked where a
/// pattern may begin: most words share no 4-byte prefix with any term, and skipping them
/// saves the walk's cache misses (the walk was a third of the scan time; issue 7).
///
/// Two bitsets, each one load on the common path: `four` holds a 16-bit hash of the first
/// 4 bytes of every pattern of 4 or more bytes; `short` the first 2 bytes of every pattern
/// of 2 or 3 bytes (every second byte for a 1-byte pattern), and `one` the 1-byte patterns
/// for the last byte of a text. Bytes are compared with bit 5 set (`| 0x20`), which lowers
/// ASCII letters (on the zero-copy path the text is not lowercased); the few other byte
/// pairs it merges (`@` and `` ` ``, `0` and DLE, ...) cost a rare false positive. No false
/// negatives: a pattern starting at `i` always
/// sets the bit the text at `i` is tested against (property-tested). Where every pattern has
/// four or more bytes (the built-ins' inside-word terms), a third set, `sampled`, lets the
/// pass over a text probe only every second position first.
#[derive(Clone, Debug)]
struct StartFilter {
    /// Whether any pattern is shorter than four bytes (else `short` is empty).
    has_short: bool,
    one: Box<[u64; 4]>,
    short: Box<[u64; 1024]>,
    four: Box<[u64; 1024]>,
    /// For [`StartFilter::may_start64_sampled`]: the 4-byte keys at offsets 0 and 1 of every
    /// pattern, hashed as in `four`. `None` when a pattern is shorter than four bytes, or
    /// when too many are exactly four (their offset-1 key has an unknown fifth byte).
    sampled: Option<Box<[u64; 1024]>>,
}

/// Patterns of exactly four bytes that [`StartFilter::sampled`] takes: each sets one bit per
/// possible fifth byte (128 after case folding), so more would crowd the set.
const SAMPLED_MAX_FOUR_BYTE: usize = 8;

impl StartFilter {
    fn new<'a>(patterns: impl Iterator<Item = &'a [u8]>) -> StartFilter {
        let mut f = StartFilter {
            has_short: false,
            one: Box::new([0; 4]),
            short: Box::new([0; 1024]),
            four: Box::new([0; 1024]),
            sampled: None,
        };
        let mut sampled = Box::new([0u64; 1024]);
        let mut four_byte = 0;
        for p in patterns {
            f.has_short |= (1..4).contains(&p.len());
            match p.len() {
                0 => {}
                1 => {
                    set(&mut f.one[..], usize::from(p[0] | 0x20));
                    for b in 0..=255u8 {
                        set(&mut f.short[..], key2(&[p[0], b]));
                    }
                }
                2 | 3 => set(&mut f.short[..], key2(p)),
                n => {
                    set(&mut f.four[..], hash16(key4(p)));
                    set(&mut sampled[..], hash16(key4(p)));
                    if n >= 5 {
                        set(&mut sampled[..], hash16(key4(&p[1..])));
                    } else {
                        four_byte += 1;
                        for b in 0..=255u8 {
                            set(&mut sampled[..], hash16(key4(&[p[1], p[2], p[3], b])));
                        }
                    }
                }
            }
        }
        if !f.has_short && four_byte <= SAMPLED_MAX_FOUR_BYTE {
            f.sampled = Some(sampled);
        }
        f
    }

    /// May a pattern of one to three bytes start at the beginning of `rest` (four or more
    /// bytes)?
    #[inline]
    fn may_start_short(&self, rest: &[u8]) -> bool {
        // `short` also holds every byte pair that starts with a one-byte pattern.
        bit(&self.short, key2(rest)) != 0
    }

    /// Bit `i` set if a pattern of four or more bytes (or, with `SHORT`, of fewer) may start
    /// at `window[i]`, for `i` below `4 * groups` (at most 64; a text's last window needs
    /// fewer groups). Kept out of line so that the loop has the registers to itself.
    #[inline(never)]
    fn may_start64<const SHORT: bool>(&self, window: &[u8; 68], groups: usize) -> u64 {
        let (four, short) = (&*self.four, &*self.short);
        let mut mask = 0u64;
        for i in (0..4 * groups.min(16)).step_by(4) {
            // One load gives the keys of four positions; their four bits are gathered
            // before one variable shift puts them in place.
            let w = &window[i..i + 8];
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let mut nibble = 0u64;
            for j in 0..4 {
                let key = (x >> (8 * j)) as u32 | 0x2020_2020;
                let mut hit = bit(four, hash16(key));
                if SHORT {
                    hit |= bit(short, usize::from((x >> (8 * j)) as u16 | 0x2020));
                }
                nibble |= hit << j;
            }
            mask |= nibble << i;
        }
        mask
    }

    /// Like `may_start64::<false>`, for patterns of four or more bytes, with one probe every
    /// second position instead of every position: the key at an odd position `i` is tested
    /// against [`StartFilter::sampled`], which holds the keys at offsets 0 and 1 of every
    /// pattern, so a pattern that starts at `i - 1` or `i` passes it. Only behind such a hit
    /// (a few percent of the probes) are `i - 1` and `i` tested one by one against `four`.
    /// The bits set are those of `may_start64::<false>` less some of its false positives;
    /// every position where a pattern starts is among them (property-tested). The
    /// inside-word filter runs on every byte of a note, so halving its probes took ~7% off
    /// a built-in scan's instructions per row (issue 5).
    #[inline(never)]
    fn may_start64_sampled(&self, sampled: &[u64; 1024], window: &[u8; 68], groups: usize) -> u64 {
        let mut hits = 0u64;
        for i in (0..4 * groups.min(16)).step_by(4) {
            // The keys at positions i + 1 and i + 3, one 4-byte load each.
            let a = key4(&window[i + 1..i + 5]);
            let b = key4(&window[i + 3..i + 7]);
            hits |= (bit(sampled, hash16(a)) << 1 | bit(sampled, hash16(b)) << 3) << i;
        }
        let mut mask = 0u64;
        while hits != 0 {
            let i = hits.trailing_zeros() as usize;
            hits &= hits - 1;
            for p in [i - 1, i] {
                mask |= bit(&self.four, hash16(key4(&window[p..]))) << p;
            }
        }
        mask
    }

    /// Can a pattern start at the beginning of `rest`?
    #[inline]
    fn may_start(&self, rest: &[u8]) -> bool {
        match rest.len() {
            0 => false,
            1 => get(&self.one[..], usize::from(rest[0] | 0x20)),
            2 | 3 => get(&self.short[..], key2(rest)),
            _ => get(&self.four[..], hash16(key4(rest))) || get(&self.short[..], key2(rest)),
        }
    }
}

/// The first two bytes with bit 5 set, as a 16-bit index.
#[inline(always)]
fn key2(b: &[u8]) -> usize {
    // One 2-byte load (indexing byte by byte gave a load and a bounds check per byte).
    usize::from(u16::from_le_bytes(b[..2].try_into().unwrap_or([0; 2])) | 0x2020)
}

/// The first four bytes with bit 5 set.
#[inline(always)]
fn key4(b: &[u8]) -> u32 {
    load4(b) | 0x2020_2020
}

/// The first four bytes of `b` (at least four), little-endian, as one load: indexing them
/// one by one left a load and a bounds check per byte where the length was not known.
#[inline(always)]
fn load4(b: &[u8]) -> u32 {
    // `b[..4]` has four bytes, so the conversion cannot fail.
    u32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4]))
}

/// 16 bits of a multiplicative hash.
#[inline(always)]
fn hash16(k: u32) -> usize {
    (k.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

#[inline(always)]
fn set(bits: &mut [u64], i: usize) {
    bits[i >> 6] |= 1 << (i & 63);
}

/// Bit `i` of a 65,536-bit set, as 0 or 1 (the array type makes the index provably in
/// bounds for a 16-bit `i`).
#[inline(always)]
fn bit(bits: &[u64; 1024], i: usize) -> u64 {
    (bits[(i >> 6) & 1023] >> (i & 63)) & 1
}

#[inline(always)]
fn get(bits: &[u64], i: usize) -> bool {
    bits[i >> 6] & (1 << (i & 63)) != 0
}

/// The patterns that may start inside a word (suffix and compound terms, terms that begin
/// with punctuation).
#[derive(Debug)]
enum Unanchored {
    /// Walked anchored from every position where the start filter lets a pattern begin:
    /// the filter is one independent load per byte, where a DFA's transitions are a chain of
    /// dependent loads (issue 7).
    Everywhere(Box<Anchored>),
    /// Searched overlapping over the whole text (the reference, see
    /// [`ScannerBuilder::all_overlapping`]).
    Overlapping {
        ac: AhoCorasick,
        /// Local pattern id → global pattern id.
        ids: Vec<u32>,
    },
}

/// Builds a [`Scanner`] from lexicons.
#[derive(Clone, Debug, Default)]
pub struct ScannerBuilder {
    lexicons: LexiconSet,
    zero_copy_ascii: bool,
    /// `false` puts every pattern into the overlapping automaton (the reference the word-start
    /// split is tested against).
    all_overlapping: bool,
}

impl ScannerBuilder {
    /// A builder with no lexicons.
    pub fn new() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// A builder with the built-in lexicons.
    ///
    /// # Errors
    /// Only if a built-in lexicon is broken (ruled out by the test suite).
    pub fn builtin() -> Result<ScannerBuilder, LexiconError> {
        Ok(ScannerBuilder {
            lexicons: LexiconSet::builtin()?,
            zero_copy_ascii: false,
            all_overlapping: false,
        })
    }

    /// Use this lexicon set.
    pub fn lexicons(&mut self, set: LexiconSet) -> &mut ScannerBuilder {
        self.lexicons = set;
        self
    }

    /// Build the automaton ASCII case-insensitive and search plain ASCII notes in place,
    /// without the lowercase copy (default off: see the comment in `build`). The matcher's
    /// checks work either way; the tests compare both.
    #[doc(hidden)]
    pub fn zero_copy_ascii(&mut self, yes: bool) -> &mut ScannerBuilder {
        self.zero_copy_ascii = yes;
        self
    }

    /// Search every pattern with the overlapping automaton instead of walking word-start
    /// patterns from word starts. Same findings, slower; the reference for the tests.
    #[doc(hidden)]
    pub fn all_overlapping(&mut self, yes: bool) -> &mut ScannerBuilder {
        self.all_overlapping = yes;
        self
    }

    /// The lexicon set, to add or restrict lexicons before building.
    pub fn lexicons_mut(&mut self) -> &mut LexiconSet {
        &mut self.lexicons
    }

    /// Compile the automaton. The result is immutable and cheap to clone.
    ///
    /// # Errors
    /// If no lexicon is loaded or the automaton cannot be built.
    pub fn build(&self) -> Result<Scanner, BuildError> {
        if self.lexicons.is_empty() {
            return Err(BuildError::Empty);
        }
        let mut entries: Vec<Entry> = Vec::new();
        for lex in self.lexicons.iter() {
            entries.extend(lex.entries.iter().cloned());
        }
        self.build_from(entries)
    }

    /// Like [`ScannerBuilder::build`], but moves the lexicons' entries into the scanner
    /// instead of copying them (for a builder used once: the command line's start-up).
    ///
    /// # Errors
    /// If no lexicon is loaded or the automaton cannot be built.
    pub fn into_scanner(self) -> Result<Scanner, BuildError> {
        if self.lexicons.is_empty() {
            return Err(BuildError::Empty);
        }
        let ScannerBuilder {
            lexicons,
            zero_copy_ascii,
            all_overlapping,
        } = self;
        let options = ScannerBuilder {
            lexicons: LexiconSet::new(),
            zero_copy_ascii,
            all_overlapping,
        };
        let count = lexicons.iter().map(|l| l.entries.len()).sum();
        let mut entries = Vec::with_capacity(count);
        for l in lexicons.into_lexicons() {
            entries.extend(l.entries);
        }
        options.build_from(entries)
    }

    /// The scanner over `entries`, in the order [`ScannerBuilder::build`] lists them.
    fn build_from(&self, entries: Vec<Entry>) -> Result<Scanner, BuildError> {
        // Sized for every term up front: growing them was a tenth of building a term list.
        let terms: usize = entries.iter().map(|e| e.terms.len()).sum();
        let mut pattern_ids: HashMap<String, usize> = HashMap::with_capacity(terms);
        let mut patterns: Vec<String> = Vec::with_capacity(terms);
        let mut targets: Vec<Vec<Target>> = Vec::with_capacity(terms);
        let mut add = |p: String, t: Target| {
            let id = *pattern_ids.entry(p.clone()).or_insert_with(|| {
                patterns.push(p);
                targets.push(Vec::new());
                patterns.len() - 1
            });
            targets[id].push(t);
        };
        let mut keep_case = Vec::with_capacity(entries.len());
        for (ei, e) in entries.iter().enumerate() {
            let ei =
                u32::try_from(ei).map_err(|_| BuildError::Automaton("too many entries".into()))?;
            for (ti, term) in e.terms.iter().enumerate() {
                add(
                    normalize(term),
                    Target {
                        entry: ei,
                        term: ti as u32,
                    },
                );
            }
            keep_case.push(if e.case == CaseMode::Sensitive {
                e.terms.iter().map(|t| fold_keep_case(t)).collect()
            } else {
                Vec::new()
            });
        }
        // Split the patterns: one that stands only for word- or prefix-mode terms and
        // begins with a letter or digit can only be accepted where it starts a word, so it
        // goes to the anchored word-start automaton; the rest (suffix and compound terms,
        // terms beginning with punctuation) to the overlapping one.
        let mut anchored_ids = Vec::new();
        let mut unanchored_ids = Vec::new();
        for (id, (p, ts)) in patterns.iter().zip(&targets).enumerate() {
            let id =
                u32::try_from(id).map_err(|_| BuildError::Automaton("too many patterns".into()))?;
            let word_start_only = p.chars().next().is_some_and(is_word_char)
                && ts.iter().all(|t| {
                    matches!(
                        entries[t.entry as usize].mode,
                        MatchMode::Word | MatchMode::Prefix
                    )
                });
            if word_start_only && !self.all_overlapping {
                anchored_ids.push(id);
            } else {
                unanchored_ids.push(id);
            }
        }
        // Patterns are normalised, so lowercase; ASCII case-insensitivity lets the zero-copy
        // path search an ASCII note as it is (normalised text has no upper-case ASCII, so
        // on it this is the same as a case-sensitive search).
        let zero_copy = self.zero_copy_ascii;
        let automaton_error = |e: aho_corasick::BuildError| BuildError::Automaton(e.to_string());
        let anchored = if anchored_ids.is_empty() {
            None
        } else {
            Some(Anchored::new(&patterns, anchored_ids, zero_copy)?)
        };
        let ac = if unanchored_ids.is_empty() {
            None
        } else if self.all_overlapping {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(zero_copy)
                .build(unanchored_ids.iter().map(|&i| &patterns[i as usize]))
                .map_err(automaton_error)?;
            Some(Unanchored::Overlapping {
                ac,
                ids: unanchored_ids,
            })
        } else {
            Some(Unanchored::Everywhere(Box::new(Anchored::new(
                &patterns,
                unanchored_ids,
                zero_copy,
            )?)))
        };
        Ok(Scanner {
            inner: Arc::new(Inner {
                anchored,
                ac,
                targets,
                entries,
                keep_case,
                pattern_count: patterns.len(),
                zero_copy,
            }),
        })
    }
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
            for c in scratch
                .cands
                .iter()
                .filter(|c| c.verdict == Verdict::Accepted)
            {
                let e = &self.inner.entries[c.entry as usize];
                out.push(Finding {
                    category: e.category,
                    lang: e.lang,
                    entry: EntryId(c.entry),
                    start: c.ostart,
                    end: c.oend,
                    char_start: 0,
                    char_end: 0,
                });
            }
        });
        out.sort_by_key(|f| f.start);
        fill_char_offsets(text, out);
    }

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
                }
            })
            .collect();
        out.sort_by_key(|x| (x.start, x.end));
        out
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
        if scratch.cands.is_empty() {
            return;
        }
        let Scratch {
            norm: normtext,
            cands,
            tokens,
        } = scratch;
        let norm = normtext.search_text(text);
        for c in cands.iter_mut() {
            let (os, oe) = normtext.original_range(text, c.sstart, c.send);
            c.ostart = os;
            c.oend = oe;
            if c.verdict != Verdict::Accepted {
                continue;
            }
            let e = &inner.entries[c.entry as usize];
            if e.case == CaseMode::Sensitive {
                let (ts, te) = normtext.original_range(text, c.nstart, c.nend);
                let want = &inner.keep_case[c.entry as usize][c.term as usize];
                if fold_keep_case(&text[ts..te]) != *want {
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
                    tokenize(norm, tokens);
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

impl Inner {
    /// A pattern occurrence at normalised `start..end`: check the mode of each term behind
    /// it and keep the candidates (all of them when explaining).
    #[inline]
    fn candidate(
        &self,
        norm: &str,
        pattern: u32,
        start: usize,
        end: usize,
        explain: bool,
        cands: &mut Vec<Cand>,
    ) {
        for &Target { entry, term } in &self.targets[pattern as usize] {
            let e = &self.entries[entry as usize];
            let (verdict, sstart, send) = check_mode(norm, e, start, end);
            if verdict != Verdict::Accepted && !explain {
                continue;
            }
            cands.push(Cand {
                entry,
                term,
                nstart: start,
                nend: end,
                sstart,
                send,
                ostart: 0,
                oend: 0,
                verdict,
            });
        }
    }
}

/// The exclusion phrase of an entry whose occurrence in `norm` covers the term found at
/// `start..end` (phrases are plain substrings, LEXICONS.md); of several, the occurrence that
/// starts first, then ends first, then the phrase listed first.
///
/// Exclusions only matter where a candidate was found, which is rare, so they are compared
/// here (a covering occurrence starts within a phrase's length before the term) instead of
/// being searched over every note: they were five sixths of the overlapping automaton.
/// ASCII case is ignored, as the automata do on the zero-copy path (elsewhere `norm` and the
/// phrases are both folded to lower case).
fn covering_exclusion<'a>(
    norm: &str,
    phrases: &'a [String],
    start: usize,
    end: usize,
) -> Option<&'a String> {
    let b = norm.as_bytes();
    let mut best: Option<(usize, usize, &String)> = None;
    for x in phrases {
        let n = x.len();
        if n < end - start || n > b.len() {
            continue;
        }
        // An occurrence at `p` covers the term iff p <= start and p + n >= end.
        let (lo, hi) = (end.saturating_sub(n), start.min(b.len() - n));
        if let Some(p) = (lo..=hi).find(|&p| b[p..p + n].eq_ignore_ascii_case(x.as_bytes())) {
            if best.is_none_or(|(bs, be, _)| (p, p + n) < (bs, be)) {
                best = Some((p, p + n, x));
            }
        }
    }
    best.map(|(_, _, x)| x)
}

impl Anchored {
    /// The automaton, start filter and prefix table for `patterns[ids]`.
    fn new(patterns: &[String], ids: Vec<u32>, zero_copy: bool) -> Result<Anchored, BuildError> {
        let automaton_error = |e: aho_corasick::BuildError| BuildError::Automaton(e.to_string());
        // A contiguous NFA: its states near the root are dense, and an anchored walk never
        // follows a failure transition, so it is as fast as a DFA here while building in a
        // tenth of the time and fitting in cache (issue 7, BENCHMARKS.md).
        let nfa = contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(zero_copy)
            .build(ids.iter().map(|&i| &patterns[i as usize]))
            .map_err(automaton_error)?;
        let start = nfa
            .start_state(AcAnchored::Yes)
            .map_err(|e| BuildError::Automaton(e.to_string()))?;
        let bytes = || ids.iter().map(|&i| patterns[i as usize].as_bytes());
        let prefilter = StartFilter::new(bytes());
        let prefix4 = StateTable::prefixes(&nfa, start, bytes());
        // (The next-byte sets of short patterns are not used: their walk ends there.)
        let mut short_states: HashMap<u32, (StateID, u64)> = HashMap::new();
        let mut short_lens = 0u8;
        for p in bytes().filter(|p| (1..4).contains(&p.len()) && p[0] != 0) {
            let mut four = [0u8; 4];
            four[..p.len()].copy_from_slice(p);
            short_states
                .entry(short_key(lower4(&four), p.len()))
                .or_insert_with(|| (walk_bytes(&nfa, start, p), 0));
            short_lens |= 1 << p.len();
        }
        let short = StateTable::from_map(short_states, start);
        Ok(Anchored {
            nfa,
            start,
            ids,
            prefilter,
            prefix4,
            short,
            short_lens,
        })
    }

    /// Walk from every position of `text` where a pattern may start; call
    /// `found(start, global pattern id, end)` for every occurrence (what an overlapping
    /// search reports, in order of start instead of end).
    fn walk_everywhere(&self, text: &[u8], mut found: impl FnMut(usize, u32, usize)) {
        let f = &self.prefilter;
        let pass = |window: &[u8; 68], groups: usize| match &f.sampled {
            Some(sampled) => f.may_start64_sampled(sampled, window, groups),
            None if f.has_short => f.may_start64::<true>(window, groups),
            None => f.may_start64::<false>(window, groups),
        };
        let mut walk_from = |base: usize, mut starts: u64| {
            while starts != 0 {
                let at = base + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                self.walk(text, at, |id, end| found(at, id, end));
            }
        };
        let mut base = 0;
        // 64 positions at a time: a branch-free pass gives the mask of the positions where a
        // pattern may start (the 4-byte keys of positions base..base + 64 need 67 bytes; 68
        // let the last group of four be one 8-byte load).
        while let Some(window) = text
            .get(base..base + 68)
            .and_then(|w| <&[u8; 68]>::try_from(w).ok())
        {
            walk_from(base, pass(window, 16));
            base += 64;
        }
        // The last 0 to 67 bytes, padded with NULs (which the filter reads as spaces): the
        // filter may pass a position whose pattern would run past the end, and the walk,
        // which reads the text itself, rejects it. Walking every tail position instead cost
        // more than the rest of the inside-word search (a note is a few windows long).
        let tail = &text[base..];
        if !tail.is_empty() {
            let mut window = [0u8; 68];
            window[..tail.len()].copy_from_slice(tail);
            let in_text = u64::MAX >> 64usize.saturating_sub(tail.len());
            walk_from(base, pass(&window, tail.len().div_ceil(4)) & in_text);
            if tail.len() > 64 {
                walk_from(base + 64, (1u64 << (tail.len() - 64)) - 1);
            }
        }
    }

    /// Walk the automaton from `at`; call `found(global pattern id, end)` for every
    /// pattern that starts exactly at `at`. The start filter rules out most positions;
    /// patterns of one to three bytes are one probe per length, and the first four
    /// transitions one probe of the prefix table; where the fifth byte cannot follow, the
    /// walk ends without touching the automaton.
    #[inline(always)]
    fn walk(&self, text: &[u8], at: usize, found: impl FnMut(u32, usize)) {
        let rest = &text[at..];
        if rest.len() >= 4 {
            // The filter inline, the rest out of line: two thirds of the word starts stop
            // here, and a call per word start was a tenth of the word-start walk.
            let f = &self.prefilter;
            let four = bit(&f.four, hash16(key4(rest))) != 0;
            let short = f.has_short && f.may_start_short(rest);
            if four || short {
                self.walk_passed(text, at, four, short, found);
            }
        } else if self.prefilter.may_start(rest) {
            self.walk_nfa(text, at, self.start, at, found);
        }
    }

    /// [`Anchored::walk`] from a position (with four or more bytes left) that passed the
    /// filter for patterns of four or more bytes (`four`) or of fewer (`short`).
    #[inline(never)]
    fn walk_passed(
        &self,
        text: &[u8],
        at: usize,
        four: bool,
        short: bool,
        mut found: impl FnMut(u32, usize),
    ) {
        let rest = &text[at..];
        let key = lower4(rest);
        if short {
            // Patterns of one to three bytes: one probe per length instead of a walk from
            // the root.
            for len in 1..4 {
                if self.short_lens & (1 << len) != 0 {
                    if let Some(slot) = self.short.get(short_key(key, len)) {
                        self.report(slot.state, at, at + len, &mut found);
                    }
                }
            }
        }
        if !four {
            return;
        }
        let Some(slot) = self.prefix4.get(key) else {
            return;
        };
        self.report(slot.state, at, at + 4, &mut found);
        if rest.get(4).is_none_or(|&b| slot.next & next_bit(b) == 0) {
            return;
        }
        self.walk_nfa(text, at, slot.state, at + 4, found);
    }

    /// Walk the automaton on from state `sid` at byte `from` (a walk that started at `at`).
    #[inline]
    fn walk_nfa(
        &self,
        text: &[u8],
        at: usize,
        sid: StateID,
        from: usize,
        mut found: impl FnMut(u32, usize),
    ) {
        let nfa = &self.nfa;
        let mut sid = sid;
        for (j, &b) in text.iter().enumerate().skip(from) {
            sid = nfa.next_state(AcAnchored::Yes, sid, b);
            if nfa.is_special(sid) {
                if nfa.is_dead(sid) {
                    return;
                }
                self.report(sid, at, j + 1, &mut found);
            }
        }
    }

    /// The patterns of state `sid` (reached at `end`) that start at `at`.
    #[inline(always)]
    fn report(&self, sid: StateID, at: usize, end: usize, found: &mut impl FnMut(u32, usize)) {
        let nfa = &self.nfa;
        if !nfa.is_match(sid) {
            return;
        }
        for k in 0..nfa.match_len(sid) {
            let p = nfa.match_pattern(sid, k);
            // Match lists also hold the patterns that end here but start later (copied
            // from failure states for overlapping search).
            if end - nfa.pattern_len(p) == at {
                found(self.ids[p.as_usize()], end);
            }
        }
    }
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a word.
#[inline(always)]
const fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// The high bit of every byte of `x` (8 bytes, little-endian) that is an ASCII letter or
/// digit, the ASCII half of [`is_word_char`]; bytes of 0x80 and up give 0. SWAR range checks:
/// for a byte `b < 0x80`, `b + (0x80 - lo)` has its high bit set iff `b >= lo`, and no
/// addition carries into the next byte.
#[inline(always)]
fn ascii_word_bits(x: u64) -> u64 {
    let ascii = !x & HIGH_BITS;
    let b = x & !HIGH_BITS;
    let lower = b | splat(0x20);
    let letter = lower.wrapping_add(splat(0x80 - b'a')) & !lower.wrapping_add(splat(0x7f - b'z'));
    let digit = b.wrapping_add(splat(0x80 - b'0')) & !b.wrapping_add(splat(0x7f - b'9'));
    (letter | digit) & ascii
}

/// Bit `k` of the result is the high bit of byte `k` of `m` (whose other bits are clear):
/// the multiplication moves each byte's bit to a distinct position, so nothing carries.
#[inline(always)]
fn gather_high_bits(m: u64) -> u64 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// One bit per byte of a block of up to 64 bytes: set for ASCII letters and digits.
#[inline(always)]
fn ascii_word_mask(block: &[u8; 64]) -> (u64, bool) {
    let mut mask = 0u64;
    let mut high = 0u64;
    for (k, w) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        high |= x;
        mask |= gather_high_bits(ascii_word_bits(x)) << (8 * k);
    }
    (mask, high & HIGH_BITS != 0)
}

/// Call `f` with the byte offset of every word start of `norm`, in order: a letter or digit
/// not preceded by one ([`is_word_char`], the rule `check_mode` applies).
///
/// Works on 64-byte blocks: one bit per byte says "part of a word char" (every byte of a
/// multi-byte char gets its char's bit), and the starts are the set bits whose predecessor
/// is clear. The ASCII bits come 8 bytes at a time (SWAR, [`ascii_word_bits`]); only blocks
/// holding non-ASCII bytes decode chars. Measured on the benchmark corpus the block form is
/// ~1.5× a byte-at-a-time loop (fewer mispredicted branches), and SWAR halves its cost again.
#[inline]
fn for_each_word_start(norm: &str, mut f: impl FnMut(usize)) {
    let b = norm.as_bytes();
    // Bit of the last byte of the previous block, and the word-ness of the char whose
    // continuation bytes may run into the next block.
    let mut carry = 0u64;
    let mut char_is_word = false;
    let mut tail = [0u8; 64];
    for (block, chunk) in b.chunks(64).enumerate() {
        let base = block * 64;
        let full: &[u8; 64] = match chunk.try_into() {
            Ok(full) => full,
            Err(_) => {
                // The last, partial block: padded with NULs, which are not word bytes.
                tail[..chunk.len()].copy_from_slice(chunk);
                &tail
            }
        };
        let (mut mask, has_high) = ascii_word_mask(full);
        if has_high {
            for (k, &c) in chunk.iter().enumerate() {
                if c < 0x80 {
                    continue;
                }
                if c & 0xC0 != 0x80 {
                    // A leading byte: `base + k` is a char boundary.
                    char_is_word = norm[base + k..].chars().next().is_some_and(is_word_char);
                }
                mask |= u64::from(char_is_word) << k;
            }
        }
        let mut starts = mask & !((mask << 1) | carry);
        carry = mask >> 63;
        while starts != 0 {
            f(base + starts.trailing_zeros() as usize);
            starts &= starts - 1;
        }
    }
}

/// Check the match mode at normalised `start..end`; returns the verdict and the span.
fn check_mode(norm: &str, e: &Entry, start: usize, end: usize) -> (Verdict, usize, usize) {
    let starts_word = norm[start..].chars().next().is_some_and(is_word_char);
    let ends_word = norm[..end].chars().next_back().is_some_and(is_word_char);
    let before_ok = !starts_word || !norm[..start].chars().next_back().is_some_and(is_word_char);
    let after_ok = !ends_word || !norm[end..].chars().next().is_some_and(is_word_char);
    match e.mode {
        MatchMode::Word => {
            if !before_ok {
                return (Verdict::NoWordStart, start, end);
            }
            if after_ok {
                return (Verdict::Accepted, start, end);
            }
            for ending in &e.endings {
                let rest = &norm[end..];
                if starts_with_ignore_ascii_case(rest, ending)
                    && !rest[ending.len()..]
                        .chars()
                        .next()
                        .is_some_and(is_word_char)
                {
                    return (Verdict::Accepted, start, end + ending.len());
                }
            }
            (Verdict::NoWordEnd, start, end)
        }
        MatchMode::Prefix => {
            if !before_ok {
                return (Verdict::NoWordStart, start, end);
            }
            (Verdict::Accepted, start, extend_right(norm, end))
        }
        MatchMode::Suffix => {
            if !after_ok {
                return (Verdict::NoWordEnd, start, end);
            }
            (Verdict::Accepted, extend_left(norm, start), end)
        }
        MatchMode::Compound => (
            Verdict::Accepted,
            extend_left(norm, start),
            extend_right(norm, end),
        ),
    }
}

/// `s.starts_with(prefix)`, ASCII case-insensitively (`prefix` is normalised, so lowercase).
#[inline]
pub(crate) fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn extend_right(norm: &str, mut end: usize) -> usize {
    for c in norm[end..].chars() {
        if !is_word_char(c) {
            break;
        }
        end += c.len_utf8();
    }
    end
}

fn extend_left(norm: &str, mut start: usize) -> usize {
    for c in norm[..start].chars().rev() {
        if !is_word_char(c) {
            break;
        }
        start -= c.len_utf8();
    }
    start
}

/// Word-char runs of the normalised text.
fn tokenize(norm: &str, out: &mut Vec<(usize, usize)>) {
    let mut start = None;
    for (i, c) in norm.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, norm.len()));
    }
}

/// Is `start..end` of the original text inside a mask token we write, `[LABEL]` or
/// `[LABEL:hex]`?
fn is_in_mask_token(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let is_label_byte = |x: u8| x.is_ascii_uppercase() || x == b'_';
    let mut s = start;
    while s > 0 && is_label_byte(b[s - 1]) {
        s -= 1;
    }
    let mut e = end;
    while e < b.len() && is_label_byte(b[e]) {
        e += 1;
    }
    if s == 0 || b[s - 1] != b'[' || e >= b.len() || !matches!(b[e], b']' | b':') {
        return false;
    }
    let label = &text[s..e];
    if !Category::ALL.iter().any(|c| c.label() == label) {
        return false;
    }
    // The original match must be made of label bytes only.
    text.as_bytes()[start..end]
        .iter()
        .all(|&x| is_label_byte(x))
}

/// Mark every accepted candidate that loses to an overlapping one as `Overlapped`.
fn resolve_overlaps(cands: &mut [Cand], entries: &[Entry]) {
    let mut order: Vec<usize> = (0..cands.len())
        .filter(|&i| cands[i].verdict == Verdict::Accepted)
        .collect();
    if order.len() < 2 {
        return;
    }
    order.sort_by_key(|&i| {
        let c = &cands[i];
        (
            std::cmp::Reverse(c.oend - c.ostart),
            entries[c.entry as usize].category,
            c.ostart,
            c.entry,
            c.term,
        )
    });
    // Kept spans never overlap, so the one starting last before `e` is the only one that
    // can overlap `s..e`.
    let mut kept: BTreeMap<usize, (usize, u32)> = BTreeMap::new();
    for i in order {
        let (s, e) = (cands[i].ostart, cands[i].oend);
        let hit = kept
            .range(..e)
            .next_back()
            .filter(|(_, &(ke, _))| ke > s)
            .map(|(_, &(_, by))| by);
        if let Some(by) = hit {
            cands[i].verdict = Verdict::Overlapped {
                by: entries[by as usize].id.clone(),
            };
        } else {
            kept.insert(s, (e, cands[i].entry));
        }
    }
}

/// Fill `char_start`/`char_end` of findings sorted by start.
fn fill_char_offsets(text: &str, findings: &mut [Finding]) {
    if text.is_ascii() {
        for f in findings {
            f.char_start = f.start;
            f.char_end = f.end;
        }
        return;
    }
    let mut pos = 0;
    let mut chars = 0;
    for f in findings {
        chars += text[pos..f.start].chars().count();
        pos = f.start;
        f.char_start = chars;
        f.char_end = chars + text[f.start..f.end].chars().count();
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

    fn word_starts_naive(norm: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut prev = false;
        for (i, c) in norm.char_indices() {
            let w = is_word_char(c);
            if w && !prev {
                out.push(i);
            }
            prev = w;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn word_starts_agree_with_char_rule(
            s in "[a-zA-Z0-9 .,:•«»…æøåéüß日本\u{300}\u{2014}-]{0,300}"
        ) {
            let mut got = Vec::new();
            for_each_word_start(&s, |i| got.push(i));
            proptest::prop_assert_eq!(got, word_starts_naive(&s));
        }
    }

    proptest::proptest! {
        #[test]
        fn word_starts_agree_on_any_ascii(s in "[\\x00-\\x7f]{0,200}") {
            let mut got = Vec::new();
            for_each_word_start(&s, |i| got.push(i));
            proptest::prop_assert_eq!(got, word_starts_naive(&s));
        }

        /// The start filter never rejects a position where a pattern starts, whatever the
        /// case of the text's ASCII letters.
        #[test]
        fn start_filter_has_no_false_negatives(
            pats in proptest::collection::vec("[a-zæøå0-9@`\\x10 -]{1,7}", 1..20),
            pick in 0usize..20,
            upper in proptest::bool::ANY,
            after in "[a-z ]{0,5}",
        ) {
            let f = StartFilter::new(pats.iter().map(|p| p.as_bytes()));
            let p = &pats[pick % pats.len()];
            let p = if upper { p.to_ascii_uppercase() } else { p.clone() };
            let text = format!("{p}{after}");
            proptest::prop_assert!(f.may_start(text.as_bytes()));
        }
    }

    /// The patterns picked (index modulo their number, upper-cased or not), each followed by
    /// its filler, padded with spaces to at least one 68-byte window.
    fn picked_text(pats: &[String], picks: &[(usize, bool, String)]) -> Vec<u8> {
        let mut text = Vec::new();
        for (pick, upper, filler) in picks {
            let p = &pats[pick % pats.len()];
            let p = if *upper {
                p.to_ascii_uppercase()
            } else {
                p.clone()
            };
            text.extend_from_slice(p.as_bytes());
            text.extend_from_slice(filler.as_bytes());
        }
        text.resize(68.max(text.len()), b' ');
        text
    }

    proptest::proptest! {
        /// The 64-position pass sets bit `i` exactly where the one-position check lets a
        /// pattern start at `i` (texts built from the patterns, in either case, so that
        /// both answers occur).
        #[test]
        fn start_filter_64_positions_equal_one_at_a_time(
            pats in proptest::collection::vec("[a-zæøå0-9@`\x10 -]{1,7}", 1..20),
            picks in proptest::collection::vec((0usize..20, proptest::bool::ANY, "[a-z .]{0,3}"), 1..40),
        ) {
            let f = StartFilter::new(pats.iter().map(|p| p.as_bytes()));
            let text = picked_text(&pats, &picks);
            let window = <&[u8; 68]>::try_from(&text[..68]).unwrap();
            let mut want = 0u64;
            for i in 0..64 {
                want |= u64::from(f.may_start(&window[i..])) << i;
            }
            proptest::prop_assert_eq!(f.may_start64::<true>(window, 16), want);
            if !f.has_short {
                proptest::prop_assert_eq!(f.may_start64::<false>(window, 16), want);
            }
            // Fewer groups: the first 4 × groups positions only.
            let groups = picks.len() % 17;
            let first = u64::MAX.checked_shr(64 - 4 * groups as u32).unwrap_or(0);
            proptest::prop_assert_eq!(f.may_start64::<true>(window, groups), want & first);
        }
    }

    proptest::proptest! {
        /// The sampled pass (one probe every second position) keeps every position where a
        /// pattern starts, in either case, and sets no bit the full pass does not set.
        #[test]
        fn sampled_start_filter_keeps_every_pattern_start(
            pats in proptest::collection::vec("[a-zæøå0-9@`\x10 -]{4,9}", 1..20),
            picks in proptest::collection::vec((0usize..20, proptest::bool::ANY, "[a-z .]{0,3}"), 1..40),
            groups in 0usize..17,
        ) {
            let f = StartFilter::new(pats.iter().map(|p| p.as_bytes()));
            let four_byte = pats.iter().filter(|p| p.len() == 4).count();
            let Some(sampled) = &f.sampled else {
                proptest::prop_assert!(four_byte > SAMPLED_MAX_FOUR_BYTE);
                return Ok(());
            };
            let text = picked_text(&pats, &picks);
            let window = <&[u8; 68]>::try_from(&text[..68]).unwrap();
            let first = u64::MAX.checked_shr(64 - 4 * groups as u32).unwrap_or(0);
            let got = f.may_start64_sampled(sampled, window, groups);
            let full = f.may_start64::<false>(window, groups);
            proptest::prop_assert_eq!(got & !full, 0, "bits the full pass does not set");
            for i in 0..4 * groups {
                let starts = pats.iter().any(|p| {
                    window[i..].len() >= p.len()
                        && window[i..i + p.len()].eq_ignore_ascii_case(p.as_bytes())
                });
                if starts {
                    proptest::prop_assert!(got >> i & 1 == 1, "pattern start {} dropped", i);
                }
            }
            proptest::prop_assert_eq!(got & !first, 0);
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
    fn sampled_start_filter_only_without_short_patterns() {
        let f = |pats: &[&str]| StartFilter::new(pats.iter().map(|p| p.as_bytes()));
        assert!(f(&["diabetes", "gigt"]).sampled.is_some());
        assert!(f(&["diabetes", "hiv"]).sampled.is_none());
        let four: Vec<String> = (0..=SAMPLED_MAX_FOUR_BYTE)
            .map(|i| format!("ab{i:02}"))
            .collect();
        let four: Vec<&str> = four.iter().map(String::as_str).collect();
        assert!(f(&four[1..]).sampled.is_some());
        assert!(f(&four).sampled.is_none());
    }

    #[test]
    fn covering_exclusion_needs_an_occurrence_around_the_term() {
        let x = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let phrases = x(&["kankerfonds", "kwf kanker", "fonds", "kankerfondsen"]);
        // "kanker" at 4..10 in "kwf kankerfonds"
        let norm = "kwf kankerfonds";
        let got = covering_exclusion(norm, &phrases, 4, 10);
        // Both "kankerfonds" (4..15) and "kwf kanker" (0..10) cover it; the earlier wins.
        assert_eq!(got.map(String::as_str), Some("kwf kanker"));
        // "fonds" does not contain the term; "kankerfondsen" runs past the text.
        assert_eq!(
            covering_exclusion("kankerfonds", &x(&["fonds", "kankerfondsen"]), 0, 6),
            None
        );
        // At the very end and the very start of the text.
        assert!(covering_exclusion("hekanker", &x(&["hekanker"]), 2, 8).is_some());
        assert!(covering_exclusion("kankeraar", &x(&["kankeraar"]), 0, 6).is_some());
        // The zero-copy path hands over text in its own case.
        assert!(covering_exclusion("KWF Kankerfonds", &phrases, 4, 10).is_some());
        assert_eq!(covering_exclusion("mijn kanker", &phrases, 5, 11), None);
    }

    #[test]
    fn lower4_lowers_ascii_letters_only() {
        for w in ["ABCD", "aZ@[", "`{zA", "ÆØ\u{1}", "0123", "Ab\u{7f}\u{80}"] {
            let b = w.as_bytes();
            let want: Vec<u8> = b[..4].iter().map(u8::to_ascii_lowercase).collect();
            assert_eq!(lower4(b), lower4(&want), "{w:?}");
            assert_eq!(lower4(b).to_le_bytes(), want[..4], "{w:?}");
        }
    }

    #[test]
    fn start_filter_rejects_most_other_words() {
        let f = StartFilter::new(["diabetes", "kanker", "ms"].iter().map(|p| p.as_bytes()));
        for w in ["Diabetes", "KANKERPATIENT", "ms", "MS-patient"] {
            assert!(f.may_start(w.as_bytes()), "{w}");
        }
        for w in ["klant", "belt", "morgen", "m", "d"] {
            assert!(!f.may_start(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn word_starts_across_blocks() {
        // Multi-byte chars straddling the 64-byte block boundary, word and non-word.
        for pad in 58..66 {
            for mid in ["æble", "•x", "«ja»", "日本 x", "a\u{300}b", "…é"] {
                let s = format!("{}{mid} end", "a ".repeat(pad / 2) + &"b".repeat(pad % 2));
                let mut got = Vec::new();
                for_each_word_start(&s, |i| got.push(i));
                assert_eq!(got, word_starts_naive(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn scanner_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Scanner>();
    }
}

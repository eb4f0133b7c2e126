//! The one normaliser for lexicon terms and for note text.
//!
//! Lexicon terms are folded at compile time by the same function that folds notes at scan
//! time, or "Épilepsie" and "epilepsie" would never meet. The exact rules, and what is
//! deliberately not done, are in `NORMALIZATION.md`; in short:
//!
//! * Unicode lowercase, then NFKC-style compatibility decomposition (ligatures, full-width
//!   forms) with combining marks dropped, so diacritics fold (é→e, ë→e, ü→u);
//! * Scandinavian and German letters transliterate: æ→ae, ø→oe, å→aa, ß→ss (so "kræft",
//!   "kraeft" and "KRÆFT" meet);
//! * zero-width characters and soft hyphens vanish (an evasion trick);
//! * curly and other apostrophes become `'`, dash variants become `-`;
//! * every run of white space becomes one space.
//!
//! Normalising keeps an offset map: for each byte of the normalised text, the byte offset in
//! the original text of the character that produced it (stored as runs of bytes that stay
//! in step). Matches found in the normalised text map back to char boundaries of the
//! original; nothing downstream changes offsets.
//!
//! Pure ASCII text without doubled white space takes a fast path: a byte-wise lowercase copy
//! with an identity offset map.
//!
//! Look-alike letters of other scripts inside a word that also has Latin letters (a Cyrillic
//! "а" in "kаnker") fold to Latin by the UTS #39 confusables (the homoglyph lane, issue 20;
//! `homoglyph.rs`); the original offsets of the chars so folded are kept, so that findings
//! over them can say so ([`NormalizedText::has_homoglyph`]).

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

mod homoglyph;

pub use self::homoglyph::UNICODE_VERSION as CONFUSABLES_UNICODE_VERSION;
use self::homoglyph::{is_foreign_letter, latin_skeleton, mixed_words, Homoglyphs};

/// Normalised text plus the map back to the original.
///
/// Reused across notes (see [`NormalizedText::clear`]) so that scanning allocates nothing per
/// note once the buffers have grown.
#[derive(Clone, Debug, Default)]
pub struct NormalizedText {
    text: String,
    /// For each byte of `text`: the byte offset of the source char in the original.
    /// Empty when `identity` is set.
    map: OffsetMap,
    identity: bool,
    /// Set by [`NormalizedText::normalize_for_search`] when `text` was left empty and the
    /// original itself is searched (ASCII case-insensitively).
    zero_copy: bool,
    /// Original byte offsets (ascending) of the chars folded as homoglyphs.
    homoglyphs: Vec<u32>,
}

impl NormalizedText {
    /// An empty buffer.
    pub fn new() -> NormalizedText {
        NormalizedText::default()
    }

    /// Normalise `original` into a new buffer.
    pub fn of(original: &str) -> NormalizedText {
        let mut n = NormalizedText::new();
        n.normalize(original);
        n
    }

    /// Forget the previous contents, keeping the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.map.clear();
        self.identity = false;
        self.zero_copy = false;
        self.homoglyphs.clear();
    }

    /// Normalise `original` into this buffer (replacing what was there).
    pub fn normalize(&mut self, original: &str) {
        self.clear();
        if original.is_ascii() && ascii_fast_path(original, &mut self.text) {
            self.identity = true;
            return;
        }
        self.text.clear();
        fold_fast(
            original,
            &mut self.text,
            Some(&mut self.map),
            Some(&mut self.homoglyphs),
        );
    }

    /// Like [`NormalizedText::normalize`], but a plain-ASCII text (no tab, line break or
    /// doubled space) is not copied at all: [`NormalizedText::search_text`] then returns the
    /// original, which equals the normalised text up to ASCII case. Callers must compare
    /// ASCII case-insensitively (the matcher's automaton does); the offset map is the identity.
    pub fn normalize_for_search(&mut self, original: &str) {
        self.clear();
        if ascii_plain(original.as_bytes()) {
            self.identity = true;
            self.zero_copy = true;
            return;
        }
        fold_fast(
            original,
            &mut self.text,
            Some(&mut self.map),
            Some(&mut self.homoglyphs),
        );
    }

    /// The text to search after [`NormalizedText::normalize_for_search`]: the normalised text,
    /// or `original` itself on the zero-copy path (normalised up to ASCII case).
    #[inline]
    pub fn search_text<'a>(&'a self, original: &'a str) -> &'a str {
        if self.zero_copy {
            original
        } else {
            &self.text
        }
    }

    /// Whether [`NormalizedText::search_text`] is the original itself (the zero-copy path).
    #[inline]
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does original byte range `start..end` hold a char that was folded as a homoglyph (a
    /// look-alike letter of another script inside a word with Latin letters)?
    #[inline]
    pub fn has_homoglyph(&self, start: usize, end: usize) -> bool {
        if self.homoglyphs.is_empty() {
            return false;
        }
        let i = self.homoglyphs.partition_point(|&o| (o as usize) < start);
        self.homoglyphs.get(i).is_some_and(|&o| (o as usize) < end)
    }

    /// Byte offset in the original text of the char that produced normalised byte `i`.
    ///
    /// `i` may equal the normalised length only for an empty text.
    #[inline]
    pub fn original_offset(&self, i: usize) -> usize {
        if self.identity {
            i
        } else {
            self.map.get(i) as usize
        }
    }

    /// Map a normalised byte range (non-empty, on normalised char boundaries) back to a byte
    /// range of `original` that starts and ends on char boundaries.
    ///
    /// The end is extended over combining marks that follow the last char, so that "e\u{301}"
    /// is covered whole.
    pub fn original_range(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        debug_assert!(start < end && (self.zero_copy || end <= self.text.len()));
        if self.identity {
            return (start, end);
        }
        let ostart = self.map.get(start) as usize;
        let last = self.map.get(end - 1) as usize;
        let mut oend = last + original[last..].chars().next().map_or(0, char::len_utf8);
        for c in original[oend..].chars() {
            if is_combining_mark(c) || is_ignorable(c) {
                oend += c.len_utf8();
            } else {
                break;
            }
        }
        (ostart, oend)
    }
}

/// Where each byte of a normalised text comes from, as runs instead of one `u32` per byte
/// (writing that per-byte map was a tenth of the fold's time; issue 7). A run starting at
/// normalised byte `at` maps its byte `at + k` to original byte `from + k` when it is a copy,
/// and every byte to `from` when it is the output of one char ("æ" → "ae"). A copy run
/// grows as long as the bytes stay in step, so a note with a few non-ASCII chars has a few
/// runs.
#[derive(Clone, Debug, Default)]
pub(crate) struct OffsetMap {
    runs: Vec<Run>,
    /// Normalised bytes mapped so far (the normalised text's length).
    len: u32,
}

#[derive(Clone, Copy, Debug)]
struct Run {
    at: u32,
    from: u32,
    copy: bool,
}

impl OffsetMap {
    fn clear(&mut self) {
        self.runs.clear();
        self.len = 0;
    }

    /// The next `len` normalised bytes are copies of original bytes `from..from + len`.
    #[inline]
    fn copy(&mut self, from: u32, len: u32) {
        if len == 0 {
            return;
        }
        match self.runs.last() {
            Some(last) if last.copy && last.from.wrapping_add(self.len - last.at) == from => {}
            _ => self.runs.push(Run {
                at: self.len,
                from,
                copy: true,
            }),
        }
        self.len += len;
    }

    /// The next `len` normalised bytes all come from the char at original byte `from`.
    #[inline]
    fn char(&mut self, from: u32, len: u32) {
        if len <= 1 {
            // One byte from one char is a copy of length one: it may extend a run.
            self.copy(from, len);
            return;
        }
        self.runs.push(Run {
            at: self.len,
            from,
            copy: false,
        });
        self.len += len;
    }

    /// The original offset of normalised byte `i` (`i` below the mapped length).
    #[inline]
    fn get(&self, i: usize) -> u32 {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let r = self.runs.partition_point(|r| r.at <= i).saturating_sub(1);
        match self.runs.get(r) {
            Some(run) if run.copy => run.from + (i - run.at),
            Some(run) => run.from,
            None => 0,
        }
    }

    /// The map one offset per normalised byte (for tests).
    #[cfg(test)]
    fn to_vec(&self) -> Vec<u32> {
        (0..self.len as usize).map(|i| self.get(i)).collect()
    }
}

/// Normalise a term or a short text to a new `String` (no offset map).
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_fast(s, &mut out, None, None);
    out
}

/// Fold like [`normalize`] but keep upper/lower case: used to compare the case of a
/// case-sensitive term with the original text.
pub fn fold_keep_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold(s, false, &mut out, None);
    out
}

/// Fold `s` with `pass` (the fast or the general fold); when it saw a letter of another
/// script, find the words that mix such letters with Latin ones and, if there are any, fold
/// again with those words' look-alikes folded to Latin (recording their offsets in `folded`).
fn with_homoglyphs(
    s: &str,
    out: &mut String,
    mut map: Option<&mut OffsetMap>,
    folded: Option<&mut Vec<u32>>,
    pass: impl Fn(&str, &mut String, Option<&mut OffsetMap>, &mut Homoglyphs<'_>),
) {
    let first = out.len();
    let mut homo = Homoglyphs::default();
    pass(s, out, map.as_deref_mut(), &mut homo);
    if !homo.saw_foreign {
        return;
    }
    let mixed = mixed_words(s, is_ignorable);
    if mixed.is_empty() {
        return;
    }
    out.truncate(first);
    if let Some(m) = map.as_deref_mut() {
        // The map covers `out` from its start: callers with a map pass an empty `out`.
        debug_assert_eq!(first, 0);
        m.clear();
    }
    let mut homo = Homoglyphs {
        mixed: &mixed,
        saw_foreign: false,
        folded,
    };
    pass(s, out, map, &mut homo);
}

/// Is `c` a word character for boundary checks? Letters and digits of any script.
///
/// The symbols that survive normalisation in CRM notes (currency signs, punctuation, emoji)
/// are answered by their block, before the Unicode tables: `char::is_alphanumeric` searches
/// two tables for a char past Latin-1 (a few hundred instructions for `€`), and `€` and `£`
/// are in most notes that mention an amount. `NOT_WORD_BLOCKS` is tested against
/// `is_alphanumeric` for every char it holds.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if NOT_WORD_BLOCKS.iter().any(|&(lo, hi)| lo <= c && c <= hi) {
        false
    } else {
        c.is_alphanumeric()
    }
}

/// Ranges of chars none of which is alphanumeric: Latin-1 signs up to `±` (not `ª`), General
/// Punctuation, Currency Symbols, Miscellaneous Symbols and Dingbats (not their circled
/// digits), and the emoji blocks.
const NOT_WORD_BLOCKS: [(char, char); 7] = [
    ('\u{A0}', '\u{A9}'),
    ('\u{AB}', '\u{B1}'),
    ('\u{2000}', '\u{206F}'),
    ('\u{20A0}', '\u{20CF}'),
    ('\u{2600}', '\u{2775}'),
    ('\u{2794}', '\u{27BF}'),
    ('\u{1F300}', '\u{1FAFF}'),
];

/// Lowercase ASCII copy; returns false (and leaves `out` in an unspecified state) when the
/// text needs the general path because of doubled or non-space white space.
fn ascii_fast_path(s: &str, out: &mut String) -> bool {
    let bytes = s.as_bytes();
    // Branch-free checks the compiler vectorises, then one copy and an in-place lowercase,
    // instead of a push per byte (issue 7).
    let has_control_ws = bytes.iter().fold(false, |acc, &b| {
        acc | (b.wrapping_sub(b'\t') <= b'\r' - b'\t')
    });
    if has_control_ws || memchr::memmem::find(bytes, b"  ").is_some() {
        return false;
    }
    out.clear();
    out.push_str(s);
    out.make_ascii_lowercase();
    true
}

/// ASCII white space as `char::is_whitespace` sees it: tab, line feed, vertical tab, form
/// feed, carriage return, space.
#[inline]
fn is_ascii_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// Pure ASCII with no white space other than single spaces: normalises to its own ASCII
/// lowercase, byte for byte.
fn ascii_plain(b: &[u8]) -> bool {
    let mut prev_space = false;
    for &x in b {
        if x >= 0x80 || matches!(x, b'\t'..=b'\r') || (x == b' ' && prev_space) {
            return false;
        }
        prev_space = x == b' ';
    }
    true
}

const LOW_7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a word.
#[inline(always)]
const fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// The high bit of every byte of `x` that is a space (exact: no carry between bytes).
#[inline(always)]
fn space_bits(x: u64) -> u64 {
    let t = x ^ splat(b' ');
    !((((t & LOW_7) + LOW_7) | t) & HIGH_BITS) & HIGH_BITS
}

/// The high bit of every byte of `x` that ends a plain ASCII run: a byte of 0x80 or more, a
/// tab or line break (`\t..=\r`), or a space after a space. `before` is 0x80 if the byte
/// before `x` is a space, else 0; the second value is the same for the byte after `x`.
#[inline(always)]
fn run_stop_bits(x: u64, before: u64) -> (u64, u64) {
    let b = x & LOW_7;
    // For b < 0x80, b + (0x80 - lo) has its high bit set iff b >= lo; nothing carries.
    let ctrl = (b + splat(0x80 - b'\t')) & !(b + splat(0x7f - b'\r')) & HIGH_BITS;
    let space = space_bits(x);
    // The spaces one byte earlier: this word's shifted up, and the byte before it.
    let doubled = space & ((space << 8) | before);
    ((x & HIGH_BITS) | ctrl | doubled, space >> 56)
}

/// The end of the plain ASCII run going on at `i` (`i >= 1`, `b[i - 1]` part of it): the
/// first `j >= i` where `b[j]` is not ASCII, is a tab or line break, or is a space after a
/// space; `b.len()` if none. Eight bytes at a time (SWAR), this loop was two thirds of the
/// normaliser's time byte by byte (issue 7).
#[inline]
fn ascii_run_end(b: &[u8], mut i: usize) -> usize {
    let word = |at: usize| {
        let w = &b[at..at + 8];
        u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
    };
    let mut before = if b[i - 1] == b' ' { 0x80 } else { 0 };
    while i + 8 <= b.len() {
        let (stop, after) = run_stop_bits(word(i), before);
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        before = after;
        i += 8;
    }
    while i < b.len() {
        let y = b[i];
        if y >= 0x80 || matches!(y, b'\t'..=b'\r') || (y == b' ' && b[i - 1] == b' ') {
            break;
        }
        i += 1;
    }
    i
}

/// What one non-ASCII char folds to when the result does not depend on its neighbours.
enum Folded {
    /// Not in the table, or context-dependent: take the general path.
    Slow,
    /// White space: one space unless the output already ends with one.
    Space,
    /// These bytes (possibly none: an ignorable char).
    Str(&'static str),
}

/// Char ranges whose folds are precomputed: Latin-1 Supplement, Latin Extended-A/B, and
/// General Punctuation plus currency signs (curly quotes, dashes, zero-width chars, €).
const TABLE_RANGES: [(u32, u32); 2] = [(0x80, 0x250), (0x2000, 0x20D0)];

struct FoldTable {
    low: Vec<Option<&'static str>>,
    punct: Vec<Option<&'static str>>,
}

/// The fold of every char in [`TABLE_RANGES`], computed once with the general path
/// ([`fold`]), so both paths agree by construction. `None` = not context-free (combining
/// marks) or white space mixed with other chars; a lone white space result is stored as " ".
fn fold_table() -> &'static FoldTable {
    static TABLE: std::sync::OnceLock<FoldTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let build = |(lo, hi): (u32, u32)| -> Vec<Option<&'static str>> {
            (lo..hi)
                .map(|cp| {
                    let c = char::from_u32(cp)?;
                    if is_combining_mark(c) {
                        return None;
                    }
                    let mut out = String::new();
                    fold(c.encode_utf8(&mut [0; 4]), true, &mut out, None);
                    if out.contains(char::is_whitespace) && out != " " {
                        return None;
                    }
                    // Leaked once per process: a few hundred short strings.
                    Some(&*Box::leak(out.into_boxed_str()))
                })
                .collect()
        };
        FoldTable {
            low: build(TABLE_RANGES[0]),
            punct: build(TABLE_RANGES[1]),
        }
    })
}

#[inline]
fn lookup(table: &FoldTable, c: char) -> Folded {
    let cp = c as u32;
    let hit = if cp < TABLE_RANGES[0].1 {
        table.low.get((cp - TABLE_RANGES[0].0) as usize)
    } else if (TABLE_RANGES[1].0..TABLE_RANGES[1].1).contains(&cp) {
        table.punct.get((cp - TABLE_RANGES[1].0) as usize)
    } else {
        None
    };
    match hit {
        Some(Some(" ")) => Folded::Space,
        Some(Some(s)) => Folded::Str(s),
        _ => Folded::Slow,
    }
}

/// The normalising fold (lowercase) used for notes and terms: runs of ASCII are copied and
/// lowercased in bulk, non-ASCII chars of the common ranges come from [`fold_table`], the rest
/// (and anything context-dependent) goes through the general path [`fold`], char by char.
/// Produces exactly what `fold(s, true, ..)` produces (tested).
fn fold_fast(
    s: &str,
    out: &mut String,
    map: Option<&mut OffsetMap>,
    folded: Option<&mut Vec<u32>>,
) {
    with_homoglyphs(s, out, map, folded, fold_fast_pass);
}

fn fold_fast_pass(
    s: &str,
    out: &mut String,
    mut map: Option<&mut OffsetMap>,
    homo: &mut Homoglyphs<'_>,
) {
    let b = s.as_bytes();
    let table = fold_table();
    // ASCII runs are copied as they are and lowercased at the end in one pass (one long
    // loop the compiler vectorises, not one short one per run). Nothing below looks at the
    // case of what is already out: the folds of non-ASCII chars are lowercase, and the
    // general path's look back (a combining ring after `a`) accepts either case.
    let first = out.len();
    // Offsets beyond u32 are not reachable: records are limited far below 4 GiB.
    let off = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let mut i = 0;
    while i < b.len() {
        let x = b[i];
        if x < 0x80 {
            if is_ascii_ws(x) {
                if !out.ends_with(' ') {
                    out.push(' ');
                    if let Some(m) = map.as_deref_mut() {
                        m.copy(off(i), 1);
                    }
                }
                i += 1;
                continue;
            }
            // A run of ASCII: no tab/line break, no doubled space.
            let start = i;
            i = ascii_run_end(b, i + 1);
            out.push_str(&s[start..i]);
            if let Some(m) = map.as_deref_mut() {
                m.copy(off(start), off(i - start));
            }
            continue;
        }
        let Some(c) = s[i..].chars().next() else {
            break;
        };
        let len = c.len_utf8();
        match lookup(table, c) {
            Folded::Str(t) => {
                out.push_str(t);
                if let Some(m) = map.as_deref_mut() {
                    m.char(off(i), off(t.len()));
                }
            }
            Folded::Space => {
                if !out.ends_with(' ') {
                    out.push(' ');
                    if let Some(m) = map.as_deref_mut() {
                        m.copy(off(i), 1);
                    }
                }
            }
            Folded::Slow => {
                // The general path on this one char, with the output so far as context (a
                // combining ring above looks at the previous char).
                fold_char(
                    c,
                    i,
                    true,
                    &mut Sink {
                        out: &mut *out,
                        map: map.as_deref_mut(),
                        homo: &mut *homo,
                    },
                );
            }
        }
        i += len;
    }
    out[first..].make_ascii_lowercase();
}

/// Characters dropped entirely: zero-width spaces and joiners, word joiner, BOM, soft hyphen,
/// Mongolian vowel separator, and other invisible format characters used to split words.
#[inline]
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
    )
}

#[inline]
fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\u{2018}'
            | '\u{2019}'
            | '\u{201B}'
            | '\u{02BC}'
            | '\u{0060}'
            | '\u{00B4}'
            | '\u{2032}'
            | '\u{FF07}'
    )
}

#[inline]
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' | '\u{2043}'
    )
}

/// Transliterations applied to a lowercased char before compatibility decomposition.
#[inline]
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'æ' => "ae",
        'ø' => "oe",
        'å' => "aa",
        'ß' => "ss",
        'œ' => "oe",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// Same as [`transliterate`] for the upper-case forms (case-keeping fold).
#[inline]
fn transliterate_keep_case(c: char) -> Option<&'static str> {
    Some(match c {
        'Æ' => "AE",
        'Ø' => "OE",
        'Å' => "AA",
        'ẞ' => "SS",
        'Œ' => "OE",
        'Ł' => "L",
        'Đ' | 'Ð' => "D",
        'Þ' => "TH",
        _ => return transliterate(c),
    })
}

struct Sink<'a, 'h> {
    out: &'a mut String,
    map: Option<&'a mut OffsetMap>,
    homo: &'a mut Homoglyphs<'h>,
}

impl Sink<'_, '_> {
    #[inline]
    fn push(&mut self, c: char, at: usize) {
        if c.is_whitespace() {
            if self.out.ends_with(' ') {
                return;
            }
            self.push_raw(' ', at);
        } else {
            self.push_raw(c, at);
        }
    }

    #[inline]
    fn push_raw(&mut self, c: char, at: usize) {
        self.out.push(c);
        if let Some(map) = self.map.as_deref_mut() {
            // Offsets beyond u32 are not reachable: records are limited far below 4 GiB.
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            map.char(at, c.len_utf8() as u32);
        }
    }

    #[inline]
    fn push_str(&mut self, s: &str, at: usize) {
        for c in s.chars() {
            self.push_raw(c, at);
        }
    }
}

/// The general path. `lower` selects lowercasing (normal) or case keeping.
fn fold(s: &str, lower: bool, out: &mut String, map: Option<&mut OffsetMap>) {
    with_homoglyphs(s, out, map, None, |s, out, map, homo| {
        let mut sink = Sink { out, map, homo };
        for (at, c) in s.char_indices() {
            fold_char(c, at, lower, &mut sink);
        }
    });
}

/// The general path for one char of the original at byte `at`.
fn fold_char(c: char, at: usize, lower: bool, sink: &mut Sink<'_, '_>) {
    if c.is_ascii() {
        let c = if lower { c.to_ascii_lowercase() } else { c };
        sink.push(c, at);
        return;
    }
    if is_ignorable(c) {
        return;
    }
    if is_combining_mark(c) {
        // A decomposed å ("a" + combining ring above) folds like the precomposed one.
        if c == '\u{030A}' {
            if sink.out.ends_with('a') {
                sink.push_raw('a', at);
            } else if sink.out.ends_with('A') {
                sink.push_raw(if lower { 'a' } else { 'A' }, at);
            }
        }
        return;
    }
    if is_apostrophe(c) {
        sink.push_raw('\'', at);
        return;
    }
    if is_dash(c) {
        sink.push_raw('-', at);
        return;
    }
    // A look-alike in its own case first (Greek "Κ" looks like "K", its lower case "κ"
    // like no Latin letter); what a char decomposes to is looked at in `fold_one`.
    if is_foreign_letter(c) && fold_homoglyph(c, at, lower, sink) {
        return;
    }
    if lower {
        for lc in c.to_lowercase() {
            fold_one(lc, true, sink, at);
        }
    } else {
        fold_one(c, false, sink, at);
    }
}

#[inline]
fn fold_one(c: char, lower: bool, sink: &mut Sink<'_, '_>, at: usize) {
    let translit = if lower {
        transliterate(c)
    } else {
        transliterate_keep_case(c)
    };
    if let Some(t) = translit {
        sink.push_str(t, at);
        return;
    }
    if c.is_ascii() {
        sink.push(c, at);
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || is_ignorable(d) {
            return;
        }
        // Every char that is neither ASCII, nor from the fold's table, nor special above
        // arrives here, decomposed (a mathematical bold omicron as a Greek omicron).
        if is_foreign_letter(d) && fold_homoglyph(d, at, lower, sink) {
            return;
        }
        if is_apostrophe(d) {
            sink.push_raw('\'', at);
        } else if is_dash(d) {
            sink.push_raw('-', at);
        } else if lower && d.is_uppercase() {
            // Full-width and other compatibility forms may decompose to upper case.
            for l in d.to_lowercase() {
                if !(is_foreign_letter(l) && fold_homoglyph(l, at, lower, sink)) {
                    push_transliterated(l, true, sink, at);
                }
            }
        } else {
            push_transliterated(d, lower, sink, at);
        }
    });
}

/// A foreign letter `c` (of the char at original byte `at`): inside a mixed word, push the
/// Latin letters of its skeleton and say so; else note that a foreign letter was seen.
fn fold_homoglyph(c: char, at: usize, lower: bool, sink: &mut Sink<'_, '_>) -> bool {
    sink.homo.saw_foreign = true;
    if !sink.homo.in_mixed(at) {
        return false;
    }
    let Some((letters, n)) = latin_skeleton(c) else {
        return false;
    };
    for &x in &letters[..n] {
        let x = if lower { x.to_ascii_lowercase() } else { x };
        sink.push_raw(char::from(x), at);
    }
    sink.homo.record(at);
    true
}

/// Push a char produced by decomposition, transliterating it (a modifier letter may
/// decompose to æ, which must still become "ae").
#[inline]
fn push_transliterated(c: char, lower: bool, sink: &mut Sink<'_, '_>, at: usize) {
    let translit = if lower {
        transliterate(c)
    } else {
        transliterate_keep_case(c)
    };
    match translit {
        Some(t) => sink.push_str(t, at),
        None => sink.push(c, at),
    }
}

/// `s.starts_with(prefix)`, ASCII case-insensitively (`prefix` is normalised, so lowercase).
/// Used by the lexicon loader and the matcher's checks alike.
#[inline]
pub(crate) fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_word_blocks_hold_no_alphanumeric() {
        for &(lo, hi) in &NOT_WORD_BLOCKS {
            for c in lo..=hi {
                assert!(!c.is_alphanumeric(), "{:04X} is alphanumeric", u32::from(c));
            }
        }
    }
    use super::*;

    fn check_map(original: &str) {
        let n = NormalizedText::of(original);
        let t = n.as_str();
        for (i, _) in t.char_indices() {
            let o = n.original_offset(i);
            assert!(original.is_char_boundary(o), "{original:?} byte {i} -> {o}");
        }
    }

    #[test]
    fn folds_scandinavian_and_diacritics() {
        assert_eq!(normalize("KRÆFT"), "kraeft");
        assert_eq!(normalize("kræft"), "kraeft");
        assert_eq!(normalize("kraeft"), "kraeft");
        assert_eq!(normalize("Kørestol"), "koerestol");
        assert_eq!(normalize("Århus"), "aarhus");
        assert_eq!(normalize("A\u{30A}rhus"), "aarhus");
        assert_eq!(normalize("patiënt"), "patient");
        assert_eq!(normalize("Épilepsie"), "epilepsie");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("STRAẞE"), "strasse");
        assert_eq!(normalize("e\u{301}e"), "ee");
    }

    #[test]
    fn folds_compatibility_forms() {
        assert_eq!(normalize("ﬁnance"), "finance");
        assert_eq!(normalize("ＤＩＡＢＥＴＥＳ"), "diabetes");
        assert_eq!(normalize("a\u{00A0}b"), "a b");
    }

    #[test]
    fn drops_invisible_and_unifies_punctuation() {
        assert_eq!(normalize("kan\u{200B}ker"), "kanker");
        assert_eq!(normalize("kan\u{00AD}ker"), "kanker");
        assert_eq!(normalize("VVD\u{2019}er"), "vvd'er");
        assert_eq!(normalize("COPD\u{2013}patiënt"), "copd-patient");
        assert_eq!(normalize("in  het\n\tziekenhuis"), "in het ziekenhuis");
    }

    fn ascii_run_end_naive(b: &[u8], mut i: usize) -> usize {
        while i < b.len() {
            let y = b[i];
            if y >= 0x80 || matches!(y, b'\t'..=b'\r') || (y == b' ' && b[i - 1] == b' ') {
                break;
            }
            i += 1;
        }
        i
    }

    proptest::proptest! {
        #[test]
        fn ascii_run_end_agrees_with_bytewise(
            s in "[a-zA-Z0-9 \\t\\n\\r\\x0b\\x0c\\x08\\x0e\\x1f!,.é€]{1,80}",
            at in 1usize..80,
        ) {
            let b = s.as_bytes();
            let at = at.min(b.len());
            proptest::prop_assert_eq!(ascii_run_end(b, at), ascii_run_end_naive(b, at));
        }
    }

    /// The per-byte map by definition: fold char by char with the general path and give
    /// every byte a char adds the char's offset.
    fn map_per_byte(s: &str) -> (String, Vec<u32>) {
        let mut homo = Homoglyphs::default();
        let mut sink = Sink {
            out: &mut String::new(),
            map: None,
            homo: &mut homo,
        };
        let mut map = Vec::new();
        for (at, c) in s.char_indices() {
            fold_char(c, at, true, &mut sink);
            map.resize(sink.out.len(), at as u32);
        }
        (sink.out.clone(), map)
    }

    proptest::proptest! {
        /// The runs of the offset map say, byte for byte, what a map of one offset per byte
        /// says (on the fast and the general path, through `NormalizedText`).
        #[test]
        fn offset_runs_equal_per_byte_map(
            s in "([a-zA-Z0-9,.'-]|[ \t\n]|[æøåÆØÅéëüßœ]|\u{301}|\u{30A}|\u{200B}|\u{00A0}|[ﬁＡ½€😀’–]){0,40}",
        ) {
            let (text, map) = map_per_byte(&s);
            let n = NormalizedText::of(&s);
            proptest::prop_assert_eq!(n.as_str(), text.as_str());
            let got: Vec<u32> = (0..text.len()).map(|i| n.original_offset(i) as u32).collect();
            proptest::prop_assert_eq!(&got, &map);
            let mut out = String::new();
            let mut runs = OffsetMap::default();
            fold_fast(&s, &mut out, Some(&mut runs), None);
            proptest::prop_assert_eq!(runs.to_vec(), map.clone());
            let mut runs = OffsetMap::default();
            fold(&s, true, &mut String::new(), Some(&mut runs));
            proptest::prop_assert_eq!(runs.to_vec(), map);
        }
    }

    #[test]
    fn keep_case_fold() {
        assert_eq!(fold_keep_case("KRÆFT"), "KRAEFT");
        assert_eq!(fold_keep_case("Venstre"), "Venstre");
        assert_eq!(fold_keep_case("Ødegård"), "OEdegaard");
    }

    #[test]
    fn offsets_map_to_char_boundaries() {
        for s in [
            "Kræftramt 😀 patiënt",
            "e\u{301}\u{200B}x",
            "ﬁ ＡＢ ß",
            "İstanbul",
            "a\u{30A}",
            "",
            "plain ascii",
            "double  space",
        ] {
            check_map(s);
        }
    }

    /// The table-driven fast fold must produce exactly what the general path produces.
    #[test]
    fn fast_fold_equals_general_fold() {
        let slow = |s: &str| {
            let mut out = String::new();
            let mut map = OffsetMap::default();
            fold(s, true, &mut out, Some(&mut map));
            (out, map.to_vec())
        };
        let fast = |s: &str| {
            let mut out = String::new();
            let mut map = OffsetMap::default();
            fold_fast(s, &mut out, Some(&mut map), None);
            (out, map.to_vec())
        };
        let contexts = ["", "a", "A", " ", "x ", "\t"];
        for cp in (0..0x3100).chain(0xFB00..0xFB10).chain(0xFF00..0xFF70) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for pre in contexts {
                for post in ["", " ", "\u{30A}", "b", "\n x"] {
                    let s = format!("{pre}{c}{post}{c}");
                    assert_eq!(fast(&s), slow(&s), "U+{cp:04X} in {s:?}");
                }
            }
        }
        for s in [
            "Kræftramt 😀 patiënt  in\u{00A0}\u{00A0}het\n\tZIEKENHUIS",
            "  leading and trailing  ",
            "A\u{30A}RHUS \u{2003} \u{00A0}x\u{2019}s",
            "İstanbul ǅ ½ ¨x",
        ] {
            assert_eq!(fast(s), slow(s), "{s:?}");
        }
    }

    #[test]
    fn zero_copy_search_text() {
        let mut n = NormalizedText::new();
        n.normalize_for_search("Plain ASCII Note");
        assert_eq!(n.search_text("Plain ASCII Note"), "Plain ASCII Note");
        assert_eq!(n.original_offset(3), 3);
        n.normalize_for_search("Two  spaces");
        assert_eq!(n.search_text("Two  spaces"), "two spaces");
        n.normalize_for_search("Kræft");
        assert_eq!(n.search_text("Kræft"), "kraeft");
    }

    #[test]
    fn original_range_covers_whole_chars() {
        let original = "hej KRÆFT! ok";
        let n = NormalizedText::of(original);
        let start = n.as_str().find("kraeft").unwrap();
        let (s, e) = n.original_range(original, start, start + "kraeft".len());
        assert_eq!(&original[s..e], "KRÆFT");
    }

    #[test]
    fn original_range_includes_trailing_combining_mark() {
        let original = "cafe\u{301} ok";
        let n = NormalizedText::of(original);
        let (s, e) = n.original_range(original, 0, 4);
        assert_eq!(&original[s..e], "cafe\u{301}");
    }
}

//! Word lookups of the grader: [`FunctionWords`], the languages of a token by the function
//! words that list it (every token of a graded note, for the vote), and [`WordIndex`], words
//! to values (the first parts of cue words, looked up only near findings).

use std::collections::HashMap;

/// Eight bytes with the ASCII case bit set: lower-case letters, digits as they are.
const CASE: u64 = 0x2020_2020_2020_2020;
/// The high bit of eight bytes (a byte that is not ASCII).
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The function words of the cue files and the languages (bit `Lang as usize`) whose files
/// list each, for one lookup per token of a note.
///
/// A word of ASCII letters and digits of up to 16 bytes (every built-in one) is kept packed,
/// as two `u64`s of its bytes with the case bit set and zeros past its end, in an open
/// addressing table: a token is read as two loads, hashed by one multiplication and compared
/// as two integers, with no pointer to follow, and the table of first halves (8 bytes a
/// slot) stays in the L1 cache beside the automaton's tables. The few other words (longer, or
/// not ASCII) are in a [`WordIndex`], which only tokens that cannot be packed look into: a
/// token of ASCII letters and digits of up to 16 bytes equals no such word.
#[derive(Clone, Debug)]
pub(super) struct FunctionWords {
    /// Per slot the first eight bytes of a packed word (0: empty; no word packs to 0).
    heads: Vec<u64>,
    /// Per slot the next eight bytes and the word's language bits.
    tails: Vec<(u64, u8)>,
    /// `heads.len() - 1` (a power of two minus one).
    mask: usize,
    /// The words that are not packed.
    other: WordIndex<u8>,
}

impl Default for FunctionWords {
    fn default() -> FunctionWords {
        FunctionWords::build(HashMap::new())
    }
}

/// The first `n` (0..=8) of eight bytes `x` with the case bit set, zero above.
#[inline]
fn fold(x: u64, n: usize) -> u64 {
    match n {
        0 => 0,
        8 => x | CASE,
        _ => (x | CASE) & ((1u64 << (8 * n)) - 1),
    }
}

#[inline]
fn packed_slot(head: u64, tail: u64, mask: usize) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let h = (head ^ tail.rotate_left(29)).wrapping_mul(K);
    (h >> 40) as usize & mask
}

impl FunctionWords {
    /// Index `words` (word → language bits).
    pub(super) fn build(words: HashMap<String, u8>) -> FunctionWords {
        // Words that differ only in ASCII case pack alike: their languages are merged.
        let mut packed: HashMap<(u64, u64), u8> = HashMap::new();
        let mut other = Vec::new();
        for (w, bits) in words {
            let b = w.as_bytes();
            if b.len() <= 16 && !b.is_empty() && b.iter().all(u8::is_ascii_alphanumeric) {
                let mut buf = [0u8; 24];
                buf[..b.len()].copy_from_slice(b);
                let head = fold(load8(&buf, 0, 8), b.len().min(8));
                let tail = fold(load8(&buf, 8, 8), b.len().saturating_sub(8));
                *packed.entry((head, tail)).or_default() |= bits;
            } else {
                other.push((w, bits));
            }
        }
        let size = (packed.len() * 2).next_power_of_two().max(16);
        let mask = size - 1;
        let mut heads = vec![0u64; size];
        let mut tails = vec![(0u64, 0u8); size];
        for ((head, tail), bits) in packed {
            let mut i = packed_slot(head, tail, mask);
            while heads[i] != 0 {
                i = (i + 1) & mask;
            }
            heads[i] = head;
            tails[i] = (tail, bits);
        }
        FunctionWords {
            heads,
            tails,
            mask,
            other: WordIndex::build(other),
        }
    }

    /// The language bits of the token `buf[s..e]` (0: no function word), ASCII case ignored.
    #[inline]
    pub(super) fn get(&self, buf: &[u8], s: usize, e: usize) -> u8 {
        let len = e - s;
        if len <= 16 {
            let head = load8(buf, s, len.min(8));
            let tail = if len > 8 { load8(buf, s + 8, len - 8) } else { 0 };
            if (head | tail) & HIGH == 0 {
                let (head, tail) = (fold(head, len.min(8)), fold(tail, len.saturating_sub(8)));
                let mut i = packed_slot(head, tail, self.mask);
                loop {
                    let h = self.heads[i];
                    if h == head && self.tails[i].0 == tail {
                        return self.tails[i].1;
                    }
                    if h == 0 {
                        return 0;
                    }
                    i = (i + 1) & self.mask;
                }
            }
        }
        self.other
            .get(hash_at(buf, s, e), buf, s, e)
            .copied()
            .unwrap_or(0)
    }
}

/// Words (ASCII case ignored) to values: [`word_hash`] (eight bytes a step), open addressing.
/// A token is hashed once, with no lower-cased copy; most tokens find an empty slot at once.
/// (A `HashMap<String, _>` lookup, SipHash and a copy for upper-case tokens, was most of the
/// grading's cost on `--terms` notes.)
#[derive(Clone, Debug)]
pub(super) struct WordIndex<V> {
    /// Slot → index into `words` + 1 (0 = empty); the length is a power of two.
    slots: Vec<u32>,
    /// Each word with eight zero bytes after it (its last eight bytes are read as one), its
    /// hash and its value.
    words: Vec<(Vec<u8>, u64, V)>,
}

pub(super) fn word_hash(word: &[u8]) -> u64 {
    hash_at(word, 0, word.len())
}

/// [`word_hash`] of `buf[s..e]`, reading eight bytes a step (`buf` around the word lets the
/// last step read a whole eight and mask what is past the word).
// Eight bytes at a time, each with its 0x20 bit set: ASCII letters in lower case, digits as
// they are (a word token holds nothing else of ASCII). Two non-ASCII bytes may hash alike;
// the comparison after the hash is exact.
#[inline]
pub(super) fn hash_at(buf: &[u8], s: usize, e: usize) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, x: u64| (h.rotate_left(5) ^ (x | CASE)).wrapping_mul(K);
    let mut h = (e - s) as u64;
    let mut i = s;
    while i + 8 <= e {
        h = step(h, load8(buf, i, 8));
        i += 8;
    }
    if i < e {
        h = step(h, load8(buf, i, e - i));
    }
    h ^ (h >> 32)
}

/// Whether `word` (with eight zero bytes after it) is `buf[s..e]`, ASCII case ignored: eight
/// bytes a step with the case bit set, and byte by byte when the token is not ASCII (where
/// the case bit may tell two bytes apart).
#[inline]
pub(super) fn eq_at(word: &[u8], buf: &[u8], s: usize, e: usize) -> bool {
    let len = e - s;
    if word.len() != len + 8 {
        return false;
    }
    let mut high = 0;
    let mut i = 0;
    while i < len {
        let n = (len - i).min(8);
        let t = load8(buf, s + i, n);
        high |= t;
        if load8(word, i, 8) | CASE != t | CASE {
            return false;
        }
        i += 8;
    }
    high & HIGH == 0 || word[..len].eq_ignore_ascii_case(&buf[s..e])
}

/// The `n` (1..=8) bytes of `buf` at `at`, little-endian, zero above.
#[inline]
pub(super) fn load8(buf: &[u8], at: usize, n: usize) -> u64 {
    if let Some(w) = buf.get(at..at + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        if n == 8 {
            x
        } else {
            x & ((1u64 << (8 * n)) - 1)
        }
    } else {
        buf[at..at + n]
            .iter()
            .enumerate()
            .fold(0, |x, (i, &b)| x | u64::from(b) << (8 * i))
    }
}

impl<V> Default for WordIndex<V> {
    fn default() -> WordIndex<V> {
        WordIndex {
            slots: Vec::new(),
            words: Vec::new(),
        }
    }
}

impl<V> WordIndex<V> {
    pub(super) fn build(entries: Vec<(String, V)>) -> WordIndex<V> {
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![0u32; size];
        let mut words = Vec::with_capacity(entries.len());
        for (w, v) in entries {
            let h = word_hash(w.as_bytes());
            let mut i = (h as usize) & (size - 1);
            while slots[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            let mut padded = w.into_bytes();
            padded.extend_from_slice(&[0; 8]);
            words.push((padded, h, v));
            slots[i] = u32::try_from(words.len()).unwrap_or(u32::MAX);
        }
        WordIndex { slots, words }
    }

    /// The value of the token `buf[s..e]`, whose hash ([`hash_at`]) is `h`.
    pub(super) fn get(&self, h: u64, buf: &[u8], s: usize, e: usize) -> Option<&V> {
        if self.words.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let slot = self.slots[i] as usize;
            if slot == 0 {
                return None;
            }
            let (w, wh, v) = &self.words[slot - 1];
            if *wh == h && eq_at(w, buf, s, e) {
                return Some(v);
            }
            i = (i + 1) & mask;
        }
    }
}


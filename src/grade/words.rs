//! Word lookups of the grader: [`FunctionWords`], the languages of a token by the function
//! words that list it (every token of a graded note, for the vote), and [`WordIndex`], words
//! to values (the first parts of cue words, looked up only near findings).

use std::collections::HashMap;

/// Eight bytes with the ASCII case bit set: lower-case letters, digits as they are.
const CASE: u64 = 0x2020_2020_2020_2020;
/// The high bit of eight bytes (a byte that is not ASCII).
const HIGH: u64 = 0x8080_8080_8080_8080;

/// What a token is to the grader: the languages whose function words list it (bit `Lang as
/// usize`), and the cue words whose first part it is ([`WordTable::refs`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Looked {
    pub(super) function: u8,
    pub(super) refs: Cues,
}

/// Where a word's cue words are: 0 for none, else one more than a slot of the table (its
/// second half holds the range of [`WordTable::refs`]) or, past the slots, than the number
/// of a word that is not packed (its range in `other_refs`). Four bytes, so that a
/// [`Looked`] is eight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Cues(pub(super) u32);

/// The function words and the first parts of cue words of the cue files, for one lookup per
/// token of a note.
///
/// Every token of a graded note is looked up, so the lookup is kept to a few instructions:
/// one table, and one probe that nearly always ends in one 8-byte slot. (The 4,096 slots
/// are 32 KiB; a cache simulation of a `--terms` scan, `valgrind --tool=cachegrind`, put
/// 2,600 L1 misses on 59,000 lookups: the table stays in the cache between graded notes.)
/// A word of ASCII letters and digits
/// of up to 16 bytes (every built-in one) is kept packed: its first eight bytes with the
/// case bit set and zeros past its end, in one `u64` slot whose free high bits (ASCII bytes
/// leave bit 7 of each byte clear) hold what a lookup needs: its function-word languages,
/// whether it begins cue words, and whether it is longer than eight bytes. Only then is the
/// slot's second half read ([`WordTable::tails`]: the next eight bytes and the cue words). A
/// token is read as one or two loads, hashed by one multiplication and compared as integers.
/// The few other words (longer, or not ASCII) are in a [`WordIndex`], which only tokens that
/// cannot be packed look into: a token of ASCII letters and digits of up to 16 bytes equals
/// no such word.
#[derive(Clone, Debug)]
pub(super) struct WordTable<R> {
    /// Per slot a packed word's first eight bytes and its [`META`] bits (0: empty).
    heads: Vec<u64>,
    /// Per slot the next eight bytes and the range of its cue words in `refs`.
    tails: Vec<(u64, u32, u32)>,
    /// `heads.len() - 1` (a power of two minus one).
    mask: usize,
    /// The cue words of every word, each word's together.
    refs: Vec<R>,
    /// The range in `refs` of each word that is not packed ([`Cues`]).
    other_refs: Vec<(u32, u32)>,
    /// The words that are not packed: their function bits and range in `refs`.
    other: WordIndex<Looked>,
    /// Bit `n` (`n` under 63) set when a word that is not packed is `n` bytes long, bit 63 for
    /// the longer ones: a long compound token ("onderhoudscontract") of a length no such word
    /// has is let go without hashing it.
    other_lens: u64,
}

/// The high bits of the first three bytes of a packed head: the function-word languages.
const FUNCTION_BITS: [u64; 3] = [1 << 7, 1 << 15, 1 << 23];
/// The high bit of the fourth byte: the word begins cue words.
const STARTS_CUES: u64 = 1 << 31;
/// The high bit of the fifth byte: a word whose first slot is this one lies in a later slot
/// (linear probing moved it on). Without it, a token whose first slot holds another word is
/// not in the table: no probe further, and no branch that a note's tokens toss a coin on.
const MOVED_ON: u64 = 1 << 39;
/// The high bit of the eighth byte: the word is longer than eight bytes.
const LONG: u64 = 1 << 63;
/// Every bit that is not the word's bytes (`LONG` is part of the key).
const META: u64 = FUNCTION_BITS[0] | FUNCTION_BITS[1] | FUNCTION_BITS[2] | STARTS_CUES | MOVED_ON;

/// Per `n` (0..=8), the low `n` bytes set: a table, not a shift that needs a branch for 0
/// and 8.
const LOW_BYTES: [u64; 9] = {
    let mut t = [0u64; 9];
    let mut n = 1;
    while n < 8 {
        t[n] = (1u64 << (8 * n)) - 1;
        n += 1;
    }
    t[8] = u64::MAX;
    t
};

/// Per token length (0..=16; 17 for any longer), the mask of its first eight bytes.
const HEAD_MASK: [u64; 18] = {
    let mut t = [0u64; 18];
    let mut n = 0;
    while n < 18 {
        t[n] = LOW_BYTES[if n < 8 { n } else { 8 }];
        n += 1;
    }
    t
};

/// Per token length (0..=16; 17 for any longer), the mask of its next eight bytes.
const TAIL_MASK: [u64; 18] = {
    let mut t = [0u64; 18];
    let mut n = 9;
    while n < 18 {
        t[n] = LOW_BYTES[if n < 16 { n - 8 } else { 8 }];
        n += 1;
    }
    t
};

/// The function-word language bits of a head (bits 7, 15 and 23: [`FUNCTION_BITS`]) as bits
/// 0, 1 and 2, by one multiplication: bit 7 moves up 54 places to 61, bit 15 up 47 to 62,
/// bit 23 up 40 to 63; the other products land below bit 56 or past bit 63, and no two on
/// one bit (no carries).
#[inline]
pub(super) fn function_bits(h: u64) -> u8 {
    const GATHER: u64 = (1 << 54) | (1 << 47) | (1 << 40);
    let f = h & FUNCTION_MASK;
    (f.wrapping_mul(GATHER) >> 61) as u8
}

/// Heads to test [`function_bits`] on: every other bit clear, set, or some of each.
#[cfg(test)]
pub(super) const TEST_HEADS: [u64; 4] = [
    0,
    u64::MAX,
    0x6f6c_6c65_685f_7878,
    LONG | MOVED_ON | STARTS_CUES,
];
/// The function-word bits of a head.
pub(super) const FUNCTION_MASK: u64 = FUNCTION_BITS[0] | FUNCTION_BITS[1] | FUNCTION_BITS[2];

/// The first `n` (0..=8) of eight bytes `x` with the case bit set, zero above.
#[inline]
fn fold(x: u64, n: usize) -> u64 {
    (x | CASE) & LOW_BYTES[n.min(8)]
}

#[inline]
fn packed_slot(head: u64, mask: usize) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    (head.wrapping_mul(K) >> 40) as usize & mask
}

impl<R: Copy> Default for WordTable<R> {
    fn default() -> WordTable<R> {
        WordTable::build(HashMap::new())
    }
}

impl<R: Copy> WordTable<R> {
    /// Index `words`: each word's function-word language bits and the cue words whose
    /// first part it is.
    pub(super) fn build(words: HashMap<String, (u8, Vec<R>)>) -> WordTable<R> {
        // Words that differ only in ASCII case pack alike: merged.
        let mut packed: HashMap<(u64, u64), (u8, Vec<R>)> = HashMap::new();
        let mut other = Vec::new();
        let mut refs = Vec::new();
        for (w, (bits, cues)) in words {
            let b = w.as_bytes();
            if b.len() <= 16 && !b.is_empty() && b.iter().all(u8::is_ascii_alphanumeric) {
                let mut buf = [0u8; 24];
                buf[..b.len()].copy_from_slice(b);
                let long = if b.len() > 8 { LONG } else { 0 };
                let head = fold(load8(&buf, 0, 8), b.len().min(8)) | long;
                let tail = fold(load8(&buf, 8, 8), b.len().saturating_sub(8));
                let entry = packed.entry((head, tail)).or_default();
                entry.0 |= bits;
                entry.1.extend(cues);
            } else {
                other.push((w, bits, cues));
            }
        }
        let size = (packed.len() * 2).next_power_of_two().max(16);
        // The words that are not packed, numbered after the slots.
        let mut other_refs = Vec::new();
        let other_lens = other
            .iter()
            .fold(0u64, |bits, (w, _, _)| bits | 1 << w.len().min(63));
        let other = other
            .into_iter()
            .map(|(w, bits, cues)| {
                let start = refs.len() as u32;
                refs.extend(cues);
                other_refs.push((start, refs.len() as u32));
                let looked = Looked {
                    function: bits,
                    refs: Cues((size + other_refs.len()) as u32),
                };
                (w, looked)
            })
            .collect();
        let mask = size - 1;
        let mut heads = vec![0u64; size];
        let mut tails = vec![(0u64, 0u32, 0u32); size];
        // In a fixed order, so that the table (and the order of a word's cue words) is the
        // same in every build.
        let mut packed: Vec<_> = packed.into_iter().collect();
        packed.sort_unstable_by_key(|&((head, tail), _)| (head, tail));
        for ((head, tail), (bits, cues)) in packed {
            let first = packed_slot(head, mask);
            let mut i = first;
            while heads[i] != 0 {
                i = (i + 1) & mask;
            }
            if i != first {
                heads[first] |= MOVED_ON;
            }
            let mut meta = 0;
            for (l, bit) in FUNCTION_BITS.iter().enumerate() {
                if bits >> l & 1 == 1 {
                    meta |= bit;
                }
            }
            if !cues.is_empty() {
                meta |= STARTS_CUES;
            }
            let start = refs.len() as u32;
            refs.extend(cues);
            heads[i] = head | meta;
            tails[i] = (tail, start, refs.len() as u32);
        }
        WordTable {
            heads,
            tails,
            mask,
            refs,
            other_refs,
            other: WordIndex::build(other),
            other_lens,
        }
    }

    /// What the token `buf[s..e]` is (ASCII case ignored).
    #[cfg(test)]
    pub(super) fn get(&self, buf: &[u8], s: usize, e: usize) -> Looked {
        match self.key(buf, s, e) {
            Some(key) => self.find(key, self.head(key.2)),
            None => self.other(buf, s, e),
        }
    }

    /// The packed key of the token `buf[s..e]` (its first eight bytes with the [`LONG`] bit,
    /// its next eight) and its first slot; `None` when it cannot be packed (longer than 16
    /// bytes, or not ASCII: see [`WordTable::other`]).
    #[inline]
    pub(super) fn key(&self, buf: &[u8], s: usize, e: usize) -> Option<(u64, u64, usize)> {
        let len = e - s;
        if len > 16 {
            return None;
        }
        // The tail read whatever the length (zero bytes of it for a short token): a branch on
        // the length would be a guess on every token.
        let head = load8(buf, s, len.min(8));
        let tail = load8(buf, s + 8, len.saturating_sub(8));
        if (head | tail) & HIGH != 0 {
            return None;
        }
        let long = if len > 8 { LONG } else { 0 };
        let head = fold(head, len.min(8)) | long;
        let tail = fold(tail, len.saturating_sub(8));
        Some((head, tail, packed_slot(head, self.mask)))
    }

    /// What the token `pad[s..e]` is (ASCII case ignored), where `pad` holds at least 16
    /// bytes from `s` (the note and zero bytes after it): [`WordTable::key`] and
    /// [`WordTable::find`] with the token's first 16 bytes read as two loads and no test of
    /// where the buffer ends.
    #[inline]
    pub(super) fn look(&self, pad: &[u8], s: usize, e: usize) -> Looked {
        let len = e - s;
        let Some((a, b)) = pad.get(s..s + 16).map(|w| w.split_at(8)) else {
            return match self.key(pad, s, e) {
                Some(key) => self.find(key, self.head(key.2)),
                None => self.other(pad, s, e),
            };
        };
        let (n, m) = (len.min(8), len.saturating_sub(8).min(8));
        let head = u64::from_le_bytes(a.try_into().unwrap_or_default()) & LOW_BYTES[n];
        let tail = u64::from_le_bytes(b.try_into().unwrap_or_default()) & LOW_BYTES[m];
        if len > 16 || (head | tail) & HIGH != 0 {
            return self.other(pad, s, e);
        }
        let long = if len > 8 { LONG } else { 0 };
        let head = (head | CASE) & LOW_BYTES[n] | long;
        let tail = (tail | CASE) & LOW_BYTES[m];
        let slot = packed_slot(head, self.mask);
        self.find((head, tail, slot), self.head(slot))
    }

    /// [`WordTable::look`] of every token of `tokens` (in `pad`, the note and at least 16
    /// zero bytes after it), appended to `out`; returns the sum of `votes[function bits]`
    /// over the tokens.
    ///
    /// One loop with the table's fields in registers, the masks of a token's length read
    /// from tables ([`HEAD_MASK`], [`TAIL_MASK`]), the answer without branches, and one
    /// branch a token, for the rare token that its first slot does not decide or that cannot
    /// be packed (the closure over [`WordTable::look`] this replaces kept its state on the
    /// stack and ran ~100 instructions a token).
    #[inline(never)]
    pub(super) fn look_all(
        &self,
        pad: &[u8],
        tokens: &[(usize, usize)],
        votes: &[u64; 8],
        out: &mut Vec<Looked>,
    ) -> u64 {
        let heads = &self.heads[..];
        let mask = self.mask;
        let mut sum = 0u64;
        let at = out.len();
        out.resize(at + tokens.len(), Looked::default());
        for (o, &(s, e)) in out[at..].iter_mut().zip(tokens) {
            let len = (e - s).min(17);
            let (a, b) = match pad.get(s..s + 16) {
                Some(w) => (
                    u64::from_le_bytes(w[..8].try_into().unwrap_or_default()),
                    u64::from_le_bytes(w[8..].try_into().unwrap_or_default()),
                ),
                None => (HIGH, 0),
            };
            let (hm, tm) = (HEAD_MASK[len], TAIL_MASK[len]);
            let plain = (((a & hm) | (b & tm)) & HIGH == 0) & (len <= 16);
            // Bit 0 of the tail mask is set for a token over eight bytes: LONG.
            let key = (a | CASE) & hm | tm << 63;
            let tail = (b | CASE) & tm;
            let slot = packed_slot(key, mask);
            let first = heads.get(slot).copied().unwrap_or(0);
            let found = first & !META == key;
            let decided = (found & (key & LONG == 0)) | (!found & (first & MOVED_ON == 0));
            let looked = if decided & plain {
                let h = first & 0u64.wrapping_sub(u64::from(found));
                Looked {
                    function: function_bits(h),
                    refs: Cues((h >> 31 & 1) as u32 * (slot as u32 + 1)),
                }
            } else if plain {
                self.find_cold((key, tail, slot), first)
            } else {
                self.other_cold(pad, s, e)
            };
            sum += votes[usize::from(looked.function & 7)];
            *o = looked;
        }
        sum
    }

    /// [`WordTable::find`] out of [`WordTable::look_all`]'s loop.
    #[cold]
    #[inline(never)]
    fn find_cold(&self, key: (u64, u64, usize), first: u64) -> Looked {
        self.find(key, first)
    }

    /// [`WordTable::look`] of a token that cannot be packed, out of
    /// [`WordTable::look_all`]'s loop.
    #[cold]
    #[inline(never)]
    fn other_cold(&self, pad: &[u8], s: usize, e: usize) -> Looked {
        self.look(pad, s, e)
    }

    /// The head in `slot` (a first slot from [`WordTable::key`]).
    #[inline]
    pub(super) fn head(&self, slot: usize) -> u64 {
        self.heads.get(slot).copied().unwrap_or(0)
    }

    /// What the token of `key` is, given the head of its first slot.
    #[inline(always)]
    pub(super) fn find(&self, (head, tail, slot): (u64, u64, usize), first: u64) -> Looked {
        // Most tokens are decided by their first slot: a word of up to eight bytes that is
        // the token, or any other word (or none) with no word of this first slot moved on
        // past it. One branch for both, and the answer without branches: a branch on "found"
        // is a coin toss on a note's tokens.
        let found = first & !META == head;
        // Bits, not `&&`: each operand a branch of its own was mispredicted as often.
        let decided = (found & (head & LONG == 0)) | (!found & (first & MOVED_ON == 0));
        if decided {
            let h = first & 0u64.wrapping_sub(u64::from(found));
            return Looked {
                function: ((h >> 7 & 1) | (h >> 14 & 2) | (h >> 21 & 4)) as u8,
                refs: Cues(if h & STARTS_CUES != 0 {
                    slot as u32 + 1
                } else {
                    0
                }),
            };
        }
        let mut i = slot;
        let mut h = first;
        loop {
            if h & !META == head {
                // A word of up to eight bytes is decided by its head alone; its cue words
                // are read later, if at all.
                let t = if h & LONG != 0 { self.tails[i].0 } else { 0 };
                let refs = Cues(i as u32 + 1);
                if t == tail {
                    // FUNCTION_BITS[l] is bit 8l + 7: moved down to bit l.
                    let function = ((h >> 7 & 1) | (h >> 14 & 2) | (h >> 21 & 4)) as u8;
                    let refs = if h & STARTS_CUES != 0 { refs } else { Cues(0) };
                    return Looked { function, refs };
                }
            }
            if h == 0 {
                return Looked::default();
            }
            i = (i + 1) & self.mask;
            h = self.heads[i];
        }
    }

    /// What a token that cannot be packed is (the words that are not packed).
    #[inline]
    pub(super) fn other(&self, buf: &[u8], s: usize, e: usize) -> Looked {
        if self.other_lens >> (e - s).min(63) & 1 == 0 {
            return Looked::default();
        }
        self.other
            .get(hash_at(buf, s, e), buf, s, e)
            .copied()
            .unwrap_or_default()
    }

    /// The cue words of a [`Looked`].
    #[inline]
    pub(super) fn refs(&self, cues: Cues) -> &[R] {
        let Some(k) = (cues.0 as usize).checked_sub(1) else {
            return &[];
        };
        let (a, b) = match self.tails.get(k) {
            Some(&(_, a, b)) => (a, b),
            None => self
                .other_refs
                .get(k - self.tails.len())
                .copied()
                .unwrap_or((0, 0)),
        };
        self.refs.get(a as usize..b as usize).unwrap_or_default()
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

/// The `n` (0..=8) bytes of `buf` at `at`, little-endian, zero above (0 when they are not
/// all in `buf`).
#[inline]
pub(super) fn load8(buf: &[u8], at: usize, n: usize) -> u64 {
    if let Some(w) = buf.get(at..at + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        u64::from_le_bytes(a) & LOW_BYTES[n.min(8)]
    } else {
        buf.get(at..at + n).map_or(0, |w| {
            w.iter()
                .enumerate()
                .fold(0, |x, (i, &b)| x | u64::from(b) << (8 * i))
        })
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

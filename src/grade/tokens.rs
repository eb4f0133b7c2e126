//! The word tokens of a normalised note: the runs of word chars (ASCII letters and digits,
//! and the chars [`crate::normalize::is_word_char`] accepts past ASCII), for context rules
//! and grading.

use crate::normalize::is_word_char;

/// The word-char runs of `norm` (byte ranges, in order), appended to `out`.
///
/// The tokens are read off a bit mask of the word bytes, 64 bytes at a time, each token's
/// start and end found by a bit scan. A byte loop that tests every byte branches at every
/// token's end, and those mispredicted branches were a third of the grading's own time on
/// `--terms` notes. The mask of ASCII letters and digits is computed eight bytes at a time
/// ([`masks`]); a char past ASCII (normalisation folds accents and transliterates æ, ø, å,
/// but leaves €, £ and emoji) is decoded and its bytes set when it is a word char. Tested
/// equal to a plain loop over chars.
pub(crate) fn tokenize(norm: &str, out: &mut Vec<(usize, usize)>) {
    let b = norm.as_bytes();
    // The start of a token that runs on past the chunk read so far.
    let mut open: Option<usize> = None;
    // Bytes of a char begun in the previous chunk that run on into this one, and whether it
    // is a word char.
    let mut carry = (0usize, false);
    // Whether the last byte of the previous chunk is a word byte (bit 0).
    let mut last = 0u64;
    for (ci, chunk) in b.chunks(64).enumerate() {
        let base = ci * 64;
        let (mut mask, mut high) = masks(chunk);
        if high != 0 {
            let carried = ones(carry.0);
            if carry.1 {
                mask |= carried;
            }
            high &= !carried;
            carry = (0, false);
            // Each char past ASCII, by its first byte (the others are cleared with it).
            while high != 0 {
                let p = high.trailing_zeros() as usize;
                let (word, len) = norm
                    .get(base + p..)
                    .and_then(|rest| rest.chars().next())
                    .map_or((false, 1), |c| (is_word_char(c), c.len_utf8()));
                let bits = ones((p + len).min(64)) & !ones(p);
                if word {
                    mask |= bits;
                }
                high &= !bits;
                if p + len > 64 {
                    carry = (p + len - 64, word);
                }
            }
        }
        // A bit where a token starts or ends: where a byte's word-ness differs from the one
        // before it (bits past a short last chunk are zero: the end of the text). Starts and
        // ends alternate: after the end of a token left open, they come in pairs.
        let mut edges = mask ^ (mask << 1 | last);
        last = mask >> 63;
        if edges == 0 {
            continue;
        }
        // The end of a token begun in an earlier chunk; then starts and ends in pairs.
        if let Some(s) = open.take() {
            out.push((s, base + edges.trailing_zeros() as usize));
            edges &= edges - 1;
        }
        while edges != 0 {
            let s = base + edges.trailing_zeros() as usize;
            edges &= edges - 1;
            if edges == 0 {
                open = Some(s);
                break;
            }
            out.push((s, base + edges.trailing_zeros() as usize));
            edges &= edges - 1;
        }
    }
    if let Some(s) = open {
        out.push((s, b.len()));
    }
}

/// The low `n` (0..=64) bits set.
#[inline]
fn ones(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Two bits per byte of `chunk` (at most 64 bytes): whether it is an ASCII letter or digit,
/// and whether it is not ASCII. Eight bytes at a time: each byte's range tests in its high
/// bit (on the byte's low seven bits, so adding up to 0x50 carries into no other byte), the
/// eight high bits gathered into one byte by a multiplication.
#[inline]
fn masks(chunk: &[u8]) -> (u64, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set where the byte (below 0x80) is at least `c`.
    let at_least = |x: u64, c: u8| x + ONES * u64::from(0x80 - c);
    let gather = |h: u64| (h >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    // The letters and digits of eight bytes (zeros past the chunk's end are neither).
    let alnum_of = |x: u64| {
        let wide = x & HIGH;
        let x = x & !HIGH;
        let lower = x | (ONES * 0x20);
        let letter = at_least(lower, b'a') & !at_least(lower, b'z' + 1);
        let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
        gather((letter | digit) & !wide & HIGH)
    };
    let (mut alnum, mut any_high) = (0u64, 0u64);
    each_word(chunk, |k, x| {
        any_high |= x;
        alnum |= alnum_of(x) << (8 * k);
    });
    // Bytes past ASCII are rare: their mask only when the chunk has one.
    let mut high = 0u64;
    if any_high & HIGH != 0 {
        each_word(chunk, |k, x| high |= gather(x & HIGH) << (8 * k));
    }
    (alnum, high)
}

/// `f(k, x)` for the `k`th eight bytes `x` of `chunk` (little-endian; the last zero-padded).
#[inline]
fn each_word(chunk: &[u8], mut f: impl FnMut(usize, u64)) {
    let mut words = chunk.chunks_exact(8);
    let mut k = 0;
    for w in words.by_ref() {
        f(k, u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        k += 1;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        f(k, u64::from_le_bytes(last));
    }
}

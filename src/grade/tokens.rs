//! The word tokens of a normalised note: the runs of word chars (ASCII letters and digits,
//! and the chars [`crate::normalize::is_word_char`] accepts past ASCII), for context rules
//! and grading.

/// The word-char runs of `norm` (byte ranges, in order), appended to `out`.
///
/// A normalised note is nearly always ASCII (normalisation folds accents and transliterates
/// æ, ø, å). Then the tokens are read off a bit mask of the letters and digits, 64 bytes at
/// a time, each bit found by a bit scan: a byte loop that tests every byte branches at every
/// token's end, and those mispredicted branches were a third of the grading's own time on
/// `--terms` notes. Any other text takes the byte loop ([`tokenize_general`]). Both are
/// tested equal to a plain loop over chars.
pub(crate) fn tokenize(norm: &str, out: &mut Vec<(usize, usize)>) {
    let b = norm.as_bytes();
    if !b.is_ascii() {
        tokenize_general(norm, out);
        return;
    }
    // The start of a token that runs on past the chunk read so far.
    let mut open: Option<usize> = None;
    for (ci, chunk) in b.chunks(64).enumerate() {
        let base = ci * 64;
        let n = chunk.len() as u32;
        let mask = alnum_mask(chunk);
        let mut j = 0u32;
        while j < n {
            match open {
                Some(s) => {
                    // The token ends at the first byte from `j` that is not a letter or digit
                    // (bits past a short last chunk are zero: the end of the text).
                    let rest = !mask >> j;
                    if rest == 0 {
                        break;
                    }
                    j += rest.trailing_zeros();
                    out.push((s, base + j as usize));
                    open = None;
                }
                None => {
                    let rest = mask >> j;
                    if rest == 0 {
                        break;
                    }
                    j += rest.trailing_zeros();
                    open = Some(base + j as usize);
                }
            }
        }
    }
    if let Some(s) = open {
        out.push((s, b.len()));
    }
}

/// A bit per byte of `chunk` (at most 64 ASCII bytes): set for an ASCII letter or digit.
/// Eight bytes at a time: each byte's range tests in its high bit (ASCII bytes are below
/// 0x80, so adding up to 0x50 carries into no other byte), the eight high bits gathered into
/// one byte by a multiplication.
#[inline]
fn alnum_mask(chunk: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set where the byte is at least `c`.
    let at_least = |x: u64, c: u8| x + ONES * u64::from(0x80 - c);
    let mut mask = 0u64;
    for (k, eight) in chunk.chunks(8).enumerate() {
        let mut a = [0u8; 8];
        a[..eight.len()].copy_from_slice(eight);
        let x = u64::from_le_bytes(a);
        let lower = x | ONES * 0x20;
        let letter = at_least(lower, b'a') & !at_least(lower, b'z' + 1);
        let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
        let high = (letter | digit) & HIGH;
        let bits = (high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= bits << (8 * k);
    }
    mask
}

/// [`tokenize`] of a text that is not all ASCII: a byte loop, char by char past ASCII.
fn tokenize_general(norm: &str, out: &mut Vec<(usize, usize)>) {
    /// Per byte: 0 ASCII but no word char, 1 ASCII letter or digit, 2 not ASCII.
    const CLASS: [u8; 256] = {
        let mut t = [2u8; 256];
        let mut i = 0;
        while i < 128 {
            t[i] = (i as u8).is_ascii_alphanumeric() as u8;
            i += 1;
        }
        t
    };
    let b = norm.as_bytes();
    // The char at `i` (not ASCII): whether it is a word char, and its length.
    let wide = |i: usize| {
        norm[i..].chars().next().map_or((false, 1), |c| {
            (crate::normalize::is_word_char(c), c.len_utf8())
        })
    };
    let mut i = 0;
    while i < b.len() {
        // Past what is not a word, an ASCII byte at a time.
        while i < b.len() && CLASS[usize::from(b[i])] == 0 {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let start = i;
        loop {
            while i < b.len() && CLASS[usize::from(b[i])] == 1 {
                i += 1;
            }
            if i == b.len() || b[i] < 0x80 {
                break;
            }
            match wide(i) {
                (true, len) => i += len,
                (false, _) => break,
            }
        }
        if i == start {
            // A char that is not a word char and not ASCII.
            i += wide(i).1;
        } else {
            out.push((start, i));
        }
    }
}


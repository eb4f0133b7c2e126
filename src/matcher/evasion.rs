//! The evasion lanes of the matcher (issue 20): which lane found a finding ([`Evasion`]), and
//! the spaced-letter lane.
//!
//! * **Homoglyphs** are folded by the normaliser (`normalize/homoglyph.rs`); a candidate
//!   whose original span holds a folded char is tagged [`Evasion::Homoglyph`] in the run.
//! * **Spaced or dotted letters** ("d i a b e t e s", "A.D.H.D", "k-a-n-k-e-r"): a run of
//!   three or more single letters joined by one separator, the same all along (space, dot,
//!   hyphen, underscore or slash), is matched as the joined word. A term counts only when it
//!   is the whole joined run (a word-mode term may add one of its endings), never a part of
//!   it, so "there's a distance" cannot become a finding across word boundaries as in
//!   profanity filters that join letters (rustrict #28). The finding spans the run in the
//!   original text; the entry's other checks (context, exclusions, case, mask tokens) apply
//!   as to any candidate. A "letter" is one ASCII letter of the normalised text, or the two
//!   or three letters one original char folds to ("k r æ f t" is "kraeft").
//!
//! Cost: runs are found by a branch-free pass over the normalised bytes, 64 at a time (two
//! lone ASCII letters two bytes apart), and only the rare positions it passes are looked at
//! one by one (BENCHMARKS.md, issue 20). A run is found from such a pair, so a run in which
//! no two neighbouring letters are single ASCII letters ("æ ø æ", every letter folding to
//! two) is not looked for.

use super::*;

/// Which evasion lane found a finding; absent for an ordinary (exact) match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evasion {
    /// A look-alike letter of another script inside a Latin word ("kаnker" with a Cyrillic
    /// "а"), folded by the UTS #39 confusables.
    Homoglyph,
    /// Letters spaced or dotted out ("d i a b e t e s", "A.D.H.D").
    Spaced,
    /// A typing error (one or two edits) in a term.
    Typo,
}

impl Evasion {
    /// Every lane, in the order of [`Evasion::index`].
    pub const ALL: [Evasion; 3] = [Evasion::Homoglyph, Evasion::Spaced, Evasion::Typo];

    /// The position in [`Evasion::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in output (`homoglyph`, `spaced`, `typo`).
    pub fn as_str(self) -> &'static str {
        match self {
            Evasion::Homoglyph => "homoglyph",
            Evasion::Spaced => "spaced",
            Evasion::Typo => "typo",
        }
    }
}

impl std::fmt::Display for Evasion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The separators of spaced-out letters.
#[inline(always)]
fn is_sep(x: u8) -> bool {
    (x == b' ') | (x == b'.') | (x == b'-') | (x == b'_') | (x == b'/')
}

#[inline(always)]
fn is_letter(x: u8) -> bool {
    (x | 0x20).wrapping_sub(b'a') < 26
}

/// Could `x` belong to a word (an ASCII letter or digit, or any byte of a non-ASCII char)?
#[inline]
pub(super) fn is_word_byte(x: u8) -> bool {
    x >= 0x80 || x.is_ascii_alphanumeric()
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const LOW_7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte of `x` that is an ASCII letter or the lead byte of a
/// non-ASCII char (bits 7 and 6 set): what can stand next to a letter inside a word (a
/// digit cannot be in a run either, but is left to the caller's check).
#[inline(always)]
fn letterish_bits(x: u64) -> u64 {
    let b = (x | 0x2020_2020_2020_2020) & LOW_7;
    // For b < 0x80, b + (0x80 - lo) has its high bit set iff b >= lo; nothing carries.
    let letter = (b + 0x1f1f_1f1f_1f1f_1f1f) & !(b + 0x0505_0505_0505_0505) & !x & HIGH_BITS;
    let lead = x & (x << 1) & HIGH_BITS;
    letter | lead
}

/// One bit per byte of a 64-byte block: [`letterish_bits`].
#[inline(always)]
fn letterish_mask(w: &[u8; 64]) -> u64 {
    let mut mask = 0u64;
    for (k, c) in w.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Gather the high bits: the multiplication moves each to a distinct position.
        let m = letterish_bits(x);
        mask |= (((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56) << (8 * k);
    }
    mask
}

/// Call `f(q)` for positions `q` where `b[q]` and `b[q + 2]` may be letters standing alone
/// (the bytes on each side of them may not be): the first two letters of a spaced-out
/// run, and also "a I" in ordinary text, which `f` rules out; `f` returns where to go on.
/// A superset of those positions (`f` checks each); never misses one. 64 positions at a
/// time without branches: a mask of letter-like bytes per block (the next block's mask is
/// made first, for the bits at the edge), its lone bits, and lone bits two apart. (A
/// byte-by-byte pass cost 14 instructions a byte; this one under 2.5, BENCHMARKS.md.)
fn for_each_spaced_hint(b: &[u8], mut f: impl FnMut(usize) -> usize) {
    let mask_of = |block: usize| -> u64 {
        let at = block * 64;
        match b.get(at..at + 64) {
            Some(w) => w.try_into().map_or(0, letterish_mask),
            None if at < b.len() => {
                // The last, partial block: padded with NULs, which are not letters.
                let mut pad = [0u8; 64];
                pad[..b.len() - at].copy_from_slice(&b[at..]);
                letterish_mask(&pad)
            }
            None => 0,
        }
    };
    let blocks = b.len().div_ceil(64);
    let mut floor = 0;
    let mut prev_high = 0u64;
    let mut cur = mask_of(0);
    for block in 0..blocks {
        let next = mask_of(block + 1);
        let lone = cur & !((cur << 1) | prev_high) & !((cur >> 1) | (next << 63));
        // Bits 0 and 1 of the next block's lone bits (what bits 62 and 63 pair with).
        let next_lone = next & !((next << 1) | (cur >> 63)) & !(next >> 1);
        let mut pairs = lone & ((lone >> 2) | (next_lone << 62));
        while pairs != 0 {
            let q = block * 64 + pairs.trailing_zeros() as usize;
            pairs &= pairs - 1;
            if q >= floor && q + 2 < b.len() {
                floor = f(q).max(q + 1);
            }
        }
        prev_high = cur >> 63;
        cur = next;
    }
}

/// A spaced-out run in the normalised text: its span and its letters joined (lowercase).
pub(super) struct SpacedRun {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) joined: String,
    /// Per byte of `joined`: its offset in the normalised text.
    pub(super) letters: Vec<usize>,
}

/// Find the spaced-out runs of `norm` (the search text; ASCII case may be the original's).
/// `is_one_char(s, e)` says whether the normalised letters `s..e` come from one original
/// char (only asked for tokens of two or three letters).
pub(super) fn spaced_runs(
    norm: &str,
    is_one_char: impl Fn(usize, usize) -> bool,
    out: &mut Vec<SpacedRun>,
) {
    let b = norm.as_bytes();
    // A letter token ending at `e` (exclusive) / starting at `s`: its other end, if it is a
    // whole word of one letter (or of the letters of one original char).
    let single = |s: usize, e: usize| e - s == 1 || (e - s <= 3 && is_one_char(s, e));
    let token_before = |e: usize| -> Option<usize> {
        let mut s = e;
        while s > 0 && is_letter(b[s - 1]) && e - s < 3 {
            s -= 1;
        }
        let whole = s < e && (s == 0 || !is_word_byte(b[s - 1]));
        (whole && single(s, e)).then_some(s)
    };
    let token_after = |s: usize| -> Option<usize> {
        let mut e = s;
        while e < b.len() && is_letter(b[e]) && e - s < 3 {
            e += 1;
        }
        let whole = s < e && (e == b.len() || !is_word_byte(b[e]));
        (whole && single(s, e)).then_some(e)
    };
    // Where the last run ended: a run never takes a letter of the one before it.
    let mut last_end = 0;
    for_each_spaced_hint(b, |q| {
        let p = q + 1;
        let sep = b[p];
        if !is_sep(sep) || !is_letter(b[q]) {
            return p;
        }
        // The letter after `sep` is a token; extend both ways over `sep` + token.
        let Some(mut end) = token_after(p + 1) else {
            return p;
        };
        let mut tokens = 1;
        let mut start = p + 1;
        // Leftwards: `b[start - 1]` is the separator before the token starting at `start`.
        while start >= 2 && b[start - 1] == sep {
            match token_before(start - 1) {
                Some(s) if s >= last_end => {
                    start = s;
                    tokens += 1;
                }
                _ => break,
            }
        }
        while end + 1 < b.len() && b[end] == sep {
            match token_after(end + 1) {
                Some(e) => {
                    end = e;
                    tokens += 1;
                }
                None => break,
            }
        }
        if tokens >= 3 {
            let mut joined = String::with_capacity(end - start);
            let mut letters = Vec::with_capacity(end - start);
            for (i, &x) in b[start..end].iter().enumerate() {
                if x != sep {
                    joined.push(char::from(x.to_ascii_lowercase()));
                    letters.push(start + i);
                }
            }
            out.push(SpacedRun {
                start,
                end,
                joined,
                letters,
            });
            last_end = end;
        }
        end
    });
}

/// A note with its spaced-out runs joined: the rewritten text and where each run sits in it.
struct Joined {
    text: String,
    /// Per run, in order: its start in `text`, and the run.
    runs: Vec<(usize, SpacedRun)>,
}

impl Joined {
    fn new(norm: &str, runs: Vec<SpacedRun>) -> Joined {
        let mut text = String::with_capacity(norm.len());
        let mut pos = 0;
        let mut placed = Vec::with_capacity(runs.len());
        for run in runs {
            text.push_str(&norm[pos..run.start]);
            let at = text.len();
            text.push_str(&run.joined);
            pos = run.end;
            placed.push((at, run));
        }
        text.push_str(&norm[pos..]);
        Joined { text, runs: placed }
    }

    /// The normalised offset of offset `x` of the joined text (`end`: an exclusive end).
    fn to_norm(&self, x: usize, end: bool) -> usize {
        let i = self
            .runs
            .partition_point(|&(at, _)| if end { at < x } else { at <= x });
        let Some((at, run)) = i.checked_sub(1).and_then(|i| self.runs.get(i)) else {
            return x;
        };
        let k = x - at;
        match (k < run.joined.len(), end) {
            (true, false) => run.letters[k],
            (_, true) if k <= run.joined.len() => run.letters[k - 1] + 1,
            _ => x - at - run.joined.len() + run.end,
        }
    }
}

impl Inner {
    /// The spaced-letter lane: if `norm` has spaced-out runs, search the note with each run
    /// joined into a word and add the candidates (accepted by their mode) whose term touches
    /// a run and whose span holds every run it touches whole; their offsets are those of the
    /// normalised note (a joined run maps back to the whole run). The run's other checks
    /// (case, exclusions, context, mask tokens) follow as for any candidate.
    pub(super) fn spaced_candidates(
        &self,
        norm: &str,
        normtext: &NormalizedText,
        text: &str,
        cands: &mut Vec<Cand>,
    ) {
        let mut runs = Vec::new();
        let is_one_char = |s: usize, e: usize| {
            let (os, oe) = normtext.original_range(text, s, e);
            text[os..oe]
                .chars()
                .filter(|&c| is_word_char(c))
                .take(2)
                .count()
                == 1
        };
        spaced_runs(norm, is_one_char, &mut runs);
        if runs.is_empty() {
            return;
        }
        let joined = Joined::new(norm, runs);
        let r = joined.text.as_str();
        let rb = r.as_bytes();
        let mut found = Vec::new();
        match &self.ac {
            None => {}
            Some(Unanchored::Everywhere(a)) => a.walk_everywhere(rb, |start, id, end| {
                self.candidate(r, id, start, end, false, &mut found);
            }),
            Some(Unanchored::Overlapping { ac, ids }) => {
                for m in ac.find_overlapping_iter(r) {
                    let id = ids[m.pattern().as_usize()];
                    self.candidate(r, id, m.start(), m.end(), false, &mut found);
                }
            }
        }
        if let Some(a) = &self.anchored {
            for_each_word_start(r, |at| {
                a.walk(rb, at, |id, end| {
                    self.candidate(r, id, at, end, false, &mut found);
                });
            });
        }
        for c in found {
            let mut touches = false;
            let mut whole = true;
            for (at, run) in &joined.runs {
                let (rs, re) = (*at, at + run.joined.len());
                if c.nstart < re && rs < c.nend {
                    touches = true;
                }
                if c.sstart < re && rs < c.send && (c.sstart > rs || c.send < re) {
                    whole = false;
                }
            }
            if !touches || !whole {
                continue;
            }
            cands.push(Cand {
                nstart: joined.to_norm(c.nstart, false),
                nend: joined.to_norm(c.nend, true),
                sstart: joined.to_norm(c.sstart, false),
                send: joined.to_norm(c.send, true),
                evasion: Some(Evasion::Spaced),
                ..c
            });
        }
    }
}

/// The letters and digits of a span (separators and spaces dropped), for the case check of
/// case-sensitive entries found by the spaced lane.
pub(super) fn spaced_letters(span: &str) -> String {
    span.chars().filter(|&c| is_word_char(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        spaced_runs(s, |_, _| false, &mut out);
        out.into_iter()
            .map(|r| (s[r.start..r.end].to_string(), r.joined))
            .collect()
    }

    /// The positions the hint pass must report (at least): a letter, a separator, a letter,
    /// each letter standing alone.
    fn naive_hints(b: &[u8]) -> Vec<usize> {
        let alone = |i: usize| {
            is_letter(b[i])
                && (i == 0 || !is_word_byte(b[i - 1]))
                && b.get(i + 1).is_none_or(|&x| !is_word_byte(x))
        };
        (0..b.len().saturating_sub(2))
            .filter(|&q| alone(q) && is_sep(b[q + 1]) && alone(q + 2))
            .collect()
    }

    #[test]
    fn finds_runs_of_single_letters() {
        let r = |s: &str| {
            runs(s)
                .into_iter()
                .map(|(a, b)| format!("{a}={b}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(r("heeft d i a b e t e s."), ["d i a b e t e s=diabetes"]);
        assert_eq!(
            r("A.D.H.D en k-a-n-k-e-r"),
            ["A.D.H.D=adhd", "k-a-n-k-e-r=kanker"]
        );
        assert_eq!(r("k_a_n k/a/n"), ["k_a_n=kan", "k/a/n=kan"]);
        // Two letters are not a run; mixed separators split runs; words are not letters.
        assert!(r("a b").is_empty());
        assert!(r("d i.a-b").is_empty());
        assert!(r("there's a distance").is_empty());
        assert!(r("is a dog").is_empty());
        // The letters of the run next to a word are not taken from it.
        assert_eq!(r("ik heb d i a b"), ["d i a b=diab"]);
        assert!(r("x1 a b").is_empty());
        // Two runs side by side do not share a letter.
        assert_eq!(
            r("b-e-r-o-e-r-t-e h a l f"),
            ["b-e-r-o-e-r-t-e=beroerte", "h a l f=half"]
        );
    }

    proptest::proptest! {
        /// The window pass reports every position a byte-by-byte check reports (and maybe
        /// more, which the caller rules out), in order, when the callback consumes nothing.
        #[test]
        fn hints_cover_bytewise(s in "[abZ .\\-_/1é@]{0,300}") {
            let mut got = Vec::new();
            for_each_spaced_hint(s.as_bytes(), |q| { got.push(q); q + 1 });
            proptest::prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
            for q in naive_hints(s.as_bytes()) {
                proptest::prop_assert!(got.contains(&q), "missed {} in {:?}", q, s);
            }
        }

        /// Every run found is a run by the definition (checked naively), on char boundaries.
        #[test]
        fn runs_are_runs(s in "[abc .\\-x]{0,150}") {
            let mut out = Vec::new();
            spaced_runs(&s, |_, _| false, &mut out);
            for w in out.windows(2) {
                proptest::prop_assert!(w[0].end < w[1].start);
            }
            for r in out {
                let span = &s[r.start..r.end];
                let sep = span.as_bytes()[1];
                let parts: Vec<&str> = span.split(char::from(sep)).collect();
                proptest::prop_assert!(parts.len() >= 3);
                proptest::prop_assert!(parts.iter().all(|p| p.len() == 1));
                proptest::prop_assert_eq!(parts.concat(), r.joined);
                let before = s[..r.start].bytes().next_back();
                proptest::prop_assert!(before.is_none_or(|x| !x.is_ascii_alphanumeric()));
            }
        }
    }
}

//! The checks of one candidate: match mode and word boundaries, exclusion phrases, context
//! tokens, and mask tokens art9 wrote itself.

use super::*;
use crate::normalize::starts_with_ignore_ascii_case;

impl Inner {
    /// A pattern occurrence at normalised `start..end`: check the mode of each term behind
    /// it and keep the candidates (all of them when explaining).
    #[inline]
    pub(super) fn candidate(
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
                evasion: None,
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
pub(super) fn covering_exclusion<'a>(
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

/// Check the match mode at normalised `start..end`; returns the verdict and the span.
pub(super) fn check_mode(
    norm: &str,
    e: &Entry,
    start: usize,
    end: usize,
) -> (Verdict, usize, usize) {
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

pub(super) fn extend_right(norm: &str, mut end: usize) -> usize {
    for c in norm[end..].chars() {
        if !is_word_char(c) {
            break;
        }
        end += c.len_utf8();
    }
    end
}

pub(super) fn extend_left(norm: &str, mut start: usize) -> usize {
    for c in norm[..start].chars().rev() {
        if !is_word_char(c) {
            break;
        }
        start -= c.len_utf8();
    }
    start
}

/// Word-char runs of the normalised text, char by char: the reference that
/// [`crate::grade::tokenize`] is tested equal to.
#[cfg(test)]
pub(super) fn tokenize(norm: &str, out: &mut Vec<(usize, usize)>) {
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
pub(super) fn is_in_mask_token(text: &str, start: usize, end: usize) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

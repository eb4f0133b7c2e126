//! The homoglyph lane of the normaliser (issue 20): look-alike letters of other scripts
//! (Cyrillic "а", Greek "ο") inside a word that also has Latin letters are folded to the
//! Latin letters of their UTS #39 confusable skeleton, so "kаnker" with a Cyrillic "а"
//! meets the term "kanker".
//!
//! The data is the `unicode-security` crate's (the confusables table of Unicode
//! [`UNICODE_VERSION`], the crate rustc's mixed-script lint uses); which script a char
//! belongs to is `unicode-script`'s. Three rules keep ordinary text as it is:
//!
//! * only chars of a script other than Latin, Common and Inherited are folded: ASCII never
//!   is (the table maps `m` to `rn` and `1` to `l`), nor Latin letters such as `ø`;
//! * only inside a *mixed* word (a run of letters, digits, combining marks and invisible
//!   chars with at least one Latin letter and at least one such foreign letter): a word
//!   written wholly in Cyrillic or Greek is left alone;
//! * only when the skeleton is one to three ASCII letters (after dropping combining marks):
//!   Cyrillic "ж" has no Latin look-alike and stays.
//!
//! Cost: nothing for ASCII notes or notes whose non-ASCII chars are Latin, punctuation or
//! symbols (the fold's table covers them); a script lookup for every other char, and a
//! second fold of the note only when a foreign letter was seen.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_script::{Script, UnicodeScript};

/// The Unicode version of the confusables data (`unicode-security`'s tables).
pub const UNICODE_VERSION: (u64, u64, u64) = unicode_security::UNICODE_VERSION;

/// The state of one fold with respect to homoglyphs: the mixed words of the text (byte
/// ranges of the original, sorted), whether a foreign letter was seen, and where to record
/// the original offsets of the chars that were folded.
#[derive(Default)]
pub(super) struct Homoglyphs<'a> {
    pub(super) mixed: &'a [(usize, usize)],
    pub(super) saw_foreign: bool,
    pub(super) folded: Option<&'a mut Vec<u32>>,
}

impl Homoglyphs<'_> {
    /// Is original byte `at` inside a mixed word?
    #[inline]
    pub(super) fn in_mixed(&self, at: usize) -> bool {
        let i = self.mixed.partition_point(|&(_, e)| e <= at);
        self.mixed.get(i).is_some_and(|&(s, _)| s <= at)
    }

    /// Record that the char at original byte `at` was folded.
    #[inline]
    pub(super) fn record(&mut self, at: usize) {
        if let Some(f) = self.folded.as_deref_mut() {
            // Offsets beyond u32 are not reachable: records are limited far below 4 GiB.
            f.push(u32::try_from(at).unwrap_or(u32::MAX));
        }
    }
}

/// A letter of a script that is not Latin, Common or Inherited (a possible look-alike).
#[inline]
pub(super) fn is_foreign_letter(c: char) -> bool {
    !c.is_ascii()
        && c.is_alphabetic()
        && !matches!(
            c.script(),
            Script::Latin | Script::Common | Script::Inherited
        )
}

/// A Latin letter (any case, with or without diacritics; full-width forms too).
#[inline]
fn is_latin_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        c.is_alphabetic() && c.script() == Script::Latin
    }
}

/// The Latin letters a foreign letter looks like: its UTS #39 skeleton with combining marks
/// dropped, when that is one to three ASCII letters (case kept: Cyrillic "С" gives "C").
pub(super) fn latin_skeleton(c: char) -> Option<([u8; 3], usize)> {
    let mut buf = [0u8; 4];
    let mut out = [0u8; 3];
    let mut n = 0;
    for d in unicode_security::skeleton(c.encode_utf8(&mut buf)) {
        if is_combining_mark(d) {
            continue;
        }
        if !d.is_ascii_alphabetic() || n == out.len() {
            return None;
        }
        out[n] = d as u8;
        n += 1;
    }
    (n > 0).then_some((out, n))
}

/// The mixed words of `s` (see the module docs), as sorted byte ranges. A char is looked at
/// through its compatibility decomposition (what the fold makes of it), so that a word that
/// is mixed after folding was mixed before: "𝝤a" (a mathematical omicron) is mixed, and
/// so is "Հº" (Armenian "Հ", whose lower case "հ" looks like "h"): folding stays idempotent.
pub(super) fn mixed_words(s: &str, is_invisible: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let (mut latin, mut foreign) = (false, false);
    for (i, c) in s.char_indices() {
        let (mut word, mut has_latin, mut has_foreign) = (false, false, false);
        let mut look1 = |d: char| {
            word |= d.is_alphanumeric() || is_combining_mark(d) || is_invisible(d);
            has_latin |= is_latin_letter(d);
            has_foreign |= is_foreign_letter(d) && latin_skeleton(d).is_some();
        };
        let mut look = |d: char| {
            look1(d);
            if !d.is_ascii() {
                d.to_lowercase().for_each(&mut look1);
            }
        };
        // The char, what it decomposes to, the same of its lower case, and their lower
        // cases: whatever the fold (lowercasing or case-keeping) may produce from it.
        look(c);
        decompose_compatible(c, &mut look);
        if !c.is_ascii() {
            for l in c.to_lowercase() {
                decompose_compatible(l, &mut look);
            }
        }
        if !(word || is_combining_mark(c) || is_invisible(c)) {
            if let Some(s) = start.take() {
                if latin && foreign {
                    out.push((s, i));
                }
            }
            latin = false;
            foreign = false;
            continue;
        }
        start.get_or_insert(i);
        latin |= has_latin;
        foreign |= has_foreign;
    }
    if let Some(st) = start {
        if latin && foreign {
            out.push((st, s.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skel(c: char) -> Option<String> {
        latin_skeleton(c).map(|(b, n)| String::from_utf8_lossy(&b[..n]).into_owned())
    }

    #[test]
    fn skeletons_of_common_look_alikes() {
        assert_eq!(skel('\u{0430}').as_deref(), Some("a")); // Cyrillic а
        assert_eq!(skel('\u{0435}').as_deref(), Some("e")); // Cyrillic е
        assert_eq!(skel('\u{043E}').as_deref(), Some("o")); // Cyrillic о
        assert_eq!(skel('\u{0421}').as_deref(), Some("C")); // Cyrillic С
        assert_eq!(skel('\u{03BF}').as_deref(), Some("o")); // Greek ο
        assert_eq!(skel('\u{039A}').as_deref(), Some("K")); // Greek Κ
        assert_eq!(skel('ж'), None);
        assert!(!is_foreign_letter('ø') && !is_foreign_letter('m') && !is_foreign_letter('µ'));
        assert!(is_foreign_letter('\u{0430}') && is_foreign_letter('\u{03BF}'));
    }

    #[test]
    fn only_words_mixing_latin_and_a_look_alike() {
        let none = |_: char| false;
        let s = "kаnker мама Κanker 2а ж-x";
        let got: Vec<&str> = mixed_words(s, none)
            .iter()
            .map(|&(a, b)| &s[a..b])
            .collect();
        assert_eq!(got, ["kаnker", "Κanker"]);
    }

    #[test]
    fn normaliser_folds_only_mixed_words() {
        use crate::normalize::{fold_keep_case, normalize, NormalizedText};
        // Cyrillic а, е, о and Greek Κ inside Latin words.
        assert_eq!(normalize("k\u{0430}nker"), "kanker");
        assert_eq!(normalize("DIAB\u{0415}TES"), "diabetes");
        assert_eq!(
            normalize("\u{039A}anker k\u{0430}\u{200B}nker"),
            "kanker kanker"
        );
        // ASCII and Latin letters never; pure Cyrillic/Greek words never.
        assert_eq!(normalize("rn 1l m"), "rn 1l m");
        assert_eq!(normalize("м\u{0430}м\u{0430} \u{03BF}\u{03BA}"), "мама οκ");
        assert_eq!(normalize("Kræft"), "kraeft");
        // Case kept for case-sensitive terms: Cyrillic С gives C.
        assert_eq!(fold_keep_case("\u{0421}VA"), "CVA");
        let original = "ons k\u{0430}nker, мама";
        let n = NormalizedText::of(original);
        assert_eq!(n.as_str(), "ons kanker, мама");
        let at = original.find('\u{0430}').unwrap();
        assert!(n.has_homoglyph(4, original.find(',').unwrap()));
        assert!(!n.has_homoglyph(0, at) && !n.has_homoglyph(at + 2, original.len()));
        let (s, e) = n.original_range(original, 4, 10);
        assert_eq!(&original[s..e], "k\u{0430}nker");
        // Idempotent, also when a foreign letter without a look-alike stays.
        for t in [
            "k\u{0430}\u{0436}",
            "k\u{0430}nker мама",
            "\u{1D764}A",
            "\u{338F}\u{03BF}",
            "\u{2105}\u{03BF}",
            "\u{0540}\u{00BA}",
            "\u{1D71E}A",
        ] {
            assert_eq!(normalize(&normalize(t)), normalize(t), "{t:?}");
        }
    }

    proptest::proptest! {
        /// Folding stays idempotent and maps to char boundaries on text dense in scripts,
        /// compatibility forms and case pairs where look-alikes live.
        #[test]
        fn homoglyph_fold_is_idempotent(
            s in "[a-zA-Z0-9 .\u{00AA}\u{00BA}\u{0370}-\u{03FF}\u{0400}-\u{04FF}\u{0530}-\u{058F}\u{13A0}-\u{13FF}\u{1D400}-\u{1D7FF}\u{FF21}-\u{FF5A}\u{2100}-\u{214F}\u{3380}-\u{33FF}\u{200B}\u{0301}]{0,12}",
        ) {
            use crate::normalize::{fold_keep_case, normalize, NormalizedText};
            let once = normalize(&s);
            proptest::prop_assert_eq!(normalize(&once), once);
            let kept = fold_keep_case(&s);
            proptest::prop_assert_eq!(fold_keep_case(&kept), kept);
            let n = NormalizedText::of(&s);
            for (i, _) in n.as_str().char_indices() {
                proptest::prop_assert!(s.is_char_boundary(n.original_offset(i)));
            }
        }
    }

    /// The fold's table (chars up to U+024F and U+2000..U+20CF) never sees a foreign letter,
    /// so the homoglyph check on the general path sees every one.
    #[test]
    fn fold_table_ranges_hold_no_foreign_letter() {
        for cp in (0x80..0x250).chain(0x2000..0x20D0) {
            if let Some(c) = char::from_u32(cp) {
                assert!(!is_foreign_letter(c), "U+{cp:04X}");
            }
        }
    }

    #[test]
    fn unicode_version_is_stated() {
        assert!(UNICODE_VERSION.0 >= 15);
    }
}

//! A finding's fingerprint: a keyed hash that stays the same from run to run while the
//! finding does, and names no text.
//!
//! The fingerprint is the first 128 bits of HMAC-SHA256, under a key derived from the
//! review key, of (each part length-prefixed):
//!
//! 1. the record key and the field name;
//! 2. the category;
//! 3. the matched span, normalised as the lexicons' terms are ([`crate::normalize()`]:
//!    lower case, diacritics and look-alike letters folded);
//! 4. the word before and the word after the span (a word is a run of letters and digits,
//!    normalised the same way; empty at the start or end of the field);
//! 5. the occurrence: how many earlier findings of the same field have equal parts 2–4.
//!
//! So an edit elsewhere in the note (a sentence added at the end, a typo fixed two words
//! away) leaves it unchanged, offsets play no part, and the same word twice in a note gets
//! two fingerprints: by its neighbours when they differ, else by its occurrence. An edit of
//! the span or of a neighbouring word makes it a new finding (to be reviewed again), and
//! the old baseline entry stale.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{update_part, Digest128, Fingerprint, ReviewKey};
use crate::matcher::Finding;
use crate::normalize::{is_word_char, normalize};

/// Computes finding fingerprints under one key.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter")
    }
}

/// The parts of a finding that decide its fingerprint besides the record and field.
#[derive(PartialEq, Eq)]
struct Parts {
    category: &'static str,
    span: String,
    before: String,
    after: String,
}

impl Fingerprinter {
    /// Fingerprints under `key`.
    pub fn new(key: &ReviewKey) -> Fingerprinter {
        Fingerprinter {
            mac: key.derive(b"art9 finding fingerprint v1"),
        }
    }

    /// The fingerprints of `findings` (sorted by start, as the scanner gives them) in the
    /// field `field` of the record `key` whose text is `text`, appended to `out` in the
    /// same order.
    pub fn field(
        &self,
        key: &str,
        field: &str,
        text: &str,
        findings: &[Finding],
        out: &mut Vec<Fingerprint>,
    ) {
        let mut seen: Vec<Parts> = Vec::with_capacity(findings.len());
        for f in findings {
            let parts = Parts {
                category: f.category.as_str(),
                span: normalize(text.get(f.start..f.end).unwrap_or("")),
                before: normalize(word_before(text, f.start)),
                after: normalize(word_after(text, f.end)),
            };
            let occurrence = seen.iter().filter(|p| **p == parts).count() as u64;
            let mut mac = self.mac.clone();
            update_part(&mut mac, key.as_bytes());
            update_part(&mut mac, field.as_bytes());
            update_part(&mut mac, parts.category.as_bytes());
            update_part(&mut mac, parts.span.as_bytes());
            update_part(&mut mac, parts.before.as_bytes());
            update_part(&mut mac, parts.after.as_bytes());
            mac.update(&occurrence.to_le_bytes());
            out.push(Digest128::of(mac));
            seen.push(parts);
        }
    }
}

/// The last word that ends at or before byte `at` of `text` ("" if none).
fn word_before(text: &str, at: usize) -> &str {
    let head = text.get(..at).unwrap_or("");
    let end = head
        .char_indices()
        .rev()
        .find(|(_, c)| is_word_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let start = head[..end]
        .char_indices()
        .rev()
        .find(|(_, c)| !is_word_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &head[start..end]
}

/// The first word that starts at or after byte `at` of `text` ("" if none).
fn word_after(text: &str, at: usize) -> &str {
    let tail = text.get(at..).unwrap_or("");
    let start = tail
        .char_indices()
        .find(|(_, c)| is_word_char(*c))
        .map_or(tail.len(), |(i, _)| i);
    let end = tail[start..]
        .char_indices()
        .find(|(_, c)| !is_word_char(*c))
        .map_or(tail.len(), |(i, _)| start + i);
    &tail[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Scanner;

    fn prints(text: &str, key: &str) -> Vec<Fingerprint> {
        let scanner = Scanner::builtin().unwrap();
        let findings = scanner.scan(text);
        assert!(!findings.is_empty(), "no findings in {text:?}");
        let fp = Fingerprinter::new(&ReviewKey::new(b"0123456789abcdef-test").unwrap());
        let mut out = Vec::new();
        fp.field(key, "note", text, &findings, &mut out);
        out
    }

    #[test]
    fn words_around_a_span() {
        assert_eq!(word_before("Klant heeft, diabetes", 13), "heeft");
        assert_eq!(word_before("diabetes", 0), "");
        assert_eq!(word_after("diabetes; bel op", 8), "bel");
        assert_eq!(word_after("diabetes", 8), "");
        assert_eq!(word_before("één twee", 6), "één");
    }

    #[test]
    fn stable_under_edits_elsewhere_and_distinct_for_repeats() {
        let a = prints("Klant heeft diabetes. Bel volgende week.", "N-1");
        let b = prints(
            "Klant heeft diabetes. Bel volgende week terug, of mail.",
            "N-1",
        );
        assert_eq!(a, b, "an edit two words away keeps the fingerprint");
        let c = prints("Klant heeft DIABETES. Bel volgende week.", "N-1");
        assert_eq!(a, c, "case is normalised");
        let other_key = prints("Klant heeft diabetes. Bel volgende week.", "N-2");
        assert_ne!(a, other_key);
        let neighbour = prints("Klant had diabetes. Bel volgende week.", "N-1");
        assert_ne!(a, neighbour, "a neighbouring word is part of it");
        let twice = prints("diabetes en diabetes en diabetes en", "N-1");
        assert_eq!(twice.len(), 3);
        assert_ne!(twice[0], twice[1]);
        assert_ne!(
            twice[1], twice[2],
            "same word and neighbours: the occurrence tells"
        );
    }
}

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
//! the original text of the character that produced it. Matches found in the normalised text
//! map back to char boundaries of the original; nothing downstream changes offsets.
//!
//! Pure ASCII text without doubled white space takes a fast path: a byte-wise lowercase copy
//! with an identity offset map.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Normalised text plus the map back to the original.
///
/// Reused across notes (see [`NormalizedText::clear`]) so that scanning allocates nothing per
/// note once the buffers have grown.
#[derive(Clone, Debug, Default)]
pub struct NormalizedText {
    text: String,
    /// For each byte of `text`: the byte offset of the source char in the original.
    /// Empty when `identity` is set.
    map: Vec<u32>,
    identity: bool,
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
    }

    /// Normalise `original` into this buffer (replacing what was there).
    pub fn normalize(&mut self, original: &str) {
        self.clear();
        if original.is_ascii() && ascii_fast_path(original, &mut self.text) {
            self.identity = true;
            return;
        }
        self.text.clear();
        fold(original, true, &mut self.text, Some(&mut self.map));
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Byte offset in the original text of the char that produced normalised byte `i`.
    ///
    /// `i` may equal the normalised length only for an empty text.
    #[inline]
    pub fn original_offset(&self, i: usize) -> usize {
        if self.identity {
            i
        } else {
            self.map[i] as usize
        }
    }

    /// Map a normalised byte range (non-empty, on normalised char boundaries) back to a byte
    /// range of `original` that starts and ends on char boundaries.
    ///
    /// The end is extended over combining marks that follow the last char, so that "e\u{301}"
    /// is covered whole.
    pub fn original_range(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        debug_assert!(start < end && end <= self.text.len());
        if self.identity {
            return (start, end);
        }
        let ostart = self.map[start] as usize;
        let last = self.map[end - 1] as usize;
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

/// Normalise a term or a short text to a new `String` (no offset map).
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold(s, true, &mut out, None);
    out
}

/// Fold like [`normalize`] but keep upper/lower case: used to compare the case of a
/// case-sensitive term with the original text.
pub fn fold_keep_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold(s, false, &mut out, None);
    out
}

/// Is `c` a word character for boundary checks? Letters and digits of any script.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric()
    }
}

/// Lowercase ASCII copy; returns false (and leaves `out` in an unspecified state) when the
/// text needs the general path because of doubled or non-space white space.
fn ascii_fast_path(s: &str, out: &mut String) -> bool {
    let bytes = s.as_bytes();
    let mut buf = std::mem::take(out).into_bytes();
    buf.clear();
    buf.reserve(bytes.len());
    let mut ok = true;
    let mut prev_space = false;
    for &b in bytes {
        let is_space = b == b' ';
        if (is_space && prev_space) || matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            ok = false;
            break;
        }
        prev_space = is_space;
        buf.push(b.to_ascii_lowercase());
    }
    // Only ASCII bytes were pushed, so this cannot fail; fall back to the slow path if it did.
    match String::from_utf8(buf) {
        Ok(s) => {
            *out = s;
            ok
        }
        Err(_) => false,
    }
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

struct Sink<'a> {
    out: &'a mut String,
    map: Option<&'a mut Vec<u32>>,
}

impl Sink<'_> {
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
            for _ in 0..c.len_utf8() {
                map.push(at);
            }
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
fn fold(s: &str, lower: bool, out: &mut String, map: Option<&mut Vec<u32>>) {
    let mut sink = Sink { out, map };
    for (at, c) in s.char_indices() {
        if c.is_ascii() {
            let c = if lower { c.to_ascii_lowercase() } else { c };
            sink.push(c, at);
            continue;
        }
        if is_ignorable(c) {
            continue;
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
            continue;
        }
        if is_apostrophe(c) {
            sink.push_raw('\'', at);
            continue;
        }
        if is_dash(c) {
            sink.push_raw('-', at);
            continue;
        }
        if lower {
            for lc in c.to_lowercase() {
                fold_one(lc, true, &mut sink, at);
            }
        } else {
            fold_one(c, false, &mut sink, at);
        }
    }
}

#[inline]
fn fold_one(c: char, lower: bool, sink: &mut Sink<'_>, at: usize) {
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
        if is_apostrophe(d) {
            sink.push_raw('\'', at);
        } else if is_dash(d) {
            sink.push_raw('-', at);
        } else if lower && d.is_uppercase() {
            // Full-width and other compatibility forms may decompose to upper case.
            for l in d.to_lowercase() {
                push_transliterated(l, true, sink, at);
            }
        } else {
            push_transliterated(d, lower, sink, at);
        }
    });
}

/// Push a char produced by decomposition, transliterating it (a modifier letter may
/// decompose to æ, which must still become "ae").
#[inline]
fn push_transliterated(c: char, lower: bool, sink: &mut Sink<'_>, at: usize) {
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

#[cfg(test)]
mod tests {
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

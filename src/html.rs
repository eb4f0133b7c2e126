//! HTML stripping for e-mail-bodied notes (`--strip-html`), with an offset map back to the
//! original value.
//!
//! CRM notes written in a rich-text editor arrive as `<p>Klant heeft diabetes</p><p>…`, with
//! entities such as `&eacute;` or `&#233;`. Scanning the markup as it is misses terms
//! (`Patiënt` written `Pati&euml;nt`) and merges words across tags (`diabetes</p><p>Volgende`).
//! [`strip`] builds a plain text the scanner can read:
//!
//! * block-level tags (`p`, `br`, `div`, `li`, `td`, `h1`…, and every tag not known to be
//!   inline) become one space, so words never merge across them;
//! * inline tags (`b`, `i`, `span`, `strong`, `a`, `font`, …) are removed, so a term split by
//!   formatting (`dia<b>betes</b>`) is still one word;
//! * comments are removed; `script` and `style` elements, content included, become one space;
//! * entities (`&amp;`, `&eacute;`, all HTML 4 Latin-1 names, `&#233;`, `&#xE9;`) are decoded;
//!   `&nbsp;` becomes a plain space. Unknown or malformed entities and a `<` that does not
//!   start a tag (`a < b`) stay as they are.
//!
//! Offsets of findings in the stripped text are mapped back with [`Stripped::map_span`], so
//! they point into the ORIGINAL value (STYLE.md habit 5): a finding covering a decoded entity
//! covers the whole entity, and one covering a removed inline tag covers the tag.

/// One piece of the stripped text and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    /// Start in the stripped text.
    out: usize,
    /// Start in the original.
    orig: usize,
    /// Length in the original.
    orig_len: usize,
    /// Copied verbatim: offsets inside map one to one. Otherwise the piece maps as a unit.
    copy: bool,
}

/// A stripped text and its map back to the original.
#[derive(Clone, Debug)]
pub(crate) struct Stripped {
    text: String,
    pieces: Vec<Piece>,
    orig_len: usize,
}

impl Stripped {
    /// The text to scan.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Map a byte span `[start, end)` of the stripped text (on char boundaries) to the span of
    /// the original it came from.
    pub(crate) fn map_span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.map_start(start), self.map_end(end))
    }

    fn piece_at(&self, pos: usize) -> Option<&Piece> {
        let i = self.pieces.partition_point(|p| p.out <= pos);
        i.checked_sub(1).map(|i| &self.pieces[i])
    }

    fn map_start(&self, pos: usize) -> usize {
        if pos >= self.text.len() {
            return self.orig_len;
        }
        match self.piece_at(pos) {
            Some(p) if p.copy => p.orig + (pos - p.out),
            Some(p) => p.orig,
            None => 0,
        }
    }

    fn map_end(&self, pos: usize) -> usize {
        if pos == 0 {
            return 0;
        }
        match self.piece_at(pos - 1) {
            Some(p) if p.copy => p.orig + (pos - p.out),
            Some(p) => p.orig + p.orig_len,
            None => 0,
        }
    }
}

/// Whether `text` may hold markup or entities (the fast path skips everything else).
pub(crate) fn may_be_html(text: &str) -> bool {
    text.as_bytes().iter().any(|&b| b == b'<' || b == b'&')
}

/// Tags that are formatting inside a line: removed without a space.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "i", "ins",
    "kbd", "mark", "o:p", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup",
    "tt", "u", "var", "wbr",
];

/// HTML 4 Latin-1 entity names for U+00A0..=U+00FF, in code point order.
const LATIN1_ENTITIES: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// Other named entities common in e-mail bodies.
const OTHER_ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("hellip", '…'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("sbquo", '‚'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("bdquo", '„'),
    ("bull", '•'),
    ("euro", '€'),
    ("trade", '™'),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
    ("Scaron", 'Š'),
    ("scaron", 'š'),
    ("Yuml", 'Ÿ'),
    ("zwnj", '\u{200C}'),
    ("zwj", '\u{200D}'),
    ("ensp", ' '),
    ("emsp", ' '),
    ("thinsp", ' '),
];

fn named_entity(name: &str) -> Option<char> {
    if name == "nbsp" {
        return Some(' ');
    }
    if let Some(i) = LATIN1_ENTITIES.iter().position(|&n| n == name) {
        return char::from_u32(0xA0 + i as u32);
    }
    OTHER_ENTITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, c)| c)
}

/// Decode the entity starting at `s[0] == b'&'`; returns the char and the entity's length.
fn entity(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let semi = b.iter().take(34).position(|&x| x == b';')?;
    let body = &s[1..semi];
    let c = if let Some(num) = body.strip_prefix('#') {
        let n = if let Some(hex) = num.strip_prefix(['x', 'X']) {
            if hex.is_empty() || !hex.bytes().all(|x| x.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(hex, 16).ok()?
        } else {
            if num.is_empty() || !num.bytes().all(|x| x.is_ascii_digit()) {
                return None;
            }
            num.parse::<u32>().ok()?
        };
        match n {
            0 => return None,
            0xA0 => ' ',
            n => char::from_u32(n)?,
        }
    } else {
        if body.is_empty() || !body.bytes().all(|x| x.is_ascii_alphanumeric()) {
            return None;
        }
        named_entity(body)?
    };
    Some((c, semi + 1))
}

/// Find the `>` closing a tag that starts at `s[0] == b'<'`, skipping quoted attribute values.
fn tag_end(s: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in s.iter().enumerate().skip(1) {
        match (quote, b) {
            (None, b'>') => return Some(i + 1),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            _ => {}
        }
    }
    None
}

/// The lowercase ASCII name of the tag at `s[0] == b'<'` and whether it is a closing tag.
fn tag_name(s: &[u8]) -> (String, bool) {
    let mut i = 1;
    let closing = s.get(1) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name: String = s[i..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b':')
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    (name, closing)
}

/// Find `</name` (ASCII case-insensitive) at or after `from`.
fn find_close(s: &[u8], from: usize, name: &str) -> Option<usize> {
    let pat = name.as_bytes();
    let mut i = from;
    while i + 2 + pat.len() <= s.len() {
        if s[i] == b'<' && s[i + 1] == b'/' && s[i + 2..i + 2 + pat.len()].eq_ignore_ascii_case(pat)
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

struct Builder {
    text: String,
    pieces: Vec<Piece>,
    copy_from: usize,
}

impl Builder {
    /// Flush the verbatim run `[copy_from, upto)` of `orig`.
    fn copy(&mut self, orig: &str, upto: usize) {
        if upto > self.copy_from {
            self.pieces.push(Piece {
                out: self.text.len(),
                orig: self.copy_from,
                orig_len: upto - self.copy_from,
                copy: true,
            });
            self.text.push_str(&orig[self.copy_from..upto]);
        }
    }

    /// Replace `orig[at..at + len]` by `with` (possibly empty).
    fn replace(&mut self, orig: &str, at: usize, len: usize, with: Option<char>) {
        self.copy(orig, at);
        if let Some(c) = with {
            self.pieces.push(Piece {
                out: self.text.len(),
                orig: at,
                orig_len: len,
                copy: false,
            });
            self.text.push(c);
        }
        self.copy_from = at + len;
    }
}

/// Strip tags and decode entities; see the module docs.
pub(crate) fn strip(orig: &str) -> Stripped {
    let bytes = orig.as_bytes();
    let mut b = Builder {
        text: String::with_capacity(orig.len()),
        pieces: Vec::new(),
        copy_from: 0,
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'&' => {
                if let Some((c, len)) = entity(&orig[i..]) {
                    b.replace(orig, i, len, Some(c));
                    i += len;
                    continue;
                }
            }
            b'<' => {
                let rest = &bytes[i..];
                if rest.starts_with(b"<!--") {
                    let len = orig[i + 4..].find("-->").map_or(rest.len(), |e| e + 7);
                    b.replace(orig, i, len, None);
                    i += len;
                    continue;
                }
                let starts_tag = match rest.get(1) {
                    Some(&c) if c.is_ascii_alphabetic() || c == b'!' || c == b'?' => true,
                    Some(b'/') => rest.get(2).is_some_and(|c| c.is_ascii_alphabetic()),
                    _ => false,
                };
                if starts_tag {
                    if let Some(end) = tag_end(rest) {
                        let (name, closing) = tag_name(rest);
                        let self_closing = rest[..end].ends_with(b"/>");
                        let mut len = end;
                        if !closing && !self_closing && (name == "script" || name == "style") {
                            // Drop the element's content too, up to and including its end tag.
                            len = match find_close(bytes, i + end, &name) {
                                Some(c) => {
                                    tag_end(&bytes[c..]).map_or(bytes.len() - i, |e| c + e - i)
                                }
                                None => bytes.len() - i,
                            };
                        }
                        let with = if INLINE_TAGS.contains(&name.as_str()) {
                            None
                        } else {
                            Some(' ')
                        };
                        b.replace(orig, i, len, with);
                        i += len;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.copy(orig, bytes.len());
    Stripped {
        text: b.text,
        pieces: b.pieces,
        orig_len: orig.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn find_term(html: &str, term: &str) -> Option<(usize, usize)> {
        let s = strip(html);
        let at = s.text().find(term)?;
        Some(s.map_span(at, at + term.len()))
    }

    #[test]
    fn tags_and_entities() {
        let html = "<p>Klant heeft <b>dia</b>betes</p><p>Volgende&nbsp;week</p>";
        let s = strip(html);
        assert_eq!(s.text(), " Klant heeft diabetes  Volgende week ");
        let (a, b) = find_term(html, "diabetes").unwrap();
        assert_eq!(&html[a..b], "dia</b>betes");
        let html = "Pati&euml;nt met epilepsie &amp; migraine &#233;&#xE9;";
        assert_eq!(strip(html).text(), "Patiënt met epilepsie & migraine éé");
        let (a, b) = find_term(html, "Patiënt").unwrap();
        assert_eq!(&html[a..b], "Pati&euml;nt");
    }

    #[test]
    fn words_do_not_merge_across_blocks() {
        let s = strip("kanker</p><p>patiënt<br/>x<div class=\"a>b\">y</div>");
        assert_eq!(s.text(), "kanker  patiënt x y ");
    }

    #[test]
    fn not_tags_and_bad_entities_stay() {
        for t in [
            "a < b",
            "x <3 y",
            "&unknown; &#; &#xZZ; & amp;",
            "<",
            "&",
            "a<b",
        ] {
            assert_eq!(strip(t).text(), t);
        }
    }

    #[test]
    fn comments_scripts_styles() {
        let s = strip("a<!-- hidden -->b<script>var x = '<p>';</script>c<STYLE>p{}</style>d");
        assert_eq!(s.text(), "ab c d");
    }

    proptest! {
        /// Text without `<` or `&` is left alone, and offsets map to themselves.
        #[test]
        fn plain_text_is_identity(t in "[^<&]{0,40}") {
            let s = strip(&t);
            prop_assert_eq!(s.text(), t.as_str());
            for (i, _) in t.char_indices() {
                prop_assert_eq!(s.map_span(i, i), (i, i));
            }
        }

        /// Every char span of the stripped text maps to an ordered span of the original on
        /// char boundaries.
        #[test]
        fn spans_map_inside_the_original(t in "(<[a-z/]{1,4}>|&[a-z#0-9]{1,5};|[a-zé <>&;]){0,30}") {
            let s = strip(&t);
            let bounds: Vec<usize> = s.text().char_indices().map(|(i, _)| i)
                .chain(std::iter::once(s.text().len())).collect();
            let mut last_end = 0;
            for w in bounds.windows(2) {
                let (a, b) = s.map_span(w[0], w[1]);
                prop_assert!(a <= b && b <= t.len());
                prop_assert!(t.is_char_boundary(a) && t.is_char_boundary(b));
                prop_assert!(a >= last_end);
                last_end = b;
            }
        }

        /// A term surrounded by markup is found, and its span is exactly the term.
        #[test]
        fn term_in_markup_maps_back(
            pre in "(<[a-z]{1,3}>|&amp;|&nbsp;| |x)*",
            post in "(</[a-z]{1,3}>|&lt;| |y)*",
        ) {
            let term = "epilepsie";
            let html = format!("{pre} {term} {post}");
            let s = strip(&html);
            let at = s.text().find(term);
            prop_assert!(at.is_some());
            let at = at.unwrap_or_default();
            let (a, b) = s.map_span(at, at + term.len());
            prop_assert_eq!(&html[a..b], term);
        }
    }
}

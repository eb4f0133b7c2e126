//! Property tests of the invariants the whole tool rests on:
//! * the normaliser never panics and its offset map lands on char boundaries;
//! * findings lie on char boundaries, char offsets agree with byte offsets, and the original
//!   slice normalises to text containing one of the entry's terms;
//! * `mask` changes only bytes inside findings;
//! * `scan(mask(x))` finds nothing the policy masked;
//! * the same for notes with terms spaced out or written with look-alike letters of other
//!   scripts (the evasion lanes, issue 20).

use std::sync::OnceLock;

use art9::{CompiledPolicy, LexiconSet, NormalizedText, Scanner, ScannerBuilder};
use proptest::prelude::*;

fn engine_scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        ScannerBuilder::new()
            .lexicons(engine_lexicons())
            .build()
            .expect("scanner")
    })
}

fn builtin_scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::builtin().expect("built-in lexicons"))
}

/// The built-in lexicons with the typo lane on (`--typos`).
fn typo_scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let mut b = ScannerBuilder::builtin().expect("built-in lexicons");
        b.typos(true);
        b.build().expect("scanner")
    })
}

fn engine_lexicons() -> LexiconSet {
    let mut set = LexiconSet::new();
    set.add_path(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/lexicons/engine-health.yaml"
    )))
    .expect("engine lexicon");
    set
}

/// The same lexicons with every pattern in the overlapping automaton.
fn engine_reference() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        ScannerBuilder::new()
            .lexicons(engine_lexicons())
            .all_overlapping(true)
            .build()
            .expect("scanner")
    })
}

fn builtin_reference() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        ScannerBuilder::builtin()
            .expect("built-in lexicons")
            .all_overlapping(true)
            .build()
            .expect("scanner")
    })
}

/// Inside-word terms of one to three bytes (the built-ins have none): the scanner and its
/// all-overlapping reference.
fn short_terms_scanners() -> &'static (Scanner, Scanner) {
    static S: OnceLock<(Scanner, Scanner)> = OnceLock::new();
    S.get_or_init(|| {
        let mut set = LexiconSet::new();
        set.add_path(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/lexicons/engine-short.yaml"
        )))
        .expect("short-term lexicon");
        let build = |overlapping| {
            ScannerBuilder::new()
                .lexicons(set.clone())
                .all_overlapping(overlapping)
                .build()
                .expect("scanner")
        };
        (build(false), build(true))
    })
}

/// Every candidate `scanner` considers in `s`, with its spans and verdict, sorted: what two
/// scanners must agree on beyond their findings.
fn verdicts(scanner: &Scanner, s: &str) -> Vec<String> {
    let mut v: Vec<String> = scanner
        .explain(s)
        .iter()
        .map(|x| {
            format!(
                "{:?}",
                (
                    x.start,
                    x.end,
                    x.term_start,
                    x.term_end,
                    x.entry,
                    x.term,
                    &x.verdict
                )
            )
        })
        .collect();
    v.sort();
    v
}

/// Text built from terms, tricky characters and noise.
fn note() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("kanker".to_string()),
        Just("patiënt".to_string()),
        Just("KRÆFT".to_string()),
        Just("kraeft".to_string()),
        Just("hart".to_string()),
        Just("CVA".to_string()),
        Just("in het ziekenhuis".to_string()),
        Just("diabetes".to_string()),
        Just("MS".to_string()),
        Just("heeft".to_string()),
        Just("Muslim".to_string()),
        Just("Venstre".to_string()),
        Just("FNV".to_string()),
        Just("sygemeldt".to_string()),
        Just("[HEALTH]".to_string()),
        Just(" ".to_string()),
        Just("  ".to_string()),
        Just("-".to_string()),
        Just("\n".to_string()),
        Just("\u{200B}".to_string()),
        Just("\u{00AD}".to_string()),
        Just("e\u{301}".to_string()),
        Just("a\u{30A}".to_string()),
        Just("😀".to_string()),
        Just("ﬁ".to_string()),
        Just("Ｋ".to_string()),
        Just("ß".to_string()),
        Just("İ".to_string()),
        Just("’".to_string()),
        "[a-zA-Zæøåéë]{1,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn check_findings(scanner: &Scanner, text: &str) -> Result<(), TestCaseError> {
    let findings = scanner.scan(text);
    let mut last_end = 0;
    for f in &findings {
        prop_assert!(f.start < f.end && f.end <= text.len());
        prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        prop_assert!(f.start >= last_end, "findings overlap or are unsorted");
        last_end = f.end;
        prop_assert_eq!(text[..f.start].chars().count(), f.char_start);
        prop_assert_eq!(text[..f.end].chars().count(), f.char_end);
        let slice = art9::normalize(&text[f.start..f.end]);
        let entry = scanner.entry(f.entry);
        // A spaced-out finding holds a term's letters with separators between them.
        let squash = |s: &str| -> String {
            if f.evasion == Some(art9::Evasion::Spaced) {
                s.chars().filter(|c| c.is_alphanumeric()).collect()
            } else {
                s.to_string()
            }
        };
        // A typo finding holds a term with a typing error (checked in the lane's own tests).
        prop_assert!(
            f.evasion == Some(art9::Evasion::Typo)
                || entry
                    .terms
                    .iter()
                    .any(|t| squash(&slice).contains(&squash(&art9::normalize(t)))),
            "finding {:?} does not contain a term of {}",
            &text[f.start..f.end],
            entry.id
        );
    }
    Ok(())
}

fn check_mask(scanner: &Scanner, policy: &CompiledPolicy, text: &str) -> Result<(), TestCaseError> {
    let findings = scanner.scan(text);
    let decision = policy.decide(&art9::RecordContext::none(), &findings);
    let masked = art9::mask(text, &findings, &decision, policy);
    // Bytes outside findings are unchanged, in order.
    let mut outside_orig = String::new();
    let mut pos = 0;
    for f in &findings {
        outside_orig.push_str(&text[pos..f.start]);
        outside_orig.push('\u{0}');
        pos = f.end;
    }
    outside_orig.push_str(&text[pos..]);
    let parts: Vec<&str> = outside_orig.split('\u{0}').collect();
    let mut rest = masked.as_str();
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            prop_assert!(rest.starts_with(p), "prefix changed");
            rest = &rest[p.len()..];
        } else {
            let at = rest.find(p);
            prop_assert!(at.is_some(), "text between findings changed");
            rest = &rest[at.unwrap_or(0) + p.len()..];
        }
    }
    // Nothing the policy masked is found again: no finding of the re-scan touches a
    // replacement. (A finding elsewhere can appear when masking shortens the distance to a
    // context word; DESIGN.md discusses this.)
    let mut regions = Vec::new();
    let mut delta: isize = 0;
    for f in &findings {
        let one = art9::Finding {
            start: 0,
            end: f.end - f.start,
            ..*f
        };
        let d = policy.decide(&art9::RecordContext::none(), std::slice::from_ref(&one));
        let repl = art9::mask(&text[f.start..f.end], &[one], &d, policy);
        let start = (f.start as isize + delta) as usize;
        regions.push((start, start + repl.len()));
        delta += repl.len() as isize - (f.end - f.start) as isize;
    }
    for g in scanner.scan(&masked) {
        prop_assert!(
            !regions.iter().any(|&(s, e)| g.start < e && s < g.end),
            "re-scan found masked data again in {:?}",
            masked
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normaliser_never_panics_and_maps_to_boundaries(s in note()) {
        let n = NormalizedText::of(&s);
        for (i, _) in n.as_str().char_indices() {
            prop_assert!(s.is_char_boundary(n.original_offset(i)));
        }
    }

    #[test]
    fn normaliser_on_arbitrary_strings(s in any::<String>()) {
        let n = NormalizedText::of(&s);
        for (i, _) in n.as_str().char_indices() {
            prop_assert!(s.is_char_boundary(n.original_offset(i)));
        }
        // Normalising is idempotent.
        let once = art9::normalize(&s);
        prop_assert_eq!(art9::normalize(&once), once);
    }

    #[test]
    fn findings_are_exact_engine(s in note()) {
        check_findings(engine_scanner(), &s)?;
    }

    #[test]
    fn findings_are_exact_builtin(s in note()) {
        check_findings(builtin_scanner(), &s)?;
    }

    /// Walking word-start patterns from word starts finds exactly what searching every
    /// pattern overlapping over the whole text finds.
    #[test]
    fn word_start_walk_equals_overlapping_search(s in note()) {
        prop_assert_eq!(builtin_scanner().scan(&s), builtin_reference().scan(&s));
        prop_assert_eq!(engine_scanner().scan(&s), engine_reference().scan(&s));
    }

    /// The same on long texts (the inside-word walk filters 64 positions at a time), down
    /// to every candidate and its verdict.
    #[test]
    fn inside_word_walk_equals_overlapping_search(
        notes in prop::collection::vec(note(), 1..12),
        sep in prop_oneof![Just(""), Just(" "), Just("kanker"), Just("\n")],
    ) {
        let s = notes.join(sep);
        prop_assert_eq!(builtin_scanner().scan(&s), builtin_reference().scan(&s));
        prop_assert_eq!(engine_scanner().scan(&s), engine_reference().scan(&s));
        let all = |scanner: &Scanner| verdicts(scanner, &s);
        prop_assert_eq!(all(builtin_scanner()), all(builtin_reference()));
        prop_assert_eq!(all(engine_scanner()), all(engine_reference()));
    }

    /// Short inside-word terms anywhere, above all in the last bytes of a text, where the
    /// inside-word walk pads its last window.
    #[test]
    fn short_inside_word_terms_up_to_the_last_byte(
        pieces in prop::collection::vec(
            prop_oneof![
                Just("tb"), Just("hiv"), Just("Q"), Just("q"), Just("+x"), Just(" "),
                Just("ab"), Just("é"), Just("xyz"), Just("patient"),
            ],
            0..80,
        ),
    ) {
        let s = pieces.concat();
        let (scanner, reference) = short_terms_scanners();
        prop_assert_eq!(scanner.scan(&s), reference.scan(&s));
        prop_assert_eq!(verdicts(scanner, &s), verdicts(reference, &s));
    }

    #[test]
    fn mask_changes_only_findings_label(s in note()) {
        let p = CompiledPolicy::load("default").expect("policy");
        check_mask(engine_scanner(), &p, &s)?;
        check_mask(builtin_scanner(), &p, &s)?;
    }

    #[test]
    fn mask_changes_only_findings_char(s in note()) {
        let p = CompiledPolicy::from_yaml("t", "default: {action: mask, style: char}\n").expect("policy");
        check_mask(engine_scanner(), &p, &s)?;
        check_mask(builtin_scanner(), &p, &s)?;
    }
}

/// Terms of the engine and built-in lexicons for the evasion notes.
const EVASION_TERMS: [&str; 8] = [
    "kanker",
    "diabetes",
    "hart",
    "CVA",
    "KRÆFT",
    "patiënt",
    "in het ziekenhuis",
    "Muslim",
];

/// Latin letters and a Cyrillic or Greek look-alike of each.
const LOOK_ALIKES: [(char, char); 8] = [
    ('a', '\u{0430}'),
    ('e', '\u{0435}'),
    ('o', '\u{03BF}'),
    ('i', '\u{0456}'),
    ('s', '\u{0455}'),
    ('C', '\u{0421}'),
    ('K', '\u{039A}'),
    ('A', '\u{0410}'),
];

/// Notes with terms spaced or dotted out, or with look-alike letters, among letters,
/// separators and other pieces that could be taken for runs.
fn evasive_note() -> impl Strategy<Value = String> {
    let term = prop::sample::select(EVASION_TERMS.to_vec());
    let sep = prop::sample::select(vec![" ", ".", "-", "_", "/", "  ", "\u{00A0}"]);
    let piece = prop_oneof![
        (term.clone(), sep)
            .prop_map(|(t, sep)| { t.chars().map(String::from).collect::<Vec<_>>().join(sep) }),
        (term.clone(), any::<prop::sample::Index>()).prop_map(|(t, i)| {
            let places: Vec<usize> = t
                .char_indices()
                .filter(|(_, c)| LOOK_ALIKES.iter().any(|(l, _)| l == c))
                .map(|(at, _)| at)
                .collect();
            if places.is_empty() {
                return t.to_string();
            }
            let at = places[i.index(places.len())];
            let mut out = String::new();
            for (j, c) in t.char_indices() {
                let swap = LOOK_ALIKES.iter().find(|(l, _)| *l == c).map(|(_, g)| *g);
                out.push(if j == at { swap.unwrap_or(c) } else { c });
            }
            out
        }),
        term.prop_map(str::to_string),
        Just(" ".to_string()),
        Just(".".to_string()),
        Just("-".to_string()),
        Just("\u{200B}".to_string()),
        Just("мама".to_string()),
        "[a-zA-Zæ]{1,3}",
        "([a-z] ){1,4}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Findings of the evasion lanes lie on char boundaries of the original, with exact
    /// char offsets, sorted and disjoint, each holding a term of its entry (for spaced-out
    /// ones, its letters); the two automaton layouts agree.
    #[test]
    fn evasion_findings_are_exact(s in evasive_note()) {
        check_findings(builtin_scanner(), &s)?;
        check_findings(engine_scanner(), &s)?;
        prop_assert_eq!(builtin_scanner().scan(&s), builtin_reference().scan(&s));
        prop_assert_eq!(engine_scanner().scan(&s), engine_reference().scan(&s));
    }

    /// Masking a lane's finding changes only its bytes, and the re-scan finds nothing there.
    #[test]
    fn evasion_findings_mask_and_rescan(s in evasive_note()) {
        let label = CompiledPolicy::load("default").expect("policy");
        let chars = CompiledPolicy::from_yaml("t", "default: {action: mask, style: char}\n")
            .expect("policy");
        for p in [&label, &chars] {
            check_mask(engine_scanner(), p, &s)?;
            check_mask(builtin_scanner(), p, &s)?;
        }
    }
}

/// Terms of the built-in lexicons in the shapes the typo lane takes (a word, a term with an
/// ending, a multi-word term, the start of a compound, a case-sensitive term).
const TYPO_TERMS: [&str; 7] = [
    "diabetes",
    "ramadanen",
    "Forum voor Democratie",
    "diabetespatiënt",
    "sukkersyge",
    "Venstre",
    "kræftsyg",
];

/// Notes with terms carrying one typing error (substitution, deletion, transposition,
/// insertion after the first letter) among the evasive notes' pieces.
fn typo_note() -> impl Strategy<Value = String> {
    let typo = (
        prop::sample::select(TYPO_TERMS.to_vec()),
        any::<prop::sample::Index>(),
        0..4u8,
    )
        .prop_map(|(t, i, op)| {
            let mut c: Vec<char> = t.chars().collect();
            let at = 1 + i.index(c.len() - 2);
            match op {
                0 => c[at] = 'x',
                1 => {
                    c.remove(at);
                }
                2 => c.swap(at, at + 1),
                _ => c.insert(at, 'q'),
            }
            c.into_iter().collect::<String>()
        });
    prop::collection::vec(prop_oneof![typo, evasive_note()], 0..6).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The typo lane's findings (issue 20) lie on char boundaries of the original, with exact
    /// char offsets, sorted and disjoint; masking them changes only their bytes, and the
    /// re-scan finds nothing there.
    #[test]
    fn typo_findings_are_exact_and_mask(s in typo_note()) {
        check_findings(typo_scanner(), &s)?;
        let label = CompiledPolicy::load("default").expect("policy");
        check_mask(typo_scanner(), &label, &s)?;
    }
}

/// The typo notes exercise the lane (so that the property is not vacuous).
#[test]
fn typo_notes_find_typos() {
    let f = typo_scanner().scan("Klant heeft diabtees en stemt Forum voor Democraie.");
    let lanes: Vec<_> = f.iter().map(|f| f.evasion).collect();
    assert_eq!(
        lanes,
        [Some(art9::Evasion::Typo), Some(art9::Evasion::Typo)]
    );
}

/// Every lane is exercised by the notes above: a spaced-out and a look-alike term are found
/// and tagged (a test of the strategy's pieces, so that the properties are not vacuous).
#[test]
fn evasion_lanes_tag_their_findings() {
    let s = "klant heeft d.i.a.b.e.t.e.s en k\u{0430}nker";
    let f = builtin_scanner().scan(s);
    let lanes: Vec<_> = f.iter().map(|f| f.evasion).collect();
    assert_eq!(
        lanes,
        [Some(art9::Evasion::Spaced), Some(art9::Evasion::Homoglyph)]
    );
}

/// Found by proptest: masking shortens the distance between "MS" and its context word; the
/// re-scan may find MS, but never the masked data.
#[test]
fn regression_context_shift_after_masking() {
    let p =
        CompiledPolicy::from_yaml("t", "default: {action: mask, style: char}\n").expect("policy");
    let r = check_mask(engine_scanner(), &p, "MS kanker[HEALTH]heeft");
    assert!(r.is_ok(), "{r:?}");
}

/// One line of a JSON Lines input for [`json_lines_read_in_blocks_equal_line_by_line`].
fn jsonl_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => ("[a-z ]{0,12}", "[a-zæøé ]{0,80}").prop_map(|(id, note)| {
            format!("{{\"id\":\"{id}\",\"note\":\"{note}\"}}").into_bytes()
        }),
        1 => Just(Vec::new()),
        1 => Just(b"  \t ".to_vec()),
        1 => Just(b"{\"id\":\"x\",\"note\":".to_vec()),
        1 => Just(b"{\"id\":\"n\",\"note\":\"a\0b\"}".to_vec()),
        1 => Just(b"{\"id\":\"u\",\"note\":\"\xff\xfe\"}".to_vec()),
        1 => Just(b"{\"id\":\"r\",\"note\":\"crlf\"}\r".to_vec()),
    ]
}

/// The reference: split the input at `\n` and check each line by itself.
fn reference_records(
    input: &[u8],
    max: usize,
    options: &art9::input::JsonOptions,
) -> Vec<Result<art9::input::Record, art9::input::Skipped>> {
    use art9::input::{parse_json_record, SkipKind, Skipped};
    let mut out = Vec::new();
    let mut rest = input;
    let mut line = 0;
    while !rest.is_empty() {
        let (with_term, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest.split_at(i + 1),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        line += 1;
        let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
        if with_term.len() > max + 2 {
            out.push(Err(skip(
                SkipKind::TooLarge,
                format!("record is over the {max} byte limit (--max-record-bytes)"),
            )));
            continue;
        }
        if with_term.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let (body, term) = if let Some(b) = with_term.strip_suffix(b"\r\n") {
            (b, "\r\n")
        } else if let Some(b) = with_term.strip_suffix(b"\n") {
            (b, "\n")
        } else {
            (with_term, "")
        };
        if let Some(i) = body.iter().position(|&b| b == 0) {
            out.push(Err(skip(
                SkipKind::NulByte,
                format!("NUL byte at column {}", i + 1),
            )));
            continue;
        }
        match std::str::from_utf8(body) {
            Err(e) => out.push(Err(skip(
                SkipKind::InvalidUtf8,
                format!("invalid UTF-8 at column {}", e.valid_up_to() + 1),
            ))),
            Ok(text) => out.push(parse_json_record(text.to_string(), term, line, options)),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Reading JSON Lines in blocks (lines crossing blocks, lines longer than a block, lines
    /// over the limit dropped while read) gives what reading line by line gives: the same
    /// records, skips and line numbers.
    #[test]
    fn json_lines_read_in_blocks_equal_line_by_line(
        lines in proptest::collection::vec(jsonl_line(), 0..40),
        last_newline in any::<bool>(),
        block in 1usize..64,
        max in 8usize..160,
        keep_raw in any::<bool>(),
    ) {
        use art9::input::{JsonLines, JsonOptions, RecordSource};
        let mut input = lines.join(&b'\n');
        if last_newline && !lines.is_empty() {
            input.push(b'\n');
        }
        let options = || JsonOptions {
            fields: vec!["note".into()],
            key: vec!["id".into()],
            subject: None,
            context: Vec::new(),
        };
        let mut expected = reference_records(&input, max, &options());
        if !keep_raw {
            for r in expected.iter_mut().flatten() {
                r.raw.clear();
            }
        }
        let src = JsonLines::new(std::io::BufReader::with_capacity(7, &input[..]), max, options())
            .block_bytes(block);
        let mut src = if keep_raw { src } else { src.without_raw() };
        let mut got = Vec::new();
        while let Some(r) = src.next_record() {
            got.push(r.expect("no read error"));
        }
        prop_assert_eq!(got, expected);
    }
}

//! The checks behind the fuzz targets (`fuzz/fuzz_targets/*.rs`, run with `cargo +nightly
//! fuzz run TARGET`) and behind `tests/fuzz_regressions.rs`, which runs every saved input
//! under `tests/data/fuzz/<target>/` through the same check on stable. Each `check_*`
//! function takes raw fuzzer bytes and panics when an invariant does not hold; see
//! FUZZING.md for what each one checks.
//!
//! Plain `assert!`s on purpose: a failed check is a finding, and libFuzzer saves the input.

#![allow(dead_code)]

use std::io::BufReader;
use std::sync::OnceLock;

use art9::input::{
    parse_json_record, CsvOptions, CsvSource, JsonLines, JsonOptions, Record, RecordSource,
    SkipKind, Skipped,
};
use art9::{
    normalize, Action, CompiledPolicy, Finding, Lexicon, LexiconSet, NormalizedText, Outcome,
    Scanner, ScannerBuilder,
};

/// Fuzzer bytes as text: invalid UTF-8 becomes U+FFFD, so every input reaches the code.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The first byte (option bits) and the rest.
fn split_mode(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => (0, data),
    }
}

// ---------------------------------------------------------------------------------------
// normalize

/// The normaliser: its offset map lands on char boundaries of the original and never goes
/// backwards; every normalised char maps back to a non-empty range of whole original chars;
/// `normalize()` agrees with [`NormalizedText`]; normalising is idempotent; the search
/// variant (zero-copy on plain ASCII) gives the same text up to ASCII case and the same map,
/// also in a buffer that held another text before.
pub fn check_normalize(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();
    let n = NormalizedText::of(s);
    let norm = n.as_str();
    assert_eq!(
        norm,
        normalize(s),
        "normalize() differs from NormalizedText"
    );
    let mut last = 0;
    for i in 0..norm.len() {
        let o = n.original_offset(i);
        assert!(o < s.len(), "offset {o} past the end ({})", s.len());
        assert!(s.is_char_boundary(o), "offset {o} not on a char boundary");
        assert!(o >= last, "offset map goes backwards at {i}");
        last = o;
    }
    let mut prev = (0, 0);
    for (i, c) in norm.char_indices() {
        let (a, b) = n.original_range(s, i, i + c.len_utf8());
        assert!(a < b && b <= s.len(), "bad range {a}..{b} for char at {i}");
        assert!(s.is_char_boundary(a) && s.is_char_boundary(b));
        assert!(a >= prev.0 && b >= prev.1, "ranges go backwards at {i}");
        prev = (a, b);
    }
    if !norm.is_empty() {
        let (a, b) = n.original_range(s, 0, norm.len());
        assert!(a < b && b <= s.len() && s.is_char_boundary(a) && s.is_char_boundary(b));
    }
    assert_eq!(normalize(norm), norm, "normalising is not idempotent");

    let mut m = NormalizedText::new();
    m.normalize("Ærø  kan\u{200B}ker e\u{301} ﬁ\tİ");
    m.normalize_for_search(s);
    let searched = m.search_text(s);
    assert_eq!(searched.len(), norm.len(), "search text length differs");
    assert!(
        searched.eq_ignore_ascii_case(norm),
        "search text differs from the normalised text beyond ASCII case"
    );
    for i in 0..norm.len() {
        assert_eq!(
            m.original_offset(i),
            n.original_offset(i),
            "maps differ at {i}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// matcher

/// A scanner and its all-overlapping reference (every pattern in one overlapping automaton,
/// the slow, obviously complete search the fast walks must equal).
struct Pair {
    fast: Scanner,
    reference: Scanner,
}

fn pair(set: LexiconSet, zero_copy: bool) -> Option<Pair> {
    let build = |overlapping: bool| {
        ScannerBuilder::new()
            .lexicons(set.clone())
            .zero_copy_ascii(zero_copy)
            .all_overlapping(overlapping)
            .build()
            .ok()
    };
    Some(Pair {
        fast: build(false)?,
        reference: build(true)?,
    })
}

fn test_lexicon(path: &str, yaml: &str) -> LexiconSet {
    let mut set = LexiconSet::new();
    let lexicon = Lexicon::from_yaml(path, yaml).expect("test lexicon loads");
    set.insert(lexicon).expect("test lexicon inserts");
    set
}

/// The built-in lexicons (both ASCII paths) and the two engine test lexicons.
fn matcher_pairs() -> &'static [Pair] {
    static PAIRS: OnceLock<Vec<Pair>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        let builtin = LexiconSet::builtin().expect("built-in lexicons");
        let health = test_lexicon(
            "engine-health.yaml",
            include_str!("../tests/data/lexicons/engine-health.yaml"),
        );
        let short = test_lexicon(
            "engine-short.yaml",
            include_str!("../tests/data/lexicons/engine-short.yaml"),
        );
        vec![
            pair(builtin.clone(), false).expect("built-in scanner"),
            pair(builtin, true).expect("built-in scanner, zero-copy ASCII"),
            pair(health, false).expect("engine-health scanner"),
            pair(short, false).expect("engine-short scanner"),
        ]
    })
}

fn builtin_scanner() -> &'static Scanner {
    &matcher_pairs()[0].fast
}

/// Every candidate a scanner considers, with spans and verdicts, sorted.
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

/// Findings are sorted, disjoint, on char boundaries, with char offsets that agree with the
/// byte offsets, and each covers text that normalises to something holding one of its
/// entry's terms.
fn check_findings(scanner: &Scanner, text: &str, findings: &[Finding]) {
    let mut last_end = 0;
    for f in findings {
        assert!(
            f.start < f.end && f.end <= text.len(),
            "finding out of range"
        );
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!(f.start >= last_end, "findings overlap or are unsorted");
        last_end = f.end;
        assert_eq!(text[..f.start].chars().count(), f.char_start);
        assert_eq!(text[..f.end].chars().count(), f.char_end);
        let slice = normalize(&text[f.start..f.end]);
        let entry = scanner.entry(f.entry);
        assert!(
            entry.terms.iter().any(|t| slice.contains(&normalize(t))),
            "finding {:?} holds no term of {}",
            &text[f.start..f.end],
            entry.id
        );
    }
}

/// `mask` changes only bytes inside findings, and a re-scan of the masked text finds
/// nothing inside a replacement (as in tests/properties.rs).
fn check_mask(scanner: &Scanner, policy: &CompiledPolicy, field: Option<&str>, text: &str) {
    let findings = scanner.scan(text);
    let ctx = art9::RecordContext {
        field,
        ..art9::RecordContext::none()
    };
    let decision = policy.decide(&ctx, &findings);
    assert_eq!(decision.actions.len(), findings.len());
    let want = decision
        .actions
        .iter()
        .map(|(a, _)| match a {
            Action::Allow | Action::Flag => Outcome::Accept,
            Action::Mask => Outcome::Mask,
            Action::Reject => Outcome::Reject,
        })
        .max()
        .unwrap_or(Outcome::Accept);
    assert_eq!(
        decision.outcome, want,
        "outcome is not the strongest action"
    );
    let masked = art9::mask(text, &findings, &decision, policy);
    // Masking the whole text is masking each finding by itself: bytes outside findings are
    // unchanged, in order. `regions` are the replacements in the masked text.
    let mut expected = String::new();
    let mut regions = Vec::new();
    let mut pos = 0;
    for (i, f) in findings.iter().enumerate() {
        let one = Finding {
            start: 0,
            end: f.end - f.start,
            ..*f
        };
        let d = art9::Decision {
            outcome: decision.outcome,
            actions: vec![decision.actions[i]],
            gdpr: Vec::new(),
        };
        let repl = art9::mask(&text[f.start..f.end], &[one], &d, policy);
        expected.push_str(&text[pos..f.start]);
        if !matches!(decision.actions[i].0, Action::Allow | Action::Flag) {
            regions.push((expected.len(), expected.len() + repl.len()));
        }
        expected.push_str(&repl);
        pos = f.end;
    }
    expected.push_str(&text[pos..]);
    assert!(masked == expected, "masking changed bytes outside findings");
    // Nothing masked is found again.
    for g in scanner.scan(&masked) {
        assert!(
            !regions.iter().any(|&(s, e)| g.start < e && s < g.end),
            "re-scan found masked data again"
        );
    }
}

fn char_policy() -> &'static CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(|| {
        CompiledPolicy::from_yaml(
            "char",
            "default: {action: mask, style: char}\nmask_char: '\"'\n\
             categories:\n  politics: {action: mask, style: remove}\n  religion: {action: flag}\n",
        )
        .expect("char policy")
    })
}

/// The matcher: on every lexicon, the fast walks find exactly what the all-overlapping
/// reference finds, down to every candidate and verdict; findings are exact; masking with
/// labels, chars and removal changes only findings and leaves nothing to find again.
pub fn check_matcher(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();
    for p in matcher_pairs() {
        let got = p.fast.scan(s);
        assert_eq!(got, p.reference.scan(s), "fast walk differs from reference");
        assert_eq!(verdicts(&p.fast, s), verdicts(&p.reference, s));
        check_findings(&p.fast, s, &got);
    }
    let label = CompiledPolicy::default_policy();
    for p in &matcher_pairs()[..3] {
        check_mask(&p.fast, &label, None, s);
        check_mask(&p.fast, char_policy(), None, s);
    }
}

// ---------------------------------------------------------------------------------------
// lexicon_yaml

/// A loader error names the file and, when it has one, a line within the input (or just
/// past its end, for an error at the end of input). Lines as YAML counts them: a lone CR
/// breaks a line too (and, leniently, NEL, LS and PS, which YAML 1.1 counted).
fn check_error_line(line: Option<usize>, input: &str) {
    if let Some(l) = line {
        let breaks = input.matches('\n').count()
            + input.matches('\r').count()
            + input.matches(['\u{85}', '\u{2028}', '\u{2029}']).count();
        assert!(
            l >= 1 && l <= breaks + 2,
            "error line {l} outside the input"
        );
    }
}

/// Texts to scan with a scanner built from fuzzed lexicons: its terms, examples and
/// counterexamples, alone and run together.
fn lexicon_texts(set: &LexiconSet) -> Vec<String> {
    let mut texts = Vec::new();
    for lexicon in set.iter() {
        for e in &lexicon.entries {
            texts.extend(e.terms.iter().cloned());
            texts.extend(e.examples.iter().cloned());
            texts.extend(e.counterexamples.iter().cloned());
            texts.extend(e.exclude.iter().cloned());
        }
    }
    texts.truncate(64);
    let all = texts.join(" ");
    let tight = texts.concat();
    texts.push(all);
    texts.push(tight);
    texts
}

/// A lexicon set that loaded: a scanner builds from it (or fails with a typed error), and
/// its fast walks equal the all-overlapping reference on the lexicon's own texts.
fn check_loaded_set(set: LexiconSet) {
    let texts = lexicon_texts(&set);
    for zero_copy in [false, true] {
        let Some(p) = pair(set.clone(), zero_copy) else {
            // Both builds fail alike (a typed BuildError); nothing more to check.
            return;
        };
        for t in &texts {
            let got = p.fast.scan(t);
            assert_eq!(got, p.reference.scan(t), "fast walk differs from reference");
            assert_eq!(verdicts(&p.fast, t), verdicts(&p.reference, t));
            check_findings(&p.fast, t, &got);
        }
    }
}

/// Lexicon YAML (first byte even) or a term list (odd): loading returns a lexicon or a typed
/// error with the file and a line inside the input, never a panic; what loads builds a
/// scanner whose fast walks equal the reference on the lexicon's own terms and examples.
pub fn check_lexicon_yaml(data: &[u8]) {
    let (mode, rest) = split_mode(data);
    let input = text(rest);
    let input = input.as_ref();
    if mode & 1 == 0 {
        match Lexicon::from_yaml("fuzz.yaml", input) {
            Err(e) => {
                assert_eq!(e.path, "fuzz.yaml");
                check_error_line(e.line, input);
                let _ = e.to_string();
            }
            Ok(lexicon) => {
                let mut set = LexiconSet::new();
                if set.insert(lexicon).is_ok() {
                    check_loaded_set(set);
                }
            }
        }
    } else {
        match LexiconSet::from_terms_tsv("fuzz.tsv", input) {
            Err(e) => {
                assert_eq!(e.path, "fuzz.tsv");
                check_error_line(e.line, input);
                let _ = e.to_string();
            }
            Ok(set) => check_loaded_set(set),
        }
    }
}

// ---------------------------------------------------------------------------------------
// policy_yaml

/// Notes with findings of every category in the built-in lexicons, for fuzzed policies to
/// decide and mask.
const POLICY_NOTES: &[&str] = &[
    "Klant heeft diabetes en is lid van de FNV, stemt op de PVV.",
    "Kunden er muslim og har kræft; medlem af 3F. Dømt for tyveri.",
    "Patient is gay, a Catholic, and was arrested for fraud; HIV positive.",
    "Geen bijzonderheden.",
];

/// Policy YAML: loading returns a policy or a typed error with a line inside the input,
/// never a panic; a policy that loads has a usable mask char, decides every finding with
/// the strongest action as the outcome, and masks only findings, leaving nothing masked to
/// be found again, for every field it names and for none.
pub fn check_policy_yaml(data: &[u8]) {
    static KEY: std::sync::Once = std::sync::Once::new();
    // `style: hash` needs a key; the default comes from this variable.
    KEY.call_once(|| std::env::set_var("ART9_HASH_KEY", "fuzz-key-0123456789abcdef"));
    let input = text(data);
    let input = input.as_ref();
    // `hash_key: {file: ...}` reads that file: keep the fuzzer away from device files.
    if ["/dev", "/proc", "/sys"].iter().any(|d| input.contains(d)) {
        return;
    }
    match CompiledPolicy::from_yaml("fuzz-policy", input) {
        Err(e) => {
            assert_eq!(e.source, "fuzz-policy");
            check_error_line(e.line, input);
            let _ = e.to_string();
        }
        Ok(policy) => {
            let c = policy.mask_char();
            assert!(!c.is_alphanumeric() && !c.is_whitespace(), "bad mask char");
            let _ = format!("{policy:?}");
            for note in POLICY_NOTES {
                for field in [None, Some("notes"), Some("summary"), Some("")] {
                    check_mask(builtin_scanner(), &policy, field, note);
                }
            }
        }
    }
}
// ---------------------------------------------------------------------------------------
// csv

/// Records as `csv_core` reads `input` (the reference grammar): line where each starts, its
/// decoded fields, and whether a quote was left open (the reader's fatal error).
fn csv_reference(input: &[u8], d: u8) -> Vec<(u64, Vec<Vec<u8>>, bool)> {
    use csv_core::ReadRecordResult as R;
    let mut rdr = csv_core::ReaderBuilder::new().delimiter(d).build();
    let mut out = vec![0u8; input.len() + 1];
    let mut ends = vec![0usize; input.len() + 2];
    let mut pos = 0;
    let mut recs = Vec::new();
    loop {
        let mut start = pos;
        while start < input.len() && (input[start] == b'\r' || input[start] == b'\n') {
            start += 1;
        }
        let (mut outlen, mut endlen) = (0, 0);
        let res = loop {
            let (res, nin, nout, nend) =
                rdr.read_record(&input[pos..], &mut out[outlen..], &mut ends[endlen..]);
            pos += nin;
            outlen += nout;
            endlen += nend;
            match res {
                R::InputEmpty if pos < input.len() || nin > 0 => {}
                R::InputEmpty => {
                    let (res, _, nout, nend) =
                        rdr.read_record(&[], &mut out[outlen..], &mut ends[endlen..]);
                    outlen += nout;
                    endlen += nend;
                    break res;
                }
                other => break other,
            }
        };
        let _ = outlen;
        match res {
            R::Record => {
                // Whether the record ends inside quotes: the per-byte tracker.
                let mut quoted = false;
                let mut at_start = true;
                let mut maybe_closed = false;
                for &b in &input[start..pos] {
                    if quoted {
                        if b == b'"' {
                            quoted = false;
                            maybe_closed = true;
                        }
                        continue;
                    }
                    if b == b'"' && (at_start || maybe_closed) {
                        quoted = true;
                        maybe_closed = false;
                        continue;
                    }
                    maybe_closed = false;
                    at_start = b == d || b == b'\n' || b == b'\r';
                }
                let mut fields = Vec::new();
                let mut from = 0;
                for &e in &ends[..endlen] {
                    fields.push(out[from..e].to_vec());
                    from = e;
                }
                let line = 1 + input[..start].iter().filter(|&&b| b == b'\n').count();
                recs.push((line as u64, fields, quoted));
            }
            R::End => return recs,
            other => panic!("reference buffers too small: {other:?}"),
        }
    }
}

/// `record.raw` with each field's span replaced by `values[i]`, encoded with `encode`. The
/// spans are spliced in the order they occur (fields come in the options' order: a glob or
/// nested field can lie before an earlier one), as `art9 mask` does; they never overlap.
fn splice(record: &Record, values: &[String], encode: impl Fn(&str, &str) -> String) -> String {
    // No span: a JSON null (its text is empty, nothing to mask).
    let mut spans: Vec<((usize, usize), &String)> = record
        .fields
        .iter()
        .zip(values)
        .filter_map(|(f, v)| f.raw_span.map(|span| (span, v)))
        .collect();
    spans.sort_by_key(|&((s, _), _)| s);
    let mut out = String::new();
    let mut pos = 0;
    for ((s, e), v) in spans {
        assert!(s >= pos && e >= s && e <= record.raw.len(), "bad raw span");
        out.push_str(&record.raw[pos..s]);
        out.push_str(&encode(&record.raw[s..e], v));
        pos = e;
    }
    out.push_str(&record.raw[pos..]);
    out
}

/// The policies the masked copies are made with: labels, `"` chars, removal.
fn copy_policies() -> &'static [CompiledPolicy] {
    static P: OnceLock<Vec<CompiledPolicy>> = OnceLock::new();
    P.get_or_init(|| {
        vec![
            CompiledPolicy::default_policy(),
            char_policy().clone(),
            CompiledPolicy::from_yaml("remove", "default: {action: mask, style: remove}\n")
                .expect("remove policy"),
        ]
    })
}

/// What a masked copy writes for field `i` of a record: the policy's masked value, or for
/// fields with nothing to mask a value that needs quoting (every other field) or the text
/// itself.
fn masked_values(record: &Record, policy: &CompiledPolicy, odd: &str) -> Vec<String> {
    let options = art9::pipeline::Options {
        policy: Some(policy.clone()),
        mask: true,
        threads: 1,
        ..art9::pipeline::Options::default()
    };
    let results = art9::pipeline::process(builtin_scanner(), &options, record);
    assert_eq!(results.len(), record.fields.len());
    results
        .iter()
        .zip(&record.fields)
        .enumerate()
        .map(|(i, (r, f))| match &r.masked {
            Some(m) => m.clone(),
            None if i % 2 == 1 => format!("{odd}{}{odd}", f.text),
            None => f.text.clone(),
        })
        .collect()
}

/// The CSV reader and the masked copy: every record the reader returns is the record
/// `csv_core` reads there (same line, same field values) or a typed skip; an unclosed quote
/// is a fatal error exactly where `csv_core` leaves a quote open; the header plus every
/// record's raw bytes with its fields replaced by masked values reads back (with `csv_core`)
/// as exactly those values.
///
/// The first byte picks delimiter, header, record size limit, read buffer size and policy.
pub fn check_csv(data: &[u8]) {
    let (mode, input) = split_mode(data);
    let delimiter = match mode & 7 {
        2 => Some(b','),
        3 => Some(b';'),
        4 => Some(b'\t'),
        5 => Some(b'|'),
        6 => input.first().copied(),
        _ => None,
    };
    let has_header = mode & 8 == 0;
    let max_record_bytes = if mode & 16 != 0 {
        8 + usize::from(mode >> 5) * 8
    } else {
        art9::input::DEFAULT_MAX_RECORD_BYTES
    };
    let cap = [1, 2, 3, 7, 16, 64, 4096, 8192][usize::from(mode >> 5)];
    let policy = &copy_policies()[usize::from(mode >> 5) % 3];
    let options = CsvOptions {
        delimiter,
        has_header,
        max_record_bytes,
        spans: true,
        ..CsvOptions::default()
    };
    let mut src = match CsvSource::new(BufReader::with_capacity(cap, input), options) {
        Ok(src) => src,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let d = src.delimiter();
    let reference = csv_reference(input, d);
    let mut expected = reference.iter();
    let header: Vec<String> = src.header().to_vec();
    let mut copy = src.header_raw().to_vec();
    let mut copy_values: Vec<Vec<Vec<u8>>> = Vec::new();
    if !has_header {
        // The columns are the first row's fields, however long it is.
        let first = reference.first().map_or(0, |(_, v, _)| v.len());
        assert_eq!(header.len(), first, "the columns are not the first row's");
    }
    if has_header {
        if let Some((_, h, _)) = expected.next() {
            let h: Vec<String> = h
                .iter()
                .map(|v| String::from_utf8_lossy(v).into())
                .collect();
            assert_eq!(header, h, "header differs from csv_core");
            copy_values.push(h.into_iter().map(String::into_bytes).collect());
        }
    }
    let odd = format!("\"{}\n", char::from(d));
    while let Some(item) = src.next_record() {
        let (line, values, unterminated) = expected.next().expect("a record csv_core has not");
        match item {
            Err(e) => {
                assert!(
                    *unterminated,
                    "fatal error where csv_core closes every quote: {e}"
                );
                break;
            }
            Ok(Err(skipped)) => {
                check_skip_reason(&skipped);
                assert_eq!(skipped.line, *line, "skip on the wrong line");
                if skipped.kind == SkipKind::RaggedRow {
                    assert_ne!(values.len(), header.len(), "ragged row that is not ragged");
                }
            }
            Ok(Ok(record)) => {
                assert!(!unterminated, "record where csv_core leaves a quote open");
                assert_eq!(record.line, *line, "record on the wrong line");
                assert_eq!(record.key, line.to_string());
                let got: Vec<&[u8]> = record.fields.iter().map(|f| f.text.as_bytes()).collect();
                let want: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                assert_eq!(got, want, "field values differ from csv_core");
                for (f, name) in record.fields.iter().zip(&header) {
                    assert_eq!(&f.name, name);
                }
                let masked = masked_values(&record, policy, &odd);
                copy.extend_from_slice(
                    splice(&record, &masked, |raw, v| {
                        art9::input::csv::encode_field(d, raw, v)
                    })
                    .as_bytes(),
                );
                copy_values.push(masked.into_iter().map(String::into_bytes).collect());
            }
        }
    }
    assert!(
        expected.next().is_none(),
        "csv_core reads records the reader does not"
    );
    // The masked copy reads back as the masked values, record for record.
    let back: Vec<Vec<Vec<u8>>> = csv_reference(&copy, d)
        .into_iter()
        .map(|(_, v, _)| v)
        .collect();
    assert_eq!(back, copy_values, "the masked copy does not read back");
}
// ---------------------------------------------------------------------------------------
// jsonl

/// The reference reader (as in tests/properties.rs): split the input at `\n` and check and
/// parse each line by itself.
fn jsonl_reference(
    input: &[u8],
    max: usize,
    options: &JsonOptions,
) -> Vec<Result<Record, Skipped>> {
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
            out.push(Err(Skipped::too_large(line, max)));
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

fn jsonl_options(variant: u8) -> JsonOptions {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match variant % 3 {
        0 => JsonOptions {
            fields: strings(&["note"]),
            key: strings(&["id"]),
            subject: None,
            context: Vec::new(),
        },
        1 => JsonOptions::default(),
        _ => JsonOptions {
            fields: strings(&["note", "meta.text", "n*"]),
            key: strings(&["id", "nr"]),
            subject: Some("who".into()),
            context: strings(&["meta.when", "ctx"]),
        },
    }
}

/// JSON Lines: reading record by record and reading in runs (the batch engine's way), in
/// blocks of any size, give exactly what checking and parsing each line by itself gives
/// (records, skips, line numbers); a skip reason never holds record text; every record's raw
/// line with its fields replaced by JSON-encoded masked values parses back to those values
/// with the same key and subject.
///
/// The first byte picks block size, record size limit, field options and policy.
pub fn check_jsonl(data: &[u8]) {
    let (mode, input) = split_mode(data);
    let block = 1 + usize::from(mode & 15) * 5;
    let max = [16, 64, 300, art9::input::DEFAULT_MAX_RECORD_BYTES][usize::from(mode >> 4) & 3];
    let variant = mode >> 6;
    let options = jsonl_options(variant);
    let expected = jsonl_reference(input, max, &options);

    let mut one_by_one = Vec::new();
    let mut src = JsonLines::new(
        BufReader::with_capacity(7, input),
        max,
        jsonl_options(variant),
    )
    .block_bytes(block);
    while let Some(r) = src.next_record() {
        one_by_one.push(r.expect("no read error from a slice"));
    }
    assert!(
        one_by_one == expected,
        "records differ from line-by-line reading"
    );

    let mut in_runs = Vec::new();
    let mut src = JsonLines::new(
        BufReader::with_capacity(5, input),
        max,
        jsonl_options(variant),
    )
    .block_bytes(block);
    while let Some(run) = src.next_run(1 + usize::from(mode % 7)) {
        run.expect("no read error from a slice")
            .resolve_each(|r| in_runs.push(r));
    }
    assert!(
        in_runs == expected,
        "records read in runs differ from line-by-line reading"
    );

    let policy = &copy_policies()[usize::from(mode) % 3];
    for r in &expected {
        match r {
            Err(skipped) => check_skip_reason(skipped),
            Ok(record) => {
                let mut values = masked_values(record, policy, "\"\\\n\u{2028}");
                for (v, f) in values.iter_mut().zip(&record.fields) {
                    if f.raw_span.is_none() {
                        v.clone_from(&f.text);
                    }
                }
                let raw = splice(record, &values, |_, v| {
                    serde_json::to_string(v).expect("a string serialises")
                });
                let back = parse_json_record(raw, record.terminator, record.line, &options)
                    .expect("the masked line parses");
                let got: Vec<(&str, &str)> = back
                    .fields
                    .iter()
                    .map(|f| (f.name.as_str(), f.text.as_str()))
                    .collect();
                let want: Vec<(&str, &str)> = record
                    .fields
                    .iter()
                    .zip(&values)
                    .map(|(f, v)| (f.name.as_str(), v.as_str()))
                    .collect();
                assert_eq!(got, want, "the masked line does not read back");
                assert_eq!(back.key, record.key);
                assert_eq!(back.subject, record.subject);
            }
        }
    }
}

/// A skip reason is one line and quotes no text of the record: every word in it is a word
/// of the reason templates or a field name the options give.
fn check_skip_reason(skipped: &Skipped) {
    const WORDS: &[&str] = &[
        "record",
        "is",
        "over",
        "the",
        "byte",
        "bytes",
        "limit",
        "max",
        "invalid",
        "utf",
        "at",
        "column",
        "nul",
        "json",
        "unexpected",
        "end",
        "of",
        "line",
        "not",
        "a",
        "an",
        "object",
        "read",
        "error",
        "key",
        "field",
        "missing",
        "string",
        "or",
        "number",
        "null",
        "boolean",
        "array",
        "note",
        "id",
        "meta",
        "text",
        "nr",
        "who",
        "row",
        "has",
        "fields",
        "header",
        "on",
        "if",
        "file",
        "pass",
        "encoding",
        "e",
        "g",
        "windows",
        "latin1",
    ];
    assert!(!skipped.reason.contains('\n'), "multi-line skip reason");
    for w in skipped.reason.split(|c: char| !c.is_ascii_alphanumeric()) {
        assert!(
            w.is_empty()
                || w.bytes().all(|b| b.is_ascii_digit())
                || WORDS.contains(&w.to_ascii_lowercase().as_str()),
            "skip reason has a word that is not from its template: {w:?}"
        );
    }
}
// ---------------------------------------------------------------------------------------
// service

fn engine() -> &'static art9::service::Engine {
    static E: OnceLock<art9::service::Engine> = OnceLock::new();
    E.get_or_init(|| art9::service::Engine::builtin().expect("built-in engine"))
}

/// An error message quotes nothing of the request: with digits left out, it is one of the
/// fixed messages (JSON errors name only a line and column).
fn check_error_message(message: &str) {
    use std::fmt::Write;
    let shape = r#"{"text": "..."} or {"fields": {"name": "..."}}"#;
    let no_digits: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut known = vec![
        format!("malformed JSON at line  column  (expected {shape})"),
        format!("JSON does not match the request schema at line  column  (expected {shape})"),
        r#"malformed JSON at line  column  (expected {"items": [request, ...]})"#.to_string(),
        r#"JSON does not match the request schema at line  column  (expected {"items": [request, ...]})"#
            .to_string(),
        format!("give exactly one of text and fields: {shape}"),
        "unknown lang (expected nl, da or en)".to_string(),
        " fields in the request; the limit is ".to_string(),
        " items in the batch; the limit is ".to_string(),
    ];
    let mut policies = String::from("unknown policy; available: ");
    for (i, name) in engine().policy_names().enumerate() {
        let _ = write!(policies, "{}{name}", if i > 0 { ", " } else { "" });
    }
    known.push(policies);
    assert!(
        known.contains(&no_digits),
        "error message is not a fixed one: {message:?}"
    );
}

/// The strings of a request the engine works on.
fn request_texts(req: &art9::service::Request) -> Vec<(Option<String>, String)> {
    let mut v = Vec::new();
    if let Some(t) = &req.text {
        v.push((None, t.clone()));
    }
    if let Some(fields) = &req.fields {
        v.extend(fields.iter().map(|(k, t)| (Some(k.clone()), t.clone())));
    }
    v
}

/// Check one answer against scanning and masking each text with the public API.
fn check_response(
    op: art9::service::Op,
    req: &art9::service::Request,
    resp: &art9::service::Response,
) {
    use art9::service::Op;
    assert_eq!(resp.id, req.id, "id not echoed");
    let langs: Option<Vec<art9::Lang>> = req.lang.as_ref().map(|l| match l {
        art9::service::LangSelection::One(s) => vec![s.parse().expect("lang was accepted")],
        art9::service::LangSelection::Many(v) => v
            .iter()
            .map(|s| s.parse().expect("lang was accepted"))
            .collect(),
    });
    let policy = (op != Op::Scan).then(|| {
        engine()
            .policy(req.policy.as_deref())
            .expect("the policy was accepted")
    });
    assert_eq!(resp.policy.as_deref(), policy.map(|p| p.name()));
    let mut outcome = Outcome::Accept;
    let mut findings_out = Vec::new();
    let mut masked_fields = std::collections::BTreeMap::new();
    let mut masked_text = None;
    for (field, t) in request_texts(req) {
        let mut findings = engine().scanner().scan(&t);
        if let Some(langs) = &langs {
            findings.retain(|f| langs.contains(&f.lang));
        }
        check_findings(engine().scanner(), &t, &findings);
        for f in &findings {
            findings_out.push((
                field.clone(),
                f.start,
                f.end,
                f.char_start,
                f.char_end,
                f.category,
            ));
        }
        if let Some(p) = policy {
            let ctx = art9::RecordContext {
                field: field.as_deref(),
                ..art9::RecordContext::none()
            };
            let d = p.decide(&ctx, &findings);
            outcome = outcome.max(d.outcome);
            let m = art9::mask(&t, &findings, &d, p);
            match &field {
                Some(name) => {
                    masked_fields.insert(name.clone(), m);
                }
                None => masked_text = Some(m),
            }
        }
    }
    assert_eq!(resp.decision, policy.map(|_| outcome), "wrong decision");
    match &resp.findings {
        None => assert_eq!(op, Op::Mask, "findings missing"),
        Some(got) => {
            assert_ne!(op, Op::Mask, "findings in a mask answer");
            let got: Vec<_> = got
                .iter()
                .map(|f| {
                    (
                        f.field.as_deref().map(str::to_string),
                        f.start,
                        f.end,
                        f.char_start,
                        f.char_end,
                        f.category,
                    )
                })
                .collect();
            assert_eq!(got, findings_out, "findings differ from a scan");
            for out in resp.findings.iter().flatten() {
                assert_eq!(
                    out.text.is_some(),
                    req.include_text,
                    "text without include_text"
                );
                assert_eq!(out.action.is_some(), op == Op::Check);
            }
        }
    }
    assert_eq!(resp.text, masked_text, "masked text differs");
    if req.fields.is_some() && policy.is_some() {
        assert_eq!(
            resp.fields.as_ref(),
            Some(&masked_fields),
            "masked fields differ"
        );
    } else {
        assert!(resp.fields.is_none());
    }
    let total: u32 = resp.counts.iter().sum();
    assert_eq!(
        total as usize,
        findings_out.len(),
        "counts differ from findings"
    );
    serde_json::to_string(resp).expect("a response serialises");
}

/// A service request body through the request → response engine (the first byte picks the
/// operation, batch or single, and the limits): a body is answered or refused with a typed
/// error whose message quotes nothing of the request; an answer equals scanning, deciding
/// and masking each text with the public API; a batch answers every item in order.
pub fn check_service(data: &[u8]) {
    use art9::service::{parse_batch, parse_request, ItemResult, Limits, Op};
    let (mode, body) = split_mode(data);
    let op = [Op::Check, Op::Scan, Op::Mask][usize::from(mode & 3) % 3];
    let limits = Limits {
        max_fields: 1 + usize::from((mode >> 2) & 7),
        max_batch: 1 + usize::from((mode >> 5) & 3),
    };
    if mode & 0x80 == 0 {
        match parse_request(body) {
            Err(e) => check_error_message(&e.message),
            Ok(req) => match engine().handle(op, req.clone(), &limits) {
                Err(e) => {
                    assert_eq!(e.id, req.id, "id not carried into the error");
                    check_error_message(&e.message);
                }
                Ok(resp) => check_response(op, &req, &resp),
            },
        }
        return;
    }
    match parse_batch(body, &limits) {
        Err(e) => check_error_message(&e.message),
        Ok(batch) => {
            let op = batch.op.unwrap_or(Op::Check);
            let items: Vec<String> = batch.items.iter().map(|r| r.get().to_string()).collect();
            assert!(items.len() <= limits.max_batch);
            let results = engine().handle_batch(batch, &limits);
            assert_eq!(results.len(), items.len(), "not one result per item");
            for (item, result) in items.iter().zip(&results) {
                serde_json::to_string(result).expect("a result serialises");
                match (parse_request(item.as_bytes()), result) {
                    (Ok(req), ItemResult::Ok(resp)) => check_response(op, &req, resp),
                    (_, ItemResult::Err { error, .. }) => check_error_message(&error.message),
                    (Err(_), ItemResult::Ok(_)) => {
                        panic!("an item that does not parse was answered")
                    }
                }
            }
        }
    }
}

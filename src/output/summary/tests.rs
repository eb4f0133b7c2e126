use super::*;
use crate::input::{JsonLines, JsonOptions, RecordSource};
use crate::matcher::Scanner;
use crate::pipeline::{process, Options};
use crate::policy::CompiledPolicy;

const KEY: &[u8] = b"0123456789abcdef-test-key";

/// Notes about five subjects in two fields, with findings in several categories and
/// languages; one record without a subject. The canary words must never leave the scan.
const NOTES: &str = r#"{"created":"2026-11-30","id":"k-001","cust":"C-ALPHA","note":"Klant heeft diabetes en is lid van FNV","memo":"canaryzebra"}
{"created":"2024-03-02","id":"k-002","cust":"C-BRAVO","note":"Customer is a devout Muslim","memo":"nothing to see"}
{"created":"2026-10-15","id":"k-003","cust":"C-ALPHA","note":"Kunden har sklerose","memo":"han er medlem af 3F"}
{"created":"2026-11-01T09:00:00Z","id":"k-004","cust":"C-CHARLIE","note":"Levering dinsdag","memo":"canaryzebra quiet"}
{"created":"02-11-2026","id":"k-005","cust":"C-DELTA","note":"Was convicted of fraud in 2019","memo":"votes for Labour"}
{"created":"2026-11-20","id":"k-006","note":"Patient met epilepsie","memo":""}
{"id":"k-007","cust":"C-BRAVO","note":"Klant is homoseksueel","memo":"diabetes type 2"}
{"created":"2025-01-31","id":"k-008","cust":"C-ECHO","note":"Terugbellen op maandag","memo":"depressie"}
"#;

fn scan_into(tally: &mut Tally, lines: &[&str], policy: Option<&CompiledPolicy>) -> Summary {
    let scanner = Scanner::builtin().unwrap();
    let options = Options {
        policy: policy.cloned(),
        ..Options::default()
    };
    let text = lines.join("\n");
    let mut src = JsonLines::new(
        std::io::Cursor::new(text.into_bytes()),
        1 << 20,
        JsonOptions {
            fields: vec!["note".into(), "memo".into()],
            key: vec!["id".into()],
            subject: Some("cust".into()),
            context: vec!["created".into()],
        },
    );
    let mut summary = Summary::default();
    while let Some(r) = src.next_record() {
        let record = r.unwrap().unwrap();
        let fields = process(&scanner, &options, &record);
        summary.records_read += 1;
        summary.records_scanned += 1;
        let month = record.context.get("created").and_then(Month::from_date);
        tally.record(&record, &fields, month);
    }
    summary
}

fn json(t: &Tally) -> String {
    #[derive(Serialize)]
    struct W<'a>(#[serde(with = "file")] &'a Tally);
    serde_json::to_string(&W(t)).unwrap()
}

fn lines() -> Vec<&'static str> {
    NOTES.lines().collect()
}

#[test]
fn merged_parts_equal_the_whole() {
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let policy = CompiledPolicy::load("default").unwrap();
    let all = lines();
    let mut whole = Tally::new(Some(key.clone()), true);
    scan_into(&mut whole, &all, Some(&policy));
    // Every way of cutting the notes in two (contiguous), and odd/even.
    for cut in 0..=all.len() {
        let mut a = Tally::new(Some(key.clone()), true);
        let mut b = Tally::new(Some(key.clone()), true);
        scan_into(&mut a, &all[..cut], Some(&policy));
        scan_into(&mut b, &all[cut..], Some(&policy));
        // The second part first, so that field and slot orders differ from the whole's.
        let mut merged = b.empty_like();
        merged.merge(&b).unwrap();
        merged.merge(&a).unwrap();
        assert_eq!(json(&merged), json(&whole), "cut at {cut}");
    }
    let (odd, even): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(i, _)| i % 2 == 1);
    let strip = |v: Vec<(usize, &&'static str)>| v.into_iter().map(|(_, l)| *l).collect::<Vec<_>>();
    let mut a = Tally::new(Some(key.clone()), true);
    let mut b = Tally::new(Some(key), true);
    scan_into(&mut a, &strip(odd), Some(&policy));
    scan_into(&mut b, &strip(even), Some(&policy));
    a.merge(&b).unwrap();
    assert_eq!(json(&a), json(&whole));
}

#[test]
fn worker_tallies_with_subjects_handed_on_per_batch_equal_the_whole() {
    // As `art9 scan` counts: a tally per worker, kept from batch to batch; after each batch
    // the worker hands its subjects with findings to the run's tally; the workers' tallies
    // are added up at the end.
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let policy = CompiledPolicy::load("default").unwrap();
    let all = lines();
    for ids in [false, true] {
        let with_ids = |t: Tally| if ids { t.with_subject_ids() } else { t };
        let mut whole = with_ids(Tally::new(Some(key.clone()), true));
        scan_into(&mut whole, &all, Some(&policy));
        for batch in 1..=3 {
            let mut run = with_ids(Tally::new(Some(key.clone()), true));
            let mut workers = [run.empty_like(), run.empty_like()];
            for (i, chunk) in all.chunks(batch).enumerate() {
                // Worker 1 takes the first batch, so that its fields are interned in
                // another order than the run's.
                let w = &mut workers[(i + 1) % 2];
                scan_into(w, chunk, Some(&policy));
                run.add_subject_rows(w.take_subject_rows());
                assert!(w.subjects().unwrap().with_findings.is_empty());
            }
            for w in &workers {
                run.merge(w).unwrap();
            }
            assert_eq!(json(&run), json(&whole), "batches of {batch}");
            let (r, wh) = (run.subjects().unwrap(), whole.subjects().unwrap());
            assert_eq!(r.with_findings, wh.with_findings);
            assert_eq!(r.holds_ids(), ids);
            for p in wh.with_findings.keys() {
                assert_eq!(r.id_of(*p), wh.id_of(*p));
            }
        }
    }
}

#[test]
fn run_summaries_merge_and_round_trip() {
    let key = SubjectKey::new(KEY, KeySource::Policy).unwrap();
    let all = lines();
    let scanner = Scanner::builtin().unwrap();
    let part = |ls: &[&str]| {
        let mut t = Tally::new(Some(key.clone()), true);
        let s = scan_into(&mut t, ls, None);
        RunSummary::new(RunInfo::new(&scanner, None), s, t)
    };
    let whole = part(&all);
    let merged = RunSummary::merge(&[part(&all[..3]), part(&all[3..])]).unwrap();
    assert_eq!(merged.runs.len(), 2);
    assert_eq!(merged.summary, whole.summary);
    assert_eq!(json(&merged.tally), json(&whole.tally));
    let text = serde_json::to_string_pretty(&whole).unwrap();
    let back = RunSummary::from_json(&text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
    assert!(
        RunSummary::from_json("{\"schema\":\"art9-run-summary\",\"version\":99}")
            .unwrap_err()
            .contains("version 99")
    );
    assert!(RunSummary::merge(&[]).is_err());
}

#[test]
fn counts_what_was_found_and_nothing_of_the_text() {
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let mut t = Tally::new(Some(key.clone()), false);
    scan_into(&mut t, &lines(), None);
    let s = t.subjects().unwrap();
    assert_eq!(s.records_without_subject, 1);
    // C-ALPHA (2 notes), C-BRAVO (2), C-DELTA, C-ECHO have findings; C-CHARLIE has none.
    assert_eq!(s.with_findings.len(), 4, "{:?}", s.with_findings);
    let alpha = s.with_findings[&key.pseudonym("C-ALPHA")];
    assert_eq!(alpha.records, 2);
    assert!(alpha.has_category(Category::Health));
    assert!(alpha.has_category(Category::TradeUnion));
    assert_eq!(s.scanned.estimate(), 5);
    let note = t.field_index["note"];
    assert_eq!(t.fields()[note as usize].values, 8);
    assert!(t.records(Some(Category::Health), By::All) >= 4);
    assert!(t.records(None, By::All) >= 7);
    assert!(!t.is_dated());
    let text = json(&t);
    for secret in [
        "canaryzebra",
        "diabetes",
        "C-ALPHA",
        "k-001",
        "nl.health",
        "FNV",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(!text.contains("0123456789abcdef"), "the key itself");
}

#[test]
fn counts_by_month_with_a_date() {
    let mut t = Tally::new(None, true);
    scan_into(&mut t, &lines(), None);
    let nov = Month::new(2026, 11).unwrap();
    assert_eq!(t.months()[&nov], 4);
    assert_eq!(t.records_without_date(), 1);
    assert_eq!(t.months().values().sum::<u64>() + 1, 8);
    assert!(t.records(None, By::Month(nov)) >= 3);
    assert!(
        t.records(
            Some(Category::Religion),
            By::Month(Month::new(2024, 3).unwrap())
        ) == 1
    );
}

#[test]
fn other_key_or_shape_does_not_merge() {
    let a = Tally::new(Some(SubjectKey::new(KEY, KeySource::Env).unwrap()), false);
    let b = Tally::new(
        Some(SubjectKey::new(b"another key of 16+ bytes", KeySource::Env).unwrap()),
        false,
    );
    assert_eq!(a.clone().merge(&b), Err(MergeError::OtherKey));
    assert_eq!(
        a.clone().merge(&Tally::new(None, false)),
        Err(MergeError::Subjects)
    );
    let dated = Tally::new(Some(SubjectKey::new(KEY, KeySource::Env).unwrap()), true);
    assert_eq!(a.clone().merge(&dated), Err(MergeError::Dates));
    assert!(SubjectKey::new(b"short", KeySource::Env).is_err());
}

#[test]
fn many_fields_count_subjects_for_the_first_nine() {
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let mut t = Tally::new(Some(key), false);
    let fields: Vec<String> = (0..12).map(|i| format!("f{i:02}")).collect();
    let line = format!(
        "{{\"cust\":\"S1\",{}}}",
        fields
            .iter()
            .map(|f| format!("\"{f}\":\"diabetes\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let scanner = Scanner::builtin().unwrap();
    let mut src = JsonLines::new(
        std::io::Cursor::new(line.into_bytes()),
        1 << 20,
        JsonOptions {
            fields: fields.clone(),
            subject: Some("cust".into()),
            ..JsonOptions::default()
        },
    );
    let record = src.next_record().unwrap().unwrap().unwrap();
    let results = process(&scanner, &Options::default(), &record);
    t.record(&record, &results, None);
    let s = t.subjects().unwrap();
    assert!(s.fields_partial);
    assert_eq!(s.fields.len(), SUBJECT_FIELDS);
    let c = s.with_findings.values().next().unwrap();
    assert_eq!(c.field_cat.count_ones() as usize, SUBJECT_FIELDS);
}

#[test]
fn months_from_dates() {
    let m = |s: &str| Month::from_date(s).map(|m| m.to_string());
    assert_eq!(m("2026-11-07").as_deref(), Some("2026-11"));
    assert_eq!(m("2026-11-07T10:00:00Z").as_deref(), Some("2026-11"));
    assert_eq!(m("07-11-2026").as_deref(), Some("2026-11"));
    assert_eq!(m("7/1/2025 10:00").as_deref(), Some("2025-01"));
    assert_eq!(m("07.11.2026").as_deref(), Some("2026-11"));
    assert_eq!(m("2026/11/07").as_deref(), Some("2026-11"));
    assert_eq!(m("1796601600").as_deref(), Some("2026-12"));
    assert_eq!(m("1796601600000").as_deref(), Some("2026-12"));
    assert_eq!(m("12345"), None);
    assert_eq!(m("2026-13-01"), None);
    assert_eq!(m("2026-111-01"), None);
    assert_eq!(m("yesterday"), None);
    assert_eq!(m(""), None);
    let a = Month::new(2025, 11).unwrap();
    assert_eq!(a.months_until(Month::new(2026, 2).unwrap()), 3);
}

#[test]
fn timestamps() {
    assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc_timestamp(1_796_601_600 + 3661), "2026-12-07T01:01:01Z");
}

proptest::proptest! {
    /// A date column holds anything: reading a month from it never panics, and every
    /// ISO date, day-first date and epoch second gives its month.
    #[test]
    fn months_from_any_text(text in "\\PC{0,20}", y in 1971u32..9999, m in 1u32..=12, d in 1u32..=28) {
        let _ = Month::from_date(&text);
        let want = Month::new(y, m).map(|m| m.to_string());
        proptest::prop_assert_eq!(Month::from_date(&format!("{y:04}-{m:02}-{d:02}")).map(|m| m.to_string()), want.clone());
        proptest::prop_assert_eq!(Month::from_date(&format!("{d}-{m}-{y:04} 10:00")).map(|m| m.to_string()), want);
        let secs = u64::from(y - 1970) * 31_556_952;
        let digits = secs.to_string();
        if matches!(digits.len(), 9 | 10) {
            let month = Month::from_date(&digits).map(|m| m.to_string());
            proptest::prop_assert_eq!(month, Some(utc_timestamp(secs)[..7].to_string()));
        }
    }
}

/// [`Month::from_iso_date`] a byte at a time, as it was before it read words: the reference
/// the word-at-a-time version is held to.
fn iso_month_bytewise(text: &str) -> Option<Month> {
    let t = text.as_bytes().trim_ascii();
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *t else {
        return None;
    };
    let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = |i: usize| u32::from(digits[i] - b'0');
    let (year, month, day) = (
        v(0) * 1000 + v(1) * 100 + v(2) * 10 + v(3),
        v(4) * 10 + v(5),
        v(6) * 10 + v(7),
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=days)
        .contains(&day)
        .then(|| Month::new(year, month))
        .flatten()
}

proptest::proptest! {
    /// The word-at-a-time ISO date gives what a byte at a time gives, for text that is
    /// nearly a date (digits, separators and the bytes around the digits) and for any text.
    #[test]
    fn iso_dates_word_at_a_time(
        date in "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        almost in "[0-9:/]{4}[-/][0-9:/]{2}-[0-9:/]{2}",
        near in "[ 0-9:/.+-]{8,12}",
        any in "\\PC{0,12}",
    ) {
        for text in [&date, &almost, &near, &any] {
            proptest::prop_assert_eq!(Month::from_iso_date(text), iso_month_bytewise(text), "{:?}", text);
        }
    }
}

#[test]
fn subject_ids_only_when_asked_and_only_for_the_top() {
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let mut plain = Tally::new(Some(key.clone()), false);
    scan_into(&mut plain, &lines(), None);
    assert!(!plain.subjects().unwrap().holds_ids());
    assert!(!json(&plain).contains("subject_ids"));

    // Subject i has i + 1 notes with a finding: the top ten are S11 … S02.
    let notes: Vec<String> = (0..12)
        .flat_map(|i| {
            (0..=i).map(move |n| {
                format!(r#"{{"id":"{i}-{n}","cust":"S{i:02}","note":"heeft diabetes","memo":""}}"#)
            })
        })
        .collect();
    let notes: Vec<&str> = notes.iter().map(String::as_str).collect();
    let mut t = Tally::new(Some(key.clone()), false).with_subject_ids();
    let scanner = Scanner::builtin().unwrap();
    let summary = scan_into(&mut t, &notes, None);
    let s = t.subjects().unwrap();
    assert_eq!(
        s.id_of(key.pseudonym("S00")),
        Some("S00"),
        "all kept while counting"
    );
    let top: Vec<u64> = s.top(TOP_SUBJECTS).iter().map(|(p, _)| *p).collect();
    let want: Vec<u64> = (2..12)
        .rev()
        .map(|i| key.pseudonym(&format!("S{i:02}")))
        .collect();
    assert_eq!(top, want);
    let run = RunSummary::new(RunInfo::new(&scanner, None), summary, t);
    assert!(run.personal_data);
    let text = serde_json::to_string_pretty(&run).unwrap();
    assert!(text.contains("\"personal_data\": true"));
    assert!(text.contains("\"S02\"") && text.contains("\"S11\""));
    assert!(
        !text.contains("\"S00\"") && !text.contains("\"S01\""),
        "only the top"
    );
    let mut back = RunSummary::from_json(&text).unwrap();
    assert!(back.personal_data);
    let bs = back.tally.subjects().unwrap();
    assert_eq!(bs.id_of(key.pseudonym("S05")), Some("S05"));
    assert_eq!(bs.id_of(key.pseudonym("S01")), None);
    back.drop_subject_ids();
    let text = serde_json::to_string_pretty(&back).unwrap();
    assert!(!text.contains("\"S05\"") && text.contains("\"personal_data\": false"));
}

#[test]
fn written_with_one_line_per_subject_row() {
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let scanner = Scanner::builtin().unwrap();
    let mut t = Tally::new(Some(key), true);
    let s = scan_into(&mut t, &lines(), None);
    let run = RunSummary::new(RunInfo::new(&scanner, None), s, t);
    let mut out = Vec::new();
    run.write_json(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // The same JSON as the pretty printer's, read back to the same summary.
    let pretty = serde_json::to_string_pretty(&run).unwrap();
    let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    assert_eq!(value(&text), value(&pretty));
    let back = RunSummary::from_json(&text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), pretty);
    // Pretty where it was (one key a line), each subject row on a line of its own.
    assert!(text.contains("\n  \"schema\": \"art9-run-summary\",\n"));
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("[\""))
        .collect();
    let subjects = run.tally.subjects().unwrap().with_findings.len();
    assert_eq!(rows.len(), subjects, "{text}");
    assert!(subjects >= 4);
    for row in rows {
        let row = row.trim().trim_end_matches(',');
        let v: (String, u32, u32, u32, u64) = serde_json::from_str(row).unwrap();
        assert_eq!(v.0.len(), 16);
    }
    assert!(text.len() < pretty.len());
}

#[test]
fn evasion_lanes_are_a_dimension_and_merge() {
    let notes = [
        r#"{"id":"1","cust":"A","note":"Klant heeft d i a b e t e s","memo":""}"#,
        r#"{"id":"2","cust":"B","note":"Klant heeft diabetes","memo":"d.i.a.b.e.t.e.s"}"#,
        "{\"id\":\"3\",\"cust\":\"C\",\"note\":\"Klant heeft k\u{0430}nker\",\"memo\":\"\"}",
    ];
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let mut whole = Tally::new(Some(key.clone()), false);
    scan_into(&mut whole, &notes, None);
    assert_eq!(whole.records(None, By::Evasion(Evasion::Spaced)), 2);
    assert_eq!(whole.records(None, By::Evasion(Evasion::Homoglyph)), 1);
    assert_eq!(whole.records(None, By::Evasion(Evasion::Typo)), 0);
    let spaced: u64 = whole
        .findings()
        .filter(|(k, _)| k.evasion == Some(Evasion::Spaced))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(spaced, 2);
    let mut a = Tally::new(Some(key.clone()), false);
    let mut b = Tally::new(Some(key), false);
    scan_into(&mut a, &notes[..1], None);
    scan_into(&mut b, &notes[1..], None);
    b.merge(&a).unwrap();
    assert_eq!(json(&b), json(&whole));
    let text = json(&whole);
    assert!(text.contains("\"evasion\":\"spaced\""), "{text}");
    #[derive(Deserialize)]
    struct W(#[serde(with = "file")] Tally);
    let back: W = serde_json::from_str(&text).unwrap();
    assert_eq!(json(&back.0), text);
}

#[test]
fn a_version_1_summary_is_read_but_not_added_to_a_version_2_one() {
    let scanner = Scanner::builtin().unwrap();
    let run = RunSummary::new(
        RunInfo::new(&scanner, None),
        Summary::default(),
        Tally::new(None, false),
    );
    let text = serde_json::to_string(&run).unwrap();
    let v1 = text.replace("\"version\":2", "\"version\":1");
    let old = RunSummary::from_json(&v1).unwrap();
    assert_eq!(old.version, 1);
    assert!(matches!(
        RunSummary::merge(&[run, old]),
        Err(MergeError::Versions { first: 2, other: 1 })
    ));
}

#[test]
fn iso_dates_give_the_month_the_date_parser_gives() {
    let parser = crate::date::DateParser::auto();
    let mut dates: Vec<String> = [
        "2026-11-30",
        " 2024-02-29 ",
        "2023-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-11-00",
        "2026-11-31",
        "0999-01-01",
        "1000-01-01",
        "2026-1-05",
        "2026-11-30T10:00:00Z",
        "2026/11/30",
        "20261130",
        "abcd-ef-gh",
        "",
        // Bytes next to the digits (the word-at-a-time check must refuse them).
        "2026-1:-05",
        "202?-11-05",
        "2026-11-0/",
        "/026-11-05",
        "2026-11-3\u{7f}",
        "2026+11-05",
        "2026-11+05",
        " 2026-11-30 ",
        "2026-11-30\n",
        "2026-02-29",
        "2024-02-29",
        "2024-02-30",
        "1900-02-29",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for y in [1970, 2000, 2023, 2024, 2100] {
        for m in 1..=12 {
            for d in [1, 28, 29, 30, 31] {
                dates.push(format!("{y:04}-{m:02}-{d:02}"));
            }
        }
    }
    for text in &dates {
        let full = parser.parse(text).and_then(|t| {
            let (y, m) = t.year_month();
            Month::new(u32::try_from(y).ok()?, u32::try_from(m).ok()?)
        });
        if let Some(fast) = Month::from_iso_date(text) {
            assert_eq!(Some(fast), full, "{text:?}");
        } else if text.trim().len() == 10 && text.trim().as_bytes()[4] == b'-' {
            assert_eq!(full, None, "{text:?}: the fast path missed a date");
        }
    }
}

#[test]
fn pseudonyms_as_hex() {
    let mut more = 0x9e37_79b9_7f4a_7c15u64;
    let spread = (0..64).map(|_| {
        more = more.rotate_left(17).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ 0x94d0_49bb;
        more
    });
    let fixed = [
        0u64,
        1,
        0xdead_beef,
        u64::MAX,
        0x0123_4567_89ab_cdef,
        1 << 63,
    ];
    for p in fixed.into_iter().chain(spread) {
        assert_eq!(&file::hex16(p)[..], format!("{p:016x}").as_bytes());
    }
}

#[test]
fn top_subjects_are_the_first_of_the_full_order() {
    let key = SubjectKey::new(KEY, KeySource::Env).unwrap();
    let mut t = Tally::new(Some(key), false);
    let s = t.subjects_mut().unwrap();
    // Many ties on records and findings, so that the pseudonym decides too.
    for i in 0u64..5_000 {
        let p = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let c = SubjectCounts {
            records: (i % 37) as u32,
            findings: (i % 11) as u32,
            ..SubjectCounts::default()
        };
        s.with_findings.insert(p, c);
    }
    let mut all: Vec<(u64, SubjectCounts)> =
        s.with_findings.iter().map(|(p, c)| (*p, *c)).collect();
    all.sort_by(|a, b| {
        b.1.records
            .cmp(&a.1.records)
            .then(b.1.findings.cmp(&a.1.findings))
            .then(a.0.cmp(&b.0))
    });
    for n in [0, 1, 10, 100, 4_999, 5_000, 6_000] {
        assert_eq!(s.top(n), all[..n.min(all.len())].to_vec(), "n={n}");
    }
}

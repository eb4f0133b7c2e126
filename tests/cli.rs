//! End-to-end tests of the `art9` binary: exit codes, bad input, masking, privacy canaries.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

use common::{art9, s, BIN};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn scan_examples_finds_and_exits_1() {
    let o = art9(
        &[
            "scan",
            "examples/crm-notes.jsonl",
            "--field",
            "note",
            "--key",
            "id",
            "--format",
            "jsonl",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let lines: Vec<serde_json::Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert!(lines.len() >= 8, "{}", o.stdout);
    for l in &lines {
        for k in [
            "record",
            "line",
            "field",
            "category",
            "lang",
            "start",
            "end",
            "char_start",
            "char_end",
        ] {
            assert!(l.get(k).is_some(), "missing {k} in {l}");
        }
        assert!(l.get("text").is_none() && l.get("entry").is_none());
    }
    // The false friends in the examples are clean.
    for clean in [
        "N-1001", "N-1004", "N-1007", "N-1011", "N-1013", "N-1016", "N-1018",
    ] {
        assert!(
            !lines.iter().any(|l| l["record"] == clean),
            "{clean} flagged"
        );
    }
    assert!(
        o.stderr.contains("20 records read, 20 scanned, 0 skipped"),
        "{}",
        o.stderr
    );
}

#[test]
fn clean_input_exits_0() {
    let o = art9(
        &["scan", "--text", "-"],
        Some(b"Factuur 2024-117 betaald.\nOfferte verstuurd.\n"),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.is_empty());
}

#[test]
fn empty_file_is_fine() {
    let d = tmp();
    let p = write(d.path(), "empty.jsonl", b"");
    let o = art9(&["scan", s(&p), "--field", "text"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("0 records read"), "{}", o.stderr);
}

/// Sensitive words that must never appear in default output, logs or errors.
const CANARIES: &[&str] = &[
    "kankerpatiënt",
    "suikerziekte",
    "moslim",
    "sygemeldt",
    "brystkræft",
    "Muslim",
    "chemo",
    "criminal record",
    "FNV",
    "landsmøde",
];

fn canary_input() -> String {
    let notes = [
        "Mw. is kankerpatiënt en heeft suikerziekte.",
        "Klant is moslim, geen afspraken op vrijdag.",
        "Hr. Holm er sygemeldt, hun har brystkræft.",
        "She is a devout Muslim and is on chemo.",
        "He has a criminal record.",
        "Lid van de FNV, was op het landsmøde.",
    ];
    notes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{{\"id\": \"r{i}\", \"note\": {}}}\n",
                serde_json::to_string(n).expect("json")
            )
        })
        .collect()
}

fn assert_no_canary(what: &str, text: &str) {
    let lower = art9::normalize(text);
    for c in CANARIES {
        assert!(
            !lower.contains(&art9::normalize(c)),
            "{what} contains canary {c:?}:\n{text}"
        );
    }
    assert!(!lower.contains(".health."), "{what} contains an entry id");
}

#[test]
fn canary_words_never_in_default_output() {
    let input = canary_input();
    for format in ["jsonl", "json", "table", "csv"] {
        let o = art9(
            &[
                "scan", "-", "--field", "note", "--key", "id", "--format", format,
            ],
            Some(input.as_bytes()),
        );
        assert_eq!(o.code, 1, "{format}: {}", o.stderr);
        assert_no_canary(format, &o.stdout);
        assert_no_canary("stderr", &o.stderr);
    }
    // Policies and check mode too.
    let o = art9(
        &["scan", "-", "--field", "note", "--policy", "report"],
        Some(input.as_bytes()),
    );
    assert_no_canary("scan --policy", &o.stdout);
    let o = art9(&["check", "She is a devout Muslim and is on chemo."], None);
    assert_no_canary("check", &o.stdout);
    // Errors: a broken record holding canary words.
    let broken = "{\"id\": \"x\", \"note\": \"kankerpatiënt\" \"moslim\"}\n\"sygemeldt brystkræft\"\n{\"id\": 3, \"note\": [\"Muslim\"]}\n";
    let o = art9(
        &["scan", "-", "--field", "note", "--key", "id"],
        Some(broken.as_bytes()),
    );
    assert_eq!(o.code, 2);
    assert_no_canary("error output", &o.stderr);
    assert_no_canary("error stdout", &o.stdout);
}

#[test]
fn include_text_opts_in() {
    let input = canary_input();
    let o = art9(
        &[
            "scan",
            "-",
            "--field",
            "note",
            "--key",
            "id",
            "--include-text",
        ],
        Some(input.as_bytes()),
    );
    assert!(o.stdout.contains("kankerpatiënt"), "{}", o.stdout);
    assert!(o.stdout.contains("\"entry\""), "{}", o.stdout);
}

#[test]
fn bad_records_are_reported_and_counted() {
    let d = tmp();
    let mut data = Vec::new();
    data.extend_from_slice(b"{\"id\": 1, \"note\": \"Klant heeft diabetes\"}\n"); // 1 ok
    data.extend_from_slice(b"{\"id\": 2, \"note\": \"unterminated}\n"); // 2 invalid JSON
    data.extend_from_slice(b"{\"id\": 3}\n"); // 3 missing field
    data.extend_from_slice(b"{\"id\": 4, \"note\": 42}\n"); // 4 not text
    data.extend_from_slice(b"{\"id\": 5, \"note\": \"caf\xe9\"}\n"); // 5 invalid UTF-8
    data.extend_from_slice(b"{\"id\": 6, \"note\": \"a\x00b\"}\n"); // 6 NUL
    data.extend_from_slice(b"\n"); // 7 blank: not a record
    data.extend_from_slice(b"{\"id\": 8, \"note\": null}\n"); // 8 null = empty, scanned
    data.extend_from_slice(b"[1, 2]\n"); // 9 not an object
    let p = write(d.path(), "bad.jsonl", &data);
    let o = art9(
        &[
            "scan",
            s(&p),
            "--field",
            "note",
            "--key",
            "id",
            "--format",
            "jsonl",
        ],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    for line in [
        ":2: skipped",
        ":3: skipped",
        ":4: skipped",
        ":5: skipped",
        ":6: skipped",
        ":9: skipped",
    ] {
        assert!(o.stderr.contains(line), "missing {line:?} in {}", o.stderr);
    }
    assert!(
        o.stderr.contains("8 records read, 2 scanned, 6 skipped"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("invalid UTF-8") && o.stderr.contains("NUL byte"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("(record 3, field note)"), "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    // The JSON summary adds up.
    let o = art9(
        &[
            "scan",
            s(&p),
            "--field",
            "note",
            "--key",
            "id",
            "--format",
            "json",
            "-q",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json output");
    let sm = &v["summary"];
    assert_eq!(sm["records_read"], 8);
    assert_eq!(
        sm["records_scanned"].as_u64().unwrap() + sm["records_skipped"].as_u64().unwrap(),
        sm["records_read"].as_u64().unwrap()
    );
}

#[test]
fn huge_record_is_skipped_not_fatal() {
    let d = tmp();
    let mut data = Vec::with_capacity(51 * 1024 * 1024);
    data.extend_from_slice(b"{\"id\": 1, \"note\": \"");
    for _ in 0..(50 * 1024 * 1024 / 10) {
        data.extend_from_slice(b"order xyz ");
    }
    data.extend_from_slice(b"\"}\n{\"id\": 2, \"note\": \"Klant heeft diabetes\"}\n");
    let p = write(d.path(), "huge.jsonl", &data);
    let o = art9(
        &[
            "scan",
            s(&p),
            "--field",
            "note",
            "--key",
            "id",
            "--format",
            "jsonl",
        ],
        None,
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(":1: skipped") && o.stderr.contains("--max-record-bytes"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("2 records read, 1 scanned, 1 skipped"),
        "{}",
        o.stderr
    );
    // A higher record limit: now the 50 MB field is over --max-field-bytes (10 MB).
    let args = [
        "scan",
        s(&p),
        "--field",
        "note",
        "--key",
        "id",
        "--format",
        "jsonl",
        "--max-record-bytes",
        "60000000",
    ];
    let o = art9(&args, None);
    assert!(
        o.stderr
            .contains("2 records read, 1 scanned, 1 skipped (field_too_large=1)"),
        "{}",
        o.stderr
    );
    // With both limits raised the 50 MB note is scanned.
    let mut args = args.to_vec();
    args.extend(["--max-field-bytes", "60000000"]);
    let o = art9(&args, None);
    assert!(
        o.stderr.contains("2 records read, 2 scanned, 0 skipped"),
        "{}",
        o.stderr
    );
}

#[test]
fn nested_fields_and_default_fields() {
    let input = b"{\"id\": \"a\", \"meta\": {\"note\": \"Klant heeft diabetes\"}, \"n\": 1}\n";
    let o = art9(
        &[
            "scan",
            "-",
            "--field",
            "meta.note",
            "--key",
            "id",
            "--format",
            "jsonl",
        ],
        Some(input),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stdout.contains("\"field\":\"meta.note\""), "{}", o.stdout);
    let input = b"{\"id\": \"a\", \"subject\": \"Call\", \"body\": \"Zij is moslim\"}\n";
    let o = art9(
        &["scan", "-", "--key", "id", "--format", "jsonl"],
        Some(input),
    );
    assert!(o.stdout.contains("\"field\":\"body\""), "{}", o.stdout);
}

#[test]
fn mask_changes_only_findings_and_rescan_is_clean() {
    let d = tmp();
    let out = d.path().join("masked.jsonl");
    let o = art9(
        &[
            "mask",
            "examples/crm-notes.jsonl",
            "--field",
            "note",
            "--key",
            "id",
            "-o",
            s(&out),
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let orig = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/crm-notes.jsonl"),
    )
    .expect("read");
    let masked = std::fs::read_to_string(&out).expect("read masked");
    assert_eq!(orig.lines().count(), masked.lines().count());
    let mut changed = 0;
    for (a, b) in orig.lines().zip(masked.lines()) {
        if a != b {
            changed += 1;
            assert!(
                b.contains("[HEALTH]") || b.contains("[RELIGION]") || b.contains('['),
                "{b}"
            );
            // Other fields are byte-for-byte identical.
            let va: serde_json::Value = serde_json::from_str(a).expect("json");
            let vb: serde_json::Value = serde_json::from_str(b).expect("json");
            for k in ["id", "customer_id", "lang"] {
                assert_eq!(va[k], vb[k]);
            }
            assert!(b.starts_with(&a[..a.find("\"note\"").expect("note key")]));
        }
    }
    assert!(changed >= 8, "only {changed} lines changed");
    let o = art9(
        &[
            "scan",
            s(&out),
            "--field",
            "note",
            "--key",
            "id",
            "--format",
            "jsonl",
        ],
        None,
    );
    assert_eq!(o.code, 0, "re-scan found: {}", o.stdout);
}

#[test]
fn mask_never_overwrites_input() {
    let d = tmp();
    let p = write(
        d.path(),
        "in.jsonl",
        b"{\"id\": 1, \"note\": \"Klant heeft diabetes\"}\n",
    );
    let o = art9(&["mask", s(&p), "--field", "note", "-o", s(&p)], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("refusing"), "{}", o.stderr);
    assert_eq!(
        std::fs::read(&p).expect("read"),
        b"{\"id\": 1, \"note\": \"Klant heeft diabetes\"}\n"
    );
}

#[test]
fn mask_text_mode_to_stdout() {
    let o = art9(
        &["mask", "--text", "-", "-o", "-", "--policy", "default"],
        Some(b"Klant heeft diabetes\r\nGeen bijzonderheden\n"),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stdout, "Klant heeft [HEALTH]\r\nGeen bijzonderheden\n");
}

#[test]
fn check_decisions_and_exit_codes() {
    let o = art9(&["check", "Klant heeft diabetes"], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"], "mask");
    assert_eq!(v["text"], "Klant heeft [HEALTH]");
    assert_eq!(v["findings"][0]["category"], "health");

    let o = art9(
        &["check", "-", "--policy", "strict"],
        Some(b"She is a devout Muslim\n"),
    );
    assert_eq!(o.code, 1);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"], "reject");
    // As check --stdio and POST /v1/check: the text with the rejected finding replaced, and
    // the one trailing newline of standard input is not part of the note.
    assert_eq!(v["text"], "She is a [RELIGION]");

    let o = art9(
        &["check", "Klant heeft diabetes", "--policy", "report"],
        None,
    );
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"], "accept");
    assert_eq!(v["findings"][0]["action"], "flag");

    let o = art9(&["check", "Offerte verstuurd, bel dinsdag."], None);
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"], "accept");
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(0));
    assert_eq!(v["text"], "Offerte verstuurd, bel dinsdag.");
}

#[test]
fn bad_policy_and_lexicon_are_clear_errors() {
    let d = tmp();
    let p = write(
        d.path(),
        "p.yaml",
        b"default: {action: mask}\ncategories:\n  helth: {action: flag}\n",
    );
    let o = art9(&["check", "x", "--policy", s(&p)], None);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("helth") && o.stderr.contains("unknown category"),
        "{}",
        o.stderr
    );
    let p = write(d.path(), "p2.yaml", b"default: {action: mask}\nfield: {}\n");
    let o = art9(&["check", "x", "--policy", s(&p)], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("p2.yaml:2"), "{}", o.stderr);
    let o = art9(&["check", "x", "--policy", "nonesuch"], None);
    assert_eq!(o.code, 2);

    let lex = d.path().join("lex");
    std::fs::create_dir_all(lex.join("nl")).expect("mkdir");
    write(&lex.join("nl"), "health.yaml", b"lang: nl\ncategory: health\ndescription: x\nentries:\n  - id: nl.health.a\n    terms: [a]\n    mach: word\n");
    let o = art9(&["scan", "-", "--lexicon", s(&lex)], Some(b"{}\n"));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("health.yaml:7"), "{}", o.stderr);
    assert!(o.stderr.contains("mach"), "{}", o.stderr);
}

#[test]
fn lexicon_flags_restrict_and_replace() {
    let o = art9(
        &["check", "Klant heeft diabetes", "--category", "religion"],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"], "accept");
    let o = art9(&["check", "Klant heeft diabetes", "--lang", "en"], None);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    // "diabetes" is also an English term.
    assert_eq!(v["findings"][0]["lang"], "en");
    let d = tmp();
    std::fs::create_dir_all(d.path().join("nl")).expect("mkdir");
    let file = |header: &str, id: &str| {
        let yaml = format!(
            "lang: nl\ncategory: health\ndescription: x\n{header}sources: [{{name: test, licence: MIT}}]\nentries:\n  - id: {id}\n    terms: [griepje]\n"
        );
        write(&d.path().join("nl"), "health.yaml", yaml.as_bytes());
    };
    let run = || {
        let o = art9(
            &[
                "check",
                "Heeft een griepje en diabetes",
                "--lexicon",
                s(d.path()),
                "--lang",
                "nl",
            ],
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_default();
        (o, v)
    };
    // A user file adds to the built-in lexicon of its language and category.
    file("", "nl.health.griepje");
    let (o, v) = run();
    assert_eq!(v["decision"], "mask", "{}", o.stdout);
    assert_eq!(
        v["findings"].as_array().map(Vec::len),
        Some(2),
        "{}",
        o.stdout
    );
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    // replace: true replaces it, and stderr says so with the entry count.
    file("replace: true\n", "nl.health.griepje");
    let (o, v) = run();
    assert_eq!(
        v["findings"].as_array().map(Vec::len),
        Some(1),
        "{}",
        o.stdout
    );
    assert!(
        o.stderr.contains("replaces the nl health lexicon"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains(" entries"), "{}", o.stderr);
    // An id the built-in lexicon uses already: one clear error.
    file("", "nl.health.griep");
    let (o, _) = run();
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("nl.health.griep") && o.stderr.contains("replace: true"),
        "{}",
        o.stderr
    );
    // --replace-lexicons: every --lexicon file replaces.
    let o = art9(
        &[
            "check",
            "Heeft diabetes",
            "--lexicon",
            s(d.path()),
            "--lang",
            "nl",
            "--replace-lexicons",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["decision"], "accept", "{}", o.stdout);
    assert!(o.stderr.contains("replaces"), "{}", o.stderr);
}

#[test]
fn broken_pipe_is_not_an_error() {
    let line = "{\"id\": 1, \"note\": \"Klant heeft diabetes en kanker\"}\n";
    let input = line.repeat(50_000);
    let mut child = Command::new(BIN)
        .args(["scan", "-", "--field", "note", "--format", "jsonl", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exact_offsets_with_unicode() {
    let note = "😀 Fru Ærø: hun har brystkræft\u{200B}, og e\u{301} KRÆFTSYG.";
    let input = format!(
        "{{\"id\": 1, \"t\": {}}}\n",
        serde_json::to_string(note).expect("json")
    );
    let o = art9(
        &[
            "scan",
            "-",
            "--field",
            "t",
            "--format",
            "jsonl",
            "--include-text",
        ],
        Some(input.as_bytes()),
    );
    let chars: Vec<char> = note.chars().collect();
    let mut n = 0;
    for l in o.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        let (s, e) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        let (cs, ce) = (
            v["char_start"].as_u64().unwrap() as usize,
            v["char_end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&note[s..e], v["text"].as_str().unwrap());
        assert_eq!(
            chars[cs..ce].iter().collect::<String>(),
            v["text"].as_str().unwrap()
        );
        n += 1;
    }
    assert!(n >= 2, "{}", o.stdout);
}

/// Every flag is listed under the heading it belongs to (a clap `next_help_heading` of a
/// flattened group used to pull the output flags under "Database input").
#[test]
fn help_groups_flags_under_their_headings() {
    let section_of = |help: &str, flag: &str| -> String {
        let mut heading = String::new();
        for line in help.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                heading = line.trim_end_matches(':').to_string();
            }
            let t = line.trim_start();
            let t = t
                .split_once(", ")
                .filter(|(short, _)| short.len() == 2)
                .map_or(t, |x| x.1);
            if t.split_whitespace().next() == Some(flag) {
                return heading;
            }
        }
        panic!("{flag} not in help:\n{help}");
    };
    for cmd in ["scan", "mask"] {
        let o = art9(&[cmd, "--help"], None);
        assert_eq!(o.code, 0);
        for flag in ["--policy", "--quiet"] {
            assert_eq!(section_of(&o.stdout, flag), "Output", "{cmd} {flag}");
        }
        assert_eq!(section_of(&o.stdout, "--lexicon"), "Lexicons", "{cmd}");
        assert_eq!(section_of(&o.stdout, "--table"), "Database input", "{cmd}");
        assert_eq!(section_of(&o.stdout, "--field"), "Input", "{cmd}");
        assert!(!o.stdout.contains("[default: 0]"), "{cmd}");
        assert!(!o.stdout.contains("id --subject customer_id \\"), "{cmd}");
    }
    let o = art9(&["scan", "--help"], None);
    for flag in ["--format", "--include-text", "--subjects-out"] {
        assert_eq!(section_of(&o.stdout, flag), "Output", "{flag}");
    }
    assert_eq!(
        section_of(&art9(&["mask", "--help"], None).stdout, "--output"),
        "Output"
    );
    let o = art9(&["check", "--help"], None);
    assert_eq!(section_of(&o.stdout, "--policy"), "Options");
    assert_eq!(section_of(&o.stdout, "--lang"), "Lexicons");
}

/// A mistyped `--field` on JSON Lines is one error naming the field and the fields the first
/// record has (exit 2), not one skip a record; a field missing from only some records is
/// still a skip each.
#[test]
fn mistyped_field_on_json_lines_is_one_error() {
    let dir = tmp();
    let mut many = String::new();
    for i in 0..250 {
        many.push_str(&format!(
            "{{\"id\": {i}, \"note\": \"Klant heeft diabetes\"}}\n"
        ));
    }
    let p = write(dir.path(), "n.jsonl", many.as_bytes());
    for cmd in ["scan", "mask"] {
        let mut args = vec![cmd, s(&p), "--field", "nots", "--key", "id"];
        let out = dir.path().join("m.jsonl");
        if cmd == "mask" {
            args.extend(["-o", s(&out)]);
        }
        let o = art9(&args, None);
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
        assert!(o.stderr.contains("\"nots\""), "{}", o.stderr);
        assert!(o.stderr.contains("fields: id, note"), "{}", o.stderr);
        assert!(!o.stderr.contains("diabetes"), "{}", o.stderr);
        assert!(!out.exists());
    }
    // Fewer than 100 records, from standard input: all of them.
    let o = art9(
        &["scan", "-", "--field", "nots"],
        Some(b"{\"note\": \"x\"}\n{\"note\": \"y\"}\n"),
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("any of the 2 records"), "{}", o.stderr);
    // Missing from the first record only: a skip, reported, and the rest is scanned.
    let o = art9(
        &["scan", "-", "--field", "note", "--format", "jsonl"],
        Some(b"{\"other\": \"x\"}\n{\"note\": \"Klant heeft diabetes\"}\n"),
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("-:1: skipped"), "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
}

/// `--table` and `--query` with a file input are refused, not ignored.
#[test]
fn table_or_query_with_a_file_is_an_error() {
    for flag in ["--table", "--query"] {
        let o = art9(
            &[
                "scan",
                "examples/crm-notes.jsonl",
                "--field",
                "note",
                flag,
                "x",
            ],
            None,
        );
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(
            o.stderr.contains(flag) && o.stderr.contains("database input"),
            "{}",
            o.stderr
        );
        assert!(o.stdout.is_empty());
    }
}

/// With a policy, the table view shows each finding's action, as CSV does.
#[test]
fn table_shows_the_policy_action() {
    let o = art9(
        &[
            "scan",
            "examples/crm-notes.jsonl",
            "--field",
            "note",
            "--key",
            "id",
            "--format",
            "table",
            "--policy",
            "strict",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let mut lines = o.stdout.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .trim_end()
            .ends_with("END  LIKELIHOOD     ACTION"),
        "{}",
        o.stdout
    );
    assert!(lines.all(|l| l.ends_with("  reject")), "{}", o.stdout);
    let o = art9(
        &[
            "scan",
            "examples/crm-notes.jsonl",
            "--field",
            "note",
            "--format",
            "table",
        ],
        None,
    );
    assert!(!o.stdout.contains("ACTION"), "{}", o.stdout);
}

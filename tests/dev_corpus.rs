//! Acceptance on the shared development corpus (../shared/corpus/dev.jsonl), scored by the
//! shared scorer (../shared/eval/evaluate.py). Skips with a visible message when ../shared or
//! python3 is missing (a clone without the shared folder).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_art9");

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if p.join("corpus/dev.jsonl").is_file() && p.join("eval/evaluate.py").is_file() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared/corpus/dev.jsonl or ../shared/eval/evaluate.py not found");
        None
    }
}

fn python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 not found");
    }
    ok
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().expect("run art9");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn evaluate(shared: &Path, findings: &Path) -> serde_json::Value {
    let o = Command::new("python3")
        .arg(shared.join("eval/evaluate.py"))
        .arg(shared.join("corpus/dev.jsonl"))
        .arg(findings)
        .arg("--json")
        .output()
        .expect("run evaluate.py");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("evaluate.py json")
}

#[test]
fn dev_corpus_scores_and_privacy() {
    let Some(shared) = shared() else { return };
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = shared.join("corpus/dev.jsonl");
    let corpus_s = corpus.to_str().expect("utf-8 path");
    let (code, out, err) = run(&[
        "scan", corpus_s, "--field", "text", "--key", "id", "--format", "jsonl",
    ]);
    assert_eq!(code, 1, "{err}");
    let findings = dir.path().join("f.jsonl");
    std::fs::write(&findings, &out).expect("write findings");
    let r = evaluate(&shared, &findings);
    let core_f1 = r["core_micro"]["F1"].as_f64().expect("core F1");
    let clean_rate = r["clean_notes_flagged_rate"].as_f64().expect("clean rate");
    eprintln!("dev corpus: core micro F1 {core_f1:.3}, clean notes flagged {clean_rate:.3}");
    // Issue #4 thresholds (issue #3 asked for 0.80 / 10%).
    assert!(core_f1 >= 0.95, "core micro F1 {core_f1}");
    assert!(clean_rate <= 0.03, "clean notes flagged {clean_rate}");
    for (cat, s) in r["categories"].as_object().expect("categories") {
        let f1 = s["F1"].as_f64().expect("F1");
        let min = if ["health", "politics", "religion", "ethnicity"].contains(&cat.as_str()) {
            0.90
        } else {
            0.85
        };
        assert!(f1 >= min, "{cat} F1 {f1}");
    }
    assert_eq!(r["unreadable_findings"], 0);

    // No line of default output holds a gold span's text.
    let notes: Vec<serde_json::Value> = std::fs::read_to_string(&corpus)
        .expect("read corpus")
        .lines()
        .map(|l| serde_json::from_str(l).expect("note"))
        .collect();
    let mut gold: Vec<String> = notes
        .iter()
        .flat_map(|n| n["spans"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s["text"].as_str().map(str::to_string))
        .filter(|t| t.chars().count() >= 3)
        .collect();
    gold.sort();
    gold.dedup();
    for format in ["jsonl", "json", "table", "csv"] {
        let (_, out, err) = run(&[
            "scan", corpus_s, "--field", "text", "--key", "id", "--format", format,
        ]);
        for line in out.lines().chain(err.lines()) {
            // The fideslang keys are the taxonomy's fixed vocabulary, not note text:
            // `user.demographic.religious_belief` holds the gold span "religious".
            let mut line = line.to_string();
            for c in art9::Category::ALL {
                line = line.replace(c.data_category(), "");
            }
            for g in &gold {
                assert!(
                    !line.contains(g.as_str()),
                    "{format} output line holds gold span {g:?}"
                );
            }
        }
    }

    // Mask with the default policy, re-scan: nothing found; bytes outside findings unchanged.
    let masked = dir.path().join("masked.jsonl");
    let (code, _, err) = run(&[
        "mask",
        corpus_s,
        "--field",
        "text",
        "--key",
        "id",
        "--policy",
        "default",
        "-o",
        masked.to_str().expect("path"),
    ]);
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = run(&[
        "scan",
        masked.to_str().expect("path"),
        "--field",
        "text",
        "--key",
        "id",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "re-scan of the masked corpus found: {out}{err}");
    let masked_notes: Vec<serde_json::Value> = std::fs::read_to_string(&masked)
        .expect("read masked")
        .lines()
        .map(|l| serde_json::from_str(l).expect("masked note"))
        .collect();
    assert_eq!(masked_notes.len(), notes.len());
    let scanner = art9::Scanner::builtin().expect("scanner");
    for (n, m) in notes.iter().zip(&masked_notes) {
        let text = n["text"].as_str().expect("text");
        let mtext = m["text"].as_str().expect("text");
        // What `art9 mask` acts on: the findings at or above the default policy's threshold.
        let mut fs = scanner.scan(text);
        fs.retain(|f| f.likelihood >= art9::policy::DEFAULT_MIN_LIKELIHOOD);
        let mut pos = 0;
        let mut mpos = 0;
        for f in &fs {
            let outside = &text[pos..f.start];
            assert_eq!(&mtext[mpos..mpos + outside.len()], outside, "{}", n["id"]);
            mpos += outside.len();
            let label = format!("[{}]", f.category.label());
            assert_eq!(&mtext[mpos..mpos + label.len()], label);
            mpos += label.len();
            pos = f.end;
        }
        assert_eq!(&mtext[mpos..], &text[pos..]);
        // Other keys unchanged.
        assert_eq!(n["id"], m["id"]);
        assert_eq!(n["spans"], m["spans"]);
    }
}

#[test]
fn art9_eval_agrees_with_evaluate_py() {
    let Some(shared) = shared() else { return };
    if !python() {
        return;
    }
    let corpus = shared.join("corpus/dev.jsonl");
    let corpus_s = corpus.to_str().expect("utf-8 path");
    let (_, out, _) = run(&[
        "scan", corpus_s, "--field", "text", "--key", "id", "--format", "jsonl",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let findings = dir.path().join("f.jsonl");
    std::fs::write(&findings, &out).expect("write");
    let py = evaluate(&shared, &findings);
    for args in [
        vec!["eval", corpus_s, "--json"],
        vec![
            "eval",
            corpus_s,
            "--json",
            "--findings",
            findings.to_str().expect("path"),
        ],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let rs: serde_json::Value = serde_json::from_str(&out).expect("eval json");
        for key in [
            "categories",
            "languages",
            "by_language",
            "core_micro",
            "all_micro",
        ] {
            assert_eq!(rs[key], py[key], "{key} differs ({args:?})");
        }
        assert_eq!(rs["clean_notes_flagged"], py["clean_notes_flagged"]);
        assert_eq!(
            rs["clean_notes_flagged_rate"],
            py["clean_notes_flagged_rate"]
        );
    }
}

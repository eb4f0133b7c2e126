//! README "GDPR workflow: a monthly cycle", run as written on `examples/gdpr/`: every count
//! the README quotes is checked here, so the walk-through cannot drift from the code.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_art9");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `art9 ARGS` in `dir`, with the README's `ART9_HASH_KEY` and `$GDPR` flags spelled out.
fn art9(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("ART9_HASH_KEY", "walk-through key, 32 bytes long!")
        .stdin(Stdio::null())
        .output()
        .expect("run art9");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn with_gdpr<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    let gdpr = [
        "--field",
        "note",
        "--key",
        "id",
        "--subject",
        "customer_id",
        "--policy",
        "examples/gdpr/gdpr.yaml",
        "--consent",
        "examples/gdpr/consents.csv",
        "--as-of",
        "2026-12-01",
    ];
    head.iter().chain(&gdpr).chain(tail).copied().collect()
}

#[test]
fn monthly_cycle_as_the_readme_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The walk-through runs from the project root; a copy of examples/ keeps the checkout
    // untouched (erase --in-place rewrites a file).
    let ex = dir.join("examples/gdpr");
    std::fs::create_dir_all(&ex).unwrap();
    for f in ["notes.csv", "consents.csv", "gdpr.yaml"] {
        std::fs::copy(Path::new(ROOT).join("examples/gdpr").join(f), ex.join(f)).unwrap();
    }
    let original = std::fs::read(ex.join("notes.csv")).unwrap();
    for d in ["runs", "reports", "requests"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }

    // 1. Scan.
    let o = art9(
        dir,
        &with_gdpr(
            &["scan", "examples/gdpr/notes.csv"],
            &[
                "--fingerprints",
                "--format",
                "jsonl",
                "--summary-out",
                "runs/2026-12.json",
                "--report",
                "reports/2026-12.html",
                "--audit",
                "audit.jsonl",
            ],
        ),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let findings = jsonl(&o.stdout);
    assert_eq!(findings.len(), 14);
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/2026-12.json")).unwrap())
            .unwrap();
    let s = &run["summary"];
    assert_eq!(s["records_scanned"], 20, "{s}");
    assert_eq!(
        s["retention"],
        serde_json::json!({"due": 7, "ok": 6, "unknown": 1})
    );
    assert_eq!(
        s["retention_due"],
        serde_json::json!({"criminal": 1, "health": 5, "trade_union": 1})
    );
    assert_eq!(s["consent"], serde_json::json!({"health": 2}));
    assert_eq!(
        s["erasure_due"],
        serde_json::json!({"consent_withdrawn": 1, "retention": 6})
    );
    let unknown: Vec<&Value> = findings
        .iter()
        .filter(|f| f["retention"] == "unknown")
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["record"], "N-1020", "the note without a date");
    for f in findings.iter().filter(|f| f["consent"].is_string()) {
        let flagged = f["action"] == "flag";
        assert_eq!(flagged, f["erasure_due"] != "consent_withdrawn", "{f}");
    }
    assert!(dir.join("reports/2026-12.html").is_file());

    // 2. Report, against the run itself as "last month".
    let o = art9(
        dir,
        &[
            "report",
            "runs/2026-12.json",
            "--previous",
            "runs/2026-12.json",
            "-o",
            "reports/2026-12.html",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);

    // 3. Review: N-1009 accepted, silent on the next scan.
    let reviewed: String = o_lines(&findings, "N-1009");
    std::fs::write(dir.join("reviewed.jsonl"), reviewed).unwrap();
    let o = art9(
        dir,
        &[
            "baseline",
            "add",
            "reviewed.jsonl",
            "--baseline",
            "review.baseline.jsonl",
            "--decision",
            "accepted",
            "--reason",
            "customer asked for the union discount",
            "--reviewer",
            "dpo",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = art9(
        dir,
        &with_gdpr(
            &["scan", "examples/gdpr/notes.csv"],
            &["--baseline", "review.baseline.jsonl", "--format", "jsonl"],
        ),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let again = jsonl(&o.stdout);
    assert_eq!(again.len(), 13);
    assert!(again.iter().all(|f| f["record"] != "N-1009"));
    assert!(o.stderr.contains("1 findings silenced"), "{}", o.stderr);

    // 4. Retention and withdrawn consent: the plan, then the erasure.
    let o = art9(
        dir,
        &with_gdpr(&["erase", "examples/gdpr/notes.csv"], &["--due", "--plan"]),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let plan: Vec<(String, String)> = jsonl(&o.stdout)
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().to_string(),
                p["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("N-1002", "mask"),
        ("N-1003", "mask"),
        ("N-1008", "mask"),
        ("N-1012", "mask"),
        ("N-1014", "mask"),
        ("N-1017", "delete"),
    ]
    .iter()
    .map(|(k, a)| (k.to_string(), a.to_string()))
    .collect();
    assert_eq!(plan, want);
    assert_eq!(std::fs::read(ex.join("notes.csv")).unwrap(), original);
    let o = art9(
        dir,
        &with_gdpr(
            &["erase", "examples/gdpr/notes.csv"],
            &[
                "--due",
                "--apply",
                "-o",
                "notes.erased.csv",
                "--audit",
                "audit.jsonl",
            ],
        ),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let erased = std::fs::read_to_string(dir.join("notes.erased.csv")).unwrap();
    let before = String::from_utf8(original).unwrap();
    let touched = ["N-1002", "N-1003", "N-1008", "N-1012", "N-1014", "N-1017"];
    let kept = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !touched.iter().any(|k| l.starts_with(&format!("\"{k}\""))))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(kept(&erased), kept(&before), "other records byte for byte");
    assert!(
        !erased.contains("\"N-1017\""),
        "the criminal note is deleted"
    );
    assert_eq!(erased.lines().count(), before.lines().count() - 1);

    // 5. One person's requests.
    let o = art9(
        dir,
        &[
            "subject",
            "notes.erased.csv",
            "--field",
            "note",
            "--key",
            "id",
            "--subject",
            "customer_id",
            "--id",
            "C2013",
            "--policy",
            "examples/gdpr/gdpr.yaml",
            "--access",
            "-o",
            "requests/C2013",
            "--audit",
            "audit.jsonl",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let access = std::fs::read_to_string(dir.join("requests/C2013/access.json")).unwrap();
    assert!(
        access.contains("N-1019") && !access.contains("N-1014"),
        "{access}"
    );
    assert!(dir.join("requests/C2013/access.html").is_file());
    let o = art9(
        dir,
        &[
            "erase",
            "notes.erased.csv",
            "--field",
            "note",
            "--key",
            "id",
            "--subject",
            "customer_id",
            "--id",
            "C2013",
            "--policy",
            "examples/gdpr/gdpr.yaml",
            "--apply",
            "--in-place",
            "--audit",
            "audit.jsonl",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);

    // 6. Audit: four lines (scan, erase --due, subject, erase --id), chain intact.
    let o = art9(dir, &["audit", "verify", "audit.jsonl"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("ok, 4 lines"), "{}", o.stdout);
    let log = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    for word in ["diabetes", "Muslim", "brystkræft", "C2013"] {
        assert!(!log.contains(word), "{word} in the audit log");
    }
}

/// The findings of one record as JSON Lines (the reviewer's cut of findings.jsonl).
fn o_lines(findings: &[Value], record: &str) -> String {
    findings
        .iter()
        .filter(|f| f["record"] == record)
        .map(|f| format!("{f}\n"))
        .collect()
}

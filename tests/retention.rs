//! Retention, consent and `--since` end to end (issue 21): JSON Lines, CSV, SQLite, and
//! PostgreSQL and MariaDB at the end of this file (ignored by a plain `cargo test`; run with
//! `-- --include-ignored` and `eval "$(bash ci/db-setup.sh)"`).
//!
//! The expected counts are recounted from the dates the test wrote (as numbers), never by
//! art9's parser.

mod common;

use std::path::Path;

use common::{art9, s};
use serde_json::Value;

const CANARY: &str = "ZQXCANARY";
const AS_OF: &str = "2026-12-07";
/// Health notes older than 3 years at AS_OF are due: before 2023-12-07.
const CUTOFF: (i32, u32, u32) = (2023, 12, 7);

const POLICY: &str = "default: {action: mask}
retention:
  date_field: created
  rules:
    - categories: [health]
      max_age: 3y
      action: erase
consent:
  - categories: [health]
    action: flag
";

/// One note: its subject, its date (y, m, d) if it has one, and how the date is written.
struct Note {
    id: usize,
    subject: String,
    date: Option<(i32, u32, u32)>,
    written: String,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), for epoch values.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn notes(n: usize) -> Vec<Note> {
    (0..n)
        .map(|i| {
            let (y, m, d) = (
                2018 + (i * 7 % 9) as i32,
                1 + (i % 12) as u32,
                1 + (i % 28) as u32,
            );
            let (date, written) = match i % 6 {
                0 => (Some((y, m, d)), format!("{y:04}-{m:02}-{d:02}")),
                1 => (
                    Some((y, m, d)),
                    format!("{y:04}-{m:02}-{d:02}T10:00:00+00:00"),
                ),
                2 => (Some((y, m, d)), format!("{d:02}-{m:02}-{y:04}")),
                3 => (
                    Some((y, m, d)),
                    (days_from_civil(y, m, d) * 86_400_000 + 3_600_000).to_string(),
                ),
                4 => (None, String::new()),
                _ => (None, "n/a".to_string()),
            };
            Note {
                id: i + 1,
                subject: format!("c{}", i % 7),
                date,
                written,
            }
        })
        .collect()
}

fn text_of(n: &Note) -> String {
    format!(
        "Klant heeft diabetes, bel {CANARY} terug.{}",
        if n.id % 5 == 0 { " Hij is moslim." } else { "" }
    )
}

fn due(d: (i32, u32, u32)) -> bool {
    d < CUTOFF
}

/// The expected (due, ok, unknown) counts of health findings (one per note).
fn recount(notes: &[Note]) -> (u64, u64, u64) {
    let due_n = notes.iter().filter(|n| n.date.is_some_and(due)).count() as u64;
    let unknown = notes.iter().filter(|n| n.date.is_none()).count() as u64;
    (due_n, notes.len() as u64 - due_n - unknown, unknown)
}

/// Findings (JSON Lines on stdout) by record key.
fn findings(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The `summary` object of a run summary file.
fn summary(path: &Path) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["summary"].clone()
}

fn count(v: &Value, map: &str, key: &str) -> u64 {
    v[map][key].as_u64().unwrap_or(0)
}

fn write_policy(dir: &Path) -> String {
    let p = dir.join("policy.yaml");
    std::fs::write(&p, POLICY).unwrap();
    s(&p).to_string()
}

/// Check per finding and in the summary that retention matches the recount.
fn check_retention(notes: &[Note], stdout: &str, sum: &Value) {
    let (due_n, ok_n, unknown_n) = recount(notes);
    let mut seen = 0;
    for f in findings(stdout) {
        let id: usize = f["record"].as_str().unwrap().parse().unwrap();
        let note = &notes[id - 1];
        match f["category"].as_str().unwrap() {
            "health" => {
                seen += 1;
                let want = match note.date {
                    None => "unknown",
                    Some(d) if due(d) => "due",
                    Some(_) => "ok",
                };
                assert_eq!(f["retention"], want, "note {id} ({:?})", note.written);
                assert_eq!(f["data_category"], "user.health");
                assert_eq!(
                    f["erasure_due"].as_str(),
                    (want == "due").then_some("retention"),
                    "note {id}"
                );
            }
            "religion" => {
                // No retention rule names religion: no status, but the fideslang key.
                assert!(f.get("retention").is_none(), "{f}");
                assert_eq!(f["data_category"], "user.demographic.religious_belief");
            }
            other => panic!("unexpected category {other}"),
        }
    }
    assert_eq!(seen, notes.len());
    assert_eq!(count(sum, "retention", "due"), due_n);
    assert_eq!(count(sum, "retention", "ok"), ok_n);
    assert_eq!(count(sum, "retention", "unknown"), unknown_n);
    assert_eq!(count(sum, "retention_due", "health"), due_n);
    assert_eq!(count(sum, "erasure_due", "retention"), due_n);
    assert!(
        due_n > 10 && ok_n > 10 && unknown_n > 10,
        "{due_n} {ok_n} {unknown_n}"
    );
}

fn no_canary(outputs: &[&str]) {
    for o in outputs {
        assert!(!o.contains(CANARY), "note text in output: {o}");
        assert!(!o.contains("diabetes"), "matched text in output");
    }
}

#[test]
fn jsonl_retention_counts_equal_a_recount_by_date() {
    let dir = tempfile::tempdir().unwrap();
    let ns = notes(120);
    let mut text = String::new();
    for n in &ns {
        let mut o =
            serde_json::json!({"id": n.id.to_string(), "cust": n.subject, "text": text_of(n)});
        if n.id % 6 != 5 {
            // Missing member for one kind of undated note, "n/a" or "" for the others.
            o["created"] = Value::String(n.written.clone());
        }
        text.push_str(&o.to_string());
        text.push('\n');
    }
    let input = dir.path().join("notes.jsonl");
    std::fs::write(&input, text).unwrap();
    let sum_path = dir.path().join("run.json");
    let report = dir.path().join("report.html");
    let policy = write_policy(dir.path());
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "text",
            "--key",
            "id",
            "--policy",
            &policy,
            "--as-of",
            AS_OF,
            "--format",
            "jsonl",
            "--summary-out",
            s(&sum_path),
            "--report",
            s(&report),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sum = summary(&sum_path);
    check_retention(&ns, &out.stdout, &sum);
    let file = std::fs::read_to_string(&sum_path).unwrap();
    let html = std::fs::read_to_string(&report).unwrap();
    no_canary(&[&out.stdout, &out.stderr, &file, &html]);
    let (due_n, _, _) = recount(&ns);
    assert!(
        html.contains(&format!(
            "Under the policy's retention rules: {due_n} findings due"
        )),
        "the report shows the policy's retention counts"
    );
    // The summary names the fideslang key of each category.
    assert!(
        file.contains("user.demographic.political_opinion"),
        "{file}"
    );
}

#[test]
fn csv_retention_and_since() {
    let dir = tempfile::tempdir().unwrap();
    let ns = notes(90);
    let mut text = String::from("id,cust,created,note\n");
    for n in &ns {
        text.push_str(&format!(
            "{},{},{},\"{}\"\n",
            n.id,
            n.subject,
            n.written,
            text_of(n)
        ));
    }
    let input = dir.path().join("notes.csv");
    std::fs::write(&input, text).unwrap();
    let policy = write_policy(dir.path());
    let sum_path = dir.path().join("run.json");
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "note",
            "--key",
            "id",
            "--policy",
            &policy,
            "--as-of",
            AS_OF,
            "--format",
            "jsonl",
            "--summary-out",
            s(&sum_path),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    check_retention(&ns, &out.stdout, &summary(&sum_path));

    // --since: records dated before it are filtered (counted with the reason), undated
    // ones scanned and counted.
    let since = (2022, 1, 1);
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "note",
            "--key",
            "id",
            "--date-field",
            "created",
            "--since",
            "2022-01-01",
            "--format",
            "jsonl",
            "--summary-out",
            s(&sum_path),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sum = summary(&sum_path);
    let before = ns
        .iter()
        .filter(|n| n.date.is_some_and(|d| d < since))
        .count() as u64;
    let undated = ns.iter().filter(|n| n.date.is_none()).count() as u64;
    assert_eq!(sum["records_filtered"], before);
    assert_eq!(count(&sum, "filtered", "since"), before);
    assert_eq!(sum["undated"], undated);
    assert_eq!(sum["records_scanned"], ns.len() as u64 - before);
    assert_eq!(sum["records_read"], ns.len() as u64);
    let scanned: std::collections::BTreeSet<usize> = findings(&out.stdout)
        .iter()
        .map(|f| f["record"].as_str().unwrap().parse().unwrap())
        .collect();
    for n in &ns {
        assert_eq!(
            scanned.contains(&n.id),
            n.date.is_none_or(|d| d >= since),
            "note {}",
            n.id
        );
    }
    no_canary(&[&out.stdout, &out.stderr]);

    // --date-column is the same option.
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "note",
            "--key",
            "id",
            "--date-column",
            "created",
            "--since",
            "2022-01-01",
            "--format",
            "jsonl",
            "-q",
        ],
        None,
    );
    assert_eq!(
        findings(&out.stdout).len(),
        scanned.len() + scanned.iter().filter(|i| *i % 5 == 0).count()
    );
}

/// The consent rules, as README "Consent ledger" documents them.
#[test]
fn consent_rows_change_decisions_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    // id, subject, date
    let rows = [
        ("1", "alice", "2026-03-01"), // after alice's consent: flag, reference
        ("2", "alice", "2025-06-01"), // before it: mask (consent is not retroactive)
        ("3", "alice", ""),           // undated: mask
        ("4", "bob", "2026-03-01"),   // bob withdrew: mask, erasure due
        ("5", "carol", "2026-03-01"), // not in the ledger: mask
        ("6", "", "2026-03-01"),      // no subject: mask
        ("7", "dave", "2026-03-01"),  // withdrew, then consented again: flag, new reference
        ("8", "dave", "2025-01-01"),  // before the new consent: erasure due (old one withdrawn)
        ("9", "erin", "2026-03-01"),  // consent given after --as-of: not yet active
    ];
    let mut text = String::new();
    for (id, who, date) in rows {
        text.push_str(&format!(
            "{{\"id\":\"{id}\",\"cust\":\"{who}\",\"created\":\"{date}\",\"text\":\"Klant heeft diabetes, {CANARY}.\"}}\n"
        ));
    }
    let input = dir.path().join("notes.jsonl");
    std::fs::write(&input, text).unwrap();
    let ledger = dir.path().join("ledger.csv");
    std::fs::write(
        &ledger,
        "subject,category,given_at,withdrawn_at,reference\n\
         alice,health,2026-01-01,,FORM-A\n\
         alice,religion,2020-01-01,,FORM-A2\n\
         bob,user.health,2025-01-01,2026-06-01T12:00:00Z,FORM-B\n\
         dave,health,2024-01-01,2025-12-01,FORM-D1\n\
         dave,health,2026-02-01,,FORM-D2\n\
         erin,health,2027-01-01,,FORM-E\n",
    )
    .unwrap();
    let policy = write_policy(dir.path());
    let sum_path = dir.path().join("run.json");
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "text",
            "--key",
            "id",
            "--subject",
            "cust",
            "--policy",
            &policy,
            "--consent",
            s(&ledger),
            "--as-of",
            AS_OF,
            "--format",
            "jsonl",
            "--summary-out",
            s(&sum_path),
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let got: Vec<(String, String, Option<String>, Option<String>)> = findings(&out.stdout)
        .iter()
        .map(|f| {
            (
                f["record"].as_str().unwrap().to_string(),
                f["action"].as_str().unwrap().to_string(),
                f["consent"].as_str().map(str::to_string),
                f["erasure_due"].as_str().map(str::to_string),
            )
        })
        .collect();
    let want = |id: &str, a: &str, c: Option<&str>, e: Option<&str>| {
        (
            id.to_string(),
            a.to_string(),
            c.map(str::to_string),
            e.map(str::to_string),
        )
    };
    assert_eq!(
        got,
        vec![
            want("1", "flag", Some("FORM-A"), None),
            want("2", "mask", None, None),
            want("3", "mask", None, None),
            want("4", "mask", Some("FORM-B"), Some("consent_withdrawn")),
            want("5", "mask", None, None),
            want("6", "mask", None, None),
            want("7", "flag", Some("FORM-D2"), None),
            want("8", "mask", Some("FORM-D1"), Some("consent_withdrawn")),
            want("9", "mask", None, None),
        ]
    );
    let sum = summary(&sum_path);
    assert_eq!(count(&sum, "consent", "health"), 2);
    assert_eq!(count(&sum, "erasure_due", "consent_withdrawn"), 2);
    let file = std::fs::read_to_string(&sum_path).unwrap();
    no_canary(&[&out.stdout, &out.stderr, &file]);
    for who in ["alice", "bob", "carol", "dave", "erin"] {
        assert!(
            !out.stdout.contains(who) && !file.contains(who),
            "subject id {who} in output"
        );
    }

    // A bad ledger row: one error naming file:line and field, not the row.
    std::fs::write(
        &ledger,
        "subject,category,given_at,withdrawn_at,reference\nalice,health,2026-01-01,,F\nbob,health,someday,,F\n",
    )
    .unwrap();
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "text",
            "--key",
            "id",
            "--subject",
            "cust",
            "--policy",
            &policy,
            "--consent",
            s(&ledger),
            "--format",
            "jsonl",
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("ledger.csv:3: field given_at: not a date"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("bob") && !out.stderr.contains("someday"),
        "{}",
        out.stderr
    );
    // Consent needs a subject column.
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "text",
            "--key",
            "id",
            "--policy",
            &policy,
            "--consent",
            s(&ledger),
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--consent needs --subject"),
        "{}",
        out.stderr
    );
}

/// `mask` masks what a `mask` retention rule makes due, and nothing else.
#[test]
fn mask_applies_a_due_retention_rule() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("n.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"1\",\"d\":\"2019-01-01\",\"t\":\"Klant heeft diabetes.\"}\n\
         {\"id\":\"2\",\"d\":\"2026-11-01\",\"t\":\"Klant heeft diabetes.\"}\n\
         {\"id\":\"3\",\"t\":\"Klant heeft diabetes.\"}\n",
    )
    .unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        "default: {action: flag}\nretention:\n  rules:\n    - max_age: 2y\n      action: mask\n",
    )
    .unwrap();
    let masked = dir.path().join("m.jsonl");
    let out = art9(
        &[
            "mask",
            s(&input),
            "--field",
            "t",
            "--key",
            "id",
            "--policy",
            s(&policy),
            "--date-field",
            "d",
            "--as-of",
            AS_OF,
            "-o",
            s(&masked),
            "-q",
        ],
        None,
    );
    assert!(out.code < 2, "{}", out.stderr);
    let m = std::fs::read_to_string(&masked).unwrap();
    let lines: Vec<&str> = m.lines().collect();
    assert!(lines[0].contains("[HEALTH]"), "{m}");
    assert!(
        lines[1].contains("diabetes") && lines[2].contains("diabetes"),
        "{m}"
    );
    // Without a date field a retention policy is an error, not silently ok.
    let out = art9(
        &[
            "scan",
            s(&input),
            "--field",
            "t",
            "--key",
            "id",
            "--policy",
            s(&policy),
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--date-field"), "{}", out.stderr);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_retention_and_consent_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db");
    let ns = notes(60);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, cust TEXT, created, body TEXT);
             CREATE TABLE consent (subject TEXT, category TEXT, given_at TEXT, withdrawn_at TEXT, reference TEXT);
             INSERT INTO consent VALUES ('c1', 'health', '2000-01-01', NULL, 'FORM-1');",
        )
        .unwrap();
        for n in &ns {
            // Epoch milliseconds as an INTEGER, the others as TEXT, missing as NULL.
            let created: rusqlite::types::Value = match (n.id - 1) % 6 {
                3 => rusqlite::types::Value::Integer(n.written.parse().unwrap()),
                4 => rusqlite::types::Value::Null,
                _ => rusqlite::types::Value::Text(n.written.clone()),
            };
            conn.execute(
                "INSERT INTO notes VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![n.id as i64, n.subject, created, text_of(n)],
            )
            .unwrap();
        }
    }
    let url = format!("sqlite:{}", s(&db));
    let policy = write_policy(dir.path());
    let sum_path = dir.path().join("run.json");
    let out = art9(
        &[
            "scan",
            &url,
            "--table",
            "notes",
            "--field",
            "body",
            "--key",
            "id",
            "--subject",
            "cust",
            "--policy",
            &policy,
            "--consent",
            "table:consent",
            "--as-of",
            AS_OF,
            "--format",
            "jsonl",
            "--summary-out",
            s(&sum_path),
            "--no-count",
        ],
        None,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sum = summary(&sum_path);
    let (due_n, ok_n, unknown_n) = recount(&ns);
    assert_eq!(count(&sum, "retention", "due"), due_n);
    assert_eq!(count(&sum, "retention", "ok"), ok_n);
    assert_eq!(count(&sum, "retention", "unknown"), unknown_n);
    // c1's dated notes are under consent: flagged, with the reference.
    for f in findings(&out.stdout)
        .iter()
        .filter(|f| f["category"] == "health")
    {
        let id: usize = f["record"].as_str().unwrap().parse().unwrap();
        let n = &ns[id - 1];
        let covered = n.subject == "c1" && n.date.is_some();
        assert_eq!(
            f["action"],
            if covered { "flag" } else { "mask" },
            "note {id}"
        );
        assert_eq!(
            f["consent"].as_str(),
            covered.then_some("FORM-1"),
            "note {id}"
        );
    }
    let covered = ns
        .iter()
        .filter(|n| n.subject == "c1" && n.date.is_some())
        .count() as u64;
    assert_eq!(count(&sum, "consent", "health"), covered);
    no_canary(&[&out.stdout, &out.stderr]);
}

/// PostgreSQL and MariaDB: native DATE / TIMESTAMPTZ / DATETIME columns.
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod servers {
    use super::*;

    fn env_url(var: &str) -> String {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => v,
            _ => panic!(
                "{var} is not set: eval \"$(bash ci/db-setup.sh)\" (ignored by a plain cargo test)"
            ),
        }
    }

    fn unique(prefix: &str) -> String {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("{prefix}_{}_{t}", std::process::id())
    }

    /// The dated notes' date as SQL text (NULL for undated ones).
    fn sql_date(n: &Note) -> String {
        match n.date {
            Some((y, m, d)) => format!("'{y:04}-{m:02}-{d:02} 10:00:00'"),
            None => "NULL".into(),
        }
    }

    /// `source`: `["--table", T]` or `["--query", SQL]`.
    fn run_and_check(url: &str, source: [&str; 2], ledger: &str, ns: &[Note]) {
        let dir = tempfile::tempdir().unwrap();
        let policy = write_policy(dir.path());
        let sum_path = dir.path().join("run.json");
        let out = art9(
            &[
                "scan",
                url,
                source[0],
                source[1],
                "--field",
                "body",
                "--key",
                "id",
                "--subject",
                "cust",
                "--policy",
                &policy,
                "--consent",
                &format!("table:{ledger}"),
                "--as-of",
                AS_OF,
                "--format",
                "jsonl",
                "--summary-out",
                s(&sum_path),
                "--no-count",
            ],
            None,
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let sum = summary(&sum_path);
        let (due_n, ok_n, unknown_n) = recount(ns);
        assert_eq!(count(&sum, "retention", "due"), due_n, "{sum}");
        assert_eq!(count(&sum, "retention", "ok"), ok_n);
        assert_eq!(count(&sum, "retention", "unknown"), unknown_n);
        let covered = ns
            .iter()
            .filter(|n| n.subject == "c1" && n.date.is_some())
            .count() as u64;
        assert_eq!(count(&sum, "consent", "health"), covered);
        no_canary(&[&out.stdout, &out.stderr]);
    }

    #[cfg(feature = "postgres")]
    #[test]
    #[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
    fn postgres_native_dates() {
        let url = env_url("ART9_TEST_POSTGRES_URL");
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let (t, l) = (unique("ret_notes"), unique("ret_consent"));
        let ns = notes(60);
        // A non-ISO DateStyle must not change what art9 reads.
        c.batch_execute(&format!(
            "CREATE TABLE {t} (id bigint PRIMARY KEY, cust text, created timestamptz, body text);
             CREATE TABLE {l} (subject text, category text, given_at date, withdrawn_at timestamptz, reference text);
             INSERT INTO {l} VALUES ('c1', 'health', '2000-01-01', NULL, 'FORM-1');
             ALTER ROLE CURRENT_USER SET datestyle = 'SQL, DMY';"
        ))
        .unwrap();
        for n in &ns {
            c.execute(
                &format!(
                    "INSERT INTO {t} VALUES ($1, $2, {}::timestamptz, $3)",
                    sql_date(n).replace(" 10:00:00'", " 10:00:00+00'")
                ),
                &[&(n.id as i64), &n.subject, &text_of(n)],
            )
            .unwrap();
        }
        /// Resets the role's DateStyle even when the checks fail.
        struct Reset(postgres::Client, String);
        impl Drop for Reset {
            fn drop(&mut self) {
                let _ = self.0.batch_execute(&self.1);
            }
        }
        let _reset = Reset(
            c,
            format!("ALTER ROLE CURRENT_USER RESET datestyle; DROP TABLE {t}; DROP TABLE {l};"),
        );
        run_and_check(&url, ["--table", &t], &l, &ns);
        // A query's timestamptz column needs no cast.
        let q = format!("SELECT id, cust, created, body FROM {t}");
        run_and_check(&url, ["--query", &q], &l, &ns);
    }

    #[cfg(feature = "mysql")]
    #[test]
    #[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
    fn mariadb_native_dates() {
        use mysql::prelude::Queryable;
        let url = env_url("ART9_TEST_MYSQL_URL");
        let opts = mysql::Opts::from_url(&url).unwrap();
        let mut c = mysql::Conn::new(opts).unwrap();
        let (t, l) = (unique("ret_notes"), unique("ret_consent"));
        let ns = notes(60);
        c.query_drop(format!(
            "CREATE TABLE {t} (id BIGINT PRIMARY KEY, cust VARCHAR(20), created DATETIME NULL, body TEXT)"
        ))
        .unwrap();
        c.query_drop(format!(
            "CREATE TABLE {l} (subject VARCHAR(20), category VARCHAR(40), given_at DATE, withdrawn_at DATETIME NULL, reference VARCHAR(40))"
        ))
        .unwrap();
        c.query_drop(format!(
            "INSERT INTO {l} VALUES ('c1', 'health', '2000-01-01', NULL, 'FORM-1')"
        ))
        .unwrap();
        for n in &ns {
            c.exec_drop(
                format!("INSERT INTO {t} VALUES (?, ?, {}, ?)", sql_date(n)),
                (n.id as i64, n.subject.as_str(), text_of(n)),
            )
            .unwrap();
        }
        run_and_check(&url, ["--table", &t], &l, &ns);
        let q = format!("SELECT id, cust, created, body FROM {t}");
        run_and_check(&url, ["--query", &q], &l, &ns);
        c.query_drop(format!("DROP TABLE {t}")).unwrap();
        c.query_drop(format!("DROP TABLE {l}")).unwrap();
    }
}

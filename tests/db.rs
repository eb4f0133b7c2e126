//! Database sources end to end: SQLite always; PostgreSQL and MariaDB when
//! `ART9_TEST_POSTGRES_URL` / `ART9_TEST_MYSQL_URL` are set (`eval "$(bash ci/db-setup.sh)"`).
//! Every test makes its own uniquely named tables and drops them.

#![cfg(all(
    feature = "cli",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql"
))]

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

const BIN: &str = env!("CARGO_BIN_EXE_art9");
const NOTES: usize = 10_000;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn art9(args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ART9_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run art9");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The server's URL. The PostgreSQL and MariaDB tests are `#[ignore]`d, so a plain
/// `cargo test` lists them as ignored; run with `-- --include-ignored` (as `.ci/run` does)
/// they need their server, and a missing URL fails the test instead of skipping it.
fn env_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => panic!(
            "{var} is not set: start the servers with `eval \"$(bash ci/db-setup.sh)\"` \
             (this test is ignored by a plain `cargo test`)"
        ),
    }
}

/// A table name no other test (or run) uses.
fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{t}", std::process::id())
}

/// 10,000 deterministic notes: the example notes, each repeated with a distinct id.
fn notes() -> Vec<(i64, String)> {
    let examples: Vec<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/crm-notes.jsonl"),
    )
    .expect("examples")
    .lines()
    .map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        v["note"].as_str().expect("note").to_string()
    })
    .collect();
    (0..NOTES)
        .map(|i| {
            let base = &examples[i % examples.len()];
            (i as i64 + 1, format!("{base} Ref {}.", i / examples.len()))
        })
        .collect()
}

/// `notes()` `rounds` times over, with ids running on (`rounds * NOTES` rows).
fn notes_times(rounds: usize) -> Vec<(i64, String)> {
    (0..rounds)
        .flat_map(|round| {
            notes()
                .into_iter()
                .map(move |(id, n)| (id + (round * NOTES) as i64, n))
        })
        .collect()
}

type FindingKey = (String, String, String, u64, u64);

fn findings(o: &Out) -> BTreeSet<FindingKey> {
    o.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("finding jsonl");
            (
                v["record"].as_str().unwrap_or("").to_string(),
                v["field"].as_str().unwrap_or("").to_string(),
                v["category"].as_str().unwrap_or("").to_string(),
                v["start"].as_u64().unwrap_or(0),
                v["end"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn scan_db(url: &str, table: &str) -> Out {
    art9(&[
        "scan", url, "--table", table, "--field", "body", "--key", "id", "--format", "jsonl",
    ])
}

fn jsonl_findings() -> BTreeSet<FindingKey> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.jsonl");
    let body: String = notes()
        .iter()
        .map(|(id, n)| serde_json::json!({"id": id, "body": n}).to_string() + "\n")
        .collect();
    std::fs::write(&p, body).expect("write");
    let o = art9(&[
        "scan",
        p.to_str().expect("path"),
        "--field",
        "body",
        "--key",
        "id",
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    findings(&o)
}

fn checksum(rows: &[(i64, Option<String>)]) -> u64 {
    let mut h = DefaultHasher::new();
    rows.hash(&mut h);
    h.finish()
}

/// What each backend must provide to the shared end-to-end checks.
trait Db {
    fn url(&self) -> String;
    fn load(&mut self, table: &str, rows: &[(i64, String)]);
    fn rows(&mut self, table: &str) -> Vec<(i64, Option<String>)>;
    fn exists(&mut self, table: &str) -> bool;
    fn drop_table(&mut self, table: &str);
    /// Run statements (test setup).
    fn exec(&mut self, sql: &str);
    /// The CRM application's edit: one autocommitted `UPDATE`.
    fn set_body(&mut self, table: &str, id: i64, body: &str);
    /// Log every update of `table` (id, new body) into a new table `audit` (a trigger).
    fn add_audit(&mut self, table: &str, audit: &str);
    /// Whether art9 reads the whole table in one snapshot (so it never sees an edit made
    /// after it started); SQLite reads page by page and sees edits ahead of its reading.
    fn snapshot_read(&self) -> bool {
        true
    }
    /// How art9 quotes an identifier in its SQL.
    fn quote_char(&self) -> char {
        '"'
    }
    /// Kill the server session (other than our own) whose current statement mentions
    /// `marker`; whether one was found.
    fn kill_session(&mut self, _marker: &str) -> bool {
        false
    }
}

/// The rows of [`context_rules`], as (id, consent, grp, body).
const CONTEXT_ROWS: &[(i64, Option<&str>, Option<i64>, &str)] = &[
    (1, Some("yes"), Some(7), "Klant heeft diabetes"),
    (2, Some("no"), Some(7), "Klant heeft diabetes"),
    (3, None, Some(8), "Zij is moslim"),
    (4, Some(""), None, "Klant heeft kanker"),
    (5, Some("yes"), Some(8), "Hij is lid van de FNV"),
];

/// A policy whose `when` rules read two context columns: `consent` (text) and `grp` (an
/// integer, read as its text).
const CONTEXT_POLICY: &str = "default: {action: mask}\nwhen:\n  - column: consent\n    equals: [\"yes\"]\n    categories: [health]\n    action: flag\n  - column: grp\n    equals: [\"8\"]\n    action: reject\n  - column: consent\n    present: false\n    action: allow\n";

/// Record key → the action of its one finding, from findings JSON lines.
fn actions(o: &Out) -> Vec<(String, String)> {
    o.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("finding jsonl");
            (
                v["record"].as_str().unwrap_or("").to_string(),
                v["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// What [`CONTEXT_POLICY`] must decide for [`CONTEXT_ROWS`]: consent "yes" flags health (1),
/// no consent rule applies to 2 (mask), grp 8 rejects (3; 5, whose consent rule is for
/// health only), an empty consent is no value (4: allow).
fn expected_actions() -> Vec<(String, String)> {
    [
        (1, "flag"),
        (2, "mask"),
        (3, "reject"),
        (4, "allow"),
        (5, "reject"),
    ]
    .iter()
    .map(|(k, a)| (k.to_string(), a.to_string()))
    .collect()
}

/// Record context read from a database: the policy's `when` rules see the same values a
/// JSON Lines or CSV file gives (tests/cli_files.rs), without `--context` (the policy names
/// the columns), from a table and from a query.
fn context_rules(db: &mut dyn Db) {
    let t = unique("art9_ctx");
    let url = db.url();
    db.exec(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, consent varchar(10), grp integer, body text)"
    ));
    let values: Vec<String> = CONTEXT_ROWS
        .iter()
        .map(|(id, c, g, b)| {
            let c = c.map_or("NULL".to_string(), |c| format!("'{c}'"));
            let g = g.map_or("NULL".to_string(), |g| g.to_string());
            format!("({id}, {c}, {g}, '{b}')")
        })
        .collect();
    db.exec(&format!("INSERT INTO {t} VALUES {}", values.join(", ")));
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("p.yaml");
    std::fs::write(&policy, CONTEXT_POLICY).expect("policy");
    let policy = policy.to_str().expect("path");
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", url.as_str(), "--field", "body", "--key", "id"];
        args.extend(["--format", "jsonl", "--policy", policy]);
        args.extend(extra);
        art9(&args)
    };
    let o = scan(&["--table", &t]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(actions(&o), expected_actions(), "{}", o.stderr);
    let q = format!("SELECT id, consent, grp, body FROM {t} ORDER BY id");
    let o = scan(&["--query", &q]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(actions(&o), expected_actions(), "{}", o.stderr);
    // A context column that does not exist is one clear error naming it.
    let o = scan(&["--table", &t, "--context", "consnet"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("consnet"), "{}", o.stderr);
    db.drop_table(&t);
}

/// The server kills art9's session in the middle of a scan: a clear error naming the table
/// and the row, exit code 2, no panic, no note text, and the findings written until then
/// are complete JSON lines.
fn dropped_connection(db: &mut dyn Db) {
    let t = unique("art9_dropconn");
    let url = db.url();
    let many = notes_times(5);
    db.load(&t, &many);
    let mut child = Command::new(BIN)
        .args([
            "scan",
            &url,
            "--table",
            &t,
            "--field",
            "body",
            "--key",
            "id",
            "--format",
            "jsonl",
            "--threads",
            "1",
        ])
        .env_remove("ART9_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("the scan never wrote a finding");
    let drain = std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut rest);
        rest
    });
    let start = Instant::now();
    let mut killed = false;
    while !killed && start.elapsed() < Duration::from_secs(30) {
        killed = db.kill_session(&t);
        if !killed {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let out = child.wait_with_output().expect("wait");
    let mut written = first.to_vec();
    written.extend(drain.join().expect("drain"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("art9 said: {stderr}");
    assert!(
        killed,
        "art9's session was never found (exit {:?}): {stderr}",
        out.status
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("read error after ") && stderr.contains(&format!("table {t}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("diabetes"), "{stderr}");
    let written = String::from_utf8(written).expect("utf-8 output");
    assert!(written.ends_with('\n') || written.is_empty());
    for line in written.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a complete JSON line");
        assert!(v["record"].is_string(), "{line}");
    }
    db.drop_table(&t);
}

/// `--max-field-bytes` (PostgreSQL: the value is skipped in the COPY stream unread) and
/// `--max-record-bytes` (key, subject and fields together): the row is skipped and named,
/// never echoed, never truncated.
fn size_limits(db: &mut dyn Db) {
    let t = unique("art9_size");
    let url = db.url();
    let long = format!("Klant heeft diabetes. {}", "x".repeat(100));
    db.exec(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, body text, summary text)"
    ));
    db.exec(&format!(
        "INSERT INTO {t} VALUES (1, 'Zij is moslim', 'kort'), (2, '{long}', 'kort'), \
         (3, 'Hij is lid van de FNV', 'Klant heeft kanker')"
    ));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            url.as_str(),
            "--table",
            &t,
            "--field",
            "body",
            "--field",
            "summary",
            "--key",
            "id",
            "--format",
            "jsonl",
        ];
        args.extend(extra);
        art9(&args)
    };
    let o = run(&["--max-field-bytes", "50"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "table {t}, key 2, column body: {} bytes, over the 50 byte limit (--max-field-bytes)",
            long.len()
        )),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("3 records read, 2 scanned, 1 skipped (field_too_large=1)"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("diabetes"), "{}", o.stderr);
    let keys: BTreeSet<String> = findings(&o).into_iter().map(|f| f.0).collect();
    assert_eq!(keys, ["1", "3"].map(String::from).into());
    // Each field is under 30 bytes, but row 3's key and fields add up to 40.
    let o = run(&["--max-record-bytes", "30", "--max-field-bytes", "200"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "table {t}, key 3: the row's key, subject and fields are 40 bytes, over the 30 byte \
             limit (--max-record-bytes)"
        )),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("too_large=2"), "{}", o.stderr);
    // Defaults: nothing skipped.
    assert_eq!(run(&[]).code, 1);
    db.drop_table(&t);
}

/// `--subject`, `--subjects-out` and `--subject-id` (pushed into the SQL for `--table`,
/// filtered by art9 for `--query`), and `mask --into --subject-id`.
fn subjects(db: &mut dyn Db) {
    let t = unique("art9_subj");
    let url = db.url();
    db.exec(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, cust varchar(10), grp integer, body text)"
    ));
    db.exec(&format!(
        "INSERT INTO {t} VALUES (1, 'A', 7, 'Klant heeft diabetes'), (2, 'B', 8, 'Zij is moslim'), \
         (3, 'A', 7, 'Terugbellen'), (4, NULL, NULL, 'Hij is lid van de FNV'), \
         (5, 'B', 8, 'Klant heeft kanker'), (6, 'b', 9, 'Zij is moslim')"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let roll = dir.path().join("subjects.jsonl");
    let roll_s = roll.to_str().expect("path");
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", url.as_str(), "--field", "body", "--key", "id"];
        args.extend(["--format", "jsonl"]);
        args.extend(extra);
        art9(&args)
    };
    let keys = |o: &Out| -> Vec<String> {
        let mut k: Vec<String> = findings(o).into_iter().map(|f| f.0).collect();
        k.dedup();
        k
    };

    let o = scan(&["--table", &t, "--subject", "cust", "--subjects-out", roll_s]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&roll)
        .expect("roll-up")
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    let records = |s: serde_json::Value| -> Vec<String> {
        rows.iter()
            .find(|r| r["subject"] == s)
            .map(|r| {
                r["records"]
                    .as_array()
                    .expect("records")
                    .iter()
                    .map(|k| k.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(records("A".into()), ["1"]);
    assert_eq!(records("B".into()), ["2", "5"]);
    assert_eq!(records("b".into()), ["6"]);
    assert_eq!(records(serde_json::Value::Null), ["4"]);
    assert!(
        o.stderr.contains("data subjects with findings"),
        "{}",
        o.stderr
    );

    // --table: the filter runs in the database; art9 still compares exactly ("b" != "B" even
    // under a case-insensitive collation), and the sums add up.
    let o = scan(&["--table", &t, "--subject", "cust", "--subject-id", "B"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(keys(&o), ["2", "5"]);
    assert!(o.stderr.contains("applied in the database"), "{}", o.stderr);
    let read: u64 = o
        .stderr
        .split(" records read, 2 scanned, 0 skipped")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(read == 2 || read == 3, "{}", o.stderr);
    if read == 3 {
        assert!(o.stderr.contains("1 filtered"), "{}", o.stderr);
    }
    // An integer subject column (compared in its own type in the database).
    let o = scan(&["--table", &t, "--subject", "grp", "--subject-id", "7"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(keys(&o), ["1"]);
    assert!(
        o.stderr.contains("2 records read, 2 scanned"),
        "{}",
        o.stderr
    );

    // --query: every row is read; the other subjects are counted as filtered.
    let q = format!("SELECT id, cust, body FROM {t}");
    let o = scan(&["--query", &q, "--subject", "cust", "--subject-id", "B"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(keys(&o), ["2", "5"]);
    assert!(
        o.stderr
            .contains("6 records read, 2 scanned, 0 skipped, 4 filtered (other subjects"),
        "{}",
        o.stderr
    );
    // The progress bar's count (on a terminal) uses the same filter, and wraps a query.
    let bar = |extra: &[&str]| {
        let mut args = vec!["scan", url.as_str(), "--field", "body", "--key", "id"];
        args.extend(extra);
        art9_on_tty(&args)
    };
    if let Some(tty) = bar(&["--table", &t, "--subject", "grp", "--subject-id", "8"]) {
        assert!(tty.contains("/2 rows"), "{tty}");
        let tty = bar(&["--query", &q]).unwrap_or_default();
        assert!(tty.contains("/6 rows"), "{tty}");
    }
    let o = scan(&["--query", &q, "--subject", "nope", "--subject-id", "B"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("has no column nope"), "{}", o.stderr);

    // An erasure request: mask one subject into a copy; the other rows are copied unchanged.
    let into = format!("{t}_m");
    let before = db.rows(&t);
    let o = art9(&[
        "mask",
        &url,
        "--table",
        &t,
        "--field",
        "body",
        "--key",
        "id",
        "--subject",
        "cust",
        "--subject-id",
        "A",
        "--into",
        &into,
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let after = db.rows(&into);
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(&after) {
        if b.0 == 1 {
            assert_ne!(a.1, b.1, "subject A's note was not masked");
        } else {
            assert_eq!(a.1, b.1, "row {} of another subject changed", b.0);
        }
    }
    db.drop_table(&into);
    db.drop_table(&t);
}

/// Same findings as JSONL; --into and --update write masked text that re-scans clean.
fn end_to_end(db: &mut dyn Db, expected: &BTreeSet<FindingKey>) {
    let src = unique("art9_notes");
    let into = format!("{src}_m");
    let upd = format!("{src}_u");
    let url = db.url();
    db.load(&src, &notes());
    db.load(&upd, &notes());

    let o = scan_db(&url, &src);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let got = findings(&o);
    assert_eq!(got.len(), expected.len(), "{}", o.stderr);
    assert!(&got == expected, "findings differ from JSONL");

    let before = checksum(&db.rows(&src));
    let o = art9(&[
        "mask", &url, "--table", &src, "--field", "body", "--key", "id", "--into", &into,
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("row count verified"), "{}", o.stderr);
    assert_eq!(checksum(&db.rows(&src)), before, "source changed");
    assert_eq!(db.rows(&into).len(), NOTES);
    let o = scan_db(&url, &into);
    assert_eq!(o.code, 0, "masked copy still has findings: {}", o.stdout);

    // --into an existing table is refused without --replace.
    let o = art9(&[
        "mask", &url, "--table", &src, "--field", "body", "--key", "id", "--into", &into,
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("already exists"), "{}", o.stderr);

    // --dry-run names keys and fields, never text, and writes nothing.
    let o = art9(&[
        "mask",
        &url,
        "--table",
        &upd,
        "--field",
        "body",
        "--key",
        "id",
        "--update",
        "--dry-run",
    ]);
    assert!(o.stdout.contains("would mask key="), "{}", o.stdout);
    assert!(!o.stdout.contains("diabetes"), "{}", o.stdout);
    assert_eq!(scan_db(&url, &upd).code, 1);

    let o = art9(&[
        "mask", &url, "--table", &upd, "--field", "body", "--key", "id", "--update",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let o = scan_db(&url, &upd);
    assert_eq!(o.code, 0, "updated table still has findings: {}", o.stdout);
    assert_eq!(db.rows(&upd).len(), NOTES);

    for t in [&src, &into, &upd] {
        db.drop_table(t);
    }
}

/// kill -9 while `mask --into` is writing: the source is untouched, the target never appears.
fn kill_during_into(db: &mut dyn Db) {
    let src = unique("art9_kill");
    let into = format!("{src}_m");
    let staging = format!("{into}__art9_partial");
    let url = db.url();
    let many = notes_times(5);
    db.load(&src, &many);
    let before = db.rows(&src);
    let mut child = Command::new(BIN)
        .args([
            "mask",
            &url,
            "--table",
            &src,
            "--field",
            "body",
            "--key",
            "id",
            "--into",
            &into,
            // One row per transaction: the run lasts long after the first commit, however
            // fast the scan, so the kill always lands mid-run.
            "--batch-records",
            "1",
            "--threads",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut started = false;
    while start.elapsed() < Duration::from_secs(60) {
        if db.exists(&staging) && !db.rows(&staging).is_empty() {
            started = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    assert!(started, "art9 never started writing");
    assert!(!db.exists(&into), "target appeared after kill -9");
    let after = db.rows(&src);
    assert_eq!(after.len(), before.len());
    assert_eq!(checksum(&after), checksum(&before), "source changed");
    for t in [&src, &into, &staging] {
        db.drop_table(t);
    }
}

/// A small deterministic generator (xorshift64*), so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The rows `art9 mask` makes of `rows` (as a JSON Lines file): what every row art9 masks
/// and nobody else touches must hold afterwards.
fn masked_by_file(rows: &[(i64, String)]) -> std::collections::HashMap<i64, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (inp, out) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    let body: String = rows
        .iter()
        .map(|(id, n)| serde_json::json!({"id": id, "body": n}).to_string() + "\n")
        .collect();
    std::fs::write(&inp, body).expect("write");
    let o = art9(&[
        "mask",
        inp.to_str().expect("path"),
        "--field",
        "body",
        "--key",
        "id",
        "-q",
        "-o",
        out.to_str().expect("path"),
    ]);
    assert!(o.code <= 1, "{}", o.stderr);
    std::fs::read_to_string(&out)
        .expect("masked copy")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["id"].as_i64().expect("id"),
                v["body"].as_str().expect("body").to_string(),
            )
        })
        .collect()
}

/// The CRM application edits notes while `mask --update` runs over 100,000 rows: every edit
/// survives (art9 never writes a stale masked copy over it), every row nobody touched is
/// masked, and the conflicts art9 reports are exactly the rows that changed between its
/// reading and its writing.
///
/// The application's notes never contain `[`, art9's masked ones always do, so the trigger's
/// log tells art9's writes (`W`) from the application's. art9 tries to write every row it
/// read with a finding (`outcomes.mask` in its summary); the ones it did not write are its
/// conflicts. Where art9 reads one snapshot (PostgreSQL, MariaDB), it read every original,
/// so the conflicts are also exactly the edited rows with a sensitive original that it did
/// not write.
fn concurrent_writer(db: &mut dyn Db) {
    const ROUNDS: usize = 10; // 100,000 rows
    let t = unique("art9_cas");
    let audit = format!("{t}_log");
    let url = db.url();
    let rows = notes_times(ROUNDS);
    let expected = masked_by_file(&rows);
    db.load(&t, &rows);
    db.add_audit(&t, &audit);
    let dir = tempfile::tempdir().expect("tempdir");
    let conflicts_file = dir.path().join("conflicts.jsonl");
    let summary_file = dir.path().join("summary.json");
    let mut child = Command::new(BIN)
        .args([
            "mask",
            &url,
            "--table",
            &t,
            "--field",
            "body",
            "--key",
            "id",
            "--update",
            "--batch-records",
            "256",
            "--conflicts-out",
            conflicts_file.to_str().expect("path"),
            "--summary-json",
            summary_file.to_str().expect("path"),
        ])
        .env_remove("ART9_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Edit only once art9 is writing: it has started reading by then.
    let start = Instant::now();
    while db.rows(&audit).is_empty() && start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut edits: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(300) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let id = (rng.next() % rows.len() as u64) as i64 + 1;
        let body = if rng.next() % 2 == 0 {
            format!("App edit {n}: klant heeft diabetes, belt terug.")
        } else {
            format!("App edit {n}: wil een offerte voor volgend jaar.")
        };
        db.set_body(&t, id, &body);
        edits.insert(id, body);
        n += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // only if it ran over the time limit
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!edits.is_empty(), "art9 finished before any edit: {stderr}");

    let written: BTreeSet<i64> = db
        .rows(&audit)
        .into_iter()
        .filter(|(_, b)| b.as_deref().is_some_and(|b| b.contains('[')))
        .map(|(id, _)| id)
        .collect();
    let conflicts: Vec<i64> = std::fs::read_to_string(&conflicts_file)
        .expect("conflicts file")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("conflict json");
            assert_eq!(v["fields"], serde_json::json!(["body"]), "{l}");
            v["key"]
                .as_str()
                .expect("key")
                .parse()
                .expect("numeric key")
        })
        .collect();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_file).expect("summary"))
            .expect("summary json");

    // Every application edit is intact (or, where art9 read the edit itself, masked).
    let after = db.rows(&t);
    assert_eq!(after.len(), rows.len());
    for (id, body) in &after {
        let body = body.as_deref().unwrap_or("");
        match edits.get(id) {
            Some(edit) if body == edit => {}
            Some(edit) => assert!(
                !db.snapshot_read() && body == edit.replace("diabetes", "[HEALTH]"),
                "row {id}: the application's edit was lost"
            ),
            None => assert_eq!(body, expected[id], "row {id} is not masked as expected"),
        }
    }
    // The conflicts: edited rows, each once, none written by art9, and exactly the rows
    // art9 tried to write and did not.
    let unique_conflicts: BTreeSet<i64> = conflicts.iter().copied().collect();
    assert_eq!(
        unique_conflicts.len(),
        conflicts.len(),
        "a conflict listed twice"
    );
    for id in &conflicts {
        assert!(edits.contains_key(id), "row {id}: a conflict nobody caused");
        assert!(
            !written.contains(id),
            "row {id}: a conflict art9 wrote anyway"
        );
    }
    let tried = summary["summary"]["outcomes"]["mask"].as_u64().unwrap_or(0);
    let updated = summary["write"]["rows_updated"]
        .as_u64()
        .expect("rows_updated");
    assert_eq!(
        updated,
        written.len() as u64,
        "rows_updated != the rows art9 wrote"
    );
    assert_eq!(
        tried - updated,
        conflicts.len() as u64,
        "conflicts != rows art9 tried to write and did not"
    );
    assert_eq!(summary["write"]["conflicts"], conflicts.len());
    if db.snapshot_read() {
        let changed_under: BTreeSet<i64> = edits
            .keys()
            .copied()
            .filter(|id| {
                let i = (*id - 1) as usize;
                expected[id] != rows[i].1 && !written.contains(id)
            })
            .collect();
        assert_eq!(unique_conflicts, changed_under);
    }
    assert!(
        !conflicts.is_empty(),
        "no edit landed under art9 ({n} edits)"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed since they were read"), "{stderr}");
    assert!(!stderr.contains("diabetes"), "note text on stderr");
    eprintln!(
        "{} edits, {} rows written by art9, {} conflicts",
        n,
        written.len(),
        conflicts.len()
    );
    // A rerun masks what the conflicts left: the application's sensitive notes.
    let rerun = art9(&[
        "mask", &url, "--table", &t, "--field", "body", "--key", "id", "--update", "-q",
    ]);
    assert_eq!(rerun.code, 1, "{}", rerun.stderr);
    for (id, body) in db.rows(&t) {
        let body = body.unwrap_or_default();
        match edits.get(&id) {
            Some(edit) if edit.contains("diabetes") => {
                assert_eq!(body, edit.replace("diabetes", "[HEALTH]"), "row {id}")
            }
            Some(edit) => assert_eq!(&body, edit, "row {id}"),
            None => assert_eq!(body, expected[&id], "row {id}"),
        }
    }
    db.drop_table(&t);
    db.drop_table(&audit);
}

/// The server drops art9's writing connection in the middle of `mask --update`: each batch
/// is committed whole or not at all, and the error says how many rows were committed.
fn writer_killed(db: &mut dyn Db) {
    let t = unique("art9_wkill");
    let url = db.url();
    let rows = notes_times(5);
    db.load(&t, &rows);
    let mut child = Command::new(BIN)
        .args([
            "mask",
            &url,
            "--table",
            &t,
            "--field",
            "body",
            "--key",
            "id",
            "--update",
            "--batch-records",
            "64",
            "--threads",
            "1",
        ])
        .env_remove("ART9_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let masked = |db: &mut dyn Db| {
        db.rows(&t)
            .iter()
            .filter(|(_, b)| b.as_deref().is_some_and(|b| b.contains('[')))
            .count()
    };
    // Wait for the first committed batch, then catch the writing session in an UPDATE (a
    // MariaDB session shows its statement only while it runs): art9's writer alone, since
    // tests run side by side on one server.
    while masked(db) == 0 && start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let marker = format!("{t}{} SET ", db.quote_char());
    let mut killed = false;
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if db.kill_session(&marker) {
            killed = true;
            break;
        }
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(killed, "art9's writer was never seen: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let n: usize = stderr
        .split(" rows of ")
        .next()
        .and_then(|s| s.rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no count of committed rows: {stderr}"));
    let masked = masked(db);
    if stderr.contains("while committing") {
        // The connection went while COMMIT was on its way: that one batch may be either way.
        assert!(masked >= n && masked <= n + 64, "{masked} masked: {stderr}");
    } else {
        assert_eq!(
            masked, n,
            "rows masked in the table != rows reported committed: {stderr}"
        );
        assert!(
            stderr.contains("the failing batch was rolled back"),
            "{stderr}"
        );
    }
    db.drop_table(&t);
}

// ---- SQLite ---------------------------------------------------------------------------

struct Sqlite {
    _dir: tempfile::TempDir,
    path: String,
    conn: rusqlite::Connection,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir
            .path()
            .join("crm.db")
            .to_str()
            .expect("path")
            .to_string();
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.busy_timeout(Duration::from_secs(30)).expect("busy");
        Sqlite {
            _dir: dir,
            path,
            conn,
        }
    }
}

impl Db for Sqlite {
    fn url(&self) -> String {
        format!("sqlite:{}", self.path)
    }
    fn load(&mut self, table: &str, rows: &[(i64, String)]) {
        let tx = self.conn.transaction().expect("tx");
        tx.execute_batch(&format!(
            "CREATE TABLE {table} (id INTEGER PRIMARY KEY, customer TEXT NOT NULL DEFAULT 'c', body TEXT)"
        ))
        .expect("create");
        {
            let mut st = tx
                .prepare(&format!("INSERT INTO {table} (id, body) VALUES (?1, ?2)"))
                .expect("prep");
            for (id, b) in rows {
                st.execute(rusqlite::params![id, b]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    fn rows(&mut self, table: &str) -> Vec<(i64, Option<String>)> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT id, body FROM {table} ORDER BY id"))
            .expect("prep");
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        rows
    }
    fn exists(&mut self, table: &str) -> bool {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .unwrap_or(false)
    }
    fn drop_table(&mut self, table: &str) {
        let _ = self
            .conn
            .execute_batch(&format!("DROP TABLE IF EXISTS {table}"));
    }
    fn exec(&mut self, sql: &str) {
        self.conn.execute_batch(sql).expect("sqlite setup");
    }
    fn set_body(&mut self, table: &str, id: i64, body: &str) {
        self.conn
            .execute(
                &format!("UPDATE {table} SET body = ?1 WHERE id = ?2"),
                rusqlite::params![body, id],
            )
            .expect("app update");
    }
    fn add_audit(&mut self, table: &str, audit: &str) {
        self.exec(&format!(
            "CREATE TABLE {audit} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER, body TEXT);
             CREATE TRIGGER {audit}_t AFTER UPDATE ON {table} BEGIN
               INSERT INTO {audit} (id, body) VALUES (NEW.id, NEW.body);
             END;"
        ));
    }
    fn snapshot_read(&self) -> bool {
        false
    }
}

#[test]
fn sqlite_end_to_end_matches_jsonl() {
    end_to_end(&mut Sqlite::new(), &jsonl_findings());
}

#[test]
fn sqlite_concurrent_writer_loses_no_edit() {
    concurrent_writer(&mut Sqlite::new());
}

#[test]
fn sqlite_size_limits() {
    size_limits(&mut Sqlite::new());
}

#[test]
fn sqlite_subjects() {
    subjects(&mut Sqlite::new());
}

#[test]
fn sqlite_context_rules() {
    context_rules(&mut Sqlite::new());
}

#[test]
fn sqlite_kill_during_into_leaves_source_intact() {
    kill_during_into(&mut Sqlite::new());
}

#[test]
fn sqlite_bad_input_is_named_and_never_echoed() {
    let db = Sqlite::new();
    let t = unique("art9_bad");
    db.conn
        .execute_batch(&format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY, body);
             INSERT INTO {t} VALUES (1, 'Klant heeft diabetes'), (2, NULL), (3, 42), (4, x'00ff');"
        ))
        .expect("setup");
    let url = db.url();
    let o = scan_db(&url, &t);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("table {t}, key 3, column body: integer, not text")),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("key 4, column body: blob"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("1 NULL field values"), "{}", o.stderr);
    assert!(!o.stderr.contains("diabetes"), "{}", o.stderr);

    let o = scan_db(&url, "no_such_table");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("table no_such_table does not exist"),
        "{}",
        o.stderr
    );
    let o = art9(&["scan", &url, "--table", &t, "--field", "nope"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("has no column nope"), "{}", o.stderr);
    let o = art9(&[
        "scan",
        &url,
        "--table",
        "x; DROP TABLE y",
        "--field",
        "body",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("not a plain identifier"), "{}", o.stderr);
    let o = art9(&[
        "scan",
        "sqlite:/nonexistent/dir/crm.db",
        "--table",
        "t",
        "--field",
        "b",
    ]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);

    // --query, and the connection string from the environment.
    let out = Command::new(BIN)
        .args([
            "scan",
            "env:",
            "--query",
            &format!("SELECT id, body FROM {t} WHERE id = 1"),
            "--field",
            "body",
            "--key",
            "id",
            "--format",
            "jsonl",
        ])
        .env("ART9_DATABASE_URL", &url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"record\":\"1\""));
}

#[test]
fn sqlite_table_dropped_mid_scan_is_a_clear_error() {
    let mut db = Sqlite::new();
    let t = unique("art9_drop");
    let many: Vec<(i64, String)> = (0..20)
        .flat_map(|r| {
            notes()
                .into_iter()
                .map(move |(id, n)| (id + r * NOTES as i64, n))
        })
        .collect();
    db.load(&t, &many);
    let mut child = Command::new(BIN)
        .args([
            "scan",
            &db.url(),
            "--table",
            &t,
            "--field",
            "body",
            "--key",
            "id",
            "--format",
            "jsonl",
            "--threads",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Read a little output so the scan is under way, then drop the table.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buf = [0u8; 4096];
    std::io::Read::read(&mut stdout, &mut buf).expect("read");
    db.drop_table(&t);
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let out = child.wait_with_output().expect("wait");
    let _ = drain.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(1) {
        eprintln!("note: the scan finished before the table was dropped");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("table {t}")), "{stderr}");
    assert!(stderr.contains("no such table"), "{stderr}");
}

// ---- PostgreSQL -----------------------------------------------------------------------

struct Pg {
    url: String,
    client: postgres::Client,
}

impl Pg {
    fn new() -> Option<Pg> {
        let url = env_url("ART9_TEST_POSTGRES_URL")?;
        let client = postgres::Client::connect(&url, postgres::NoTls).expect("connect postgres");
        Some(Pg { url, client })
    }
}

impl Db for Pg {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn load(&mut self, table: &str, rows: &[(i64, String)]) {
        let mut tx = self.client.transaction().expect("tx");
        tx.batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, customer text NOT NULL DEFAULT 'c', \
             body text, at timestamptz DEFAULT now())"
        ))
        .expect("create");
        for chunk in rows.chunks(1000) {
            let ids: Vec<i64> = chunk.iter().map(|r| r.0).collect();
            let bodies: Vec<&str> = chunk.iter().map(|r| r.1.as_str()).collect();
            tx.execute(
                &format!(
                    "INSERT INTO {table} (id, body) SELECT * FROM unnest($1::int8[], $2::text[])"
                ),
                &[&ids, &bodies],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    fn rows(&mut self, table: &str) -> Vec<(i64, Option<String>)> {
        self.client
            .query(&format!("SELECT id, body FROM {table} ORDER BY id"), &[])
            .expect("select")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
    fn exists(&mut self, table: &str) -> bool {
        self.client
            .query_one("SELECT to_regclass($1)::text", &[&table])
            .map(|r| r.get::<_, Option<String>>(0).is_some())
            .unwrap_or(false)
    }
    fn drop_table(&mut self, table: &str) {
        let _ = self
            .client
            .batch_execute(&format!("DROP TABLE IF EXISTS {table}"));
    }
    fn exec(&mut self, sql: &str) {
        self.client.batch_execute(sql).expect("postgres setup");
    }
    fn set_body(&mut self, table: &str, id: i64, body: &str) {
        self.client
            .execute(
                &format!("UPDATE {table} SET body = $1 WHERE id = $2"),
                &[&body, &id],
            )
            .expect("app update");
    }
    fn add_audit(&mut self, table: &str, audit: &str) {
        self.exec(&format!(
            "CREATE TABLE {audit} (seq bigserial PRIMARY KEY, id bigint, body text);
             CREATE FUNCTION {audit}_f() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN INSERT INTO {audit} (id, body) VALUES (NEW.id, NEW.body); RETURN NEW; END
             $$;
             CREATE TRIGGER {audit}_t AFTER UPDATE ON {table}
               FOR EACH ROW EXECUTE FUNCTION {audit}_f();"
        ));
    }
    fn kill_session(&mut self, marker: &str) -> bool {
        self.client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND strpos(query, $1) > 0",
                &[&marker],
            )
            .map(|rows| rows.iter().any(|r| r.get::<_, bool>(0)))
            .unwrap_or(false)
    }
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_end_to_end_matches_jsonl() {
    let mut db = Pg::new().expect("postgres");
    end_to_end(&mut db, &jsonl_findings());
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_concurrent_writer_loses_no_edit() {
    concurrent_writer(&mut Pg::new().expect("postgres"));
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_writer_killed_mid_update() {
    writer_killed(&mut Pg::new().expect("postgres"));
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_size_limits() {
    let mut db = Pg::new().expect("postgres");
    size_limits(&mut db);
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_dropped_connection_mid_scan() {
    let mut db = Pg::new().expect("postgres");
    dropped_connection(&mut db);
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_subjects() {
    let mut db = Pg::new().expect("postgres");
    subjects(&mut db);
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_context_rules() {
    context_rules(&mut Pg::new().expect("postgres"));
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_kill_during_into_leaves_source_intact() {
    let mut db = Pg::new().expect("postgres");
    kill_during_into(&mut db);
}

/// Rows far longer than the client's read buffer and a TLS record (the reader finds row ends
/// in whatever pieces the socket gives), among many short ones; an integer key through
/// `--query` (its size is checked on the reader thread); `--max-field-bytes` on a long value.
#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_long_rows_among_short_ones() {
    let mut db = Pg::new().expect("postgres");
    let t = unique("art9_long");
    let url = db.url();
    db.exec(&format!("CREATE TABLE {t} (id int PRIMARY KEY, body text)"));
    db.exec(&format!(
        "INSERT INTO {t} SELECT i, CASE WHEN i % 50 = 0 THEN repeat('lange tekst ', 30000) \
         || 'Klant heeft diabetes.' WHEN i % 7 = 0 THEN NULL ELSE 'Zij is moslim, ref ' || i \
         END FROM generate_series(1, 500) AS i"
    ));
    let scan = |extra: &[&str]| {
        let mut args = vec![
            url.as_str(),
            "--field",
            "body",
            "--key",
            "id",
            "--format",
            "jsonl",
        ];
        args.extend(extra);
        let mut all = vec!["scan"];
        all.extend(args);
        art9(&all)
    };
    let by_key = |o: &Out| -> BTreeSet<(u64, String)> {
        findings(o)
            .into_iter()
            .map(|f| (f.0.parse().expect("numeric key"), f.2))
            .collect()
    };
    let mut want = BTreeSet::new();
    for i in 1..=500u64 {
        if i % 50 == 0 {
            want.insert((i, "health".to_string()));
        } else if i % 7 != 0 {
            want.insert((i, "religion".to_string()));
        }
    }
    let table = scan(&["--table", &t]);
    assert_eq!(table.code, 1, "{}", table.stderr);
    assert_eq!(by_key(&table), want);
    let nulls = (1..=500).filter(|i| i % 7 == 0 && i % 50 != 0).count();
    assert!(
        table.stderr.contains(&format!("{nulls} NULL field values")),
        "{}",
        table.stderr
    );
    let q = format!("SELECT id, body FROM {t}");
    let query = scan(&["--query", &q]);
    assert_eq!(query.code, 1, "{}", query.stderr);
    assert_eq!(by_key(&query), want);
    let limited = scan(&["--table", &t, "--max-field-bytes", "1000"]);
    assert_eq!(limited.code, 2, "{}", limited.stderr);
    assert!(
        limited.stderr.contains("field_too_large=10"),
        "{}",
        limited.stderr
    );
    want.retain(|f| f.0 % 50 != 0);
    assert_eq!(by_key(&limited), want);
    db.drop_table(&t);
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_connection_errors_are_one_line_without_password() {
    let o = art9(&[
        "scan",
        "postgres://art9:s3cretpw@127.0.0.1:1/test",
        "--table",
        "notes",
        "--field",
        "body",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("error connecting"), "{}", o.stderr);
    assert!(!o.stderr.contains("s3cretpw"), "{}", o.stderr);
    assert!(o.stderr.contains("art9:***@"), "{}", o.stderr);
    let db = Pg::new().expect("postgres");
    let bad = db
        .url
        .replacen("postgres://", "postgres://no_such_user_art9:s3cretpw@", 1)
        .replacen("postgres@", "", 1);
    let o = art9(&["scan", &bad, "--table", "notes", "--field", "body"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("no_such_user_art9"), "{}", o.stderr);
    assert!(!o.stderr.contains("s3cretpw"), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

// ---- MariaDB / MySQL ------------------------------------------------------------------

struct My {
    url: String,
    conn: mysql::Conn,
}

impl My {
    fn new() -> Option<My> {
        let url = env_url("ART9_TEST_MYSQL_URL")?;
        let opts = mysql::Opts::from_url(&url).expect("mysql url");
        let conn = mysql::Conn::new(opts).expect("connect mysql");
        Some(My { url, conn })
    }
}

impl Db for My {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn load(&mut self, table: &str, rows: &[(i64, String)]) {
        self.conn
            .query_drop(format!(
                "CREATE TABLE {table} (id bigint PRIMARY KEY, customer varchar(8) NOT NULL \
                 DEFAULT 'c', body text, at datetime DEFAULT CURRENT_TIMESTAMP) CHARSET utf8mb4"
            ))
            .expect("create");
        let mut tx = self
            .conn
            .start_transaction(mysql::TxOpts::default())
            .expect("tx");
        tx.exec_batch(
            format!("INSERT INTO {table} (id, body) VALUES (?, ?)"),
            rows.iter().map(|(id, b)| (id, b)),
        )
        .expect("insert");
        tx.commit().expect("commit");
    }
    fn rows(&mut self, table: &str) -> Vec<(i64, Option<String>)> {
        self.conn
            .query(format!("SELECT id, body FROM {table} ORDER BY id"))
            .expect("select")
    }
    fn exists(&mut self, table: &str) -> bool {
        let n: Option<i64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?",
                (table,),
            )
            .unwrap_or(None);
        n.unwrap_or(0) > 0
    }
    fn drop_table(&mut self, table: &str) {
        let _ = self
            .conn
            .query_drop(format!("DROP TABLE IF EXISTS {table}"));
    }
    fn exec(&mut self, sql: &str) {
        self.conn.query_drop(sql).expect("mysql setup");
    }
    fn set_body(&mut self, table: &str, id: i64, body: &str) {
        self.conn
            .exec_drop(
                format!("UPDATE {table} SET body = ? WHERE id = ?"),
                (body, id),
            )
            .expect("app update");
    }
    fn quote_char(&self) -> char {
        '`'
    }
    fn add_audit(&mut self, table: &str, audit: &str) {
        self.exec(&format!(
            "CREATE TABLE {audit} (seq bigint AUTO_INCREMENT PRIMARY KEY, id bigint, body text) \
             CHARSET utf8mb4"
        ));
        self.exec(&format!(
            "CREATE TRIGGER {audit}_t AFTER UPDATE ON {table} FOR EACH ROW \
             INSERT INTO {audit} (id, body) VALUES (NEW.id, NEW.body)"
        ));
    }
    fn kill_session(&mut self, marker: &str) -> bool {
        let ids: Vec<u64> = self
            .conn
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST \
                 WHERE ID <> CONNECTION_ID() AND INSTR(INFO, ?) > 0",
                (marker,),
            )
            .unwrap_or_default();
        ids.iter().any(|id| {
            self.conn
                .query_drop(format!("KILL CONNECTION {id}"))
                .is_ok()
        })
    }
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_end_to_end_matches_jsonl() {
    let mut db = My::new().expect("mysql");
    end_to_end(&mut db, &jsonl_findings());
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_concurrent_writer_loses_no_edit() {
    concurrent_writer(&mut My::new().expect("mysql"));
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_writer_killed_mid_update() {
    writer_killed(&mut My::new().expect("mysql"));
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_size_limits() {
    let mut db = My::new().expect("mysql");
    size_limits(&mut db);
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_dropped_connection_mid_scan() {
    let mut db = My::new().expect("mysql");
    dropped_connection(&mut db);
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_subjects() {
    let mut db = My::new().expect("mysql");
    subjects(&mut db);
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_context_rules() {
    context_rules(&mut My::new().expect("mysql"));
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_kill_during_into_leaves_source_intact() {
    let mut db = My::new().expect("mysql");
    kill_during_into(&mut db);
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_connection_errors_are_one_line_without_password() {
    let o = art9(&[
        "scan",
        "mysql://root:s3cretpw@127.0.0.1:1/test",
        "--table",
        "notes",
        "--field",
        "body",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("Connection refused"), "{}", o.stderr);
    assert!(!o.stderr.contains("s3cretpw"), "{}", o.stderr);
    let db = My::new().expect("mysql");
    let bad = db.url.replacen("root@", "root:s3cretpw@", 1);
    let o = art9(&["scan", &bad, "--table", "notes", "--field", "body"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("Access denied"), "{}", o.stderr);
    assert!(!o.stderr.contains("s3cretpw"), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

/// NULLs, non-text columns, integer keys and the forms a `--query` may take, read through
/// the binary COPY stream (and the portal fallback for a statement COPY cannot wrap).
#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_values_keys_and_queries() {
    let mut db = Pg::new().expect("postgres");
    let t = unique("art9_pgval");
    db.client
        .batch_execute(&format!(
            "CREATE TABLE {t} (id int4 PRIMARY KEY, body text, n int4, v varchar(20), c char(6));
             INSERT INTO {t} VALUES (1, 'Klant heeft diabetes', NULL, 'Zij is moslim', 'abc'),
               (2, NULL, 5, NULL, NULL), (3, 'Zij is moslim, €', 7, 'x', 'd');"
        ))
        .expect("setup");
    let url = db.url();
    let o = scan_db(&url, &t);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let keys: BTreeSet<String> = findings(&o).into_iter().map(|f| f.0).collect();
    assert_eq!(keys, ["1", "3"].map(String::from).into(), "{}", o.stdout);
    assert!(o.stderr.contains("1 NULL field values"), "{}", o.stderr);
    assert!(
        o.stderr.contains("3 records read, 3 scanned"),
        "{}",
        o.stderr
    );

    // Two fields, one of them not text: those rows are skipped and named, never echoed.
    let o = art9(&[
        "scan", &url, "--table", &t, "--field", "v", "--field", "n", "--key", "id",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("table {t}, key 3, column n: int4, not text")),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("skipped (not_text=2)"), "{}", o.stderr);
    assert!(!o.stderr.contains("moslim"), "{}", o.stderr);

    // --query: integer keys, a trailing semicolon, a trailing comment, char(n) and varchar.
    for q in [
        format!("SELECT id, body FROM {t} ORDER BY id;"),
        format!("SELECT id, body FROM {t} -- a comment"),
        format!("SELECT id::int8 AS id, c || v AS body FROM {t} WHERE v IS NOT NULL"),
    ] {
        let o = art9(&[
            "scan", &url, "--query", &q, "--field", "body", "--key", "id", "--format", "jsonl",
        ]);
        assert_eq!(o.code, 1, "{q}: {}", o.stderr);
        let keys: BTreeSet<String> = findings(&o).into_iter().map(|f| f.0).collect();
        assert!(keys.contains("1"), "{q}: {}", o.stdout);
    }
    let o = art9(&[
        "scan",
        &url,
        "--query",
        &format!("SELECT id::numeric AS id, body FROM {t}"),
        "--field",
        "body",
        "--key",
        "id",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("key column id has type numeric"),
        "{}",
        o.stderr
    );
    // SHOW prepares but cannot be wrapped in COPY: read through a portal instead.
    let o = art9(&[
        "scan",
        &url,
        "--query",
        "SHOW search_path",
        "--field",
        "search_path",
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("1 records read, 1 scanned"),
        "{}",
        o.stderr
    );
    db.drop_table(&t);
}

/// Run `art9 ARGS` with stderr on a terminal (util-linux `script` gives it a pty); `None`
/// when `script` is not installed.
/// [`art9_on_tty_once`], retried (up to 3 runs) until a bar was drawn at all: whether a very
/// short scan gets a frame out before it ends depends on scheduling on a loaded machine. The
/// bar's content is still asserted by the callers.
fn art9_on_tty(args: &[&str]) -> Option<String> {
    let mut last = art9_on_tty_once(args)?;
    for _ in 0..2 {
        if last.contains(" rows") {
            break;
        }
        last = art9_on_tty_once(args)?;
    }
    Some(last)
}

fn art9_on_tty_once(args: &[&str]) -> Option<String> {
    let quoted: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} > /dev/null", quoted.join(" ")),
            "/dev/null",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The progress bar counts the rows first (a total), not with --no-count, and is not drawn
/// at all when stderr is not a terminal.
#[test]
fn sqlite_progress_bar_counts_rows_on_a_terminal() {
    let mut db = Sqlite::new();
    let t = unique("art9_prog");
    db.load(&t, &notes()[..1500]);
    let url = db.url();
    let args = [
        "scan",
        url.as_str(),
        "--table",
        &t,
        "--field",
        "body",
        "--key",
        "id",
    ];
    let Some(tty) = art9_on_tty(&args) else {
        eprintln!("skipped: script (util-linux) not installed");
        return;
    };
    assert!(tty.contains("/1,500 rows"), "{tty}");
    assert!(!tty.contains("diabetes"), "{tty}");
    let mut no_count = args.to_vec();
    no_count.push("--no-count");
    let tty = art9_on_tty(&no_count).expect("script");
    assert!(tty.contains(" rows ("), "{tty}");
    assert!(!tty.contains("/1,500 rows"), "{tty}");
    let mut query = vec![
        "scan",
        url.as_str(),
        "--field",
        "body",
        "--key",
        "id",
        "--query",
    ];
    let q = format!("SELECT id, body FROM {t} WHERE id <= 700;");
    query.push(&q);
    let tty = art9_on_tty(&query).expect("script");
    assert!(tty.contains("/700 rows"), "{tty}");
    // Not a terminal: no bar.
    let o = art9(&args);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(!o.stderr.contains(" rows ("), "{}", o.stderr);
}

/// The scan's own session, as seen by the server: `--key` shows what a query returns, and
/// the note makes sure there is a finding to carry it.
fn session_key(url: &str, query: &str) -> Out {
    art9(&[
        "scan", url, "--query", query, "--field", "body", "--key", "k", "--format", "jsonl",
    ])
}

fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Scan query `q` (its key column says what the session sees) over `url` with `sslmode=mode`
/// (none: the default): exit code, the first finding's key, stderr.
fn with_sslmode(url: &str, mode: Option<&str>, q: &str) -> (i32, Option<String>, String) {
    let url = match mode {
        Some(m) => with_param(url, &format!("sslmode={m}")),
        None => url.to_string(),
    };
    let o = session_key(&url, q);
    (
        o.code,
        findings(&o).into_iter().next().map(|f| f.0),
        o.stderr,
    )
}

/// A failed run (exit 2) whose error is one line containing `needle`.
fn assert_one_line_error((code, _, stderr): (i32, Option<String>, String), needle: &str) {
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_tls_modes() {
    let mut db = Pg::new().expect("postgres");
    let server_tls = db
        .client
        .query_one("SHOW ssl", &[])
        .map(|r| r.get::<_, String>(0) == "on")
        .expect("SHOW ssl");
    let q = "SELECT ssl::text AS k, 'Klant heeft diabetes' AS body FROM pg_stat_ssl \
             WHERE pid = pg_backend_pid()";
    let tls_of = |mode: Option<&str>| with_sslmode(&db.url, mode, q);
    let on = Some("true".to_string());
    let off = Some("false".to_string());
    assert_eq!(tls_of(Some("disable")).1, off);
    if server_tls {
        assert_eq!(tls_of(None).1, on, "the default is prefer");
        assert_eq!(tls_of(Some("prefer")).1, on);
        assert_eq!(tls_of(Some("require")).1, on);
    } else {
        assert_eq!(tls_of(None).1, off, "prefer falls back to plain");
        assert_one_line_error(tls_of(Some("require")), "does not support TLS");
    }
    // A root certificate file that is not there: one line naming it, exit 2.
    assert_one_line_error(
        tls_of(Some("verify-full&sslrootcert=/nonexistent/root.crt")),
        "root certificate file /nonexistent/root.crt",
    );
    assert_one_line_error(
        tls_of(Some("require&sslrootcert=/nonexistent/root.crt")),
        "sslrootcert is only used with",
    );
    if !server_tls {
        return;
    }
    // The server's own certificate as the root: self-signed on this machine kind (Debian's
    // snakeoil certificate, issued to "localhost").
    let cert: String = db
        .client
        .query_one("SHOW ssl_cert_file", &[])
        .map(|r| r.get(0))
        .expect("SHOW ssl_cert_file");
    if std::fs::metadata(&cert).is_err() {
        eprintln!(
            "SKIPPED: verify-ca/verify-full: the server's certificate {cert} is not readable"
        );
        return;
    }
    let (_, tls, stderr) = tls_of(Some(&format!("verify-ca&sslrootcert={cert}")));
    assert_eq!(
        tls, on,
        "verify-ca with the server's certificate as root: {stderr}"
    );
    let (code, _, stderr) = tls_of(Some(&format!("verify-full&sslrootcert={cert}")));
    if code == 2 {
        // Connected to 127.0.0.1: only a certificate for that address would do.
        assert!(stderr.contains("not valid for name"), "{stderr}");
    }
    if cert.ends_with("ssl-cert-snakeoil.pem") {
        let local = db.url.replacen("127.0.0.1", "localhost", 1);
        let url = with_param(&local, &format!("sslmode=verify-full&sslrootcert={cert}"));
        let o = session_key(&url, q);
        let tls = findings(&o).into_iter().next().map(|f| f.0);
        assert_eq!(tls, on, "verify-full to localhost: {}", o.stderr);
    }
    let system_roots = "/etc/ssl/certs/ca-certificates.crt";
    if std::fs::metadata(system_roots).is_ok() {
        let (code, _, stderr) = tls_of(Some(&format!("verify-ca&sslrootcert={system_roots}")));
        assert_eq!(code, 2, "a certificate no public CA signed");
        assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    }
}

/// A server that declines TLS ('N' to the SSLRequest, as PostgreSQL with ssl=off), then
/// rejects the startup message with an error of its own: `require` must stop at the 'N',
/// `prefer` must go on in plain TCP (and so meet the error).
#[test]
fn postgres_tls_declined_by_the_server() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut req = [0u8; 8];
            if s.read_exact(&mut req).is_err() || req != [0, 0, 0, 8, 4, 210, 22, 47] {
                continue; // not an SSLRequest
            }
            let _ = s.write_all(b"N");
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).is_err() {
                continue; // require: the client gave up after the 'N'
            }
            let mut rest = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
            let _ = s.read_exact(&mut rest);
            let fields = b"SFATAL\0C28000\0Mplain startup reached the fake server\0\0";
            let mut msg = vec![b'E'];
            msg.extend(((fields.len() + 4) as u32).to_be_bytes());
            msg.extend(fields);
            let _ = s.write_all(&msg);
        }
    });
    let url = format!("postgres://art9@127.0.0.1:{port}/db");
    let o = art9(&[
        "scan",
        &with_param(&url, "sslmode=require"),
        "--table",
        "notes",
        "--field",
        "body",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("server does not support TLS"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    let o = art9(&["scan", &url, "--table", "notes", "--field", "body"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("plain startup reached the fake server"),
        "{}",
        o.stderr
    );
    server.join().expect("fake server");
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_tls_modes() {
    let mut db = My::new().expect("mysql");
    let have: Option<(String, String)> = db
        .conn
        .query_first("SHOW VARIABLES LIKE 'have_ssl'")
        .expect("have_ssl");
    let server_tls = have.is_some_and(|(_, v)| v == "YES");
    let q = "SELECT CONCAT('cipher:', VARIABLE_VALUE) AS k, 'Klant heeft diabetes' AS body \
             FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'";
    let cipher = |mode: Option<&str>| with_sslmode(&db.url, mode, q);
    let plain = Some("cipher:".to_string());
    assert_eq!(cipher(Some("disable")).1, plain);
    if server_tls {
        for mode in [None, Some("prefer"), Some("require")] {
            let (_, k, stderr) = cipher(mode);
            assert!(
                k.is_some_and(|k| k.len() > "cipher:".len()),
                "{mode:?}: {stderr}"
            );
        }
    } else {
        assert_eq!(
            cipher(None).1,
            plain,
            "the default prefer falls back to plain"
        );
        assert_eq!(cipher(Some("prefer")).1, plain);
        assert_one_line_error(
            cipher(Some("require")),
            "sslmode=require, but the server does not offer TLS",
        );
    }
    let (code, _, stderr) = cipher(Some("verify-full"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("sslmode=verify-full is not supported"),
        "{stderr}"
    );
}

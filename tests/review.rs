//! The review workflow end to end (issue 21, items 5 and 6): a reviewed false positive is
//! silent on the next run and a stale baseline entry is listed; a second `--state` run over
//! an unchanged source reports nothing, and after 10 notes change it reports exactly those
//! — per source kind: JSON Lines, CSV, SQLite; PostgreSQL and MariaDB when
//! `ART9_TEST_POSTGRES_URL` / `ART9_TEST_MYSQL_URL` are set (`eval "$(bash ci/db-setup.sh)"`,
//! `-- --include-ignored`). No output holds note text (canary words).

#![cfg(all(
    feature = "cli",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql"
))]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mysql::prelude::Queryable;

const BIN: &str = env!("CARGO_BIN_EXE_art9");
const KEY: &str = "review-test-key-0123456789";
/// In every note; never in any output.
const CANARY: &str = "Quorblax";
const NOTES: i64 = 300;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn art9_env(args: &[&str], key: Option<&str>) -> Out {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("ART9_DATABASE_URL")
        .env_remove("ART9_HASH_KEY")
        .stdin(Stdio::null());
    if let Some(k) = key {
        c.env("ART9_HASH_KEY", k);
    }
    let out = c.output().expect("run art9");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn art9(args: &[&str]) -> Out {
    art9_env(args, Some(KEY))
}

/// Note `i`: every note has a health finding and the canary word.
fn note(i: i64) -> String {
    format!("Klant {i} heeft diabetes, zegt {CANARY}. Bel volgende week.")
}

/// A changed note: a finding of another category.
fn changed(i: i64) -> String {
    format!("Klant {i} is moslim volgens {CANARY} en vraagt om halal eten.")
}

/// The record keys of the findings on stdout (JSON Lines).
fn records(o: &Out) -> BTreeSet<String> {
    o.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("finding line");
            v["record"].as_str().expect("record").to_string()
        })
        .collect()
}

/// No output or written file holds note text.
fn no_text(o: &Out, files: &[&Path]) {
    for (what, s) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        for word in [CANARY, "diabetes", "moslim", "halal"] {
            assert!(!s.contains(word), "{what} holds {word:?}: {s}");
        }
    }
    for f in files {
        if let Ok(text) = std::fs::read_to_string(f) {
            for word in [CANARY, "diabetes", "moslim", "halal"] {
                assert!(!text.contains(word), "{} holds {word:?}", f.display());
            }
        }
    }
}

/// A source of notes the test can change.
trait Source {
    /// The input and the flags that read it (`--field`, `--key`, ...).
    fn args(&self) -> Vec<String>;
    /// Replace the text of these notes.
    fn change(&mut self, ids: &[i64]);
    /// Delete one note.
    fn delete(&mut self, id: i64);
    /// Key of note `id` as findings name it.
    fn key(&self, id: i64) -> String {
        id.to_string()
    }
}

fn scan(src: &dyn Source, extra: &[&str]) -> Out {
    let mut args: Vec<String> = vec!["scan".into()];
    args.extend(src.args());
    args.extend(["--format", "jsonl"].iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    art9(&refs)
}

/// The incremental acceptance for one source.
fn incremental(src: &mut dyn Source) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("nightly.state");
    let summary = dir.path().join("run.json");
    let st = state.to_str().expect("path");
    let sum = summary.to_str().expect("path");

    let first = scan(src, &["--state", st]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(records(&first).len(), NOTES as usize, "{}", first.stderr);
    assert!(
        first.stderr.contains("no state file yet"),
        "{}",
        first.stderr
    );
    no_text(&first, &[&state]);

    let second = scan(src, &["--state", st, "--summary-out", sum]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, "", "an unchanged source reports nothing");
    assert!(
        second
            .stderr
            .contains(&format!("{NOTES} filtered (unchanged since the last run")),
        "{}",
        second.stderr
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(run["summary"]["records_scanned"], 0);
    assert_eq!(run["summary"]["filtered"]["unchanged"], NOTES);
    assert_eq!(run["runs"][0]["state"]["unchanged"], NOTES);
    no_text(&second, &[&state, &summary]);

    let ids: Vec<i64> = (1..=10).map(|i| i * 17).collect();
    src.change(&ids);
    let third = scan(src, &["--state", st]);
    assert_eq!(third.code, 1, "{}", third.stderr);
    let want: BTreeSet<String> = ids.iter().map(|&i| src.key(i)).collect();
    assert_eq!(records(&third), want, "exactly the changed notes");
    assert!(
        third.stderr.contains("0 new, 10 changed"),
        "{}",
        third.stderr
    );
    no_text(&third, &[&state]);

    src.delete(5);
    let fourth = scan(src, &["--state", st]);
    assert_eq!(fourth.code, 0, "{}", fourth.stderr);
    assert_eq!(fourth.stdout, "");
    assert!(
        fourth.stderr.contains("1 gone since the last run"),
        "{}",
        fourth.stderr
    );

    // A policy change makes the next run scan everything again.
    let fifth = scan(src, &["--state", st, "--policy", "report"]);
    assert!(
        fifth.stderr.contains("changed since the state was written"),
        "{}",
        fifth.stderr
    );
    assert_eq!(records(&fifth).len(), NOTES as usize - 1);
}

// ---- files ----------------------------------------------------------------------------

struct JsonlFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
    notes: Vec<(i64, String)>,
    csv: bool,
}

impl JsonlFile {
    fn new(csv: bool) -> JsonlFile {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir
            .path()
            .join(if csv { "notes.csv" } else { "notes.jsonl" });
        let mut f = JsonlFile {
            _dir: dir,
            path,
            notes: (1..=NOTES).map(|i| (i, note(i))).collect(),
            csv,
        };
        f.write();
        f
    }

    fn write(&mut self) {
        let mut text = String::new();
        if self.csv {
            text.push_str("id,note\n");
        }
        for (i, n) in &self.notes {
            if self.csv {
                text.push_str(&format!("N-{i},\"{n}\"\n"));
            } else {
                text.push_str(&serde_json::json!({"id": format!("N-{i}"), "note": n}).to_string());
                text.push('\n');
            }
        }
        std::fs::write(&self.path, text).expect("write notes");
    }
}

impl Source for JsonlFile {
    fn args(&self) -> Vec<String> {
        let p = self.path.to_str().expect("path").to_string();
        vec![
            p,
            "--field".into(),
            "note".into(),
            "--key".into(),
            "id".into(),
        ]
    }
    fn change(&mut self, ids: &[i64]) {
        for (i, n) in &mut self.notes {
            if ids.contains(i) {
                *n = changed(*i);
            }
        }
        self.write();
    }
    fn delete(&mut self, id: i64) {
        self.notes.retain(|(i, _)| *i != id);
        self.write();
    }
    fn key(&self, id: i64) -> String {
        format!("N-{id}")
    }
}

#[test]
fn jsonl_incremental_state() {
    incremental(&mut JsonlFile::new(false));
}

#[test]
fn csv_incremental_state() {
    incremental(&mut JsonlFile::new(true));
}

// ---- databases ------------------------------------------------------------------------

/// A table name no other test (or run) uses.
fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{t}", std::process::id())
}

fn env_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: start the servers with `eval \"$(bash ci/db-setup.sh)\"` \
             (this test is ignored by a plain `cargo test`)"
        ),
    }
}

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
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            .expect("create");
        for i in 1..=NOTES {
            conn.execute(
                "INSERT INTO notes (id, body) VALUES (?1, ?2)",
                rusqlite::params![i, note(i)],
            )
            .expect("insert");
        }
        Sqlite {
            _dir: dir,
            path,
            conn,
        }
    }
}

fn db_args(url: &str, table: &str) -> Vec<String> {
    [url, "--table", table, "--field", "body", "--key", "id"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Source for Sqlite {
    fn args(&self) -> Vec<String> {
        db_args(&format!("sqlite:{}", self.path), "notes")
    }
    fn change(&mut self, ids: &[i64]) {
        for &i in ids {
            self.conn
                .execute(
                    "UPDATE notes SET body = ?1 WHERE id = ?2",
                    rusqlite::params![changed(i), i],
                )
                .expect("update");
        }
    }
    fn delete(&mut self, id: i64) {
        self.conn
            .execute("DELETE FROM notes WHERE id = ?1", [id])
            .expect("delete");
    }
}

#[test]
fn sqlite_incremental_state() {
    incremental(&mut Sqlite::new());
}

struct Pg {
    url: String,
    table: String,
    client: postgres::Client,
}

impl Pg {
    fn new() -> Pg {
        let url = env_url("ART9_TEST_POSTGRES_URL");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let table = unique("review_pg");
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id bigint PRIMARY KEY, body text)"
            ))
            .expect("create");
        let ids: Vec<i64> = (1..=NOTES).collect();
        let bodies: Vec<String> = ids.iter().map(|&i| note(i)).collect();
        client
            .execute(
                &format!("INSERT INTO {table} SELECT * FROM unnest($1::int8[], $2::text[])"),
                &[&ids, &bodies],
            )
            .expect("insert");
        Pg { url, table, client }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", self.table));
    }
}

impl Source for Pg {
    fn args(&self) -> Vec<String> {
        db_args(&self.url, &self.table)
    }
    fn change(&mut self, ids: &[i64]) {
        for &i in ids {
            self.client
                .execute(
                    &format!("UPDATE {} SET body = $1 WHERE id = $2", self.table),
                    &[&changed(i), &i],
                )
                .expect("update");
        }
    }
    fn delete(&mut self, id: i64) {
        self.client
            .execute(&format!("DELETE FROM {} WHERE id = $1", self.table), &[&id])
            .expect("delete");
    }
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_incremental_state() {
    incremental(&mut Pg::new());
}

struct My {
    url: String,
    table: String,
    conn: mysql::Conn,
}

impl My {
    fn new() -> My {
        let url = env_url("ART9_TEST_MYSQL_URL");
        let mut conn =
            mysql::Conn::new(mysql::Opts::from_url(&url).expect("url")).expect("connect");
        let table = unique("review_my");
        conn.query_drop(format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, body text) CHARSET utf8mb4"
        ))
        .expect("create");
        conn.exec_batch(
            format!("INSERT INTO {table} (id, body) VALUES (?, ?)"),
            (1..=NOTES).map(|i| (i, note(i))),
        )
        .expect("insert");
        My { url, table, conn }
    }
}

impl Drop for My {
    fn drop(&mut self) {
        let _ = self
            .conn
            .query_drop(format!("DROP TABLE IF EXISTS {}", self.table));
    }
}

impl Source for My {
    fn args(&self) -> Vec<String> {
        db_args(&self.url, &self.table)
    }
    fn change(&mut self, ids: &[i64]) {
        for &i in ids {
            self.conn
                .exec_drop(
                    format!("UPDATE {} SET body = ? WHERE id = ?", self.table),
                    (changed(i), i),
                )
                .expect("update");
        }
    }
    fn delete(&mut self, id: i64) {
        self.conn
            .exec_drop(format!("DELETE FROM {} WHERE id = ?", self.table), (id,))
            .expect("delete");
    }
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mariadb_incremental_state() {
    incremental(&mut My::new());
}

// ---- the baseline ---------------------------------------------------------------------

/// The baseline acceptance for one source: review a finding as a false positive, the next
/// run is silent about it (scan and mask); edit the note, the entry is listed as stale.
fn baseline(src: &mut dyn Source) {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("baseline.jsonl");
    let reviewed = dir.path().join("reviewed.jsonl");
    let stale = dir.path().join("stale.jsonl");
    let summary = dir.path().join("run.json");
    let (b, r, s, sum) = (
        base.to_str().expect("p"),
        reviewed.to_str().expect("p"),
        stale.to_str().expect("p"),
        summary.to_str().expect("p"),
    );

    let all = scan(src, &["--fingerprints"]);
    assert_eq!(all.code, 1, "{}", all.stderr);
    no_text(&all, &[]);
    // The reviewer keeps the findings of notes 3 and 4 (one line each).
    let picked: Vec<&str> = all
        .stdout
        .lines()
        .filter(|l| {
            let k3 = format!("\"record\":\"{}\"", src.key(3));
            let k4 = format!("\"record\":\"{}\"", src.key(4));
            l.contains(&k3) || l.contains(&k4)
        })
        .collect();
    assert_eq!(picked.len(), 2);
    std::fs::write(&reviewed, picked.join("\n") + "\n").expect("write");
    let add = |decision: &str| {
        art9(&[
            "baseline",
            "add",
            r,
            "--baseline",
            b,
            "--decision",
            decision,
            "--reason",
            "a product name",
            "--reviewer",
            "dpo",
            "--date",
            "2026-12-07",
        ])
    };
    let added = add("false_positive");
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(added.stderr.contains("2 added"), "{}", added.stderr);
    let before = std::fs::read(&base).expect("baseline");
    let again = add("false_positive");
    assert!(
        again.stderr.contains("0 added, 0 updated"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read(&base).expect("baseline"),
        before,
        "idempotent"
    );

    let quiet = scan(src, &["--baseline", b, "--summary-out", sum]);
    let got = records(&quiet);
    assert!(!got.contains(&src.key(3)) && !got.contains(&src.key(4)));
    assert_eq!(got.len(), NOTES as usize - 2);
    assert!(quiet
        .stderr
        .contains("2 findings silenced by the baseline (false_positive=2)"));
    assert!(
        quiet.stderr.contains("2 matched, 0 stale"),
        "{}",
        quiet.stderr
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(run["summary"]["silenced"]["false_positive"], 2);
    assert_eq!(run["runs"][0]["baseline"]["matched"], 2);
    no_text(&quiet, &[&base, &summary]);

    // Only one subject's records... here: the record of note 3 edited, note 4 not.
    src.change(&[3]);
    let edited = scan(src, &["--baseline", b, "--stale-out", s]);
    assert!(
        records(&edited).contains(&src.key(3)),
        "the edited note is new"
    );
    assert!(!records(&edited).contains(&src.key(4)));
    assert!(
        edited.stderr.contains("1 matched, 1 stale"),
        "{}",
        edited.stderr
    );
    assert!(
        edited.stderr.contains(&format!(
            "stale baseline entry {}",
            first_fingerprint(&picked, &src.key(3))
        )),
        "{}",
        edited.stderr
    );
    let stale_text = std::fs::read_to_string(&stale).expect("stale");
    assert_eq!(stale_text.lines().count(), 1);
    no_text(&edited, &[&stale]);

    let pruned = art9(&["baseline", "prune", "--baseline", b, "--stale", s]);
    assert!(
        pruned.stderr.contains("1 entries removed; 1 entries"),
        "{}",
        pruned.stderr
    );
}

/// The fingerprint of the first picked line of record `key`.
fn first_fingerprint(lines: &[&str], key: &str) -> String {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["record"] == key)
        .and_then(|v| v["fingerprint"].as_str().map(str::to_string))
        .expect("fingerprint")
}

#[test]
fn jsonl_baseline() {
    baseline(&mut JsonlFile::new(false));
}

#[test]
fn sqlite_baseline() {
    baseline(&mut Sqlite::new());
}

#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_baseline() {
    baseline(&mut Pg::new());
}

#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mariadb_baseline() {
    baseline(&mut My::new());
}

#[test]
fn mask_leaves_false_positives_and_masks_accepted_findings() {
    let src = JsonlFile::new(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let b = dir.path().join("b.jsonl");
    let all = scan(&src, &["--fingerprints"]);
    let lines: Vec<&str> = all.stdout.lines().collect();
    let fp = |i: usize| first_fingerprint(&lines, &format!("N-{i}"));
    let entry = |i: usize, decision: &str| {
        format!(
            r#"{{"fingerprint":"{}","decision":"{decision}","reason":"r","reviewer":"dpo","date":"2026-12-07","record":"N-{i}"}}"#,
            fp(i)
        )
    };
    std::fs::write(
        &b,
        format!("{}\n{}\n", entry(1, "false_positive"), entry(2, "accepted")),
    )
    .expect("write");
    let out = dir.path().join("masked.jsonl");
    let mut args = vec!["mask".to_string()];
    args.extend(src.args());
    args.extend(
        [
            "--baseline",
            b.to_str().expect("p"),
            "-o",
            out.to_str().expect("p"),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let m = art9(&refs);
    assert_eq!(m.code, 1, "{}", m.stderr);
    let masked = std::fs::read_to_string(&out).expect("masked");
    let line = |i: usize| masked.lines().nth(i - 1).expect("line").to_string();
    assert!(
        line(1).contains("diabetes"),
        "a false positive is not masked"
    );
    assert!(
        line(2).contains("[HEALTH]"),
        "an accepted finding is still masked"
    );
    assert!(line(3).contains("[HEALTH]"));
    assert!(m.stderr.contains("false_positive=1"), "{}", m.stderr);
    assert!(!m.stderr.contains("accepted="), "{}", m.stderr);
    // scan: both silenced.
    let s = scan(&src, &["--baseline", b.to_str().expect("p")]);
    assert!(
        s.stderr.contains("(accepted=1, false_positive=1)"),
        "{}",
        s.stderr
    );
}

#[test]
fn no_key_bad_lines_and_restricted_runs() {
    let src = JsonlFile::new(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let b = dir.path().join("b.jsonl");
    let mut args = vec!["scan".to_string()];
    args.extend(src.args());
    args.push("--fingerprints".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let no_key = art9_env(&refs, None);
    assert_eq!(no_key.code, 2);
    assert!(
        no_key
            .stderr
            .contains("--fingerprints needs a stable key: set ART9_HASH_KEY"),
        "{}",
        no_key.stderr
    );
    let short = art9_env(&refs, Some("short"));
    assert!(
        short.stderr.contains("at least 16 bytes"),
        "{}",
        short.stderr
    );

    std::fs::write(
        &b,
        format!(
            "\n{{\"fingerprint\":\"{}\",\"decision\":\"nope\"}}\n",
            "ab".repeat(16)
        ),
    )
    .expect("write");
    let bad = scan(&src, &["--baseline", b.to_str().expect("p")]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains(&format!("{}:2: ", b.display())),
        "{}",
        bad.stderr
    );

    // A finding of a record the run did not scan is not stale (here: --subject-id leaves
    // every record out).
    std::fs::write(
        &b,
        format!(
            "{{\"fingerprint\":\"{}\",\"decision\":\"accepted\",\"reason\":\"r\",\"reviewer\":\"x\",\"date\":\"2026-12-07\",\"record\":\"N-1\"}}\n",
            "ab".repeat(16)
        ),
    )
    .expect("write");
    let restricted = scan(
        &src,
        &[
            "--baseline",
            b.to_str().expect("p"),
            "--subject",
            "id",
            "--subject-id",
            "N-2",
        ],
    );
    assert!(
        restricted
            .stderr
            .contains("0 matched, 0 stale, 1 not checked"),
        "{}",
        restricted.stderr
    );
    let full = scan(&src, &["--baseline", b.to_str().expect("p")]);
    assert!(
        full.stderr.contains("0 matched, 1 stale"),
        "{}",
        full.stderr
    );

    // --state needs --key.
    let path = src.path.to_str().expect("p");
    let st = dir.path().join("s");
    let no_k = art9(&[
        "scan",
        path,
        "--field",
        "note",
        "--state",
        st.to_str().expect("p"),
    ]);
    assert_eq!(no_k.code, 2);
    assert!(no_k.stderr.contains("--key"), "{}", no_k.stderr);
}

#[test]
fn interrupted_or_failed_runs_keep_the_old_state() {
    let src = JsonlFile::new(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let st = dir.path().join("s.state");
    let s = st.to_str().expect("p");
    assert_eq!(scan(&src, &["--state", s]).code, 1);
    let before = std::fs::read(&st).expect("state");
    // A run that fails (a --field missing from every record) leaves the state alone.
    let path = src.path.to_str().expect("p");
    let bad = art9(&["scan", path, "--field", "nope", "--key", "id", "--state", s]);
    assert_eq!(bad.code, 2);
    assert_eq!(std::fs::read(&st).expect("state"), before);
    // A corrupt state is one error naming the line, never its text.
    let mut corrupt = before.clone();
    corrupt.extend_from_slice(format!("{CANARY}\n").as_bytes());
    std::fs::write(&st, &corrupt).expect("write");
    let o = scan(&src, &["--state", s]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains(&format!("{}:{}: ", st.display(), NOTES + 2)),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains(CANARY));
}

/// The nightly script of the README (examples/nightly) works as documented: findings the
/// first night, nothing new the second, exit codes 1 and 0.
#[test]
fn nightly_example_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let run = || {
        Command::new("sh")
            .arg(root.join("examples/nightly/art9-nightly.sh"))
            .env("ART9", BIN)
            .env("ART9_HASH_KEY", KEY)
            .env("ART9_SOURCE", root.join("examples/crm-notes.jsonl"))
            .env("ART9_SCAN_ARGS", "--field note --key id")
            .env("ART9_DIR", dir.path())
            .output()
            .expect("run sh")
    };
    let first = run();
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    assert!(String::from_utf8_lossy(&first.stdout).contains("new findings in"));
    let second = run();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert!(String::from_utf8_lossy(&second.stdout).contains("nothing new"));
    assert!(dir.path().join("nightly.state").exists());
}

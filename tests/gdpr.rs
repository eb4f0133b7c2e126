//! The GDPR workflow commands end to end (issue 21 items 3, 4, 7): `art9 subject --access`,
//! `art9 erase --plan/--apply` and `art9 audit verify`, on JSON Lines and CSV files, SQLite
//! always, PostgreSQL and MariaDB when `ART9_TEST_POSTGRES_URL` / `ART9_TEST_MYSQL_URL` are
//! set (`eval "$(bash ci/db-setup.sh)"`; those tests are `#[ignore]`d otherwise).
//!
//! Each data set has one subject (C1) with a health note (erased by masking), a religion
//! note (nulled), a criminal note (deleted) and a clean note, and other subjects with the
//! same kinds of notes. Every note holds a canary word: no output but the access extract
//! may show it.

#![cfg(all(feature = "cli", feature = "sqlite"))]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{art9, s, Out};

/// In every note; never in an output other than the access extract.
const CANARY: &str = "zebracanary";

const POLICY: &str = "\
name: gdpr-test
default: {action: mask}
erasure:
  default: mask
  categories:
    religion: null
    criminal: delete
purposes:
  default: {purpose: Customer service, basis: 'Art. 9(2)(a) explicit consent'}
  health:
    purpose: Delivery adjustments
    basis: 'Art. 9(2)(a) explicit consent'
    recipients: [Carrier]
    storage: 24 months after the last order
";

/// (id, customer, body, other): C1 has rows 1–4; the other subjects have the same kinds.
fn rows() -> Vec<(i64, &'static str, String, String)> {
    let kinds = [
        "Klant heeft diabetes, bezorgen aan huis.",
        "Hij is moslim en vraagt om halal.",
        "Klant is veroordeeld voor diefstal.",
        "Levering dinsdag, geen bijzonderheden.",
    ];
    let mut out = Vec::new();
    let mut id = 1;
    for c in ["C1", "C2", "C3"] {
        for k in kinds {
            out.push((
                id,
                c,
                format!("{k} {CANARY}{id}"),
                format!("ref {CANARY} {id}"),
            ));
            id += 1;
        }
    }
    // A record of C1 whose second field has the finding.
    out.push((
        id,
        "C1",
        format!("Terugbellen {CANARY}"),
        "Mevr. heeft diabetes".to_string(),
    ));
    out
}

/// The sensitive words of the notes: never in an output but the access extract.
const SENSITIVE: [&str; 4] = ["diabetes", "moslim", "diefstal", "veroordeeld"];

fn assert_no_text(what: &str, text: &str) {
    for w in SENSITIVE.iter().chain(&[CANARY]) {
        assert!(
            !text.to_ascii_lowercase().contains(w),
            "{what} shows note text ({w}):\n{text}"
        );
    }
}

fn ok(o: &Out, code: i32, what: &str) {
    assert_eq!(
        o.code, code,
        "{what}: stdout {}\nstderr {}",
        o.stdout, o.stderr
    );
    assert_no_text(&format!("{what} stdout"), &o.stdout);
    assert_no_text(&format!("{what} stderr"), &o.stderr);
}

/// The keys of the subject's records with findings, by `art9 scan --subject-id`.
fn scanned_keys(source: &[&str], id: &str) -> BTreeSet<String> {
    let mut args = vec!["scan"];
    args.extend_from_slice(source);
    args.extend_from_slice(&[
        "--subject",
        "customer",
        "--subject-id",
        id,
        "--format",
        "jsonl",
        "--policy",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("p.yaml");
    std::fs::write(&p, POLICY).expect("policy");
    args.push(s(&p));
    let o = art9(&args, None);
    assert!(o.code <= 1, "{}", o.stderr);
    o.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("finding");
            v["record"].as_str().expect("record").to_string()
        })
        .collect()
}

/// The whole workflow on one source: access extract, plan, apply, rescan, audit.
/// `dump` lists every row (or line) of the source as text, in order.
/// `written`: where the erased data is read back from (`-o OUT`), when not the source.
fn workflow(
    source: &[&str],
    written: Option<&[&str]>,
    dump: &mut dyn FnMut() -> Vec<String>,
    apply_extra: &[&str],
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let audit = dir.path().join("audit.jsonl");
    // Named after the subject, as a privacy officer would: the audit log must not show it.
    let out = dir.path().join("request-C1-2026");
    let with = |cmd: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![cmd.into()];
        v.extend(source.iter().map(|x| x.to_string()));
        for x in [
            "--subject",
            "customer",
            "--id",
            "C1",
            "--policy",
            s(&policy),
            "--audit",
            s(&audit),
        ] {
            v.push(x.into());
        }
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        art9(&a, None)
    };
    let expected = scanned_keys(source, "C1");
    assert_eq!(
        expected,
        ["1", "2", "3", "13"].map(String::from).into(),
        "the data set's own check"
    );
    let before = dump();

    // The access extract: exactly the subject's records with findings, with their text.
    let o = run(with("subject", &["--access", "-o", s(&out)]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("WARNING"), "{}", o.stderr);
    assert_no_text("subject stdout", &o.stdout);
    let x: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("access.json")).expect("json"))
            .expect("access json");
    assert_eq!(x["schema"], "art9-access/1");
    assert_eq!(x["contains_text"], true);
    let keys: BTreeSet<String> = x["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["key"].as_str().expect("key").to_string())
        .collect();
    assert_eq!(keys, expected);
    let text = x.to_string();
    assert!(
        text.contains("diabetes") && text.contains(CANARY),
        "the text is there"
    );
    for other in ["C2", "C3"] {
        assert!(
            !text.contains(&format!("\"{other}\"")),
            "{other} in the extract"
        );
    }
    let health = x["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["category"] == "health")
        .expect("health");
    assert_eq!(health["purpose"]["basis"], "Art. 9(2)(a) explicit consent");
    assert_eq!(x["art15"]["recipients"][0], "Carrier");
    #[cfg(feature = "report")]
    {
        let html = std::fs::read_to_string(out.join("access.html")).expect("html");
        assert!(html.contains("id=\"notice\"") && html.contains("<mark"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&out.join("access.json")), 0o600);
    }
    assert_eq!(dump(), before, "subject --access changed the source");

    // The plan: per record and field the policy's action; nothing written.
    let o = run(with("erase", &["--plan"]));
    ok(&o, 1, "erase --plan");
    let plan: Vec<(String, String, String)> = o
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("plan line");
            (
                v["key"].as_str().expect("key").into(),
                v["field"].as_str().expect("field").into(),
                v["action"].as_str().expect("action").into(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("1", "body", "mask"),
        ("2", "body", "null"),
        ("3", "body", "delete"),
        ("13", "other", "mask"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(plan, want);
    assert_eq!(dump(), before, "erase --plan wrote");

    // Apply: 0 findings left for C1, every other subject's rows byte-identical.
    let o = run(with("erase", &[&["--apply"], apply_extra].concat()));
    ok(&o, 0, "erase --apply");
    assert!(
        scanned_keys(written.unwrap_or(source), "C1").is_empty(),
        "findings left after erase"
    );
    let after = dump();
    let of = |rows: &[String], c: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.contains(&format!("|{c}|")) || r.contains(&format!("\"{c}\"")))
            .cloned()
            .collect()
    };
    for c in ["C2", "C3"] {
        assert_eq!(of(&after, c), of(&before, c), "subject {c} changed");
        assert!(!of(&after, c).is_empty());
    }
    let c1 = of(&after, "C1");
    assert_eq!(c1.len(), 4, "one C1 record deleted: {c1:?}");
    assert!(c1.iter().any(|r| r.contains("[HEALTH]")), "{c1:?}");
    assert!(c1.iter().all(|r| !r.contains("diefstal")), "{c1:?}");

    // The audit log: one line per run, no text, chained; breaks are found.
    let log = std::fs::read_to_string(&audit).expect("audit log");
    assert_no_text("audit log", &log);
    // The source's own path is logged; a random temp dir name may hold "C1" (".tmpjjOC1q").
    let without_sources = source.iter().fold(log.clone(), |l, a| l.replace(a, ""));
    assert!(
        !without_sources.contains("C1"),
        "the subject id in the audit log: {log}"
    );
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3);
    let last: serde_json::Value = serde_json::from_str(lines[2]).expect("audit line");
    assert_eq!(last["command"], "erase");
    let touched: BTreeSet<String> = last["records_touched"]
        .as_array()
        .expect("touched")
        .iter()
        .map(|t| t["key"].as_str().expect("key").to_string())
        .collect();
    assert_eq!(touched, expected);
    let o = art9(&["audit", "verify", s(&audit)], None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    audit_breaks(&audit, &lines);
}

/// `audit verify` fails, naming the line, on a changed, a removed and a reordered line.
fn audit_breaks(path: &Path, lines: &[&str]) {
    let check = |ls: Vec<String>, line: usize, what: &str| {
        let p = path.with_extension("broken");
        std::fs::write(&p, ls.iter().map(|l| format!("{l}\n")).collect::<String>()).expect("write");
        let o = art9(&["audit", "verify", s(&p)], None);
        assert_eq!(o.code, 1, "{what}: {}", o.stdout);
        assert!(
            o.stdout.contains(&format!("line {line}:")),
            "{what}: {}",
            o.stdout
        );
    };
    let l: Vec<String> = lines.iter().map(|x| x.to_string()).collect();
    let mut changed = l.clone();
    changed[1] = changed[1].replacen("\"exit\":1", "\"exit\":0", 1);
    assert_ne!(changed, l, "the edit took");
    check(changed, 2, "changed");
    let mut removed = l.clone();
    removed.remove(1);
    check(removed, 2, "removed");
    let mut moved = l.clone();
    moved.swap(0, 1);
    check(moved, 1, "reordered");
    let o = art9(&["audit", "verify", "/nonexistent/audit.jsonl"], None);
    assert_eq!(o.code, 2);
}

#[test]
fn jsonl_file_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.jsonl");
    let body: String = rows()
        .iter()
        .map(|(id, c, b, o)| {
            serde_json::json!({"id": id, "customer": c, "body": b, "other": o}).to_string() + "\n"
        })
        .collect();
    std::fs::write(&p, body).expect("write");
    let path = s(&p).to_string();
    let mut dump = || {
        std::fs::read_to_string(&p)
            .expect("read")
            .lines()
            .map(String::from)
            .collect()
    };
    workflow(
        &[&path, "--field", "body", "--field", "other", "--key", "id"],
        None,
        &mut dump,
        &["--in-place"],
    );
    // The nulled field is JSON null.
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.contains("\"body\":null"), "{text}");
}

#[test]
fn csv_file_workflow_to_a_new_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.csv");
    let out = dir.path().join("erased.csv");
    let mut body = String::from("id;customer;body;other\r\n");
    for (id, c, b, o) in rows() {
        body.push_str(&format!("{id};{c};\"{b}\";{o}\r\n"));
    }
    std::fs::write(&p, &body).expect("write");
    // Before the apply, the output does not exist: dump the input until it does.
    let (pi, po) = (p.clone(), out.clone());
    let mut dump = move || {
        let f = if po.exists() { &po } else { &pi };
        std::fs::read_to_string(f)
            .expect("read")
            .lines()
            .map(|l| l.replace(';', "|"))
            .collect()
    };
    let path = s(&p).to_string();
    // The rescan after --apply reads -o OUT.
    let fields = ["--field", "body", "--field", "other", "--key", "id"];
    let written: Vec<&str> = std::iter::once(s(&out)).chain(fields).collect();
    workflow(
        &std::iter::once(path.as_str())
            .chain(fields)
            .collect::<Vec<_>>(),
        Some(&written),
        &mut dump,
        &["-o", s(&out)],
    );
    assert_eq!(
        std::fs::read_to_string(&p).expect("input"),
        body,
        "-o left the input alone"
    );
}

// ---- databases -------------------------------------------------------------------------

/// The application's edit of a row's body, on a connection of its own.
type AppEdit = Box<dyn FnMut(i64, &str) + Send>;

/// A database under test: its URL and a way to run SQL and list rows.
trait Db {
    fn url(&self) -> String;
    fn exec(&mut self, sql: &str);
    /// `id|customer|body|other` per row, ordered by id, NULL as `<null>`.
    fn dump(&mut self, table: &str) -> Vec<String>;
    /// A connection of the "application" for another thread: sets a row's body.
    fn app(&self, table: &str) -> AppEdit;
}

/// Under load, from the command line: while `erase --apply` works through a subject's 1,500
/// rows (batches of 50), the application edits some of them. Every edit survives (the row
/// holds the application's text at the end), the conflicts art9 reports are rows the
/// application edited, the exit code says whether there were any, and the other subject's
/// rows are byte-identical.
fn db_concurrent_cli(db: &mut dyn Db, table: &str) {
    const N: i64 = 1500;
    db.exec(&format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY, customer varchar(20), body text, \
         other text)"
    ));
    let values: Vec<String> = (1..=N + 100)
        .map(|id| {
            let c = if id <= N { "C1" } else { "C2" };
            format!("({id}, '{c}', 'Klant heeft diabetes {CANARY}{id}', 'ref {id}')")
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO {table} (id, customer, body, other) VALUES {}",
        values.join(", ")
    ));
    let before = db.dump(table);
    let url = db.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let conflicts_file = dir.path().join("conflicts.jsonl");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut app = db.app(table);
    let flag = done.clone();
    let editor = std::thread::spawn(move || {
        let mut edited = std::collections::BTreeMap::new();
        let mut id = 3;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let text = format!("app edit {id}");
            app(id, &text);
            edited.insert(id, text);
            id = (id + 37) % N + 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        edited
    });
    let o = art9(
        &[
            "erase",
            &url,
            "--table",
            table,
            "--field",
            "body",
            "--key",
            "id",
            "--subject",
            "customer",
            "--id",
            "C1",
            "--batch-records",
            "50",
            "--apply",
            "--conflicts-out",
            s(&conflicts_file),
        ],
        None,
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let edited = editor.join().expect("editor");
    assert!(!edited.is_empty());
    assert_no_text("erase stderr", &o.stderr);
    let conflicts: BTreeSet<i64> = std::fs::read_to_string(&conflicts_file)
        .expect("conflicts")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("conflict");
            v["key"].as_str().expect("key").parse().expect("id")
        })
        .collect();
    assert_eq!(
        o.code,
        if conflicts.is_empty() { 0 } else { 2 },
        "{} conflicts: {}",
        conflicts.len(),
        o.stderr
    );
    let after = db.dump(table);
    for row in &after {
        let id: i64 = row.split('|').next().expect("id").parse().expect("id");
        let body = row.split('|').nth(2).expect("body");
        if let Some(text) = edited.get(&id) {
            assert_eq!(body, text, "row {id}: the application's edit was lost");
        } else if id <= N {
            assert!(body.contains("[HEALTH]"), "row {id} not erased: {row}");
        }
    }
    for c in &conflicts {
        assert!(edited.contains_key(c), "row {c}: a conflict nobody caused");
    }
    let others = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .filter(|r| r.contains("|C2|"))
            .cloned()
            .collect()
    };
    assert_eq!(others(&after), others(&before));
    assert_eq!(others(&after).len(), 100);
    eprintln!(
        "{} application edits during the erasure, {} conflicts",
        edited.len(),
        conflicts.len()
    );
    db.exec(&format!("DROP TABLE {table}"));
}

fn load(db: &mut dyn Db, table: &str, body_type: &str) {
    db.exec(&format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY, customer varchar(20), body {body_type}, \
         other {body_type})"
    ));
    for (id, c, b, o) in rows() {
        db.exec(&format!(
            "INSERT INTO {table} (id, customer, body, other) VALUES ({id}, '{c}', '{b}', '{o}')"
        ));
    }
}

fn db_workflow(db: &mut dyn Db, table: &str) {
    load(db, table, "text");
    let url = db.url();
    let mut dump = || db.dump(table);
    workflow(
        &[
            &url, "--table", table, "--field", "body", "--field", "other", "--key", "id",
        ],
        None,
        &mut dump,
        &[],
    );
    let rows = db.dump(table);
    assert!(
        rows.iter().any(|r| r == "2|C1|<null>|ref zebracanary 2"),
        "{rows:?}"
    );
    assert!(!rows.iter().any(|r| r.starts_with("3|")), "{rows:?}");
    db.exec(&format!("DROP TABLE {table}"));
}

/// A concurrent application edit is not lost: rows read for the erasure, one edited by
/// the application before the write, one deleted meanwhile; the erasure leaves the edited
/// row alone (a conflict), reports the gone one, and erases the others.
fn db_concurrent_edit(db: &mut dyn Db, table: &str) {
    use art9::output::db::{open_writer, EraseRow, FieldWrite, WriteMode};
    load(db, table, "text");
    let url = db.url();
    let spec = art9::source::SourceSpec {
        input: url.clone(),
        table: Some(table.into()),
        fields: vec!["body".into(), "other".into()],
        key: vec!["id".into()],
        subject: Some("customer".into()),
        subject_id: Some("C1".into()),
        ..art9::source::SourceSpec::default()
    };
    let mut dbspec = spec.db_spec().expect("spec");
    dbspec.capture_keys = true;
    let mut opened = spec
        .open_database(spec.db_url().expect("url"), dbspec.clone())
        .expect("open");
    let mut records = Vec::new();
    while let Some(r) = opened.source.next_record() {
        records.push(r.expect("read").expect("record"));
    }
    assert_eq!(records.len(), 5);
    // The application, after art9 read and before it writes.
    db.exec(&format!(
        "UPDATE {table} SET body = 'edited by the app' WHERE id = 1"
    ));
    db.exec(&format!(
        "UPDATE {table} SET other = 'changed' WHERE id = 3"
    ));
    let before = db.dump(table);
    let mut w =
        open_writer(&spec.db_url().expect("url"), &dbspec, WriteMode::Update, 2).expect("writer");
    for r in &records {
        let delete = r.key == "3" || r.key == "4";
        w.erase(EraseRow {
            record: r,
            fields: vec![FieldWrite::Null, FieldWrite::Keep],
            delete,
        })
        .expect("erase");
    }
    let report = w.finish().expect("finish");
    let conflicts: Vec<&str> = report.conflicts.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(conflicts, ["1", "3"], "{report:?}");
    assert_eq!(report.rows_updated, 2); // 2 and 13 nulled
    assert_eq!(report.rows_deleted, 1); // 4 deleted
    let after = db.dump(table);
    assert!(after.contains(&"1|C1|edited by the app|ref zebracanary 1".to_string()));
    assert!(after
        .iter()
        .any(|r| r.starts_with("3|C1|") && r.ends_with("|changed")));
    assert!(!after.iter().any(|r| r.starts_with("4|")));
    let others = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .filter(|r| !r.contains("|C1|"))
            .cloned()
            .collect()
    };
    assert_eq!(
        others(&after),
        others(&before),
        "another subject's row changed"
    );
    assert_eq!(others(&after).len(), 8);
    db.exec(&format!("DROP TABLE {table}"));
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{t}", std::process::id())
}

struct Sqlite {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().expect("tempdir");
        Sqlite {
            path: dir.path().join("crm.db"),
            _dir: dir,
        }
    }
    fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("sqlite")
    }
}

impl Db for Sqlite {
    fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
    fn exec(&mut self, sql: &str) {
        self.conn().execute_batch(sql).expect("sqlite exec");
    }
    fn dump(&mut self, table: &str) -> Vec<String> {
        let c = self.conn();
        let mut st = c
            .prepare(&format!(
                "SELECT id, customer, body, other FROM {table} ORDER BY id"
            ))
            .expect("select");
        st.query_map([], |r| {
            let t = |i| -> rusqlite::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?
                    .unwrap_or_else(|| "<null>".into()))
            };
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, i64>(0)?,
                t(1)?,
                t(2)?,
                t(3)?
            ))
        })
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
    }
    fn app(&self, table: &str) -> AppEdit {
        let c = self.conn();
        c.busy_timeout(std::time::Duration::from_secs(30))
            .expect("busy timeout");
        let sql = format!("UPDATE {table} SET body = ?1 WHERE id = ?2");
        Box::new(move |id, body| {
            c.execute(&sql, rusqlite::params![body, id])
                .expect("app update");
        })
    }
}

#[test]
fn sqlite_workflow() {
    db_workflow(&mut Sqlite::new(), "notes");
}

#[test]
fn sqlite_concurrent_edit_is_not_lost() {
    db_concurrent_edit(&mut Sqlite::new(), "notes");
}

#[test]
fn sqlite_erase_under_concurrent_edits() {
    db_concurrent_cli(&mut Sqlite::new(), "notes");
}

/// The server's URL; a missing one fails the test (it runs only under --include-ignored).
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn env_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{var} is not set: start the servers with `eval \"$(bash ci/db-setup.sh)\"`"),
    }
}

#[cfg(feature = "postgres")]
struct Pg {
    url: String,
    client: postgres::Client,
}

#[cfg(feature = "postgres")]
impl Pg {
    fn new() -> Pg {
        let url = env_url("ART9_TEST_POSTGRES_URL");
        let client = postgres::Client::connect(&url, postgres::NoTls).expect("connect postgres");
        Pg { url, client }
    }
}

#[cfg(feature = "postgres")]
impl Db for Pg {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn exec(&mut self, sql: &str) {
        self.client.batch_execute(sql).expect("postgres exec");
    }
    fn dump(&mut self, table: &str) -> Vec<String> {
        self.client
            .query(
                &format!(
                    "SELECT id::text, customer::text, COALESCE(body, '<null>'), \
                     COALESCE(other, '<null>') FROM {table} ORDER BY id"
                ),
                &[],
            )
            .expect("select")
            .iter()
            .map(|r| {
                format!(
                    "{}|{}|{}|{}",
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3)
                )
            })
            .collect()
    }
    fn app(&self, table: &str) -> AppEdit {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
        let sql = format!("UPDATE {table} SET body = $1 WHERE id = $2");
        Box::new(move |id, body| {
            c.execute(&sql, &[&body, &(id as i32)]).expect("app update");
        })
    }
}

#[cfg(feature = "postgres")]
#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_workflow() {
    db_workflow(&mut Pg::new(), &unique("gdpr"));
}

#[cfg(feature = "postgres")]
#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_concurrent_edit_is_not_lost() {
    db_concurrent_edit(&mut Pg::new(), &unique("gdprc"));
}

#[cfg(feature = "postgres")]
#[test]
#[ignore = "needs PostgreSQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn postgres_erase_under_concurrent_edits() {
    db_concurrent_cli(&mut Pg::new(), &unique("gdprl"));
}

#[cfg(feature = "mysql")]
struct My {
    url: String,
    conn: mysql::Conn,
}

#[cfg(feature = "mysql")]
impl My {
    fn new() -> My {
        let url = env_url("ART9_TEST_MYSQL_URL");
        let conn = mysql::Conn::new(mysql::Opts::from_url(&url).expect("mysql url"))
            .expect("connect mysql");
        My { url, conn }
    }
}

#[cfg(feature = "mysql")]
impl Db for My {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn exec(&mut self, sql: &str) {
        use mysql::prelude::Queryable;
        self.conn.query_drop(sql).expect("mysql exec");
    }
    fn dump(&mut self, table: &str) -> Vec<String> {
        use mysql::prelude::Queryable;
        self.conn
            .query_map(
                format!(
                    "SELECT CAST(id AS CHAR), customer, COALESCE(body, '<null>'), \
                     COALESCE(other, '<null>') FROM {table} ORDER BY id"
                ),
                |(a, b, c, d): (String, String, String, String)| format!("{a}|{b}|{c}|{d}"),
            )
            .expect("select")
    }
    fn app(&self, table: &str) -> AppEdit {
        use mysql::prelude::Queryable;
        let mut c = mysql::Conn::new(mysql::Opts::from_url(&self.url).expect("url"))
            .expect("connect mysql");
        let sql = format!("UPDATE {table} SET body = ? WHERE id = ?");
        Box::new(move |id, body| {
            c.exec_drop(&sql, (body, id)).expect("app update");
        })
    }
}

#[cfg(feature = "mysql")]
#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_workflow() {
    db_workflow(&mut My::new(), &unique("gdpr"));
}

#[cfg(feature = "mysql")]
#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_concurrent_edit_is_not_lost() {
    db_concurrent_edit(&mut My::new(), &unique("gdprc"));
}

#[cfg(feature = "mysql")]
#[test]
#[ignore = "needs MariaDB/MySQL: eval \"$(bash ci/db-setup.sh)\"; cargo test -- --include-ignored"]
fn mysql_erase_under_concurrent_edits() {
    db_concurrent_cli(&mut My::new(), &unique("gdprl"));
}

// ---- erase --due -----------------------------------------------------------------------

const DUE_POLICY: &str = "\
default: {action: mask}
retention:
  date_field: created
  rules:
    - categories: [health]
      max_age: 2y
      action: erase
consent:
  - categories: [religion]
    action: flag
erasure:
  categories:
    religion: null
";

/// (id, customer, created, note): health notes older than 2 years at 2026-12-07 are due by
/// retention; religion notes of C5, whose consent was withdrawn, are due by consent.
fn due_rows() -> Vec<(i64, &'static str, &'static str, String)> {
    let mut out = Vec::new();
    let dates = ["2020-01-01", "2024-12-06", "2024-12-08", "2026-11-01"];
    let mut id = 1;
    for c in ["C4", "C5", "C6"] {
        for d in dates {
            out.push((id, c, d, format!("Klant heeft diabetes {CANARY}{id}")));
            id += 1;
            out.push((id, c, d, format!("Hij is moslim {CANARY}{id}")));
            id += 1;
        }
    }
    out
}

/// The rows due, recounted from the dates and the ledger (not by art9).
fn due_expected() -> BTreeSet<String> {
    due_rows()
        .iter()
        .filter(|(_, c, d, n)| {
            (n.contains("diabetes") && *d < "2024-12-07") || (n.contains("moslim") && *c == "C5")
        })
        .map(|(id, ..)| id.to_string())
        .collect()
}

fn due_workflow(source: &[&str], dump: &mut dyn FnMut() -> Vec<String>, apply_extra: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, DUE_POLICY).expect("policy");
    let ledger = dir.path().join("consents.csv");
    std::fs::write(
        &ledger,
        "subject,category,given_at,withdrawn_at,reference\n\
         C5,religion,2019-01-01,2026-06-01,FORM-5\n\
         C6,religion,2019-01-01,,FORM-6\n",
    )
    .expect("ledger");
    let audit = dir.path().join("audit.jsonl");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["erase".into()];
        v.extend(source.iter().map(|x| x.to_string()));
        for x in [
            "--subject",
            "customer",
            "--due",
            "--policy",
            s(&policy),
            "--consent",
            s(&ledger),
            "--as-of",
            "2026-12-07",
            "--audit",
            s(&audit),
        ] {
            v.push(x.into());
        }
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let run = |v: Vec<String>| {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        art9(&a, None)
    };
    let before = dump();
    let o = run(args(&["--plan"]));
    ok(&o, 1, "erase --due --plan");
    let planned: BTreeSet<String> = o
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("plan");
            v["key"].as_str().expect("key").to_string()
        })
        .collect();
    assert_eq!(planned, due_expected());
    assert_eq!(dump(), before);
    let o = run(args(&[&["--apply"], apply_extra].concat()));
    ok(&o, 0, "erase --due --apply");
    let after = dump();
    let due = due_expected();
    let id_of = |r: &String| -> String {
        if r.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(r).expect("json");
            return v["id"].to_string();
        }
        r.split('|').next().unwrap_or("").to_string()
    };
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(id_of(b), id_of(a));
        if due.contains(&id_of(b)) {
            assert_ne!(a, b, "row {} not erased", id_of(b));
            assert!(!a.contains("diabetes") && !a.contains("moslim"), "{a}");
        } else {
            assert_eq!(a, b, "row {} changed", id_of(b));
        }
    }
    // Nothing is due any more.
    let o = run(args(&["--plan"]));
    ok(&o, 0, "erase --due --plan after");
    let o = art9(&["audit", "verify", s(&audit)], None);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let log = std::fs::read_to_string(&audit).expect("log");
    assert_no_text("audit log", &log);
}

#[test]
fn jsonl_erase_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.jsonl");
    let body: String = due_rows()
        .iter()
        .map(|(id, c, d, n)| {
            serde_json::json!({"id": id, "customer": c, "created": d, "note": n}).to_string() + "\n"
        })
        .collect();
    std::fs::write(&p, body).expect("write");
    let path = s(&p).to_string();
    let mut dump = || {
        std::fs::read_to_string(&p)
            .expect("read")
            .lines()
            .map(String::from)
            .collect()
    };
    due_workflow(
        &[&path, "--field", "note", "--key", "id"],
        &mut dump,
        &["--in-place"],
    );
}

#[test]
fn sqlite_erase_due() {
    let db = Sqlite::new();
    let c = db.conn();
    c.execute_batch(
        "CREATE TABLE notes (id integer PRIMARY KEY, customer text, created text, note text)",
    )
    .expect("create");
    for (id, cu, d, n) in due_rows() {
        c.execute(
            "INSERT INTO notes VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, cu, d, n],
        )
        .expect("insert");
    }
    drop(c);
    let url = db.url();
    let mut dump = || {
        let c = db.conn();
        let mut st = c
            .prepare(
                "SELECT id, customer, created, coalesce(note, '<null>') FROM notes ORDER BY id",
            )
            .expect("select");
        st.query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?
            ))
        })
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
    };
    due_workflow(
        &[&url, "--table", "notes", "--field", "note", "--key", "id"],
        &mut dump,
        &[],
    );
}

// ---- --audit on scan and mask ----------------------------------------------------------

#[test]
fn scan_and_mask_append_to_the_audit_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.jsonl");
    let masked = dir.path().join("masked.jsonl");
    let audit = dir.path().join("audit.jsonl");
    let body: String = rows()
        .iter()
        .map(|(id, c, b, _)| {
            serde_json::json!({"id": id, "customer": c, "body": b}).to_string() + "\n"
        })
        .collect();
    std::fs::write(&p, body).expect("write");
    let o = art9(
        &[
            "scan",
            s(&p),
            "--field",
            "body",
            "--key",
            "id",
            "--audit",
            s(&audit),
            "--format",
            "jsonl",
        ],
        None,
    );
    ok(&o, 1, "scan --audit");
    let o = art9(
        &[
            "mask",
            s(&p),
            "--field",
            "body",
            "--key",
            "id",
            "--subject",
            "customer",
            "--subject-id",
            "C2",
            "--audit",
            s(&audit),
            "-o",
            s(&masked),
        ],
        None,
    );
    ok(&o, 1, "mask --audit");
    let log = std::fs::read_to_string(&audit).expect("log");
    assert_no_text("audit log", &log);
    // The files' paths are logged; a random temp dir name may hold "C2".
    let dir_name = dir.path().to_str().expect("utf-8 temp dir");
    assert!(!log.replace(dir_name, "").contains("C2"), "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["command"], "scan");
    assert_eq!(lines[0]["seq"], 1);
    // One health note per subject in the scanned field.
    assert_eq!(lines[0]["counts"]["health"]["found"], 3);
    assert_eq!(lines[1]["command"], "mask");
    assert_eq!(lines[1]["prev"], lines[0]["hash"]);
    assert_eq!(lines[1]["counts"]["health"]["mask"], 1);
    assert_eq!(lines[1]["exit"], 1);
    // The masked copy's hash, as sha256sum would print it.
    let bytes = std::fs::read(&masked).expect("masked");
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(lines[1]["outputs"][0]["sha256"], sha);
    assert_eq!(lines[1]["outputs"][0]["bytes"], bytes.len());
    let o = art9(&["audit", "verify", s(&audit)], None);
    assert_eq!(o.code, 0, "{}", o.stdout);
    // The head pins the tail: dropping the last line is found with --head.
    let head = o
        .stdout
        .split("head ")
        .nth(1)
        .expect("head")
        .trim()
        .to_string();
    std::fs::write(&audit, format!("{}\n", log.lines().next().expect("line"))).expect("w");
    let o = art9(&["audit", "verify", s(&audit), "--head", &head], None);
    assert_eq!(o.code, 1, "{}", o.stdout);
}

/// A failed erasure still leaves its audit line (exit 2, the error, outcomes `unknown`), and
/// a file it could not finish is untouched: deleting an element of a JSON array is refused.
#[test]
fn failed_erasure_is_audited_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("notes.json");
    let policy = dir.path().join("policy.yaml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(&policy, POLICY).expect("policy");
    let body = format!(
        "[{{\"id\": 1, \"customer\": \"C1\", \"body\": \"Klant heeft diabetes {CANARY}\"}},\n \
         {{\"id\": 2, \"customer\": \"C1\", \"body\": \"Klant is veroordeeld voor diefstal {CANARY}\"}}]\n"
    );
    std::fs::write(&p, &body).expect("write");
    let o = art9(
        &[
            "erase",
            s(&p),
            "--field",
            "body",
            "--key",
            "id",
            "--subject",
            "customer",
            "--id",
            "C1",
            "--policy",
            s(&policy),
            "--apply",
            "--in-place",
            "--audit",
            s(&audit),
        ],
        None,
    );
    ok(&o, 2, "erase of a JSON array element");
    assert!(o.stderr.contains("JSON array"), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&p).expect("read"), body);
    let log = std::fs::read_to_string(&audit).expect("log");
    assert_no_text("audit log", &log);
    let line: serde_json::Value = serde_json::from_str(log.trim_end()).expect("line");
    assert_eq!(line["exit"], 2);
    assert!(line["error"]
        .as_str()
        .expect("error")
        .contains("JSON array"));
    assert!(line["outputs"].as_array().expect("outputs").is_empty());
    let o = art9(&["audit", "verify", s(&audit)], None);
    assert_eq!(o.code, 0, "{}", o.stdout);
}

//! The run summary (`scan --summary-out`) and the HTML report (`art9 report`, `scan
//! --report`): structure and escaping (parsed with an HTML parser), no note text, record key
//! or subject id anywhere (canary words; the dev corpus's gold spans), merged halves equal
//! the whole, and the report rendered by headless Chromium (screenshot not blank, a PDF of
//! at least one page, no request made). Chromium is required in CI (`CI=true`) and skipped
//! visibly elsewhere when missing.
#![cfg(feature = "report")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::art9;
use scraper::{Html, Selector};

const NOTES: &str = "tests/data/files/report-notes.jsonl";
const HOSTILE_1: &str = "<script>alert(1)</script>";
const HOSTILE_2: &str = "\"><img src=x onerror=alert(2)>";
const KEY_ENV: &str = "ART9_HASH_KEY";

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// Scan the fixture (copied to a file whose name is markup too) into a summary and a
/// report in `dir`.
fn scan_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let src = dir.join("<b>crm&export<i>.jsonl");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(NOTES), &src).unwrap();
    let (json, html) = (dir.join("run.json"), dir.join("report.html"));
    let o = art9(
        &[
            "scan",
            src.to_str().unwrap(),
            "--field",
            HOSTILE_1,
            "--field",
            HOSTILE_2,
            "--key",
            "id",
            "--subject",
            "cust",
            "--date-column",
            "created",
            "--policy",
            "default",
            "--summary-out",
            json.to_str().unwrap(),
            "--report",
            html.to_str().unwrap(),
            "-q",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    (json, html)
}

/// Every word of the notes, the record keys and the subject ids of the fixture.
fn fixture_secrets() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(NOTES)).unwrap();
    let mut out = vec!["canarywolf".to_string()];
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        out.push(v["id"].as_str().unwrap().to_string());
        if let Some(c) = v["cust"].as_str() {
            out.push(c.to_string());
        }
        for f in [HOSTILE_1, HOSTILE_2] {
            // Every word of 5+ letters (shorter ones such as "FNV" could be in any text).
            for w in v[f].as_str().unwrap().split(|c: char| !c.is_alphanumeric()) {
                if w.chars().count() >= 5 {
                    out.push(w.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn report_is_escaped_structured_and_holds_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html_path) = scan_fixture(dir.path());
    let html = std::fs::read_to_string(&html_path).unwrap();
    let summary = std::fs::read_to_string(&json).unwrap();
    let doc = Html::parse_document(&html);

    // Nothing that runs or fetches: no script, image, frame, object, link or base element,
    // no event handler attribute, no src, no link out of the page.
    for tag in [
        "script", "img", "iframe", "object", "embed", "link", "base", "form", "b", "i",
    ] {
        assert_eq!(doc.select(&sel(tag)).count(), 0, "a <{tag}> element");
    }
    for el in doc
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        for (name, value) in el.value().attrs() {
            assert!(!name.starts_with("on"), "event handler {name}={value}");
            assert_ne!(name, "src");
            if name == "href" {
                assert!(value.starts_with('#'), "link out: {value}");
            }
        }
    }
    assert!(!html.contains("url("), "a CSS url()");
    assert!(!html.contains("@import"));
    let csp = doc
        .select(&sel(r#"meta[http-equiv="Content-Security-Policy"]"#))
        .next()
        .expect("a CSP meta tag");
    assert!(csp
        .value()
        .attr("content")
        .unwrap()
        .starts_with("default-src 'none'"));

    // The hostile names are there as text, whole.
    let row_heads: Vec<String> = doc
        .select(&sel("th"))
        .map(|e| e.text().collect::<String>())
        .collect();
    assert!(row_heads.iter().any(|t| t == HOSTILE_1), "{row_heads:?}");
    assert!(row_heads.iter().any(|t| t == HOSTILE_2));
    let title: String = doc.select(&sel("title")).next().unwrap().text().collect();
    assert!(title.ends_with("<b>crm&export<i>.jsonl"), "{title}");

    // The sections a privacy officer looks for.
    for id in [
        "headline",
        "categories",
        "fields",
        "languages",
        "months",
        "people",
        "scores",
        "policy",
        "skipped",
        "likelihood",
        "next",
        "provenance",
    ] {
        let s = doc.select(&sel(&format!("section#{id}"))).next();
        assert!(s.is_some(), "section {id}");
    }
    // Every chart is labelled, described, and has its numbers in a table in its section.
    let charts: Vec<_> = doc.select(&sel("svg")).collect();
    assert!(charts.len() >= 5, "{} charts", charts.len());
    for svg in &charts {
        assert_eq!(svg.value().attr("role"), Some("img"));
        let title = svg.select(&sel("title")).next().expect("svg title");
        let desc = svg.select(&sel("desc")).next().expect("svg desc");
        assert!(!title.text().collect::<String>().is_empty());
        assert!(!desc.text().collect::<String>().is_empty());
        let section = svg
            .ancestors()
            .filter_map(scraper::ElementRef::wrap)
            .find(|e| e.value().name() == "section")
            .unwrap();
        assert!(
            section.select(&sel("table")).next().is_some()
                || section.value().id() == Some("headline")
        );
    }
    // Art. 10 apart: its own table.
    let art10 = doc
        .select(&sel("#categories h3"))
        .any(|h| h.text().collect::<String>().contains("Art. 10"));
    assert!(art10);
    // People counts below 5 are shown as "< 5": this fixture has 6 people with findings
    // at most in any one category.
    let people_cells: Vec<String> = doc
        .select(&sel("#categories td.num"))
        .map(|e| e.text().collect::<String>())
        .collect();
    assert!(people_cells.iter().any(|c| c == "< 5"), "{people_cells:?}");
    // The one person with 5+ notes is listed by pseudonym.
    let top: Vec<String> = doc
        .select(&sel("#people td code"))
        .map(|e| e.text().collect::<String>())
        .collect();
    assert_eq!(top.len(), 1, "{top:?}");
    assert_eq!(top[0].len(), 16);
    // By month, with the 2023 note due for review.
    let months: String = doc.select(&sel("#months")).next().unwrap().text().collect();
    assert!(
        months.contains("2023-02") && months.contains("review"),
        "{months}"
    );

    // No note text, record key or subject id in the summary or the report; the command
    // line keeps --subject-id's value out.
    for secret in fixture_secrets() {
        assert!(!html.contains(&secret), "{secret:?} in the report");
        assert!(!summary.contains(&secret), "{secret:?} in the run summary");
    }

    // The command line in the summary keeps a person's id out.
    let one = dir.path().join("one.json");
    let o = art9(
        &[
            "scan",
            NOTES,
            "--field",
            HOSTILE_1,
            "--subject",
            "cust",
            "--subject-id",
            "CUST-0001",
            "--summary-out",
            one.to_str().unwrap(),
            "-q",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let one = std::fs::read_to_string(&one).unwrap();
    assert!(!one.contains("CUST-0001"));
    assert!(one.contains("\"--subject-id\",\n        \"***\""), "{one}");
}

#[test]
fn merged_halves_equal_the_whole_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(NOTES)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let parts = [
        ("whole", lines.clone()),
        ("a", lines[..5].to_vec()),
        ("b", lines[5..].to_vec()),
    ];
    let mut cmd_summaries = Vec::new();
    for (name, ls) in &parts {
        let input = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&input, ls.join("\n") + "\n").unwrap();
        let out = dir.path().join(format!("{name}.json"));
        let o = Command::new(common::BIN)
            .args([
                "scan",
                input.to_str().unwrap(),
                "--field",
                HOSTILE_1,
                "--field",
                HOSTILE_2,
                "--subject",
                "cust",
                "--date-column",
                "created",
                "--summary-out",
                out.to_str().unwrap(),
                "-q",
            ])
            .env(KEY_ENV, "a key for this test, 16+ bytes")
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        cmd_summaries.push(out);
    }
    let merged = dir.path().join("merged.json");
    let report = dir.path().join("merged.html");
    let o = art9(
        &[
            "report",
            cmd_summaries[1].to_str().unwrap(),
            cmd_summaries[2].to_str().unwrap(),
            "--previous",
            cmd_summaries[1].to_str().unwrap(),
            "--summary-out",
            merged.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (whole, merged) = (read(&cmd_summaries[0]), read(&merged));
    assert_eq!(merged["runs"].as_array().unwrap().len(), 2);
    assert_eq!(whole["summary"], merged["summary"]);
    assert_eq!(whole["tally"], merged["tally"]);
    // The comparison with the previous run is in the report.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Notes vs previous"));
    assert!(html.contains("since the previous run"));

    // Under another key the parts do not add up (the same person would count twice).
    let other = dir.path().join("other.json");
    let o = Command::new(common::BIN)
        .args([
            "scan",
            dir.path().join("b.jsonl").to_str().unwrap(),
            "--field",
            HOSTILE_1,
            "--subject",
            "cust",
            "--date-column",
            "created",
            "--summary-out",
            other.to_str().unwrap(),
            "-q",
        ])
        .env(KEY_ENV, "another key for this test")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let o = art9(
        &[
            "report",
            cmd_summaries[1].to_str().unwrap(),
            other.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("different keys"), "{}", o.stderr);
    // Not a run summary: one clear error naming the file.
    let o = art9(&["report", NOTES, "-o", report.to_str().unwrap()], None);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("report-notes.jsonl: not an art9 run summary"),
        "{}",
        o.stderr
    );
}

/// The shared development corpus: no gold span text, record id or subject id in the run
/// summary or the report.
#[test]
fn dev_corpus_canary() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dev.jsonl");
    if !corpus.is_file() {
        eprintln!("skipped: ../shared/corpus/dev.jsonl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("dev.json"), dir.path().join("dev.html"));
    // The note id as the subject too: every subject id is a record key.
    let o = art9(
        &[
            "scan",
            corpus.to_str().unwrap(),
            "--field",
            "text",
            "--key",
            "id",
            "--subject",
            "id",
            "--policy",
            "default",
            "--summary-out",
            json.to_str().unwrap(),
            "--report",
            html.to_str().unwrap(),
            "-q",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    // What a reader sees: the text and attribute values of the report (its stylesheet
    // names fonts such as "SFMono", which is not the Danish party SF), and the summary.
    let doc = Html::parse_document(&std::fs::read_to_string(&html).unwrap());
    let mut html = String::new();
    for node in doc.root_element().descendants() {
        let in_style = node
            .ancestors()
            .filter_map(scraper::ElementRef::wrap)
            .any(|e| e.value().name() == "style");
        match node.value() {
            scraper::Node::Text(t) if !in_style => html.push_str(t),
            scraper::Node::Element(e) => e.attrs().for_each(|(_, v)| html.push_str(v)),
            _ => continue,
        }
        html.push('\n');
    }
    // The fideslang keys (`user.demographic.religious_belief`) are the taxonomy's fixed
    // vocabulary, not note text: taken out before looking for gold spans such as
    // "religious" (every other byte of the summary is still checked).
    let mut summary = std::fs::read_to_string(&json).unwrap();
    for c in art9::Category::ALL {
        summary = summary.replace(c.data_category(), "");
    }
    let text = std::fs::read_to_string(&corpus).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap();
        assert!(!html.contains(id) && !summary.contains(id), "{id}");
        for span in v["spans"].as_array().unwrap() {
            let s = span["text"].as_str().unwrap();
            assert!(!html.contains(s), "gold span {s:?} in the report");
            assert!(!summary.contains(s), "gold span {s:?} in the run summary");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} spans");
}

/// Chromium's binary: required in CI, else optional.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        });
        if found.is_some() {
            return found;
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and no chromium: .ci/run installs it (apt-get install -y chromium)");
    }
    eprintln!(
        "skipped: chromium not found (apt-get install -y chromium); the report was not rendered"
    );
    None
}

/// Run headless Chromium on `page` with every network path closed off (a proxy that
/// refuses, no name resolution, no background services) and a net log; returns the URLs
/// the page itself asked for (the browser's own update and account checks, initiated by
/// no page, are not the page's).
fn render(chrome: &Path, page: &Path, dir: &Path, what: &str, tag: &str) -> Vec<String> {
    let net_log = dir.join(format!("net-{tag}.json"));
    let o = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--hide-scrollbars",
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1000,1400",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("profile-{tag}")).display()
        ))
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg(what)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        o.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&net_log).unwrap()).unwrap();
    let start = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["type"] == start)
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .filter(|u| *u != format!("file://{}", page.display()))
        .collect()
}

#[test]
fn chromium_renders_prints_and_fetches_nothing() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = scan_fixture(dir.path());

    // The check can fail: a page that fetches is caught.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><p>x</p><img src=\"http://example.invalid/a.png\">",
    )
    .unwrap();
    let shot = dir.path().join("control.png");
    let fetched = render(
        &chrome,
        &control,
        dir.path(),
        &format!("--screenshot={}", shot.display()),
        "control",
    );
    assert!(
        fetched.iter().any(|u| u.contains("example.invalid")),
        "{fetched:?}"
    );

    let shot = dir.path().join("report.png");
    let fetched = render(
        &chrome,
        &html,
        dir.path(),
        &format!("--screenshot={}", shot.display()),
        "png",
    );
    assert!(fetched.is_empty(), "the report asked for {fetched:?}");
    // Not blank: many pixels differ from the background, in several colours.
    let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let background = pixels[0];
    let ink = pixels.iter().filter(|p| p[..3] != background[..3]).count();
    assert!(
        ink * 50 > pixels.len(),
        "{ink} of {} pixels drawn",
        pixels.len()
    );
    let mut colours: Vec<[u8; 3]> = pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "{} colours", colours.len());

    let pdf = dir.path().join("report.pdf");
    let fetched = render(
        &chrome,
        &html,
        dir.path(),
        &format!("--print-to-pdf={}", pdf.display()),
        "pdf",
    );
    assert!(fetched.is_empty(), "the report asked for {fetched:?}");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let pages = count_pages(&bytes);
    assert!(pages >= 1, "{pages} pages");
}

/// The page count of a PDF: the largest `/Count N` (the page tree's root).
fn count_pages(pdf: &[u8]) -> u64 {
    let needle = b"/Count ";
    let mut best = 0;
    for i in 0..pdf.len().saturating_sub(needle.len()) {
        if &pdf[i..i + needle.len()] == needle {
            let digits: Vec<u8> = pdf[i + needle.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            if let Ok(n) = String::from_utf8_lossy(&digits).parse::<u64>() {
                best = best.max(n);
            }
        }
    }
    best
}

/// A database scan writes the same tally as a scan of the same rows from a file.
#[cfg(feature = "sqlite")]
#[test]
fn sqlite_scan_summary_equals_the_file_scan() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(NOTES)).unwrap();
    let db = dir.path().join("crm.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "CREATE TABLE notes (id TEXT PRIMARY KEY, cust TEXT, created TEXT, body TEXT)",
        [],
    )
    .unwrap();
    let jsonl = dir.path().join("notes.jsonl");
    let mut lines = String::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let body = v[HOSTILE_1].as_str().unwrap();
        conn.execute(
            "INSERT INTO notes VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                v["id"].as_str(),
                v["cust"].as_str(),
                v["created"].as_str(),
                body
            ],
        )
        .unwrap();
        let row = serde_json::json!({"id": v["id"], "cust": v["cust"], "created": v["created"], "body": body});
        lines.push_str(&format!("{row}\n"));
    }
    drop(conn);
    std::fs::write(&jsonl, lines).unwrap();
    let scan = |input: &str, out: &Path, table: bool| {
        let mut args = vec!["scan", input];
        if table {
            args.extend(["--table", "notes"]);
        }
        let out = out.to_str().unwrap();
        args.extend([
            "--field",
            "body",
            "--key",
            "id",
            "--subject",
            "cust",
            "--date-column",
            "created",
            "--policy",
            "default",
            "--summary-out",
            out,
            "-q",
        ]);
        let o = Command::new(common::BIN)
            .args(&args)
            .env(KEY_ENV, "a key for this test, 16+ bytes")
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
        v
    };
    let url = format!("sqlite:{}", db.display());
    let from_db = scan(&url, &dir.path().join("db.json"), true);
    let from_file = scan(
        jsonl.to_str().unwrap(),
        &dir.path().join("file.json"),
        false,
    );
    assert_eq!(from_db["tally"], from_file["tally"]);
    assert_eq!(
        from_db["summary"]["records_with_findings"],
        from_file["summary"]["records_with_findings"]
    );
    assert_eq!(from_db["runs"][0]["source"], url.as_str());
}

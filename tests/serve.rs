//! `art9 serve` end to end: the real binary on 127.0.0.1 port 0, real HTTP over loopback
//! (a minimal HTTP/1.1 client on `TcpStream`, one connection per request).

#![cfg(feature = "serve")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_art9");

/// A running `art9 serve`; killed on drop if still running.
struct Serve {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
    log_thread: Option<thread::JoinHandle<()>>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        Serve::start_at("127.0.0.1:0", args)
    }

    /// Start on `addr`; `addr` in the result is where to connect (127.0.0.1 for 0.0.0.0).
    fn start_at(listen: &str, args: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .args(["serve", "--addr", listen])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn art9 serve");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        let log_thread = thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        let addr = match first.trim().split_once("://") {
            Some((_, a)) => a.replace("0.0.0.0:", "127.0.0.1:"),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "no address in {first:?}; stderr: {}",
                    log.lock().unwrap().as_str()
                );
            }
        };
        Serve {
            child,
            addr,
            log,
            log_thread: Some(log_thread),
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM, wait for the exit; returns (exit code, everything logged).
    fn stop(&mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let status = self.child.wait().expect("wait");
        if let Some(t) = self.log_thread.take() {
            let _ = t.join();
        }
        (status.code(), self.log.lock().unwrap().clone())
    }

    fn get(&self, path: &str) -> Resp {
        request(&self.addr, "GET", path, &[], b"")
    }

    /// Wait until `n` requests are in flight on the API routes (per /metrics).
    fn wait_in_flight(&self, n: usize) {
        let want = format!("art9_in_flight {n}\n");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.get("/metrics").body.contains(&want) {
            assert!(Instant::now() < deadline, "never saw {want:?}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn post(&self, path: &str, body: &str) -> Resp {
        request(
            &self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// An error response: JSON `{"error": {"code", "message"}}`; returns the code.
    fn error_code(&self) -> String {
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "{}", self.body);
        v["error"]["code"].as_str().expect("code").to_string()
    }
}

fn head(method: &str, path: &str, headers: &[(&str, &str)], len: usize) -> String {
    let mut h = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    h
}

fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(head(method, path, headers, body.len()).as_bytes())
        .unwrap();
    // The server may answer (413, 415, 401) before reading the body.
    let _ = s.write_all(body);
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> Resp {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read response");
    parse_response(buf)
}

fn parse_response(buf: Vec<u8>) -> Resp {
    let text = String::from_utf8(buf).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// A request whose body is only partly sent: it is in flight until `finish`.
struct Partial {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Partial {
    fn start(addr: &str, path: &str, body: &str, sent: usize) -> Partial {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let h = head(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.len(),
        );
        stream.write_all(h.as_bytes()).unwrap();
        stream.write_all(&body.as_bytes()[..sent]).unwrap();
        stream.flush().unwrap();
        Partial {
            stream,
            rest: body.as_bytes()[sent..].to_vec(),
        }
    }

    /// The answer the server gives without waiting for the rest of the body.
    fn early_answer(mut self) -> Resp {
        read_response(&mut self.stream)
    }

    fn finish(mut self) -> Resp {
        self.stream.write_all(&self.rest).unwrap();
        read_response(&mut self.stream)
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const NOTE: &str = "Klant heeft diabetes, bel volgende week.";

#[test]
fn check_scan_mask_batch_and_ops_endpoints() {
    let srv = Serve::start(&[]);

    let r = srv.get("/healthz");
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));
    let r = srv.get("/readyz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "ready");
    assert!(r.json()["entries"].as_u64().unwrap() > 0);

    // check, text
    let r = srv.post(
        "/v1/check",
        &serde_json::json!({ "text": NOTE }).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["decision"], "mask");
    assert_eq!(v["policy"], "default");
    assert_eq!(v["text"], "Klant heeft [HEALTH], bel volgende week.");
    assert_eq!(
        v["findings"],
        serde_json::json!([{"category": "health", "data_category": "user.health", "lang": "nl", "note_lang": "nl", "start": 12,
            "end": 20, "char_start": 12, "char_end": 20, "likelihood": "likely",
            "action": "mask"}])
    );

    // check, fields, per-field findings; include_text opts in to the matched text
    let r = srv.post(
        "/v1/check",
        r#"{"id": "n1", "fields": {"notes": "Zij is moslim", "summary": "Terugbellen"},
            "include_text": true}"#,
    );
    let v = r.json();
    assert_eq!(v["id"], "n1");
    assert_eq!(v["decision"], "mask");
    assert_eq!(
        v["fields"],
        serde_json::json!({"notes": "Zij is [RELIGION]", "summary": "Terugbellen"})
    );
    assert_eq!(v["findings"][0]["field"], "notes");
    assert_eq!(v["findings"][0]["text"], "moslim");
    assert!(v.get("text").is_none());

    // policies by name, lang restriction
    let r = srv.post(
        "/v1/check",
        &format!(r#"{{"text": "{NOTE}", "policy": "strict"}}"#),
    );
    assert_eq!(r.json()["decision"], "reject");
    let r = srv.post(
        "/v1/check",
        &format!(r#"{{"text": "{NOTE}", "policy": "report"}}"#),
    );
    assert_eq!(r.json()["decision"], "accept");
    assert_eq!(r.json()["text"], NOTE);
    let r = srv.post(
        "/v1/check",
        &format!(r#"{{"text": "{NOTE}", "lang": ["da", "en"]}}"#),
    );
    assert_eq!(r.json()["decision"], "accept");
    assert_eq!(r.json()["findings"], serde_json::json!([]));
    let r = srv.post("/v1/check", r#"{"text": "x", "policy": "no-such"}"#);
    assert_eq!((r.status, r.error_code().as_str()), (400, "unknown_policy"));

    // scan: findings only; mask: values only
    let v = srv
        .post("/v1/scan", &format!(r#"{{"text": "{NOTE}"}}"#))
        .json();
    assert_eq!(v["findings"][0]["category"], "health");
    assert!(v.get("decision").is_none() && v.get("text").is_none());
    assert!(v["findings"][0].get("action").is_none());
    let v = srv
        .post("/v1/mask", &format!(r#"{{"text": "{NOTE}"}}"#))
        .json();
    assert_eq!(v["text"], "Klant heeft [HEALTH], bel volgende week.");
    assert_eq!(v["decision"], "mask");
    assert!(v.get("findings").is_none());

    // batch: one result per item, in order, a bad item answered in place
    let r = srv.post(
        "/v1/batch",
        r#"{"items": [{"id": 1, "text": "Zij is moslim"}, {"id": 2, "txet": "x"},
                      {"id": 3, "text": "Terugbellen", "policy": "strict"}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let res = r.json()["results"].clone();
    assert_eq!(res.as_array().unwrap().len(), 3);
    assert_eq!(
        (res[0]["id"].as_i64(), res[0]["decision"].as_str()),
        (Some(1), Some("mask"))
    );
    assert_eq!(res[1]["id"], 2);
    assert_eq!(res[1]["error"]["code"], "invalid_request");
    assert_eq!(
        (res[2]["id"].as_i64(), res[2]["decision"].as_str()),
        (Some(3), Some("accept"))
    );
    let v = srv
        .post(
            "/v1/batch",
            r#"{"op": "scan", "items": [{"text": "Zij is moslim"}]}"#,
        )
        .json();
    assert!(v["results"][0].get("decision").is_none());

    // unknown route and wrong method: JSON errors
    let r = srv.get("/v2/check");
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let r = srv.get("/v1/check");
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (405, "method_not_allowed")
    );

    // admin reload without a token: allowed from loopback
    let r = request(&srv.addr, "POST", "/admin/reload", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], 2);

    // metrics: counters by route and status, findings per category, rejects
    let r = srv.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = r.body;
    for needle in [
        "art9_requests_total{path=\"/v1/check\",status=\"200\"} 5",
        "art9_requests_total{path=\"/v1/check\",status=\"400\"} 1",
        "art9_requests_total{path=\"other\",status=\"404\"} 1",
        "art9_request_duration_seconds_bucket{path=\"/v1/check\",le=\"+Inf\"} 7",
        "art9_findings_total{category=\"religion\"} 3",
        "art9_rejects_total 1",
        "art9_reloads_total{result=\"ok\"} 1",
        "art9_engine_version 2",
    ] {
        assert!(m.contains(needle), "{needle} not in\n{m}");
    }
}

#[test]
fn openapi_lists_every_route() {
    let srv = Serve::start(&[]);
    let r = srv.get("/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in art9::serve::ROUTES {
        let op = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing"))
            [method.to_ascii_lowercase()];
        assert!(op["responses"]["200"].is_object(), "{method} {path}");
    }
    assert_eq!(paths.len(), art9::serve::ROUTES.len());
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let mut node = &doc;
        for key in target.split('/') {
            node = &node[key];
        }
        assert!(node.is_object(), "dangling $ref {target}");
    }
}

#[test]
fn client_errors_are_json_and_limits_hold() {
    let srv = Serve::start(&[
        "--max-body",
        "2000",
        "--max-fields",
        "2",
        "--max-batch",
        "2",
    ]);
    let r = srv.post("/v1/check", r#"{"text": "Klant heeft diabetes"#);
    assert_eq!((r.status, r.error_code().as_str()), (400, "malformed_json"));
    let r = srv.post("/v1/check", r#"{"policy": "default"}"#);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_request")
    );
    let r = srv.post("/v1/check", r#"{"text": "a", "fields": {"b": "c"}}"#);
    assert_eq!(r.status, 400);
    let r = request(&srv.addr, "POST", "/v1/check", &[], br#"{"text": "x"}"#);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (415, "unsupported_media_type")
    );
    let r = request(
        &srv.addr,
        "POST",
        "/v1/check",
        &[("Content-Type", "text/plain")],
        br#"{"text": "x"}"#,
    );
    assert_eq!(r.status, 415);
    let r = request(
        &srv.addr,
        "POST",
        "/v1/check",
        &[("Content-Type", "application/json; charset=utf-8")],
        br#"{"text": "x"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Refused on Content-Length alone, before the body is read.
    let big = format!(r#"{{"text": "{}"}}"#, "a".repeat(2100));
    let r = Partial::start(&srv.addr, "/v1/check", &big, 0).early_answer();
    assert_eq!((r.status, r.error_code().as_str()), (413, "body_too_large"));
    let r = srv.post("/v1/check", r#"{"fields": {"a": "", "b": "", "c": ""}}"#);
    assert_eq!((r.status, r.error_code().as_str()), (400, "too_many_items"));
    let r = srv.post(
        "/v1/batch",
        r#"{"items": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}"#,
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "too_many_items"));
}

#[test]
fn bearer_token_is_required_when_configured() {
    let dir = tmp();
    let token = "s3cret-token-0123456789";
    let file = write(dir.path(), "token", &format!("{token}\n"));
    let srv = Serve::start(&["--token-file", s(&file)]);
    let body = br#"{"text": "x"}"#;
    let json = ("Content-Type", "application/json");
    let r = request(&srv.addr, "POST", "/v1/check", &[json], body);
    assert_eq!((r.status, r.error_code().as_str()), (401, "unauthorized"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let wrong = ("Authorization", "Bearer s3cret-token-0123456780");
    assert_eq!(
        request(&srv.addr, "POST", "/v1/check", &[json, wrong], body).status,
        401
    );
    let bearer = format!("Bearer {token}");
    let right = ("Authorization", bearer.as_str());
    let r = request(&srv.addr, "POST", "/v1/check", &[json, right], body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        request(&srv.addr, "POST", "/admin/reload", &[], b"").status,
        401
    );
    assert_eq!(
        request(&srv.addr, "POST", "/admin/reload", &[right], b"").status,
        200
    );
    // Probes stay open.
    assert_eq!(srv.get("/healthz").status, 200);
    assert_eq!(srv.get("/readyz").status, 200);
}

#[test]
fn saturation_gives_503_with_retry_after() {
    let srv = Serve::start(&["--concurrency", "1"]);
    let body = format!(r#"{{"text": "{NOTE}"}}"#);
    let slow = Partial::start(&srv.addr, "/v1/check", &body, 5);
    srv.wait_in_flight(1);
    let r = srv.post("/v1/check", &body);
    assert_eq!((r.status, r.error_code().as_str()), (503, "overloaded"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(srv.get("/healthz").status, 200);
    let r = slow.finish();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(srv.post("/v1/check", &body).status, 200);
    assert!(srv.get("/metrics").body.contains("art9_saturated_total 1"));
}

const LEXICON_V1: &str = "lang: nl
category: health
description: reload test
sources:
  - name: test
    licence: MIT
entries:
  - id: nl.health.diabetes
    terms: [diabetes]
";

#[test]
fn reload_under_load_fails_no_request_and_keeps_old_on_error() {
    let dir = tmp();
    let lex = write(dir.path(), "health.yaml", LEXICON_V1);
    let srv = Arc::new(Serve::start(&["--no-builtin", "--lexicon", s(&lex)]));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (srv, stop, done) = (srv.clone(), stop.clone(), done.clone());
            thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let r = srv.post("/v1/check", &format!(r#"{{"text": "{NOTE}"}}"#));
                    if r.status != 200 || r.json()["decision"] != "mask" {
                        failures.push(format!("{} {}", r.status, r.body));
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
                failures
            })
        })
        .collect();
    for i in 0..4 {
        if i % 2 == 0 {
            srv.signal("HUP");
            thread::sleep(Duration::from_millis(800));
        } else {
            let r = request(&srv.addr, "POST", "/admin/reload", &[], b"");
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    // Wait until all four reloads are in (SIGHUP ones are asynchronous).
    let deadline = Instant::now() + Duration::from_secs(60);
    while srv.get("/readyz").json()["version"] != 5 {
        assert!(Instant::now() < deadline, "reloads did not finish");
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    let failures: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(done.load(Ordering::SeqCst) > 20, "too few requests made");

    // A broken lexicon is rejected; the loaded one stays in service.
    std::fs::write(
        &lex,
        "lang: nl\ncategory: health\nentries: [{id: x, terms: }\n",
    )
    .unwrap();
    let r = request(&srv.addr, "POST", "/admin/reload", &[], b"");
    assert_eq!((r.status, r.error_code().as_str()), (500, "reload_failed"));
    assert_eq!(srv.get("/readyz").json()["version"], 5);
    assert_eq!(
        srv.post("/v1/check", &format!(r#"{{"text": "{NOTE}"}}"#))
            .json()["decision"],
        "mask"
    );
    // A good new lexicon takes effect.
    std::fs::write(&lex, LEXICON_V1.replace("[diabetes]", "[diabetes, astma]")).unwrap();
    let r = request(&srv.addr, "POST", "/admin/reload", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = srv.post("/v1/check", r#"{"text": "heeft astma"}"#).json();
    assert_eq!(v["text"], "heeft [HEALTH]");
    assert!(srv
        .get("/metrics")
        .body
        .contains("art9_reloads_total{result=\"error\"} 1"));
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let mut srv = Serve::start(&[]);
    let body = format!(r#"{{"text": "{NOTE}"}}"#);
    let in_flight = Partial::start(&srv.addr, "/v1/check", &body, 10);
    srv.wait_in_flight(1);
    srv.signal("TERM");
    thread::sleep(Duration::from_millis(300));
    let r = in_flight.finish();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["decision"], "mask");
    let status = srv.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    // No new connections after the signal.
    assert!(TcpStream::connect(&srv.addr).is_err());
}

/// Words that must never appear in a response, a log line or a metric label.
const CANARIES: &[&str] = &["diabetes", "moslim", "pvda", "vakbond", "gevangenis"];
const CANARY_NOTE: &str =
    "Klant heeft diabetes, is moslim, stemt PvdA, is lid van de vakbond en zat in de gevangenis.";

fn assert_no_canary(what: &str, text: &str) {
    let lower = text.to_ascii_lowercase();
    for c in CANARIES {
        assert!(!lower.contains(c), "{what} contains {c:?}:\n{text}");
    }
}

#[test]
fn canary_never_in_responses_logs_or_metrics() {
    let dir = tmp();
    let token = write(dir.path(), "token", "canary-test-token-0123456789");
    let mut srv = Serve::start(&["--token-file", s(&token), "--log-format", "json"]);
    let auth = ("Authorization", "Bearer canary-test-token-0123456789");
    let json = ("Content-Type", "application/json");
    let note = serde_json::to_string(CANARY_NOTE).unwrap();
    let bodies: Vec<(&str, String)> = vec![
        ("/v1/check", format!(r#"{{"text": {note}}}"#)),
        (
            "/v1/check",
            format!(r#"{{"fields": {{"notes": {note}, "x": {note}}}}}"#),
        ),
        (
            "/v1/check",
            format!(r#"{{"text": {note}, "policy": "strict"}}"#),
        ),
        ("/v1/scan", format!(r#"{{"text": {note}}}"#)),
        ("/v1/mask", format!(r#"{{"text": {note}}}"#)),
        (
            "/v1/batch",
            format!(r#"{{"items": [{{"text": {note}}}, {{"diabetes": {note}}}]}}"#),
        ),
        // Errors of every kind, each carrying the note.
        ("/v1/check", format!(r#"{{"text": {note}"#)),
        ("/v1/check", format!(r#"{{"text": {note}, "diabetes": 1}}"#)),
        ("/v1/check", format!(r#"{{"text": [{note}]}}"#)),
        ("/v1/check", format!(r#"{{"text": "x", "policy": {note}}}"#)),
        ("/v1/check", format!(r#"{{"text": "x", "lang": {note}}}"#)),
        ("/v1/check", format!(r#"{{"text": "x", "lang": [{note}]}}"#)),
        ("/v1/diabetes", format!(r#"{{"text": {note}}}"#)),
        ("/v1/check?moslim=1", format!(r#"{{"text": {note}}}"#)),
    ];
    for (path, body) in &bodies {
        let r = request(&srv.addr, "POST", path, &[json, auth], body.as_bytes());
        assert_ne!(r.status, 500, "{path}: {}", r.body);
        assert_no_canary(&format!("response to {path} ({})", r.status), &r.body);
        for (k, v) in &r.headers {
            assert_no_canary("a response header", &format!("{k}: {v}"));
        }
    }
    // Wrong content type and no token, with the note as body.
    let r = request(&srv.addr, "POST", "/v1/check", &[auth], note.as_bytes());
    assert_eq!(r.status, 415);
    assert_no_canary("415 response", &r.body);
    let r = request(&srv.addr, "POST", "/v1/check", &[json], note.as_bytes());
    assert_eq!(r.status, 401);
    assert_no_canary("401 response", &r.body);
    // The documented exception: `report` flags and keeps the text as it is.
    let r = request(
        &srv.addr,
        "POST",
        "/v1/check",
        &[json, auth],
        format!(r#"{{"text": {note}, "policy": "report"}}"#).as_bytes(),
    );
    assert_eq!(r.json()["text"], CANARY_NOTE);

    let metrics = srv.get("/metrics").body;
    assert!(metrics.contains("art9_findings_total{category=\"criminal\"}"));
    assert_no_canary("/metrics", &metrics);
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert!(log.lines().count() >= bodies.len(), "{log}");
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v["level"].is_string(), "{line}");
    }
    assert!(
        log.contains("\"categories\":\"health,politics,religion"),
        "{log}"
    );
    assert_no_canary("the log", &log);
}

#[test]
fn slow_request_times_out_with_503() {
    let srv = Serve::start(&["--timeout-ms", "300"]);
    let body = format!(r#"{{"text": "{NOTE}"}}"#);
    let stuck = Partial::start(&srv.addr, "/v1/check", &body, 5);
    let t = Instant::now();
    let r = stuck.early_answer();
    assert_eq!((r.status, r.error_code().as_str()), (503, "timeout"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(srv.post("/v1/check", &body).status, 200);
}

/// Runs `art9 serve` with `args` expecting a refusal: exit 2, one line on stderr, nothing on
/// stdout (it never listened).
fn refused(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("serve")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run art9 serve");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} listened");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn network_address_without_token_is_refused_before_binding() {
    let dir = tmp();
    let cert = write(dir.path(), "cert.pem", include_str!("data/tls/cert-a.pem"));
    let key = write(dir.path(), "key.pem", include_str!("data/tls/key-a.pem"));
    for args in [
        &["--addr", "0.0.0.0:0"][..],
        &["--addr", "[::]:0"],
        // Not an address of this machine: refused before any bind is tried.
        &["--addr", "192.0.2.7:8009"],
        &["--addr", "[::ffff:0.0.0.0]:0"],
        // TLS is not authentication.
        &[
            "--addr",
            "0.0.0.0:0",
            "--tls-cert",
            s(&cert),
            "--tls-key",
            s(&key),
        ],
    ] {
        let err = refused(args);
        assert!(err.starts_with("art9: error: --addr "), "{err}");
        for needle in [
            "--token-file",
            "--allow-unauthenticated-network",
            "127.0.0.1",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }
    let err = refused(&["--addr", "no-port"]);
    assert!(err.contains("HOST:PORT"), "{err}");
}

#[test]
fn loopback_names_start_without_token() {
    for listen in ["localhost:0", "127.0.0.2:0"] {
        let srv = Serve::start_at(listen, &[]);
        assert_eq!(srv.get("/healthz").status, 200, "{listen}");
    }
}

#[test]
fn network_address_starts_with_a_token() {
    let dir = tmp();
    let token = "network-token-0123456789";
    let file = write(dir.path(), "token", token);
    let mut srv = Serve::start_at("0.0.0.0:0", &["--token-file", s(&file)]);
    let body = br#"{"text": "x"}"#;
    let json = ("Content-Type", "application/json");
    let bearer = format!("Bearer {token}");
    let r = request(
        &srv.addr,
        "POST",
        "/v1/check",
        &[json, ("Authorization", &bearer)],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(&srv.addr, "POST", "/v1/check", &[json], body);
    assert_eq!(r.status, 401);
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    assert!(!log.contains("WARN"), "{log}");
}

#[test]
fn network_address_without_token_needs_the_explicit_flag() {
    let mut srv = Serve::start_at("0.0.0.0:0", &["--allow-unauthenticated-network"]);
    let r = srv.post("/v1/check", &format!(r#"{{"text": "{NOTE}"}}"#));
    assert_eq!(r.status, 200, "{}", r.body);
    let (code, log) = srv.stop();
    assert_eq!(code, Some(0));
    let warning = log
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning in {log}"));
    assert!(
        warning.contains("--allow-unauthenticated-network") && warning.contains("--token-file"),
        "{warning}"
    );
}

/// A client that sends `bytes` one at a time, `gap` apart, and reads whatever the server
/// answers until it closes the connection. Returns (seconds until closed, bytes sent, answer).
fn trickle(addr: &str, bytes: Vec<u8>, gap: Duration) -> thread::JoinHandle<(f64, usize, String)> {
    let addr = addr.to_string();
    thread::spawn(move || {
        let start = Instant::now();
        let mut stream = TcpStream::connect(&addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut reader = stream.try_clone().expect("clone");
        let read = thread::spawn(move || {
            let mut answer = Vec::new();
            let _ = reader.read_to_end(&mut answer);
            (start.elapsed().as_secs_f64(), answer)
        });
        let mut sent = 0;
        for b in bytes {
            if read.is_finished() || stream.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            thread::sleep(gap);
        }
        let (closed_after, answer) = read.join().expect("reader");
        (
            closed_after,
            sent,
            String::from_utf8_lossy(&answer).to_string(),
        )
    })
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    let srv = Serve::start(&["--header-timeout-ms", "1000", "--body-timeout-ms", "1500"]);
    let body = format!(r#"{{"text": "{NOTE}"}}"#);
    let second = Duration::from_secs(1);
    // Headers at one byte a second; at most 12 bytes (12 s) are ever sent.
    let slow_head = trickle(
        &srv.addr,
        head("POST", "/v1/check", &[], body.len()).into_bytes()[..12].to_vec(),
        second,
    );
    // Whole headers at once, then the body at one byte a second.
    let mut slow_body_bytes = head(
        "POST",
        "/v1/check",
        &[("Content-Type", "application/json")],
        body.len(),
    )
    .into_bytes();
    let head_len = slow_body_bytes.len();
    slow_body_bytes.extend_from_slice(body.as_bytes());
    let slow_body = {
        let addr = srv.addr.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let mut stream = TcpStream::connect(&addr).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(15)))
                .unwrap();
            stream.write_all(&slow_body_bytes[..head_len]).unwrap();
            let rest = slow_body_bytes[head_len..].to_vec();
            let t = trickle_on(stream, rest, second);
            (start.elapsed().as_secs_f64(), t)
        })
    };
    // Connects and sends nothing.
    let silent = trickle(&srv.addr, Vec::new(), second);

    // Meanwhile a normal client is answered, again and again, promptly.
    let start = Instant::now();
    let mut answered = 0;
    while start.elapsed() < Duration::from_millis(3500) && answered < 200 {
        let t = Instant::now();
        let r = srv.post("/v1/check", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "{:?}",
            t.elapsed()
        );
        answered += 1;
        thread::sleep(Duration::from_millis(100));
    }
    assert!(answered >= 10, "only {answered} answers");

    let (closed_after, sent, answer) = slow_head.join().unwrap();
    assert!(
        (0.9..4.0).contains(&closed_after),
        "slow headers closed after {closed_after} s"
    );
    assert!(sent < 6, "{sent} header bytes taken");
    assert!(!answer.contains(" 200 "), "{answer}");

    let (closed_after, (sent, answer)) = slow_body.join().unwrap();
    assert!(
        (1.4..4.5).contains(&closed_after),
        "slow body closed after {closed_after} s"
    );
    assert!(sent < body.len(), "the whole body was sent");
    let r = parse_response(answer.into_bytes());
    assert_eq!((r.status, r.error_code().as_str()), (408, "body_timeout"));
    assert_eq!(r.header("connection"), Some("close"));

    let (closed_after, _, answer) = silent.join().unwrap();
    assert!(
        (0.9..4.0).contains(&closed_after),
        "silent client closed after {closed_after} s"
    );
    assert!(answer.is_empty(), "{answer}");

    let m = srv.get("/metrics").body;
    assert!(
        m.contains("art9_requests_total{path=\"/v1/check\",status=\"408\"} 1"),
        "{m}"
    );
}

/// Sends `bytes` on `stream` one at a time, `gap` apart, until the server closes; returns
/// (bytes sent, everything the server answered).
fn trickle_on(stream: TcpStream, bytes: Vec<u8>, gap: Duration) -> (usize, String) {
    let mut reader = stream.try_clone().expect("clone");
    let read = thread::spawn(move || {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer);
        answer
    });
    let mut stream = stream;
    let mut sent = 0;
    for b in bytes {
        if read.is_finished() || stream.write_all(&[b]).is_err() {
            break;
        }
        sent += 1;
        thread::sleep(gap);
    }
    let answer = read.join().expect("reader");
    (sent, String::from_utf8_lossy(&answer).to_string())
}

/// A TLS client that trusts only `ca_pem` and expects the name `localhost`.
fn tls_request(
    addr: &str,
    ca_pem: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("test CA"))
        .expect("add CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(head(method, path, headers, body.len()).as_bytes())?;
    tls.write_all(body)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // A peer that closes without close_notify after a whole answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(parse_response(buf))
}

// Test certificates (tests/data/tls, EC P-256, for localhost and 127.0.0.1, valid to 2126):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
//     -keyout key-a.pem -out cert-a.pem -subj "/CN=art9 test a" \
//     -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
//     -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" \
//     -addext "extendedKeyUsage=serverAuth"
const CERT_A: &str = include_str!("data/tls/cert-a.pem");
const KEY_A: &str = include_str!("data/tls/key-a.pem");
const CERT_B: &str = include_str!("data/tls/cert-b.pem");
const KEY_B: &str = include_str!("data/tls/key-b.pem");

#[test]
fn tls_serves_https_and_reloads_the_certificate() {
    let dir = tmp();
    let cert = write(dir.path(), "cert.pem", CERT_A);
    let key = write(dir.path(), "key.pem", KEY_A);
    let srv = Serve::start(&[
        "--tls-cert",
        s(&cert),
        "--tls-key",
        s(&key),
        "--header-timeout-ms",
        "1000",
    ]);
    let json = ("Content-Type", "application/json");
    let note = format!(r#"{{"text": "{NOTE}"}}"#);
    let r = tls_request(&srv.addr, CERT_A, "GET", "/healthz", &[], b"").expect("https");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = tls_request(
        &srv.addr,
        CERT_A,
        "POST",
        "/v1/check",
        &[json],
        note.as_bytes(),
    )
    .expect("https");
    assert_eq!(r.json()["decision"], "mask");
    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(&srv.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(head("GET", "/healthz", &[], 0).as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    // A client that never finishes the handshake is cut off after the header timeout.
    let silent = trickle(&srv.addr, Vec::new(), Duration::from_secs(1));
    let (closed_after, _, _) = silent.join().unwrap();
    assert!((0.9..4.0).contains(&closed_after), "{closed_after}");

    // New certificate and key, SIGHUP: new connections get the new certificate.
    std::fs::write(&cert, CERT_B).unwrap();
    std::fs::write(&key, KEY_B).unwrap();
    srv.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tls_request(&srv.addr, CERT_B, "GET", "/healthz", &[], b"").is_err() {
        assert!(Instant::now() < deadline, "the new certificate never came");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(tls_request(&srv.addr, CERT_A, "GET", "/healthz", &[], b"").is_err());

    // A key that does not fit: the reload fails and the certificate in service stays.
    std::fs::write(&key, KEY_A).unwrap();
    let r = tls_request(&srv.addr, CERT_B, "POST", "/admin/reload", &[], b"").expect("https");
    assert_eq!((r.status, r.error_code().as_str()), (500, "reload_failed"));
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("TLS certificate not reloaded"),
        "{message}"
    );
    assert!(!message.contains("BEGIN"), "{message}");
    let r = tls_request(
        &srv.addr,
        CERT_B,
        "POST",
        "/v1/check",
        &[json],
        note.as_bytes(),
    )
    .expect("https with the old certificate");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(srv
        .get_tls_metrics(CERT_B)
        .contains("art9_reloads_total{result=\"error\"} 1"));
}

impl Serve {
    fn get_tls_metrics(&self, ca: &str) -> String {
        tls_request(&self.addr, ca, "GET", "/metrics", &[], b"")
            .expect("https")
            .body
    }
}

#[test]
fn bad_tls_files_are_a_one_line_error() {
    let dir = tmp();
    let cert = write(dir.path(), "cert.pem", CERT_A);
    let key = write(dir.path(), "key.pem", KEY_B);
    let err = refused(&["--tls-cert", s(&cert), "--tls-key", s(&key)]);
    assert!(err.contains("cert.pem") && err.contains("key.pem"), "{err}");
    assert!(!err.contains("BEGIN"), "{err}");
    // A certificate without its key is a usage error (clap's, several lines).
    let out = Command::new(BIN)
        .args(["serve", "--tls-cert", s(&cert)])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

/// `art9 check TEXT`, `art9 check -`, `art9 check --stdio` and `POST /v1/check` answer the same
/// note under the same policy with the same JSON: all go through `service::Engine` and print
/// the one finding type. (No field differs: the HTTP answer has no request id in its body,
/// only in the `X-Request-Id` header; `--stdio` and HTTP echo a request `id` only when the
/// request has one, and these requests have none.)
#[test]
fn check_stdio_and_http_give_the_same_json() {
    let dir = tmp();
    let policy = write(
        dir.path(),
        "p.yaml",
        "name: mixed\ndefault: {action: mask, style: label}\ncategories:\n  religion: {action: reject}\n  politics: {action: flag}\nfields:\n  summary:\n    health: {action: reject}\n",
    );
    let srv = Serve::start(&["--policy", s(&policy)]);
    let notes = [
        "Klant heeft diabetes, bel volgende week.",
        "Hij is moslim.",
        "Lid van de SP, terugbellen.",
        "Terugbellen over de factuur.",
        "Patient has asthma; prays daily as a Catholic.",
    ];
    for note in notes {
        for (field, include_text) in [(None, false), (None, true), (Some("summary"), false)] {
            let mut req = serde_json::Map::new();
            match field {
                Some(f) => req.insert("fields".into(), serde_json::json!({ f: note })),
                None => req.insert("text".into(), Value::from(note)),
            };
            if include_text {
                req.insert("include_text".into(), Value::Bool(true));
            }
            let req = Value::Object(req).to_string();
            let http = srv.post("/v1/check", &req);
            assert_eq!(http.status, 200, "{}", http.body);
            let http = http.json();

            let mut args = vec!["check", "--policy", s(&policy)];
            if let Some(f) = field {
                args.extend(["--field", f]);
            }
            if include_text {
                args.push("--include-text");
            }
            let cli = |extra: &[&str], stdin: &str| -> Value {
                let mut child = Command::new(BIN)
                    .args(&args)
                    .args(extra)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(stdin.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                let rc = out.status.code();
                let v: Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
                let want = if v["decision"] == "reject" { 1 } else { 0 };
                assert_eq!(rc, Some(want), "{v}");
                v
            };
            let arg = cli(&[note], "");
            let piped = cli(&["-"], &format!("{note}\n"));
            let mut child = Command::new(BIN)
                .args(["check", "--stdio", "--policy", s(&policy)])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{req}\n").as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let stdio: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(arg, http, "check TEXT vs POST /v1/check for {req}");
            assert_eq!(piped, http, "check - vs POST /v1/check for {req}");
            assert_eq!(stdio, http, "check --stdio vs POST /v1/check for {req}");
            assert!(
                http["text"].is_string() || http["fields"].is_object(),
                "{http}"
            );
        }
    }
}

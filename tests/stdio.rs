//! `art9 check --stdio` through a real child process: one JSON request a line in, one answer
//! a line out, in order, flushed per line, errors on their own line, exit 0 at EOF.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_art9");

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args(["check", "--stdio"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn art9 check --stdio")
}

#[test]
fn answers_line_by_line_and_survives_bad_lines() {
    let mut child = spawn(&[]);
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |line: &str| -> Value {
        // Wait for each answer before writing the next line: proves a flush per line.
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        out.read_line(&mut answer).unwrap();
        assert!(answer.ends_with('\n'), "{answer:?}");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    };

    let v = ask(r#"{"id": 1, "text": "Klant heeft diabetes, bel volgende week."}"#);
    assert_eq!(v["id"], 1);
    assert_eq!(v["decision"], "mask");
    assert_eq!(v["text"], "Klant heeft [HEALTH], bel volgende week.");
    assert_eq!(v["findings"][0]["category"], "health");
    assert!(v["findings"][0].get("text").is_none());

    let v = ask(r#"{"text": "Klant heeft diabetes"#);
    assert_eq!(v["error"]["code"], "malformed_json");
    assert!(!v.to_string().contains("diabetes"), "{v}");

    let v = ask(r#"{"id": "x", "diabetes": "Klant heeft diabetes"}"#);
    assert_eq!(v["id"], "x");
    assert_eq!(v["error"]["code"], "invalid_request");
    assert!(!v.to_string().contains("diabetes"), "{v}");

    let v =
        ask(r#"{"id": 2, "fields": {"notes": "Zij is moslim", "x": "ok"}, "policy": "strict"}"#);
    assert_eq!(v["id"], 2);
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["findings"][0]["field"], "notes");

    let v = ask("not json at all");
    assert_eq!(v["error"]["code"], "malformed_json");

    drop(stdin);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn many_lines_in_one_go_come_back_in_order() {
    let mut child = spawn(&["--policy", "strict"]);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..500 {
            let text = if i % 3 == 0 {
                "Zij is moslim"
            } else {
                "Terugbellen morgen"
            };
            writeln!(stdin, r#"{{"id": {i}, "text": "{text}"}}"#).unwrap();
            if i % 100 == 0 {
                writeln!(stdin, "   ").unwrap(); // blank lines are skipped
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 500);
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["id"], i);
        let want = if i % 3 == 0 { "reject" } else { "accept" };
        assert_eq!(v["decision"], want, "line {i}");
    }
}

#[test]
fn empty_input_exits_0_with_no_output() {
    let mut child = spawn(&[]);
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_overlong_line_is_skipped_with_an_error() {
    let mut child = spawn(&[]);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let long = format!(r#"{{"id": 1, "text": "diabetes {}"}}"#, "a".repeat(1 << 21));
        writeln!(stdin, "{long}").unwrap();
        writeln!(stdin, r#"{{"id": 2, "text": "Zij is moslim"}}"#).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["error"]["code"], "line_too_long");
    assert!(!text.contains("diabetes"));
    assert_eq!(lines[1]["id"], 2);
    assert_eq!(lines[1]["decision"], "mask");
}

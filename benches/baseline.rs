//! The raw Aho-Corasick baseline for `benches/compare`: what a plain Rust program gets out of
//! the `aho-corasick` crate on the same notes and terms, with no normalisation at all.
//!
//! * reads JSON Lines, takes the `text` field of each line (`serde_json` into a borrowed
//!   struct: no allocation unless the string holds escapes);
//! * one automaton over the terms exactly as listed in the TSV, `ascii_case_insensitive`,
//!   `MatchKind::LeftmostLongest` (non-overlapping, like most peers), automaton kind chosen
//!   by the crate;
//! * counts every match (`raw`) and the matches with an ASCII word boundary on both sides
//!   (`word`: the byte before and after is not an ASCII letter/digit and not a byte of a
//!   multi-byte UTF-8 char), which is what art9 and flashtext report.
//!
//! Usage: `baseline TERMS.tsv CORPUS.jsonl [--threads N]`; prints one JSON
//! line with bytes of field text, records and match counts. Build it with
//! `cargo build --release --example baseline`.

use std::borrow::Cow;
use std::io::{BufRead, BufReader};

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;

#[derive(serde::Deserialize)]
struct Note<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// The `text` field, borrowed from the line unless it holds escapes. Unknown fields are
/// skipped by serde without allocating.
fn field_text(line: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Note<'_>>(line).ok().map(|n| n.text)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

fn count(ac: &AhoCorasick, text: &str) -> (u64, u64) {
    let b = text.as_bytes();
    let (mut raw, mut word) = (0, 0);
    for m in ac.find_iter(text) {
        raw += 1;
        let before = m.start() == 0 || !is_word_byte(b[m.start() - 1]);
        let after = m.end() == b.len() || !is_word_byte(b[m.end()]);
        if before && after {
            word += 1;
        }
    }
    (raw, word)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 1usize;
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--threads" => {
                threads = args.get(i + 1).ok_or("--threads needs a value")?.parse()?;
                i += 1;
            }
            a => pos.push(a.to_string()),
        }
        i += 1;
    }
    let [terms_path, corpus_path] = &pos[..] else {
        return Err("usage: baseline TERMS.tsv CORPUS.jsonl [--threads N]".into());
    };
    let terms: Vec<String> = std::fs::read_to_string(terms_path)?
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let ac = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(&terms)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let mut reader = BufReader::with_capacity(256 * 1024, std::fs::File::open(corpus_path)?);
    let (mut bytes, mut records, mut raw, mut word) = (0u64, 0u64, 0u64, 0u64);
    let mut batch: Vec<String> = Vec::with_capacity(4096);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n > 0 {
            batch.push(std::mem::take(&mut line));
        }
        if batch.len() == 4096 || (n == 0 && !batch.is_empty()) {
            let (b, r, w) = pool.install(|| {
                batch
                    .par_iter()
                    .map(|l| match field_text(l) {
                        Some(t) => {
                            let (r, w) = count(&ac, &t);
                            (t.len() as u64, r, w)
                        }
                        None => (0, 0, 0),
                    })
                    .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
            });
            bytes += b;
            raw += r;
            word += w;
            records += batch.len() as u64;
            batch.clear();
        }
        if n == 0 {
            break;
        }
    }
    println!(
        "{{\"tool\":\"baseline\",\"terms\":{},\"records\":{records},\"text_bytes\":{bytes},\"matches_raw\":{raw},\"matches_word\":{word}}}",
        terms.len()
    );
    Ok(())
}

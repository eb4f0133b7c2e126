//! What the run summary's per-subject table costs: memory and time of `Tally::record` for N
//! distinct subjects, each with one note with a finding (the worst case: every subject has
//! findings; subjects without findings cost only a sketch register). Prints the peak
//! resident set (VmHWM) before and after, the serialised size, and the time per record.
//!
//! `cargo run --release --example summary_memory -- 10000000 [ids]` (`ids`: as with
//! `--show-subjects`, every subject's raw id is kept while counting).

use std::time::Instant;

use art9::output::summary::{KeySource, RunInfo, RunSummary, SubjectKey, Tally};
use art9::pipeline::{process, Options, Summary};
use art9::{Context, Record, Scanner};

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Counts the bytes written.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let scanner = Scanner::builtin().expect("built-in lexicons");
    let mut record = Record {
        line: 1,
        key: "k".into(),
        fields: vec![art9::input::Field {
            name: "note".into(),
            text: "Klant heeft diabetes".into(),
            raw_span: None,
        }],
        raw: String::new(),
        terminator: "",
        subject: None,
        context: Context::new(),
    };
    let fields = process(&scanner, &Options::default(), &record);
    assert_eq!(fields[0].findings.len(), 1);
    let key = SubjectKey::new(b"a benchmark key of 16+ bytes", KeySource::Env).unwrap();
    let ids = std::env::args().nth(2).is_some_and(|a| a == "ids");
    let mut tally = Tally::new(Some(key), false);
    if ids {
        tally = tally.with_subject_ids();
    }
    let before = vm_hwm_kib();
    let start = Instant::now();
    for i in 0..n {
        record.subject = Some(format!("C{i:09}"));
        tally.record(&record, &fields, None);
    }
    let took = start.elapsed();
    let after = vm_hwm_kib();
    let subjects = tally.subjects().map_or(0, |s| s.with_findings.len());
    println!(
        "{n} records, {subjects} subjects with findings: {:.0} ns/record; peak RSS {} MiB -> {} MiB (+{:.1} bytes/subject)",
        took.as_nanos() as f64 / n as f64,
        before / 1024,
        after / 1024,
        (after - before) as f64 * 1024.0 / subjects.max(1) as f64
    );
    let run = RunSummary::new(RunInfo::new(&scanner, None), Summary::default(), tally);
    let mut out = Counter(0);
    let start = Instant::now();
    // As `scan --summary-out` writes it (pretty, a subject row a line).
    run.write_json(&mut out).unwrap();
    println!(
        "run summary: {:.1} MB of JSON ({:.1} bytes/subject), written in {:.2} s; peak RSS {} MiB",
        out.0 as f64 / 1e6,
        out.0 as f64 / subjects.max(1) as f64,
        start.elapsed().as_secs_f64(),
        vm_hwm_kib() / 1024
    );
}

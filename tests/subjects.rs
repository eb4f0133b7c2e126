//! The per-subject roll-up (`--subjects-out`) against an independent recount: for random
//! records, every column of every subject equals what the input and the findings say, with
//! and without `--subject-id`, at 1, 2 and 4 threads and with batches of a few records (so a
//! subject's records fall into different batches and threads).

#![cfg(feature = "cli")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{art9, s};
use proptest::prelude::*;

/// Notes to draw from: sensitive ones (one or two categories) and clean ones.
const NOTES: &[&str] = &[
    "Klant heeft diabetes, belt dinsdag terug.",
    "Kunden er medlem af 3F og har været sygemeldt med stress.",
    "She is a devout Muslim and asked about the invoice.",
    "Wil een offerte voor het jaarabonnement.",
    "Called about the delivery date, all fine.",
    "Ringede om fakturaen.",
    "zat vast voor fraude, nu lid van de FNV",
];

#[derive(Debug, Default, PartialEq, Eq)]
struct Entry {
    records_scanned: u64,
    records_with_findings: u64,
    findings: BTreeMap<String, u64>,
    records: Vec<String>,
    fields: BTreeSet<String>,
}

/// One record: its subject and the indexes of its two notes.
type Rec = (usize, usize, usize);

fn records() -> impl Strategy<Value = Vec<Rec>> {
    prop::collection::vec((0..5usize, 0..NOTES.len(), 0..NOTES.len()), 1..60)
}

/// The roll-up recounted from the input and the findings (`record` keys are the ids).
fn recount(recs: &[Rec], findings: &str, only: Option<&str>) -> BTreeMap<String, Entry> {
    let mut by_record: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for l in findings.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("finding");
        by_record
            .entry(v["record"].as_str().expect("record").to_string())
            .or_default()
            .push((
                v["field"].as_str().expect("field").to_string(),
                v["category"].as_str().expect("category").to_string(),
            ));
    }
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    if let Some(o) = only {
        out.insert(o.to_string(), Entry::default());
    }
    for (i, (subject, _, _)) in recs.iter().enumerate() {
        let subject = format!("C{subject}");
        if only.is_some_and(|o| o != subject) {
            continue;
        }
        let key = (i + 1).to_string();
        let e = out.entry(subject).or_default();
        e.records_scanned += 1;
        if let Some(found) = by_record.get(&key) {
            e.records_with_findings += 1;
            e.records.push(key);
            for (field, category) in found {
                e.fields.insert(field.clone());
                *e.findings.entry(category.clone()).or_default() += 1;
            }
        }
    }
    // Reported: subjects with findings, and the one asked for.
    out.retain(|s, e| e.records_with_findings > 0 || only == Some(s.as_str()));
    out
}

fn reported(path: &std::path::Path) -> BTreeMap<String, Entry> {
    std::fs::read_to_string(path)
        .expect("subjects file")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("subject json");
            let strings = |x: &serde_json::Value| -> Vec<String> {
                x.as_array()
                    .expect("array")
                    .iter()
                    .map(|s| s.as_str().expect("string").to_string())
                    .collect()
            };
            (
                v["subject"].as_str().expect("subject").to_string(),
                Entry {
                    records_scanned: v["records_scanned"].as_u64().expect("n"),
                    records_with_findings: v["records_with_findings"].as_u64().expect("n"),
                    findings: v["findings"]
                        .as_object()
                        .expect("findings")
                        .iter()
                        .map(|(k, n)| (k.clone(), n.as_u64().expect("count")))
                        .collect(),
                    records: strings(&v["records"]),
                    fields: strings(&v["fields"]).into_iter().collect(),
                },
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn subjects_out_equals_a_recount(recs in records(), asked in 0..5usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("notes.jsonl");
        let body: String = recs
            .iter()
            .enumerate()
            .map(|(i, (c, a, b))| {
                serde_json::json!({
                    "id": i + 1, "customer": format!("C{c}"), "note": NOTES[*a], "memo": NOTES[*b]
                })
                .to_string()
                    + "\n"
            })
            .collect();
        std::fs::write(&input, body).expect("write");
        let asked = format!("C{asked}");
        for threads in ["1", "2", "4"] {
            for only in [None, Some(asked.as_str())] {
                let out = dir.path().join("subjects.jsonl");
                let mut args = vec![
                    "scan", s(&input), "--field", "note", "--field", "memo", "--key", "id",
                    "--subject", "customer", "--format", "jsonl", "-q",
                    "--threads", threads, "--batch-records", "3",
                    "--subjects-out", s(&out),
                ];
                if let Some(o) = only {
                    args.extend(["--subject-id", o]);
                }
                let o = art9(&args, None);
                prop_assert!(o.code <= 1, "{}", o.stderr);
                let expected = recount(&recs, &o.stdout, only);
                prop_assert_eq!(reported(&out), expected, "threads {} only {:?}", threads, only);
            }
        }
    }
}

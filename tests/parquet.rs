//! End-to-end tests of Parquet input (feature `parquet`, issue 22 item 5): `art9 scan
//! FILE.parquet` finds what it finds in the same rows as JSON Lines, on the examples and the
//! development corpora; the errors are one line naming the file (and the column).
//!
//! The Parquet fixtures are written here from the JSON Lines files with the `parquet` crate's
//! Arrow writer: every string member becomes a string column (a dictionary-encoded one for
//! the language), in small row groups so that a scan crosses many of them.

#![cfg(feature = "parquet")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

mod common;

use common::{art9, s, Out};

/// The string members of every line of `jsonl`, as a Parquet file in `dir` (columns in the
/// order of the first line; `lang` dictionary-encoded; a missing member is null).
fn to_parquet(jsonl: &Path, dir: &Path, group_rows: usize) -> PathBuf {
    let text = std::fs::read_to_string(jsonl).expect("read corpus");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON object"))
        .collect();
    // In the order of the first line (serde_json's map sorts its keys).
    let first = text.lines().next().expect("a line");
    let mut names: Vec<String> = rows[0]
        .iter()
        .filter(|(_, v)| v.is_string())
        .map(|(k, _)| k.clone())
        .collect();
    names.sort_by_key(|k| first.find(&format!("\"{k}\":")));
    let columns: Vec<(String, ArrayRef)> = names
        .iter()
        .map(|name| {
            let values = rows.iter().map(|r| r.get(name).and_then(|v| v.as_str()));
            let array: ArrayRef = if name == "lang" {
                let mut b = StringDictionaryBuilder::<Int32Type>::new();
                values.for_each(|v| b.append_option(v));
                Arc::new(b.finish())
            } else {
                Arc::new(values.collect::<StringArray>())
            };
            (name.clone(), array)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let name = jsonl.file_stem().and_then(|n| n.to_str()).expect("name");
    let p = dir.join(format!("{name}.parquet"));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let f = std::fs::File::create(&p).expect("create");
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    p
}

fn scan(input: &Path, extra: &[&str]) -> Out {
    let mut args = vec!["scan", s(input)];
    args.extend_from_slice(extra);
    art9(&args, None)
}

/// The same findings (and exit code) from the Parquet file as from the JSON Lines file.
fn assert_same(jsonl: &Path, parquet: &Path, extra: &[&str]) {
    let a = scan(jsonl, extra);
    let b = scan(parquet, extra);
    assert!(a.code == 0 || a.code == 1, "{}", a.stderr);
    assert_eq!(b.code, a.code, "{extra:?}: {}", b.stderr);
    assert!(!a.stdout.is_empty(), "{extra:?}: no findings to compare");
    assert_eq!(b.stdout, a.stdout, "{extra:?}");
}

#[test]
fn findings_equal_json_lines_on_the_examples() {
    let d = tempfile::tempdir().expect("tempdir");
    let jsonl = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/crm-notes.jsonl");
    let p = to_parquet(&jsonl, d.path(), 3);
    for extra in [
        &["--key", "id", "--subject", "customer_id", "--field", "note"][..],
        &["--key", "id", "--threads", "2", "--batch-records", "1"],
        &["--field", "no*", "--context", "lang", "--include-text"],
        &["--key", "id", "--subject", "customer_id", "--format", "csv"],
    ] {
        assert_same(&jsonl, &p, extra);
    }
    // The format by the first bytes, whatever the name, or as asked.
    let other = d.path().join("notes.dat");
    std::fs::copy(&p, &other).expect("copy");
    let a = scan(&jsonl, &["--key", "id"]);
    assert_eq!(scan(&other, &["--key", "id"]).stdout, a.stdout);
    assert_eq!(
        scan(&other, &["--key", "id", "--format-in", "parquet"]).stdout,
        a.stdout
    );
}

#[test]
fn findings_equal_json_lines_on_the_dev_corpora() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !shared.join("dev.jsonl").is_file() {
        eprintln!("skipped: ../shared/corpus/dev.jsonl not found");
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    for name in ["dev.jsonl", "dev2.jsonl"] {
        let jsonl = shared.join(name);
        let p = to_parquet(&jsonl, d.path(), 64);
        assert_same(&jsonl, &p, &["--key", "id", "--field", "text"]);
        assert_same(
            &jsonl,
            &p,
            &["--key", "id", "--threads", "2", "--format", "csv"],
        );
    }
}

#[test]
fn errors_are_one_line_naming_the_file() {
    let d = tempfile::tempdir().expect("tempdir");
    let jsonl = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/crm-notes.jsonl");
    let p = to_parquet(&jsonl, d.path(), 100);
    let one_error = |o: &Out, what: &str| {
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stdout.is_empty());
        assert_eq!(o.stderr.trim().lines().count(), 1, "{}", o.stderr);
        assert!(o.stderr.contains(what), "{what}: {}", o.stderr);
        assert!(!o.stderr.contains("diabetes"), "{}", o.stderr);
    };
    let o = scan(&p, &["--field", "nota"]);
    one_error(
        &o,
        "as Parquet: no column \"nota\" (columns: id, customer_id, lang, note)",
    );
    assert!(o.stderr.contains(s(&p)), "{}", o.stderr);
    // `mask` does not write Parquet, and writes nothing.
    let out = d.path().join("masked.parquet");
    let o = art9(&["mask", s(&p), "-o", s(&out)], None);
    one_error(&o, "art9 mask does not write Parquet yet");
    assert!(!out.exists());
    // Standard input, and Parquet inside gzip.
    let bytes = std::fs::read(&p).expect("read");
    one_error(
        &art9(&["scan", "-", "--format-in", "parquet"], Some(&bytes)),
        "not from standard input",
    );
    one_error(&art9(&["scan", "-"], Some(&bytes)), "a Parquet file");
    #[cfg(feature = "compress")]
    {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bytes).expect("gzip");
        let gzp = d.path().join("notes.parquet.gz");
        std::fs::write(&gzp, gz.finish().expect("gzip")).expect("write");
        one_error(&scan(&gzp, &[]), "from an uncompressed file");
    }
    // Not Parquet after all: the header holds text that must not be shown.
    let bad = d.path().join("bad.parquet");
    std::fs::write(&bad, b"PAR1\x15\x04\x15 Klant heeft diabetes").expect("write");
    one_error(&scan(&bad, &[]), "not a readable Parquet file");
}

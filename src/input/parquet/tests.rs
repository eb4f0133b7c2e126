use std::sync::Arc;

use arrow_array::builder::{StringDictionaryBuilder, StringViewBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    LargeStringArray, ListArray, RecordBatch, StringArray, TimestampMillisecondArray,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::*;

/// Write `batches` to a Parquet file in `dir`, `group_rows` rows per row group.
fn write(
    dir: &std::path::Path,
    batches: &[RecordBatch],
    group_rows: usize,
    compression: Compression,
) -> std::path::PathBuf {
    let p = dir.join("t.parquet");
    let f = File::create(&p).unwrap();
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(group_rows))
        .set_data_page_row_count_limit(16)
        .set_write_batch_size(16)
        .build();
    let mut w = ArrowWriter::try_new(f, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    p
}

fn open(p: &std::path::Path, options: ParquetOptions) -> Result<ParquetSource, ParquetError> {
    let f = File::open(p).unwrap();
    let len = f.metadata().unwrap().len();
    ParquetSource::open(f, len, options, Arc::default())
}

fn all(src: &mut ParquetSource, max_lines: usize) -> (Vec<Result<Record, Skipped>>, Vec<usize>) {
    let (mut out, mut runs) = (Vec::new(), Vec::new());
    while let Some(run) = src.next_run(max_lines) {
        let run = run.unwrap();
        runs.push(run.lines());
        run.resolve_each(|r| out.push(r));
    }
    (out, runs)
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn opts(fields: &[&str], key: &[&str]) -> ParquetOptions {
    ParquetOptions {
        fields: fields.iter().map(|s| s.to_string()).collect(),
        key: key.iter().map(|s| s.to_string()).collect(),
        max_record_bytes: 1 << 20,
        ..ParquetOptions::default()
    }
}

#[test]
fn values_as_a_json_export_holds_them() {
    let d = tempfile::tempdir().unwrap();
    let b = batch(vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![Some(7), Some(8), None])) as ArrayRef,
        ),
        (
            "note",
            Arc::new(StringArray::from(vec![
                Some("heeft diabetes"),
                None,
                Some("x"),
            ])),
        ),
        (
            "other",
            Arc::new(LargeStringArray::from(vec![Some("groot"), Some("y"), None])),
        ),
        ("score", Arc::new(Float64Array::from(vec![1.0, 0.1, 2.5]))),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(vec![12345, -5, 0])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        ("ok", Arc::new(BooleanArray::from(vec![true, false, true]))),
        ("day", Arc::new(Date32Array::from(vec![19723, 0, 1]))),
        (
            "at",
            Arc::new(
                TimestampMillisecondArray::from(vec![1_704_067_200_123, 0, 1]).with_timezone("UTC"),
            ),
        ),
    ]);
    let p = write(d.path(), &[b], 100, Compression::SNAPPY);
    // Every text column (nulls left out), key and context columns not scanned.
    let mut src = open(
        &p,
        ParquetOptions {
            key: vec!["id".into()],
            context: vec![
                "score".into(),
                "amount".into(),
                "ok".into(),
                "day".into(),
                "at".into(),
            ],
            ..opts(&[], &[])
        },
    )
    .unwrap();
    let (out, _) = all(&mut src, 1024);
    let r = out[0].as_ref().unwrap();
    assert_eq!(r.key, "7");
    assert_eq!(r.line, 1);
    let names: Vec<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["note", "other"]);
    assert_eq!(r.fields[0].text, "heeft diabetes");
    assert_eq!(r.context.get("score"), Some("1.0"));
    assert_eq!(r.context.get("amount"), Some("123.45"));
    assert_eq!(r.context.get("ok"), Some("true"));
    assert_eq!(r.context.get("day"), Some("2024-01-01"));
    assert_eq!(r.context.get("at"), Some("2024-01-01T00:00:00.123Z"));
    let r = out[1].as_ref().unwrap();
    assert_eq!(r.fields.len(), 1, "a null text column is left out");
    assert_eq!(r.context.get("score"), Some("0.1"));
    assert_eq!(r.context.get("amount"), Some("-0.05"));
    // A null key skips the row, naming the column and not its text.
    let s = out[2].as_ref().unwrap_err();
    assert_eq!(s.kind, SkipKind::MissingField);
    assert_eq!(s.line, 3);
    assert_eq!(s.field.as_deref(), Some("id"));
    assert!(s.reason.contains("\"id\" is null"), "{}", s.reason);

    // A named column: null is an empty field, as a JSON null is.
    let mut src = open(&p, opts(&["note"], &[])).unwrap();
    let (out, _) = all(&mut src, 1024);
    let r = out[1].as_ref().unwrap();
    assert_eq!(r.key, "2");
    assert_eq!(r.fields.len(), 1);
    assert_eq!(r.fields[0].text, "");
}

#[test]
fn dictionaries_views_and_binary() {
    let d = tempfile::tempdir().unwrap();
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    dict.append_value("Klant heeft diabetes");
    dict.append_null();
    dict.append_value("Klant heeft diabetes");
    let mut view = StringViewBuilder::new();
    view.append_value("kort");
    view.append_value("een langere tekst dan twaalf bytes");
    view.append_null();
    let b = batch(vec![
        ("d", Arc::new(dict.finish()) as ArrayRef),
        ("v", Arc::new(view.finish())),
        (
            "bin",
            Arc::new(BinaryArray::from(vec![
                Some(&b"ok"[..]),
                Some(&b"\xFF geheim"[..]),
                None,
            ])),
        ),
    ]);
    let p = write(d.path(), &[b], 100, Compression::UNCOMPRESSED);
    let mut src = open(&p, opts(&["d", "v", "bin"], &[])).unwrap();
    let (out, _) = all(&mut src, 1024);
    let r = out[0].as_ref().unwrap();
    let texts: Vec<&str> = r.fields.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(texts, ["Klant heeft diabetes", "kort", "ok"]);
    let s = out[1].as_ref().unwrap_err();
    assert_eq!(s.kind, SkipKind::InvalidUtf8);
    assert!(!s.reason.contains("geheim"), "{}", s.reason);
    let r = out[2].as_ref().unwrap();
    assert_eq!(
        r.fields.iter().map(|f| f.text.as_str()).collect::<Vec<_>>(),
        ["Klant heeft diabetes", "", ""]
    );
    // Binary columns are not scanned unless named; the dictionary and view ones are.
    let mut src = open(&p, opts(&[], &[])).unwrap();
    let (out, _) = all(&mut src, 1024);
    let names: Vec<&str> = out[0]
        .as_ref()
        .unwrap()
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["d", "v"]);
}

#[test]
fn columns_are_checked_when_opening() {
    let d = tempfile::tempdir().unwrap();
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
    let b = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("note", Arc::new(StringArray::from(vec!["geheim"]))),
        ("tags", Arc::new(list)),
    ]);
    let p = write(d.path(), &[b], 100, Compression::SNAPPY);
    let e = open(&p, opts(&["nota"], &[])).unwrap_err().to_string();
    assert_eq!(e, "no column \"nota\" (columns: id, note, tags)");
    let e = open(&p, opts(&["id"], &[])).unwrap_err().to_string();
    assert!(e.starts_with("column \"id\" is Int64, which art9 cannot read as a scanned field"));
    let e = open(&p, opts(&[], &["tags"])).unwrap_err().to_string();
    assert!(e.contains("cannot read as the key"), "{e}");
    let e = open(&p, opts(&["x*"], &[])).unwrap_err().to_string();
    assert!(
        e.starts_with("--field \"x*\" matches no text column"),
        "{e}"
    );
    assert!(open(&p, opts(&["no*"], &["id"])).is_ok());
    // Not Parquet at all.
    let q = d.path().join("x.parquet");
    std::fs::write(&q, b"PAR1 geheim, maar geen Parquet PAR1").unwrap();
    let e = open(&q, opts(&[], &[])).unwrap_err();
    assert!(matches!(e, ParquetError::Format(_)));
    let chain = format!("{e}: {}", std::error::Error::source(&e).unwrap());
    assert!(!chain.contains("geheim"), "{chain}");
}

/// Row groups are cut into runs; every row comes out once, in order, numbered over the
/// file, whatever the codec.
#[test]
fn runs_cover_every_row_in_order() {
    let d = tempfile::tempdir().unwrap();
    let n = 300;
    let ids: Vec<i64> = (0..n).collect();
    let notes: Vec<String> = (0..n).map(|i| format!("notitie {i}")).collect();
    let make = |from: usize, to: usize| {
        batch(vec![
            (
                "id",
                Arc::new(Int64Array::from(ids[from..to].to_vec())) as ArrayRef,
            ),
            (
                "note",
                Arc::new(StringArray::from(notes[from..to].to_vec())),
            ),
        ])
    };
    for codec in [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::LZ4_RAW,
        Compression::ZSTD(ZstdLevel::default()),
    ] {
        let p = write(d.path(), &[make(0, 100), make(100, 300)], 130, codec);
        let mut src = open(&p, opts(&["note"], &["id"])).unwrap();
        assert_eq!(src.rows(), 300);
        // One line a batch asked for: runs of 64 rows (the most a run takes).
        let (out, runs) = all(&mut src, 1);
        assert_eq!(runs, [64, 64, 2, 64, 64, 2, 40], "{codec:?}");
        assert_eq!(out.len(), 300);
        for (i, r) in out.iter().enumerate() {
            let r = r.as_ref().unwrap();
            assert_eq!(r.key, i.to_string());
            assert_eq!(r.line, i as u64 + 1);
            assert_eq!(r.fields[0].text, notes[i]);
        }
        // One record at a time gives the same.
        let mut src = open(&p, opts(&["note"], &["id"])).unwrap();
        let mut one = Vec::new();
        while let Some(r) = src.next_record() {
            one.push(r.unwrap());
        }
        assert_eq!(one, out);
    }
}

/// A damaged page: the rows it holds are skipped with a reason naming the row group, every
/// other row is read; nothing is lost and no text is shown.
#[test]
fn a_damaged_row_group_skips_its_rows() {
    let d = tempfile::tempdir().unwrap();
    let notes: Vec<String> = (0..40)
        .map(|i| format!("geheim {i} {}", "x".repeat(50)))
        .collect();
    let b = batch(vec![(
        "note",
        Arc::new(StringArray::from(notes.clone())) as ArrayRef,
    )]);
    let p = write(d.path(), &[b], 20, Compression::SNAPPY);
    let src = open(&p, opts(&["note"], &[])).unwrap();
    // Damage the middle of the second row group's column chunk.
    let meta = src.shared.metadata.metadata().row_group(1).column(0);
    let (start, len) = meta.byte_range();
    let mut bytes = std::fs::read(&p).unwrap();
    for b in &mut bytes[(start + len / 3) as usize..(start + len / 2) as usize] {
        *b = 0xA5;
    }
    std::fs::write(&p, &bytes).unwrap();
    let mut src = open(&p, opts(&["note"], &[])).unwrap();
    let (out, _) = all(&mut src, 1024);
    assert_eq!(out.len(), 40);
    assert!(out[..20].iter().all(|r| r.is_ok()));
    let skipped: Vec<&Skipped> = out[20..].iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!skipped.is_empty());
    for s in skipped {
        assert_eq!(s.kind, SkipKind::Unreadable);
        assert!(s.reason.starts_with("row group 1: "), "{}", s.reason);
        assert!(!s.reason.contains("geheim"), "{}", s.reason);
    }
}

#[test]
fn rows_over_the_record_limit_are_skipped() {
    let d = tempfile::tempdir().unwrap();
    let b = batch(vec![(
        "note",
        Arc::new(StringArray::from(vec!["kort", &"x".repeat(200)])) as ArrayRef,
    )]);
    let p = write(d.path(), &[b], 100, Compression::SNAPPY);
    let mut src = open(
        &p,
        ParquetOptions {
            max_record_bytes: 100,
            ..opts(&[], &[])
        },
    )
    .unwrap();
    let (out, _) = all(&mut src, 1024);
    assert!(out[0].is_ok());
    assert_eq!(out[1].as_ref().unwrap_err().kind, SkipKind::TooLarge);
}

//! Record sources: where the notes come from. The scan pipeline does not care which.
//!
//! Every record read is either handed on as a [`Record`] or reported as [`Skipped`] with the
//! line and a reason that never contains the record's text; no record is silently lost.
//!
//! Sources: [`JsonLines`], [`TextLines`], [`CsvSource`] (CSV/TSV, see [`csv`]) and
//! [`JsonArray`] (one JSON array file, see [`json_array`]), and with the feature `parquet`
//! `parquet::ParquetSource` (a Parquet file's row groups). Field names given by the user may
//! be `*`/`?` globs ([`is_glob_match`]).

pub mod compress;
pub mod csv;
mod detect;
pub mod json_array;

pub use self::csv::{CsvError, CsvOptions, CsvRow, CsvSource};
pub use self::detect::{BinaryKind, Compression, Detected, NotReadable};
pub use self::json_array::JsonArray;

mod fields;
mod json;
mod jsonl;
mod text;

pub use self::fields::*;
pub use self::json::*;
pub use self::jsonl::*;
pub use self::text::*;
pub use crate::record::{Context, Field, Record};

use std::borrow::Cow;
use std::io::{self, BufRead};
use std::sync::Arc;

use serde_json::value::RawValue;

pub mod db;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// Why [`unwrap_input`] could not hand on a reader of text.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input is a binary format (or compressed in a way this build does not read).
    #[error(transparent)]
    NotReadable(#[from] NotReadable),
    /// Reading the input's first bytes failed.
    #[error(transparent)]
    Read(io::Error),
    /// Decompressing the input's first bytes failed (the message names the input).
    #[error(transparent)]
    Decompress(io::Error),
}

/// The first bytes `reader` holds (one read, retried when interrupted; empty at the end).
fn head_of(reader: &mut dyn BufRead) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    reader.fill_buf()
}

/// Look at the first bytes of `reader` (the `detect` module): text is handed back as it is,
/// gzip and zstd as a reader of the decompressed bytes (feature `compress`), with the
/// compression found; a binary format is an error saying what it looks like. `utf16`: the
/// input was declared UTF-16 (NUL bytes are expected). `label` names the input in
/// decompression errors. Nothing is consumed, so the byte-order mark is still there for
/// [`crate::encoding::decoded`].
///
/// # Errors
/// [`InputError`]: a binary format, a compressed one this build cannot read, or a read error.
pub fn unwrap_input(
    mut reader: Box<dyn BufRead + Send>,
    utf16: bool,
    label: &str,
) -> Result<(Box<dyn BufRead + Send>, Compression), InputError> {
    let head = head_of(&mut *reader).map_err(InputError::Read)?;
    let compression = match detect::detect(head, utf16) {
        Detected::Text => return Ok((reader, Compression::None)),
        Detected::Binary(kind) => {
            return Err(NotReadable::Binary {
                kind,
                within: Compression::None,
            }
            .into())
        }
        Detected::Compressed(c) => c,
    };
    #[cfg(feature = "compress")]
    {
        let mut inner =
            compress::decompressing(reader, compression, label).map_err(InputError::Decompress)?;
        let head = head_of(&mut *inner).map_err(InputError::Decompress)?;
        match detect::detect(head, utf16) {
            Detected::Text => Ok((inner, compression)),
            Detected::Binary(kind) => Err(NotReadable::Binary {
                kind,
                within: compression,
            }
            .into()),
            Detected::Compressed(c) => Err(NotReadable::Nested {
                outer: compression,
                inner: c,
            }
            .into()),
        }
    }
    #[cfg(not(feature = "compress"))]
    {
        let _ = label;
        Err(NotReadable::NoSupport(compression).into())
    }
}

/// Default limit for one record (line, CSV row, JSON array element, database row) in bytes:
/// 10 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 10 * 1024 * 1024;
/// Default limit for one field's text in bytes: 10 MB (`--max-field-bytes`).
pub const DEFAULT_MAX_FIELD_BYTES: usize = 10_000_000;

/// Why a record was skipped. The kind is what summaries count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipKind {
    /// Not valid JSON, or not a JSON object.
    InvalidJson,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// A requested field (or the key) is missing.
    MissingField,
    /// A requested field is not a string (number, object, …).
    NotText,
    /// Over the record size limit.
    TooLarge,
    /// A field over the field size limit.
    FieldTooLarge,
    /// Contains a NUL byte.
    NulByte,
    /// A CSV row with more or fewer fields than the header.
    RaggedRow,
    /// A Parquet row whose row group could not be decoded (a damaged page, a compression
    /// this build does not read).
    Unreadable,
}

impl SkipKind {
    /// Short name used in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipKind::InvalidJson => "invalid_json",
            SkipKind::InvalidUtf8 => "invalid_utf8",
            SkipKind::MissingField => "missing_field",
            SkipKind::NotText => "not_text",
            SkipKind::TooLarge => "too_large",
            SkipKind::FieldTooLarge => "field_too_large",
            SkipKind::NulByte => "nul_byte",
            SkipKind::RaggedRow => "ragged_row",
            SkipKind::Unreadable => "unreadable",
        }
    }
}

/// A record that could not be scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number.
    pub line: u64,
    /// The key, when it could be read.
    pub key: Option<String>,
    /// The field concerned, if any.
    pub field: Option<String>,
    /// The kind, for counting.
    pub kind: SkipKind,
    /// A one-line reason (never contains record text).
    pub reason: String,
}

impl Skipped {
    /// A record skipped as a whole, before its key or fields could be read.
    pub fn at_line(line: u64, kind: SkipKind, reason: String) -> Skipped {
        Skipped {
            line,
            key: None,
            field: None,
            kind,
            reason,
        }
    }

    /// A record over the `--max-record-bytes` limit of `max` bytes.
    pub fn too_large(line: u64, max: usize) -> Skipped {
        Skipped::at_line(
            line,
            SkipKind::TooLarge,
            format!("record is over the {max} byte limit (--max-record-bytes)"),
        )
    }
}

/// A source of records.
pub trait RecordSource: Send {
    /// The next record, a skipped one, or `None` at the end. An `Err` is a fatal read error
    /// (the file cannot be read any more).
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>>;

    /// Like [`RecordSource::next_record`], but a source may hand over a record whose
    /// parsing is left to [`Pending::resolve`], so that the batch engine parses on its worker
    /// threads instead of where it is read. The default parses at once.
    fn next_pending(&mut self) -> Option<io::Result<Pending>> {
        self.next_record().map(|r| r.map(Pending::Ready))
    }

    /// Like [`RecordSource::next_pending`], for the batch engine: a source may hand over
    /// many records in one piece, to be split on a worker thread ([`Run::resolve_each`]), so
    /// that reading does not have to find where each record ends. A run holds at
    /// most `max_lines` input lines. The default hands over one record at a time.
    fn next_run(&mut self, max_lines: usize) -> Option<io::Result<Run>> {
        let _ = max_lines;
        self.next_pending().map(|r| r.map(Run::One))
    }
}

/// Records as the batch engine receives them from [`RecordSource::next_run`].
#[derive(Debug)]
pub enum Run {
    /// One record, possibly not parsed yet.
    One(Pending),
    /// Whole lines of a JSON Lines input, not split yet.
    JsonLines(JsonRun),
    /// Records as a database reader thread handed them over, many at a time, so that the
    /// pipeline does not take them one by one.
    Many(Vec<Pending>),
    /// Rows of a Parquet row group, decoded on the worker that resolves them.
    #[cfg(feature = "parquet")]
    Parquet(parquet::ParquetRun),
}

impl Run {
    /// Input lines in the run (for a JSON run, blank lines included): for batch sizing.
    pub fn lines(&self) -> usize {
        match self {
            Run::One(_) => 1,
            Run::JsonLines(r) => r.lines,
            Run::Many(v) => v.len(),
            #[cfg(feature = "parquet")]
            Run::Parquet(r) => r.rows(),
        }
    }

    /// Bytes of the run as read (for batch sizing).
    pub fn raw_len(&self) -> usize {
        match self {
            Run::One(p) => p.raw_len(),
            Run::JsonLines(r) => r.end - r.start,
            Run::Many(v) => v.iter().map(Pending::raw_len).sum(),
            #[cfg(feature = "parquet")]
            Run::Parquet(r) => r.raw_len(),
        }
    }

    /// Split and parse: `each` gets every record of the run, or why it was skipped, in input
    /// order. Blank lines of a JSON run are not records and give nothing.
    pub fn resolve_each(self, mut each: impl FnMut(Result<Record, Skipped>)) {
        match self {
            Run::One(p) => each(p.resolve()),
            Run::JsonLines(r) => r.resolve_each(each),
            Run::Many(v) => v.into_iter().for_each(|p| each(p.resolve())),
            #[cfg(feature = "parquet")]
            Run::Parquet(r) => r.resolve_each(each),
        }
    }
}

/// A record as read, possibly not parsed yet; see [`RecordSource::next_pending`].
#[derive(Debug)]
pub enum Pending {
    /// Already a record (or skipped).
    Ready(Result<Record, Skipped>),
    /// A JSON line (its size checked) still to be checked for NUL and UTF-8 and parsed.
    Json(JsonLine),
    /// A CSV record's bytes (its end found, its fields not split yet).
    Csv(CsvRow),
    /// A PostgreSQL row as the server sent it (its end found, its values not decoded yet).
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgRow),
}

impl Pending {
    /// Bytes of the record as read (for batch sizing).
    pub fn raw_len(&self) -> usize {
        match self {
            Pending::Ready(Ok(r)) => r.raw.len(),
            Pending::Ready(Err(_)) => 0,
            Pending::Json(j) => j.end - j.start,
            Pending::Csv(row) => row.raw_len(),
            #[cfg(feature = "postgres")]
            Pending::Postgres(row) => row.raw_len(),
        }
    }

    /// Parse (if not done yet): the record or why it was skipped.
    pub fn resolve(self) -> Result<Record, Skipped> {
        match self {
            Pending::Ready(r) => r,
            Pending::Json(j) => j.resolve(),
            Pending::Csv(row) => row.resolve(),
            #[cfg(feature = "postgres")]
            Pending::Postgres(row) => row.resolve(),
        }
    }
}

/// The first field of `record` over `max` bytes (0 = no limit), as a skip naming the record,
/// the field and its size; never its text.
pub fn oversized_field(record: &Record, max: usize) -> Option<Skipped> {
    if max == 0 {
        return None;
    }
    let f = record.fields.iter().find(|f| f.text.len() > max)?;
    Some(field_too_large(
        record.line,
        Some(record.key.clone()),
        &f.name,
        f.text.len() as u64,
        max,
    ))
}

/// The skip for a field of `size` bytes over the `max` of `--max-field-bytes`.
pub fn field_too_large(
    line: u64,
    key: Option<String>,
    field: &str,
    size: u64,
    max: usize,
) -> Skipped {
    Skipped {
        line,
        key,
        field: Some(field.to_string()),
        kind: SkipKind::FieldTooLarge,
        reason: format!(
            "field {field} is {size} bytes, over the {max} byte limit (--max-field-bytes)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(fields: &[&str], key: &[&str]) -> JsonOptions {
        JsonOptions {
            fields: fields.iter().map(|s| s.to_string()).collect(),
            key: key.iter().map(|s| s.to_string()).collect(),
            subject: None,
            context: Vec::new(),
        }
    }

    proptest::proptest! {
        /// The vectorised check says what std's says, error position included: on text, on
        /// text cut anywhere (inside a char, too) and on arbitrary bytes.
        #[test]
        fn utf8_check_equals_std(
            text in "[a-zæøåé€😀 ]{0,80}",
            cut in 0usize..400,
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
        ) {
            let t = text.as_bytes();
            for b in [t, &t[..cut.min(t.len())], &t[cut.min(t.len())..], &bytes[..]] {
                proptest::prop_assert_eq!(utf8(b), std::str::from_utf8(b));
            }
        }
    }

    /// A `BufRead` that notes the size of every `read` asked of it.
    struct ReadSizes<R> {
        inner: R,
        asked: Arc<std::sync::Mutex<Vec<usize>>>,
    }

    impl<R: io::Read> io::Read for ReadSizes<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.asked.lock().unwrap().push(buf.len());
            self.inner.read(buf)
        }
    }

    impl<R: BufRead> BufRead for ReadSizes<R> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            self.inner.fill_buf()
        }
        fn consume(&mut self, n: usize) {
            self.inner.consume(n)
        }
    }

    /// With lines under a quarter block, every read asks for at least three quarters of a
    /// block, so that a `BufReader` of that capacity (what `art9 scan` opens files with)
    /// hands it to the file instead of copying through its own buffer; and lines that cross
    /// blocks still come out whole.
    #[test]
    fn reads_bypass_the_buffer() {
        let block = 256;
        let lines: Vec<String> = (0..200)
            .map(|i| format!("{{\"id\": {i}, \"t\": \"{}\"}}\n", "x".repeat(i % 37)))
            .collect();
        let input = lines.concat();
        let asked = Arc::default();
        let reader = ReadSizes {
            inner: io::BufReader::with_capacity(block / 4 * 3, input.as_bytes()),
            asked: Arc::clone(&asked),
        };
        let mut src = JsonLines::new(reader, 1 << 20, opts(&["t"], &["id"])).block_bytes(block);
        let mut n = 0;
        while let Some(p) = src.next_pending() {
            let r = p.unwrap().resolve().unwrap();
            assert_eq!(r.key, n.to_string());
            assert_eq!(r.fields[0].text.len(), n % 37);
            n += 1;
        }
        assert_eq!(n, 200);
        let asked = asked.lock().unwrap();
        assert!(asked.len() > 10, "{asked:?}");
        assert!(asked.iter().all(|&len| len >= block / 4 * 3), "{asked:?}");
    }

    /// Lines for the run tests: records, blank and whitespace lines, CRLF, bad JSON, bad
    /// UTF-8, a NUL, and lines over the 40-byte limit the tests use.
    const RUN_LINES: [&[u8]; 11] = [
        b"{\"id\": 1, \"t\": \"short\"}\n",
        b"{\"id\": 2, \"t\": \"crlf\"}\r\n",
        b"\n",
        b"  \t \n",
        b"{\"id\": 3, \"t\": \"a note that is over the limit\"}\n",
        b"{\"id\": 4, \"t\": \"x\\u00e9\"}\n",
        b"not json\n",
        b"{\"id\": 5, \"t\": \"\xff\"}\n",
        b"{\"id\": 6, \"t\": \"\x00\"}\n",
        b"{\"t\": \"no id\"}\n",
        b"{\"id\": 7, \"t\": \"long line, no end, that is well over the limit\"}",
    ];

    /// Every record of `input` (or skip), via `next_record`, or via `next_run` and a
    /// worker's split, with blocks of `block` bytes.
    fn records_of(input: &[u8], block: usize, runs: Option<usize>) -> Vec<Result<Record, Skipped>> {
        let mut src = JsonLines::new(input, 40, opts(&["t"], &["id"])).block_bytes(block);
        let mut out = Vec::new();
        match runs {
            None => {
                while let Some(r) = src.next_record() {
                    out.push(r.unwrap());
                }
            }
            Some(max_lines) => {
                while let Some(run) = src.next_run(max_lines) {
                    let run = run.unwrap();
                    assert!(run.lines() <= max_lines.max(1));
                    run.resolve_each(|r| out.push(r));
                }
            }
        }
        out
    }

    proptest::proptest! {
        /// Handing lines on in runs (split on a worker) gives the records and skips, line
        /// numbers included, that reading line by line gives: whatever the block size, the
        /// run size, blank lines, CRLF, bad lines, lines over the limit (also across blocks)
        /// and a last line without a line end.
        #[test]
        fn runs_give_what_lines_give(
            picks in proptest::collection::vec(0usize..10, 0..60),
            last in proptest::bool::ANY,
            block in 8usize..200,
            max_lines in 1usize..40,
        ) {
            let mut input: Vec<u8> = picks.iter().flat_map(|&i| RUN_LINES[i].to_vec()).collect();
            if last {
                input.extend_from_slice(RUN_LINES[10]);
            }
            let by_line = records_of(&input, block, None);
            proptest::prop_assert_eq!(records_of(&input, block, Some(max_lines)), by_line);
        }
    }

    /// Runs hold whole lines of a block: with the default block, a file of short lines comes
    /// in runs of many lines (reading does not look at every line end), split at
    /// `max_lines`.
    #[test]
    fn runs_hold_many_lines() {
        let input: Vec<u8> = (0..3000)
            .flat_map(|i| format!("{{\"id\": {i}, \"t\": \"note {i}\"}}\n").into_bytes())
            .collect();
        let mut src = JsonLines::new(&input[..], 1 << 20, opts(&["t"], &["id"]));
        let mut sizes = Vec::new();
        let mut keys = Vec::new();
        while let Some(run) = src.next_run(1000) {
            let run = run.unwrap();
            sizes.push(run.lines());
            run.resolve_each(|r| keys.push(r.unwrap().key));
        }
        assert_eq!(sizes, [1000, 1000, 1000]);
        assert_eq!(keys, (0..3000).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    /// A line or run not parsed yet shows its size, never its text.
    #[test]
    fn pending_lines_and_runs_hide_their_text() {
        let input = b"{\"t\": \"Klant heeft diabetes\"}\n{\"t\": \"kankerpatient\"}\n";
        let mut src = JsonLines::new(&input[..], 1 << 20, opts(&["t"], &[]));
        let line = src.next_pending().unwrap().unwrap();
        let run = src.next_run(10).unwrap().unwrap();
        for debug in [format!("{line:?}"), format!("{run:?}")] {
            assert!(
                !debug.contains("diabetes") && !debug.contains("kanker"),
                "{debug}"
            );
        }
        let mut texts = vec![line.resolve().unwrap().fields[0].text.clone()];
        run.resolve_each(|r| texts.push(r.unwrap().fields[0].text.clone()));
        assert_eq!(texts, ["Klant heeft diabetes", "kankerpatient"]);
    }

    #[test]
    fn globs() {
        assert!(is_glob_match("note*", "notes"));
        assert!(is_glob_match("note*", "note"));
        assert!(is_glob_match("*_note", "call_note"));
        assert!(is_glob_match("n?te", "note"));
        assert!(is_glob_match("*a*b*", "xxaxxbxx"));
        assert!(!is_glob_match("note*", "Note"));
        assert!(!is_glob_match("n?te", "nte"));
        let raw = r#"{"id": 1, "note_a": "x", "other": "y", "note_b": "z", "note_n": 3}"#;
        let r = parse_json_record(raw.into(), "", 1, &opts(&["note*"], &["id"])).unwrap();
        let names: Vec<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["note_a", "note_b"]);
    }

    #[test]
    fn locates_fields_for_masking() {
        let raw = r#"{"id": 7, "a": {"note": "x\u00e9y"}, "t": "plain"}"#.to_string();
        let r = parse_json_record(raw.clone(), "\n", 1, &opts(&["a.note", "t"], &["id"])).unwrap();
        assert_eq!(r.key, "7");
        assert_eq!(r.fields[0].text, "xéy");
        let (s, e) = r.fields[0].raw_span.unwrap();
        assert_eq!(&raw[s..e], r#""x\u00e9y""#);
        assert_eq!(r.fields[1].text, "plain");
    }

    #[test]
    fn errors_never_echo_text() {
        let secret = "\"klant heeft kanker\"".to_string();
        let e = parse_json_record(secret, "", 3, &opts(&["t"], &[])).unwrap_err();
        assert_eq!(e.kind, SkipKind::InvalidJson);
        assert!(!e.reason.contains("kanker"), "{}", e.reason);
        let e = parse_json_record(r#"{"t": 5}"#.into(), "", 3, &opts(&["t"], &[])).unwrap_err();
        assert_eq!(e.kind, SkipKind::NotText);
        let e = parse_json_record(r#"{"u": "x"}"#.into(), "", 3, &opts(&["t"], &[])).unwrap_err();
        assert_eq!(e.kind, SkipKind::MissingField);
    }

    #[test]
    fn limited_lines() {
        let data = b"short\nthis line is long\nok";
        let mut r = &data[..];
        let mut buf = Vec::new();
        assert_eq!(read_line_limited(&mut r, &mut buf, 8).unwrap(), (6, false));
        assert_eq!(read_line_limited(&mut r, &mut buf, 8).unwrap(), (18, true));
        assert_eq!(read_line_limited(&mut r, &mut buf, 8).unwrap(), (2, false));
        assert_eq!(buf, b"ok");
        assert_eq!(read_line_limited(&mut r, &mut buf, 8).unwrap(), (0, false));
    }
}

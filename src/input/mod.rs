//! Record sources: where the notes come from. The scan pipeline does not care which.
//!
//! Every record read is either handed on as a [`Record`] or reported as [`Skipped`] with the
//! line and a reason that never contains the record's text; no record is silently lost.
//!
//! Sources: [`JsonLines`], [`TextLines`], [`CsvSource`] (CSV/TSV, see [`csv`]) and
//! [`JsonArray`] (one JSON array file, see [`json_array`]). Field names given by the user may
//! be `*`/`?` globs ([`is_glob_match`]).

pub mod compress;
pub mod csv;
pub mod detect;
pub mod json_array;

pub use self::csv::{CsvError, CsvOptions, CsvRow, CsvSource};
pub use self::detect::{BinaryKind, Compression, Detected, NotReadable};
pub use self::json_array::JsonArray;

use std::borrow::Cow;
use std::io::{self, BufRead};
use std::sync::Arc;

use serde_json::value::RawValue;

pub mod db;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

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

/// Look at the first bytes of `reader` ([`detect::detect`]): text is handed back as it is,
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

/// One text field of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name (dotted path for nested JSON).
    pub name: String,
    /// The decoded text (empty for JSON `null`).
    pub text: String,
    /// Byte range of the field's JSON string token in [`Record::raw`], for masking in place.
    pub raw_span: Option<(usize, usize)>,
}

/// A record to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number where the record starts.
    pub line: u64,
    /// The record key (from `--key`, else the line number).
    pub key: String,
    /// The text fields to scan.
    pub fields: Vec<Field>,
    /// The record as read, without its line terminator (used by `mask`).
    pub raw: String,
    /// The line terminator that followed it (`"\n"`, `"\r\n"` or `""` at EOF). Sources
    /// whose records span lines (CSV, JSON arrays) keep the exact bytes in `raw` and leave
    /// this empty.
    pub terminator: &'static str,
    /// The data subject the record is about (`--subject`), when the source knows it.
    pub subject: Option<String>,
}

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
}

impl Run {
    /// Input lines in the run (for a JSON run, blank lines included): for batch sizing.
    pub fn lines(&self) -> usize {
        match self {
            Run::One(_) => 1,
            Run::JsonLines(r) => r.lines,
            Run::Many(v) => v.len(),
        }
    }

    /// Bytes of the run as read (for batch sizing).
    pub fn raw_len(&self) -> usize {
        match self {
            Run::One(p) => p.raw_len(),
            Run::JsonLines(r) => r.end - r.start,
            Run::Many(v) => v.iter().map(Pending::raw_len).sum(),
        }
    }

    /// Split and parse: `each` gets every record of the run, or why it was skipped, in input
    /// order. Blank lines of a JSON run are not records and give nothing.
    pub fn resolve_each(self, mut each: impl FnMut(Result<Record, Skipped>)) {
        match self {
            Run::One(p) => each(p.resolve()),
            Run::JsonLines(r) => r.resolve_each(each),
            Run::Many(v) => v.into_iter().for_each(|p| each(p.resolve())),
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

/// One line of a [`JsonLines`] input, not parsed yet. Its bytes stay in the block they were
/// read in, shared with the other lines of that block: reading neither copies nor
/// allocates per line, and the worker that parses the line reads it where it is.
#[derive(Debug)]
pub struct JsonLine {
    block: Arc<Block>,
    /// The line's bytes in `block`, terminator included.
    start: usize,
    end: usize,
    line: u64,
    keep_raw: bool,
}

/// Input bytes read in one go, with what the lines in them need for parsing (one shared
/// counter a line, not two).
#[derive(Default)]
struct Block {
    bytes: Vec<u8>,
    options: Arc<JsonOptions>,
}

impl std::fmt::Debug for Block {
    // Never the bytes: they hold note text (a `Pending` or `Run` may end up in a log).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl JsonLine {
    fn resolve(self) -> Result<Record, Skipped> {
        resolve_line(&self.block, self.start, self.end, self.line, self.keep_raw)
    }
}

/// Line `line`, bytes `start..end` (terminator included) of `block`, parsed.
fn resolve_line(
    block: &Block,
    start: usize,
    end: usize,
    line: u64,
    keep_raw: bool,
) -> Result<Record, Skipped> {
    let (body, terminator) = split_terminator(&block.bytes[start..end]);
    let text = check_line(body, line)?;
    let mut record = parse_json_fields(text, terminator, line, &block.options)?;
    if keep_raw {
        record.raw = text.to_string();
    }
    Ok(record)
}

/// Whole lines of a [`JsonLines`] block, handed on in one piece: reading only
/// finds the block's last line end and counts the lines (for their numbers); the worker that
/// parses them finds each line's end, and applies the checks the reader applies to a single
/// line (blank lines are not records; a line over the limit is skipped as too large).
#[derive(Debug)]
pub struct JsonRun {
    block: Arc<Block>,
    /// The lines' bytes in `block`; `end` is just after a line end.
    start: usize,
    end: usize,
    /// The number of the first line, and how many lines there are.
    first_line: u64,
    lines: usize,
    keep_raw: bool,
    /// The record limit (`--max-record-bytes`).
    max: usize,
}

impl JsonRun {
    fn resolve_each(self, mut each: impl FnMut(Result<Record, Skipped>)) {
        // A line is at most the limit plus a CRLF terminator (as in `next_pending`).
        let limit = self.max.saturating_add(2);
        let bytes = &self.block.bytes[self.start..self.end];
        let mut from = 0;
        for (this, nl) in (self.first_line..).zip(memchr::memchr_iter(b'\n', bytes)) {
            let (start, end) = (from, nl + 1);
            from = end;
            if end - start > limit {
                each(Err(Skipped::too_large(this, self.max)));
            } else if !is_blank(&bytes[start..end]) {
                each(resolve_line(
                    &self.block,
                    self.start + start,
                    self.start + end,
                    this,
                    self.keep_raw,
                ));
            }
        }
    }
}

/// A line of nothing but ASCII whitespace (not a record).
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// The number of line ends in `bytes` (`bytecount`: 32 bytes a step; a plain iterator
/// count compiled to 4 bytes a step and cost more than the per-line search it replaced).
fn count_line_ends(bytes: &[u8]) -> usize {
    bytecount::count(bytes, b'\n')
}

/// NUL and UTF-8 checks of a line without its terminator.
fn check_line(body: &[u8], line: u64) -> Result<&str, Skipped> {
    let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
    if let Some(i) = memchr::memchr(0, body) {
        return Err(nul_byte(line, i));
    }
    utf8(body).map_err(|e| {
        skip(
            SkipKind::InvalidUtf8,
            format!("invalid UTF-8 at column {}", e.valid_up_to() + 1),
        )
    })
}

/// `bytes` as text if they are UTF-8: `simdutf8`'s vectorised check (1.7× std's on the
/// benchmark's notes, where std's check was 3–4% of a scan), std's for the error position.
#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

/// The skip for a NUL byte at byte `at` of a line.
fn nul_byte(line: u64, at: usize) -> Skipped {
    Skipped::at_line(
        line,
        SkipKind::NulByte,
        format!("NUL byte at column {}", at + 1),
    )
}

/// How JSON records are turned into fields.
#[derive(Clone, Debug, Default)]
pub struct JsonOptions {
    /// Fields to scan (dotted paths). Empty = every top-level string field except the key.
    pub fields: Vec<String>,
    /// Key field(s); joined with `:` when several. Empty = line number.
    pub key: Vec<String>,
    /// Field naming the data subject (a string or number; missing or null = none).
    pub subject: Option<String>,
}

/// Whether `pattern` holds glob metacharacters (`*`, `?`).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Match `name` against a glob: `*` = any run of chars, `?` = one char; case-sensitive.
pub fn is_glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Classic backtracking over the last `*`: linear for patterns with one star.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Reads a line of at most `max` bytes (excluding the terminator). Returns the number of
/// bytes consumed (0 at EOF) and whether the line was over the limit (then `buf` holds only a
/// prefix and the rest of the line has been consumed and dropped).
pub(crate) fn read_line_limited<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(usize, bool)> {
    buf.clear();
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, too_long));
        }
        let (chunk, done) = match memchr_newline(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > max + 2 {
                too_long = true;
                let keep = (max + 2).saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..keep.min(n)]);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        consumed += n;
        r.consume(n);
        if done {
            return Ok((consumed, too_long));
        }
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// Room for a typical note line, so that reading one rarely grows its buffer.
const LINE_CAPACITY: usize = 512;

fn split_terminator(buf: &[u8]) -> (&[u8], &'static str) {
    if let Some(b) = buf.strip_suffix(b"\r\n") {
        (b, "\r\n")
    } else if let Some(b) = buf.strip_suffix(b"\n") {
        (b, "\n")
    } else {
        (buf, "")
    }
}

/// Plain text: every line is one record with a single field `text`, keyed by line number.
pub struct TextLines<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    max: usize,
}

impl<R: BufRead + Send> TextLines<R> {
    /// Read lines from `reader`, skipping lines over `max` bytes.
    pub fn new(reader: R, max: usize) -> TextLines<R> {
        TextLines {
            reader,
            line: 0,
            buf: Vec::new(),
            max,
        }
    }
}

/// Check size, NUL and UTF-8 of a line; returns the text and terminator.
///
/// The line's bytes are moved out of `buf` (which is left with room for the next line), so
/// the text is not copied again.
fn decode_line(
    buf: &mut Vec<u8>,
    too_long: bool,
    max: usize,
    line: u64,
) -> Result<(String, &'static str), Skipped> {
    let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
    if too_long {
        return Err(Skipped::too_large(line, max));
    }
    let (body, term) = split_terminator(buf);
    if let Some(i) = memchr::memchr(0, body) {
        return Err(nul_byte(line, i));
    }
    let body_len = body.len();
    let mut bytes = std::mem::replace(buf, Vec::with_capacity(LINE_CAPACITY));
    bytes.truncate(body_len);
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, term)),
        Err(e) => Err(skip(
            SkipKind::InvalidUtf8,
            format!(
                "invalid UTF-8 at column {}",
                e.utf8_error().valid_up_to() + 1
            ),
        )),
    }
}

impl<R: BufRead + Send> RecordSource for TextLines<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        let (n, too_long) = match read_line_limited(&mut self.reader, &mut self.buf, self.max) {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        if n == 0 {
            return None;
        }
        self.line += 1;
        let line = self.line;
        Some(Ok(decode_line(&mut self.buf, too_long, self.max, line)
            .map(|(text, terminator)| Record {
                line,
                key: line.to_string(),
                fields: vec![Field {
                    name: "text".into(),
                    text: text.clone(),
                    raw_span: Some((0, text.len())),
                }],
                raw: text,
                terminator,
                subject: None,
            })))
    }
}

/// Bytes read from the input in one go; the lines in a block share it ([`JsonLine`]).
pub const BLOCK_BYTES: usize = 256 * 1024;
/// Capacity for a `BufReader` under [`JsonLines`]: three quarters of a block. The reader
/// asks for the block less the partial line carried over, at least this much unless that
/// line is over a quarter block, and a `BufReader` passes reads at least its capacity
/// straight to the file (a shorter read is copied through its buffer).
pub const READ_BUFFER_BYTES: usize = BLOCK_BYTES / 4 * 3;
/// Blocks kept for reuse once the workers are done with them (so that reading does not keep
/// asking the allocator, and the kernel, for fresh memory).
const SPARE_BLOCKS: usize = 32;

/// JSON Lines: one JSON object a line. Blank lines are ignored (not records).
///
/// The input is read in blocks of [`BLOCK_BYTES`] (more for a longer line); each line is
/// handed on as a range of its block ([`JsonLine`]), so reading only looks for
/// line ends. A line over the record limit is skipped while it is read, without being kept.
pub struct JsonLines<R> {
    reader: R,
    line: u64,
    max: usize,
    options: Arc<JsonOptions>,
    keep_raw: bool,
    /// The current block; its bytes `..filled` are input, `pos..filled` not handed on yet.
    block: Arc<Block>,
    pos: usize,
    filled: usize,
    eof: bool,
    /// Inside a line over the limit (already reported): drop bytes up to its end.
    discarding: bool,
    /// Bytes to read at a time ([`BLOCK_BYTES`]; tests use small blocks).
    block_bytes: usize,
    /// Earlier blocks, oldest first, to reuse when no line refers to them any more.
    spare: std::collections::VecDeque<Arc<Block>>,
}

impl<R: BufRead + Send> JsonLines<R> {
    /// Read JSON objects from `reader`.
    pub fn new(reader: R, max: usize, options: JsonOptions) -> JsonLines<R> {
        JsonLines {
            reader,
            line: 0,
            max,
            options: Arc::new(options),
            keep_raw: true,
            block: Arc::new(Block::default()),
            pos: 0,
            filled: 0,
            eof: false,
            discarding: false,
            block_bytes: BLOCK_BYTES,
            spare: std::collections::VecDeque::new(),
        }
    }

    /// Records keep no copy of their line ([`Record::raw`] is empty): for scans that only
    /// need the fields (not for masked copies, which rewrite the line).
    pub fn without_raw(mut self) -> JsonLines<R> {
        self.keep_raw = false;
        self
    }

    /// Read `bytes` at a time instead of [`BLOCK_BYTES`] (for tests of lines that cross
    /// blocks).
    #[doc(hidden)]
    pub fn block_bytes(mut self, bytes: usize) -> JsonLines<R> {
        self.block_bytes = bytes.max(1);
        self
    }

    /// A block of at least `len` initialised bytes: a spare one no line refers to any
    /// more, else a new one.
    fn take_block(&mut self, len: usize) -> Vec<u8> {
        if let Some(old) = self.spare.pop_front() {
            match Arc::try_unwrap(old) {
                Ok(Block { bytes: mut b, .. }) => {
                    if b.len() < len {
                        b.resize(len, 0);
                    }
                    return b;
                }
                Err(old) => self.spare.push_front(old),
            }
        }
        vec![0; len.max(self.block_bytes)]
    }

    /// Move the unread rest of the block to the start of a new block and read more input
    /// after it, until the new bytes hold a line end, the input ends, or the line is over
    /// the limit. Returns `false` at the end of the input with nothing left to hand on.
    fn refill(&mut self) -> io::Result<bool> {
        let rest = self.filled - self.pos;
        if self.eof {
            return Ok(rest > 0);
        }
        // The rest moves to the start of a block; a block of fresh input follows unless the
        // rest is over a quarter block, so reads ask for at least `READ_BUFFER_BYTES` and a
        // `BufReader` of that capacity hands them to the file instead of copying them
        // through its own buffer (that copy was a quarter of the reading time).
        let mut next = self.take_block(rest.saturating_mul(2).max(self.block_bytes));
        next[..rest].copy_from_slice(&self.block.bytes[self.pos..self.filled]);
        let mut filled = rest;
        loop {
            if filled == next.len() {
                let grown = next.len().saturating_mul(2);
                next.resize(grown, 0);
            }
            let n = match self.reader.read(&mut next[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            let new = filled..filled + n;
            filled += n;
            if memchr::memchr(b'\n', &next[new]).is_some() || filled > self.max.saturating_add(2) {
                break;
            }
        }
        let block = Block {
            bytes: next,
            options: Arc::clone(&self.options),
        };
        let old = std::mem::replace(&mut self.block, Arc::new(block));
        if !old.bytes.is_empty() {
            if self.spare.len() == SPARE_BLOCKS {
                self.spare.pop_front();
            }
            self.spare.push_back(old);
        }
        self.pos = 0;
        self.filled = filled;
        Ok(filled > 0)
    }

    fn too_large(&self, line: u64) -> Pending {
        Pending::Ready(Err(Skipped::too_large(line, self.max)))
    }
}

impl<R: BufRead + Send> RecordSource for JsonLines<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        self.next_pending().map(|p| p.map(Pending::resolve))
    }

    /// The whole lines left in the current block, at most `max_lines` of them: the reader
    /// thread looks for the last line end only (and counts the lines), and a worker splits
    /// them ([`JsonRun`]). A line that continues into the next block, or one over the limit
    /// being skipped, goes through [`JsonLines::next_pending`]. Finding every line end while
    /// reading was most of the reading work, which shares the cores with the scanning
    /// (issue 7).
    fn next_run(&mut self, max_lines: usize) -> Option<io::Result<Run>> {
        if !self.discarding && self.pos == self.filled && !self.eof {
            // Nothing left in the block (at the start): read the next one first.
            match self.refill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        if !self.discarding {
            let unread = &self.block.bytes[self.pos..self.filled];
            if let Some(last) = memchr::memrchr(b'\n', unread) {
                let mut run = &unread[..=last];
                let mut lines = count_line_ends(run);
                let max_lines = max_lines.max(1);
                if lines > max_lines {
                    // Rare (a block of many short lines): cut after the last line allowed.
                    if let Some(cut) = memchr::memchr_iter(b'\n', run).nth(max_lines - 1) {
                        run = &run[..=cut];
                        lines = max_lines;
                    }
                }
                let start = self.pos;
                self.pos += run.len();
                let first_line = self.line + 1;
                self.line += lines as u64;
                return Some(Ok(Run::JsonLines(JsonRun {
                    block: Arc::clone(&self.block),
                    start,
                    end: self.pos,
                    first_line,
                    lines,
                    keep_raw: self.keep_raw,
                    max: self.max,
                })));
            }
        }
        self.next_pending().map(|p| p.map(Run::One))
    }

    /// Finds the next line; checking and parsing it is left to [`Pending::resolve`].
    fn next_pending(&mut self) -> Option<io::Result<Pending>> {
        // A line is at most the limit plus a CRLF terminator.
        let limit = self.max.saturating_add(2);
        loop {
            let unread = &self.block.bytes[self.pos..self.filled];
            let end = match memchr::memchr(b'\n', unread) {
                Some(i) => self.pos + i + 1,
                None if self.eof => self.filled,
                None if self.discarding => {
                    // Still inside the long line: drop what was read of it.
                    self.pos = self.filled;
                    match self.refill() {
                        Ok(true) => continue,
                        Ok(false) => return None,
                        Err(e) => return Some(Err(e)),
                    }
                }
                None if unread.len() > limit => {
                    // A line over the limit: report it now, drop it while reading on.
                    self.line += 1;
                    self.discarding = true;
                    self.pos = self.filled;
                    return Some(Ok(self.too_large(self.line)));
                }
                None => match self.refill() {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => return Some(Err(e)),
                },
            };
            if end == self.pos {
                return None; // the end of the input
            }
            let start = std::mem::replace(&mut self.pos, end);
            if self.discarding {
                self.discarding = false;
                continue;
            }
            self.line += 1;
            let bytes = &self.block.bytes[start..end];
            if bytes.len() > limit {
                return Some(Ok(self.too_large(self.line)));
            }
            if is_blank(bytes) {
                continue;
            }
            return Some(Ok(Pending::Json(JsonLine {
                block: Arc::clone(&self.block),
                start,
                end,
                line: self.line,
                keep_raw: self.keep_raw,
            })));
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

/// Describe a serde_json error without echoing input text.
fn json_error_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category as C;
    match e.classify() {
        C::Syntax => format!("invalid JSON at column {}", e.column()),
        C::Eof => "invalid JSON: unexpected end of line".into(),
        C::Data => "not a JSON object".into(),
        C::Io => "read error".into(),
    }
}

/// A JSON object's members in document order, keys borrowed from the line when they hold no
/// escapes, values as raw spans: one pass, no hashing, no per-key allocation. A repeated key
/// resolves to its last value (as serde_json's maps do).
struct RawMap<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawMap<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// Members whose key does not occur again later, in document order.
    fn unique(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !self.0[i + 1..].iter().any(|(k2, _)| k2 == k))
            .map(|(_, (k, v))| (k.as_ref(), *v))
    }
}

impl<'de> serde::Deserialize<'de> for RawMap<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawMap<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawMap<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawMap<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(k) = map.next_key::<CowStr<'de>>()? {
                    members.push((k.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawMap(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// A string borrowed from the input when it holds no escapes (serde's `Cow<str>` always
/// copies; `#[serde(borrow)]` needs a struct field).
struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CowStr<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field value that is a string or null, decoded without building a `serde_json::Value`;
/// `Err(())` for anything else (the caller then asks `Value` what it is, for the message).
fn string_or_null(rv: &RawValue) -> Result<Option<String>, ()> {
    let t = rv.get();
    if t == "null" {
        return Ok(None);
    }
    if !t.starts_with('"') {
        return Err(());
    }
    // Without a backslash the string is its own text: serde_json checked it while reading
    // the object (a control char would have failed the record), so only escapes need it
    // again. Saves a second parse of every note.
    if let Some(inner) = t[1..].strip_suffix('"') {
        if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
            return Ok(Some(inner.to_string()));
        }
    }
    serde_json::from_str::<CowStr<'_>>(t)
        .map(|c| Some(c.0.into_owned()))
        .map_err(|_| ())
}

/// Parse one JSON line into a record. Field values are located in `raw` for masking.
pub fn parse_json_record(
    raw: String,
    terminator: &'static str,
    line: u64,
    options: &JsonOptions,
) -> Result<Record, Skipped> {
    let mut record = parse_json_fields(&raw, terminator, line, options)?;
    record.raw = raw;
    Ok(record)
}

/// [`parse_json_record`] without the copy of the line: [`Record::raw`] is left empty.
fn parse_json_fields(
    raw: &str,
    terminator: &'static str,
    line: u64,
    options: &JsonOptions,
) -> Result<Record, Skipped> {
    let skip = |kind, key: Option<String>, field: Option<&str>, reason: String| Skipped {
        line,
        key,
        field: field.map(str::to_string),
        kind,
        reason,
    };
    let base = raw.as_ptr() as usize;
    let offset_of = |r: &RawValue| r.get().as_ptr() as usize - base;
    let top: RawMap<'_> = serde_json::from_str(raw)
        .map_err(|e| skip(SkipKind::InvalidJson, None, None, json_error_reason(&e)))?;

    // The key first, so that later skips can name it.
    let key = if options.key.is_empty() {
        line.to_string()
    } else {
        let mut parts = Vec::with_capacity(options.key.len());
        for k in &options.key {
            let v = lookup(&top, k)
                .map_err(|reason| skip(SkipKind::InvalidJson, None, Some(k), reason))?;
            let Some(v) = v else {
                return Err(skip(
                    SkipKind::MissingField,
                    None,
                    Some(k),
                    format!("key field {k:?} is missing"),
                ));
            };
            parts.push(key_text(v).ok_or_else(|| {
                skip(
                    SkipKind::NotText,
                    None,
                    Some(k),
                    format!("key field {k:?} is not a string or number"),
                )
            })?);
        }
        parts.join(":")
    };

    let subject = match &options.subject {
        None => None,
        Some(name) => lookup(&top, name)
            .map_err(|reason| skip(SkipKind::InvalidJson, Some(key.clone()), Some(name), reason))?
            .and_then(key_text),
    };

    let mut fields: Vec<Field> = Vec::with_capacity(options.fields.len().max(1));
    let string_field = |name: &str, rv: &RawValue| -> Option<Field> {
        match string_or_null(rv) {
            Ok(Some(s)) => {
                let start = offset_of(rv);
                Some(Field {
                    name: name.to_string(),
                    text: s,
                    raw_span: Some((start, start + rv.get().len())),
                })
            }
            _ => None,
        }
    };
    let is_key_or_subject = |name: &str| {
        options.key.iter().any(|k| k == name) || options.subject.as_deref() == Some(name)
    };
    if options.fields.is_empty() {
        for (name, rv) in top.unique() {
            if is_key_or_subject(name) {
                continue;
            }
            fields.extend(string_field(name, rv));
        }
    } else {
        for name in &options.fields {
            if is_glob(name) && top.get(name).is_none() {
                // A glob selects the top-level string fields it matches (none is fine), in
                // document order.
                for (n, rv) in top.unique() {
                    if is_glob_match(name, n)
                        && !is_key_or_subject(n)
                        && !fields.iter().any(|f| f.name == n)
                    {
                        fields.extend(string_field(n, rv));
                    }
                }
                continue;
            }
            if fields.iter().any(|f| &f.name == name) {
                continue;
            }
            let rv = lookup(&top, name)
                .map_err(|reason| {
                    skip(SkipKind::InvalidJson, Some(key.clone()), Some(name), reason)
                })?
                .ok_or_else(|| {
                    skip(
                        SkipKind::MissingField,
                        Some(key.clone()),
                        Some(name),
                        format!("field {name:?} is missing"),
                    )
                })?;
            let start = offset_of(rv);
            let text = match string_or_null(rv) {
                Ok(Some(s)) => s,
                Ok(None) => String::new(),
                Err(()) => {
                    // Not a string: decode fully only to name its kind (or the error).
                    let value: serde_json::Value = serde_json::from_str(rv.get()).map_err(|e| {
                        skip(
                            SkipKind::InvalidJson,
                            Some(key.clone()),
                            Some(name),
                            json_error_reason(&e),
                        )
                    })?;
                    return Err(skip(
                        SkipKind::NotText,
                        Some(key.clone()),
                        Some(name),
                        format!("field {name:?} is {}, not a string", json_kind(&value)),
                    ));
                }
            };
            let raw_span = if rv.get() == "null" {
                None
            } else {
                Some((start, start + rv.get().len()))
            };
            fields.push(Field {
                name: name.clone(),
                text,
                raw_span,
            });
        }
    }
    Ok(Record {
        line,
        key,
        fields,
        raw: String::new(),
        terminator,
        subject,
    })
}

/// Find a dotted path (`a.b.c`) among the raw values. A key containing dots is found first
/// as a whole.
fn lookup<'a>(top: &RawMap<'a>, path: &str) -> Result<Option<&'a RawValue>, String> {
    if let Some(v) = top.get(path) {
        return Ok(Some(v));
    }
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return Ok(None);
    };
    let mut cur: &'a RawValue = match top.get(first) {
        Some(v) => v,
        None => return Ok(None),
    };
    for part in parts {
        if !cur.get().trim_start().starts_with('{') {
            return Ok(None);
        }
        let map: RawMap<'a> = serde_json::from_str(cur.get()).map_err(|e| json_error_reason(&e))?;
        cur = match map.get(part) {
            Some(v) => v,
            None => return Ok(None),
        };
    }
    Ok(Some(cur))
}

fn key_text(v: &RawValue) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(v.get()).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
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

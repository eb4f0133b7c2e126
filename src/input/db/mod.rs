//! What the database sources and writers share: connection strings (with password redaction),
//! safe identifiers, the typed [`DbError`], and a thread-backed [`RecordSource`].
//!
//! Database drivers hand out row iterators that borrow the connection, so each source runs
//! its query on its own thread and passes records through a bounded channel
//! ([`ROWS_IN_FLIGHT`]): memory stays bounded whatever the table size, and the pipeline sees
//! an ordinary `RecordSource`.
//!
//! Nothing in this module ever puts a password or a note's text into a message.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub(crate) mod rows;
mod url;

pub use self::url::*;

use super::{Pending, Record, RecordSource, Run, Skipped};

/// Records buffered between a database reader thread and the pipeline.
pub const ROWS_IN_FLIGHT: usize = 4096;
/// Records handed over together (one channel message): fewer thread wake-ups per row (a
/// wake-up on another core is dear on a VM; 1024 instead of 256 took 2% off a 1,000,000-row
/// PostgreSQL scan and 5% off MariaDB's, session 10).
pub const ROWS_PER_MESSAGE: usize = 1024;
/// Rows fetched from the server per round trip (PostgreSQL cursor, SQLite page).
pub const FETCH_ROWS: usize = 1000;
/// Environment variable holding a connection string when the input is omitted or `env:`.
pub const DATABASE_URL_ENV: &str = "ART9_DATABASE_URL";

/// What to read: a table (with columns) or a query, and which columns are fields and key.
#[derive(Clone, Debug, Default)]
pub struct DbSpec {
    /// Table to read (plain identifier, optionally `schema.table`).
    pub table: Option<String>,
    /// A query to run instead of reading a table.
    pub query: Option<String>,
    /// Text columns to scan (at least one).
    pub fields: Vec<String>,
    /// Key columns (joined with `:`); empty = the row number.
    pub key: Vec<String>,
    /// Column naming the data subject ([`Record::subject`]; NULL = none).
    pub subject: Option<String>,
    /// Read only the rows of this subject (needs `subject`). With `table` the filter runs in
    /// the database (a bound parameter); a `query` is not rewritten. Either way the pipeline
    /// still compares [`Record::subject`] exactly (`pipeline::Options::subject_id`), since a
    /// database comparison may be looser (collations, numeric conversion).
    pub subject_id: Option<String>,
    /// Columns carried as [`Record::context`] (`--context`), read as text (NULL = no value).
    pub context: Vec<String>,
    /// Put a [`RowImage`] into [`Record::raw`]: key values (for `mask --update`) and, with
    /// `capture_row`, the whole row (for `mask --into`; tables only).
    pub capture_keys: bool,
    /// Also capture the whole row (implies `capture_keys`).
    pub capture_row: bool,
    /// A row with a field value longer than this is skipped and reported (0 = no limit;
    /// `--max-field-bytes`).
    pub max_field_bytes: usize,
    /// A row whose selected columns (key, subject, fields) add up to more than this is
    /// skipped and reported (0 = no limit; `--max-record-bytes`).
    pub max_record_bytes: usize,
}

impl DbSpec {
    /// Check names; returns what to call the source in messages (`table notes` / `query`).
    ///
    /// # Errors
    /// No field, both or neither of table and query, or a name that is not plain.
    pub fn validate(&self) -> Result<(), DbError> {
        match (&self.table, &self.query) {
            (Some(_), Some(_)) => {
                return Err(DbError::new(
                    DbErrorKind::Schema,
                    "give either --table or --query, not both".into(),
                ))
            }
            (None, None) => {
                return Err(DbError::new(
                    DbErrorKind::Schema,
                    "database input needs --table NAME or --query SQL".into(),
                ))
            }
            _ => {}
        }
        if let Some(t) = &self.table {
            check_ident("table", t, true)?;
        }
        if self.fields.is_empty() {
            return Err(DbError::new(
                DbErrorKind::Schema,
                "database input needs --field COLUMN (the text column to scan)".into(),
            ));
        }
        for f in &self.fields {
            check_ident("column", f, false)?;
        }
        if let Some(s) = &self.subject {
            check_ident("subject column", s, false)?;
        }
        for c in &self.context {
            check_ident("context column", c, false)?;
        }
        if self.subject_id.is_some() && self.subject.is_none() {
            return Err(DbError::new(
                DbErrorKind::Schema,
                "--subject-id needs --subject COLUMN".into(),
            ));
        }
        for k in &self.key {
            check_ident("key column", k, false)?;
            if self.fields.contains(k) {
                return Err(DbError::new(
                    DbErrorKind::Schema,
                    format!("column {k} is both --key and --field"),
                ));
            }
        }
        Ok(())
    }

    /// `table notes` or `query`, for messages.
    pub fn source_name(&self) -> String {
        match &self.table {
            Some(t) => format!("table {t}"),
            None => "query".into(),
        }
    }

    /// The `--query` without trailing whitespace and semicolons, ready to be wrapped
    /// (`COPY (...)`, `SELECT count(*) FROM (...)`); empty in table mode.
    pub fn query_body(&self) -> &str {
        self.query
            .as_deref()
            .unwrap_or("")
            .trim_end()
            .trim_end_matches(';')
            .trim_end()
    }

    /// Whether the source filters by subject in the database (`--table` with a subject id).
    pub fn filters_in_database(&self) -> bool {
        self.table.is_some() && self.subject_id.is_some()
    }
}

/// A field value as read, before it becomes a [`super::Field`].
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) enum FieldValue {
    /// Text.
    Text(String),
    /// SQL NULL: scanned as empty text and counted.
    Null,
    /// Not a text column; the type name for the message.
    NotText(String),
    /// Text bytes that are not valid UTF-8.
    BadUtf8,
    /// Text over the field size limit, not read into memory (its length in bytes).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    TooLarge(u64),
}

/// The values of a row that name it and go with it: key columns, subject, context columns.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) struct RowNames {
    pub(crate) keys: Vec<Option<String>>,
    pub(crate) subject: Option<String>,
    pub(crate) context: Vec<Option<String>>,
}

/// Turn one row into a record or a skip, naming source, key and column in every reason.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) fn build_record(
    spec: &DbSpec,
    line: u64,
    names: RowNames,
    values: impl IntoIterator<Item = FieldValue>,
    image: Option<RowImage>,
    stats: &SourceStats,
) -> Result<Record, Skipped> {
    use super::{Field, SkipKind};
    let RowNames {
        keys,
        subject,
        context,
    } = names;
    let key = match <[_; 1]>::try_from(keys) {
        _ if spec.key.is_empty() => line.to_string(),
        // One key column (the common case): its value as it is, no join.
        Ok([key]) => key.unwrap_or_default(),
        Err(keys) => keys
            .iter()
            .map(|k| k.as_deref().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(":"),
    };
    let mut fields = Vec::with_capacity(spec.fields.len());
    for (name, value) in spec.fields.iter().zip(values) {
        let skip = |kind, what: String| Skipped {
            line,
            key: Some(key.clone()),
            field: Some(name.clone()),
            kind,
            reason: format!("{}, key {key}, column {name}: {what}", spec.source_name()),
        };
        let too_large = |n: u64| {
            skip(
                SkipKind::FieldTooLarge,
                format!(
                    "{n} bytes, over the {} byte limit (--max-field-bytes)",
                    spec.max_field_bytes
                ),
            )
        };
        let text = match value {
            FieldValue::Text(t) => t,
            FieldValue::Null => {
                stats.nulls.fetch_add(1, Ordering::Relaxed);
                String::new()
            }
            FieldValue::NotText(ty) => {
                return Err(skip(SkipKind::NotText, format!("{ty}, not text")))
            }
            FieldValue::BadUtf8 => {
                return Err(skip(
                    SkipKind::InvalidUtf8,
                    "text is not valid UTF-8".into(),
                ))
            }
            FieldValue::TooLarge(n) => return Err(too_large(n)),
        };
        if spec.max_field_bytes > 0 && text.len() > spec.max_field_bytes {
            return Err(too_large(text.len() as u64));
        }
        fields.push(Field {
            name: name.clone(),
            text,
            raw_span: None,
        });
    }
    let context: super::Context = spec
        .context
        .iter()
        .map(String::as_str)
        .zip(context)
        .collect();
    let size = key.len()
        + subject.as_ref().map_or(0, String::len)
        + context.value_bytes()
        + fields.iter().map(|f| f.text.len()).sum::<usize>();
    if spec.max_record_bytes > 0 && size > spec.max_record_bytes {
        return Err(Skipped {
            line,
            key: Some(key.clone()),
            field: None,
            kind: SkipKind::TooLarge,
            reason: format!(
                "{}, key {key}: the row's key, subject and fields are {size} bytes, over the {} \
                 byte limit (--max-record-bytes)",
                spec.source_name(),
                spec.max_record_bytes
            ),
        });
    }
    Ok(Record {
        line,
        key,
        fields,
        raw: image.map(|i| i.encode()).unwrap_or_default(),
        terminator: "",
        subject,
        context,
    })
}

/// What kind of database failure this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbErrorKind {
    /// A malformed or unsupported connection string.
    Url,
    /// The server cannot be reached or the file cannot be opened.
    Connect,
    /// Wrong user or password, or no permission.
    Auth,
    /// A missing table or column, a bad identifier, an unsupported column type.
    Schema,
    /// The query failed or the connection dropped while reading.
    Read,
    /// Writing masked rows failed.
    Write,
    /// Row counts did not match; nothing was committed to the target.
    Verify,
    /// The target table exists (and `--replace` was not given).
    Exists,
}

/// A database error. The message names the database (password redacted), the table, key and
/// column where known, and never contains note text.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct DbError {
    /// What went wrong, for callers that branch on it.
    pub kind: DbErrorKind,
    message: String,
}

impl DbError {
    /// A new error; `message` must already be safe to show.
    pub fn new(kind: DbErrorKind, message: String) -> DbError {
        DbError { kind, message }
    }

    /// Prefix the message with context (`postgres://u:***@h/db: table notes`).
    pub fn context(mut self, ctx: impl fmt::Display) -> DbError {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// The message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// As an I/O error, for [`RecordSource::next_record`].
    pub fn into_io(self) -> io::Error {
        // The message only: a chained source would print it twice under `{:#}`.
        io::Error::other(self.message)
    }
}

/// Counters a database source shares with whoever runs it.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// NULL field values scanned as empty text.
    pub nulls: AtomicU64,
}

impl SourceStats {
    /// NULL values seen so far.
    pub fn null_count(&self) -> u64 {
        self.nulls.load(Ordering::Relaxed)
    }
}

/// One column value of a captured row (SQLite, MySQL), exact for every type those return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    /// SQL NULL.
    N,
    /// An integer.
    I(i64),
    /// A float, as its bits (JSON floats do not always round-trip).
    F(u64),
    /// UTF-8 text.
    T(String),
    /// Bytes, hex encoded.
    B(String),
}

impl Cell {
    /// Text when valid UTF-8, bytes otherwise.
    pub fn from_bytes(b: &[u8]) -> Cell {
        match std::str::from_utf8(b) {
            Ok(s) => Cell::T(s.to_string()),
            Err(_) => Cell::B(hex(b)),
        }
    }

    /// The bytes of a text or byte cell.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Cell::T(s) => Some(s.as_bytes().to_vec()),
            Cell::B(h) => unhex(h),
            _ => None,
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a database source puts into [`Record::raw`] when asked to capture rows: the key
/// values (for `UPDATE ... WHERE`) and, for `--into`, the whole row.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RowImage {
    /// Key column values as text (`None` = NULL).
    pub keys: Vec<Option<String>>,
    /// All columns (SQLite, MySQL), in table order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<Cell>,
    /// The row as a JSON object (PostgreSQL `row_to_json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
}

impl RowImage {
    /// Serialise into `Record::raw`.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read back from `Record::raw`.
    ///
    /// # Errors
    /// The record did not come from a capturing database source.
    pub fn decode(raw: &str) -> Result<RowImage, DbError> {
        serde_json::from_str(raw).map_err(|_| {
            DbError::new(
                DbErrorKind::Write,
                "internal: record carries no row image".into(),
            )
        })
    }
}

enum Msg {
    Items(Vec<Pending>),
    Fatal(io::Error),
    Done,
}

/// The producer side of a [`ChannelSource`]: the reader thread sends through it. Records
/// travel [`ROWS_PER_MESSAGE`] at a time; [`RowSender::fail`] and [`RowSender::done`] hand
/// on what is pending first, so no record read is ever held back.
pub struct RowSender {
    tx: SyncSender<Msg>,
    pending: Vec<Pending>,
}

impl RowSender {
    /// Hand on a record; `false` when the consumer has stopped (then stop reading).
    pub fn send(&mut self, item: Result<Record, Skipped>) -> bool {
        self.send_pending(Pending::Ready(item))
    }

    /// Hand on a row still to be decoded (on a worker, by [`Pending::resolve`]); `false`
    /// when the consumer has stopped.
    pub fn send_pending(&mut self, item: Pending) -> bool {
        self.pending.push(item);
        if self.pending.len() < ROWS_PER_MESSAGE {
            return true;
        }
        self.flush()
    }

    fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let items = std::mem::replace(&mut self.pending, Vec::with_capacity(ROWS_PER_MESSAGE));
        self.tx.send(Msg::Items(items)).is_ok()
    }

    /// Report a fatal read error (the last message), after the records read before it.
    pub fn fail(mut self, e: DbError) {
        if self.flush() {
            let _ = self.tx.send(Msg::Fatal(e.into_io()));
        }
    }

    /// Report the end of the rows.
    pub fn done(mut self) {
        if self.flush() {
            let _ = self.tx.send(Msg::Done);
        }
    }
}

/// A [`RecordSource`] fed by a reader thread. A reader that ends without saying `done` (a
/// panic in a driver) is reported as an error, never as a silently short table.
pub struct ChannelSource {
    rx: Receiver<Msg>,
    current: std::vec::IntoIter<Pending>,
    finished: bool,
    what: String,
}

impl ChannelSource {
    /// Start `reader` on its own thread; `what` names the source in errors.
    pub fn spawn<F>(what: String, reader: F) -> ChannelSource
    where
        F: FnOnce(RowSender) + Send + 'static,
    {
        let (tx, rx) = sync_channel(ROWS_IN_FLIGHT / ROWS_PER_MESSAGE);
        std::thread::spawn(move || {
            reader(RowSender {
                tx,
                pending: Vec::with_capacity(ROWS_PER_MESSAGE),
            })
        });
        ChannelSource {
            rx,
            current: Vec::new().into_iter(),
            finished: false,
            what,
        }
    }
}

impl RecordSource for ChannelSource {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        self.next_pending().map(|p| p.map(Pending::resolve))
    }

    fn next_pending(&mut self) -> Option<io::Result<Pending>> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(Ok(item));
            }
            if let Some(e) = self.receive()? {
                return Some(Err(e));
            }
        }
    }

    /// The records of the reader thread's message (at most `max_lines` of them) in one run:
    /// the pipeline's reading thread then does nothing per record.
    fn next_run(&mut self, max_lines: usize) -> Option<io::Result<Run>> {
        while self.current.len() == 0 {
            if let Some(e) = self.receive()? {
                return Some(Err(e));
            }
        }
        let run: Vec<Pending> = if self.current.len() <= max_lines {
            // The message's own vector, not a copy.
            std::mem::take(&mut self.current).collect()
        } else {
            self.current.by_ref().take(max_lines.max(1)).collect()
        };
        Some(Ok(Run::Many(run)))
    }
}

impl ChannelSource {
    /// Take the next message: `None` at the end, `Some(Some(e))` for an error, else
    /// `Some(None)` (its records are in `current`).
    fn receive(&mut self) -> Option<Option<io::Error>> {
        if self.finished {
            return None;
        }
        let (finished, result) = match self.rx.recv() {
            Ok(Msg::Items(items)) => {
                self.current = items.into_iter();
                return Some(None);
            }
            Ok(Msg::Fatal(e)) => (true, Some(Some(e))),
            Ok(Msg::Done) => (true, None),
            Err(_) => (
                true,
                Some(Some(io::Error::other(format!(
                    "{}: the reader stopped unexpectedly",
                    self.what
                )))),
            ),
        };
        self.finished = finished;
        result
    }
}

/// Shared handle to the statistics of a source.
pub type Stats = Arc<SourceStats>;

/// Open the record source a connection string names (the driver chosen by its scheme).
///
/// # Errors
/// The connection or the query fails, or this build has no driver for the database.
pub fn open_source(
    url: &DbUrl,
    spec: &DbSpec,
    stats: Arc<SourceStats>,
) -> Result<ChannelSource, DbError> {
    let _ = (spec, &stats);
    match url.kind {
        #[cfg(feature = "sqlite")]
        DbKind::Sqlite => super::sqlite::open_source(url, spec, stats),
        #[cfg(feature = "postgres")]
        DbKind::Postgres => super::postgres::open_source(url, spec, stats),
        #[cfg(feature = "mysql")]
        DbKind::Mysql => super::mysql::open_source(url, spec, stats),
        #[allow(unreachable_patterns)]
        other => Err(not_built(other)),
    }
}

/// The number of rows [`open_source`] would read (`SELECT count(*)` over the table or query).
///
/// # Errors
/// The count fails, or this build has no driver for the database.
pub fn count_rows(url: &DbUrl, spec: &DbSpec) -> Result<u64, DbError> {
    let _ = spec;
    match url.kind {
        #[cfg(feature = "sqlite")]
        DbKind::Sqlite => super::sqlite::count_rows(url, spec),
        #[cfg(feature = "postgres")]
        DbKind::Postgres => super::postgres::count_rows(url, spec),
        #[cfg(feature = "mysql")]
        DbKind::Mysql => super::mysql::count_rows(url, spec),
        #[allow(unreachable_patterns)]
        other => Err(not_built(other)),
    }
}

/// The error for a database whose driver this build leaves out (a cargo feature).
pub fn not_built(kind: DbKind) -> DbError {
    DbError::new(
        DbErrorKind::Connect,
        format!(
            "this art9 was built without {} support (cargo feature {})",
            kind.as_str(),
            match kind {
                DbKind::Sqlite => "sqlite",
                DbKind::Postgres => "postgres",
                DbKind::Mysql => "mysql",
            }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose reader thread sends `n` records, then ends as `end` says: 0 = done,
    /// 1 = a read error, 2 = without a word (as a panicking driver would).
    fn numbers(n: u64, end: u8) -> ChannelSource {
        ChannelSource::spawn("t".into(), move |mut tx: RowSender| {
            for line in 1..=n {
                let record = Record {
                    line,
                    key: line.to_string(),
                    fields: Vec::new(),
                    raw: String::new(),
                    terminator: "",
                    subject: None,
                    context: Default::default(),
                };
                if !tx.send(Ok(record)) {
                    return;
                }
            }
            match end {
                0 => tx.done(),
                1 => tx.fail(DbError::new(DbErrorKind::Read, "connection dropped".into())),
                _ => drop(tx),
            }
        })
    }

    #[test]
    fn runs_give_the_records_one_by_one_reading_gives() {
        // Lines of every record, then how the source ended.
        fn by_records(mut src: ChannelSource) -> (Vec<u64>, Option<String>) {
            let mut lines = Vec::new();
            while let Some(r) = src.next_pending() {
                match r {
                    Ok(p) => lines.push(p.resolve().unwrap().line),
                    Err(e) => return (lines, Some(e.to_string())),
                }
            }
            (lines, None)
        }
        fn by_runs(mut src: ChannelSource, max: usize) -> (Vec<u64>, Option<String>) {
            let mut lines = Vec::new();
            while let Some(r) = src.next_run(max) {
                match r {
                    Ok(run) => {
                        assert!(run.lines() <= max.max(1), "{} > {max}", run.lines());
                        run.resolve_each(|r| lines.push(r.unwrap().line));
                    }
                    Err(e) => return (lines, Some(e.to_string())),
                }
            }
            (lines, None)
        }
        for n in [0, 1, 1023, 1024, 1025, 2 * ROWS_PER_MESSAGE as u64 + 7] {
            for end in [0, 1, 2] {
                let want = by_records(numbers(n, end));
                // A reader that ends without a word loses what it had not sent yet, and
                // the source says it stopped unexpectedly.
                let sent = if end == 2 {
                    n - n % ROWS_PER_MESSAGE as u64
                } else {
                    n
                };
                assert_eq!(want.0, (1..=sent).collect::<Vec<_>>());
                assert_eq!(want.1.is_some(), end != 0, "{want:?}");
                for max in [0, 1, 300, ROWS_PER_MESSAGE, usize::MAX] {
                    assert_eq!(
                        by_runs(numbers(n, end), max),
                        want,
                        "n {n} end {end} max {max}"
                    );
                }
            }
        }
    }

    #[test]
    fn cells_round_trip() {
        let c = Cell::from_bytes(&[0xff, 0x00]);
        assert_eq!(c.to_bytes().unwrap(), vec![0xff, 0x00]);
        let img = RowImage {
            keys: vec![Some("1".into()), None],
            cells: vec![Cell::F(1.1f64.to_bits()), Cell::N],
            json: None,
        };
        let back = RowImage::decode(&img.encode()).unwrap();
        assert_eq!(back.cells, img.cells);
    }
}

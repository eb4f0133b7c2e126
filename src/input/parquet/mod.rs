//! Parquet input (feature `parquet`): `art9 scan export.parquet`.
//!
//! [`ParquetSource::open`] reads the file's footer once and plans which top-level columns
//! to read: the key, subject and context columns and the scanned ones (`--field`, or every
//! text column), and no other (a projection: the other columns' pages are never read).
//! Every column is checked against what it is used for when the file is opened, so a
//! missing column or one of the wrong type is one error naming it, not a skip per row.
//!
//! Reading is split into runs of rows within a row group ([`ParquetRun`]), about
//! [`RUN_BYTES`] of text each. Handing out a run only
//! advances a position; the pipeline's workers decode their runs themselves
//! ([`Run::resolve_each`]), each with its own reader over the shared file (positioned reads,
//! no shared file offset), so row groups and their slices are decoded in parallel. A run
//! after the first in its row group skips the rows before it page by page (flat columns
//! give each page's row count), without decompressing them.
//!
//! A row is a [`Record`] as a JSON Lines object with the same values would be: the key is
//! the row number (1-based, over the whole file) unless `--key` names columns; numbers,
//! decimals, booleans, dates and timestamps are text in key, subject and context columns;
//! a null scanned column named with `--field` is an empty field, and left out when every
//! text column is scanned; a null key skips the row. Binary columns are scanned only when
//! named, as UTF-8 (a value that is not UTF-8 skips its row). A row group that cannot be
//! decoded (a damaged page, a codec this build lacks) skips its rows with the reason, naming
//! the file's row group and the column when the reader says which.

mod values;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::{ChunkReader, Length};

use self::values::{Column, Kind, Val};
use super::{is_glob, is_glob_match, Context, Field, Record, RecordSource, Run, SkipKind, Skipped};

/// Text bytes of one run, about: the batch engine's soft byte limit of a batch (4 MiB, the
/// pipeline's `BATCH_BYTES`), so that one run makes one batch. Larger runs decode a
/// row group's dictionary pages again less often; smaller ones spread a small file over
/// more workers.
pub const RUN_BYTES: u64 = 4 * 1024 * 1024;

/// Why a Parquet file cannot be read as asked. Messages name columns, never values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParquetError {
    /// The file's footer or schema cannot be read.
    #[error("not a readable Parquet file")]
    Format(#[source] parquet::errors::ParquetError),
    /// A column named does not exist (nested fields are not read).
    #[error("no column {name:?} (columns: {columns})")]
    UnknownColumn {
        /// The name asked for.
        name: String,
        /// The top-level columns there are.
        columns: String,
    },
    /// A `--field` glob matches no text column.
    #[error("--field {pattern:?} matches no text column (columns: {columns})")]
    NoMatch {
        /// The glob.
        pattern: String,
        /// The top-level columns there are.
        columns: String,
    },
    /// A column's type does not fit what it is used for (a number as a scanned field, a
    /// list as a key).
    #[error("column {name:?} is {kind}, which art9 cannot read as {role}")]
    WrongType {
        /// The column.
        name: String,
        /// Its Arrow type.
        kind: String,
        /// What it was asked for as: `a scanned field`, `the key`, ...
        role: &'static str,
    },
}

/// The file, read with positioned reads: every reader gets its own position, so runs are
/// decoded on several threads at once without a shared file offset.
#[derive(Clone, Debug)]
struct Positioned {
    file: Arc<File>,
    len: u64,
}

impl Length for Positioned {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Positioned {
    type T = io::BufReader<PositionedRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(io::BufReader::with_capacity(
            64 * 1024,
            PositionedRead {
                file: Arc::clone(&self.file),
                pos: start,
            },
        ))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut buf = vec![0; length];
        read_exact_at(&self.file, &mut buf, start)?;
        Ok(buf.into())
    }
}

/// A reader from a position of the shared file.
#[derive(Debug)]
struct PositionedRead {
    file: Arc<File>,
    pos: u64,
}

impl Read for PositionedRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

fn read_exact_at(file: &File, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, pos) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                pos += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Which columns are read, and as what.
#[derive(Clone, Debug, Default)]
pub struct ParquetOptions {
    /// Columns to scan (names or `*`/`?` globs). Empty: every text column except the key,
    /// subject and context ones.
    pub fields: Vec<String>,
    /// Key columns (joined with `:`); empty: the row number.
    pub key: Vec<String>,
    /// The column naming the data subject.
    pub subject: Option<String>,
    /// Columns carried as [`Record::context`].
    pub context: Vec<String>,
    /// Rows whose scanned text is longer than this are skipped (`--max-record-bytes`).
    pub max_record_bytes: usize,
}

/// What every run shares: the file, its footer, the plan.
#[derive(Debug)]
struct Shared {
    file: Positioned,
    metadata: ArrowReaderMetadata,
    projection: ProjectionMask,
    /// Scanned columns, in the order their fields appear in a record.
    fields: Vec<Planned>,
    /// Whether the fields were named (a null one is then an empty field, as in JSON).
    fields_named: bool,
    key: Vec<String>,
    subject: Option<String>,
    context: Vec<String>,
    max_record_bytes: usize,
    /// Text bytes per row, over the read columns (uncompressed, from the footer), per row
    /// group: for run sizes.
    row_bytes: Vec<u64>,
    /// Compressed bytes per row of the read columns, per row group: for progress.
    row_file_bytes: Vec<u64>,
}

/// A scanned column (text, or binary read as UTF-8).
#[derive(Clone, Debug)]
struct Planned {
    name: String,
}

/// Records of a Parquet file; see the [module](self) documentation.
#[derive(Debug)]
pub struct ParquetSource {
    shared: Arc<Shared>,
    group: usize,
    /// Rows of `group` handed out.
    offset: usize,
    /// 1-based number of the first row of `group` in the file.
    first_row: u64,
    bytes_read: Arc<AtomicU64>,
    /// Records resolved on the caller's thread, for [`RecordSource::next_record`].
    ready: std::collections::VecDeque<Result<Record, Skipped>>,
}

/// Rows of one row group to decode and turn into records on a worker.
#[derive(Debug)]
pub struct ParquetRun {
    shared: Arc<Shared>,
    group: usize,
    offset: usize,
    rows: usize,
    /// 1-based row number (in the file) of the run's first row.
    first_line: u64,
}

fn kind_name(dt: &arrow_schema::DataType) -> String {
    format!("{dt}")
}

impl ParquetSource {
    /// Open `file` (`len` bytes long): read the footer and plan the columns.
    ///
    /// # Errors
    /// [`ParquetError`]: not a Parquet file (or a damaged footer), a column missing or of
    /// a type that does not fit.
    pub fn open(
        file: File,
        len: u64,
        options: ParquetOptions,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<ParquetSource, ParquetError> {
        let file = Positioned {
            file: Arc::new(file),
            len,
        };
        let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(ParquetError::Format)?;
        let schema = Arc::clone(metadata.schema());
        let columns = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |name: &str| -> Result<usize, ParquetError> {
            schema
                .fields()
                .iter()
                .position(|f| f.name() == name)
                .ok_or_else(|| ParquetError::UnknownColumn {
                    name: name.to_string(),
                    columns: columns(),
                })
        };
        let mut read: Vec<usize> = Vec::new();
        let check_scalar = |name: &str, role: &'static str| -> Result<usize, ParquetError> {
            let i = find(name)?;
            let dt = schema.field(i).data_type();
            match Kind::of(dt) {
                Kind::Text | Kind::Binary | Kind::Scalar | Kind::Null => Ok(i),
                Kind::Unsupported => Err(ParquetError::WrongType {
                    name: name.to_string(),
                    kind: kind_name(dt),
                    role,
                }),
            }
        };
        for k in &options.key {
            read.push(check_scalar(k, "the key")?);
        }
        if let Some(s) = &options.subject {
            read.push(check_scalar(s, "the subject")?);
        }
        for c in &options.context {
            read.push(check_scalar(c, "a context value")?);
        }
        let not_scanned = |name: &str| {
            options.key.iter().any(|k| k == name)
                || options.subject.as_deref() == Some(name)
                || options.context.iter().any(|c| c == name)
        };
        let mut fields: Vec<Planned> = Vec::new();
        let text_columns = schema
            .fields()
            .iter()
            .filter(|f| Kind::of(f.data_type()) == Kind::Text && !not_scanned(f.name()));
        if options.fields.is_empty() {
            for f in text_columns {
                fields.push(Planned {
                    name: f.name().clone(),
                });
            }
        } else {
            for name in &options.fields {
                if is_glob(name) && find(name).is_err() {
                    let before = fields.len();
                    for f in text_columns.clone() {
                        if is_glob_match(name, f.name())
                            && !fields.iter().any(|p| &p.name == f.name())
                        {
                            fields.push(Planned {
                                name: f.name().clone(),
                            });
                        }
                    }
                    if fields.len() == before {
                        return Err(ParquetError::NoMatch {
                            pattern: name.clone(),
                            columns: columns(),
                        });
                    }
                    continue;
                }
                if fields.iter().any(|p| &p.name == name) {
                    continue;
                }
                let i = find(name)?;
                let dt = schema.field(i).data_type();
                match Kind::of(dt) {
                    Kind::Text | Kind::Null | Kind::Binary => {}
                    Kind::Scalar | Kind::Unsupported => {
                        return Err(ParquetError::WrongType {
                            name: name.clone(),
                            kind: kind_name(dt),
                            role: "a scanned field (only text and binary columns are scanned)",
                        })
                    }
                }
                fields.push(Planned { name: name.clone() });
            }
        }
        for f in &fields {
            read.push(find(&f.name)?);
        }
        read.sort_unstable();
        read.dedup();
        let parquet_schema = metadata.parquet_schema();
        let projection = ProjectionMask::roots(parquet_schema, read.iter().copied());
        // Leaf columns under the read roots, for the sizes in the footer.
        let leaves: Vec<usize> = (0..parquet_schema.num_columns())
            .filter(|&c| read.contains(&parquet_schema.get_column_root_idx(c)))
            .collect();
        let (mut row_bytes, mut row_file_bytes) = (Vec::new(), Vec::new());
        for g in metadata.metadata().row_groups() {
            let rows = g.num_rows().max(1) as u64;
            let (mut raw, mut packed) = (0u64, 0u64);
            for &c in &leaves {
                let col = g.column(c);
                raw += col.uncompressed_size().max(0) as u64;
                packed += col.compressed_size().max(0) as u64;
            }
            row_bytes.push((raw / rows).max(1));
            row_file_bytes.push(packed / rows);
        }
        let max_record_bytes = match options.max_record_bytes {
            0 => usize::MAX,
            n => n,
        };
        let shared = Shared {
            file,
            metadata,
            projection,
            fields,
            fields_named: !options.fields.is_empty(),
            key: options.key,
            subject: options.subject,
            context: options.context,
            max_record_bytes,
            row_bytes,
            row_file_bytes,
        };
        Ok(ParquetSource {
            shared: Arc::new(shared),
            group: 0,
            offset: 0,
            first_row: 1,
            bytes_read,
            ready: Default::default(),
        })
    }

    /// Rows in the file (from the footer).
    pub fn rows(&self) -> u64 {
        self.shared
            .metadata
            .metadata()
            .file_metadata()
            .num_rows()
            .max(0) as u64
    }

    /// The next run of at most about `max_lines` rows (more when rows are small, to about
    /// [`RUN_BYTES`] of text), within one row group.
    fn next_parquet_run(&mut self, max_lines: usize) -> Option<ParquetRun> {
        let groups = self.shared.metadata.metadata().row_groups();
        loop {
            let g = groups.get(self.group)?;
            let rows = usize::try_from(g.num_rows().max(0)).unwrap_or(usize::MAX);
            if self.offset < rows {
                let per_row = self.shared.row_bytes[self.group];
                let by_bytes = (RUN_BYTES / per_row) as usize;
                let n = by_bytes
                    .clamp(1, max_lines.max(1).saturating_mul(64))
                    .min(rows - self.offset);
                let run = ParquetRun {
                    shared: Arc::clone(&self.shared),
                    group: self.group,
                    offset: self.offset,
                    rows: n,
                    first_line: self.first_row + self.offset as u64,
                };
                self.offset += n;
                self.bytes_read.fetch_add(
                    self.shared.row_file_bytes[self.group] * n as u64,
                    Ordering::Relaxed,
                );
                return Some(run);
            }
            self.first_row += rows as u64;
            self.group += 1;
            self.offset = 0;
        }
    }
}

impl RecordSource for ParquetSource {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(Ok(r));
            }
            let run = self.next_parquet_run(1024)?;
            let ready = &mut self.ready;
            run.resolve_each(|r| ready.push_back(r));
        }
    }

    fn next_run(&mut self, max_lines: usize) -> Option<io::Result<Run>> {
        if let Some(r) = self.ready.pop_front() {
            return Some(Ok(Run::One(super::Pending::Ready(r))));
        }
        self.next_parquet_run(max_lines)
            .map(|run| Ok(Run::Parquet(run)))
    }
}

impl ParquetRun {
    /// Rows in the run.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Text bytes of the run, about (from the footer's sizes).
    pub fn raw_len(&self) -> usize {
        let per_row = self.shared.row_bytes[self.group] as usize;
        per_row.saturating_mul(self.rows)
    }

    /// Decode the run's rows and hand each on as a record, or as skipped, in order.
    pub fn resolve_each(self, mut each: impl FnMut(Result<Record, Skipped>)) {
        let mut done = 0usize;
        let failed = match self.batches(|batch| {
            let rows = batch.num_rows();
            self.rows_of(&batch, done, &mut each);
            done += rows;
        }) {
            Ok(()) if done == self.rows => return,
            Ok(()) => format!(
                "row group {}: the file ended {} rows early",
                self.group,
                self.rows - done
            ),
            Err(e) => format!(
                "row group {}: cannot decode the Parquet data: {e}",
                self.group
            ),
        };
        for i in done..self.rows {
            each(Err(Skipped::at_line(
                self.first_line + i as u64,
                SkipKind::Unreadable,
                failed.clone(),
            )));
        }
    }

    /// Decode the run's rows, in record batches.
    fn batches(
        &self,
        mut batch: impl FnMut(RecordBatch),
    ) -> Result<(), parquet::errors::ParquetError> {
        let s = &self.shared;
        let mut selection = Vec::with_capacity(2);
        if self.offset > 0 {
            selection.push(RowSelector::skip(self.offset));
        }
        selection.push(RowSelector::select(self.rows));
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(s.file.clone(), s.metadata.clone())
                .with_projection(s.projection.clone())
                .with_row_groups(vec![self.group])
                .with_row_selection(RowSelection::from(selection))
                .with_batch_size(self.rows.clamp(1, 8192))
                .build()?;
        for b in reader {
            batch(b.map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?);
        }
        Ok(())
    }

    /// The records of `batch`, whose first row is the run's row `done`.
    fn rows_of(
        &self,
        batch: &RecordBatch,
        done: usize,
        each: &mut impl FnMut(Result<Record, Skipped>),
    ) {
        let s = &self.shared;
        let column = |name: &str| batch.column_by_name(name).map(|a| Column::new(a.as_ref()));
        let keys: Vec<(&str, Option<Column<'_>>)> =
            s.key.iter().map(|k| (k.as_str(), column(k))).collect();
        let subject = s.subject.as_deref().and_then(column);
        let context: Vec<(&str, Option<Column<'_>>)> =
            s.context.iter().map(|c| (c.as_str(), column(c))).collect();
        let fields: Vec<(&Planned, Option<Column<'_>>)> =
            s.fields.iter().map(|f| (f, column(&f.name))).collect();
        for i in 0..batch.num_rows() {
            let line = self.first_line + (done + i) as u64;
            each(self.row(line, i, &keys, subject.as_ref(), &context, &fields));
        }
    }

    fn row(
        &self,
        line: u64,
        i: usize,
        keys: &[(&str, Option<Column<'_>>)],
        subject: Option<&Column<'_>>,
        context: &[(&str, Option<Column<'_>>)],
        fields: &[(&Planned, Option<Column<'_>>)],
    ) -> Result<Record, Skipped> {
        let s = &self.shared;
        let skip = |kind, key: Option<&str>, field: &str, reason: String| Skipped {
            line,
            key: key.map(str::to_string),
            field: Some(field.to_string()),
            kind,
            reason,
        };
        let key = if keys.is_empty() {
            line.to_string()
        } else {
            let mut parts = Vec::with_capacity(keys.len());
            for (name, col) in keys {
                match col.as_ref().map_or(Val::Null, |c| c.value(i)) {
                    Val::Null => {
                        return Err(skip(
                            SkipKind::MissingField,
                            None,
                            name,
                            format!("key column {name:?} is null"),
                        ))
                    }
                    v => parts.push(v.into_text().map_err(|()| {
                        skip(
                            SkipKind::InvalidUtf8,
                            None,
                            name,
                            format!("key column {name:?} is not valid UTF-8"),
                        )
                    })?),
                }
            }
            parts.join(":")
        };
        let subject = match (s.subject.as_deref(), subject) {
            (Some(name), Some(col)) => col.value(i).into_opt_text().map_err(|()| {
                skip(
                    SkipKind::InvalidUtf8,
                    Some(&key),
                    name,
                    format!("subject column {name:?} is not valid UTF-8"),
                )
            })?,
            _ => None,
        };
        let mut ctx = Context::new();
        for (name, col) in context {
            let v = col.as_ref().map_or(Val::Null, |c| c.value(i));
            let v = v.into_opt_text().map_err(|()| {
                skip(
                    SkipKind::InvalidUtf8,
                    Some(&key),
                    name,
                    format!("context column {name:?} is not valid UTF-8"),
                )
            })?;
            ctx.set(*name, v);
        }
        let mut out = Vec::with_capacity(fields.len());
        let mut bytes = 0usize;
        for (f, col) in fields {
            let text = match col.as_ref().map_or(Val::Null, |c| c.value(i)) {
                Val::Null if s.fields_named => String::new(),
                Val::Null => continue,
                Val::Str(t) => t.to_string(),
                Val::Bytes(b) => match simdutf8::basic::from_utf8(b) {
                    Ok(t) => t.to_string(),
                    Err(_) => {
                        return Err(skip(
                            SkipKind::InvalidUtf8,
                            Some(&key),
                            &f.name,
                            format!(
                                "column {:?} is binary and this value is not valid UTF-8",
                                f.name
                            ),
                        ))
                    }
                },
                Val::Owned(t) => t,
            };
            bytes += text.len();
            if bytes > s.max_record_bytes {
                return Err(Skipped {
                    key: Some(key),
                    ..Skipped::too_large(line, s.max_record_bytes)
                });
            }
            out.push(Field {
                name: f.name.clone(),
                text,
                raw_span: None,
            });
        }
        Ok(Record {
            line,
            key,
            fields: out,
            raw: String::new(),
            terminator: "",
            subject,
            context: ctx,
        })
    }
}

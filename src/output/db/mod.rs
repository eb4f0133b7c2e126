//! Writing masked rows back to a database: the [`DbWriter`] trait that `mask --into` and
//! `mask --update` drive, what they report, and one writer per database (`sqlite`,
//! `postgres`, `mysql`). Connections, URLs, errors and identifier quoting are shared with
//! the readers in [`crate::input::db`].

use serde::Serialize;

use crate::input::db::{DbError, DbErrorKind, DbSpec, DbUrl};
use crate::record::Record;

pub use erase::{EraseRow, FieldWrite};

mod erase;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// Start writing masked rows to the database a connection string names (the driver chosen by
/// its scheme; `--into` creates its staging table now).
///
/// # Errors
/// The connection fails, the target is refused, or this build has no driver for the database.
pub fn open_writer(
    url: &DbUrl,
    spec: &DbSpec,
    mode: WriteMode,
    batch: usize,
) -> Result<Box<dyn DbWriter>, DbError> {
    let _ = (spec, &mode, batch);
    match url.kind {
        #[cfg(feature = "sqlite")]
        crate::input::db::DbKind::Sqlite => sqlite::open_writer(url, spec, mode, batch),
        #[cfg(feature = "postgres")]
        crate::input::db::DbKind::Postgres => postgres::open_writer(url, spec, mode, batch),
        #[cfg(feature = "mysql")]
        crate::input::db::DbKind::Mysql => mysql::open_writer(url, spec, mode, batch),
        #[allow(unreachable_patterns)]
        other => Err(crate::input::db::not_built(other)),
    }
}

/// How a masked copy is written back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Write every row, masked, into a new table; `replace` drops an existing one.
    Into {
        /// The new table.
        table: String,
        /// Replace an existing table of that name.
        replace: bool,
    },
    /// Update the masked fields in place.
    Update,
}

/// A masked row to write: the record and, per field (in `DbSpec::fields` order), the masked
/// text or `None` when the field is unchanged. `--update` writes a masked field only while
/// the column still holds the record's field text (what was read); otherwise the row is a
/// [`Conflict`].
pub struct MaskedRow<'a> {
    /// The record as read (with a [`RowImage`](crate::input::db::RowImage) in `raw`).
    pub record: &'a Record,
    /// Masked text per field.
    pub masked: Vec<Option<&'a str>>,
}

/// What a finished write did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows inserted into the new table (`--into`).
    pub rows_written: u64,
    /// Rows updated in place (`--update`, and `erase` masking or nulling fields).
    pub rows_updated: u64,
    /// Rows deleted (`erase`).
    pub rows_deleted: u64,
    /// Rows `--update` left alone because they changed after they were read, in input order.
    pub conflicts: Vec<Conflict>,
    /// Rows of a batch whose commit was cut off (the connection dropped during `COMMIT`):
    /// the server may or may not have applied them, and nothing can tell the client which.
    pub uncertain: u64,
}

/// A row that `--update` did not write: one of the fields it was about to mask no longer
/// held the value that was read (someone edited the note meanwhile), or the row was gone.
/// Names the row and fields only, never text. A rerun scans the new value and masks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The record key (`--key` columns joined with `:`).
    pub key: String,
    /// The fields that were to be masked.
    pub fields: Vec<String>,
}

/// How one batch of `--update` went: the rows written and the conflicts, or the key of a row
/// that matched more than one row (with the count; the batch is then rolled back).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) type BatchOutcome = Result<(u64, Vec<Conflict>), (String, u64)>;

/// The error of a batch in which a row key matched `n` rows, not one: `--key` does not
/// identify a row. The batch was rolled back.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) fn key_not_unique(url: &DbUrl, table: &str, key: &str, n: u64) -> DbError {
    DbError::new(
        DbErrorKind::Write,
        format!(
            "{url}: table {table}: key {key} matched {n} rows, not 1; --key must identify one \
             row (this batch was rolled back)"
        ),
    )
}

impl Conflict {
    /// The conflict of a row whose fields `masked` (in `spec.fields` order) were to be written.
    pub fn of<T>(spec: &DbSpec, key: &str, masked: &[Option<T>]) -> Conflict {
        Conflict {
            key: key.to_string(),
            fields: spec
                .fields
                .iter()
                .zip(masked)
                .filter(|(_, m)| m.is_some())
                .map(|(f, _)| f.clone())
                .collect(),
        }
    }
}

impl WriteMode {
    /// What a failed write left behind, for the error message. `staging` is the table the
    /// rows went to (`--into`: the staging table; `--update`: the source), `dropped` whether
    /// a staging table could be dropped.
    pub fn abort_message(&self, report: &WriteReport, staging: &str, dropped: bool) -> String {
        match self {
            WriteMode::Into { table, .. } => format!(
                "nothing was written to {table}; {} rows had gone to the staging table {staging}{}",
                report.rows_written,
                if dropped {
                    ", which was dropped"
                } else {
                    " (drop it by hand)"
                }
            ),
            WriteMode::Update if report.uncertain > 0 => format!(
                "{} rows of {staging} were masked in place and committed before the failure ({} \
                 left alone as changed since read); the connection was lost while committing \
                 the last batch of {} rows, which the server may or may not have applied (a \
                 rerun masks whatever is left)",
                report.rows_updated,
                report.conflicts.len(),
                report.uncertain
            ),
            WriteMode::Update => format!(
                "{} rows of {staging} were masked in place and committed before the failure ({} \
                 left alone as changed since read); the failing batch was rolled back",
                report.rows_updated,
                report.conflicts.len()
            ),
        }
    }
}

/// Writes masked rows back: per-batch transactions, verified counts, a final commit.
pub trait DbWriter {
    /// Queue one row; flushes a batch (one transaction) when enough are queued.
    ///
    /// # Errors
    /// The write failed; the current batch was rolled back.
    fn write(&mut self, row: MaskedRow<'_>) -> Result<(), DbError>;

    /// Queue one row to erase (`art9 erase --apply`; a writer opened with
    /// [`WriteMode::Update`]): fields masked or nulled, or the row deleted, compare-and-set
    /// as [`DbWriter::write`] (see `erase.rs`). Flushes a batch when enough are queued.
    ///
    /// # Errors
    /// The write failed; the current batch was rolled back.
    fn erase(&mut self, row: EraseRow<'_>) -> Result<(), DbError>;

    /// Flush, verify the row counts and make the result visible (rename the staging table).
    ///
    /// # Errors
    /// A write or verification failure; then nothing is visible under the target name.
    fn finish(&mut self) -> Result<WriteReport, DbError>;

    /// Stop after a failure: remove what is not committed; returns one line describing what
    /// was written (for the error message).
    fn abort(&mut self) -> String;
}

/// The staging table `--into` writes to before the final rename.
pub fn staging_name(target: &str) -> String {
    match target.rsplit_once('.') {
        Some((schema, t)) => format!("{schema}.{}", staging_leaf(t)),
        None => staging_leaf(target),
    }
}

fn staging_leaf(t: &str) -> String {
    let mut s = format!("{t}__art9_partial");
    s.truncate(63);
    s
}

/// The unqualified part of a table name.
pub fn leaf(table: &str) -> &str {
    table.rsplit('.').next().unwrap_or(table)
}

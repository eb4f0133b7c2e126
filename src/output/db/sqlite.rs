//! `mask --into`/`--update` for SQLite: batches in transactions on a read-write connection;
//! `--into` fills a staging table and renames it when the row count checks out.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::erase::{statement, Applied, Dialect, EraseRow, Statement};
use super::{
    key_not_unique, leaf, staging_name, Conflict, DbWriter, MaskedRow, WriteMode, WriteReport,
};
use crate::input::db::{Cell, DbError, DbErrorKind, DbKind, DbSpec, DbUrl, RowImage};
use crate::input::sqlite::{err, open, table_columns, ColumnInfo};

/// Writes masked rows to a SQLite database.
pub(crate) struct SqliteWriter {
    conn: Connection,
    url: DbUrl,
    spec: DbSpec,
    mode: WriteMode,
    /// `--into`: staging table; `--update`: the source table.
    table: String,
    /// Column positions of the fields in the row (`--into`).
    field_pos: Vec<usize>,
    columns: usize,
    pending: Vec<(Vec<Value>, String)>,
    batch: usize,
    report: WriteReport,
    /// `erase`: the statements of the current batch.
    erasing: Vec<Statement>,
}

/// SQLite's spelling of the erase statements: byte equality whatever the collation.
struct Sqlite;

impl Dialect for Sqlite {
    fn ph(&self, n: usize) -> String {
        format!("?{n}")
    }
    fn key_eq(&self, _i: usize, col: &str, ph: &str) -> String {
        format!("{col} = {ph}")
    }
    fn text_eq(&self, _i: usize, col: &str, ph: &str, coalesce: bool) -> String {
        if coalesce {
            format!("COALESCE({col}, '') = {ph} COLLATE BINARY")
        } else {
            format!("{col} = {ph} COLLATE BINARY")
        }
    }
}

/// Start writing masked rows (`--into` creates the staging table now).
///
/// # Errors
/// The target exists without `--replace`, the schema cannot be read, or a write fails.
pub(crate) fn open_writer(
    url: &DbUrl,
    spec: &DbSpec,
    mode: WriteMode,
    batch: usize,
) -> Result<Box<dyn DbWriter>, DbError> {
    let conn = open(url, true)?;
    let source = spec.table.clone().unwrap_or_default();
    let cols = table_columns(&conn, url, &source)?;
    let q = DbKind::Sqlite;
    let mut w = SqliteWriter {
        conn,
        url: url.clone(),
        spec: spec.clone(),
        table: source.clone(),
        field_pos: spec
            .fields
            .iter()
            .map(|f| cols.iter().position(|c| &c.name == f).unwrap_or(0))
            .collect(),
        columns: cols.len(),
        mode: mode.clone(),
        pending: Vec::new(),
        batch: batch.max(1),
        report: WriteReport::default(),
        erasing: Vec::new(),
    };
    if let WriteMode::Into { table, replace } = &mode {
        if exists(&w.conn, url, table)? && !replace {
            return Err(DbError::new(
                DbErrorKind::Exists,
                format!("table {table} already exists (use --replace to overwrite it)"),
            )
            .context(url));
        }
        let staging = staging_name(table);
        let mut defs: Vec<String> = cols
            .iter()
            .map(|c| {
                let mut d = format!("{} {}", q.quote(&c.name), c.decl);
                if c.not_null {
                    d.push_str(" NOT NULL");
                }
                if let Some(x) = &c.default {
                    d.push_str(&format!(" DEFAULT {x}"));
                }
                d
            })
            .collect();
        let mut pk: Vec<&ColumnInfo> = cols.iter().filter(|c| c.pk > 0).collect();
        pk.sort_by_key(|c| c.pk);
        if !pk.is_empty() {
            defs.push(format!(
                "PRIMARY KEY ({})",
                pk.iter()
                    .map(|c| q.quote(&c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let sql = format!(
            "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} ({});",
            defs.join(", "),
            s = q.quote_table(&staging)
        );
        w.conn
            .execute_batch(&sql)
            .map_err(|e| err(url, DbErrorKind::Write, &e).context(format!("table {staging}")))?;
        w.table = staging;
    }
    Ok(Box::new(w))
}

fn exists(conn: &Connection, url: &DbUrl, table: &str) -> Result<bool, DbError> {
    Ok(!table_columns(conn, url, table)?.is_empty())
}

impl SqliteWriter {
    /// Run the queued erase statements in one transaction.
    fn flush_erase(&mut self) -> Result<(), DbError> {
        if self.erasing.is_empty() {
            return Ok(());
        }
        let url = self.url.clone();
        let table = self.table.clone();
        let wrap = |e: rusqlite::Error| {
            DbError::new(DbErrorKind::Write, url.scrub(&e.to_string()))
                .context(format!("{url}: table {table}"))
        };
        let pending = std::mem::take(&mut self.erasing);
        let mut applied = Applied::default();
        let tx = self.conn.transaction().map_err(wrap)?;
        for st in &pending {
            let n = tx
                .prepare_cached(&st.sql)
                .and_then(|mut s| s.execute(params_from_iter(st.params.iter())))
                .map_err(wrap)?;
            if let Err((key, n)) = applied.count(st, n as u64) {
                return Err(key_not_unique(&url, &table, &key, n));
            }
        }
        tx.commit().map_err(wrap)?;
        applied.commit_to(&mut self.report);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DbError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let q = DbKind::Sqlite;
        let sql = match &self.mode {
            WriteMode::Into { .. } => format!(
                "INSERT INTO {} VALUES ({})",
                q.quote_table(&self.table),
                (1..=self.columns)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            WriteMode::Update => {
                let n = self.spec.fields.len();
                let set = self
                    .spec
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!("{c} = COALESCE(?{}, {c})", i + 1, c = q.quote(f)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let nk = self.spec.key.len();
                let keys = self
                    .spec
                    .key
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("{} = ?{}", q.quote(k), n + i + 1));
                // Compare-and-set: a masked field is written only while it holds exactly the
                // text that was read (BINARY: byte equality whatever the column's collation).
                let unchanged = self.spec.fields.iter().enumerate().map(|(i, f)| {
                    let o = n + nk + i + 1;
                    format!("(?{o} IS NULL OR {} = ?{o} COLLATE BINARY)", q.quote(f))
                });
                let cond = keys.chain(unchanged).collect::<Vec<_>>().join(" AND ");
                format!(
                    "UPDATE {} SET {set} WHERE {cond}",
                    q.quote_table(&self.table)
                )
            }
        };
        let url = self.url.clone();
        let table = self.table.clone();
        let wrap = |e: rusqlite::Error| {
            DbError::new(DbErrorKind::Write, url.scrub(&e.to_string()))
                .context(format!("{url}: table {table}"))
        };
        let mut conflicts = Vec::new();
        let tx = self.conn.transaction().map_err(wrap)?;
        {
            let mut stmt = tx.prepare_cached(&sql).map_err(wrap)?;
            for (params, key) in &self.pending {
                let n = stmt
                    .execute(params_from_iter(params.iter()))
                    .map_err(wrap)?;
                if self.mode == WriteMode::Update && n == 0 {
                    let masked = &params[..self.spec.fields.len().min(params.len())];
                    let masked: Vec<Option<()>> = masked
                        .iter()
                        .map(|v| (*v != Value::Null).then_some(()))
                        .collect();
                    conflicts.push(Conflict::of(&self.spec, key, &masked));
                } else if self.mode == WriteMode::Update && n != 1 {
                    return Err(key_not_unique(&url, &table, key, n as u64));
                }
            }
        }
        tx.commit().map_err(wrap)?;
        let n = (self.pending.len() - conflicts.len()) as u64;
        match self.mode {
            WriteMode::Into { .. } => self.report.rows_written += n,
            WriteMode::Update => self.report.rows_updated += n,
        }
        self.report.conflicts.extend(conflicts);
        self.pending.clear();
        Ok(())
    }
}

impl DbWriter for SqliteWriter {
    fn write(&mut self, row: MaskedRow<'_>) -> Result<(), DbError> {
        let image = RowImage::decode(&row.record.raw)?;
        match self.mode {
            WriteMode::Into { .. } => {
                let mut params: Vec<Value> = image
                    .cells
                    .iter()
                    .map(|c| match c {
                        Cell::N => Value::Null,
                        Cell::I(i) => Value::Integer(*i),
                        Cell::F(b) => Value::Real(f64::from_bits(*b)),
                        Cell::T(s) => Value::Text(s.clone()),
                        Cell::B(_) => Value::Blob(c.to_bytes().unwrap_or_default()),
                    })
                    .collect();
                for (pos, m) in self.field_pos.iter().zip(&row.masked) {
                    if let (Some(m), Some(slot)) = (m, params.get_mut(*pos)) {
                        *slot = Value::Text(m.to_string());
                    }
                }
                self.pending.push((params, row.record.key.clone()));
            }
            WriteMode::Update => {
                if row.masked.iter().all(Option::is_none) {
                    return Ok(());
                }
                let mut params: Vec<Value> = row
                    .masked
                    .iter()
                    .map(|m| m.map_or(Value::Null, |s| Value::Text(s.to_string())))
                    .collect();
                for k in &image.keys {
                    match k {
                        Some(k) => params.push(Value::Text(k.clone())),
                        None => {
                            return Err(DbError::new(
                                DbErrorKind::Write,
                                format!(
                                    "record at row {} has a NULL key; cannot update it",
                                    row.record.line
                                ),
                            ))
                        }
                    }
                }
                // The text that was read, for the fields to be masked.
                for (m, f) in row.masked.iter().zip(&row.record.fields) {
                    params.push(m.map_or(Value::Null, |_| Value::Text(f.text.clone())));
                }
                self.pending.push((params, row.record.key.clone()));
            }
        }
        if self.pending.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    fn erase(&mut self, row: EraseRow<'_>) -> Result<(), DbError> {
        let table = self.table.clone();
        if let Some(st) = statement(DbKind::Sqlite, &Sqlite, &table, &self.spec, &row)
            .map_err(|e| e.context(&self.url))?
        {
            self.erasing.push(st);
        }
        if self.erasing.len() >= self.batch {
            self.flush_erase()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<WriteReport, DbError> {
        self.flush_erase()?;
        self.flush()?;
        if let WriteMode::Into { table, replace } = self.mode.clone() {
            let url = self.url.clone();
            let wrap = |e: rusqlite::Error| {
                DbError::new(DbErrorKind::Write, url.scrub(&e.to_string()))
                    .context(format!("{url}: table {table}"))
            };
            let q = DbKind::Sqlite;
            let tx = self.conn.transaction().map_err(wrap)?;
            let count: i64 = tx
                .query_row(
                    &format!("SELECT count(*) FROM {}", q.quote_table(&self.table)),
                    [],
                    |r| r.get(0),
                )
                .map_err(wrap)?;
            if count as u64 != self.report.rows_written {
                return Err(DbError::new(
                    DbErrorKind::Verify,
                    format!(
                        "staging table {} holds {count} rows, {} were written; not renamed",
                        self.table, self.report.rows_written
                    ),
                )
                .context(&url));
            }
            if replace {
                tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", q.quote_table(&table)))
                    .map_err(wrap)?;
            }
            tx.execute_batch(&format!(
                "ALTER TABLE {} RENAME TO {}",
                q.quote_table(&self.table),
                q.quote(leaf(&table))
            ))
            .map_err(wrap)?;
            tx.commit().map_err(wrap)?;
        }
        Ok(self.report.clone())
    }

    fn abort(&mut self) -> String {
        let dropped = match &self.mode {
            WriteMode::Into { .. } => self
                .conn
                .execute_batch(&format!(
                    "DROP TABLE IF EXISTS {}",
                    DbKind::Sqlite.quote_table(&self.table)
                ))
                .is_ok(),
            WriteMode::Update => false,
        };
        self.mode.abort_message(&self.report, &self.table, dropped)
    }
}

//! `mask --into`/`--update` for MySQL and MariaDB, on a connection of its own: batches in
//! transactions; `--into` fills a staging table and renames it when the row count checks out.

use mysql::prelude::Queryable;
use mysql::{Conn, TxOpts, Value};

use super::erase::{statement, Applied, Dialect, EraseRow, Statement};
use super::{
    key_not_unique, leaf, staging_name, BatchOutcome, Conflict, DbWriter, MaskedRow, WriteMode,
    WriteReport,
};
use crate::input::db::{Cell, DbError, DbErrorKind, DbKind, DbSpec, DbUrl, RowImage};
use crate::input::mysql::{connect, describe};

/// Writes masked rows to MySQL/MariaDB.
pub(crate) struct MysqlWriter {
    conn: Conn,
    url: DbUrl,
    spec: DbSpec,
    mode: WriteMode,
    table: String,
    /// `--into`: column names of the table, and where the fields are among them.
    columns: Vec<String>,
    field_pos: Vec<usize>,
    pending: Vec<(Vec<Value>, String)>,
    batch: usize,
    report: WriteReport,
    /// `erase`: the statements of the current batch.
    erasing: Vec<Statement>,
}

/// MySQL's spelling of the erase statements: fields compared as UTF-8 bytes, as `--update`
/// does (a collation would ignore case and trailing spaces).
struct My;

impl Dialect for My {
    fn ph(&self, _n: usize) -> String {
        "?".into()
    }
    fn key_eq(&self, _i: usize, col: &str, ph: &str) -> String {
        format!("{col} = {ph}")
    }
    fn text_eq(&self, _i: usize, col: &str, ph: &str, coalesce: bool) -> String {
        let col = if coalesce {
            format!("COALESCE({col}, '')")
        } else {
            col.to_string()
        };
        format!("CAST(CONVERT({col} USING utf8mb4) AS BINARY) = CAST({ph} AS BINARY)")
    }
}

/// Start writing masked rows (`--into` creates the staging table now).
///
/// # Errors
/// The target exists without `--replace`, or a write fails.
pub(crate) fn open_writer(
    url: &DbUrl,
    spec: &DbSpec,
    mode: WriteMode,
    batch: usize,
) -> Result<Box<dyn DbWriter>, DbError> {
    let conn = connect(url)?;
    let source = spec.table.clone().unwrap_or_default();
    let m = DbKind::Mysql;
    let mut w = MysqlWriter {
        conn,
        url: url.clone(),
        spec: spec.clone(),
        mode: mode.clone(),
        table: source.clone(),
        columns: Vec::new(),
        field_pos: Vec::new(),
        pending: Vec::new(),
        batch: batch.max(1),
        report: WriteReport::default(),
        erasing: Vec::new(),
    };
    if let WriteMode::Into { table, replace } = &mode {
        if w.exists(table)? && !replace {
            return Err(DbError::new(
                DbErrorKind::Exists,
                format!("table {table} already exists (use --replace to overwrite it)"),
            )
            .context(url));
        }
        let staging = staging_name(table);
        let s = m.quote_table(&staging);
        w.table = staging.clone();
        w.run(&format!("DROP TABLE IF EXISTS {s}"))?;
        w.run(&format!("CREATE TABLE {s} LIKE {}", m.quote_table(&source)))?;
        let listed: Result<Vec<String>, mysql::Error> = w
            .conn
            .query_iter(format!("SELECT * FROM {s} LIMIT 0"))
            .map(|r| {
                r.columns()
                    .as_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect()
            });
        let cols = listed.map_err(|e| w.wrap(&e))?;
        w.field_pos = spec
            .fields
            .iter()
            .map(|f| cols.iter().position(|c| c == f).unwrap_or(0))
            .collect();
        w.columns = cols;
    }
    Ok(Box::new(w))
}

impl MysqlWriter {
    fn wrap(&self, e: &mysql::Error) -> DbError {
        let (kind, msg) = describe(&self.url, e, DbErrorKind::Write);
        let kind = if kind == DbErrorKind::Schema {
            DbErrorKind::Write
        } else {
            kind
        };
        DbError::new(kind, format!("{}: table {}: {msg}", self.url, self.table))
    }

    fn run(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.query_drop(sql).map_err(|e| self.wrap(&e))
    }

    fn exists(&mut self, table: &str) -> Result<bool, DbError> {
        let (schema, name) = match table.split_once('.') {
            Some((s, t)) => (Some(s.to_string()), t.to_string()),
            None => (None, table.to_string()),
        };
        let n: Option<i64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
                (schema, name),
            )
            .map_err(|e| self.wrap(&e))?;
        Ok(n.unwrap_or(0) > 0)
    }

    /// Run the queued erase statements in one transaction.
    fn flush_erase(&mut self) -> Result<(), DbError> {
        if self.erasing.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.erasing);
        let mut committing = 0;
        let result = (|| -> Result<Result<Applied, (String, u64)>, mysql::Error> {
            let mut t = self.conn.start_transaction(TxOpts::default())?;
            let mut applied = Applied::default();
            for st in &pending {
                let params: Vec<Value> = st
                    .params
                    .iter()
                    .map(|p| Value::Bytes(p.as_bytes().to_vec()))
                    .collect();
                t.exec_drop(st.sql.as_str(), params)?;
                // Rows changed: a matched row always changes (a masked value differs from
                // the one read, NULL from a text with findings; a delete removes it).
                if let Err(e) = applied.count(st, t.affected_rows()) {
                    return Ok(Err(e));
                }
            }
            committing = applied.rows();
            t.commit()?;
            Ok(Ok(applied))
        })();
        match result {
            Ok(Ok(applied)) => {
                applied.commit_to(&mut self.report);
                Ok(())
            }
            Ok(Err((key, n))) => Err(key_not_unique(&self.url, &self.table, &key, n)),
            Err(e) => {
                self.report.uncertain = committing;
                Err(self.wrap(&e))
            }
        }
    }

    fn flush(&mut self) -> Result<(), DbError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let m = DbKind::Mysql;
        let sql = match &self.mode {
            WriteMode::Into { .. } => format!(
                "INSERT INTO {} ({}) VALUES ({})",
                m.quote_table(&self.table),
                self.columns
                    .iter()
                    .map(|c| m.quote(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                vec!["?"; self.columns.len()].join(", ")
            ),
            WriteMode::Update => format!(
                "UPDATE {} SET {} WHERE {}",
                m.quote_table(&self.table),
                self.spec
                    .fields
                    .iter()
                    .map(|f| format!("{c} = COALESCE(?, {c})", c = m.quote(f)))
                    .collect::<Vec<_>>()
                    .join(", "),
                // Compare-and-set: a masked field is written only while it holds exactly the
                // text that was read, compared as UTF-8 bytes (a collation would ignore case
                // and trailing spaces).
                self.spec
                    .key
                    .iter()
                    .map(|k| format!("{} = ?", m.quote(k)))
                    .chain(self.spec.fields.iter().map(|f| format!(
                        "(? IS NULL OR CAST(CONVERT({} USING utf8mb4) AS BINARY) = CAST(? AS BINARY))",
                        m.quote(f)
                    )))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
        };
        let pending = std::mem::take(&mut self.pending);
        let update = self.mode == WriteMode::Update;
        let nf = self.spec.fields.len();
        let spec = &self.spec;
        let mut committing = 0;
        let result = (|| -> Result<BatchOutcome, mysql::Error> {
            let mut t = self.conn.start_transaction(TxOpts::default())?;
            let stmt = t.prep(&sql)?;
            let mut conflicts = Vec::new();
            for (params, key) in &pending {
                t.exec_drop(&stmt, params.clone())?;
                // Rows changed: a matched row always changes, since a masked value differs
                // from the one read, which the row still holds.
                match t.affected_rows() {
                    0 if update => {
                        let masked: Vec<Option<()>> = params[..nf.min(params.len())]
                            .iter()
                            .map(|v| (*v != Value::NULL).then_some(()))
                            .collect();
                        conflicts.push(Conflict::of(spec, key, &masked));
                    }
                    n if update && n != 1 => return Ok(Err((key.clone(), n))),
                    _ => {}
                }
            }
            committing = pending.len() as u64 - conflicts.len() as u64;
            t.commit()?;
            Ok(Ok((committing, conflicts)))
        })();
        match result {
            Ok(Ok((n, conflicts))) if update => {
                self.report.rows_updated += n;
                self.report.conflicts.extend(conflicts);
            }
            Ok(Ok((n, _))) => self.report.rows_written += n,
            Ok(Err((key, n))) => return Err(key_not_unique(&self.url, &self.table, &key, n)),
            Err(e) => {
                if update {
                    self.report.uncertain = committing;
                }
                return Err(self.wrap(&e));
            }
        }
        Ok(())
    }
}

fn cell_value(c: &Cell) -> Value {
    match c {
        Cell::N => Value::NULL,
        Cell::I(i) => Value::Int(*i),
        Cell::F(b) => Value::Double(f64::from_bits(*b)),
        Cell::T(_) | Cell::B(_) => Value::Bytes(c.to_bytes().unwrap_or_default()),
    }
}

impl DbWriter for MysqlWriter {
    fn write(&mut self, row: MaskedRow<'_>) -> Result<(), DbError> {
        let image = RowImage::decode(&row.record.raw)?;
        match self.mode {
            WriteMode::Into { .. } => {
                let mut params: Vec<Value> = image.cells.iter().map(cell_value).collect();
                for (pos, m) in self.field_pos.iter().zip(&row.masked) {
                    if let (Some(m), Some(slot)) = (m, params.get_mut(*pos)) {
                        *slot = Value::Bytes(m.as_bytes().to_vec());
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
                    .map(|m| m.map_or(Value::NULL, |s| Value::Bytes(s.as_bytes().to_vec())))
                    .collect();
                for k in image.keys {
                    match k {
                        Some(k) => params.push(Value::Bytes(k.into_bytes())),
                        None => {
                            return Err(DbError::new(
                                DbErrorKind::Write,
                                format!(
                                    "{}: table {}: row {} has a NULL key; cannot update it",
                                    self.url, self.table, row.record.line
                                ),
                            ))
                        }
                    }
                }
                // The text that was read, twice per field (`? IS NULL OR ... = ?`).
                for (m, f) in row.masked.iter().zip(&row.record.fields) {
                    let read = m.map_or(Value::NULL, |_| Value::Bytes(f.text.as_bytes().to_vec()));
                    params.push(read.clone());
                    params.push(read);
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
        if let Some(st) = statement(DbKind::Mysql, &My, &table, &self.spec, &row)
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
            let m = DbKind::Mysql;
            let count: Option<i64> = self
                .conn
                .query_first(format!(
                    "SELECT COUNT(*) FROM {}",
                    m.quote_table(&self.table)
                ))
                .map_err(|e| self.wrap(&e))?;
            let count = count.unwrap_or(-1);
            if count < 0 || count as u64 != self.report.rows_written {
                return Err(DbError::new(
                    DbErrorKind::Verify,
                    format!(
                        "{}: staging table {} holds {count} rows, {} were written; not renamed",
                        self.url, self.table, self.report.rows_written
                    ),
                ));
            }
            let target = m.quote_table(&table);
            let staging = m.quote_table(&self.table);
            if replace && self.exists(&table)? {
                // One atomic RENAME swaps both names; the old table is dropped afterwards.
                let old = format!("{}__art9_old", leaf(&table));
                let old = match table.rsplit_once('.') {
                    Some((schema, _)) => format!("{schema}.{old}"),
                    None => old,
                };
                let old_q = m.quote_table(&old);
                self.run(&format!("DROP TABLE IF EXISTS {old_q}"))?;
                self.run(&format!(
                    "RENAME TABLE {target} TO {old_q}, {staging} TO {target}"
                ))?;
                self.run(&format!("DROP TABLE {old_q}"))?;
            } else {
                self.run(&format!("RENAME TABLE {staging} TO {target}"))?;
            }
        }
        Ok(self.report.clone())
    }

    fn abort(&mut self) -> String {
        let dropped = match &self.mode {
            WriteMode::Into { .. } => self
                .conn
                .query_drop(format!(
                    "DROP TABLE IF EXISTS {}",
                    DbKind::Mysql.quote_table(&self.table)
                ))
                .is_ok(),
            WriteMode::Update => false,
        };
        self.mode.abort_message(&self.report, &self.table, dropped)
    }
}

//! SQLite: `sqlite:crm.db`. Read-only connection for reading; a table is read in rowid pages
//! ([`FETCH_ROWS`] rows a statement) so that no read lock is held between pages and `mask`
//! can write to the same file from a second connection; `--query` streams one statement.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags};

use super::db::{
    build_record, leaf, staging_name, Cell, ChannelSource, Conflict, DbError, DbErrorKind, DbKind,
    DbSpec, DbUrl, DbWriter, FieldValue, MaskedRow, RowImage, RowSender, SourceStats, WriteMode,
    WriteReport, FETCH_ROWS,
};

const BUSY: Duration = Duration::from_secs(30);

fn err(url: &DbUrl, kind: DbErrorKind, e: &rusqlite::Error) -> DbError {
    DbError::new(kind, url.scrub(&e.to_string())).context(url)
}

fn open(url: &DbUrl, write: bool) -> Result<Connection, DbError> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(url.target(), flags)
        .map_err(|e| err(url, DbErrorKind::Connect, &e))?;
    conn.busy_timeout(BUSY)
        .map_err(|e| err(url, DbErrorKind::Connect, &e))?;
    Ok(conn)
}

/// Column names of a table, in order (empty when the table does not exist).
fn table_columns(conn: &Connection, url: &DbUrl, table: &str) -> Result<Vec<ColumnInfo>, DbError> {
    let (schema, name) = match table.split_once('.') {
        Some((s, t)) => (s, t),
        None => ("main", table),
    };
    let mut stmt = conn
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1, ?2)")
        .map_err(|e| err(url, DbErrorKind::Schema, &e))?;
    let rows = stmt
        .query_map([name, schema], |r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                decl: r.get(1)?,
                not_null: r.get::<_, i64>(2)? != 0,
                default: r.get(3)?,
                pk: r.get(4)?,
            })
        })
        .map_err(|e| err(url, DbErrorKind::Schema, &e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(url, DbErrorKind::Schema, &e))
}

struct ColumnInfo {
    name: String,
    decl: String,
    not_null: bool,
    default: Option<String>,
    pk: i64,
}

fn missing_column(url: &DbUrl, spec: &DbSpec, names: &[String]) -> Result<(), DbError> {
    for c in spec.key.iter().chain(&spec.subject).chain(&spec.fields) {
        if !names.iter().any(|n| n == c) {
            return Err(DbError::new(
                DbErrorKind::Schema,
                format!("{} has no column {c}", spec.source_name()),
            )
            .context(url));
        }
    }
    Ok(())
}

fn key_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

fn field_value(v: ValueRef<'_>) -> FieldValue {
    match v {
        ValueRef::Null => FieldValue::Null,
        ValueRef::Text(t) => match super::utf8(t) {
            Ok(s) => FieldValue::Text(s.to_string()),
            Err(_) => FieldValue::BadUtf8,
        },
        ValueRef::Integer(_) => FieldValue::NotText("integer".into()),
        ValueRef::Real(_) => FieldValue::NotText("real".into()),
        ValueRef::Blob(_) => FieldValue::NotText("blob".into()),
    }
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::N,
        ValueRef::Integer(i) => Cell::I(i),
        ValueRef::Real(f) => Cell::F(f.to_bits()),
        ValueRef::Text(t) => Cell::from_bytes(t),
        ValueRef::Blob(b) => Cell::B(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

/// Where key, field and captured columns sit in a result row.
struct Layout {
    keys: Vec<usize>,
    subject: Option<usize>,
    fields: Vec<usize>,
    /// First captured column (`*`), when capturing the row.
    cells_from: Option<usize>,
}

fn row_to_record(
    row: &rusqlite::Row<'_>,
    layout: &Layout,
    spec: &DbSpec,
    line: u64,
    stats: &SourceStats,
) -> Result<Result<super::Record, super::Skipped>, rusqlite::Error> {
    let keys = layout
        .keys
        .iter()
        .map(|&i| row.get_ref(i).map(key_text))
        .collect::<Result<Vec<_>, _>>()?;
    let values = layout
        .fields
        .iter()
        .map(|&i| row.get_ref(i).map(field_value))
        .collect::<Result<Vec<_>, _>>()?;
    let image = if let Some(from) = layout.cells_from {
        let n = row.as_ref().column_count();
        let cells = (from..n)
            .map(|i| row.get_ref(i).map(cell))
            .collect::<Result<Vec<_>, _>>()?;
        Some(RowImage {
            keys: keys.clone(),
            cells,
            json: None,
        })
    } else if spec.capture_keys {
        Some(RowImage {
            keys: keys.clone(),
            ..RowImage::default()
        })
    } else {
        None
    };
    let subject = match layout.subject {
        Some(i) => key_text(row.get_ref(i)?),
        None => None,
    };
    Ok(build_record(
        spec, line, keys, subject, values, image, stats,
    ))
}

/// Open a SQLite record source.
///
/// # Errors
/// The file cannot be opened, the table or a column does not exist, the query fails.
pub fn open_source(
    url: &DbUrl,
    spec: &DbSpec,
    stats: Arc<SourceStats>,
) -> Result<ChannelSource, DbError> {
    spec.validate()?;
    let conn = open(url, false)?;
    let q = |c: &str| DbKind::Sqlite.quote(c);
    let spec = spec.clone();
    let what = format!("{url}: {}", spec.source_name());
    if let Some(table) = spec.table.clone() {
        let cols = table_columns(&conn, url, &table)?;
        if cols.is_empty() {
            return Err(
                DbError::new(DbErrorKind::Schema, format!("table {table} does not exist"))
                    .context(url),
            );
        }
        let names: Vec<String> = cols.into_iter().map(|c| c.name).collect();
        missing_column(url, &spec, &names)?;
        let mut select: Vec<String> = vec!["rowid".into()];
        select.extend(
            spec.key
                .iter()
                .chain(&spec.subject)
                .chain(&spec.fields)
                .map(|c| q(c)),
        );
        if spec.capture_row {
            select.push("*".into());
        }
        // --subject-id: filtered here as a bound parameter (the pipeline compares exactly).
        let filter = match (&spec.subject, &spec.subject_id) {
            (Some(s), Some(_)) => format!(" AND {} = ?2", q(s)),
            _ => String::new(),
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE rowid > ?1{filter} ORDER BY rowid LIMIT {FETCH_ROWS}",
            select.join(", "),
            DbKind::Sqlite.quote_table(&table)
        );
        conn.prepare(&sql).map_err(|e| {
            DbError::new(
                DbErrorKind::Schema,
                format!(
                    "table {table} cannot be read by rowid ({}); use --query",
                    url.scrub(&e.to_string())
                ),
            )
            .context(url)
        })?;
        let nk = spec.key.len();
        let ns = usize::from(spec.subject.is_some());
        let nf = spec.fields.len();
        let layout = Layout {
            keys: (1..=nk).collect(),
            subject: spec.subject.as_ref().map(|_| nk + 1),
            fields: (nk + ns + 1..=nk + ns + nf).collect(),
            cells_from: spec.capture_row.then_some(1 + nk + ns + nf),
        };
        let subject_id = spec.subject_id.clone();
        let url = url.clone();
        return Ok(ChannelSource::spawn(what, move |mut tx: RowSender| {
            let fail = |e: rusqlite::Error| {
                DbError::new(DbErrorKind::Read, url.scrub(&e.to_string()))
                    .context(format!("{url}: table {table}"))
            };
            let mut last: i64 = i64::MIN;
            let mut line = 0u64;
            loop {
                let mut page = Vec::with_capacity(FETCH_ROWS);
                let result = (|| -> Result<(), rusqlite::Error> {
                    let mut stmt = conn.prepare_cached(&sql)?;
                    let mut rows = match &subject_id {
                        Some(id) => stmt.query(rusqlite::params![last, id])?,
                        None => stmt.query(rusqlite::params![last])?,
                    };
                    while let Some(row) = rows.next()? {
                        last = row.get(0)?;
                        line += 1;
                        page.push(row_to_record(row, &layout, &spec, line, &stats)?);
                    }
                    Ok(())
                })();
                // The page's statement is finished here: no lock is held while we wait.
                if let Err(e) = result {
                    return tx.fail(fail(e));
                }
                let full = page.len() == FETCH_ROWS;
                for item in page {
                    if !tx.send(item) {
                        return;
                    }
                }
                if !full {
                    return tx.done();
                }
            }
        }));
    }
    let query = spec.query.clone().unwrap_or_default();
    let names: Vec<String> = {
        let stmt = conn
            .prepare(&query)
            .map_err(|e| err(url, DbErrorKind::Schema, &e).context("query"))?;
        stmt.column_names().into_iter().map(String::from).collect()
    };
    missing_column(url, &spec, &names)?;
    let pos = |c: &String| names.iter().position(|n| n == c).unwrap_or(0);
    let layout = Layout {
        keys: spec.key.iter().map(pos).collect(),
        subject: spec.subject.as_ref().map(pos),
        fields: spec.fields.iter().map(pos).collect(),
        cells_from: None,
    };
    let url = url.clone();
    Ok(ChannelSource::spawn(what, move |mut tx: RowSender| {
        let mut line = 0u64;
        let result = (|| -> Result<bool, rusqlite::Error> {
            let mut stmt = conn.prepare(&query)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                line += 1;
                if !tx.send(row_to_record(row, &layout, &spec, line, &stats)?) {
                    return Ok(false);
                }
            }
            Ok(true)
        })();
        match result {
            Ok(true) => tx.done(),
            Ok(false) => {}
            Err(e) => tx.fail(
                DbError::new(DbErrorKind::Read, url.scrub(&e.to_string()))
                    .context(format!("{url}: query")),
            ),
        }
    }))
}

/// Count the rows a scan will read (for the progress bar): `SELECT count(*)` over the table
/// (with the `--subject-id` filter) or over the query as a subquery.
///
/// # Errors
/// As [`open_source`]; also a query that cannot be a subquery.
pub fn count_rows(url: &DbUrl, spec: &DbSpec) -> Result<u64, DbError> {
    spec.validate()?;
    let conn = open(url, false)?;
    let q = DbKind::Sqlite;
    let fail = |e: rusqlite::Error| {
        DbError::new(DbErrorKind::Read, url.scrub(&e.to_string()))
            .context(format!("{url}: {}: counting rows", spec.source_name()))
    };
    let n: i64 = match (&spec.table, &spec.subject, &spec.subject_id) {
        (Some(table), Some(s), Some(id)) => conn.query_row(
            &format!(
                "SELECT count(*) FROM {} WHERE {} = ?1",
                q.quote_table(table),
                q.quote(s)
            ),
            [id],
            |r| r.get(0),
        ),
        (Some(table), _, _) => conn.query_row(
            &format!("SELECT count(*) FROM {}", q.quote_table(table)),
            [],
            |r| r.get(0),
        ),
        (None, _, _) => conn.query_row(
            &format!("SELECT count(*) FROM (\n{}\n)", spec.query_body()),
            [],
            |r| r.get(0),
        ),
    }
    .map_err(fail)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Writes masked rows to a SQLite database.
pub struct SqliteWriter {
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
}

/// Start writing masked rows (`--into` creates the staging table now).
///
/// # Errors
/// The target exists without `--replace`, the schema cannot be read, or a write fails.
pub fn open_writer(
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
                    return Err(DbError::new(
                        DbErrorKind::Write,
                        format!(
                            "key {key} matched {n} rows, not 1; --key must identify one row \
                             (this batch was rolled back)"
                        ),
                    )
                    .context(format!("{url}: table {table}")));
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

    fn finish(&mut self) -> Result<WriteReport, DbError> {
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

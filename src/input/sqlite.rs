//! SQLite: `sqlite:crm.db`. Read-only connection for reading; a table is read in rowid pages
//! ([`FETCH_ROWS`] rows a statement) so that no read lock is held between pages and `mask`
//! can write to the same file from a second connection; `--query` streams one statement.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Context, ContextNames};

use super::db::{
    build_record, Cell, ChannelSource, DbError, DbErrorKind, DbKind, DbSpec, DbUrl, FieldValue,
    RowImage, RowNames, RowSender, SourceStats, FETCH_ROWS,
};

const BUSY: Duration = Duration::from_secs(30);

pub(crate) fn err(url: &DbUrl, kind: DbErrorKind, e: &rusqlite::Error) -> DbError {
    DbError::new(kind, url.scrub(&e.to_string())).context(url)
}

pub(crate) fn open(url: &DbUrl, write: bool) -> Result<Connection, DbError> {
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
pub(crate) fn table_columns(
    conn: &Connection,
    url: &DbUrl,
    table: &str,
) -> Result<Vec<ColumnInfo>, DbError> {
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

pub(crate) struct ColumnInfo {
    pub(crate) name: String,
    pub(crate) decl: String,
    pub(crate) not_null: bool,
    pub(crate) default: Option<String>,
    pub(crate) pk: i64,
}

fn missing_column(url: &DbUrl, spec: &DbSpec, names: &[String]) -> Result<(), DbError> {
    for c in spec
        .key
        .iter()
        .chain(&spec.subject)
        .chain(&spec.fields)
        .chain(&spec.context)
    {
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
    context: Vec<usize>,
    /// The context names (`spec.context`), shared by every record.
    names: ContextNames,
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
    let mut context = Context::with_names(&layout.names);
    for (slot, &i) in layout.context.iter().enumerate() {
        context.set_owned_at(slot, key_text(row.get_ref(i)?));
    }
    Ok(build_record(
        spec,
        line,
        RowNames {
            keys,
            subject,
            context,
        },
        values,
        image,
        stats,
    ))
}

/// Open a SQLite record source.
///
/// # Errors
/// The file cannot be opened, the table or a column does not exist, the query fails.
pub(crate) fn open_source(
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
                .chain(&spec.context)
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
        let nc = spec.context.len();
        let layout = Layout {
            keys: (1..=nk).collect(),
            subject: spec.subject.as_ref().map(|_| nk + 1),
            fields: (nk + ns + 1..=nk + ns + nf).collect(),
            context: (nk + ns + nf + 1..=nk + ns + nf + nc).collect(),
            names: ContextNames::new(&spec.context),
            cells_from: spec.capture_row.then_some(1 + nk + ns + nf + nc),
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
        context: spec.context.iter().map(pos).collect(),
        names: ContextNames::new(&spec.context),
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
pub(crate) fn count_rows(url: &DbUrl, spec: &DbSpec) -> Result<u64, DbError> {
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

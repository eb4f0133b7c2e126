//! PostgreSQL: `postgres://user@host/db`. Rows are read through a portal (a server-side
//! cursor) inside a read-only transaction, [`FETCH_ROWS`] rows a round trip, so the client
//! never holds more than one fetch plus the pipeline's bounded queue.
//!
//! TLS: not built in (it would need OpenSSL or a rustls stack); connections use `sslmode`
//! `prefer` semantics without TLS support, i.e. plain TCP. Use a local socket, an SSH tunnel
//! or a TLS-terminating proxy for remote servers.

use std::sync::Arc;
use std::time::Duration;

use postgres::types::{FromSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};

use super::db::{
    build_record, leaf, staging_name, ChannelSource, DbError, DbErrorKind, DbKind, DbSpec, DbUrl,
    DbWriter, FieldValue, MaskedRow, RowImage, RowSender, SourceStats, WriteMode, WriteReport,
    FETCH_ROWS,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Classify and describe a driver error without passwords or row data (no URL prefix).
fn describe(url: &DbUrl, e: &postgres::Error, default: DbErrorKind) -> (DbErrorKind, String) {
    let (kind, msg) = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let kind = if code.starts_with("28") {
                DbErrorKind::Auth
            } else if code == "3D000" {
                DbErrorKind::Connect
            } else if code.starts_with("42") {
                DbErrorKind::Schema
            } else {
                default
            };
            (kind, db.message().to_string())
        }
        None => {
            let kind = if e.is_closed() {
                DbErrorKind::Read
            } else {
                default
            };
            let mut msg = e.to_string();
            if let Some(cause) = std::error::Error::source(e) {
                let cause = cause.to_string();
                if !msg.contains(&cause) {
                    msg = format!("{msg}: {cause}");
                }
            }
            (kind, msg)
        }
    };
    (kind, url.scrub(&msg))
}

/// `describe` as an error: `URL: WHERE: message`.
fn classify(url: &DbUrl, e: &postgres::Error, default: DbErrorKind, at: &str) -> DbError {
    let (kind, msg) = describe(url, e, default);
    DbError::new(kind, format!("{url}: {at}{msg}"))
}

/// Accepts any column type; tells only whether the value is NULL.
struct IsNull(bool);

impl<'a> FromSql<'a> for IsNull {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull(false))
    }
    fn from_sql_null(_: &Type) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull(true))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

fn connect(url: &DbUrl) -> Result<Client, DbError> {
    let mut config: Config = url.target().parse().map_err(|e: postgres::Error| {
        DbError::new(DbErrorKind::Url, url.scrub(&e.to_string())).context(url)
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("art9");
    }
    config.connect(NoTls).map_err(|e| {
        let (kind, msg) = describe(url, &e, DbErrorKind::Connect);
        let kind = if kind == DbErrorKind::Read {
            DbErrorKind::Connect
        } else {
            kind
        };
        DbError::new(kind, format!("{url}: {msg}"))
    })
}

fn is_text(ty: &Type) -> bool {
    <&str as FromSql>::accepts(ty)
}

#[derive(Clone, Copy)]
enum KeyType {
    Text,
    I16,
    I32,
    I64,
}

fn key_type(ty: &Type) -> Option<KeyType> {
    if is_text(ty) {
        Some(KeyType::Text)
    } else if *ty == Type::INT2 {
        Some(KeyType::I16)
    } else if *ty == Type::INT4 {
        Some(KeyType::I32)
    } else if *ty == Type::INT8 {
        Some(KeyType::I64)
    } else {
        None
    }
}

fn key_value(row: &Row, i: usize, t: KeyType) -> Result<Option<String>, postgres::Error> {
    Ok(match t {
        KeyType::Text => row.try_get::<_, Option<&str>>(i)?.map(str::to_string),
        KeyType::I16 => row.try_get::<_, Option<i16>>(i)?.map(|v| v.to_string()),
        KeyType::I32 => row.try_get::<_, Option<i32>>(i)?.map(|v| v.to_string()),
        KeyType::I64 => row.try_get::<_, Option<i64>>(i)?.map(|v| v.to_string()),
    })
}

struct Layout {
    keys: Vec<(usize, KeyType)>,
    /// Column index, or the type name when it is not text.
    fields: Vec<(usize, Option<String>)>,
    json: Option<usize>,
}

fn layout(url: &DbUrl, spec: &DbSpec, stmt: &Statement) -> Result<Layout, DbError> {
    let cols = stmt.columns();
    let find = |c: &String| {
        cols.iter().position(|x| x.name() == c).ok_or_else(|| {
            DbError::new(
                DbErrorKind::Schema,
                format!("{} has no column {c}", spec.source_name()),
            )
            .context(url)
        })
    };
    let mut keys = Vec::new();
    for k in &spec.key {
        let i = find(k)?;
        let t = key_type(cols[i].type_()).ok_or_else(|| {
            DbError::new(
                DbErrorKind::Schema,
                format!(
                    "{}: key column {k} has type {}; select it as CAST({k} AS text)",
                    spec.source_name(),
                    cols[i].type_().name()
                ),
            )
            .context(url)
        })?;
        keys.push((i, t));
    }
    let mut fields = Vec::new();
    for f in &spec.fields {
        let i = find(f)?;
        let ty = cols[i].type_();
        fields.push((i, (!is_text(ty)).then(|| ty.name().to_string())));
    }
    Ok(Layout {
        keys,
        fields,
        json: spec.capture_row.then(|| cols.len() - 1),
    })
}

fn to_record(
    row: &Row,
    layout: &Layout,
    spec: &DbSpec,
    line: u64,
    stats: &SourceStats,
) -> Result<Result<super::Record, super::Skipped>, postgres::Error> {
    let keys = layout
        .keys
        .iter()
        .map(|&(i, t)| key_value(row, i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut values = Vec::with_capacity(layout.fields.len());
    for (i, not_text) in &layout.fields {
        values.push(match not_text {
            Some(ty) => {
                if row.try_get::<_, IsNull>(*i)?.0 {
                    FieldValue::Null
                } else {
                    FieldValue::NotText(ty.clone())
                }
            }
            None => match row.try_get::<_, Option<&str>>(*i)? {
                Some(s) => FieldValue::Text(s.to_string()),
                None => FieldValue::Null,
            },
        });
    }
    let image = if spec.capture_keys || spec.capture_row {
        Some(RowImage {
            keys: keys.clone(),
            cells: Vec::new(),
            json: match layout.json {
                Some(i) => row.try_get::<_, Option<String>>(i)?,
                None => None,
            },
        })
    } else {
        None
    };
    Ok(build_record(spec, line, &keys, values, image, stats))
}

/// Open a PostgreSQL record source.
///
/// # Errors
/// Unreachable server, authentication failure, missing table or column, bad query.
pub fn open_source(
    url: &DbUrl,
    spec: &DbSpec,
    stats: Arc<SourceStats>,
) -> Result<ChannelSource, DbError> {
    spec.validate()?;
    let mut client = connect(url)?;
    let q = |c: &str| format!("t.{}", DbKind::Postgres.quote(c));
    let sql = match &spec.table {
        Some(table) => {
            let mut cols: Vec<String> = spec
                .key
                .iter()
                .map(|k| format!("{}::text AS {}", q(k), DbKind::Postgres.quote(k)))
                .collect();
            cols.extend(spec.fields.iter().map(|f| q(f)));
            if spec.capture_row {
                cols.push("row_to_json(t)::text".into());
            }
            format!(
                "SELECT {} FROM {} AS t",
                cols.join(", "),
                DbKind::Postgres.quote_table(table)
            )
        }
        None => spec.query.clone().unwrap_or_default(),
    };
    let stmt = client.prepare(&sql).map_err(|e| {
        classify(
            url,
            &e,
            DbErrorKind::Schema,
            &format!("{}: ", spec.source_name()),
        )
    })?;
    let layout = layout(url, spec, &stmt)?;
    let spec = spec.clone();
    let url = url.clone();
    let what = format!("{url}: {}", spec.source_name());
    Ok(ChannelSource::spawn(what.clone(), move |tx: RowSender| {
        let mut line = 0u64;
        let result = (|| -> Result<bool, postgres::Error> {
            let mut t = client.build_transaction().read_only(true).start()?;
            let portal = t.bind(&stmt, &[])?;
            loop {
                let rows = t.query_portal(&portal, FETCH_ROWS as i32)?;
                let n = rows.len();
                for row in &rows {
                    line += 1;
                    if !tx.send(to_record(row, &layout, &spec, line, &stats)?) {
                        return Ok(false);
                    }
                }
                if n < FETCH_ROWS {
                    break;
                }
            }
            t.commit()?;
            Ok(true)
        })();
        match result {
            Ok(true) => tx.done(),
            Ok(false) => {}
            Err(e) => {
                let (_, detail) = describe(&url, &e, DbErrorKind::Read);
                tx.fail(DbError::new(
                    DbErrorKind::Read,
                    format!("{what}: after row {line}: {detail}"),
                ))
            }
        }
    }))
}

/// Writes masked rows to PostgreSQL.
pub struct PgWriter {
    client: Client,
    url: DbUrl,
    spec: DbSpec,
    mode: WriteMode,
    /// `--into`: the staging table; `--update`: the source table.
    table: String,
    /// `--update`: SQL type names of the key columns.
    key_types: Vec<String>,
    /// `--into`: JSON objects of the pending rows; `--update`: (masked, keys).
    pending_json: Vec<String>,
    pending_updates: Vec<(Vec<Option<String>>, Vec<String>, String)>,
    batch: usize,
    report: WriteReport,
}

/// Start writing masked rows (`--into` creates the staging table now).
///
/// # Errors
/// The target exists without `--replace`, a column is missing, or a write fails.
pub fn open_writer(
    url: &DbUrl,
    spec: &DbSpec,
    mode: WriteMode,
    batch: usize,
) -> Result<Box<dyn DbWriter>, DbError> {
    let client = connect(url)?;
    let source = spec.table.clone().unwrap_or_default();
    let p = DbKind::Postgres;
    let mut w = PgWriter {
        client,
        url: url.clone(),
        spec: spec.clone(),
        mode: mode.clone(),
        table: source.clone(),
        key_types: Vec::new(),
        pending_json: Vec::new(),
        pending_updates: Vec::new(),
        batch: batch.max(1),
        report: WriteReport::default(),
    };
    let wrap = |e: postgres::Error, t: &str| {
        classify(url, &e, DbErrorKind::Write, &format!("table {t}: "))
    };
    match &mode {
        WriteMode::Into { table, replace } => {
            let found: Option<String> = w
                .client
                .query_one("SELECT to_regclass($1)::text", &[&p.quote_table(table)])
                .and_then(|r| r.try_get(0))
                .map_err(|e| wrap(e, table))?;
            if found.is_some() && !replace {
                return Err(DbError::new(
                    DbErrorKind::Exists,
                    format!("table {table} already exists (use --replace to overwrite it)"),
                )
                .context(url));
            }
            let staging = staging_name(table);
            w.client
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {s}; CREATE TABLE {s} (LIKE {src} INCLUDING DEFAULTS)",
                    s = p.quote_table(&staging),
                    src = p.quote_table(&source)
                ))
                .map_err(|e| wrap(e, &staging))?;
            w.table = staging;
        }
        WriteMode::Update => {
            let cols = spec
                .key
                .iter()
                .map(|k| format!("t.{}", p.quote(k)))
                .collect::<Vec<_>>()
                .join(", ");
            let stmt = w
                .client
                .prepare(&format!(
                    "SELECT {cols} FROM {} AS t",
                    p.quote_table(&source)
                ))
                .map_err(|e| wrap(e, &source))?;
            for c in stmt.columns() {
                let name = c.type_().name().to_string();
                super::db::check_ident("key column type", &name, true)?;
                w.key_types.push(name);
            }
        }
    }
    Ok(Box::new(w))
}

impl PgWriter {
    fn wrap(&self, e: &postgres::Error) -> DbError {
        let (_, m) = describe(&self.url, e, DbErrorKind::Write);
        DbError::new(
            DbErrorKind::Write,
            format!("{}: table {}: {m}", self.url, self.table),
        )
    }

    fn flush(&mut self) -> Result<(), DbError> {
        let p = DbKind::Postgres;
        match &self.mode {
            WriteMode::Into { .. } => {
                if self.pending_json.is_empty() {
                    return Ok(());
                }
                let rows = format!("[{}]", self.pending_json.join(","));
                let t = p.quote_table(&self.table);
                let n = self
                    .client
                    .execute(
                        &format!(
                            "INSERT INTO {t} SELECT * FROM json_populate_recordset(NULL::{t}, \
                             $1::text::json)"
                        ),
                        &[&rows],
                    )
                    .map_err(|e| self.wrap(&e))?;
                if n != self.pending_json.len() as u64 {
                    return Err(DbError::new(
                        DbErrorKind::Verify,
                        format!(
                            "{}: table {}: inserted {n} rows, expected {}",
                            self.url,
                            self.table,
                            self.pending_json.len()
                        ),
                    ));
                }
                self.report.rows_written += n;
                self.pending_json.clear();
            }
            WriteMode::Update => {
                if self.pending_updates.is_empty() {
                    return Ok(());
                }
                let nf = self.spec.fields.len();
                let set = self
                    .spec
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!("{c} = COALESCE(${}, {c})", i + 1, c = p.quote(f)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let cond = self
                    .spec
                    .key
                    .iter()
                    .zip(&self.key_types)
                    .enumerate()
                    .map(|(i, (k, ty))| {
                        format!("{} = CAST(${}::text AS {ty})", p.quote(k), nf + i + 1)
                    })
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let sql = format!(
                    "UPDATE {} SET {set} WHERE {cond}",
                    p.quote_table(&self.table)
                );
                let pending = std::mem::take(&mut self.pending_updates);
                let result = (|| -> Result<Result<u64, (String, u64)>, postgres::Error> {
                    let mut t = self.client.transaction()?;
                    let stmt = t.prepare(&sql)?;
                    for (masked, keys, key) in &pending {
                        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
                        for m in masked {
                            params.push(m);
                        }
                        for k in keys {
                            params.push(k);
                        }
                        let n = t.execute(&stmt, &params)?;
                        if n != 1 {
                            return Ok(Err((key.clone(), n)));
                        }
                    }
                    t.commit()?;
                    Ok(Ok(pending.len() as u64))
                })();
                match result {
                    Ok(Ok(n)) => self.report.rows_updated += n,
                    Ok(Err((key, n))) => {
                        return Err(DbError::new(
                            DbErrorKind::Write,
                            format!(
                                "{}: table {}: key {key} matched {n} rows, not 1; --key must \
                                 identify one row (this batch was rolled back)",
                                self.url, self.table
                            ),
                        ))
                    }
                    Err(e) => return Err(self.wrap(&e)),
                }
            }
        }
        Ok(())
    }
}

impl DbWriter for PgWriter {
    fn write(&mut self, row: MaskedRow<'_>) -> Result<(), DbError> {
        let image = RowImage::decode(&row.record.raw)?;
        match self.mode {
            WriteMode::Into { .. } => {
                let mut json = image.json.unwrap_or_default();
                if !json.ends_with('}') {
                    return Err(DbError::new(
                        DbErrorKind::Write,
                        format!("{}: row {}: no row image", self.url, row.record.line),
                    ));
                }
                // json_populate_record takes the last of duplicate keys: append the masked
                // values instead of re-parsing (and re-formatting numbers in) the row.
                json.pop();
                for (f, m) in self.spec.fields.iter().zip(&row.masked) {
                    if let Some(m) = m {
                        let v = serde_json::to_string(m).unwrap_or_default();
                        json.push_str(&format!(",\"{f}\":{v}"));
                    }
                }
                json.push('}');
                self.pending_json.push(json);
                if self.pending_json.len() >= self.batch {
                    self.flush()?;
                }
            }
            WriteMode::Update => {
                if row.masked.iter().all(Option::is_none) {
                    return Ok(());
                }
                let mut keys = Vec::new();
                for k in image.keys {
                    match k {
                        Some(k) => keys.push(k),
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
                let masked = row.masked.iter().map(|m| m.map(str::to_string)).collect();
                self.pending_updates
                    .push((masked, keys, row.record.key.clone()));
                if self.pending_updates.len() >= self.batch {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<WriteReport, DbError> {
        self.flush()?;
        if let WriteMode::Into { table, replace } = self.mode.clone() {
            let p = DbKind::Postgres;
            let count: i64 = self
                .client
                .query_one(
                    &format!("SELECT count(*) FROM {}", p.quote_table(&self.table)),
                    &[],
                )
                .and_then(|r| r.try_get(0))
                .map_err(|e| self.wrap(&e))?;
            if count as u64 != self.report.rows_written {
                return Err(DbError::new(
                    DbErrorKind::Verify,
                    format!(
                        "{}: staging table {} holds {count} rows, {} were written; not renamed",
                        self.url, self.table, self.report.rows_written
                    ),
                ));
            }
            let drop = if replace {
                format!("DROP TABLE IF EXISTS {};", p.quote_table(&table))
            } else {
                String::new()
            };
            self.client
                .batch_execute(&format!(
                    "BEGIN; {drop} ALTER TABLE {} RENAME TO {}; COMMIT",
                    p.quote_table(&self.table),
                    p.quote(leaf(&table))
                ))
                .map_err(|e| self.wrap(&e))?;
        }
        Ok(self.report.clone())
    }

    fn abort(&mut self) -> String {
        let dropped = match &self.mode {
            WriteMode::Into { .. } => {
                let _ = self.client.batch_execute("ROLLBACK");
                self.client
                    .batch_execute(&format!(
                        "DROP TABLE IF EXISTS {}",
                        DbKind::Postgres.quote_table(&self.table)
                    ))
                    .is_ok()
            }
            WriteMode::Update => false,
        };
        self.mode.abort_message(&self.report, &self.table, dropped)
    }
}

//! PostgreSQL: `postgres://user@host/db`. Rows are streamed with
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)` inside a read-only transaction (what
//! `psql \copy` does). The source has its own tokio-postgres connection and reads the whole
//! stream inside one `block_on` of a current-thread runtime; its thread only finds where each
//! row ends in the server's messages and hands the rows on as they came (no copy, no
//! decoding: [`PgRow`]), and the workers decode them. The client holds no more than the
//! pipeline's bounded queue of rows (and the messages they came in); the server's COPY waits
//! when the socket is full. Where COPY cannot be used (a bound `--subject-id` parameter, a
//! statement COPY cannot wrap) a portal (server-side cursor) reads [`FETCH_ROWS`] rows a
//! round trip instead; both hand on the same binary values, so keys and fields are identical
//! either way.
//!
//! TLS: `sslmode=disable|prefer|require|verify-ca|verify-full` in the URL, default `prefer`,
//! as libpq: `prefer` encrypts when the server offers TLS and falls back to plain TCP when it
//! does not; `require` fails then. With those three the server's certificate is not verified
//! (as libpq without a root certificate: encrypted against eavesdropping, not authenticated).
//! `verify-ca` checks the certificate chain against the roots in `sslrootcert=FILE` (PEM;
//! default `~/.postgresql/root.crt`), `verify-full` also that the certificate names the host.
//! rustls with the ring provider, no OpenSSL.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, Config, Statement};

use super::Pending;

mod copy;
mod tls;

use self::copy::{slots, CopyTuples, Shape, Slot};
use self::tls::driver_config;

use super::db::{
    build_record, ChannelSource, DbError, DbErrorKind, DbKind, DbSpec, DbUrl, FieldValue, RowImage,
    RowNames, RowSender, SourceStats, FETCH_ROWS,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Classify and describe a driver error without passwords or row data (no URL prefix).
pub(crate) fn describe(
    url: &DbUrl,
    e: &postgres::Error,
    default: DbErrorKind,
) -> (DbErrorKind, String) {
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
pub(crate) fn classify(
    url: &DbUrl,
    e: &postgres::Error,
    default: DbErrorKind,
    at: &str,
) -> DbError {
    let (kind, msg) = describe(url, e, default);
    DbError::new(kind, format!("{url}: {at}{msg}"))
}

/// Any column's value as the server sent it in binary format (`None` = NULL): the portal
/// path hands rows to the same decoder as the binary `COPY` stream.
struct RawCol<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawCol<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> Result<RawCol<'a>, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCol(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> Result<RawCol<'a>, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawCol(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A failed connection attempt as a [`DbError`] (a dropped connection is `Connect` here).
fn connect_error(url: &DbUrl, e: &postgres::Error) -> DbError {
    let (kind, msg) = describe(url, e, DbErrorKind::Connect);
    let kind = if kind == DbErrorKind::Read {
        DbErrorKind::Connect
    } else {
        kind
    };
    DbError::new(kind, format!("{url}: {msg}"))
}

pub(crate) fn connect(url: &DbUrl) -> Result<Client, DbError> {
    let (config, tls) = driver_config(url)?;
    Config::from(config)
        .connect(tls)
        .map_err(|e| connect_error(url, &e))
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
    /// `date`, `timestamp`, `timestamptz`: handed over in ISO 8601 (issue 21: a `--query`'s
    /// date column needs no cast).
    Date,
    Timestamp,
}

impl KeyType {
    /// The size of a binary value of this type, when fixed.
    fn size(self) -> Option<usize> {
        match self {
            KeyType::Text => None,
            KeyType::I16 => Some(2),
            KeyType::I32 | KeyType::Date => Some(4),
            KeyType::I64 | KeyType::Timestamp => Some(8),
        }
    }
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
    } else if *ty == Type::DATE {
        Some(KeyType::Date)
    } else if *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ {
        Some(KeyType::Timestamp)
    } else {
        None
    }
}

/// A key or subject value as text (`None` = NULL). Text that is not UTF-8 is replaced
/// lossily: a key only names the row in findings.
/// A text value of the binary COPY format: its UTF-8 bytes, checked with
/// [`super::utf8`]; the `ltree` types, whose binary form starts with a version byte, are
/// left to `postgres-types`.
fn text_from_sql<'a>(ty: &Type, raw: &'a [u8]) -> Result<&'a str, ()> {
    match ty.name() {
        "ltree" | "lquery" | "ltxtquery" => <&str as FromSql>::from_sql(ty, raw).map_err(drop),
        _ => super::utf8(raw).map_err(drop),
    }
}

/// The fixed-size big-endian bytes of a binary value (the reader checked the size).
fn be<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("a {N}-byte value has {} bytes", raw.len()))
}

fn key_value(ty: &Type, t: KeyType, raw: Option<&[u8]>) -> Result<Option<String>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = |e: Box<dyn std::error::Error + Sync + Send>| format!("bad {} value: {e}", ty.name());
    Ok(Some(match t {
        KeyType::Text => match text_from_sql(ty, raw) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        },
        KeyType::I16 => i16::from_sql(ty, raw).map_err(bad)?.to_string(),
        KeyType::I32 => i32::from_sql(ty, raw).map_err(bad)?.to_string(),
        KeyType::I64 => i64::from_sql(ty, raw).map_err(bad)?.to_string(),
        KeyType::Date => crate::date::pg_date(i32::from_be_bytes(be(raw)?)),
        KeyType::Timestamp => crate::date::pg_timestamp(i64::from_be_bytes(be(raw)?)),
    }))
}

/// Where key, subject, field and row-image columns sit in a result row.
struct Layout {
    types: Vec<Type>,
    keys: Vec<(usize, KeyType)>,
    subject: Option<(usize, KeyType)>,
    context: Vec<(usize, KeyType)>,
    /// Column index, and the type name when it is not text.
    fields: Vec<(usize, Option<String>)>,
    json: Option<usize>,
    /// What the reader checks per column.
    shape: Shape,
}

fn layout(url: &DbUrl, spec: &DbSpec, stmt: &Statement) -> Result<Layout, DbError> {
    let cols = stmt.columns();
    let err = |msg: String| DbError::new(DbErrorKind::Schema, msg).context(url);
    // Table mode: the select list is ours (keys, subject, fields, row image), so columns are
    // taken by position; a query's columns are found by name.
    let by_position = spec.table.is_some();
    let mut next = 0;
    let mut find = |c: &String| -> Result<usize, DbError> {
        if by_position {
            next += 1;
            return Ok(next - 1);
        }
        cols.iter()
            .position(|x| x.name() == c)
            .ok_or_else(|| err(format!("{} has no column {c}", spec.source_name())))
    };
    let typed = |i: usize, what: &str, c: &str| {
        key_type(cols[i].type_()).ok_or_else(|| {
            err(format!(
                "{}: {what} column {c} has type {}; select it as CAST({c} AS text)",
                spec.source_name(),
                cols[i].type_().name()
            ))
        })
    };
    let mut keys = Vec::new();
    for k in &spec.key {
        let i = find(k)?;
        keys.push((i, typed(i, "key", k)?));
    }
    let subject = match &spec.subject {
        Some(s) => {
            let i = find(s)?;
            Some((i, typed(i, "subject", s)?))
        }
        None => None,
    };
    let mut fields = Vec::new();
    for f in &spec.fields {
        let i = find(f)?;
        let ty = cols[i].type_();
        fields.push((i, (!is_text(ty)).then(|| ty.name().to_string())));
    }
    let mut context = Vec::new();
    for c in &spec.context {
        let i = find(c)?;
        context.push((i, typed(i, "context", c)?));
    }
    let json = spec.capture_row.then(|| cols.len() - 1);
    let mut limits = vec![None; cols.len()];
    if spec.max_field_bytes > 0 {
        for &(i, _) in &fields {
            let other_use = keys.iter().any(|k| k.0 == i)
                || subject.is_some_and(|s| s.0 == i)
                || context.iter().any(|c| c.0 == i)
                || json == Some(i);
            if !other_use {
                limits[i] = Some(spec.max_field_bytes);
            }
        }
    }
    let mut sizes = vec![None; cols.len()];
    for &(i, t) in keys.iter().chain(&subject).chain(&context) {
        sizes[i] = t.size();
    }
    Ok(Layout {
        types: cols.iter().map(|c| c.type_().clone()).collect(),
        keys,
        subject,
        context,
        fields,
        json,
        shape: Shape { limits, sizes },
    })
}

/// What the workers need to turn a tuple into a record.
struct RowContext {
    layout: Layout,
    spec: DbSpec,
    stats: Arc<SourceStats>,
}

/// A PostgreSQL row as read (its binary tuple, the bytes as the server sent them), turned
/// into a record by [`Pending::resolve`](super::Pending::resolve) on a worker thread: the
/// reader thread only finds where rows end.
pub struct PgRow {
    tuple: Bytes,
    line: u64,
    ctx: Arc<RowContext>,
}

impl std::fmt::Debug for PgRow {
    // Never the row's bytes: they hold note text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRow")
            .field("line", &self.line)
            .field("bytes", &self.tuple.len())
            .finish()
    }
}

impl PgRow {
    /// The row's size in bytes as read.
    pub fn raw_len(&self) -> usize {
        self.tuple.len()
    }

    /// Decode the row: the record, or why it was skipped.
    pub fn resolve(self) -> Result<super::Record, super::Skipped> {
        thread_local! {
            /// The column slots of the row being decoded, reused row after row.
            static COLS: std::cell::Cell<Vec<Slot>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let ctx = &*self.ctx;
        let mut cols = COLS.take();
        cols.clear();
        let result = match slots(&self.tuple, &ctx.layout.shape.limits, &mut cols) {
            Some(()) => to_record(&self.tuple, &cols, ctx, self.line),
            // The reader checked the tuple's lengths: not reached.
            None => Err(super::Skipped::at_line(
                self.line,
                super::SkipKind::MissingField,
                format!("{}: malformed row", ctx.spec.source_name()),
            )),
        };
        COLS.set(cols);
        result
    }
}

/// Turn one row into a record or a skip.
fn to_record(
    tuple: &[u8],
    cols: &[Slot],
    ctx: &RowContext,
    line: u64,
) -> Result<super::Record, super::Skipped> {
    let (layout, spec) = (&ctx.layout, &ctx.spec);
    let raw = |i: usize| match cols.get(i) {
        Some(&Slot::Bytes(s, e)) => tuple.get(s..e),
        _ => None,
    };
    // The reader checked the sizes of integer keys, so decoding them does not fail.
    let bad_key = |msg: String| {
        super::Skipped::at_line(
            line,
            super::SkipKind::MissingField,
            format!("{}: {msg}", spec.source_name()),
        )
    };
    let keys = layout
        .keys
        .iter()
        .map(|&(i, t)| key_value(&layout.types[i], t, raw(i)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_key)?;
    let subject = match layout.subject {
        Some((i, t)) => key_value(&layout.types[i], t, raw(i)).map_err(bad_key)?,
        None => None,
    };
    let context = layout
        .context
        .iter()
        .map(|&(i, t)| key_value(&layout.types[i], t, raw(i)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_key)?;
    // Decoded as `build_record` takes them (no list of values in between).
    let values = layout
        .fields
        .iter()
        .map(|(i, not_text)| match (cols.get(*i), not_text) {
            (None | Some(Slot::Null), _) => FieldValue::Null,
            (Some(Slot::Oversize(n)), None) => FieldValue::TooLarge(*n),
            (Some(_), Some(ty)) => FieldValue::NotText(ty.clone()),
            (Some(Slot::Bytes(..)), None) => {
                match text_from_sql(&layout.types[*i], raw(*i).unwrap_or_default()) {
                    Ok(text) => FieldValue::Text(text.to_string()),
                    Err(_) => FieldValue::BadUtf8,
                }
            }
        });
    let image = if spec.capture_keys || spec.capture_row {
        Some(RowImage {
            keys: keys.clone(),
            cells: Vec::new(),
            json: layout
                .json
                .and_then(raw)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        })
    } else {
        None
    };
    build_record(
        spec,
        line,
        RowNames {
            keys,
            subject,
            context,
        },
        values,
        image,
        &ctx.stats,
    )
}

/// Why reading stopped.
enum ReadError {
    Pg(postgres::Error),
    /// The binary COPY stream is not what PostgreSQL documents (never contains row data).
    Format(String),
}

impl From<postgres::Error> for ReadError {
    fn from(e: postgres::Error) -> ReadError {
        ReadError::Pg(e)
    }
}

impl ReadError {
    fn describe(&self, url: &DbUrl) -> String {
        match self {
            ReadError::Pg(e) => describe(url, e, DbErrorKind::Read).1,
            ReadError::Format(m) => m.clone(),
        }
    }
}

/// The record source's connection: its own current-thread tokio runtime and the
/// tokio-postgres connection task, which runs only inside [`Driver::block_on`] (so within
/// the one `block_on` that reads all rows, many rows a runtime entry).
struct Driver {
    rt: tokio::runtime::Runtime,
    /// `None` once the connection has ended.
    conn: Option<Conn>,
}

type Conn = Pin<Box<dyn Future<Output = Result<(), postgres::Error>> + Send>>;

impl Driver {
    /// Connect as [`connect`] does (same configuration, TLS and errors).
    fn connect(url: &DbUrl) -> Result<(Driver, tokio_postgres::Client), DbError> {
        let (config, tls) = driver_config(url)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                DbError::new(
                    DbErrorKind::Connect,
                    format!("{url}: cannot start the client runtime: {e}"),
                )
            })?;
        let (client, conn) = rt
            .block_on(config.connect(tls))
            .map_err(|e| connect_error(url, &e))?;
        let conn: Conn = Box::pin(conn);
        Ok((
            Driver {
                rt,
                conn: Some(conn),
            },
            client,
        ))
    }

    /// Run `work` to its end, driving the connection meanwhile. A connection error ends it
    /// (as the blocking client does); a closed connection fails `work`'s requests.
    fn block_on<T, E: From<postgres::Error>>(
        &mut self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut work = std::pin::pin!(work);
        let conn = &mut self.conn;
        self.rt.block_on(std::future::poll_fn(|cx| {
            if let Some(c) = conn {
                if let Poll::Ready(end) = c.as_mut().poll(cx) {
                    *conn = None;
                    if let Err(e) = end {
                        return Poll::Ready(Err(E::from(e)));
                    }
                }
            }
            work.as_mut().poll(cx)
        }))
    }
}

/// The SELECT for a table: keys and subject as text, the fields, the context columns as
/// text, the row image.
fn table_select(spec: &DbSpec, table: &str) -> String {
    let p = DbKind::Postgres;
    let q = |c: &str| format!("t.{}", p.quote(c));
    let mut cols: Vec<String> = spec.key.iter().map(|k| format!("{}::text", q(k))).collect();
    if let Some(s) = &spec.subject {
        cols.push(format!("{}::text", q(s)));
    }
    cols.extend(spec.fields.iter().map(|f| q(f)));
    // Dates and timestamps in ISO 8601 whatever the session's DateStyle (`SQL, DMY` would
    // give `07/12/2026 10:00:00 CET`): to_json writes them so. Other types as their text.
    cols.extend(spec.context.iter().map(|c| {
        let c = q(c);
        format!(
            "CASE WHEN pg_typeof({c}) IN ('date'::regtype, 'timestamp'::regtype, \
             'timestamptz'::regtype) THEN to_json({c})#>>'{{}}' ELSE {c}::text END"
        )
    }));
    if spec.capture_row {
        cols.push("row_to_json(t)::text".into());
    }
    format!(
        "SELECT {} FROM {} AS t",
        cols.join(", "),
        p.quote_table(table)
    )
}

/// The statement to prepare to learn the subject column's type (for [`subject_where`]).
fn subject_probe(spec: &DbSpec, table: &str) -> Option<String> {
    let p = DbKind::Postgres;
    let s = spec.subject.as_ref()?;
    Some(format!(
        "SELECT t.{} FROM {} AS t",
        p.quote(s),
        p.quote_table(table)
    ))
}

/// `WHERE subject = $1`, comparing in the column's own type when it is a built-in one (so
/// that an index on it can be used), else as text. `probe`: [`subject_probe`] prepared.
fn subject_where(spec: &DbSpec, probe: &Statement) -> String {
    let Some(s) = &spec.subject else {
        return String::new();
    };
    let col = format!("t.{}", DbKind::Postgres.quote(s));
    let builtin = probe
        .columns()
        .first()
        .map(|c| c.type_())
        .filter(|ty| ty.schema() == "pg_catalog")
        .map(|ty| ty.name().to_string())
        .filter(|name| super::db::check_ident("type", name, false).is_ok());
    match builtin {
        Some(ty) => format!(" WHERE {col} = CAST($1::text AS {ty})"),
        None => format!(" WHERE {col}::text = $1"),
    }
}

/// [`subject_where`] with the blocking client.
fn subject_filter(
    client: &mut Client,
    url: &DbUrl,
    spec: &DbSpec,
    table: &str,
) -> Result<String, DbError> {
    let Some(probe) = subject_probe(spec, table) else {
        return Ok(String::new());
    };
    let stmt = client
        .prepare(&probe)
        .map_err(|e| classify(url, &e, DbErrorKind::Schema, &format!("table {table}: ")))?;
    Ok(subject_where(spec, &stmt))
}

/// Read a bound statement through a portal, [`FETCH_ROWS`] rows a round trip, handing each
/// row to `emit` in the tuple format of the COPY stream; `false` when `emit` says to stop.
async fn read_portal(
    t: &tokio_postgres::Transaction<'_>,
    stmt: &Statement,
    params: &[&(dyn ToSql + Sync)],
    shape: &Shape,
    emit: &mut impl FnMut(Bytes) -> bool,
) -> Result<bool, ReadError> {
    let count = i16::try_from(shape.columns())
        .map_err(|_| ReadError::Format(format!("{} columns", shape.columns())))?;
    let portal = t.bind(stmt, params).await?;
    loop {
        let rows = t.query_portal(&portal, FETCH_ROWS as i32).await?;
        for r in &rows {
            let mut tuple = count.to_be_bytes().to_vec();
            for i in 0..shape.columns() {
                let v: RawCol<'_> = r.try_get(i)?;
                shape.encode(i, v.0, &mut tuple)?;
            }
            if !emit(Bytes::from(tuple)) {
                return Ok(false);
            }
        }
        if rows.len() < FETCH_ROWS {
            return Ok(true);
        }
    }
}

/// What to read and how (see [`read_rows`]).
struct Plan {
    stmt: Statement,
    sql: String,
    /// `--subject-id` is a bound parameter: read through a portal.
    with_param: bool,
    /// The statement is the user's query (COPY may not be able to wrap it).
    is_query: bool,
}

/// Read every row in a read-only transaction, handing each to `tx` (see [`open_source`]):
/// `true` at the end of the rows, `false` when the consumer stopped.
async fn read_rows(
    client: &mut tokio_postgres::Client,
    plan: &Plan,
    ctx: &Arc<RowContext>,
    tx: &mut RowSender,
) -> Result<bool, ReadError> {
    let mut line = 0u64;
    let mut emit = |tuple: Bytes| -> bool {
        line += 1;
        tx.send_pending(Pending::Postgres(PgRow {
            tuple,
            line,
            ctx: ctx.clone(),
        }))
    };
    let shape = &ctx.layout.shape;
    let t = client.build_transaction().read_only(true).start().await?;
    if plan.with_param {
        let id = ctx.spec.subject_id.clone().unwrap_or_default();
        let all = read_portal(&t, &plan.stmt, &[&id], shape, &mut emit).await?;
        if all {
            t.commit().await?;
        }
        return Ok(all);
    }
    // A newline before `)` ends a trailing `-- comment` in a query.
    let copy = format!("COPY ({}\n) TO STDOUT (FORMAT binary)", plan.sql);
    match t.copy_out(copy.as_str()).await {
        Ok(stream) => {
            let mut stream = std::pin::pin!(stream);
            let mut tuples = CopyTuples::new(shape.clone());
            // To the end of the COPY (past the trailer), so that the transaction can finish.
            while let Some(chunk) = stream.next().await {
                if !tuples.feed(&chunk?, &mut emit)? {
                    return Ok(false);
                }
            }
            tuples.finish()?;
            t.commit().await?;
            return Ok(true);
        }
        Err(e) if plan.is_query && e.as_db_error().is_some() => {}
        Err(e) => return Err(e.into()),
    }
    // A statement COPY cannot wrap (it did prepare): read it through a portal, in a fresh
    // transaction.
    drop(t);
    let t = client.build_transaction().read_only(true).start().await?;
    let all = read_portal(&t, &plan.stmt, &[], shape, &mut emit).await?;
    if all {
        t.commit().await?;
    }
    Ok(all)
}

/// Open a PostgreSQL record source.
///
/// Rows are streamed with `COPY (SELECT ...) TO STDOUT (FORMAT binary)` in a read-only
/// transaction, as `psql \copy` does: no per-row round trips. With `--subject-id` on a table
/// the subject is a bound parameter, which COPY cannot take, so those (few) rows come
/// through a portal ([`FETCH_ROWS`] a round trip) instead. Both hand the workers the same
/// binary tuples, so keys and fields are identical either way.
///
/// The source has its own tokio-postgres connection and current-thread runtime, and its
/// reader thread reads the whole COPY stream inside one `block_on`: it only finds where each
/// row ends in the server's messages, and the workers decode the rows ([`PgRow`]).
///
/// # Errors
/// Unreachable server, authentication failure, missing table or column, bad query.
pub(crate) fn open_source(
    url: &DbUrl,
    spec: &DbSpec,
    stats: Arc<SourceStats>,
) -> Result<ChannelSource, DbError> {
    spec.validate()?;
    let (mut driver, mut client) = Driver::connect(url)?;
    let (sql, with_param) = match &spec.table {
        Some(table) => {
            let mut sql = table_select(spec, table);
            let param = spec.subject_id.is_some();
            if let Some(probe) = subject_probe(spec, table).filter(|_| param) {
                let stmt = driver.block_on(client.prepare(&probe)).map_err(|e| {
                    classify(url, &e, DbErrorKind::Schema, &format!("table {table}: "))
                })?;
                sql.push_str(&subject_where(spec, &stmt));
            }
            (sql, param)
        }
        None => (spec.query_body().to_string(), false),
    };
    let stmt = driver.block_on(client.prepare(&sql)).map_err(|e| {
        classify(
            url,
            &e,
            DbErrorKind::Schema,
            &format!("{}: ", spec.source_name()),
        )
    })?;
    let layout = layout(url, spec, &stmt)?;
    let plan = Plan {
        stmt,
        sql,
        with_param,
        is_query: spec.query.is_some(),
    };
    let ctx = Arc::new(RowContext {
        layout,
        spec: spec.clone(),
        stats,
    });
    let url = url.clone();
    let what = format!("{url}: {}", spec.source_name());
    Ok(ChannelSource::spawn(
        what.clone(),
        move |mut tx: RowSender| {
            match driver.block_on(read_rows(&mut client, &plan, &ctx, &mut tx)) {
                Ok(true) => tx.done(),
                Ok(false) => {}
                Err(e) => tx.fail(DbError::new(
                    DbErrorKind::Read,
                    // The pipeline's error says how many records were read before this.
                    format!("{what}: {}", e.describe(&url)),
                )),
            }
        },
    ))
}

/// Count the rows a scan will read (for the progress bar): `SELECT count(*)` over the table
/// (with the `--subject-id` filter) or over the query as a subquery.
///
/// # Errors
/// As [`open_source`]; also a query that cannot be a subquery.
pub(crate) fn count_rows(url: &DbUrl, spec: &DbSpec) -> Result<u64, DbError> {
    spec.validate()?;
    let mut client = connect(url)?;
    let sql = match &spec.table {
        Some(table) => {
            let mut sql = format!(
                "SELECT count(*) FROM {} AS t",
                DbKind::Postgres.quote_table(table)
            );
            if spec.subject_id.is_some() {
                sql.push_str(&subject_filter(&mut client, url, spec, table)?);
            }
            sql
        }
        None => format!("SELECT count(*) FROM (\n{}\n) AS q", spec.query_body()),
    };
    let at = format!("{}: counting rows: ", spec.source_name());
    let row = match (&spec.table, &spec.subject_id) {
        (Some(_), Some(id)) => client.query_one(&sql, &[id]),
        _ => client.query_one(&sql, &[]),
    }
    .map_err(|e| classify(url, &e, DbErrorKind::Read, &at))?;
    let n: i64 = row
        .try_get(0)
        .map_err(|e| classify(url, &e, DbErrorKind::Read, &at))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

//! MySQL and MariaDB: `mysql://user@host/db` (or `mariadb://`). Rows are read from an
//! unbuffered (streamed) text-protocol result set: the client holds one row at a time plus
//! the pipeline's bounded queue. Writes use a second connection.
//!
//! TLS: `sslmode=disable|prefer|require` in the URL (libpq's names; default `prefer`): `prefer`
//! encrypts when the server offers TLS and falls back to plain TCP when it does not, `require`
//! fails then. As in libpq without a root certificate the server's certificate is not
//! verified. The driver's own parameters (`require_ssl`, `verify_ca`, `root_cert_path`, ...)
//! take precedence when given. rustls with the ring provider, no OpenSSL.

use std::sync::Arc;
use std::time::Duration;

use mysql::consts::ColumnType;
use mysql::prelude::Queryable;
use mysql::{Column, Conn, Opts, OptsBuilder, Row, SslOpts, Value};

use super::{Context, ContextNames};

use super::db::{
    build_record, take_param, Cell, ChannelSource, DbError, DbErrorKind, DbKind, DbSpec, DbUrl,
    FieldValue, RowImage, RowNames, RowSender, SourceStats, SslMode,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const BINARY_CHARSET: u16 = 63;

pub(crate) fn describe(
    url: &DbUrl,
    e: &mysql::Error,
    default: DbErrorKind,
) -> (DbErrorKind, String) {
    match e {
        mysql::Error::MySqlError(m) => {
            let kind = match m.code {
                1044 | 1045 | 1142 | 1143 | 1227 => DbErrorKind::Auth,
                1049 => DbErrorKind::Connect,
                1054 | 1064 | 1146 => DbErrorKind::Schema,
                _ => default,
            };
            (kind, url.scrub(&m.message))
        }
        mysql::Error::UrlError(_) => (DbErrorKind::Url, url.scrub(&e.to_string())),
        other => (default, url.scrub(&other.to_string())),
    }
}

/// A failure while rows stream in: a dropped connection (server restarted, session killed,
/// network gone) is said in words rather than as the codec's debug output.
fn lost(url: &DbUrl, e: &mysql::Error) -> String {
    match e {
        mysql::Error::IoError(io) => url.scrub(&format!("the connection was lost ({io})")),
        mysql::Error::CodecError(c) => url.scrub(&format!("the connection was lost ({c})")),
        other => describe(url, other, DbErrorKind::Read).1,
    }
}

pub(crate) fn connect(url: &DbUrl) -> Result<Conn, DbError> {
    // `sslmode` is ours (libpq's names); the driver would reject it as unknown.
    let (target, mode) = take_param(url.target(), "sslmode");
    let mode = match mode {
        Some(m) => SslMode::parse(&m).map_err(|e| e.context(url))?,
        None => SslMode::Prefer,
    };
    let opts = Opts::from_url(&target)
        .map_err(|e| DbError::new(DbErrorKind::Url, url.scrub(&e.to_string())).context(url))?;
    // The driver's own TLS parameters (root_cert_path, cert_chain_path, ...) win over sslmode.
    let own_tls = opts.get_ssl_opts().is_some();
    let builder = OptsBuilder::from_opts(opts).tcp_connect_timeout(Some(CONNECT_TIMEOUT));
    let encrypted = builder.clone().ssl_opts(
        // As libpq without a root certificate: encrypted, the certificate not verified.
        SslOpts::default()
            .with_danger_accept_invalid_certs(true)
            .with_danger_skip_domain_validation(true),
    );
    let fail = |e: mysql::Error| {
        let (kind, msg) = describe(url, &e, DbErrorKind::Connect);
        let msg = match e {
            mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => {
                format!("sslmode=require, but the server does not offer TLS ({msg})")
            }
            _ => msg,
        };
        DbError::new(kind, format!("{url}: {msg}"))
    };
    match (own_tls, mode) {
        (true, _) => Conn::new(builder).map_err(fail),
        (false, SslMode::Disable) => Conn::new(builder).map_err(fail),
        (false, SslMode::Require) => Conn::new(encrypted).map_err(fail),
        (false, SslMode::Prefer) => match Conn::new(encrypted) {
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) => {
                Conn::new(builder).map_err(fail)
            }
            other => other.map_err(fail),
        },
    }
}

fn is_text(c: &Column) -> bool {
    use ColumnType::*;
    matches!(
        c.column_type(),
        MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
    ) && c.character_set() != BINARY_CHARSET
}

fn type_name(c: &Column) -> String {
    if c.character_set() == BINARY_CHARSET
        && !matches!(
            c.column_type(),
            ColumnType::MYSQL_TYPE_LONGLONG
                | ColumnType::MYSQL_TYPE_LONG
                | ColumnType::MYSQL_TYPE_SHORT
                | ColumnType::MYSQL_TYPE_TINY
                | ColumnType::MYSQL_TYPE_INT24
        )
    {
        let t = format!("{:?}", c.column_type());
        if t.contains("BLOB") || t.contains("STRING") {
            return "binary".into();
        }
    }
    format!("{:?}", c.column_type())
        .trim_start_matches("MYSQL_TYPE_")
        .to_ascii_lowercase()
}

struct Layout {
    keys: Vec<usize>,
    subject: Option<usize>,
    /// Column index, or the type name when it is not text.
    fields: Vec<(usize, Option<String>)>,
    context: Vec<usize>,
    /// The context names (`spec.context`), shared by every record.
    names: ContextNames,
    cells_from: Option<usize>,
}

fn layout(spec: &DbSpec, cols: &[Column]) -> Result<Layout, String> {
    let find = |c: &String| {
        cols.iter()
            .position(|x| x.name_str() == c.as_str())
            .ok_or_else(|| format!("{} has no column {c}", spec.source_name()))
    };
    let keys = spec.key.iter().map(find).collect::<Result<Vec<_>, _>>()?;
    let subject = spec.subject.as_ref().map(find).transpose()?;
    let mut fields = Vec::new();
    for f in &spec.fields {
        let i = find(f)?;
        fields.push((i, (!is_text(&cols[i])).then(|| type_name(&cols[i]))));
    }
    let context = spec
        .context
        .iter()
        .map(find)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Layout {
        keys,
        subject,
        fields,
        context,
        names: ContextNames::new(&spec.context),
        cells_from: spec.capture_row.then_some(
            spec.key.len()
                + usize::from(spec.subject.is_some())
                + spec.fields.len()
                + spec.context.len(),
        ),
    })
}

fn key_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn to_record(
    row: &Row,
    layout: &Layout,
    spec: &DbSpec,
    line: u64,
    stats: &SourceStats,
) -> Result<super::Record, super::Skipped> {
    let keys: Vec<Option<String>> = layout
        .keys
        .iter()
        .map(|&i| key_text(row.as_ref(i)))
        .collect();
    let values = layout
        .fields
        .iter()
        .map(|(i, not_text)| match (row.as_ref(*i), not_text) {
            (None | Some(Value::NULL), _) => FieldValue::Null,
            (Some(_), Some(ty)) => FieldValue::NotText(ty.clone()),
            (Some(Value::Bytes(b)), None) => match super::utf8(b) {
                Ok(s) => FieldValue::Text(s.to_string()),
                Err(_) => FieldValue::BadUtf8,
            },
            (Some(_), None) => FieldValue::NotText("non-text value".into()),
        });
    let image = if let Some(from) = layout.cells_from {
        let cells = (from..row.len())
            .map(|i| match row.as_ref(i) {
                None | Some(Value::NULL) => Cell::N,
                Some(Value::Bytes(b)) => Cell::from_bytes(b),
                Some(Value::Int(v)) => Cell::I(*v),
                Some(other) => Cell::T(other.as_sql(true).trim_matches('\'').to_string()),
            })
            .collect();
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
    let subject = layout.subject.and_then(|i| key_text(row.as_ref(i)));
    let mut context = Context::with_names(&layout.names);
    for (slot, &i) in layout.context.iter().enumerate() {
        context.set_owned_at(slot, key_text(row.as_ref(i)));
    }
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
        stats,
    )
}

/// Open a MySQL/MariaDB record source.
///
/// # Errors
/// Unreachable server, authentication failure, missing table or column, bad query.
pub(crate) fn open_source(
    url: &DbUrl,
    spec: &DbSpec,
    stats: Arc<SourceStats>,
) -> Result<ChannelSource, DbError> {
    spec.validate()?;
    let mut conn = connect(url)?;
    let m = DbKind::Mysql;
    let sql = match &spec.table {
        Some(table) => {
            let mut cols: Vec<String> = spec
                .key
                .iter()
                .chain(&spec.subject)
                .chain(&spec.fields)
                .chain(&spec.context)
                .map(|c| format!("t.{}", m.quote(c)))
                .collect();
            if spec.capture_row {
                cols.push("t.*".into());
            }
            let mut sql = format!(
                "SELECT {} FROM {} AS t",
                cols.join(", "),
                m.quote_table(table)
            );
            let schema_error = |e: mysql::Error| {
                let (kind, msg) = describe(url, &e, DbErrorKind::Schema);
                DbError::new(kind, format!("{url}: table {table}: {msg}"))
            };
            if let (Some(s), Some(id)) = (&spec.subject, &spec.subject_id) {
                // --subject-id as a bound parameter: a prepared SET, so that the rows still
                // come through the text protocol like every other scan.
                conn.exec_drop("SET @art9_subject_id = ?", (id.as_str(),))
                    .map_err(schema_error)?;
                sql.push_str(&format!(" WHERE t.{} = @art9_subject_id", m.quote(s)));
            }
            // Check table and columns now, for a clear error before anything is read.
            conn.query_drop(format!("{sql} LIMIT 0"))
                .map_err(schema_error)?;
            sql
        }
        None => spec.query.clone().unwrap_or_default(),
    };
    let spec = spec.clone();
    let url = url.clone();
    let what = format!("{url}: {}", spec.source_name());
    Ok(ChannelSource::spawn(
        what.clone(),
        move |mut tx: RowSender| {
            let mut line = 0u64;
            // The pipeline's error says how many records were read before this one.
            let fail = |msg: String| DbError::new(DbErrorKind::Read, format!("{what}: {msg}"));
            let mut result = match conn.query_iter(&sql) {
                Ok(r) => r,
                Err(e) => return tx.fail(fail(describe(&url, &e, DbErrorKind::Read).1)),
            };
            let layout = match layout(&spec, result.columns().as_ref()) {
                Ok(l) => l,
                Err(msg) => {
                    return tx.fail(DbError::new(DbErrorKind::Schema, format!("{url}: {msg}")))
                }
            };
            for row in result.by_ref() {
                let row = match row {
                    Ok(r) => r,
                    Err(e) => return tx.fail(fail(lost(&url, &e))),
                };
                line += 1;
                if !tx.send(to_record(&row, &layout, &spec, line, &stats)) {
                    return;
                }
            }
            tx.done()
        },
    ))
}

/// Count the rows a scan will read (for the progress bar): `SELECT COUNT(*)` over the table
/// (with the `--subject-id` filter) or over the query as a derived table.
///
/// # Errors
/// As [`open_source`]; also a query that cannot be a derived table.
pub(crate) fn count_rows(url: &DbUrl, spec: &DbSpec) -> Result<u64, DbError> {
    spec.validate()?;
    let mut conn = connect(url)?;
    let m = DbKind::Mysql;
    let fail = |e: mysql::Error| {
        let (kind, msg) = describe(url, &e, DbErrorKind::Read);
        DbError::new(
            kind,
            format!("{url}: {}: counting rows: {msg}", spec.source_name()),
        )
    };
    let sql = match &spec.table {
        Some(table) => {
            let mut sql = format!("SELECT COUNT(*) FROM {} AS t", m.quote_table(table));
            if let (Some(s), Some(id)) = (&spec.subject, &spec.subject_id) {
                conn.exec_drop("SET @art9_subject_id = ?", (id.as_str(),))
                    .map_err(fail)?;
                sql.push_str(&format!(" WHERE t.{} = @art9_subject_id", m.quote(s)));
            }
            sql
        }
        None => format!("SELECT COUNT(*) FROM (\n{}\n) AS q", spec.query_body()),
    };
    let n: Option<u64> = conn.query_first(sql).map_err(fail)?;
    Ok(n.unwrap_or(0))
}

//! PostgreSQL: `postgres://user@host/db`. Rows are streamed with
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)` inside a read-only transaction (what
//! `psql \copy` does), one row decoded at a time, so the client never holds more than one
//! row plus the pipeline's bounded queue; the server's COPY waits when the socket is full.
//! Where COPY cannot be used (a bound `--subject-id` parameter, a statement COPY cannot
//! wrap) a portal (server-side cursor) reads [`FETCH_ROWS`] rows a round trip instead; both
//! decode the same binary values, so keys and fields are identical either way.
//!
//! TLS: `sslmode=disable|prefer|require|verify-ca|verify-full` in the URL, default `prefer`,
//! as libpq: `prefer` encrypts when the server offers TLS and falls back to plain TCP when it
//! does not; `require` fails then. With those three the server's certificate is not verified
//! (as libpq without a root certificate: encrypted against eavesdropping, not authenticated).
//! `verify-ca` checks the certificate chain against the roots in `sslrootcert=FILE` (PEM;
//! default `~/.postgresql/root.crt`), `verify-full` also that the certificate names the host.
//! rustls with the ring provider, no OpenSSL.

use std::io::{BufRead, Read};
use std::sync::Arc;
use std::time::Duration;

use postgres::types::{FromSql, ToSql, Type};
use postgres::{Client, Config, Statement};

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

/// How the server's certificate is checked (libpq's `sslmode` values that verify).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verify {
    /// `disable`, `prefer`, `require`: encrypted, certificate not checked (as libpq without
    /// a root certificate).
    None,
    /// `verify-ca`: the certificate chain must lead to a root in `sslrootcert`.
    Ca,
    /// `verify-full`: `verify-ca`, and the certificate must name the host connected to.
    Full,
}

/// The certificate check of every mode but `verify-full` (which is plain webpki).
///
/// Without roots (`prefer`, `require`, as libpq without a root certificate) any certificate
/// is accepted; with roots (`verify-ca`) webpki checks the chain and only a host name
/// mismatch is accepted. Either way the handshake signatures are checked, so the session keys
/// belong to whoever holds the certificate's key.
#[derive(Debug)]
struct LibpqVerifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
}

impl rustls::client::danger::ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::client::danger::ServerCertVerified;
        use rustls::{CertificateError, Error};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The root certificates of `sslrootcert` (libpq's default: `~/.postgresql/root.crt`).
fn root_store(url: &DbUrl, path: Option<&str>) -> Result<rustls::RootCertStore, DbError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let err = |msg: String| DbError::new(DbErrorKind::Connect, format!("{url}: {msg}"));
    let path = match path {
        Some(p) => std::path::PathBuf::from(p),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::Path::new(&home).join(".postgresql/root.crt"),
            None => {
                return Err(err(
                    "sslmode=verify-ca/verify-full needs sslrootcert=FILE (no HOME for the \
                     default ~/.postgresql/root.crt)"
                        .into(),
                ))
            }
        },
    };
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| err(format!("root certificate file {shown}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("root certificate file {shown}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(err(format!(
            "root certificate file {shown} holds no usable certificate"
        )));
    }
    Ok(roots)
}

fn tls(
    url: &DbUrl,
    verify: Verify,
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = |e: &dyn std::fmt::Display| {
        DbError::new(DbErrorKind::Connect, format!("{url}: TLS setup: {e}"))
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(&e))?;
    let chain = match verify {
        Verify::None => None,
        Verify::Ca | Verify::Full => {
            let roots = Arc::new(root_store(url, root_cert)?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots,
                provider.clone(),
            )
            .build()
            .map_err(|e| setup(&e))?;
            Some(webpki)
        }
    };
    let config = match chain {
        Some(webpki) if verify == Verify::Full => {
            builder.with_webpki_verifier(webpki).with_no_client_auth()
        }
        chain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LibpqVerifier { provider, chain }))
            .with_no_client_auth(),
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn connect(url: &DbUrl) -> Result<Client, DbError> {
    // `verify-ca`/`verify-full` and `sslrootcert` are ours: the driver knows only
    // disable/prefer/require, and verifying means `require` plus our certificate check.
    let (target, mode) = super::db::take_param(url.target(), "sslmode");
    let (target, root_cert) = super::db::take_param(&target, "sslrootcert");
    let (verify, mode) = match mode.as_deref() {
        Some("verify-ca") => (Verify::Ca, Some("require")),
        Some("verify-full") => (Verify::Full, Some("require")),
        other => (Verify::None, other),
    };
    if root_cert.is_some() && verify == Verify::None {
        return Err(DbError::new(
            DbErrorKind::Url,
            format!("{url}: sslrootcert is only used with sslmode=verify-ca or verify-full"),
        ));
    }
    let target = match mode {
        Some(m) => format!(
            "{target}{}sslmode={m}",
            if target.contains('?') { '&' } else { '?' }
        ),
        None => target,
    };
    let mut config: Config = target.parse().map_err(|e: postgres::Error| {
        DbError::new(DbErrorKind::Url, url.scrub(&e.to_string())).context(url)
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("art9");
    }
    config
        .connect(tls(url, verify, root_cert.as_deref())?)
        .map_err(|e| {
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

/// A key or subject value as text (`None` = NULL). Text that is not UTF-8 is replaced
/// lossily: a key only names the row in findings.
fn key_value(ty: &Type, t: KeyType, raw: Option<&[u8]>) -> Result<Option<String>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = |e: Box<dyn std::error::Error + Sync + Send>| format!("bad {} value: {e}", ty.name());
    Ok(Some(match t {
        KeyType::Text => match <&str as FromSql>::from_sql(ty, raw) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        },
        KeyType::I16 => i16::from_sql(ty, raw).map_err(bad)?.to_string(),
        KeyType::I32 => i32::from_sql(ty, raw).map_err(bad)?.to_string(),
        KeyType::I64 => i64::from_sql(ty, raw).map_err(bad)?.to_string(),
    }))
}

/// Where key, subject, field and row-image columns sit in a result row.
struct Layout {
    types: Vec<Type>,
    keys: Vec<(usize, KeyType)>,
    subject: Option<(usize, KeyType)>,
    /// Column index, and the type name when it is not text.
    fields: Vec<(usize, Option<String>)>,
    json: Option<usize>,
    /// Per column: the size limit when the column is read only as a field, so that an
    /// oversized value is skipped without being held in memory.
    limits: Vec<Option<usize>>,
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
    let json = spec.capture_row.then(|| cols.len() - 1);
    let mut limits = vec![None; cols.len()];
    if spec.max_field_bytes > 0 {
        for &(i, _) in &fields {
            let other_use = keys.iter().any(|k| k.0 == i)
                || subject.is_some_and(|s| s.0 == i)
                || json == Some(i);
            if !other_use {
                limits[i] = Some(spec.max_field_bytes);
            }
        }
    }
    Ok(Layout {
        types: cols.iter().map(|c| c.type_().clone()).collect(),
        keys,
        subject,
        fields,
        json,
        limits,
    })
}

/// One column of the current row: NULL, a byte range of the row buffer, or a value over
/// its size limit that was not read (its length).
#[derive(Clone, Copy)]
enum Slot {
    Null,
    Bytes(usize, usize),
    Oversize(u64),
}

/// A row as read: every column's bytes (binary format) in one reusable buffer.
#[derive(Default)]
struct RowBuf {
    buf: Vec<u8>,
    slots: Vec<Slot>,
}

impl RowBuf {
    fn clear(&mut self) {
        self.buf.clear();
        self.slots.clear();
    }

    fn raw(&self, i: usize) -> Option<&[u8]> {
        match self.slots.get(i) {
            Some(Slot::Bytes(s, e)) => Some(&self.buf[*s..*e]),
            _ => None,
        }
    }

    /// Append a value already in memory (the portal path).
    fn push(&mut self, value: Option<&[u8]>, limit: Option<usize>) {
        self.slots.push(match value {
            None => Slot::Null,
            Some(v) if limit.is_some_and(|l| v.len() > l) => Slot::Oversize(v.len() as u64),
            Some(v) => {
                let start = self.buf.len();
                self.buf.extend_from_slice(v);
                Slot::Bytes(start, self.buf.len())
            }
        });
    }
}

/// Turn one row into a record or a skip. `Err` only for a key that cannot be decoded.
fn to_record(
    row: &RowBuf,
    layout: &Layout,
    spec: &DbSpec,
    line: u64,
    stats: &SourceStats,
) -> Result<Result<super::Record, super::Skipped>, String> {
    let keys = layout
        .keys
        .iter()
        .map(|&(i, t)| key_value(&layout.types[i], t, row.raw(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let subject = match layout.subject {
        Some((i, t)) => key_value(&layout.types[i], t, row.raw(i))?,
        None => None,
    };
    let mut values = Vec::with_capacity(layout.fields.len());
    for (i, not_text) in &layout.fields {
        values.push(match (row.slots.get(*i), not_text) {
            (None | Some(Slot::Null), _) => FieldValue::Null,
            (Some(Slot::Oversize(n)), None) => FieldValue::TooLarge(*n),
            (Some(_), Some(ty)) => FieldValue::NotText(ty.clone()),
            (Some(Slot::Bytes(s, e)), None) => {
                match <&str as FromSql>::from_sql(&layout.types[*i], &row.buf[*s..*e]) {
                    Ok(text) => FieldValue::Text(text.to_string()),
                    Err(_) => FieldValue::BadUtf8,
                }
            }
        });
    }
    let image = if spec.capture_keys || spec.capture_row {
        Some(RowImage {
            keys: keys.clone(),
            cells: Vec::new(),
            json: layout
                .json
                .and_then(|i| row.raw(i))
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        })
    } else {
        None
    };
    Ok(build_record(
        spec, line, keys, subject, values, image, stats,
    ))
}

/// Why reading stopped.
enum ReadError {
    Pg(postgres::Error),
    Io(std::io::Error),
    /// The binary COPY stream is not what PostgreSQL documents (never contains row data).
    Format(String),
}

impl From<postgres::Error> for ReadError {
    fn from(e: postgres::Error) -> ReadError {
        ReadError::Pg(e)
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

impl ReadError {
    fn describe(&self, url: &DbUrl) -> String {
        match self {
            ReadError::Pg(e) => describe(url, e, DbErrorKind::Read).1,
            ReadError::Io(e) => match e
                .get_ref()
                .and_then(|x| x.downcast_ref::<postgres::Error>())
            {
                Some(pg) => describe(url, pg, DbErrorKind::Read).1,
                None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    "the COPY data ended in the middle of a row".into()
                }
                None => url.scrub(&e.to_string()),
            },
            ReadError::Format(m) => m.clone(),
        }
    }
}

const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

fn read_i16(r: &mut impl Read) -> std::io::Result<i16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(i16::from_be_bytes(b))
}

fn read_i32(r: &mut impl Read) -> std::io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_be_bytes(b))
}

/// The header of a binary COPY stream: signature, flags (no OIDs), extension (skipped).
fn read_copy_header(r: &mut impl Read) -> Result<(), ReadError> {
    let mut sig = [0u8; 11];
    r.read_exact(&mut sig)?;
    if &sig != COPY_SIGNATURE {
        return Err(ReadError::Format("not a binary COPY stream".into()));
    }
    let flags = read_i32(r)?;
    if flags & (1 << 16) != 0 {
        return Err(ReadError::Format("COPY stream with OIDs".into()));
    }
    let ext = read_i32(r)?;
    let ext = u64::try_from(ext).map_err(|_| ReadError::Format("bad COPY header".into()))?;
    skip(r, ext)?;
    Ok(())
}

fn skip(r: &mut impl Read, n: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut r.take(n), &mut std::io::sink())?;
    if copied != n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Read one tuple into `row`; `false` at the trailer.
fn read_copy_tuple(
    r: &mut impl Read,
    layout: &Layout,
    row: &mut RowBuf,
) -> Result<bool, ReadError> {
    row.clear();
    let n = read_i16(r)?;
    if n == -1 {
        return Ok(false);
    }
    if usize::try_from(n).ok() != Some(layout.types.len()) {
        return Err(ReadError::Format(format!(
            "COPY row has {n} columns, expected {}",
            layout.types.len()
        )));
    }
    for i in 0..layout.types.len() {
        let len = read_i32(r)?;
        let slot = match usize::try_from(len) {
            Err(_) if len == -1 => Slot::Null,
            Err(_) => return Err(ReadError::Format(format!("bad COPY value length {len}"))),
            Ok(len) if layout.limits[i].is_some_and(|l| len > l) => {
                skip(r, len as u64)?;
                Slot::Oversize(len as u64)
            }
            Ok(len) => {
                let start = row.buf.len();
                row.buf.resize(start + len, 0);
                r.read_exact(&mut row.buf[start..])?;
                Slot::Bytes(start, start + len)
            }
        };
        row.slots.push(slot);
    }
    Ok(true)
}

/// The SELECT for a table: keys and subject as text, the fields, the row image.
fn table_select(spec: &DbSpec, table: &str) -> String {
    let p = DbKind::Postgres;
    let q = |c: &str| format!("t.{}", p.quote(c));
    let mut cols: Vec<String> = spec.key.iter().map(|k| format!("{}::text", q(k))).collect();
    if let Some(s) = &spec.subject {
        cols.push(format!("{}::text", q(s)));
    }
    cols.extend(spec.fields.iter().map(|f| q(f)));
    if spec.capture_row {
        cols.push("row_to_json(t)::text".into());
    }
    format!(
        "SELECT {} FROM {} AS t",
        cols.join(", "),
        p.quote_table(table)
    )
}

/// `WHERE subject = $1`, comparing in the column's own type when it is a built-in one (so
/// that an index on it can be used), else as text.
fn subject_filter(
    client: &mut Client,
    url: &DbUrl,
    spec: &DbSpec,
    table: &str,
) -> Result<String, DbError> {
    let p = DbKind::Postgres;
    let Some(s) = &spec.subject else {
        return Ok(String::new());
    };
    let col = format!("t.{}", p.quote(s));
    let stmt = client
        .prepare(&format!("SELECT {col} FROM {} AS t", p.quote_table(table)))
        .map_err(|e| classify(url, &e, DbErrorKind::Schema, &format!("table {table}: ")))?;
    let builtin = stmt
        .columns()
        .first()
        .map(|c| c.type_())
        .filter(|ty| ty.schema() == "pg_catalog")
        .map(|ty| ty.name().to_string())
        .filter(|name| super::db::check_ident("type", name, false).is_ok());
    Ok(match builtin {
        Some(ty) => format!(" WHERE {col} = CAST($1::text AS {ty})"),
        None => format!(" WHERE {col}::text = $1"),
    })
}

/// Read a bound statement through a portal, [`FETCH_ROWS`] rows a round trip; `false` when
/// `emit` says to stop.
fn read_portal(
    t: &mut postgres::Transaction<'_>,
    stmt: &Statement,
    params: &[&(dyn ToSql + Sync)],
    layout: &Layout,
    row: &mut RowBuf,
    line: &mut u64,
    emit: &mut impl FnMut(&RowBuf, u64) -> Result<bool, ReadError>,
) -> Result<bool, ReadError> {
    let portal = t.bind(stmt, params)?;
    loop {
        let rows = t.query_portal(&portal, FETCH_ROWS as i32)?;
        for r in &rows {
            row.clear();
            for i in 0..layout.types.len() {
                let v: RawCol<'_> = r.try_get(i)?;
                row.push(v.0, layout.limits[i]);
            }
            *line += 1;
            if !emit(row, *line)? {
                return Ok(false);
            }
        }
        if rows.len() < FETCH_ROWS {
            return Ok(true);
        }
    }
}

/// Open a PostgreSQL record source.
///
/// Rows are streamed with `COPY (SELECT ...) TO STDOUT (FORMAT binary)` in a read-only
/// transaction, as `psql \copy` does: no per-row round trips, and only the bytes of the
/// current row are decoded. With `--subject-id` on a table the subject is a bound parameter,
/// which COPY cannot take, so those (few) rows come through a portal ([`FETCH_ROWS`] a
/// round trip) instead. Both paths decode the same binary values.
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
    let (sql, with_param) = match &spec.table {
        Some(table) => {
            let mut sql = table_select(spec, table);
            let param = spec.subject_id.is_some();
            if param {
                sql.push_str(&subject_filter(&mut client, url, spec, table)?);
            }
            (sql, param)
        }
        None => (spec.query_body().to_string(), false),
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
    let is_query = spec.query.is_some();
    Ok(ChannelSource::spawn(
        what.clone(),
        move |mut tx: RowSender| {
            let mut line = 0u64;
            let mut row = RowBuf::default();
            let mut emit = |row: &RowBuf, line: u64| -> Result<bool, ReadError> {
                let record =
                    to_record(row, &layout, &spec, line, &stats).map_err(ReadError::Format)?;
                Ok(tx.send(record))
            };
            let result = (|| -> Result<bool, ReadError> {
                let mut t = client.build_transaction().read_only(true).start()?;
                if with_param {
                    let id = spec.subject_id.clone().unwrap_or_default();
                    let all = read_portal(
                        &mut t,
                        &stmt,
                        &[&id],
                        &layout,
                        &mut row,
                        &mut line,
                        &mut emit,
                    )?;
                    if all {
                        t.commit()?;
                    }
                    return Ok(all);
                }
                // A newline before `)` ends a trailing `-- comment` in a query.
                let copy = format!("COPY ({sql}\n) TO STDOUT (FORMAT binary)");
                let fallback = match t.copy_out(&copy) {
                    Ok(mut reader) => {
                        read_copy_header(&mut reader)?;
                        while read_copy_tuple(&mut reader, &layout, &mut row)? {
                            line += 1;
                            if !emit(&row, line)? {
                                return Ok(false);
                            }
                        }
                        // Read to the end of the COPY so that the transaction can finish.
                        loop {
                            let n = reader.fill_buf()?.len();
                            if n == 0 {
                                break;
                            }
                            reader.consume(n);
                        }
                        false
                    }
                    Err(e) if is_query && e.as_db_error().is_some() => true,
                    Err(e) => return Err(e.into()),
                };
                if !fallback {
                    t.commit()?;
                    return Ok(true);
                }
                // A statement COPY cannot wrap (it did prepare): read it through a portal, in a
                // fresh transaction.
                drop(t);
                let mut t = client.build_transaction().read_only(true).start()?;
                let all = read_portal(&mut t, &stmt, &[], &layout, &mut row, &mut line, &mut emit)?;
                if all {
                    t.commit()?;
                }
                Ok(all)
            })();
            match result {
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
pub fn count_rows(url: &DbUrl, spec: &DbSpec) -> Result<u64, DbError> {
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

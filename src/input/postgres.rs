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

use super::db::{
    build_record, ChannelSource, DbError, DbErrorKind, DbKind, DbSpec, DbUrl, FieldValue, RowImage,
    RowSender, SourceStats, FETCH_ROWS,
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

/// The driver's configuration and TLS connector for `url`: what the blocking client
/// ([`connect`]) and the record source's own async connection ([`Session::open`]) both use.
fn driver_config(
    url: &DbUrl,
) -> Result<
    (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    DbError,
> {
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
    let mut config: tokio_postgres::Config = target.parse().map_err(|e: postgres::Error| {
        DbError::new(DbErrorKind::Url, url.scrub(&e.to_string())).context(url)
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("art9");
    }
    Ok((config, tls(url, verify, root_cert.as_deref())?))
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
}

impl KeyType {
    /// The size of a binary value of this type, when fixed.
    fn size(self) -> Option<usize> {
        match self {
            KeyType::Text => None,
            KeyType::I16 => Some(2),
            KeyType::I32 => Some(4),
            KeyType::I64 => Some(8),
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
    let mut sizes = vec![None; cols.len()];
    for &(i, t) in keys.iter().chain(&subject) {
        sizes[i] = t.size();
    }
    Ok(Layout {
        types: cols.iter().map(|c| c.type_().clone()).collect(),
        keys,
        subject,
        fields,
        json,
        shape: Shape { limits, sizes },
    })
}

/// What the reader checks in each column of a row (from [`Layout`]).
#[derive(Clone, Debug, Default)]
struct Shape {
    /// Per column: the size limit when the column is read only as a field, so that an
    /// oversized value is skipped (and, when it spans COPY messages, not held in memory).
    limits: Vec<Option<usize>>,
    /// Per column: the binary size of an integer key or subject column, checked on the reader
    /// thread so that the workers' key decoding cannot fail.
    sizes: Vec<Option<usize>>,
}

/// What a column's length announces.
enum Col {
    Null,
    /// A value of that many bytes, to keep.
    Keep(usize),
    /// A value of that many bytes over its column's limit: skipped.
    Skip(usize),
}

/// Column length of a value over its limit in a tuple the reader assembled: the value's
/// bytes are left out and its length follows as 8 bytes. The server never sends it (a
/// negative length other than -1 is an error), so it can only come from the reader.
const OVERSIZE: i32 = -2;

impl Shape {
    fn columns(&self) -> usize {
        self.limits.len()
    }

    /// Check a column length from the server.
    fn column(&self, col: usize, len: i32) -> Result<Col, ReadError> {
        if len == -1 {
            return Ok(Col::Null);
        }
        let n = usize::try_from(len)
            .map_err(|_| ReadError::Format(format!("bad COPY value length {len}")))?;
        if let Some(size) = self.sizes.get(col).copied().flatten() {
            if n != size {
                return Err(ReadError::Format(format!(
                    "column {} holds a {n} byte integer, expected {size} bytes",
                    col + 1
                )));
            }
        }
        Ok(match self.limits.get(col).copied().flatten() {
            Some(limit) if n > limit => Col::Skip(n),
            _ => Col::Keep(n),
        })
    }

    /// Append a value in the tuple format (the portal path).
    fn encode(
        &self,
        col: usize,
        value: Option<&[u8]>,
        tuple: &mut Vec<u8>,
    ) -> Result<(), ReadError> {
        let Some(v) = value else {
            tuple.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        };
        let len = i32::try_from(v.len())
            .map_err(|_| ReadError::Format(format!("a {} byte value", v.len())))?;
        match self.column(col, len)? {
            Col::Null => {}
            Col::Keep(_) => {
                tuple.extend_from_slice(&len.to_be_bytes());
                tuple.extend_from_slice(v);
            }
            Col::Skip(n) => {
                tuple.extend_from_slice(&OVERSIZE.to_be_bytes());
                tuple.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        Ok(())
    }
}

/// One column of a row: NULL, a byte range of the tuple, or a value over its size limit
/// (its length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Null,
    Bytes(usize, usize),
    Oversize(u64),
}

fn be_i16(b: &[u8]) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

fn be_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// The columns of a tuple the reader accepted (a binary COPY tuple: column count, then each
/// column's length and bytes, with [`OVERSIZE`] for a value left out). `None` only for a
/// tuple the reader did not produce.
fn slots(tuple: &[u8], limits: &[Option<usize>], out: &mut Vec<Slot>) -> Option<()> {
    if usize::try_from(be_i16(tuple)?).ok()? != limits.len() {
        return None;
    }
    let mut p = 2;
    for limit in limits {
        let len = be_i32(tuple.get(p..)?)?;
        p += 4;
        out.push(match len {
            -1 => Slot::Null,
            OVERSIZE => {
                let n = u64::from_be_bytes(tuple.get(p..p + 8)?.try_into().ok()?);
                p += 8;
                Slot::Oversize(n)
            }
            len => {
                let len = usize::try_from(len).ok()?;
                tuple.get(p..p + len)?;
                p += len;
                if limit.is_some_and(|l| len > l) {
                    Slot::Oversize(len as u64)
                } else {
                    Slot::Bytes(p - len, p)
                }
            }
        });
    }
    (p == tuple.len()).then_some(())
}

/// Where the reader is in a binary COPY stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// The fixed header: signature, flags, extension length.
    Header,
    /// Bytes of the header extension still to skip.
    Extension(u64),
    /// A tuple's column count, or the trailer.
    Count,
    /// A column's length.
    Length(usize),
    /// A column's value: `left` bytes to go, kept or (over its limit) skipped.
    Value { col: usize, left: usize, keep: bool },
    /// After the trailer: whatever follows is ignored.
    End,
}

const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags and extension length.
const HEADER_LEN: usize = 19;

/// What [`CopyTuples::whole`] found at a tuple boundary.
enum Whole {
    /// A tuple of this many bytes.
    Tuple(usize),
    Trailer,
    /// Not all of the tuple is here.
    Partial,
}

/// Finds the tuples of a binary `COPY ... TO STDOUT` stream in the chunks (COPY messages) the
/// server sends, whatever their boundaries. A tuple inside one chunk is handed on as a slice
/// of it (no copy); one that spans chunks is assembled, with values over their limit left
/// out. Every length is checked here, so the workers decode tuples that are well formed.
struct CopyTuples {
    shape: Shape,
    at: At,
    /// A fixed-size item (header, count, length) split across chunks: its bytes so far.
    scratch: Vec<u8>,
    /// A tuple split across chunks, as far as it has come.
    tuple: Vec<u8>,
}

impl CopyTuples {
    fn new(shape: Shape) -> CopyTuples {
        CopyTuples {
            shape,
            at: At::Header,
            scratch: Vec::new(),
            tuple: Vec::new(),
        }
    }

    /// Hand every tuple completed by `chunk` to `emit`; `false` when `emit` says to stop.
    fn feed(
        &mut self,
        chunk: &Bytes,
        emit: &mut impl FnMut(Bytes) -> bool,
    ) -> Result<bool, ReadError> {
        let mut pos = 0;
        while pos < chunk.len() {
            if self.at == At::Count && self.scratch.is_empty() {
                match self.whole(&chunk[pos..])? {
                    Whole::Tuple(len) => {
                        if !emit(chunk.slice(pos..pos + len)) {
                            return Ok(false);
                        }
                        pos += len;
                        continue;
                    }
                    Whole::Trailer => {
                        self.at = At::End;
                        pos += 2;
                        continue;
                    }
                    Whole::Partial => {}
                }
            }
            let (next, complete) = self.step(&chunk[pos..])?;
            pos += next;
            if complete && !emit(Bytes::from(std::mem::take(&mut self.tuple))) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The end of the stream: an error unless the trailer was read.
    fn finish(&self) -> Result<(), ReadError> {
        match self.at {
            At::End => Ok(()),
            _ => Err(ReadError::Format(
                "the COPY data ended in the middle of a row".into(),
            )),
        }
    }

    /// A whole tuple (or the trailer) at the start of `rest`.
    fn whole(&self, rest: &[u8]) -> Result<Whole, ReadError> {
        let Some(n) = be_i16(rest) else {
            return Ok(Whole::Partial);
        };
        if n == -1 {
            return Ok(Whole::Trailer);
        }
        self.check_count(n)?;
        let mut p = 2;
        for col in 0..self.shape.columns() {
            let Some(len) = rest.get(p..).and_then(be_i32) else {
                return Ok(Whole::Partial);
            };
            p += 4;
            match self.shape.column(col, len)? {
                Col::Null => {}
                Col::Keep(n) | Col::Skip(n) => {
                    if rest.len() - p < n {
                        return Ok(Whole::Partial);
                    }
                    p += n;
                }
            }
        }
        Ok(Whole::Tuple(p))
    }

    fn check_count(&self, n: i16) -> Result<(), ReadError> {
        if usize::try_from(n).ok() != Some(self.shape.columns()) {
            return Err(ReadError::Format(format!(
                "COPY row has {n} columns, expected {}",
                self.shape.columns()
            )));
        }
        Ok(())
    }

    /// Take up to `n` bytes of a fixed-size item into `scratch`: the bytes used, and the
    /// item once complete (then `scratch` is cleared).
    fn gather(&mut self, rest: &[u8], n: usize) -> (usize, Option<Vec<u8>>) {
        let used = n.saturating_sub(self.scratch.len()).min(rest.len());
        self.scratch.extend_from_slice(&rest[..used]);
        if self.scratch.len() == n {
            (used, Some(std::mem::take(&mut self.scratch)))
        } else {
            (used, None)
        }
    }

    /// The state after column `col`: the next column, or (the tuple complete) the next count.
    fn after(&mut self, col: usize) -> bool {
        if col + 1 >= self.shape.columns() {
            self.at = At::Count;
            true
        } else {
            self.at = At::Length(col + 1);
            false
        }
    }

    /// Advance by one item (or as much of it as `rest` holds): the bytes used, and whether
    /// that completed the tuple in `self.tuple`.
    fn step(&mut self, rest: &[u8]) -> Result<(usize, bool), ReadError> {
        match self.at {
            At::Header => {
                let (used, header) = self.gather(rest, HEADER_LEN);
                let have = header.as_deref().unwrap_or(&self.scratch);
                let n = have.len().min(COPY_SIGNATURE.len());
                if have[..n] != COPY_SIGNATURE[..n] {
                    return Err(ReadError::Format("not a binary COPY stream".into()));
                }
                if let Some(h) = header {
                    let bad = || ReadError::Format("bad COPY header".into());
                    let flags = h.get(11..).and_then(be_i32).ok_or_else(bad)?;
                    if flags & (1 << 16) != 0 {
                        return Err(ReadError::Format("COPY stream with OIDs".into()));
                    }
                    let ext = h.get(15..).and_then(be_i32).ok_or_else(bad)?;
                    let ext = u64::try_from(ext).map_err(|_| bad())?;
                    self.at = if ext == 0 {
                        At::Count
                    } else {
                        At::Extension(ext)
                    };
                }
                Ok((used, false))
            }
            At::Extension(n) => {
                let used = n.min(rest.len() as u64);
                self.at = match n - used {
                    0 => At::Count,
                    left => At::Extension(left),
                };
                Ok((used as usize, false))
            }
            At::Count => {
                let (used, item) = self.gather(rest, 2);
                let Some(n) = item.as_deref().and_then(be_i16) else {
                    return Ok((used, false));
                };
                if n == -1 {
                    self.at = At::End;
                    return Ok((used, false));
                }
                self.check_count(n)?;
                self.tuple.extend_from_slice(&n.to_be_bytes());
                if self.shape.columns() == 0 {
                    return Ok((used, true));
                }
                self.at = At::Length(0);
                Ok((used, false))
            }
            At::Length(col) => {
                let (used, item) = self.gather(rest, 4);
                let Some(len) = item.as_deref().and_then(be_i32) else {
                    return Ok((used, false));
                };
                let (left, keep) = match self.shape.column(col, len)? {
                    Col::Null => {
                        self.tuple.extend_from_slice(&len.to_be_bytes());
                        return Ok((used, self.after(col)));
                    }
                    Col::Keep(n) => {
                        self.tuple.extend_from_slice(&len.to_be_bytes());
                        (n, true)
                    }
                    Col::Skip(n) => {
                        self.tuple.extend_from_slice(&OVERSIZE.to_be_bytes());
                        self.tuple.extend_from_slice(&(n as u64).to_be_bytes());
                        (n, false)
                    }
                };
                if left == 0 {
                    return Ok((used, self.after(col)));
                }
                self.at = At::Value { col, left, keep };
                Ok((used, false))
            }
            At::Value { col, left, keep } => {
                let used = left.min(rest.len());
                if keep {
                    self.tuple.extend_from_slice(&rest[..used]);
                }
                if used == left {
                    return Ok((used, self.after(col)));
                }
                self.at = At::Value {
                    col,
                    left: left - used,
                    keep,
                };
                Ok((used, false))
            }
            At::End => Ok((rest.len(), false)),
        }
    }
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
    build_record(spec, line, keys, subject, values, image, &ctx.stats)
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
pub fn open_source(
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A column as the workers see it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Val {
        Null,
        Bytes(Vec<u8>),
        Over(u64),
    }

    type Row = Vec<Option<Vec<u8>>>;

    /// A binary COPY stream as PostgreSQL writes it, with `tail` after the trailer.
    fn stream(rows: &[Row], ext: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut s = COPY_SIGNATURE.to_vec();
        s.extend(0i32.to_be_bytes());
        s.extend((ext.len() as i32).to_be_bytes());
        s.extend(ext);
        for r in rows {
            s.extend((r.len() as i16).to_be_bytes());
            for v in r {
                match v {
                    None => s.extend((-1i32).to_be_bytes()),
                    Some(b) => {
                        s.extend((b.len() as i32).to_be_bytes());
                        s.extend(b);
                    }
                }
            }
        }
        s.extend((-1i16).to_be_bytes());
        s.extend(tail);
        s
    }

    fn shape(limits: Vec<Option<usize>>) -> Shape {
        let sizes = vec![None; limits.len()];
        Shape { limits, sizes }
    }

    fn message(e: ReadError) -> String {
        match e {
            ReadError::Format(m) => m,
            ReadError::Pg(e) => format!("driver: {e}"),
        }
    }

    /// Feed `data` in chunks ending at `cuts` (any order, taken modulo the length): the raw
    /// tuples handed on.
    fn tuples(shape: &Shape, data: &[u8], cuts: &[usize]) -> Result<Vec<Bytes>, String> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(data.len());
        let mut reader = CopyTuples::new(shape.clone());
        let mut out = Vec::new();
        let mut start = 0;
        for end in cuts {
            let chunk = Bytes::copy_from_slice(&data[start..end]);
            start = end;
            let more = reader
                .feed(&chunk, &mut |t| {
                    out.push(t);
                    true
                })
                .map_err(message)?;
            assert!(more);
        }
        reader.finish().map_err(message)?;
        Ok(out)
    }

    /// The rows as the workers decode them.
    fn rows(shape: &Shape, data: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Val>>, String> {
        tuples(shape, data, cuts)?
            .iter()
            .map(|t| {
                let mut cols = Vec::new();
                slots(t, &shape.limits, &mut cols).ok_or("malformed tuple")?;
                Ok(cols
                    .iter()
                    .map(|c| match *c {
                        Slot::Null => Val::Null,
                        Slot::Bytes(s, e) => Val::Bytes(t[s..e].to_vec()),
                        Slot::Oversize(n) => Val::Over(n),
                    })
                    .collect())
            })
            .collect()
    }

    fn expected(shape: &Shape, input: &[Row]) -> Vec<Vec<Val>> {
        input
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&shape.limits)
                    .map(|(v, limit)| match v {
                        None => Val::Null,
                        Some(b) if limit.is_some_and(|l| b.len() > l) => Val::Over(b.len() as u64),
                        Some(b) => Val::Bytes(b.clone()),
                    })
                    .collect()
            })
            .collect()
    }

    /// Every way of cutting `data` in two, and byte by byte.
    fn every_split(shape: &Shape, data: &[u8]) -> Vec<Result<Vec<Vec<Val>>, String>> {
        let mut all: Vec<_> = (0..=data.len()).map(|c| rows(shape, data, &[c])).collect();
        all.push(rows(shape, data, &(0..data.len()).collect::<Vec<_>>()));
        all
    }

    fn sample() -> Vec<Row> {
        vec![
            vec![Some(b"1".to_vec()), Some("diabète".as_bytes().to_vec())],
            vec![Some(b"2".to_vec()), None],
            vec![None, Some(Vec::new())],
            vec![Some(b"4".to_vec()), Some(vec![b'x'; 300])],
        ]
    }

    #[test]
    fn rows_are_the_same_however_the_stream_is_cut() {
        let s = shape(vec![None, Some(100)]);
        let data = stream(&sample(), b"ext", b"");
        let want = expected(&s, &sample());
        assert_eq!(want[3][1], Val::Over(300));
        for got in every_split(&s, &data) {
            assert_eq!(got, Ok(want.clone()));
        }
    }

    #[test]
    fn whole_tuples_are_slices_of_their_chunk_and_split_ones_leave_out_oversized_values() {
        let s = shape(vec![None, Some(100)]);
        let data = stream(&sample(), b"", b"");
        let whole = tuples(&s, &data, &[]).expect("rows");
        assert_eq!(whole[3].len(), 2 + 4 + 1 + 4 + 300);
        let byte_by_byte = tuples(&s, &data, &(0..data.len()).collect::<Vec<_>>()).expect("rows");
        assert_eq!(byte_by_byte[3].len(), 2 + 4 + 1 + 4 + 8);
    }

    #[test]
    fn stops_when_told() {
        let s = shape(vec![None, None]);
        let data = Bytes::from(stream(&sample(), b"", b""));
        let mut reader = CopyTuples::new(s);
        let mut n = 0;
        let more = reader.feed(&data, &mut |_| {
            n += 1;
            n < 2
        });
        assert!(matches!(more, Ok(false)));
        assert_eq!(n, 2);
    }

    #[test]
    fn broken_streams_are_errors_wherever_they_are_cut() {
        let s = shape(vec![None, None]);
        let good = stream(&sample(), b"", b"");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                good[..good.len() - 2].to_vec(),
                "ended in the middle of a row",
            ),
            (
                good[..good.len() - 5].to_vec(),
                "ended in the middle of a row",
            ),
            (good[..7].to_vec(), "ended in the middle of a row"),
            (Vec::new(), "ended in the middle of a row"),
            (
                [b"PGCOPY\n\xff\r\nX".as_slice(), &good[11..]].concat(),
                "not a binary COPY stream",
            ),
            (b"COPY".to_vec(), "not a binary COPY stream"),
            (
                stream(&[vec![None, None, None]], b"", b""),
                "COPY row has 3 columns, expected 2",
            ),
            (
                {
                    let mut oids = good.clone();
                    oids[11..15].copy_from_slice(&(1i32 << 16).to_be_bytes());
                    oids
                },
                "COPY stream with OIDs",
            ),
            (
                {
                    let mut bad = stream(&[vec![None, Some(b"ab".to_vec())]], b"", b"");
                    let at = 19 + 2 + 4;
                    bad[at..at + 4].copy_from_slice(&(-5i32).to_be_bytes());
                    bad
                },
                "bad COPY value length -5",
            ),
        ];
        for (data, want) in cases {
            for got in every_split(&s, &data) {
                let e = got.expect_err(want);
                assert!(e.contains(want), "{e} (want {want})");
            }
        }
    }

    #[test]
    fn integer_keys_are_checked_on_the_reader() {
        let s = Shape {
            limits: vec![None, None],
            sizes: vec![Some(4), None],
        };
        let ok = stream(&[vec![Some(vec![0, 0, 0, 7]), None]], b"", b"");
        assert!(every_split(&s, &ok).iter().all(Result::is_ok));
        let bad = stream(&[vec![Some(vec![0, 7]), None]], b"", b"");
        for got in every_split(&s, &bad) {
            let e = got.expect_err("a 2 byte int4");
            assert!(e.contains("column 1 holds a 2 byte integer"), "{e}");
        }
    }

    #[test]
    fn portal_rows_decode_as_copy_rows() {
        let s = shape(vec![None, Some(100)]);
        for row in sample() {
            let mut tuple = 2i16.to_be_bytes().to_vec();
            for (i, v) in row.iter().enumerate() {
                assert!(s.encode(i, v.as_deref(), &mut tuple).is_ok());
            }
            let data = stream(std::slice::from_ref(&row), b"", b"");
            let copied = tuples(&s, &data, &[]).expect("row");
            let mut a = Vec::new();
            let mut b = Vec::new();
            slots(&tuple, &s.limits, &mut a).expect("portal tuple");
            slots(&copied[0], &s.limits, &mut b).expect("copy tuple");
            let vals = |t: &[u8], cols: &[Slot]| -> Vec<Option<Vec<u8>>> {
                cols.iter()
                    .map(|c| match *c {
                        Slot::Bytes(s, e) => Some(t[s..e].to_vec()),
                        Slot::Oversize(n) => Some(n.to_be_bytes().to_vec()),
                        Slot::Null => None,
                    })
                    .collect()
            };
            assert_eq!(vals(&tuple, &a), vals(&copied[0], &b));
        }
    }

    proptest! {
        /// Any rows, column limits, header extension, bytes after the trailer and chunk
        /// boundaries: the workers see exactly the rows written.
        #[test]
        fn chunk_boundaries_never_change_rows(
            limits in proptest::collection::vec(proptest::option::of(0usize..24), 1..4),
            values in proptest::collection::vec(
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)), 0..40),
            ext in proptest::collection::vec(any::<u8>(), 0..6),
            tail in proptest::collection::vec(any::<u8>(), 0..4),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let s = shape(limits);
            let input: Vec<Row> = values
                .chunks(s.columns())
                .filter(|r| r.len() == s.columns())
                .map(<[_]>::to_vec)
                .collect();
            let data = stream(&input, &ext, &tail);
            prop_assert_eq!(rows(&s, &data, &cuts), Ok(expected(&s, &input)));
        }
    }
}

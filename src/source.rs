//! Opening a record source from a spec: a file path, `-` (standard input), or a database
//! connection string (`sqlite:FILE`, `postgres://…`, `mysql://…`, `env:`).
//!
//! [`SourceSpec`] is what `art9 scan` and `art9 mask` are given about their input;
//! [`SourceSpec::open`] picks the reader (by the format asked for or the file's extension),
//! looks at the first bytes (compressed, binary), decodes the text encoding, and hands back an
//! [`Opened`] source with what a masked copy must reproduce. Which database drivers this build
//! has is decided once, in [`crate::input::db::open_source`].

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::encoding::{self, Sniffed, TextEncoding};
use crate::input::db::{
    self, redact, ChannelSource, DbError, DbErrorKind, DbSpec, DbUrl, SourceStats, DATABASE_URL_ENV,
};
use crate::input::{
    unwrap_input, Compression, CsvError, CsvOptions, CsvSource, InputError, JsonArray, JsonLines,
    JsonOptions, NotReadable, RecordSource, TextLines, READ_BUFFER_BYTES,
};
use crate::output::masked::RawFormat;

/// The format of a file input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFormat {
    /// JSON Lines: one object per line.
    Jsonl,
    /// One JSON array of objects.
    Json,
    /// CSV (delimiter sniffed from the header unless given).
    Csv,
    /// Tab-separated values.
    Tsv,
    /// Plain text: every line is one record (field `text`, key = line number).
    Text,
    /// Apache Parquet (feature `parquet`): a file, not standard input; a row is a record.
    Parquet,
}

impl InFormat {
    /// The format a file name says (`.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`, `.json`,
    /// `.txt`, `.parquet`/`.parq`/`.pq`; under `.gz`/`.zst`: `notes.csv.gz` is CSV); standard
    /// input and other names are JSON Lines (a Parquet file is also found by its first
    /// bytes, `PAR1`, whatever its name).
    pub fn from_name(input: &str) -> InFormat {
        if input == "-" {
            return InFormat::Jsonl;
        }
        let mut name = Path::new(input);
        let compressed = Compression::from_name(input) != Compression::None;
        if compressed {
            name = name.file_stem().map_or(name, Path::new);
        }
        let ext = name
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => InFormat::Csv,
            Some("tsv") | Some("tab") => InFormat::Tsv,
            Some("json") => InFormat::Json,
            Some("txt") => InFormat::Text,
            // Compressed, it is found by its first bytes and refused with advice.
            Some("parquet") | Some("parq") | Some("pq") if !compressed => InFormat::Parquet,
            _ => InFormat::Jsonl,
        }
    }
}

/// What to read and how: the input half of a run's configuration.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// A file path, `-` for standard input, or a database connection string (`sqlite:FILE`,
    /// `postgres://…`, `mysql://…`, `env:`). `-` with a `table` or `query` reads the
    /// connection string from `ART9_DATABASE_URL`.
    pub input: String,
    /// The file format; `None`: from the file name ([`InFormat::from_name`]).
    pub format: Option<InFormat>,
    /// Fields or columns to scan (names, globs; CSV also 1-based numbers). Empty: every text
    /// field except the key, subject and context ones (files only; a database needs them).
    pub fields: Vec<String>,
    /// Key fields or columns (joined with `:`); empty: the line or row number.
    pub key: Vec<String>,
    /// The field or column naming the data subject.
    pub subject: Option<String>,
    /// Read only this subject's records (needs `subject`; a database table filters in SQL).
    pub subject_id: Option<String>,
    /// Fields or columns carried as [`crate::record::Record::context`].
    pub context: Vec<String>,
    /// CSV delimiter; `None`: sniffed from the header (tab for [`InFormat::Tsv`]).
    pub delimiter: Option<u8>,
    /// Whether a CSV file's first row names the columns.
    pub has_header: bool,
    /// The text encoding asked for; a byte-order mark always wins. `None`: UTF-8.
    pub encoding: Option<TextEncoding>,
    /// Records longer than this are skipped and reported (0 = no limit).
    pub max_record_bytes: usize,
    /// Fields longer than this are skipped and reported (0 = no limit; databases check it
    /// while reading, files in the pipeline).
    pub max_field_bytes: usize,
    /// A database table to read.
    pub table: Option<String>,
    /// A database query to read (instead of a table).
    pub query: Option<String>,
}

impl Default for SourceSpec {
    fn default() -> SourceSpec {
        SourceSpec {
            input: "-".into(),
            format: None,
            fields: Vec::new(),
            key: Vec::new(),
            subject: None,
            subject_id: None,
            context: Vec::new(),
            delimiter: None,
            has_header: true,
            encoding: None,
            max_record_bytes: crate::input::DEFAULT_MAX_RECORD_BYTES,
            max_field_bytes: crate::input::DEFAULT_MAX_FIELD_BYTES,
            table: None,
            query: None,
        }
    }
}

/// Why a source could not be opened. Messages name the input (passwords redacted), never a
/// record's text; the cause is the error's [`source`](std::error::Error::source) (print the
/// chain, e.g. anyhow's `{:#}`, for one line with both).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Options that do not go together, or a name that is empty.
    #[error("{0}")]
    Invalid(String),
    /// The file cannot be opened.
    #[error("cannot open {path}")]
    Open {
        /// The path.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The path is a directory.
    #[error("{0} is a directory, not a file")]
    Directory(String),
    /// A binary format, or a compression this build does not read.
    #[error("{name}")]
    NotReadable {
        /// The input.
        name: String,
        /// What it looks like.
        source: NotReadable,
    },
    /// Reading (or decompressing) the first bytes failed.
    #[error("cannot read {name}")]
    Read {
        /// The input.
        name: String,
        /// Why.
        source: io::Error,
    },
    /// The CSV header cannot be read, or names no such column.
    #[error("cannot read {name} as CSV")]
    Csv {
        /// The input.
        name: String,
        /// Why.
        source: CsvError,
    },
    /// A database cannot be reached or read (the message names it, password redacted).
    #[error(transparent)]
    Db(#[from] DbError),
    /// A Parquet file's footer cannot be read, or names no such column, or a column's type
    /// does not fit its use.
    #[cfg(feature = "parquet")]
    #[error("cannot read {name} as Parquet")]
    Parquet {
        /// The input.
        name: String,
        /// Why.
        source: crate::input::parquet::ParquetError,
    },
}

/// A database source as opened: what `mask` and the end-of-scan notes need of it.
#[derive(Debug)]
pub struct DbOrigin {
    /// The connection (password redacted when shown).
    pub url: DbUrl,
    /// What is read.
    pub spec: DbSpec,
    /// Counters the reader fills (NULL values).
    pub stats: Arc<SourceStats>,
}

/// An opened source: its records, and what a masked copy of it must reproduce.
pub struct Opened {
    /// The records.
    pub source: Box<dyn RecordSource>,
    /// The shape of a record as read (how masked values go back into it).
    pub format: RawFormat,
    /// The text encoding and byte-order mark found.
    pub sniffed: Sniffed,
    /// How the file was compressed (a masked copy is compressed the same way).
    pub compression: Compression,
    /// The CSV header's bytes, written first in a masked copy.
    pub header_raw: Vec<u8>,
    /// Bytes read from the file so far (before decompression and decoding), for progress.
    pub bytes_read: Arc<AtomicU64>,
    /// The file's size, when it is a regular file.
    pub size: Option<u64>,
    /// Whether reading is work the pipeline's workers should take turns at (a regular,
    /// uncompressed file) rather than waiting on a thread of its own (a pipe, a database, a
    /// decompressing reader).
    pub read_on_workers: bool,
    /// The database, for a database input.
    pub database: Option<DbOrigin>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .field("compression", &self.compression)
            .field("size", &self.size)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// Counts the bytes read through it, for progress (MB/s, ETA).
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Each name once, in order; an empty name is an error naming the flag.
fn names(list: &[String], what: &str) -> Result<Vec<String>, SourceError> {
    let mut out: Vec<String> = Vec::new();
    for f in list {
        if f.is_empty() {
            return Err(SourceError::Invalid(format!("{what} needs a name")));
        }
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    Ok(out)
}

impl SourceSpec {
    /// Whether the input is a database: a connection string, or `-` with a table or query.
    pub fn is_database(&self) -> bool {
        DbUrl::is_db_input(&self.input)
            || (self.input == "-" && (self.table.is_some() || self.query.is_some()))
    }

    /// The input as shown in messages: a connection string with its password redacted.
    pub fn display_name(&self) -> String {
        if !self.is_database() {
            return self.input.clone();
        }
        match self.db_url() {
            Ok(u) => u.to_string(),
            Err(_) => redact(&self.input),
        }
    }

    /// The database connection (for `-` or `env:`, from `ART9_DATABASE_URL`).
    ///
    /// # Errors
    /// A malformed connection string, or none in the environment.
    pub fn db_url(&self) -> Result<DbUrl, DbError> {
        if self.input == "-" {
            if std::env::var_os(DATABASE_URL_ENV).is_none() {
                return Err(DbError::new(
                    DbErrorKind::Url,
                    format!(
                        "--table/--query need a database input (sqlite:FILE, postgres://..., \
                         mysql://...) or {DATABASE_URL_ENV}"
                    ),
                ));
            }
            return DbUrl::parse("env:");
        }
        DbUrl::parse(&self.input)
    }

    /// What a database source reads (validated).
    ///
    /// # Errors
    /// Plain text asked of a database, or what [`DbSpec::validate`] refuses.
    pub fn db_spec(&self) -> Result<DbSpec, SourceError> {
        if self.format == Some(InFormat::Text) {
            return Err(SourceError::Invalid(
                "--text does not apply to database input".into(),
            ));
        }
        if self.format == Some(InFormat::Parquet) {
            return Err(SourceError::Invalid(
                "--format-in parquet does not apply to database input".into(),
            ));
        }
        let spec = DbSpec {
            table: self.table.clone(),
            query: self.query.clone(),
            fields: names(&self.fields, "--field")?,
            key: self.key.clone(),
            subject: self.subject.clone(),
            subject_id: self.subject_id.clone(),
            context: names(&self.context, "--context")?,
            max_field_bytes: self.max_field_bytes,
            max_record_bytes: self.max_record_bytes,
            ..DbSpec::default()
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Open the source. `spans`: locate each field in the record as read (for a masked copy
    /// of a file; scans do without).
    ///
    /// # Errors
    /// [`SourceError`]: options that do not fit the input, a file that cannot be opened or
    /// is binary, a CSV header without a named column, a database that cannot be reached.
    pub fn open(&self, spans: bool) -> Result<Opened, SourceError> {
        if self.is_database() {
            let url = self.db_url()?;
            let spec = self.db_spec()?;
            return self.open_database(url, spec);
        }
        self.open_file(spans)
    }

    /// Open a database source with a spec of the caller's (e.g. one that captures row
    /// images for `mask`).
    ///
    /// # Errors
    /// The database cannot be reached, or the table or a column is not there.
    pub fn open_database(&self, url: DbUrl, spec: DbSpec) -> Result<Opened, SourceError> {
        let stats = Arc::new(SourceStats::default());
        let source: ChannelSource = db::open_source(&url, &spec, stats.clone())?;
        Ok(Opened {
            source: Box::new(source),
            format: RawFormat::Jsonl,
            sniffed: Sniffed {
                encoding: TextEncoding::Utf8,
                bom: false,
                explicit: false,
            },
            compression: Compression::None,
            header_raw: Vec::new(),
            bytes_read: Arc::new(AtomicU64::new(0)),
            size: None,
            read_on_workers: false,
            database: Some(DbOrigin { url, spec, stats }),
        })
    }

    fn open_file(&self, spans: bool) -> Result<Opened, SourceError> {
        if let Some(flag) = [("--table", &self.table), ("--query", &self.query)]
            .iter()
            .find_map(|(flag, v)| v.is_some().then_some(*flag))
        {
            return Err(SourceError::Invalid(format!(
                "{flag} needs a database input (sqlite:FILE, postgres://USER@HOST/DB, \
                 mysql://USER@HOST/DB, or env:); {} is a file: drop {flag}, or name the database",
                self.input
            )));
        }
        let format = self
            .format
            .unwrap_or_else(|| InFormat::from_name(&self.input));
        let is_csv = matches!(format, InFormat::Csv | InFormat::Tsv);
        if !is_csv && (self.delimiter.is_some() || !self.has_header) {
            return Err(SourceError::Invalid(
                "--delimiter and --no-header apply to CSV/TSV input".into(),
            ));
        }
        let name = if self.input == "-" {
            "standard input".to_string()
        } else {
            self.input.clone()
        };
        let bytes_read = Arc::new(AtomicU64::new(0));
        if format == InFormat::Parquet {
            return self.open_parquet(spans, bytes_read);
        }
        let (reader, size) = self.open_reader(bytes_read.clone())?;
        // gzip and zstd are read decompressed; a binary format is one error, not a skip per
        // line.
        let utf16 = matches!(
            self.encoding,
            Some(TextEncoding::Utf16Le | TextEncoding::Utf16Be)
        );
        let unwrapped = unwrap_input(reader, utf16, &name);
        // A Parquet file by its first bytes, whatever its name.
        #[cfg(feature = "parquet")]
        if let Err(InputError::NotReadable(NotReadable::Binary {
            kind: crate::input::BinaryKind::Parquet,
            within: Compression::None,
        })) = &unwrapped
        {
            if self.input != "-" && self.format.is_none() {
                bytes_read.store(0, Ordering::Relaxed);
                return self.open_parquet(spans, bytes_read);
            }
        }
        let (reader, compression) = unwrapped.map_err(|e| match e {
            InputError::Read(source) => SourceError::Read {
                name: name.clone(),
                source,
            },
            InputError::NotReadable(source) => SourceError::NotReadable {
                name: name.clone(),
                source,
            },
            InputError::Decompress(source) => SourceError::Read {
                name: name.clone(),
                source,
            },
        })?;
        let (reader, sniffed) =
            encoding::decoded(reader, self.encoding).map_err(|source| SourceError::Read {
                name: name.clone(),
                source,
            })?;
        let fields = names(&self.fields, "--field")?;
        let key = names(&self.key, "--key")?;
        let context = names(&self.context, "--context")?;
        // 0 = no limit, as for the field limit (a quarter of the address space leaves room
        // for the readers' own arithmetic on the limit).
        let max = match self.max_record_bytes {
            0 => usize::MAX / 4,
            n => n,
        };
        let (source, format_raw, header_raw): (Box<dyn RecordSource>, RawFormat, Vec<u8>) =
            match format {
                InFormat::Parquet => return self.open_parquet(spans, bytes_read),
                InFormat::Text => {
                    if !fields.is_empty()
                        || !key.is_empty()
                        || self.subject.is_some()
                        || !context.is_empty()
                    {
                        return Err(SourceError::Invalid(
                            "--field, --key, --subject and --context (or a policy's `when` \
                             rules) do not apply to plain text input"
                                .into(),
                        ));
                    }
                    (
                        Box::new(TextLines::new(reader, max)),
                        RawFormat::Text,
                        Vec::new(),
                    )
                }
                InFormat::Jsonl | InFormat::Json => {
                    let options = JsonOptions {
                        fields,
                        key,
                        subject: self.subject.clone(),
                        context,
                    };
                    if format == InFormat::Json {
                        let src = JsonArray::new(reader, max, options);
                        (Box::new(src), RawFormat::JsonArray, Vec::new())
                    } else {
                        let src = JsonLines::new(reader, max, options);
                        // Only a masked copy rewrites the lines; a scan needs the fields alone.
                        let src = if spans { src } else { src.without_raw() };
                        (Box::new(src), RawFormat::Jsonl, Vec::new())
                    }
                }
                InFormat::Csv | InFormat::Tsv => {
                    let delimiter = match (self.delimiter, format) {
                        (Some(d), _) => Some(d),
                        (None, InFormat::Tsv) => Some(b'\t'),
                        (None, _) => None,
                    };
                    let options = CsvOptions {
                        delimiter,
                        has_header: self.has_header,
                        fields,
                        key,
                        subject: self.subject.clone(),
                        context,
                        max_record_bytes: max,
                        spans,
                    };
                    let src =
                        CsvSource::new(reader, options).map_err(|source| SourceError::Csv {
                            name: self.input.clone(),
                            source,
                        })?;
                    let raw = RawFormat::Csv {
                        delimiter: src.delimiter(),
                    };
                    let header = src.header_raw().to_vec();
                    (Box::new(src), raw, header)
                }
            };
        let read_on_workers =
            self.input != "-" && compression == Compression::None && size.is_some();
        Ok(Opened {
            source,
            format: format_raw,
            sniffed,
            compression,
            header_raw,
            bytes_read,
            size,
            read_on_workers,
            database: None,
        })
    }

    /// Open a Parquet file (feature `parquet`); without the feature, one error saying so.
    fn open_parquet(&self, spans: bool, bytes_read: Arc<AtomicU64>) -> Result<Opened, SourceError> {
        if spans {
            return Err(SourceError::Invalid(format!(
                "art9 mask does not write Parquet yet ({} is Parquet): scan it with art9 scan, \
                 or mask a CSV or JSON Lines export of it",
                self.input
            )));
        }
        if self.input == "-" {
            return Err(SourceError::Invalid(
                "Parquet is read from a file, not from standard input: save it to a file".into(),
            ));
        }
        if self.delimiter.is_some() || !self.has_header || self.encoding.is_some() {
            return Err(SourceError::Invalid(
                "--delimiter, --no-header and --encoding do not apply to Parquet input".into(),
            ));
        }
        #[cfg(feature = "parquet")]
        {
            use crate::input::parquet::{ParquetOptions, ParquetSource};
            let path = &self.input;
            let f = File::open(path).map_err(|source| SourceError::Open {
                path: path.clone(),
                source,
            })?;
            let meta = f.metadata().map_err(|source| SourceError::Read {
                name: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                return Err(SourceError::Directory(path.clone()));
            }
            let options = ParquetOptions {
                fields: names(&self.fields, "--field")?,
                key: names(&self.key, "--key")?,
                subject: self.subject.clone(),
                context: names(&self.context, "--context")?,
                max_record_bytes: self.max_record_bytes,
            };
            let source = ParquetSource::open(f, meta.len(), options, bytes_read.clone()).map_err(
                |source| SourceError::Parquet {
                    name: path.clone(),
                    source,
                },
            )?;
            Ok(Opened {
                source: Box::new(source),
                // Never used: `mask` refuses Parquet above.
                format: RawFormat::Jsonl,
                sniffed: Sniffed {
                    encoding: TextEncoding::Utf8,
                    bom: false,
                    explicit: false,
                },
                compression: Compression::None,
                header_raw: Vec::new(),
                bytes_read,
                size: Some(meta.len()),
                read_on_workers: true,
                database: None,
            })
        }
        #[cfg(not(feature = "parquet"))]
        {
            let _ = bytes_read;
            Err(SourceError::Invalid(format!(
                "{} is Parquet, and this build of art9 does not read Parquet: build it with \
                 --features parquet (or full), or export it as CSV or JSON Lines and scan that",
                self.input
            )))
        }
    }

    /// The file (or standard input) as a buffered reader counting its bytes, and the size of
    /// a regular file.
    fn open_reader(
        &self,
        count: Arc<AtomicU64>,
    ) -> Result<(Box<dyn BufRead + Send>, Option<u64>), SourceError> {
        if self.input == "-" {
            let r = CountingReader {
                inner: io::stdin(),
                count,
            };
            return Ok((
                Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, r)),
                None,
            ));
        }
        let path = &self.input;
        let f = File::open(path).map_err(|source| SourceError::Open {
            path: path.clone(),
            source,
        })?;
        let meta = f.metadata().ok();
        if meta.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(SourceError::Directory(path.clone()));
        }
        let size = meta.filter(|m| m.is_file()).map(|m| m.len());
        let r = CountingReader { inner: f, count };
        Ok((
            Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, r)),
            size,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_name() {
        assert_eq!(InFormat::from_name("-"), InFormat::Jsonl);
        assert_eq!(InFormat::from_name("a/notes.CSV"), InFormat::Csv);
        assert_eq!(InFormat::from_name("notes.csv.gz"), InFormat::Csv);
        assert_eq!(InFormat::from_name("notes.tab"), InFormat::Tsv);
        assert_eq!(InFormat::from_name("notes.json.zst"), InFormat::Json);
        assert_eq!(InFormat::from_name("notes.txt"), InFormat::Text);
        assert_eq!(InFormat::from_name("notes.ndjson"), InFormat::Jsonl);
        assert_eq!(InFormat::from_name("export.Parquet"), InFormat::Parquet);
        assert_eq!(InFormat::from_name("export.pq"), InFormat::Parquet);
        assert_eq!(InFormat::from_name("export.parquet.gz"), InFormat::Jsonl);
    }

    #[test]
    fn opens_a_csv_file_with_context() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("n.csv");
        std::fs::write(&p, "id;c;note\n1;yes;Klant heeft diabetes\n").unwrap();
        let spec = SourceSpec {
            input: p.to_str().unwrap().into(),
            key: vec!["id".into()],
            context: vec!["c".into()],
            ..SourceSpec::default()
        };
        let mut opened = spec.open(false).unwrap();
        assert_eq!(opened.format, RawFormat::Csv { delimiter: b';' });
        assert!(opened.read_on_workers);
        let r = opened.source.next_record().unwrap().unwrap().unwrap();
        assert_eq!(r.key, "1");
        assert_eq!(r.context.get("c"), Some("yes"));
        assert_eq!(r.fields.len(), 1);
        assert_eq!(r.fields[0].name, "note");
    }

    #[test]
    fn mismatched_options_are_one_error() {
        let spec = SourceSpec {
            input: "notes.jsonl".into(),
            table: Some("t".into()),
            ..SourceSpec::default()
        };
        assert!(matches!(spec.open(false), Err(SourceError::Invalid(m)) if m.contains("--table")));
        let spec = SourceSpec {
            input: "notes.jsonl".into(),
            delimiter: Some(b';'),
            ..SourceSpec::default()
        };
        assert!(matches!(spec.open(false), Err(SourceError::Invalid(_))));
        let spec = SourceSpec {
            input: "sqlite:/nonexistent/x.db".into(),
            table: Some("t".into()),
            format: Some(InFormat::Text),
            ..SourceSpec::default()
        };
        assert!(matches!(spec.open(false), Err(SourceError::Invalid(m)) if m.contains("--text")));
    }
}

//! CSV and TSV exports (Salesforce, HubSpot, Dynamics, Odoo, CiviCRM, …).
//!
//! The grammar is that of `csv_core` (the engine of the `csv` crate) with its defaults: `"`
//! quotes, `""` is an escaped quote, a quote opens a quoted field only at the start of a
//! field (elsewhere it is an ordinary character), `\r`, `\n` and `\r\n` end a record and blank
//! lines are no records. A masked copy must keep every byte outside the masked fields, so each
//! [`Record::raw`] holds the record's exact bytes (line terminator and any blank lines after
//! it included; `terminator` is empty), which `csv::Reader` does not expose. The reader is
//! split in two for speed (the unit tests check both halves against `csv_core`):
//!
//! * where the input is read, [`CsvSource`] only finds where each record ends: a few `memchr`
//!   searches per record (for `"` and line ends outside quotes, for `"` inside them), counting
//!   lines as it goes; it hands the record's bytes on as a [`CsvRow`]
//!   ([`super::Pending::Csv`]);
//! * on the worker threads, [`CsvRow::resolve`] checks UTF-8 and NUL bytes, splits the fields,
//!   unquotes the ones it needs and builds the [`Record`].
//!
//! What the `csv` crate's `flexible(true)` would accept is accepted here too, then checked:
//!
//! * the delimiter is sniffed from the header line (`,` `;` tab `|`, the most frequent outside
//!   quotes wins; ties in that order) unless given;
//! * quoted fields may span lines; [`Record::line`] is the line where the record starts;
//! * a row with more or fewer fields than the header is skipped ([`SkipKind::RaggedRow`]);
//! * invalid UTF-8 skips the record with a reason naming the line and suggesting `--encoding`
//!   (other encodings are decoded before this reader, see [`crate::encoding`]);
//! * a quote that is never closed is a fatal error naming the line where it opened: the rest
//!   of the file would otherwise vanish into one field;
//! * a record over [`CsvOptions::max_record_bytes`] (line terminator not counted) is skipped
//!   ([`SkipKind::TooLarge`]); its bytes are never held in memory.
//!
//! Columns are named by the header, or by 1-based number (`--no-header`, or a number that is
//! not a header name). `--field` takes names, numbers or globs (`note*`).

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead};
use std::sync::Arc;

mod row;
mod scan;

pub use self::row::*;
pub use self::scan::*;

use super::{
    is_glob, is_glob_match, Context, ContextNames, Field, Pending, Record, RecordSource, SkipKind,
    Skipped,
};

/// How to read a CSV file.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// Field delimiter (ASCII, not a quote or line end); `None` = sniff from the header line.
    pub delimiter: Option<u8>,
    /// Whether the first row names the columns.
    pub has_header: bool,
    /// Columns to scan: names, 1-based numbers or globs. Empty = every column except the key
    /// and subject columns.
    pub fields: Vec<String>,
    /// Key column(s), joined with `:`. Empty = the line number.
    pub key: Vec<String>,
    /// Column naming the data subject (empty value = none).
    pub subject: Option<String>,
    /// Columns carried as [`Record::context`] (an empty cell = no value); like the key and
    /// subject, not scanned unless named in `fields`.
    pub context: Vec<String>,
    /// Records over this many bytes are skipped.
    pub max_record_bytes: usize,
    /// Locate each field's bytes in [`Record::raw`] (needed for masking).
    pub spans: bool,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            delimiter: None,
            has_header: true,
            fields: Vec::new(),
            key: Vec::new(),
            subject: None,
            context: Vec::new(),
            max_record_bytes: super::DEFAULT_MAX_RECORD_BYTES,
            spans: false,
        }
    }
}

/// A CSV file that cannot be read at all (bad header, unknown column, broken quoting).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The header row is not UTF-8.
    #[error(
        "line {line}: the header row is not valid UTF-8; if the file is in another encoding, \
         pass --encoding (e.g. --encoding windows-1252)"
    )]
    HeaderEncoding {
        /// Line of the header.
        line: u64,
    },
    /// The header row is over the record size limit.
    #[error("line {line}: the header row is over the {max} byte limit")]
    HeaderTooLarge {
        /// Line of the header.
        line: u64,
        /// The limit.
        max: usize,
    },
    /// With no header row, the first row (which sets the number of columns) is over the
    /// record size limit.
    #[error(
        "line {line}: the first row is over the {max} byte limit; without a header it sets \
         the number of columns (raise --max-record-bytes)"
    )]
    FirstRowTooLarge {
        /// Line of the first row.
        line: u64,
        /// The limit.
        max: usize,
    },
    /// A named column does not exist.
    #[error("no column {name:?} (columns: {columns})")]
    UnknownColumn {
        /// The name asked for.
        name: String,
        /// The columns there are.
        columns: String,
    },
    /// A glob matches no column.
    #[error("--field {pattern:?} matches no column (columns: {columns})")]
    NoMatch {
        /// The glob.
        pattern: String,
        /// The columns there are.
        columns: String,
    },
    /// A name appears more than once in the header.
    #[error("column {name:?} appears more than once in the header; name it by number")]
    Ambiguous {
        /// The name.
        name: String,
    },
    /// The delimiter is a quote, a line end or not ASCII, which cannot work.
    #[error("the delimiter must be an ASCII character other than a quote or a line end")]
    BadDelimiter,
    /// A quoted field is never closed.
    #[error(
        "line {line}: unterminated quoted field: a quote opened in the record starting on this \
         line is never closed"
    )]
    Unterminated {
        /// Line where the record starts.
        line: u64,
    },
}

/// Sniff the delimiter from the first line in `buf`: the most frequent of `,` `;` tab `|`
/// outside quotes (ties in that order; `,` when none occurs).
pub fn sniff_delimiter(buf: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &b in buf {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..4 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

fn fill<R: BufRead>(r: &mut R) -> io::Result<&[u8]> {
    loop {
        match r.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    r.fill_buf()
}

/// One record's bytes as the reader found them.
struct RowBytes {
    raw: Vec<u8>,
    body_start: usize,
    body_end: usize,
    line: u64,
    too_long: bool,
    unterminated: bool,
}

impl RowBytes {
    /// The record without leading blank lines and terminator.
    fn body(&self) -> &[u8] {
        self.raw
            .get(self.body_start..self.body_end)
            .unwrap_or_default()
    }
}

/// Reads records from a CSV file (UTF-8; decode other encodings first).
pub struct CsvSource<R> {
    reader: R,
    delimiter: u8,
    max_record_bytes: usize,
    layout: Arc<CsvLayout>,
    header_raw: Vec<u8>,
    /// `\n` bytes consumed so far.
    lines: u64,
    /// The first row, with `has_header: false`.
    pending: Option<RowBytes>,
    failed: bool,
}

impl<R: BufRead + Send> CsvSource<R> {
    /// Read the header (or the first row, with `has_header: false`) and resolve the columns.
    ///
    /// # Errors
    /// When the header cannot be read, or a `--field`, `--key` or `--subject` column does
    /// not exist.
    pub fn new(mut reader: R, options: CsvOptions) -> Result<CsvSource<R>, CsvError> {
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => sniff_delimiter(fill(&mut reader)?),
        };
        // A non-ASCII byte would split UTF-8 chars, so fields would not start and end on
        // char boundaries: their text would come out empty and their spans could not slice
        // the record (found by fuzzing, FUZZING.md).
        if !delimiter.is_ascii() || matches!(delimiter, b'"' | b'\r' | b'\n') {
            return Err(CsvError::BadDelimiter);
        }
        let mut src = CsvSource {
            reader,
            delimiter,
            max_record_bytes: options.max_record_bytes,
            layout: Arc::new(CsvLayout {
                delimiter,
                header: Vec::new(),
                field_cols: Vec::new(),
                key_cols: Vec::new(),
                subject_col: None,
                context_cols: Vec::new(),
                context_names: ContextNames::default(),
                max_record_bytes: options.max_record_bytes,
                spans: options.spans,
            }),
            header_raw: Vec::new(),
            lines: 0,
            pending: None,
            failed: false,
        };
        let Some(first) = src.read_row()? else {
            return Ok(src); // an empty file: no columns, no records
        };
        if first.unterminated {
            return Err(CsvError::Unterminated { line: first.line });
        }
        let mut spans = Vec::new();
        if !first.too_long {
            split_fields(first.body(), delimiter, false, &mut spans);
        }
        let header = if options.has_header {
            if first.too_long {
                return Err(CsvError::HeaderTooLarge {
                    line: first.line,
                    max: options.max_record_bytes,
                });
            }
            let body = first.body();
            let mut header = Vec::with_capacity(spans.len());
            for &(s, e) in &spans {
                let name = std::str::from_utf8(&body[s..e])
                    .map_err(|_| CsvError::HeaderEncoding { line: first.line })?;
                header.push(unquote(name));
            }
            src.header_raw = first.raw;
            header
        } else {
            // Without a header the first row sets the number of columns. Over the limit its
            // fields are never split, so taking zero columns would skip every row of the file
            // as ragged (found by fuzzing, FUZZING.md): refuse the file instead.
            if first.too_long {
                return Err(CsvError::FirstRowTooLarge {
                    line: first.line,
                    max: options.max_record_bytes,
                });
            }
            let n = spans.len();
            src.pending = Some(first);
            (1..=n).map(|i| i.to_string()).collect()
        };
        src.layout = Arc::new(resolve_columns(header, delimiter, &options)?);
        Ok(src)
    }

    /// The column names (numbers with `--no-header`).
    pub fn header(&self) -> &[String] {
        &self.layout.header
    }

    /// The header row's exact bytes (empty with `--no-header`), for writing a copy.
    pub fn header_raw(&self) -> &[u8] {
        &self.header_raw
    }

    /// The delimiter in use.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Find the next record's end and take its bytes (none when over the size limit).
    fn read_row(&mut self) -> io::Result<Option<RowBytes>> {
        let max = self.max_record_bytes;
        let mut scan = RowScan::new(self.delimiter);
        let mut raw: Vec<u8> = Vec::new();
        let mut too_long = false;
        loop {
            let buf = fill(&mut self.reader)?;
            if buf.is_empty() {
                if !scan.started() {
                    // Nothing but line ends (or nothing) before the end of the input.
                    self.lines += scan.lines;
                    return Ok(None);
                }
                break;
            }
            let (n, done) = scan.advance(buf);
            if !too_long && scan.body_len() > max {
                too_long = true;
                raw = Vec::new();
            }
            if !too_long {
                if done && raw.is_empty() {
                    // The usual case: the whole record was in the buffer.
                    raw = buf[..n].to_vec();
                } else {
                    raw.extend_from_slice(&buf[..n]);
                }
            }
            self.reader.consume(n);
            if done {
                break;
            }
        }
        let line = self.lines + scan.lead_lines + 1;
        self.lines += scan.lines;
        Ok(Some(RowBytes {
            raw,
            body_start: if too_long { 0 } else { scan.body_start },
            body_end: if too_long {
                0
            } else {
                scan.body_end.unwrap_or(scan.pos)
            },
            line,
            too_long,
            unterminated: scan.state == ScanState::Quoted,
        }))
    }

    fn row(&self, r: RowBytes) -> CsvRow {
        CsvRow {
            raw: r.raw,
            body_start: r.body_start,
            body_end: r.body_end,
            line: r.line,
            too_long: r.too_long,
            layout: Arc::clone(&self.layout),
        }
    }
}

fn columns_list(header: &[String]) -> String {
    header
        .iter()
        .map(|h| format!("{h:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolve one column name or number.
fn column(header: &[String], name: &str) -> Result<usize, CsvError> {
    let mut hits = header.iter().enumerate().filter(|(_, h)| *h == name);
    if let Some((i, _)) = hits.next() {
        if hits.next().is_some() {
            return Err(CsvError::Ambiguous { name: name.into() });
        }
        return Ok(i);
    }
    match name.parse::<usize>() {
        Ok(n) if n >= 1 && n <= header.len() => Ok(n - 1),
        _ => Err(CsvError::UnknownColumn {
            name: name.into(),
            columns: columns_list(header),
        }),
    }
}

/// Turn the `--field`, `--key`, `--subject` and `--context` names into column numbers.
fn resolve_columns(
    header: Vec<String>,
    delimiter: u8,
    options: &CsvOptions,
) -> Result<CsvLayout, CsvError> {
    let key_cols = options
        .key
        .iter()
        .map(|k| column(&header, k))
        .collect::<Result<Vec<_>, _>>()?;
    let subject_col = match &options.subject {
        Some(s) => Some(column(&header, s)?),
        None => None,
    };
    let mut context_cols: Vec<(String, usize)> = Vec::with_capacity(options.context.len());
    for c in &options.context {
        if !context_cols.iter().any(|(n, _)| n == c) {
            context_cols.push((c.clone(), column(&header, c)?));
        }
    }
    let mut cols = Vec::new();
    if options.fields.is_empty() {
        cols.extend((0..header.len()).filter(|i| {
            !key_cols.contains(i)
                && subject_col != Some(*i)
                && !context_cols.iter().any(|&(_, c)| c == *i)
        }));
    } else {
        for f in &options.fields {
            if is_glob(f) && !header.contains(f) {
                let matched: Vec<usize> = (0..header.len())
                    .filter(|&i| is_glob_match(f, &header[i]))
                    .collect();
                if matched.is_empty() {
                    return Err(CsvError::NoMatch {
                        pattern: f.clone(),
                        columns: columns_list(&header),
                    });
                }
                cols.extend(matched);
            } else {
                cols.push(column(&header, f)?);
            }
        }
    }
    let mut seen = Vec::new();
    cols.retain(|c| {
        let new = !seen.contains(c);
        seen.push(*c);
        new
    });
    Ok(CsvLayout {
        delimiter,
        header,
        field_cols: cols,
        key_cols,
        subject_col,
        context_names: ContextNames::new(context_cols.iter().map(|(n, _)| n)),
        context_cols,
        max_record_bytes: options.max_record_bytes,
        spans: options.spans,
    })
}

impl<R: BufRead + Send> RecordSource for CsvSource<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        self.next_pending().map(|p| p.map(Pending::resolve))
    }

    /// Finds the record's end and hands its bytes on; [`CsvRow::resolve`] does the rest.
    fn next_pending(&mut self) -> Option<io::Result<Pending>> {
        if self.failed {
            return None;
        }
        let row = match self.pending.take() {
            Some(r) => r,
            None => match self.read_row() {
                Ok(Some(r)) => r,
                Ok(None) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            },
        };
        if row.unterminated {
            self.failed = true;
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                CsvError::Unterminated { line: row.line },
            )));
        }
        Some(Ok(Pending::Csv(self.row(row))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(data: &[u8], options: CsvOptions) -> Vec<Result<Record, Skipped>> {
        let mut src = CsvSource::new(data, options).unwrap();
        let mut v = Vec::new();
        while let Some(r) = src.next_record() {
            v.push(r.unwrap());
        }
        v
    }

    fn opts(fields: &[&str], key: &[&str]) -> CsvOptions {
        CsvOptions {
            fields: fields.iter().map(|s| s.to_string()).collect(),
            key: key.iter().map(|s| s.to_string()).collect(),
            spans: true,
            ..CsvOptions::default()
        }
    }

    #[test]
    fn multiline_quoted_fields_and_lines() {
        let data = b"id;note\r\n1;\"a\r\nb; \"\"c\"\"\"\r\n\r\n2;plain\n3;\"x\"";
        let recs = read_all(data, opts(&["note"], &["id"]));
        let recs: Vec<Record> = recs.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 3);
        assert_eq!((recs[0].line, recs[0].key.as_str()), (2, "1"));
        assert_eq!(recs[0].fields[0].text, "a\r\nb; \"c\"");
        assert_eq!((recs[1].line, recs[1].key.as_str()), (5, "2"));
        assert_eq!(recs[2].line, 6);
        // Raw bytes cover the whole input after the header, in order.
        let all: String = recs.iter().map(|r| r.raw.as_str()).collect();
        assert_eq!(all.as_bytes(), &data[9..]);
        let (s, e) = recs[0].fields[0].raw_span.unwrap();
        assert_eq!(&recs[0].raw[s..e], "\"a\r\nb; \"\"c\"\"\"");
        let (s, e) = recs[2].fields[0].raw_span.unwrap();
        assert_eq!(&recs[2].raw[s..e], "\"x\"");
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,2"), b';');
        assert_eq!(sniff_delimiter(b"\"a,b\"\t\"c\"\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n"), b'|');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }

    #[test]
    fn ragged_utf8_nul_and_unterminated() {
        let data = b"a,b\n1,2\n1,2,3\n\xff,x\n\0,y\n5,\"open\n6,7\n";
        let mut src = CsvSource::new(&data[..], opts(&[], &[])).unwrap();
        let mut kinds = Vec::new();
        let mut fatal = None;
        while let Some(r) = src.next_record() {
            match r {
                Ok(Ok(_)) => kinds.push("ok".to_string()),
                Ok(Err(s)) => {
                    kinds.push(s.kind.as_str().to_string());
                    if s.kind == SkipKind::InvalidUtf8 {
                        assert!(s.reason.contains("line 4") && s.reason.contains("--encoding"));
                    }
                }
                Err(e) => fatal = Some(e.to_string()),
            }
        }
        assert_eq!(kinds, ["ok", "ragged_row", "invalid_utf8", "nul_byte"]);
        let fatal = fatal.unwrap();
        assert!(
            fatal.contains("line 6") && fatal.contains("unterminated"),
            "{fatal}"
        );
    }

    #[test]
    fn columns_by_number_glob_and_errors() {
        let data = b"id,note_a,x,note_b\n1,p,q,r\n";
        let recs = read_all(data, opts(&["note*", "3"], &["id"]));
        let r = recs[0].as_ref().unwrap();
        let names: Vec<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["note_a", "note_b", "x"]);
        let e = CsvSource::new(&data[..], opts(&["nope"], &[]))
            .err()
            .unwrap();
        assert!(matches!(e, CsvError::UnknownColumn { .. }), "{e}");
        let e = CsvSource::new(&data[..], opts(&["zz*"], &[]))
            .err()
            .unwrap();
        assert!(matches!(e, CsvError::NoMatch { .. }), "{e}");
        let no_header = CsvOptions {
            has_header: false,
            ..opts(&["2"], &["1"])
        };
        let recs = read_all(b"7,hello\n8,bye", no_header);
        let r = recs[1].as_ref().unwrap();
        assert_eq!((r.key.as_str(), r.fields[0].text.as_str()), ("8", "bye"));
        assert_eq!(r.fields[0].name, "2");
        assert!(read_all(b"", opts(&["x"], &[])).is_empty());
    }

    /// The tracker the reader used before (one step per byte), as a reference for where
    /// records and fields end.
    mod reference {
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Q {
            FieldStart,
            Unquoted,
            Quoted,
            MaybeClosed,
        }

        pub(crate) fn step(q: Q, b: u8, d: u8) -> Q {
            match q {
                Q::Quoted if b == b'"' => Q::MaybeClosed,
                Q::Quoted => Q::Quoted,
                Q::FieldStart if b == b'"' => Q::Quoted,
                Q::MaybeClosed if b == b'"' => Q::Quoted,
                _ if b == d || b == b'\n' || b == b'\r' => Q::FieldStart,
                _ => Q::Unquoted,
            }
        }

        pub(crate) fn field_spans(raw: &[u8], d: u8) -> Vec<(usize, usize)> {
            let mut spans = Vec::new();
            let mut start = 0;
            let mut q = Q::FieldStart;
            for (i, &b) in raw.iter().enumerate() {
                let inside = q == Q::Quoted;
                q = step(q, b, d);
                if !inside && (b == d || b == b'\n' || b == b'\r') && q == Q::FieldStart {
                    spans.push((start, i));
                    start = i + 1;
                    if b != d {
                        return spans;
                    }
                }
            }
            spans.push((start, raw.len()));
            spans
        }

        /// Records as `csv_core` reads them: (line where it starts, decoded fields,
        /// whether a quote was left open).
        pub(crate) fn records(input: &[u8], d: u8) -> Vec<(u64, Vec<Vec<u8>>, bool)> {
            let mut rdr = csv_core::ReaderBuilder::new().delimiter(d).build();
            let mut out = vec![0u8; input.len() + 1];
            let mut ends = vec![0usize; input.len() + 2];
            let mut pos = 0;
            let mut recs = Vec::new();
            loop {
                // Where the record proper starts: csv_core skips line ends first.
                let mut start = pos;
                while start < input.len() && (input[start] == b'\r' || input[start] == b'\n') {
                    start += 1;
                }
                let (mut outlen, mut endlen) = (0, 0);
                let res = loop {
                    let (res, nin, nout, nend) =
                        rdr.read_record(&input[pos..], &mut out[outlen..], &mut ends[endlen..]);
                    pos += nin;
                    outlen += nout;
                    endlen += nend;
                    match res {
                        // Everything was given: an empty input tells csv_core it ended.
                        csv_core::ReadRecordResult::InputEmpty if pos < input.len() => {}
                        csv_core::ReadRecordResult::InputEmpty if nin > 0 => {}
                        csv_core::ReadRecordResult::InputEmpty => {
                            let (res, _, nout, nend) =
                                rdr.read_record(&[], &mut out[outlen..], &mut ends[endlen..]);
                            outlen += nout;
                            endlen += nend;
                            break res;
                        }
                        other => break other,
                    }
                };
                let _ = outlen;
                match res {
                    csv_core::ReadRecordResult::Record => {
                        let mut q = Q::FieldStart;
                        for &b in &input[start..pos] {
                            q = step(q, b, d);
                        }
                        let mut fields = Vec::new();
                        let mut from = 0;
                        for &e in &ends[..endlen] {
                            fields.push(out[from..e].to_vec());
                            from = e;
                        }
                        let line = 1 + input[..start].iter().filter(|&&b| b == b'\n').count();
                        recs.push((line as u64, fields, q == Q::Quoted));
                    }
                    csv_core::ReadRecordResult::End => return recs,
                    other => panic!("reference buffers too small: {other:?}"),
                }
            }
        }
    }

    /// Read every row with the real reader through a buffer of `cap` bytes: (line, field
    /// values, raw bytes, body start, unterminated).
    #[allow(clippy::type_complexity)]
    fn rows(
        input: &[u8],
        d: u8,
        cap: usize,
    ) -> Vec<(u64, Vec<Vec<u8>>, Vec<u8>, (usize, usize), bool)> {
        let reader = io::BufReader::with_capacity(cap, input);
        let options = CsvOptions {
            delimiter: Some(d),
            has_header: false,
            max_record_bytes: usize::MAX,
            ..CsvOptions::default()
        };
        let mut src = CsvSource {
            reader,
            delimiter: d,
            max_record_bytes: options.max_record_bytes,
            layout: Arc::new(resolve_columns(Vec::new(), d, &options).unwrap()),
            header_raw: Vec::new(),
            lines: 0,
            pending: None,
            failed: false,
        };
        let mut out = Vec::new();
        while let Some(r) = src.read_row().unwrap() {
            let mut spans = Vec::new();
            split_fields(r.body(), d, false, &mut spans);
            let body = r.body();
            let values = spans
                .iter()
                .map(|&(s, e)| match std::str::from_utf8(&body[s..e]) {
                    Ok(t) => unquote(t).into_bytes(),
                    Err(_) => b"<not utf-8>".to_vec(),
                })
                .collect();
            let stop = r.unterminated;
            out.push((
                r.line,
                values,
                r.raw,
                (r.body_start, r.body_end),
                r.unterminated,
            ));
            if stop {
                break;
            }
        }
        out
    }

    fn piece() -> impl Strategy<Value = &'static [u8]> {
        prop_oneof![
            Just(&b"a"[..]),
            Just(&b"bc"[..]),
            Just("é".as_bytes()),
            Just(&b","[..]),
            Just(&b";"[..]),
            Just(&b"\""[..]),
            Just(&b"\"\""[..]),
            Just(&b"\r"[..]),
            Just(&b"\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b" "[..]),
            Just(&b",\"x\"\""[..]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The reader splits records where csv_core does, on every buffer size; fields decode
        /// to csv_core's values; field ranges are the per-byte tracker's; the raw bytes of the
        /// records are the whole input; line numbers count from the start of each record.
        #[test]
        fn reader_agrees_with_csv_core(
            pieces in proptest::collection::vec(piece(), 0..40),
            cap in 1usize..9,
            semicolon in any::<bool>(),
        ) {
            let input: Vec<u8> = pieces.concat();
            let d = if semicolon { b';' } else { b',' };
            let expected = reference::records(&input, d);
            let got = rows(&input, d, cap);
            prop_assert!(got.len() <= expected.len());
            for (i, (line, values, raw, (body_start, body_end), unterminated)) in got.iter().enumerate() {
                let (eline, evalues, eunterminated) = &expected[i];
                prop_assert_eq!(line, eline, "record {}", i);
                prop_assert_eq!(unterminated, eunterminated, "record {}", i);
                if !unterminated {
                    prop_assert_eq!(values, evalues, "record {}", i);
                }
                let body = &raw[*body_start..*body_end];
                prop_assert!(raw[..*body_start].iter().chain(&raw[*body_end..]).all(|&b| b == b'\r' || b == b'\n'));
                let mut spans = Vec::new();
                split_fields(body, d, false, &mut spans);
                prop_assert_eq!(&spans, &reference::field_spans(body, d));
                split_fields(raw, d, true, &mut spans);
                prop_assert_eq!(&spans, &reference::field_spans(raw, d));
            }
            match got.last() {
                Some(last) if last.4 => {}
                _ => {
                    prop_assert_eq!(got.len(), expected.len());
                    if !got.is_empty() {
                        let all: Vec<u8> = got.iter().flat_map(|r| r.2.clone()).collect();
                        prop_assert_eq!(all, input);
                    }
                }
            }
        }
    }

    #[test]
    fn lines_after_multiline_records_and_skips() {
        // Across buffer sizes: records after multi-line quoted fields, CRLF, blank lines and
        // skipped rows keep their line numbers.
        let data = b"id,note\r\n\r\n1,\"a\r\nb\r\nc\"\r\n2,ok\n\n\n3,\"x\ny\",extra\n4,\"\xff\"\n5,\"p\nq\0\"\n6,\"long long long\nlong\"\n7,end";
        for cap in [1, 2, 3, 5, 8, 64, 8192] {
            let reader = io::BufReader::with_capacity(cap, &data[..]);
            let options = CsvOptions {
                max_record_bytes: 15,
                ..opts(&["note"], &["id"])
            };
            let mut src = CsvSource::new(reader, options).unwrap();
            let mut got = Vec::new();
            while let Some(r) = src.next_record() {
                got.push(match r.unwrap() {
                    Ok(r) => (r.line, r.key, String::new()),
                    Err(s) => (s.line, s.kind.as_str().to_string(), s.reason),
                });
            }
            let lines: Vec<(u64, &str)> = got.iter().map(|g| (g.0, g.1.as_str())).collect();
            assert_eq!(
                lines,
                [
                    (3, "1"),
                    (6, "2"),
                    (9, "ragged_row"),
                    (11, "invalid_utf8"),
                    (12, "nul_byte"),
                    (14, "too_large"),
                    (16, "7"),
                ],
                "buffer {cap}"
            );
            assert!(got[3].2.contains("line 11"), "{}", got[3].2);
            assert!(got[4].2.contains("line 13"), "{}", got[4].2);
        }
    }

    #[test]
    fn blank_lines_before_the_first_row_stay_in_its_bytes() {
        let data = b"\n\r\n7,\"a,b\"\n8,c";
        let options = CsvOptions {
            has_header: false,
            ..opts(&["2"], &["1"])
        };
        let recs: Vec<Record> = read_all(data, options)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!((recs[0].line, recs[0].key.as_str()), (3, "7"));
        assert_eq!(recs[0].raw, "\n\r\n7,\"a,b\"\n");
        let (s, e) = recs[0].fields[0].raw_span.unwrap();
        assert_eq!(&recs[0].raw[s..e], "\"a,b\"");
        assert_eq!(recs[0].fields[0].text, "a,b");
        assert_eq!((recs[1].line, recs[1].fields[0].text.as_str()), (4, "c"));
    }

    #[test]
    fn pending_rows_resolve_like_records_and_hide_their_text() {
        let data = b"id,note\n1,\"Klant heeft diabetes\"\n";
        let mut src = CsvSource::new(&data[..], opts(&["note"], &["id"])).unwrap();
        let p = src.next_pending().unwrap().unwrap();
        assert!(matches!(p, Pending::Csv(_)));
        assert_eq!(p.raw_len(), 25);
        let debug = format!("{p:?}");
        assert!(!debug.contains("diabetes"), "{debug}");
        let r = p.resolve().unwrap();
        assert_eq!(r.fields[0].text, "Klant heeft diabetes");
        assert!(src.next_pending().is_none());
    }

    #[test]
    fn quote_and_line_end_delimiters_are_refused() {
        for d in [b'"', b'\n', b'\r'] {
            let options = CsvOptions {
                delimiter: Some(d),
                ..CsvOptions::default()
            };
            let e = CsvSource::new(&b"a,b\n"[..], options).err();
            assert!(matches!(e, Some(CsvError::BadDelimiter)), "{e:?}");
        }
    }
}

//! CSV and TSV exports (Salesforce, HubSpot, Dynamics, Odoo, CiviCRM, …).
//!
//! The parser is `csv_core`, the engine of the `csv` crate, driven directly: a masked copy
//! must keep every byte outside the masked fields, so each [`Record::raw`] holds the record's
//! exact bytes (line terminator and any blank lines after it included; `terminator` is empty),
//! which `csv::Reader` does not expose. What the `csv` crate's `flexible(true)` would accept is
//! accepted here too, then checked:
//!
//! * the delimiter is sniffed from the header line (`,` `;` tab `|`, the most frequent outside
//!   quotes wins; ties in that order) unless given;
//! * quoted fields may span lines; [`Record::line`] is the line where the record starts;
//! * a row with more or fewer fields than the header is skipped ([`SkipKind::RaggedRow`]);
//! * invalid UTF-8 skips the record with a reason naming the line and suggesting `--encoding`
//!   (other encodings are decoded before this reader, see [`crate::encoding`]);
//! * a quote that is never closed is a fatal error naming the line where it opened: the rest
//!   of the file would otherwise vanish into one field.
//!
//! Columns are named by the header, or by 1-based number (`--no-header`, or a number that is
//! not a header name). `--field` takes names, numbers or globs (`note*`).

use std::io::{self, BufRead};

use super::{is_glob, is_glob_match, Field, Record, RecordSource, SkipKind, Skipped};

/// How to read a CSV file.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// Field delimiter; `None` = sniff from the header line.
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

/// Where the quote tracker is inside a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuoteState {
    FieldStart,
    Unquoted,
    Quoted,
    MaybeClosed,
}

impl QuoteState {
    #[inline]
    fn step(self, b: u8, delimiter: u8) -> QuoteState {
        match self {
            QuoteState::Quoted => {
                if b == b'"' {
                    QuoteState::MaybeClosed
                } else {
                    QuoteState::Quoted
                }
            }
            QuoteState::FieldStart if b == b'"' => QuoteState::Quoted,
            QuoteState::MaybeClosed if b == b'"' => QuoteState::Quoted,
            _ if b == delimiter || b == b'\n' || b == b'\r' => QuoteState::FieldStart,
            _ => QuoteState::Unquoted,
        }
    }
}

/// Byte ranges of each field of one record in `raw` (quotes included), stopping at the
/// record terminator.
pub fn field_spans(raw: &[u8], delimiter: u8) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut q = QuoteState::FieldStart;
    for (i, &b) in raw.iter().enumerate() {
        let inside = q == QuoteState::Quoted;
        q = q.step(b, delimiter);
        if !inside && (b == delimiter || b == b'\n' || b == b'\r') && q == QuoteState::FieldStart {
            spans.push((start, i));
            start = i + 1;
            if b != delimiter {
                return spans;
            }
        }
    }
    spans.push((start, raw.len()));
    spans
}

/// One row as parsed, before it becomes a [`Record`].
struct Row {
    raw: Vec<u8>,
    out: Vec<u8>,
    ends: Vec<usize>,
    line: u64,
    too_long: bool,
    unterminated: bool,
}

impl Row {
    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }
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

/// Reads records from a CSV file (UTF-8; decode other encodings first).
pub struct CsvSource<R> {
    reader: R,
    core: csv_core::Reader,
    delimiter: u8,
    options: CsvOptions,
    header: Vec<String>,
    header_raw: Vec<u8>,
    field_cols: Vec<usize>,
    key_cols: Vec<usize>,
    subject_col: Option<usize>,
    /// `\n` bytes consumed so far.
    lines: u64,
    pending: Option<Row>,
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
        let core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        let mut src = CsvSource {
            reader,
            core,
            delimiter,
            options,
            header: Vec::new(),
            header_raw: Vec::new(),
            field_cols: Vec::new(),
            key_cols: Vec::new(),
            subject_col: None,
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
        if src.options.has_header {
            if first.too_long {
                return Err(CsvError::HeaderTooLarge {
                    line: first.line,
                    max: src.options.max_record_bytes,
                });
            }
            for i in 0..first.ends.len() {
                let name = std::str::from_utf8(first.field(i))
                    .map_err(|_| CsvError::HeaderEncoding { line: first.line })?;
                src.header.push(name.to_string());
            }
            src.header_raw = first.raw;
        } else {
            let n = if first.too_long { 0 } else { first.ends.len() };
            src.header = (1..=n).map(|i| i.to_string()).collect();
            src.pending = Some(first);
        }
        src.resolve()?;
        Ok(src)
    }

    /// The column names (numbers with `--no-header`).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The header row's exact bytes (empty with `--no-header`), for writing a copy.
    pub fn header_raw(&self) -> &[u8] {
        &self.header_raw
    }

    /// The delimiter in use.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    fn columns_list(&self) -> String {
        self.header
            .iter()
            .map(|h| format!("{h:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Resolve one column name or number.
    fn column(&self, name: &str) -> Result<usize, CsvError> {
        let mut hits = self.header.iter().enumerate().filter(|(_, h)| *h == name);
        if let Some((i, _)) = hits.next() {
            if hits.next().is_some() {
                return Err(CsvError::Ambiguous { name: name.into() });
            }
            return Ok(i);
        }
        match name.parse::<usize>() {
            Ok(n) if n >= 1 && n <= self.header.len() => Ok(n - 1),
            _ => Err(CsvError::UnknownColumn {
                name: name.into(),
                columns: self.columns_list(),
            }),
        }
    }

    fn resolve(&mut self) -> Result<(), CsvError> {
        self.key_cols = self
            .options
            .key
            .iter()
            .map(|k| self.column(k))
            .collect::<Result<_, _>>()?;
        self.subject_col = match &self.options.subject {
            Some(s) => Some(self.column(s)?),
            None => None,
        };
        let mut cols = Vec::new();
        if self.options.fields.is_empty() {
            cols.extend(
                (0..self.header.len())
                    .filter(|i| !self.key_cols.contains(i) && self.subject_col != Some(*i)),
            );
        } else {
            for f in &self.options.fields {
                if is_glob(f) && !self.header.contains(f) {
                    let matched: Vec<usize> = (0..self.header.len())
                        .filter(|&i| is_glob_match(f, &self.header[i]))
                        .collect();
                    if matched.is_empty() {
                        return Err(CsvError::NoMatch {
                            pattern: f.clone(),
                            columns: self.columns_list(),
                        });
                    }
                    cols.extend(matched);
                } else {
                    cols.push(self.column(f)?);
                }
            }
        }
        let mut seen = Vec::new();
        cols.retain(|c| {
            let new = !seen.contains(c);
            seen.push(*c);
            new
        });
        self.field_cols = cols;
        Ok(())
    }

    /// Consume `\r` and `\n` bytes (line ends, blank lines) into `raw`.
    fn take_line_ends(&mut self, raw: &mut Vec<u8>, keep: bool) -> io::Result<()> {
        loop {
            let buf = fill(&mut self.reader)?;
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if n == 0 {
                return Ok(());
            }
            self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            if keep {
                raw.extend_from_slice(&buf[..n]);
            }
            self.reader.consume(n);
        }
    }

    fn read_row(&mut self) -> io::Result<Option<Row>> {
        let max = self.options.max_record_bytes;
        let mut raw = Vec::new();
        self.take_line_ends(&mut raw, true)?;
        let line = self.lines + 1;
        let mut out = vec![0u8; 256];
        let mut ends = vec![0usize; 16];
        let (mut outlen, mut endlen) = (0, 0);
        let mut too_long = false;
        let mut q = QuoteState::FieldStart;
        loop {
            let input = fill(&mut self.reader)?;
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut out[outlen..], &mut ends[endlen..]);
            let consumed = &input[..nin];
            for &b in consumed {
                q = q.step(b, self.delimiter);
            }
            self.lines += consumed.iter().filter(|&&b| b == b'\n').count() as u64;
            if !too_long && raw.len() + nin > max + 2 {
                too_long = true;
                raw = Vec::new();
            }
            if !too_long {
                raw.extend_from_slice(consumed);
            }
            self.reader.consume(nin);
            outlen += nout;
            endlen += nend;
            if too_long {
                // Keep parsing to find the record's end, but keep none of it.
                outlen = 0;
                endlen = 0;
            }
            match res {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => {
                    let n = out.len() * 2;
                    out.resize(n, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let n = ends.len() * 2;
                    ends.resize(n, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    let unterminated = q == QuoteState::Quoted;
                    self.take_line_ends(&mut raw, !too_long)?;
                    out.truncate(outlen);
                    ends.truncate(endlen);
                    return Ok(Some(Row {
                        raw,
                        out,
                        ends,
                        line,
                        too_long,
                        unterminated,
                    }));
                }
                csv_core::ReadRecordResult::End => return Ok(None),
            }
        }
    }

    fn record(&self, mut row: Row) -> Result<Record, Skipped> {
        let line = row.line;
        let skip = |kind, key: Option<String>, reason: String| Skipped {
            line,
            key,
            field: None,
            kind,
            reason,
        };
        if row.too_long {
            return Err(skip(
                SkipKind::TooLarge,
                None,
                format!(
                    "record is over the {} byte limit (--max-record-bytes)",
                    self.options.max_record_bytes
                ),
            ));
        }
        let raw = match String::from_utf8(std::mem::take(&mut row.raw)) {
            Ok(s) => s,
            Err(e) => {
                let bytes = e.as_bytes();
                let at = e.utf8_error().valid_up_to();
                let bad_line = line + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
                return Err(skip(
                    SkipKind::InvalidUtf8,
                    None,
                    format!(
                        "invalid UTF-8 on line {bad_line}; if the file is not UTF-8, pass \
                         --encoding (e.g. --encoding windows-1252 or latin1)"
                    ),
                ));
            }
        };
        if let Some(i) = raw.bytes().position(|b| b == 0) {
            let bad_line =
                line + raw.as_bytes()[..i].iter().filter(|&&b| b == b'\n').count() as u64;
            return Err(skip(
                SkipKind::NulByte,
                None,
                format!("NUL byte on line {bad_line}"),
            ));
        }
        if row.ends.len() != self.header.len() {
            return Err(skip(
                SkipKind::RaggedRow,
                None,
                format!(
                    "row has {} fields, the header has {}",
                    row.ends.len(),
                    self.header.len()
                ),
            ));
        }
        // The raw bytes are UTF-8, and unescaping only drops quote characters.
        let text = |i: usize| String::from_utf8_lossy(row.field(i)).into_owned();
        let key = if self.key_cols.is_empty() {
            line.to_string()
        } else {
            self.key_cols
                .iter()
                .map(|&c| text(c))
                .collect::<Vec<_>>()
                .join(":")
        };
        let subject = self.subject_col.map(text).filter(|s| !s.is_empty());
        let spans = if self.options.spans {
            field_spans(raw.as_bytes(), self.delimiter)
        } else {
            Vec::new()
        };
        let fields = self
            .field_cols
            .iter()
            .map(|&c| Field {
                name: self.header[c].clone(),
                text: text(c),
                raw_span: spans.get(c).copied(),
            })
            .collect();
        Ok(Record {
            line,
            key,
            fields,
            raw,
            terminator: "",
            subject,
        })
    }
}

impl<R: BufRead + Send> RecordSource for CsvSource<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
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
        Some(Ok(self.record(row)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn spans_of_fields() {
        assert_eq!(
            field_spans(b"a,\"b,c\",,d\r\n", b','),
            [(0, 1), (2, 7), (8, 8), (9, 10)]
        );
        assert_eq!(field_spans(b"\"x\"\"\"", b','), [(0, 5)]);
    }
}

//! Where a CSV record ends and where its fields are: [`RowScan`] finds the end of a
//! record (quotes, line ends) fed a buffer at a time; [`split_fields`] and [`unquote`] take
//! a record apart.

/// Where [`RowScan`] is inside a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScanState {
    /// Before the record: line ends (blank lines) are skipped.
    Lead,
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field (or after a quoted one was closed): quotes are ordinary.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: `"` again is an escaped quote.
    MaybeClosed,
    /// After the record's terminator: further line ends (blank lines) belong to it.
    Trailing,
}

/// Finds where one record ends, fed the input a buffer at a time. Positions count from the
/// record's first byte (leading blank lines included).
#[derive(Debug)]
pub(super) struct RowScan {
    pub(super) state: ScanState,
    pub(super) delimiter: u8,
    /// Bytes fed so far.
    pub(super) pos: usize,
    /// Where the record proper starts (after leading line ends).
    pub(super) body_start: usize,
    /// Where its terminator starts (or the end of input).
    pub(super) body_end: Option<usize>,
    /// `\n` bytes passed so far.
    pub(super) lines: u64,
    /// `\n` bytes before `body_start`.
    pub(super) lead_lines: u64,
}

impl RowScan {
    pub(super) fn new(delimiter: u8) -> RowScan {
        RowScan {
            state: ScanState::Lead,
            delimiter,
            pos: 0,
            body_start: 0,
            body_end: None,
            lines: 0,
            lead_lines: 0,
        }
    }

    /// Whether any byte of the record proper has been seen.
    pub(super) fn started(&self) -> bool {
        self.state != ScanState::Lead
    }

    /// Bytes of the record proper seen so far (terminator and blank lines not counted).
    pub(super) fn body_len(&self) -> usize {
        if !self.started() {
            return 0;
        }
        self.body_end.unwrap_or(self.pos) - self.body_start
    }

    /// Feed the next bytes of input. Returns how many belong to this record and whether it
    /// ends there (then the rest of `buf` is the next record's).
    pub(super) fn advance(&mut self, buf: &[u8]) -> (usize, bool) {
        let d = self.delimiter;
        let n = buf.len();
        let mut i = 0;
        while i < n {
            match self.state {
                ScanState::Lead => {
                    while i < n && (buf[i] == b'\r' || buf[i] == b'\n') {
                        self.lines += u64::from(buf[i] == b'\n');
                        i += 1;
                    }
                    if i < n {
                        self.body_start = self.pos + i;
                        self.lead_lines = self.lines;
                        self.state = ScanState::FieldStart;
                    }
                }
                ScanState::FieldStart | ScanState::MaybeClosed => {
                    let b = buf[i];
                    if b == b'"' {
                        // Opens a quoted field, or is an escaped quote inside one.
                        self.state = ScanState::Quoted;
                        i += 1;
                    } else if b == d {
                        self.state = ScanState::FieldStart;
                        i += 1;
                    } else if b == b'\r' || b == b'\n' {
                        self.body_end = Some(self.pos + i);
                        self.state = ScanState::Trailing;
                    } else {
                        self.state = ScanState::Unquoted;
                        i += 1;
                    }
                }
                ScanState::Unquoted => {
                    // Only a quote right after a delimiter (a field start) or a line end
                    // changes anything here; delimiters themselves need no stop. The byte
                    // before `i` is never a delimiter in this state (see the `None` arm).
                    match memchr::memchr3(b'"', b'\n', b'\r', &buf[i..]) {
                        None => {
                            self.state = if buf[n - 1] == d {
                                ScanState::FieldStart
                            } else {
                                ScanState::Unquoted
                            };
                            i = n;
                        }
                        Some(k) => {
                            let p = i + k;
                            if buf[p] == b'"' {
                                if k > 0 && buf[p - 1] == d {
                                    self.state = ScanState::Quoted;
                                }
                                i = p + 1;
                            } else {
                                self.body_end = Some(self.pos + p);
                                self.state = ScanState::Trailing;
                                i = p;
                            }
                        }
                    }
                }
                ScanState::Quoted => match memchr::memchr2(b'"', b'\n', &buf[i..]) {
                    None => i = n,
                    Some(k) => {
                        let p = i + k;
                        if buf[p] == b'\n' {
                            self.lines += 1;
                        } else {
                            self.state = ScanState::MaybeClosed;
                        }
                        i = p + 1;
                    }
                },
                ScanState::Trailing => {
                    while i < n && (buf[i] == b'\r' || buf[i] == b'\n') {
                        self.lines += u64::from(buf[i] == b'\n');
                        i += 1;
                    }
                    if i < n {
                        self.pos += i;
                        return (i, true);
                    }
                }
            }
        }
        self.pos += n;
        (n, false)
    }
}

/// Byte ranges of the fields of one record in `raw` (quotes included), appended to `out`,
/// which is cleared first. With `to_line_end`, a line end outside quotes ends the record;
/// without, `raw` must be a record without its terminator (as [`RowScan`] finds it), which
/// holds line ends only inside quotes.
pub(super) fn split_fields(
    raw: &[u8],
    delimiter: u8,
    to_line_end: bool,
    out: &mut Vec<(usize, usize)>,
) {
    out.clear();
    let n = raw.len();
    let (mut i, mut start) = (0, 0);
    loop {
        if i < n && raw[i] == b'"' {
            // A quoted field: skip to its closing quote (`""` is an escaped quote).
            i += 1;
            loop {
                match memchr::memchr(b'"', &raw[i..]) {
                    None => {
                        i = n;
                        break;
                    }
                    Some(k) => {
                        i += k + 1;
                        if i < n && raw[i] == b'"' {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
        }
        // Unquoted (or the rest after a closing quote): quotes are ordinary bytes.
        let rest = &raw[i..];
        let found = if to_line_end {
            memchr::memchr3(delimiter, b'\r', b'\n', rest)
        } else {
            memchr::memchr(delimiter, rest)
        };
        match found {
            None => {
                out.push((start, n));
                return;
            }
            Some(k) => {
                let p = i + k;
                out.push((start, p));
                if raw[p] != delimiter {
                    return;
                }
                i = p + 1;
                start = i;
            }
        }
    }
}

/// A field value as a masked copy writes it back in place of the field's bytes
/// `original_raw` (from `Field::raw_span`): quoted, with `""` for each quote, when the
/// original was quoted or the value holds the delimiter, a quote or a line end, and also
/// when it is empty. An empty value unquoted would turn a record of one field into a blank
/// line, which readers skip: the record would vanish from the copy (found by fuzzing,
/// FUZZING.md). `""` reads back as the same empty value in any record.
pub fn encode_field(delimiter: u8, original_raw: &str, value: &str) -> String {
    let quoted = original_raw.starts_with('"');
    let needs = value.is_empty()
        || value
            .bytes()
            .any(|b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if quoted || needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Byte ranges of each field of one record in `raw` (quotes included), stopping at the
/// record terminator.
pub fn field_spans(raw: &[u8], delimiter: u8) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    split_fields(raw, delimiter, true, &mut spans);
    spans
}

/// The value of one field as `csv_core` decodes it: outer quotes removed, `""` unescaped;
/// after a closing quote the rest of the field is taken as it is.
pub(super) fn unquote(field: &str) -> String {
    let Some(mut rest) = field.strip_prefix('"') else {
        return field.to_string();
    };
    let mut out = String::with_capacity(rest.len());
    loop {
        // A quote is ASCII, so the slices around it lie on char boundaries.
        let Some(k) = memchr::memchr(b'"', rest.as_bytes()) else {
            out.push_str(rest); // never closed
            return out;
        };
        out.push_str(rest.get(..k).unwrap_or_default());
        let after = rest.get(k + 1..).unwrap_or_default();
        match after.strip_prefix('"') {
            Some(r) => {
                out.push('"');
                rest = r;
            }
            None => {
                out.push_str(after);
                return out;
            }
        }
    }
}

/// `\n` bytes in `b`.
pub(super) fn count_lines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoting() {
        assert_eq!(unquote("plain \"x\""), "plain \"x\"");
        assert_eq!(unquote("\"a\"\"b\""), "a\"b");
        assert_eq!(unquote("\"ab\"c\"d\""), "abc\"d\"");
        assert_eq!(unquote("\"\""), "");
        assert_eq!(unquote("\"é\nx\""), "é\nx");
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

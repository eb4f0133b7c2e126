//! One JSON array file (`[{...}, {...}]`), streamed element by element.
//!
//! serde_json's `StreamDeserializer` reads whitespace-separated values, not the elements of
//! one array, and a masked copy needs each element's exact bytes anyway; so a small scanner
//! (strings, escapes, nesting depth) finds element boundaries in the byte stream, and each
//! element is parsed like a JSON Lines record ([`parse_json_record`](super::parse_json_record)). Memory is one element
//! at a time, whatever the file size.
//!
//! An object wrapping the array is accepted too: the first member whose value is an array is
//! read, e.g. Salesforce data-tree files `{"records": [...]}`.
//!
//! [`Record::raw`] holds the element's exact bytes with the separators around it (the first
//! record also holds everything before the array, the last one everything after it), so
//! writing every raw in order reproduces the file. [`Record::line`] is the line where the
//! element starts.

use std::io::{self, BufRead};

use super::{JsonOptions, Record, RecordSource, SkipKind, Skipped};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    InArray,
    Done,
}

/// Reads the elements of a JSON array.
pub struct JsonArray<R> {
    reader: R,
    options: super::json::Parse,
    max: usize,
    /// `\n` bytes consumed so far.
    lines: u64,
    state: State,
    /// Bytes before the first element (given to the first record).
    prefix: Vec<u8>,
}

fn structure_error(line: u64, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("line {line}: {what}"))
}

impl<R: BufRead + Send> JsonArray<R> {
    /// Read the array in `reader`; elements over `max` bytes are skipped.
    pub fn new(reader: R, max: usize, options: JsonOptions) -> JsonArray<R> {
        JsonArray {
            reader,
            options: super::json::Parse::new(options),
            max,
            lines: 0,
            state: State::Start,
            prefix: Vec::new(),
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Consume one byte into `into`.
    fn bump(&mut self, into: &mut Vec<u8>) -> io::Result<()> {
        if let Some(b) = self.peek()? {
            if b == b'\n' {
                self.lines += 1;
            }
            into.push(b);
            self.reader.consume(1);
        }
        Ok(())
    }

    fn skip_ws(&mut self, into: &mut Vec<u8>) -> io::Result<()> {
        loop {
            let buf = loop {
                match self.reader.fill_buf() {
                    Ok(b) => break b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            let n = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if n == 0 {
                return Ok(());
            }
            self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            into.extend_from_slice(&buf[..n]);
            self.reader.consume(n);
        }
    }

    /// Scan one JSON value into `into` (at most `max` bytes kept; returns whether it fit).
    fn scan_value(&mut self, into: &mut Vec<u8>, max: usize) -> io::Result<bool> {
        let start_line = self.lines + 1;
        let (mut depth, mut in_string, mut escape, mut any) = (0usize, false, false, false);
        let mut fits = true;
        loop {
            let buf = loop {
                match self.reader.fill_buf() {
                    Ok(b) => break b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if buf.is_empty() {
                if in_string || depth > 0 || !any {
                    return Err(structure_error(
                        start_line,
                        "the JSON value starting here is not closed before the end of the file",
                    ));
                }
                return Ok(fits);
            }
            let mut end = None; // bytes of buf that belong to the value
            for (i, &b) in buf.iter().enumerate() {
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => {
                        in_string = true;
                        any = true;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        any = true;
                    }
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    b',' | b'}' | b']' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ if depth == 0 && b.is_ascii_whitespace() => {
                        end = Some(i);
                        break;
                    }
                    _ => any = true,
                }
            }
            let n = end.unwrap_or(buf.len());
            self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            if fits && into.len() + n > max {
                fits = false;
            }
            if fits {
                into.extend_from_slice(&buf[..n]);
            }
            self.reader.consume(n);
            if end.is_some() {
                if !any {
                    return Err(structure_error(self.lines + 1, "expected a JSON value"));
                }
                return Ok(fits);
            }
        }
    }

    /// Read up to the `[` that opens the array (possibly inside a wrapping object).
    fn open(&mut self) -> io::Result<bool> {
        let mut prefix = Vec::new();
        self.skip_ws(&mut prefix)?;
        match self.peek()? {
            None => return Ok(false),
            Some(b'[') => {}
            Some(b'{') => {
                self.bump(&mut prefix)?;
                loop {
                    self.skip_ws(&mut prefix)?;
                    if self.peek()? != Some(b'"') {
                        return Err(structure_error(
                            self.lines + 1,
                            "expected a member name in the JSON object",
                        ));
                    }
                    let limit = usize::MAX;
                    self.scan_value(&mut prefix, limit)?;
                    self.skip_ws(&mut prefix)?;
                    if self.peek()? != Some(b':') {
                        return Err(structure_error(self.lines + 1, "expected ':'"));
                    }
                    self.bump(&mut prefix)?;
                    self.skip_ws(&mut prefix)?;
                    if self.peek()? == Some(b'[') {
                        break;
                    }
                    // Not the array: keep its bytes (bounded) for the copy and go on.
                    if !self.scan_value(&mut prefix, self.max)? {
                        return Err(structure_error(
                            self.lines + 1,
                            "a member before the array is over the record size limit",
                        ));
                    }
                    self.skip_ws(&mut prefix)?;
                    match self.peek()? {
                        Some(b',') => self.bump(&mut prefix)?,
                        _ => {
                            return Err(structure_error(
                                self.lines + 1,
                                "the JSON object holds no array of records",
                            ))
                        }
                    }
                }
            }
            Some(_) => {
                return Err(structure_error(
                    self.lines + 1,
                    "expected a JSON array (or an object holding one)",
                ))
            }
        }
        self.bump(&mut prefix)?; // the '['
        self.prefix = prefix;
        Ok(true)
    }

    /// Everything after the closing `]`, to the end of the file (bounded).
    fn rest(&mut self, into: &mut Vec<u8>) -> io::Result<()> {
        let start = into.len();
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.len();
            self.lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
            into.extend_from_slice(buf);
            self.reader.consume(n);
            if into.len() - start > self.max {
                return Err(structure_error(
                    self.lines,
                    "more than the record size limit follows the array",
                ));
            }
        }
    }

    fn next_element(&mut self) -> io::Result<Option<Result<Record, Skipped>>> {
        if self.state == State::Start {
            if !self.open()? {
                self.state = State::Done;
                return Ok(None);
            }
            self.state = State::InArray;
        }
        if self.state == State::Done {
            return Ok(None);
        }
        let mut raw = std::mem::take(&mut self.prefix);
        self.skip_ws(&mut raw)?;
        if self.peek()? == Some(b']') {
            // An empty array (a trailing `]` after an element is handled below).
            self.state = State::Done;
            return Ok(None);
        }
        let line = self.lines + 1;
        let mut element = Vec::new();
        let fits = self.scan_value(&mut element, self.max)?;
        let mut post = Vec::new();
        self.skip_ws(&mut post)?;
        match self.peek()? {
            Some(b',') => self.bump(&mut post)?,
            Some(b']') => {
                self.bump(&mut post)?;
                self.rest(&mut post)?;
                self.state = State::Done;
            }
            _ => {
                return Err(structure_error(
                    self.lines + 1,
                    "expected ',' or ']' after an array element",
                ))
            }
        }
        let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
        if !fits {
            return Ok(Some(Err(Skipped::too_large(line, self.max))));
        }
        let element = match String::from_utf8(element) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Some(Err(skip(
                    SkipKind::InvalidUtf8,
                    format!(
                        "invalid UTF-8 at byte {} of the element; if the file is not UTF-8, \
                         pass --encoding",
                        e.utf8_error().valid_up_to() + 1
                    ),
                ))))
            }
        };
        let mut record = match super::json::parse_json_owned(element, "", line, &self.options) {
            Ok(r) => r,
            Err(s) => return Ok(Some(Err(s))),
        };
        let before = String::from_utf8(raw).unwrap_or_default();
        let after = String::from_utf8(post).unwrap_or_default();
        let shift = before.len();
        for f in &mut record.fields {
            f.raw_span = f.raw_span.map(|(s, e)| (s + shift, e + shift));
        }
        record.raw = format!("{before}{}{after}", record.raw);
        Ok(Some(Ok(record)))
    }
}

impl<R: BufRead + Send> RecordSource for JsonArray<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        match self.next_element() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(data: &str, fields: &[&str]) -> Vec<io::Result<Result<Record, Skipped>>> {
        let options = JsonOptions {
            fields: fields.iter().map(|s| s.to_string()).collect(),
            key: vec!["id".into()],
            ..Default::default()
        };
        let mut src = JsonArray::new(data.as_bytes(), 1 << 20, options);
        std::iter::from_fn(|| src.next_record()).collect()
    }

    #[test]
    fn elements_lines_and_exact_bytes() {
        let data =
            "[\n  {\"id\": 1, \"note\": \"a]b\\\"}\"},\n  {\"id\": \"x\",\n \"note\": \"c\"}\n]\n";
        let recs: Vec<Record> = read(data, &["note"])
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].line, recs[0].key.as_str()), (2, "1"));
        assert_eq!(recs[0].fields[0].text, "a]b\"}");
        assert_eq!((recs[1].line, recs[1].key.as_str()), (3, "x"));
        let all: String = recs.iter().map(|r| r.raw.as_str()).collect();
        assert_eq!(all, data);
        let (s, e) = recs[1].fields[0].raw_span.unwrap();
        assert_eq!(&recs[1].raw[s..e], "\"c\"");
    }

    #[test]
    fn wrapped_in_an_object() {
        let data =
            "{\"meta\": {\"n\": [1]}, \"records\": [{\"id\": 7, \"note\": \"n\"}], \"z\": 1}";
        let recs = read(data, &["note"]);
        assert_eq!(recs.len(), 1);
        let r = recs.into_iter().next().unwrap().unwrap().unwrap();
        assert_eq!(r.key, "7");
        assert_eq!(r.raw, data);
    }

    #[test]
    fn bad_elements_are_skipped_and_broken_files_fail() {
        let recs = read(
            "[{\"id\": 1, \"note\": 5}, 3, {\"id\": 2, \"note\": \"ok\"}]",
            &["note"],
        );
        let kinds: Vec<String> = recs
            .into_iter()
            .map(|r| match r.unwrap() {
                Ok(_) => "ok".into(),
                Err(s) => s.kind.as_str().to_string(),
            })
            .collect();
        assert_eq!(kinds, ["not_text", "invalid_json", "ok"]);
        let recs = read(
            "[{\"id\": 1, \"note\": \"x\"},\n{\"id\": 2, \"note\": \"unclosed",
            &["note"],
        );
        assert!(recs[0].as_ref().unwrap().is_ok());
        let e = recs[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("line 2") && !e.contains("unclosed"), "{e}");
        assert!(read("", &[]).is_empty());
        assert!(read(" [ ] ", &[]).is_empty());
        assert!(read("\"nope\"", &[])[0].is_err());
    }
}

//! Plain text, one record a line ([`TextLines`]), and reading a line under a size limit
//! ([`read_line_limited`], also used by the CSV reader).

use super::*;

/// Reads a line of at most `max` bytes (excluding the terminator). Returns the number of
/// bytes consumed (0 at EOF) and whether the line was over the limit (then `buf` holds only a
/// prefix and the rest of the line has been consumed and dropped).
pub(crate) fn read_line_limited<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(usize, bool)> {
    buf.clear();
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, too_long));
        }
        let (chunk, done) = match memchr_newline(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > max + 2 {
                too_long = true;
                let keep = (max + 2).saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..keep.min(n)]);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        consumed += n;
        r.consume(n);
        if done {
            return Ok((consumed, too_long));
        }
    }
}

pub(super) fn memchr_newline(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// Room for a typical note line, so that reading one rarely grows its buffer.
pub(super) const LINE_CAPACITY: usize = 512;

pub(super) fn split_terminator(buf: &[u8]) -> (&[u8], &'static str) {
    if let Some(b) = buf.strip_suffix(b"\r\n") {
        (b, "\r\n")
    } else if let Some(b) = buf.strip_suffix(b"\n") {
        (b, "\n")
    } else {
        (buf, "")
    }
}

/// Plain text: every line is one record with a single field `text`, keyed by line number.
pub struct TextLines<R> {
    pub(super) reader: R,
    pub(super) line: u64,
    pub(super) buf: Vec<u8>,
    pub(super) max: usize,
}

impl<R: BufRead + Send> TextLines<R> {
    /// Read lines from `reader`, skipping lines over `max` bytes.
    pub fn new(reader: R, max: usize) -> TextLines<R> {
        TextLines {
            reader,
            line: 0,
            buf: Vec::new(),
            max,
        }
    }
}

/// Check size, NUL and UTF-8 of a line; returns the text and terminator.
///
/// The line's bytes are moved out of `buf` (which is left with room for the next line), so
/// the text is not copied again.
pub(super) fn decode_line(
    buf: &mut Vec<u8>,
    too_long: bool,
    max: usize,
    line: u64,
) -> Result<(String, &'static str), Skipped> {
    let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
    if too_long {
        return Err(Skipped::too_large(line, max));
    }
    let (body, term) = split_terminator(buf);
    if let Some(i) = memchr::memchr(0, body) {
        return Err(nul_byte(line, i));
    }
    let body_len = body.len();
    let mut bytes = std::mem::replace(buf, Vec::with_capacity(LINE_CAPACITY));
    bytes.truncate(body_len);
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, term)),
        Err(e) => Err(skip(
            SkipKind::InvalidUtf8,
            format!(
                "invalid UTF-8 at column {}",
                e.utf8_error().valid_up_to() + 1
            ),
        )),
    }
}

impl<R: BufRead + Send> RecordSource for TextLines<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        let (n, too_long) = match read_line_limited(&mut self.reader, &mut self.buf, self.max) {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        if n == 0 {
            return None;
        }
        self.line += 1;
        let line = self.line;
        Some(Ok(decode_line(&mut self.buf, too_long, self.max, line)
            .map(|(text, terminator)| Record {
                line,
                key: line.to_string(),
                fields: vec![Field {
                    name: "text".into(),
                    text: text.clone(),
                    raw_span: Some((0, text.len())),
                }],
                raw: text,
                terminator,
                subject: None,
                context: Context::new(),
            })))
    }
}

//! JSON Lines: [`JsonLines`] reads blocks of whole lines and hands them on as runs
//! ([`JsonRun`]) or single lines ([`JsonLine`]) that the workers parse; the checks of one
//! line (blank, NUL byte, UTF-8).

use super::*;

/// One line of a [`JsonLines`] input, not parsed yet. Its bytes stay in the block they were
/// read in, shared with the other lines of that block: reading neither copies nor
/// allocates per line, and the worker that parses the line reads it where it is.
#[derive(Debug)]
pub struct JsonLine {
    pub(super) block: Arc<Block>,
    /// The line's bytes in `block`, terminator included.
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) line: u64,
    pub(super) keep_raw: bool,
}

/// Input bytes read in one go, with what the lines in them need for parsing (one shared
/// counter a line, not two).
#[derive(Default)]
pub(super) struct Block {
    pub(super) bytes: Vec<u8>,
    pub(super) options: Arc<super::json::Parse>,
}

impl std::fmt::Debug for Block {
    // Never the bytes: they hold note text (a `Pending` or `Run` may end up in a log).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl JsonLine {
    pub(super) fn resolve(self) -> Result<Record, Skipped> {
        let names = &self.block.options.names;
        resolve_line(
            &self.block,
            self.start,
            self.end,
            self.line,
            self.keep_raw,
            names,
        )
    }
}

/// Line `line`, bytes `start..end` (terminator included) of `block`, parsed.
pub(super) fn resolve_line(
    block: &Block,
    start: usize,
    end: usize,
    line: u64,
    keep_raw: bool,
    names: &ContextNames,
) -> Result<Record, Skipped> {
    let (body, terminator) = split_terminator(&block.bytes[start..end]);
    let text = check_line(body, line)?;
    let mut record = parse_json_fields(text, terminator, line, &block.options, names)?;
    if keep_raw {
        record.raw = text.to_string();
    }
    Ok(record)
}

/// Whole lines of a [`JsonLines`] block, handed on in one piece: reading only
/// finds the block's last line end and counts the lines (for their numbers); the worker that
/// parses them finds each line's end, and applies the checks the reader applies to a single
/// line (blank lines are not records; a line over the limit is skipped as too large).
#[derive(Debug)]
pub struct JsonRun {
    pub(super) block: Arc<Block>,
    /// The lines' bytes in `block`; `end` is just after a line end.
    pub(super) start: usize,
    pub(super) end: usize,
    /// The number of the first line, and how many lines there are.
    pub(super) first_line: u64,
    pub(super) lines: usize,
    pub(super) keep_raw: bool,
    /// The record limit (`--max-record-bytes`).
    pub(super) max: usize,
}

impl JsonRun {
    pub(super) fn resolve_each(self, mut each: impl FnMut(Result<Record, Skipped>)) {
        // A line is at most the limit plus a CRLF terminator (as in `next_pending`).
        let limit = self.max.saturating_add(2);
        let bytes = &self.block.bytes[self.start..self.end];
        // The records of this run (parsed on one worker) share a copy of the context names
        // of their own, not the source's (see `ContextNames::unshared`).
        let names = self.block.options.names.unshared();
        let mut from = 0;
        for (this, nl) in (self.first_line..).zip(memchr::memchr_iter(b'\n', bytes)) {
            let (start, end) = (from, nl + 1);
            from = end;
            if end - start > limit {
                each(Err(Skipped::too_large(this, self.max)));
            } else if !is_blank(&bytes[start..end]) {
                each(resolve_line(
                    &self.block,
                    self.start + start,
                    self.start + end,
                    this,
                    self.keep_raw,
                    &names,
                ));
            }
        }
    }
}

/// A line of nothing but ASCII whitespace (not a record).
pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// The number of line ends in `bytes` (`bytecount`: 32 bytes a step; a plain iterator
/// count compiled to 4 bytes a step and cost more than the per-line search it replaced).
pub(super) fn count_line_ends(bytes: &[u8]) -> usize {
    bytecount::count(bytes, b'\n')
}

/// NUL and UTF-8 checks of a line without its terminator.
pub(super) fn check_line(body: &[u8], line: u64) -> Result<&str, Skipped> {
    let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
    if let Some(i) = memchr::memchr(0, body) {
        return Err(nul_byte(line, i));
    }
    utf8(body).map_err(|e| {
        skip(
            SkipKind::InvalidUtf8,
            format!("invalid UTF-8 at column {}", e.valid_up_to() + 1),
        )
    })
}

/// `bytes` as text if they are UTF-8: `simdutf8`'s vectorised check (1.7× std's on the
/// benchmark's notes, where std's check was 3–4% of a scan), std's for the error position.
#[inline]
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

/// The skip for a NUL byte at byte `at` of a line.
pub(super) fn nul_byte(line: u64, at: usize) -> Skipped {
    Skipped::at_line(
        line,
        SkipKind::NulByte,
        format!("NUL byte at column {}", at + 1),
    )
}

/// Bytes read from the input in one go; the lines in a block share it ([`JsonLine`]).
pub const BLOCK_BYTES: usize = 256 * 1024;
/// Capacity for a `BufReader` under [`JsonLines`]: three quarters of a block. The reader
/// asks for the block less the partial line carried over, at least this much unless that
/// line is over a quarter block, and a `BufReader` passes reads at least its capacity
/// straight to the file (a shorter read is copied through its buffer).
pub const READ_BUFFER_BYTES: usize = BLOCK_BYTES / 4 * 3;
/// Blocks kept for reuse once the workers are done with them (so that reading does not keep
/// asking the allocator, and the kernel, for fresh memory).
pub(super) const SPARE_BLOCKS: usize = 32;

/// JSON Lines: one JSON object a line. Blank lines are ignored (not records).
///
/// The input is read in blocks of [`BLOCK_BYTES`] (more for a longer line); each line is
/// handed on as a range of its block ([`JsonLine`]), so reading only looks for
/// line ends. A line over the record limit is skipped while it is read, without being kept.
pub struct JsonLines<R> {
    pub(super) reader: R,
    pub(super) line: u64,
    pub(super) max: usize,
    pub(super) options: Arc<super::json::Parse>,
    pub(super) keep_raw: bool,
    /// The current block; its bytes `..filled` are input, `pos..filled` not handed on yet.
    pub(super) block: Arc<Block>,
    pub(super) pos: usize,
    pub(super) filled: usize,
    pub(super) eof: bool,
    /// Inside a line over the limit (already reported): drop bytes up to its end.
    pub(super) discarding: bool,
    /// Bytes to read at a time ([`BLOCK_BYTES`]; tests use small blocks).
    pub(super) block_bytes: usize,
    /// Earlier blocks, oldest first, to reuse when no line refers to them any more.
    pub(super) spare: std::collections::VecDeque<Arc<Block>>,
}

impl<R: BufRead + Send> JsonLines<R> {
    /// Read JSON objects from `reader`.
    pub fn new(reader: R, max: usize, options: JsonOptions) -> JsonLines<R> {
        JsonLines {
            reader,
            line: 0,
            max,
            options: Arc::new(super::json::Parse::new(options)),
            keep_raw: true,
            block: Arc::new(Block::default()),
            pos: 0,
            filled: 0,
            eof: false,
            discarding: false,
            block_bytes: BLOCK_BYTES,
            spare: std::collections::VecDeque::new(),
        }
    }

    /// Records keep no copy of their line ([`Record::raw`] is empty): for scans that only
    /// need the fields (not for masked copies, which rewrite the line).
    pub fn without_raw(mut self) -> JsonLines<R> {
        self.keep_raw = false;
        self
    }

    /// Read `bytes` at a time instead of [`BLOCK_BYTES`] (for tests of lines that cross
    /// blocks).
    #[doc(hidden)]
    pub fn block_bytes(mut self, bytes: usize) -> JsonLines<R> {
        self.block_bytes = bytes.max(1);
        self
    }

    /// A block of at least `len` initialised bytes: a spare one no line refers to any
    /// more, else a new one.
    pub(super) fn take_block(&mut self, len: usize) -> Vec<u8> {
        if let Some(old) = self.spare.pop_front() {
            match Arc::try_unwrap(old) {
                Ok(Block { bytes: mut b, .. }) => {
                    if b.len() < len {
                        b.resize(len, 0);
                    }
                    return b;
                }
                Err(old) => self.spare.push_front(old),
            }
        }
        vec![0; len.max(self.block_bytes)]
    }

    /// Move the unread rest of the block to the start of a new block and read more input
    /// after it, until the new bytes hold a line end, the input ends, or the line is over
    /// the limit. Returns `false` at the end of the input with nothing left to hand on.
    pub(super) fn refill(&mut self) -> io::Result<bool> {
        let rest = self.filled - self.pos;
        if self.eof {
            return Ok(rest > 0);
        }
        // The rest moves to the start of a block; a block of fresh input follows unless the
        // rest is over a quarter block, so reads ask for at least `READ_BUFFER_BYTES` and a
        // `BufReader` of that capacity hands them to the file instead of copying them
        // through its own buffer (that copy was a quarter of the reading time).
        let mut next = self.take_block(rest.saturating_mul(2).max(self.block_bytes));
        next[..rest].copy_from_slice(&self.block.bytes[self.pos..self.filled]);
        let mut filled = rest;
        loop {
            if filled == next.len() {
                let grown = next.len().saturating_mul(2);
                next.resize(grown, 0);
            }
            let n = match self.reader.read(&mut next[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            let new = filled..filled + n;
            filled += n;
            if memchr::memchr(b'\n', &next[new]).is_some() || filled > self.max.saturating_add(2) {
                break;
            }
        }
        let block = Block {
            bytes: next,
            options: Arc::clone(&self.options),
        };
        let old = std::mem::replace(&mut self.block, Arc::new(block));
        if !old.bytes.is_empty() {
            if self.spare.len() == SPARE_BLOCKS {
                self.spare.pop_front();
            }
            self.spare.push_back(old);
        }
        self.pos = 0;
        self.filled = filled;
        Ok(filled > 0)
    }

    pub(super) fn too_large(&self, line: u64) -> Pending {
        Pending::Ready(Err(Skipped::too_large(line, self.max)))
    }
}

impl<R: BufRead + Send> RecordSource for JsonLines<R> {
    fn next_record(&mut self) -> Option<io::Result<Result<Record, Skipped>>> {
        self.next_pending().map(|p| p.map(Pending::resolve))
    }

    /// The whole lines left in the current block, at most `max_lines` of them: the reader
    /// thread looks for the last line end only (and counts the lines), and a worker splits
    /// them ([`JsonRun`]). A line that continues into the next block, or one over the limit
    /// being skipped, goes through [`JsonLines::next_pending`]. Finding every line end while
    /// reading was most of the reading work, which shares the cores with the scanning
    /// (issue 7).
    fn next_run(&mut self, max_lines: usize) -> Option<io::Result<Run>> {
        if !self.discarding && self.pos == self.filled && !self.eof {
            // Nothing left in the block (at the start): read the next one first.
            match self.refill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        if !self.discarding {
            let unread = &self.block.bytes[self.pos..self.filled];
            if let Some(last) = memchr::memrchr(b'\n', unread) {
                let mut run = &unread[..=last];
                let mut lines = count_line_ends(run);
                let max_lines = max_lines.max(1);
                if lines > max_lines {
                    // Rare (a block of many short lines): cut after the last line allowed.
                    if let Some(cut) = memchr::memchr_iter(b'\n', run).nth(max_lines - 1) {
                        run = &run[..=cut];
                        lines = max_lines;
                    }
                }
                let start = self.pos;
                self.pos += run.len();
                let first_line = self.line + 1;
                self.line += lines as u64;
                return Some(Ok(Run::JsonLines(JsonRun {
                    block: Arc::clone(&self.block),
                    start,
                    end: self.pos,
                    first_line,
                    lines,
                    keep_raw: self.keep_raw,
                    max: self.max,
                })));
            }
        }
        self.next_pending().map(|p| p.map(Run::One))
    }

    /// Finds the next line; checking and parsing it is left to [`Pending::resolve`].
    fn next_pending(&mut self) -> Option<io::Result<Pending>> {
        // A line is at most the limit plus a CRLF terminator.
        let limit = self.max.saturating_add(2);
        loop {
            let unread = &self.block.bytes[self.pos..self.filled];
            let end = match memchr::memchr(b'\n', unread) {
                Some(i) => self.pos + i + 1,
                None if self.eof => self.filled,
                None if self.discarding => {
                    // Still inside the long line: drop what was read of it.
                    self.pos = self.filled;
                    match self.refill() {
                        Ok(true) => continue,
                        Ok(false) => return None,
                        Err(e) => return Some(Err(e)),
                    }
                }
                None if unread.len() > limit => {
                    // A line over the limit: report it now, drop it while reading on.
                    self.line += 1;
                    self.discarding = true;
                    self.pos = self.filled;
                    return Some(Ok(self.too_large(self.line)));
                }
                None => match self.refill() {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => return Some(Err(e)),
                },
            };
            if end == self.pos {
                return None; // the end of the input
            }
            let start = std::mem::replace(&mut self.pos, end);
            if self.discarding {
                self.discarding = false;
                continue;
            }
            self.line += 1;
            let bytes = &self.block.bytes[start..end];
            if bytes.len() > limit {
                return Some(Ok(self.too_large(self.line)));
            }
            if is_blank(bytes) {
                continue;
            }
            return Some(Ok(Pending::Json(JsonLine {
                block: Arc::clone(&self.block),
                start,
                end,
                line: self.line,
                keep_raw: self.keep_raw,
            })));
        }
    }
}

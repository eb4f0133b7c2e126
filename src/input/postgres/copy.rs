//! The binary `COPY ... TO STDOUT` stream: [`CopyTuples`] finds where each tuple ends in the
//! chunks the server sends, checking every length; [`slots`] splits a tuple the reader
//! accepted into its columns on a worker thread.

use bytes::Bytes;

use super::ReadError;

/// What the reader checks in each column of a row (from [`Layout`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Shape {
    /// Per column: the size limit when the column is read only as a field, so that an
    /// oversized value is skipped (and, when it spans COPY messages, not held in memory).
    pub(super) limits: Vec<Option<usize>>,
    /// Per column: the binary size of an integer key or subject column, checked on the reader
    /// thread so that the workers' key decoding cannot fail.
    pub(super) sizes: Vec<Option<usize>>,
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
pub(super) const OVERSIZE: i32 = -2;

impl Shape {
    pub(super) fn columns(&self) -> usize {
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
    pub(super) fn encode(
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
pub(super) enum Slot {
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
pub(super) fn slots(tuple: &[u8], limits: &[Option<usize>], out: &mut Vec<Slot>) -> Option<()> {
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
pub(super) struct CopyTuples {
    shape: Shape,
    at: At,
    /// A fixed-size item (header, count, length) split across chunks: its bytes so far.
    scratch: Vec<u8>,
    /// A tuple split across chunks, as far as it has come.
    tuple: Vec<u8>,
}

impl CopyTuples {
    pub(super) fn new(shape: Shape) -> CopyTuples {
        CopyTuples {
            shape,
            at: At::Header,
            scratch: Vec::new(),
            tuple: Vec::new(),
        }
    }

    /// Hand every tuple completed by `chunk` to `emit`; `false` when `emit` says to stop.
    pub(super) fn feed(
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
    pub(super) fn finish(&self) -> Result<(), ReadError> {
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

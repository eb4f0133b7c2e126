//! A CSV row as read ([`CsvRow`]: its bytes), turned into a record on a worker thread.

use super::*;

/// The columns of a CSV file and what to take from them, shared by every [`CsvRow`].
#[derive(Debug)]
pub(super) struct CsvLayout {
    pub(super) delimiter: u8,
    pub(super) header: Vec<String>,
    pub(super) field_cols: Vec<usize>,
    pub(super) key_cols: Vec<usize>,
    pub(super) subject_col: Option<usize>,
    /// `--context` names (as the user wrote them) and their columns.
    pub(super) context_cols: Vec<(String, usize)>,
    /// The same names, shared by every record's context.
    pub(super) context_names: ContextNames,
    pub(super) max_record_bytes: usize,
    pub(super) spans: bool,
}

thread_local! {
    /// Field ranges of the record being resolved (reused, one per worker thread).
    pub(super) static SPANS: Cell<Vec<(usize, usize)>> = const { Cell::new(Vec::new()) };
}

/// One CSV record as read: its exact bytes and where it starts, not yet split into fields
/// (see [`CsvRow::resolve`]). Its `Debug` output shows no record text.
pub struct CsvRow {
    /// The record's bytes (empty when too long).
    pub(super) raw: Vec<u8>,
    /// Where the record proper starts in `raw` (after blank lines at the start of a file).
    pub(super) body_start: usize,
    /// Where its terminator starts in `raw`.
    pub(super) body_end: usize,
    /// Line where the record proper starts.
    pub(super) line: u64,
    pub(super) too_long: bool,
    pub(super) layout: Arc<CsvLayout>,
}

impl fmt::Debug for CsvRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvRow")
            .field("line", &self.line)
            .field("bytes", &self.raw.len())
            .field("too_long", &self.too_long)
            .finish()
    }
}

impl CsvRow {
    /// Bytes of the record as read.
    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// Check the record (size, UTF-8, NUL bytes, number of fields) and build it: key,
    /// subject and the fields to scan, unquoted, with their spans in [`Record::raw`] when
    /// [`CsvOptions::spans`] is set.
    ///
    /// # Errors
    /// Why the record was skipped; the reason never contains record text.
    pub fn resolve(self) -> Result<Record, Skipped> {
        let CsvRow {
            raw,
            body_start,
            body_end,
            line,
            too_long,
            layout,
        } = self;
        let skip = |kind, reason: String| Skipped::at_line(line, kind, reason);
        // The line of byte `at`, which lies in the record proper.
        let line_of = |bytes: &[u8], at: usize| {
            line + count_lines(bytes.get(body_start..at).unwrap_or_default())
        };
        if too_long {
            return Err(Skipped::too_large(line, layout.max_record_bytes));
        }
        let raw = match String::from_utf8(raw) {
            Ok(s) => s,
            Err(e) => {
                let bad_line = line_of(e.as_bytes(), e.utf8_error().valid_up_to());
                return Err(skip(
                    SkipKind::InvalidUtf8,
                    format!(
                        "invalid UTF-8 on line {bad_line}; if the file is not UTF-8, pass \
                         --encoding (e.g. --encoding windows-1252 or latin1)"
                    ),
                ));
            }
        };
        if let Some(i) = memchr::memchr(0, raw.as_bytes()) {
            let bad_line = line_of(raw.as_bytes(), i);
            return Err(skip(
                SkipKind::NulByte,
                format!("NUL byte on line {bad_line}"),
            ));
        }
        let mut spans = SPANS.take();
        let record = build_record(raw, (body_start, body_end), line, &layout, &mut spans);
        SPANS.set(spans);
        record.map_err(|(kind, reason)| skip(kind, reason))
    }
}

/// Split a checked record and take what `layout` asks for.
pub(super) fn build_record(
    raw: String,
    (body_start, body_end): (usize, usize),
    line: u64,
    layout: &CsvLayout,
    spans: &mut Vec<(usize, usize)>,
) -> Result<Record, (SkipKind, String)> {
    let body = raw.get(body_start..body_end).unwrap_or_default();
    split_fields(body.as_bytes(), layout.delimiter, false, spans);
    if spans.len() != layout.header.len() {
        return Err((
            SkipKind::RaggedRow,
            format!(
                "row has {} fields, the header has {}",
                spans.len(),
                layout.header.len()
            ),
        ));
    }
    // Field ranges start and end at ASCII delimiters and line ends, so on char boundaries.
    let text = |c: usize| {
        let (s, e) = spans[c];
        unquote(body.get(s..e).unwrap_or_default())
    };
    let key = match layout.key_cols.as_slice() {
        [] => line.to_string(),
        [c] => text(*c),
        cols => cols.iter().map(|&c| text(c)).collect::<Vec<_>>().join(":"),
    };
    let subject = layout.subject_col.map(text).filter(|s| !s.is_empty());
    // An unquoted cell is its own text: borrowed, not copied (a date, a flag).
    let mut context = Context::with_names(&layout.context_names);
    for (i, (_, c)) in layout.context_cols.iter().enumerate() {
        let (s, e) = spans[*c];
        let cell = body.get(s..e).unwrap_or_default();
        if cell.starts_with('"') {
            context.set_owned_at(i, Some(unquote(cell)).filter(|t| !t.is_empty()));
        } else if !cell.is_empty() {
            context.set_at(i, Some(cell));
        }
    }
    let fields = layout
        .field_cols
        .iter()
        .map(|&c| Field {
            name: layout.header[c].clone(),
            text: text(c),
            raw_span: layout
                .spans
                .then(|| (body_start + spans[c].0, body_start + spans[c].1)),
        })
        .collect();
    Ok(Record {
        line,
        key,
        fields,
        raw,
        terminator: "",
        subject,
        context,
    })
}

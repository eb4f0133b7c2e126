//! Masked copies of files: a masked value encoded as the input format writes it
//! ([`encode_value`]) and spliced into the record's raw bytes ([`masked_record`]), so that
//! everything outside the masked fields stays byte for byte as it was; [`MaskedCopy`] writes a
//! whole copy (encoding, compression, CSV header).

use std::io::{self, Write};

use crate::encoding::{EncodeWriter, Sniffed};
use crate::input::Compression;
use crate::output::compress::CompressWriter;
use crate::pipeline::FieldResult;
use crate::record::Record;

/// The shape of the input, as the masked copy needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawFormat {
    /// JSON Lines: a value is a JSON string.
    Jsonl,
    /// One JSON array: a value is a JSON string.
    JsonArray,
    /// Plain text: the line is the value.
    Text,
    /// CSV/TSV with this delimiter: a value is quoted when it was or must be.
    Csv {
        /// The field delimiter.
        delimiter: u8,
    },
}

/// A masked value as it goes back into the raw record.
///
/// # Errors
/// Only if the value cannot be encoded as JSON (not for a `&str`).
pub fn encode_value(kind: RawFormat, original_raw: &str, masked: &str) -> io::Result<String> {
    Ok(match kind {
        RawFormat::Jsonl | RawFormat::JsonArray => {
            serde_json::to_string(masked).map_err(io::Error::other)?
        }
        RawFormat::Text => masked.to_string(),
        RawFormat::Csv { delimiter } => {
            crate::input::csv::encode_field(delimiter, original_raw, masked)
        }
    })
}

/// Splice masked field values into the raw record: `replacements` are (start, end, text)
/// byte ranges of `item_raw`, sorted here; one that overlaps an earlier one is left out.
pub fn masked_record(item_raw: &str, replacements: &mut [(usize, usize, String)]) -> String {
    replacements.sort_by_key(|r| r.0);
    let mut out = String::with_capacity(item_raw.len() + 32);
    let mut pos = 0;
    for (s, e, text) in replacements.iter() {
        if *s < pos {
            continue;
        }
        out.push_str(&item_raw[pos..*s]);
        out.push_str(text);
        pos = *e;
    }
    out.push_str(&item_raw[pos..]);
    out
}

/// A masked copy of a file being written: the records in input order, each with its masked
/// field values spliced into its bytes as read, in the input's format, text encoding (and
/// byte-order mark) and compression, the CSV header first. Bytes outside masked fields are
/// copied exactly.
pub struct MaskedCopy<W: Write> {
    out: EncodeWriter<CompressWriter<W>>,
    format: RawFormat,
    /// Reused per record.
    replacements: Vec<(usize, usize, String)>,
}

impl<W: Write> MaskedCopy<W> {
    /// Start the copy: the header bytes (a CSV header; empty otherwise) are written first,
    /// after the byte-order mark when `sniffed` says the input had one.
    ///
    /// # Errors
    /// Writing fails, or the compressor cannot be set up.
    pub fn new(
        out: W,
        format: RawFormat,
        sniffed: Sniffed,
        compression: Compression,
        header_raw: &[u8],
    ) -> io::Result<MaskedCopy<W>> {
        let out = CompressWriter::new(out, compression)?;
        let mut out = EncodeWriter::new(out, sniffed.encoding, sniffed.bom)?;
        out.write_all(header_raw)?;
        Ok(MaskedCopy {
            out,
            format,
            replacements: Vec::new(),
        })
    }

    /// Write one record: its bytes as read with each field that has a masked value
    /// ([`FieldResult::masked`]) replaced, then its line terminator. A record of another
    /// subject (no field results) is copied unchanged.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write(&mut self, record: &Record, fields: &[FieldResult]) -> io::Result<()> {
        self.replacements.clear();
        for (fr, field) in fields.iter().zip(&record.fields) {
            if let (Some(masked), Some((s, e))) = (&fr.masked, field.raw_span) {
                let original = record.raw.get(s..e).unwrap_or("");
                self.replacements
                    .push((s, e, encode_value(self.format, original, masked)?));
            }
        }
        if self.replacements.is_empty() {
            self.out.write_all(record.raw.as_bytes())?;
        } else {
            let masked = masked_record(&record.raw, &mut self.replacements);
            self.out.write_all(masked.as_bytes())?;
        }
        self.out.write_all(record.terminator.as_bytes())
    }

    /// Write one record with its own replacements: (start, end, bytes) ranges of
    /// `record.raw`, the bytes already in the format's encoding (`art9 erase`: a masked value
    /// from [`encode_value`], or JSON `null`). Then its line terminator.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write_replaced(
        &mut self,
        record: &Record,
        replacements: &mut [(usize, usize, String)],
    ) -> io::Result<()> {
        let out = masked_record(&record.raw, replacements);
        self.out.write_all(out.as_bytes())?;
        self.out.write_all(record.terminator.as_bytes())
    }

    /// Finish the encoder and the compressor and flush: the writer back.
    ///
    /// # Errors
    /// Writing fails.
    pub fn finish(self) -> io::Result<W> {
        let mut w = self.out.finish()?.finish()?;
        w.flush()?;
        Ok(w)
    }
}

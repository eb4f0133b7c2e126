//! Masked copies of files: a masked value encoded as the input format writes it
//! ([`encode_value`]) and spliced into the record's raw bytes ([`masked_record`]), so that
//! everything outside the masked fields stays byte for byte as it was.

use std::io;

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

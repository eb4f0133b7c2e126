//! What a file is, from its first bytes: text (the readers' business), a compressed stream
//! art9 decompresses itself (gzip, zstd), or a binary format it cannot read (a spreadsheet,
//! an archive, a program, a picture, ...), which is one clear error instead of a skipped
//! "record" for every line.
//!
//! [`detect`] looks only at the bytes a reader already holds (the first read of a file is up
//! to 256 KiB; the magic numbers sit in its first 512 bytes), so plain text costs a few
//! comparisons and no extra read. Known magic numbers come first; only then is a start with
//! many NUL bytes taken for binary, unless the text is UTF-16 (a byte-order mark wins before
//! [`detect`] is asked, and `--encoding utf-16le|be` turns the NUL check off).

use std::fmt;

/// How a stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (RFC 1952), possibly several members one after the other.
    Gzip,
    /// Zstandard, possibly several frames.
    Zstd,
}

impl Compression {
    /// The name used in messages (`gzip`, `zstd`; empty for [`Compression::None`]).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression a file name's last extension names (`.gz`, `.gzip`, `.zst`,
    /// `.zstd`, any case), else [`Compression::None`].
    pub fn from_name(name: &str) -> Compression {
        let ext = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.contains(['/', '\\']) => ext,
            _ => return Compression::None,
        };
        match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Compression::Gzip,
            "zst" | "zstd" => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A binary format art9 does not read, as far as its first bytes tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryKind {
    /// Office Open XML spreadsheet (`.xlsx`).
    Xlsx,
    /// Office Open XML document (`.docx`).
    Docx,
    /// Office Open XML presentation (`.pptx`).
    Pptx,
    /// OpenDocument spreadsheet (`.ods`).
    Ods,
    /// OpenDocument text (`.odt`).
    Odt,
    /// Any other ZIP archive.
    Zip,
    /// A legacy Office file (OLE compound document: `.xls`, `.doc`, `.msg`).
    LegacyOffice,
    /// PDF.
    Pdf,
    /// ELF executable or library (Linux).
    Elf,
    /// PE executable (Windows `.exe`, `.dll`).
    Pe,
    /// Mach-O executable (macOS) or Java class file (both start with `CAFEBABE`).
    MachO,
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// GIF image.
    Gif,
    /// SQLite database file.
    Sqlite,
    /// bzip2-compressed data.
    Bzip2,
    /// xz-compressed data.
    Xz,
    /// 7-Zip archive.
    SevenZip,
    /// RAR archive.
    Rar,
    /// tar archive.
    Tar,
    /// Apache Parquet file.
    Parquet,
    /// UTF-16 text (little endian) without a byte-order mark.
    Utf16LeNoBom,
    /// UTF-16 text (big endian) without a byte-order mark.
    Utf16BeNoBom,
    /// Something else with many NUL bytes.
    Unknown,
}

impl BinaryKind {
    /// What the file looks like: `an Excel workbook (XLSX)`.
    pub fn looks_like(self) -> &'static str {
        match self {
            BinaryKind::Xlsx => "an Excel workbook (XLSX)",
            BinaryKind::Docx => "a Word document (DOCX)",
            BinaryKind::Pptx => "a PowerPoint presentation (PPTX)",
            BinaryKind::Ods => "an OpenDocument spreadsheet (ODS)",
            BinaryKind::Odt => "an OpenDocument text document (ODT)",
            BinaryKind::Zip => "a ZIP archive",
            BinaryKind::LegacyOffice => "a legacy Office file (XLS, DOC or MSG)",
            BinaryKind::Pdf => "a PDF document",
            BinaryKind::Elf => "an executable or library (ELF)",
            BinaryKind::Pe => "a Windows executable or DLL (PE)",
            BinaryKind::MachO => "a macOS executable (Mach-O) or Java class file",
            BinaryKind::Png => "a PNG image",
            BinaryKind::Jpeg => "a JPEG image",
            BinaryKind::Gif => "a GIF image",
            BinaryKind::Sqlite => "an SQLite database",
            BinaryKind::Bzip2 => "bzip2-compressed data",
            BinaryKind::Xz => "xz-compressed data",
            BinaryKind::SevenZip => "a 7-Zip archive",
            BinaryKind::Rar => "a RAR archive",
            BinaryKind::Tar => "a tar archive",
            BinaryKind::Parquet => "a Parquet file",
            BinaryKind::Utf16LeNoBom => "UTF-16LE text without a byte-order mark",
            BinaryKind::Utf16BeNoBom => "UTF-16BE text without a byte-order mark",
            BinaryKind::Unknown => "a binary file (it has many NUL bytes)",
        }
    }

    /// What to do instead: `export it as CSV`.
    pub fn advice(self) -> &'static str {
        match self {
            BinaryKind::Xlsx | BinaryKind::Ods | BinaryKind::LegacyOffice => {
                "export the sheet as CSV (or save the notes as JSON Lines) and scan that"
            }
            BinaryKind::Docx | BinaryKind::Odt | BinaryKind::Pdf => {
                "save it as plain text and scan that with --text"
            }
            BinaryKind::Pptx => "export its text as plain text and scan that with --text",
            BinaryKind::Zip | BinaryKind::SevenZip | BinaryKind::Rar | BinaryKind::Tar => {
                "unpack it first and scan the files in it"
            }
            BinaryKind::Elf
            | BinaryKind::Pe
            | BinaryKind::MachO
            | BinaryKind::Png
            | BinaryKind::Jpeg
            | BinaryKind::Gif => "art9 reads notes as CSV, TSV, JSON, JSON Lines or plain text",
            BinaryKind::Sqlite => "scan the table with sqlite:FILE --table TABLE --field COLUMN",
            BinaryKind::Bzip2 | BinaryKind::Xz => {
                "art9 decompresses gzip and zstd only: decompress it first"
            }
            // With the feature, a Parquet file is read; this is standard input or a
            // compressed file.
            #[cfg(feature = "parquet")]
            BinaryKind::Parquet => {
                "art9 reads Parquet from an uncompressed file, not from standard input or \
                 inside gzip/zstd: save it as a .parquet file and scan that"
            }
            #[cfg(not(feature = "parquet"))]
            BinaryKind::Parquet => {
                "this build reads no Parquet (build art9 with --features parquet), or export \
                 it as CSV or JSON Lines and scan that"
            }
            BinaryKind::Utf16LeNoBom => "add --encoding utf-16le",
            BinaryKind::Utf16BeNoBom => "add --encoding utf-16be",
            BinaryKind::Unknown => {
                "art9 reads notes as CSV, TSV, JSON, JSON Lines or plain text \
                 (UTF-16 without a byte-order mark needs --encoding utf-16le or utf-16be)"
            }
        }
    }
}

/// What the first bytes of a stream say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// Text (or too little to tell): for the record readers.
    Text,
    /// A compressed stream art9 decompresses itself.
    Compressed(Compression),
    /// A binary format art9 does not read.
    Binary(BinaryKind),
}

/// How many bytes of the head the NUL check looks at.
const NUL_WINDOW: usize = 4096;

/// What `head`, the first bytes of a stream, say it is. `utf16`: the text was declared
/// UTF-16 (`--encoding`), so NUL bytes are expected. A stream that starts with a
/// byte-order mark is text, whatever follows.
pub(crate) fn detect(head: &[u8], utf16: bool) -> Detected {
    use BinaryKind as B;
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"\xEF\xBB\xBF") || starts(b"\xFF\xFE") || starts(b"\xFE\xFF") {
        return Detected::Text;
    }
    if starts(b"\x1F\x8B") {
        return Detected::Compressed(Compression::Gzip);
    }
    if starts(b"\x28\xB5\x2F\xFD") {
        return Detected::Compressed(Compression::Zstd);
    }
    let kind = if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Some(zip_kind(head))
    } else if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        Some(B::LegacyOffice)
    } else if starts(b"%PDF-") {
        Some(B::Pdf)
    } else if starts(b"\x7FELF") {
        Some(B::Elf)
    } else if starts(b"MZ") && is_pe(head) {
        Some(B::Pe)
    } else if starts(b"\xFE\xED\xFA\xCE")
        || starts(b"\xFE\xED\xFA\xCF")
        || starts(b"\xCE\xFA\xED\xFE")
        || starts(b"\xCF\xFA\xED\xFE")
        || starts(b"\xCA\xFE\xBA\xBE")
    {
        Some(B::MachO)
    } else if starts(b"\x89PNG\r\n\x1A\n") {
        Some(B::Png)
    } else if starts(b"\xFF\xD8\xFF") {
        Some(B::Jpeg)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(B::Gif)
    } else if starts(b"SQLite format 3\0") {
        Some(B::Sqlite)
    } else if is_bzip2(head) {
        Some(B::Bzip2)
    } else if starts(b"\xFD7zXZ\0") {
        Some(B::Xz)
    } else if starts(b"7z\xBC\xAF\x27\x1C") {
        Some(B::SevenZip)
    } else if starts(b"Rar!\x1A\x07") {
        Some(B::Rar)
    } else if head.get(257..262) == Some(b"ustar") {
        Some(B::Tar)
    } else if starts(b"PAR1") && has_control_bytes(&head[4..head.len().min(64)]) {
        Some(B::Parquet)
    } else if !utf16 {
        many_nuls(&head[..head.len().min(NUL_WINDOW)])
    } else {
        None
    };
    kind.map_or(Detected::Text, Detected::Binary)
}

/// Which kind of ZIP file: Office and OpenDocument files name their parts in the first
/// local file headers (file names are stored uncompressed).
fn zip_kind(head: &[u8]) -> BinaryKind {
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if has(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet") {
        BinaryKind::Ods
    } else if has(b"mimetypeapplication/vnd.oasis.opendocument.text") {
        BinaryKind::Odt
    } else if has(b"xl/") {
        BinaryKind::Xlsx
    } else if has(b"word/") {
        BinaryKind::Docx
    } else if has(b"ppt/") {
        BinaryKind::Pptx
    } else {
        BinaryKind::Zip
    }
}

/// A DOS header whose `e_lfanew` points at a `PE\0\0` signature within `head`, or (when the
/// head is too short to tell) control bytes right after `MZ`: text may start with "MZ".
fn is_pe(head: &[u8]) -> bool {
    let Some(&[a, b, c, d]) = head.get(0x3C..0x40) else {
        return has_control_bytes(&head[2..]);
    };
    let at = u32::from_le_bytes([a, b, c, d]) as usize;
    match head.get(at..at.saturating_add(4)) {
        Some(sig) => sig == b"PE\0\0",
        None => has_control_bytes(&head[2..head.len().min(64)]),
    }
}

/// bzip2: `BZh`, a block size digit, then the magic of a block or of the end of stream.
fn is_bzip2(head: &[u8]) -> bool {
    head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..].starts_with(b"1AY&SY") || head[4..].starts_with(b"\x17rE8P\x90"))
}

/// Control bytes no text file holds (NUL and the C0 controls other than tab, line ends,
/// form feed and escape).
fn has_control_bytes(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F))
}

/// More than one byte in 16 NUL (and at least 4): binary, or UTF-16 without a byte-order
/// mark when the NULs are (nearly) all on one side of each pair. A stray NUL in a text file
/// is left to the readers, which skip that one record.
fn many_nuls(window: &[u8]) -> Option<BinaryKind> {
    let nuls = bytecount::count(window, 0);
    if nuls < 4 || nuls * 16 <= window.len() {
        return None;
    }
    let odd = window
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    let even = nuls - odd;
    let pairs = window.len() / 2;
    Some(if odd * 4 >= pairs * 3 && even * 16 <= pairs {
        BinaryKind::Utf16LeNoBom
    } else if even * 4 >= pairs * 3 && odd * 16 <= pairs {
        BinaryKind::Utf16BeNoBom
    } else {
        BinaryKind::Unknown
    })
}

/// The input is not text art9 can read: `looks like an Excel workbook (XLSX), not text:
/// export the sheet as CSV ...`. Never holds the file's bytes.
#[derive(Debug, thiserror::Error)]
pub enum NotReadable {
    /// A binary format, possibly inside a compressed stream.
    #[error("looks like {}{}, not text: {}", kind.looks_like(), inside(*within), kind.advice())]
    Binary {
        /// What it looks like.
        kind: BinaryKind,
        /// The compression it was found in, or [`Compression::None`].
        within: Compression,
    },
    /// A compressed stream inside a compressed stream.
    #[error("looks like {inner} data inside {outer} compression: decompress it first")]
    Nested {
        /// The outer compression.
        outer: Compression,
        /// The inner one.
        inner: Compression,
    },
    /// gzip or zstd, in a build without the `compress` feature.
    #[error(
        "looks like {0}-compressed data, and this art9 was built without the `compress` \
         feature: decompress it first"
    )]
    NoSupport(Compression),
}

fn inside(within: Compression) -> String {
    match within {
        Compression::None => String::new(),
        c => format!(" inside {c} compression"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(head: &[u8]) -> Detected {
        detect(head, false)
    }

    #[test]
    fn text_stays_text() {
        for text in [
            &b"{\"id\": 1, \"note\": \"Klant heeft diabetes\"}\n"[..],
            b"id,note\n1,MZ Ziekenhuis\n",
            b"MZ is a town",
            b"PAR1 of the plan: call back",
            b"BZh9 is not bzip2 without its block magic",
            b"%PD",
            b"",
            b"\xEF\xBB\xBFid;note\n",
            // UTF-16 with a BOM has NUL bytes by nature.
            b"\xFF\xFEi\0d\0,\0n\0o\0t\0e\0\n\0",
            b"\xFE\xFF\0i\0d\0,\0n\0o\0t\0e\0\n",
            // One stray NUL in a record: that record is skipped by the reader.
            b"{\"id\": 6, \"note\": \"a\x00b\"}\n{\"id\": 7, \"note\": \"ok\"}\n",
        ] {
            assert_eq!(
                kind(text),
                Detected::Text,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        // Declared UTF-16 without a BOM: NULs are expected.
        assert_eq!(detect(b"i\0d\0,\0n\0o\0t\0e\0\n\0", true), Detected::Text);
    }

    #[test]
    fn compressed_and_binary_formats() {
        use BinaryKind as B;
        let zip = |names: &[u8]| [&b"PK\x03\x04\x14\0\x06\0\x08\0"[..], names].concat();
        let mut pe = b"MZ\x90\0\x03\0\0\0".to_vec();
        pe.resize(0x3C, 0);
        pe.extend_from_slice(&0x80u32.to_le_bytes());
        pe.resize(0x80, 0);
        pe.extend_from_slice(b"PE\0\0");
        let mut tar = b"notes.jsonl".to_vec();
        tar.resize(257, 0);
        tar.extend_from_slice(b"ustar\x0000");
        let cases: Vec<(Vec<u8>, Detected)> = vec![
            (
                b"\x1F\x8B\x08\0".to_vec(),
                Detected::Compressed(Compression::Gzip),
            ),
            (
                b"\x28\xB5\x2F\xFD\x24".to_vec(),
                Detected::Compressed(Compression::Zstd),
            ),
            (
                zip(b"[Content_Types].xml....xl/workbook.xml"),
                Detected::Binary(B::Xlsx),
            ),
            (
                zip(b"[Content_Types].xml....word/document.xml"),
                Detected::Binary(B::Docx),
            ),
            (
                zip(b"[Content_Types].xml....ppt/slides"),
                Detected::Binary(B::Pptx),
            ),
            (
                zip(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"),
                Detected::Binary(B::Ods),
            ),
            (
                zip(b"mimetypeapplication/vnd.oasis.opendocument.text"),
                Detected::Binary(B::Odt),
            ),
            (zip(b"notes.csv"), Detected::Binary(B::Zip)),
            (
                b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0".to_vec(),
                Detected::Binary(B::LegacyOffice),
            ),
            (
                b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(),
                Detected::Binary(B::Pdf),
            ),
            (b"\x7FELF\x02\x01\x01\0".to_vec(), Detected::Binary(B::Elf)),
            (pe, Detected::Binary(B::Pe)),
            (
                b"\xCF\xFA\xED\xFE\x07\0\0\x01".to_vec(),
                Detected::Binary(B::MachO),
            ),
            (
                b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR".to_vec(),
                Detected::Binary(B::Png),
            ),
            (
                b"\xFF\xD8\xFF\xE0\0\x10JFIF".to_vec(),
                Detected::Binary(B::Jpeg),
            ),
            (b"GIF89a\x01\0\x01\0".to_vec(), Detected::Binary(B::Gif)),
            (
                b"SQLite format 3\0\x10\0".to_vec(),
                Detected::Binary(B::Sqlite),
            ),
            (b"BZh91AY&SY\x12\x34".to_vec(), Detected::Binary(B::Bzip2)),
            (b"\xFD7zXZ\0\0\x04".to_vec(), Detected::Binary(B::Xz)),
            (
                b"7z\xBC\xAF\x27\x1C\0\x04".to_vec(),
                Detected::Binary(B::SevenZip),
            ),
            (b"Rar!\x1A\x07\x01\0".to_vec(), Detected::Binary(B::Rar)),
            (tar, Detected::Binary(B::Tar)),
            (
                b"PAR1\x15\x04\x15\x80".to_vec(),
                Detected::Binary(B::Parquet),
            ),
            (
                b"i\0d\0,\0n\0o\0t\0e\0\n\0".to_vec(),
                Detected::Binary(B::Utf16LeNoBom),
            ),
            (
                b"\0i\0d\0,\0n\0o\0t\0e\0\n".to_vec(),
                Detected::Binary(B::Utf16BeNoBom),
            ),
            (
                b"\x01\0\0\0\x02\0\0\0\x03\0\0\0abc".to_vec(),
                Detected::Binary(B::Unknown),
            ),
        ];
        for (head, want) in cases {
            assert_eq!(kind(&head), want, "{head:?}");
        }
    }

    #[test]
    fn messages_say_what_and_what_to_do() {
        let e = NotReadable::Binary {
            kind: BinaryKind::Xlsx,
            within: Compression::None,
        };
        assert_eq!(
            e.to_string(),
            "looks like an Excel workbook (XLSX), not text: export the sheet as CSV (or save \
             the notes as JSON Lines) and scan that"
        );
        let e = NotReadable::Binary {
            kind: BinaryKind::Tar,
            within: Compression::Gzip,
        };
        assert!(e
            .to_string()
            .starts_with("looks like a tar archive inside gzip compression, not text: unpack"));
    }

    #[test]
    fn compression_from_names() {
        assert_eq!(Compression::from_name("notes.csv.gz"), Compression::Gzip);
        assert_eq!(Compression::from_name("out.JSONL.ZST"), Compression::Zstd);
        assert_eq!(
            Compression::from_name("dir.gz/notes.csv"),
            Compression::None
        );
        assert_eq!(Compression::from_name(".gz"), Compression::None);
        assert_eq!(Compression::from_name("notes.jsonl"), Compression::None);
    }
}

//! Text encodings of input and output files: BOM sniffing, decoding to UTF-8 on the way in,
//! encoding back on the way out (so a masked copy keeps the encoding of its input).
//!
//! UTF-8 input is never decoded with replacement: invalid bytes reach the record reader, which
//! skips that record with a reason naming the line. Every other encoding is decoded to UTF-8
//! by [`DecodeReader`] (encoding_rs), so the readers only ever see UTF-8. A byte-order mark
//! always wins over `--encoding`, as in the WHATWG decode algorithm.
//!
//! `latin1` and `iso-8859-1` are, per the WHATWG Encoding Standard that encoding_rs follows,
//! labels of windows-1252 (a superset for every printable character).

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// The encoding of a text file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (the default). Invalid bytes are reported per record, not replaced.
    Utf8,
    /// UTF-16, little endian.
    Utf16Le,
    /// UTF-16, big endian.
    Utf16Be,
    /// A single-byte legacy encoding such as windows-1252.
    Legacy(&'static encoding_rs::Encoding),
}

/// An unknown `--encoding` label.
#[derive(Debug, thiserror::Error)]
#[error("unknown encoding {label:?} (try utf-8, windows-1252, latin1, utf-16le or utf-16be)")]
pub struct UnknownEncoding {
    /// The label as given.
    pub label: String,
}

impl TextEncoding {
    /// Parse an encoding label (`utf-8`, `windows-1252`, `cp1252`, `latin1`, `iso-8859-15`,
    /// `utf-16le`, `utf-16be`, `utf-16` = little endian, …; any WHATWG label).
    ///
    /// # Errors
    /// When encoding_rs does not know the label.
    pub fn from_label(label: &str) -> Result<TextEncoding, UnknownEncoding> {
        let trimmed = label.trim();
        let e = match trimmed.to_ascii_lowercase().as_str() {
            "cp1252" => Some(encoding_rs::WINDOWS_1252),
            "utf-16" | "utf16" => Some(encoding_rs::UTF_16LE),
            "utf16le" => Some(encoding_rs::UTF_16LE),
            "utf16be" => Some(encoding_rs::UTF_16BE),
            "utf8" => Some(encoding_rs::UTF_8),
            other => encoding_rs::Encoding::for_label(other.as_bytes()),
        };
        let Some(e) = e else {
            return Err(UnknownEncoding {
                label: trimmed.to_string(),
            });
        };
        Ok(TextEncoding::from_encoding(e))
    }

    fn from_encoding(e: &'static encoding_rs::Encoding) -> TextEncoding {
        if e == encoding_rs::UTF_8 {
            TextEncoding::Utf8
        } else if e == encoding_rs::UTF_16LE {
            TextEncoding::Utf16Le
        } else if e == encoding_rs::UTF_16BE {
            TextEncoding::Utf16Be
        } else {
            TextEncoding::Legacy(e)
        }
    }

    /// The canonical name (`UTF-8`, `UTF-16LE`, `windows-1252`, …).
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::Legacy(e) => e.name(),
        }
    }

    /// The byte-order mark of this encoding (empty for legacy encodings).
    pub fn bom(self) -> &'static [u8] {
        match self {
            TextEncoding::Utf8 => b"\xEF\xBB\xBF",
            TextEncoding::Utf16Le => b"\xFF\xFE",
            TextEncoding::Utf16Be => b"\xFE\xFF",
            TextEncoding::Legacy(_) => b"",
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`sniff`] found at the start of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sniffed {
    /// The encoding in force.
    pub encoding: TextEncoding,
    /// Whether the file started with a byte-order mark (consumed by [`sniff`]).
    pub bom: bool,
    /// Whether the encoding came from `requested` (as opposed to the default or a BOM).
    pub explicit: bool,
}

/// Look for a byte-order mark at the start of `r` and consume it. A BOM wins over
/// `requested`; without either the encoding is UTF-8.
///
/// # Errors
/// On read errors.
pub fn sniff<R: BufRead + ?Sized>(
    r: &mut R,
    requested: Option<TextEncoding>,
) -> io::Result<Sniffed> {
    // One fill_buf: a BOM is at most 3 bytes, and the first read of a file or pipe holds them.
    let head: Vec<u8> = loop {
        match r.fill_buf() {
            Ok(b) => break b[..b.len().min(3)].to_vec(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    let found = if head.starts_with(b"\xEF\xBB\xBF") {
        Some((TextEncoding::Utf8, 3))
    } else if head.starts_with(b"\xFF\xFE") {
        Some((TextEncoding::Utf16Le, 2))
    } else if head.starts_with(b"\xFE\xFF") {
        Some((TextEncoding::Utf16Be, 2))
    } else {
        None
    };
    Ok(match found {
        Some((encoding, n)) => {
            r.consume(n);
            Sniffed {
                encoding,
                bom: true,
                explicit: false,
            }
        }
        None => Sniffed {
            encoding: requested.unwrap_or(TextEncoding::Utf8),
            bom: false,
            explicit: requested.is_some(),
        },
    })
}

/// Decodes a non-UTF-8 byte stream to UTF-8 (malformed input becomes U+FFFD, as every
/// decoder of those encodings does).
pub struct DecodeReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    out: Vec<u8>,
    pos: usize,
    len: usize,
    done: bool,
}

impl<R: BufRead> DecodeReader<R> {
    /// Decode `inner` (positioned after any BOM) from `encoding`.
    pub fn new(inner: R, encoding: TextEncoding) -> DecodeReader<R> {
        let e = match encoding {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
            TextEncoding::Legacy(e) => e,
        };
        DecodeReader {
            inner,
            decoder: e.new_decoder_without_bom_handling(),
            out: vec![0; 64 * 1024],
            pos: 0,
            len: 0,
            done: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        while self.pos == self.len && !self.done {
            let input = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let last = input.is_empty();
            let (_, read, written, _) = self.decoder.decode_to_utf8(input, &mut self.out, last);
            self.inner.consume(read);
            self.pos = 0;
            self.len = written;
            if last {
                self.done = true;
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Read for DecodeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.refill()?;
        let n = (self.len - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for DecodeReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.refill()?;
        Ok(&self.out[self.pos..self.len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.len);
    }
}

/// Sniff the BOM of `r` and return a reader that yields UTF-8 (or, for UTF-8 input, the
/// bytes as they are), with what was found.
///
/// # Errors
/// On read errors.
pub fn decoded<R: BufRead + Send + 'static>(
    mut r: R,
    requested: Option<TextEncoding>,
) -> io::Result<(Box<dyn BufRead + Send>, Sniffed)> {
    let sniffed = sniff(&mut r, requested)?;
    let reader: Box<dyn BufRead + Send> = match sniffed.encoding {
        TextEncoding::Utf8 => Box::new(r),
        other => Box::new(DecodeReader::new(r, other)),
    };
    Ok((reader, sniffed))
}

/// Writes UTF-8 text in another encoding. Characters the target cannot represent are an
/// error (never silently replaced): the error names the code point, never the text.
pub struct EncodeWriter<W: Write> {
    inner: W,
    encoding: TextEncoding,
    encoder: Option<encoding_rs::Encoder>,
    pending: Vec<u8>,
    scratch: Vec<u8>,
}

impl<W: Write> EncodeWriter<W> {
    /// Encode to `encoding`; writes the BOM first when `bom` is set.
    ///
    /// # Errors
    /// When writing the BOM fails.
    pub fn new(mut inner: W, encoding: TextEncoding, bom: bool) -> io::Result<EncodeWriter<W>> {
        if bom {
            inner.write_all(encoding.bom())?;
        }
        let encoder = match encoding {
            TextEncoding::Legacy(e) => Some(e.new_encoder()),
            _ => None,
        };
        Ok(EncodeWriter {
            inner,
            encoding,
            encoder,
            pending: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Flush and return the inner writer.
    ///
    /// # Errors
    /// When text is left that is not complete UTF-8, or on write errors.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        if !self.pending.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "incomplete UTF-8 at the end of the output",
            ));
        }
        Ok(self.inner)
    }

    fn encode(&mut self, text: &str) -> io::Result<()> {
        self.scratch.clear();
        match self.encoding {
            TextEncoding::Utf8 => self.scratch.extend_from_slice(text.as_bytes()),
            TextEncoding::Utf16Le => {
                for u in text.encode_utf16() {
                    self.scratch.extend_from_slice(&u.to_le_bytes());
                }
            }
            TextEncoding::Utf16Be => {
                for u in text.encode_utf16() {
                    self.scratch.extend_from_slice(&u.to_be_bytes());
                }
            }
            TextEncoding::Legacy(e) => {
                let Some(encoder) = self.encoder.as_mut() else {
                    return Err(io::Error::other("encoder missing"));
                };
                let mut rest = text;
                let mut chunk = [0u8; 4096];
                loop {
                    let (result, read, written) =
                        encoder.encode_from_utf8_without_replacement(rest, &mut chunk, false);
                    self.scratch.extend_from_slice(&chunk[..written]);
                    rest = &rest[read..];
                    match result {
                        encoding_rs::EncoderResult::InputEmpty => break,
                        encoding_rs::EncoderResult::OutputFull => continue,
                        encoding_rs::EncoderResult::Unmappable(c) => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!(
                                    "character U+{:04X} cannot be written in {} (choose a \
                                     mask character or label that exists in that encoding)",
                                    c as u32,
                                    e.name()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        self.inner.write_all(&self.scratch)
    }
}

impl<W: Write> Write for EncodeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.encoding == TextEncoding::Utf8 {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        let pending = std::mem::take(&mut self.pending);
        let valid = match std::str::from_utf8(&pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "output is not valid UTF-8",
                ))
            }
        };
        let text = std::str::from_utf8(&pending[..valid])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "invalid UTF-8"))?;
        let result = self.encode(text);
        self.pending = pending[valid..].to_vec();
        result.map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(encoding: TextEncoding, bom: bool, text: &str) {
        let mut w = EncodeWriter::new(Vec::new(), encoding, bom).unwrap();
        // Write in odd-sized pieces so that UTF-8 sequences are split.
        for chunk in text.as_bytes().chunks(3) {
            w.write_all(chunk).unwrap();
        }
        let bytes = w.finish().unwrap();
        let (mut r, sniffed) = decoded(io::Cursor::new(bytes), Some(encoding)).unwrap();
        assert_eq!(sniffed.encoding, encoding);
        assert_eq!(sniffed.bom, bom);
        let mut back = String::new();
        r.read_to_string(&mut back).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn roundtrips() {
        let text = "Jørgen, café \"naïve\"\r\nline 2 € end";
        roundtrip(TextEncoding::Utf8, true, text);
        roundtrip(TextEncoding::Utf8, false, text);
        roundtrip(TextEncoding::Utf16Le, true, text);
        roundtrip(TextEncoding::Utf16Be, true, text);
        roundtrip(
            TextEncoding::from_label("windows-1252").unwrap(),
            false,
            text,
        );
    }

    #[test]
    fn labels() {
        assert_eq!(
            TextEncoding::from_label("latin1").unwrap().name(),
            "windows-1252"
        );
        assert_eq!(
            TextEncoding::from_label("UTF-16").unwrap(),
            TextEncoding::Utf16Le
        );
        assert_eq!(
            TextEncoding::from_label("utf8").unwrap(),
            TextEncoding::Utf8
        );
        assert!(TextEncoding::from_label("klingon").is_err());
    }

    #[test]
    fn bom_wins_and_unmappable_is_an_error() {
        let (_, s) = decoded(io::Cursor::new(b"\xFF\xFEa\0".to_vec()), None).unwrap();
        assert_eq!(s.encoding, TextEncoding::Utf16Le);
        let cp = TextEncoding::from_label("windows-1252").unwrap();
        let mut w = EncodeWriter::new(Vec::new(), cp, false).unwrap();
        let e = w.write_all("█".as_bytes()).unwrap_err();
        assert!(e.to_string().contains("U+2588"), "{e}");
    }
}

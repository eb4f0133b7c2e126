//! gzip and zstd, both ways (the codecs are feature `compress`): reading a compressed export as if it were
//! the plain file, and writing a masked copy compressed the way its input was.
//!
//! Reading: gzip with flate2's `MultiGzDecoder` (every member of a concatenated file, as
//! `gzip -d` does), zstd with the `zstd` crate's streaming decoder (every frame). A read error
//! of the decoder (truncated or corrupt data) names the compression and never holds data.
//!
//! Writing: [`CompressWriter`] buffers small writes before the encoder (a masked copy is
//! written a record at a time) and must be [`CompressWriter::finish`]ed, which writes the
//! trailer (gzip's CRC and size, zstd's end of frame). Without the feature it only passes
//! plain text through, and asking it to compress is an error.

use std::io::{self, Write};
#[cfg(feature = "compress")]
use std::io::{BufRead, BufReader, BufWriter, Read};

use super::detect::Compression;

/// Bytes buffered before the encoder.
#[cfg(feature = "compress")]
const BUFFER_BYTES: usize = 256 * 1024;

/// A reader of the decompressed bytes of `inner`, a `compression` stream. `label` names the
/// input in read errors. [`Compression::None`] hands `inner` back.
///
/// # Errors
/// When the zstd decoder cannot be set up (out of memory).
#[cfg(feature = "compress")]
pub fn decompressing(
    inner: Box<dyn BufRead + Send>,
    compression: Compression,
    label: &str,
) -> io::Result<Box<dyn BufRead + Send>> {
    let decoder: Box<dyn Read + Send> = match compression {
        Compression::None => return Ok(inner),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(inner)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(inner)?),
    };
    let reader = Labelled {
        inner: decoder,
        compression,
        label: label.to_string(),
    };
    Ok(Box::new(BufReader::with_capacity(
        super::READ_BUFFER_BYTES,
        reader,
    )))
}

/// Gives the decoder's read errors the input's name and the compression.
#[cfg(feature = "compress")]
struct Labelled {
    inner: Box<dyn Read + Send>,
    compression: Compression,
    label: String,
}

#[cfg(feature = "compress")]
impl Read for Labelled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            // The decoders' messages name what is wrong ("corrupt deflate stream", "Unknown
            // frame descriptor"), never the data. Their errors are of these kinds (zstd's
            // all `Other`); an error of the file itself (EIO, ...) is said as it is.
            let message = match e.kind() {
                io::ErrorKind::InvalidInput
                | io::ErrorKind::InvalidData
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::Other => format!(
                    "{}: the {} data is truncated or corrupt ({e})",
                    self.label, self.compression
                ),
                _ => format!("{}: {e}", self.label),
            };
            io::Error::new(e.kind(), message)
        })
    }
}

/// A writer that compresses what it is given ([`Compression::None`]: passes it through).
pub enum CompressWriter<W: Write> {
    /// Not compressed.
    Plain(W),
    /// gzip, one member.
    #[cfg(feature = "compress")]
    Gzip(BufWriter<flate2::write::GzEncoder<W>>),
    /// zstd, one frame.
    #[cfg(feature = "compress")]
    Zstd(BufWriter<zstd::stream::write::Encoder<'static, W>>),
}

impl<W: Write> CompressWriter<W> {
    /// Compress into `inner` (gzip level 6, zstd level 3: each tool's default; zstd with
    /// a content checksum, as the zstd tool writes it).
    ///
    /// # Errors
    /// When the zstd encoder cannot be set up, or (without the feature) for any compression.
    pub fn new(inner: W, compression: Compression) -> io::Result<CompressWriter<W>> {
        Ok(match compression {
            Compression::None => CompressWriter::Plain(inner),
            #[cfg(not(feature = "compress"))]
            c => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("cannot write {c}: this art9 was built without the `compress` feature"),
                ))
            }
            #[cfg(feature = "compress")]
            Compression::Gzip => CompressWriter::Gzip(BufWriter::with_capacity(
                BUFFER_BYTES,
                flate2::write::GzEncoder::new(inner, flate2::Compression::default()),
            )),
            #[cfg(feature = "compress")]
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(inner, 0)?;
                // A checksum of the content (as the zstd tool writes), so that a damaged copy
                // is an error when read back, not different text.
                encoder.include_checksum(true)?;
                CompressWriter::Zstd(BufWriter::with_capacity(BUFFER_BYTES, encoder))
            }
        })
    }

    /// Write what is buffered and the compressed stream's end; the inner writer back
    /// (not flushed).
    ///
    /// # Errors
    /// On write errors.
    pub fn finish(self) -> io::Result<W> {
        match self {
            CompressWriter::Plain(w) => Ok(w),
            #[cfg(feature = "compress")]
            CompressWriter::Gzip(w) => w.into_inner().map_err(|e| e.into_error())?.finish(),
            #[cfg(feature = "compress")]
            CompressWriter::Zstd(w) => w.into_inner().map_err(|e| e.into_error())?.finish(),
        }
    }
}

impl<W: Write> Write for CompressWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            CompressWriter::Plain(w) => w.write(buf),
            #[cfg(feature = "compress")]
            CompressWriter::Gzip(w) => w.write(buf),
            #[cfg(feature = "compress")]
            CompressWriter::Zstd(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            CompressWriter::Plain(w) => w.write_all(buf),
            #[cfg(feature = "compress")]
            CompressWriter::Gzip(w) => w.write_all(buf),
            #[cfg(feature = "compress")]
            CompressWriter::Zstd(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            CompressWriter::Plain(w) => w.flush(),
            #[cfg(feature = "compress")]
            CompressWriter::Gzip(w) => w.flush(),
            #[cfg(feature = "compress")]
            CompressWriter::Zstd(w) => w.flush(),
        }
    }
}

#[cfg(all(test, feature = "compress"))]
mod tests {
    use super::*;

    fn roundtrip(compression: Compression) {
        let text: Vec<u8> = (0..5000)
            .flat_map(|i| format!("{{\"id\": {i}, \"note\": \"note {i}\"}}\n").into_bytes())
            .collect();
        let mut w = CompressWriter::new(Vec::new(), compression).unwrap();
        for chunk in text.chunks(37) {
            w.write_all(chunk).unwrap();
        }
        let packed = w.finish().unwrap();
        if compression != Compression::None {
            assert!(packed.len() < text.len() / 4, "{}", packed.len());
        }
        // Two streams one after the other (`cat a.gz b.gz`) decompress to both.
        let twice = [&packed[..], &packed[..]].concat();
        let mut r = decompressing(Box::new(io::Cursor::new(twice)), compression, "x").unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, [&text[..], &text[..]].concat());
    }

    #[test]
    fn roundtrips() {
        roundtrip(Compression::None);
        roundtrip(Compression::Gzip);
        roundtrip(Compression::Zstd);
    }

    #[test]
    fn truncated_data_is_a_named_read_error() {
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut w = CompressWriter::new(Vec::new(), compression).unwrap();
            w.write_all(&b"Klant heeft diabetes, ".repeat(1000))
                .unwrap();
            let packed = w.finish().unwrap();
            let cut = packed[..packed.len() / 2].to_vec();
            let mut r =
                decompressing(Box::new(io::Cursor::new(cut)), compression, "notes.gz").unwrap();
            let e = r.read_to_end(&mut Vec::new()).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("notes.gz: the "), "{msg}");
            assert!(msg.contains("truncated or corrupt"), "{msg}");
            assert!(!msg.contains("diabetes"), "{msg}");
        }
    }
}

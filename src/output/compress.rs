//! Writing gzip and zstd (the codecs are feature `compress`): a masked copy compressed the
//! way its input was. [`CompressWriter`] buffers small writes before the encoder (a masked
//! copy is written a record at a time) and must be [`CompressWriter::finish`]ed, which writes
//! the trailer (gzip's CRC and size, zstd's end of frame). Without the feature it only passes
//! plain text through, and asking it to compress is an error. Reading them is
//! `input::compress`.

#[cfg(feature = "compress")]
use std::io::BufWriter;
use std::io::{self, Write};

use crate::input::Compression;

/// Bytes buffered before the encoder.
#[cfg(feature = "compress")]
const BUFFER_BYTES: usize = 256 * 1024;

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
    use crate::input::compress::decompressing;
    use std::io::Read;

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

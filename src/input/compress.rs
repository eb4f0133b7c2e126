//! Reading gzip and zstd (the codecs are feature `compress`): a compressed export read as if
//! it were the plain file. Writing them is `output::compress`.
//!
//! gzip with flate2's `MultiGzDecoder` (every member of a concatenated file, as
//! `gzip -d` does), zstd with the `zstd` crate's streaming decoder (every frame). A read error
//! of the decoder (truncated or corrupt data) names the compression and never holds data.

#[cfg(feature = "compress")]
use std::io::{self, BufRead, BufReader, Read};

#[cfg(feature = "compress")]
use super::detect::Compression;

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

//! HTTPS for `art9 serve`: a PEM certificate chain and key, loaded into a rustls server
//! configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN) that [`Tls::reload`] swaps
//! atomically. A connection keeps the configuration it was accepted with; a reload that fails
//! keeps the old one in service.
//!
//! Errors name the file and what is wrong with it, never its content (a PEM parser's message
//! may quote a line of the key file, so it is not passed on).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Where the certificate chain and its key are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, PEM (leaf first).
    pub cert: PathBuf,
    /// Private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read or holds no usable PEM item.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's content).
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("{} and {}: {reason}", cert.display(), key.display())]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// The reload stopped before it finished.
    #[error("the reload was aborted")]
    Aborted,
}

/// The TLS configuration in service and the files it came from.
pub struct Tls {
    files: TlsFiles,
    config: ArcSwap<ServerConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Load the certificate chain and key.
    ///
    /// # Errors
    /// A file that cannot be read, holds no certificate or key, or a key that does not fit.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let config = server_config(&files)?;
        Ok(Tls {
            files,
            config: ArcSwap::from_pointee(config),
        })
    }

    /// The files.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Read the files again and swap the new configuration in; on error the old one stays.
    ///
    /// # Errors
    /// As [`Tls::load`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.files)?;
        self.config.store(Arc::new(config));
        Ok(())
    }

    /// An acceptor with the configuration in service now.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.load_full())
    }
}

fn file_error(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A PEM error without the quoted content some variants carry.
fn pem_reason(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64",
        pem::Error::NoItemsFound => "no PEM item of the expected kind",
        pem::Error::SectionTooLarge => "a PEM section is too large",
        _ => "not a valid PEM file",
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| file_error(path, e.to_string()))
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let cert_pem = read(&files.cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(&files.cert, pem_reason(&e)))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert, "no CERTIFICATE found"));
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => file_error(&files.key, "no PRIVATE KEY found"),
        e => file_error(&files.key, pem_reason(&e)),
    })?;
    let pair_error = |e: rustls::Error| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pair_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(pair_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        TlsFiles { cert: c, key: k }
    }

    #[test]
    fn bad_files_are_errors_that_do_not_quote_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsFiles {
            cert: dir.path().join("none.pem"),
            key: dir.path().join("none.key"),
        };
        let e = Tls::load(missing).unwrap_err().to_string();
        assert!(e.contains("none.pem"), "{e}");

        let e = Tls::load(files(dir.path(), "not pem at all", "")).unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");

        let secret = "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWxpbmU=\n-----BEGIN  secret-line\n";
        let e = Tls::load(files(dir.path(), secret, ""))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");

        let cert = include_str!("../../tests/data/tls/cert-a.pem");
        let e = Tls::load(files(
            dir.path(),
            cert,
            "-----BEGIN PRIVATE KEY-----\nsecret\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("key.pem") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn a_good_pair_loads_and_a_failed_reload_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = files(
            dir.path(),
            include_str!("../../tests/data/tls/cert-a.pem"),
            include_str!("../../tests/data/tls/key-a.pem"),
        );
        let tls = Tls::load(f.clone()).unwrap();
        let before = tls.config.load_full();
        // The key of another certificate does not fit.
        std::fs::write(&f.key, include_str!("../../tests/data/tls/key-b.pem")).unwrap();
        let e = tls.reload().unwrap_err();
        assert!(matches!(e, TlsError::Pair { .. }), "{e}");
        assert!(Arc::ptr_eq(&before, &tls.config.load_full()));
        std::fs::write(&f.cert, include_str!("../../tests/data/tls/cert-b.pem")).unwrap();
        tls.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &tls.config.load_full()));
    }
}

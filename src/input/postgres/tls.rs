//! TLS for PostgreSQL connections, as libpq's `sslmode`: the certificate verifier of
//! `prefer`/`require`/`verify-ca`, the root store of `sslrootcert`, and the driver
//! configuration ([`driver_config`]) that the blocking client and the record source share.

use std::sync::Arc;

use super::CONNECT_TIMEOUT;
use crate::input::db::{DbError, DbErrorKind, DbUrl};

/// How the server's certificate is checked (libpq's `sslmode` values that verify).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verify {
    /// `disable`, `prefer`, `require`: encrypted, certificate not checked (as libpq without
    /// a root certificate).
    None,
    /// `verify-ca`: the certificate chain must lead to a root in `sslrootcert`.
    Ca,
    /// `verify-full`: `verify-ca`, and the certificate must name the host connected to.
    Full,
}

/// The certificate check of every mode but `verify-full` (which is plain webpki).
///
/// Without roots (`prefer`, `require`, as libpq without a root certificate) any certificate
/// is accepted; with roots (`verify-ca`) webpki checks the chain and only a host name
/// mismatch is accepted. Either way the handshake signatures are checked, so the session keys
/// belong to whoever holds the certificate's key.
#[derive(Debug)]
struct LibpqVerifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
}

impl rustls::client::danger::ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::client::danger::ServerCertVerified;
        use rustls::{CertificateError, Error};
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The root certificates of `sslrootcert` (libpq's default: `~/.postgresql/root.crt`).
fn root_store(url: &DbUrl, path: Option<&str>) -> Result<rustls::RootCertStore, DbError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let err = |msg: String| DbError::new(DbErrorKind::Connect, format!("{url}: {msg}"));
    let path = match path {
        Some(p) => std::path::PathBuf::from(p),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::Path::new(&home).join(".postgresql/root.crt"),
            None => {
                return Err(err(
                    "sslmode=verify-ca/verify-full needs sslrootcert=FILE (no HOME for the \
                     default ~/.postgresql/root.crt)"
                        .into(),
                ))
            }
        },
    };
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| err(format!("root certificate file {shown}: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("root certificate file {shown}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(err(format!(
            "root certificate file {shown} holds no usable certificate"
        )));
    }
    Ok(roots)
}

fn tls(
    url: &DbUrl,
    verify: Verify,
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = |e: &dyn std::fmt::Display| {
        DbError::new(DbErrorKind::Connect, format!("{url}: TLS setup: {e}"))
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(&e))?;
    let chain = match verify {
        Verify::None => None,
        Verify::Ca | Verify::Full => {
            let roots = Arc::new(root_store(url, root_cert)?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots,
                provider.clone(),
            )
            .build()
            .map_err(|e| setup(&e))?;
            Some(webpki)
        }
    };
    let config = match chain {
        Some(webpki) if verify == Verify::Full => {
            builder.with_webpki_verifier(webpki).with_no_client_auth()
        }
        chain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LibpqVerifier { provider, chain }))
            .with_no_client_auth(),
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The driver's configuration and TLS connector for `url`: what the blocking client
/// ([`connect`]) and the record source's own async connection ([`Session::open`]) both use.
pub(super) fn driver_config(
    url: &DbUrl,
) -> Result<
    (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    DbError,
> {
    // `verify-ca`/`verify-full` and `sslrootcert` are ours: the driver knows only
    // disable/prefer/require, and verifying means `require` plus our certificate check.
    let (target, mode) = crate::input::db::take_param(url.target(), "sslmode");
    let (target, root_cert) = crate::input::db::take_param(&target, "sslrootcert");
    let (verify, mode) = match mode.as_deref() {
        Some("verify-ca") => (Verify::Ca, Some("require")),
        Some("verify-full") => (Verify::Full, Some("require")),
        other => (Verify::None, other),
    };
    if root_cert.is_some() && verify == Verify::None {
        return Err(DbError::new(
            DbErrorKind::Url,
            format!("{url}: sslrootcert is only used with sslmode=verify-ca or verify-full"),
        ));
    }
    let target = match mode {
        Some(m) => format!(
            "{target}{}sslmode={m}",
            if target.contains('?') { '&' } else { '?' }
        ),
        None => target,
    };
    let mut config: tokio_postgres::Config = target.parse().map_err(|e: postgres::Error| {
        DbError::new(DbErrorKind::Url, url.scrub(&e.to_string())).context(url)
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("art9");
    }
    Ok((config, tls(url, verify, root_cert.as_deref())?))
}

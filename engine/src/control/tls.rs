//! TLS on a cluster worker's endpoint (§13): the worker serves it with a certificate and key
//! from PEM files, and its clients trust the certificate of the authority that signed it (or the
//! system's authorities). The TLS is the one the HTTP client already links (native-tls: OpenSSL
//! on Linux), so nothing new is built into the app.

use std::path::{Path, PathBuf};

/// The endpoint's TLS could not be set up; the words say which file and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error(
        "{cert} and {key} are not a certificate (PEM) and its private key (PEM, PKCS #8): {message}"
    )]
    NotAnIdentity {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("{path} is not a certificate in PEM: {message}")]
    NotACertificate { path: PathBuf, message: String },
}

/// Serves TLS with the certificate (chain) in `cert` and the private key in `key`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_native_tls::TlsAcceptor, TlsError> {
    let identity = native_tls::Identity::from_pkcs8(&read(cert)?, &read(key)?).map_err(|e| {
        TlsError::NotAnIdentity {
            cert: cert.into(),
            key: key.into(),
            message: e.to_string(),
        }
    })?;
    let acceptor = native_tls::TlsAcceptor::new(identity).map_err(|e| TlsError::NotAnIdentity {
        cert: cert.into(),
        key: key.into(),
        message: e.to_string(),
    })?;
    Ok(acceptor.into())
}

/// The authority's certificate in `path`, for a client to trust a worker's endpoint it signed.
pub fn authority(path: &Path) -> Result<reqwest::Certificate, TlsError> {
    reqwest::Certificate::from_pem(&read(path)?).map_err(|e| TlsError::NotACertificate {
        path: path.into(),
        message: e.to_string(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Unreadable {
        path: path.into(),
        message: e.to_string(),
    })
}

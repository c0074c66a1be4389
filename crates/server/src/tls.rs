//! rustls server configuration from PEM files.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use rustls::ServerConfig;
use thiserror::Error;

use crate::settings::TlsSettings;

/// Unusable TLS material; names the setting at fault.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The file cannot be read or holds no usable PEM item.
    #[error("invalid setting {key} ({path}): {reason}")]
    File {
        /// `tls.cert_file` or `tls.key_file`.
        key: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Certificate and key do not form a valid configuration.
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

/// A rustls configuration serving the configured certificate chain (ring provider, TLS 1.2+).
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let file_err = |key: &'static str, path: &std::path::Path, reason: String| TlsError::File {
        key,
        path: path.display().to_string(),
        reason,
    };
    let open = |key: &'static str, path: &std::path::Path| {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| file_err(key, path, e.to_string()))
    };
    let certs = rustls_pemfile::certs(&mut open("tls.cert_file", &settings.cert_file)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err("tls.cert_file", &settings.cert_file, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err(
            "tls.cert_file",
            &settings.cert_file,
            "no PEM certificate found".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut open("tls.key_file", &settings.key_file)?)
        .map_err(|e| file_err("tls.key_file", &settings.key_file, e.to_string()))?
        .ok_or_else(|| {
            file_err(
                "tls.key_file",
                &settings.key_file,
                "no PEM private key found".into(),
            )
        })?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))
}

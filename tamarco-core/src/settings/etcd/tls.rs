//! TLS to etcd, behind the `etcd-tls` feature (rustls with ring, through tonic).

use etcd_client::ConnectOptions;

use super::EtcdConfig;
use crate::settings::SettingsError;

/// Adds the TLS options of `config` (CA, client certificate, domain) to `options`.
#[cfg(feature = "etcd-tls")]
pub(super) fn apply(
    options: ConnectOptions,
    config: &EtcdConfig,
) -> Result<ConnectOptions, SettingsError> {
    use etcd_client::{Certificate, Identity, TlsOptions};

    use super::config::{TLS_CERT_VAR, TLS_KEY_VAR};

    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| SettingsError::Source {
            source_name: format!("{} (TLS file {})", config.describe(), path.display()),
            message: e.to_string(),
        })
    };
    let files = config.tls().cloned().unwrap_or_default();
    let mut tls = TlsOptions::new();
    if let Some(ca) = &files.ca_file {
        tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?)),
        (None, None) => {}
        _ => {
            return Err(SettingsError::Source {
                source_name: config.describe(),
                message: format!(
                    "a client certificate needs both {TLS_CERT_VAR} and {TLS_KEY_VAR}"
                ),
            });
        }
    }
    if let Some(domain) = &files.domain {
        tls = tls.domain_name(domain.clone());
    }
    Ok(options.with_tls(tls))
}

/// Without the `etcd-tls` feature, asking for TLS is an error that says so.
#[cfg(not(feature = "etcd-tls"))]
pub(super) fn apply(
    _: ConnectOptions,
    config: &EtcdConfig,
) -> Result<ConnectOptions, SettingsError> {
    Err(SettingsError::Source {
        source_name: config.describe(),
        message:
            "TLS (an https:// endpoint or TAMARCO_ETCD_TLS_*) needs tamarco's `etcd-tls` feature"
                .into(),
    })
}

//! The calls under [`EtcdStore`](super::EtcdStore) and the follower: client options, bounded
//! requests, and errors as one line.

use std::future::Future;
use std::time::Duration;

use etcd_client::ConnectOptions;

use super::EtcdConfig;
use crate::settings::SettingsError;

/// The client options: credentials, TLS, timeouts, HTTP/2 keep-alive (to notice a dead member),
/// and "require leader" (a member cut off from its cluster refuses rather than serve stale data).
/// With credentials, a request refused for an expired token authenticates again and is retried
/// (etcd forgets a token unused for `--auth-token-ttl`, and all of them when it restarts).
pub(super) fn connect_options(config: &EtcdConfig) -> Result<ConnectOptions, SettingsError> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(config.request_timeout())
        .with_keep_alive(Duration::from_secs(5), config.request_timeout())
        .with_require_leader(true);
    if let Some((user, password)) = config.credentials() {
        options = options
            .with_user(user, password)
            .with_auto_token_refresh(true);
    }
    let https = config.endpoints().iter().any(|e| e.starts_with("https://"));
    if config.tls().is_some() || https {
        options = super::tls::apply(options, config)?;
    }
    Ok(options)
}

/// Awaits `work` for at most `within`; errors become text.
pub(super) async fn bounded<T>(
    within: Duration,
    work: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(within, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(describe_error(&error)),
        Err(_) => Err(format!("no answer within {within:?}")),
    }
}

/// An etcd client error as one readable line.
pub(super) fn describe_error(error: &etcd_client::Error) -> String {
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            format!("{:?}: {}", status.code(), status.message())
        }
        other => other.to_string(),
    }
}

/// Whether an error may pass by itself (a member going away), so that the request is worth
/// another try.
pub(super) fn is_transient(message: &str) -> bool {
    [
        "Unavailable",
        "transport error",
        "no answer within",
        "connect",
    ]
    .iter()
    .any(|word| message.contains(word))
}

/// The revision in a response's header; 0 without one.
pub(super) fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> i64 {
    header.map_or(0, |h| h.revision())
}

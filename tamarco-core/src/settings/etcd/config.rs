//! [`EtcdConfig`]: where etcd is and how to talk to it, from the environment or from code.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::settings::SettingsError;

use super::KeyMapping;

/// The host of a single etcd endpoint; enables etcd.
pub const HOST_VAR: &str = "TAMARCO_ETCD_HOST";
/// The port that goes with [`HOST_VAR`]; 2379 by default.
pub const PORT_VAR: &str = "TAMARCO_ETCD_PORT";
/// A comma-separated list of endpoints (`host:port` or `http(s)://host:port`) for a cluster;
/// enables etcd. Used together with [`HOST_VAR`] when both are set.
pub const ENDPOINTS_VAR: &str = "TAMARCO_ETCD_ENDPOINTS";
/// The user to authenticate as; needs [`PASSWORD_VAR`].
pub const USER_VAR: &str = "TAMARCO_ETCD_USER";
/// The password of [`USER_VAR`]. Never logged, shown in errors or printed by `Debug`.
pub const PASSWORD_VAR: &str = "TAMARCO_ETCD_PASSWORD";
/// The prefix of every etcd key (empty by default); see [`KeyMapping`].
pub const PREFIX_VAR: &str = "TAMARCO_ETCD_PREFIX";
/// How many times to retry reaching etcd at start before failing (5 by default; the waits
/// double from 0.2 s up to 5 s).
pub const CONNECT_RETRIES_VAR: &str = "TAMARCO_ETCD_CONNECT_RETRIES";
/// A key to wait for before starting (the original's `ETCD_CHECK_KEY`): a dotted settings key,
/// or, if it contains `/`, a raw etcd key used as is (no prefix).
pub const CHECK_KEY_VAR: &str = "ETCD_CHECK_KEY";
/// How many one-second waits for [`CHECK_KEY_VAR`] before failing (10 by default).
pub const CHECK_RETRIES_VAR: &str = "TAMARCO_ETCD_CHECK_RETRIES";
/// A PEM file of the certificate authority that signed the etcd servers' certificates.
pub const TLS_CA_VAR: &str = "TAMARCO_ETCD_TLS_CA_FILE";
/// A PEM file of the client certificate, for etcd's `--client-cert-auth`; needs [`TLS_KEY_VAR`].
pub const TLS_CERT_VAR: &str = "TAMARCO_ETCD_TLS_CERT_FILE";
/// A PEM file of the client certificate's private key.
pub const TLS_KEY_VAR: &str = "TAMARCO_ETCD_TLS_KEY_FILE";
/// The name to check the servers' certificates against, when it is not the endpoint's host.
pub const TLS_DOMAIN_VAR: &str = "TAMARCO_ETCD_TLS_DOMAIN";

/// TLS to etcd: turned on by any of these, or by an `https://` endpoint. Needs the
/// `etcd-tls` feature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// PEM file of the certificate authority; the system's roots are not used.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's key.
    pub key_file: Option<PathBuf>,
    /// The name to check the servers' certificates against.
    pub domain: Option<String>,
}

/// How to reach etcd: endpoints, credentials, TLS, key prefix, and the bounds of the waits.
///
/// Build it from the environment with [`EtcdConfig::from_env`] (the variables are the `*_VAR`
/// constants of this module), or in code with [`EtcdConfig::new`] and the `with_*` methods.
#[derive(Clone)]
pub struct EtcdConfig {
    endpoints: Vec<String>,
    credentials: Option<(String, String)>,
    tls: Option<EtcdTls>,
    mapping: KeyMapping,
    connect_retries: u32,
    check_key: Option<String>,
    check_retries: u32,
    backoff: (Duration, Duration),
    request_timeout: Duration,
}

impl fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("password", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("prefix", &self.mapping.prefix())
            .field("connect_retries", &self.connect_retries)
            .field("check_key", &self.check_key)
            .field("check_retries", &self.check_retries)
            .field("backoff", &self.backoff)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl EtcdConfig {
    /// A configuration for `endpoints` (`host:port` or `http(s)://host:port`), with the defaults:
    /// no prefix, no credentials, 5 connect retries, no check key.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            credentials: None,
            tls: None,
            mapping: KeyMapping::default(),
            connect_retries: 5,
            check_key: None,
            check_retries: 10,
            backoff: (Duration::from_millis(200), Duration::from_secs(5)),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// The configuration the process environment describes, or `None` when neither
    /// `TAMARCO_ETCD_HOST` nor `TAMARCO_ETCD_ENDPOINTS` is set. Errors name the variable.
    pub fn from_env() -> Result<Option<Self>, SettingsError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](EtcdConfig::from_env), reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, SettingsError> {
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let mut endpoints = Vec::new();
        if let Some(host) = var(HOST_VAR) {
            let port: u16 = parse(PORT_VAR, var(PORT_VAR), 2379, "a port number")?;
            endpoints.push(format!("{}:{port}", host.trim()));
        }
        for endpoint in var(ENDPOINTS_VAR).iter().flat_map(|list| list.split(',')) {
            let endpoint = endpoint.trim();
            if !endpoint.is_empty() && !endpoints.iter().any(|e| e == endpoint) {
                endpoints.push(endpoint.to_owned());
            }
        }
        if endpoints.is_empty() {
            return Ok(None);
        }
        let mut config = EtcdConfig::new(endpoints)
            .with_prefix(var(PREFIX_VAR).unwrap_or_default())
            .with_connect_retries(parse(
                CONNECT_RETRIES_VAR,
                var(CONNECT_RETRIES_VAR),
                5,
                "a number of retries",
            )?)
            .with_check_retries(parse(
                CHECK_RETRIES_VAR,
                var(CHECK_RETRIES_VAR),
                10,
                "a number of retries",
            )?);
        match (var(USER_VAR), var(PASSWORD_VAR)) {
            (Some(user), Some(password)) => config = config.with_credentials(user, password),
            (None, None) => {}
            (Some(_), None) => {
                return Err(env_error(
                    PASSWORD_VAR,
                    format!("is required when {USER_VAR} is set"),
                ));
            }
            (None, Some(_)) => {
                return Err(env_error(
                    USER_VAR,
                    format!("is required when {PASSWORD_VAR} is set"),
                ));
            }
        }
        if let Some(key) = var(CHECK_KEY_VAR) {
            config = config.with_check_key(key.trim());
        }
        let tls = EtcdTls {
            ca_file: var(TLS_CA_VAR).map(PathBuf::from),
            cert_file: var(TLS_CERT_VAR).map(PathBuf::from),
            key_file: var(TLS_KEY_VAR).map(PathBuf::from),
            domain: var(TLS_DOMAIN_VAR),
        };
        if tls != EtcdTls::default() {
            config = config.with_tls(tls);
        }
        Ok(Some(config))
    }

    /// Prepends `prefix` to every etcd key (end it with `/` to make it a folder).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.mapping = KeyMapping::new(prefix);
        self
    }

    /// Authenticates as `user`. The password is never logged or printed.
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Talks TLS to etcd (needs the `etcd-tls` feature).
    pub fn with_tls(mut self, tls: EtcdTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Retries reaching etcd at start this many times, with exponential backoff, then fails.
    pub fn with_connect_retries(mut self, retries: u32) -> Self {
        self.connect_retries = retries;
        self
    }

    /// Waits for `key` to exist before loading the settings (dotted, or a raw etcd key if it
    /// contains `/`).
    pub fn with_check_key(mut self, key: impl Into<String>) -> Self {
        self.check_key = Some(key.into());
        self
    }

    /// Waits for the check key for at most this many seconds, logging each second.
    pub fn with_check_retries(mut self, retries: u32) -> Self {
        self.check_retries = retries;
        self
    }

    /// The first and the longest wait between two attempts to reach etcd (0.2 s and 5 s by
    /// default), at start and when reconnecting.
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max.max(first));
        self
    }

    /// The longest one request to etcd may take (5 s by default).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The endpoints, as given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The key mapping (with the prefix).
    pub fn mapping(&self) -> &KeyMapping {
        &self.mapping
    }

    /// The user, if any (the password is not readable back).
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }

    /// `etcd at 127.0.0.1:2379, 127.0.0.1:22379`: for logs, errors and `/status`; no secrets.
    pub fn describe(&self) -> String {
        format!("etcd at {}", self.endpoints.join(", "))
    }

    pub(super) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    pub(super) fn tls(&self) -> Option<&EtcdTls> {
        self.tls.as_ref()
    }

    pub(super) fn connect_retries(&self) -> u32 {
        self.connect_retries
    }

    pub(super) fn check_key(&self) -> Option<&str> {
        self.check_key.as_deref()
    }

    pub(super) fn check_retries(&self) -> u32 {
        self.check_retries
    }

    pub(super) fn backoff(&self) -> Backoff {
        Backoff::new(self.backoff.0, self.backoff.1)
    }

    pub(super) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

fn parse<T: std::str::FromStr>(
    name: &str,
    raw: Option<String>,
    default: T,
    expected: &str,
) -> Result<T, SettingsError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| env_error(name, format!("expected {expected}, found {raw:?}"))),
    }
}

fn env_error(name: &str, message: String) -> SettingsError {
    SettingsError::Source {
        source_name: format!("environment variable {name}"),
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<EtcdConfig>, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        EtcdConfig::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn no_host_no_etcd() {
        assert!(from(&[]).unwrap().is_none());
        assert!(from(&[(HOST_VAR, "")]).unwrap().is_none());
    }

    #[test]
    fn host_port_and_endpoints() {
        let config = from(&[(HOST_VAR, "127.0.0.1")]).unwrap().unwrap();
        assert_eq!(config.endpoints(), ["127.0.0.1:2379"]);
        let config = from(&[
            (HOST_VAR, "127.0.0.1"),
            (PORT_VAR, "4001"),
            (ENDPOINTS_VAR, "127.0.0.1:4001, http://127.0.0.1:4002,"),
            (PREFIX_VAR, "apps/"),
            (CONNECT_RETRIES_VAR, "2"),
            (CHECK_KEY_VAR, "system.ready"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            config.endpoints(),
            ["127.0.0.1:4001", "http://127.0.0.1:4002"]
        );
        assert_eq!(config.mapping().prefix(), "apps/");
        assert_eq!(config.connect_retries(), 2);
        assert_eq!(config.check_key(), Some("system.ready"));
        assert_eq!(
            config.describe(),
            "etcd at 127.0.0.1:4001, http://127.0.0.1:4002"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = from(&[(HOST_VAR, "h"), (PORT_VAR, "http")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(PORT_VAR) && err.contains("port number"),
            "{err}"
        );
        let err = from(&[(HOST_VAR, "h"), (USER_VAR, "root")])
            .unwrap_err()
            .to_string();
        assert!(err.contains(PASSWORD_VAR), "{err}");
    }

    #[test]
    fn the_password_is_never_printed() {
        let config = from(&[
            (HOST_VAR, "h"),
            (USER_VAR, "root"),
            (PASSWORD_VAR, "hunter2"),
        ])
        .unwrap()
        .unwrap();
        let shown = format!("{config:?} {}", config.describe());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("root") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}

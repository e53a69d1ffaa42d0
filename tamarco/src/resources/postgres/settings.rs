//! The resource's settings (`system.resources.<name>`), checked and turned into a
//! `tokio_postgres::Config`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use tamarco_core::secret::Secret;
use tamarco_core::settings::Duration as SettingDuration;
use tamarco_core::{ResourceContext, SettingsError};

/// The settings of a [`Postgres`](super::Postgres) resource, at `system.resources.<name>`,
/// with the Python original's key names. Every key has a default, so a resource runs against a
/// local server with no settings at all.
/// Durations are seconds (`10`, `0.5`) or text with a unit (`250ms`, `1m`).
///
/// ```yaml
/// system:
///   resources:
///     postgres:
///       url: null                  # postgres://user:password@host:port/database, or
///       host: 127.0.0.1            # these keys (they override the URL's parts)
///       port: 5432
///       user: postgres
///       password: null             # never logged, never in /status nor in errors
///       database: null             # defaults to the user name, as PostgreSQL does
///       application_name: null     # defaults to the service name
///       pool_size: 16              # connections at most
///       connection_timeout: 10     # seconds to open one connection, and for the first at start
///       wait_timeout: 30           # seconds a caller waits for a free connection
///       statement_timeout: 0       # seconds a statement may run on the server; 0: no limit
///       verify_idle_after: 5       # seconds idle after which a connection is checked before use
///       stop_timeout: 10           # seconds stop waits for queries in flight
///       sslmode: prefer            # disable, prefer, require, verify-ca, verify-full (libpq's
///                                  # meanings); the last three need the feature `postgres-tls`
///       sslrootcert: null          # a PEM file of CA certificates to verify the server with
/// ```
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PostgresSettings {
    /// A connection URL (`postgres://user:password@host:port/database?options`); the other
    /// keys, when given, override its parts.
    pub url: Option<Secret<String>>,
    /// The server's host name or address.
    pub host: Option<String>,
    /// The server's port.
    pub port: Option<u16>,
    /// The user name.
    pub user: Option<String>,
    /// The password; a number is read as text. Never logged, shown in `/status` nor in errors.
    pub password: Option<Secret<String>>,
    /// The database; PostgreSQL defaults it to the user name.
    pub database: Option<String>,
    /// The `application_name` the server shows in `pg_stat_activity`; the service's name when
    /// not set.
    pub application_name: Option<String>,
    /// The most connections the pool opens.
    pub pool_size: usize,
    /// The time to open one connection; at start, the first must open within this time.
    pub connection_timeout: SettingDuration,
    /// The time a caller waits for a free connection before its query fails.
    pub wait_timeout: SettingDuration,
    /// The time a statement may run on the server (`statement_timeout`); 0 for no limit.
    pub statement_timeout: SettingDuration,
    /// The time a pooled connection may sit idle before it is checked (an empty query) before
    /// a caller gets it; a dead one is replaced.
    pub verify_idle_after: SettingDuration,
    /// The time `stop` waits for the queries and transactions in flight.
    pub stop_timeout: SettingDuration,
    /// Whether and how to use TLS; the URL's `sslmode`, or `prefer`, when not set.
    pub sslmode: Option<SslMode>,
    /// A PEM file of the CA certificates that sign the server's certificate: needed by
    /// `verify-ca` and `verify-full`, and checked by `require` when given.
    pub sslrootcert: Option<PathBuf>,
}

/// TLS to the server, with libpq's names and meanings. Without the cargo feature
/// `postgres-tls`, only `disable` and `prefer` (which then never encrypts) are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it (with `postgres-tls`), else plain.
    Prefer,
    /// TLS or no connection; the server's certificate is checked only against `sslrootcert`,
    /// when given.
    Require,
    /// TLS, with a certificate signed by a CA of `sslrootcert`.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// Its name in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl Default for PostgresSettings {
    fn default() -> Self {
        PostgresSettings {
            url: None,
            host: None,
            port: None,
            user: None,
            password: None,
            database: None,
            application_name: None,
            pool_size: 16,
            connection_timeout: SettingDuration::from_secs(10),
            wait_timeout: SettingDuration::from_secs(30),
            statement_timeout: SettingDuration::ZERO,
            verify_idle_after: SettingDuration::from_secs(5),
            stop_timeout: SettingDuration::from_secs(10),
            sslmode: None,
            sslrootcert: None,
        }
    }
}

impl fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &self.url)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("database", &self.database)
            .field("application_name", &self.application_name)
            .field("pool_size", &self.pool_size)
            .field("connection_timeout", &self.connection_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("verify_idle_after", &self.verify_idle_after)
            .field("stop_timeout", &self.stop_timeout)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .finish()
    }
}

/// The settings, checked, with the client configuration built from them.
pub(crate) struct Config {
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) pool_size: usize,
    pub(crate) connection_timeout: Duration,
    pub(crate) wait_timeout: Duration,
    pub(crate) verify_idle_after: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) ssl_mode: SslMode,
    /// The connector for every mode but `disable`.
    #[cfg(feature = "postgres-tls")]
    pub(crate) tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.describe())
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads and checks the resource's settings; errors name the full key, never a value.
    pub(crate) fn load(cx: &ResourceContext) -> Result<Config, SettingsError> {
        let view = cx.settings();
        let settings: PostgresSettings = view.load_checked(&[])?;
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            key: view.full_key(key),
            message,
        };
        let mut pg = match &settings.url {
            Some(url) => tokio_postgres::Config::from_str(url.expose())
                // The parser's messages name the faulty part, never echo the URL.
                .map_err(|e| invalid("url", format!("not a PostgreSQL URL: {e}")))?,
            None => tokio_postgres::Config::new(),
        };
        if settings.pool_size == 0 {
            return Err(invalid("pool_size", "must be at least 1".to_owned()));
        }
        let host = settings.host.clone().unwrap_or_else(|| {
            pg.get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_else(|| "127.0.0.1".to_owned())
        });
        let port = settings
            .port
            .or_else(|| pg.get_ports().first().copied())
            .unwrap_or(5432);
        let user = settings
            .user
            .clone()
            .or_else(|| pg.get_user().map(str::to_owned))
            .unwrap_or_else(|| "postgres".to_owned());
        let database = settings
            .database
            .clone()
            .or_else(|| pg.get_dbname().map(str::to_owned))
            .unwrap_or_else(|| user.clone());
        // One host and port: the URL's parts, overridden by the keys.
        let mut fresh = tokio_postgres::Config::new();
        copy_options(&pg, &mut fresh);
        pg = fresh;
        pg.host(&host);
        pg.port(port).user(&user).dbname(&database);
        if let Some(password) = &settings.password {
            pg.password(password.expose());
        }
        let application_name = settings
            .application_name
            .clone()
            .or_else(|| pg.get_application_name().map(str::to_owned))
            .unwrap_or_else(|| cx.service().to_owned());
        pg.application_name(&application_name);
        let connection_timeout = settings.connection_timeout.get();
        pg.connect_timeout(connection_timeout);
        let statement_timeout = settings.statement_timeout.get();
        if !statement_timeout.is_zero() {
            // Sent in the startup packet: no extra round trip per connection.
            let millis = statement_timeout.as_millis().max(1);
            let options = match pg.get_options() {
                Some(existing) => format!("{existing} -c statement_timeout={millis}"),
                None => format!("-c statement_timeout={millis}"),
            };
            pg.options(options);
        }
        let ssl_mode = settings.sslmode.unwrap_or(match pg.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        });
        pg.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        #[cfg(not(feature = "postgres-tls"))]
        if !matches!(ssl_mode, SslMode::Disable | SslMode::Prefer) {
            return Err(invalid(
                "sslmode",
                format!(
                    "`{}` needs TLS, which is not in this build; turn on the cargo feature `postgres-tls` of `tamarco`",
                    ssl_mode.as_str()
                ),
            ));
        }
        #[cfg(feature = "postgres-tls")]
        let tls = match ssl_mode {
            SslMode::Disable => None,
            mode => Some(
                super::tls::connector(
                    match mode {
                        SslMode::VerifyCa => super::tls::Verify::Chain,
                        SslMode::VerifyFull => super::tls::Verify::ChainAndName,
                        _ => super::tls::Verify::IfRootGiven,
                    },
                    settings.sslrootcert.as_deref(),
                )
                .map_err(|e| {
                    invalid(
                        "sslrootcert",
                        format!("for sslmode `{}`: {e}", mode.as_str()),
                    )
                })?,
            ),
        };
        Ok(Config {
            pg,
            ssl_mode,
            #[cfg(feature = "postgres-tls")]
            tls,
            pool_size: settings.pool_size,
            connection_timeout,
            wait_timeout: settings.wait_timeout.get(),
            verify_idle_after: settings.verify_idle_after.get(),
            stop_timeout: settings.stop_timeout.get(),
            host,
            port,
            user,
            database,
        })
    }

    /// Where the server is, without the password: for logs, errors and `/status`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }

    /// `host:port`, for the error of a failed start.
    pub(crate) fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Carries the URL's options other than host, port, user and database over to a fresh
/// configuration.
fn copy_options(from: &tokio_postgres::Config, to: &mut tokio_postgres::Config) {
    if let Some(password) = from.get_password() {
        to.password(password);
    }
    if let Some(options) = from.get_options() {
        to.options(options);
    }
    if let Some(name) = from.get_application_name() {
        to.application_name(name);
    }
    to.ssl_mode(from.get_ssl_mode());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: serde_json::Value) -> Result<PostgresSettings, serde_json::Error> {
        serde_json::from_value(yaml)
    }

    #[test]
    fn a_numeric_password_is_text_and_never_printed() {
        let settings = parse(serde_json::json!({"password": 12345678, "user": "app"})).unwrap();
        assert_eq!(settings.password.as_ref().unwrap().expose(), "12345678");
        assert!(!format!("{settings:?}").contains("12345678"));
    }

    #[test]
    fn a_bad_password_type_does_not_echo_it() {
        let error = parse(serde_json::json!({"password": ["hunter2"]})).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}

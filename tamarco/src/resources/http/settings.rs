//! The settings of the HTTP resources, read from `system.resources.<name>`. Every key has a
//! default, so a resource runs with no settings at all.

#[cfg(feature = "http-client")]
use std::collections::BTreeMap;
#[cfg(feature = "http-client")]
use std::fmt;

use serde::Deserialize;
use tamarco_core::settings::{Duration, LegacyKey};

#[cfg(feature = "http-client")]
use crate::secret::MASK;

/// Settings of an [`HttpServer`](super::HttpServer) (and of a
/// [`WebSocketServer`](crate::websocket::WebSocketServer)), at `system.resources.<name>`.
/// Every `*_seconds` key is a [`Duration`]: a number of seconds or text such as `"500ms"`.
///
/// ```yaml
/// system:
///   resources:
///     http_server:
///       host: 127.0.0.1            # a name or an address; 0.0.0.0 for every interface
///       port: 8080                 # 0 picks a free port (see `HttpServer::local_addr`)
///       keep_alive: true           # false answers `Connection: close`, as the Python original
///       request_body_limit_bytes: 2097152
///       request_timeout_seconds: 0         # 0: none; else a late handler's request gets 408
///       header_read_timeout_seconds: 10    # 0: none; closes slow and idle clients (slowloris)
///       max_connections: 4096      # at the cap, new clients wait until a connection closes
///       drain_delay_seconds: 0     # on stop, keep accepting this long (readiness is already 503)
///       drain_timeout_seconds: null  # then wait this long for in-flight requests;
///                                    # null: half the grace period (15 s by default)
///       request_id_header: x-request-id
///       request_log_level: debug   # the per-request span and log line: info, debug or off
///       cors:
///         permissive: false        # true: any origin, method and header (the original's default)
///         allow_origins: []        # ["https://example.com"], or ["*"]
///         allow_methods: []        # ["GET", "POST"], or ["*"]
///         allow_headers: []        # ["content-type"], or ["*"]
///         expose_headers: []
///         allow_credentials: false
///         max_age_seconds: null
///       cache:
///         enabled: false
///         ttl_seconds: 60
///         max_entries: 1024
///         max_body_bytes: 1048576
///         headers: []              # request headers that are part of the key, e.g. [accept-language]
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerSettings {
    /// The host name or address to listen on.
    pub host: String,
    /// The port; 0 picks a free one.
    pub port: u16,
    /// Whether connections stay open between requests (HTTP/1.1 keep-alive).
    pub keep_alive: bool,
    /// The largest request body axum's body extractors accept (413 beyond it).
    pub request_body_limit_bytes: usize,
    /// How long a handler may take before the request is answered with 408; 0 (the default)
    /// turns it off. A timeout costs a timer per request.
    pub request_timeout_seconds: Duration,
    /// How long a client may take to send a request's headers (10 by default), counted from
    /// the connection's opening or the end of its previous response, before its connection is
    /// closed (within a quarter more), so that idle and slow clients cannot hold connections
    /// for ever; 0 turns it off. One timer per connection checks it, none per request.
    pub header_read_timeout_seconds: Duration,
    /// The most connections open at once (4096 by default). At the cap the server accepts no
    /// more until one closes; new clients wait in the system's listen backlog. Keep it below
    /// the process's open-file limit (`ulimit -n`).
    pub max_connections: usize,
    /// On stop, how long the server keeps accepting connections before it closes its listener.
    /// Readiness (`/health/ready`) is 503 from the moment the stop begins, so a load balancer
    /// that polls it stops sending traffic during this delay.
    pub drain_delay_seconds: Duration,
    /// On stop, how long in-flight requests may take to finish before their connections are
    /// closed. Unset (the default), half the service's grace period
    /// (`system.shutdown.grace_period_seconds`), so that the resources stopped after the
    /// server keep the rest; the stop's deadline bounds it in any case. Connections that never
    /// sent a whole request (idle or half-open clients) are closed at once, whatever this says.
    pub drain_timeout_seconds: Option<Duration>,
    /// The header that carries the request id, read from the request or generated, and echoed
    /// in the response.
    pub request_id_header: String,
    /// The level of the span each request runs in and of the line that logs it: `info`,
    /// `debug` (the default: seen with the DEVELOP profile) or `off`. A 5xx is logged at warn
    /// level whatever this says.
    pub request_log_level: String,
    /// The CORS policy.
    pub cors: CorsSettings,
    /// The response cache.
    pub cache: CacheSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            keep_alive: true,
            request_body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_seconds: Duration::ZERO,
            header_read_timeout_seconds: Duration::from_secs(10),
            max_connections: 4096,
            drain_delay_seconds: Duration::ZERO,
            drain_timeout_seconds: None,
            request_id_header: "x-request-id".to_owned(),
            request_log_level: "debug".to_owned(),
            cors: CorsSettings::default(),
            cache: CacheSettings::default(),
        }
    }
}

/// The HTTP server keys of the Python original: each is read as its tamarco key, with a
/// one-time warning naming both; `debug` (Sanic's debug mode) has no effect.
pub(crate) const LEGACY_SERVER_KEYS: &[LegacyKey] = &[
    LegacyKey::renamed("keep_alive_connections", "keep_alive"),
    LegacyKey::renamed("cache_enabled", "cache.enabled"),
    LegacyKey::renamed("cache_maxsize", "cache.max_entries"),
    LegacyKey::renamed("cache_ttl", "cache.ttl_seconds"),
    LegacyKey::renamed("cache_header_keys", "cache.headers"),
    LegacyKey::no_effect(
        "debug",
        "it switched on the Python web framework's debug mode; for more detail in the logs set `system.logging.profile: DEVELOP`",
    ),
];

/// The CORS policy of a server, at `system.resources.<name>.cors`. With every list empty and
/// `permissive` off (the default), the server sends no CORS headers.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CorsSettings {
    /// Any origin, any method, any header: what the Python original did by default.
    pub permissive: bool,
    /// Allowed origins (`https://example.com`), or `*` for any.
    pub allow_origins: Vec<String>,
    /// Allowed methods (`GET`), or `*` for any.
    pub allow_methods: Vec<String>,
    /// Allowed request headers, or `*` for any.
    pub allow_headers: Vec<String>,
    /// Response headers the browser may show to scripts.
    pub expose_headers: Vec<String>,
    /// Whether credentials (cookies) are allowed; not with `*` origins.
    pub allow_credentials: bool,
    /// How long a browser may cache a preflight answer.
    pub max_age_seconds: Option<Duration>,
}

impl CorsSettings {
    /// Whether a CORS layer is needed at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.permissive
            || !self.allow_origins.is_empty()
            || !self.allow_methods.is_empty()
            || !self.allow_headers.is_empty()
            || !self.expose_headers.is_empty()
    }
}

/// The response cache of a server, at `system.resources.<name>.cache`: see
/// [`ResponseCacheLayer`](super::ResponseCacheLayer).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheSettings {
    /// Whether the server caches responses (off by default).
    pub enabled: bool,
    /// How long a response stays fresh.
    pub ttl_seconds: Duration,
    /// The most responses kept; the oldest go first.
    pub max_entries: usize,
    /// Larger responses, and streamed ones of unknown size, are not cached.
    pub max_body_bytes: usize,
    /// Request headers whose values are part of the cache key, besides the URL.
    pub headers: Vec<String>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: false,
            ttl_seconds: Duration::from_secs(60),
            max_entries: 1024,
            max_body_bytes: 1024 * 1024,
            headers: Vec::new(),
        }
    }
}

/// Settings of an [`HttpClient`](super::HttpClient), at `system.resources.<name>`.
///
/// Its `Debug` output hides what may be a secret: the user and password of `base_url`
/// (`http://***@host/`) and the values of `default_headers` (an `authorization` header, an
/// API key). The client also marks those headers sensitive, so that they never show in its own
/// `Debug` output, and errors name a bad header without its value.
///
/// ```yaml
/// system:
///   resources:
///     backend:
///       base_url: http://127.0.0.1:8080/api   # paths given to get/post are relative to it
///       timeout_seconds: 30                  # whole request; 0: none
///       connect_timeout_seconds: 10          # 0: none
///       pool_idle_timeout_seconds: 90
///       pool_max_idle_per_host: 32
///       user_agent: tamarco/0.1.0
///       default_headers: {x-api-version: "2"}
///       discovery: {service: orders}         # opt-in: call the instances of `orders` instead
/// ```
///
/// With `discovery`, [`HttpClient::send`](super::HttpClient::send) calls the registered
/// instances of the service in turn (see [`DiscoverySettings`](super::DiscoverySettings)).
#[cfg(feature = "http-client")]
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientSettings {
    /// The URL that relative paths are joined to.
    pub base_url: Option<String>,
    /// The time limit of a whole request, response body included; 0 turns it off.
    pub timeout_seconds: Duration,
    /// The time limit to connect; 0 turns it off.
    pub connect_timeout_seconds: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout_seconds: Duration,
    /// How many idle connections are kept per host.
    pub pool_max_idle_per_host: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Headers sent with every request.
    pub default_headers: BTreeMap<String, String>,
    /// Calls the instances of a service found in the registry rather than `base_url`
    /// (opt-in, so that a real host named like a service is never shadowed).
    pub discovery: Option<super::discovery::DiscoverySettings>,
}

#[cfg(feature = "http-client")]
impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            base_url: None,
            timeout_seconds: Duration::from_secs(30),
            connect_timeout_seconds: Duration::from_secs(10),
            pool_idle_timeout_seconds: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            user_agent: concat!("tamarco/", env!("CARGO_PKG_VERSION")).to_owned(),
            default_headers: BTreeMap::new(),
            discovery: None,
        }
    }
}

#[cfg(feature = "http-client")]
impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .default_headers
            .keys()
            .map(|name| (name.as_str(), MASK))
            .collect();
        f.debug_struct("ClientSettings")
            .field("base_url", &self.base_url.as_deref().map(redact_url))
            .field("timeout_seconds", &self.timeout_seconds)
            .field("connect_timeout_seconds", &self.connect_timeout_seconds)
            .field("pool_idle_timeout_seconds", &self.pool_idle_timeout_seconds)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("user_agent", &self.user_agent)
            .field("default_headers", &headers)
            .field("discovery", &self.discovery)
            .finish()
    }
}

/// `url` with its `user:password@` part, if any, replaced by `***@` (a user name alone may be
/// a token). Works on text that is not a valid URL too, for error messages.
#[cfg(feature = "http-client")]
pub(crate) fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..authority_end];
    match authority.rfind('@') {
        Some(at) => format!("{}{MASK}{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

#[cfg(all(test, feature = "http-client"))]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked_and_the_rest_is_kept() {
        assert_eq!(
            redact_url("http://me:hunter2@example.com:8080/a@b?x=1"),
            "http://***@example.com:8080/a@b?x=1"
        );
        assert_eq!(
            redact_url("http://token@example.com/"),
            "http://***@example.com/"
        );
        assert_eq!(redact_url("https://example.com/a"), "https://example.com/a");
        assert_eq!(redact_url("not a url: me:pw@host"), "***@host");
    }
}

//! The settings of the HTTP resources, read from `system.resources.<name>`. Every key has a
//! default, so a resource runs with no settings at all.

#[cfg(feature = "http-client")]
use std::collections::BTreeMap;

use serde::Deserialize;
use tamarco_core::settings::Duration;

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
///       header_read_timeout_seconds: 0     # 0: none; e.g. 30 against slow clients (slowloris)
///       drain_delay_seconds: 0     # on stop, keep accepting this long (readiness is already 503)
///       drain_timeout_seconds: 30  # then wait this long for in-flight requests
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
#[serde(default)]
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
    /// How long a client may take to send a request's headers; 0 (the default, as axum's own
    /// server) turns it off. Set it for servers that face the internet; it costs a timer per
    /// request.
    pub header_read_timeout_seconds: Duration,
    /// On stop, how long the server keeps accepting connections before it closes its listener.
    /// Readiness (`/health/ready`) is 503 from the moment the stop begins, so a load balancer
    /// that polls it stops sending traffic during this delay.
    pub drain_delay_seconds: Duration,
    /// On stop, how long in-flight requests may take to finish before their connections are
    /// closed. The service's grace period bounds the whole stop as well.
    pub drain_timeout_seconds: Duration,
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
            header_read_timeout_seconds: Duration::ZERO,
            drain_delay_seconds: Duration::ZERO,
            drain_timeout_seconds: Duration::from_secs(30),
            request_id_header: "x-request-id".to_owned(),
            request_log_level: "debug".to_owned(),
            cors: CorsSettings::default(),
            cache: CacheSettings::default(),
        }
    }
}

/// The CORS policy of a server, at `system.resources.<name>.cors`. With every list empty and
/// `permissive` off (the default), the server sends no CORS headers.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
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
#[serde(default)]
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
/// ```
#[cfg(feature = "http-client")]
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
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
        }
    }
}

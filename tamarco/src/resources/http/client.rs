//! [`HttpClient`]: one pooled HTTP client per resource, built on start and dropped on stop.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, Response, Url};
use tracing::Instrument as _;

use super::client_request::ClientRequest;
use super::client_span;
use super::discovery::{self, Balancer};

use super::settings::{ClientSettings, redact_url};
use crate::{BoxError, Resource, ResourceContext};

/// An HTTP client resource: one [`reqwest::Client`] (a connection pool) with the timeouts, base
/// URL and default headers of `system.resources.<name>` (see [`ClientSettings`]). It is built
/// on start and dropped on stop.
///
/// ```no_run
/// use tamarco::http::HttpClient;
/// use tamarco::prelude::*;
///
/// #[microservice]
/// #[derive(Default)]
/// struct Poller {
///     #[resource]
///     backend: HttpClient, // system.resources.backend.base_url: http://127.0.0.1:8080/api
/// }
///
/// #[microservice]
/// impl Poller {
///     #[task_timer(interval = "5s")]
///     async fn poll(&self) -> Result<(), BoxError> {
///         let body = self.backend.get("health").send().await?.error_for_status()?.text().await?;
///         tamarco::tracing::info!(%body, "backend answered");
///         Ok(())
///     }
/// }
/// # fn main() { let _ = Poller::default().run(); }
/// ```
///
/// A handler of an [`HttpServer`](super::HttpServer) that uses a client must not outlive it:
/// declare the client before the server, or name it in the server's `depends_on`, so that the
/// server drains before the client stops.
#[derive(Debug, Default)]
pub struct HttpClient {
    settings: Mutex<Option<Prepared>>,
    client: Mutex<Option<Client>>,
}

/// The settings, checked in configure.
#[derive(Clone)]
struct Prepared {
    settings: ClientSettings,
    base_url: Option<Url>,
    headers: HeaderMap,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    balancer: Option<Arc<Balancer>>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings' own Debug hides the URL's password and the headers' values.
        f.debug_struct("Prepared")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client that reads its settings from `system.resources.<its name>`.
    pub fn new() -> Self {
        HttpClient::default()
    }

    /// The pooled client, once started; `None` before the start and after the stop. Clones
    /// share the pool.
    pub fn try_client(&self) -> Option<Client> {
        let client = self.client.lock().expect("client lock");
        client.clone()
    }

    /// The pooled client.
    ///
    /// # Panics
    ///
    /// Before the resource started or after it stopped.
    pub fn client(&self) -> Client {
        self.try_client()
            .expect("the HttpClient is used before its start or after its stop")
    }

    /// The base URL from the settings, once configured.
    pub fn base_url(&self) -> Option<Url> {
        let settings = self.settings.lock().expect("settings lock");
        settings.as_ref().and_then(|s| s.base_url.clone())
    }

    /// The URL for `path`: an absolute URL is kept; anything else is appended to the base URL
    /// (`http://host/api` and `users/1` or `/users/1` give `http://host/api/users/1`).
    pub fn url(&self, path: &str) -> Result<Url, BoxError> {
        if let Ok(url) = Url::parse(path) {
            return Ok(url);
        }
        let base = self
            .base_url()
            .ok_or_else(|| format!("{path:?} is not a URL and the client has no `base_url`"))?;
        let joined = format!(
            "{}/{}",
            base.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Ok(Url::parse(&joined)?)
    }

    /// A request with `method` to `path` (see [`url`](Self::url)). A bad path shows up as
    /// the error of `send()`. With `system.tracing` on, the request is a client span from now
    /// until its answer (see [`ClientRequest`]).
    ///
    /// With `discovery`, the request goes to the next instance of the service in turn, from
    /// the list as followed now; one that refused a connection lately (as [`send`] saw) is
    /// picked only when no other is left. Unlike [`send`], the request is not sent to another
    /// instance when this one refuses it.
    ///
    /// # Panics
    ///
    /// Before the resource started or after it stopped.
    ///
    /// [`send`]: Self::send
    pub fn request(&self, method: Method, path: &str) -> ClientRequest {
        let client = self.client();
        let url = match self.balancer() {
            Some(balancer) => balancer
                .next_now()
                .and_then(|address| balancer.url(&address, path))
                .inspect_err(|error| tracing::warn!("discovery: {error}")),
            None => self.url(path),
        };
        let span = client_span::start(&method, url.as_ref().ok());
        let request = match url {
            Ok(url) => client.request(method, url),
            // reqwest reports an unparsable URL when the request is sent.
            Err(_) => client.request(method, path),
        };
        // The request's span becomes the parent of the server's (W3C `traceparent`).
        let request = request.headers(span.in_scope(client_span::context_headers));
        ClientRequest::new(request, span)
    }

    /// Sends a request with `method` to `path`, shaped by `build` (headers, body), and returns
    /// the answer. With `discovery`, the request goes to the service's instances in turn; an
    /// instance that refuses the connection (or drops an idempotent request unanswered) is
    /// passed over and the request goes to the next one. Without, it goes to
    /// [`url`](Self::url). With `system.tracing` on, the request is a client span, and the
    /// server's span is its child.
    ///
    /// ```no_run
    /// # #[allow(dead_code)]
    /// # async fn f(orders: &tamarco::http::HttpClient) -> Result<(), tamarco::BoxError> {
    /// use tamarco::http::reqwest::Method;
    /// let answer = orders.send(Method::GET, "/orders/7", |request| request).await?;
    /// # let _ = answer; Ok(()) }
    /// ```
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, BoxError> {
        let client = self
            .try_client()
            .ok_or("the HttpClient is used before its start or after its stop")?;
        // Where the request goes: a URL, or the instances discovery finds.
        let target = match self.balancer() {
            Some(balancer) => Err(balancer),
            None => Ok(self.url(path)?),
        };
        let span = client_span::start(&method, target.as_ref().ok());
        // Built inside the span: the headers carry its context.
        let build =
            |request: RequestBuilder| build(request.headers(client_span::context_headers()));
        let sending = async {
            match target {
                Ok(url) => build(client.request(method, url))
                    .send()
                    .await
                    .map_err(BoxError::from),
                Err(balancer) => discovery::send(&balancer, &client, method, path, build).await,
            }
        };
        let outcome = sending.instrument(span.clone()).await;
        client_span::end(&span, &outcome);
        outcome
    }

    /// The balancer, with `discovery`.
    fn balancer(&self) -> Option<Arc<Balancer>> {
        let settings = self.settings.lock().expect("settings lock");
        settings.as_ref().and_then(|s| s.balancer.clone())
    }

    /// A GET request to `path`, relative to the base URL. See [`request`](Self::request).
    pub fn get(&self, path: &str) -> ClientRequest {
        self.request(Method::GET, path)
    }

    /// A POST request to `path`, relative to the base URL. See [`request`](Self::request).
    pub fn post(&self, path: &str) -> ClientRequest {
        self.request(Method::POST, path)
    }

    /// A PUT request to `path`, relative to the base URL. See [`request`](Self::request).
    pub fn put(&self, path: &str) -> ClientRequest {
        self.request(Method::PUT, path)
    }

    /// A DELETE request to `path`, relative to the base URL. See [`request`](Self::request).
    pub fn delete(&self, path: &str) -> ClientRequest {
        self.request(Method::DELETE, path)
    }
}

/// The balancer of a client with `discovery`, checked: the service must be named.
fn discovery_balancer(
    settings: &ClientSettings,
    cx: &ResourceContext,
    root: &str,
) -> Result<Option<Arc<Balancer>>, BoxError> {
    let Some(discovery) = &settings.discovery else {
        return Ok(None);
    };
    if discovery.service.is_empty() {
        return Err(format!("setting `{root}.discovery.service`: name the service to call").into());
    }
    if !matches!(discovery.scheme.as_str(), "http" | "https") {
        return Err(
            format!("setting `{root}.discovery.scheme`: expected `http` or `https`").into(),
        );
    }
    let balancer = Balancer::new(discovery.clone(), cx.registry().clone());
    Ok(Some(Arc::new(balancer)))
}

/// A [`reqwest::ClientBuilder`] ready to build: TLS is rustls, whose process-wide crypto
/// provider this installs (ring) unless the program installed one before. Use it for clients
/// of your own; a bare `reqwest::Client::new()` would panic without a provider.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
}

impl Resource for HttpClient {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let root = cx.settings().root().to_owned();
        let settings: ClientSettings = cx.settings().load_checked(&[])?;
        let base_url = match &settings.base_url {
            Some(url) => Some(Url::parse(url).map_err(|e| {
                let shown = redact_url(url);
                format!("setting `{root}.base_url`: {shown:?} is not a URL: {e}")
            })?),
            None => None,
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.default_headers {
            // The value may be a secret (a token): errors do not show it.
            let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                format!("setting `{root}.default_headers`: {name:?} is not a header name")
            })?;
            let mut value = HeaderValue::try_from(value.as_str()).map_err(|_| {
                format!(
                    "setting `{root}.default_headers.{name}`: the value (not shown) is not a \
                     valid header value"
                )
            })?;
            // Hidden from the client's Debug output (and never indexed by HTTP/2 HPACK).
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let prepared = Prepared {
            base_url,
            headers,
            timeout: settings.timeout_seconds.non_zero(),
            connect_timeout: settings.connect_timeout_seconds.non_zero(),
            pool_idle_timeout: settings.pool_idle_timeout_seconds.non_zero(),
            balancer: discovery_balancer(&settings, cx, &root)?,
            settings,
        };
        *self.settings.lock().expect("settings lock") = Some(prepared);
        Ok(())
    }

    async fn start(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        let prepared = self
            .settings
            .lock()
            .expect("settings lock")
            .clone()
            .ok_or("the client was not configured")?;
        let mut builder = client_builder()
            .user_agent(prepared.settings.user_agent.clone())
            .default_headers(prepared.headers.clone())
            .pool_idle_timeout(prepared.pool_idle_timeout)
            .pool_max_idle_per_host(prepared.settings.pool_max_idle_per_host);
        if let Some(timeout) = prepared.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(timeout) = prepared.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        let client = builder.build()?;
        *self.client.lock().expect("client lock") = Some(client);
        if let Some(balancer) = &prepared.balancer {
            balancer.prefetch().await;
        }
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        // Requests still running hold their own clone of the pool; new ones cannot start.
        self.client.lock().expect("client lock").take();
        Ok(())
    }
}

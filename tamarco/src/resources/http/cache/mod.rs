//! [`ResponseCacheLayer`]: a TTL cache of GET responses, keyed by URL and chosen request
//! headers, that marks every looked-up response with `x-cache: HIT` or `x-cache: MISS`.

mod store;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::HeaderName;
use axum::http::{Method, Request, Response};
use tower::{Layer, Service};

pub use store::X_CACHE;
use store::{Cache, Config, Store};

/// A tower layer that caches `200 OK` answers to `GET` requests for a time (the TTL).
///
/// The key is the request's URL (host, path and query) plus the values of the request headers
/// named with [`key_headers`](Self::key_headers). A hit is answered from the cache with
/// `x-cache: HIT` and an `age` header; every other GET gets `x-cache: MISS`. A response is
/// stored only when its size is known and at most [`max_body_bytes`](Self::max_body_bytes),
/// and it has no `set-cookie` and no `cache-control: no-store` or `private`. At most
/// [`max_entries`](Self::max_entries) responses are kept; the oldest go first.
///
/// One user's answer is never served to another: a request with `authorization` or `cookie`
/// neither reads nor fills the cache, unless that header is one of the key headers (then each
/// value has its own entries). A response with `vary: *` is not stored; one that varies on
/// other request headers is served only to requests with the same values of those headers.
///
/// An [`HttpServer`](super::HttpServer) applies it to every route when its setting
/// `cache.enabled` is true. To cache some routes only, apply it yourself:
///
/// ```
/// use std::time::Duration;
/// use tamarco::http::ResponseCacheLayer;
/// use tamarco::http::axum::{Router, routing::get};
///
/// let cached = Router::new()
///     .route("/prices", get(|| async { "42" }))
///     .layer(ResponseCacheLayer::new(Duration::from_secs(5)).key_headers(["accept-language"]));
/// let router: Router = Router::new().route("/live", get(|| async { "now" })).merge(cached);
/// # drop(router);
/// ```
#[derive(Clone)]
pub struct ResponseCacheLayer {
    cache: Arc<Cache>,
}

impl ResponseCacheLayer {
    /// A cache whose responses stay fresh for `ttl`, with at most 1024 entries of at most
    /// 1 MiB each, keyed by URL only.
    pub fn new(ttl: Duration) -> Self {
        Self::from_config(Config {
            ttl,
            max_entries: 1024,
            max_body_bytes: 1024 * 1024,
            headers: Vec::new(),
        })
    }

    fn from_config(config: Config) -> Self {
        ResponseCacheLayer {
            cache: Arc::new(Cache {
                config,
                store: Mutex::new(Store::default()),
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.cache.config.clone();
        change(&mut config);
        Self::from_config(config)
    }

    /// Keeps at most `max` responses (at least 1).
    pub fn max_entries(self, max: usize) -> Self {
        self.with(|config| config.max_entries = max.max(1))
    }

    /// Stores only responses of at most `max` bytes.
    pub fn max_body_bytes(self, max: usize) -> Self {
        self.with(|config| config.max_body_bytes = max)
    }

    /// Makes the values of these request headers part of the key (a `Vary`, in HTTP terms).
    ///
    /// # Panics
    ///
    /// If a name is not a valid header name.
    pub fn key_headers<I>(self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let headers = names
            .into_iter()
            .map(|name| {
                HeaderName::try_from(name.as_ref())
                    .unwrap_or_else(|_| panic!("{:?} is not a header name", name.as_ref()))
            })
            .collect();
        self.with(|config| config.headers = headers)
    }

    /// The settings' cache, or an error naming the bad header.
    pub(crate) fn from_settings(
        root: &str,
        settings: &super::CacheSettings,
    ) -> Result<Self, String> {
        let ttl = settings.ttl_seconds.get();
        let headers = settings
            .headers
            .iter()
            .map(|name| {
                HeaderName::try_from(name.as_str()).map_err(|_| {
                    format!("setting `{root}.cache.headers`: {name:?} is not a header name")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::from_config(Config {
            ttl,
            max_entries: settings.max_entries.max(1),
            max_body_bytes: settings.max_body_bytes,
            headers,
        }))
    }

    /// How many responses are stored now (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.cache.store.lock().expect("cache lock").len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every stored response.
    pub fn clear(&self) {
        *self.cache.store.lock().expect("cache lock") = Store::default();
    }
}

impl fmt::Debug for ResponseCacheLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.cache.config;
        f.debug_struct("ResponseCacheLayer")
            .field("ttl", &config.ttl)
            .field("max_entries", &config.max_entries)
            .field("max_body_bytes", &config.max_body_bytes)
            .field("headers", &config.headers)
            .finish()
    }
}

impl<S> Layer<S> for ResponseCacheLayer {
    type Service = ResponseCache<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponseCache {
            inner,
            cache: Arc::clone(&self.cache),
        }
    }
}

/// The service made by [`ResponseCacheLayer`].
#[derive(Clone)]
pub struct ResponseCache<S> {
    inner: S,
    cache: Arc<Cache>,
}

impl<S> fmt::Debug for ResponseCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseCache").finish_non_exhaustive()
    }
}

/// The response future of [`ResponseCache`].
pub type ResponseCacheFuture<E> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ResponseCache<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseCacheFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone is the ready one: keep it for this call, leave the fresh one (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.method() != Method::GET {
            let response = inner.call(request);
            return Box::pin(async move { Ok(response.await?.map(Body::new)) });
        }
        let cache = Arc::clone(&self.cache);
        if cache.personal(request.headers()) {
            let response = inner.call(request);
            return Box::pin(async move { Ok(Cache::miss(response.await?.map(Body::new))) });
        }
        let key = cache.key(&request);
        if let Some(hit) = cache.get(&key, request.headers()) {
            return Box::pin(std::future::ready(Ok(hit)));
        }
        // Kept for the response's `vary`, which is known only once it arrives.
        let headers = request.headers().clone();
        let response = inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(cache.store(key, &headers, response).await)
        })
    }
}

#[cfg(test)]
mod tests;

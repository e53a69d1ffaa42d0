//! The cache behind [`ResponseCacheLayer`](super::ResponseCacheLayer): keys, the rules for
//! what may be stored and served, and the bounded store with its eviction order.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::{
    AGE, AUTHORIZATION, CACHE_CONTROL, COOKIE, HOST, HeaderMap, HeaderName, HeaderValue,
    SET_COOKIE, VARY,
};
use axum::http::{Request, Response, StatusCode};

/// The header that says whether a response came from the cache.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// The settings and the stored responses of one layer.
pub(super) struct Cache {
    pub(super) config: Config,
    pub(super) store: Mutex<Store>,
}

#[derive(Clone)]
pub(super) struct Config {
    pub(super) ttl: Duration,
    pub(super) max_entries: usize,
    pub(super) max_body_bytes: usize,
    pub(super) headers: Vec<HeaderName>,
}

#[derive(Default)]
pub(super) struct Store {
    entries: HashMap<String, Entry>,
    /// Keys in insertion order, with the generation they were stored under; records whose
    /// entry was replaced or removed since are skipped.
    pub(super) order: VecDeque<(String, u64)>,
    generation: u64,
}

struct Entry {
    /// The request headers the response varies on (its `vary`), with the values it was
    /// answered for.
    vary: Vec<(HeaderName, Vec<HeaderValue>)>,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    stored: Instant,
    generation: u64,
}

impl Store {
    /// How many responses are stored (fresh or not yet evicted).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Cache {
    /// Whether the request carries a user's credentials (`authorization`, `cookie`) that are
    /// not part of the key: its answer may be for that user only.
    pub(super) fn personal(&self, headers: &HeaderMap) -> bool {
        [AUTHORIZATION, COOKIE]
            .iter()
            .any(|name| headers.contains_key(name) && !self.config.headers.contains(name))
    }

    /// `response` marked MISS.
    pub(super) fn miss(mut response: Response<Body>) -> Response<Body> {
        response
            .headers_mut()
            .insert(X_CACHE, HeaderValue::from_static("MISS"));
        response
    }

    /// The URL (host, path and query) and the chosen headers' values, one per line: a line
    /// break cannot occur inside any of them.
    pub(super) fn key<B>(&self, request: &Request<B>) -> String {
        let mut key = String::with_capacity(64);
        let host = request.headers().get(HOST).and_then(|h| h.to_str().ok());
        key.push_str(host.unwrap_or_default());
        key.push('\n');
        key.push_str(request.uri().path_and_query().map_or("/", |pq| pq.as_str()));
        for name in &self.config.headers {
            key.push('\n');
            for (i, value) in request.headers().get_all(name).iter().enumerate() {
                if i > 0 {
                    key.push(',');
                }
                key.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
        }
        key
    }

    /// A fresh stored response for a request with `headers`, marked HIT.
    pub(super) fn get(&self, key: &str, headers: &HeaderMap) -> Option<Response<Body>> {
        let mut store = self.store.lock().expect("cache lock");
        let entry = store.entries.get(key)?;
        let age = entry.stored.elapsed();
        if age >= self.config.ttl {
            store.entries.remove(key);
            return None;
        }
        let same = |(name, values): &(HeaderName, Vec<HeaderValue>)| {
            headers.get_all(name).iter().eq(values.iter())
        };
        if !entry.vary.iter().all(same) {
            return None;
        }
        let mut response = Response::new(Body::from(entry.body.clone()));
        *response.status_mut() = entry.status;
        *response.headers_mut() = entry.headers.clone();
        drop(store);
        let headers = response.headers_mut();
        headers.insert(X_CACHE, HeaderValue::from_static("HIT"));
        headers.insert(AGE, HeaderValue::from(age.as_secs()));
        Some(response)
    }

    /// Stores `response` to a request with `request` headers if it may be, and returns it
    /// marked MISS.
    pub(super) async fn store<B>(
        &self,
        key: String,
        request: &HeaderMap,
        response: Response<B>,
    ) -> Response<Body>
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let vary = vary(request, response.headers());
        let response = match vary {
            Some(vary) if self.storable(&response) => {
                let (parts, body) = response.into_parts();
                match axum::body::to_bytes(Body::new(body), self.config.max_body_bytes).await {
                    Ok(bytes) => {
                        self.insert(key, vary, parts.status, &parts.headers, bytes.clone());
                        Response::from_parts(parts, Body::from(bytes))
                    }
                    Err(error) => {
                        tracing::warn!("response cache: the response body failed: {error}");
                        let mut failed = Response::new(Body::empty());
                        *failed.status_mut() = StatusCode::BAD_GATEWAY;
                        failed
                    }
                }
            }
            _ => response.map(Body::new),
        };
        Cache::miss(response)
    }

    fn storable<B: HttpBody>(&self, response: &Response<B>) -> bool {
        let headers = response.headers();
        let forbidden = headers.get_all(CACHE_CONTROL).iter().any(|value| {
            let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase();
            value.contains("no-store") || value.contains("private")
        });
        let size = response.body().size_hint().exact();
        response.status() == StatusCode::OK
            && !forbidden
            && !headers.contains_key(SET_COOKIE)
            && size.is_some_and(|size| size <= self.config.max_body_bytes as u64)
    }

    fn insert(
        &self,
        key: String,
        vary: Vec<(HeaderName, Vec<HeaderValue>)>,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
    ) {
        let mut store = self.store.lock().expect("cache lock");
        let Store {
            entries,
            order,
            generation,
        } = &mut *store;
        *generation += 1;
        let now = Instant::now();
        let max = self.config.max_entries;
        if entries.len() >= max && !entries.contains_key(&key) {
            // Expired entries go first, then the oldest.
            entries.retain(|_, entry| now.duration_since(entry.stored) < self.config.ttl);
            while entries.len() >= max {
                let Some((old, old_generation)) = order.pop_front() else {
                    break;
                };
                if entries
                    .get(&old)
                    .is_some_and(|e| e.generation == old_generation)
                {
                    entries.remove(&old);
                }
            }
        }
        order.push_back((key.clone(), *generation));
        let entry = Entry {
            vary,
            status,
            headers: headers.clone(),
            body,
            stored: now,
            generation: *generation,
        };
        entries.insert(key, entry);
        if order.len() > 2 * max {
            order.retain(|(key, generation)| {
                entries
                    .get(key)
                    .is_some_and(|e| e.generation == *generation)
            });
        }
    }
}

/// The request headers named by the response's `vary`, with their values in `request`;
/// `None` for `vary: *` (the response may not be stored).
fn vary(request: &HeaderMap, response: &HeaderMap) -> Option<Vec<(HeaderName, Vec<HeaderValue>)>> {
    let mut varied = Vec::new();
    for value in response.get_all(VARY) {
        for name in String::from_utf8_lossy(value.as_bytes()).split(',') {
            let name = name.trim();
            if name == "*" {
                return None;
            }
            let Ok(name) = HeaderName::try_from(name) else {
                return None;
            };
            let values = request.get_all(&name).iter().cloned().collect();
            varied.push((name, values));
        }
    }
    Some(varied)
}

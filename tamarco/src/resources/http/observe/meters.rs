//! The request meters of one server: a counter and a latency histogram per route, method
//! and status, registered with the recorder on first use and then reused. Each layered
//! endpoint also keeps the handles of its first route, method and status at hand, so that its
//! usual request takes no lock and no lookup.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{OnceLock, RwLock};

use ::metrics::{Counter, Histogram, Label};
use axum::http::Method;

/// The meters of one server's routes.
pub(super) struct RouteMeters {
    server: String,
    /// Meter handles per route, then per method and status.
    by_route: RwLock<HashMap<String, MetersByKey, Fx>>,
}

/// The meters of one route, by method and status.
type MetersByKey = HashMap<(Method, u16), Meters, Fx>;

/// The handles of one route, method and status.
#[derive(Clone)]
pub(super) struct Meters {
    requests: Counter,
    latency: Histogram,
}

impl Meters {
    /// Counts one request and records its latency.
    pub(super) fn record(&self, seconds: f64) {
        self.requests.increment(1);
        self.latency.record(seconds);
    }
}

impl RouteMeters {
    pub(super) fn new(server: &str) -> Self {
        RouteMeters {
            server: server.to_owned(),
            by_route: RwLock::new(HashMap::default()),
        }
    }

    /// The meters of a route, method and status, registered with the recorder on first use.
    pub(super) fn meters(&self, route: &str, method: &Method, status: u16) -> Meters {
        let method = known_method(method);
        let key = (method.clone(), status);
        {
            let meters = self.by_route.read().expect("meters lock");
            if let Some(meters) = meters.get(route).and_then(|by_key| by_key.get(&key)) {
                return meters.clone();
            }
        }
        let labels = [
            Label::new("server", self.server.clone()),
            Label::new("route", route.to_owned()),
            Label::new("method", method.as_str().to_owned()),
            Label::new("status", status.to_string()),
        ];
        let meters = Meters {
            requests: ::metrics::counter!("http_server_requests_total", labels.iter()),
            latency: ::metrics::histogram!("http_server_request_duration_seconds", labels.iter()),
        };
        self.by_route
            .write()
            .expect("meters lock")
            .entry(route.to_owned())
            .or_default()
            .entry(key)
            .or_insert(meters)
            .clone()
    }
}

/// The meters an endpoint (one layered route handler, or a fallback) used first: most
/// endpoints answer one route, method and status nearly always.
#[derive(Default)]
pub(super) struct FirstMeters(OnceLock<First>);

struct First {
    route: String,
    method: Method,
    status: u16,
    meters: Meters,
}

impl FirstMeters {
    /// Counts one request of a route, method and status and records its latency: with the
    /// endpoint's first handles when they are the request's, otherwise through `all`.
    pub(super) fn record(
        &self,
        all: &RouteMeters,
        route: &str,
        method: &Method,
        status: u16,
        seconds: f64,
    ) {
        if let Some(first) = self.0.get()
            && first.status == status
            && first.method == method
            && first.route == route
        {
            first.meters.record(seconds);
            return;
        }
        let meters = all.meters(route, method, status);
        meters.record(seconds);
        let _ = self.0.set(First {
            route: route.to_owned(),
            method: method.clone(),
            status,
            meters,
        });
    }
}

/// A fast hasher for the meters' keys: short strings and small numbers from the router and
/// hyper, not from clients (the route is a template, the method is one of ten).
#[derive(Clone, Copy, Default)]
struct Fx;

impl BuildHasher for Fx {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The method as a label: the standard ones by name, any other as `OTHER`, so that clients
/// cannot make up new label values.
fn known_method(method: &Method) -> Method {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if KNOWN.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").expect("a valid method")
    }
}

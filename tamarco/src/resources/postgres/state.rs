//! What the resource and its connections share: the pool, counts, the last error, meters.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use serde_json::{Map, Value, json};

use tamarco_core::error_chain;

use super::error::Error;
use super::pool::Pool;
use super::settings::Config;
use crate::resources::in_use::InUse;

/// The metric handles, labelled with the resource.
pub(crate) struct Meters {
    pub(crate) duration: metrics::Histogram,
    pub(crate) errors: metrics::Counter,
    pub(crate) pool_wait: metrics::Histogram,
}

impl Meters {
    pub(crate) fn new(resource: &str) -> Self {
        let label = [("resource", resource.to_owned())];
        Meters {
            duration: metrics::histogram!("postgres_query_duration_seconds", &label),
            errors: metrics::counter!("postgres_errors_total", &label),
            pool_wait: metrics::histogram!("postgres_pool_wait_seconds", &label),
        }
    }
}

/// What the resource and its connections share.
#[derive(Default)]
pub(crate) struct PostgresState {
    pub(crate) name: OnceLock<String>,
    pub(crate) config: RwLock<Option<Arc<Config>>>,
    pub(crate) pool: RwLock<Option<Pool>>,
    pub(crate) closing: AtomicBool,
    /// False after the pool could not open a connection, until one opens.
    pub(crate) reachable: AtomicBool,
    pub(crate) in_use: InUse,
    pub(crate) errors: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) meters: OnceLock<Meters>,
    pub(crate) applied: Mutex<Vec<&'static str>>,
}

impl PostgresState {
    pub(crate) fn resource(&self) -> &str {
        self.name.get().map_or("postgres", String::as_str)
    }

    pub(crate) fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    pub(crate) fn server(&self) -> String {
        self.config()
            .map_or_else(|| "(not configured)".to_owned(), |c| c.describe())
    }

    pub(crate) fn pool(&self) -> Result<Pool, Error> {
        let pool = self.pool.read().expect("pool lock").clone();
        match pool {
            Some(pool) if !self.closing.load(Ordering::Acquire) => Ok(pool),
            _ => Err(Error::NotStarted {
                resource: self.resource().to_owned(),
            }),
        }
    }

    /// Records one statement's duration, and an error.
    pub(crate) fn observe(&self, started: Instant, failed: bool) {
        if let Some(meters) = self.meters.get() {
            meters.duration.record(started.elapsed());
            if failed {
                meters.errors.increment(1);
            }
        }
    }

    pub(crate) fn query_error(&self, source: tokio_postgres::Error) -> Error {
        let error = Error::Query {
            resource: self.resource().to_owned(),
            source,
        };
        self.failed(&error);
        error
    }

    pub(crate) fn failed(&self, error: &Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("error lock") = Some(error_chain(error));
    }

    pub(crate) fn status_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("server".into(), json!(self.server()));
        if let Some(config) = self.config() {
            fields.insert("sslmode".into(), json!(config.ssl_mode.as_str()));
        }
        if let Ok(pool) = self.pool() {
            let status = pool.status();
            fields.insert(
                "pool".into(),
                json!({
                    "max_size": status.max_size,
                    "size": status.size,
                    "in_use": status.size.saturating_sub(status.available),
                    "available": status.available,
                    "waiting": status.waiting,
                }),
            );
        }
        fields.insert("errors".into(), json!(self.errors.load(Ordering::Relaxed)));
        fields.insert(
            "last_error".into(),
            json!(*self.last_error.lock().expect("error lock")),
        );
        fields.insert(
            "migrations_applied".into(),
            json!(*self.applied.lock().expect("applied lock")),
        );
        fields
    }
}

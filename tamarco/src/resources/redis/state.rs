//! What the resource, its commands, outputs and inputs share.

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use redis::aio::ConnectionManager;

use tamarco_core::messaging::Engine;
use tamarco_core::messaging::memory::MemoryBroker;

use super::Error;
use super::pubsub::PubSubTransport;
use super::settings::Config;
use super::streams::StreamTransport;
use crate::resources::in_use::InUse;

/// The metric handles, labelled with the resource.
pub(crate) struct Meters {
    pub(crate) duration: metrics::Histogram,
    pub(crate) errors: metrics::Counter,
    pub(crate) retries: metrics::Counter,
}

impl Meters {
    pub(crate) fn new(resource: &str) -> Self {
        let label = [("resource", resource.to_owned())];
        Meters {
            duration: metrics::histogram!("redis_command_duration_seconds", &label),
            errors: metrics::counter!("redis_errors_total", &label),
            retries: metrics::counter!("redis_retries_total", &label),
        }
    }
}

/// What the resource, its commands and its inputs share.
#[derive(Default)]
pub(crate) struct RedisState {
    pub(crate) name: OnceLock<String>,
    pub(crate) config: RwLock<Option<Arc<Config>>>,
    pub(crate) manager: RwLock<Option<ConnectionManager>>,
    pub(crate) in_flight: InUse,
    pub(crate) commands: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) retries: AtomicU64,
    /// The `retries` setting, read at configure: each command reads it without a lock.
    pub(crate) retry_limit: AtomicU32,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) meters: OnceLock<Meters>,
    /// The test's in-memory broker the inputs and outputs run on instead of Redis (memory.rs).
    pub(crate) memory: Mutex<Option<MemoryBroker>>,
    pub(crate) engine: Engine<PubSubTransport>,
    pub(crate) streams: Engine<StreamTransport>,
}

impl RedisState {
    pub(crate) fn resource(&self) -> &str {
        self.name.get().map_or("redis", String::as_str)
    }

    pub(crate) fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    pub(crate) fn manager(&self) -> Result<ConnectionManager, Error> {
        self.manager
            .read()
            .expect("manager lock")
            .clone()
            .ok_or_else(|| Error::NotStarted {
                resource: self.resource().to_owned(),
            })
    }
}

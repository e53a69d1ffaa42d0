//! What the resource, its writer and its tasks share.

use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tokio::task::JoinHandle;

use super::error::Error;
use super::link::Link;
use super::settings::Config;
use super::writer::Writer;

/// What the resource, its writer and its tasks share.
#[derive(Default)]
pub(crate) struct InfluxState {
    pub(crate) name: OnceLock<String>,
    pub(crate) service: OnceLock<String>,
    pub(crate) config: RwLock<Option<Arc<Config>>>,
    pub(crate) link: RwLock<Option<Arc<Link>>>,
    pub(crate) writer: Writer,
    /// The stop's deadline once `stop` began.
    pub(crate) stopping: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl InfluxState {
    pub(crate) fn resource(&self) -> &str {
        self.name.get().map_or("influxdb", String::as_str)
    }

    pub(crate) fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    pub(crate) fn link(&self) -> Option<Arc<Link>> {
        if self.stopping.borrow().is_some() {
            return None;
        }
        self.link.read().expect("link lock").clone()
    }

    pub(crate) fn started(&self) -> Result<Arc<Link>, Error> {
        self.link().ok_or_else(|| Error::NotStarted {
            resource: self.resource().to_owned(),
        })
    }
}

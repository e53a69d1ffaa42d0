//! [`Sources`]: the handle on the sources of a running service, kept apart from the loaders so
//! that each source (etcd) can return one without depending on the module that calls it.

/// The sources of a running service; background work (an etcd watch) stops when this drops.
#[derive(Debug, Default)]
pub struct Sources {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    #[cfg(feature = "etcd")]
    etcd: Option<super::etcd::EtcdStore>,
}

impl Sources {
    /// The etcd connection the settings came from, for the registry.
    #[cfg(feature = "etcd")]
    pub fn etcd(&self) -> Option<&super::etcd::EtcdStore> {
        self.etcd.as_ref()
    }

    /// Records the etcd connection the settings came from.
    #[cfg(feature = "etcd")]
    pub(crate) fn set_etcd(&mut self, store: super::etcd::EtcdStore) {
        self.etcd = Some(store);
    }

    /// Keeps `task` running for as long as the sources live.
    pub fn keep(&mut self, task: tokio::task::JoinHandle<()>) {
        self.tasks.push(task);
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

//! [`Sources`]: the handle on the sources of a running service, kept apart from the loaders so
//! that each source (etcd) can return one without depending on the module that calls it.

/// The sources of a running service; background work (an etcd watch) stops when this drops.
#[derive(Debug, Default)]
pub struct Sources {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sources {
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

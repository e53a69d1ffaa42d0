use crate::settings::Settings;
use crate::shutdown::ShutdownHandle;

/// What a task or timer tick receives when its method takes a second argument.
#[derive(Clone, Debug)]
pub struct TaskContext {
    name: &'static str,
    shutdown: ShutdownHandle,
    settings: Settings,
}

impl TaskContext {
    pub(crate) fn new(name: &'static str, shutdown: ShutdownHandle, settings: Settings) -> Self {
        TaskContext {
            name,
            shutdown,
            settings,
        }
    }

    /// The task's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Completes when the service begins to stop; a cooperative task returns after it.
    pub async fn stopping(&self) {
        self.shutdown.stopping().await;
    }

    /// Whether the service is stopping.
    pub fn is_stopping(&self) -> bool {
        self.shutdown.is_stopping()
    }

    /// The service's graceful-stop handle.
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// The service's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

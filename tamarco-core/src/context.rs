//! [`MicroserviceContext`]: the resource machinery without a service, for scripts, tests and
//! plain programs: no default resources, no signal handling.

use std::sync::Arc;

use crate::error::Error;
use crate::lifecycle::table::{self, Declared};
use crate::lifecycle::{Driver, Entry, START_PHASES, StopLimits};
use crate::registry::Registry;
use crate::resource::{ErasedResource, Resource, ResourceStatus};
use crate::settings::{Settings, sources};
use crate::shutdown::ShutdownHandle;

/// A set of resources started and stopped together, outside a service.
///
/// ```no_run
/// # use tamarco_core::{MicroserviceContext, Resource};
/// # #[derive(Default)] struct Client;
/// # impl Resource for Client {}
/// # async fn demo() -> Result<(), tamarco_core::Error> {
/// let mut cx = MicroserviceContext::new("script");
/// cx.settings().set_internal("system.resources.client.url", "http://127.0.0.1:8080").unwrap();
/// let client = cx.add("client", Client::default());
/// cx.start().await?;
/// // ... use `client` ...
/// cx.stop().await?;
/// # Ok(()) }
/// ```
pub struct MicroserviceContext {
    settings: Settings,
    shutdown: ShutdownHandle,
    declared: Vec<Declared>,
    driver: Option<Driver>,
    sources: Option<sources::Sources>,
}

impl std::fmt::Debug for MicroserviceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .declared
            .iter()
            .map(|declared| declared.name.as_str())
            .collect();
        f.debug_struct("MicroserviceContext")
            .field("name", &self.settings.service())
            .field("resources", &names)
            .finish()
    }
}

impl MicroserviceContext {
    /// An empty context; `name` plays the service name for settings overrides and logs.
    pub fn new(name: impl Into<String>) -> Self {
        MicroserviceContext {
            settings: Settings::new(name),
            shutdown: ShutdownHandle::new(),
            declared: Vec::new(),
            driver: None,
            sources: None,
        }
    }

    /// The settings the resources read (in-code settings go here before `start`).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A handle that resources and code can use to ask for a stop, or to see one coming.
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// Adds a resource under `name` (its settings live at `system.resources.<name>`) and
    /// returns a shared handle to it.
    pub fn add<R: Resource>(&mut self, name: &str, resource: R) -> Arc<R> {
        self.add_after(name, &[], resource)
    }

    /// Adds a resource that starts after the named ones.
    pub fn add_after<R: Resource>(
        &mut self,
        name: &str,
        depends_on: &[&str],
        resource: R,
    ) -> Arc<R> {
        let resource = Arc::new(resource);
        self.declared.push(Declared {
            name: name.to_owned(),
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
            resource: resource.clone() as Arc<dyn ErasedResource>,
        });
        resource
    }

    /// Binds, configures and starts every resource in dependency order. On failure the ones
    /// that had started are stopped again and the error names the resource and the phase.
    pub async fn start(&mut self) -> Result<(), Error> {
        let sources = self
            .sources
            .insert(sources::load_all(&self.settings).await?);
        let registry = Registry::from_sources(&self.settings, sources)?;
        let entries = table::build(&self.declared, &self.settings, &self.shutdown, &registry);
        let driver = self.driver.insert(Driver::new(entries));
        for phase in START_PHASES {
            if let Err(error) = driver.start_phase(phase).await {
                let budget = StopLimits::read(&self.settings)?.budget();
                let _ = driver.stop_all(&budget).await;
                return Err(error);
            }
        }
        Ok(())
    }

    /// Stops every started resource in reverse order, within the grace period
    /// (`system.shutdown.grace_period_seconds`); the first failure is returned after all were
    /// stopped.
    pub async fn stop(&mut self) -> Result<(), Error> {
        let Some(driver) = self.driver.take() else {
            return Ok(());
        };
        self.shutdown.stop_gracefully();
        let budget = StopLimits::read(&self.settings)?.budget();
        driver.stop_all(&budget).await
    }

    /// The status of the resource named `name`, once started.
    pub fn status(&self, name: &str) -> Option<ResourceStatus> {
        let entries = self.driver.as_ref()?.entries();
        entries
            .iter()
            .find(|entry| entry.name() == name)
            .map(Entry::status)
    }
}

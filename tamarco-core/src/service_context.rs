//! [`ServiceContext`]: the service's own name, business settings and graceful stop, reachable
//! from any method through a field the runtime binds.

use std::fmt;
use std::sync::OnceLock;

use crate::registry::Registry;
use crate::settings::{Settings, SettingsView};
use crate::shutdown::ShutdownHandle;

/// The running service as its own code sees it: its name, its settings and its graceful stop.
///
/// Declare a field of this type in a `#[microservice]` struct; the runtime binds it before
/// any resource is configured, so every hook, task, route and handler reads it through `self`:
///
/// ```ignore
/// use tamarco::prelude::*;
///
/// #[microservice]
/// #[derive(Default)]
/// struct Orders {
///     cx: ServiceContext,
/// }
///
/// #[microservice]
/// impl Orders {
///     #[task]
///     async fn work(&self) -> Result<(), BoxError> {
///         // `system.microservices.orders.batch_size`, 10 when missing.
///         let batch: u32 = self.cx.settings().get_or("batch_size", 10)?;
///         tamarco::tracing::info!(service = self.cx.name(), batch, "done");
///         self.cx.stop_gracefully();
///         Ok(())
///     }
/// }
/// ```
///
/// It is `Default` (unbound), so `#[derive(Default)]` and struct literals work. Unbound (the
/// service does not run), [`name`](Self::name) is empty, the settings are empty and
/// [`stop_gracefully`](Self::stop_gracefully) does nothing; none of them panics.
#[derive(Default)]
pub struct ServiceContext {
    bound: OnceLock<Bound>,
}

#[derive(Clone)]
struct Bound {
    name: &'static str,
    settings: Settings,
    view: SettingsView,
    shutdown: ShutdownHandle,
    registry: Registry,
}

impl ServiceContext {
    /// A context bound to a running service: what the runtime hands to the generated code.
    pub fn bound(name: &'static str, settings: Settings, shutdown: ShutdownHandle) -> Self {
        let view = settings.view(format!("system.microservices.{name}"));
        let context = ServiceContext::default();
        let _ = context.bound.set(Bound {
            name,
            settings,
            view,
            shutdown,
            registry: Registry::local(name),
        });
        context
    }

    /// The same context on `registry` (the runtime's, with etcd when there is one).
    pub(crate) fn with_registry(mut self, registry: Registry) -> Self {
        if let Some(bound) = self.bound.get_mut() {
            bound.registry = registry;
        }
        self
    }

    /// The service's registry: this instance's id and discovery of other services
    /// (`registry().instances("orders")`). Unbound, a registry without etcd.
    pub fn registry(&self) -> &Registry {
        static UNBOUND: OnceLock<Registry> = OnceLock::new();
        match self.bound.get() {
            Some(bound) => &bound.registry,
            None => UNBOUND.get_or_init(|| Registry::local("")),
        }
    }

    /// Binds this (field) context to the running service's `from`; a second bind (the same
    /// service value run twice) keeps the first.
    pub fn bind_from(&self, from: &ServiceContext) {
        if let Some(bound) = from.bound.get() {
            let _ = self.bound.set(bound.clone());
        }
    }

    /// Whether the runtime has bound this context.
    pub fn is_bound(&self) -> bool {
        self.bound.get().is_some()
    }

    /// The service's name (`#[microservice(name = "...")]` or the struct's, in snake_case);
    /// empty while unbound.
    pub fn name(&self) -> &str {
        self.bound.get().map_or("", |bound| bound.name)
    }

    /// The service's business settings: a view rooted at `system.microservices.<name>`, so
    /// `settings().get("batch_size")` reads `system.microservices.<name>.batch_size`.
    pub fn settings(&self) -> &SettingsView {
        match self.bound.get() {
            Some(bound) => &bound.view,
            None => unbound().1,
        }
    }

    /// Every setting of the service (any key, with the per-service override applied).
    pub fn all_settings(&self) -> &Settings {
        match self.bound.get() {
            Some(bound) => &bound.settings,
            None => unbound().0,
        }
    }

    /// The service's graceful-stop handle (to wait for a stop, or to begin one).
    pub fn shutdown(&self) -> &ShutdownHandle {
        match self.bound.get() {
            Some(bound) => &bound.shutdown,
            None => unbound().2,
        }
    }

    /// Begins the service's graceful stop: tasks end, then resources stop in reverse order.
    /// Does nothing while unbound.
    pub fn stop_gracefully(&self) {
        if let Some(bound) = self.bound.get() {
            bound.shutdown.stop_gracefully();
        }
    }
}

/// What an unbound context reads: empty settings and a stop handle that nothing watches.
fn unbound() -> (
    &'static Settings,
    &'static SettingsView,
    &'static ShutdownHandle,
) {
    static UNBOUND: OnceLock<(Settings, SettingsView, ShutdownHandle)> = OnceLock::new();
    let (settings, view, shutdown) = UNBOUND.get_or_init(|| {
        let settings = Settings::new("");
        let view = settings.view("system.microservices");
        (settings, view, ShutdownHandle::new())
    });
    (settings, view, shutdown)
}

impl fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceContext")
            .field("name", &self.name())
            .field("bound", &self.is_bound())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceContext;
    use crate::settings::Settings;
    use crate::shutdown::ShutdownHandle;

    #[test]
    fn an_unbound_context_reads_nothing_and_never_panics() {
        let cx = ServiceContext::default();
        assert_eq!(cx.name(), "");
        assert!(cx.settings().get::<u32>("batch_size").is_err());
        cx.stop_gracefully();
        assert!(!cx.shutdown().is_stopping());
    }

    #[test]
    fn a_bound_field_reads_the_business_settings_and_stops_the_service() {
        let settings = Settings::new("orders");
        settings
            .set_internal("system.microservices.orders.batch_size", 25)
            .unwrap();
        let shutdown = ShutdownHandle::new();
        let field = ServiceContext::default();
        field.bind_from(&ServiceContext::bound("orders", settings, shutdown.clone()));
        assert_eq!(field.name(), "orders");
        assert_eq!(field.settings().get::<u32>("batch_size").unwrap(), 25);
        field.stop_gracefully();
        assert!(shutdown.is_stopping());
    }
}

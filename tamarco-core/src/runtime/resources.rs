//! The resource table of a service: the default resources (unless replaced) and the service's
//! `#[resource]` fields, handed to the one table builder of the lifecycle.

use std::sync::Arc;

use super::Microservice;
use crate::BoxError;
use crate::builtin;
use crate::lifecycle::table::{self, Declared};
use crate::lifecycle::{Driver, Entry};
use crate::registry::Registry;
use crate::resource::{ErasedResource, Resource, ResourceContext, ResourceStatus};
use crate::settings::Settings;
use crate::shutdown::ShutdownHandle;

/// The driver over the default resources and the service's own, in start order; the status
/// board sees them all.
pub(super) fn driver<S: Microservice>(
    service: &Arc<S>,
    settings: &Settings,
    shutdown: &ShutdownHandle,
    report_server: &Arc<builtin::ReportServer>,
    registry: &Registry,
) -> Arc<Driver> {
    let slots = service.resources();
    let board = builtin::StatusBoard::default();
    let mut declared = Vec::new();
    for (name, resource) in builtin::defaults(&board, report_server, registry) {
        if !slots
            .iter()
            .any(|slot| slot.name == name && slot.replaces_default)
        {
            declared.push(Declared {
                name: name.to_owned(),
                depends_on: Vec::new(),
                resource,
            });
        }
    }
    for (index, slot) in slots.iter().enumerate() {
        declared.push(Declared {
            name: slot.name.to_owned(),
            depends_on: slot.depends_on.iter().map(|d| (*d).to_owned()).collect(),
            resource: Arc::new(ServiceResource {
                service: Arc::clone(service),
                index,
            }),
        });
    }
    let driver = Arc::new(Driver::new(table::build(
        &declared, settings, shutdown, registry,
    )));
    board.fill(Arc::clone(&driver));
    driver
}

/// A `#[resource]` field of the service, reached through the shared service.
struct ServiceResource<S> {
    service: Arc<S>,
    index: usize,
}

impl<S: Microservice> ServiceResource<S> {
    fn get(&self) -> &dyn ErasedResource {
        self.service.resources()[self.index].resource
    }
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl<S: Microservice> Resource for ServiceResource<S> {
    fn bind(&self, cx: &ResourceContext) {
        self.get().bind_dyn(cx);
    }
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().configure_boxed(cx).await
    }
    async fn pre_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().pre_start_boxed(cx).await
    }
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().start_boxed(cx).await
    }
    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().post_start_boxed(cx).await
    }
    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().stop_boxed(cx).await
    }
    async fn post_stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().post_stop_boxed(cx).await
    }
    fn status(&self) -> Option<ResourceStatus> {
        self.get().status_dyn()
    }
    fn status_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        self.get().status_fields_dyn()
    }
}

/// The resources' names and statuses, in start order.
pub(super) fn statuses(driver: &Driver) -> Vec<(String, ResourceStatus)> {
    driver
        .entries()
        .iter()
        .map(|entry: &Entry| (entry.name().to_owned(), entry.status()))
        .collect()
}

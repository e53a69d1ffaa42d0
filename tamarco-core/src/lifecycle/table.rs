//! The resource table: declared resources put in dependency order, each with its context. The
//! one builder behind both the runtime (default resources plus the service's) and
//! `MicroserviceContext`.

use std::sync::Arc;

use super::Entry;
use crate::registry::Registry;
use crate::resource::{ErasedResource, ReportRoutes, ResourceContext};
use crate::settings::Settings;
use crate::shutdown::ShutdownHandle;

/// A resource as declared: its settings name, the names it starts after, and itself.
pub(crate) struct Declared {
    pub(crate) name: String,
    pub(crate) depends_on: Vec<String>,
    pub(crate) resource: Arc<dyn ErasedResource>,
}

/// The entries of `declared` in start order, each with a context rooted at
/// `system.resources.<name>` and sharing one report-server router.
pub(crate) fn build(
    declared: &[Declared],
    settings: &Settings,
    shutdown: &ShutdownHandle,
    registry: &Registry,
) -> Vec<Entry> {
    let routes = ReportRoutes::default();
    dependency_order(declared)
        .into_iter()
        .map(|index| {
            let declared = &declared[index];
            let cx = ResourceContext::new(
                declared.name.clone(),
                settings.service().to_owned(),
                settings.resource_view(&declared.name),
                shutdown.clone(),
                routes.clone(),
                registry.clone(),
            );
            Entry::new(Arc::clone(&declared.resource), cx)
        })
        .collect()
}

/// Indices of `declared` such that every resource comes after its dependencies, otherwise in
/// declaration order. The macro rejects cycles and unknown names, so both are ignored here.
fn dependency_order(declared: &[Declared]) -> Vec<usize> {
    fn visit(index: usize, declared: &[Declared], seen: &mut [bool], order: &mut Vec<usize>) {
        if std::mem::replace(&mut seen[index], true) {
            return;
        }
        for dependency in &declared[index].depends_on {
            if let Some(dep) = declared.iter().position(|d| &d.name == dependency) {
                visit(dep, declared, seen, order);
            }
        }
        order.push(index);
    }
    let mut seen = vec![false; declared.len()];
    let mut order = Vec::with_capacity(declared.len());
    for index in 0..declared.len() {
        visit(index, declared, &mut seen, &mut order);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl crate::Resource for Nothing {}

    fn declared(name: &str, deps: &[&str]) -> Declared {
        Declared {
            name: name.to_owned(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            resource: Arc::new(Nothing),
        }
    }

    #[test]
    fn dependencies_come_first_otherwise_declaration_order() {
        let table = [
            declared("web", &["cache", "db"]),
            declared("cache", &["db"]),
            declared("db", &[]),
            declared("log", &[]),
        ];
        assert_eq!(dependency_order(&table), vec![2, 1, 0, 3]);
        let entries = build(
            &table,
            &Settings::new("svc"),
            &ShutdownHandle::new(),
            &Registry::local("svc"),
        );
        let names: Vec<&str> = entries.iter().map(Entry::name).collect();
        assert_eq!(names, ["db", "cache", "web", "log"]);
    }
}

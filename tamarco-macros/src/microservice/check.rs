//! Checks that look at several fields or methods at once: dependencies, cycles, duplicate
//! names, reserved names.

use std::collections::HashMap;

use super::model::{ResourceField, Service, TaskBlock, settings_segment};
use crate::diagnostics::Diagnostics;

/// Names of the default resources every service has.
pub(crate) const DEFAULT_RESOURCES: &[&str] = &[
    "tamarco_http_report_server",
    "metrics",
    "status",
    "registry",
    "profiler",
];

pub(crate) fn resources(diag: &mut Diagnostics, service: &Service) {
    let by_field: HashMap<String, &ResourceField> = service
        .resources
        .iter()
        .map(|r| (r.field.to_string(), r))
        .collect();
    let mut seen_names: HashMap<&str, &ResourceField> = HashMap::new();
    for resource in &service.resources {
        settings_segment(
            diag,
            &resource.name,
            resource.name_span,
            "resource settings name",
        );
        if let Some(first) = seen_names.insert(&resource.name, resource) {
            diag.error_span(
                resource.name_span,
                format!("two resources have the settings name `{}` (the other is the field `{}`); give one `#[resource(name = \"...\")]`", resource.name, first.field),
            );
        }
        let is_default = DEFAULT_RESOURCES.contains(&resource.name.as_str());
        match (is_default, resource.replaces_default) {
            (true, None) => diag.error_span(
                resource.name_span,
                format!("`{}` is the name of a default resource; rename it, or add `#[resource(replaces_default)]` to replace the default one", resource.name),
            ),
            (false, Some(span)) => diag.error_span(
                span,
                format!("`replaces_default` needs the name of a default resource ({}), not `{}`", DEFAULT_RESOURCES.join(", "), resource.name),
            ),
            _ => {}
        }
        for dependency in &resource.depends_on {
            if !by_field.contains_key(&dependency.to_string()) {
                let known: Vec<String> = service
                    .resources
                    .iter()
                    .map(|r| format!("`{}`", r.field))
                    .collect();
                diag.error_at(
                    dependency,
                    format!(
                        "`{dependency}` is not a resource of `{}`; its resources are {}",
                        service.ident,
                        known.join(", ")
                    ),
                );
            } else if *dependency == resource.field {
                diag.error_at(
                    dependency,
                    format!("`{dependency}` cannot depend on itself"),
                );
            }
        }
    }
    cycles(diag, service, &by_field);
}

/// Reports each dependency cycle once, at the dependency that closes it.
fn cycles(diag: &mut Diagnostics, service: &Service, by_field: &HashMap<String, &ResourceField>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit<'a>(
        resource: &'a ResourceField,
        by_field: &HashMap<String, &'a ResourceField>,
        marks: &mut HashMap<String, Mark>,
        path: &mut Vec<&'a ResourceField>,
        diag: &mut Diagnostics,
    ) {
        marks.insert(resource.field.to_string(), Mark::Open);
        path.push(resource);
        for dependency in &resource.depends_on {
            if *dependency == resource.field {
                continue;
            }
            let Some(&next) = by_field.get(&dependency.to_string()) else {
                continue;
            };
            match marks
                .get(&dependency.to_string())
                .copied()
                .unwrap_or(Mark::New)
            {
                Mark::New => visit(next, by_field, marks, path, diag),
                Mark::Open => {
                    let start = path.iter().position(|r| r.field == next.field).unwrap_or(0);
                    let links: Vec<String> = path[start..]
                        .iter()
                        .zip(path[start + 1..].iter().chain([&next]))
                        .map(|(from, to)| format!("`{}` depends on `{}`", from.field, to.field))
                        .collect();
                    diag.error_at(
                        dependency,
                        format!(
                            "dependency cycle: {}; remove one of these `depends_on` entries",
                            links.join(", ")
                        ),
                    );
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(resource.field.to_string(), Mark::Done);
    }
    let mut marks = HashMap::new();
    for resource in &service.resources {
        if marks
            .get(&resource.field.to_string())
            .copied()
            .unwrap_or(Mark::New)
            == Mark::New
        {
            visit(resource, by_field, &mut marks, &mut Vec::new(), diag);
        }
    }
}

pub(crate) fn tasks(diag: &mut Diagnostics, block: &TaskBlock) {
    let mut seen = HashMap::new();
    for task in block.tasks.iter().chain(&block.broken) {
        if let Some(first) = seen.insert(&task.name, task) {
            diag.error_span(
                task.name_span,
                format!("two tasks are named `{}` (the other is the method `{}`); give one `name = \"...\"`", task.name, first.method),
            );
        }
    }
}

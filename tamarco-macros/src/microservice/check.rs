//! Checks that look at several fields or methods at once: dependencies, cycles, duplicate
//! names, reserved names.

use std::collections::HashMap;

use super::block::TaskBlock;
use super::input::Input;
use super::model::{ResourceField, Service, settings_segment};
use super::output::Output;
use super::route::{Route, path_shape};
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

/// Two routes of one resource with the same method (or `ANY`) and path, captures compared by
/// shape as axum does, would panic at start: the second is reported and left out.
pub(crate) fn routes(diag: &mut Diagnostics, routes: &mut Vec<Route>) {
    let mut kept: Vec<(String, String, String, String)> = Vec::new();
    routes.retain(|route| {
        let resource = route.resource.to_string();
        let method = route.method.to_string();
        let shape = path_shape(&route.path.value());
        let clash = kept.iter().find(|(r, m, s, _)| {
            *r == resource && *s == shape && (*m == method || m == "ANY" || method == "ANY")
        });
        match clash {
            Some((_, other_method, _, handler)) => {
                diag.error_at(
                    &route.path,
                    format!(
                        "`{method} {}` on `{resource}` is already routed to `{handler}` (`{other_method}`); \
                         a method and path go to one handler",
                        route.path.value()
                    ),
                );
                false
            }
            None => {
                kept.push((resource, method, shape, route.handler.to_string()));
                true
            }
        }
    });
}

/// Outputs naming a resource the struct does not have, or a name already used on the same
/// resource, are reported and left out.
pub(crate) fn outputs(diag: &mut Diagnostics, service: &mut Service) {
    let mut kept: Vec<Output> = Vec::new();
    for output in std::mem::take(&mut service.outputs) {
        if !service.resources.iter().any(|r| r.field == output.resource) {
            let known: Vec<String> = service
                .resources
                .iter()
                .map(|r| format!("`{}`", r.field))
                .collect();
            let list = match known.is_empty() {
                true => "it has no `#[resource]` fields".to_owned(),
                false => format!("its resources are {}", known.join(", ")),
            };
            diag.error_at(
                &output.resource,
                format!(
                    "`{}` is not a resource of `{}`; {list}",
                    output.resource, service.ident
                ),
            );
            continue;
        }
        let name = output.name.value();
        if let Some(first) = kept
            .iter()
            .find(|o| o.resource == output.resource && o.name.value() == name)
        {
            diag.error_at(
                &output.name,
                format!(
                    "`{}` already has an output named \"{name}\" (the field `{}`)",
                    output.resource, first.field
                ),
            );
            continue;
        }
        kept.push(output);
    }
    service.outputs = kept;
}

/// Two inputs with the same name on one resource: the second is reported and left out.
pub(crate) fn inputs(diag: &mut Diagnostics, inputs: &mut Vec<Input>) {
    let mut kept: Vec<(String, String, String)> = Vec::new();
    inputs.retain(|input| {
        let resource = input.resource.to_string();
        let name = input.name.value();
        match kept.iter().find(|(r, n, _)| *r == resource && *n == name) {
            Some((_, _, handler)) => {
                diag.error_at(
                    &input.name,
                    format!(
                        "`{resource}` already has an input named \"{name}\" (handled by `{handler}`)"
                    ),
                );
                false
            }
            None => {
                kept.push((resource, name, input.handler.to_string()));
                true
            }
        }
    });
}

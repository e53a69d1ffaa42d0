//! The typed model of a `#[microservice]` impl block, built from syn: tasks, hooks, routes and
//! inputs. Parsing removes our helper attributes (`#[task]`, `#[task_timer]`, `#[thread]`,
//! `#[route]`, `#[input]`) from the item in place, so that the item can be emitted clean even
//! when there are errors.

use proc_macro2::Span;
use syn::{Attribute, FnArg, Ident, ImplItem, ItemImpl, LitStr, Token, Type};

use super::args::set_once;
use super::input::{self, Input};
use super::interval;
use super::model::take_attr;
use super::route::{self, Route};
use super::signature::{check_receiver_and_generics, takes_arc_self};
use crate::diagnostics::Diagnostics;

/// A `#[microservice]` impl block.
pub(crate) struct TaskBlock {
    /// False for a trait impl or a generic impl block: then no impl can be generated.
    pub(crate) expandable: bool,
    pub(crate) self_ty: Type,
    /// The tasks without errors: the ones expanded.
    pub(crate) tasks: Vec<TaskMethod>,
    /// The tasks with errors, kept for the checks across tasks (duplicate names).
    pub(crate) broken: Vec<TaskMethod>,
    pub(crate) hooks: Vec<HookMethod>,
    pub(crate) routes: Vec<Route>,
    pub(crate) inputs: Vec<Input>,
}

/// A method marked `#[task]`, `#[task_timer]` or `#[thread]`.
pub(crate) struct TaskMethod {
    pub(crate) method: Ident,
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) kind: TaskKind,
    /// Whether the method takes a second argument (`TaskContext` or `ShutdownHandle`).
    pub(crate) takes_context: bool,
    /// Whether it takes `self: Arc<Self>`.
    pub(crate) by_arc: bool,
    /// `singleton`: one instance of the service runs it at a time.
    pub(crate) singleton: bool,
    pub(crate) cfg: Vec<Attribute>,
}

pub(crate) enum TaskKind {
    Task,
    Timer {
        interval_ms: u64,
        one_shot: bool,
        autostart: bool,
    },
    Thread,
}

/// A lifecycle hook: an async method named like a phase.
pub(crate) struct HookMethod {
    pub(crate) method: Ident,
    /// Whether it takes `self: Arc<Self>`.
    pub(crate) by_arc: bool,
    pub(crate) cfg: Vec<Attribute>,
}

/// Method names that are lifecycle hooks.
pub(crate) const HOOKS: &[&str] = &["pre_start", "start", "post_start", "stop", "post_stop"];

impl TaskBlock {
    /// Builds the model, recording every problem in `diag`. The model holds only the tasks and
    /// hooks without errors, so that the `TaskSet` impl is generated even when some are broken
    /// and no second error follows from them.
    pub(crate) fn parse(item: &mut ItemImpl, diag: &mut Diagnostics) -> Self {
        let expandable = item.trait_.is_none() && item.generics.params.is_empty();
        if let Some((path, _)) = &item.trait_ {
            diag.error_at(path, "`#[microservice]` goes on an inherent impl block (`impl Svc { ... }`), not a trait impl");
        }
        if !item.generics.params.is_empty() {
            diag.error_at(
                &item.generics,
                "a `#[microservice]` impl block cannot be generic",
            );
        }
        // Every task, with whether it is sound; names are compared across all of them.
        let mut tasks: Vec<(TaskMethod, bool)> = Vec::new();
        let mut hooks = Vec::new();
        let mut routes = Vec::new();
        let mut inputs = Vec::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let mut found: Vec<(&str, Attribute)> = Vec::new();
            for kind in ["task", "task_timer", "thread"] {
                while let Some(attr) = take_attr(&mut method.attrs, kind) {
                    found.push((kind, attr));
                }
            }
            let cfg: Vec<Attribute> = method
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .cloned()
                .collect();
            let sig = &method.sig;
            let errors_before = diag.count();
            let mut route_attrs = Vec::new();
            while let Some(attr) = take_attr(&mut method.attrs, "route") {
                route_attrs.push(attr);
            }
            if let Some(attr) = take_attr(&mut method.attrs, "input") {
                while let Some(extra) = take_attr(&mut method.attrs, "input") {
                    diag.error_at(extra, "a method handles one `#[input]`");
                }
                if let Some(other) = found.first().map(|(_, a)| a).or(route_attrs.first()) {
                    diag.error_at(
                        other,
                        "an `#[input]` handler cannot also be a task or a route",
                    );
                    continue;
                }
                inputs.extend(input::parse(diag, &attr, sig, &cfg));
                continue;
            }
            if !route_attrs.is_empty() {
                if let Some((_, task)) = found.first() {
                    diag.error_at(task, "a `#[route]` handler cannot also be a task");
                    continue;
                }
                routes.extend(route::parse(diag, &route_attrs, sig, &cfg));
                continue;
            }
            let Some((kind, attr)) = found.first().cloned() else {
                if HOOKS.contains(&sig.ident.to_string().as_str()) {
                    check_hook(diag, sig);
                    if diag.count() == errors_before {
                        hooks.push(HookMethod {
                            method: sig.ident.clone(),
                            by_arc: takes_arc_self(sig),
                            cfg,
                        });
                    }
                }
                continue;
            };
            for (_, extra) in found.iter().skip(1) {
                diag.error_at(
                    extra,
                    "a method can have only one of `#[task]`, `#[task_timer]` and `#[thread]`",
                );
            }
            match TaskOptions::parse(kind, &attr) {
                Ok(options) => {
                    let takes_context = check_task_signature(diag, kind, sig);
                    let (name, name_span) = match options.name {
                        Some(name) => (name.value(), name.span()),
                        None => (sig.ident.to_string(), sig.ident.span()),
                    };
                    let task = TaskMethod {
                        method: sig.ident.clone(),
                        name,
                        name_span,
                        kind: options.kind,
                        takes_context,
                        by_arc: takes_arc_self(sig),
                        singleton: options.singleton,
                        cfg,
                    };
                    tasks.push((task, diag.count() == errors_before));
                }
                Err(error) => {
                    diag.push(error);
                    check_task_signature(diag, kind, sig);
                }
            }
        }
        let (sound, broken): (Vec<_>, Vec<_>) = tasks.into_iter().partition(|(_, sound)| *sound);
        TaskBlock {
            expandable,
            self_ty: (*item.self_ty).clone(),
            tasks: sound.into_iter().map(|(task, _)| task).collect(),
            broken: broken.into_iter().map(|(task, _)| task).collect(),
            hooks,
            routes,
            inputs,
        }
    }
}

/// Options of `#[task]`, `#[task_timer]` and `#[thread]`.
struct TaskOptions {
    name: Option<LitStr>,
    kind: TaskKind,
    singleton: bool,
}

impl TaskOptions {
    fn parse(attribute: &str, attr: &Attribute) -> syn::Result<Self> {
        let mut name: Option<LitStr> = None;
        let mut interval: Option<u64> = None;
        let mut one_shot: Option<bool> = None;
        let mut autostart: Option<bool> = None;
        let mut singleton: Option<bool> = None;
        let mut diag = Diagnostics::default();
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    return set_once(&meta, &mut name, meta.value()?.parse()?);
                }
                if meta.path.is_ident("singleton") && attribute != "thread" {
                    return set_once(&meta, &mut singleton, flag(&meta)?);
                }
                match attribute {
                    "thread" => {
                        return Err(meta.error("unknown `thread` option; expected `name` (a thread cannot be a `singleton`: use `#[task(singleton)]`)"));
                    }
                    "task" => {
                        return Err(meta.error("unknown `task` option; expected `name` or `singleton`"));
                    }
                    _ => {}
                }
                if meta.path.is_ident("interval") {
                    let expr: syn::Expr = meta.value()?.parse()?;
                    match interval::parse(&expr) {
                        Ok(ms) => set_once(&meta, &mut interval, ms),
                        Err(error) => {
                            diag.push(error);
                            Ok(())
                        }
                    }
                } else if meta.path.is_ident("one_shot") {
                    set_once(&meta, &mut one_shot, flag(&meta)?)
                } else if meta.path.is_ident("autostart") {
                    set_once(&meta, &mut autostart, flag(&meta)?)
                } else {
                    Err(meta.error(
                        "unknown `task_timer` option; expected `interval`, `one_shot`, `autostart`, `singleton` or `name`",
                    ))
                }
            });
            if let Err(error) = parsed {
                diag.push(error);
            }
        }
        diag.finish()?;
        let kind = match attribute {
            "task" => TaskKind::Task,
            "thread" => TaskKind::Thread,
            _ => TaskKind::Timer {
                interval_ms: interval.unwrap_or(1000),
                one_shot: one_shot.unwrap_or(false),
                autostart: autostart.unwrap_or(false),
            },
        };
        Ok(TaskOptions {
            name,
            kind,
            singleton: singleton.unwrap_or(false),
        })
    }
}

/// `flag`, `flag = true` or `flag = false`.
fn flag(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) {
        let value: syn::LitBool = meta.value()?.parse()?;
        Ok(value.value)
    } else {
        Ok(true)
    }
}

/// Checks a task's signature; returns whether it takes a context argument.
fn check_task_signature(diag: &mut Diagnostics, kind: &str, sig: &syn::Signature) -> bool {
    match (kind, &sig.asyncness) {
        ("thread", Some(asyncness)) => diag.error_at(
            asyncness,
            "`#[thread]` methods must not be `async`: they run on their own OS thread",
        ),
        ("thread", None) => {}
        (_, None) => diag.error_at(
            sig.fn_token,
            format!("`#[{kind}]` methods must be `async fn`"),
        ),
        _ => {}
    }
    check_receiver_and_generics(diag, sig, &format!("`#[{kind}]` method"));
    let extra: Vec<&FnArg> = sig.inputs.iter().skip(1).collect();
    let argument = if kind == "thread" {
        "a `ShutdownHandle`"
    } else {
        "a `TaskContext`"
    };
    for arg in extra.iter().skip(1) {
        diag.error_at(
            arg,
            format!("`#[{kind}]` methods take `&self` and at most one more argument, {argument}"),
        );
    }
    !extra.is_empty()
}

/// Checks a lifecycle hook: `async fn start(&self, stage: Stage) -> ...`.
fn check_hook(diag: &mut Diagnostics, sig: &syn::Signature) {
    let name = &sig.ident;
    if sig.asyncness.is_none() {
        diag.error_at(sig.fn_token, format!("the lifecycle hook `{name}` must be `async fn {name}(&self, stage: Stage)`; rename the method if it is not a hook"));
    }
    check_receiver_and_generics(diag, sig, "lifecycle hook");
    if sig.inputs.len() != 2 {
        diag.error_at(&sig.inputs, format!("the lifecycle hook `{name}` takes `&self` and a `Stage`: `async fn {name}(&self, stage: Stage)`"));
    }
}

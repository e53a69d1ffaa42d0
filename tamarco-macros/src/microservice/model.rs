//! The typed model of a `#[microservice]` struct, built from syn (its impl block is in
//! `block`). Parsing removes our helper attributes (`#[resource]`, `#[output]`) from the item
//! in place, so that the item can be emitted clean even when there are errors.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemStruct, LitStr, Token, Type};

use super::args::{ServiceArgs, set_once};
use super::output::{self, Output};
use crate::diagnostics::Diagnostics;

/// A `#[microservice]` struct.
pub(crate) struct Service {
    /// Whether the struct is generic: then no impl can be generated.
    pub(crate) generic: bool,
    pub(crate) ident: Ident,
    /// The service name: `name = "..."` or the struct's name in snake_case.
    pub(crate) name: String,
    pub(crate) resources: Vec<ResourceField>,
    /// Fields of type `ServiceContext`, bound by the runtime.
    pub(crate) contexts: Vec<Ident>,
    /// The `#[output]` fields (after the checks, the sound ones).
    pub(crate) outputs: Vec<Output>,
    /// `settings = "file.yml"`, once the file was found sound.
    pub(crate) settings: Option<syn::LitStr>,
    /// `main`: where it was written, for the `Default` bound's error.
    pub(crate) main: Option<Span>,
}

/// A `#[resource]` field.
pub(crate) struct ResourceField {
    pub(crate) field: Ident,
    pub(crate) ty: Type,
    /// The settings name: `name = "..."` or the field name.
    pub(crate) name: String,
    /// Where the name comes from: the literal, or the field.
    pub(crate) name_span: Span,
    pub(crate) depends_on: Vec<Ident>,
    pub(crate) replaces_default: Option<Span>,
}

impl Service {
    /// Builds the model, recording every problem in `diag`. The model holds the resources whose
    /// options parsed, so that the `Microservice` impl is generated even when a check failed.
    pub(crate) fn parse(item: &mut ItemStruct, args: &ServiceArgs, diag: &mut Diagnostics) -> Self {
        let generic = !item.generics.params.is_empty();
        if generic {
            diag.error_at(
                &item.generics,
                "a `#[microservice]` struct cannot be generic",
            );
        }
        let name = match &args.name {
            Some(name) => {
                settings_segment(diag, &name.value(), name.span(), "service name");
                name.value()
            }
            None => snake_case(&item.ident.to_string()),
        };
        let mut resources = Vec::new();
        let mut contexts = Vec::new();
        let mut outputs = Vec::new();
        match &mut item.fields {
            syn::Fields::Named(fields) => {
                for field in &mut fields.named {
                    let output_attr = take_attr(&mut field.attrs, "output");
                    let Some(options) = take_attr(&mut field.attrs, "resource") else {
                        let ident = field.ident.as_ref().expect("named field");
                        if let Some(attr) = output_attr {
                            outputs.extend(output::parse(diag, &attr, ident, &field.ty));
                        } else if is_service_context(&field.ty) {
                            contexts.push(ident.clone());
                        }
                        continue;
                    };
                    if let Some(attr) = output_attr {
                        diag.error_at(
                            attr,
                            "a field is either a `#[resource]` or an `#[output]` of one",
                        );
                    }
                    let ident = field.ident.clone().expect("named field");
                    match ResourceOptions::parse(options) {
                        Ok(options) => {
                            let (name, name_span) = match options.name {
                                Some(name) => (name.value(), name.span()),
                                None => (ident.to_string(), ident.span()),
                            };
                            resources.push(ResourceField {
                                field: ident,
                                ty: field.ty.clone(),
                                name,
                                name_span,
                                depends_on: options.depends_on,
                                replaces_default: options.replaces_default,
                            });
                        }
                        Err(error) => diag.push(error),
                    }
                }
            }
            syn::Fields::Unnamed(_) | syn::Fields::Unit => {
                diag.error_at(&item.ident, "a `#[microservice]` struct needs named fields, e.g. `struct Svc { #[resource] db: Db }`");
            }
        }
        Service {
            generic,
            ident: item.ident.clone(),
            name,
            resources,
            contexts,
            outputs,
            settings: None,
            main: args.main,
        }
    }
}

/// Options of `#[resource(...)]`.
#[derive(Default)]
struct ResourceOptions {
    name: Option<LitStr>,
    depends_on: Vec<Ident>,
    replaces_default: Option<Span>,
}

impl ResourceOptions {
    fn parse(attr: Attribute) -> syn::Result<Self> {
        let mut options = ResourceOptions::default();
        if matches!(attr.meta, syn::Meta::Path(_)) {
            return Ok(options);
        }
        let mut depends_on = None;
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                set_once(&meta, &mut options.name, meta.value()?.parse()?)
            } else if meta.path.is_ident("depends_on") {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let list = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                set_once(&meta, &mut depends_on, list.into_iter().collect())
            } else if meta.path.is_ident("replaces_default") {
                set_once(&meta, &mut options.replaces_default, meta.path.span())
            } else {
                Err(meta.error("unknown `resource` option; expected `name`, `depends_on` or `replaces_default`"))
            }
        })?;
        options.depends_on = depends_on.unwrap_or_default();
        Ok(options)
    }
}

/// Whether a field's type is `ServiceContext` (by any path), which the runtime binds.
fn is_service_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|s| s.ident == "ServiceContext" && s.arguments.is_none()))
}

/// Removes the first attribute named `name` from `attrs` and returns it.
pub(crate) fn take_attr(attrs: &mut Vec<Attribute>, name: &str) -> Option<Attribute> {
    let index = attrs.iter().position(|attr| attr.path().is_ident(name))?;
    Some(attrs.remove(index))
}

/// `HelloWorld` → `hello_world`; `HTTPServer` → `http_server`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let after_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let acronym_end = i > 0
                && chars[i - 1].is_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if (after_lower || acronym_end) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A settings path segment: letters, digits, `_` and `-`; no dots, not empty.
pub(crate) fn settings_segment(diag: &mut Diagnostics, name: &str, span: Span, what: &str) {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        diag.error_span(span, format!("`{name}` is not a valid {what}: use letters, digits, `_` and `-` (it is a segment of a settings key)"));
    }
}

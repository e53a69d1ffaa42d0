//! `#[route(<resource>, <METHOD> "<path>")]` on a method of the impl block: parsing and the
//! checks that look at one route.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, LitStr, Token, Type};

use super::signature::{check_receiver_and_generics, takes_arc_self};
use crate::diagnostics::Diagnostics;

/// HTTP methods a route may name; `ANY` matches every method.
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "ANY",
];

/// One `#[route]` of a method.
pub(crate) struct Route {
    /// The resource field that serves it.
    pub(crate) resource: Ident,
    /// `GET`, `POST`, ... or `ANY`.
    pub(crate) method: Ident,
    pub(crate) path: LitStr,
    /// The handler method and its extractor arguments (after the receiver).
    pub(crate) handler: Ident,
    pub(crate) extractors: Vec<Type>,
    /// The span of the return type, where an error about it belongs.
    pub(crate) output_span: Span,
    pub(crate) by_arc: bool,
    pub(crate) cfg: Vec<Attribute>,
}

/// The attribute's arguments.
struct RouteArgs {
    resource: Ident,
    method: Ident,
    path: LitStr,
}

impl Parse for RouteArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let resource: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the resource field first: `#[route(http_server, GET \"/path\")]`",
            )
        })?;
        input.parse::<Token![,]>()?;
        let method: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an HTTP method before the path: `GET \"/path\"`",
            )
        })?;
        let path: LitStr = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the route's path"));
        }
        Ok(RouteArgs {
            resource,
            method,
            path,
        })
    }
}

/// Parses the `#[route]` attributes of one method and checks the method; returns its routes
/// when everything is sound (nothing is generated for a broken route, so no second error
/// follows from it).
pub(crate) fn parse(
    diag: &mut Diagnostics,
    attrs: &[Attribute],
    sig: &syn::Signature,
    cfg: &[Attribute],
) -> Vec<Route> {
    let before = diag.count();
    let mut parsed = Vec::new();
    for attr in attrs {
        match attr.parse_args::<RouteArgs>() {
            Ok(args) => {
                check_args(diag, &args);
                parsed.push(args);
            }
            Err(error) => diag.push(error),
        }
    }
    check_signature(diag, sig);
    if diag.count() != before {
        return Vec::new();
    }
    let extractors: Vec<Type> = sig
        .inputs
        .iter()
        .skip(1)
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some((*typed.ty).clone()),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let output_span = match &sig.output {
        syn::ReturnType::Default => sig.ident.span(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    parsed
        .into_iter()
        .map(|args| Route {
            resource: args.resource,
            method: args.method,
            path: args.path,
            handler: sig.ident.clone(),
            extractors: extractors.clone(),
            output_span,
            by_arc: takes_arc_self(sig),
            cfg: cfg.to_vec(),
        })
        .collect()
}

fn check_args(diag: &mut Diagnostics, args: &RouteArgs) {
    let method = args.method.to_string();
    if !METHODS.contains(&method.as_str()) {
        diag.error_at(
            &args.method,
            format!(
                "`{method}` is not an HTTP method a route can name; expected one of {}",
                METHODS.join(", ")
            ),
        );
    }
    let path = args.path.value();
    if !path.starts_with('/') {
        diag.error_at(
            &args.path,
            format!("a route's path starts with `/`: \"/{path}\""),
        );
    } else if path.contains(['{', '}']) && !balanced_captures(&path) {
        diag.error_at(
            &args.path,
            "each capture is one named segment: `/orders/{id}` or `/files/{*rest}`",
        );
    }
}

/// Whether every `{` closes with a `}` around a non-empty name, within one segment.
fn balanced_captures(path: &str) -> bool {
    let mut open = None;
    for (i, c) in path.char_indices() {
        match (c, open) {
            ('{', None) => open = Some(i),
            ('}', Some(start)) if i > start + 1 => open = None,
            ('{' | '}' | '/', Some(_)) | ('}', None) => return false,
            _ => {}
        }
    }
    open.is_none()
}

/// The path with capture names erased: `/a/{id}` and `/a/{name}` are the same route to axum.
pub(crate) fn path_shape(path: &str) -> String {
    let mut shape = String::with_capacity(path.len());
    let mut in_capture = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_capture = true;
                shape.push('{');
            }
            '}' => {
                in_capture = false;
                shape.push('}');
            }
            '*' if in_capture => shape.push('*'),
            _ if in_capture => {}
            _ => shape.push(c),
        }
    }
    shape
}

fn check_signature(diag: &mut Diagnostics, sig: &syn::Signature) {
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            "a `#[route]` handler must be `async fn`: `async fn handler(&self, <axum extractors>) -> impl IntoResponse`",
        );
    }
    check_receiver_and_generics(diag, sig, "`#[route]` handler");
}

#[cfg(test)]
mod tests {
    use super::{balanced_captures, path_shape};

    #[test]
    fn captures_are_compared_by_shape() {
        assert_eq!(path_shape("/orders/{id}"), path_shape("/orders/{order}"));
        assert_ne!(path_shape("/files/{*rest}"), path_shape("/files/{name}"));
        assert!(balanced_captures("/a/{id}/b/{*rest}"));
        assert!(!balanced_captures("/a/{}"));
        assert!(!balanced_captures("/a/{id"));
        assert!(!balanced_captures("/a/{i/d}"));
    }
}

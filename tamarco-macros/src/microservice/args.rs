//! Arguments of `#[microservice(...)]`: `name = "..."`, `settings = "file.yml"`, `main` and
//! `crate = "..."` on the struct, `crate = "..."` on the impl block.

use proc_macro2::TokenStream;
use syn::LitStr;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;

use crate::diagnostics::Diagnostics;
use crate::paths::Private;

/// Arguments on the struct.
#[derive(Default)]
pub(crate) struct ServiceArgs {
    pub(crate) name: Option<LitStr>,
    /// A YAML file of in-code settings, embedded at compile time.
    pub(crate) settings: Option<LitStr>,
    /// `main`: generate `fn main` running `Self::default()`.
    pub(crate) main: Option<proc_macro2::Span>,
    pub(crate) krate: Option<syn::Path>,
}

/// Arguments on the impl block.
#[derive(Default)]
pub(crate) struct ImplArgs {
    pub(crate) krate: Option<syn::Path>,
}

impl ServiceArgs {
    /// Parses the arguments; on an error, records it and keeps the options read before it.
    pub(crate) fn parse(args: TokenStream, diag: &mut Diagnostics) -> Self {
        let mut parsed = ServiceArgs::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                set_once(&meta, &mut parsed.name, meta.value()?.parse()?)
            } else if meta.path.is_ident("settings") {
                set_once(&meta, &mut parsed.settings, meta.value()?.parse()?)
            } else if meta.path.is_ident("main") {
                set_once(&meta, &mut parsed.main, meta.path.span())
            } else if meta.path.is_ident("crate") {
                set_once(
                    &meta,
                    &mut parsed.krate,
                    meta.value()?.parse::<LitStr>()?.parse()?,
                )
            } else {
                Err(meta.error(
                    "unknown `microservice` option; expected `name`, `settings`, `main` or `crate`",
                ))
            }
        });
        if let Err(error) = syn::parse::Parser::parse2(parser, args) {
            diag.push(error);
        }
        parsed
    }

    pub(crate) fn private(&self) -> Private {
        Private(self.krate.clone())
    }
}

impl ImplArgs {
    /// Parses the arguments; on an error, records it and keeps the options read before it.
    pub(crate) fn parse(args: TokenStream, diag: &mut Diagnostics) -> Self {
        let mut parsed = ImplArgs::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                set_once(
                    &meta,
                    &mut parsed.krate,
                    meta.value()?.parse::<LitStr>()?.parse()?,
                )
            } else if ["name", "settings", "main"]
                .iter()
                .any(|key| meta.path.is_ident(key))
            {
                Err(meta.error("the service's `name`, `settings` and `main` go on the `#[microservice]` struct, not on its impl block"))
            } else {
                Err(meta.error("unknown `microservice` option for an impl block; expected `crate`"))
            }
        });
        if let Err(error) = syn::parse::Parser::parse2(parser, args) {
            diag.push(error);
        }
        parsed
    }

    pub(crate) fn private(&self) -> Private {
        Private(self.krate.clone())
    }
}

/// Stores an option's value, rejecting a second occurrence at its key.
pub(crate) fn set_once<T>(
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<T>,
    value: T,
) -> syn::Result<()> {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(meta.error(format!("`{key}` is given more than once")));
    }
    *slot = Some(value);
    Ok(())
}

//! Arguments of `#[microservice(...)]`: `name = "..."` and `crate = "..."` on the struct,
//! `crate = "..."` on the impl block.

use proc_macro2::TokenStream;
use syn::LitStr;
use syn::meta::ParseNestedMeta;

use crate::diagnostics::Diagnostics;
use crate::paths::Private;

/// Arguments on the struct.
#[derive(Default)]
pub(crate) struct ServiceArgs {
    pub(crate) name: Option<LitStr>,
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
            } else if meta.path.is_ident("crate") {
                set_once(
                    &meta,
                    &mut parsed.krate,
                    meta.value()?.parse::<LitStr>()?.parse()?,
                )
            } else {
                Err(meta.error("unknown `microservice` option; expected `name` or `crate`"))
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
            } else if meta.path.is_ident("name") {
                Err(meta.error("the service's `name` goes on the `#[microservice]` struct, not on its impl block"))
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

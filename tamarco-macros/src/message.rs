//! `#[message]`: serde's derives through `tamarco::serde` (or `crate = "..."`'s serde).

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

use crate::diagnostics::{Diagnostics, with_item};

/// The item with `#[derive(Serialize, Deserialize)]` and `#[serde(crate = "<tamarco>::serde")]`
/// in front of it.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::default();
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            if krate.is_some() {
                return Err(meta.error("`crate` is given more than once"));
            }
            krate = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("unknown `message` option; expected `crate`"))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        diag.push(error);
    }
    let serde = match &krate {
        Some(krate) => quote!(#krate::serde),
        None => quote!(::tamarco::serde),
    };
    let serde_path = serde.to_string().replace(' ', "");
    let output = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_) | syn::Item::Enum(_)) => quote! {
            #[derive(#serde::Serialize, #serde::Deserialize)]
            #[serde(crate = #serde_path)]
            #item
        },
        Ok(other) => {
            diag.error_at(&other, "`#[message]` goes on a struct or an enum");
            item
        }
        Err(error) => {
            diag.push(error);
            item
        }
    };
    match diag.finish() {
        Ok(()) => output,
        Err(error) => with_item(output, &error),
    }
}

//! The path generated code uses to reach the runtime: `::tamarco::__private`, or
//! `<crate>::__private` with `#[microservice(crate = "...")]`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// Renders as the `__private` module path.
#[derive(Clone)]
pub(crate) struct Private(pub(crate) Option<syn::Path>);

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match &self.0 {
            Some(krate) => tokens.extend(quote!(#krate::__private)),
            None => tokens.extend(quote!(::tamarco::__private)),
        }
    }
}

//! Error accumulation: every problem of an item is reported at once, each at its own token.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// Collects errors instead of stopping at the first.
#[derive(Default)]
pub(crate) struct Diagnostics {
    combined: Option<syn::Error>,
}

impl Diagnostics {
    /// Records an error spanning the tokens of `at`.
    pub(crate) fn error_at(&mut self, at: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(at, message));
    }

    /// Records an error at one span.
    pub(crate) fn error_span(&mut self, span: proc_macro2::Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(first) => first.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// `Err` with every recorded error, if any.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }
}

/// The user's item (already cleaned of our helper attributes) followed by the errors, so that
/// the rest of the crate and the IDE keep working.
pub(crate) fn with_item(item: TokenStream, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    quote! { #item #errors }
}

/// Output of `#[task]`, `#[task_timer]` and `#[thread]` when they run at all: inside a
/// `#[microservice]` impl block they are consumed first, so running means they are misplaced.
pub(crate) fn outside_microservice(attribute: &str, item: TokenStream) -> TokenStream {
    let message = format!(
        "`#[{attribute}]` only works on methods of a `#[microservice] impl` block; \
         add `#[microservice]` to the impl block"
    );
    let at = match syn::parse2::<syn::ImplItemFn>(item.clone()) {
        Ok(method) => method.sig.ident.into_token_stream(),
        Err(_) => item.clone(),
    };
    with_item(item, &syn::Error::new_spanned(at, message))
}

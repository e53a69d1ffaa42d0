//! Error accumulation: every problem of an item is reported at once, each at its own token.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// Collects errors instead of stopping at the first.
#[derive(Default)]
pub(crate) struct Diagnostics {
    combined: Option<syn::Error>,
    count: usize,
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
        self.count += (&error).into_iter().count();
        match &mut self.combined {
            Some(first) => first.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// How many errors have been recorded so far; comparing counts tells whether a check of one
    /// part found anything.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// `Err` with every recorded error, if any.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }
}

/// The user's item (already cleaned of our helper attributes, possibly with its generated impl)
/// followed by the errors, so that the rest of the crate and the IDE keep working.
pub(crate) fn with_item(item: TokenStream, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    quote! { #item #errors }
}

/// Output of `#[task]`, `#[task_timer]` and `#[thread]` when they run at all: inside a
/// `#[microservice]` impl block they are consumed first, so running means they are misplaced.
pub(crate) fn outside_microservice(attribute: &str, item: TokenStream) -> TokenStream {
    let in_block =
        format!("`#[{attribute}]` only works on methods of a `#[microservice] impl` block");
    let (at, message) = match syn::parse2::<syn::ImplItemFn>(item.clone()) {
        Ok(method) if method.sig.receiver().is_some() => (
            method.sig.ident.into_token_stream(),
            format!("{in_block}; add `#[microservice]` to the impl block"),
        ),
        Ok(method) => (
            method.sig.ident.into_token_stream(),
            format!(
                "`#[{attribute}]` goes on a `&self` method of a `#[microservice] impl` block; \
                 this function takes no `self`"
            ),
        ),
        Err(_) => (item.clone(), in_block),
    };
    with_item(item, &syn::Error::new_spanned(at, message))
}

/// `error_at!(ident, "tail")`: a compile error "`ident`tail" at the ident's span.
pub(crate) fn error_at(input: TokenStream) -> TokenStream {
    let parser = |stream: syn::parse::ParseStream<'_>| {
        let at: proc_macro2::Ident = stream.parse()?;
        stream.parse::<syn::Token![,]>()?;
        let tail: syn::LitStr = stream.parse()?;
        Ok((at, tail))
    };
    match syn::parse::Parser::parse2(parser, input) {
        Ok((at, tail)) => {
            syn::Error::new(at.span(), format!("`{at}{}", tail.value())).to_compile_error()
        }
        Err(error) => error.to_compile_error(),
    }
}

//! `#[microservice]`: struct → [`Microservice`] impl (name and resources); impl block →
//! [`TaskSet`] impl (tasks and hooks). Parse → model → check → expand.
//!
//! [`Microservice`]: https://docs.rs/tamarco/latest/tamarco/trait.Microservice.html
//! [`TaskSet`]: https://docs.rs/tamarco/latest/tamarco/trait.TaskSet.html

mod args;
mod check;
mod expand;
mod interval;
mod model;

#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::diagnostics::with_item;

/// Expands `#[microservice(args)]` on `item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let output = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(mut item)) => {
            let parsed = args::ServiceArgs::parse(args).and_then(|args| {
                let service = model::Service::parse(&mut item, &args)?;
                Ok((args, service))
            });
            match parsed {
                Ok((args, service)) => expand::service(&item, &service, &args.private()),
                Err(error) => with_item(item.into_token_stream(), &error),
            }
        }
        Ok(syn::Item::Impl(mut item)) => {
            let parsed = args::ImplArgs::parse(args).and_then(|args| {
                let tasks = model::TaskBlock::parse(&mut item)?;
                Ok((args, tasks))
            });
            match parsed {
                Ok((args, tasks)) => expand::task_block(&item, &tasks, &args.private()),
                Err(error) => with_item(item.into_token_stream(), &error),
            }
        }
        Ok(other) => with_item(
            other.to_token_stream(),
            &syn::Error::new_spanned(
                &other,
                "`#[microservice]` goes on a struct (the service) or on an impl block of it (its tasks)",
            ),
        ),
        Err(error) => with_item(item, &error),
    };
    if std::env::var_os("TAMARCO_MACROS_DEBUG").is_some() {
        eprintln!("{output}");
    }
    output
}

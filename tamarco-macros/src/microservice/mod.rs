//! `#[microservice]`: struct → [`Microservice`] impl (name and resources); impl block →
//! [`TaskSet`] impl (tasks and hooks). Parse → model → check → expand.
//!
//! [`Microservice`]: https://docs.rs/tamarco/latest/tamarco/trait.Microservice.html
//! [`TaskSet`]: https://docs.rs/tamarco/latest/tamarco/trait.TaskSet.html

mod args;
mod block;
mod check;
mod duration;
mod embedded;
mod expand;
mod input;
mod interval;
mod model;
mod output;
mod route;
mod signature;
mod subscription;
mod wire;
mod wiring;

#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::diagnostics::{Diagnostics, with_item};

/// Expands `#[microservice(args)]` on `item`.
///
/// With errors, the item still gets its generated impl, built from the parts that are sound,
/// followed by the errors: an error in the struct must not also surface as "`Svc` does not
/// implement `Microservice`" at its impl block, nor a broken task as "`Svc` has no
/// `#[microservice]` impl block" at `run()`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut diag = Diagnostics::default();
    let output = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(mut item)) => {
            let args = args::ServiceArgs::parse(args, &mut diag);
            match parse_service(&mut item, &args, &mut diag) {
                Some(service) => expand::service(&item, &service, &args.private()),
                None => item.into_token_stream(),
            }
        }
        Ok(syn::Item::Impl(mut item)) => {
            let args = args::ImplArgs::parse(args, &mut diag);
            match parse_task_block(&mut item, &mut diag) {
                Some(tasks) => expand::task_block(&item, &tasks, &args.private()),
                None => item.into_token_stream(),
            }
        }
        Ok(other) => {
            diag.error_at(
                &other,
                "`#[microservice]` goes on a struct (the service) or on an impl block of it (its tasks)",
            );
            other.into_token_stream()
        }
        Err(error) => {
            diag.push(error);
            item
        }
    };
    let output = match diag.finish() {
        Ok(()) => output,
        Err(error) => with_item(output, &error),
    };
    if std::env::var_os("TAMARCO_MACROS_DEBUG").is_some() {
        eprintln!("{output}");
    }
    output
}

/// The service's model after the per-field and the cross-field checks; `None` when no impl
/// can be generated (a generic struct).
pub(crate) fn parse_service(
    item: &mut syn::ItemStruct,
    args: &args::ServiceArgs,
    diag: &mut Diagnostics,
) -> Option<model::Service> {
    let mut service = model::Service::parse(item, args, diag);
    service.settings = args
        .settings
        .clone()
        .filter(|file| embedded::check(diag, file));
    check::resources(diag, &service);
    check::outputs(diag, &mut service);
    (!service.generic).then_some(service)
}

/// The task block's model after the per-method and the cross-method checks; `None` when no
/// impl can be generated (a trait impl or a generic impl block).
pub(crate) fn parse_task_block(
    item: &mut syn::ItemImpl,
    diag: &mut Diagnostics,
) -> Option<block::TaskBlock> {
    let mut block = block::TaskBlock::parse(item, diag);
    check::tasks(diag, &block);
    check::routes(diag, &mut block.routes);
    check::inputs(diag, &mut block.inputs);
    block.expandable.then_some(block)
}

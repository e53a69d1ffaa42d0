//! Procedural macros of tamarco. Use them through the `tamarco` crate, which documents them.

mod diagnostics;
mod microservice;
mod paths;

use proc_macro::TokenStream;

/// Turns a struct into a service, or an impl block of that struct into its tasks and hooks.
///
/// See the `tamarco` crate's documentation of this macro for the attribute reference, the
/// generated code and the errors it reports.
#[proc_macro_attribute]
pub fn microservice(args: TokenStream, item: TokenStream) -> TokenStream {
    microservice::expand(args.into(), item.into()).into()
}

/// Marks an async method of a `#[microservice]` impl block as a task. Inside such a block the
/// attribute is consumed; it runs only when misplaced, and then reports that.
#[proc_macro_attribute]
pub fn task(_args: TokenStream, item: TokenStream) -> TokenStream {
    diagnostics::outside_microservice("task", item.into()).into()
}

/// Marks an async method of a `#[microservice]` impl block as a timer. Inside such a block the
/// attribute is consumed; it runs only when misplaced, and then reports that.
#[proc_macro_attribute]
pub fn task_timer(_args: TokenStream, item: TokenStream) -> TokenStream {
    diagnostics::outside_microservice("task_timer", item.into()).into()
}

/// Marks a blocking method of a `#[microservice]` impl block as a thread. Inside such a block
/// the attribute is consumed; it runs only when misplaced, and then reports that.
#[proc_macro_attribute]
pub fn thread(_args: TokenStream, item: TokenStream) -> TokenStream {
    diagnostics::outside_microservice("thread", item.into()).into()
}

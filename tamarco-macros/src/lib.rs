//! Procedural macros of tamarco. Use them through the `tamarco` crate, which documents them.

mod diagnostics;
mod message;
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

/// Routes HTTP requests to an async method of a `#[microservice]` impl block:
/// `#[route(http_server, GET "/orders/{id}")]`. Inside such a block the attribute is consumed;
/// it runs only when misplaced, and then reports that.
#[proc_macro_attribute]
pub fn route(_args: TokenStream, item: TokenStream) -> TokenStream {
    diagnostics::outside_microservice("route", item.into()).into()
}

/// Used by generated code: `error_at!(token, "tail")` is a `compile_error!` reading
/// "`token`tail", at the token's span (so that a name checked by a generated `macro_rules!`
/// is reported where the user wrote it).
#[doc(hidden)]
#[proc_macro]
pub fn error_at(input: TokenStream) -> TokenStream {
    diagnostics::error_at(input.into()).into()
}

/// Makes an async method of a `#[microservice] impl` block the handler of a messaging input:
/// `#[input(amqp, subscribe = "prices")]`. Inside such a block the attribute is consumed; it
/// runs only when misplaced, and then reports that.
#[proc_macro_attribute]
pub fn input(_args: TokenStream, item: TokenStream) -> TokenStream {
    diagnostics::outside_microservice("input", item.into()).into()
}

/// Makes a struct or enum a message a codec can carry: derives serde's `Serialize` and
/// `Deserialize` through tamarco's own serde, so the service's crate needs no serde
/// dependency nor `#[serde(crate = "...")]`. Other `#[serde(...)]` attributes work as usual.
#[proc_macro_attribute]
pub fn message(args: TokenStream, item: TokenStream) -> TokenStream {
    message::expand(args.into(), item.into()).into()
}

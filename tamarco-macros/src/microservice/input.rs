//! `#[input(<resource>, <kind> = "<name>", options...)]` on a method of the impl block:
//! parsing and the checks that look at one input.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, LitInt, LitStr, Type};

use super::args::set_once;
use super::duration;
use super::signature::{check_receiver_and_generics, takes_arc_self};
use super::subscription::{self, Subscription};
use super::wiring::Head;
use crate::diagnostics::Diagnostics;

/// Input kinds: the attribute keyword and the engine's marker type.
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("pull", "Pull"),
    ("subscribe", "Subscribe"),
    ("request", "Request"),
    ("topic", "Topic"),
    ("stream", "Stream"),
];

/// Numeric options, in the order the engine's `InputSpec` builder takes them.
const NUMBERS: &[&str] = &["concurrency", "prefetch", "retries", "max_deliveries"];

/// One `#[input]` method.
pub(crate) struct Input {
    pub(crate) resource: Ident,
    /// The keyword (`pull`...) with its span, and the engine's marker (`Pull`...).
    pub(crate) kind: Ident,
    pub(crate) marker: &'static str,
    pub(crate) name: LitStr,
    pub(crate) codec: Option<syn::Path>,
    /// Numeric options the user wrote, by builder method.
    pub(crate) numbers: Vec<(Ident, LitInt)>,
    pub(crate) dead_letter: Option<LitStr>,
    /// `retry_backoff = "250ms"`, as a `core::time::Duration` expression.
    pub(crate) retry_backoff: Option<TokenStream>,
    /// Kafka's `topics`, `group` and `offset_reset`, as calls on the engine's `InputSpec`.
    pub(crate) transport: Vec<TokenStream>,
    /// `stream`: the method reads an `InputStream` instead of handling one message.
    pub(crate) stream: bool,
    pub(crate) handler: Ident,
    /// The message argument's type (`Message<Price>`), where codec errors belong.
    pub(crate) message: Type,
    pub(crate) by_arc: bool,
    pub(crate) cfg: Vec<Attribute>,
}

impl Input {
    /// Whether the handler returns the reply (request/response).
    pub(crate) fn replies(&self) -> bool {
        self.marker == "Request"
    }
}

/// Parses `#[input(...)]` of one method and checks the method; `None` when anything is wrong
/// (nothing is generated for a broken input, so no second error follows from it).
pub(crate) fn parse(
    diag: &mut Diagnostics,
    attr: &Attribute,
    sig: &syn::Signature,
    cfg: &[Attribute],
) -> Option<Input> {
    let before = diag.count();
    let parsed = parse_args(diag, attr);
    let message = check_signature(diag, sig);
    if diag.count() != before {
        return None;
    }
    let (resource, kind, marker, name, options) = parsed?;
    Some(Input {
        resource,
        kind,
        marker,
        name,
        codec: options.codec,
        numbers: options.numbers,
        dead_letter: options.dead_letter,
        retry_backoff: options.retry_backoff,
        transport: options.transport,
        stream: options.stream.is_some(),
        handler: sig.ident.clone(),
        message: message?,
        by_arc: takes_arc_self(sig),
        cfg: cfg.to_vec(),
    })
}

#[derive(Default)]
struct Options {
    codec: Option<syn::Path>,
    numbers: Vec<(Ident, LitInt)>,
    dead_letter: Option<LitStr>,
    retry_backoff: Option<TokenStream>,
    stream: Option<Ident>,
    transport: Vec<TokenStream>,
}

type Parsed = (Ident, Ident, &'static str, LitStr, Options);

fn parse_args(diag: &mut Diagnostics, attr: &Attribute) -> Option<Parsed> {
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let mut head = Head::default();
    let mut options = Options::default();
    let mut subscription = Subscription::default();
    // Wrong values of the subscription options: reported with the rest, after the attribute.
    let mut wrong = Vec::new();
    let result = attr.parse_nested_meta(|meta| {
        let Some(key) = meta.path.get_ident().cloned() else {
            return Err(meta.error("expected a resource field or an option"));
        };
        // `stream = "orders"` is the Redis kind; a bare `stream` is the flag below.
        let flag = key == "stream" && !names_a_stream(&meta);
        if flag && meta.input.peek(syn::Token![=]) {
            return Err(meta.error(
                "`stream` takes no value: `#[input(kafka, topic = \"events\", stream)]`",
            ));
        }
        if !flag && head.take(&meta, &key, &kinds, "input")? {
            return Ok(());
        }
        match key.to_string().as_str() {
            "codec" => set_once(&meta, &mut options.codec, meta.value()?.parse()?),
            "dead_letter" => set_once(&meta, &mut options.dead_letter, meta.value()?.parse()?),
            "stream" => set_once(&meta, &mut options.stream, key),
            option if subscription::KEYS.contains(&option) => {
                subscription.take(&meta, key, &mut wrong)
            }
            "retry_backoff" => {
                let backoff = duration::parse(&meta.value()?.parse()?)?;
                set_once(&meta, &mut options.retry_backoff, backoff)
            }
            "retry_backoff_ms" => {
                let ms: LitInt = meta.value()?.parse()?;
                Err(syn::Error::new(
                    key.span(),
                    format!("`retry_backoff_ms` is now `retry_backoff`, a duration: `retry_backoff = \"{}ms\"`", ms.base10_digits()),
                ))
            }
            number if NUMBERS.contains(&number) => {
                let value: LitInt = meta.value()?.parse()?;
                value.base10_parse::<u32>()?;
                if options.numbers.iter().any(|(k, _)| *k == key) {
                    return Err(meta.error(format!("`{key}` is given more than once")));
                }
                options.numbers.push((key, value));
                Ok(())
            }
            _ => Err(meta.error(format!(
                "unknown `input` option; expected the kind (`{}` = \"<name>\"), `codec`, `{}`, `retry_backoff`, `dead_letter`, `stream` or, for `topic` inputs, `{}`",
                kinds.join("`, `"),
                NUMBERS.join("`, `"),
                subscription::KEYS.join("`, `")
            ))),
        }
    });
    if let Err(error) = result {
        wrong.into_iter().for_each(|e| diag.push(e));
        diag.push(error);
        return None;
    }
    let written_kind = head.kind().cloned();
    let (implied, transport) = subscription.finish(written_kind.as_ref(), &mut wrong);
    if let Some((kind, name)) = implied {
        head.imply_kind(kind, name);
    }
    options.transport = transport;
    let right = wrong.is_empty();
    wrong.into_iter().for_each(|e| diag.push(e));
    let (resource, kind, name) = head.finish(diag, attr, &kinds, "subscribe")?;
    if !right {
        return None;
    }
    let marker = KINDS.iter().find(|(k, _)| kind == k).map(|(_, m)| *m)?;
    if let Some(stream) = &options.stream
        && marker == "Request"
    {
        diag.error_at(
            stream,
            "a `request` input answers each message from a handler; it cannot be read as a `stream`",
        );
        return None;
    }
    Some((resource, kind, marker, name, options))
}

/// Whether `stream` is followed by `= "<name>"` (the Redis kind), not the reading-mode flag.
fn names_a_stream(meta: &syn::meta::ParseNestedMeta<'_>) -> bool {
    let ahead = meta.input.fork();
    ahead.parse::<syn::Token![=]>().is_ok() && ahead.peek(LitStr)
}

/// Checks `async fn handler(&self, message: Message<T>) -> ...`; returns the message type.
fn check_signature(diag: &mut Diagnostics, sig: &syn::Signature) -> Option<Type> {
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            "an `#[input]` handler must be `async fn`: `async fn handler(&self, message: Message<T>) -> Result<(), E>`",
        );
    }
    check_receiver_and_generics(diag, sig, "`#[input]` handler");
    let rest: Vec<&FnArg> = sig.inputs.iter().skip(1).collect();
    match rest.as_slice() {
        [FnArg::Typed(message)] => Some((*message.ty).clone()),
        [] => {
            let span = sig.paren_token.span.join();
            diag.error_span(
                span,
                "an `#[input]` handler takes the message after `&self`: `(&self, message: Message<T>)`",
            );
            None
        }
        [_, extra @ ..] => {
            for arg in extra {
                diag.error_at(
                    arg,
                    "an `#[input]` handler takes exactly one argument after `&self`: the message",
                );
            }
            None
        }
    }
}

/// The span of a type's first generic argument (`Price` in `Message<Price>`), or of the type.
pub(crate) fn inner_type_span(ty: &Type) -> Span {
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
    {
        return inner.span();
    }
    ty.span()
}

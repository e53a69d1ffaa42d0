//! Code generation for what is wired to resources by name: the struct's resource lookup macro
//! and `Microservice::bind` (context fields, outputs), the impl block's `TaskSet::wire`
//! (routes, inputs). Reads the model, makes no decisions.
//!
//! The struct and its impl block expand separately, so the impl block cannot see which fields
//! are resources. The struct therefore emits a `macro_rules!` that maps each resource's field
//! name to the field and any other name to a `compile_error!` listing the resources; the impl
//! block's generated code names resources only through it, so a wrong name is reported at the
//! user's token, with the list.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::block::TaskBlock;
use super::input::{Input, inner_type_span};
use super::model::Service;
use crate::paths::Private;

/// The lookup macro's name for the service `ident`.
fn lookup_name(ident: &Ident) -> Ident {
    format_ident!("__tamarco_resource_of_{}", ident)
}

/// The struct's resource lookup: `lookup!(field => expr)` is `expr` for a resource field, an
/// error at `field` naming the resources for anything else. The caller writes the field
/// access itself, so that errors about the resource land on the user's token.
pub(crate) fn lookup_macro(service: &Service, p: &Private) -> TokenStream {
    let name = lookup_name(&service.ident);
    let arms = service.resources.iter().map(|resource| {
        let field = &resource.field;
        quote! { (#field => $($e:tt)*) => { $($e)* }; }
    });
    let known: Vec<String> = service
        .resources
        .iter()
        .map(|r| format!("`{}`", r.field))
        .collect();
    let message_tail = if known.is_empty() {
        format!(
            "` is not a resource of `{}`: it has no `#[resource]` fields",
            service.ident
        )
    } else {
        format!(
            "` is not a resource of `{}`; its resources are {}",
            service.ident,
            known.join(", ")
        )
    };
    quote! {
        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #name {
            #(#arms)*
            ($other:ident => $($e:tt)*) => { #p::error_at!($other, #message_tail) };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #name;
    }
}

/// `Microservice::bind`, when the struct has `ServiceContext` fields or outputs.
pub(crate) fn bind_fn(service: &Service, p: &Private) -> Option<TokenStream> {
    if service.contexts.is_empty() && service.outputs.is_empty() {
        return None;
    }
    let contexts = &service.contexts;
    let outputs = service.outputs.iter().map(|output| {
        let resource = &output.resource;
        let field = &output.field;
        let name = &output.name;
        let codec = codec(output.codec.as_ref(), &output.ty, p);
        let target = quote_spanned!(resource.span()=> &self.#resource);
        let bound = quote_spanned!(output.ty.span()=> &self.#field);
        quote! { #p::bind_output(#target, #bound, #name, #codec)?; }
    });
    Some(quote! {
        fn bind(&self, __tamarco_cx: &#p::ServiceContext) -> #p::Result<(), #p::BoxError> {
            #(self.#contexts.bind_from(__tamarco_cx);)*
            #(#outputs)*
            #p::Result::Ok(())
        }
    })
}

/// The codec expression: the user's, or JSON, spanned where a "cannot encode/decode" error
/// belongs (the codec the user named, or the message type).
fn codec(codec: Option<&syn::Path>, ty: &Type, p: &Private) -> TokenStream {
    match codec {
        Some(path) => quote_spanned!(path.span()=> #path),
        None => {
            let span = inner_type_span(ty);
            quote_spanned!(span=> #p::codec::Json)
        }
    }
}

/// `TaskSet::wire`, when the impl block declares routes or inputs.
pub(crate) fn wire_fn(block: &TaskBlock, p: &Private) -> Option<TokenStream> {
    if block.routes.is_empty() && block.inputs.is_empty() {
        return None;
    }
    let lookup = lookup_path(&block.self_ty);
    let inputs = block
        .inputs
        .iter()
        .map(|input| input_binding(input, &lookup, p));
    // One router per resource, in the order resources first appear.
    let mut resources: Vec<&Ident> = Vec::new();
    for route in &block.routes {
        if !resources.contains(&&route.resource) {
            resources.push(&route.resource);
        }
    }
    let per_resource = resources.iter().map(|resource| {
        let routes = block
            .routes
            .iter()
            .filter(|route| route.resource == **resource)
            .map(|route| {
                let handler = &route.handler;
                let path = &route.path;
                let cfg = &route.cfg;
                let args: Vec<Ident> = (0..route.extractors.len())
                    .map(|i| format_ident!("__tamarco_arg{}", i))
                    .collect();
                let types = &route.extractors;
                let receiver = match route.by_arc {
                    true => quote!(__tamarco_svc),
                    false => quote!(&__tamarco_svc),
                };
                // Spanned at the return type: that is what an "is not a response" error is about.
                let call = Ident::new(&handler.to_string(), route.output_span);
                let respond = quote_spanned! {route.output_span=>
                    #p::http::into_response(Self::#call(#receiver, #(#args),*).await)
                };
                let method_filter = method_filter(&route.method, p);
                quote_spanned! {handler.span()=>
                    #(#cfg)*
                    let __tamarco_router = __tamarco_router.route(#path, #p::http::observed(
                        __tamarco_route(#path),
                        #method_filter,
                        |#p::http::State(__tamarco_svc): #p::http::State<#p::Arc<Self>>, #(#args: #types),*| async move {
                            #respond
                        },
                    ));
                }
            });
        let target = quote_spanned! {resource.span()=>
            #lookup!(#resource => &__tamarco_svc.#resource)
        };
        let add = quote_spanned! {resource.span()=> #p::http::add_routes};
        // The resource's observation of each route comes in as `__tamarco_route`.
        quote! {
            #add(#target, |__tamarco_route| {
                let __tamarco_router = #p::http::Router::<#p::Arc<Self>>::new();
                #(#routes)*
                __tamarco_router.with_state(#p::Arc::clone(__tamarco_svc))
            });
        }
    });
    Some(quote! {
        fn wire(__tamarco_svc: &#p::Arc<Self>) -> #p::Result<(), #p::BoxError> {
            #(#inputs)*
            #(#per_resource)*
            #p::Result::Ok(())
        }
    })
}

/// One `#[input]`: `bind_input` (or `bind_request_input`, `bind_stream_input`) with the spec,
/// the codec and a handler (or reader) closure holding the shared service.
fn input_binding(input: &Input, lookup: &TokenStream, p: &Private) -> TokenStream {
    let resource = &input.resource;
    let handler = &input.handler;
    let name = &input.name;
    let cfg = &input.cfg;
    let numbers = input
        .numbers
        .iter()
        .map(|(key, value)| quote!(.#key(#value)));
    let dead_letter = input.dead_letter.iter().map(|dl| quote!(.dead_letter(#dl)));
    let retry_backoff = input
        .retry_backoff
        .iter()
        .map(|b| quote!(.retry_backoff(#b)));
    let transport = &input.transport;
    let codec = codec(input.codec.as_ref(), &input.message, p);
    let receiver = match input.by_arc {
        true => quote!(__tamarco_s),
        false => quote!(&__tamarco_s),
    };
    let target = quote_spanned!(resource.span()=> #lookup!(#resource => &__tamarco_svc.#resource));
    // Each bound of the binding function is reported at the generic argument it constrains:
    // the resource's at the kind keyword, the codec's at the message type.
    let kind = input.kind.span();
    let codec_arg = quote_spanned!(inner_type_span(&input.message)=> _);
    let marker = format_ident!("{}", input.marker, span = kind);
    let (bind, call) = if input.stream {
        // Called once, with the stream: it owns the service handle.
        let bind = quote_spanned!(kind=> #p::bind_stream_input::<_, #p::kind::#marker, _, #codec_arg, _, _, _>);
        let call = quote! {
            move |__tamarco_stream| async move { Self::#handler(#receiver, __tamarco_stream).await }
        };
        (bind, call)
    } else {
        let bind = match input.replies() {
            true => quote_spanned!(kind=> #p::bind_request_input::<_, _, _, #codec_arg, _, _, _>),
            false => {
                quote_spanned!(kind=> #p::bind_input::<_, #p::kind::#marker, _, #codec_arg, _, _, _>)
            }
        };
        let call = quote! {
            move |__tamarco_m| {
                let __tamarco_s = #p::Arc::clone(&__tamarco_s);
                async move { Self::#handler(#receiver, __tamarco_m).await }
            }
        };
        (bind, call)
    };
    quote! {
        #(#cfg)*
        #bind(
            #target,
            #p::InputSpec::new(#name) #(#numbers)* #(#retry_backoff)* #(#dead_letter)* #(#transport)*,
            #codec,
            {
                let __tamarco_s = #p::Arc::clone(__tamarco_svc);
                #call
            },
        )?;
    }
}

/// The route's method as axum's `MethodFilter`; `None` for `ANY`.
fn method_filter(method: &Ident, p: &Private) -> TokenStream {
    match method.to_string().as_str() {
        "ANY" => quote_spanned!(method.span()=> #p::Option::None),
        _ => quote_spanned!(method.span()=> #p::Option::Some(#p::http::MethodFilter::#method)),
    }
}

/// The lookup macro's path, next to the struct's path as the impl block names it
/// (`Svc` → `__tamarco_resource_of_Svc`, `super::Svc` → `super::__tamarco_resource_of_Svc`).
fn lookup_path(self_ty: &Type) -> TokenStream {
    match self_ty {
        Type::Path(path) if path.qself.is_none() => {
            let mut path = path.path.clone();
            if let Some(last) = path.segments.last_mut() {
                last.ident = lookup_name(&last.ident);
                last.arguments = syn::PathArguments::None;
            }
            quote!(#path)
        }
        other => {
            let name = format_ident!("__tamarco_resource_of_unknown", span = Span::call_site());
            quote_spanned!(other.span()=> #name)
        }
    }
}

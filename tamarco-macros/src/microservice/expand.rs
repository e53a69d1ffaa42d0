//! Code generation only: reads the model, makes no decisions.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, ItemStruct};

use super::block::{TaskBlock, TaskKind};
use super::model::Service;
use super::wire;
use crate::paths::Private;

/// The struct, unchanged but for the removed `#[resource]` attributes, and its
/// `Microservice` impl.
pub(crate) fn service(item: &ItemStruct, service: &Service, p: &Private) -> TokenStream {
    let ident = &service.ident;
    let name = &service.name;
    let slots = service.resources.iter().map(|resource| {
        let field = &resource.field;
        let ty = &resource.ty;
        let name = &resource.name;
        // Dependencies are declared by field; the runtime knows resources by settings name.
        // An unknown one has been reported; it is left out so that the impl still compiles.
        let depends_on = resource.depends_on.iter().filter_map(|dependency| {
            let target = service.resources.iter().find(|r| r.field == *dependency)?;
            Some(target.name.clone())
        });
        let replaces = resource.replaces_default.is_some();
        // The bound check is spanned at the field's type, so that a non-resource is reported there.
        let resource = quote_spanned!(ty.span()=> #p::as_resource::<#ty>);
        quote! {
            #p::ResourceSlot {
                name: #name,
                depends_on: &[#(#depends_on),*],
                replaces_default: #replaces,
                resource: #resource(&self.#field),
            }
        }
    });
    let bind = wire::bind_fn(service, p);
    let lookup = wire::lookup_macro(service, p);
    // `include_str!` spanned at the user's literal finds the file next to the user's source,
    // where the check found it, and makes cargo rebuild the service when it changes.
    let settings = service.settings.as_ref().map(|file| {
        let embed = quote_spanned!(file.span()=> ::core::include_str!(#file));
        quote! {
            const SETTINGS: #p::Option<#p::EmbeddedSettings> =
                #p::Option::Some(#p::EmbeddedSettings { file: #file, yaml: #embed });
        }
    });
    // `Default` is required at the `main` the user wrote: the type is named there too, or the
    // error would point at the struct's name.
    let main = service.main.map(|span| {
        let at_main = syn::Ident::new(&ident.to_string(), span);
        let default = quote_spanned!(span=> <#at_main as ::core::default::Default>::default());
        quote! {
            fn main() -> #p::ExitStatus {
                #p::Microservice::run(#default)
            }
        }
    });
    quote! {
        #item

        #lookup

        #main

        const _: () = {
            #[automatically_derived]
            impl #p::Microservice for #ident {
                const NAME: &'static str = #name;
                #settings

                fn resources(&self) -> #p::Vec<#p::ResourceSlot<'_>> {
                    #p::Vec::from([#(#slots),*])
                }
                #bind
            }
        };
    }
}

/// The impl block, unchanged but for the removed task attributes, and its `TaskSet` impl.
pub(crate) fn task_block(item: &ItemImpl, block: &TaskBlock, p: &Private) -> TokenStream {
    let self_ty = &block.self_ty;
    let tasks = block.tasks.iter().map(|task| {
        let method = &task.method;
        let receiver = receiver(task.by_arc);
        let name = &task.name;
        let cfg = &task.cfg;
        let (param, args) = match task.takes_context {
            true => (quote!(__tamarco_cx), quote!(__tamarco_cx)),
            false => (quote!(_), quote!()),
        };
        let spec = match &task.kind {
            TaskKind::Task | TaskKind::Timer { .. } => {
                let run = quote_spanned! {method.span()=>
                    |__tamarco_svc, #param| ::std::boxed::Box::pin(async move {
                        #p::into_task_result(Self::#method(#receiver, #args).await)
                    })
                };
                match task.kind {
                    TaskKind::Timer {
                        interval_ms,
                        one_shot,
                        autostart,
                    } => {
                        let interval_ms = proc_macro2::Literal::u64_unsuffixed(interval_ms);
                        quote!(#p::TaskKind::Timer {
                            run: #run,
                            interval: #p::Duration::from_millis(#interval_ms),
                            one_shot: #one_shot,
                            autostart: #autostart,
                        })
                    }
                    _ => {
                        let cooperative = task.takes_context;
                        quote!(#p::TaskKind::Async {
                            run: #run,
                            cooperative: #cooperative,
                        })
                    }
                }
            }
            TaskKind::Thread => {
                let run = quote_spanned! {method.span()=>
                    |__tamarco_svc, #param| #p::into_task_result(Self::#method(#receiver, #args))
                };
                quote!(#p::TaskKind::Thread { run: #run })
            }
        };
        let singleton = task.singleton;
        let spec = quote!(#p::TaskSpec::<Self> { name: #name, kind: #spec, singleton: #singleton });
        quote! {
            #(#cfg)*
            __tamarco_tasks.push(#spec);
        }
    });
    let hooks = block.hooks.iter().map(|hook| {
        let method = &hook.method;
        let receiver = receiver(hook.by_arc);
        let cfg = &hook.cfg;
        let field = format_ident!("{}", method);
        quote_spanned! {method.span()=>
            #(#cfg)*
            // In a block: attributes may not stand before an assignment expression.
            {
                __tamarco_hooks.#field = ::std::option::Option::Some(|__tamarco_svc, __tamarco_stage| {
                    ::std::boxed::Box::pin(async move {
                        #p::into_task_result(Self::#method(#receiver, __tamarco_stage).await)
                    })
                });
            }
        }
    });
    let hooks_fn = (!block.hooks.is_empty()).then(|| {
        quote! {
            fn hooks() -> #p::Hooks<Self> {
                let mut __tamarco_hooks = #p::Hooks::<Self>::default();
                #(#hooks)*
                __tamarco_hooks
            }
        }
    });
    let wire_fn = wire::wire_fn(block, p);
    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            impl #p::TaskSet for #self_ty {
                fn tasks() -> #p::Vec<#p::TaskSpec<Self>> {
                    #[allow(unused_mut)]
                    let mut __tamarco_tasks = #p::Vec::new();
                    #(#tasks)*
                    __tamarco_tasks
                }
                #hooks_fn
                #wire_fn
            }
        };
    }
}

/// The first argument of a call to the user's method: the shared service itself for
/// `self: Arc<Self>`, a reference to it for `&self`.
fn receiver(by_arc: bool) -> TokenStream {
    if by_arc {
        quote!(__tamarco_svc)
    } else {
        quote!(&__tamarco_svc)
    }
}

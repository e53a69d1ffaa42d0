//! Unit tests of the model: helper attributes are stripped, and every problem is reported.

use quote::ToTokens;
use syn::parse_quote;

use super::args::ServiceArgs;
use super::model::snake_case;
use super::{parse_service, parse_task_block};
use crate::diagnostics::Diagnostics;

fn errors(diag: Diagnostics) -> Vec<String> {
    match diag.finish() {
        Ok(()) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn strips_resource_attributes_and_keeps_plain_fields() {
    let mut item: syn::ItemStruct = parse_quote! {
        struct Shop { #[resource] db: Db, #[resource(depends_on = [db], name = "cache-1")] cache: Cache, hits: u64 }
    };
    let mut diag = Diagnostics::default();
    let service = parse_service(&mut item, &ServiceArgs::default(), &mut diag).unwrap();
    assert!(errors(diag).is_empty());
    assert_eq!(service.name, "shop");
    let names: Vec<_> = service.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["db", "cache-1"]);
    assert!(!item.to_token_stream().to_string().contains("resource"));
}

#[test]
fn reports_every_problem_of_a_struct_at_once() {
    let mut item: syn::ItemStruct = parse_quote! {
        struct Shop {
            #[resource(depends_on = [nothing])] a: A,
            #[resource(name = "a")] b: B,
            #[resource] metrics: M,
            #[resource(name = "x.y")] c: C,
        }
    };
    let mut diag = Diagnostics::default();
    let service = parse_service(&mut item, &ServiceArgs::default(), &mut diag);
    let found = errors(diag);
    assert_eq!(found.len(), 4, "{found:#?}");
    // The impl is still generated, so the errors come without a "not a `Microservice`" one.
    assert_eq!(service.unwrap().resources.len(), 4);
}

#[test]
fn reports_a_cycle_by_its_links() {
    let mut item: syn::ItemStruct = parse_quote! {
        struct Shop {
            #[resource(depends_on = [z])] x: A,
            #[resource(depends_on = [x])] y: A,
            #[resource(depends_on = [y])] z: A,
        }
    };
    let mut diag = Diagnostics::default();
    parse_service(&mut item, &ServiceArgs::default(), &mut diag);
    assert_eq!(
        errors(diag),
        [
            "dependency cycle: `x` depends on `z`, `z` depends on `y`, `y` depends on `x`; \
          remove one of these `depends_on` entries"
        ]
    );
}

#[test]
fn reports_every_problem_of_a_task_block_at_once() {
    let mut item: syn::ItemImpl = parse_quote! {
        impl Shop {
            #[task] fn not_async(&self) {}
            #[thread] async fn is_async(&self) {}
            #[task_timer(interval = 0)] async fn zero(&self) {}
            #[task_timer(interval = "5x", every = 1)] async fn bad(&self) {}
        }
    };
    let mut diag = Diagnostics::default();
    let block = parse_task_block(&mut item, &mut diag);
    let found = errors(diag);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(!item.to_token_stream().to_string().contains("task_timer"));
    // Broken tasks are left out of the generated impl; the impl itself is still generated.
    assert!(block.unwrap().tasks.is_empty());
}

#[test]
fn singleton_marks_tasks_and_timers_but_not_threads() {
    let mut item: syn::ItemImpl = parse_quote! {
        impl Shop {
            #[task(singleton)] async fn lead(&self) {}
            #[task_timer(interval = "100ms", singleton)] async fn tick(&self) {}
            #[task_timer(interval = "1s")] async fn everywhere(&self) {}
            #[thread(singleton)] fn blocking(&self) {}
        }
    };
    let mut diag = Diagnostics::default();
    let block = parse_task_block(&mut item, &mut diag).unwrap();
    let found = errors(diag);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("a thread cannot be a `singleton`"),
        "{}",
        found[0]
    );
    let singletons: Vec<(String, bool)> = block
        .tasks
        .iter()
        .map(|t| (t.method.to_string(), t.singleton))
        .collect();
    assert_eq!(
        singletons,
        [
            ("lead".to_owned(), true),
            ("tick".to_owned(), true),
            ("everywhere".to_owned(), false)
        ]
    );
}

#[test]
fn keeps_sound_tasks_next_to_broken_ones() {
    let mut item: syn::ItemImpl = parse_quote! {
        impl Shop {
            #[task] async fn good(&self) {}
            #[task] fn not_async(&self) {}
            #[task(name = "good")] async fn same_name(&self) {}
            fn start(&self) {}
        }
    };
    let mut diag = Diagnostics::default();
    let block = parse_task_block(&mut item, &mut diag).unwrap();
    assert_eq!(errors(diag).len(), 4);
    let kept: Vec<String> = block.tasks.iter().map(|t| t.method.to_string()).collect();
    assert_eq!(kept, ["good", "same_name"]);
    assert!(block.hooks.is_empty());
}

#[test]
fn snake_case_names() {
    assert_eq!(snake_case("HelloWorld"), "hello_world");
    assert_eq!(snake_case("HTTPServer"), "http_server");
    assert_eq!(snake_case("Dog2Cat"), "dog2_cat");
    assert_eq!(snake_case("hello"), "hello");
}

#[test]
fn the_macro_knows_the_runtimes_default_resources_and_hooks() {
    // The macro cannot depend on the runtime, so it keeps copies; this keeps them equal.
    assert_eq!(
        super::check::DEFAULT_RESOURCES,
        tamarco::builtin::DEFAULT_RESOURCE_NAMES
    );
    let hooks: Vec<&str> = tamarco::lifecycle::HOOK_PHASES
        .iter()
        .map(|phase| phase.as_str())
        .collect();
    assert_eq!(super::block::HOOKS, hooks);
}

#[test]
fn reports_every_problem_of_inputs_and_routes_at_once() {
    let mut item: syn::ItemImpl = parse_quote! {
        impl Shop {
            #[input(amqp, subscribe = "a")] fn not_async(&self, m: Message<A>) {}
            #[input(amqp, subscribe = "b")] async fn no_message(&self) {}
            #[input(amqp, subscribe = "c")] async fn two(&self, m: Message<A>, extra: u8) {}
            #[input(amqp, shout = "d")] async fn unknown_kind(&self, m: Message<A>) {}
            #[input(amqp, subscribe = "e")] async fn first(&self, m: Message<A>) {}
            #[input(amqp, subscribe = "e")] async fn same_name(&self, m: Message<A>) {}
            #[route(http_server, GET "/")] async fn root(&self) {}
            #[route(http_server, ANY "/")] async fn any_root(&self) {}
            #[route(http_server, GET "x")] fn bad(&self) {}
        }
    };
    let mut diag = Diagnostics::default();
    let block = super::parse_task_block(&mut item, &mut diag).unwrap();
    let found = errors(diag);
    assert_eq!(found.len(), 8, "{found:#?}");
    assert!(!item.to_token_stream().to_string().contains("input"));
    let inputs: Vec<String> = block.inputs.iter().map(|i| i.handler.to_string()).collect();
    assert_eq!(inputs, ["first"]);
    let routes: Vec<String> = block.routes.iter().map(|r| r.handler.to_string()).collect();
    assert_eq!(routes, ["root"]);
}

#[test]
fn checks_outputs_against_the_structs_resources() {
    let mut item: syn::ItemStruct = parse_quote! {
        struct Shop {
            #[resource] amqp: Amqp,
            #[output(amqp, publish = "p")] a: PublishOutput<A>,
            #[output(amqp, publish = "p")] b: PublishOutput<B>,
            #[output(rabbit, push = "q")] c: PushOutput<C>,
            #[output(amqp, push = "r")] d: PublishOutput<D>,
            cx: ServiceContext,
        }
    };
    let mut diag = Diagnostics::default();
    let service = super::parse_service(&mut item, &ServiceArgs::default(), &mut diag).unwrap();
    let found = errors(diag);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[2].contains("its resources are `amqp`"), "{found:#?}");
    assert_eq!(service.outputs.len(), 1);
    assert_eq!(service.contexts.len(), 1);
    assert!(!item.to_token_stream().to_string().contains("output"));
}

//! Unit tests of the model: helper attributes are stripped, and every problem is reported.

use quote::ToTokens;
use syn::parse_quote;

use super::args::ServiceArgs;
use super::model::{Service, TaskBlock, snake_case};

fn errors(error: syn::Error) -> Vec<String> {
    error.into_iter().map(|e| e.to_string()).collect()
}

#[test]
fn strips_resource_attributes_and_keeps_plain_fields() {
    let mut item: syn::ItemStruct = parse_quote! {
        struct Shop { #[resource] db: Db, #[resource(depends_on = [db], name = "cache-1")] cache: Cache, hits: u64 }
    };
    let service = Service::parse(&mut item, &ServiceArgs::default()).unwrap();
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
    let found = errors(
        Service::parse(&mut item, &ServiceArgs::default())
            .err()
            .unwrap(),
    );
    assert_eq!(found.len(), 4, "{found:#?}");
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
    let found = errors(TaskBlock::parse(&mut item).err().unwrap());
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(!item.to_token_stream().to_string().contains("task_timer"));
}

#[test]
fn snake_case_names() {
    assert_eq!(snake_case("HelloWorld"), "hello_world");
    assert_eq!(snake_case("HTTPServer"), "http_server");
    assert_eq!(snake_case("Dog2Cat"), "dog2_cat");
    assert_eq!(snake_case("hello"), "hello");
}

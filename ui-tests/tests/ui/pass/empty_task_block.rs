//! A service with no resources and no tasks still needs its (empty) `#[microservice]` impl
//! block; the service name defaults to the struct's name in snake_case.

use tamarco::prelude::*;
use tamarco::TaskSet;

#[microservice]
#[derive(Default)]
struct HelloWorld {}

#[microservice]
impl HelloWorld {}

fn main() {
    assert_eq!(HelloWorld::NAME, "hello_world");
    assert!(HelloWorld::default().resources().is_empty());
    assert!(HelloWorld::tasks().is_empty());
    // It can run; building the runtime is enough here.
    let _runtime = HelloWorld::default().runtime();
}

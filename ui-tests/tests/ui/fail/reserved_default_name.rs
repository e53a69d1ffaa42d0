use tamarco::prelude::*;

#[derive(Default)]
struct MyMetrics;
impl Resource for MyMetrics {}

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource]
    metrics: MyMetrics,
    #[resource(name = "status")]
    health: MyMetrics,
}

#[microservice]
impl Orders {}

fn main() {}

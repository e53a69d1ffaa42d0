use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

fn main() {
    Worker::default().run();
}

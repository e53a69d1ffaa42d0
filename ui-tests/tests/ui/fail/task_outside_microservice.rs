use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {}

// The impl block lacks `#[microservice]`.
impl Worker {
    #[task]
    async fn listen(&self) {}
}

#[thread]
fn crunch() {}

fn main() {}

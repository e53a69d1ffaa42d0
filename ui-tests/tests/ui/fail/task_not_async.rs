use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task]
    fn listen(&self) {}
}

fn main() {}

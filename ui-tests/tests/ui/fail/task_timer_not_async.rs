use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task_timer(interval = "2s")]
    fn report(&self) {}
}

fn main() {}

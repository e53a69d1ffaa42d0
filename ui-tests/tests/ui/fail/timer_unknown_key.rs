use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task_timer(every = "5s")]
    async fn tick(&self) {}
}

fn main() {}

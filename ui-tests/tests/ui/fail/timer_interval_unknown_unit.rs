use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task_timer(interval = "5x")]
    async fn tick(&self) {}
}

fn main() {}

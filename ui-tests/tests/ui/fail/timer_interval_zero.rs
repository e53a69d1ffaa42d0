use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task_timer(interval = 0)]
    async fn tick(&self) {}

    #[task_timer(interval = "0s")]
    async fn tock(&self) {}
}

fn main() {}

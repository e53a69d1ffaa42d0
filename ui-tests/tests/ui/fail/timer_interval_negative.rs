use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task_timer(interval = -500)]
    async fn tick(&self) {}

    #[task_timer(interval = "-2s")]
    async fn tock(&self) {}
}

fn main() {}

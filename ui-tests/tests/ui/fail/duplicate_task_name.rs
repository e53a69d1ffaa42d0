use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task(name = "poll")]
    async fn poll_orders(&self) {}

    #[task_timer(interval = "1s", name = "poll")]
    async fn poll_users(&self) {}
}

fn main() {}

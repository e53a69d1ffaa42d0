use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task]
    fn not_async(&self) {}

    #[thread]
    async fn is_async(&self) {}

    #[task_timer(interval = 0)]
    async fn zero(&self) {}

    #[task_timer(interval = "5x")]
    async fn bad_unit(&self) {}
}

fn main() {}

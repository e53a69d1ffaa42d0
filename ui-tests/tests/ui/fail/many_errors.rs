use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

/// Four mistakes, four errors, at once.
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

// The service still has its `TaskSet` impl: no second error here.
fn main() -> ExitStatus {
    Worker::default().run()
}

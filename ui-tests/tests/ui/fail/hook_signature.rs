use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    /// Named like a lifecycle hook, but not async.
    fn start(&self, stage: Stage) {
        let _ = stage;
    }

    /// Named like a lifecycle hook, but without the `Stage`.
    async fn stop(&self) {}
}

fn main() -> ExitStatus {
    Worker::default().run()
}

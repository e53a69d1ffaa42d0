use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[thread]
    async fn crunch(&self, stop: ShutdownHandle) {
        let _ = stop;
    }
}

fn main() {}

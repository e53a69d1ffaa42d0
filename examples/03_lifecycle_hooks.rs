//! 03 — lifecycle hooks: the service's own code before and after the framework's work of each
//! stage. A hook calls `stage.run()` where the framework's work belongs.
//!
//! ```text
//! cargo run --example lifecycle_hooks
//! ```

use tamarco::prelude::*;
use tamarco::tracing::info;

#[microservice]
#[derive(Default)]
struct Hooks {}

#[microservice]
impl Hooks {
    async fn pre_start(&self, stage: Stage) -> Result<(), BoxError> {
        info!("pre_start: before the resources' pre_start");
        stage.run().await?;
        info!("pre_start: after");
        Ok(())
    }

    async fn start(&self, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        info!("start: every resource is started; tasks start next");
        Ok(())
    }

    async fn post_start(&self, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        info!("post_start: up and running; stopping again to show the stop hooks");
        stage.shutdown().stop_gracefully();
        Ok(())
    }

    async fn stop(&self, stage: Stage) -> Result<(), BoxError> {
        info!("stop: tasks are stopped, resources still up");
        stage.run().await?;
        info!("stop: resources stopped");
        Ok(())
    }

    /// A hook that never calls `stage.run()`: the framework's work runs right after it.
    async fn post_stop(&self, _stage: Stage) {
        info!("post_stop: last words");
    }
}

fn main() -> ExitStatus {
    Hooks::default().run()
}

//! 02 — the three kinds of background work: a task that lives as long as the service, timers
//! (repeating and one-shot) and a blocking OS thread that watches the stop signal.
//!
//! ```text
//! cargo run --example tasks
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco::prelude::*;
use tamarco::tracing::info;

#[microservice]
#[derive(Default)]
struct Tasks {
    produced: AtomicU64,
}

#[microservice]
impl Tasks {
    /// Cooperative: it takes a `TaskContext`, so on stop it may finish what it is doing.
    #[task]
    async fn producer(&self, cx: TaskContext) {
        loop {
            tamarco::tokio::select! {
                _ = cx.stopping() => break,
                _ = tamarco::tokio::time::sleep(Duration::from_millis(300)) => {
                    self.produced.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        info!("producer finished cleanly");
    }

    /// Every 2 s, waiting 2 s before the first run.
    #[task_timer(interval = "2s")]
    async fn report(&self) {
        info!(produced = self.produced.load(Ordering::Relaxed), "report");
    }

    /// Once, 5 s after start; returning an error is logged and the timer would go on.
    #[task_timer(interval = 5000, one_shot)]
    async fn reminder(&self) -> Result<(), BoxError> {
        info!("five seconds in: press Ctrl-C to stop");
        Ok(())
    }

    /// Blocking work on its own thread; `wait_timeout` doubles as a sleep that ends on stop.
    #[thread]
    fn crunch(&self, stop: ShutdownHandle) {
        let mut rounds = 0u64;
        while !stop.wait_timeout(Duration::from_millis(500)) {
            rounds += 1;
        }
        info!(rounds, "thread saw the stop signal");
    }
}

fn main() -> ExitStatus {
    Tasks::default().run()
}

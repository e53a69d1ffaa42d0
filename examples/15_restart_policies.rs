//! 15 — restart policies: a resource that fails while the service runs is stopped and started
//! again, with a backoff between attempts, because `restart_resource_on_failure` names it. Had
//! it been named by `restart_microservice_on_failure`, the service would have stopped with exit
//! code 75, asking its orchestrator for a restart. Here the resource fails twice, then stays up,
//! and the service stops by itself.
//!
//! ```text
//! cargo run --example restart_policies --features yaml
//! curl -s 127.0.0.1:5747/status     # while it runs: `flaky` goes FAILED, then STARTED again
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tamarco::prelude::*;
use tamarco::tracing::{info, warn};

/// A resource that loses its (pretend) connection shortly after each of its first two starts.
#[derive(Default)]
struct Flaky {
    starts: AtomicU32,
}

impl Resource for Flaky {
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let start = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        info!(start, "flaky resource started");
        if start <= 2 {
            // What a client resource does when its connection drops: it says so in its status,
            // and the restart policy acts on it.
            let status = cx.status().clone();
            tamarco::tokio::spawn(async move {
                tamarco::tokio::time::sleep(Duration::from_millis(500)).await;
                warn!("flaky resource lost its connection");
                status.set(ResourceStatus::Failed);
            });
        }
        Ok(())
    }
}

#[microservice(name = "restart_policies")]
#[derive(Default)]
struct Service {
    #[resource]
    flaky: Flaky,
}

#[microservice]
impl Service {
    /// Stops the service once the resource was restarted twice and has stayed up.
    #[task_timer(interval = "250ms")]
    async fn watch(&self, cx: TaskContext) {
        if self.flaky.starts.load(Ordering::Relaxed) >= 3 {
            info!("restarted twice; stopping");
            cx.shutdown().stop_gracefully();
        }
    }
}

const SETTINGS: &str = r#"
system:
  resources:
    status:
      restart_policy:
        resources:
          restart_resource_on_failure: [flaky]
        check_interval_seconds: 0.2
        backoff_initial_seconds: 0.5
        backoff_max_seconds: 2
"#;

fn main() -> ExitStatus {
    let runtime = Service::default().runtime();
    runtime
        .settings()
        .update_internal_yaml(SETTINGS)
        .expect("valid YAML");
    runtime.run()
}

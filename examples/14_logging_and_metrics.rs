//! 14 — logging and metrics: log lines with fields (readable on stdout, JSON in a size-rotated
//! file), and the service's own counter and summary beside the built-in meters on `/metrics`.
//! The profile (level) comes from the settings; `RUST_LOG` wins when set. The service stops by
//! itself after a few seconds.
//!
//! ```text
//! cargo run --example logging_and_metrics --features prometheus,yaml
//! curl -s 127.0.0.1:5747/metrics | grep orders_   # while it runs
//! cat /tmp/logging_and_metrics.log                 # JSON documents, one per line
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco::metrics::{Counter, Summary};
use tamarco::prelude::*;
use tamarco::tracing::{debug, info, warn};

#[microservice(name = "logging_and_metrics")]
struct Orders {
    count: AtomicU64,
    placed: Counter,
    amount: Summary,
}

impl Default for Orders {
    fn default() -> Self {
        // Meters are cheap handles on the process-wide recorder: create them once.
        Orders {
            count: AtomicU64::new(0),
            placed: Counter::new("orders_placed_total", &[("shop", "main")]),
            amount: Summary::new("orders_amount_euros", &[("shop", "main")]),
        }
    }
}

#[microservice]
impl Orders {
    #[task_timer(interval = "500ms", autostart)]
    async fn place_order(&self) {
        let order = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        self.placed.increment();
        let amount = 10.0 + (order % 7) as f64;
        self.amount.observe(amount);
        // Fields become structured data: columns on stdout, keys in the JSON document.
        info!(order, amount, "order placed");
        debug!("shown with the DEVELOP profile only");
        if amount > 15.0 {
            warn!(amount, "a large order");
        }
    }

    /// Stops the service after a while, so that the example ends by itself.
    #[task]
    async fn stop_later(&self, cx: TaskContext) {
        tamarco::tokio::select! {
            _ = tamarco::tokio::time::sleep(Duration::from_secs(4)) => cx.shutdown().stop_gracefully(),
            _ = cx.stopping() => {}
        }
    }
}

const SETTINGS: &str = r#"
system:
  logging:
    profile: DEVELOP
    file_path: /tmp/logging_and_metrics.log
    file_format: json
"#;

fn main() -> ExitStatus {
    let runtime = Orders::default().runtime();
    runtime
        .settings()
        .update_internal_yaml(SETTINGS)
        .expect("valid YAML");
    runtime.run()
}

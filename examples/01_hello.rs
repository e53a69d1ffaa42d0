//! 01 — the smallest service: a timer that logs, and the default report server answering
//! `GET http://127.0.0.1:5747/status`. Stop it with Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run --example hello
//! curl -s 127.0.0.1:5747/status
//! curl -s 127.0.0.1:5747/info
//! ```
//!
//! The dashboard is at <http://127.0.0.1:5747/>.

use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::prelude::*;

/// The service: no resources of its own, one counter of state.
#[microservice]
#[derive(Default)]
struct Hello {
    greetings: AtomicU64,
}

#[microservice]
impl Hello {
    /// Every second, starting at once.
    #[task_timer(interval = "1s", autostart)]
    async fn greet(&self) {
        let count = self.greetings.fetch_add(1, Ordering::Relaxed) + 1;
        tamarco::tracing::info!(count, "hello from tamarco");
    }
}

fn main() -> ExitStatus {
    // `build_info!` records this crate's version and build profile for `GET /info`.
    Hello::default()
        .runtime()
        .build_info(tamarco::build_info!())
        .run()
}

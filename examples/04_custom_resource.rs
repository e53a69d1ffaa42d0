//! 04 — a custom resource, written as a plugin crate would write it: implement
//! `tamarco::Resource`, read settings from its own subtree, and expose state to the service.
//!
//! ```text
//! cargo run --example custom_resource
//! curl -s 127.0.0.1:5747/status
//! ```

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::prelude::*;
use tamarco::serde_json::{Map, Value, json};
use tamarco::tracing::info;

/// A resource that counts events and reports the count in `/status`.
#[derive(Default)]
struct EventCounter {
    label: Mutex<String>,
    count: AtomicU64,
}

impl EventCounter {
    fn record(&self) -> u64 {
        self.count.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Resource for EventCounter {
    /// Reads `system.resources.<name>.label`, with a default.
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let label = cx.settings().get_or("label", cx.name().to_owned())?;
        *self.label.lock().unwrap() = label;
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        info!(resource = cx.name(), label = %self.label.lock().unwrap(), "counter ready");
        Ok(())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("count".into(), json!(self.count.load(Ordering::Relaxed)));
        fields
    }
}

#[microservice]
#[derive(Default)]
struct Counting {
    #[resource]
    clicks: EventCounter,
    #[resource(depends_on = [clicks])]
    views: EventCounter,
}

#[microservice]
impl Counting {
    #[task_timer(interval = "500ms", autostart)]
    async fn traffic(&self) {
        let views = self.views.record();
        if views.is_multiple_of(3) {
            self.clicks.record();
        }
    }
}

fn main() -> ExitStatus {
    let runtime = Counting::default().runtime();
    runtime
        .settings()
        .set_internal("system.resources.views.label", "page views")
        .expect("a valid key");
    runtime.run()
}

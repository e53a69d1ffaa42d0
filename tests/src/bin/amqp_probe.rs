//! An AMQP consumer service for the SIGTERM-under-load test (`tests/tests/amqp_faults.rs`): a
//! declarative `#[input(amqp, pull = "orders")]` handler that takes a little time per message
//! and appends the id of each message it handled to a file, before returning (which acks it),
//! stopped by a signal. Settings come from the environment:
//!
//! - `PROBE_PREFIX`: the `queues_prefix` (the test's own);
//! - `PROBE_HANDLED_FILE`: where each handled id is appended, one a line;
//! - `PROBE_WORK_MS`: how long each handler runs (1 by default).

use std::fs::File;
use std::sync::Mutex;
use std::time::Duration;

use tamarco::amqp::{Amqp, Message};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco_tests::handled;

#[microservice(name = "amqp_probe")]
#[derive(Default)]
struct AmqpProbe {
    #[resource]
    amqp: Amqp,
    handled: Mutex<Option<File>>,
    work: Duration,
}

#[microservice]
impl AmqpProbe {
    /// Handles one message (the body is the id as text): works a little, then records the id.
    #[input(amqp, pull = "orders", codec = tamarco::codec::Text)]
    async fn on_order(&self, order: Message<String>) -> Result<(), BoxError> {
        tamarco::tokio::time::sleep(self.work).await;
        let mut handled = self.handled.lock().expect("file lock");
        let file = handled.as_mut().ok_or("no handled file")?;
        tamarco_tests::handled::append(file, order.value())?;
        Ok(())
    }
}

fn main() -> ExitStatus {
    let settings = json!({"system": {
        "shutdown": {"grace_period_seconds": 20},
        "resources": {
            "tamarco_http_report_server": {"port": 0},
            "amqp": {
                "queues_prefix": std::env::var("PROBE_PREFIX").expect("PROBE_PREFIX is set"),
                "prefetch": 64,
                "inputs": {"orders": {"concurrency": 8}},
            },
        }
    }});
    let probe = AmqpProbe {
        handled: Mutex::new(Some(handled::open_from_env())),
        work: handled::work_from_env(1),
        ..AmqpProbe::default()
    };
    probe
        .runtime()
        .with_settings(settings)
        .expect("valid settings")
        .run()
}

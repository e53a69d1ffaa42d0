//! An AMQP consumer service for the SIGTERM-under-load test (`tests/tests/amqp_faults.rs`): a
//! declarative `#[input(amqp, pull = "orders")]` handler that takes a little time per message
//! and appends the id of each message it handled to a file, before returning (which acks it),
//! stopped by a signal. Settings come from the environment:
//!
//! - `PROBE_PREFIX`: the `queues_prefix` (the test's own);
//! - `PROBE_HANDLED_FILE`: where each handled id is appended, one a line;
//! - `PROBE_WORK_MS`: how long each handler runs (1 by default).
//!
//! Each id is written with one `write(2)` before the handler returns, so it is in the file
//! whatever happens to the process afterwards (only a crash of the machine would lose it).

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use tamarco::amqp::{Amqp, Message};
use tamarco::prelude::*;
use tamarco::serde_json::json;

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
        file.write_all(format!("{}\n", order.value()).as_bytes())?;
        Ok(())
    }
}

fn main() -> ExitStatus {
    let env = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key} is set"));
    let work_ms: u64 = std::env::var("PROBE_WORK_MS")
        .ok()
        .map_or(1, |ms| ms.parse().expect("PROBE_WORK_MS is a number"));
    let file = File::options()
        .create(true)
        .append(true)
        .open(env("PROBE_HANDLED_FILE"))
        .expect("the handled file opens");
    let settings = json!({"system": {
        "shutdown": {"grace_period_seconds": 20},
        "resources": {
            "tamarco_http_report_server": {"port": 0},
            "amqp": {
                "queues_prefix": env("PROBE_PREFIX"),
                "prefetch": 64,
                "inputs": {"orders": {"concurrency": 8}},
            },
        }
    }});
    let probe = AmqpProbe {
        handled: Mutex::new(Some(file)),
        work: Duration::from_millis(work_ms),
        ..AmqpProbe::default()
    };
    probe
        .runtime()
        .with_settings(settings)
        .expect("valid settings")
        .run()
}

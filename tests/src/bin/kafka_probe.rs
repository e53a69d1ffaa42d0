//! A Kafka consumer service for the SIGTERM-under-load test (`tests/tests/kafka_sigterm.rs`):
//! a declarative `#[input(kafka, topic = "load")]` handler that takes a little time per
//! record and appends the id of each record it handled to a file, stopped by a signal.
//! Settings come from the environment:
//!
//! - `PROBE_BOOTSTRAP`: the broker (`127.0.0.1:port`);
//! - `PROBE_HANDLED_FILE`: where each handled id is appended, one a line, as it is handled;
//! - `PROBE_WORK_MS`: how long each handler runs (2 by default).

use std::fs::File;
use std::sync::Mutex;
use std::time::Duration;

use tamarco::kafka::{Kafka, Message};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco_tests::handled;

#[microservice(name = "kafka_probe")]
#[derive(Default)]
struct KafkaProbe {
    #[resource]
    kafka: Kafka,
    handled: Mutex<Option<File>>,
    work: Duration,
}

#[microservice]
impl KafkaProbe {
    /// Handles one record: works a little, then records its id (the body is the id as text).
    #[input(kafka, topic = "load", codec = tamarco::codec::Text)]
    async fn on_record(&self, record: Message<String>) -> Result<(), BoxError> {
        tamarco::tokio::time::sleep(self.work).await;
        let mut handled = self.handled.lock().expect("file lock");
        let file = handled.as_mut().ok_or("no handled file")?;
        tamarco_tests::handled::append(file, record.value())?;
        Ok(())
    }
}

fn main() -> ExitStatus {
    let env = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key} is set"));
    let settings = json!({"system": {
        "shutdown": {"grace_period_seconds": 20},
        "resources": {
            "tamarco_http_report_server": {"port": 0},
            "kafka": {"bootstrap_servers": env("PROBE_BOOTSTRAP"), "commit_interval": "200ms"},
        }
    }});
    let probe = KafkaProbe {
        handled: Mutex::new(Some(handled::open_from_env())),
        work: handled::work_from_env(2),
        ..KafkaProbe::default()
    };
    probe
        .runtime()
        .with_settings(settings)
        .expect("valid settings")
        .run()
}

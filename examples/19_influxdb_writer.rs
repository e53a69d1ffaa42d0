//! 19 — InfluxDB writer: a timer writes a reading every 100 ms through the batching writer
//! (never waiting for the network); after a second the service stops, and the stop sends
//! what is still queued. Needs the cargo feature `influxdb` of `tamarco` and an InfluxDB 1.x
//! on 127.0.0.1:8086 (Debian package `influxdb`: `influxd`); the database `sensors` is
//! created at start.
//!
//! ```text
//! cargo run --example influxdb_writer --features influxdb,yaml
//! ```

use std::sync::atomic::{AtomicU32, Ordering};

use tamarco::influxdb::{InfluxDb, Point};
use tamarco::prelude::*;
use tamarco::tracing::info;

#[microservice(name = "influxdb_writer")]
#[derive(Default)]
struct Sensor {
    #[resource]
    influxdb: InfluxDb,
    readings: AtomicU32,
}

#[microservice]
impl Sensor {
    #[task_timer(interval = 100)]
    async fn sample(&self, cx: TaskContext) -> Result<(), BoxError> {
        let n = self.readings.fetch_add(1, Ordering::Relaxed);
        let point = Point::new("temperature")
            .tag("room", "lab")
            .field("celsius", 20.0 + f64::from(n % 10) / 10.0)
            .now();
        self.influxdb.write(point)?;
        if n == 9 {
            info!(
                queued = self.influxdb.queued(),
                "ten readings written; stopping"
            );
            cx.shutdown().stop_gracefully();
        }
        Ok(())
    }

    async fn post_stop(&self, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        info!(
            written = self.influxdb.written(),
            dropped = self.influxdb.dropped(),
            "done"
        );
        Ok(())
    }
}

const SETTINGS: &str = r#"
system:
  resources:
    tamarco_http_report_server: { enabled: false }
    influxdb: { host: 127.0.0.1, port: 8086, database: sensors, flush_interval: 0.5 }
"#;

fn main() -> ExitStatus {
    let runtime = Sensor::default().runtime();
    runtime
        .settings()
        .update_internal_yaml(SETTINGS)
        .expect("valid YAML");
    runtime.run()
}

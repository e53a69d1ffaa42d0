//! A service for the registry tests that kill an instance (SIGKILL needs a process of its
//! own). It reads etcd from `TAMARCO_ETCD_*` and the registry settings from `TAMARCO__...`
//! variables, serves `GET /who` (its instance id) on a free port, and runs a 100 ms singleton
//! timer whose ticks append `<instance id> <start ns> <end ns>` to the file `PROBE_TICKS`
//! (Unix time, one `write` per line, so that the lines of several processes never mix).
//! It prints `probe started instance=<id>` once running, and runs until SIGTERM.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tamarco::http::HttpServer;
use tamarco::prelude::*;
use tamarco::serde_json::json;

#[microservice(name = "ticker")]
#[derive(Default)]
struct Ticker {
    cx: ServiceContext,
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Ticker {
    #[route(http_server, GET "/who")]
    async fn who(&self) -> String {
        self.cx.registry().instance_id().to_owned()
    }

    #[task_timer(interval = "100ms", singleton)]
    async fn tick(&self) -> Result<(), BoxError> {
        let start = now_ns();
        // Long enough that two leaders at once could not miss each other.
        tamarco::tokio::time::sleep(Duration::from_millis(30)).await;
        let line = format!(
            "{} {start} {}\n",
            self.cx.registry().instance_id(),
            now_ns()
        );
        let path = std::env::var("PROBE_TICKS")?;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?;
        file.write_all(line.as_bytes())?;
        Ok(())
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn main() -> ExitStatus {
    let settings = json!({"system": {"resources": {
        "tamarco_http_report_server": {"port": 0},
        "http_server": {"host": "127.0.0.1", "port": 0},
        "registry": {"enabled": true},
    }}});
    tamarco_tests::probe_main(Ticker::default(), settings, |running| {
        println!(
            "probe started instance={}",
            running.registry().instance_id()
        );
    })
}

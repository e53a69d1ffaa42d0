//! A service for the settings tests that need a real process environment (`TAMARCO_YML_FILE`,
//! `TAMARCO__...`, `TAMARCO_ETCD_*`, `ETCD_CHECK_KEY`). It starts with the report server on a
//! free port, prints `value <key> = <json>` for each key of `PROBE_KEYS` (comma-separated) and
//! `probe started`, then runs until SIGTERM. A failed start exits non-zero (the error is logged).

use tamarco::prelude::*;
use tamarco::serde_json::json;

#[microservice(name = "dog")]
#[derive(Default)]
struct Dog {}

#[microservice]
impl Dog {}

fn main() -> ExitStatus {
    let settings = json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}});
    tamarco_tests::probe_main(Dog::default(), settings, |running| {
        let keys = std::env::var("PROBE_KEYS").unwrap_or_default();
        for key in keys.split(',').filter(|k| !k.is_empty()) {
            let value = running.settings().value(key).unwrap_or_default();
            println!("value {key} = {value}");
        }
        println!("probe started");
    })
}

//! The registry against real etcd processes that each test starts and kills
//! (`tamarco_tests::etcd`): registration visible at start and gone on a graceful stop, back
//! after an etcd restart or a lost lease, gone within the TTL when an instance is killed; a
//! caller spreading requests over three instances with none failing while one stops; a
//! singleton timer in three processes that never ticks twice at once and fails over after
//! SIGKILL. Each test prints the times it measured (`cargo test -- --nocapture`).
//!
//! Several services run in this process, so etcd is configured in code
//! (`TestServiceBuilder::etcd`); the killed instances are probe processes
//! (`src/bin/registry_probe.rs`) configured by environment variables.
//!
//! The tests by concept: `registration` (the record through start, stop, etcd restarts and
//! the `enabled` switch), `discovery` (a killed instance, a caller spreading requests) and
//! `singletons` (timers led by one instance at a time). The `orders` service and the etcd
//! helpers they share are below.

mod discovery;
mod registration;
mod singletons;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use etcd_client::{Client, GetOptions};
use tamarco::http::reqwest::Method;
use tamarco::http::{HttpClient, HttpServer};
use tamarco::prelude::*;
use tamarco::registry::Instance;
use tamarco::settings::etcd::EtcdConfig;
use tamarco::testing::TestService;
use tamarco_tests::Probe;
use tamarco_tests::etcd::{EtcdServer, temp_dir};

/// The registry TTL the tests use, in seconds: short, so that expiry is quick to see, and the
/// shortest for which "gone within the TTL" holds (the lease asked of etcd is a second shorter
/// and etcd grants no lease under 2 s).
const TTL: u64 = 3;
/// A generous bound for anything that should take a moment (CI is a loaded 2-core machine).
const WITHIN: Duration = Duration::from_secs(30);

#[microservice(name = "orders")]
#[derive(Default)]
struct Orders {
    cx: ServiceContext,
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Orders {
    #[route(http_server, GET "/who")]
    async fn who(&self) -> String {
        self.cx.registry().instance_id().to_owned()
    }
}

fn config(etcd: &EtcdServer) -> EtcdConfig {
    EtcdConfig::new([etcd.endpoint()])
        .with_connect_retries(3)
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

async fn start_orders(etcd: &EtcdServer) -> TestService<Orders> {
    TestService::builder(Orders::default())
        .etcd(config(etcd))
        .free_port("http_server")
        .setting("system.resources.registry", registry_settings())
        .start()
        .await
        .expect("an orders instance starts")
}

fn registry_settings() -> tamarco::serde_json::Value {
    tamarco::serde_json::json!({"enabled": true, "ttl_seconds": TTL})
}

/// The key of an instance's record.
fn key(service: &str, id: &str) -> String {
    format!("system/discovery/{service}/{id}")
}

async fn client(etcd: &EtcdServer) -> Client {
    Client::connect([etcd.endpoint()], None)
        .await
        .expect("a separate etcd client")
}

/// The records under `system/discovery/<service>/`, by instance id.
async fn records(client: &mut Client, service: &str) -> BTreeMap<String, Instance> {
    let prefix = format!("system/discovery/{service}/");
    let Ok(response) = client
        .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
        .await
    else {
        return BTreeMap::new();
    };
    response
        .kvs()
        .iter()
        .map(|kv| {
            let instance: Instance = tamarco::serde_json::from_slice(kv.value()).unwrap();
            (instance.instance_id.clone(), instance)
        })
        .collect()
}

/// Polls (every 20 ms, at most `within`) until `ok` holds for the records of `service`;
/// returns how long it took, or `None`.
async fn wait_records(
    client: &mut Client,
    service: &str,
    within: Duration,
    ok: impl Fn(&BTreeMap<String, Instance>) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if ok(&records(client, service).await) {
            return Some(started.elapsed());
        }
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The ticker probe, with etcd and the registry configured by environment variables.
fn spawn_ticker(etcd: &EtcdServer, ticks: &std::path::Path) -> (Probe, String) {
    let port = etcd.port().to_string();
    let ttl = TTL.to_string();
    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_registry_probe"),
        "ticker",
        &[
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO__SYSTEM__RESOURCES__REGISTRY__TTL_SECONDS", &ttl),
            ("TAMARCO__SYSTEM__LOGGING__PROFILE", "DEVELOP"),
            ("PROBE_TICKS", ticks.to_str().unwrap()),
        ],
    );
    let line = probe.wait_for_line("probe started instance=", WITHIN);
    let id = line.rsplit('=').next().unwrap().trim().to_owned();
    (probe, id)
}

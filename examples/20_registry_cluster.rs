//! 20 — a cluster from one command: three instances of `orders` register in etcd, a singleton
//! timer runs in only one of them at a time, and a `caller` spreads requests over the three
//! through its HTTP client's discovery. Halfway, one instance stops gracefully: it leaves the
//! registry first, the caller moves on, and if it led the singleton another one takes over.
//! Needs the cargo features `http-client` and `etcd` (`protoc`), and an etcd server.
//!
//! ```text
//! etcd --data-dir /tmp/etcd-example &                     # apt-get install etcd-server
//! TAMARCO_ETCD_HOST=127.0.0.1 cargo run --example registry_cluster --features http-client,etcd
//! etcdctl get --prefix system/discovery/                  # while it runs: the three records
//! ```
//!
//! Without `TAMARCO_ETCD_HOST` it runs anyway: discovery reads the three addresses from
//! `system.resources.registry.static.orders` and each instance runs the singleton itself, with
//! a warning each. The four services share this process here; in production each instance is a
//! process of its own, started with the same settings.

use std::collections::BTreeMap;
use std::time::Duration;

use tamarco::http::reqwest::Method;
use tamarco::http::{HttpClient, HttpServer};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::tracing::info;

#[microservice(name = "orders")]
#[derive(Default)]
struct Orders {
    cx: ServiceContext,
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Orders {
    /// Answers with the instance's id, so the caller can count who answered.
    #[route(http_server, GET "/who")]
    async fn who(&self) -> String {
        self.cx.registry().instance_id().to_owned()
    }

    /// Runs in one instance of `orders` at a time: the leader of its etcd election.
    #[task_timer(interval = "1s", singleton)]
    async fn nightly_report(&self) {
        info!(
            instance = self.cx.registry().instance_id(),
            "the singleton ticks here"
        );
    }
}

#[microservice(name = "caller")]
#[derive(Default)]
struct Caller {
    #[resource]
    orders: HttpClient,
}

#[microservice]
impl Caller {}

#[tamarco::tokio::main(crate = "tamarco::tokio")]
async fn main() -> Result<(), BoxError> {
    let registry = json!({"enabled": true, "ttl_seconds": 2});
    let mut orders = Vec::new();
    for _ in 0..3 {
        let settings = json!({"system": {"resources": {
            "tamarco_http_report_server": {"enabled": false},
            "http_server": {"host": "127.0.0.1", "port": 0},
            "registry": registry,
        }}});
        let runtime = Orders::default().runtime().handle_signals(false);
        orders.push(runtime.with_settings(settings)?.start().await?);
    }
    // Used only without etcd: the addresses the three instances listen on.
    let addresses: Vec<String> = orders
        .iter()
        .filter_map(|o| o.service().http_server.local_addr())
        .map(|addr| addr.to_string())
        .collect();
    let settings = json!({"system": {"resources": {
        "tamarco_http_report_server": {"enabled": false},
        "orders": {"timeout_seconds": 2, "discovery": {"service": "orders"}},
        "registry": {"static": {"orders": addresses}},
    }}});
    let caller = Caller::default()
        .runtime()
        .handle_signals(false)
        .with_settings(settings)?
        .start()
        .await?;
    while caller.registry().instances("orders").await?.len() < 3 {
        tamarco::tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut answered: BTreeMap<String, u32> = BTreeMap::new();
    for n in 0..60 {
        if n == 30 {
            info!("one instance stops gracefully; the calls go on");
            orders.pop().expect("three instances").stop().await?;
        }
        let response = caller
            .service()
            .orders
            .send(Method::GET, "/who", |request| request)
            .await?;
        *answered.entry(response.text().await?).or_default() += 1;
        tamarco::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    info!(?answered, "60 calls, each answered by one of the instances");
    caller.stop().await?;
    for instance in orders {
        instance.stop().await?;
    }
    Ok(())
}

//! What every measurement shares: the payload, the service around one AMQP resource, and this
//! process's CPU time.

use std::time::Duration;

use tamarco::amqp::Amqp;
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Value, json};
use tamarco_bench::cpu::cpu_ticks;
use tamarco_tests::amqp::settings;

pub(crate) const WINDOW: u64 = 256;
pub(crate) const PREFETCH: u16 = 256;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
pub(crate) struct Payload {
    pub(crate) id: u64,
    sku: String,
    customer: String,
    quantity: u32,
    price: f64,
    note: String,
}

/// A payload of about 200 bytes of JSON.
pub(crate) fn payload(id: u64) -> Payload {
    Payload {
        id,
        sku: format!("SKU-{:08}", id % 100_000),
        customer: "customer-7f3a9c2e-41b8-4d6f-9a1e-5c0b2d8e7f61".to_owned(),
        quantity: (id % 7) as u32 + 1,
        price: 19.99,
        note: "fragile; deliver to the back door between nine and five, ring twice".to_owned(),
    }
}

#[microservice(name = "bench_amqp")]
pub(crate) struct Svc {
    #[resource]
    pub(crate) amqp: Amqp,
}

#[microservice]
impl Svc {}

/// Starts `service` with the bench prefix, prefetch and `tracing` as `system.tracing`.
pub(crate) async fn start(service: Svc, prefix: &str, tracing: &Value) -> tamarco::Running<Svc> {
    let mut settings = settings(
        prefix,
        json!({"amqp": {"prefetch": PREFETCH, "heartbeat": 60}}),
    );
    settings["system"]["tracing"] = tracing.clone();
    service
        .runtime()
        .handle_signals(false)
        .with_settings(settings)
        .expect("settings")
        .start()
        .await
        .expect("the service starts")
}

/// This process's CPU time so far (user + system, all threads), from `/proc/self/stat`.
pub(crate) fn cpu_time() -> Duration {
    let (user, system) = cpu_ticks(std::process::id()).unwrap_or_default();
    // Clock ticks of 10 ms.
    Duration::from_millis((user + system) * 10)
}

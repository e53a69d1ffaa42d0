//! Put in etcd → visible in the service: starts its own etcd on free loopback ports, connects a
//! service's settings to it, then times PUTS puts (default 100) made with a separate etcd
//! client, each from just before the put to the watch callback that sees the new value. Also
//! times `Settings::set` (write-through; returns once the value is visible).
//!
//! `tests/bench/etcd_latency.sh [PUTS]`

use std::time::{Duration, Instant};

use etcd_client::Client;
use tamarco::Settings;
use tamarco::settings::etcd::{self, EtcdConfig};
use tamarco_tests::etcd::EtcdServer;

fn main() {
    let puts: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let server = EtcdServer::start();
    let runtime = tamarco::tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let settings = Settings::new("bench");
        let _sources = etcd::connect(&settings, EtcdConfig::new([server.endpoint()]))
            .await
            .expect("etcd connects");
        let (tx, mut seen) = tamarco::tokio::sync::mpsc::unbounded_channel();
        settings.watch("system.bench.value", move |_, value| {
            let _ = tx.send((Instant::now(), value.cloned()));
        });
        let mut client = Client::connect([server.endpoint()], None)
            .await
            .expect("a separate client");

        let mut watch = Vec::with_capacity(puts);
        for i in 0..puts {
            let started = Instant::now();
            client
                .put("system/bench/value", i.to_string(), None)
                .await
                .expect("put");
            loop {
                let (at, value) =
                    tamarco::tokio::time::timeout(Duration::from_secs(10), seen.recv())
                        .await
                        .expect("the change arrives within 10 s")
                        .expect("the watch is alive");
                if value == Some(i.into()) {
                    watch.push(at - started);
                    break;
                }
            }
        }

        let mut set = Vec::with_capacity(puts);
        for i in 0..puts {
            let started = Instant::now();
            settings.set("system.bench.other", i).await.expect("set");
            set.push(started.elapsed());
        }
        report("put (separate client) -> watch callback", &mut watch);
        report("Settings::set (write-through, read-your-writes)", &mut set);
    });
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: n={} median={:.2} ms p90={:.2} ms max={:.2} ms min={:.2} ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(1.0)),
        ms(at(0.0))
    );
}

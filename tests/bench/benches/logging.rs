//! The cost of one log call on the caller's thread (`cargo bench -p tamarco-bench --bench logging`):
//!
//! - `udp`: stdout off, the Logstash UDP sink on, a receiver draining the socket;
//! - `udp_unread`: the same, to a socket nobody reads (the kernel drops datagrams);
//! - `http_stalled`: stdout off, the HTTP sink on an endpoint that accepts and never reads,
//!   so the queue is full and every record is dropped and counted;
//! - `fmt_file`: a plain `tracing_subscriber::fmt` subscriber writing to a file, the baseline.
//!
//! The global subscriber is process-wide: tamarco's cases run first, with its subscriber
//! installed globally; the baseline then runs under a scoped (`with_default`) subscriber.
//! Criterion writes the medians to `target/criterion/log_call/*/new/estimates.json`.

use std::hint::black_box;
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tamarco_core::Settings;
use tamarco_core::logging;

fn configure(logging: serde_json::Value) {
    let settings = Settings::new("bench");
    settings
        .update_internal(json!({"system": {"logging": logging}}))
        .expect("valid settings");
    logging::init(&settings);
}

fn log_call(n: u64) {
    tracing::info!(n, user = "ann", "order paid");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_call");
    group.measurement_time(Duration::from_secs(4));

    // A receiver that keeps up.
    let drained = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = drained.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        while drained.recv(&mut buf).is_ok() {}
    });
    configure(json!({"stdout": false, "logstash": {"enabled": true, "port": port}}));
    let mut n = 0u64;
    group.bench_function("udp", |b| {
        b.iter(|| {
            n += 1;
            log_call(black_box(n));
        });
    });

    let unread = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = unread.local_addr().unwrap().port();
    configure(json!({"stdout": false, "logstash": {"enabled": true, "port": port}}));
    group.bench_function("udp_unread", |b| {
        b.iter(|| {
            n += 1;
            log_call(black_box(n));
        });
    });

    // Accepts connections and never reads them.
    let stalled = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = stalled.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((stream, _)) = stalled.accept() {
            held.push(stream);
        }
    });
    configure(json!({"stdout": false, "http": {
        "enabled": true, "url": format!("http://{addr}/"), "timeout_seconds": 600, "max_records": 100
    }}));
    group.bench_function("http_stalled", |b| {
        b.iter(|| {
            n += 1;
            log_call(black_box(n));
        });
    });
    let stats = logging::stats();
    configure(json!({"stdout": false}));
    eprintln!("sinks after the runs: {stats:?}");

    let dir = std::env::temp_dir().join(format!("tamarco-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("fmt.log")).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("fmt_file", |b| {
            b.iter(|| {
                n += 1;
                log_call(black_box(n));
            });
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);

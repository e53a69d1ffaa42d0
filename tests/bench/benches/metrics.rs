//! Meters against the plain `metrics` macros, and rendering `/metrics`.
//!
//! `cargo bench -p tamarco-bench --bench metrics`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tamarco_core::metrics::{self, Counter, Summary};

fn meters(c: &mut Criterion) {
    metrics::install().expect("the recorder installs");
    let counter = Counter::new("bench_requests_total", &[("route", "/orders")]);
    let summary = Summary::new("bench_latency_seconds", &[("route", "/orders")]);

    let mut group = c.benchmark_group("counter increment");
    group.bench_function("tamarco Counter (held)", |b| {
        b.iter(|| black_box(&counter).increment());
    });
    group.bench_function("metrics::counter! macro", |b| {
        b.iter(|| ::metrics::counter!("bench_requests_total", "route" => "/orders").increment(1));
    });
    group.bench_function("tamarco Counter::new each call", |b| {
        b.iter(|| Counter::new("bench_requests_total", &[("route", "/orders")]).increment());
    });
    group.finish();

    let mut group = c.benchmark_group("summary observation");
    group.bench_function("tamarco Summary (held)", |b| {
        b.iter(|| black_box(&summary).observe(black_box(0.25)));
    });
    group.bench_function("metrics::histogram! macro", |b| {
        b.iter(|| {
            ::metrics::histogram!("bench_latency_seconds", "route" => "/orders")
                .record(black_box(0.25));
        });
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    metrics::install().expect("the recorder installs");
    for i in 0..1000 {
        Counter::new("bench_series_total", &[("series", i.to_string())]).increment();
    }
    c.bench_function("render /metrics with 1000+ series", |b| {
        b.iter(|| metrics::exposition("bench"));
    });
}

criterion_group!(benches, meters, render);
criterion_main!(benches);

//! Reading settings on a hot path: a typed live handle, and a dotted-key lookup in the merged
//! tree (1000 leaves), with and without the per-service override. Then the cost of one change
//! (an etcd event, a `set`): the layers merged again, and a watcher called.
//!
//! `cargo bench -p tamarco-bench --bench settings`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use tamarco_core::Settings;

/// Settings with 1000 leaves, `system.resources.res<0..100>.key<0..10>`, and a per-service
/// override for one of them.
fn settings() -> Settings {
    let mut resources = Map::new();
    for r in 0..100 {
        let keys: Map<String, Value> = (0..10)
            .map(|k| (format!("key{k}"), json!(r * 10 + k)))
            .collect();
        resources.insert(format!("res{r}"), Value::Object(keys));
    }
    let settings = Settings::new("dog");
    settings
        .update_internal(json!({"system": {
            "resources": resources,
            "microservices": {"dog": {"resources": {"res99": {"key9": 1}}}}
        }}))
        .expect("a map");
    settings
}

fn reads(c: &mut Criterion) {
    let settings = settings();
    let live = settings
        .live::<u64>("system.resources.res50.key5")
        .expect("the key exists");

    let mut group = c.benchmark_group("settings read");
    group.bench_function("Live::load (typed live handle, borrowed)", |b| {
        b.iter(|| **black_box(&live).load());
    });
    group.bench_function("Live::get (typed live handle, Arc)", |b| {
        b.iter(|| *black_box(&live).get());
    });
    group.bench_function("Settings::value, 4-segment key, 1000 leaves", |b| {
        b.iter(|| settings.value(black_box("system.resources.res50.key5")));
    });
    group.bench_function("Settings::value, overridden key", |b| {
        b.iter(|| settings.value(black_box("system.resources.res99.key9")));
    });
    group.bench_function("Settings::get::<u64>, 4-segment key", |b| {
        b.iter(|| {
            settings
                .get::<u64>(black_box("system.resources.res50.key5"))
                .unwrap()
        });
    });
    group.finish();
}

fn changes(c: &mut Criterion) {
    let settings = settings();
    let _live = settings
        .live::<u64>("system.resources.res50.key5")
        .expect("the key exists");
    let mut value = 0u64;
    c.bench_function(
        "Settings::set_internal, 1000 leaves, one live handle on the key",
        |b| {
            b.iter(|| {
                value += 1;
                settings
                    .set_internal("system.resources.res50.key5", black_box(value))
                    .unwrap();
            });
        },
    );
}

criterion_group!(benches, reads, changes);
criterion_main!(benches);

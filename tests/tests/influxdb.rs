//! The InfluxDB resource against real `influxd` processes (Debian package `influxdb`), one per
//! test on free loopback ports with its own data dir. Resources run in a
//! `MicroserviceContext`: no report server, no signals.

use std::sync::Arc;
use std::time::Duration;

use tamarco::influxdb::{Error, InfluxDb, Point};
use tamarco::metrics::{Counter, NO_LABELS};
use tamarco::serde::Deserialize;
use tamarco::serde_json::{Value, json};
use tamarco::tokio::time::{Instant, sleep, timeout};
use tamarco::{MicroserviceContext, Resource, error_chain, tokio};
use tamarco_tests::influxdb::InfluxServer;
use tamarco_tests::unreachable::start_fails_when_unreachable;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Reading {
    time: i64,
    room: String,
    celsius: f64,
    ok: bool,
}

fn context(settings: Value) -> (MicroserviceContext, Arc<InfluxDb>) {
    let mut cx = MicroserviceContext::new("influx_test");
    cx.settings()
        .set_internal("system.resources.influx", settings)
        .expect("valid settings");
    let influx = cx.add("influx", InfluxDb::new());
    (cx, influx)
}

async fn started(settings: Value) -> (MicroserviceContext, Arc<InfluxDb>) {
    let (mut cx, influx) = context(settings);
    timeout(Duration::from_secs(20), cx.start())
        .await
        .expect("starts in time")
        .expect("starts");
    (cx, influx)
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let began = Instant::now();
    while !check() {
        assert!(began.elapsed() < within, "not within {within:?}: {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

fn reading(n: i64) -> Point {
    Point::new("temperature")
        .tag("room", if n % 2 == 0 { "lab" } else { "hall" })
        .field("celsius", 20.0 + n as f64 / 4.0)
        .field("ok", n % 3 != 0)
        .at(1_600_000_000_000_000_000 + n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_go_out_in_batches_and_come_back_as_typed_rows() {
    let server = InfluxServer::start();
    let (mut cx, influx) = started(json!({
        "url": server.url(), "database": "readings", "batch_size": 10, "flush_interval": 0.2,
    }))
    .await;
    for n in 0..25 {
        influx.write(reading(n)).unwrap();
    }
    eventually("25 points written", Duration::from_secs(5), || {
        influx.written() == 25
    })
    .await;
    let rows: Vec<Reading> = influx
        .query("SELECT celsius, ok, room FROM temperature ORDER BY time")
        .await
        .unwrap();
    assert_eq!(rows.len(), 25);
    assert_eq!(
        rows[3],
        Reading {
            time: 1_600_000_000_000_000_003,
            room: "hall".into(),
            celsius: 20.75,
            ok: false
        }
    );
    // GROUP BY tags: each row carries its series' tags.
    #[derive(Deserialize)]
    #[serde(crate = "tamarco::serde")]
    struct Count {
        room: String,
        count: i64,
    }
    let counts: Vec<Count> = influx
        .query("SELECT count(celsius) FROM temperature GROUP BY room")
        .await
        .unwrap();
    let lab = counts
        .iter()
        .find(|c| c.room == "lab")
        .expect("a lab series");
    assert_eq!(lab.count, 13);
    let refused = influx
        .query::<Value>("SELECT FROM nowhere")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Query { .. }), "{refused:?}");
    assert!(error_chain(&refused).contains("`influx`"), "{refused}");
    let invalid = influx.write(Point::new("empty")).unwrap_err();
    assert!(matches!(invalid, Error::InvalidPoint { .. }));
    let fields = influx.status_fields();
    assert_eq!(
        (fields["written"].clone(), fields["dropped"].clone()),
        (json!(25), json!(0))
    );
    cx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_written_while_the_server_is_down_are_delivered_after_it_returns_or_counted() {
    let mut server = InfluxServer::start();
    let (mut cx, influx) = started(json!({
        "url": server.url(), "database": "outage", "batch_size": 10, "queue_size": 50,
        "flush_interval": 0.1, "retry_max_backoff": 0.3,
    }))
    .await;
    server.kill();
    let mut refused = 0;
    for n in 0..80 {
        let began = Instant::now();
        match influx.write(reading(n)) {
            Ok(()) => {}
            Err(Error::QueueFull { capacity: 50, .. }) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
        assert!(
            began.elapsed() < Duration::from_millis(50),
            "a write waited"
        );
    }
    assert_eq!(refused, 30, "beyond the queue, writes are refused");
    eventually("a failed request", Duration::from_secs(5), || {
        influx.status_fields()["failed_requests"].as_u64() > Some(0)
    })
    .await;
    assert!(
        influx.status_fields()["last_error"]
            .as_str()
            .unwrap()
            .contains("write failed")
    );
    server.restart();
    eventually(
        "the queued points delivered",
        Duration::from_secs(10),
        || influx.written() == 50,
    )
    .await;
    assert_eq!(influx.dropped(), 30);
    assert_eq!(
        influx.written() + influx.dropped(),
        80,
        "every point is accounted for"
    );
    let count: Vec<Value> = influx
        .query("SELECT count(celsius) FROM temperature")
        .await
        .unwrap();
    assert_eq!(count[0]["count"], json!(50));
    cx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sends_what_is_queued() {
    let server = InfluxServer::start();
    let (mut cx, influx) = started(json!({
        "url": server.url(), "database": "at_stop", "flush_interval": 60,
    }))
    .await;
    for n in 0..5 {
        influx.write(reading(n)).unwrap();
    }
    assert_eq!(influx.queued(), 5);
    cx.stop().await.unwrap();
    assert_eq!((influx.written(), influx.dropped()), (5, 0));
    assert!(matches!(
        influx.write(reading(9)),
        Err(Error::NotStarted { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_the_start_in_time_naming_resource_and_address() {
    start_fails_when_unreachable("influx", json!({"user": "writer"}), context).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meters_are_written_as_points() {
    tamarco::metrics::install();
    let counter = Counter::new("influx_reporter_probe_total", NO_LABELS);
    counter.add(7);
    let server = InfluxServer::start();
    let (mut cx, influx) = started(json!({
        "url": server.url(), "database": "meters", "flush_interval": 0.1,
        "metrics_enabled": true, "metrics_interval": 0.2,
    }))
    .await;
    eventually("a snapshot written", Duration::from_secs(10), || {
        influx.written() > 0
    })
    .await;
    let rows: Vec<Value> = influx
        .query("SELECT last(value) FROM influx_reporter_probe_total WHERE service = 'influx_test'")
        .await
        .unwrap();
    assert_eq!(rows[0]["last"].as_f64(), Some(7.0));
    cx.stop().await.unwrap();
}

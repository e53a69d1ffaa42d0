//! `/metrics` parses as the exposition format and holds the user's meters, escaped labels and
//! the built-in metrics.

use super::*;

#[microservice(name = "shop")]
struct Shop {
    #[resource]
    db: RecordingResource,
}

#[microservice]
impl Shop {
    #[task_timer(interval = "20ms", autostart)]
    async fn tick(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_hold_user_meters_with_escaped_labels_and_builtins() {
    let log = EventLog::default();
    let runtime = with_report_server(
        Shop {
            db: RecordingResource::new(&log),
        },
        json!({"system": {"resources": {"metrics": {"collect_frequency": 0.05}}}}),
    );
    let running = runtime.start().await.unwrap();
    let addr = running.report_addr().unwrap();

    let tricky = "say \"hi\" \\ then\nnewline";
    Counter::new("orders_total", &[("shop", "main"), ("note", tricky)]).add(3);
    Counter::new("orders_total", &[("shop", "main"), ("note", tricky)]).increment(); // same meter
    Gauge::new("queue_depth", &[("queue", "in")]).set(7.0);
    let latency = Summary::new("latency_seconds", &[("route", "/orders")]);
    for value in [0.1, 0.2, 0.3, 0.4] {
        latency.observe(value);
    }

    let mut scrape = None;
    let found = eventually(Duration::from_secs(10), async || {
        let (code, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        let parsed = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
            .expect("valid exposition");
        // Built-ins appear once a timer ran and the collector sampled at least once.
        let ready = [
            "shop_task_runs_total",
            "shop_resource_status",
            "shop_process_open_fds",
        ]
        .iter()
        .all(|name| parsed.samples.iter().any(|s| s.metric == *name))
            // and a sample taken after `db` started (the first one may precede it)
            && parsed.samples.iter().any(|s| {
                s.metric == "shop_resource_status"
                    && s.labels.get("resource") == Some("db")
                    && s.value == prometheus_parse::Value::Gauge(2.0)
            });
        scrape = Some(parsed);
        ready
    })
    .await;
    assert!(found, "built-in metrics appear");
    let scrape = scrape.unwrap();
    let sample = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };

    let orders = sample("shop_orders_total");
    assert_eq!(orders.value, prometheus_parse::Value::Counter(4.0));
    // prometheus-parse keeps the escapes as written; undo them to compare with the original.
    let note = orders.labels.get("note").expect("the label is there");
    assert_eq!(
        note, r#"say \"hi\" \\ then\nnewline"#,
        "quotes, backslashes and newlines are escaped"
    );
    assert_eq!(unescape(note), tricky, "and unescape to the original value");
    assert_eq!(
        sample("shop_queue_depth").value,
        prometheus_parse::Value::Gauge(7.0)
    );
    match &sample("shop_latency_seconds").value {
        prometheus_parse::Value::Summary(quantiles) => {
            let qs: Vec<f64> = quantiles.iter().map(|q| q.quantile).collect();
            assert_eq!(qs, [0.5, 0.75, 0.9, 0.95, 0.99]);
        }
        other => panic!("latency is a summary, not {other:?}"),
    }
    // CPU time only grows: Prometheus must see a counter, or rate() refuses it.
    assert!(
        matches!(
            sample("shop_process_cpu_seconds_total").value,
            prometheus_parse::Value::Counter(seconds) if seconds >= 0.0
        ),
        "process_cpu_seconds_total is a counter"
    );
    for builtin in [
        "shop_resource_status",
        "shop_process_resident_memory_bytes",
        "shop_process_open_fds",
        "shop_tokio_workers",
    ] {
        sample(builtin);
    }
    let db_status = scrape
        .samples
        .iter()
        .find(|s| s.metric == "shop_resource_status" && s.labels.get("resource") == Some("db"))
        .expect("a status per resource");
    assert_eq!(db_status.value, prometheus_parse::Value::Gauge(2.0));
    running.stop().await.unwrap();
}

/// Undoes the exposition format's label escapes: `\\`, `\"` and `\n`.
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

//! Metrics: `/metrics` in valid exposition format with user meters and built-in metrics,
//! label escaping, the Carbon reporter across a listener restart, file and stdout reporters,
//! health probes during a graceful stop, and restart policies.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tamarco::metrics::{Counter, Gauge, Summary};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::{Error, Runtime, TaskSet};
use tamarco_tests::{EventLog, Probe, RecordingResource, http_get};

fn with_report_server<S: TaskSet>(service: S, extra: tamarco::serde_json::Value) -> Runtime<S> {
    let runtime = service.runtime().handle_signals(false);
    runtime
        .settings()
        .update_internal(
            json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}}),
        )
        .unwrap();
    runtime.settings().update_internal(extra).unwrap();
    runtime
}

async fn get(addr: std::net::SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(addr, path))
        .await
        .unwrap()
        .unwrap()
}

/// Polls `check` every 10 ms until it holds, for at most `limit`.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

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

#[microservice(name = "reporting")]
#[derive(Default)]
struct Reporting {}

#[microservice]
impl Reporting {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carbon_reporter_sends_graphite_lines_and_survives_a_listener_restart() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = json!({"system": {
        "deploy_name": "staging",
        "resources": {"metrics": {"collect_frequency": 0.05, "handlers": {"carbon": {"enabled": true, "port": port}}}}
    }});
    let running = with_report_server(Reporting::default(), settings)
        .start()
        .await
        .unwrap();

    let read_lines = |listener: &TcpListener| {
        listener.set_nonblocking(false).unwrap();
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut lines = Vec::new();
        while lines.len() < 5 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line);
        }
        lines
    };
    let first = tokio::task::spawn_blocking(move || (read_lines(&listener), listener))
        .await
        .unwrap();
    let (lines, listener) = first;
    for line in &lines {
        let parts: Vec<&str> = line.trim_end().split(' ').collect();
        assert_eq!(parts.len(), 3, "{line:?}");
        assert!(parts[0].starts_with("staging.reporting."), "{line:?}");
        // The Python original's `<deploy>.<service>.<host>.<id>_<type>_<labels>__<unit>`.
        let rest = &parts[0]["staging.reporting.".len()..];
        let (_host, metric) = rest.split_once('.').unwrap();
        assert!(
            ["_counter_", "_gauge_", "_summary_"]
                .iter()
                .any(|kind| metric.contains(kind))
                && metric.contains("__"),
            "the original's path shape: {line:?}"
        );
        parts[1]
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("a number: {line:?}"));
        parts[2]
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("a unix time: {line:?}"));
    }

    // Close the listener and its connection, then listen again on the same port.
    drop(listener);
    let again = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    let more = tokio::task::spawn_blocking(move || read_lines(&again))
        .await
        .unwrap();
    assert!(
        more.iter().all(|l| l.starts_with("staging.reporting.")),
        "{more:?}"
    );
    running.stop().await.unwrap();
}

#[test]
fn file_and_stdout_reporters_write_the_same_lines() {
    let path = std::env::temp_dir().join(format!("tamarco-metrics-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut command_env = Probe::spawn_with(
        env!("CARGO_BIN_EXE_probe"),
        "metrics_reporters",
        &[("PROBE_METRICS_FILE", path.to_str().unwrap())],
    );
    command_env.wait_for_line("local.probe.", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    command_env.signal("TERM");
    let (code, _, lines) = command_env.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    let stdout: Vec<String> = lines
        .into_iter()
        .filter(|l| l.starts_with("local.probe."))
        .collect();
    let file: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    std::fs::remove_file(&path).unwrap();
    assert!(!file.is_empty());
    assert_eq!(stdout, file);
}

/// `path_scheme: tamarco` keeps tamarco's own paths; the stdout reporter's `prefix` (a key of
/// the original) replaces `<deploy>.<service>.<host>` there.
#[test]
fn the_tamarco_path_scheme_and_the_stdout_prefix() {
    let path = std::env::temp_dir().join(format!("tamarco-prefix-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_probe"),
        "metrics_prefix",
        &[("PROBE_METRICS_FILE", path.to_str().unwrap())],
    );
    probe.wait_for_line(
        "custom.prefix.task_runs_total.task_tick ",
        Duration::from_secs(10),
    );
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    let file = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        file.lines()
            .any(|l| l.starts_with("local.probe.") && l.contains(".task_runs_total.task_tick ")),
        "{file}"
    );
    for line in lines.iter().filter(|l| l.starts_with("custom.prefix.")) {
        assert!(!line.contains("_counter_"), "the tamarco scheme: {line}");
    }
}

#[microservice(name = "draining")]
struct Draining {
    #[resource]
    slow: RecordingResource,
}

#[microservice]
impl Draining {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_during_a_graceful_stop_while_liveness_stays_200() {
    let log = EventLog::default();
    let slow = RecordingResource::new(&log).slow_to_stop(Duration::from_millis(500));
    let running = with_report_server(Draining { slow }, json!({}))
        .start()
        .await
        .unwrap();
    let addr = running.report_addr().unwrap();
    assert_eq!(get(addr, "/health/ready").await.0, 200);
    assert_eq!(get(addr, "/health/live").await.0, 200);

    let stopping = tokio::spawn(running.stop());
    let flipped = eventually(Duration::from_secs(5), async || {
        get(addr, "/health/ready").await.0 == 503
    })
    .await;
    assert!(flipped, "readiness turns 503 once the stop begins");
    assert_eq!(
        get(addr, "/health/live").await.0,
        200,
        "liveness stays up while stopping"
    );
    stopping.await.unwrap().unwrap();
}

/// Fails right after start; every restart attempt fails too until `recover_after` starts.
struct Fragile {
    starts: Arc<AtomicU32>,
    at: Arc<std::sync::Mutex<Vec<Instant>>>,
    recover_after: u32,
}

impl Resource for Fragile {
    async fn start(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        self.at.lock().unwrap().push(Instant::now());
        if n > 1 && n < self.recover_after {
            Err(format!("attempt {n} fails").into())
        } else {
            Ok(())
        }
    }

    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        cx.status().set(ResourceStatus::Failed);
        Ok(())
    }
}

#[microservice(name = "fragile_service")]
struct FragileService {
    #[resource]
    fragile: Fragile,
}

#[microservice]
impl FragileService {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_policy_restarts_a_failed_resource_with_backoff() {
    let starts = Arc::new(AtomicU32::new(0));
    let at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fragile = Fragile {
        starts: Arc::clone(&starts),
        at: Arc::clone(&at),
        recover_after: 4,
    };
    let policy = json!({"system": {"resources": {"status": {"restart_policy": {
        "resources": {"restart_resource_on_failure": ["fragile"]},
        "check_interval_seconds": 0.01, "backoff_initial_seconds": 0.1, "backoff_max_seconds": 1.0
    }}}}});
    let running = with_report_server(FragileService { fragile }, policy)
        .start()
        .await
        .unwrap();
    let recovered = eventually(Duration::from_secs(10), async || {
        running
            .statuses()
            .iter()
            .any(|(name, status)| name == "fragile" && *status == ResourceStatus::Started)
    })
    .await;
    assert!(recovered, "the resource is STARTED again");
    assert_eq!(
        starts.load(Ordering::SeqCst),
        4,
        "first start, two failed restarts, one that worked"
    );
    let at = at.lock().unwrap().clone();
    let gaps: Vec<Duration> = at.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(100),
        "waits the initial backoff: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(200),
        "then twice as long: {gaps:?}"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_policy_stops_the_service_with_the_restart_code() {
    let fragile = Fragile {
        starts: Arc::default(),
        at: Arc::default(),
        recover_after: 0,
    };
    let policy = json!({"system": {"resources": {"status": {"restart_policy": {
        "resources": {"restart_microservice_on_failure": "all"}, "check_interval_seconds": 0.01
    }}}}});
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        with_report_server(FragileService { fragile }, policy).try_serve(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&outcome, Err(Error::RestartRequested { resource }) if resource == "fragile"),
        "{outcome:?}"
    );
    assert_eq!(ExitStatus::of(&outcome).code(), 75);
}

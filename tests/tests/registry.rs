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

#[microservice(name = "janitor")]
#[derive(Default)]
struct Janitor {}

#[microservice]
impl Janitor {
    #[task_timer(interval = "100ms", singleton)]
    async fn sweep(&self) {}
}

/// The instances in which `Once::migrate` ran, in order.
static ONCE_RAN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[microservice(name = "once")]
#[derive(Default)]
struct Once {
    cx: ServiceContext,
}

#[microservice]
impl Once {
    #[task_timer(interval = "100ms", one_shot, singleton)]
    async fn migrate(&self) {
        let id = self.cx.registry().instance_id().to_owned();
        ONCE_RAN.lock().unwrap().push(id);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_visible_at_start_and_gone_on_a_graceful_stop() {
    let etcd = EtcdServer::start();
    let mut raw = client(&etcd).await;
    let started = Instant::now();
    let orders = start_orders(&etcd).await;
    let id = orders.handle().registry().instance_id().to_owned();
    let visible = wait_records(&mut raw, "orders", Duration::from_secs(1), |r| {
        r.contains_key(&id)
    })
    .await
    .expect("the record is in etcd within a second of the start");
    println!(
        "registration visible {visible:?} after the start returned ({:?} after it began)",
        started.elapsed()
    );
    let record = records(&mut raw, "orders").await.remove(&id).unwrap();
    let http = orders.service().http_server.local_addr().unwrap();
    assert_eq!(record.service, "orders");
    assert_eq!(record.deploy_name, "local");
    assert_eq!(record.endpoints["http_server"], http.to_string());
    assert_eq!(
        record.endpoints["tamarco_http_report_server"],
        orders.report_addr().unwrap().to_string()
    );
    assert!(!record.started_at.is_empty() && !record.version.is_empty());

    // Registrations are not settings: not in the settings tree, not an unknown key.
    let settings = orders.handle().settings();
    assert_eq!(settings.value("system.discovery"), None);

    // /status shows the registration.
    let status = orders.report().unwrap().get("/status").await.unwrap();
    let body: tamarco::serde_json::Value = status.json().unwrap();
    assert_eq!(body["registry"]["registered"], true, "{body}");
    assert_eq!(body["registry"]["instance_id"], id.as_str(), "{body}");

    orders.stop().await.unwrap();
    assert!(
        !records(&mut raw, "orders").await.contains_key(&id),
        "the record is gone once the graceful stop returns"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_path_set_only_in_etcd_is_neither_loaded_nor_followed_as_settings() {
    let etcd = EtcdServer::start();
    let mut raw = client(&etcd).await;
    let path = "system/resources/registry/path";
    raw.put(path, r#""system.cluster""#, None).await.unwrap();
    let other = r#"{"service": "orders", "instance_id": "other"}"#;
    raw.put("system/cluster/orders/other", other, None)
        .await
        .unwrap();
    let orders = start_orders(&etcd).await;
    let settings = orders.handle().settings();
    assert_eq!(settings.value("system.cluster"), None, "records loaded");

    // This instance registered under the path from etcd.
    let id = orders.handle().registry().instance_id().to_owned();
    let mine = raw
        .get(format!("system/cluster/orders/{id}"), None)
        .await
        .unwrap();
    assert_eq!(mine.kvs().len(), 1, "registered under system/cluster");

    // A record written later is not followed either: a setting written after it arrives,
    // and the record did not.
    raw.put("system/cluster/orders/late", other, None)
        .await
        .unwrap();
    raw.put("system/marker", "1", None).await.unwrap();
    let started = Instant::now();
    while settings.value("system.marker").is_none() {
        assert!(started.elapsed() < WITHIN, "the setting never arrived");
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(settings.value("system.cluster"), None, "records followed");
    orders.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_is_back_within_2s_after_an_etcd_restart_or_a_lost_lease() {
    let mut etcd = EtcdServer::start();
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(start_orders(&etcd).await);
    }
    let ids: Vec<String> = instances
        .iter()
        .map(|i| i.handle().registry().instance_id().to_owned())
        .collect();
    let all_there = |r: &BTreeMap<String, Instance>| ids.iter().all(|id| r.contains_key(id));
    let mut raw = client(&etcd).await;
    assert!(
        wait_records(&mut raw, "orders", WITHIN, all_there)
            .await
            .is_some()
    );

    // Discovery follows the list from here on.
    let discovery = instances[0].handle().registry().clone();
    assert_eq!(discovery.instances("orders").await.unwrap().len(), 3);

    // etcd away for 10 s, longer than the TTL: every instance keeps trying, and discovery
    // keeps the last good list.
    etcd.kill();
    let killed = Instant::now();
    while discovery.list("orders").await.unwrap().live {
        assert!(
            killed.elapsed() < WITHIN,
            "discovery never noticed etcd was gone"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(discovery.instances("orders").await.unwrap().len(), 3);
    tamarco::tokio::time::sleep(Duration::from_secs(10).saturating_sub(killed.elapsed())).await;
    assert_eq!(discovery.instances("orders").await.unwrap().len(), 3);
    tamarco::tokio::task::block_in_place(|| etcd.restart());
    let mut raw = client(&etcd).await;
    let back = wait_records(&mut raw, "orders", WITHIN, all_there).await;
    println!("after the etcd restart, all three registered again within {back:?}");
    assert!(
        back.is_some_and(|took| took < Duration::from_secs(2)),
        "every instance is back within 2 s of etcd answering again: {back:?}"
    );

    // Each instance's lease revoked behind its back (as if it had expired): back within 2 s.
    let revoked_at = Instant::now();
    for id in &ids {
        let response = raw.get(key("orders", id), None).await.unwrap();
        let lease = response.kvs()[0].lease();
        raw.lease_revoke(lease).await.unwrap();
    }
    let back = wait_records(&mut raw, "orders", WITHIN, all_there).await;
    println!(
        "after their leases were revoked, all three registered again within {:?}",
        revoked_at.elapsed()
    );
    assert!(
        back.is_some_and(|took| took < Duration::from_secs(2)),
        "every instance is back within 2 s of losing its lease: {back:?}"
    );
    for instance in instances {
        instance.stop().await.unwrap();
    }
    assert!(records(&mut raw, "orders").await.is_empty());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_is_gone_within_the_ttl() {
    let etcd = EtcdServer::start();
    let dir = temp_dir("registry-killed");
    let (probe, id) = spawn_ticker(&etcd, &dir.join("ticks"));
    let mut raw = client(&etcd).await;
    assert!(
        wait_records(&mut raw, "ticker", WITHIN, |r| r.contains_key(&id))
            .await
            .is_some()
    );
    probe.signal("KILL");
    let gone = wait_records(&mut raw, "ticker", WITHIN, |r| !r.contains_key(&id)).await;
    println!("a SIGKILLed instance left the registry after {gone:?} (TTL {TTL} s)");
    assert!(
        gone.is_some_and(|took| took <= Duration::from_secs(TTL)),
        "gone within the TTL: {gone:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_spreads_300_requests_over_three_instances_and_none_fails_while_one_stops() {
    let etcd = EtcdServer::start();
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(start_orders(&etcd).await);
    }
    let caller = TestService::builder(Caller::default())
        .etcd(config(&etcd))
        .setting("system.resources.orders.discovery.service", "orders")
        .start()
        .await
        .unwrap();
    let caller_service = Arc::clone(caller.service());
    // Discovery follows the registry: wait (bounded) until it lists the three.
    let registry = caller.handle().registry().clone();
    let started = Instant::now();
    while registry.instances("orders").await.unwrap().len() < 3 {
        assert!(
            started.elapsed() < WITHIN,
            "the caller never saw three instances"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Requests built by get() (not send) go to the instances in turn too.
    let mut by_get: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..30 {
        let answer = caller_service.orders.get("/who").send().await.unwrap();
        assert_eq!(answer.status(), 200);
        *by_get.entry(answer.text().await.unwrap()).or_default() += 1;
    }
    println!("30 requests by get(): {by_get:?}");
    assert_eq!(by_get.len(), 3, "each instance got a share: {by_get:?}");

    let mut stopping = instances.pop();
    let stopped_id = stopping
        .as_ref()
        .unwrap()
        .handle()
        .registry()
        .instance_id()
        .to_owned();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut stop = None;
    for n in 0..300 {
        if n == 100 {
            // One instance stops gracefully while the requests go on.
            let instance = stopping.take().unwrap();
            stop = Some(tamarco::tokio::spawn(instance.stop()));
        }
        let answer = caller_service
            .orders
            .send(Method::GET, "/who", |request| request)
            .await
            .unwrap_or_else(|error| panic!("request {n} failed: {error}"));
        assert_eq!(answer.status(), 200);
        *counts.entry(answer.text().await.unwrap()).or_default() += 1;
    }
    stop.unwrap().await.unwrap().unwrap();
    println!("300 requests over three instances, one stopping after 100: {counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 300);
    assert_eq!(counts.len(), 3, "each instance got a share: {counts:?}");
    assert!(counts[&stopped_id] >= 20, "{counts:?}");
    for instance in instances {
        assert!(counts[instance.handle().registry().instance_id()] >= 100);
        instance.stop().await.unwrap();
    }
    caller.stop().await.unwrap();
}

/// One tick of the singleton timer, as the probes record it.
#[derive(Debug)]
struct Tick {
    instance: String,
    start: u128,
    end: u128,
}

fn read_ticks(path: &std::path::Path) -> Vec<Tick> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut ticks: Vec<Tick> = text
        .lines()
        .map(|line| {
            let mut parts = line.split(' ');
            Tick {
                instance: parts.next().unwrap().to_owned(),
                start: parts.next().unwrap().parse().unwrap(),
                end: parts.next().unwrap().parse().unwrap(),
            }
        })
        .collect();
    ticks.sort_by_key(|t| t.start);
    ticks
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_singleton_timer_never_overlaps_and_fails_over_after_sigkill() {
    let etcd = EtcdServer::start();
    let dir = temp_dir("registry-singleton");
    let path = dir.join("ticks");
    let mut probes: Vec<(Probe, String)> = (0..3).map(|_| spawn_ticker(&etcd, &path)).collect();

    // Three seconds of ticks, then the leader (the last to tick) is killed.
    tamarco::tokio::time::sleep(Duration::from_secs(3)).await;
    let leader = read_ticks(&path)
        .last()
        .expect("the singleton ticks")
        .instance
        .clone();
    let index = probes.iter().position(|(_, id)| *id == leader).unwrap();
    let (killed, _) = probes.remove(index);
    let killed_at = now_ns();
    killed.signal("KILL");

    // Another instance ticks within TTL + 1 s of the kill.
    let started = Instant::now();
    let failover = loop {
        let ticks = read_ticks(&path);
        if let Some(tick) = ticks
            .iter()
            .find(|t| t.start > killed_at && t.instance != leader)
        {
            break Duration::from_nanos((tick.start - killed_at) as u64);
        }
        assert!(
            started.elapsed() < WITHIN,
            "no tick after the leader was killed"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("singleton failover after SIGKILL of the leader: {failover:?} (TTL {TTL} s)");
    assert!(
        failover <= Duration::from_secs(TTL + 1),
        "ticks continue within TTL + 1 s: {failover:?}"
    );

    // Run on to six seconds in all, then stop the two that are left.
    tamarco::tokio::time::sleep(
        Duration::from_secs(6).saturating_sub(started.elapsed() + Duration::from_secs(3)),
    )
    .await;
    for (probe, _) in probes {
        probe.signal("TERM");
        let (code, _, lines) = probe.wait_exit(WITHIN);
        assert_eq!(code, 0, "{lines:#?}");
    }
    let ticks = read_ticks(&path);
    let leaders: std::collections::BTreeSet<&str> =
        ticks.iter().map(|t| t.instance.as_str()).collect();
    assert!(ticks.len() >= 20, "{} ticks", ticks.len());
    assert!(
        leaders.len() >= 2,
        "the lead moved after the kill: {leaders:?}"
    );
    for pair in ticks.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "two ticks overlap: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// The `registry` entry of a service's `/status`.
async fn registry_status<S: tamarco::TaskSet>(
    service: &TestService<S>,
) -> tamarco::serde_json::Value {
    let status = service.report().unwrap().get("/status").await.unwrap();
    let body: tamarco::serde_json::Value = status.json().unwrap();
    body["registry"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_singleton_leader_and_a_graceful_stop_hands_the_lead_over() {
    let etcd = EtcdServer::start();
    let start = || {
        TestService::builder(Janitor::default())
            .etcd(config(&etcd))
            .setting("system.resources.registry.ttl_seconds", TTL)
            .start()
    };
    let (first, second) = (start().await.unwrap(), start().await.unwrap());
    let ids = [
        first.handle().registry().instance_id().to_owned(),
        second.handle().registry().instance_id().to_owned(),
    ];
    // Both see the same leader, and exactly one of them is it.
    let started = Instant::now();
    let (a, b) = loop {
        let (a, b) = (
            registry_status(&first).await,
            registry_status(&second).await,
        );
        let (la, lb) = (
            &a["singletons"]["sweep"]["leader"],
            &b["singletons"]["sweep"]["leader"],
        );
        if la.is_string() && la == lb {
            break (a, b);
        }
        assert!(started.elapsed() < WITHIN, "no common leader: {a} {b}");
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let leader = a["singletons"]["sweep"]["leader"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ids.contains(&leader), "{leader} is one of {ids:?}");
    assert_ne!(
        a["singletons"]["sweep"]["this_instance"], b["singletons"]["sweep"]["this_instance"],
        "{a} {b}"
    );
    assert_eq!(a["etcd"], "CONNECTED");

    // The leader stops gracefully: it resigns, and the other leads at once (not after the TTL).
    let (leading, other) = if leader == ids[0] {
        (first, second)
    } else {
        (second, first)
    };
    let stopped = Instant::now();
    leading.stop().await.unwrap();
    loop {
        let status = registry_status(&other).await;
        if status["singletons"]["sweep"]["this_instance"] == true {
            break;
        }
        assert!(stopped.elapsed() < WITHIN, "the lead never moved: {status}");
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "the singleton's lead moved {:?} after the leader's graceful stop began",
        stopped.elapsed()
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(TTL),
        "handed over, not expired"
    );
    other.stop().await.unwrap();
}

/// Registration follows `enabled` (off by default): on, the record is there once the start
/// returns; off, there is none, though etcd is on. Prints the start times of both (medians of
/// five) for the closing note; speed is not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_enabled_registry_registers_and_the_added_start_time_is_printed() {
    let etcd = EtcdServer::start();
    let mut raw = client(&etcd).await;
    let mut on = Vec::new();
    let mut off = Vec::new();
    for round in 0..10 {
        let enabled = round % 2 == 0;
        let began = Instant::now();
        let service = TestService::builder(Orders::default())
            .etcd(config(&etcd))
            .free_port("http_server")
            .setting("system.resources.registry.enabled", enabled)
            .start()
            .await
            .unwrap();
        let took = began.elapsed();
        let id = service.handle().registry().instance_id().to_owned();
        assert_eq!(records(&mut raw, "orders").await.contains_key(&id), enabled);
        service.stop().await.unwrap();
        if enabled {
            on.push(took);
        } else {
            off.push(took);
        }
    }
    on.sort();
    off.sort();
    println!(
        "start with the registry on: median {:?}; off (etcd still on): median {:?}",
        on[on.len() / 2],
        off[off.len() / 2]
    );
    assert_eq!((on.len(), off.len()), (5, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_singleton_runs_once_in_the_cluster_and_gives_the_lead_up() {
    let etcd = EtcdServer::start();
    let start = || {
        TestService::builder(Once::default())
            .etcd(config(&etcd))
            .setting("system.resources.registry.ttl_seconds", TTL)
            .start()
    };
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(start().await.unwrap());
    }
    let started = Instant::now();
    while ONCE_RAN.lock().unwrap().is_empty() {
        assert!(started.elapsed() < WITHIN, "the one-shot never ran");
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Once it ran, no instance leads it any more.
    loop {
        let mut statuses = Vec::new();
        for instance in &instances {
            statuses.push(registry_status(instance).await["singletons"]["migrate"].clone());
        }
        if statuses.iter().all(|s| s["leader"].is_null()) {
            break;
        }
        assert!(
            started.elapsed() < WITHIN,
            "the lead is still held: {statuses:?}"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ran = ONCE_RAN.lock().unwrap().clone();
    assert_eq!(ran.len(), 1, "{ran:?}");

    // The instance that ran stops, and a new one joins: neither runs it again.
    let index = instances
        .iter()
        .position(|i| i.handle().registry().instance_id() == ran[0])
        .unwrap();
    instances.remove(index).stop().await.unwrap();
    instances.push(start().await.unwrap());
    // Fifteen intervals of the timer: time enough to run, had it not been done.
    tamarco::tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ONCE_RAN.lock().unwrap().len(), 1, "ran again");
    assert!(registry_status(&instances[2]).await["singletons"]["migrate"]["leader"].is_null());
    for instance in instances {
        instance.stop().await.unwrap();
    }
}

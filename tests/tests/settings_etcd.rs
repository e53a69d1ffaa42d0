//! Settings in etcd, against real etcd processes that each test starts on free loopback ports
//! (`tamarco_tests::etcd`): reads and writes through settings and views, watches with the
//! per-service override, reconnecting after etcd restarts, a three-member cluster with a member
//! down, precedence of file, etcd and environment, `ETCD_CHECK_KEY`, the `tamarco etcd` command
//! line, and the error each bad input gives.
//!
//! Environment variables are process-wide, so in-process tests build their [`EtcdConfig`] in
//! code; only the probe service (a child process) reads `TAMARCO_*` variables.

use std::time::Duration;

use etcd_client::{Client, GetOptions};
use tamarco::prelude::*;
use tamarco::serde::Deserialize;
use tamarco::serde_json::{Value, json};
use tamarco::settings::etcd::{self, EtcdConfig, EtcdStore};
use tamarco::settings::sources;
use tamarco::tokio::sync::mpsc;
use tamarco_tests::etcd::{EtcdCluster, EtcdServer, free_port_list, temp_dir};
use tamarco_tests::proxy::TcpProxy;
use tamarco_tests::{Probe, http_get, tamarco_cli};

/// How long a change may take to reach a watch (generous: CI machines are slow and shared).
const CHANGE_WITHIN: Duration = Duration::from_secs(30);

#[microservice(name = "dog")]
#[derive(Default)]
struct Dog {}

#[microservice]
impl Dog {}

/// A configuration for tests: fast retries, so that reconnecting takes well under a second.
fn config(endpoints: &[String], prefix: &str) -> EtcdConfig {
    EtcdConfig::new(endpoints.iter().cloned())
        .with_prefix(prefix)
        .with_connect_retries(3)
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

/// A separate etcd client, as another tool or operator would use.
async fn client(endpoints: &[String]) -> Client {
    Client::connect(endpoints, None)
        .await
        .expect("a separate etcd client")
}

async fn raw_get(client: &mut Client, key: &str) -> Option<String> {
    let response = client.get(key, None).await.unwrap();
    response
        .kvs()
        .first()
        .map(|kv| kv.value_str().unwrap().to_owned())
}

async fn raw_keys(client: &mut Client, prefix: &str) -> Vec<String> {
    let response = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
        .unwrap();
    response
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_owned())
        .collect()
}

/// Puts with a separate client, retrying (bounded) while the cluster elects a new leader.
async fn put_retrying(client: &mut Client, key: &str, value: &str) {
    let deadline = tamarco::tokio::time::Instant::now() + CHANGE_WITHIN;
    while let Err(error) = client.put(key, value, None).await {
        assert!(
            tamarco::tokio::time::Instant::now() < deadline,
            "put {key}: {error}"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The changes a watch saw: `(key, new value)`.
type Changes = mpsc::UnboundedReceiver<(String, Option<Value>)>;

/// A watch callback that forwards `(key, value)` to a channel.
fn channel() -> (
    impl Fn(&str, Option<&Value>) + Send + Sync + 'static,
    Changes,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let callback = move |key: &str, value: Option<&Value>| {
        let _ = tx.send((key.to_owned(), value.cloned()));
    };
    (callback, rx)
}

/// The next change, or a panic naming what was awaited.
async fn next(rx: &mut Changes, what: &str) -> (String, Option<Value>) {
    match tamarco::tokio::time::timeout(CHANGE_WITHIN, rx.recv()).await {
        Ok(Some(change)) => change,
        _ => panic!("no change within {CHANGE_WITHIN:?}: {what}"),
    }
}

/// Waits (bounded) until `check` holds, checking every 20 ms.
async fn eventually(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = tamarco::tokio::time::Instant::now() + within;
    while !check() {
        assert!(
            tamarco::tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tamarco::tokio::task::block_in_place(work)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_delete_and_subtree_reads_through_settings_and_views() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, "t/"))
        .await
        .unwrap();
    let mut raw = client(&endpoints).await;
    let db = settings.resource_view("db");

    // put and get: one etcd key per leaf, its value JSON; visible as soon as `set` returns
    db.set("port", 5432).await.unwrap();
    assert_eq!(db.get::<u16>("port").unwrap(), 5432);
    assert_eq!(
        raw_get(&mut raw, "t/system/resources/db/port")
            .await
            .as_deref(),
        Some("5432")
    );

    // a subtree is stored leaf by leaf and reads back as a map, here and in another service
    let other = Settings::new("cat");
    let _other_sources = etcd::connect(&other, config(&endpoints, "t/"))
        .await
        .unwrap();
    let (on_change, mut changes) = channel();
    other.watch("system.resources.db", on_change);
    let doc =
        json!({"host": "127.0.0.1", "port": 5433, "tags": ["a", "b"], "tls": {"enabled": false}});
    db.set("", doc.clone()).await.unwrap();
    let mut keys = raw_keys(&mut raw, "t/system/resources/db").await;
    keys.sort();
    assert_eq!(
        keys,
        [
            "t/system/resources/db/host",
            "t/system/resources/db/port",
            "t/system/resources/db/tags",
            "t/system/resources/db/tls/enabled"
        ]
    );
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(crate = "tamarco::serde")]
    struct Db {
        host: String,
        port: u16,
        tags: Vec<String>,
    }
    let loaded: Db = db.load().unwrap();
    assert_eq!(
        loaded,
        Db {
            host: "127.0.0.1".into(),
            port: 5433,
            tags: vec!["a".into(), "b".into()]
        }
    );
    assert_eq!(
        next(&mut changes, "the other service sees the subtree")
            .await
            .1,
        Some(doc.clone())
    );
    let store = EtcdStore::connect(config(&endpoints, "t/")).await.unwrap();
    assert_eq!(store.get("system.resources.db").await.unwrap(), Some(doc));

    // replacing a subtree removes the leaves it no longer has
    db.set("", json!({"host": "db2"})).await.unwrap();
    assert_eq!(
        raw_keys(&mut raw, "t/system/resources/db").await,
        ["t/system/resources/db/host"]
    );
    assert_eq!(
        next(&mut changes, "the replaced subtree").await.1,
        Some(json!({"host": "db2"}))
    );

    // delete a leaf, then a whole subtree
    db.set("pool.size", 4).await.unwrap();
    db.delete("host").await.unwrap();
    assert_eq!(db.get_opt::<String>("host").unwrap(), None);
    assert_eq!(raw_get(&mut raw, "t/system/resources/db/host").await, None);
    settings.delete("system.resources.db").await.unwrap();
    assert_eq!(settings.value("system.resources.db"), None);
    assert!(raw_keys(&mut raw, "t/system/resources/db").await.is_empty());
    assert_eq!(
        next(&mut changes, "pool.size added").await.1,
        Some(json!({"host": "db2", "pool": {"size": 4}}))
    );
    assert_eq!(
        next(&mut changes, "host deleted").await.1,
        Some(json!({"pool": {"size": 4}}))
    );
    assert_eq!(next(&mut changes, "subtree deleted").await.1, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_fires_for_a_change_by_another_client_with_the_per_service_override() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, "w/"))
        .await
        .unwrap();
    let mut raw = client(&endpoints).await;

    // registered first, so it is up to date when the watch below is called
    let profile = settings.live::<String>("system.logging.profile").unwrap();
    let (on_change, mut changes) = channel();
    settings.watch("system.logging.profile", on_change);

    // another service's override does not concern this one
    raw.put(
        "w/system/microservices/cat/logging/profile",
        r#""DEBUG""#,
        None,
    )
    .await
    .unwrap();
    raw.put(
        "w/system/microservices/dog/logging/profile",
        r#""DEVELOP""#,
        None,
    )
    .await
    .unwrap();
    let change = next(&mut changes, "the dog override").await;
    assert_eq!(
        change,
        ("system.logging.profile".into(), Some(json!("DEVELOP")))
    );
    assert_eq!(*profile.get(), "DEVELOP");

    // a value written by another tool that is not JSON reads as a string
    raw.put(
        "w/system/microservices/dog/logging/profile",
        "TESTING",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut changes, "a plain-text value").await.1,
        Some(json!("TESTING"))
    );

    // deleting the override falls back to the shared value
    raw.delete("w/system/microservices/dog/logging/profile", None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut changes, "the override deleted").await.1,
        Some(json!("PRODUCTION"))
    );
    assert_eq!(*profile.get(), "PRODUCTION");

    // through a resource's view, with the override too
    let (on_port, mut ports) = channel();
    settings.resource_view("db").watch("port", on_port);
    raw.put("w/system/resources/db/port", "5432", None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut ports, "the shared port").await,
        ("system.resources.db.port".into(), Some(json!(5432)))
    );
    raw.put("w/system/microservices/dog/resources/db/port", "6543", None)
        .await
        .unwrap();
    assert_eq!(next(&mut ports, "the dog port").await.1, Some(json!(6543)));
    raw.delete("w/system/resources/db/port", None)
        .await
        .unwrap();
    raw.delete("w/system/microservices/dog/resources/db/port", None)
        .await
        .unwrap();
    assert_eq!(next(&mut ports, "the port deleted").await.1, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_etcd_restarts_the_watch_resumes_and_status_shows_the_outage() {
    let mut server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    raw.put("r/system/resources/db/host", r#""before""#, None)
        .await
        .unwrap();

    let service = Dog::default()
        .runtime()
        .with_settings(
            json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}}),
        )
        .unwrap()
        .handle_signals(false);
    let _sources = etcd::connect(service.settings(), config(&endpoints, "r/"))
        .await
        .unwrap();
    let running = service.start().await.unwrap();
    let settings = running.settings().clone();
    let backend = settings.backend().expect("etcd is attached");
    let addr = running.report_addr().expect("a report server");
    let status = || blocking(|| http_get(addr, "/status").unwrap());
    let (code, body) = status();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""settings":{"etcd":"CONNECTED""#), "{body}");
    let (on_change, mut changes) = channel();
    settings.watch("system.resources.db.host", on_change);

    // etcd goes away: the service keeps its values and says so in /status (still 200)
    blocking(|| server.kill());
    eventually("the backend sees etcd gone", CHANGE_WITHIN, || {
        !backend.is_connected()
    })
    .await;
    let (code, body) = status();
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#""status":{"status":2,"status_str":"STARTED""#),
        "{body}"
    );
    assert!(body.contains(r#""etcd":"DISCONNECTED""#), "{body}");
    assert!(
        body.contains(&server.endpoint()) && !body.contains("password"),
        "{body}"
    );
    assert_eq!(
        settings.get::<String>("system.resources.db.host").unwrap(),
        "before"
    );

    // same data dir, same ports; nothing changed meanwhile. Two changes right after the
    // restart, likely before the service reconnects: it must see both, in order.
    blocking(|| server.restart());
    let mut raw = client(&endpoints).await;
    raw.put("r/system/resources/db/host", r#""after-1""#, None)
        .await
        .unwrap();
    raw.put("r/system/resources/db/host", r#""after-2""#, None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut changes, "the first change after the restart")
            .await
            .1,
        Some(json!("after-1"))
    );
    assert_eq!(
        next(&mut changes, "the second change after the restart")
            .await
            .1,
        Some(json!("after-2"))
    );
    eventually("the backend sees etcd back", CHANGE_WITHIN, || {
        backend.is_connected()
    })
    .await;
    let (_, body) = status();
    assert!(body.contains(r#""etcd":"CONNECTED""#), "{body}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_missed_beyond_a_compaction_are_reloaded() {
    let server = blocking(EtcdServer::start);
    let mut raw = client(&[server.endpoint()]).await;
    raw.put("k/system/a", r#""a-1""#, None).await.unwrap();
    raw.put("k/system/b", r#""b-1""#, None).await.unwrap();
    let proxy = TcpProxy::start(server.endpoint()).await;
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&[proxy.endpoint()], "k/"))
        .await
        .unwrap();
    let backend = settings.backend().unwrap();
    let (on_a, mut a) = channel();
    settings.watch("system.a", on_a);
    let (on_b, mut b) = channel();
    settings.watch("system.b", on_b);

    // cut the service off; change a, delete b, and compact away the revisions it missed
    proxy.block(true);
    proxy.cut();
    eventually("the service sees etcd gone", CHANGE_WITHIN, || {
        !backend.is_connected()
    })
    .await;
    raw.put("k/system/a", r#""a-2""#, None).await.unwrap();
    raw.delete("k/system/b", None).await.unwrap();
    let revision = raw
        .put("k/system/c", "3", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    raw.compact(revision, None).await.unwrap();

    // the watch cannot resume at its revision: the service reads everything again
    proxy.block(false);
    assert_eq!(
        next(&mut a, "a after the reload").await.1,
        Some(json!("a-2"))
    );
    assert_eq!(next(&mut b, "b after the reload").await.1, None);
    assert_eq!(settings.get::<u8>("system.c").unwrap(), 3);
    // and follows changes again from there
    raw.put("k/system/a", r#""a-3""#, None).await.unwrap();
    assert_eq!(
        next(&mut a, "a after the reload").await.1,
        Some(json!("a-3"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_member_cluster_with_one_member_killed_still_reads_and_watches() {
    let mut cluster = blocking(|| EtcdCluster::start(3));
    let endpoints = cluster.endpoints();
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, "c/"))
        .await
        .unwrap();
    let (on_change, mut changes) = channel();
    settings.watch("system.feature.level", on_change);
    // Kill each member in turn (one down at a time), so that one of them is the member the
    // service's watch runs on, whichever that is.
    for down in 0..3 {
        blocking(|| cluster.member(down).kill());
        // the test's own client talks to the members that are up
        let up: Vec<String> = (0..3)
            .filter(|&i| i != down)
            .map(|i| endpoints[i].clone())
            .collect();
        let mut raw = client(&up).await;
        let level = (down * 10).to_string();
        put_retrying(&mut raw, "c/system/feature/level", &level).await;
        let seen = next(&mut changes, &format!("a change with member {down} down"))
            .await
            .1;
        assert_eq!(seen, Some(json!(down * 10)));
        assert_eq!(
            settings.get::<usize>("system.feature.level").unwrap(),
            down * 10
        );
        // writes go through too
        settings
            .set("system.feature.by_service", down)
            .await
            .unwrap();
        assert_eq!(
            raw_get(&mut raw, "c/system/feature/by_service").await,
            Some(down.to_string())
        );
        blocking(|| cluster.member(down).restart());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_beats_etcd_beats_file_beats_code() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    for key in ["a", "b"] {
        raw.put(format!("p/system/p/{key}"), r#""etcd""#, None)
            .await
            .unwrap();
    }
    let dir = temp_dir("precedence");
    let file = dir.join("settings.yml");
    std::fs::write(
        &file,
        "system:\n  p:\n    a: file\n    b: file\n    c: file\n",
    )
    .unwrap();

    let settings = Settings::new("dog");
    settings
        .update_internal(
            json!({"system": {"p": {"a": "code", "b": "code", "c": "code", "d": "code"}}}),
        )
        .unwrap();
    sources::load_file(&settings, &file).unwrap();
    let _sources = etcd::connect(&settings, config(&endpoints, "p/"))
        .await
        .unwrap();
    sources::load_env(
        &settings,
        [("TAMARCO__SYSTEM__P__A".to_owned(), "env".to_owned())],
    )
    .unwrap();
    let read = |key: &str| settings.get::<String>(&format!("system.p.{key}")).unwrap();
    assert_eq!(
        [read("a"), read("b"), read("c"), read("d")],
        ["env", "etcd", "file", "code"]
    );

    // a live change in etcd still loses to the environment, and wins over the file
    let (on_change, mut changes) = channel();
    settings.watch("system.p", on_change);
    raw.put("p/system/p/a", r#""etcd-2""#, None).await.unwrap();
    raw.put("p/system/p/c", r#""etcd-2""#, None).await.unwrap();
    let (_, seen) = next(&mut changes, "c changed in etcd").await;
    assert_eq!(
        seen,
        Some(json!({"a": "env", "b": "etcd", "c": "etcd-2", "d": "code"}))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_service_reads_file_etcd_and_environment_from_its_environment() {
    let server = EtcdServer::start();
    let dir = temp_dir("probe-env");
    let file = dir.join("settings.yml");
    std::fs::write(
        &file,
        "system:\n  p:\n    a: file\n    b: file\n    c: file\n",
    )
    .unwrap();
    let rt = tamarco::tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut raw = client(&[server.endpoint()]).await;
        for key in ["a", "b"] {
            raw.put(format!("env/system/p/{key}"), r#""etcd""#, None)
                .await
                .unwrap();
        }
    });
    let port = server.port().to_string();
    let probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "settings",
        &[
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO_ETCD_PREFIX", "env/"),
            ("TAMARCO_ETCD_PASSWORD", "hunter2"),
            ("TAMARCO_ETCD_USER", ""),
            ("TAMARCO__SYSTEM__P__A", "env"),
            ("PROBE_KEYS", "system.p.a,system.p.b,system.p.c"),
        ],
    );
    let wait = Duration::from_secs(30);
    // TAMARCO_ETCD_USER is empty, so the password alone is an error naming the variable
    let (code, _, output) = probe.wait_exit(wait);
    assert_eq!(code, 1, "{output:?}");
    let output = output.join("\n");
    assert!(
        output.contains("TAMARCO_ETCD_USER") && !output.contains("hunter2"),
        "{output}"
    );

    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "settings",
        &[
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO_ETCD_PREFIX", "env/"),
            ("TAMARCO__SYSTEM__P__A", "env"),
            ("PROBE_KEYS", "system.p.a,system.p.b,system.p.c"),
        ],
    );
    assert!(
        probe
            .wait_for_line("value system.p.a = ", wait)
            .ends_with(r#"= "env""#)
    );
    assert!(
        probe
            .wait_for_line("value system.p.b = ", wait)
            .ends_with(r#"= "etcd""#)
    );
    assert!(
        probe
            .wait_for_line("value system.p.c = ", wait)
            .ends_with(r#"= "file""#)
    );
    let addr = probe.report_addr();
    let (code, body) = http_get(addr, "/status").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""etcd":"CONNECTED""#), "{body}");
    probe.signal("TERM");
    let (code, _, output) = probe.wait_exit(wait);
    assert_eq!(code, 0, "{output:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn etcd_check_key_waits_for_the_key_then_starts() {
    let server = EtcdServer::start();
    let port = server.port().to_string();
    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "check_key",
        &[
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("ETCD_CHECK_KEY", "system.ready"),
            ("TAMARCO_ETCD_CHECK_RETRIES", "60"),
        ],
    );
    let wait = Duration::from_secs(30);
    // the service logs that it waits; only then is the key put
    probe.wait_for_line("waiting for the etcd check key", wait);
    let rt = tamarco::tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        client(&[server.endpoint()])
            .await
            .put("system/ready", "true", None)
            .await
            .unwrap()
    });
    probe.wait_for_line("probe started", wait);
    probe.signal("TERM");
    let (code, _, output) = probe.wait_exit(wait);
    assert_eq!(code, 0, "{output:?}");
    assert!(
        output.iter().any(|l| l.contains("etcd check key found")),
        "{output:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_key_that_never_appears_fails_naming_the_key() {
    let server = blocking(EtcdServer::start);
    let config = config(&[server.endpoint()], "")
        .with_check_key("system.never")
        .with_check_retries(1);
    let error = etcd::connect(&Settings::new("dog"), config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("system/never") && error.contains("did not appear within 1 s"),
        "{error}"
    );
    assert!(error.contains(&server.endpoint()), "{error}");
}

#[test]
fn unreachable_etcd_at_start_retries_then_exits_non_zero_naming_the_endpoints() {
    let port = free_port_list(1)[0].to_string();
    let probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "unreachable",
        &[
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO_ETCD_CONNECT_RETRIES", "2"),
        ],
    );
    let (code, took, output) = probe.wait_exit(Duration::from_secs(60));
    let output = output.join("\n");
    assert_eq!(code, 1, "{output}");
    let endpoint = format!("127.0.0.1:{port}");
    assert!(output.contains(&format!("etcd at {endpoint}")), "{output}");
    assert!(output.contains("unreachable after 3 attempts"), "{output}");
    assert!(
        output.contains("attempt 1 of 3") && output.contains("attempt 2 of 3"),
        "{output}"
    );
    // two waits: 0.2 s, then 0.4 s
    assert!(took >= Duration::from_millis(600), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_the_wrong_type_in_etcd_names_the_full_key_and_expected_type() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    client(&endpoints)
        .await
        .put("system/resources/db/port", r#""not a port""#, None)
        .await
        .unwrap();
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, ""))
        .await
        .unwrap();
    let db = settings.resource_view("db");
    for error in [
        db.get::<u16>("port").unwrap_err(),
        db.live::<u16>("port").unwrap_err(),
    ] {
        let text = error.to_string();
        assert!(
            text.contains("system.resources.db.port") && text.contains("expected u16"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_number_in_etcd_reads_as_text_and_a_wrong_type_names_the_etcd_key() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    raw.put("s/system/resources/db/password", "12345678", None)
        .await
        .unwrap();
    raw.put("s/system/resources/db/port", "true", None)
        .await
        .unwrap();
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, "s/"))
        .await
        .unwrap();
    let db = settings.resource_view("db");
    let password: tamarco::Secret = db.get("password").unwrap();
    assert_eq!(password.expose(), "12345678");
    assert_eq!(
        db.get::<u16>("port").unwrap_err().to_string(),
        "setting `system.resources.db.port`: invalid type: found a boolean, expected u16 \
         (from etcd key `s/system/resources/db/port`)"
    );
    let error = db.get::<Vec<String>>("password").unwrap_err().to_string();
    assert!(
        error.contains("etcd key `s/system/resources/db/password`") && !error.contains("12345678"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_round_trips_every_yaml_scalar_type() {
    let server = blocking(EtcdServer::start);
    let endpoint = server.endpoint();
    let dir = temp_dir("cli");
    let file = dir.join("settings.yml");
    let yaml = r#"
system:
  strings:
    plain: hello
    number_like: '5432'
    bool_like: 'true'
    null_like: 'null'
    float_like: "1.50"
    empty: ''
    multi: "two\nlines"
  numbers: {int: 42, negative: -7, big: 18446744073709551615, float: 1.5, exp: 1.0e+20}
  flags: {on: true, off: false, yes: no}
  nothing: null
  list: [1, two, '3', true, null, {k: v}]
  empty_map: {}
"#;
    std::fs::write(&file, yaml).unwrap();
    let path = file.to_str().unwrap();
    let out = tamarco_cli(&["etcd", "--endpoints", &endpoint, "write-yml", path])
        .await
        .unwrap();
    assert!(out.contains("wrote 18 keys"), "{out}");

    // stored as JSON leaves: a string that looks like a number stays a string
    let mut raw = client(std::slice::from_ref(&endpoint)).await;
    assert_eq!(
        raw_get(&mut raw, "system/strings/number_like")
            .await
            .as_deref(),
        Some(r#""5432""#)
    );
    assert_eq!(
        raw_get(&mut raw, "system/numbers/int").await.as_deref(),
        Some("42")
    );
    assert_eq!(
        raw_get(&mut raw, "system/flags/yes").await.as_deref(),
        Some(r#""no""#)
    );

    // read back, the subtree is the same YAML value, every type kept
    let printed = tamarco_cli(&["etcd", "read", "system", "--endpoints", &endpoint])
        .await
        .unwrap();
    let original: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&printed).unwrap();
    assert_eq!(back, original["system"], "{printed}");
    let leaf = tamarco_cli(&[
        "etcd",
        "--endpoints",
        &endpoint,
        "read",
        "system.strings.bool_like",
    ])
    .await
    .unwrap();
    assert_eq!(
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&leaf).unwrap(),
        serde_yaml_ng::Value::from("true")
    );

    // delete a subtree; reading it again names the key
    let out = tamarco_cli(&["etcd", "--endpoints", &endpoint, "delete", "system.strings"])
        .await
        .unwrap();
    assert!(out.contains("deleted 7 keys"), "{out}");
    let error = tamarco_cli(&["etcd", "--endpoints", &endpoint, "read", "system.strings"])
        .await
        .unwrap_err();
    assert!(
        error.contains("system.strings") && error.contains("missing"),
        "{error}"
    );

    // malformed YAML names the file and the line
    let bad = dir.join("bad.yml");
    std::fs::write(&bad, "system:\n  a: 1\n  b: [1, 2\n  c: 3\n").unwrap();
    let error = tamarco_cli(&[
        "etcd",
        "--endpoints",
        &endpoint,
        "write-yml",
        bad.to_str().unwrap(),
    ])
    .await
    .unwrap_err();
    assert!(
        error.contains(bad.to_str().unwrap()) && error.contains("line"),
        "{error}"
    );
    // the same reader serves the settings file
    let error = sources::load_file(&Settings::new("dog"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(bad.to_str().unwrap()) && error.contains("line"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_cli_names_the_endpoints_when_etcd_is_unreachable() {
    let endpoint = format!("127.0.0.1:{}", free_port_list(1)[0]);
    // TAMARCO_ETCD_CONNECT_RETRIES is not set in the test environment: 5 retries, ~6 s
    let error = tamarco_cli(&["etcd", "--endpoints", &endpoint, "read", "system"])
        .await
        .unwrap_err();
    assert!(
        error.contains(&format!("etcd at {endpoint}")) && error.contains("unreachable"),
        "{error}"
    );
}

#[microservice(name = "vault")]
#[derive(Default)]
struct Vault {}

#[microservice]
impl Vault {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_never_show_a_password_from_etcd_by_name_or_by_type() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    // A password that looks like a number, under a secret name; a token under a plain name
    // that the service reads as a `Secret`; a plain value beside them.
    for (key, value) in [
        ("v/system/resources/db/password", "918273645"),
        ("v/system/microservices/vault/stripe", "564738291"),
        ("v/system/microservices/vault/region", r#""eu-west""#),
    ] {
        raw.put(key, value, None).await.unwrap();
    }
    let service = Vault::default()
        .runtime()
        .with_settings(
            json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}}),
        )
        .unwrap()
        .handle_signals(false);
    let _sources = etcd::connect(service.settings(), config(&endpoints, "v/"))
        .await
        .unwrap();
    let running = service.start().await.unwrap();
    let addr = running.report_addr().expect("a report server");
    let settings = running.settings().clone();
    let (code, body) = blocking(|| http_get(addr, "/settings").unwrap());
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("918273645"), "password in /settings: {body}");
    // Until the service reads it as a secret, a plain name shows its value...
    assert!(body.contains("564738291"), "{body}");

    let stripe: tamarco::secret::Secret =
        settings.get("system.microservices.vault.stripe").unwrap();
    assert_eq!(stripe.expose(), "564738291");
    let (code, body) = blocking(|| http_get(addr, "/settings").unwrap());
    assert_eq!(code, 200, "{body}");
    for secret in ["918273645", "564738291"] {
        assert!(!body.contains(secret), "{secret} in /settings: {body}");
    }
    assert!(body.contains(r#""eu-west""#), "{body}");
    let doc: Value = tamarco::serde_json::from_str(&body).unwrap();
    let entry = doc["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "system.microservices.vault.stripe")
        .cloned()
        .unwrap();
    assert_eq!(entry["value"], "***");
    assert_eq!(entry["source"], "etcd");
    // A new value from etcd is masked once read as a secret again.
    raw.put("v/system/microservices/vault/stripe", "111222333", None)
        .await
        .unwrap();
    eventually("the new token reaches the settings", CHANGE_WITHIN, || {
        settings
            .value("system.microservices.vault.stripe")
            .is_some_and(|v| v == json!(111222333))
    })
    .await;
    let _: tamarco::secret::Secret = settings.get("system.microservices.vault.stripe").unwrap();
    let (_, body) = blocking(|| http_get(addr, "/settings").unwrap());
    assert!(!body.contains("111222333"), "{body}");
    running.stop().await.unwrap();
}

/// The Python original's spelling: `tamarco etcd write_yml FILE --host H --port P`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_the_originals_write_yml_with_host_and_port() {
    let server = blocking(EtcdServer::start);
    let dir = temp_dir("cli-original");
    let file = dir.join("settings.yml");
    std::fs::write(&file, "system:\n  deploy_name: from_write_yml\n").unwrap();
    let port = server.port().to_string();
    let out = tamarco_cli(&[
        "etcd",
        "write_yml",
        file.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ])
    .await
    .unwrap();
    assert!(out.contains("wrote 1 keys"), "{out}");
    let printed = tamarco_cli(&[
        "etcd",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "read",
        "system.deploy_name",
    ])
    .await
    .unwrap();
    assert_eq!(printed.trim(), "from_write_yml");
    let _ = std::fs::remove_dir_all(dir);
}

//! Settings and the registry in an etcd that has authentication on, with a short token TTL:
//! the service's auth token expires while it only watches and keeps its lease alive, and the
//! settings watch, the writes, the registration's lease and the discovery watch must still work
//! after a reconnect (etcd refuses a watch created with an expired token: "permission denied").

use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tamarco::prelude::*;
use tamarco::serde_json::{Value, json};
use tamarco::settings::Settings;
use tamarco::settings::etcd::{self, EtcdConfig};
use tamarco::testing::TestService;
use tamarco::tokio::sync::mpsc;
use tamarco::tokio::time::{Instant, sleep, timeout};
use tamarco_tests::etcd::EtcdServer;
use tamarco_tests::proxy::TcpProxy;

/// How long a change may take to reach a watch (generous: CI machines are slow and shared).
const CHANGE_WITHIN: Duration = Duration::from_secs(20);
/// Digits only, as passwords often are: they must reach etcd as text.
const PASSWORD: &str = "0123456789";
/// etcd forgets a token unused for this long (`--auth-token-ttl`, whole seconds).
const TOKEN_TTL: Duration = Duration::from_secs(1);

/// A single etcd with the root user and authentication on; returns it and a client of root.
async fn etcd_with_auth() -> (EtcdServer, Client) {
    let ttl = format!("--auth-token-ttl={}", TOKEN_TTL.as_secs());
    let server = tamarco::tokio::task::block_in_place(|| {
        EtcdServer::start_with(&["--auth-token=simple", &ttl])
    });
    let mut setup = Client::connect([server.endpoint()], None).await.unwrap();
    setup.user_add("root", PASSWORD, None).await.unwrap();
    setup.user_grant_role("root", "root").await.unwrap();
    setup.auth_enable().await.unwrap();
    // The test's own client forgets its token too: it refreshes it when refused.
    let root = ConnectOptions::new()
        .with_user("root", PASSWORD)
        .with_auto_token_refresh(true);
    let admin = Client::connect([server.endpoint()], Some(root))
        .await
        .unwrap();
    (server, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_and_writes_outlive_an_expired_auth_token_across_a_reconnect() {
    let (server, mut admin) = etcd_with_auth().await;
    let host = "auth/system/resources/db/host";
    admin.put(host, r#""before""#, None).await.unwrap();
    let proxy = TcpProxy::start(server.endpoint()).await;
    let settings = Settings::new("dog");
    let config = EtcdConfig::new([proxy.endpoint()])
        .with_prefix("auth/")
        .with_credentials("root", PASSWORD)
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500));
    let _sources = etcd::connect(&settings, config).await.unwrap();
    assert_eq!(
        settings.get::<String>("system.resources.db.host").unwrap(),
        "before"
    );
    let (tx, mut changes) = mpsc::unbounded_channel::<Option<Value>>();
    settings.watch("system.resources.db.host", move |_, value| {
        let _ = tx.send(value.cloned());
    });

    // The token is sent only when a watch starts: while the service just watches, etcd
    // forgets it. Then the network drops and the watch is created again.
    sleep(TOKEN_TTL * 3).await;
    assert!(
        proxy.cut() > 0,
        "the service talked to etcd through the proxy"
    );
    admin.put(host, r#""after""#, None).await.unwrap();
    let seen = timeout(CHANGE_WITHIN, changes.recv()).await;
    assert_eq!(
        seen.ok().flatten(),
        Some(Some(json!("after"))),
        "the watch came back after the reconnect"
    );

    // A write after the token expired again re-authenticates instead of failing.
    sleep(TOKEN_TTL * 3).await;
    settings
        .set("system.resources.db.port", 5433)
        .await
        .expect("a write after the token expired");
    let stored = admin
        .get("auth/system/resources/db/port", None)
        .await
        .unwrap();
    assert_eq!(stored.kvs()[0].value_str().unwrap(), "5433");
}

/// A service that only registers itself and looks others up.
#[microservice(name = "orders")]
#[derive(Default)]
struct Orders {}

#[microservice]
impl Orders {}

/// The lease of the record at `key`, once it is there (at most [`CHANGE_WITHIN`]).
async fn lease_of(admin: &mut Client, key: &str) -> i64 {
    let deadline = Instant::now() + CHANGE_WITHIN;
    loop {
        let found = admin.get(key, None).await.unwrap();
        if let Some(kv) = found.kvs().first() {
            return kv.lease();
        }
        assert!(Instant::now() < deadline, "no record at {key}");
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_lease_and_discovery_outlive_an_expired_auth_token_across_a_reconnect() {
    const TTL: Duration = Duration::from_secs(3);
    let (server, mut admin) = etcd_with_auth().await;
    let proxy = TcpProxy::start(server.endpoint()).await;
    let config = EtcdConfig::new([proxy.endpoint()])
        .with_credentials("root", PASSWORD)
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500));
    let orders = TestService::builder(Orders::default())
        .etcd(config)
        .without_report_server()
        .setting(
            "system.resources.registry",
            json!({"enabled": true, "ttl_seconds": TTL.as_secs()}),
        )
        .start()
        .await
        .expect("the service starts");
    let registry = orders.handle().registry().clone();
    let key = format!("system/discovery/orders/{}", registry.instance_id());
    let lease = lease_of(&mut admin, &key).await;
    let mut peers = registry.watch("peer").await.expect("discovery of `peer`");
    assert!(peers.current().instances.is_empty());

    // The token expires while the lease is only kept alive and the discovery only watches;
    // then the network drops, and both streams are made anew.
    sleep(TOKEN_TTL * 3).await;
    assert!(
        proxy.cut() > 0,
        "the service talked to etcd through the proxy"
    );
    let peer = json!({"service": "peer", "instance_id": "peer-1"}).to_string();
    admin
        .put("system/discovery/peer/peer-1", peer, None)
        .await
        .unwrap();
    let seen = timeout(CHANGE_WITHIN, async {
        loop {
            let list = peers.changed().await;
            if list.instances.iter().any(|i| i.instance_id == "peer-1") {
                return list;
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "discovery sees an instance registered after the reconnect"
    );

    // Two TTLs later the record is still there, on the same lease: it was kept alive.
    sleep(TTL * 2).await;
    assert_eq!(
        lease_of(&mut admin, &key).await,
        lease,
        "the registration keeps its lease across the reconnect"
    );
    let alive = admin.lease_time_to_live(lease, None).await.unwrap();
    assert!(alive.ttl() > 0, "the lease is alive: {alive:?}");
    orders.stop().await.unwrap();
}

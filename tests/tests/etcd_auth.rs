//! Settings in an etcd that has authentication on, with a short token TTL: the service's auth
//! token expires while it only watches, and the watch and the writes must still work after a
//! reconnect (etcd refuses a watch created with an expired token: "permission denied").

use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tamarco::serde_json::{Value, json};
use tamarco::settings::Settings;
use tamarco::settings::etcd::{self, EtcdConfig};
use tamarco::tokio::sync::mpsc;
use tamarco::tokio::time::{sleep, timeout};
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

//! Reads and writes through settings and views: put, get, delete and whole subtrees.

use super::*;

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

//! Watches: a change by another client reaches the service, with the per-service override, and
//! changes missed beyond a compaction are reloaded.

use super::*;

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
    wait_until(
        CHANGE_WITHIN,
        || !backend.is_connected(),
        || "the service sees etcd gone",
    )
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

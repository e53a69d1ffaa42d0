//! Registration: the record is there at start and gone on a graceful stop, back after an etcd
//! restart or a lost lease, kept apart from settings, and written only when the registry is
//! enabled.

use super::*;

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

//! Recovery: the watch resumes after etcd restarts (the status shows the outage), and a
//! three-member cluster with a member killed still reads and watches.

use super::*;

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
    wait_until(
        CHANGE_WITHIN,
        || !backend.is_connected(),
        || "the backend sees etcd gone",
    )
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
    wait_until(
        CHANGE_WITHIN,
        || backend.is_connected(),
        || "the backend sees etcd back",
    )
    .await;
    let (_, body) = status();
    assert!(body.contains(r#""etcd":"CONNECTED""#), "{body}");
    running.stop().await.unwrap();
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

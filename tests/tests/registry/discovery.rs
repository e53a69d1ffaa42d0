//! Discovery: a killed instance is gone within the TTL, and a caller spreads its requests over
//! the instances with none failing while one stops.

use super::*;

#[microservice(name = "caller")]
#[derive(Default)]
struct Caller {
    #[resource]
    orders: HttpClient,
}

#[microservice]
impl Caller {}

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

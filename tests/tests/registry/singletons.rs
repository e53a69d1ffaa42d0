//! Singleton timers: never two ticks at once across processes, failover after SIGKILL, the
//! leader on `/status`, the lead handed over on a graceful stop, and a one-shot run once in
//! the cluster.

use super::*;

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

/// A watch that etcd cancels (here its start revision is compacted before etcd creates it) is
/// not a quiet one: the candidate reads the election and watches again, so the lead still
/// moves to it when the leader steps down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_whose_watch_etcd_cancels_watches_again_and_takes_the_lead() {
    let etcd = EtcdServer::start();
    let start = |endpoint: String| {
        TestService::builder(Janitor::default())
            .etcd(
                EtcdConfig::new([endpoint])
                    .with_connect_retries(3)
                    .with_backoff(Duration::from_millis(50), Duration::from_millis(500)),
            )
            .setting("system.resources.registry.ttl_seconds", TTL)
            .start()
    };
    let leading = start(etcd.endpoint()).await.unwrap();
    let started = Instant::now();
    while registry_status(&leading).await["singletons"]["sweep"]["this_instance"] != true {
        assert!(started.elapsed() < WITHIN, "the first instance never led");
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leader = leading.handle().registry().instance_id().to_owned();

    // Another client writes and compacts all along, and the candidate reaches etcd through a
    // proxy that forwards each chunk late: by the time its watch from the revision after its
    // read arrives, that revision is compacted and etcd cancels the watch.
    let compacting = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let compactor = tamarco::tokio::spawn({
        let compacting = Arc::clone(&compacting);
        let mut admin = client(&etcd).await;
        async move {
            let mut rounds = 0_u32;
            while compacting.load(std::sync::atomic::Ordering::Relaxed) {
                let put = admin.put("filler", "x", None).await.unwrap();
                let revision = put.header().unwrap().revision();
                admin.compact(revision, None).await.unwrap();
                rounds += 1;
                tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
            }
            rounds
        }
    });
    let proxy = tamarco_tests::proxy::TcpProxy::start(etcd.endpoint()).await;
    proxy.delay(Duration::from_millis(150));
    let candidate = start(proxy.endpoint()).await.unwrap();
    while registry_status(&candidate).await["singletons"]["sweep"]["leader"] != leader.as_str() {
        assert!(
            started.elapsed() < WITHIN,
            "the candidate never read the election"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing outside etcd shows the watch arriving: give it four delays and etcd's 100 ms
    // round over unsynced watchers, then stop compacting so that a new watch can stand.
    tamarco::tokio::time::sleep(Duration::from_secs(1)).await;
    compacting.store(false, std::sync::atomic::Ordering::Relaxed);
    let rounds = compactor.await.unwrap();
    proxy.delay(Duration::ZERO);

    let stopped = Instant::now();
    leading.stop().await.unwrap();
    while registry_status(&candidate).await["singletons"]["sweep"]["this_instance"] != true {
        assert!(
            stopped.elapsed() < WITHIN,
            "the candidate never took the lead: its canceled watch was taken for a quiet one"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "after {rounds} compactions, the lead moved {:?} after the leader's stop began",
        stopped.elapsed()
    );
    candidate.stop().await.unwrap();
}

//! Restart policies: a failed resource restarted with backoff, or the service stopped with the
//! restart code.

use super::*;

/// Fails right after start; every restart attempt fails too until `recover_after` starts.
struct Fragile {
    starts: Arc<AtomicU32>,
    at: Arc<std::sync::Mutex<Vec<Instant>>>,
    recover_after: u32,
}

impl Resource for Fragile {
    async fn start(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        self.at.lock().unwrap().push(Instant::now());
        if n > 1 && n < self.recover_after {
            Err(format!("attempt {n} fails").into())
        } else {
            Ok(())
        }
    }

    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        cx.status().set(ResourceStatus::Failed);
        Ok(())
    }
}

#[microservice(name = "fragile_service")]
struct FragileService {
    #[resource]
    fragile: Fragile,
}

#[microservice]
impl FragileService {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_policy_restarts_a_failed_resource_with_backoff() {
    let starts = Arc::new(AtomicU32::new(0));
    let at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fragile = Fragile {
        starts: Arc::clone(&starts),
        at: Arc::clone(&at),
        recover_after: 4,
    };
    let policy = json!({"system": {"resources": {"status": {"restart_policy": {
        "resources": {"restart_resource_on_failure": ["fragile"]},
        "check_interval_seconds": 0.01, "backoff_initial_seconds": 0.1, "backoff_max_seconds": 1.0
    }}}}});
    let running = with_report_server(FragileService { fragile }, policy)
        .start()
        .await
        .unwrap();
    let recovered = eventually(Duration::from_secs(10), async || {
        running
            .statuses()
            .iter()
            .any(|(name, status)| name == "fragile" && *status == ResourceStatus::Started)
    })
    .await;
    assert!(recovered, "the resource is STARTED again");
    assert_eq!(
        starts.load(Ordering::SeqCst),
        4,
        "first start, two failed restarts, one that worked"
    );
    let at = at.lock().unwrap().clone();
    let gaps: Vec<Duration> = at.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(100),
        "waits the initial backoff: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(200),
        "then twice as long: {gaps:?}"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_policy_stops_the_service_with_the_restart_code() {
    let fragile = Fragile {
        starts: Arc::default(),
        at: Arc::default(),
        recover_after: 0,
    };
    let policy = json!({"system": {"resources": {"status": {"restart_policy": {
        "resources": {"restart_microservice_on_failure": "all"}, "check_interval_seconds": 0.01
    }}}}});
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        with_report_server(FragileService { fragile }, policy).try_serve(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&outcome, Err(Error::RestartRequested { resource }) if resource == "fragile"),
        "{outcome:?}"
    );
    assert_eq!(ExitStatus::of(&outcome).code(), 75);
}

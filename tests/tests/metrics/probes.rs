//! Health probes: readiness turns 503 during a graceful stop while liveness stays 200.

use super::*;

#[microservice(name = "draining")]
struct Draining {
    #[resource]
    slow: RecordingResource,
}

#[microservice]
impl Draining {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_during_a_graceful_stop_while_liveness_stays_200() {
    let log = EventLog::default();
    let slow = RecordingResource::new(&log).slow_to_stop(Duration::from_millis(500));
    let running = with_report_server(Draining { slow }, json!({}))
        .start()
        .await
        .unwrap();
    let addr = running.report_addr().unwrap();
    assert_eq!(get(addr, "/health/ready").await.0, 200);
    assert_eq!(get(addr, "/health/live").await.0, 200);

    let stopping = tokio::spawn(running.stop());
    let flipped = eventually(Duration::from_secs(5), async || {
        get(addr, "/health/ready").await.0 == 503
    })
    .await;
    assert!(flipped, "readiness turns 503 once the stop begins");
    assert_eq!(
        get(addr, "/health/live").await.0,
        200,
        "liveness stays up while stopping"
    );
    stopping.await.unwrap().unwrap();
}

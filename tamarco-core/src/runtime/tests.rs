//! The stop budget and panics in lifecycle code, with a hand-written service (no macro).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::{HookFn, Hooks, Microservice, ResourceSlot, Runtime, TaskSet};
use crate::resource::{BoxFuture, Resource, ResourceContext};
use crate::task::{TaskKind, TaskSpec};
use crate::{BoxError, Error, ExitStatus, Stage, TaskContext};

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A resource that records its start and stop; its start may panic, its stop may be slow.
struct Probe {
    name: &'static str,
    log: Log,
    panics_in_start: bool,
    stop_takes: Duration,
}

impl Resource for Probe {
    async fn start(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        if self.panics_in_start {
            panic!("{} exploded", self.name);
        }
        self.log.push(format!("start {}", self.name));
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        tokio::time::sleep(self.stop_takes).await;
        self.log.push(format!("stop {}", self.name));
        Ok(())
    }
}

/// `first`, then `second` (which depends on it). `HOOK_PANICS`: the `post_start` hook panics.
/// `STUBBORN`: a cooperative task that ignores the stop.
struct Svc<const HOOK_PANICS: bool, const STUBBORN: bool> {
    first: Probe,
    second: Probe,
}

impl<const H: bool, const T: bool> Svc<H, T> {
    fn new(log: &Log, second_panics: bool, second_stop: Duration) -> Self {
        let probe = |name, panics_in_start, stop_takes| Probe {
            name,
            log: log.clone(),
            panics_in_start,
            stop_takes,
        };
        Svc {
            first: probe("first", false, Duration::ZERO),
            second: probe("second", second_panics, second_stop),
        }
    }
}

impl<const H: bool, const T: bool> Microservice for Svc<H, T> {
    const NAME: &'static str = "svc";
    fn resources(&self) -> Vec<ResourceSlot<'_>> {
        vec![
            ResourceSlot {
                name: "first",
                depends_on: &[],
                replaces_default: false,
                resource: &self.first,
            },
            ResourceSlot {
                name: "second",
                depends_on: &["first"],
                replaces_default: false,
                resource: &self.second,
            },
        ]
    }
}

fn panicking_hook<S>(_: Arc<S>, _: Stage) -> BoxFuture<'static, Result<(), BoxError>> {
    Box::pin(async { panic!("the hook exploded") })
}

fn stubborn_task<S>(_: Arc<S>, _: TaskContext) -> BoxFuture<'static, Result<(), BoxError>> {
    Box::pin(std::future::pending())
}

impl<const H: bool, const T: bool> TaskSet for Svc<H, T> {
    fn tasks() -> Vec<TaskSpec<Self>> {
        let stubborn = TaskSpec {
            name: "stubborn",
            kind: TaskKind::Async {
                run: stubborn_task::<Self>,
                cooperative: true,
            },
            singleton: false,
        };
        if T { vec![stubborn] } else { Vec::new() }
    }
    fn hooks() -> Hooks<Self> {
        Hooks {
            post_start: H.then_some(panicking_hook::<Self> as HookFn<Self>),
            ..Hooks::default()
        }
    }
}

fn runtime<S: TaskSet>(service: S, grace: f64) -> Runtime<S> {
    Runtime::new(service)
        .with_settings(json!({"system": {
            "resources": {"tamarco_http_report_server": {"enabled": false}},
            "shutdown": {"grace_period_seconds": grace, "thread_join_timeout_seconds": 0.2,
                         "final_stop_seconds": 0.5},
        }}))
        .unwrap()
        .handle_signals(false)
}

#[tokio::test]
async fn a_panicking_resource_fails_the_start_with_code_1_and_the_others_stop() {
    let log = Log::default();
    let service = Svc::<false, false>::new(&log, true, Duration::ZERO);
    let error = runtime(service, 5.0)
        .start()
        .await
        .expect_err("the start fails");
    let message = crate::error_chain(&error);
    assert_eq!(
        message,
        "resource `second` failed in start: panicked: second exploded"
    );
    assert_eq!(ExitStatus::of(&Err(error)), ExitStatus::Failure);
    assert_eq!(log.events(), ["start first", "stop first"]);
}

#[tokio::test]
async fn a_panicking_hook_fails_the_start_with_code_1_and_the_resources_stop() {
    let log = Log::default();
    let service = Svc::<true, false>::new(&log, false, Duration::ZERO);
    let error = runtime(service, 5.0)
        .start()
        .await
        .expect_err("the start fails");
    assert!(matches!(error, Error::Hook { .. }), "{error:?}");
    assert_eq!(
        crate::error_chain(&error),
        "the service's `post_start` hook failed: panicked: the hook exploded"
    );
    assert_eq!(ExitStatus::of(&Err(error)).code(), 1);
    assert_eq!(
        log.events(),
        ["start first", "start second", "stop second", "stop first"]
    );
}

#[tokio::test]
async fn resources_not_stopped_within_the_grace_period_still_get_a_final_stop() {
    let log = Log::default();
    // `second` stops first (reverse order) and takes far longer than the grace period.
    let service = Svc::<false, false>::new(&log, false, Duration::from_secs(60));
    let running = runtime(service, 0.3).start().await.unwrap();
    let began = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), running.stop())
        .await
        .expect("the stop is bounded by the grace period and the final window");
    let took = began.elapsed();
    assert!(
        matches!(outcome, Err(Error::GracePeriodExpired(_))),
        "{outcome:?}"
    );
    assert!(took < Duration::from_secs(2), "the stop took {took:?}");
    // `second` was abandoned; `first` was still stopped.
    assert_eq!(log.events(), ["start first", "start second", "stop first"]);
}

#[tokio::test]
async fn a_task_that_ignores_the_stop_is_abandoned_and_the_resources_stop() {
    let log = Log::default();
    let service = Svc::<false, true>::new(&log, false, Duration::ZERO);
    let running = runtime(service, 30.0).start().await.unwrap();
    let began = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), running.stop())
        .await
        .expect("a stubborn task does not hold the stop for the whole grace period");
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(
        log.events(),
        ["start first", "start second", "stop second", "stop first"]
    );
}

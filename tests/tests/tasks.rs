//! Tasks, timers and threads: timer semantics under paused time, failing ticks, failing and
//! panicking tasks, cooperative tasks and threads seeing the stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tamarco::prelude::*;
use tamarco::{Error, Runtime, TaskSet};
use tamarco_tests::quiet_settings;

#[microservice]
#[derive(Default)]
struct Timers {
    autostart: AtomicU64,
    delayed: AtomicU64,
    once: AtomicU64,
    once_now: AtomicU64,
    failing: AtomicU64,
    panicking: AtomicU64,
}

#[microservice]
impl Timers {
    #[task_timer(interval = 100, autostart)]
    async fn autostart(&self) {
        self.autostart.fetch_add(1, Ordering::SeqCst);
    }

    #[task_timer(interval = "100ms")]
    async fn delayed(&self) {
        self.delayed.fetch_add(1, Ordering::SeqCst);
    }

    #[task_timer(interval = "100ms", one_shot)]
    async fn once(&self) {
        self.once.fetch_add(1, Ordering::SeqCst);
    }

    #[task_timer(interval = "100ms", one_shot, autostart = true)]
    async fn once_now(&self) {
        self.once_now.fetch_add(1, Ordering::SeqCst);
    }

    #[task_timer(interval = "100ms", autostart)]
    async fn failing(&self) -> Result<(), BoxError> {
        self.failing.fetch_add(1, Ordering::SeqCst);
        Err("this tick fails".into())
    }

    #[task_timer(interval = "100ms", autostart)]
    async fn panicking(&self) {
        self.panicking.fetch_add(1, Ordering::SeqCst);
        panic!("this tick panics");
    }
}

fn quiet<S: TaskSet>(service: S) -> Runtime<S> {
    service
        .runtime()
        .with_settings(quiet_settings())
        .unwrap()
        .handle_signals(false)
}

#[tokio::test(start_paused = true)]
async fn timers_follow_interval_autostart_and_one_shot_and_survive_failures() {
    let running = quiet(Timers::default()).start().await.unwrap();
    let timers = Arc::clone(running.service());
    let count = |counter: &AtomicU64| counter.load(Ordering::SeqCst);

    // Right after start: only the autostart timers ran.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&timers.autostart), 1);
    assert_eq!(count(&timers.delayed), 0);
    assert_eq!(count(&timers.once), 0);
    assert_eq!(
        count(&timers.once_now),
        0,
        "one_shot waits one interval even with autostart, as the Python original"
    );

    // At 350 ms: runs at 0, 100, 200, 300 with autostart; at 100, 200, 300 without.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&timers.autostart), 4);
    assert_eq!(count(&timers.delayed), 3);
    assert_eq!(
        count(&timers.once),
        1,
        "one_shot runs once, after one interval"
    );
    assert_eq!(
        count(&timers.once_now),
        1,
        "one_shot with autostart runs once, after one interval"
    );
    assert_eq!(
        count(&timers.failing),
        4,
        "a failing tick does not stop the timer"
    );
    assert_eq!(
        count(&timers.panicking),
        4,
        "a panicking tick does not stop the timer"
    );
    assert!(
        !running.shutdown().is_stopping(),
        "failing ticks do not stop the service"
    );

    running.stop().await.unwrap();
    let after_stop = count(&timers.autostart);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        count(&timers.autostart),
        after_stop,
        "timers are cancelled on stop"
    );
}

#[microservice]
#[derive(Default)]
struct FailingTask {}

#[microservice]
impl FailingTask {
    #[task]
    async fn ingest(&self) -> Result<(), BoxError> {
        Err("the queue vanished".into())
    }
}

#[tokio::test]
async fn a_failing_task_stops_the_service_and_names_the_task() {
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        quiet(FailingTask::default()).try_serve(),
    )
    .await
    .unwrap();
    match outcome {
        Err(Error::Task { task, source }) => {
            assert_eq!(task, "ingest");
            assert_eq!(source.to_string(), "the queue vanished");
        }
        other => panic!("unexpected outcome: {other:?}"),
    }
}

#[microservice]
#[derive(Default)]
struct PanickingThread {}

#[microservice]
impl PanickingThread {
    #[thread(name = "cruncher")]
    fn crunch(&self) {
        panic!("out of numbers");
    }
}

#[tokio::test]
async fn a_panicking_thread_stops_the_service_and_names_it() {
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        quiet(PanickingThread::default()).try_serve(),
    )
    .await
    .unwrap();
    let error = outcome.expect_err("the service fails");
    assert_eq!(
        tamarco::error_chain(&error),
        "task `cruncher` failed: panicked: out of numbers"
    );
    assert_eq!(ExitStatus::of(&Err(error)).code(), 1);
}

#[microservice]
#[derive(Default)]
struct Workers {
    cooperative_finished: AtomicBool,
    thread_saw_stop: AtomicBool,
    plain_ran: AtomicBool,
}

#[microservice]
impl Workers {
    #[task]
    async fn cooperative(&self, cx: TaskContext) {
        cx.stopping().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.cooperative_finished.store(true, Ordering::SeqCst);
    }

    #[task]
    async fn plain(&self) {
        self.plain_ran.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }

    #[thread]
    fn watcher(&self, stop: ShutdownHandle) {
        while !stop.wait_timeout(Duration::from_millis(5)) {}
        self.thread_saw_stop.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn threads_see_the_stop_and_cooperative_tasks_finish() {
    let running = quiet(Workers::default()).start().await.unwrap();
    let workers = Arc::clone(running.service());
    let plain_running = async {
        while !workers.plain_ran.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), plain_running)
        .await
        .expect("the plain task runs");
    tokio::time::timeout(Duration::from_secs(10), running.stop())
        .await
        .expect("stop is bounded")
        .unwrap();
    assert!(
        workers.thread_saw_stop.load(Ordering::SeqCst),
        "the thread saw the stop signal before the join"
    );
    assert!(
        workers.cooperative_finished.load(Ordering::SeqCst),
        "a cooperative task may finish its work"
    );
}

#[microservice]
#[derive(Default)]
struct DeafThread {}

#[microservice]
impl DeafThread {
    #[thread]
    fn deaf(&self) {
        std::thread::sleep(Duration::from_secs(30));
    }
}

#[tokio::test]
async fn a_thread_that_ignores_the_stop_is_left_behind_after_the_join_timeout() {
    let runtime = quiet(DeafThread::default());
    runtime
        .settings()
        .set_internal("system.shutdown.thread_join_timeout_seconds", 0.2)
        .unwrap();
    let running = runtime.start().await.unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(5), running.stop()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "the stop does not wait for the deaf thread: {stopped:?}"
    );
}

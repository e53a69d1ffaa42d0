//! Spawns a service's tasks, timers and threads, reports their failures, and stops them.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinHandle;

use super::board::TaskBoard;
use super::{TaskContext, TaskKind, TaskSpec};
use crate::BoxError;
use crate::error::error_chain;
use crate::metrics::Counter;
use crate::registry::{Candidate, Registry, singleton};
use crate::settings::Settings;
use crate::shutdown::{ShutdownHandle, StopReason};

/// The running tasks of one service.
pub(crate) struct Supervisor {
    running: Vec<Running>,
}

struct Running {
    name: &'static str,
    join: JoinHandle<()>,
    on_stop: OnStop,
}

enum OnStop {
    /// Cancelled at once.
    Abort,
    /// Awaited: it watches the stop itself (bounded by the grace period).
    Await,
    /// An OS thread: awaited for at most the join timeout, then left behind.
    Join,
}

impl Supervisor {
    /// Spawns every task of `specs` on the current tokio runtime.
    pub(crate) fn spawn<S: Send + Sync + 'static>(
        service: &Arc<S>,
        specs: Vec<TaskSpec<S>>,
        shutdown: &ShutdownHandle,
        settings: &Settings,
        board: &TaskBoard,
        registry: &Registry,
    ) -> Supervisor {
        let running = specs
            .into_iter()
            .map(|spec| {
                let name = spec.name;
                let cx = TaskContext::new(name, shutdown.clone(), settings.clone());
                let service = Arc::clone(service);
                let is_timer = matches!(spec.kind, TaskKind::Timer { .. });
                let leader = spec.singleton.then(|| registry.candidate(name));
                let (join, on_stop) = match spec.kind {
                    TaskKind::Async { run, cooperative } => {
                        let task = move || {
                            let (service, cx) = (Arc::clone(&service), cx.clone());
                            async move {
                                let shutdown = cx.shutdown().clone();
                                let outcome =
                                    AssertUnwindSafe(run(service, cx)).catch_unwind().await;
                                report(name, flatten(outcome), &shutdown);
                            }
                        };
                        (
                            spawn_led(name, leader, shutdown, task),
                            if cooperative {
                                OnStop::Await
                            } else {
                                OnStop::Abort
                            },
                        )
                    }
                    TaskKind::Timer {
                        run,
                        interval,
                        one_shot,
                        autostart,
                    } => {
                        let timer = move || {
                            let (service, cx) = (Arc::clone(&service), cx.clone());
                            run_timer(service, cx, run, interval, one_shot, autostart)
                        };
                        (spawn_led(name, leader, shutdown, timer), OnStop::Abort)
                    }
                    TaskKind::Thread { run } => (
                        spawn_thread(name, service, run, shutdown.clone()),
                        OnStop::Join,
                    ),
                };
                let kind = match (&on_stop, is_timer) {
                    (OnStop::Join, _) => "thread",
                    (_, true) => "timer",
                    _ => "task",
                };
                board.add(name, kind, join.abort_handle());
                tracing::debug!(task = name, "task started");
                Running {
                    name,
                    join,
                    on_stop,
                }
            })
            .collect();
        Supervisor { running }
    }

    /// Stops every task, all at once: cancels plain tasks and timers, and waits for
    /// cooperative tasks and threads, each for at most `limit` and never past `until` (the end
    /// of the grace period). A cooperative task still running then is cancelled; a thread is
    /// left behind. The stop must already have been requested.
    pub(crate) async fn stop(self, limit: Duration, until: tokio::time::Instant) {
        let until = until.min(tokio::time::Instant::now() + limit);
        let waits = self.running.into_iter().map(|task| async move {
            if matches!(task.on_stop, OnStop::Abort) {
                task.join.abort();
            }
            let abort = task.join.abort_handle();
            if tokio::time::timeout_at(until, task.join).await.is_err() {
                let what = match task.on_stop {
                    OnStop::Join => "thread did not stop in time; leaving it behind",
                    OnStop::Await => "task did not stop in time; cancelling it",
                    OnStop::Abort => "task did not yield to its cancellation; leaving it behind",
                };
                tracing::warn!(task = task.name, limit = ?limit, "{what}");
                abort.abort();
                return;
            }
            tracing::debug!(task = task.name, "task stopped");
        });
        futures_util::future::join_all(waits).await;
    }
}

/// Spawns `work`: at once, or under the singleton's election when it has a `leader` candidacy.
fn spawn_led<F, W>(
    name: &'static str,
    leader: Option<Candidate>,
    shutdown: &ShutdownHandle,
    work: F,
) -> JoinHandle<()>
where
    F: FnMut() -> W + Send + 'static,
    W: std::future::Future<Output = ()> + Send + 'static,
{
    let mut work = work;
    match leader {
        Some(candidate) => tokio::spawn(singleton::run(name, candidate, shutdown.clone(), work)),
        None => tokio::spawn(work()),
    }
}

async fn run_timer<S: Send + Sync + 'static>(
    service: Arc<S>,
    cx: TaskContext,
    run: super::AsyncTaskFn<S>,
    interval: Duration,
    one_shot: bool,
    autostart: bool,
) {
    let name = cx.name();
    let mut failures: u64 = 0;
    // `one_shot` waits one interval whatever `autostart` says, as the Python original did:
    // a migrated one-shot timer keeps its timing.
    if !autostart || one_shot {
        tokio::time::sleep(interval).await;
    }
    loop {
        let tick = AssertUnwindSafe(run(Arc::clone(&service), cx.clone()))
            .catch_unwind()
            .await;
        Counter::new("task_runs_total", &[("task", name)]).increment();
        if let Err(error) = flatten(tick) {
            Counter::new("task_failures_total", &[("task", name)]).increment();
            failures += 1;
            tracing::error!(
                task = name,
                failures,
                "timer tick failed: {}",
                error_chain(&*error)
            );
        }
        if one_shot {
            break;
        }
        tokio::time::sleep(interval).await;
    }
}

fn spawn_thread<S: Send + Sync + 'static>(
    name: &'static str,
    service: Arc<S>,
    run: super::ThreadFn<S>,
    shutdown: ShutdownHandle,
) -> JoinHandle<()> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let thread_shutdown = shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| run(service, thread_shutdown)));
            let _ = done_tx.send(flatten(outcome));
        });
    tokio::spawn(async move {
        let outcome = match spawned {
            Ok(_) => done_rx
                .await
                .unwrap_or_else(|_| Err("thread ended without a result".into())),
            Err(e) => Err(Box::new(e) as BoxError),
        };
        report(name, outcome, &shutdown);
    })
}

fn flatten(outcome: Result<Result<(), BoxError>, Box<dyn Any + Send>>) -> Result<(), BoxError> {
    outcome.unwrap_or_else(|panic| Err(crate::panic::into_error(panic)))
}

/// Logs how a task ended; a failure begins a graceful stop of the service.
fn report(name: &'static str, outcome: Result<(), BoxError>, shutdown: &ShutdownHandle) {
    Counter::new("task_runs_total", &[("task", name)]).increment();
    if outcome.is_err() {
        Counter::new("task_failures_total", &[("task", name)]).increment();
    }
    match outcome {
        Ok(()) => tracing::debug!(task = name, "task finished"),
        Err(error) => {
            let message = error_chain(&*error);
            tracing::error!(task = name, "task failed, stopping the service: {message}");
            shutdown.request(StopReason::TaskFailed {
                task: name.to_owned(),
                message,
            });
        }
    }
}

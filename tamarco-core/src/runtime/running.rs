//! [`Running`]: a started service; its start stages, and its graceful stop within the budget.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{HookFn, Hooks, Stage, TaskSet, resources, until_forced};
use crate::BoxError;
use crate::builtin;
use crate::error::{Error, Phase};
use crate::lifecycle::{
    DECLARATIONS_BOUND_AFTER, Driver, START_PHASES, STOP_PHASES, StopBudget, StopLimits,
    TASKS_START_AFTER,
};
use crate::logging;
use crate::registry::Registry;
use crate::resource::{BoxFuture, ResourceStatus};
use crate::service_context::ServiceContext;
use crate::settings::{Settings, sources};
use crate::shutdown::{ShutdownHandle, StopReason};
use crate::task::supervisor::Supervisor;
use crate::task::{TaskContext, TaskKind};

/// The longest a graceful stop waits to remove the instance's registration.
const LEAVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// A started service: wait for it to stop, or stop it, and read its resources' status.
pub struct Running<S> {
    service: Arc<S>,
    settings: Settings,
    shutdown: ShutdownHandle,
    driver: Arc<Driver>,
    hooks: Hooks<S>,
    supervisor: Option<Supervisor>,
    report_server: Arc<builtin::ReportServer>,
    /// Settings sources with background work (the etcd watch), stopped with the service.
    _sources: sources::Sources,
    forced: Option<oneshot::Receiver<()>>,
    limits: StopLimits,
    registry: Registry,
}

impl<S> std::fmt::Debug for Running<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

impl<S: TaskSet> Running<S> {
    #[allow(clippy::too_many_arguments)] // one call site, in the runtime
    pub(super) fn new(
        service: Arc<S>,
        settings: Settings,
        shutdown: ShutdownHandle,
        driver: Arc<Driver>,
        report_server: Arc<builtin::ReportServer>,
        sources: sources::Sources,
        forced: Option<oneshot::Receiver<()>>,
        limits: StopLimits,
        registry: Registry,
    ) -> Self {
        Running {
            service,
            settings,
            shutdown,
            driver,
            hooks: S::hooks(),
            supervisor: None,
            report_server,
            _sources: sources,
            forced,
            limits,
            registry,
        }
    }

    /// The service's registry: its instance id, discovery, the singletons' leaders.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The service.
    pub fn service(&self) -> &Arc<S> {
        &self.service
    }

    /// The service's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The handle that stops the service gracefully.
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// The address the default report server listens on, unless it is disabled or replaced.
    pub fn report_addr(&self) -> Option<std::net::SocketAddr> {
        self.report_server.local_addr()
    }

    /// The status of every resource, in start order.
    pub fn statuses(&self) -> Vec<(String, ResourceStatus)> {
        resources::statuses(&self.driver)
    }

    /// Runs the body of the `#[task_timer]` (or `#[task]`) called `name` once, now, beside
    /// its schedule, and returns what it returned: a test's way to run a timer on demand.
    /// `None` when the service has no such task (or it is a `#[thread]`).
    pub async fn run_task_once(&self, name: &str) -> Option<Result<(), BoxError>> {
        let run = S::tasks().into_iter().find_map(|task| match task.kind {
            TaskKind::Timer { run, .. } | TaskKind::Async { run, .. } if task.name == name => {
                Some((task.name, run))
            }
            _ => None,
        })?;
        let (name, run) = run;
        let cx = TaskContext::new(name, self.shutdown.clone(), self.settings.clone());
        Some(run(Arc::clone(&self.service), cx).await)
    }

    /// Waits until a stop is requested, then stops the service gracefully.
    pub async fn wait(mut self) -> Result<(), Error> {
        let stopping = self.shutdown.clone();
        until_forced(&mut self.forced, stopping.stopping()).await?;
        self.stop().await
    }

    /// Stops the service gracefully now.
    pub async fn stop(mut self) -> Result<(), Error> {
        self.shutdown.request(StopReason::Requested);
        let reason = self.shutdown.reason();
        tracing::info!(service = S::NAME, ?reason, "stopping");
        let budget = self.limits.budget();
        let mut forced = self.forced.take();
        let first = until_forced(&mut forced, self.stop_within(&budget)).await?;
        logging::flush_on_stop().await;
        #[cfg(feature = "tracing-otel")]
        crate::otel::flush(std::time::Duration::from_secs(5)).await;
        match reason {
            Some(StopReason::TaskFailed { task, message }) => {
                return Err(Error::Task {
                    task,
                    source: message.into(),
                });
            }
            Some(StopReason::RestartRequested { resource }) => {
                return Err(Error::RestartRequested { resource });
            }
            _ => {}
        }
        first.map_or(Ok(()), Err)
    }

    /// Runs the start phases, with the service's hooks around theirs; the tasks start after
    /// [`TASKS_START_AFTER`]. A second signal aborts the start.
    pub(super) async fn start_stages(&mut self) -> Result<(), Error> {
        let mut forced = self.forced.take();
        let outcome = until_forced(&mut forced, async {
            for phase in START_PHASES {
                self.stage(
                    phase,
                    |driver| async move { driver.start_phase(phase).await },
                )
                .await?;
                if phase == DECLARATIONS_BOUND_AFTER {
                    self.bind_declarations()?;
                }
                if phase == TASKS_START_AFTER {
                    self.supervisor = Some(Supervisor::spawn(
                        &self.service,
                        S::tasks(),
                        &self.shutdown,
                        &self.settings,
                        self.report_server.tasks(),
                        &self.registry,
                    ));
                }
            }
            Ok(())
        })
        .await;
        self.forced = forced;
        outcome.and_then(|outcome| outcome)
    }

    /// Binds the service's context fields, outputs, routes and inputs to the running service.
    fn bind_declarations(&self) -> Result<(), Error> {
        let cx = ServiceContext::bound(S::NAME, self.settings.clone(), self.shutdown.clone())
            .with_registry(self.registry.clone());
        self.service
            .bind(&cx)
            .and_then(|()| S::wire(&self.service))
            .map_err(|source| Error::Hook {
                phase: Phase::Bind,
                source,
            })
    }

    /// After a failed start: stops the tasks and the resources that had started.
    pub(super) async fn stop_after_failed_start(&mut self) {
        self.shutdown.request(StopReason::Requested);
        let budget = self.limits.budget();
        let mut forced = self.forced.take();
        let driver = Arc::clone(&self.driver);
        let supervisor = self.supervisor.take();
        let limit = self.limits.task;
        let _ = until_forced(&mut forced, async {
            if let Some(supervisor) = supervisor {
                supervisor.stop(limit, budget.grace_end()).await;
            }
            driver.stop_all(&budget).await
        })
        .await;
    }

    /// Tasks, then the stop phases with the service's hooks, within `budget`. Returns the
    /// first failure; [`Error::GracePeriodExpired`] if the grace period ran out.
    async fn stop_within(&mut self, budget: &StopBudget) -> Option<Error> {
        let mut first: Option<Error> = None;
        // First thing: leave the registry, so that callers stop picking this instance while
        // it still serves (its servers drain later, in their `stop`).
        let leave = budget
            .grace_end()
            .min(tokio::time::Instant::now() + LEAVE_WITHIN);
        if tokio::time::timeout_at(leave, self.registry.leave())
            .await
            .is_err()
        {
            tracing::warn!("leaving the registry took too long; its record expires with the lease");
        }
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.stop(self.limits.task, budget.grace_end()).await;
        }
        for phase in STOP_PHASES {
            let budget_for_driver = *budget;
            let stage = self.stage(phase, move |driver| async move {
                driver.stop_phase(phase, &budget_for_driver).await
            });
            match tokio::time::timeout_at(budget.grace_end(), stage).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    first.get_or_insert(error);
                }
                Err(_) => {
                    // The hook (or a resource) outlived the grace period: what the stage did
                    // not reach still gets its final stop.
                    tracing::error!("the `{phase}` stage did not finish within the grace period");
                    first.get_or_insert(Error::GracePeriodExpired(self.limits.grace));
                    if let Err(error) = self.driver.stop_phase(phase, budget).await {
                        tracing::debug!("final {phase}: {error}");
                    }
                }
            }
        }
        if budget.expired() {
            // Whatever failed within it, the grace period running out is what the exit says.
            first = Some(Error::GracePeriodExpired(self.limits.grace));
        }
        first
    }

    /// Runs the driver's `work` for `phase`, wrapped in the service's hook for it, if any.
    async fn stage<F, W>(&self, phase: Phase, work: W) -> Result<(), Error>
    where
        W: FnOnce(Arc<Driver>) -> F,
        F: std::future::Future<Output = Result<(), Error>> + Send + 'static,
    {
        let work: BoxFuture<'static, Result<(), Error>> = Box::pin(work(Arc::clone(&self.driver)));
        let service = Arc::clone(&self.service);
        let hook = hook_for(&self.hooks, phase).map(move |hook| {
            move |stage: Stage| -> BoxFuture<'static, Result<(), BoxError>> { hook(service, stage) }
        });
        Stage::around(phase, hook, work, &self.shutdown).await
    }
}

/// The service's hook for `phase`, if it has one (the start and stop phases it may wrap).
fn hook_for<S>(hooks: &Hooks<S>, phase: Phase) -> Option<HookFn<S>> {
    match phase {
        Phase::PreStart => hooks.pre_start,
        Phase::Start => hooks.start,
        Phase::PostStart => hooks.post_start,
        Phase::Stop => hooks.stop,
        Phase::PostStop => hooks.post_stop,
        _ => None,
    }
}

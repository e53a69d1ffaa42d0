//! [`Runtime`]: runs a [`Microservice`] through its whole life.
//!
//! Start: bind and configure every resource, then the `pre_start` and `start` stages over all
//! resources in dependency order; then the tasks, timers and threads; then `post_start`. Each
//! stage is wrapped in the service's hook of the same name, if it has one. Running: until a
//! signal or [`ShutdownHandle::stop_gracefully`]. Stop: tasks first, then the `stop` and
//! `post_stop` stages in reverse start order, all within the grace period
//! (`system.shutdown.grace_period_seconds`, 30 by default).

mod driver;
mod exit;
mod signals;
mod stage;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::builtin;
use crate::error::{Error, Phase, error_chain};
use crate::microservice::{HookFn, Microservice, TaskSet};
use crate::resource::{ErasedResource, ReportRoutes, Resource, ResourceContext, ResourceStatus};
use crate::settings::{Settings, SettingsError, sources};
use crate::shutdown::{ShutdownHandle, StopReason};
use crate::task::supervisor::Supervisor;
use crate::{BoxError, logging};

pub(crate) use driver::{Driver, Entry};
pub use exit::ExitStatus;
pub use stage::{Stage, StageFailed};

/// Runs a service: settings, resources, tasks, signals and the graceful stop.
#[derive(Debug)]
pub struct Runtime<S> {
    service: S,
    settings: Settings,
    handle_signals: bool,
    build: builtin::BuildInfo,
}

impl<S: TaskSet> Runtime<S> {
    /// A runtime for `service` with the framework's default settings.
    pub fn new(service: S) -> Self {
        Runtime {
            service,
            settings: Settings::new(S::NAME),
            handle_signals: true,
            build: builtin::BuildInfo::default(),
        }
    }

    /// What the service's build recorded about itself, shown by `GET /info`: pass
    /// `tamarco::build_info!()` (see [`BuildInfo`](builtin::BuildInfo) for the git commit).
    pub fn build_info(mut self, build: builtin::BuildInfo) -> Self {
        self.build = build;
        self
    }

    /// The service's settings, to change before it runs (in-code settings).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Merges in-code settings (a serde value whose root is a map); see
    /// [`Settings::update_internal`].
    pub fn with_settings(self, value: impl serde::Serialize) -> Result<Self, SettingsError> {
        self.settings.update_internal(value)?;
        Ok(self)
    }

    /// Whether SIGTERM and SIGINT stop the service (true by default). Tests that run several
    /// services in one process turn it off and stop them through a [`ShutdownHandle`].
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.handle_signals = handle;
        self
    }

    /// Runs the service on a new multi-threaded tokio runtime until it stops.
    pub fn run(self) -> ExitStatus {
        logging::provisional();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                // Logging is not set up yet: it needs the settings, loaded inside the runtime.
                eprintln!("error: {}", error_chain(&Error::Runtime(error)));
                return ExitStatus::Failure;
            }
        };
        let status = runtime.block_on(self.serve());
        logging::flush(Duration::from_secs(2));
        // Threads that outlived their join timeout, or tasks abandoned by a forced exit, must
        // not hold the process.
        runtime.shutdown_background();
        status
    }

    /// Runs the service on the current tokio runtime; logs any failure and returns the status.
    pub async fn serve(self) -> ExitStatus {
        let outcome = self.try_serve().await;
        if let Err(error) = &outcome {
            tracing::error!("{}", error_chain(error));
        }
        let status = ExitStatus::of(&outcome);
        tracing::info!(code = status.code(), "service exited");
        status
    }

    /// Runs the service on the current tokio runtime; the error says what failed, naming the
    /// resource, task or setting and the phase.
    pub async fn try_serve(self) -> Result<(), Error> {
        self.start().await?.wait().await
    }

    /// Starts the service and returns once it is running, with a handle to stop it and read
    /// its resources' status. On a failed start, what had started is stopped again.
    pub async fn start(self) -> Result<Running<S>, Error> {
        let Runtime {
            service,
            settings,
            handle_signals,
            build,
        } = self;
        logging::provisional();
        let loaded = sources::load_all(&settings).await;
        logging::init(&settings);
        let sources = loaded?;
        logging::check_sink_features(&settings)?;
        let service = Arc::new(service);
        let shutdown = ShutdownHandle::new();
        let forced = match handle_signals {
            true => Some(signals::listen(shutdown.clone()).map_err(Error::Runtime)?),
            false => None,
        };
        let grace = seconds(&settings, "system.shutdown.grace_period_seconds")?;
        let thread_timeout = seconds(&settings, "system.shutdown.thread_join_timeout_seconds")?;
        let report_server = Arc::new(builtin::ReportServer::new(build));
        let driver = Arc::new(Driver::new(entries(
            &service,
            &settings,
            &shutdown,
            &report_server,
        )));
        let hooks = S::hooks();
        let mut running = Running {
            service,
            settings,
            shutdown,
            driver,
            hooks_stop: hooks.stop,
            hooks_post_stop: hooks.post_stop,
            supervisor: None,
            report_server,
            _sources: sources,
            forced,
            grace,
            thread_timeout,
        };
        tracing::info!(service = S::NAME, "starting");
        let mut forced = running.forced.take();
        let started = running.start_stages(hooks.pre_start, hooks.start, hooks.post_start);
        let outcome = until_forced(&mut forced, started)
            .await
            .and_then(|outcome| outcome);
        running.forced = forced;
        match outcome {
            Ok(()) => {
                tracing::info!(service = S::NAME, "started");
                Ok(running)
            }
            Err(Error::Forced) => Err(Error::Forced),
            Err(error) => {
                tracing::error!(
                    "start failed, stopping what had started: {}",
                    error_chain(&error)
                );
                running.shutdown.request(StopReason::Requested);
                let supervisor = running.supervisor.take();
                let cleanup = async {
                    if let Some(supervisor) = supervisor {
                        supervisor.stop(running.thread_timeout).await;
                    }
                    running.driver.stop_started().await;
                };
                let _ = within_grace(&mut running.forced, running.grace, cleanup).await;
                Err(error)
            }
        }
    }
}

/// A started service: wait for it to stop, or stop it, and read its resources' status.
pub struct Running<S> {
    service: Arc<S>,
    settings: Settings,
    shutdown: ShutdownHandle,
    driver: Arc<Driver>,
    hooks_stop: Option<HookFn<S>>,
    hooks_post_stop: Option<HookFn<S>>,
    supervisor: Option<Supervisor>,
    report_server: Arc<builtin::ReportServer>,
    /// Settings sources with background work (the etcd watch), stopped with the service.
    _sources: sources::Sources,
    forced: Option<oneshot::Receiver<()>>,
    grace: Duration,
    thread_timeout: Duration,
}

impl<S> std::fmt::Debug for Running<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

impl<S: TaskSet> Running<S> {
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
        self.driver
            .entries()
            .iter()
            .map(|entry| (entry.name().to_owned(), entry.status()))
            .collect()
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
        let supervisor = self.supervisor.take();
        let mut forced = self.forced.take();
        let this = &self;
        let work = async {
            let mut first: Option<Error> = None;
            if let Some(supervisor) = supervisor {
                supervisor.stop(this.thread_timeout).await;
            }
            for (phase, hook) in [
                (Phase::Stop, this.hooks_stop),
                (Phase::PostStop, this.hooks_post_stop),
            ] {
                let driver = Arc::clone(&this.driver);
                let work = Box::pin(async move { driver.stop_phase(phase).await });
                if let Err(error) =
                    Stage::around(phase, this.hook(hook), work, &this.shutdown).await
                {
                    first.get_or_insert(error);
                }
            }
            first
        };
        let first = within_grace(&mut forced, self.grace, work).await?;
        logging::flush_on_stop().await;
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

    async fn start_stages(
        &mut self,
        pre_start: Option<HookFn<S>>,
        start: Option<HookFn<S>>,
        post_start: Option<HookFn<S>>,
    ) -> Result<(), Error> {
        for phase in [Phase::Bind, Phase::Configure] {
            self.driver.start_phase(phase).await?;
        }
        for (phase, hook) in [(Phase::PreStart, pre_start), (Phase::Start, start)] {
            let driver = Arc::clone(&self.driver);
            let work = Box::pin(async move { driver.start_phase(phase).await });
            Stage::around(phase, self.hook(hook), work, &self.shutdown).await?;
        }
        self.supervisor = Some(Supervisor::spawn(
            &self.service,
            S::tasks(),
            &self.shutdown,
            &self.settings,
            self.report_server.tasks(),
        ));
        let driver = Arc::clone(&self.driver);
        let work = Box::pin(async move { driver.start_phase(Phase::PostStart).await });
        Stage::around(
            Phase::PostStart,
            self.hook(post_start),
            work,
            &self.shutdown,
        )
        .await
    }

    /// The hook bound to this service, ready for [`Stage::around`].
    fn hook(
        &self,
        hook: Option<HookFn<S>>,
    ) -> Option<
        impl FnOnce(Stage) -> crate::resource::BoxFuture<'static, Result<(), BoxError>> + use<S>,
    > {
        let service = Arc::clone(&self.service);
        hook.map(move |hook| move |stage| hook(service, stage))
    }
}

/// Runs `work` within the grace period, unless a second signal forces the exit first.
async fn within_grace<T>(
    forced: &mut Option<oneshot::Receiver<()>>,
    grace: Duration,
    work: impl Future<Output = T>,
) -> Result<T, Error> {
    until_forced(forced, tokio::time::timeout(grace, work))
        .await?
        .map_err(|_| Error::GracePeriodExpired(grace))
}

/// Runs `work` unless a second signal forces the exit first.
async fn until_forced<T>(
    forced: &mut Option<oneshot::Receiver<()>>,
    work: impl Future<Output = T>,
) -> Result<T, Error> {
    match forced {
        Some(forced) => tokio::select! {
            value = work => Ok(value),
            _ = forced => Err(Error::Forced),
        },
        None => Ok(work.await),
    }
}

/// Reads a non-negative number of seconds; the error names the key.
fn seconds(settings: &Settings, key: &str) -> Result<Duration, Error> {
    let value: f64 = settings.get(key)?;
    Duration::try_from_secs_f64(value).map_err(|_| {
        SettingsError::Invalid {
            key: key.to_owned(),
            message: format!("{value} is not a duration in seconds"),
        }
        .into()
    })
}

/// The default resources and the service's own, in start order.
fn entries<S: Microservice>(
    service: &Arc<S>,
    settings: &Settings,
    shutdown: &ShutdownHandle,
    report_server: &Arc<builtin::ReportServer>,
) -> Vec<Entry> {
    let routes = ReportRoutes::default();
    let slots = service.resources();
    let board = builtin::StatusBoard::default();
    let mut declared: Vec<(
        &'static str,
        &'static [&'static str],
        Arc<dyn ErasedResource>,
    )> = Vec::new();
    for (name, resource) in builtin::defaults(&board, report_server) {
        if !slots
            .iter()
            .any(|slot| slot.name == name && slot.replaces_default)
        {
            declared.push((name, &[], resource));
        }
    }
    for (index, slot) in slots.iter().enumerate() {
        let resource = Arc::new(ServiceResource {
            service: Arc::clone(service),
            index,
        });
        declared.push((slot.name, slot.depends_on, resource));
    }
    let entries: Vec<Entry> = dependency_order(&declared)
        .into_iter()
        .map(|index| {
            let (name, _, resource) = &declared[index];
            let cx = ResourceContext::new(
                (*name).to_owned(),
                S::NAME.to_owned(),
                settings.resource_view(name),
                shutdown.clone(),
                routes.clone(),
            );
            Entry::new(Arc::clone(resource), cx)
        })
        .collect();
    board.fill(&entries);
    entries
}

/// Indices of `declared` such that every resource comes after its dependencies, otherwise in
/// declaration order. The macro rejects cycles and unknown names, so both are ignored here.
pub(crate) fn dependency_order<T>(declared: &[(&str, &[&str], T)]) -> Vec<usize> {
    fn visit<T>(
        index: usize,
        declared: &[(&str, &[&str], T)],
        seen: &mut [bool],
        order: &mut Vec<usize>,
    ) {
        if std::mem::replace(&mut seen[index], true) {
            return;
        }
        for dependency in declared[index].1 {
            if let Some(dep) = declared.iter().position(|(name, ..)| name == dependency) {
                visit(dep, declared, seen, order);
            }
        }
        order.push(index);
    }
    let mut seen = vec![false; declared.len()];
    let mut order = Vec::with_capacity(declared.len());
    for index in 0..declared.len() {
        visit(index, declared, &mut seen, &mut order);
    }
    order
}

/// A `#[resource]` field of the service, reached through the shared service.
struct ServiceResource<S> {
    service: Arc<S>,
    index: usize,
}

impl<S: Microservice> ServiceResource<S> {
    fn get(&self) -> &dyn ErasedResource {
        self.service.resources()[self.index].resource
    }
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl<S: Microservice> Resource for ServiceResource<S> {
    fn bind(&self, cx: &ResourceContext) {
        self.get().bind_dyn(cx);
    }
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().configure_boxed(cx).await
    }
    async fn pre_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().pre_start_boxed(cx).await
    }
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().start_boxed(cx).await
    }
    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().post_start_boxed(cx).await
    }
    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().stop_boxed(cx).await
    }
    async fn post_stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.get().post_stop_boxed(cx).await
    }
    fn status(&self) -> Option<ResourceStatus> {
        self.get().status_dyn()
    }
    fn status_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        self.get().status_fields_dyn()
    }
}

#[cfg(test)]
mod tests {
    use super::dependency_order;

    #[test]
    fn dependencies_come_first_otherwise_declaration_order() {
        let declared: Vec<(&str, &[&str], ())> = vec![
            ("web", &["cache", "db"], ()),
            ("cache", &["db"], ()),
            ("db", &[], ()),
            ("log", &[], ()),
        ];
        assert_eq!(dependency_order(&declared), vec![2, 1, 0, 3]);
    }
}

//! [`Runtime`]: runs a service (a `Microservice`) through its whole life, in the order the
//! [`lifecycle`](crate::lifecycle) module writes down.
//!
//! Start: the start phases over every resource in dependency order; the tasks, timers and
//! threads start after `start`. The phases `pre_start` to `post_stop` are wrapped in the
//! service's hook of the same name, if it has one. Running: until a signal or
//! [`ShutdownHandle::stop_gracefully`]. Stop: tasks first (each for at most
//! `system.shutdown.thread_join_timeout_seconds`), then `stop` and `post_stop` in reverse
//! start order, sharing the grace period (`system.shutdown.grace_period_seconds`, 30 by
//! default); resources not reached when it ends still get their `stop`, all at once, within
//! `system.shutdown.final_stop_seconds` (2 by default). A panic in a hook or a resource fails
//! that step like an error would. Stop signals are heard from the start: one that comes while
//! the settings load (an etcd that does not answer) ends the service at once with exit code 0.

mod exit;
mod resources;
mod running;
mod service;
mod signals;
mod stage;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::builtin;
use crate::error::{Error, error_chain};
use crate::lifecycle::StopLimits;
use crate::logging;
use crate::registry::Registry;
use crate::settings::{Settings, SettingsError, sources};
use crate::shutdown::ShutdownHandle;

pub use exit::ExitStatus;
pub use running::Running;
pub use service::{EmbeddedSettings, HookFn, Hooks, Microservice, ResourceSlot, TaskSet};
pub use stage::{Stage, StageFailed};

/// Runs a service: settings, resources, tasks, signals and the graceful stop.
#[derive(Debug)]
pub struct Runtime<S> {
    service: S,
    settings: Settings,
    handle_signals: bool,
    build: builtin::BuildInfo,
    #[cfg(feature = "etcd")]
    etcd: Option<crate::settings::etcd::EtcdConfig>,
    /// Why the service's embedded settings could not be merged; the start fails with it.
    embedded: Result<(), SettingsError>,
}

impl<S: TaskSet> Runtime<S> {
    /// A runtime for `service` with the framework's default settings and the settings file
    /// embedded by `#[microservice(settings = "...")]`, if any.
    pub fn new(service: S) -> Self {
        let settings = Settings::new(S::NAME);
        let embedded = match S::SETTINGS {
            Some(embedded) => settings.update_internal_yaml_file(embedded.file, embedded.yaml),
            None => Ok(()),
        };
        Runtime {
            service,
            settings,
            handle_signals: true,
            build: builtin::BuildInfo::default(),
            #[cfg(feature = "etcd")]
            etcd: None,
            embedded,
        }
    }

    /// Takes settings from etcd configured here rather than by `TAMARCO_ETCD_*` variables
    /// (tests that run several services in one process); the registry uses it too.
    #[cfg(feature = "etcd")]
    pub fn with_etcd(mut self, config: crate::settings::etcd::EtcdConfig) -> Self {
        self.etcd = Some(config);
        self
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
        match &outcome {
            Err(Error::StoppedBeforeStart) => tracing::info!("{}", Error::StoppedBeforeStart),
            Err(error) => tracing::error!("{}", error_chain(error)),
            Ok(()) => {}
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
            #[cfg(feature = "etcd")]
            etcd,
            embedded,
        } = self;
        logging::provisional();
        embedded?;
        // Signals are heard from the first moment: loading the settings may wait on a remote
        // source (an etcd that accepts connections and never answers).
        let shutdown = ShutdownHandle::new();
        let forced = match handle_signals {
            true => Some(signals::listen(shutdown.clone()).map_err(Error::Runtime)?),
            false => None,
        };
        #[cfg(feature = "etcd")]
        let loading = sources::load_all_with(&settings, etcd);
        #[cfg(not(feature = "etcd"))]
        let loading = sources::load_all(&settings);
        let loaded = tokio::select! {
            loaded = loading => Some(loaded),
            () = shutdown.stopping() => None,
        };
        logging::init(&settings);
        let Some(loaded) = loaded else {
            return Err(Error::StoppedBeforeStart);
        };
        let sources = loaded?;
        logging::check_sink_features(&settings)?;
        #[cfg(feature = "tracing-otel")]
        crate::otel::init(&settings, build.crate_version)?;
        #[cfg(not(feature = "tracing-otel"))]
        if settings.get_or("system.tracing.enabled", false)? {
            return Err(crate::SettingsError::Invalid {
                key: "system.tracing.enabled".into(),
                message: "tracing is not in this build; turn on the cargo feature `tracing-otel` \
                          of `tamarco`"
                    .into(),
            }
            .into());
        }
        let service = Arc::new(service);
        let limits = StopLimits::read(&settings)?;
        let registry = Registry::from_sources(&settings, &sources)?;
        let report_server = Arc::new(builtin::ReportServer::new(build));
        let driver = resources::driver(&service, &settings, &shutdown, &report_server, &registry);
        let mut running = Running::new(
            service,
            settings,
            shutdown,
            driver,
            report_server,
            sources,
            forced,
            limits,
            registry,
        );
        tracing::info!(service = S::NAME, "starting");
        match running.start_stages().await {
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
                running.stop_after_failed_start().await;
                Err(error)
            }
        }
    }
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

#[cfg(test)]
mod tests;

//! Test support (feature `testing`, for `[dev-dependencies]`): start a service in-process on
//! free loopback ports with settings overrides, wait until it is ready, call its HTTP routes
//! and report server, and stop it. See the chapter in the crate docs:
#![doc = include_str!("../docs/testing.md")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tamarco_core::backoff::Backoff;
use tamarco_core::builtin::ReportServer;
use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::{ResourceStatus, Running, TaskSet};
use tracing::instrument::WithSubscriber;

use logs::CaptureRuntime;

mod broker;
mod builder;
mod client;
mod error;
mod logs;

pub use broker::Broker;
pub use builder::TestServiceBuilder;
pub use client::{Client, Response};
pub use error::TestError;
pub use logs::{LogRecord, Logs};
pub use tamarco_core::messaging::DeadReason;
pub use tamarco_core::messaging::memory::{Envelope, Outcome};

/// How long a start, the readiness wait and a stop may take, unless
/// [`TestServiceBuilder::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A service running in this process for a test. Dropping it without [`stop`](Self::stop)
/// asks it to stop, but nothing waits for that: call `stop` to see errors.
pub struct TestService<S: TaskSet> {
    running: Option<Running<S>>,
    timeout: Duration,
    brokers: Vec<(String, MemoryBroker)>,
    logs: Option<Logs>,
    /// The runtime the service runs on when it captures its logs (dropped after `running`).
    own: Option<CaptureRuntime>,
}

impl<S: TaskSet> std::fmt::Debug for TestService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestService")
            .field("service", &S::NAME)
            .field("report_addr", &self.report_addr())
            .finish_non_exhaustive()
    }
}

impl<S: TaskSet> TestService<S> {
    /// Starts `service` with the framework's defaults, its report server on a free loopback
    /// port, and waits until it is ready.
    pub async fn start(service: S) -> Result<Self, TestError> {
        TestService::builder(service).start().await
    }

    /// A builder, to override settings before the start.
    pub fn builder(service: S) -> TestServiceBuilder<S> {
        TestServiceBuilder::new(service)
    }

    fn running(&self) -> &Running<S> {
        self.running.as_ref().expect("running until stopped")
    }

    /// The service.
    pub fn service(&self) -> &Arc<S> {
        self.running().service()
    }

    /// The running service's handle (settings, shutdown, statuses).
    pub fn handle(&self) -> &Running<S> {
        self.running()
    }

    /// Where the report server listens, if it is enabled.
    pub fn report_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref()?.report_addr()
    }

    /// A client of the report server (`/status`, `/health/ready`, `/metrics`...).
    pub fn report(&self) -> Result<Client, TestError> {
        let addr = self.report_addr().ok_or_else(|| TestError::NotListening {
            service: S::NAME,
            resource: ReportServer::NAME.to_owned(),
        })?;
        Ok(Client::new(S::NAME, ReportServer::NAME, addr, self.timeout))
    }

    /// A client of one of the service's HTTP servers, given its address
    /// (`service.service().http.local_addr()`) and its resource name for errors.
    pub fn client(&self, resource: &str, addr: Option<SocketAddr>) -> Result<Client, TestError> {
        let addr = addr.ok_or_else(|| TestError::NotListening {
            service: S::NAME,
            resource: resource.to_owned(),
        })?;
        Ok(Client::new(S::NAME, resource, addr, self.timeout))
    }

    /// Runs the body of the timer (`#[task_timer]`, or a `#[task]`) called `name` once, now,
    /// whatever its interval, and returns once it returned; its error is the timer's.
    pub async fn run_timer(&self, name: &str) -> Result<(), TestError> {
        let once = self.running().run_task_once(name);
        let ran = match &self.own {
            Some(own) => {
                let once = once.with_subscriber(own.dispatch().clone());
                tokio::time::timeout(self.timeout, once).await
            }
            None => tokio::time::timeout(self.timeout, once).await,
        };
        let failed = |message: String| TestError::Task {
            service: S::NAME,
            task: name.to_owned(),
            message,
        };
        match ran {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(error))) => Err(failed(tamarco_core::error_chain(&*error))),
            Ok(None) => Err(failed(
                "the service has no timer or task of that name".to_owned(),
            )),
            Err(_) => Err(failed(format!("still running after {:?}", self.timeout))),
        }
    }

    /// The in-memory broker that replaced the messaging resource `resource`
    /// ([`TestServiceBuilder::in_memory`]).
    pub fn broker(&self, resource: &str) -> Result<Broker, TestError> {
        self.brokers
            .iter()
            .find(|(name, _)| name == resource)
            .map(|(_, broker)| Broker::new(S::NAME, resource, broker.clone(), self.timeout))
            .ok_or_else(|| TestError::Broker {
                service: S::NAME,
                resource: resource.to_owned(),
                message: "not on an in-memory broker: call `.in_memory(\"".to_owned()
                    + resource
                    + "\")` on the builder",
            })
    }

    /// The service's captured log records
    /// ([`TestServiceBuilder::capture_logs`](TestServiceBuilder::capture_logs)).
    pub fn logs(&self) -> Result<&Logs, TestError> {
        self.logs.as_ref().ok_or_else(|| TestError::Logs {
            service: S::NAME,
            message: "not captured: call `.capture_logs()` on the builder".to_owned(),
        })
    }

    /// Waits until something asks the service to stop (a task, a restart policy, its
    /// shutdown handle), then stops it gracefully, as `run()` would; not bounded by the time
    /// limit, since the stop may be meant to come late.
    pub async fn wait(mut self) -> Result<(), TestError> {
        let running = self.running.take().expect("running until stopped");
        let waited = match &self.own {
            Some(own) => own.run(running.wait()).await,
            None => running.wait().await,
        };
        waited.map_err(|source| TestError::Stop {
            service: S::NAME,
            source,
        })
    }

    /// Stops the service gracefully, within the time limit.
    pub async fn stop(mut self) -> Result<(), TestError> {
        let running = self.running.take().expect("running until stopped");
        let stopping = async {
            match &self.own {
                Some(own) => own.run(running.stop()).await,
                None => running.stop().await,
            }
        };
        match tokio::time::timeout(self.timeout, stopping).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(TestError::Stop {
                service: S::NAME,
                source,
            }),
            Err(_) => Err(TestError::Timeout {
                service: S::NAME,
                what: "stop",
                after: self.timeout,
            }),
        }
    }
}

impl<S: TaskSet> Drop for TestService<S> {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.shutdown().stop_gracefully();
        }
    }
}

impl<S: TaskSet> TestService<S> {
    /// Waits, within the time limit, until the service is ready.
    async fn wait_ready(&self) -> Result<(), TestError> {
        let started = Instant::now();
        // Polled quickly at first (most services are ready within milliseconds), then less.
        let mut pause = Backoff::new(Duration::from_millis(2), Duration::from_millis(100));
        loop {
            let ready = match self.report() {
                Ok(report) => report
                    .get("/health/ready")
                    .await
                    .is_ok_and(|r| r.status() == 200),
                Err(_) => self
                    .running()
                    .statuses()
                    .iter()
                    .all(|(_, status)| *status == ResourceStatus::Started),
            };
            if ready {
                return Ok(());
            }
            if started.elapsed() >= self.timeout {
                let statuses = self.running().statuses();
                return Err(TestError::NotReady {
                    service: S::NAME,
                    after: self.timeout,
                    waiting_for: statuses
                        .into_iter()
                        .filter(|(_, status)| *status != ResourceStatus::Started)
                        .map(|(name, status)| format!("{name} ({status:?})"))
                        .collect(),
                });
            }
            tokio::time::sleep(pause.next_delay()).await;
        }
    }
}

//! Test support (feature `testing`, for `[dev-dependencies]`): start a service in-process on
//! free loopback ports with settings overrides, wait until it is ready, call its HTTP routes
//! and report server, and stop it. See the chapter in the crate docs:
#![doc = include_str!("../docs/testing.md")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tamarco_core::builtin::ReportServer;
use tamarco_core::messaging::memory::{MEMORY_BROKERS_KEY, MemoryBroker};
use tamarco_core::{ResourceStatus, Running, TaskSet};

mod broker;
mod client;
mod error;

pub use broker::Broker;
pub use client::{Client, Response};
pub use error::TestError;
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
}

impl<S: TaskSet> std::fmt::Debug for TestService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestService")
            .field("service", &S::NAME)
            .field("report_addr", &self.report_addr())
            .finish_non_exhaustive()
    }
}

/// How to start a [`TestService`]: settings overrides (a later call wins over an earlier one),
/// free ports, the time limit. The report server always gets a free loopback port.
pub struct TestServiceBuilder<S: TaskSet> {
    service: S,
    #[cfg(feature = "etcd")]
    etcd: Option<tamarco_core::settings::etcd::EtcdConfig>,
    overrides: Vec<Value>,
    timeout: Duration,
    error: Option<TestError>,
    brokers: Vec<(String, MemoryBroker)>,
}

impl<S: TaskSet> std::fmt::Debug for TestServiceBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Overrides may carry passwords: only their count is shown.
        f.debug_struct("TestServiceBuilder")
            .field("service", &S::NAME)
            .field("overrides", &self.overrides.len())
            .field("timeout", &self.timeout)
            .finish()
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
        TestServiceBuilder {
            service,
            #[cfg(feature = "etcd")]
            etcd: None,
            overrides: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            error: None,
            brokers: Vec::new(),
        }
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
        let ran = tokio::time::timeout(self.timeout, self.running().run_task_once(name)).await;
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

    /// Waits until something asks the service to stop (a task, a restart policy, its
    /// shutdown handle), then stops it gracefully, as `run()` would; not bounded by the time
    /// limit, since the stop may be meant to come late.
    pub async fn wait(mut self) -> Result<(), TestError> {
        let running = self.running.take().expect("running until stopped");
        running.wait().await.map_err(|source| TestError::Stop {
            service: S::NAME,
            source,
        })
    }

    /// Stops the service gracefully, within the time limit.
    pub async fn stop(mut self) -> Result<(), TestError> {
        let running = self.running.take().expect("running until stopped");
        match tokio::time::timeout(self.timeout, running.stop()).await {
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

impl<S: TaskSet> TestServiceBuilder<S> {
    /// Sets one dotted key (`system.resources.postgres.host`), over anything set before.
    pub fn setting(mut self, key: &str, value: impl serde::Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => self.overrides.push(dotted(key, value)),
            Err(error) => self.fail(format!("setting `{key}`: {error}")),
        }
        self
    }

    /// Merges a tree of settings (a map at the root), over anything set before.
    pub fn settings(mut self, tree: impl serde::Serialize) -> Self {
        match serde_json::to_value(tree) {
            Ok(value @ Value::Object(_)) => self.overrides.push(value),
            Ok(_) => self.fail("settings: the root must be a map".to_owned()),
            Err(error) => self.fail(format!("settings: {error}")),
        }
        self
    }

    /// Merges a YAML document of settings (the service's own `settings.yml`, say).
    pub fn settings_yaml(self, yaml: &str) -> Self {
        match serde_yaml_ng::from_str::<Value>(yaml) {
            Ok(tree) => self.settings(tree),
            Err(error) => {
                let mut this = self;
                this.fail(format!("settings YAML: {error}"));
                this
            }
        }
    }

    /// Puts the resource `name` (an HTTP or WebSocket server) on a free loopback port.
    pub fn free_port(self, name: &str) -> Self {
        self.setting(
            &format!("system.resources.{name}"),
            serde_json::json!({"host": "127.0.0.1", "port": 0}),
        )
    }

    /// Runs the messaging resource `name` (AMQP, or any resource that calls
    /// [`MemoryBroker::for_resource`] in its start) on an in-memory broker instead of its
    /// broker: its `#[input]` handlers are fed with [`TestService::broker`]'s `send`, and what
    /// its `#[output]`s send is captured there. Nothing connects to a broker.
    pub fn in_memory(self, name: &str) -> Self {
        let broker = MemoryBroker::new();
        let id = broker.register();
        let mut this = self.setting(&format!("{MEMORY_BROKERS_KEY}.{name}"), id);
        this.brokers.push((name.to_owned(), broker));
        this
    }

    /// Takes settings from this etcd, and registers there when the registry is enabled
    /// (configuration in code: `TAMARCO_ETCD_*` variables are process-wide).
    #[cfg(feature = "etcd")]
    pub fn etcd(mut self, config: tamarco_core::settings::etcd::EtcdConfig) -> Self {
        self.etcd = Some(config);
        self
    }

    /// Turns the report server off (then readiness is every resource STARTED).
    pub fn without_report_server(self) -> Self {
        self.setting(
            &format!("system.resources.{}.enabled", ReportServer::NAME),
            false,
        )
    }

    /// How long the start, the readiness wait and the stop may each take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn fail(&mut self, message: String) {
        self.error.get_or_insert(TestError::Settings {
            service: S::NAME,
            message,
        });
    }

    /// Starts the service (signals are left alone) and waits until `/health/ready` answers
    /// 200, or, without a report server, until every resource is STARTED.
    pub async fn start(self) -> Result<TestService<S>, TestError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let runtime = self.service.runtime().handle_signals(false);
        #[cfg(feature = "etcd")]
        let runtime = match self.etcd {
            Some(config) => runtime.with_etcd(config),
            None => runtime,
        };
        // The report server goes on a free loopback port whatever the service's own settings
        // say (its settings.yml names the production port): applied last, so it wins.
        let report = dotted(
            &format!("system.resources.{}", ReportServer::NAME),
            serde_json::json!({"host": "127.0.0.1", "port": 0}),
        );
        for tree in self.overrides.into_iter().chain([report]) {
            runtime
                .settings()
                .update_internal(tree)
                .map_err(|error| TestError::Settings {
                    service: S::NAME,
                    message: error.to_string(),
                })?;
        }
        let running = match tokio::time::timeout(self.timeout, runtime.start()).await {
            Ok(Ok(running)) => running,
            Ok(Err(source)) => {
                return Err(TestError::Start {
                    service: S::NAME,
                    source,
                });
            }
            Err(_) => {
                return Err(TestError::Timeout {
                    service: S::NAME,
                    what: "start",
                    after: self.timeout,
                });
            }
        };
        let service = TestService {
            running: Some(running),
            timeout: self.timeout,
            brokers: self.brokers,
        };
        if let Some((name, _)) = service.brokers.iter().find(|(_, b)| !b.is_claimed()) {
            return Err(TestError::Broker {
                service: S::NAME,
                resource: name.clone(),
                message: "the resource does not run on an in-memory broker (it is not a \
                          messaging resource, or it does not call MemoryBroker::for_resource)"
                    .to_owned(),
            });
        }
        service.wait_ready().await?;
        Ok(service)
    }
}

impl<S: TaskSet> TestService<S> {
    /// Waits, within the time limit, until the service is ready.
    async fn wait_ready(&self) -> Result<(), TestError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
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
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// `{"a": {"b": value}}` for the dotted key `a.b`.
fn dotted(key: &str, value: Value) -> Value {
    key.rsplit('.').fold(value, |inner, segment| {
        let mut map = Map::new();
        map.insert(segment.to_owned(), inner);
        Value::Object(map)
    })
}

#[cfg(test)]
mod tests {
    use super::dotted;

    #[test]
    fn a_dotted_key_becomes_nested_maps() {
        let tree = dotted("system.resources.db.port", serde_json::json!(0));
        assert_eq!(
            tree,
            serde_json::json!({"system": {"resources": {"db": {"port": 0}}}})
        );
    }
}

//! [`TestServiceBuilder`]: what a test sets before the start (settings overrides, free ports,
//! in-memory brokers, log capture, the time limit), and the start itself.

use std::time::Duration;

use serde_json::{Map, Value};
use tamarco_core::TaskSet;
use tamarco_core::builtin::ReportServer;
use tamarco_core::messaging::memory::{MEMORY_BROKERS_KEY, MemoryBroker};

use super::logs::{CaptureRuntime, Logs};
use super::{DEFAULT_TIMEOUT, TestError, TestService};

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
    capture_logs: bool,
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

impl<S: TaskSet> TestServiceBuilder<S> {
    pub(super) fn new(service: S) -> Self {
        TestServiceBuilder {
            service,
            #[cfg(feature = "etcd")]
            etcd: None,
            overrides: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            error: None,
            brokers: Vec::new(),
            capture_logs: false,
        }
    }

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

    /// Runs the messaging resource `name` (AMQP, Kafka, Redis, or any resource that calls
    /// [`MemoryBroker::for_resource`] in its start) on an in-memory broker instead of its
    /// broker: its `#[input]` handlers are fed with [`TestService::broker`]'s `send`, what its
    /// `#[output]`s send is captured there, and AMQP requests are answered there
    /// ([`Broker::respond`](super::Broker::respond)). Nothing connects to a broker (Redis's
    /// key-value commands fail as before a start).
    pub fn in_memory(self, name: &str) -> Self {
        let broker = MemoryBroker::new();
        let id = broker.register();
        let mut this = self.setting(&format!("{MEMORY_BROKERS_KEY}.{name}"), id);
        this.brokers.push((name.to_owned(), broker));
        this
    }

    /// Captures the service's log records ([`TestService::logs`]), apart from those of every
    /// other service in the process: the service runs on a tokio runtime of its own, whose
    /// threads record what its tasks log (DEBUG and above) instead of writing it to the
    /// service's log sinks. What the test's own task logs (calling the service's methods
    /// directly) is not among them.
    pub fn capture_logs(mut self) -> Self {
        self.capture_logs = true;
        self
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
        let logs = self.capture_logs.then(|| Logs::new(S::NAME, self.timeout));
        let own = match &logs {
            Some(logs) => Some(
                CaptureRuntime::new(logs).map_err(|error| TestError::Settings {
                    service: S::NAME,
                    message: format!("the runtime that captures its logs: {error}"),
                })?,
            ),
            None => None,
        };
        let starting = async {
            match &own {
                Some(own) => own.run(runtime.start()).await,
                None => runtime.start().await,
            }
        };
        let running = match tokio::time::timeout(self.timeout, starting).await {
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
            logs,
            own,
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

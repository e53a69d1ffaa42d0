//! The resource's life: settings, the producer proven by a broker that answers, the inputs on
//! the message engine (or a test's in-memory broker), a bounded stop, and what `/status`
//! shows.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::producer::Producer as _;
use serde_json::{Map, Value, json};

use tamarco_core::messaging::InputOptions;
use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use super::client::{ProducerCallbacks, Throttle};
use super::settings::Config;
use super::state::{CLOSE_TIMEOUT, Producer, off_runtime};
use super::transport::KafkaTransport;
use super::{Error, Kafka, memory};

impl Kafka {
    /// Stops the inputs (the engine finishes what is in flight, within the stop timeout),
    /// then commits and closes whatever consumer is still open, and flushes the producer:
    /// each step bounded.
    async fn teardown(&self) {
        let state = &self.state;
        let stop_timeout = state
            .config()
            .map_or(Duration::from_secs(15), |c| c.stop_timeout);
        if !self.engine.stop(stop_timeout).await {
            tracing::warn!(
                resource = state.name(),
                "kafka: handlers still running after {stop_timeout:?}; their records stay \
                 uncommitted and come again"
            );
        }
        // What the engine's stop could not close in time gets a short final commit.
        let transport = self.transport.lock().expect("transport lock").take();
        if let Some(transport) = transport {
            transport.close_all().await;
        }
        state.close_producer().await;
    }
}

impl Resource for Kafka {
    fn bind(&self, cx: &ResourceContext) {
        *self.state.cx.lock().expect("context lock") = Some(cx.clone());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        tracing::debug!(resource = cx.name(), ?config, "kafka: configured");
        *self.state.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let state = &self.state;
        state.health.reset();
        let config = state
            .config()
            .ok_or("the kafka resource starts after `configure`")?;
        let defaults = InputOptions {
            concurrency: Some(1),
            prefetch: Some(32),
            retries: Some(config.retries),
            retry_backoff: Some(config.retry_backoff.into()),
            dead_letter: Some(config.dead_letter_topic.clone()),
            max_deliveries: None,
        };
        if let Some(broker) = MemoryBroker::for_resource(cx)? {
            memory::claim(state, cx, &broker);
            let (meta, timeout) = (memory::meta_of, config.connect_timeout);
            let engine = &self.engine;
            return engine
                .start_in_memory(&broker, meta, cx, defaults, timeout)
                .await;
        }
        let callbacks = ProducerCallbacks {
            resource: cx.name().to_owned(),
            health: Arc::clone(&state.health),
            throttle: Throttle::default(),
        };
        let producer =
            Producer::from_config_and_context(&config.producer(), callbacks).map_err(|e| {
                Error::Client {
                    resource: cx.name().to_owned(),
                    what: "producer".into(),
                    source: e.into(),
                }
            })?;
        // `start` connects: some broker must answer a metadata request.
        let probe = producer.clone();
        let timeout = config.connect_timeout;
        let answered = tokio::task::spawn_blocking(move || {
            probe
                .client()
                .fetch_metadata(None, timeout)
                .map(|metadata| metadata.brokers().len())
        })
        .await?;
        match answered {
            Ok(brokers) => tracing::info!(
                resource = cx.name(),
                servers = ?config.bootstrap_servers,
                brokers,
                "kafka: connected"
            ),
            Err(error) => {
                off_runtime(CLOSE_TIMEOUT, move || drop(producer)).await;
                return Err(format!(
                    "no broker of {:?} answered within {timeout:?}: {error}",
                    config.bootstrap_servers
                )
                .into());
            }
        }
        *state.producer.write().expect("producer lock") = Some(producer);
        let transport = Arc::new(KafkaTransport::new(Arc::clone(state)));
        *self.transport.lock().expect("transport lock") = Some(Arc::clone(&transport));
        let started = self
            .engine
            .start(transport, cx, defaults, config.connect_timeout)
            .await;
        if let Err(error) = started {
            // The runtime does not stop a resource whose start failed: close what opened.
            self.teardown().await;
            return Err(format!("kafka: {}", error_chain(&*error)).into());
        }
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        self.teardown().await;
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        let state = &self.state;
        if state.health.fatal().is_some() {
            return Some(ResourceStatus::Failed);
        }
        if let Some(status) = self.engine.status() {
            return Some(status);
        }
        let lifecycle = state
            .cx
            .lock()
            .expect("context lock")
            .as_ref()
            .map(|cx| cx.status().get());
        if lifecycle == Some(ResourceStatus::Started) && !state.all_joined() {
            return Some(ResourceStatus::Connecting);
        }
        None
    }

    fn status_fields(&self) -> Map<String, Value> {
        let state = &self.state;
        let mut fields = Map::new();
        if let Some(config) = state.config() {
            fields.insert("bootstrap_servers".into(), json!(config.bootstrap_servers));
        }
        let mut inputs = self.engine.status_fields();
        state.describe_inputs(&mut inputs);
        fields.insert("inputs".into(), inputs);
        let outputs: Vec<Value> = state
            .outputs()
            .into_iter()
            .map(|(topic, codec)| json!({"topic": topic, "codec": codec}))
            .collect();
        fields.insert("outputs".into(), Value::Array(outputs));
        if let Some(fatal) = state.health.fatal() {
            fields.insert("error".into(), json!(fatal));
        }
        fields
    }
}

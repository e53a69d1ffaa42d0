//! The resource's life: settings, connecting, the two message engines, stop within the
//! grace period, and what `/status` shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{Map, Value, json};

use tamarco_core::messaging::InputOptions;
use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use super::pubsub::PubSubTransport;
use super::settings::Config;
use super::state::Meters;
use super::streams::{StreamOptions, StreamTransport};
use super::{Redis, memory};

impl Resource for Redis {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        (self.shared.retry_limit).store(config.retries, Ordering::Relaxed);
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or("the resource was not configured")?;
        let name = cx.name();
        let _ = shared.meters.set(Meters::new(name));
        let defaults = InputOptions {
            retries: Some(3),
            ..InputOptions::default()
        };
        // An entry redelivered this often (claimed from consumers that died on it) is
        // dead-lettered rather than crash the next one.
        let stream_defaults = InputOptions {
            max_deliveries: Some(5),
            ..defaults.clone()
        };
        if let Some(broker) = MemoryBroker::for_resource(cx)? {
            let defaults = [defaults, stream_defaults];
            return memory::start(shared, broker, cx, defaults, config.connection_timeout).await;
        }
        let fail = |problem: String| -> BoxError {
            format!(
                "redis resource `{name}` ({}): cannot connect to {}: {problem}",
                config.describe(),
                config.address()
            )
            .into()
        };
        let client = redis::Client::open(config.info.clone()).map_err(|e| fail(e.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let connecting = ConnectionManager::new_with_config(client, manager_config);
        let manager = match tokio::time::timeout(config.connection_timeout, connecting).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(error)) => return Err(fail(error_chain(&error))),
            Err(_) => {
                return Err(fail(format!(
                    "no answer within {:?}",
                    config.connection_timeout
                )));
            }
        };
        *shared.manager.write().expect("manager lock") = Some(manager.clone());
        let transport = PubSubTransport {
            client: redis::Client::open(config.info.clone()).map_err(|e| fail(e.to_string()))?,
            manager: manager.clone(),
        };
        let engine_failed = |e: BoxError| format!("redis resource `{name}`: {}", error_chain(&*e));
        shared
            .engine
            .start(Arc::new(transport), cx, defaults, config.connection_timeout)
            .await
            .map_err(engine_failed)?;
        let streams = &config.streams;
        let transport = StreamTransport {
            client: redis::Client::open(config.info.clone()).map_err(|e| fail(e.to_string()))?,
            manager,
            options: StreamOptions {
                group: Arc::from(streams.group.as_deref().unwrap_or(cx.service())),
                start: streams.start.group_id(),
                consumer: Arc::from(
                    streams
                        .consumer
                        .clone()
                        .unwrap_or_else(|| default_consumer(cx.service(), name)),
                ),
                claim_idle: streams.claim_idle.get(),
                block: streams.block.get(),
                field: Arc::from(streams.field.as_str()),
                connection_timeout: config.connection_timeout,
                response_timeout: config.response_timeout,
            },
        };
        shared
            .streams
            .start(
                Arc::new(transport),
                cx,
                stream_defaults,
                config.connection_timeout,
            )
            .await
            .map_err(engine_failed)?;
        tracing::info!(
            resource = name,
            server = config.describe(),
            "redis: connected"
        );
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let stop_timeout = shared
            .config()
            .map_or(Duration::from_secs(10), |c| c.stop_timeout);
        // Within the resource's own limit and the share of the grace period the runtime gives.
        let limit = tokio::time::Instant::now() + stop_timeout;
        let deadline = cx.stop_deadline().map_or(limit, |d| d.min(limit));
        // Inputs first: their handlers may still send commands.
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::join!(shared.engine.stop(left()), shared.streams.stop(left()));
        // New commands fail from here; those in flight may finish.
        let manager = shared.manager.write().expect("manager lock").take();
        if tokio::time::timeout_at(deadline, shared.in_flight.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                resource = cx.name(),
                "redis: commands still running at the stop deadline; closing"
            );
        }
        drop(manager);
        tracing::info!(resource = cx.name(), "redis: closed");
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        self.shared.engine.status().or(self.shared.streams.status())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let shared = &self.shared;
        let mut fields = Map::new();
        let mut inputs = shared.engine.status_fields();
        if let (Value::Array(inputs), Value::Array(streams)) =
            (&mut inputs, shared.streams.status_fields())
        {
            inputs.extend(streams);
        }
        fields.insert("inputs".into(), inputs);
        if let Some(config) = shared.config() {
            fields.insert("server".into(), json!(config.describe()));
        }
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        fields.insert("commands".into(), json!(load(&shared.commands)));
        fields.insert("in_flight".into(), json!(shared.in_flight.get()));
        fields.insert("errors".into(), json!(load(&shared.errors)));
        fields.insert("retries".into(), json!(load(&shared.retries)));
        fields.insert(
            "last_error".into(),
            json!(*shared.last_error.lock().expect("error lock")),
        );
        fields
    }
}

/// `<service>-<resource>-<host>-<pid>`: unique among live instances, so that one's pending
/// entries are never mistaken for another's.
fn default_consumer(service: &str, resource: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{service}-{resource}-{host}-{}", std::process::id())
}

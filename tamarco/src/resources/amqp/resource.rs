//! The resource's lifecycle: configure reads the settings, start connects and starts the
//! inputs, stop lets the handlers in flight finish and closes the connection.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value};

use tamarco_core::messaging::InputOptions;
use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use super::settings::Config;
use super::supervisor;
use super::transport::AmqpTransport;
use super::{Amqp, AmqpState, LinkState};

impl Resource for Amqp {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
        let _ = self.shared.service.set(cx.service().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or("the resource was not configured")?;
        shared.halt.send_replace(false);
        shared.closing.send_replace(false);
        let settings = &config.settings;
        let defaults = InputOptions {
            prefetch: Some(settings.prefetch),
            concurrency: Some(settings.concurrency),
            retries: Some(settings.retries),
            retry_backoff: Some(settings.retry_backoff),
            dead_letter: Some(settings.dead_letter_queue.clone()),
            max_deliveries: None,
        };
        if let Some(broker) = MemoryBroker::for_resource(cx)? {
            return shared.start_in_memory(cx, &config, broker, defaults).await;
        }
        let link = supervisor::connect_first(shared, &config).await?;
        shared.link.send_replace(LinkState::Up(Arc::clone(&link)));
        tracing::info!(
            resource = cx.name(),
            broker = config.describe(),
            "amqp: connected"
        );
        let supervisor = tokio::spawn(supervisor::supervise(
            Arc::clone(shared),
            Arc::clone(&config),
            link,
        ));
        let shutdown = cx.shutdown().clone();
        let halting = Arc::clone(shared);
        let halter = tokio::spawn(async move {
            shutdown.stopping().await;
            halting.halt.send_replace(true);
        });
        shared
            .tasks
            .lock()
            .expect("tasks lock")
            .extend([supervisor, halter]);
        shared.running.store(true, Ordering::Release);
        // Start the inputs declared so far, and wait until each consumes: once started, a
        // subscription is bound and sees every message published from then on.
        let transport = Arc::new(AmqpTransport::new(Arc::clone(shared)));
        *shared.transport.lock().expect("transport lock") = Some(Arc::clone(&transport));
        let started = shared
            .engine
            .start(transport, cx, defaults, config.connection_timeout)
            .await;
        if let Err(error) = started {
            // The runtime does not stop a resource whose start failed: close what opened.
            self.shared.close(cx.name()).await;
            return Err(format!("amqp: {}", error_chain(&*error)).into());
        }
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.shared.close(cx.name()).await;
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        let shared = &self.shared;
        let reconnecting = shared.running.load(Ordering::Acquire)
            && !*shared.halt.borrow()
            && matches!(&*shared.link.borrow(), LinkState::Down);
        shared
            .engine
            .status()
            .or(reconnecting.then_some(ResourceStatus::Connecting))
    }

    fn status_fields(&self) -> Map<String, Value> {
        self.shared.status_fields()
    }
}

impl AmqpState {
    /// The graceful stop: cancel the consumers, let the handlers in flight finish (bounded),
    /// close the input channels and the connection.
    async fn close(&self, name: &str) {
        let shared = self;
        let config = shared.config();
        let stop_timeout = config
            .as_ref()
            .map_or(Duration::from_secs(10), |c| c.stop_timeout);
        // 1. Stop intake, 2. let the handlers in flight finish (bounded).
        shared.halt.send_replace(true);
        if !shared.engine.stop(stop_timeout).await {
            tracing::warn!(
                resource = name,
                "amqp: handlers still running after {stop_timeout:?}"
            );
        }
        shared.running.store(false, Ordering::Release);
        shared.memory.lock().expect("memory lock").take();
        // 3. Close the channels, then the connection.
        shared.closing.send_replace(true);
        let state = shared.link.send_replace(LinkState::Closed);
        let channels: Vec<_> = match shared.transport.lock().expect("transport lock").take() {
            Some(transport) => {
                std::mem::take(&mut *transport.channels.lock().expect("channels lock"))
            }
            None => Vec::new(),
        };
        let closing = channels
            .iter()
            .map(|channel| channel.close(200, "OK".into()));
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            futures_util::future::join_all(closing),
        )
        .await;
        if let LinkState::Up(link) = state {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                link.connection.close(200, "OK".into()),
            )
            .await;
            link.mark_dead();
        }
        for task in shared.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
        tracing::info!(resource = name, "amqp: connection closed");
    }
}

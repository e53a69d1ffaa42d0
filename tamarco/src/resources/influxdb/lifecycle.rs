//! The resource's life: the client and the database made at start, the writer's flush loop
//! and the meters reporter as tasks, stop flushing within the grace period, and `/status`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};

use tamarco_core::{BoxError, Resource, ResourceContext, error_chain};

use super::InfluxDb;
use super::link::{Link, Meters};
use super::point::{self, Point};
use super::settings::Config;
use super::state::InfluxState;

impl Resource for InfluxDb {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
        let _ = self.shared.service.set(cx.service().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        self.shared
            .writer
            .configure(config.batch_size, config.queue_size);
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or("the resource was not configured")?;
        let name = cx.name();
        shared.stopping.send_replace(None);
        let fail = |problem: String| -> BoxError {
            format!("influxdb resource `{name}` ({}): {problem}", config.base).into()
        };
        // Same builder as the HTTP client resource: rustls needs its crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connection_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| fail(format!("cannot build the HTTP client: {e}")))?;
        let link = Arc::new(Link {
            http,
            config: Arc::clone(&config),
            meters: Meters::new(name),
        });
        let ping = link
            .http
            .get(format!("{}/ping", config.base))
            .timeout(config.connection_timeout)
            .send()
            .await;
        match ping {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => return Err(fail(format!("ping answered {}", response.status()))),
            Err(error) => {
                return Err(fail(format!(
                    "cannot reach the server: {}",
                    error_chain(&error.without_url())
                )));
            }
        }
        if config.create_database {
            let create = format!("CREATE DATABASE {}", quote_identifier(&config.database));
            link.query(shared.resource(), reqwest::Method::POST, &create)
                .await
                .map_err(|e| fail(error_chain(&e)))?;
        }
        *shared.link.write().expect("link lock") = Some(Arc::clone(&link));
        let flusher = {
            let shared = Arc::clone(shared);
            let link = Arc::clone(&link);
            let stopping = shared.stopping.clone();
            tokio::spawn(async move {
                let lost = shared
                    .writer
                    .run(
                        link.config.flush_interval,
                        link.config.retry_max_backoff,
                        async move {
                            let mut stopping = stopping.subscribe();
                            let stop = stopping.wait_for(Option::is_some).await;
                            stop.ok()
                                .and_then(|s| *s)
                                .unwrap_or_else(tokio::time::Instant::now)
                        },
                        |body| link.send(body),
                    )
                    .await;
                if lost > 0 {
                    tracing::warn!(
                        resource = shared.resource(),
                        points = lost,
                        "influxdb: points still queued at stop were dropped"
                    );
                }
            })
        };
        let mut tasks = shared.tasks.lock().expect("tasks lock");
        tasks.push(flusher);
        if let Some(interval) = config.metrics_interval {
            tasks.push(tokio::spawn(report_meters(Arc::clone(shared), interval)));
        }
        tracing::info!(
            resource = name,
            server = config.describe(),
            "influxdb: connected"
        );
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        // Within the resource's own limit and the share of the grace period the runtime gives.
        let stop_timeout = shared
            .config()
            .map_or(std::time::Duration::from_secs(10), |c| c.stop_timeout);
        let limit = tokio::time::Instant::now() + stop_timeout;
        shared
            .stopping
            .send_replace(Some(cx.stop_deadline().map_or(limit, |d| d.min(limit))));
        let tasks: Vec<_> = shared.tasks.lock().expect("tasks lock").drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
        *shared.link.write().expect("link lock") = None;
        tracing::info!(
            resource = cx.name(),
            written = self.written(),
            dropped = self.dropped(),
            "influxdb: stopped"
        );
        Ok(())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let shared = &self.shared;
        let writer = &shared.writer;
        let mut fields = Map::new();
        if let Some(config) = shared.config() {
            fields.insert("server".into(), json!(config.describe()));
        }
        fields.insert(
            "written".into(),
            json!(writer.written.load(Ordering::Relaxed)),
        );
        fields.insert("queued".into(), json!(writer.queued()));
        fields.insert(
            "dropped".into(),
            json!(writer.dropped.load(Ordering::Relaxed)),
        );
        fields.insert(
            "failed_requests".into(),
            json!(writer.failed_requests.load(Ordering::Relaxed)),
        );
        fields.insert(
            "last_error".into(),
            json!(*writer.last_error.lock().expect("error lock")),
        );
        fields
    }
}

/// Writes the meters as points every `interval`, until the stop.
async fn report_meters(shared: Arc<InfluxState>, interval: std::time::Duration) {
    let mut stopping = shared.stopping.subscribe();
    let service = shared.service.get().cloned().unwrap_or_default();
    let prefix = format!("{service}_");
    loop {
        tokio::select! {
            _ = stopping.wait_for(Option::is_some) => return,
            () = tokio::time::sleep(interval) => {}
        }
        let now = point::now_nanos();
        for sample in tamarco_core::metrics::samples(&service) {
            let name = sample.name.strip_prefix(&prefix).unwrap_or(&sample.name);
            let mut point = Point::new(name).tag("service", service.as_str());
            for (key, value) in sample.labels {
                point = point.tag(key, value);
            }
            let point = point.field("value", sample.value).at(now);
            if shared.writer.push(&point) {
                continue;
            }
            // The queue is full: the next snapshot will carry the same meters.
            break;
        }
    }
}

/// `"name"` with inner quotes escaped, for InfluxQL.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

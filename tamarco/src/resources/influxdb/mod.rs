//! InfluxDB 1.x: a batching point writer, queries into serde rows, and a reporter of tamarco's
//! own meters (cargo feature `influxdb`).
//!
//! [`InfluxDb`] is a resource: it pings the server and creates its database at start, sends
//! points in batches while the service runs, and sends what is left when it stops.
//!
//! ```rust,no_run
//! use tamarco::influxdb::{InfluxDb, Point};
//! use tamarco::prelude::*;
//!
//! #[microservice]
//! struct Sensor {
//!     #[resource]
//!     influxdb: InfluxDb,
//! }
//!
//! #[microservice]
//! impl Sensor {
//!     #[task_timer(interval = "1s")]
//!     async fn sample(&self) -> Result<(), BoxError> {
//!         // Never waits for the network: the point joins the next batch.
//!         self.influxdb.write(Point::new("temperature").tag("room", "lab").field("celsius", 21.5).now())?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> ExitStatus {
//!     Sensor { influxdb: InfluxDb::new() }.run()
//! }
//! ```
//!
//! # Writing
//!
//! [`write`](InfluxDb::write) appends a point to a buffer and returns at once. A batch goes out
//! when it holds `batch_size` points, or `flush_interval` after the last one. While the server
//! is down, batches wait and are sent again, in order, with a backoff of up to
//! `retry_max_backoff`; points waiting are bounded by `queue_size`: a write beyond it is
//! refused ([`Error::QueueFull`]) and counted as dropped. A batch the server refuses for good
//! (HTTP 4xx: a field of the wrong type...) is dropped and counted too. `stop` sends what is
//! queued for up to `stop_timeout`, then counts the rest as dropped. `/status` shows the
//! points written, queued and dropped, failed requests and the last error; so do the
//! metrics `influxdb_points_written_total`, `influxdb_points_dropped_total`,
//! `influxdb_request_duration_seconds` and `influxdb_request_errors_total`.
//!
//! # Queries
//!
//! [`query`](InfluxDb::query) runs InfluxQL and reads each row of every series into a serde
//! type: columns (and the series' tags, with `GROUP BY`) by name, `time` in nanoseconds since
//! the epoch. [`execute`](InfluxDb::execute) runs a statement that returns no rows.
//!
//! # Meters
//!
//! With `metrics_enabled`, every `metrics_interval` the resource writes tamarco's meters (what
//! `/metrics` shows) as points: the measurement is the metric name, the labels are tags, the
//! value is the field `value`.
//!
//! # Settings
//!
//! At `system.resources.<name>`: see [`InfluxDbSettings`]. The password goes in an
//! `Authorization` header, never in a URL, so it shows in no error or log.

mod error;
mod point;
mod settings;
mod writer;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use tamarco_core::{BoxError, Resource, ResourceContext, error_chain};

use settings::Config;
use writer::{Sent, Writer};

pub use error::Error;
pub use point::{FieldValue, Point};
pub use settings::InfluxDbSettings;

/// An InfluxDB 1.x database as a resource. See the [module docs](self).
#[derive(Default)]
pub struct InfluxDb {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InfluxDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfluxDb")
            .field("resource", &self.shared.resource())
            .field("server", &self.shared.config().map(|c| c.describe()))
            .finish_non_exhaustive()
    }
}

impl InfluxDb {
    /// A resource that reads its settings when the service starts.
    pub fn new() -> Self {
        InfluxDb::default()
    }

    /// Queues a point for the next batch; never waits. Fails when the queue is full (the point
    /// is then counted as dropped), when the point has no field, or before the start.
    pub fn write(&self, point: Point) -> Result<(), Error> {
        self.write_ref(&point)
    }

    /// Like [`write`](Self::write), for a point the caller keeps.
    pub fn write_ref(&self, point: &Point) -> Result<(), Error> {
        let shared = &self.shared;
        if !point.is_valid() {
            return Err(Error::InvalidPoint {
                resource: shared.resource().to_owned(),
                measurement: point.measurement().to_owned(),
            });
        }
        let Some(link) = shared.link() else {
            return Err(Error::NotStarted {
                resource: shared.resource().to_owned(),
            });
        };
        if shared.writer.push(point) {
            Ok(())
        } else {
            link.meters.dropped.increment(1);
            Err(Error::QueueFull {
                resource: shared.resource().to_owned(),
                capacity: link.config.queue_size,
            })
        }
    }

    /// Runs an InfluxQL query and reads every row of every series into `T`.
    pub async fn query<T: DeserializeOwned>(&self, query: &str) -> Result<Vec<T>, Error> {
        let link = self.shared.started()?;
        let results = link
            .query(&self.shared, reqwest::Method::GET, query)
            .await?;
        let mut rows = Vec::new();
        for series in results.into_iter().flat_map(|r| r.series) {
            for values in series.values {
                let mut row: Map<String, Value> = series
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                row.extend(series.columns.iter().cloned().zip(values));
                let value = T::deserialize(Value::Object(row)).map_err(|e| Error::Query {
                    resource: self.shared.resource().to_owned(),
                    message: format!("cannot read a row of `{}`: {e}", series.name),
                })?;
                rows.push(value);
            }
        }
        Ok(rows)
    }

    /// Runs an InfluxQL statement that returns no rows (`CREATE`, `DROP`, `DELETE`...).
    pub async fn execute(&self, statement: &str) -> Result<(), Error> {
        let link = self.shared.started()?;
        link.query(&self.shared, reqwest::Method::POST, statement)
            .await
            .map(drop)
    }

    /// Points written to the server since the start.
    pub fn written(&self) -> u64 {
        self.shared.writer.written.load(Ordering::Relaxed)
    }

    /// Points dropped since the start: refused writes, refused batches, and what a stop could
    /// not send.
    pub fn dropped(&self) -> u64 {
        self.shared.writer.dropped.load(Ordering::Relaxed)
    }

    /// Points waiting to be sent.
    pub fn queued(&self) -> usize {
        self.shared.writer.queued()
    }
}

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
            link.query(shared, reqwest::Method::POST, &create)
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
async fn report_meters(shared: Arc<Shared>, interval: std::time::Duration) {
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

/// The started client.
struct Link {
    http: reqwest::Client,
    config: Arc<Config>,
    meters: Meters,
}

#[derive(Deserialize)]
struct QueryResponse {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Map<String, Value>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

impl Link {
    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.config.user, &self.config.password) {
            (Some(user), password) => {
                request.basic_auth(user, password.as_ref().map(|p| p.expose()))
            }
            (None, _) => request,
        }
    }

    fn http_error(&self, shared: &Shared, source: BoxError) -> Error {
        Error::Http {
            resource: shared.resource().to_owned(),
            server: self.config.base.clone(),
            source,
        }
    }

    /// Sends one batch of lines.
    async fn send(&self, body: Bytes) -> Sent {
        let started = Instant::now();
        let points = body.iter().filter(|b| **b == b'\n').count();
        let request = self
            .http
            .post(format!("{}/write", self.config.base))
            .query(&[("db", self.config.database.as_str()), ("precision", "ns")])
            .body(body);
        let outcome = self.authorize(request).send().await;
        self.meters.duration.record(started.elapsed());
        let sent = match outcome {
            Ok(response) if response.status().is_success() => Sent::Delivered,
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let message = format!("write answered {status}: {}", text.trim());
                if status.is_client_error()
                    && status != reqwest::StatusCode::REQUEST_TIMEOUT
                    && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    Sent::Rejected(message)
                } else {
                    Sent::Retry(message)
                }
            }
            Err(error) => Sent::Retry(format!(
                "write failed: {}",
                error_chain(&error.without_url())
            )),
        };
        match &sent {
            Sent::Delivered => self
                .meters
                .written
                .increment(u64::try_from(points).unwrap_or(u64::MAX)),
            Sent::Rejected(_) | Sent::Retry(_) => self.meters.errors.increment(1),
        }
        sent
    }

    /// Runs InfluxQL; errors carry the server's message.
    async fn query(
        &self,
        shared: &Shared,
        method: reqwest::Method,
        query: &str,
    ) -> Result<Vec<StatementResult>, Error> {
        let started = Instant::now();
        let request = self
            .http
            .request(method, format!("{}/query", self.config.base))
            .query(&[
                ("db", self.config.database.as_str()),
                ("q", query),
                ("epoch", "ns"),
            ]);
        let outcome = self.authorize(request).send().await;
        self.meters.duration.record(started.elapsed());
        let response = outcome.map_err(|e| {
            self.meters.errors.increment(1);
            self.http_error(shared, Box::new(e.without_url()))
        })?;
        let status = response.status();
        let body: QueryResponse = response.json().await.map_err(|e| {
            self.meters.errors.increment(1);
            self.http_error(
                shared,
                format!("answered {status}: {}", e.without_url()).into(),
            )
        })?;
        let refused = body
            .error
            .or_else(|| body.results.iter().find_map(|r| r.error.clone()));
        if let Some(message) = refused {
            self.meters.errors.increment(1);
            return Err(Error::Query {
                resource: shared.resource().to_owned(),
                message,
            });
        }
        Ok(body.results)
    }
}

/// The metric handles, labelled with the resource.
struct Meters {
    duration: metrics::Histogram,
    errors: metrics::Counter,
    written: metrics::Counter,
    dropped: metrics::Counter,
}

impl Meters {
    fn new(resource: &str) -> Self {
        let label = [("resource", resource.to_owned())];
        Meters {
            duration: metrics::histogram!("influxdb_request_duration_seconds", &label),
            errors: metrics::counter!("influxdb_request_errors_total", &label),
            written: metrics::counter!("influxdb_points_written_total", &label),
            dropped: metrics::counter!("influxdb_points_dropped_total", &label),
        }
    }
}

/// What the resource, its writer and its tasks share.
#[derive(Default)]
struct Shared {
    name: OnceLock<String>,
    service: OnceLock<String>,
    config: RwLock<Option<Arc<Config>>>,
    link: RwLock<Option<Arc<Link>>>,
    writer: Writer,
    /// The stop's deadline once `stop` began.
    stopping: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn resource(&self) -> &str {
        self.name.get().map_or("influxdb", String::as_str)
    }

    fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    fn link(&self) -> Option<Arc<Link>> {
        if self.stopping.borrow().is_some() {
            return None;
        }
        self.link.read().expect("link lock").clone()
    }

    fn started(&self) -> Result<Arc<Link>, Error> {
        self.link().ok_or_else(|| Error::NotStarted {
            resource: self.resource().to_owned(),
        })
    }
}

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
mod lifecycle;
mod link;
mod point;
mod settings;
mod state;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use state::InfluxState;

pub use error::Error;
pub use point::{FieldValue, Point};
pub use settings::InfluxDbSettings;

/// An InfluxDB 1.x database as a resource. See the [module docs](self).
#[derive(Default)]
pub struct InfluxDb {
    shared: Arc<InfluxState>,
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
            .query(self.shared.resource(), reqwest::Method::GET, query)
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
        link.query(self.shared.resource(), reqwest::Method::POST, statement)
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

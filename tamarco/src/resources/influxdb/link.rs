//! The started client: batches of lines written and InfluxQL run over HTTP, timed and
//! counted.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use tamarco_core::{BoxError, error_chain};

use super::error::Error;
use super::settings::Config;
use super::writer::Sent;

/// The started client.
pub(crate) struct Link {
    pub(crate) http: reqwest::Client,
    pub(crate) config: Arc<Config>,
    pub(crate) meters: Meters,
}

#[derive(Deserialize)]
struct QueryResponse {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct StatementResult {
    #[serde(default)]
    pub(crate) series: Vec<Series>,
    pub(crate) error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Series {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) tags: Map<String, Value>,
    #[serde(default)]
    pub(crate) columns: Vec<String>,
    #[serde(default)]
    pub(crate) values: Vec<Vec<Value>>,
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

    fn http_error(&self, resource: &str, source: BoxError) -> Error {
        Error::Http {
            resource: resource.to_owned(),
            server: self.config.base.clone(),
            source,
        }
    }

    /// Sends one batch of lines.
    pub(crate) async fn send(&self, body: Bytes) -> Sent {
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
    pub(crate) async fn query(
        &self,
        resource: &str,
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
            self.http_error(resource, Box::new(e.without_url()))
        })?;
        let status = response.status();
        let body: QueryResponse = response.json().await.map_err(|e| {
            self.meters.errors.increment(1);
            self.http_error(
                resource,
                format!("answered {status}: {}", e.without_url()).into(),
            )
        })?;
        let refused = body
            .error
            .or_else(|| body.results.iter().find_map(|r| r.error.clone()));
        if let Some(message) = refused {
            self.meters.errors.increment(1);
            return Err(Error::Query {
                resource: resource.to_owned(),
                message,
            });
        }
        Ok(body.results)
    }
}

/// The metric handles, labelled with the resource.
pub(crate) struct Meters {
    pub(crate) duration: metrics::Histogram,
    pub(crate) errors: metrics::Counter,
    pub(crate) written: metrics::Counter,
    pub(crate) dropped: metrics::Counter,
}

impl Meters {
    pub(crate) fn new(resource: &str) -> Self {
        let label = [("resource", resource.to_owned())];
        Meters {
            duration: metrics::histogram!("influxdb_request_duration_seconds", &label),
            errors: metrics::counter!("influxdb_request_errors_total", &label),
            written: metrics::counter!("influxdb_points_written_total", &label),
            dropped: metrics::counter!("influxdb_points_dropped_total", &label),
        }
    }
}

//! The status board: every resource's status, read by `/status`, the health probes, the
//! metrics collector and the restart policies.

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::lifecycle::{Driver, Entry};
use crate::resource::ResourceStatus;
use crate::secret::is_secret_name;

/// Every resource's status, for `/status`; filled once the resources are known.
#[derive(Clone, Default)]
pub(crate) struct StatusBoard(Arc<OnceLock<Arc<Driver>>>);

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusBoard")
    }
}

impl StatusBoard {
    pub(crate) fn fill(&self, driver: Arc<Driver>) {
        let _ = self.0.set(driver);
    }

    /// The resources, in start order (empty until filled).
    pub(crate) fn entries(&self) -> &[Entry] {
        self.0
            .get()
            .map(|driver| driver.entries())
            .unwrap_or_default()
    }

    /// Every resource's name and status, in start order.
    // Read by the metrics collector (feature `prometheus`).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn statuses(&self) -> Vec<(String, ResourceStatus)> {
        self.entries()
            .iter()
            .map(|entry| (entry.name().to_owned(), entry.status()))
            .collect()
    }

    /// The `/status` document and its HTTP code.
    pub(crate) fn report(&self) -> (StatusCode, StatusReport) {
        let mut resources = Vec::with_capacity(self.entries().len());
        let mut code = StatusCode::OK;
        for entry in self.entries() {
            let status = entry.status();
            code = match status {
                ResourceStatus::Stopped | ResourceStatus::Failed => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                ResourceStatus::Started => code,
                _ if code == StatusCode::INTERNAL_SERVER_ERROR => code,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut fields = entry.resource.status_fields_dyn();
            hide_secrets(&mut fields);
            resources.push((entry.name().to_owned(), status, fields));
        }
        (code, StatusReport(resources))
    }
}

/// The `/status` document: the resources in start order, each with its `status` and
/// `status_str` first, then its own fields (which win on a name clash). Serialized in this
/// order by hand: serde_json's map sorts its keys unless its `preserve_order` feature brings
/// indexmap into every service's build.
#[derive(Debug)]
pub(crate) struct StatusReport(Vec<(String, ResourceStatus, Map<String, Value>)>);

impl Serialize for StatusReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, status, fields) in &self.0 {
            map.serialize_entry(
                name,
                &ResourceReport {
                    status: *status,
                    fields,
                },
            )?;
        }
        map.end()
    }
}

struct ResourceReport<'a> {
    status: ResourceStatus,
    fields: &'a Map<String, Value>,
}

impl Serialize for ResourceReport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if !self.fields.contains_key("status") {
            map.serialize_entry("status", &self.status.code())?;
        }
        if !self.fields.contains_key("status_str") {
            map.serialize_entry("status_str", self.status.as_str())?;
        }
        for (key, value) in self.fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Drops the fields whose name looks secret, at any depth: they must never be shown.
fn hide_secrets(fields: &mut Map<String, Value>) {
    fields.retain(|key, _| !is_secret_name(key));
    for value in fields.values_mut() {
        hide_secrets_in(value);
    }
}

fn hide_secrets_in(value: &mut Value) {
    match value {
        Value::Object(map) => hide_secrets(map),
        Value::Array(items) => items.iter_mut().for_each(hide_secrets_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secret_fields_are_hidden_at_any_depth() {
        let mut fields = json!({
            "queue": "orders",
            "password": "hunter2",
            "upstream": {"host": "h", "Auth-Token": "t0k"},
            "brokers": [{"name": "b1", "sasl.password": "s3cr3t"}]
        });
        hide_secrets_in(&mut fields);
        assert_eq!(
            fields,
            json!({"queue": "orders", "upstream": {"host": "h"}, "brokers": [{"name": "b1"}]})
        );
    }
}

//! The status board: every resource's status, read by `/status`, the health probes, the
//! metrics collector and the restart policies.

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

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
    pub(crate) fn report(&self) -> (StatusCode, Map<String, Value>) {
        let mut body = Map::new();
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
            let mut item = json!({"status": status.code(), "status_str": status.as_str()});
            if let Value::Object(item) = &mut item {
                item.extend(fields);
            }
            body.insert(entry.name().to_owned(), item);
        }
        (code, body)
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

//! What `/status` shows of the resource: the connection, the inputs with their queues, the
//! outputs with their counts.

use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};

use super::settings::Pattern;
use super::transport::{kind_of, pattern_of};
use super::{AmqpState, LinkState};

impl AmqpState {
    pub(crate) fn status_fields(&self) -> Map<String, Value> {
        let connection = match &*self.link.borrow() {
            LinkState::Idle => "not_started",
            LinkState::Up(link) if link.connected() => "connected",
            LinkState::Up(_) | LinkState::Down => "connecting",
            LinkState::Closed => "closed",
        };
        let config = self.config();
        let queues = self
            .transport
            .lock()
            .expect("transport lock")
            .as_ref()
            .map(|t| t.queues.lock().expect("queues lock").clone())
            .unwrap_or_default();
        let mut inputs = self.engine.status_fields();
        for input in inputs.as_array_mut().into_iter().flatten() {
            let kind = input["kind"].as_str().unwrap_or_default();
            let name = input["name"].as_str().unwrap_or_default().to_owned();
            let pattern = pattern_of(kind);
            let source = config
                .as_ref()
                .and_then(|c| c.full_name(pattern, &name).ok())
                .map(String::from);
            let queue = queues.get(&(kind_of(pattern), name)).cloned();
            if let Value::Object(fields) = input {
                fields.insert("pattern".into(), json!(pattern.as_str()));
                fields.insert("source".into(), json!(source));
                fields.insert("queue".into(), json!(queue.unwrap_or_default()));
            }
        }
        let outputs: Vec<Value> = self
            .outputs
            .lock()
            .expect("outputs lock")
            .iter()
            .map(|info| {
                json!({
                    "name": info.name,
                    "pattern": info.pattern.map_or("generic", Pattern::as_str),
                    "codec": info.codec,
                    "sent": info.sent.load(Ordering::Relaxed),
                    "failed": info.failed.load(Ordering::Relaxed),
                })
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("connection".into(), json!(connection));
        if let Some(config) = &config {
            fields.insert("broker".into(), json!(config.describe()));
        }
        fields.insert(
            "reconnects".into(),
            json!(self.reconnects.load(Ordering::Relaxed)),
        );
        fields.insert("inputs".into(), inputs);
        fields.insert("outputs".into(), Value::Array(outputs));
        fields
    }
}

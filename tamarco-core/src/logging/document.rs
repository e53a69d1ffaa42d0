//! The Logstash JSON document (v1), as the Python original's `LogstashFormatterVersion1` with
//! `service_name` and `deploy_name` added:
//!
//! `@timestamp` (UTC, milliseconds, `Z`), `@version` (`"1"`), `message`, `host`, `path` (the
//! source file), `tags`, `type` (`"logstash"`), `level` (`DEBUG`, `INFO`, `WARNING`, `ERROR`,
//! `TRACE`), `logger_name` (the target), `service_name`, `deploy_name`, then the extra fields
//! of the event and its spans, and `stack_trace` (the error chain, one error per line) when an
//! error was recorded. An extra field never replaces one of the names above.

use serde_json::{Map, Value};
use tracing::Level;

use super::record::{FieldValue, Record};
use super::time::rfc3339_millis;

/// What a document says about where it comes from.
#[derive(Debug, Clone)]
pub(crate) struct DocContext {
    pub(crate) host: String,
    pub(crate) service: String,
    pub(crate) deploy: String,
}

const RESERVED: &[&str] = &[
    "@timestamp",
    "@version",
    "message",
    "host",
    "path",
    "tags",
    "type",
    "level",
    "logger_name",
    "service_name",
    "deploy_name",
    "stack_trace",
];

impl DocContext {
    /// For `service` in `deploy`, on this machine (its short host name).
    pub(crate) fn new(service: String, deploy: String) -> Self {
        DocContext {
            host: hostname(),
            service,
            deploy,
        }
    }
}

/// The machine's host name.
pub(crate) fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The machine's fully qualified name (`hostname --fqdn`), or its host name when that fails.
pub(crate) fn fqdn() -> String {
    std::process::Command::new("hostname")
        .arg("--fqdn")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(hostname)
}

/// The level's name as the Python original writes it.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// The document as a JSON value.
pub(crate) fn value(record: &Record, cx: &DocContext) -> Value {
    let mut doc = Map::with_capacity(12 + record.fields.len());
    doc.insert("@timestamp".into(), rfc3339_millis(record.time).into());
    doc.insert("@version".into(), "1".into());
    doc.insert("message".into(), record.message.clone().into());
    doc.insert("host".into(), cx.host.clone().into());
    doc.insert(
        "path".into(),
        record.file.as_deref().map_or(Value::Null, Value::from),
    );
    doc.insert("tags".into(), record.tags.clone().into());
    doc.insert("type".into(), "logstash".into());
    doc.insert("level".into(), level_name(record.level).into());
    doc.insert("logger_name".into(), record.target.as_ref().into());
    doc.insert("service_name".into(), cx.service.clone().into());
    doc.insert("deploy_name".into(), cx.deploy.clone().into());
    for (name, value) in &record.fields {
        if RESERVED.contains(name) {
            continue;
        }
        doc.insert((*name).to_owned(), json_value(value));
    }
    if !record.errors.is_empty() {
        doc.insert("stack_trace".into(), record.errors.join("\n").into());
    }
    Value::Object(doc)
}

/// The document as compact JSON text.
pub(crate) fn json(record: &Record, cx: &DocContext) -> String {
    value(record, cx).to_string()
}

fn json_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Str(s) | FieldValue::Debug(s) => s.clone().into(),
        FieldValue::I64(v) => (*v).into(),
        FieldValue::U64(v) => (*v).into(),
        FieldValue::I128(v) => i64::try_from(*v).map_or_else(|_| v.to_string().into(), Value::from),
        FieldValue::U128(v) => u64::try_from(*v).map_or_else(|_| v.to_string().into(), Value::from),
        FieldValue::F64(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
        FieldValue::Bool(v) => (*v).into(),
        FieldValue::Error { message, .. } => message.clone().into(),
    }
}

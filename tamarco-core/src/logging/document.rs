//! The Logstash JSON documents, in the two formats of the Python original's formatters,
//! chosen per sink ([`Version`]).
//!
//! v1: `@timestamp` (UTC, milliseconds, `Z`), `@version` (`"1"`), `message`, `host`, `path`
//! (the source file), `tags`, `type` (the sink's message type: `logstash` for UDP, `record` for
//! Redis and HTTP, as in the original), `level` (`DEBUG`, `INFO`, `WARNING`, `ERROR`, `TRACE`),
//! `logger_name` (the target), `service_name`, `deploy_name` (these two are ours: the
//! original's v1 lacks them), then the extra fields of the event and its spans; when an error
//! was recorded, `stack_trace` (the error chain, one error per line), `lineno`, `process` and
//! `thread_name`; `trace_id` and `span_id` (lowercase hex) when the event was logged inside a
//! span sampled for export with `system.tracing` (feature `tracing-otel`; none while tracing
//! is off). An extra field never replaces
//! one of these names.
//!
//! v0: `@timestamp`, `@message`, `@source` (`<type>://<host>/<path>`), `@source_host`,
//! `@source_path`, `@tags`, `@type`, and `@fields`: `levelname`, `logger`, the extra fields,
//! `service_name`, `deploy_name`, on error `stack_trace`, `lineno`, `process` and
//! `thread_name`, and `trace_id`/`span_id` as in v1.
//!
//! Tags are a list (`tags = "a,b"`), or a map when given as `key=value` pairs
//! (`tags = "customer=acme,tier=gold"`), the form the original's docs use
//! (`extra={'tags': {'tag': 'tag_value'}}`); a bare tag among pairs maps to `true`.

use serde_json::{Map, Value};
use tracing::Level;

use super::record::{FieldValue, Record};
use super::time::rfc3339_millis;

/// The format of a sink's documents: `system.logging.<sink>.version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// The original's `LogstashFormatterVersion0`: `@message`, `@fields`...
    V0,
    /// The original's `LogstashFormatterVersion1`: flat, `@version: "1"`.
    V1,
}

/// What a document says about where it comes from.
#[derive(Debug, Clone)]
pub(crate) struct DocContext {
    pub(crate) host: String,
    pub(crate) service: String,
    pub(crate) deploy: String,
    pub(crate) version: Version,
    /// The message type: `type` in v1, `@type` in v0.
    pub(crate) kind: &'static str,
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
    "lineno",
    "process",
    "thread_name",
    "trace_id",
    "span_id",
];

/// The names `@fields` holds in v0 before the extra fields.
const RESERVED_V0: &[&str] = &[
    "levelname",
    "logger",
    "service_name",
    "deploy_name",
    "stack_trace",
    "lineno",
    "process",
    "thread_name",
    "trace_id",
    "span_id",
];

impl DocContext {
    /// For `service` in `deploy`, on this machine (its short host name).
    pub(crate) fn new(service: String, deploy: String) -> Self {
        DocContext {
            host: hostname(),
            service,
            deploy,
            version: Version::V1,
            kind: "logstash",
        }
    }

    /// This context for a sink with its own format and message type.
    pub(crate) fn for_sink(&self, version: Version, kind: &'static str) -> Self {
        DocContext {
            version,
            kind,
            ..self.clone()
        }
    }
}

/// The machine's host name (`localhost` in the rare case the system cannot tell it).
pub(crate) fn hostname() -> String {
    hostname::get().map_or_else(
        |_| "localhost".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
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

/// The document as a JSON value, in the context's version.
pub(crate) fn value(record: &Record, cx: &DocContext) -> Value {
    match cx.version {
        Version::V1 => v1(record, cx),
        Version::V0 => v0(record, cx),
    }
}

fn v1(record: &Record, cx: &DocContext) -> Value {
    let mut doc = Map::with_capacity(12 + record.fields.len());
    doc.insert("@timestamp".into(), rfc3339_millis(record.time).into());
    doc.insert("@version".into(), "1".into());
    doc.insert("message".into(), record.message.clone().into());
    doc.insert("host".into(), cx.host.clone().into());
    doc.insert(
        "path".into(),
        record.file.as_deref().map_or(Value::Null, Value::from),
    );
    doc.insert("tags".into(), tags(&record.tags));
    doc.insert("type".into(), cx.kind.into());
    doc.insert("level".into(), level_name(record.level).into());
    doc.insert("logger_name".into(), record.target.as_ref().into());
    doc.insert("service_name".into(), cx.service.clone().into());
    doc.insert("deploy_name".into(), cx.deploy.clone().into());
    if let Some((trace_id, span_id)) = &record.trace {
        doc.insert("trace_id".into(), trace_id.clone().into());
        doc.insert("span_id".into(), span_id.clone().into());
    }
    extra_fields(record, RESERVED, &mut doc);
    debug_fields(record, &mut doc);
    Value::Object(doc)
}

fn v0(record: &Record, cx: &DocContext) -> Value {
    let path = record.file.as_deref().unwrap_or_default();
    let mut fields = Map::with_capacity(8 + record.fields.len());
    fields.insert("levelname".into(), level_name(record.level).into());
    fields.insert("logger".into(), record.target.as_ref().into());
    extra_fields(record, RESERVED_V0, &mut fields);
    fields.insert("service_name".into(), cx.service.clone().into());
    fields.insert("deploy_name".into(), cx.deploy.clone().into());
    if let Some((trace_id, span_id)) = &record.trace {
        fields.insert("trace_id".into(), trace_id.clone().into());
        fields.insert("span_id".into(), span_id.clone().into());
    }
    debug_fields(record, &mut fields);
    let mut doc = Map::with_capacity(8);
    doc.insert("@timestamp".into(), rfc3339_millis(record.time).into());
    doc.insert("@message".into(), record.message.clone().into());
    doc.insert(
        "@source".into(),
        format!("{}://{}/{path}", cx.kind, cx.host).into(),
    );
    doc.insert("@source_host".into(), cx.host.clone().into());
    doc.insert("@source_path".into(), path.into());
    doc.insert("@tags".into(), tags(&record.tags));
    doc.insert("@type".into(), cx.kind.into());
    doc.insert("@fields".into(), Value::Object(fields));
    Value::Object(doc)
}

fn extra_fields(record: &Record, reserved: &[&str], into: &mut Map<String, Value>) {
    for (name, value) in &record.fields {
        if !reserved.contains(name) {
            into.insert((*name).to_owned(), json_value(value));
        }
    }
}

/// What the original added when a record carried an exception.
fn debug_fields(record: &Record, into: &mut Map<String, Value>) {
    if record.errors.is_empty() {
        return;
    }
    into.insert("stack_trace".into(), record.errors.join("\n").into());
    into.insert(
        "lineno".into(),
        record.line.map_or(Value::Null, Value::from),
    );
    into.insert("process".into(), std::process::id().into());
    into.insert(
        "thread_name".into(),
        record.thread.as_deref().map_or(Value::Null, Value::from),
    );
}

/// A list of tags, or a map when any is a `key=value` pair.
fn tags(tags: &[String]) -> Value {
    if !tags.iter().any(|tag| tag.contains('=')) {
        return tags.to_vec().into();
    }
    let map = tags
        .iter()
        .map(|tag| match tag.split_once('=') {
            Some((key, value)) => (key.trim().to_owned(), Value::from(value.trim())),
            None => (tag.clone(), Value::Bool(true)),
        })
        .collect();
    Value::Object(map)
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

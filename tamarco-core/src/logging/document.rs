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

use serde::ser::{Serialize, SerializeMap, Serializer};
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

/// A JSON object that keeps its keys in the order they were written, the order of the
/// original's formatters (`@timestamp`, `@version`, `message`...): serde_json's own map sorts
/// its keys unless its `preserve_order` feature is on, which would put indexmap into every
/// service's build for the sake of log documents alone.
#[derive(Debug, Default)]
pub(crate) struct Document(Vec<(String, Entry)>);

#[derive(Debug)]
enum Entry {
    Value(Value),
    Document(Document),
}

impl Document {
    fn with_capacity(capacity: usize) -> Self {
        Document(Vec::with_capacity(capacity))
    }

    /// Appends `key`, which the caller knows to be new.
    fn push(&mut self, key: &str, value: impl Into<Value>) {
        self.0.push((key.to_owned(), Entry::Value(value.into())));
    }

    /// Sets `key`: in place when it is already there (a span field and an event field of the
    /// same name: the later one wins, as a map insert would), appended otherwise.
    fn insert(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(name, _)| name == key) {
            Some((_, entry)) => *entry = Entry::Value(value),
            None => self.0.push((key.to_owned(), Entry::Value(value))),
        }
    }

    /// The keys, in order.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(key, _)| key.as_str()).collect()
    }
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, entry) in &self.0 {
            match entry {
                Entry::Value(value) => map.serialize_entry(key, value)?,
                Entry::Document(document) => map.serialize_entry(key, document)?,
            }
        }
        map.end()
    }
}

/// The document, in the context's version.
pub(crate) fn document(record: &Record, cx: &DocContext) -> Document {
    match cx.version {
        Version::V1 => v1(record, cx),
        Version::V0 => v0(record, cx),
    }
}

fn v1(record: &Record, cx: &DocContext) -> Document {
    let mut doc = Document::with_capacity(12 + record.fields.len());
    doc.push("@timestamp", rfc3339_millis(record.time));
    doc.push("@version", "1");
    doc.push("message", record.message.clone());
    doc.push("host", cx.host.clone());
    doc.push(
        "path",
        record.file.as_deref().map_or(Value::Null, Value::from),
    );
    doc.push("tags", tags(&record.tags));
    doc.push("type", cx.kind);
    doc.push("level", level_name(record.level));
    doc.push("logger_name", record.target.as_ref());
    doc.push("service_name", cx.service.clone());
    doc.push("deploy_name", cx.deploy.clone());
    if let Some((trace_id, span_id)) = &record.trace {
        doc.push("trace_id", trace_id.clone());
        doc.push("span_id", span_id.clone());
    }
    extra_fields(record, RESERVED, &mut doc);
    debug_fields(record, &mut doc);
    doc
}

fn v0(record: &Record, cx: &DocContext) -> Document {
    let path = record.file.as_deref().unwrap_or_default();
    let mut fields = Document::with_capacity(8 + record.fields.len());
    fields.push("levelname", level_name(record.level));
    fields.push("logger", record.target.as_ref());
    extra_fields(record, RESERVED_V0, &mut fields);
    fields.push("service_name", cx.service.clone());
    fields.push("deploy_name", cx.deploy.clone());
    if let Some((trace_id, span_id)) = &record.trace {
        fields.push("trace_id", trace_id.clone());
        fields.push("span_id", span_id.clone());
    }
    debug_fields(record, &mut fields);
    let mut doc = Document::with_capacity(8);
    doc.push("@timestamp", rfc3339_millis(record.time));
    doc.push("@message", record.message.clone());
    doc.push("@source", format!("{}://{}/{path}", cx.kind, cx.host));
    doc.push("@source_host", cx.host.clone());
    doc.push("@source_path", path);
    doc.push("@tags", tags(&record.tags));
    doc.push("@type", cx.kind);
    doc.0.push(("@fields".to_owned(), Entry::Document(fields)));
    doc
}

fn extra_fields(record: &Record, reserved: &[&str], into: &mut Document) {
    for (name, value) in &record.fields {
        if !reserved.contains(name) {
            into.insert(name, json_value(value));
        }
    }
}

/// What the original added when a record carried an exception.
fn debug_fields(record: &Record, into: &mut Document) {
    if record.errors.is_empty() {
        return;
    }
    into.push("stack_trace", record.errors.join("\n"));
    into.push("lineno", record.line.map_or(Value::Null, Value::from));
    into.push("process", std::process::id());
    into.push(
        "thread_name",
        record.thread.as_deref().map_or(Value::Null, Value::from),
    );
}

/// A list of tags, or a map when any is a `key=value` pair.
fn tags(tags: &[String]) -> Value {
    if !tags.iter().any(|tag| tag.contains('=')) {
        return tags.to_vec().into();
    }
    let map: Map<String, Value> = tags
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
    serde_json::to_string(&document(record, cx)).unwrap_or_default()
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

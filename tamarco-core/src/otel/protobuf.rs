//! A batch of finished spans written straight into the protobuf bytes of an OTLP
//! `ExportTraceServiceRequest` (opentelemetry-proto `trace/v1`, `common/v1`, `resource/v1`).
//!
//! The span data is read in place: no intermediate message structs, no copy of each key and
//! value into an owned string, no map grouping spans (a batch comes from one provider, so one
//! resource; spans are grouped by scope as they come). Each nested message is written after a
//! one-byte length that is widened when the message turns out longer, so nothing is measured
//! twice.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// OTLP span flags: the parent's remoteness is known (bit 8), and the parent is remote (bit 9).
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// The `Resource` message of a provider, encoded once.
pub(super) fn resource(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in resource.iter() {
        message(&mut out, 1, |out| key_value(out, key.as_str(), value));
    }
    out
}

/// The request body exporting `spans`, all of the provider whose resource is `resource` (as
/// [`resource`] encoded it; `schema_url` is its schema).
pub(super) fn request(resource: &[u8], schema_url: &str, spans: &[SpanData]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + spans.len() * 256);
    // ExportTraceServiceRequest.resource_spans
    message(&mut out, 1, |out| {
        // ResourceSpans.resource
        message(out, 1, |out| out.extend_from_slice(resource));
        let mut rest = spans;
        while let Some(first) = rest.first() {
            let scope = &first.instrumentation_scope;
            let same = rest
                .iter()
                .position(|span| span.instrumentation_scope != *scope)
                .unwrap_or(rest.len());
            // ResourceSpans.scope_spans
            message(out, 2, |out| scope_spans(out, scope, &rest[..same]));
            rest = &rest[same..];
        }
        string(out, 3, schema_url);
    });
    out
}

/// A `ScopeSpans` message.
fn scope_spans(out: &mut Vec<u8>, scope: &InstrumentationScope, spans: &[SpanData]) {
    message(out, 1, |out| {
        string(out, 1, scope.name());
        string(out, 2, scope.version().unwrap_or_default());
        for attribute in scope.attributes() {
            message(out, 3, |out| attribute_kv(out, attribute));
        }
    });
    for span in spans {
        message(out, 2, |out| self::span(out, span));
    }
    string(out, 3, scope.schema_url().unwrap_or_default());
}

/// A `Span` message.
fn span(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    bytes(out, 1, &cx.trace_id().to_bytes());
    bytes(out, 2, &cx.span_id().to_bytes());
    string(out, 3, &cx.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    string(out, 5, &span.name);
    uint(out, 6, kind(&span.span_kind));
    fixed64(out, 7, nanos(span.start_time));
    fixed64(out, 8, nanos(span.end_time));
    for attribute in &span.attributes {
        message(out, 9, |out| attribute_kv(out, attribute));
    }
    uint(out, 10, span.dropped_attributes_count.into());
    for event in &span.events.events {
        message(out, 11, |out| {
            fixed64(out, 1, nanos(event.timestamp));
            string(out, 2, &event.name);
            for attribute in &event.attributes {
                message(out, 3, |out| attribute_kv(out, attribute));
            }
            uint(out, 4, event.dropped_attributes_count.into());
        });
    }
    uint(out, 12, span.events.dropped_count.into());
    for link in &span.links.links {
        message(out, 13, |out| {
            let cx = &link.span_context;
            bytes(out, 1, &cx.trace_id().to_bytes());
            bytes(out, 2, &cx.span_id().to_bytes());
            string(out, 3, &cx.trace_state().header());
            for attribute in &link.attributes {
                message(out, 4, |out| attribute_kv(out, attribute));
            }
            uint(out, 5, link.dropped_attributes_count.into());
            fixed32(out, 6, flags(cx, cx.is_remote()));
        });
    }
    uint(out, 14, span.links.dropped_count.into());
    // Status: message 2, code 3 (UNSET 0, OK 1, ERROR 2).
    message(out, 15, |out| match &span.status {
        Status::Unset => {}
        Status::Ok => uint(out, 3, 1),
        Status::Error { description } => {
            string(out, 2, description);
            uint(out, 3, 2);
        }
    });
    fixed32(out, 16, flags(cx, span.parent_span_is_remote));
}

/// OTLP's span flags: the W3C trace flags, and whether the parent is remote.
fn flags(cx: &SpanContext, parent_is_remote: bool) -> u32 {
    let remote = if parent_is_remote { IS_REMOTE } else { 0 };
    u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE | remote
}

/// `Span.SpanKind`'s number.
fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

fn attribute_kv(out: &mut Vec<u8>, attribute: &KeyValue) {
    key_value(out, attribute.key.as_str(), &attribute.value);
}

/// A `KeyValue` message's fields.
fn key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    string(out, 1, key);
    message(out, 2, |out| any_value(out, value));
}

/// An `AnyValue` message's field: one of a oneof, written even when it is the default.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(text) => len_field(out, 1, text.as_str().as_bytes()),
        Value::Bool(flag) => varint_field(out, 2, u64::from(*flag)),
        Value::I64(n) => varint_field(out, 3, *n as u64),
        Value::F64(x) => {
            tag(out, 4, FIXED64);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Value::Array(array) => message(out, 5, |out| array_values(out, array)),
        // A value type added to the API later: sent as its text.
        other => len_field(out, 1, other.to_string().as_bytes()),
    }
}

/// An `ArrayValue` message's fields.
fn array_values(out: &mut Vec<u8>, array: &Array) {
    let mut each = |value: Value| message(out, 1, |out| any_value(out, &value));
    match array {
        Array::Bool(values) => values.iter().for_each(|v| each(Value::Bool(*v))),
        Array::I64(values) => values.iter().for_each(|v| each(Value::I64(*v))),
        Array::F64(values) => values.iter().for_each(|v| each(Value::F64(*v))),
        Array::String(values) => values.iter().for_each(|v| each(Value::String(v.clone()))),
        other => each(Value::String(other.to_string().into())),
    }
}

/// A nested message as field `field`: `body` writes its fields.
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    // Widen the length: move the body right by the extra bytes.
    let (prefix, width) = varint_bytes(len as u64);
    out.resize(out.len() + width - 1, 0);
    out.copy_within(at + 1..at + 1 + len, at + width);
    out[at..at + width].copy_from_slice(&prefix[..width]);
}

/// A string field, left out when empty (proto3's default).
fn string(out: &mut Vec<u8>, field: u32, text: &str) {
    if !text.is_empty() {
        len_field(out, field, text.as_bytes());
    }
}

fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    len_field(out, field, data);
}

fn len_field(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    tag(out, field, LEN);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// An unsigned or enum field, left out when zero.
fn uint(out: &mut Vec<u8>, field: u32, n: u64) {
    if n != 0 {
        varint_field(out, field, n);
    }
}

fn varint_field(out: &mut Vec<u8>, field: u32, n: u64) {
    tag(out, field, VARINT);
    varint(out, n);
}

fn fixed64(out: &mut Vec<u8>, field: u32, n: u64) {
    if n != 0 {
        tag(out, field, FIXED64);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn fixed32(out: &mut Vec<u8>, field: u32, n: u32) {
    if n != 0 {
        tag(out, field, FIXED32);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn tag(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from(field << 3 | wire_type));
}

fn varint(out: &mut Vec<u8>, n: u64) {
    let (bytes, width) = varint_bytes(n);
    out.extend_from_slice(&bytes[..width]);
}

/// `n` as a varint: its bytes and how many of them it takes.
fn varint_bytes(mut n: u64) -> ([u8; 10], usize) {
    let mut bytes = [0u8; 10];
    let mut width = 0;
    while n >= 0x80 {
        bytes[width] = n as u8 | 0x80;
        n >>= 7;
        width += 1;
    }
    bytes[width] = n as u8;
    (bytes, width + 1)
}

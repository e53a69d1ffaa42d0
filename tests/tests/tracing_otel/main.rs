//! Distributed tracing (feature `tracing-otel`) against the machine's RabbitMQ and a Kafka
//! broker (tansu) of the test's own; the spans reach an OTLP/HTTP receiver the test runs.
//!
//! - `in_process`: the service's HTTP client calls its own server, whose route publishes to
//!   AMQP, and the service's own handler takes the message: one trace with each parent set; its
//!   resources' start and stop hooks are spans under their phase's. (Only one test here traces
//!   in process: the tracing subscriber and exporter are process-wide.)
//! - `processes`: across three processes (`src/bin/trace_hop.rs`): HTTP into `front`, AMQP to
//!   `relay`, Kafka to `sink`, whose log line shipped to Logstash carries the same trace id.
//!
//! The receiver and the span decoding they share are below.

mod in_process;
mod processes;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use tamarco::amqp::{Amqp, Message, Pattern, PushOutput};
use tamarco::http::axum::Router;
use tamarco::http::axum::body::Bytes;
use tamarco::http::axum::extract::{Path, State};
use tamarco::http::axum::http::StatusCode;
use tamarco::http::axum::routing::post;
use tamarco::http::reqwest::Method;
use tamarco::http::{HttpClient, HttpServer};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco::tokio::sync::Notify;
use tamarco::tokio::time::timeout;
use tamarco_tests::Probe;
use tamarco_tests::amqp::{Cleanup, settings, unique_prefix};
use tamarco_tests::kafka::{Broker, free_port};

/// An OTLP/HTTP receiver on a free loopback port: keeps the body of every export.
async fn receiver() -> (std::net::SocketAddr, Arc<Mutex<Vec<Bytes>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(bodies): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                    bodies.lock().unwrap().push(body);
                    StatusCode::OK
                },
            ),
        )
        .with_state(Arc::clone(&bodies));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { tamarco::http::axum::serve(listener, app).await });
    (addr, bodies)
}

/// Every span received so far, with its service name.
fn spans(bodies: &Mutex<Vec<Bytes>>) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for body in bodies.lock().unwrap().iter() {
        let request = ExportTraceServiceRequest::decode(body.clone()).expect("OTLP protobuf");
        for resource in request.resource_spans {
            let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
            let service = text(&attributes, "service.name").unwrap_or_default();
            for scope in resource.scope_spans {
                out.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
    }
    out
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

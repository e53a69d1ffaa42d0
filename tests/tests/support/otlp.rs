//! An OTLP/HTTP receiver for the tracing tests, and readers of the spans it got. Included by
//! each tracing test binary (`#[path]`): not a test target of its own.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tamarco::http::axum::Router;
use tamarco::http::axum::body::Bytes;
use tamarco::http::axum::extract::State;
use tamarco::http::axum::http::StatusCode;
use tamarco::http::axum::routing::post;
use tamarco::tokio;
use tamarco::{Running, Runtime, TaskSet};

/// Starts `service` with `settings` (signals left to the test), within 20 s.
pub(crate) async fn start<S: TaskSet>(
    service: S,
    settings: tamarco::serde_json::Value,
) -> Running<S> {
    let runtime = Runtime::new(service).handle_signals(false);
    let start = runtime.with_settings(settings).unwrap().start();
    tokio::time::timeout(std::time::Duration::from_secs(20), start)
        .await
        .expect("the service starts in time")
        .expect("the service starts")
}

/// The bodies of the exports a [`receiver`] got.
pub(crate) type Bodies = Arc<Mutex<Vec<Bytes>>>;

/// An OTLP/HTTP receiver on a free loopback port: keeps the body of every export.
pub(crate) async fn receiver() -> (std::net::SocketAddr, Bodies) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(bodies): State<Bodies>, body: Bytes| async move {
                bodies.lock().unwrap().push(body);
                StatusCode::OK
            }),
        )
        .with_state(Arc::clone(&bodies));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { tamarco::http::axum::serve(listener, app).await });
    (addr, bodies)
}

/// Every span received so far, with its service name.
pub(crate) fn spans(bodies: &Mutex<Vec<Bytes>>) -> Vec<(String, Span)> {
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

/// The value of attribute `key`, as text.
pub(crate) fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
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

/// Ids as lowercase hex, as `traceparent` writes them.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

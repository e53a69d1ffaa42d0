//! Distributed tracing (feature `tracing-otel`) against the machine's RabbitMQ: an HTTP request
//! into a service publishes to AMQP, and the service's own handler takes the message; the spans
//! reach an OTLP/HTTP receiver this test runs, as one trace with each parent set.
//!
//! One test per binary: the tracing subscriber and exporter are process-wide.

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
use tamarco::http::HttpServer;
use tamarco::http::axum::Router;
use tamarco::http::axum::body::Bytes;
use tamarco::http::axum::extract::{Path, State};
use tamarco::http::axum::http::StatusCode;
use tamarco::http::axum::routing::post;
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco::tokio::sync::Notify;
use tamarco::tokio::time::timeout;
use tamarco_tests::amqp::{Cleanup, settings, unique_prefix};

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Order {
    id: u64,
}

#[microservice(name = "traced_front")]
#[derive(Default)]
struct Front {
    #[resource]
    http_server: HttpServer,
    #[resource]
    amqp: Amqp,
    #[output(amqp, push = "orders")]
    orders: PushOutput<Order>,
    handled: AtomicU64,
    done: Notify,
}

#[microservice]
impl Front {
    #[route(http_server, POST "/orders/{id}")]
    async fn order(&self, Path(id): Path<u64>) -> Result<&'static str, StatusCode> {
        self.orders
            .push(&Order { id })
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok("queued")
    }

    #[input(amqp, pull = "orders")]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        tamarco::tracing::info!(id = order.value().id, "order handled");
        self.handled.store(order.value().id, Ordering::SeqCst);
        self.done.notify_one();
        Ok(())
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_its_amqp_message_and_the_handler_are_one_trace() {
    let prefix = unique_prefix("tracing");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let (collector, bodies) = receiver().await;
    let mut settings = settings(&prefix, json!({}));
    settings["system"]["resources"]["http_server"] = json!({"port": 0});
    settings["system"]["tracing"] = json!({
        "enabled": true,
        "endpoint": format!("http://{collector}"),
        "sampling_ratio": 1.0,
    });
    let running = timeout(
        Duration::from_secs(20),
        Front::default()
            .runtime()
            .handle_signals(false)
            .with_settings(settings)
            .unwrap()
            .start(),
    )
    .await
    .expect("the service starts in time")
    .expect("the service starts");
    let addr = running.service().http_server.local_addr().unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || {
        tamarco_tests::http_request(addr, "POST", "/orders/7", &[], None).unwrap()
    })
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "queued"));
    timeout(Duration::from_secs(20), running.service().done.notified())
        .await
        .expect("the handler ran within 20 s");
    assert_eq!(running.service().handled.load(Ordering::SeqCst), 7);
    // A graceful stop sends the spans still batched.
    timeout(Duration::from_secs(30), running.stop())
        .await
        .expect("the service stops in time")
        .expect("the service stops cleanly");

    let spans = spans(&bodies);
    let find = |kind: SpanKind| {
        let found: Vec<_> = spans
            .iter()
            .filter(|(_, s)| s.kind == kind as i32)
            .collect();
        assert_eq!(found.len(), 1, "one {kind:?} span in {spans:#?}");
        found[0].clone()
    };
    let (service, server) = find(SpanKind::Server);
    let (_, producer) = find(SpanKind::Producer);
    let (_, consumer) = find(SpanKind::Consumer);
    assert_eq!(service, "traced_front");
    // The server span is named after the matched route, not the raw path.
    assert_eq!(server.name, "POST /orders/{id}");
    assert_eq!(
        text(&server.attributes, "http.route").as_deref(),
        Some("/orders/{id}")
    );
    assert_eq!(
        text(&server.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        text(&server.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(consumer.name, "orders process");
    assert_eq!(
        text(&consumer.attributes, "messaging.destination.name").as_deref(),
        Some("orders")
    );
    // One trace; the publish is the request's child, the handler the publish's child.
    assert_eq!(server.trace_id.len(), 16);
    assert_ne!(hex(&server.trace_id), "0".repeat(32));
    assert_eq!(hex(&producer.trace_id), hex(&server.trace_id));
    assert_eq!(hex(&consumer.trace_id), hex(&server.trace_id));
    assert!(server.parent_span_id.is_empty(), "the request is the root");
    assert_eq!(hex(&producer.parent_span_id), hex(&server.span_id));
    assert_eq!(hex(&consumer.parent_span_id), hex(&producer.span_id));
}

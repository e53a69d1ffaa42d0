//! Distributed tracing (feature `tracing-otel`) against the machine's RabbitMQ and a Kafka
//! broker (tansu) of the test's own; the spans reach an OTLP/HTTP receiver the test runs.
//!
//! - In this process: the service's HTTP client calls its own server, whose route publishes to
//!   AMQP, and the service's own handler takes the message: one trace with each parent set; its
//!   resources' start and stop hooks are spans under their phase's. (Only one test here traces
//!   in process: the tracing subscriber and exporter are process-wide.)
//! - Across three processes (`src/bin/trace_hop.rs`): HTTP into `front`, AMQP to `relay`, Kafka
//!   to `sink`, whose log line shipped to Logstash carries the same trace id.

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

const HOP: &str = env!("CARGO_BIN_EXE_trace_hop");

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
    backend: HttpClient,
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
async fn a_client_request_the_server_its_amqp_message_and_the_handler_are_one_trace() {
    let prefix = unique_prefix("tracing");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let (collector, bodies) = receiver().await;
    let mut settings = settings(&prefix, json!({}));
    let port = free_port();
    settings["system"]["resources"]["http_server"] = json!({"port": port});
    settings["system"]["resources"]["backend"] =
        json!({"base_url": format!("http://ann:s3cr3t@127.0.0.1:{port}/orders")});
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
    let answer = timeout(
        Duration::from_secs(20),
        running
            .service()
            .backend
            .send(Method::POST, "7", |request| request),
    )
    .await
    .expect("the request is answered in time")
    .expect("the request is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "queued");
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
    let (service, client) = find(SpanKind::Client);
    let (_, server) = find(SpanKind::Server);
    let (_, producer) = find(SpanKind::Producer);
    let (_, consumer) = find(SpanKind::Consumer);
    assert_eq!(service, "traced_front");
    // The client's span: semantic-convention names, and no secret of the URL.
    assert_eq!(client.name, "POST");
    assert_eq!(
        text(&client.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        text(&client.attributes, "url.full"),
        Some(format!("http://127.0.0.1:{port}/orders/7"))
    );
    assert!(!format!("{spans:?}").contains("s3cr3t"), "{client:#?}");
    assert_eq!(
        text(&client.attributes, "server.port"),
        Some(port.to_string())
    );
    assert_eq!(
        text(&client.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
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
    // One trace: the server's span is the client's child, the publish the server's, the
    // handler the publish's.
    assert_eq!(client.trace_id.len(), 16);
    assert_ne!(hex(&client.trace_id), "0".repeat(32));
    for span in [&server, &producer, &consumer] {
        assert_eq!(hex(&span.trace_id), hex(&client.trace_id), "{span:#?}");
    }
    assert!(
        client.parent_span_id.is_empty(),
        "the client's request is the root"
    );
    assert_eq!(hex(&server.parent_span_id), hex(&client.span_id));
    assert_eq!(hex(&producer.parent_span_id), hex(&server.span_id));
    assert_eq!(hex(&consumer.parent_span_id), hex(&producer.span_id));

    // Each resource's start and stop hooks are spans under their phase's span.
    let named = |name: &str| {
        let found: Vec<&Span> = spans
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "one span {name:?} in {spans:#?}");
        found[0].clone()
    };
    for phase in [
        "configure",
        "pre_start",
        "start",
        "post_start",
        "stop",
        "post_stop",
    ] {
        let parent = named(phase);
        assert!(parent.parent_span_id.is_empty(), "{phase} is a root");
        for resource in ["http_server", "backend", "amqp"] {
            let hook = named(&format!("{resource} {phase}"));
            assert_eq!(hex(&hook.trace_id), hex(&parent.trace_id), "{hook:#?}");
            assert_eq!(hex(&hook.parent_span_id), hex(&parent.span_id), "{hook:#?}");
            assert_eq!(
                text(&hook.attributes, "tamarco.resource.name").as_deref(),
                Some(resource)
            );
        }
    }
    assert!(
        spans.iter().all(|(_, s)| s.name != "bind"),
        "bind has no span"
    );
}

/// The one span of `service` of `kind`.
fn only<'a>(spans: &'a [(String, Span)], service: &str, kind: SpanKind) -> &'a Span {
    let found: Vec<_> = spans
        .iter()
        .filter(|(s, span)| s == service && span.kind == kind as i32)
        .map(|(_, span)| span)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind:?} span of {service} in {spans:#?}"
    );
    found[0]
}

/// Every Logstash document received on `socket` until one says `message` (at most `wait`).
fn document(
    socket: &std::net::UdpSocket,
    message: &str,
    wait: Duration,
) -> tamarco::serde_json::Value {
    let deadline = std::time::Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let Ok(n) = socket.recv(&mut buf) else { break };
        let doc: tamarco::serde_json::Value =
            tamarco::serde_json::from_slice(&buf[..n]).expect("a JSON document");
        if doc["@message"] == message {
            return doc;
        }
        seen.push(doc);
    }
    panic!("no document {message:?} within {wait:?}; got {seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_amqp_and_kafka_hops_across_three_processes_are_one_trace_and_the_log_has_its_id() {
    const WAIT: Duration = Duration::from_secs(30);
    let prefix = unique_prefix("tracing_hops");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let broker = tokio::task::block_in_place(Broker::start);
    tokio::task::block_in_place(|| broker.create_topic("orders", 1));
    let (collector, bodies) = receiver().await;
    let logstash = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let http_port = free_port();
    let env = [
        ("HOP_COLLECTOR", format!("http://{collector}")),
        ("HOP_PREFIX", prefix.clone()),
        ("HOP_BOOTSTRAP", broker.bootstrap()),
        ("HOP_HTTP_PORT", http_port.to_string()),
        (
            "HOP_LOGSTASH_PORT",
            logstash.local_addr().unwrap().port().to_string(),
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut hops: Vec<(&str, Probe)> = ["sink", "relay", "front"]
        .into_iter()
        .map(|mode| (mode, Probe::spawn_with(HOP, mode, &env)))
        .collect();
    tokio::task::block_in_place(|| {
        for (mode, probe) in &mut hops {
            probe.wait_for_line(&format!("started service=\"hop_{mode}\""), WAIT);
        }
    });

    let addr: std::net::SocketAddr = ([127, 0, 0, 1], http_port).into();
    let (status, body) = tokio::task::spawn_blocking(move || {
        tamarco_tests::http_request(addr, "POST", "/orders/7", &[], None).unwrap()
    })
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "queued"));
    let log = tokio::task::block_in_place(|| document(&logstash, "order finished", WAIT));
    assert_eq!(log["@fields"]["order"], 7);
    assert_eq!(log["@fields"]["service_name"], "hop_sink");

    // A graceful stop sends the spans each process still has batched.
    for (_, probe) in &hops {
        probe.signal("TERM");
    }
    tokio::task::block_in_place(|| {
        for (mode, probe) in hops {
            let (code, _, lines) = probe.wait_exit(WAIT);
            assert_eq!(code, 0, "{mode} exits cleanly:\n{}", lines.join("\n"));
        }
    });

    let spans = spans(&bodies);
    let server = only(&spans, "hop_front", SpanKind::Server);
    let publish = only(&spans, "hop_front", SpanKind::Producer);
    let relay = only(&spans, "hop_relay", SpanKind::Consumer);
    let send = only(&spans, "hop_relay", SpanKind::Producer);
    let sink = only(&spans, "hop_sink", SpanKind::Consumer);
    assert_eq!(server.name, "POST /orders/{id}");
    assert_eq!(
        text(&publish.attributes, "messaging.system").as_deref(),
        Some("rabbitmq")
    );
    assert_eq!(
        text(&send.attributes, "messaging.system").as_deref(),
        Some("kafka")
    );
    assert_eq!(relay.name, "orders process");
    assert_eq!(sink.name, "orders process");
    // One trace id across the three processes, each span the child of the one before.
    let trace = hex(&server.trace_id);
    assert_ne!(trace, "0".repeat(32));
    for span in [publish, relay, send, sink] {
        assert_eq!(hex(&span.trace_id), trace, "{span:#?}");
    }
    assert!(server.parent_span_id.is_empty(), "the request is the root");
    assert_eq!(hex(&publish.parent_span_id), hex(&server.span_id));
    assert_eq!(hex(&relay.parent_span_id), hex(&publish.span_id));
    assert_eq!(hex(&send.parent_span_id), hex(&relay.span_id));
    assert_eq!(hex(&sink.parent_span_id), hex(&send.span_id));
    // The log line shipped from the last service names the trace, and the handler's span.
    assert_eq!(log["@fields"]["trace_id"], trace.as_str());
    assert_eq!(log["@fields"]["span_id"], hex(&sink.span_id).as_str());
}

//! Which requests distributed tracing (feature `tracing-otel`) exports, and what it passes on,
//! against an OTLP/HTTP receiver the test runs. The decision is made before any span is made
//! (parent-based: an incoming `traceparent` decides, a root goes by `sampling_ratio`); exporting
//! does not depend on the log level. (One test: the subscriber and exporter are process-wide.)

#[path = "support/otlp.rs"]
mod otlp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tamarco::http::axum::http::StatusCode;
use tamarco::http::{HttpClient, HttpServer};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco::tokio::time::timeout;
use tamarco_tests::kafka::free_port;

use otlp::{hex, receiver, spans, text};

#[microservice(name = "traced_spans")]
#[derive(Default)]
struct Spans {
    #[resource]
    http_server: HttpServer,
    /// The service's own server.
    #[resource]
    backend: HttpClient,
}

#[microservice]
impl Spans {
    /// Works in a span of its own, and answers the `traceparent` a call made from there would
    /// carry (empty for none).
    #[route(http_server, GET "/work")]
    async fn work(&self) -> String {
        let span = tamarco::tracing::info_span!("work");
        let _inside = span.enter();
        tamarco::tracing::warn!("working");
        let headers = tamarco::otel::http_headers();
        let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
        traceparent.unwrap_or_default().to_owned()
    }

    /// Calls `/work` through the client resource's `get`: what that answered.
    #[route(http_server, GET "/call")]
    async fn call(&self) -> Result<String, StatusCode> {
        let answer = self.backend.get("work").send().await;
        let answer = answer.map_err(|_| StatusCode::BAD_GATEWAY)?;
        answer.text().await.map_err(|_| StatusCode::BAD_GATEWAY)
    }
}

/// `GET /work` with `traceparent` (or none): what the handler would pass on.
async fn work(addr: SocketAddr, traceparent: Option<String>) -> String {
    get(addr, "/work", traceparent).await
}

/// `GET path` with `traceparent` (or none): the answer's body.
async fn get(addr: SocketAddr, path: &'static str, traceparent: Option<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = traceparent
            .iter()
            .map(|t| ("traceparent", t.as_str()))
            .collect();
        let (status, body) =
            tamarco_tests::http_request(addr, "GET", path, &headers, None).unwrap();
        assert_eq!(status, 200, "{body}");
        body
    })
    .await
    .unwrap()
}

/// The trace id and the flags of a `traceparent`.
fn trace_and_flags(traceparent: &str) -> (&str, &str) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "a traceparent: {traceparent:?}");
    (parts[1], parts[3])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_exported_as_sampled_when_they_arrive_whatever_the_log_level() {
    let (collector, bodies) = receiver().await;
    let port = free_port();
    let settings = json!({"system": {
        "resources": {
            "http_server": {"port": port},
            "backend": {"base_url": format!("http://127.0.0.1:{port}")},
        },
        "tracing": {
            "enabled": true,
            "endpoint": format!("http://{collector}"),
            "sampling_ratio": 0.0,
        },
        // Framework spans are `info`: the log level must not hide them from the exporter.
        "logging": {"default_level": "warn", "levels": {"tamarco": "warn", "traced_spans": "warn"}},
    }});
    let running = otlp::start(Spans::default(), settings).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    // A root at sampling 0: not exported, and passed on as not sampled.
    let root = work(addr, None).await;
    let (root_trace, flags) = trace_and_flags(&root);
    assert_eq!(flags, "00", "{root}");
    // A sampled caller is followed: exported, and passed on as sampled, in the caller's trace.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let followed = work(addr, Some(format!("00-{caller_trace}-{caller_span}-01"))).await;
    assert_eq!(trace_and_flags(&followed), (caller_trace, "01"));
    // An unsampled caller is not: its trace is passed on, still not sampled.
    let unsampled_trace = "0af7651916cd43dd8448eb211c80319c";
    let not_followed = work(addr, Some(format!("00-{unsampled_trace}-{caller_span}-00"))).await;
    assert_eq!(trace_and_flags(&not_followed), (unsampled_trace, "00"));
    // The ratio changes live: at 1 a root is exported.
    running
        .settings()
        .set("system.tracing.sampling_ratio", 1.0)
        .await
        .unwrap();
    let began = Instant::now();
    let sampled_root = loop {
        let traceparent = work(addr, None).await;
        if trace_and_flags(&traceparent).1 == "01" {
            break traceparent;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "roots still not sampled at ratio 1: {traceparent}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // A call through the client's `get` is a client span, between the two server spans.
    let called = get(addr, "/call", None).await;
    let (called_trace, _) = trace_and_flags(&called);
    // At a ratio between 0 and 1, a root is exported exactly when it was decided sampled on
    // arrival (the tracer does not ask the ratio again).
    running
        .settings()
        .set("system.tracing.sampling_ratio", 0.5)
        .await
        .unwrap();
    let mut halfway = Vec::new();
    for _ in 0..20 {
        halfway.push(work(addr, None).await);
    }
    // A graceful stop sends the spans still batched.
    timeout(Duration::from_secs(30), running.stop())
        .await
        .expect("the service stops in time")
        .expect("the service stops cleanly");

    let spans = spans(&bodies);
    let halfway: Vec<(&str, &str)> = halfway.iter().map(|t| trace_and_flags(t)).collect();
    for (trace, flags) in &halfway {
        let exported: Vec<_> = spans
            .iter()
            .map(|(_, s)| s)
            .filter(|s| hex(&s.trace_id) == *trace)
            .collect();
        let expected = if *flags == "01" { 2 } else { 0 };
        assert_eq!(exported.len(), expected, "{trace} {flags}: {exported:#?}");
    }
    let spans: Vec<_> = spans
        .into_iter()
        .filter(|(_, s)| halfway.iter().all(|(t, _)| hex(&s.trace_id) != *t))
        .collect();
    let requests: Vec<_> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(requests.len(), 4, "four exported requests in {spans:#?}");
    let works: Vec<_> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "work")
        .collect();
    assert_eq!(works.len(), 3, "three exported handler spans in {spans:#?}");
    assert!(
        spans.iter().all(|(_, s)| s.name != "request"),
        "no plain request span is exported: {spans:#?}"
    );
    for trace in [root_trace, unsampled_trace] {
        assert!(
            spans.iter().all(|(_, s)| hex(&s.trace_id) != trace),
            "nothing of the unsampled trace {trace} in {spans:#?}"
        );
    }
    let of_trace = |found: &[&Span], trace: &str| {
        let matching: Vec<_> = found
            .iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .copied()
            .collect();
        assert_eq!(matching.len(), 1, "one span of trace {trace} in {found:#?}");
        matching[0].clone()
    };
    // The followed request: the caller's child, its handler's span under it.
    let (server, handler) = (
        of_trace(&requests, caller_trace),
        of_trace(&works, caller_trace),
    );
    assert_eq!(server.name, "GET /work");
    assert_eq!(hex(&server.parent_span_id), caller_span);
    assert_eq!(hex(&handler.parent_span_id), hex(&server.span_id));
    assert_eq!(
        followed,
        format!("00-{caller_trace}-{}-01", hex(&handler.span_id))
    );
    assert_eq!(
        text(&server.attributes, "otel.sampled"),
        None,
        "the mark is not exported"
    );
    assert_eq!(
        text(&server.attributes, "http.route").as_deref(),
        Some("/work")
    );
    // The sampled root: a root, its handler's span under it.
    let (sampled_trace, _) = trace_and_flags(&sampled_root);
    let root_server = of_trace(&requests, sampled_trace);
    let root_handler = of_trace(&works, sampled_trace);
    assert!(root_server.parent_span_id.is_empty(), "{root_server:#?}");
    assert_eq!(hex(&root_handler.parent_span_id), hex(&root_server.span_id));

    // The call: `GET /call` -> the client's `GET` -> `GET /work`, one trace.
    let in_call: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| hex(&s.trace_id) == called_trace)
        .collect();
    let named = |name: &str, kind: SpanKind| {
        let found: Vec<_> = in_call
            .iter()
            .filter(|s| s.name == name && s.kind == kind as i32)
            .collect();
        assert_eq!(found.len(), 1, "one {name} {kind:?} span in {in_call:#?}");
        (*found[0]).clone()
    };
    let outer = named("GET /call", SpanKind::Server);
    let client = named("GET", SpanKind::Client);
    let inner = named("GET /work", SpanKind::Server);
    assert!(outer.parent_span_id.is_empty(), "{outer:#?}");
    assert_eq!(hex(&client.parent_span_id), hex(&outer.span_id));
    assert_eq!(hex(&inner.parent_span_id), hex(&client.span_id));
    assert_eq!(
        text(&client.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        text(&client.attributes, "url.full"),
        Some(format!("http://127.0.0.1:{port}/work"))
    );
}

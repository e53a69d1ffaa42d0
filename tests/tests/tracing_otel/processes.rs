//! Three processes (`src/bin/trace_hop.rs`): HTTP, AMQP and Kafka hops are one trace, and the
//! log line the last one ships carries its id.

use super::*;

const HOP: &str = env!("CARGO_BIN_EXE_trace_hop");

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

//! One service in this process: its client request, the server, the AMQP message and the handler
//! are one trace, and each resource hook is a span under its phase's.

use super::*;

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
    /// The `traceparent` each handled order would pass on, by id.
    passed_on: std::sync::Mutex<Vec<(u64, String)>>,
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
        let headers = tamarco::otel::http_headers();
        let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
        let traceparent = traceparent.unwrap_or_default().to_owned();
        self.passed_on
            .lock()
            .unwrap()
            .push((order.value().id, traceparent));
        self.handled.store(order.value().id, Ordering::SeqCst);
        self.done.notify_one();
        Ok(())
    }
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
    settings["system"]["tracing"] = tamarco_tests::sampled_tracing(&format!("http://{collector}"));
    let running = otlp::start(Front::default(), settings).await;
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
    // Orders pushed outside any span are roots, sampled before a span is made: 8 at ratio 1,
    // 9 at ratio 0.
    for (id, ratio) in [(8, 1.0), (9, 0.0)] {
        let settings = running.settings();
        settings
            .set("system.tracing.sampling_ratio", ratio)
            .await
            .unwrap();
        let handled = running.service().done.notified();
        running.service().orders.push(&Order { id }).await.unwrap();
        timeout(Duration::from_secs(20), handled)
            .await
            .expect("the handler ran within 20 s");
        assert_eq!(running.service().handled.load(Ordering::SeqCst), id);
    }
    let passed_on = running.service().passed_on.lock().unwrap().clone();
    // The stop's spans are roots too.
    let settings = running.settings();
    settings
        .set("system.tracing.sampling_ratio", 1.0)
        .await
        .unwrap();
    // A graceful stop sends the spans still batched.
    timeout(Duration::from_secs(30), running.stop())
        .await
        .expect("the service stops in time")
        .expect("the service stops cleanly");

    let spans = spans(&bodies);
    // Order 8: a trace of its own, its send span the root and the handler's span under it.
    // Order 9: nothing exported, its trace passed on as not sampled.
    let root_sends: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.kind == SpanKind::Producer as i32 && s.parent_span_id.is_empty())
        .collect();
    assert_eq!(root_sends.len(), 1, "one root send span in {spans:#?}");
    let root_send = root_sends[0].clone();
    assert!(root_send.name.ends_with("orders publish"), "{root_send:#?}");
    let root_trace = hex(&root_send.trace_id);
    let under_root: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| hex(&s.parent_span_id) == hex(&root_send.span_id))
        .collect();
    assert_eq!(
        under_root.len(),
        1,
        "the handler's span under {root_send:#?}"
    );
    assert_eq!(under_root[0].kind, SpanKind::Consumer as i32);
    let passed = |id: u64| {
        let found = passed_on.iter().find(|(of, _)| *of == id);
        let traceparent = &found.expect("handled").1;
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "a traceparent: {traceparent:?}");
        (parts[1].to_owned(), parts[3].to_owned())
    };
    assert_eq!(passed(8), (root_trace.clone(), "01".to_owned()));
    let (unsampled_trace, flags) = passed(9);
    assert_eq!(flags, "00", "order 9 is not sampled");
    assert!(
        spans
            .iter()
            .all(|(_, s)| hex(&s.trace_id) != unsampled_trace),
        "nothing of order 9's trace in {spans:#?}"
    );
    let spans: Vec<_> = spans
        .into_iter()
        .filter(|(_, s)| hex(&s.trace_id) != root_trace)
        .collect();
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

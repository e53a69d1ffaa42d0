//! What the server does per request: the response cache, the original's keys, request
//! metrics, CORS, the request timeout and the body limit.

use super::*;

#[microservice(name = "cached")]
#[derive(Default)]
struct Cached {
    #[resource]
    http_server: HttpServer,
    calls: AtomicUsize,
}

#[microservice]
impl Cached {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let count = |State(service): State<Arc<Cached>>| async move {
            service.calls.fetch_add(1, Ordering::SeqCst).to_string()
        };
        let routes = Router::new()
            .route("/count", get(count).post(count))
            .with_state(Arc::clone(&self));
        self.http_server.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

#[tokio::test]
async fn the_cache_answers_miss_then_hit() {
    let settings = json!({"system": {"resources": {"http_server": {
        "port": 0,
        "cache": {"enabled": true, "ttl_seconds": 0.5, "headers": ["accept-language"]},
    }}}});
    let running = TestService::builder(Cached::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let addr = running.service().http_server.local_addr().unwrap();
    let client = client_builder().build().unwrap();
    let get = |lang: &'static str| {
        let request = client
            .get(format!("http://{addr}/count"))
            .header("accept-language", lang);
        async move {
            let response = request.send().await.unwrap();
            let x_cache = response.headers()["x-cache"].to_str().unwrap().to_owned();
            (x_cache, response.text().await.unwrap())
        }
    };
    assert_eq!(get("en").await, ("MISS".to_owned(), "0".to_owned()));
    assert_eq!(get("en").await, ("HIT".to_owned(), "0".to_owned()));
    assert_eq!(
        get("fr").await,
        ("MISS".to_owned(), "1".to_owned()),
        "the header is part of the key"
    );
    let posted = client
        .post(format!("http://{addr}/count"))
        .send()
        .await
        .unwrap();
    assert!(
        posted.headers().get("x-cache").is_none(),
        "only GET is cached"
    );
    assert_eq!(posted.text().await.unwrap(), "2");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        get("en").await,
        ("MISS".to_owned(), "3".to_owned()),
        "expired after the TTL"
    );
    running.stop().await.unwrap();
}

/// Every HTTP server key of the Python original: each is read as its tamarco key (or, `debug`,
/// noted as having no effect), with one warning per key naming both; a misspelt key of ours is
/// noted with the closest known key.
#[tokio::test]
async fn the_originals_http_server_keys_are_honoured_with_one_warning_each() {
    let settings = json!({"system": {"resources": {"http_server": {
        "port": 0,
        "keep_alive_connections": false,
        "cache_enabled": true,
        "cache_maxsize": 1,
        "cache_ttl": 60,
        "cache_header_keys": ["accept-language"],
        "debug": true,
        "request_timout_seconds": 5,
    }}}});
    let running = TestService::builder(Cached::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let server = &running.service().http_server;
    let read = server.settings().unwrap();
    assert!(!read.keep_alive);
    assert!(read.cache.enabled);
    assert_eq!(read.cache.max_entries, 1);
    assert_eq!(read.cache.ttl_seconds.get(), Duration::from_secs(60));
    assert_eq!(read.cache.headers, ["accept-language"]);
    let addr = server.local_addr().unwrap();
    let client = client_builder().pool_max_idle_per_host(0).build().unwrap();
    let get = |lang: &'static str| {
        let request = client
            .get(format!("http://{addr}/count"))
            .header("accept-language", lang);
        async move {
            let response = request.send().await.unwrap();
            let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
            (header("connection"), header("x-cache"))
        }
    };
    let close = || "close".to_owned();
    assert_eq!(get("en").await, (close(), "MISS".to_owned()));
    assert_eq!(get("en").await, (close(), "HIT".to_owned()));
    assert_eq!(get("fr").await, (close(), "MISS".to_owned()));
    assert_eq!(
        get("en").await,
        (close(), "MISS".to_owned()),
        "cache_maxsize 1: fr pushed en out"
    );

    let notes = running.handle().settings().key_notes();
    let key = |name: &str| format!("system.resources.http_server.{name}");
    let described: Vec<(String, String)> = notes
        .iter()
        .map(|note| {
            let kind = match &note.kind {
                KeyNoteKind::Renamed { instead } => instead.clone(),
                KeyNoteKind::NoEffect => "no effect".to_owned(),
                KeyNoteKind::Unknown { closest } => format!("unknown, closest {closest:?}"),
                other => format!("{other:?}"),
            };
            (note.key.clone(), kind)
        })
        .collect();
    for (old, new) in [
        ("keep_alive_connections", "keep_alive"),
        ("cache_enabled", "cache.enabled"),
        ("cache_maxsize", "cache.max_entries"),
        ("cache_ttl", "cache.ttl_seconds"),
        ("cache_header_keys", "cache.headers"),
    ] {
        assert!(
            described.contains(&(key(old), key(new))),
            "{old} -> {new}: {described:#?}"
        );
        let note = notes.iter().find(|n| n.key == key(old)).unwrap();
        assert!(
            note.message.contains(&key(old)) && note.message.contains(&key(new)),
            "the warning names both keys: {}",
            note.message
        );
    }
    assert!(described.contains(&(key("debug"), "no effect".to_owned())));
    assert!(
        described.contains(&(
            key("request_timout_seconds"),
            "unknown, closest Some(\"request_timeout_seconds\")".to_owned()
        )),
        "{described:#?}"
    );
    assert_eq!(notes.len(), 7, "one note per key: {described:#?}");
    running.stop().await.unwrap();
}

// --- request metrics -----------------------------------------------------------------------------

#[microservice(name = "metered")]
#[derive(Default)]
struct Metered {
    #[resource]
    metered_api: HttpServer,
}

#[microservice]
impl Metered {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new().route(
            "/items/{id}",
            get(|Path(id): Path<u32>| async move { format!("item {id}") }),
        );
        self.metered_api.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

#[tokio::test]
async fn requests_are_counted_by_route_method_and_status_with_latency() {
    tamarco::metrics::install().expect("tamarco's recorder");
    let settings = json!({"system": {"resources": {"metered_api": {"port": 0}}}});
    let running = TestService::builder(Metered::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let addr = running.service().metered_api.local_addr().unwrap();
    for path in ["/items/1", "/items/2", "/nowhere", "/items/x"] {
        get_text(&format!("http://{addr}{path}")).await;
    }
    let client = client_builder().build().unwrap();
    client
        .delete(format!("http://{addr}/items/1"))
        .send()
        .await
        .unwrap();

    let text = tamarco::metrics::exposition("metered").unwrap();
    let value = |name: &str, route: &str, method: &str, status: &str| -> f64 {
        let series = format!(
            "{name}{{server=\"metered_api\",route=\"{route}\",method=\"{method}\",status=\"{status}\"}} "
        );
        let line = text.lines().find_map(|line| line.strip_prefix(&series));
        line.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series}in\n{text}"))
    };
    let requests = "metered_http_server_requests_total";
    assert_eq!(value(requests, "/items/{id}", "GET", "200"), 2.0);
    assert_eq!(
        value(requests, "/items/{id}", "GET", "400"),
        1.0,
        "a path that does not parse"
    );
    assert_eq!(value(requests, "unmatched", "GET", "404"), 1.0);
    assert_eq!(value(requests, "/items/{id}", "DELETE", "405"), 1.0);
    assert_eq!(
        value(
            "metered_http_server_request_duration_seconds_count",
            "/items/{id}",
            "GET",
            "200"
        ),
        2.0
    );
    assert!(
        value(
            "metered_http_server_request_duration_seconds_sum",
            "/items/{id}",
            "GET",
            "200"
        ) > 0.0
    );
    running.stop().await.unwrap();
}

/// The same routes declared with `#[route]` on two servers: `plain_api` observes each handler
/// itself, `timed_api` (a request timeout set) observes its routes as a whole.
#[microservice(name = "declared_metered")]
#[derive(Default)]
struct DeclaredMetered {
    #[resource]
    plain_api: HttpServer,
    #[resource]
    timed_api: HttpServer,
}

#[microservice]
impl DeclaredMetered {
    #[route(plain_api, GET "/items/{id}")]
    #[route(timed_api, GET "/items/{id}")]
    async fn item(&self, Path(id): Path<u32>, request: RequestId) -> String {
        format!("item {id} of request {request}")
    }

    #[route(plain_api, GET "/panics")]
    #[route(timed_api, GET "/panics")]
    async fn panics(&self) -> &'static str {
        panic!("a declared handler failed")
    }
}

#[tokio::test]
async fn declared_routes_are_observed_as_routes_built_by_hand() {
    tamarco::metrics::install().expect("tamarco's recorder");
    let settings = json!({"system": {"resources": {
        "plain_api": {"port": 0},
        "timed_api": {"port": 0, "request_timeout_seconds": 5},
    }}});
    let running = TestService::builder(DeclaredMetered::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let client = client_builder().pool_max_idle_per_host(0).build().unwrap();
    let text = |server: &'static str| {
        let text = tamarco::metrics::exposition("declared_metered").unwrap();
        move |route: &str, method: &str, status: &str| -> f64 {
            let series = format!(
                "declared_metered_http_server_requests_total{{server=\"{server}\",route=\"{route}\",method=\"{method}\",status=\"{status}\"}} "
            );
            let line = text.lines().find_map(|line| line.strip_prefix(&series));
            line.and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {series}in\n{text}"))
        }
    };
    for (server, addr) in [
        (
            "plain_api",
            running.service().plain_api.local_addr().unwrap(),
        ),
        (
            "timed_api",
            running.service().timed_api.local_addr().unwrap(),
        ),
    ] {
        let response = client
            .get(format!("http://{addr}/items/7"))
            .header("x-request-id", "given-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "given-1", "{server}");
        assert_eq!(response.text().await.unwrap(), "item 7 of request given-1");
        for (method, path, status) in [
            ("GET", "/items/8", 200),
            ("GET", "/items/x", 400),
            ("DELETE", "/items/7", 405),
            ("GET", "/nowhere", 404),
            ("GET", "/panics", 500),
        ] {
            let method = method.parse().unwrap();
            let response = client
                .request(method, format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{server} {path}");
            assert_eq!(
                response.headers()["x-request-id"].len(),
                32,
                "{server} {path}: a generated id"
            );
        }
        let value = text(server);
        assert_eq!(value("/items/{id}", "GET", "200"), 2.0, "{server}");
        assert_eq!(value("/items/{id}", "GET", "400"), 1.0, "{server}");
        assert_eq!(value("/items/{id}", "DELETE", "405"), 1.0, "{server}");
        assert_eq!(value("unmatched", "GET", "404"), 1.0, "{server}");
        assert_eq!(value("/panics", "GET", "500"), 1.0, "{server}");
    }
    running.stop().await.unwrap();
}

// --- server options: CORS, timeout, body limit ---------------------------------------------------

#[microservice(name = "options")]
#[derive(Default)]
struct Options {
    #[resource]
    open_api: HttpServer,
    #[resource]
    strict_api: HttpServer,
}

#[microservice]
impl Options {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/upload",
                post(|body: String| async move { body.len().to_string() }),
            );
        self.open_api.set_router(routes.clone());
        self.strict_api.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

#[tokio::test]
async fn cors_request_timeout_and_body_limit_follow_the_settings() {
    let settings = json!({"system": {"resources": {
        "open_api": {"port": 0, "cors": {"permissive": true}},
        "strict_api": {
            "port": 0,
            "request_timeout_seconds": 0.2,
            "request_body_limit_bytes": 16,
            "cors": {"allow_origins": ["https://good.example"], "allow_methods": ["GET"]},
        },
    }}});
    let running = TestService::builder(Options::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let open = running.service().open_api.local_addr().unwrap();
    let strict = running.service().strict_api.local_addr().unwrap();
    let client = client_builder().build().unwrap();
    let preflight = |addr: SocketAddr, origin: &'static str| {
        client
            .request(
                tamarco::http::reqwest::Method::OPTIONS,
                format!("http://{addr}/upload"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = |response: &tamarco::http::reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        allowed(&preflight(open, "https://any.example").await.unwrap()).as_deref(),
        Some("*")
    );
    assert_eq!(
        allowed(&preflight(strict, "https://good.example").await.unwrap()).as_deref(),
        Some("https://good.example")
    );
    assert_eq!(
        allowed(&preflight(strict, "https://evil.example").await.unwrap()),
        None
    );

    let started = Instant::now();
    let (status, _, _) = get_text(&format!("http://{strict}/slow")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(2));

    let upload = |addr: SocketAddr, body: &'static str| {
        client
            .post(format!("http://{addr}/upload"))
            .body(body)
            .send()
    };
    assert_eq!(
        upload(strict, "small").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        upload(strict, "far more than sixteen bytes")
            .await
            .unwrap()
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        upload(open, "far more than sixteen bytes")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "27"
    );
    running.stop().await.unwrap();
}

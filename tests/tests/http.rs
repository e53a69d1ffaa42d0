//! The HTTP resources over real loopback sockets: two servers from their own settings, handlers
//! that reach the service and its other resources, bind failures, the graceful drain under
//! load, the response cache, request metrics, server options, and the client resource.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::http::axum::Router;
use tamarco::http::axum::extract::{Path, State};
use tamarco::http::axum::http::{HeaderMap, StatusCode};
use tamarco::http::axum::routing::{get, post};
use tamarco::http::{HttpClient, HttpServer, RequestId, client_builder};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::settings::KeyNoteKind;
use tamarco::testing::{TestError, TestService};
use tamarco::{Error, error_chain};
use tamarco_tests::http_get;

/// A port that was free a moment ago.
fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET through a plain reqwest client (no pool, so every request sees the server as it is).
async fn get_text(url: &str) -> (StatusCode, HeaderMap, String) {
    let client = client_builder().pool_max_idle_per_host(0).build().unwrap();
    let response = client.get(url).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

// --- two servers, each from its own settings -------------------------------------------------

#[microservice(name = "two_servers")]
#[derive(Default)]
struct TwoServers {
    #[resource]
    public: HttpServer,
    #[resource]
    admin: HttpServer,
}

#[microservice]
impl TwoServers {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.public
            .set_router(Router::new().route("/", get(|| async { "public" })));
        self.admin
            .set_router(Router::new().route("/", get(|| async { "admin" })));
        stage.run().await?;
        Ok(())
    }
}

#[tokio::test]
async fn two_servers_listen_where_their_own_settings_say() {
    let (public_port, admin_port) = (free_port("127.0.0.1"), free_port("127.0.0.2"));
    let settings = json!({"system": {"resources": {
        "public": {"port": public_port},
        "admin": {"host": "127.0.0.2", "port": admin_port, "keep_alive": false},
    }}});
    let running = TestService::builder(TwoServers::default())
        .settings(settings)
        .start()
        .await
        .expect("both servers start");
    let service = Arc::clone(running.service());
    let public = service.public.local_addr().unwrap();
    let admin = service.admin.local_addr().unwrap();
    assert_eq!(public, SocketAddr::from(([127, 0, 0, 1], public_port)));
    assert_eq!(admin, SocketAddr::from(([127, 0, 0, 2], admin_port)));

    let (status, headers, body) = get_text(&format!("http://{public}/")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "public"));
    assert_eq!(headers.get("connection"), None, "keep-alive by default");
    assert_eq!(
        headers["x-request-id"].len(),
        32,
        "a generated request id: {headers:?}"
    );

    let (status, headers, body) = get_text(&format!("http://{admin}/")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "admin"));
    assert_eq!(
        headers["connection"], "close",
        "admin has keep_alive: false"
    );

    running.stop().await.unwrap();
    assert!(http_get(public, "/").is_err(), "closed after the stop");
}

// --- handlers reach the service and its other resources ----------------------------------------

/// A resource with settings, used by the handler.
#[derive(Default)]
struct Greeter {
    greeting: Mutex<String>,
}

impl Resource for Greeter {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        *self.greeting.lock().unwrap() = cx.settings().get_or("greeting", "Hello".to_owned())?;
        Ok(())
    }
}

#[microservice(name = "greeting")]
#[derive(Default)]
struct Greeting {
    #[resource]
    greeter: Greeter,
    #[resource(depends_on = [greeter])]
    http_server: HttpServer,
    served: AtomicU64,
}

#[microservice]
impl Greeting {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new()
            .route("/greet/{name}", get(greet))
            .with_state(Arc::clone(&self));
        self.http_server.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

async fn greet(
    State(service): State<Arc<Greeting>>,
    Path(name): Path<String>,
    id: RequestId,
) -> String {
    let n = service.served.fetch_add(1, Ordering::Relaxed) + 1;
    let greeting = service.greeter.greeting.lock().unwrap().clone();
    format!("{greeting}, {name}! (#{n}, {id})")
}

#[tokio::test]
async fn a_handler_uses_another_resource_and_the_service_state() {
    let settings = json!({"system": {"resources": {
        "greeter": {"greeting": "Hola"},
        "http_server": {"port": 0},
    }}});
    let running = TestService::builder(Greeting::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let addr = running.service().http_server.local_addr().unwrap();
    let client = client_builder().build().unwrap();
    let response = client
        .get(format!("http://{addr}/greet/Ada"))
        .header("x-request-id", "req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["x-request-id"],
        "req-1",
        "the client's id is echoed"
    );
    assert_eq!(response.text().await.unwrap(), "Hola, Ada! (#1, req-1)");
    let (_, _, body) = get_text(&format!("http://{addr}/greet/Grace")).await;
    assert!(body.starts_with("Hola, Grace! (#2, "), "{body}");
    running.stop().await.unwrap();
}

// --- bind failures ------------------------------------------------------------------------------

#[microservice(name = "taken")]
#[derive(Default)]
struct Taken {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Taken {}

#[tokio::test]
async fn a_taken_port_fails_the_start_naming_the_address() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();

    // The resource is FAILED.
    let mut cx = MicroserviceContext::new("taken");
    cx.settings()
        .set_internal("system.resources.http_server.port", port)
        .unwrap();
    cx.add("http_server", HttpServer::new());
    let error = cx.start().await.expect_err("the port is taken");
    assert_eq!(cx.status("http_server"), Some(ResourceStatus::Failed));
    let message = error_chain(&error);
    assert!(
        message.starts_with(&format!(
            "resource `http_server` failed in start: cannot listen on 127.0.0.1:{port}: "
        )),
        "{message}"
    );

    // The service does not start and exits 1 with the same error.
    let settings = json!({"system": {"resources": {"http_server": {"port": port}}}});
    let error = TestService::builder(Taken::default())
        .settings(settings)
        .start()
        .await
        .unwrap_err();
    assert!(
        error_chain(&error).starts_with("service `taken` failed to start: resource `http_server`"),
        "{error:?}"
    );
    let TestError::Start { source: error, .. } = error else {
        panic!("a start error: {error:?}")
    };
    assert!(
        matches!(&error, Error::Resource(e) if e.resource == "http_server"),
        "{error:?}"
    );
    assert!(error_chain(&error).contains(&format!("cannot listen on 127.0.0.1:{port}")));
    assert_eq!(ExitStatus::of(&Err(error)).code(), 1);
}

#[tokio::test]
async fn an_address_that_cannot_be_bound_fails_the_start_naming_it() {
    for (host, port) in [("no-such-host.invalid", 8080), ("192.0.2.1", 0)] {
        let mut cx = MicroserviceContext::new("bad_address");
        cx.settings()
            .set_internal("system.resources.http_server.host", host)
            .unwrap();
        cx.settings()
            .set_internal("system.resources.http_server.port", port)
            .unwrap();
        cx.add("http_server", HttpServer::new());
        let error = cx.start().await.expect_err("the address cannot be bound");
        assert_eq!(cx.status("http_server"), Some(ResourceStatus::Failed));
        let message = error_chain(&error);
        assert!(
            message.contains(&format!("cannot listen on {host}:{port}: ")),
            "{message}"
        );
    }
}

// --- graceful drain under load -------------------------------------------------------------------

#[microservice(name = "drain")]
#[derive(Default)]
struct Drain {
    #[resource]
    http_server: HttpServer,
    /// The request ids that reached the handler.
    seen: Mutex<HashSet<String>>,
}

#[microservice]
impl Drain {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new()
            .route("/work", get(work))
            .with_state(Arc::clone(&self));
        self.http_server.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

async fn work(State(service): State<Arc<Drain>>, id: RequestId) -> &'static str {
    service.seen.lock().unwrap().insert(id.to_string());
    tokio::time::sleep(Duration::from_millis(100)).await;
    "done"
}

/// What one request of the load came to.
#[derive(Debug)]
enum Outcome {
    /// An answer, with its status and when it arrived.
    Answered {
        id: String,
        status: u16,
        at: Instant,
    },
    /// The connection was refused; when the attempt began.
    Refused { at: Instant },
    /// Connected, but no answer; when the attempt began.
    Lost {
        id: String,
        at: Instant,
        error: String,
    },
}

/// One client of the load: new connection per request, until refused or `deadline`.
fn load(addr: SocketAddr, client: usize, deadline: Instant, outcomes: Arc<Mutex<Vec<Outcome>>>) {
    for n in 0.. {
        if Instant::now() > deadline {
            return;
        }
        let id = format!("c{client}-{n}");
        let at = Instant::now();
        let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(stream) => stream,
            Err(_) => {
                outcomes.lock().unwrap().push(Outcome::Refused { at });
                return;
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "GET /work HTTP/1.1\r\nHost: {addr}\r\nx-request-id: {id}\r\nConnection: close\r\n\r\n"
        );
        let mut response = String::new();
        let outcome = match stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.read_to_string(&mut response))
        {
            Ok(_) if response.starts_with("HTTP/1.1 ") => {
                let status = response[9..12].parse().unwrap_or(0);
                Outcome::Answered {
                    id,
                    status,
                    at: Instant::now(),
                }
            }
            Ok(_) => Outcome::Lost {
                id,
                at,
                error: format!("no answer: {response:?}"),
            },
            Err(error) => Outcome::Lost {
                id,
                at,
                error: error.to_string(),
            },
        };
        outcomes.lock().unwrap().push(outcome);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_under_load_completes_every_accepted_request() {
    let settings = json!({"system": {
        "shutdown": {"grace_period_seconds": 20},
        "resources": {
            "tamarco_http_report_server": {"port": 0},
            "http_server": {"port": 0, "drain_delay_seconds": 1.0},
        },
    }});
    let running = TestService::builder(Drain::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let service = Arc::clone(running.service());
    let addr = service.http_server.local_addr().unwrap();
    let report = running.report_addr().unwrap();
    let handle = running.handle().shutdown().clone();
    let ready = move || {
        http_get(report, "/health/ready")
            .map(|(code, _)| code)
            .unwrap_or(0)
    };
    assert_eq!(tokio::task::spawn_blocking(ready).await.unwrap(), 200);

    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let clients: Vec<_> = (0..6)
        .map(|client| {
            let outcomes = Arc::clone(&outcomes);
            std::thread::spawn(move || load(addr, client, deadline, outcomes))
        })
        .collect();
    // A steady stream first: every client has been answered at least twice.
    let answered = |outcomes: &Mutex<Vec<Outcome>>| {
        outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|o| matches!(o, Outcome::Answered { .. }))
            .count()
    };
    let waited = Instant::now();
    while answered(&outcomes) < 12 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the load never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let stop_at = Instant::now();
    handle.stop_gracefully();
    let readiness = tokio::task::spawn_blocking(ready).await.unwrap();
    let not_ready_at = Instant::now();
    assert_eq!(
        readiness, 503,
        "readiness is false as soon as the stop begins"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(15), running.wait())
        .await
        .expect("the stop finishes");
    assert!(stopped.is_ok(), "{stopped:?}");
    for client in clients {
        client.join().unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let seen = service.seen.lock().unwrap().clone();
    let mut answered_ids = HashSet::new();
    let (mut refused, mut after_stop) = (0, 0);
    for outcome in &outcomes {
        match outcome {
            Outcome::Answered { id, status, at } => {
                assert_eq!(*status, 200, "{id} was answered {status}");
                answered_ids.insert(id.clone());
                after_stop += usize::from(*at > stop_at);
            }
            Outcome::Refused { at } => {
                refused += 1;
                assert!(
                    *at > not_ready_at,
                    "a connection was refused before readiness went 503"
                );
            }
            Outcome::Lost { id, at, error } => {
                assert!(
                    !seen.contains(id),
                    "{id} reached the handler but got no answer: {error}"
                );
                assert!(*at > stop_at, "{id} was lost before the stop: {error}");
            }
        }
    }
    let unanswered: Vec<_> = seen.difference(&answered_ids).collect();
    assert!(
        unanswered.is_empty(),
        "accepted but not answered: {unanswered:?}"
    );
    assert!(
        after_stop >= 6,
        "requests in flight at the stop finished: {after_stop}"
    );
    assert_eq!(
        refused, 6,
        "every client was refused in the end: {outcomes:#?}"
    );
}

// --- the response cache --------------------------------------------------------------------------

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

// --- the client resource -------------------------------------------------------------------------

#[microservice(name = "client_and_server")]
#[derive(Default)]
struct ClientAndServer {
    #[resource]
    backend: HttpClient,
    #[resource(depends_on = [backend])]
    http_server: HttpServer,
}

#[microservice]
impl ClientAndServer {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new()
            .route(
                "/api/hello",
                get(|headers: HeaderMap| async move {
                    format!("hello, {}", headers["x-caller"].to_str().unwrap())
                }),
            )
            .route("/api/echo", post(|body: String| async move { body }))
            .route(
                "/api/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/relay", get(relay))
            .with_state(Arc::clone(&self));
        self.http_server.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

/// A handler that calls the server again through the client resource.
async fn relay(State(service): State<Arc<ClientAndServer>>) -> Result<String, StatusCode> {
    let response = service
        .backend
        .get("hello")
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let body = response.text().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(format!("relayed: {body}"))
}

#[tokio::test]
async fn the_client_resource_talks_to_the_server_resource() {
    let port = free_port("127.0.0.1");
    let settings = json!({"system": {"resources": {
        "http_server": {"port": port},
        "backend": {
            "base_url": format!("http://127.0.0.1:{port}/api"),
            "timeout_seconds": 0.3,
            "default_headers": {"x-caller": "tamarco"},
        },
    }}});
    let running = TestService::builder(ClientAndServer::default())
        .settings(settings)
        .start()
        .await
        .unwrap();
    let service = Arc::clone(running.service());
    let backend = &service.backend;

    assert_eq!(
        backend.url("hello").unwrap().as_str(),
        format!("http://127.0.0.1:{port}/api/hello")
    );
    assert_eq!(
        backend
            .get("/hello")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hello, tamarco"
    );
    let echoed = backend
        .post("echo")
        .body("ping")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, "ping");
    let timeout = backend.get("slow").send().await.unwrap_err();
    assert!(timeout.is_timeout(), "{timeout}");
    let relayed = backend
        .get(&format!("http://127.0.0.1:{port}/relay"))
        .send()
        .await
        .unwrap();
    assert_eq!(relayed.text().await.unwrap(), "relayed: hello, tamarco");

    running.stop().await.unwrap();
    assert!(
        service.backend.try_client().is_none(),
        "the client is dropped on stop"
    );
}

//! Hostile clients and signals against real service processes (issue 14): idle and half-open
//! connections do not hold the graceful stop, a SIGTERM under load loses no request the server
//! had read, a panicking handler answers 500, and summaries stay bounded without scrapes; and,
//! in process, the HTTP client keeps its secrets, the server caps its connections, the cache
//! keeps users apart, WebSockets have a message limit, a cap and pings, and the HTTP client
//! times out on a network that silently drops packets (through a proxy the test runs).
//!
//! One file over 400 lines on purpose: one test binary for the issue, so CI links it once.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tamarco::http::axum::Router;
use tamarco::http::axum::response::Response;
use tamarco::http::axum::routing::get;
use tamarco::http::{HttpClient, HttpServer, client_builder};
use tamarco::serde_json::{Value, json};
use tamarco::websocket::{WebSocket, WebSocketServer, WebSocketUpgrade};
use tamarco::{MicroserviceContext, error_chain};
use tamarco_tests::{Probe, http_get};
use tokio_tungstenite::tungstenite::Message as ClientMessage;

const HTTP_PROBE: &str = env!("CARGO_BIN_EXE_http_probe");
const PROBE: &str = env!("CARGO_BIN_EXE_probe");

/// The address of the probe's `HttpServer`, read from its log.
fn http_addr(probe: &mut Probe) -> SocketAddr {
    let line = probe.wait_for_line("http server listening on http://", Duration::from_secs(10));
    let addr = line.rsplit("http://").next().unwrap();
    let addr = addr.split_whitespace().next().unwrap_or_default();
    addr.parse()
        .unwrap_or_else(|_| panic!("an address in the log line: {line}"))
}

/// A connection that never sends anything, and one that stops in the middle of its headers.
fn idle_and_half_open(addr: SocketAddr) -> [TcpStream; 2] {
    let idle = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    [idle, half]
}

#[test]
fn idle_and_half_open_connections_do_not_hold_the_graceful_stop() {
    let mut probe = Probe::spawn_with(HTTP_PROBE, "", &[("PROBE_GRACE", "6")]);
    let report = probe.report_addr();
    let http = http_addr(&mut probe);
    probe.wait_for_line("started service=\"http_probe\"", Duration::from_secs(10));
    let _held = [idle_and_half_open(report), idle_and_half_open(http)];
    // The server has taken them in: a request on a fresh connection is answered after them.
    assert_eq!(http_get(report, "/status").unwrap().0, 200);

    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(15));
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        took < Duration::from_secs(2),
        "the stop took {took:?} of a 6 s grace period"
    );
}

#[test]
fn a_panicking_handler_answers_500_keeps_the_connection_and_is_counted() {
    let mut probe = Probe::spawn(HTTP_PROBE, "");
    let report = probe.report_addr();
    let http = http_addr(&mut probe);
    let mut connection = KeepAlive::connect(http);
    assert_eq!(connection.get("/panic", "p1").unwrap(), 500);
    assert_eq!(
        connection.get("/work", "after-panic").unwrap(),
        200,
        "the same connection serves the next request"
    );
    let (code, metrics) = http_get(report, "/metrics").unwrap();
    assert_eq!(code, 200);
    let counted = |line: &str| {
        line.starts_with("http_probe_http_server_panics_total{server=\"http_server\"} 1")
    };
    assert!(metrics.lines().any(counted), "{metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "http_probe_http_server_requests_total{server=\"http_server\",route=\"/panic\",method=\"GET\",status=\"500\"} 1"
        )),
        "{metrics}"
    );
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the handler panicked: the probe's handler panics on purpose")),
        "{lines:#?}"
    );
}

/// One keep-alive HTTP/1.1 client connection.
struct KeepAlive {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl KeepAlive {
    fn connect(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        Self::over(stream)
    }

    fn over(stream: TcpStream) -> KeepAlive {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        KeepAlive {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends a GET with request id `id`; returns the status once the whole response is read.
    fn get(&mut self, path: &str, id: &str) -> std::io::Result<u16> {
        // One write: pieces would wait on each other's ACK (Nagle), and the load would be idle.
        let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nx-request-id: {id}\r\n\r\n");
        self.writer.write_all(request.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not a status line: {line:?}")))?;
        let mut length = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

/// What happened to the requests of one client of the load.
#[derive(Debug, Default)]
struct Tally {
    /// Ids answered 200.
    answered: Vec<String>,
    /// Ids sent on a connection that then failed, with the error.
    failed: Vec<(String, String)>,
    /// Ids answered with another status.
    bad_status: Vec<(String, u16)>,
}

/// One client of the load: keep-alive connections, a new one whenever the server closes one,
/// until a connection is refused (the server is gone) or `deadline`.
fn load(addr: SocketAddr, client: usize, deadline: Instant, tally: Arc<Mutex<Tally>>) {
    let mut connection: Option<KeepAlive> = None;
    for n in 0.. {
        if Instant::now() > deadline {
            return;
        }
        let id = format!("c{client}-{n}");
        let current = match connection.as_mut() {
            Some(current) => current,
            None => match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => connection.insert(KeepAlive::over(stream)),
                Err(_) => return,
            },
        };
        match current.get("/work?ms=20", &id) {
            Ok(200) => tally.lock().unwrap().answered.push(id),
            Ok(status) => tally.lock().unwrap().bad_status.push((id, status)),
            Err(error) => {
                tally.lock().unwrap().failed.push((id, error.to_string()));
                connection = None;
            }
        }
    }
}

#[test]
fn sigterm_under_load_answers_every_request_the_server_read() {
    let seen_file = std::env::temp_dir().join(format!("http_probe_seen_{}", std::process::id()));
    let seen_path = seen_file.to_str().unwrap().to_owned();
    let mut probe = Probe::spawn_with(
        HTTP_PROBE,
        "",
        &[("PROBE_GRACE", "10"), ("PROBE_SEEN_FILE", &seen_path)],
    );
    let http = http_addr(&mut probe);
    probe.wait_for_line("started service=\"http_probe\"", Duration::from_secs(10));

    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let tally = Arc::clone(&tally);
            std::thread::spawn(move || load(http, client, deadline, tally))
        })
        .collect();
    let waited = Instant::now();
    while tally.lock().unwrap().answered.len() < 200 {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "the load never got going: {:?}",
            tally.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let before = tally.lock().unwrap().answered.len();
    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(20));
    for client in clients {
        client.join().unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let seen = std::fs::read_to_string(&seen_file).expect("the probe wrote the ids it read");
    let _ = std::fs::remove_file(&seen_file);
    let seen: HashSet<&str> = seen.lines().collect();
    let answered: HashSet<&str> = tally.answered.iter().map(String::as_str).collect();
    let lost: Vec<&&str> = seen.difference(&answered).collect();
    println!(
        "SIGTERM under load: {} requests read by the server, {} answered ({before} before the \
         signal), {} lost, {} not read (their connection closed), exit code {code}, stop took {took:?}",
        seen.len(),
        answered.len(),
        lost.len(),
        tally.failed.len(),
    );
    assert_eq!(code, 0, "{lines:#?}");
    assert!(lost.is_empty(), "read but not answered: {lost:?}");
    assert!(tally.bad_status.is_empty(), "{:?}", tally.bad_status);
    for (id, error) in &tally.failed {
        assert!(
            !seen.contains(id.as_str()),
            "{id} was read, yet its connection failed: {error}"
        );
    }
    assert!(
        took < Duration::from_secs(5),
        "the stop took {took:?} of a 10 s grace period"
    );
}

#[test]
fn summaries_stay_bounded_when_nobody_scrapes() {
    let mut probe = Probe::spawn(PROBE, "summary_flood");
    let line = probe.wait_for_line("summary flood:", Duration::from_secs(60));
    println!("{line}");
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{lines:#?}");
    let grew_mib: f64 = line
        .rsplit("peak memory grew by ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line:?}"));
    // 10 million observations held until a scrape take about 80 MiB.
    assert!(grew_mib < 32.0, "{line}");
}

/// A context with the resource settings `settings` at `system.resources.<name>`.
fn context_with(name: &str, settings: Value) -> MicroserviceContext {
    let cx = MicroserviceContext::new("hardening");
    cx.settings()
        .set_internal(&format!("system.resources.{name}"), settings)
        .unwrap();
    cx
}

#[tokio::test]
async fn http_client_secrets_stay_out_of_debug_output_and_errors() {
    let mut cx = context_with(
        "backend",
        json!({
            "base_url": "http://me:hunter2@127.0.0.1:9/api",
            "default_headers": {"authorization": "Bearer s3cr3t-token"},
        }),
    );
    let backend = cx.add("backend", HttpClient::new());
    cx.start().await.unwrap();
    let error = backend.get("x").send().await.unwrap_err();
    let shown = format!("{backend:?} {:?} {error} {error:?}", backend.client());
    for secret in ["hunter2", "s3cr3t-token"] {
        assert!(!shown.contains(secret), "{secret} shows in: {shown}");
    }
    cx.stop().await.unwrap();

    let mut cx = context_with(
        "backend",
        json!({"default_headers": {"x-api-key": "s3cr3t\nvalue"}}),
    );
    cx.add("backend", HttpClient::new());
    let error = error_chain(&cx.start().await.unwrap_err());
    assert!(error.contains("default_headers.x-api-key"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");

    let mut cx = context_with("backend", json!({"base_url": "http://me:hunter2@[::1"}));
    cx.add("backend", HttpClient::new());
    let error = error_chain(&cx.start().await.unwrap_err());
    assert!(error.contains("base_url"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[tokio::test]
async fn the_connection_cap_holds_new_clients_until_one_closes() {
    let mut cx = context_with("api", json!({"port": 0, "max_connections": 2}));
    let api = cx.add("api", HttpServer::new());
    api.set_router(Router::new().route("/", get(|| async { "hello" })));
    cx.start().await.unwrap();
    let addr = api.local_addr().unwrap();
    let first = TcpStream::connect(addr).unwrap();
    let _second = TcpStream::connect(addr).unwrap();
    let waited = Instant::now();
    while api.open_connections() < 2 {
        assert!(waited.elapsed() < Duration::from_secs(5), "never two open");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The third connects (the system's backlog) but is not taken in while two are open.
    let third = tokio::task::spawn_blocking(move || {
        let mut third = KeepAlive::connect(addr);
        third.get("/", "third")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.open_connections(), 2);
    assert!(!third.is_finished(), "the third was served over the cap");
    drop(first);
    let answered = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(answered.unwrap(), 200);
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn websockets_have_a_message_limit_a_cap_and_pings() {
    let mut cx = context_with(
        "ws",
        json!({"port": 0, "max_websockets": 1, "ping_interval_seconds": 0.1}),
    );
    let ws = cx.add("ws", WebSocketServer::new());
    ws.set_router(Router::new().route("/echo", get(echo)));
    cx.start().await.unwrap();
    let url = format!("ws://{}/echo", ws.local_addr().unwrap());
    let (mut client, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let waited = Instant::now();
    while ws.open_websockets() < 1 {
        assert!(waited.elapsed() < Duration::from_secs(5), "never open");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A second connection is over the cap.
    let refused = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(refused.to_string().contains("503"), "{refused}");

    // Pings arrive without any traffic.
    let ping = tokio::time::timeout(Duration::from_secs(5), client.next())
        .await
        .expect("a ping in time");
    assert!(matches!(ping, Some(Ok(ClientMessage::Ping(_)))), "{ping:?}");

    // A 2 MiB message is over the 1 MiB default: not echoed, the connection ends.
    client
        .send(ClientMessage::binary(vec![0u8; 2 * 1024 * 1024]))
        .await
        .unwrap();
    let close = loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), client.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(ClientMessage::Ping(_))) => continue,
            other => break other,
        }
    };
    assert!(
        matches!(
            close,
            Some(Ok(ClientMessage::Close(_))) | Some(Err(_)) | None
        ),
        "expected the end of the connection, got {close:?}"
    );
    cx.stop().await.unwrap();
}

async fn echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

/// A server with the response cache on, whose `/me` answers a new number every call and whose
/// `/varies` does too, with `vary: accept-encoding`.
async fn cached_server(cache: Value) -> (MicroserviceContext, SocketAddr) {
    let mut cx = context_with("api", json!({"port": 0, "cache": cache}));
    let api = cx.add("api", HttpServer::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let count = move || {
        let calls = Arc::clone(&calls);
        async move { (calls.fetch_add(1, Ordering::SeqCst) + 1).to_string() }
    };
    let varies = count.clone();
    let routes = Router::new().route("/me", get(count)).route(
        "/varies",
        get(move || {
            let body = varies();
            async move { ([("vary", "accept-encoding")], body.await) }
        }),
    );
    api.set_router(routes);
    cx.start().await.unwrap();
    let addr = api.local_addr().unwrap();
    (cx, addr)
}

/// A GET with `headers`; the `x-cache` mark and the body.
async fn cache_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let client = client_builder().pool_max_idle_per_host(0).build().unwrap();
    let mut request = client.get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let mark = response.headers()["x-cache"].to_str().unwrap().to_owned();
    (mark, response.text().await.unwrap())
}

#[tokio::test]
async fn the_cache_never_serves_one_users_answer_to_another() {
    let (mut cx, addr) = cached_server(json!({"enabled": true})).await;
    for (name, alice, bob) in [
        ("authorization", "Bearer alice", "Bearer bob"),
        ("cookie", "session=alice", "session=bob"),
    ] {
        let for_alice = cache_get(addr, "/me", &[(name, alice)]).await;
        let for_bob = cache_get(addr, "/me", &[(name, bob)]).await;
        assert_ne!(
            for_bob.1, for_alice.1,
            "bob got alice's answer through {name}"
        );
        let anonymous = cache_get(addr, "/me", &[]).await;
        assert_ne!(anonymous.1, for_alice.1, "{name}");
    }
    cx.stop().await.unwrap();

    // Keyed on the credentials, each user has entries of their own.
    let (mut cx, addr) =
        cached_server(json!({"enabled": true, "headers": ["authorization"]})).await;
    let alice = cache_get(addr, "/me", &[("authorization", "alice")]).await;
    let bob = cache_get(addr, "/me", &[("authorization", "bob")]).await;
    assert_ne!(alice.1, bob.1);
    let again = cache_get(addr, "/me", &[("authorization", "alice")]).await;
    assert_eq!(again, ("HIT".to_owned(), alice.1));
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_cached_answer_that_varies_goes_only_to_the_same_variant() {
    let (mut cx, addr) = cached_server(json!({"enabled": true})).await;
    let gzip = [("accept-encoding", "gzip")];
    let first = cache_get(addr, "/varies", &gzip).await;
    assert_eq!(
        cache_get(addr, "/varies", &gzip).await,
        ("HIT".to_owned(), first.1.clone())
    );
    let other = cache_get(addr, "/varies", &[("accept-encoding", "br")]).await;
    assert_eq!(other.0, "MISS");
    assert_ne!(other.1, first.1);
    cx.stop().await.unwrap();
}

/// A TCP proxy to `upstream` that, while `silent` is set, swallows every byte both ways
/// without closing anything: a network that drops packets.
fn silent_proxy(upstream: SocketAddr, silent: Arc<AtomicBool>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            for (from, to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let silent = Arc::clone(&silent);
                std::thread::spawn(move || pump(from, to, &silent));
            }
        }
    });
    addr
}

fn pump(mut from: TcpStream, mut to: TcpStream, silent: &AtomicBool) {
    let mut buffer = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        if !silent.load(Ordering::SeqCst) && to.write_all(&buffer[..n]).is_err() {
            return;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

#[tokio::test]
async fn the_http_client_times_out_on_a_silent_network_and_recovers_when_it_heals() {
    let mut cx = context_with("api", json!({"port": 0}));
    let api = cx.add("api", HttpServer::new());
    api.set_router(Router::new().route("/", get(|| async { "hello" })));
    cx.start().await.unwrap();
    let silent = Arc::new(AtomicBool::new(false));
    let proxy = silent_proxy(api.local_addr().unwrap(), Arc::clone(&silent));

    let mut client_cx = context_with(
        "backend",
        json!({"base_url": format!("http://{proxy}"), "timeout_seconds": 0.5}),
    );
    let backend = client_cx.add("backend", HttpClient::new());
    client_cx.start().await.unwrap();
    let get = || async {
        backend
            .get("/")
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    };
    assert_eq!(get().await.unwrap(), "hello");

    silent.store(true, Ordering::SeqCst);
    let began = Instant::now();
    let error = get().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );

    silent.store(false, Ordering::SeqCst);
    assert_eq!(
        get()
            .await
            .expect("a new connection once the network heals"),
        "hello"
    );
    client_cx.stop().await.unwrap();
    cx.stop().await.unwrap();
}

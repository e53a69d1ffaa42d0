//! The HTTP client: secrets kept out of `Debug` and errors, and a timeout on a network that
//! silently drops packets, then recovery once it heals.

use super::*;

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

//! The server side: a cap on connections, the header read timeout, and WebSockets with a
//! message limit, a cap and pings.

use super::*;

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
async fn clients_slow_with_their_headers_are_closed_and_slow_handlers_are_not() {
    let settings = json!({"port": 0, "header_read_timeout_seconds": "400ms"});
    let mut cx = context_with("api", settings);
    let api = cx.add("api", HttpServer::new());
    let slow = get(|| async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        "slow"
    });
    api.set_router(
        Router::new()
            .route("/", get(|| async { "hello" }))
            .route("/slow", slow),
    );
    cx.start().await.unwrap();
    let addr = api.local_addr().unwrap();
    let closed = tokio::task::spawn_blocking(move || {
        // Half a request's headers, then nothing: the server closes the connection.
        let mut partial = TcpStream::connect(addr).unwrap();
        partial
            .write_all(b"GET / HTTP/1.1\r\nHost: probe\r\n")
            .unwrap();
        partial
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let read = partial.read(&mut [0; 64]);
        // A handler three times the timeout is answered, and then the idle connection closed.
        let mut kept = KeepAlive::connect(addr);
        let slow = kept.get("/slow", "slow-1");
        let mut rest = Vec::new();
        let idle = kept.reader.read_to_end(&mut rest);
        (read, slow, idle)
    });
    let (read, slow, idle) = tokio::time::timeout(Duration::from_secs(15), closed)
        .await
        .expect("bounded by the sockets' read timeouts")
        .unwrap();
    assert_eq!(read.unwrap(), 0, "closed without an answer");
    assert_eq!(slow.unwrap(), 200, "a slow handler is answered");
    assert_eq!(idle.unwrap(), 0, "the idle keep-alive connection is closed");
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

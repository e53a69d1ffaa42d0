//! The server side: a cap on connections, and WebSockets with a message limit, a cap and pings.

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

//! The HTTP client resource talking to the server resource.

use super::*;

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

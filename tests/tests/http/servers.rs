//! Servers: two from their own settings, handlers that reach the service and its other
//! resources, and start failures naming the address.

use super::*;

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

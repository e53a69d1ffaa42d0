//! The graceful stop under load: every request that reached a handler completes.

use super::*;

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

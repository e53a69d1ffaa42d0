//! Request/response round trips per second, with concurrent requesters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tamarco::amqp::{Amqp, Request};
use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_tests::amqp::settings;

use crate::setup::{Payload, Svc, payload, start};

/// Requests in flight at once.
pub(crate) const REQUESTERS: u64 = 16;

/// Answers requests with the same payload.
#[microservice(name = "bench_amqp_server")]
struct Server {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Server {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.amqp
            .request_input("echo", Json)
            .handle_with(&self, Self::echo)?;
        stage.run().await?;
        Ok(())
    }

    async fn echo(self: Arc<Self>, request: Request<Payload, Payload>) -> Result<(), BoxError> {
        let reply = request.value().clone();
        request.respond(&reply).await?;
        Ok(())
    }
}

/// Round trips per second with `REQUESTERS` concurrent requesters for `seconds`.
pub(crate) async fn request_response(prefix: &str, seconds: u64) -> (f64, Duration) {
    let server = Server { amqp: Amqp::new() }
        .runtime()
        .handle_signals(false)
        .with_settings(settings(prefix, json!({})))
        .unwrap()
        .start()
        .await
        .unwrap();
    let client = Amqp::new();
    let echo = client.request_output::<Payload, Payload, _>("echo", Json);
    let client = start(Svc { amqp: client }, prefix, &json!({})).await;
    // Warm up: the reply queue is created by the first request.
    echo.request(&payload(0)).await.unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let until = began + Duration::from_secs(seconds);
    let mut requesters = Vec::new();
    for worker in 0..REQUESTERS {
        let echo = echo.clone();
        let done = Arc::clone(&done);
        requesters.push(tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut id = worker;
            while Instant::now() < until {
                let asked = Instant::now();
                let reply = echo.request(&payload(id)).await.expect("a reply");
                assert_eq!(reply.id, id);
                slowest = slowest.max(asked.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
                id += REQUESTERS;
            }
            slowest
        }));
    }
    let mut slowest = Duration::ZERO;
    for requester in requesters {
        slowest = slowest.max(requester.await.unwrap());
    }
    let rate = done.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64();
    client.stop().await.unwrap();
    server.stop().await.unwrap();
    (rate, slowest)
}

//! An HTTP service for the process-level fault tests (`tests/tests/hardening/`): an
//! `HttpServer` on a free port beside the report server (also on a free port), stopped by a
//! signal. Settings come from the environment:
//!
//! - `PROBE_GRACE`: the grace period in seconds (6 by default);
//! - `PROBE_SEEN_FILE`: where to write, at exit, the request ids that reached `/work`, one a
//!   line (the server-side count of the load test).
//!
//! Routes: `GET /work?ms=N` sleeps N ms and answers `done`, recording its `x-request-id`;
//! `GET /panic` panics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco::http::axum::extract::Query;
use tamarco::http::axum::{Router, routing::get};
use tamarco::http::{HttpServer, RequestId};
use tamarco::prelude::*;
use tamarco::serde_json::json;

#[microservice(name = "http_probe")]
#[derive(Default)]
struct HttpProbe {
    #[resource]
    http_server: HttpServer,
}

/// The request ids that reached `/work`; read after the service ended.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[microservice]
impl HttpProbe {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new()
            .route("/work", get(work))
            .route("/panic", get(panics));
        self.http_server.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

async fn work(Query(query): Query<HashMap<String, u64>>, id: RequestId) -> &'static str {
    SEEN.lock().unwrap().push(id.to_string());
    let ms = query.get("ms").copied().unwrap_or(0);
    tamarco::tokio::time::sleep(Duration::from_millis(ms)).await;
    "done"
}

async fn panics() -> &'static str {
    panic!("the probe's handler panics on purpose")
}

fn main() -> ExitStatus {
    let grace: f64 = std::env::var("PROBE_GRACE")
        .ok()
        .map(|g| g.parse().expect("PROBE_GRACE is a number"))
        .unwrap_or(6.0);
    let settings = json!({"system": {
        "shutdown": {"grace_period_seconds": grace},
        "resources": {
            "tamarco_http_report_server": {"port": 0},
            "http_server": {"port": 0},
        }
    }});
    let status = HttpProbe::default()
        .runtime()
        .with_settings(settings)
        .expect("valid settings")
        .run();
    if let Ok(path) = std::env::var("PROBE_SEEN_FILE") {
        let seen = SEEN.lock().unwrap().join("\n");
        std::fs::write(path, seen).expect("the seen file is written");
    }
    status
}

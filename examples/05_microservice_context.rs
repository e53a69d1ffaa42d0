//! 05 — `MicroserviceContext`: start and stop resources in a plain program, without a service,
//! default resources or signal handling (scripts, tests, tools).
//!
//! ```text
//! cargo run --example microservice_context
//! ```

use std::sync::Mutex;

use tamarco::prelude::*;

/// A resource that opens a "connection" on start and closes it on stop.
#[derive(Default)]
struct Connection {
    url: Mutex<Option<String>>,
}

impl Resource for Connection {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        *self.url.lock().unwrap() = Some(cx.settings().get("url")?);
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        println!(
            "{}: connected to {}",
            cx.name(),
            self.url.lock().unwrap().as_deref().unwrap_or("?")
        );
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        println!("{}: disconnected", cx.name());
        Ok(())
    }
}

#[tamarco::tokio::main(crate = "tamarco::tokio", flavor = "current_thread")]
async fn main() -> Result<(), tamarco::Error> {
    let mut context = MicroserviceContext::new("script");
    context
        .settings()
        .set_internal("system.resources.db.url", "postgres://127.0.0.1/test")?;
    let db = context.add("db", Connection::default());
    context.start().await?;
    println!(
        "db is {:?}; the script does its work here",
        context.status("db").unwrap()
    );
    drop(db);
    context.stop().await
}

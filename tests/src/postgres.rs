//! Support for the Postgres tests and benchmark: a schema of its own per test (dropped when the
//! guard drops, also when the test panics) and the settings that point a resource into it.

use std::sync::atomic::{AtomicU32, Ordering};

use tamarco::serde_json::{Value, json};

/// The machine's server, as the tests reach it.
pub const SERVER: &str = "127.0.0.1:5432";

/// A fresh schema, dropped with everything in it when this guard drops.
#[derive(Debug)]
pub struct Schema {
    name: String,
}

impl Schema {
    /// Creates `t_<tag>_<pid>_<n>`.
    pub async fn create(tag: &str) -> Schema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("t_{tag}_{}_{n}", std::process::id());
        let client = connect().await;
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .await
            .expect("create the test schema");
        Schema { name }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resource settings whose connections use this schema (`search_path`), merged over
    /// `extra`.
    pub fn settings(&self, extra: Value) -> Value {
        let mut settings = json!({
            "url": format!(
                "postgres://postgres@{SERVER}/test?options=-c%20search_path%3D{}",
                self.name
            ),
            "connection_timeout": 5,
        });
        if let (Some(map), Value::Object(extra)) = (settings.as_object_mut(), extra) {
            map.extend(extra);
        }
        settings
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // A runtime of its own, on a thread of its own: this may run inside the test's runtime.
        let dropping = std::thread::spawn(move || {
            let Ok(runtime) = tamarco::tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let client = connect().await;
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await;
            });
        });
        let _ = dropping.join();
    }
}

/// A plain client on the machine's server (database `test`, user `postgres`), its connection
/// driven by a task of the current runtime.
pub async fn connect() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("postgres://postgres@{SERVER}/test"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("the machine's PostgreSQL on 127.0.0.1:5432");
    tamarco::tokio::spawn(connection);
    client
}

//! 17 — the Python original's tutorial, "write your first microservice": a service with a
//! Postgres resource that creates a table, inserts a row, fetches the rows and logs them, with
//! in-code settings and no settings file. It runs again without error (the table and the row
//! are created only when missing) and stops by itself. Needs the cargo feature `postgres` of
//! `tamarco` and a PostgreSQL on 127.0.0.1:5432 where the user `postgres` may log in to the
//! database `test` without a password.
//!
//! ```text
//! cargo run --example postgres_first_microservice --features postgres,yaml
//! ```

use tamarco::postgres::Postgres;
use tamarco::prelude::*;
use tamarco::serde::Deserialize;
use tamarco::tracing::info;

/// One row of `my_table`, read by column name.
#[derive(Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Person {
    id: i32,
    name: String,
}

#[microservice(name = "my_awesome_project_name")]
#[derive(Default)]
struct MyMicroservice {
    #[resource]
    postgres: Postgres,
}

#[microservice]
impl MyMicroservice {
    #[task]
    async fn postgres_query(&self, cx: TaskContext) -> Result<(), BoxError> {
        let db = &self.postgres;
        db.execute(
            "CREATE TABLE IF NOT EXISTS my_table (id INT PRIMARY KEY NOT NULL, name TEXT NOT NULL)",
            &[],
        )
        .await?;
        db.execute(
            "INSERT INTO my_table (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            &[&1_i32, &"John Doe"],
        )
        .await?;
        let people: Vec<Person> = db.fetch("SELECT id, name FROM my_table", &[]).await?;
        for person in &people {
            info!(id = person.id, name = %person.name, "Data");
        }
        cx.shutdown().stop_gracefully();
        Ok(())
    }
}

/// The tutorial's in-code settings (its `update_internal`), plus the database.
const SETTINGS: &str = r#"
system:
  deploy_name: my_first_microservice
  logging:
    profile: DEVELOP
  resources:
    tamarco_http_report_server: { enabled: false }
    postgres:
      host: 127.0.0.1
      port: 5432
      user: postgres
      database: test
"#;

fn main() -> ExitStatus {
    let runtime = MyMicroservice::default().runtime();
    runtime
        .settings()
        .update_internal_yaml(SETTINGS)
        .expect("valid YAML");
    runtime.run()
}

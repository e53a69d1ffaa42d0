//! PostgreSQL: a pooled client with typed rows, transactions, statement caching and embedded
//! migrations (cargo feature `postgres`).
//!
//! [`Postgres`] is a resource like any other: declare it as a `#[resource]` field; it opens its
//! pool when the service starts and closes it when it stops. The Python original's tutorial,
//! "write your first microservice", reads:
//!
//! ```rust,no_run
//! use tamarco::postgres::Postgres;
//! use tamarco::prelude::*;
//!
//! #[derive(tamarco::serde::Deserialize)]
//! #[serde(crate = "tamarco::serde")]
//! struct Person { id: i32, name: String }
//!
//! #[microservice]
//! struct MyService {
//!     #[resource]
//!     postgres: Postgres,
//! }
//!
//! #[microservice]
//! impl MyService {
//!     #[task]
//!     async fn postgres_query(&self) -> Result<(), BoxError> {
//!         let db = &self.postgres;
//!         db.execute("CREATE TABLE IF NOT EXISTS my_table (id INT PRIMARY KEY, name TEXT NOT NULL)", &[]).await?;
//!         db.execute("INSERT INTO my_table (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", &[&1_i32, &"John Doe"]).await?;
//!         let people: Vec<Person> = db.fetch("SELECT id, name FROM my_table", &[]).await?;
//!         for person in &people {
//!             tracing::info!(id = person.id, name = %person.name, "data");
//!         }
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> ExitStatus {
//!     MyService { postgres: Postgres::new() }.run()
//! }
//! ```
//!
//! # Queries
//!
//! The [`Queries`] methods ([`execute`](Queries::execute), [`fetch`](Queries::fetch),
//! [`fetch_one`](Queries::fetch_one), [`fetch_opt`](Queries::fetch_opt),
//! [`query`](Queries::query) for raw rows, [`batch_execute`](Queries::batch_execute)) take a
//! connection from the pool for each statement when called on [`Postgres`]; called on a
//! [`Connection`] or a [`Transaction`] they all run on its one session. Rows are read into any serde type: a struct
//! or map by column name, a tuple by position, a plain value when there is one column.
//! Booleans, integers, floats, text, `bytea`, `json`/`jsonb`, enums and arrays of these are
//! read; cast other types in SQL (`created_at::text`). Statements are prepared once per
//! connection and cached. [`connection`](Postgres::connection) keeps one connection for
//! several statements.
//!
//! # Transactions
//!
//! [`transaction`](Postgres::transaction) runs a closure inside `BEGIN`: `COMMIT` when it returns
//! `Ok`, `ROLLBACK` when it returns `Err` or panics (the panic then carries on). A transaction
//! cancelled half-way (its future dropped) closes its connection, which the server rolls back.
//!
//! ```rust,no_run
//! # #[allow(dead_code)]
//! # async fn transfer(db: &tamarco::postgres::Postgres) -> Result<(), tamarco::BoxError> {
//! use tamarco::postgres::Queries as _; // execute, fetch... (also in tamarco::prelude)
//! db.transaction(|tx| async move {
//!     tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = $1", &[&1_i32]).await?;
//!     tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = $1", &[&2_i32]).await?;
//!     Ok::<_, tamarco::BoxError>(())
//! })
//! .await
//! # }
//! ```
//!
//! # Migrations
//!
//! [`with_migrations`](Postgres::with_migrations) takes SQL files embedded at compile time by
//! [`migrations!`]. At start, holding an advisory lock (so that instances starting together
//! apply each file once), the resource applies those not yet recorded in the table
//! `tamarco_migrations`, in order, each in a transaction with its record. A migration that
//! fails, or a file changed after it was applied, stops the start with an error naming the
//! file.
//!
//! # Settings, pool and status
//!
//! At `system.resources.<name>`: see [`PostgresSettings`] (`url` or `host`, `port`, `user`,
//! `password`, `database`, pool and timeouts). Start fails within `connection_timeout`, naming
//! the resource and the server, when the first connection cannot open. Idle connections are
//! checked before reuse (closed ones are replaced at once; one idle longer than
//! `verify_idle_after` runs an empty query first), so after the server or the network came
//! back only the queries in flight at the cut fail. `stop` refuses new queries, waits up to
//! `stop_timeout` for those in flight, then closes the pool. `/status` shows the pool (size,
//! in use, available, waiting), the error count and the last error; metrics:
//! `postgres_query_duration_seconds`, `postgres_errors_total` and
//! `postgres_pool_wait_seconds`, labelled with the resource.
//!
//! # TLS
//!
//! With the cargo feature `postgres-tls` (rustls), `sslmode` has libpq's meanings: `prefer`
//! (the default) encrypts when the server offers TLS, `require` refuses a server that does not,
//! `verify-ca` and `verify-full` also check the server's certificate against the CA
//! certificates of `sslrootcert` (and, for `verify-full`, that it names the host). Without the
//! feature, a mode that needs TLS stops the start naming the setting.

mod connection;
mod error;
mod migrate;
mod queries;
mod rows;
mod settings;
#[cfg(feature = "postgres-tls")]
mod tls;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::FutureExt;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use settings::Config;

pub use crate::__postgres_migrations as migrations;
pub use connection::{Connection, Transaction};
use queries::sealed::{Done, Run, Sealed};
pub use queries::{Params, Queries};

pub use error::Error;
pub use migrate::Migration;
pub use settings::{PostgresSettings, SslMode};
/// The client underneath, for its types (`types::ToSql`, `Row`, `error::SqlState`...).
pub use tokio_postgres;

/// A PostgreSQL connection pool as a resource. See the [module docs](self).
pub struct Postgres {
    shared: Arc<Shared>,
}

impl Default for Postgres {
    fn default() -> Self {
        Postgres::new()
    }
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("resource", &self.shared.resource())
            .field("server", &self.shared.server())
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// A resource that reads its settings when the service starts.
    pub fn new() -> Self {
        Postgres {
            shared: Arc::new(Shared::default()),
        }
    }

    /// Applies these migrations at start (see [`migrations!`]).
    pub fn with_migrations(self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.shared
            .migrations
            .lock()
            .expect("migrations lock")
            .extend(migrations);
        self
    }

    /// A connection from the pool for several statements; given back when dropped.
    pub async fn connection(&self) -> Result<Connection, Error> {
        let shared = &self.shared;
        let pool = shared.pool()?;
        let started = Instant::now();
        let outcome = pool.get().await;
        if let Some(meters) = shared.meters.get() {
            meters.pool_wait.record(started.elapsed());
        }
        match outcome {
            Ok(object) => {
                shared.reachable.store(true, Ordering::Relaxed);
                Ok(Connection::new(object, Arc::clone(shared)))
            }
            Err(error) => {
                let error = Error::Pool {
                    resource: shared.resource().to_owned(),
                    server: shared.server(),
                    source: Box::new(error),
                };
                if let Error::Pool { source, .. } = &error
                    && source
                        .downcast_ref::<deadpool_postgres::PoolError>()
                        .is_some_and(|e| matches!(e, deadpool_postgres::PoolError::Backend(_)))
                {
                    shared.reachable.store(false, Ordering::Relaxed);
                }
                shared.failed(&error);
                Err(error)
            }
        }
    }

    /// Runs `work` in a transaction: `COMMIT` when it returns `Ok`, `ROLLBACK` when it returns
    /// `Err` or panics (the panic resumes after the rollback). A failed `COMMIT` is returned
    /// as the error.
    pub async fn transaction<F, Fut, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let connection = Arc::new(self.connection().await?);
        connection.begin().await?;
        let transaction = Transaction(Arc::clone(&connection));
        let outcome = AssertUnwindSafe(async move { work(transaction).await })
            .catch_unwind()
            .await;
        match outcome {
            Ok(Ok(value)) => {
                connection.end("COMMIT").await?;
                Ok(value)
            }
            Ok(Err(error)) => {
                let _ = connection.end("ROLLBACK").await;
                Err(error)
            }
            Err(panic) => {
                let _ = connection.end("ROLLBACK").await;
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// The pool's numbers now: `(size, in use, waiting)`.
    pub fn pool_usage(&self) -> (usize, usize, usize) {
        match self.shared.pool() {
            Ok(pool) => {
                let status = pool.status();
                (
                    status.size,
                    status.size.saturating_sub(status.available),
                    status.waiting,
                )
            }
            Err(_) => (0, 0, 0),
        }
    }
}

impl Sealed for Postgres {}

/// Each statement on a connection from the pool, given back at once.
impl Queries for Postgres {
    async fn statement(&self, sql: &str, params: Params<'_>, run: Run) -> Result<Done, Error> {
        self.connection().await?.statement(sql, params, run).await
    }
}

impl Resource for Postgres {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        let migrations = self.shared.migrations.lock().expect("migrations lock");
        migrate::check(&migrations)
            .map_err(|e| format!("postgres resource `{}`: {e}", cx.name()))?;
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or("the resource was not configured")?;
        let name = cx.name();
        let _ = shared.meters.set(Meters::new(name));
        let pool = build_pool(&config)?;
        *shared.pool.write().expect("pool lock") = Some(pool.clone());
        shared.closing.store(false, Ordering::Release);
        // The first connection proves the server reachable and the credentials right.
        let first = tokio::time::timeout(config.connection_timeout, pool.get()).await;
        let problem = match first {
            Ok(Ok(object)) => {
                let connection = Connection::new(object, Arc::clone(shared));
                let migrations = shared.migrations.lock().expect("migrations lock").clone();
                if migrations.is_empty() {
                    None
                } else {
                    match migrate::apply(&connection, &migrations).await {
                        Ok(done) => {
                            tracing::info!(
                                resource = name,
                                applied = done.applied.len(),
                                already = done.already,
                                "postgres: migrations up to date"
                            );
                            *shared.applied.lock().expect("applied lock") = done.applied;
                            None
                        }
                        Err(error) => {
                            let what = error
                                .file
                                .map_or(String::new(), |file| format!(" `{file}`"));
                            let cause = error
                                .source
                                .map_or(String::new(), |e| format!(": {}", error_chain(&e)));
                            Some(format!("migration{what} {}{cause}", error.message))
                        }
                    }
                }
            }
            Ok(Err(error)) => Some(format!(
                "cannot connect to {}: {}",
                config.address(),
                error_chain(&error)
            )),
            Err(_) => Some(format!(
                "cannot connect to {} within {:?}",
                config.address(),
                config.connection_timeout
            )),
        };
        if let Some(problem) = problem {
            pool.close();
            *shared.pool.write().expect("pool lock") = None;
            return Err(format!(
                "postgres resource `{name}` ({}): {problem}",
                config.describe()
            )
            .into());
        }
        shared.reachable.store(true, Ordering::Relaxed);
        tracing::info!(
            resource = name,
            server = config.describe(),
            "postgres: connected"
        );
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        shared.closing.store(true, Ordering::Release);
        let stop_timeout = shared
            .config()
            .map_or(Duration::from_secs(10), |c| c.stop_timeout);
        // Within the resource's own limit and the share of the grace period the runtime gives.
        let limit = tokio::time::Instant::now() + stop_timeout;
        let deadline = cx.stop_deadline().map_or(limit, |d| d.min(limit));
        let mut in_use = shared.in_use.subscribe();
        let drained = tokio::time::timeout_at(deadline, in_use.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                resource = cx.name(),
                in_use = *shared.in_use.borrow(),
                "postgres: queries still running at the stop deadline; closing the pool"
            );
        }
        if let Some(pool) = shared.pool.write().expect("pool lock").take() {
            pool.close();
        }
        tracing::info!(resource = cx.name(), "postgres: pool closed");
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        let shared = &self.shared;
        let running = shared.pool.read().expect("pool lock").is_some();
        (running && !shared.reachable.load(Ordering::Relaxed)).then_some(ResourceStatus::Connecting)
    }

    fn status_fields(&self) -> Map<String, Value> {
        self.shared.status_fields()
    }
}

fn build_pool(config: &Config) -> Result<Pool, BoxError> {
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    #[cfg(feature = "postgres-tls")]
    let manager = match &config.tls {
        Some(tls) => Manager::from_config(config.pg.clone(), tls.clone(), manager_config),
        None => Manager::from_config(config.pg.clone(), NoTls, manager_config),
    };
    #[cfg(not(feature = "postgres-tls"))]
    let manager = Manager::from_config(config.pg.clone(), NoTls, manager_config);
    let verify_idle_after = config.verify_idle_after;
    let check_timeout = config.connection_timeout;
    let pool = Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(config.wait_timeout))
        .create_timeout(Some(config.connection_timeout))
        .recycle_timeout(Some(config.connection_timeout))
        .runtime(Runtime::Tokio1)
        .pre_recycle(deadpool_postgres::Hook::async_fn(move |client, metrics| {
            // A connection that sat idle may have died without the client noticing (a cut
            // network, a proxy): check it with an empty query before a caller gets it.
            let idle = metrics.last_used() >= verify_idle_after;
            Box::pin(async move {
                if idle {
                    let checked =
                        tokio::time::timeout(check_timeout, client.simple_query("")).await;
                    if !matches!(checked, Ok(Ok(_))) {
                        return Err(deadpool_postgres::HookError::message(
                            "an idle connection failed its check",
                        ));
                    }
                }
                Ok(())
            })
        }))
        .build()?;
    Ok(pool)
}

/// The metric handles, labelled with the resource.
struct Meters {
    duration: metrics::Histogram,
    errors: metrics::Counter,
    pool_wait: metrics::Histogram,
}

impl Meters {
    fn new(resource: &str) -> Self {
        let label = [("resource", resource.to_owned())];
        Meters {
            duration: metrics::histogram!("postgres_query_duration_seconds", &label),
            errors: metrics::counter!("postgres_errors_total", &label),
            pool_wait: metrics::histogram!("postgres_pool_wait_seconds", &label),
        }
    }
}

/// What the resource and its connections share.
#[derive(Default)]
pub(crate) struct Shared {
    name: OnceLock<String>,
    config: RwLock<Option<Arc<Config>>>,
    pool: RwLock<Option<Pool>>,
    closing: AtomicBool,
    /// False after the pool could not open a connection, until one opens.
    reachable: AtomicBool,
    pub(crate) in_use: watch::Sender<usize>,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    meters: OnceLock<Meters>,
    migrations: Mutex<Vec<Migration>>,
    applied: Mutex<Vec<&'static str>>,
}

impl Shared {
    pub(crate) fn resource(&self) -> &str {
        self.name.get().map_or("postgres", String::as_str)
    }

    fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    fn server(&self) -> String {
        self.config()
            .map_or_else(|| "(not configured)".to_owned(), |c| c.describe())
    }

    fn pool(&self) -> Result<Pool, Error> {
        let pool = self.pool.read().expect("pool lock").clone();
        match pool {
            Some(pool) if !self.closing.load(Ordering::Acquire) => Ok(pool),
            _ => Err(Error::NotStarted {
                resource: self.resource().to_owned(),
            }),
        }
    }

    /// Records one statement's duration, and an error.
    pub(crate) fn observe(&self, started: Instant, failed: bool) {
        if let Some(meters) = self.meters.get() {
            meters.duration.record(started.elapsed());
            if failed {
                meters.errors.increment(1);
            }
        }
    }

    pub(crate) fn query_error(&self, source: tokio_postgres::Error) -> Error {
        let error = Error::Query {
            resource: self.resource().to_owned(),
            source,
        };
        self.failed(&error);
        error
    }

    fn failed(&self, error: &Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("error lock") = Some(error_chain(error));
    }

    fn status_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("server".into(), json!(self.server()));
        if let Some(config) = self.config() {
            fields.insert("sslmode".into(), json!(config.ssl_mode.as_str()));
        }
        if let Ok(pool) = self.pool() {
            let status = pool.status();
            fields.insert(
                "pool".into(),
                json!({
                    "max_size": status.max_size,
                    "size": status.size,
                    "in_use": status.size.saturating_sub(status.available),
                    "available": status.available,
                    "waiting": status.waiting,
                }),
            );
        }
        fields.insert("errors".into(), json!(self.errors.load(Ordering::Relaxed)));
        fields.insert(
            "last_error".into(),
            json!(*self.last_error.lock().expect("error lock")),
        );
        fields.insert(
            "migrations_applied".into(),
            json!(*self.applied.lock().expect("applied lock")),
        );
        fields
    }
}

#![doc = include_str!("docs.md")]
// The module docs are in docs.md.

mod column;
mod connection;
mod error;
mod lifecycle;
mod migrate;
mod pool;
mod queries;
mod rows;
mod settings;
mod state;
#[cfg(feature = "postgres-tls")]
mod tls;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{PoolError, TimeoutType, Timeouts};
use futures_util::FutureExt;

use queries::sealed::{Done, Run, Sealed};
use state::PostgresState;

pub use crate::__postgres_migrations as migrations;
pub use connection::{Connection, Transaction};
pub use error::Error;
pub use migrate::Migration;
pub use queries::{Params, Queries};
pub use settings::{PostgresSettings, SslMode};
/// The client underneath, for its types (`types::ToSql`, `Row`, `error::SqlState`...).
pub use tokio_postgres;

/// A PostgreSQL connection pool as a resource. See the [module docs](self).
pub struct Postgres {
    shared: Arc<PostgresState>,
    /// Applied at start; checked at configure.
    migrations: Mutex<Vec<Migration>>,
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
            shared: Arc::new(PostgresState::default()),
            migrations: Mutex::new(Vec::new()),
        }
    }

    /// Applies these migrations at start (see [`migrations!`]).
    pub fn with_migrations(self, migrations: impl IntoIterator<Item = Migration>) -> Self {
        self.migrations
            .lock()
            .expect("migrations lock")
            .extend(migrations);
        self
    }

    /// A connection from the pool for several statements; given back when dropped.
    pub async fn connection(&self) -> Result<Connection, Error> {
        let shared = &self.shared;
        let pool = shared.pool()?;
        // A free connection first, without the wait's timer and clock reads: a caller that
        // finds one waited for nothing. Only a caller that must queue is timed.
        let now = Timeouts {
            wait: Some(Duration::ZERO),
            ..pool.timeouts()
        };
        let (outcome, waited) = match pool.timeout_get(&now).await {
            Err(PoolError::Timeout(TimeoutType::Wait)) => {
                let started = Instant::now();
                let outcome = pool.get().await;
                (outcome, started.elapsed())
            }
            outcome => (outcome, Duration::ZERO),
        };
        if let Some(meters) = shared.meters.get() {
            meters.pool_wait.record(waited);
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
                        .downcast_ref::<PoolError>()
                        .is_some_and(|e| matches!(e, PoolError::Backend(_)))
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

impl Sealed for Postgres {
    fn resource(&self) -> &str {
        self.shared.resource()
    }
}

/// Each statement on a connection from the pool, given back at once.
impl Queries for Postgres {
    async fn statement(&self, sql: &str, params: Params<'_>, run: Run) -> Result<Done, Error> {
        self.connection().await?.statement(sql, params, run).await
    }
}

//! [`Connection`]: one pooled connection and the queries run on it; [`Transaction`]: a
//! connection inside `BEGIN`, handed to the closure of [`Postgres::transaction`](super::Postgres::transaction).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::error::SqlState;

use super::error::Error;
use super::pool::Object;
use super::queries::sealed::{Done, Run, Sealed};
use super::queries::{Params, Queries};
use super::state::PostgresState;

const IDLE: u8 = 0;
const IN_TRANSACTION: u8 = 1;
const ENDED: u8 = 2;

/// A connection taken from the pool, given back when dropped. Statements are prepared once
/// per connection and cached. Get one with [`Postgres::connection`](super::Postgres::connection)
/// to run several statements on the same session; the resource's own query methods take one
/// per call.
pub struct Connection {
    object: Option<Object>,
    shared: Arc<PostgresState>,
    state: AtomicU8,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("resource", &self.shared.resource())
            .field(
                "in_transaction",
                &(self.state.load(Ordering::Relaxed) == IN_TRANSACTION),
            )
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub(super) fn new(object: Object, shared: Arc<PostgresState>) -> Self {
        shared.in_use.enter();
        Connection {
            object: Some(object),
            shared,
            state: AtomicU8::new(IDLE),
        }
    }

    fn wrapper(&self) -> Result<&ClientWrapper, Error> {
        match (&self.object, self.state.load(Ordering::Acquire)) {
            (Some(object), IDLE | IN_TRANSACTION) => Ok(object),
            _ => Err(Error::TransactionEnded {
                resource: self.shared.resource().to_owned(),
            }),
        }
    }

    /// The client underneath, for what this type does not wrap (`COPY`, notifications...).
    pub fn client(&self) -> Result<&tokio_postgres::Client, Error> {
        self.wrapper().map(|w| &**w)
    }

    /// Prepares (once per connection) and runs a statement, and records its duration. A
    /// cached statement whose result type changed under it (a table altered since) is
    /// prepared again, once, outside transactions (inside one the error already aborted it).
    async fn run(&self, sql: &str, params: Params<'_>, run: Run) -> Result<Done, Error> {
        let wrapper = self.wrapper()?;
        let started = Instant::now();
        let mut retried = false;
        let outcome = loop {
            let outcome = async {
                if let Run::Batch = run {
                    return wrapper.batch_execute(sql).await.map(|()| (0, Vec::new()));
                }
                let statement = wrapper.prepare_cached(sql).await?;
                match run {
                    Run::Query => wrapper.query(&statement, params).await.map(|r| (0, r)),
                    Run::Execute | Run::Batch => wrapper
                        .execute(&statement, params)
                        .await
                        .map(|n| (n, Vec::new())),
                }
            }
            .await;
            match outcome {
                Err(error)
                    if !retried
                        && error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
                        && self.state.load(Ordering::Acquire) == IDLE =>
                {
                    wrapper.statement_cache.clear();
                    retried = true;
                }
                other => break other,
            }
        };
        self.shared.observe(started, outcome.is_err());
        match outcome {
            Ok((count, rows)) => Ok(Done { count, rows }),
            Err(source) => Err(self.shared.query_error(source)),
        }
    }

    /// `BEGIN`; the connection is then dropped, not pooled, unless it ends cleanly.
    pub(super) async fn begin(&self) -> Result<(), Error> {
        self.batch_execute("BEGIN").await?;
        self.state.store(IN_TRANSACTION, Ordering::Release);
        Ok(())
    }

    /// `COMMIT` or `ROLLBACK`. Any answer from the server ends the transaction (a failed
    /// `COMMIT` rolls back); a lost connection leaves it to the drop, which discards it.
    pub(super) async fn end(&self, sql: &str) -> Result<(), Error> {
        let outcome = self.run(sql, &[], Run::Batch).await;
        let lost = matches!(&outcome, Err(Error::Query { source, .. }) if source.is_closed());
        if !lost {
            self.state.store(ENDED, Ordering::Release);
        }
        outcome.map(drop)
    }
}

impl Sealed for Connection {
    fn resource(&self) -> &str {
        self.shared.resource()
    }
}

impl Queries for Connection {
    async fn statement(&self, sql: &str, params: Params<'_>, run: Run) -> Result<Done, Error> {
        self.run(sql, params, run).await
    }
}

impl Connection {
    /// Back to plain use after a transaction ended (migrations run several on one session).
    pub(super) fn reset(&self) {
        let _ = self
            .state
            .compare_exchange(ENDED, IDLE, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(object) = self.object.take()
            && self.state.load(Ordering::Acquire) == IN_TRANSACTION
        {
            // Cancelled or failed inside a transaction: never give the pool a connection that
            // is still in one. Closing it makes the server roll back.
            drop(Object::take(object));
        }
        self.shared.in_use.leave();
    }
}

/// The connection of a transaction, handed to the closure of
/// [`Postgres::transaction`](super::Postgres::transaction): it has every query method of
/// [`Connection`] ([`Queries`]). Using it after the closure returned fails with
/// [`Error::TransactionEnded`].
#[derive(Clone)]
pub struct Transaction(pub(super) Arc<Connection>);

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Transaction").field(&*self.0).finish()
    }
}

impl Deref for Transaction {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

//! [`Queries`]: the query methods, written once for the pool ([`Postgres`](super::Postgres): a
//! connection per statement), one [`Connection`](super::Connection) and a
//! [`Transaction`](super::Transaction) (one session for all).

use std::future::Future;

use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::error::Error;
use super::rows;

/// Query parameters: `&[&id, &name]`.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The query methods of [`Postgres`](super::Postgres), [`Connection`](super::Connection) and
/// [`Transaction`](super::Transaction); `use tamarco::prelude::*` brings them into scope.
///
/// Rows are read into any serde type: a struct or map by column name, a tuple by position, a
/// plain value when there is one column. Statements are prepared once per connection and
/// cached. Sealed: only tamarco implements it.
pub trait Queries: Sync + sealed::Sealed {
    /// Runs one statement: the one method each implementation writes.
    #[doc(hidden)]
    fn statement(
        &self,
        sql: &str,
        params: Params<'_>,
        run: sealed::Run,
    ) -> impl Future<Output = Result<sealed::Done, Error>> + Send;

    /// Runs one statement and returns the number of rows it changed.
    fn execute(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            let done = self.statement(sql, params, sealed::Run::Execute).await?;
            Ok(done.count)
        }
    }

    /// Runs several statements separated by `;`, without parameters (the simple protocol:
    /// nothing is prepared).
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send {
        async move {
            self.statement(sql, &[], sealed::Run::Batch).await?;
            Ok(())
        }
    }

    /// Runs a query and returns its rows as they come from the client.
    fn query(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        async move {
            let done = self.statement(sql, params, sealed::Run::Query).await?;
            Ok(done.rows)
        }
    }

    /// Runs a query and reads every row into `T`: a struct (columns by name), a tuple
    /// (columns by position) or, for one column, a plain value.
    fn fetch<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<T>, Error>> + Send {
        async move {
            let done = self.statement(sql, params, sealed::Run::Query).await?;
            let resource = self.resource();
            done.rows.iter().map(|row| decode(row, resource)).collect()
        }
    }

    /// Like [`fetch`](Self::fetch) for exactly one row: none is [`Error::NoRow`]; more than one
    /// reads the first.
    fn fetch_one<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<T, Error>> + Send {
        async move {
            let done = self.statement(sql, params, sealed::Run::Query).await?;
            match done.rows.first() {
                Some(row) => decode(row, self.resource()),
                None => Err(Error::NoRow {
                    resource: self.resource().to_owned(),
                }),
            }
        }
    }

    /// Like [`fetch`](Self::fetch) for at most one row: the first, or `None`.
    fn fetch_opt<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<T>, Error>> + Send {
        async move {
            let done = self.statement(sql, params, sealed::Run::Query).await?;
            let resource = self.resource();
            done.rows
                .first()
                .map(|row| decode(row, resource))
                .transpose()
        }
    }
}

/// What the one required method takes and gives; public only so that the trait can name it.
pub(super) mod sealed {
    use super::*;

    /// Implemented by the resource and its connections only.
    #[allow(unreachable_pub)]
    pub trait Sealed {
        /// The resource's name, for errors.
        #[doc(hidden)]
        fn resource(&self) -> &str;
    }

    /// What a statement is run for.
    #[allow(unreachable_pub)]
    #[derive(Debug, Clone, Copy)]
    pub enum Run {
        /// Prepared; the count of rows changed.
        Execute,
        /// Prepared; the rows.
        Query,
        /// The simple protocol, several statements, no parameters.
        Batch,
    }

    /// What a statement gave.
    #[allow(unreachable_pub)]
    pub struct Done {
        pub(crate) count: u64,
        pub(crate) rows: Vec<Row>,
    }

    impl std::fmt::Debug for Done {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Done")
                .field("count", &self.count)
                .field("rows", &self.rows.len())
                .finish_non_exhaustive()
        }
    }
}

/// One row into `T`; an error names the resource.
fn decode<T: DeserializeOwned>(row: &Row, resource: &str) -> Result<T, Error> {
    rows::decode(row).map_err(|message| Error::Decode {
        resource: resource.to_owned(),
        message,
    })
}

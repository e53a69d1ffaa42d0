//! The connection pool, built from the settings: idle connections are checked before a
//! caller gets them.

use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use tamarco_core::BoxError;

use super::settings::Config;

/// The resource's pool.
pub(crate) type Pool = managed::Pool<Checked>;
/// A connection taken from the pool.
pub(crate) type Object = managed::Object<Checked>;

/// deadpool-postgres's manager, whose recycling also checks connections that sat idle. Done
/// here rather than in a pool hook, which costs a boxed future on every checkout.
#[derive(Debug)]
pub(crate) struct Checked {
    manager: Manager,
    verify_idle_after: Duration,
    check_timeout: Duration,
}

impl managed::Manager for Checked {
    type Type = ClientWrapper;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<ClientWrapper, tokio_postgres::Error> {
        self.manager.create().await
    }

    async fn recycle(
        &self,
        client: &mut ClientWrapper,
        metrics: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        self.manager.recycle(client, metrics).await?;
        if metrics.last_used() >= self.verify_idle_after {
            // A connection that sat idle may have died without the client noticing (a cut
            // network, a proxy): check it with an empty query before a caller gets it.
            let checked = tokio::time::timeout(self.check_timeout, client.simple_query("")).await;
            if !matches!(checked, Ok(Ok(_))) {
                return Err(RecycleError::message("an idle connection failed its check"));
            }
        }
        Ok(())
    }

    fn detach(&self, client: &mut ClientWrapper) {
        managed::Manager::detach(&self.manager, client);
    }
}

pub(crate) fn build_pool(config: &Config) -> Result<Pool, BoxError> {
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
    let manager = Checked {
        manager,
        verify_idle_after: config.verify_idle_after,
        check_timeout: config.connection_timeout,
    };
    // No recycle timeout: the only wait in recycling is the idle check, bounded on its own.
    let pool = Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(config.wait_timeout))
        .create_timeout(Some(config.connection_timeout))
        .runtime(Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

//! The connection pool, built from the settings: idle connections are checked before a
//! caller gets them.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use tamarco_core::BoxError;

use super::settings::Config;

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

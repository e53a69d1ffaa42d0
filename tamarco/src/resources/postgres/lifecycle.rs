//! The resource's life: settings and migrations checked, the pool opened and proven by a
//! first connection, migrations applied, stop within the grace period, and `/status`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value};

use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use super::connection::Connection;
use super::pool::build_pool;
use super::settings::Config;
use super::state::Meters;
use super::{Postgres, migrate};

impl Resource for Postgres {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        let migrations = self.migrations.lock().expect("migrations lock");
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
                let migrations = self.migrations.lock().expect("migrations lock").clone();
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
        let drained = tokio::time::timeout_at(deadline, shared.in_use.wait_idle())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                resource = cx.name(),
                in_use = shared.in_use.get(),
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

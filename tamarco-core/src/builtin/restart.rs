//! Restart policies, under `system.resources.status.restart_policy`:
//!
//! ```yaml
//! restart_policy:
//!   resources:
//!     restart_microservice_on_failure: [db]     # or: all
//!     restart_resource_on_failure: all          # or a list of names
//!   check_interval_seconds: 1
//!   backoff_initial_seconds: 1
//!   backoff_max_seconds: 60
//! ```
//!
//! A FAILED resource named by `restart_microservice_on_failure` stops the service gracefully;
//! it then exits with code 75 ([`ExitStatus::RestartRequested`](crate::ExitStatus)) so that the
//! orchestrator starts it again. Otherwise, a FAILED resource named by
//! `restart_resource_on_failure` is stopped and started again, waiting between attempts with an
//! exponential backoff; each restart is logged and counted in `resource_restarts_total`.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::status::StatusBoard;
use crate::error::error_chain;
use crate::metrics::Counter;
use crate::resource::ResourceStatus;
use crate::shutdown::{ShutdownHandle, StopReason};

/// The restart policies of a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartPolicy {
    /// Which resources each policy covers.
    pub resources: Policies,
    /// How often FAILED resources are looked for, in seconds.
    pub check_interval_seconds: f64,
    /// The first wait before restarting a resource again, in seconds; it doubles each time.
    pub backoff_initial_seconds: f64,
    /// The longest wait between two restarts of a resource, in seconds.
    pub backoff_max_seconds: f64,
}

/// The two policies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policies {
    /// Resources whose failure restarts the whole service (by exiting with code 75).
    pub restart_microservice_on_failure: Selection,
    /// Resources that are stopped and started again when they fail.
    pub restart_resource_on_failure: Selection,
}

/// Resources a policy covers: `all`, or a list of names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Selection {
    /// No resource.
    #[default]
    None,
    /// Every resource.
    All,
    /// These resources.
    Names(Vec<String>),
}

/// A policy value that is neither `all` nor a list of names.
#[derive(Debug, thiserror::Error)]
#[error("expected `all` or a list of resource names, found {0:?}")]
pub struct RestartPolicyError(String);

impl<'de> Deserialize<'de> for Selection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Word(word) if word == "all" => Ok(Selection::All),
            Raw::Word(word) => Err(serde::de::Error::custom(RestartPolicyError(word))),
            Raw::List(names) => Ok(Selection::Names(names)),
        }
    }
}

impl Selection {
    fn covers(&self, name: &str) -> bool {
        match self {
            Selection::None => false,
            Selection::All => true,
            Selection::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            resources: Policies::default(),
            check_interval_seconds: 1.0,
            backoff_initial_seconds: 1.0,
            backoff_max_seconds: 60.0,
        }
    }
}

impl RestartPolicy {
    pub(crate) fn is_active(&self) -> bool {
        self.resources.restart_microservice_on_failure != Selection::None
            || self.resources.restart_resource_on_failure != Selection::None
    }

    /// Watches the resources for failures until the service stops.
    pub(crate) async fn enforce(self, board: StatusBoard, shutdown: ShutdownHandle) {
        let seconds = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(1));
        let (initial, max) = (
            seconds(self.backoff_initial_seconds),
            seconds(self.backoff_max_seconds),
        );
        let mut ticks = tokio::time::interval(
            seconds(self.check_interval_seconds).max(Duration::from_millis(10)),
        );
        // Per resource: when it may be restarted next, and the wait after that.
        let mut backoff: HashMap<String, (Instant, Duration)> = HashMap::new();
        loop {
            ticks.tick().await;
            if shutdown.is_stopping() {
                return;
            }
            for entry in board.entries() {
                if entry.status() != ResourceStatus::Failed {
                    // Up again past its wait: a later failure starts from the initial backoff.
                    if backoff
                        .get(&entry.name)
                        .is_some_and(|(next_try, _)| Instant::now() >= *next_try)
                    {
                        backoff.remove(&entry.name);
                    }
                    continue;
                }
                if self
                    .resources
                    .restart_microservice_on_failure
                    .covers(&entry.name)
                {
                    tracing::error!(resource = %entry.name, "resource FAILED: stopping the service so that it is restarted");
                    shutdown.request(StopReason::RestartRequested {
                        resource: entry.name.clone(),
                    });
                    return;
                }
                if !self
                    .resources
                    .restart_resource_on_failure
                    .covers(&entry.name)
                {
                    continue;
                }
                let now = Instant::now();
                let (next_try, wait) = backoff.get(&entry.name).copied().unwrap_or((now, initial));
                if now < next_try {
                    continue;
                }
                Counter::new(
                    "resource_restarts_total",
                    &[("resource", entry.name.clone())],
                )
                .increment();
                tracing::warn!(resource = %entry.name, next_wait = ?wait, "resource FAILED: restarting it");
                let cx = &entry.cx;
                if let Err(error) = entry.resource.stop_boxed(cx).await {
                    tracing::warn!(resource = %entry.name, "stop before restart failed: {}", error_chain(&*error));
                }
                cx.status().set(ResourceStatus::Connecting);
                match entry.resource.start_boxed(cx).await {
                    Ok(()) => {
                        cx.status().set(ResourceStatus::Started);
                        tracing::info!(resource = %entry.name, "resource restarted");
                    }
                    Err(error) => {
                        cx.status().set(ResourceStatus::Failed);
                        tracing::error!(resource = %entry.name, "restart failed: {}", error_chain(&*error));
                    }
                }
                backoff.insert(
                    entry.name.clone(),
                    (Instant::now() + wait, (wait * 2).min(max)),
                );
            }
        }
    }
}

//! Restart policies, under `system.resources.status.restart_policy`:
//!
//! ```yaml
//! restart_policy:
//!   resources:
//!     restart_microservice_on_failure: [db]     # or: all (or the original's [all])
//!     restart_resource_on_failure: all          # or a list of names
//!   check_interval_seconds: 1       # each a duration: 1, 0.5, "500ms", "1m"
//!   backoff_initial_seconds: 1
//!   backoff_max_seconds: 60
//! ```
//!
//! A value that is not a duration fails the start with an error naming its key.
//!
//! A FAILED resource named by `restart_microservice_on_failure` stops the service gracefully;
//! it then exits with code 75 ([`ExitStatus::RestartRequested`](crate::ExitStatus)) so that the
//! orchestrator starts it again. Otherwise, a FAILED resource named by
//! `restart_resource_on_failure` is stopped and started again, waiting between attempts with an
//! exponential backoff; each restart is logged and counted in `resource_restarts_total`.

use std::collections::HashMap;

use serde::Deserialize;
use tokio::time::Instant;

use super::board::StatusBoard;
use crate::backoff::Backoff;
use crate::error::error_chain;
use crate::metrics::Counter;
use crate::resource::ResourceStatus;
use crate::settings::Duration;
use crate::shutdown::{ShutdownHandle, StopReason};

/// The restart policies of a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartPolicy {
    /// Which resources each policy covers.
    pub resources: Policies,
    /// How often FAILED resources are looked for (at least every 10 ms).
    pub check_interval_seconds: Duration,
    /// The first wait before restarting a resource again; it doubles each time.
    pub backoff_initial_seconds: Duration,
    /// The longest wait between two restarts of a resource.
    pub backoff_max_seconds: Duration,
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
        /// The two ways the setting may be written.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Spelled {
            Word(String),
            List(Vec<String>),
        }
        match Spelled::deserialize(deserializer)? {
            Spelled::Word(word) if word == "all" => Ok(Selection::All),
            Spelled::Word(word) => Err(serde::de::Error::custom(RestartPolicyError(word))),
            // The Python original's own form of "all" (`['all']`) means all here too.
            Spelled::List(names) if names.len() == 1 && names[0] == "all" => Ok(Selection::All),
            Spelled::List(names) => Ok(Selection::Names(names)),
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
            check_interval_seconds: Duration::from_secs(1),
            backoff_initial_seconds: Duration::from_secs(1),
            backoff_max_seconds: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    pub(crate) fn is_active(&self) -> bool {
        self.resources.restart_microservice_on_failure != Selection::None
            || self.resources.restart_resource_on_failure != Selection::None
    }

    /// Watches the resources for failures until the service stops. A panic in the watcher is
    /// logged and the watcher starts again, so that one bad restart does not end every policy.
    pub(crate) async fn enforce(self, board: StatusBoard, shutdown: ShutdownHandle) {
        loop {
            let watch = self.clone().watch(board.clone(), shutdown.clone());
            let outcome = crate::panic::catch(async {
                watch.await;
                Ok(())
            })
            .await;
            match outcome {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!("the restart-policy watcher {error}; starting it again");
                    tokio::time::sleep(*self.check_interval_seconds).await;
                }
            }
        }
    }

    async fn watch(self, board: StatusBoard, shutdown: ShutdownHandle) {
        let fresh = Backoff::new(*self.backoff_initial_seconds, *self.backoff_max_seconds);
        let mut ticks = tokio::time::interval(
            (*self.check_interval_seconds).max(std::time::Duration::from_millis(10)),
        );
        // Per resource: when it may be restarted next, and its backoff.
        let mut backoff: HashMap<String, (Instant, Backoff)> = HashMap::new();
        loop {
            ticks.tick().await;
            if shutdown.is_stopping() {
                return;
            }
            for entry in board.entries() {
                if entry.status() != ResourceStatus::Failed {
                    // Up again past its wait: a later failure starts from the initial backoff.
                    if backoff
                        .get(entry.name())
                        .is_some_and(|(next_try, _)| Instant::now() >= *next_try)
                    {
                        backoff.remove(entry.name());
                    }
                    continue;
                }
                if self
                    .resources
                    .restart_microservice_on_failure
                    .covers(entry.name())
                {
                    tracing::error!(resource = %entry.name(), "resource FAILED: stopping the service so that it is restarted");
                    shutdown.request(StopReason::RestartRequested {
                        resource: entry.name().to_owned(),
                    });
                    return;
                }
                if !self
                    .resources
                    .restart_resource_on_failure
                    .covers(entry.name())
                {
                    continue;
                }
                let (next_try, waits) = backoff
                    .entry(entry.name().to_owned())
                    .or_insert_with(|| (Instant::now(), fresh.clone()));
                if Instant::now() < *next_try {
                    continue;
                }
                let wait = waits.next_delay();
                let name = entry.name();
                Counter::new("resource_restarts_total", &[("resource", name.to_owned())])
                    .increment();
                tracing::warn!(resource = %name, next_wait = ?wait, "resource FAILED: restarting it");
                match entry.restart().await {
                    Ok(()) => tracing::info!(resource = %name, "resource restarted"),
                    Err(error) => {
                        tracing::error!(resource = %name, "restart failed: {}", error_chain(&error));
                    }
                }
                // The wait counts from the end of the attempt.
                if let Some((next_try, _)) = backoff.get_mut(entry.name()) {
                    *next_try = Instant::now() + wait;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::BoxError;
    use crate::lifecycle::Driver;
    use crate::lifecycle::table::{self, Declared};
    use crate::resource::{Resource, ResourceContext};
    use crate::settings::Settings;

    /// Its first restart panics; the second works.
    #[derive(Default)]
    struct Flaky {
        starts: AtomicU32,
    }

    impl Resource for Flaky {
        async fn start(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
            if self.starts.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the first restart explodes");
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_restart_that_panics_does_not_end_the_restart_policies() {
        let shutdown = ShutdownHandle::new();
        let declared = [Declared {
            name: "flaky".into(),
            depends_on: Vec::new(),
            resource: Arc::new(Flaky::default()),
        }];
        let driver = Arc::new(Driver::new(table::build(
            &declared,
            &Settings::new("svc"),
            &shutdown,
            &crate::Registry::local("svc"),
        )));
        let board = StatusBoard::default();
        board.fill(Arc::clone(&driver));
        let policy = RestartPolicy {
            resources: Policies {
                restart_resource_on_failure: Selection::All,
                ..Policies::default()
            },
            check_interval_seconds: Duration::from_millis(10).into(),
            backoff_initial_seconds: Duration::from_millis(10).into(),
            backoff_max_seconds: Duration::from_millis(10).into(),
        };
        let entry = &driver.entries()[0];
        entry.cx.status().set(ResourceStatus::Failed);
        let watcher = tokio::spawn(policy.enforce(board, shutdown.clone()));
        let restarted = tokio::time::timeout(Duration::from_secs(5), async {
            while entry.status() != ResourceStatus::Started {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        shutdown.stop_gracefully();
        assert!(restarted.is_ok(), "still {} after 5 s", entry.status());
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .expect("the watcher ends with the service")
            .expect("the watcher did not panic");
    }

    #[test]
    fn a_bad_duration_is_an_error_naming_its_key() {
        let settings = Settings::new("svc");
        let key = "system.resources.status.restart_policy";
        settings
            .set_internal(&format!("{key}.backoff_max_seconds"), -3)
            .unwrap();
        let error = settings.get::<RestartPolicy>(key).unwrap_err().to_string();
        assert!(
            error.contains("system.resources.status.restart_policy.backoff_max_seconds"),
            "{error}"
        );
        assert!(error.contains("negative"), "{error}");
    }

    #[test]
    fn the_originals_list_of_all_covers_every_resource() {
        let settings = Settings::new("svc");
        let key = "system.resources.status.restart_policy.resources";
        settings
            .update_internal_json(
                r#"{"system": {"resources": {"status": {"restart_policy": {"resources": {"restart_microservice_on_failure": ["all"], "restart_resource_on_failure": ["all", "db"]}}}}}}"#,
            )
            .unwrap();
        let policies = settings.get::<Policies>(key).unwrap();
        assert_eq!(policies.restart_microservice_on_failure, Selection::All);
        assert!(policies.restart_microservice_on_failure.covers("anything"));
        // A longer list is names, one of which happens to be `all`.
        assert_eq!(
            policies.restart_resource_on_failure,
            Selection::Names(vec!["all".into(), "db".into()])
        );
    }
}

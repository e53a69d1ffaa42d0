//! The time a stop may take: the grace period, shared by the tasks and every resource's stop
//! in turn, then a short final window in which the resources not stopped yet still get their
//! `stop` (a broker's last commit and flush), all at once.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::settings::Settings;

/// How long a stop may take, from `system.shutdown`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopLimits {
    /// The whole graceful stop (`grace_period_seconds`).
    pub(crate) grace: Duration,
    /// Each task or thread (`thread_join_timeout_seconds`).
    pub(crate) task: Duration,
    /// The last `stop` of the resources not reached within the grace period
    /// (`final_stop_seconds`, 2 by default).
    pub(crate) final_stop: Duration,
}

impl StopLimits {
    /// The limits the settings give; the error names a bad key.
    pub(crate) fn read(settings: &Settings) -> Result<Self, Error> {
        let key = |name: &str| format!("system.shutdown.{name}");
        let get = |name: &str| settings.get::<crate::settings::Duration>(&key(name));
        Ok(StopLimits {
            grace: get("grace_period_seconds")?.get(),
            task: get("thread_join_timeout_seconds")?.get(),
            final_stop: settings
                .get_or(&key("final_stop_seconds"), Duration::from_secs(2).into())
                .map(crate::settings::Duration::get)?,
        })
    }

    /// The budget of a stop that begins now.
    pub(crate) fn budget(&self) -> StopBudget {
        StopBudget::new(self.grace, self.final_stop)
    }
}

/// The deadlines of one stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopBudget {
    grace_end: Instant,
    final_end: Instant,
}

impl StopBudget {
    /// A stop that begins now: `grace` for everything, then `final_stop` more for the resources
    /// that did not get their turn.
    pub(crate) fn new(grace: Duration, final_stop: Duration) -> Self {
        let grace_end = Instant::now() + grace;
        StopBudget {
            grace_end,
            final_end: grace_end + final_stop,
        }
    }

    /// The end of the grace period.
    pub(crate) fn grace_end(&self) -> Instant {
        self.grace_end
    }

    /// The end of the final window, after which nothing more is waited for.
    pub(crate) fn final_end(&self) -> Instant {
        self.final_end
    }

    /// Whether the grace period is over.
    pub(crate) fn expired(&self) -> bool {
        Instant::now() >= self.grace_end
    }

    /// What one step may take now: the rest of the grace period, or within the final window
    /// the rest of that. `min` caps it (a per-task limit).
    pub(crate) fn limit(&self, min: Option<Duration>) -> Instant {
        let end = if self.expired() {
            self.final_end
        } else {
            self.grace_end
        };
        match min {
            Some(cap) => end.min(Instant::now() + cap),
            None => end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_grace_is_shared_then_a_final_window_follows() {
        let budget = StopBudget::new(Duration::from_secs(10), Duration::from_secs(2));
        let start = Instant::now();
        assert_eq!(budget.limit(None), start + Duration::from_secs(10));
        assert_eq!(
            budget.limit(Some(Duration::from_secs(3))),
            start + Duration::from_secs(3)
        );
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(
            budget.limit(Some(Duration::from_secs(3))),
            budget.grace_end()
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(budget.expired());
        assert_eq!(budget.limit(None), start + Duration::from_secs(12));
        assert_eq!(budget.final_end(), start + Duration::from_secs(12));
    }
}

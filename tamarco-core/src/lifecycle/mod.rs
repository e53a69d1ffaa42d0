//! The lifecycle, written once: the order of the phases, the status each phase gives a
//! resource, which resources a stop phase reaches, and how long a stop may take. [`Runtime`]
//! and [`MicroserviceContext`] both walk resources through it with one `Driver` built from
//! one resource table (`table`).
//!
//! Start: [`START_PHASES`] over every resource in dependency order; the service's tasks start
//! after [`Phase::Start`]. Stop: [`STOP_PHASES`] in reverse order, over the resources that
//! `must_stop` names, within a `StopBudget`.
//!
//! [`Runtime`]: crate::Runtime
//! [`MicroserviceContext`]: crate::MicroserviceContext

mod budget;
mod driver;
mod span;
pub(crate) mod table;

use crate::error::Phase;
use crate::resource::ResourceStatus;

pub(crate) use budget::{StopBudget, StopLimits};
pub(crate) use driver::{Driver, Entry};

/// The start phases, in order. Each runs over every resource before the next begins.
pub const START_PHASES: [Phase; 5] = [
    Phase::Bind,
    Phase::Configure,
    Phase::PreStart,
    Phase::Start,
    Phase::PostStart,
];

/// The stop phases, in order, each over the resources in reverse start order.
pub const STOP_PHASES: [Phase; 2] = [Phase::Stop, Phase::PostStop];

/// The phase after which the service's tasks, timers and threads are spawned.
pub const TASKS_START_AFTER: Phase = Phase::Start;

/// The phase after which the service's declarations are bound to their resources
/// ([`Microservice::bind`](crate::Microservice::bind): context fields and outputs;
/// [`TaskSet::wire`](crate::TaskSet::wire): routes and inputs), before any resource is
/// configured.
pub const DECLARATIONS_BOUND_AFTER: Phase = Phase::Bind;

/// The phases the service may wrap with a hook of its own, and the hook method names
/// (`#[microservice] impl` methods named like this are hooks).
pub const HOOK_PHASES: [Phase; 5] = [
    Phase::PreStart,
    Phase::Start,
    Phase::PostStart,
    Phase::Stop,
    Phase::PostStop,
];

/// The status a resource shows while `phase` runs on it, if the phase changes it.
pub(crate) fn status_during(phase: Phase) -> Option<ResourceStatus> {
    match phase {
        Phase::PreStart | Phase::Start => Some(ResourceStatus::Connecting),
        Phase::Stop => Some(ResourceStatus::Stopping),
        _ => None,
    }
}

/// The status a resource shows once `phase` succeeded on it, if the phase changes it. A failed
/// phase always leaves it FAILED.
pub(crate) fn status_after(phase: Phase) -> Option<ResourceStatus> {
    match phase {
        Phase::Start => Some(ResourceStatus::Started),
        Phase::Stop => Some(ResourceStatus::Stopped),
        _ => None,
    }
}

/// How far one resource got: the last phase it completed and whether a hook of it failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The last phase this resource completed.
    pub(crate) reached: Option<Phase>,
    /// Whether one of its hooks failed.
    pub(crate) failed: bool,
}

/// Whether the stop phase `phase` runs on a resource that got this far. `stop` reaches the
/// resources that started and are not stopped yet; `post_stop` the ones that stopped. A
/// resource one of whose hooks failed is left alone: it is FAILED, and its hooks may not cope
/// with being called on a half-done state.
pub(crate) fn must_stop(progress: Progress, phase: Phase) -> bool {
    if progress.failed {
        return false;
    }
    match phase {
        Phase::Stop => {
            progress.reached >= Some(Phase::Start) && progress.reached < Some(Phase::Stop)
        }
        Phase::PostStop => progress.reached == Some(Phase::Stop),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(reached: Option<Phase>, failed: bool) -> Progress {
        Progress { reached, failed }
    }

    #[test]
    fn phases_are_in_lifecycle_order() {
        let all: Vec<Phase> = START_PHASES.iter().chain(&STOP_PHASES).copied().collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        assert!(START_PHASES.contains(&TASKS_START_AFTER));
    }

    #[test]
    fn stop_reaches_the_started_once_and_skips_failures() {
        assert!(!must_stop(progress(None, false), Phase::Stop));
        assert!(!must_stop(
            progress(Some(Phase::PreStart), false),
            Phase::Stop
        ));
        assert!(must_stop(progress(Some(Phase::Start), false), Phase::Stop));
        assert!(must_stop(
            progress(Some(Phase::PostStart), false),
            Phase::Stop
        ));
        assert!(!must_stop(progress(Some(Phase::Start), true), Phase::Stop));
        // stopped already (a context stopped twice): not again
        assert!(!must_stop(progress(Some(Phase::Stop), false), Phase::Stop));
        assert!(must_stop(
            progress(Some(Phase::Stop), false),
            Phase::PostStop
        ));
        assert!(!must_stop(
            progress(Some(Phase::PostStart), false),
            Phase::PostStop
        ));
        assert!(!must_stop(
            progress(Some(Phase::PostStop), false),
            Phase::PostStop
        ));
    }
}

//! Walks resources through the lifecycle phases: start phases in dependency order, stop phases
//! in reverse within the stop budget. A hook that panics fails like one that returns an error.

use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use tracing::Instrument as _;

use super::{Progress, StopBudget, must_stop, status_after, status_during};
use crate::error::{Error, Phase, ResourceError, error_chain};
use crate::resource::{ErasedResource, ResourceContext, ResourceStatus};

/// One resource under the driver's care.
pub(crate) struct Entry {
    pub(crate) resource: Arc<dyn ErasedResource>,
    pub(crate) cx: ResourceContext,
    progress: Mutex<Progress>,
}

impl Entry {
    pub(crate) fn new(resource: Arc<dyn ErasedResource>, cx: ResourceContext) -> Self {
        Entry {
            resource,
            cx,
            progress: Mutex::new(Progress::default()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.cx.name()
    }

    /// The status `/status` shows: the resource's own, else the lifecycle's.
    pub(crate) fn status(&self) -> ResourceStatus {
        crate::resource::effective_status(&*self.resource, &self.cx)
    }

    fn progress(&self) -> Progress {
        *self.progress.lock().expect("progress lock")
    }

    /// Runs one phase's hook, setting the status the lifecycle gives it.
    pub(crate) async fn run(&self, phase: Phase) -> Result<(), Error> {
        self.run_in(phase, super::span::hook(self.name(), phase))
            .await
    }

    /// [`run`](Self::run) inside `span`, the hook's span.
    async fn run_in(&self, phase: Phase, span: tracing::Span) -> Result<(), Error> {
        let (cx, resource) = (&self.cx, &self.resource);
        if let Some(status) = status_during(phase) {
            cx.status().set(status);
        }
        let hook = crate::panic::catch(async {
            match phase {
                Phase::Bind => {
                    resource.bind_dyn(cx);
                    Ok(())
                }
                Phase::Configure => resource.configure_boxed(cx).await,
                Phase::PreStart => resource.pre_start_boxed(cx).await,
                Phase::Start => resource.start_boxed(cx).await,
                Phase::PostStart => resource.post_start_boxed(cx).await,
                Phase::Stop => resource.stop_boxed(cx).await,
                Phase::PostStop => resource.post_stop_boxed(cx).await,
            }
        });
        let outcome = hook.instrument(span.clone()).await;
        if outcome.is_err() {
            super::span::failed(&span);
        }
        let mut progress = self.progress.lock().expect("progress lock");
        match outcome {
            Ok(()) => {
                progress.reached = Some(phase);
                if let Some(status) = status_after(phase) {
                    cx.status().set(status);
                }
                Ok(())
            }
            Err(source) => {
                progress.failed = true;
                cx.status().set(ResourceStatus::Failed);
                Err(ResourceError {
                    resource: self.name().to_owned(),
                    phase,
                    source,
                }
                .into())
            }
        }
    }

    /// A restart (restart policies): `stop`, whatever the resource's state, then `start`
    /// afresh. A failed `stop` is logged; the `start` decides the outcome.
    pub(crate) async fn restart(&self) -> Result<(), Error> {
        if let Err(error) = self.run(Phase::Stop).await {
            tracing::warn!(
                resource = self.name(),
                "stop before restart failed: {}",
                error_chain(&error)
            );
        }
        *self.progress.lock().expect("progress lock") = Progress {
            reached: Some(Phase::PreStart),
            failed: false,
        };
        self.run(Phase::Start).await
    }

    /// Runs a stop phase on this entry, abandoning it at `until`.
    async fn stop(&self, phase: Phase, until: tokio::time::Instant) -> Result<(), Error> {
        self.cx.set_stop_deadline(until);
        tracing::info!(resource = self.name(), "{phase}");
        let span = super::span::hook(self.name(), phase);
        match tokio::time::timeout_at(until, self.run_in(phase, span.clone())).await {
            Ok(outcome) => outcome,
            Err(_) => {
                super::span::failed(&span);
                self.progress.lock().expect("progress lock").failed = true;
                self.cx.status().set(ResourceStatus::Failed);
                Err(ResourceError {
                    resource: self.name().to_owned(),
                    phase,
                    source: "did not finish within the stop budget; abandoned".into(),
                }
                .into())
            }
        }
    }
}

/// The resources of one service (or context), in start order.
pub(crate) struct Driver {
    entries: Vec<Entry>,
}

impl Driver {
    pub(crate) fn new(entries: Vec<Entry>) -> Self {
        Driver { entries }
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Runs a start phase (bind to post_start) over every resource in order, stopping at the
    /// first failure.
    pub(crate) async fn start_phase(&self, phase: Phase) -> Result<(), Error> {
        async {
            for entry in &self.entries {
                tracing::debug!(resource = entry.name(), "{phase}");
                entry.run(phase).await?;
                if phase == Phase::Start {
                    tracing::info!(resource = entry.name(), "started");
                }
            }
            Ok(())
        }
        .instrument(super::span::phase(phase))
        .await
    }

    /// Runs a stop phase over the resources that [`must_stop`], in reverse order, each within
    /// what is left of the grace period. Once it is over, the ones not reached yet are stopped
    /// all at once within the final window. A failure is logged and the others still stop;
    /// the first failure is returned.
    pub(crate) async fn stop_phase(&self, phase: Phase, budget: &StopBudget) -> Result<(), Error> {
        self.stop_each(phase, budget)
            .instrument(super::span::phase(phase))
            .await
    }

    async fn stop_each(&self, phase: Phase, budget: &StopBudget) -> Result<(), Error> {
        let mut first = None;
        let mut pending = self
            .entries
            .iter()
            .rev()
            .filter(|entry| must_stop(entry.progress(), phase));
        while let Some(entry) = pending.next() {
            if budget.expired() {
                // This one gets its turn in the final window, with the rest.
                let late: Vec<&Entry> = std::iter::once(entry).chain(pending.by_ref()).collect();
                tracing::warn!(
                    "the grace period is over: a last {phase} for {} resource(s) at once",
                    late.len()
                );
                let outcomes =
                    join_all(late.iter().map(|e| e.stop(phase, budget.final_end()))).await;
                for error in outcomes.into_iter().filter_map(Result::err) {
                    tracing::error!("{}", error_chain(&error));
                    first.get_or_insert(error);
                }
                break;
            }
            if let Err(error) = entry.stop(phase, budget.limit(None)).await {
                tracing::error!("{}", error_chain(&error));
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Every stop phase, in order (after a failed start, or from a context).
    pub(crate) async fn stop_all(&self, budget: &StopBudget) -> Result<(), Error> {
        let mut first = Ok(());
        for phase in super::STOP_PHASES {
            let outcome = self.stop_phase(phase, budget).await;
            first = first.and(outcome);
        }
        first
    }
}

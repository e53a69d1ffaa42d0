//! Walks resources through the lifecycle phases: start phases in dependency order, stop phases
//! in reverse; after a failed start, stops what had started.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Phase, ResourceError, error_chain};
use crate::resource::{ErasedResource, ResourceContext, ResourceStatus};

/// One resource under the driver's care.
pub(crate) struct Entry {
    pub(crate) resource: Arc<dyn ErasedResource>,
    pub(crate) cx: ResourceContext,
    progress: Mutex<Progress>,
}

#[derive(Default, Clone, Copy)]
struct Progress {
    /// The last phase this resource completed.
    reached: Option<Phase>,
    /// Whether one of its hooks failed.
    failed: bool,
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

    async fn run(&self, phase: Phase) -> Result<(), Error> {
        let (cx, resource) = (&self.cx, &self.resource);
        match phase {
            Phase::PreStart | Phase::Start => cx.status().set(ResourceStatus::Connecting),
            Phase::Stop => cx.status().set(ResourceStatus::Stopping),
            _ => {}
        }
        let outcome = match phase {
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
        };
        let mut progress = self.progress.lock().expect("progress lock");
        match outcome {
            Ok(()) => {
                progress.reached = Some(phase);
                match phase {
                    Phase::Start => cx.status().set(ResourceStatus::Started),
                    Phase::Stop => cx.status().set(ResourceStatus::Stopped),
                    _ => {}
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
        for entry in &self.entries {
            tracing::debug!(resource = entry.name(), "{phase}");
            entry.run(phase).await?;
            if phase == Phase::Start {
                tracing::info!(resource = entry.name(), "started");
            }
        }
        Ok(())
    }

    /// Runs a stop phase over every resource that started, in reverse order. A
    /// failure is logged and the others still stop; the first failure is returned.
    pub(crate) async fn stop_phase(&self, phase: Phase) -> Result<(), Error> {
        let mut first = None;
        for entry in self.entries.iter().rev() {
            let progress = entry.progress();
            if progress.reached < Some(Phase::PreStart)
                || (progress.failed && phase == Phase::PostStop)
            {
                continue;
            }
            tracing::info!(resource = entry.name(), "{phase}");
            if let Err(error) = entry.run(phase).await {
                tracing::error!("{}", error_chain(&error));
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// After a failed start: stops, in reverse order, the resources that had started, except
    /// the ones that failed.
    pub(crate) async fn stop_started(&self) {
        for phase in [Phase::Stop, Phase::PostStop] {
            for entry in self.entries.iter().rev() {
                let progress = entry.progress();
                if progress.failed || progress.reached < Some(Phase::Start) {
                    continue;
                }
                tracing::info!(resource = entry.name(), "{phase}");
                if let Err(error) = entry.run(phase).await {
                    tracing::error!("{}", error_chain(&error));
                }
            }
        }
    }
}

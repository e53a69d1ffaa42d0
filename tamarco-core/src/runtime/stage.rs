use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Phase, error_chain};
use crate::resource::BoxFuture;
use crate::shutdown::ShutdownHandle;

/// The framework's work for one lifecycle phase, handed to the service's hook for that phase.
///
/// A hook runs its own code, calls [`Stage::run`] where the framework's work belongs, and runs
/// more code after it:
///
/// ```ignore
/// async fn start(&self, stage: Stage) -> Result<(), BoxError> {
///     tracing::info!("before the resources start");
///     stage.run().await?;
///     tracing::info!("every resource is started");
///     Ok(())
/// }
/// ```
///
/// A hook that never calls `run` gets the framework's work run right after it returns. A
/// framework failure stops the service even if the hook ignores the error.
pub struct Stage {
    phase: Phase,
    shared: Arc<StageWork>,
    shutdown: ShutdownHandle,
}

/// The framework's work for one phase, run by whichever of the hook's stage and the finisher
/// gets to it first, and the failure it ended with.
#[derive(Default)]
struct StageWork {
    work: Mutex<Option<BoxFuture<'static, Result<(), Error>>>>,
    failure: Mutex<Option<Error>>,
}

impl Stage {
    /// Runs `work` for `phase` wrapped in `hook` (if any): the hook's code around the framework's.
    /// A framework failure wins over the hook's own error.
    pub(crate) async fn around<H>(
        phase: Phase,
        hook: Option<H>,
        work: BoxFuture<'static, Result<(), Error>>,
        shutdown: &ShutdownHandle,
    ) -> Result<(), Error>
    where
        H: FnOnce(Stage) -> BoxFuture<'static, Result<(), crate::BoxError>>,
    {
        let shared = Arc::new(StageWork {
            work: Mutex::new(Some(work)),
            failure: Mutex::new(None),
        });
        let stage = Stage {
            phase,
            shared: Arc::clone(&shared),
            shutdown: shutdown.clone(),
        };
        let hook_result = match hook {
            Some(hook) => {
                let finisher = Stage {
                    phase,
                    shared: Arc::clone(&shared),
                    shutdown: shutdown.clone(),
                };
                // A panicking hook fails its phase like an error: the service stops cleanly.
                let result = crate::panic::catch(hook(stage)).await;
                finisher.run_work().await;
                result
            }
            None => {
                stage.run_work().await;
                Ok(())
            }
        };
        if let Some(failure) = shared.failure.lock().expect("stage lock").take() {
            return Err(failure);
        }
        hook_result.map_err(|source| Error::Hook { phase, source })
    }

    /// The phase this stage is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The service's graceful-stop handle.
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.shutdown
    }

    /// Runs the framework's work for this phase; calling it again does nothing.
    pub async fn run(&self) -> Result<(), StageFailed> {
        match self.run_work().await {
            Some(message) => Err(StageFailed {
                phase: self.phase,
                message,
            }),
            None => Ok(()),
        }
    }

    /// Runs the work if nobody did yet; returns the failure's message, if any.
    async fn run_work(&self) -> Option<String> {
        let work = self.shared.work.lock().expect("stage lock").take()?;
        let error = work.await.err()?;
        let message = error_chain(&error);
        *self.shared.failure.lock().expect("stage lock") = Some(error);
        Some(message)
    }
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// The framework's work for a phase failed; the runtime has the full error and stops.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the framework's {phase} stage failed: {message}")]
pub struct StageFailed {
    /// The phase.
    pub phase: Phase,
    /// The failure, with its causes.
    pub message: String,
}

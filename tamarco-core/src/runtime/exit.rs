use std::process::{ExitCode, Termination};

use crate::error::Error;

/// How a service ended; `main` can return it. The exit codes are part of the public contract,
/// for orchestrators and scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitStatus {
    /// A clean, graceful stop: exit code 0; also a stop signal that came while the settings
    /// loaded ([`Error::StoppedBeforeStart`]).
    Success,
    /// A resource, hook, task or setting failed: exit code 1. The error was logged.
    Failure,
    /// A restart policy asked for the service to be restarted (`restart_microservice_on_failure`):
    /// exit code 75.
    RestartRequested,
    /// The graceful stop outlived the grace period: exit code 124.
    GracePeriodExpired,
    /// A second stop signal forced the exit: exit code 130.
    Forced,
}

impl ExitStatus {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::RestartRequested => 75,
            ExitStatus::GracePeriodExpired => 124,
            ExitStatus::Forced => 130,
        }
    }

    /// The status for the outcome of [`Runtime::try_serve`](super::Runtime::try_serve).
    pub fn of(outcome: &Result<(), Error>) -> Self {
        match outcome {
            Ok(()) | Err(Error::StoppedBeforeStart) => ExitStatus::Success,
            Err(Error::GracePeriodExpired(_)) => ExitStatus::GracePeriodExpired,
            Err(Error::Forced) => ExitStatus::Forced,
            Err(Error::RestartRequested { .. }) => ExitStatus::RestartRequested,
            Err(_) => ExitStatus::Failure,
        }
    }
}

impl Termination for ExitStatus {
    fn report(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}

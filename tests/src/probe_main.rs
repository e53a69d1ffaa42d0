//! The `main` of the probe binaries that print something about the running service (its
//! registry instance, its settings) before they wait for a signal.

use tamarco::serde_json::Value;
use tamarco::{ExitStatus, Running, TaskSet};

/// Starts `service` with the in-code `settings` on a runtime of its own, calls `started` with
/// the running service, then runs until a signal stops it. A failed start is logged with its
/// causes and exits non-zero.
pub fn probe_main<S: TaskSet>(
    service: S,
    settings: Value,
    started: impl FnOnce(&Running<S>),
) -> ExitStatus {
    let runtime = match tamarco::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("a tokio runtime: {error}"),
    };
    let service = service
        .runtime()
        .with_settings(settings)
        .expect("valid settings");
    runtime.block_on(async {
        let running = match service.start().await {
            Ok(running) => running,
            Err(error) => {
                tamarco::tracing::error!("{}", tamarco::error_chain(&error));
                return ExitStatus::Failure;
            }
        };
        started(&running);
        match running.wait().await {
            Ok(()) => ExitStatus::Success,
            Err(_) => ExitStatus::Failure,
        }
    })
}

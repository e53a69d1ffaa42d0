//! SIGTERM and SIGINT: the first begins a graceful stop, the second forces the exit.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use crate::shutdown::{ShutdownHandle, StopReason};

/// Listens for stop signals. The returned receiver completes on the second signal.
pub(crate) fn listen(shutdown: ShutdownHandle) -> std::io::Result<oneshot::Receiver<()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (forced_tx, forced_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut next = async || {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        };
        let first = next().await;
        tracing::info!("{first} received: stopping gracefully (send it again to force the exit)");
        shutdown.request(StopReason::Signal(first));
        let second = next().await;
        tracing::warn!("{second} received during the graceful stop: forcing the exit");
        let _ = forced_tx.send(());
    });
    Ok(forced_rx)
}

//! Input loops under supervision: each runs on what the engine was started on, and one that
//! panics, fails or ends while its input should run marks the resource `FAILED`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::dispatch::panicked;
use super::input::{InputTask, Launch};
use super::resolve::Resolved;
use super::state::{Declared, EngineState, Started, Via};
use super::transport::Transport;
use crate::error_chain;
use crate::resource::{ResourceContext, ResourceStatus};

/// Spawns an input's loop on what the engine runs on; an input that cannot run there (a stream
/// on the in-memory broker) is an error naming it.
pub(super) fn launch_via<Tr: Transport>(
    shared: &Arc<EngineState<Tr>>,
    started: &Started<Tr>,
    input: &Declared<Tr>,
    options: Resolved,
    first: Option<oneshot::Sender<Result<(), String>>>,
) -> Result<JoinHandle<()>, String> {
    let cx = &started.cx;
    match (&started.via, &input.memory) {
        (Via::Own(transport), _) => Ok(launch(
            shared,
            Arc::clone(transport),
            cx,
            Arc::clone(&input.task),
            options,
            first,
        )),
        (Via::Memory(transport), Some(task)) => Ok(launch(
            shared,
            Arc::clone(transport),
            cx,
            Arc::clone(task),
            options,
            first,
        )),
        (Via::Memory(_), None) => Err(format!(
            "{} input `{}` is a stream, which cannot run on the in-memory broker",
            input.task.kind(),
            input.task.spec().name()
        )),
    }
}

/// Spawns an input's loop under supervision: a loop that panics, fails or ends while the input
/// should run marks the resource `FAILED` and says so in the log.
fn launch<Tr: Transport, T: Transport>(
    shared: &Arc<EngineState<Tr>>,
    transport: Arc<T>,
    cx: &ResourceContext,
    input: Arc<dyn InputTask<T>>,
    options: Resolved,
    first: Option<oneshot::Sender<Result<(), String>>>,
) -> JoinHandle<()> {
    let resource: Arc<str> = Arc::from(cx.name());
    let launch = Launch {
        transport,
        resource: Arc::clone(&resource),
        options,
        halt: shared.halt.subscribe(),
        first,
    };
    let cx = cx.clone();
    let shared = Arc::clone(shared);
    let name = input.spec().name().to_owned();
    let stream = input.mode() == "stream";
    tokio::spawn(async move {
        let ended = AssertUnwindSafe(input.run(launch)).catch_unwind().await;
        let problem = match ended {
            Ok(Ok(())) if *shared.halt.borrow() => return,
            Ok(Ok(())) => {
                // A stream whose reader went away ends its input on purpose.
                if stream {
                    return;
                }
                "it ended while the resource runs".to_owned()
            }
            Ok(Err(error)) => error_chain(&*error),
            Err(panic) => panicked("its loop", &*panic),
        };
        shared.failed.store(true, Ordering::Release);
        cx.status().set(ResourceStatus::Failed);
        tracing::error!(
            resource = &*resource,
            input = name,
            "input stopped unexpectedly, so the resource is FAILED: {problem}"
        );
    })
}

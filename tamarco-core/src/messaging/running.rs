//! The engine while it runs: started on the resource's transport (or a test's in-memory
//! broker), halted, stopped (for good once the service stops; else for a restart, keeping the
//! inputs to run again).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::engine::Engine;
use super::memory::{Envelope, MemoryBroker};
use super::resolve::resolve;
use super::spec::InputOptions;
use super::state::{Started, Via};
use super::supervise::launch_via;
use super::transport::Transport;
use crate::BoxError;
use crate::resource::ResourceContext;

impl<Tr: Transport> Engine<Tr> {
    /// Starts every input declared so far on `transport` (later ones start as they are
    /// declared), and waits until each consumes, at most `ready_timeout`. `defaults` fill what
    /// neither the code nor the settings (`inputs.<name>` under the resource's settings) say.
    /// The inputs halt when the service begins to stop.
    pub async fn start(
        &self,
        transport: Arc<Tr>,
        cx: &ResourceContext,
        defaults: InputOptions,
        ready_timeout: Duration,
    ) -> Result<(), BoxError> {
        self.begin(Via::Own(transport), cx, defaults, ready_timeout)
            .await
    }

    /// Starts the inputs as [`start`](Self::start) does, but on the in-memory `broker` instead
    /// of the resource's transport (a test's broker: see [`MemoryBroker::for_resource`]);
    /// handlers see `meta(envelope)` as the transport's metadata. Stream inputs cannot run
    /// there: the start fails naming them.
    pub async fn start_in_memory<F>(
        &self,
        broker: &MemoryBroker,
        meta: F,
        cx: &ResourceContext,
        defaults: InputOptions,
        ready_timeout: Duration,
    ) -> Result<(), BoxError>
    where
        F: Fn(&Envelope) -> Tr::Meta + Send + Sync + 'static,
    {
        let transport = Arc::new(broker.transport(meta));
        self.begin(Via::Memory(transport), cx, defaults, ready_timeout)
            .await
    }

    async fn begin(
        &self,
        via: Via<Tr>,
        cx: &ResourceContext,
        defaults: InputOptions,
        ready_timeout: Duration,
    ) -> Result<(), BoxError> {
        *self.shared.resource.lock().expect("resource lock") = Arc::from(cx.name());
        *self.shared.shutdown.lock().expect("shutdown lock") = Some(cx.shutdown().clone());
        self.shared.halt.send_replace(false);
        self.shared.failed.store(false, Ordering::Release);
        let inputs = self.shared.inputs.lock().expect("inputs lock").clone();
        let resolved = inputs
            .iter()
            .map(|input| {
                resolve(cx, input.task.spec(), &defaults, Tr::INPUT_KEYS)
                    .map(|o| (input.clone(), o))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let started = Started {
            via,
            cx: cx.clone(),
            defaults,
        };
        let mut firsts = Vec::new();
        {
            let mut tasks = self.shared.tasks.lock().expect("tasks lock");
            for (input, options) in resolved {
                let (sender, receiver) = oneshot::channel();
                let task = launch_via(&self.shared, &started, &input, options, Some(sender))?;
                tasks.push(task);
                firsts.push((input.task, receiver));
            }
        }
        let stopping = cx.shutdown().clone();
        let shared = Arc::clone(&self.shared);
        let halter = tokio::spawn(async move {
            stopping.stopping().await;
            shared.halt.send_replace(true);
            shared.release();
        });
        let previous = self
            .shared
            .halter
            .lock()
            .expect("halter lock")
            .replace(halter);
        if let Some(previous) = previous {
            previous.abort();
        }
        *self.shared.started.lock().expect("started lock") = Some(started);
        for (input, first) in firsts {
            let problem = match tokio::time::timeout(ready_timeout, first).await {
                Ok(Ok(Ok(()))) => continue,
                Ok(Ok(Err(problem))) => problem,
                Ok(Err(_)) => "it stopped before consuming".to_owned(),
                Err(_) => format!("not consuming after {ready_timeout:?}"),
            };
            return Err(format!(
                "{} input `{}` cannot start: {problem}",
                input.kind(),
                input.spec().name()
            )
            .into());
        }
        Ok(())
    }

    /// Stops intake: inputs take no new messages, streams end after what they buffered.
    pub fn halt(&self) {
        self.shared.halt.send_replace(true);
    }

    /// Halts, then waits for the messages in flight to be finished and settled, at most
    /// `timeout`; what is still running then is abandoned (its messages go back to the broker
    /// when the transport closes). Returns whether everything finished.
    ///
    /// While the service runs (a restart policy restarting the resource), the inputs stay
    /// declared and the next [`start`](Self::start) runs them again; stream readers read on.
    /// Once the service stops (or if it never started the engine), the inputs are released:
    /// streams end and the stop waits for their readers too.
    pub async fn stop(&self, timeout: Duration) -> bool {
        self.halt();
        *self.shared.started.lock().expect("started lock") = None;
        let last = self
            .shared
            .shutdown
            .lock()
            .expect("shutdown lock")
            .as_ref()
            .is_none_or(crate::ShutdownHandle::is_stopping);
        let mut tasks: Vec<_> = self
            .shared
            .tasks
            .lock()
            .expect("tasks lock")
            .drain(..)
            .collect();
        if last {
            self.shared.release();
            tasks.append(&mut self.shared.readers.lock().expect("readers lock"));
            // The halter waits for the service's stop, which may not come (the engine can be
            // stopped on its own); on a restart it stays, to release the inputs at the end.
            if let Some(halter) = self.shared.halter.lock().expect("halter lock").take() {
                halter.abort();
            }
        }
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let finished = tokio::time::timeout(timeout, futures_util::future::join_all(tasks))
            .await
            .is_ok();
        if !finished {
            tracing::warn!(
                resource = &*self.resource(),
                "handlers still running after {timeout:?}; their messages go back to the broker"
            );
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        finished
    }

    /// Whether an input loop ended unexpectedly (the resource is then `FAILED`).
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }
}

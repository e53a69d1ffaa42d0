//! Stream inputs read by a reader the engine runs (`#[input(..., stream)]`): the reader gets
//! the [`InputStream`] as the input is declared, runs beside the input, and is waited for when
//! the engine stops, so that what it holds is settled. No stream is parked between a hook and
//! a task.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;

use super::dispatch::panicked;
use super::engine::{Engine, EngineError};
use super::kind::Kind;
use super::spec::InputSpec;
use super::stream::InputStream;
use super::transport::Transport;
use crate::codec::Codec;
use crate::resource::ResourceStatus;
use crate::{BoxError, error_chain};

impl<Tr: Transport> Engine<Tr> {
    /// Declares an input of kind `K` read as a stream by `reader`, which the engine spawns at
    /// once (on the current tokio runtime) and waits for when it stops. The stream yields once
    /// the input consumes, and ends when the service begins to stop. A reader that fails or
    /// panics marks the resource `FAILED` and says so in the log; one that returns `Ok` early
    /// ends the input.
    pub fn read<K, T, C, F, Fut, E>(
        &self,
        spec: InputSpec,
        codec: C,
        reader: F,
    ) -> Result<(), EngineError>
    where
        K: Kind,
        T: Send + 'static,
        C: Codec<T>,
        F: FnOnce(InputStream<T, Tr::Received>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let name = spec.name().to_owned();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(EngineError::NoRuntime { input: name });
        };
        let stream = self.stream::<K, T, C>(spec, codec)?;
        let shared = std::sync::Arc::clone(&self.shared);
        let task = runtime.spawn(async move {
            let ended = AssertUnwindSafe(async move { reader(stream).await.map_err(Into::into) })
                .catch_unwind()
                .await;
            let problem = match ended {
                Ok(Ok(())) => return,
                Ok(Err(error)) => error_chain(&*error),
                Err(panic) => panicked("the reader", &*panic),
            };
            shared.failed.store(true, Ordering::Release);
            if let Some(started) = &*shared.started.lock().expect("started lock") {
                started.cx.status().set(ResourceStatus::Failed);
            }
            let resource = std::sync::Arc::clone(&shared.resource.lock().expect("resource lock"));
            tracing::error!(
                resource = &*resource,
                input = name,
                "the stream reader failed, so the resource is FAILED: {problem}"
            );
        });
        self.shared.readers.lock().expect("readers lock").push(task);
        Ok(())
    }
}

//! One declared input and its consuming loop: open a consumer (again after a backoff when it
//! fails or breaks), run a [session](super::worker) of `concurrency` workers over it, and
//! finish the messages in flight when the input halts.
//!
//! With one worker, messages are handled in order; the per-message path allocates nothing (no
//! spawned task, no boxed future).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::dispatch::{Dispatch, Run, raised};
use super::resolve::Resolved;
use super::spec::{InputInfo, InputSpec};
use super::stats::InputStats;
use super::transport::Transport;
use super::worker::{SessionEnd, session};
use crate::backoff::Backoff;
use crate::resource::BoxFuture;
use crate::{BoxError, error_chain};

const OPEN_BACKOFF: Duration = Duration::from_millis(100);
const OPEN_MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What a run of an input is given by the engine.
pub(crate) struct Launch<Tr> {
    pub(crate) transport: Arc<Tr>,
    pub(crate) resource: Arc<str>,
    /// Resolved: settings, code, defaults.
    pub(crate) options: Resolved,
    pub(crate) halt: watch::Receiver<bool>,
    /// Told how the first attempt to consume went.
    pub(crate) first: Option<oneshot::Sender<Result<(), String>>>,
}

/// A declared input, whatever its message type and handler.
pub(crate) trait InputTask<Tr: Transport>: Send + Sync + 'static {
    fn spec(&self) -> &InputSpec;
    fn kind(&self) -> &'static str;
    fn mode(&self) -> &'static str;
    fn codec(&self) -> &str;
    fn stats(&self) -> &Arc<InputStats>;
    /// Consumes until the input halts (`Ok`); an `Err` is an unexpected end. Runs again after
    /// a restart of its resource, until it is [released](Self::release).
    fn run(self: Arc<Self>, launch: Launch<Tr>) -> BoxFuture<'static, Result<(), BoxError>>;
    /// Drops the dispatcher once the run in progress ends: a stream ends, a handler's captured
    /// service is freed. The input cannot run again.
    fn release(&self);
}

/// An input with its dispatcher, which every run shares until the service stops and the
/// engine releases it (a restart of the resource runs it again).
pub(crate) struct Input<D> {
    pub(crate) spec: InputSpec,
    pub(crate) kind: &'static str,
    pub(crate) codec: String,
    pub(crate) stats: Arc<InputStats>,
    pub(crate) dispatch: Mutex<Option<Arc<D>>>,
}

impl<D> Input<D> {
    pub(crate) fn new(spec: InputSpec, kind: &'static str, codec: String, dispatch: D) -> Self {
        Input {
            spec,
            kind,
            codec,
            stats: Arc::new(InputStats::default()),
            dispatch: Mutex::new(Some(Arc::new(dispatch))),
        }
    }
}

impl<Tr, D> InputTask<Tr> for Input<D>
where
    Tr: Transport,
    D: Dispatch<Tr::Received>,
{
    fn spec(&self) -> &InputSpec {
        &self.spec
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn mode(&self) -> &'static str {
        D::MODE
    }

    fn codec(&self) -> &str {
        &self.codec
    }

    fn stats(&self) -> &Arc<InputStats> {
        &self.stats
    }

    fn run(self: Arc<Self>, launch: Launch<Tr>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move {
            let dispatch = self.dispatch.lock().expect("dispatch lock").clone();
            let Some(dispatch) = dispatch else {
                return Err("the input was released when the service stopped".into());
            };
            let info = InputInfo {
                name: super::names::interned(self.spec.name()),
                kind: self.kind,
                mode: D::MODE,
                codec: self.codec.clone(),
                options: launch.options.options,
                transport: launch.options.transport,
            };
            self.stats.register_metrics(&launch.resource, info.name());
            let run = Arc::new(Run {
                resource: launch.resource,
                info,
                stats: Arc::clone(&self.stats),
                halt: launch.halt,
            });
            consume(&*launch.transport, &*dispatch, &run, launch.first).await
        })
    }

    fn release(&self) {
        self.dispatch.lock().expect("dispatch lock").take();
    }
}

/// The life of an input: sessions on fresh consumers until it halts.
async fn consume<Tr, D>(
    transport: &Tr,
    dispatch: &D,
    run: &Arc<Run>,
    mut first: Option<oneshot::Sender<Result<(), String>>>,
) -> Result<(), BoxError>
where
    Tr: Transport,
    D: Dispatch<Tr::Received>,
{
    let mut halt = run.halt.clone();
    let mut backoff = Backoff::new(OPEN_BACKOFF, OPEN_MAX_BACKOFF);
    let name = run.info.name();
    let resource = &*run.resource;
    while !run.halted() {
        let opened = tokio::select! {
            opened = transport.open(&run.info) => opened,
            () = raised(&mut halt) => break,
        };
        let problem = match opened {
            Ok(consumer) => {
                if let Some(first) = first.take() {
                    let _ = first.send(Ok(()));
                }
                tracing::info!(
                    resource,
                    input = name,
                    kind = run.info.kind(),
                    "input consuming"
                );
                run.stats.consuming.store(true, Ordering::Relaxed);
                let end = session(consumer, dispatch, run).await;
                run.stats.consuming.store(false, Ordering::Relaxed);
                match end {
                    SessionEnd::Halted => break,
                    SessionEnd::ReaderGone => return Ok(()),
                    SessionEnd::Closed => "the broker ended the consumer".to_owned(),
                    SessionEnd::Broken(error) => error_chain(&*error),
                }
            }
            Err(error) => error_chain(&*error),
        };
        if let Some(first) = first.take() {
            let _ = first.send(Err(problem.clone()));
        }
        if run.halted() {
            break;
        }
        let wait = backoff.next_delay();
        tracing::warn!(
            resource,
            input = name,
            "input not consuming; retrying in {wait:?}: {problem}"
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = raised(&mut halt) => break,
        }
    }
    Ok(())
}

//! One declared input and its consuming loop: open a consumer (again after a backoff when it
//! fails or breaks), run `concurrency` workers over it, and finish the messages in flight when
//! the input halts.
//!
//! Workers pull from the shared consumer one at a time: with one worker, messages are handled
//! in order; the per-message path allocates nothing (no spawned task, no boxed future).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{oneshot, watch};

use super::dispatch::{Dispatch, Flow, Run, raised};
use super::resolve::Resolved;
use super::spec::{InputInfo, InputSpec};
use super::stats::{Count, InputStats};
use super::traced;
use super::transport::{Consumer, Transport};
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
                name: Arc::from(self.spec.name()),
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

enum SessionEnd {
    Halted,
    ReaderGone,
    Closed,
    Broken(BoxError),
}

/// One consumer, read by `concurrency` workers until the input halts or the consumer ends;
/// then the messages in flight are finished and intake is cancelled.
async fn session<C, D>(consumer: C, dispatch: &D, run: &Arc<Run>) -> SessionEnd
where
    C: Consumer,
    D: Dispatch<C::Received>,
{
    let consumer = tokio::sync::Mutex::new(consumer);
    let (over, over_rx) = watch::channel(None::<()>);
    let workers = (0..run.info.concurrency())
        .map(|_| worker(&consumer, dispatch, run, &over, over_rx.clone()));
    let ends = futures_util::future::join_all(workers).await;
    consumer.into_inner().cancel().await;
    let mut outcome = SessionEnd::Halted;
    for end in ends {
        outcome = match (outcome, end) {
            (SessionEnd::Broken(e), _) | (_, SessionEnd::Broken(e)) => SessionEnd::Broken(e),
            (SessionEnd::Closed, _) | (_, SessionEnd::Closed) => SessionEnd::Closed,
            (SessionEnd::ReaderGone, _) | (_, SessionEnd::ReaderGone) => SessionEnd::ReaderGone,
            _ => SessionEnd::Halted,
        };
    }
    outcome
}

async fn worker<C, D>(
    consumer: &tokio::sync::Mutex<C>,
    dispatch: &D,
    run: &Arc<Run>,
    over: &watch::Sender<Option<()>>,
    mut over_rx: watch::Receiver<Option<()>>,
) -> SessionEnd
where
    C: Consumer,
    D: Dispatch<C::Received>,
{
    {
        let mut halt = run.halt.clone();
        loop {
            // Taking ready messages does not yield on its own: this lets the runtime's other
            // tasks run once the worker has used its budget.
            tokio::task::coop::consume_budget().await;
            let next = match ready(consumer, run, &over_rx) {
                Some(next) => next,
                None => tokio::select! {
                    biased;
                    () = raised(&mut halt) => return SessionEnd::Halted,
                    _ = over_rx.wait_for(Option::is_some) => return SessionEnd::Halted,
                    next = async { consumer.lock().await.next().await } => next,
                },
            };
            let received = match next {
                Some(Ok(received)) => received,
                Some(Err(error)) => {
                    over.send_replace(Some(()));
                    return SessionEnd::Broken(error);
                }
                None => {
                    over.send_replace(Some(()));
                    return SessionEnd::Closed;
                }
            };
            run.stats.add(Count::Received);
            run.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            let flow = traced::dispatch(dispatch, run, received).await;
            run.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            if flow == Flow::ReaderGone {
                over.send_replace(Some(()));
                return SessionEnd::ReaderGone;
            }
        }
    }
}

/// What the consumer has ready now, without waiting, unless the input halts or the session is
/// over (checked first, as the `select!` does). While the broker keeps up, a worker takes one
/// message after another this way: several per wake-up, without the `select!`'s three
/// futures (two watch waiters registered and dropped, the consumer lock awaited) per message.
/// `None` when nothing is ready: the worker then waits in the `select!`. Consumers' `next`
/// is cancel-safe (the `select!` drops it too), so a poll that finds nothing loses nothing.
fn ready<C: Consumer>(
    consumer: &tokio::sync::Mutex<C>,
    run: &Run,
    over: &watch::Receiver<Option<()>>,
) -> Option<Option<Result<C::Received, BoxError>>> {
    if run.halted() || over.borrow().is_some() {
        return None;
    }
    let mut consumer = consumer.try_lock().ok()?;
    consumer.next().now_or_never()
}

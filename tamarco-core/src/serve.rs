//! [`Listener`]: the HTTP/1.1 accept loop of tamarco's servers (the report server, and the
//! `tamarco` crate's HTTP and WebSocket resources), hardened against idle and slow clients:
//! a cap on open connections, a header read timeout, and a stop whose drain is bounded.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::Request;
use futures_util::FutureExt;
use futures_util::task::AtomicWaker;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tower::Service;

/// How a [`Listener`] treats its connections.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Whether connections stay open between requests (HTTP/1.1 keep-alive).
    pub keep_alive: bool,
    /// How long a client may take to send a request's headers before its connection is
    /// closed, counted from the connection's opening or the end of its previous response;
    /// `None` for no limit. The connection is closed between this and a quarter more after the
    /// client went quiet: one timer per connection checks it, none per request.
    pub header_read_timeout: Option<Duration>,
    /// The most connections open at once (at least 1). At the cap the server stops
    /// accepting until one closes; new clients wait in the system's listen backlog.
    pub max_connections: usize,
    /// On stop, how long the server keeps accepting before it closes its listener.
    pub drain_delay: Option<Duration>,
    /// On stop, how long requests in flight may take before their connections are closed.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            keep_alive: true,
            header_read_timeout: Some(Duration::from_secs(10)),
            max_connections: 1024,
            drain_delay: None,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A running accept loop: serves an axum [`Router`] on a bound listener until
/// [`stop`](Self::stop).
///
/// **Stop** keeps accepting for `drain_delay`, closes the listener, closes at once the
/// connections that never sent a whole request (idle or half-open clients hold nothing), lets
/// the requests in flight finish for at most `drain_timeout` (and not past the stop's
/// deadline), then closes what is left.
#[derive(Debug)]
pub struct Listener {
    stop: oneshot::Sender<Option<Instant>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Spawns the accept loop of `listener`. `name` names the server in logs; `open` counts
    /// its open connections.
    pub fn spawn(
        listener: TcpListener,
        router: Router,
        options: ServeOptions,
        name: &str,
        open: Arc<AtomicUsize>,
    ) -> Listener {
        let mut http = http1::Builder::new();
        http.keep_alive(options.keep_alive);
        // No timer for hyper: its header read timeout would arm one per request; the
        // connection's watchdog (see `connection`) enforces `header_read_timeout` instead.
        let shared = Arc::new(ConnectionKit {
            http,
            router,
            open,
            name: name.to_owned(),
            header_read_timeout: options.header_read_timeout,
        });
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, shared, stop_rx, options));
        Listener { stop, task }
    }

    /// Stops accepting and drains (see [`Listener`]); returns once every connection closed.
    /// `deadline` (a resource's [`stop_deadline`](crate::ResourceContext::stop_deadline))
    /// bounds the drain besides its own timeout.
    pub async fn stop(self, deadline: Option<Instant>) -> Result<(), tokio::task::JoinError> {
        let _ = self.stop.send(deadline);
        self.task.await
    }
}

/// What every connection of one server needs.
struct ConnectionKit {
    http: http1::Builder,
    router: Router,
    open: Arc<AtomicUsize>,
    name: String,
    header_read_timeout: Option<Duration>,
}

/// Accepts until `stop` fires, then drains (see [`Listener`]).
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<ConnectionKit>,
    mut stop: oneshot::Receiver<Option<Instant>>,
    options: ServeOptions,
) {
    let name = shared.name.clone();
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (close, closing) = watch::channel(false);
    let mut open = JoinSet::new();
    let mut stopping = false;
    let mut deadline = None;
    let mut warned_full = false;
    let delay = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(delay);
    loop {
        tokio::select! {
            biased;
            given = &mut stop, if !stopping => {
                stopping = true;
                deadline = given.ok().flatten();
                match options.drain_delay {
                    Some(pause) => {
                        tracing::info!(resource = %name, "stopping: still accepting for {pause:?}");
                        delay.as_mut().reset(tokio::time::Instant::now() + pause);
                    }
                    None => break,
                }
            }
            () = &mut delay, if stopping => break,
            Some(_) = open.join_next(), if !open.is_empty() => {}
            accepted = accept(&listener, &slots, &mut warned_full, &name) => match accepted {
                Ok((stream, peer, slot)) => {
                    open.spawn(connection(stream, peer, Arc::clone(&shared), closing.clone(), slot));
                }
                Err(error) => accept_failed(&name, error).await,
            },
        }
    }
    drop(listener);
    tracing::info!(resource = %name, connections = open.len(), "stopped accepting; draining");
    close.send_replace(true);
    let drained = async { while open.join_next().await.is_some() {} };
    // A little before the stop's deadline, so that the connections are closed by us.
    let mut limit = Instant::now() + options.drain_timeout;
    if let Some(deadline) = deadline {
        limit = limit.min(deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline));
    }
    if tokio::time::timeout_at(limit, drained).await.is_err() {
        tracing::warn!(
            resource = %name,
            connections = open.len(),
            "drain timeout ({:?}): closing the connections still open",
            options.drain_timeout
        );
        open.shutdown().await;
    }
    tracing::info!(resource = %name, "http server stopped");
}

/// How long before the stop's deadline the drain gives up.
const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

/// The next connection, once a slot under the cap is free. Cancel-safe: a slot taken for a
/// connection not yet accepted goes back when the future is dropped.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    warned_full: &mut bool,
    name: &str,
) -> std::io::Result<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = match Arc::clone(slots).try_acquire_owned() {
        Ok(slot) => slot,
        Err(_) => {
            if !std::mem::replace(warned_full, true) {
                tracing::warn!(
                    resource = %name,
                    "connection cap reached: new connections wait until one closes"
                );
            }
            Arc::clone(slots)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed")
        }
    };
    let (stream, peer) = listener.accept().await?;
    Ok((stream, peer, slot))
}

/// Errors of one connection (reset, refused) pass; others (no file descriptors left) are
/// logged and retried after a pause, like axum's own loop.
async fn accept_failed(name: &str, error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(resource = %name, "accept failed: {error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection. Once `closing`: a connection that never handed over a whole
/// request is dropped; any other finishes its request in flight and closes.
///
/// With a header read timeout, a watchdog checks the connection every quarter of it, and
/// closes it after four checks in a row that saw no request arrive, none in flight and no
/// response end: the client has then been sending no whole request for at least the timeout.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<ConnectionKit>,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    shared.open.fetch_add(1, Ordering::Relaxed);
    let _open = OpenGuard(Arc::clone(&shared.open));
    let router = shared.router.clone();
    let exchanges = Arc::new(Exchanges::default());
    let seen = Arc::clone(&exchanges);
    // hyper calls the service in the same poll that reads a request's last header byte, so
    // between polls `exchanges` says whether any request was handed over.
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        seen.requests.fetch_add(1, Ordering::Relaxed);
        let finished = Finished(Arc::clone(&seen));
        router.clone().call(request).map(|result| {
            result.map(|response| {
                response.map(|body| CountedBody {
                    body,
                    _finished: finished,
                })
            })
        })
    });
    let conn = shared
        .http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let check = shared.header_read_timeout.map(|timeout| timeout / 4);
    let watchdog = tokio::time::sleep(check.unwrap_or(Duration::MAX));
    tokio::pin!(watchdog);
    // The stop signal and the watchdog wake the task through a waker of their own, which
    // flags them: each wake-up of the connection polls them only when they woke it, and
    // hyper alone otherwise (most wake-ups are the client's bytes).
    let side = Arc::new(SideWake::default());
    let side_waker = Waker::from(Arc::clone(&side));
    let mut last = exchanges.snapshot();
    let mut quiet = 0;
    loop {
        let stop = closing.wait_for(|closing| *closing);
        tokio::pin!(stop);
        // A new future (or a new sleep): polled once to register.
        side.woken.store(true, Ordering::Release);
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                return Poll::Ready(Event::Ended(result));
            }
            side.task.register(cx.waker());
            if side.woken.swap(false, Ordering::AcqRel) {
                let mut side_cx = Context::from_waker(&side_waker);
                if stop.as_mut().poll(&mut side_cx).is_ready() {
                    return Poll::Ready(Event::Closing);
                }
                if check.is_some() && watchdog.as_mut().poll(&mut side_cx).is_ready() {
                    return Poll::Ready(Event::Check);
                }
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Ended(result) => {
                if let Err(error) = result {
                    tracing::trace!("connection from {peer}: {error}");
                }
                return;
            }
            Event::Closing => break,
            Event::Check => {
                let now = exchanges.snapshot();
                quiet = if now == last && now.0 == now.1 {
                    quiet + 1
                } else {
                    0
                };
                if quiet == 4 {
                    tracing::trace!("connection from {peer}: no request headers in time");
                    return;
                }
                last = now;
                let check = check.expect("the watchdog runs with a check period");
                // A new sleep rather than a reset: `sleep` caps a huge timeout, `+` would panic.
                watchdog.set(tokio::time::sleep(check));
            }
        }
    }
    if exchanges.snapshot().0 == 0 {
        return;
    }
    conn.as_mut().graceful_shutdown();
    if let Err(error) = conn.await {
        tracing::trace!("connection from {peer}: {error}");
    }
}

/// What ended a wait of [`connection`].
enum Event<E> {
    /// hyper is done with the connection.
    Ended(Result<(), E>),
    /// The server stops.
    Closing,
    /// The watchdog's period passed.
    Check,
}

/// The waker of a connection's stop signal and watchdog: it flags that one of them woke the
/// connection's task, then wakes the task.
#[derive(Default)]
struct SideWake {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// The requests of one connection handed to the service, and the responses it finished (the
/// body sent, or dropped).
#[derive(Default)]
struct Exchanges {
    requests: AtomicU64,
    responses: AtomicU64,
}

impl Exchanges {
    /// Requests and responses so far; equal when none is in flight. (Both change only while
    /// the connection's task polls hyper, the task that reads them.)
    fn snapshot(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.responses.load(Ordering::Relaxed),
        )
    }
}

/// A response body that counts its response finished when hyper drops it.
struct CountedBody {
    body: Body,
    _finished: Finished,
}

/// Counts a response finished when dropped.
struct Finished(Arc<Exchanges>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.responses.fetch_add(1, Ordering::Relaxed);
    }
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Counts a connection out when dropped.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

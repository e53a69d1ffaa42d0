//! [`WebSocket`]: one connection as its handler sees it. Outgoing messages go through a queue
//! to a writer that owns the socket's sending half, so that the server can always send the
//! close frame, whatever the handler is doing.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{self, CloseFrame, Message};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};

/// Close code 1001: the server is going away.
const GOING_AWAY: u16 = 1001;
/// Close code 1000: normal closure.
const NORMAL: u16 = 1000;
/// How many outgoing messages may wait for the writer.
const QUEUE: usize = 64;

/// A WebSocket connection of a [`WebSocketServer`](super::WebSocketServer).
pub struct WebSocket {
    incoming: SplitStream<ws::WebSocket>,
    sender: WebSocketSender,
    closing: watch::Receiver<bool>,
}

/// A cloneable handle that sends on one connection, from any task.
#[derive(Clone)]
pub struct WebSocketSender(mpsc::Sender<Message>);

/// The connection is closed (or closing); the message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketClosed;

impl fmt::Display for WebSocketClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the websocket is closed")
    }
}

impl std::error::Error for WebSocketClosed {}

impl WebSocket {
    /// The handler's side of `socket`, and the writer to run beside the handler.
    pub(super) fn new(
        socket: ws::WebSocket,
        closing: watch::Receiver<bool>,
        ping: Option<Duration>,
    ) -> (WebSocket, impl Future<Output = ()> + Send + 'static) {
        let (sink, incoming) = socket.split();
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = write(sink, rx, closing.clone(), ping);
        let socket = WebSocket {
            incoming,
            sender: WebSocketSender(tx),
            closing,
        };
        (socket, writer)
    }

    /// The next message from the client; `None` once the connection ended (after the client
    /// answered the server's close frame, for example).
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.incoming.next().await
    }

    /// Sends a message, waiting while the queue is full.
    pub async fn send(&mut self, message: Message) -> Result<(), WebSocketClosed> {
        self.sender.send(message).await
    }

    /// A handle to send from other tasks.
    pub fn sender(&self) -> WebSocketSender {
        self.sender.clone()
    }

    /// Completes when the server begins to stop; the close frame is on its way then.
    pub async fn closing(&self) {
        raised(&mut self.closing.clone()).await;
    }

    /// Whether the server is stopping.
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_next_unpin(cx)
    }
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("closing", &self.is_closing())
            .finish_non_exhaustive()
    }
}

impl WebSocketSender {
    /// Sends a message, waiting while the queue is full.
    pub async fn send(&self, message: Message) -> Result<(), WebSocketClosed> {
        self.0.send(message).await.map_err(|_| WebSocketClosed)
    }

    /// Whether the connection's writer is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl fmt::Debug for WebSocketSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketSender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The writer: sends queued messages, and a ping every `ping` period, until the handler is
/// done (then a normal close) or the server stops (then the messages already queued and a
/// "going away" close).
async fn write(
    mut sink: SplitSink<ws::WebSocket, Message>,
    mut queue: mpsc::Receiver<Message>,
    mut closing: watch::Receiver<bool>,
    ping: Option<Duration>,
) {
    // Without pings, the interval is never polled.
    let mut pings = tokio::time::interval(ping.unwrap_or(Duration::from_secs(3600)));
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pings.reset();
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            biased;
            message = queue.recv() => match message {
                Some(message) => {
                    let closes = matches!(message, Message::Close(_));
                    if sink.send(message).await.is_err() || closes {
                        return;
                    }
                }
                None => {
                    let _ = sink.send(close(NORMAL, "")).await;
                    return;
                }
            },
            () = raised(&mut closing) => break,
            _ = pings.tick(), if ping.is_some() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
    while let Ok(message) = queue.try_recv() {
        let closes = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closes {
            return;
        }
    }
    queue.close();
    let _ = sink.send(close(GOING_AWAY, "server stopping")).await;
}

/// Completes once `flag` is true (or its sender is gone).
pub(super) async fn raised(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|raised| *raised).await;
}

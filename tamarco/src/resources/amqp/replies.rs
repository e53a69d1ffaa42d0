//! The requester's side of request/response: one exclusive, server-named reply queue per
//! connection, and the requests waiting on it by correlation id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection};
use tokio::sync::oneshot;

use super::message::header_str;

/// A reply to a request, as the requester's reply consumer received it.
pub(crate) struct Reply {
    pub(crate) data: Vec<u8>,
    pub(crate) error: Option<String>,
}

/// The header a responder sets when it gives up on a request.
pub(crate) const REPLY_ERROR_HEADER: &str = "tamarco.error";

/// The requester's side of request/response on one connection: an exclusive, server-named
/// reply queue and the requests waiting on it.
pub(crate) struct Replies {
    pub(crate) queue: ShortString,
    pub(crate) pending: Mutex<HashMap<ShortString, oneshot::Sender<Reply>>>,
    _channel: Channel,
}

impl Replies {
    /// Declares the reply queue on `connection` and starts handing replies out.
    pub(crate) async fn open(
        connection: &Connection,
        generation: u64,
    ) -> Result<Arc<Replies>, lapin::Error> {
        let channel = connection.create_channel().await?;
        let queue = channel
            .queue_declare(
                ShortString::default(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                format!("replies.{generation}").into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let replies = Arc::new(Replies {
            queue: queue.name().clone(),
            pending: Mutex::default(),
            _channel: channel,
        });
        tokio::spawn(dispatch_replies(Arc::clone(&replies), consumer));
        Ok(replies)
    }
}

/// Hands each reply to the request waiting for it; when the connection ends, the waiting
/// requests learn that it was lost.
async fn dispatch_replies(replies: Arc<Replies>, mut consumer: lapin::Consumer) {
    while let Some(Ok(delivery)) = consumer.next().await {
        let Some(id) = delivery.properties.correlation_id() else {
            continue;
        };
        let waiting = replies.pending.lock().expect("pending lock").remove(id);
        match waiting {
            Some(sender) => {
                let error = delivery
                    .properties
                    .headers()
                    .as_ref()
                    .and_then(|h| header_str(h, REPLY_ERROR_HEADER))
                    .map(str::to_owned);
                let _ = sender.send(Reply {
                    data: delivery.data,
                    error,
                });
            }
            None => {
                tracing::debug!(correlation_id = %id, "amqp: a reply came after its request gave up");
            }
        }
    }
    replies.pending.lock().expect("pending lock").clear();
}

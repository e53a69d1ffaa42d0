//! Request/response from the requester's side: send a request with `reply_to` and a fresh
//! `correlation_id`, wait for the reply on the connection's reply queue.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lapin::types::ShortString;
use tokio::sync::oneshot;
use tokio::time::Instant;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{Output, OutputSlot};

use super::super::connection::PublishFailure;
use super::super::settings::Pattern;
use super::super::{Amqp, AmqpState, Error};
use super::BoundOutput;

/// Sends requests to a request/response queue (`P + "request_response." + queue`) and waits
/// for the typed reply. Made by [`Amqp::request_output`](super::Amqp::request_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, request = "...")]`; used
/// before it is bound it fails with [`Error::Unbound`].
pub struct RequestOutput<Q: 'static, R: 'static> {
    inner: OutputSlot<(Arc<BoundOutput<Q>>, BoundCodec<R>)>,
    timeout: Option<Duration>,
}

impl<Q: 'static, R: 'static> Default for RequestOutput<Q, R> {
    fn default() -> Self {
        RequestOutput {
            inner: OutputSlot::default(),
            timeout: None,
        }
    }
}

impl<Q, R, C> Output<Amqp, C> for RequestOutput<Q, R>
where
    Q: Send + Sync + 'static,
    R: Send + 'static,
    C: Codec<Q> + Codec<R>,
{
    fn bind(&self, amqp: &Amqp, name: &'static str, codec: C) -> Result<(), BoxError> {
        let codec = Arc::new(codec);
        let requests = Arc::clone(&codec) as Arc<dyn Codec<Q>>;
        let shared = Arc::clone(&amqp.shared);
        let inner = BoundOutput::new(shared, Pattern::RequestResponse, name, requests);
        let replies = BoundCodec::from_arc(name, codec as Arc<dyn Codec<R>>);
        Ok(self
            .inner
            .bind(type_name::<Self>(), name, (Arc::new(inner), replies))?)
    }
}

impl<Q: Send + Sync + 'static, R: Send + 'static> RequestOutput<Q, R> {
    pub(crate) fn new(
        shared: Arc<AmqpState>,
        queue: &str,
        codec: Arc<dyn Codec<Q>>,
        reply_codec: Arc<dyn Codec<R>>,
    ) -> Self {
        let inner = Arc::new(BoundOutput::new(
            shared,
            Pattern::RequestResponse,
            queue,
            codec,
        ));
        RequestOutput {
            inner: OutputSlot::bound((inner, BoundCodec::from_arc(queue, reply_codec))),
            timeout: None,
        }
    }

    /// The same output with its own reply timeout instead of `request_timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RequestOutput {
            inner: self.inner.clone(),
            timeout: Some(timeout),
        }
    }

    fn inner(&self) -> Result<&(Arc<BoundOutput<Q>>, BoundCodec<R>), Error> {
        Ok(self.inner.get(type_name::<Self>())?)
    }

    /// The queue, as declared (without prefix); empty while unbound.
    pub fn queue(&self) -> &str {
        self.inner().map_or("", |(inner, _)| inner.codec.endpoint())
    }

    /// Sends `value` as a request (with `reply_to` and a fresh `correlation_id`) and returns
    /// the decoded reply, or [`Error::Timeout`] when none came within the timeout
    /// (`request_timeout`, 100 s by default, or [`with_timeout`](Self::with_timeout)).
    /// The request expires in the queue with the timeout, so a late responder never sees it.
    pub fn request(&self, value: &Q) -> impl Future<Output = Result<R, Error>> + Send + 'static {
        let prepared = self.inner().and_then(|(inner, replies)| {
            let body = inner.codec.encode(value)?;
            Ok((Arc::clone(inner), replies.clone(), body))
        });
        let timeout = self.timeout;
        async move {
            let (inner, reply_codec, body) = prepared?;
            let result = request(&inner, body, reply_codec, timeout).await;
            inner.info.count(&result);
            result
        }
    }
}

async fn request<Q: 'static, R: 'static>(
    inner: &BoundOutput<Q>,
    body: Vec<u8>,
    reply_codec: BoundCodec<R>,
    timeout: Option<Duration>,
) -> Result<R, Error> {
    let shared = &inner.shared;
    let config = shared.config().ok_or_else(|| shared.stopped())?;
    let target = inner.target()?;
    let timeout = timeout.unwrap_or(config.request_timeout);
    let deadline = Instant::now() + timeout;
    let queue = || inner.codec.endpoint().to_owned();
    let timed_out = || Error::Timeout {
        queue: queue(),
        timeout,
    };
    if let Some(reply) = shared
        .request_in_memory(&target, &body, &inner.properties, &queue(), timeout)
        .await
    {
        return Ok(reply_codec.decode_owned(reply?)?);
    }
    loop {
        let link = match shared.wait_link(deadline).await {
            Err(Error::NotConnected { .. }) => return Err(timed_out()),
            other => other?,
        };
        let replies = match link.unless_dead(link.replies()).await {
            Some(Ok(replies)) => replies,
            Some(Err(error)) if !link.lost_by(&error) => {
                return Err(Error::broker("consume replies for", queue(), error));
            }
            _ => {
                link.suspect.notify_one();
                shared.wait_new_link(link.generation, deadline).await?;
                continue;
            }
        };
        let id = shared.correlation_id();
        let (sender, receiver) = oneshot::channel();
        replies
            .pending
            .lock()
            .expect("pending lock")
            .insert(id.clone(), sender);
        let left = deadline.saturating_duration_since(Instant::now());
        let properties = inner
            .properties
            .clone()
            .with_reply_to(replies.queue.clone())
            .with_correlation_id(id.clone())
            .with_expiration(ShortString::from(left.as_millis().max(1).to_string()));
        let forget = || {
            replies.pending.lock().expect("pending lock").remove(&id);
        };
        // Wait for the confirm and the reply at once: a reply may well come first.
        let publishing = link.publish_once(&target, &body, &properties);
        let waiting = link.unless_dead(tokio::time::timeout_at(deadline, receiver));
        tokio::pin!(publishing, waiting);
        let mut confirmed = false;
        let waited = loop {
            tokio::select! {
                outcome = &mut publishing, if !confirmed => match outcome {
                    Ok(()) => confirmed = true,
                    Err(PublishFailure::Final(error)) => {
                        forget();
                        return Err(error);
                    }
                    Err(PublishFailure::Retry(error)) => break Err(error),
                },
                waited = &mut waiting => break Ok(waited),
            }
        };
        let waited = match waited {
            Ok(waited) => waited,
            Err(error) => {
                forget();
                link.suspect.notify_one();
                if Instant::now() >= deadline {
                    return Err(error);
                }
                shared.wait_new_link(link.generation, deadline).await?;
                continue;
            }
        };
        return match waited {
            Some(Err(_)) => {
                forget();
                Err(timed_out())
            }
            None | Some(Ok(Err(_))) => {
                forget();
                Err(Error::ConnectionLost { queue: queue() })
            }
            Some(Ok(Ok(reply))) => match reply.error {
                Some(message) => Err(Error::Remote {
                    queue: queue(),
                    message,
                }),
                None => Ok(reply_codec.decode_owned(reply.data)?),
            },
        };
    }
}

impl<Q: 'static, R: 'static> Clone for RequestOutput<Q, R> {
    fn clone(&self) -> Self {
        RequestOutput {
            inner: self.inner.clone(),
            timeout: self.timeout,
        }
    }
}

impl<Q: 'static, R: 'static> fmt::Debug for RequestOutput<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOutput")
            .field(
                "output",
                &self.inner.get(type_name::<Self>()).ok().map(|b| &b.0),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

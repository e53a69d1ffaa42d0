//! Outputs: push to a queue, publish to a fanout exchange, request and wait for the reply,
//! or any of these to a queue chosen per call. Every send waits for the broker's confirm.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::types::ShortString;
use tokio::sync::oneshot;
use tokio::time::Instant;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{Output, OutputSlot};

use super::connection::{PublishFailure, Target};
use super::settings::{Config, Pattern};
use super::{Amqp, Error, Shared};

/// What `/status` shows of an output.
#[derive(Debug)]
pub(crate) struct OutputInfo {
    pub(crate) name: String,
    /// `None` for a generic output.
    pub(crate) pattern: Option<Pattern>,
    pub(crate) codec: String,
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl OutputInfo {
    fn count<T>(&self, result: &Result<T, Error>) {
        match result {
            Ok(_) => self.sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The target of `pattern` and `queue`, with the settings' prefix.
pub(crate) fn target(config: &Config, pattern: Pattern, queue: &str) -> Result<Target, Error> {
    let name = config
        .full_name(pattern, queue)
        .map_err(|reason| Error::InvalidName {
            queue: queue.to_owned(),
            reason,
        })?;
    Ok(match pattern {
        Pattern::PushPull => Target::queue(name, true),
        Pattern::PublishSubscribe => Target::fanout(name),
        Pattern::RequestResponse => Target::queue(name, false),
    })
}

/// What every output holds: the resource, the codec, and its target once the settings are
/// known.
struct Inner<T: 'static> {
    shared: Arc<Shared>,
    info: Arc<OutputInfo>,
    pattern: Pattern,
    codec: BoundCodec<T>,
    target: OnceLock<Arc<Target>>,
    properties: BasicProperties,
}

impl<T: 'static> Inner<T> {
    fn new(shared: Arc<Shared>, pattern: Pattern, queue: &str, codec: Arc<dyn Codec<T>>) -> Self {
        let codec = BoundCodec::from_arc(queue, codec);
        let info = shared.declare_output(queue, Some(pattern), codec.codec_name());
        let mut properties = BasicProperties::default();
        if let Some(content_type) = codec.content_type() {
            properties = properties.with_content_type(content_type.into());
        }
        if pattern == Pattern::PushPull {
            properties = properties.with_delivery_mode(2);
        }
        Inner {
            shared,
            info,
            pattern,
            codec,
            target: OnceLock::new(),
            properties,
        }
    }

    fn target(&self) -> Result<Arc<Target>, Error> {
        if let Some(target) = self.target.get() {
            return Ok(Arc::clone(target));
        }
        let config = self.shared.config().ok_or_else(|| self.shared.stopped())?;
        let target = Arc::new(target(&config, self.pattern, self.codec.endpoint())?);
        Ok(Arc::clone(self.target.get_or_init(|| target)))
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), Error> {
        let result = async {
            let target = self.target()?;
            let deadline = self.shared.publish_deadline();
            self.shared
                .publish(&target, &body, self.properties.clone(), deadline)
                .await
        }
        .await;
        self.info.count(&result);
        result
    }
}

/// `Default`, binding, the hand-wired constructor and the bound inner part of an output with
/// one value type and a fixed pattern.
macro_rules! single_output {
    ($output:ident, $pattern:expr) => {
        impl<T: 'static> Default for $output<T> {
            fn default() -> Self {
                $output {
                    inner: OutputSlot::default(),
                }
            }
        }

        impl<T: Send + Sync + 'static, C: Codec<T>> Output<Amqp, C> for $output<T> {
            fn bind(&self, amqp: &Amqp, name: &'static str, codec: C) -> Result<(), BoxError> {
                let shared = Arc::clone(&amqp.shared);
                let inner = Arc::new(Inner::new(shared, $pattern, name, Arc::new(codec)));
                Ok(self.inner.bind(type_name::<Self>(), name, inner)?)
            }
        }

        impl<T: Send + Sync + 'static> $output<T> {
            pub(crate) fn new(shared: Arc<Shared>, queue: &str, codec: Arc<dyn Codec<T>>) -> Self {
                let inner = Arc::new(Inner::new(shared, $pattern, queue, codec));
                $output {
                    inner: OutputSlot::bound(inner),
                }
            }

            fn inner(&self) -> Result<&Arc<Inner<T>>, Error> {
                Ok(self.inner.get(type_name::<Self>())?)
            }
        }
    };
}

/// Sends values to a push/pull queue (`P + "push_pull." + queue`): durable, persistent,
/// read by competing consumers. Made by [`Amqp::push_output`](super::Amqp::push_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, push = "...")]`; used
/// before it is bound it fails with [`Error::Unbound`].
pub struct PushOutput<T: 'static> {
    inner: OutputSlot<Arc<Inner<T>>>,
}

single_output!(PushOutput, Pattern::PushPull);

impl<T: Send + Sync + 'static> PushOutput<T> {
    /// The queue, as declared (without prefix); empty while unbound.
    pub fn queue(&self) -> &str {
        self.inner().map_or("", |inner| inner.codec.endpoint())
    }

    /// Encodes `value` now and sends it; resolves once the broker confirmed it. While the
    /// connection is down it waits for it (at most `publish_timeout_seconds`), so a message
    /// is sent at least once. The future does not borrow the output: spawn it or run many at
    /// once for throughput.
    pub fn push(&self, value: &T) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let prepared = self
            .inner()
            .and_then(|inner| Ok((Arc::clone(inner), inner.codec.encode(value)?)));
        async move {
            let (inner, body) = prepared?;
            inner.send(body).await
        }
    }
}

/// Publishes values to a fanout exchange (`P + "publish_subscribe." + queue`): every
/// subscriber gets each one. Made by [`Amqp::publish_output`](super::Amqp::publish_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, publish = "...")]`; used
/// before it is bound it fails with [`Error::Unbound`].
pub struct PublishOutput<T: 'static> {
    inner: OutputSlot<Arc<Inner<T>>>,
}

single_output!(PublishOutput, Pattern::PublishSubscribe);

impl<T: Send + Sync + 'static> PublishOutput<T> {
    /// The exchange's short name, as declared (without prefix); empty while unbound.
    pub fn queue(&self) -> &str {
        self.inner().map_or("", |inner| inner.codec.endpoint())
    }

    /// Encodes `value` and publishes it; resolves once the broker confirmed it. With no
    /// subscriber bound, the broker drops it (that is publish/subscribe).
    pub fn publish(&self, value: &T) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let prepared = self
            .inner()
            .and_then(|inner| Ok((Arc::clone(inner), inner.codec.encode(value)?)));
        async move {
            let (inner, body) = prepared?;
            inner.send(body).await
        }
    }
}

/// Sends requests to a request/response queue (`P + "request_response." + queue`) and waits
/// for the typed reply. Made by [`Amqp::request_output`](super::Amqp::request_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, request = "...")]`; used
/// before it is bound it fails with [`Error::Unbound`].
pub struct RequestOutput<Q: 'static, R: 'static> {
    inner: OutputSlot<(Arc<Inner<Q>>, BoundCodec<R>)>,
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
        let inner = Inner::new(shared, Pattern::RequestResponse, name, requests);
        let replies = BoundCodec::from_arc(name, codec as Arc<dyn Codec<R>>);
        Ok(self
            .inner
            .bind(type_name::<Self>(), name, (Arc::new(inner), replies))?)
    }
}

impl<Q: Send + Sync + 'static, R: Send + 'static> RequestOutput<Q, R> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        queue: &str,
        codec: Arc<dyn Codec<Q>>,
        reply_codec: Arc<dyn Codec<R>>,
    ) -> Self {
        let inner = Arc::new(Inner::new(shared, Pattern::RequestResponse, queue, codec));
        RequestOutput {
            inner: OutputSlot::bound((inner, BoundCodec::from_arc(queue, reply_codec))),
            timeout: None,
        }
    }

    /// The same output with its own reply timeout instead of `request_timeout_seconds`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RequestOutput {
            inner: self.inner.clone(),
            timeout: Some(timeout),
        }
    }

    fn inner(&self) -> Result<&(Arc<Inner<Q>>, BoundCodec<R>), Error> {
        Ok(self.inner.get(type_name::<Self>())?)
    }

    /// The queue, as declared (without prefix); empty while unbound.
    pub fn queue(&self) -> &str {
        self.inner().map_or("", |(inner, _)| inner.codec.endpoint())
    }

    /// Sends `value` as a request (with `reply_to` and a fresh `correlation_id`) and returns
    /// the decoded reply, or [`Error::Timeout`] when none came within the timeout
    /// (`request_timeout_seconds`, 100 s by default, or [`with_timeout`](Self::with_timeout)).
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
    inner: &Inner<Q>,
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
    loop {
        let link = match shared.wait_link(deadline).await {
            Err(Error::NotConnected { .. }) => return Err(timed_out()),
            other => other?,
        };
        let replies = match link.unless_dead(link.replies()).await {
            Some(Ok(replies)) => replies,
            Some(Err(error)) if link.connected() => {
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

/// Sends values to any queue or exchange, named per call (with the settings' prefix, like
/// the others). Made by [`Amqp::generic_output`](super::Amqp::generic_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, generic)]`; used before
/// it is bound it fails with [`Error::Unbound`].
pub struct GenericOutput<T: 'static> {
    inner: OutputSlot<Arc<GenericInner<T>>>,
}

struct GenericInner<T: 'static> {
    shared: Arc<Shared>,
    info: Arc<OutputInfo>,
    codec: Arc<dyn Codec<T>>,
    properties: BasicProperties,
}

impl<T: 'static> Default for GenericOutput<T> {
    fn default() -> Self {
        GenericOutput {
            inner: OutputSlot::default(),
        }
    }
}

impl<T: Send + Sync + 'static, C: Codec<T>> Output<Amqp, C> for GenericOutput<T> {
    fn bind(&self, amqp: &Amqp, name: &'static str, codec: C) -> Result<(), BoxError> {
        let inner = GenericInner::new(Arc::clone(&amqp.shared), Arc::new(codec));
        Ok(self
            .inner
            .bind(type_name::<Self>(), name, Arc::new(inner))?)
    }
}

impl<T: 'static> GenericInner<T> {
    fn new(shared: Arc<Shared>, codec: Arc<dyn Codec<T>>) -> Self {
        let info = shared.declare_output("*", None, codec.name());
        let mut properties = BasicProperties::default();
        if let Some(content_type) = codec.content_type() {
            properties = properties.with_content_type(content_type.into());
        }
        GenericInner {
            shared,
            info,
            codec,
            properties,
        }
    }
}

impl<T: Send + Sync + 'static> GenericOutput<T> {
    pub(crate) fn new(shared: Arc<Shared>, codec: Arc<dyn Codec<T>>) -> Self {
        GenericOutput {
            inner: OutputSlot::bound(Arc::new(GenericInner::new(shared, codec))),
        }
    }

    /// Pushes `value` to the push/pull queue `queue`, like [`PushOutput::push`].
    pub fn push(
        &self,
        queue: &str,
        value: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.send(Pattern::PushPull, queue, value, true)
    }

    /// Publishes `value` to the fanout exchange of `queue`, like [`PublishOutput::publish`].
    pub fn publish(
        &self,
        queue: &str,
        value: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.send(Pattern::PublishSubscribe, queue, value, false)
    }

    fn send(
        &self,
        pattern: Pattern,
        queue: &str,
        value: &T,
        persistent: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let prepared = self.inner.get(type_name::<Self>()).map(|inner| {
            let body = BoundCodec::from_arc(queue, Arc::clone(&inner.codec)).encode(value);
            (Arc::clone(inner), body)
        });
        let queue = queue.to_owned();
        async move {
            let (inner, body) = prepared?;
            let (shared, info) = (&inner.shared, &inner.info);
            let mut properties = inner.properties.clone();
            if persistent {
                properties = properties.with_delivery_mode(2);
            }
            let result = async {
                let body = body?;
                let config = shared.config().ok_or_else(|| shared.stopped())?;
                let target = target(&config, pattern, &queue)?;
                let deadline = shared.publish_deadline();
                shared.publish(&target, &body, properties, deadline).await
            }
            .await;
            info.count(&result);
            result
        }
    }
}

impl<T: 'static> Clone for PushOutput<T> {
    fn clone(&self) -> Self {
        PushOutput {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Clone for PublishOutput<T> {
    fn clone(&self) -> Self {
        PublishOutput {
            inner: self.inner.clone(),
        }
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

impl<T: 'static> Clone for GenericOutput<T> {
    fn clone(&self) -> Self {
        GenericOutput {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for Inner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("queue", &self.codec.endpoint())
            .field("pattern", &self.pattern)
            .field("codec", &self.codec.codec_name())
            .finish()
    }
}

impl<T: 'static> fmt::Debug for PushOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner.get(type_name::<Self>()).ok(), f)
    }
}

impl<T: 'static> fmt::Debug for PublishOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner.get(type_name::<Self>()).ok(), f)
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

impl<T: 'static> fmt::Debug for GenericOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = self
            .inner
            .get(type_name::<Self>())
            .ok()
            .map(|i| i.codec.name().to_owned());
        f.debug_struct("GenericOutput")
            .field("codec", &codec)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use tamarco_core::codec::Json;
    use tamarco_core::messaging::bind_output;

    use super::*;

    #[tokio::test]
    async fn an_unbound_output_fails_naming_itself_and_binds_once() {
        let orders = PushOutput::<u32>::default();
        let error = orders.push(&1).await.unwrap_err();
        assert!(matches!(error, Error::Unbound(_)), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains("PushOutput<u32>") && text.contains("not bound"),
            "{text}"
        );
        let quotes = RequestOutput::<u32, String>::default();
        let error = quotes.request(&1).await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("RequestOutput<u32, alloc::string::String>"),
            "{error}"
        );
        let amqp = Amqp::new();
        bind_output(&amqp, &orders, "orders", Json).unwrap();
        assert_eq!(orders.queue(), "orders");
        let again = bind_output(&amqp, &orders, "orders", Json).unwrap_err();
        assert!(again.to_string().contains("already bound"), "{again}");
    }
}

//! Inputs and outputs made by hand from the resource, for what the attributes cannot say
//! (a queue known only at run time, an input read as a stream from a task).

use std::sync::Arc;

use tamarco_core::codec::Codec;

use super::Amqp;
use super::input::{InputBuilder, RequestInputBuilder};
use super::output::{GenericOutput, PublishOutput, PushOutput, RequestOutput};
use super::settings::Pattern;

impl Amqp {
    /// A push/pull input: consumes the durable queue `P + "push_pull." + queue`, in
    /// competition with the other consumers of that queue.
    pub fn pull_input<T: Send + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> InputBuilder<T> {
        InputBuilder::new(
            Arc::clone(&self.shared),
            Pattern::PushPull,
            queue,
            Arc::new(codec),
        )
    }

    /// A publish/subscribe input: binds an exclusive queue of its own to the fanout exchange
    /// `P + "publish_subscribe." + queue`, so it gets every message published there.
    pub fn subscription_input<T: Send + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> InputBuilder<T> {
        let shared = Arc::clone(&self.shared);
        InputBuilder::new(shared, Pattern::PublishSubscribe, queue, Arc::new(codec))
    }

    /// A request/response input: consumes requests `Q` from `P + "request_response." + queue`
    /// and answers each with a response `R`; `codec` encodes both.
    pub fn request_input<Q, R, C>(&self, queue: &str, codec: C) -> RequestInputBuilder<Q, R>
    where
        Q: Send + 'static,
        R: Send + 'static,
        C: Codec<Q> + Codec<R>,
    {
        let codec = Arc::new(codec);
        let requests: Arc<dyn Codec<Q>> = Arc::clone(&codec) as Arc<dyn Codec<Q>>;
        let responses: Arc<dyn Codec<R>> = codec;
        RequestInputBuilder::new(Arc::clone(&self.shared), queue, requests, responses)
    }

    /// An output to the push/pull queue `P + "push_pull." + queue`.
    pub fn push_output<T: Send + Sync + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> PushOutput<T> {
        PushOutput::new(Arc::clone(&self.shared), queue, Arc::new(codec))
    }

    /// An output to the fanout exchange `P + "publish_subscribe." + queue`.
    pub fn publish_output<T: Send + Sync + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> PublishOutput<T> {
        PublishOutput::new(Arc::clone(&self.shared), queue, Arc::new(codec))
    }

    /// An output that sends requests `Q` to `P + "request_response." + queue` and returns
    /// the replies `R`; `codec` encodes both.
    pub fn request_output<Q, R, C>(&self, queue: &str, codec: C) -> RequestOutput<Q, R>
    where
        Q: Send + Sync + 'static,
        R: Send + 'static,
        C: Codec<Q> + Codec<R>,
    {
        let codec = Arc::new(codec);
        let requests: Arc<dyn Codec<Q>> = Arc::clone(&codec) as Arc<dyn Codec<Q>>;
        let replies: Arc<dyn Codec<R>> = codec;
        RequestOutput::new(Arc::clone(&self.shared), queue, requests, replies)
    }

    /// An output that takes the queue per call.
    pub fn generic_output<T: Send + Sync + 'static>(
        &self,
        codec: impl Codec<T>,
    ) -> GenericOutput<T> {
        GenericOutput::new(Arc::clone(&self.shared), Arc::new(codec))
    }
}

//! The span of each handled message (feature `tracing-otel`, while `system.tracing` is on): a
//! consumer span named after the input, the child of the producer's span when the message
//! carries W3C trace context. Without the feature, with tracing off, or for a message not
//! sampled ([`Sampling`](crate::otel::Sampling)), no span is made.

use std::future::Future;
use std::sync::Arc;

use super::dispatch::{Dispatch, Flow, Run};
use super::transport::Received;

/// Dispatches `received`, inside its span when tracing is on. Tracing off (or not compiled
/// in), the future is the dispatch itself, chosen before it is polled: an `async fn` here
/// would add a layer to every message's future.
#[cfg(feature = "tracing-otel")]
pub(crate) fn dispatch<'a, R: Received, D: Dispatch<R>>(
    dispatch: &'a D,
    run: &'a Arc<Run>,
    received: R,
) -> impl Future<Output = Flow> + Send + 'a {
    use futures_util::future::Either;
    match crate::otel::enabled() {
        true => Either::Left(traced(dispatch, run, received)),
        false => Either::Right(dispatch.dispatch(run, received)),
    }
}

/// Dispatches `received` (see the feature `tracing-otel`).
#[cfg(not(feature = "tracing-otel"))]
pub(crate) fn dispatch<'a, R: Received, D: Dispatch<R>>(
    dispatch: &'a D,
    run: &'a Arc<Run>,
    received: R,
) -> impl Future<Output = Flow> + Send + 'a {
    dispatch.dispatch(run, received)
}

/// Dispatches `received` while tracing is on: in its span when it is sampled, marked
/// unsampled otherwise.
#[cfg(feature = "tracing-otel")]
async fn traced<R: Received, D: Dispatch<R>>(dispatch: &D, run: &Arc<Run>, received: R) -> Flow {
    // The headers are read only here: a transport may read them only on demand.
    match crate::otel::Sampling::decide(received.header_text("traceparent")) {
        crate::otel::Sampling::Off => dispatch.dispatch(run, received).await,
        crate::otel::Sampling::Sampled => {
            use tracing::Instrument;
            let span = span(run, &received);
            dispatch.dispatch(run, received).instrument(span).await
        }
        unsampled @ crate::otel::Sampling::Unsampled(_) => {
            // The plain path, marked unsampled at each poll: nothing inside is exported.
            let mut handled = std::pin::pin!(dispatch.dispatch(run, received));
            std::future::poll_fn(|cx| {
                let _unsampled = unsampled.enter();
                handled.as_mut().poll(cx)
            })
            .await
        }
    }
}

#[cfg(feature = "tracing-otel")]
fn span<R: Received>(run: &Run, received: &R) -> tracing::Span {
    let input = run.info.name();
    let span = tracing::info_span!(
        target: crate::otel::UNLOGGED_TARGET,
        "process",
        otel.name = [input, " process"].concat(),
        otel.kind = "consumer",
        messaging.operation.type = "process",
        messaging.destination.name = input,
        messaging.consumer.group.name = &*run.resource,
    );
    let traceparent = received.header_text("traceparent");
    crate::otel::mark_sampled(&span, traceparent);
    if traceparent.is_some() {
        crate::otel::set_parent(&span, &Headers(received));
    }
    span
}

/// The trace context headers of a received message.
#[cfg(feature = "tracing-otel")]
struct Headers<'a, R>(&'a R);

#[cfg(feature = "tracing-otel")]
impl<R: Received> opentelemetry::propagation::Extractor for Headers<'_, R> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.header_text(key)
    }

    fn keys(&self) -> Vec<&str> {
        ["traceparent", "tracestate", "baggage"]
            .into_iter()
            .filter(|k| self.0.header_text(k).is_some())
            .collect()
    }
}

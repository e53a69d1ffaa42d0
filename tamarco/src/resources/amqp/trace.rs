//! Trace context on AMQP messages (feature `tracing-otel`): each publish is a producer span
//! whose W3C context travels in the message's headers (`traceparent`, `tracestate`,
//! `baggage` as long strings); the engine reads them back through `Received::header_text`.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};
use tracing::Span;

/// The producer span of a publish to `target` (none when it is not exported), and `properties`
/// carrying its context. Without exporting on, the properties as they were and no span.
pub(crate) fn producer(target: &str, properties: BasicProperties) -> (BasicProperties, Span) {
    if !tamarco_core::otel::enabled() {
        return (properties, Span::none());
    }
    let mut headers = properties.headers().clone().unwrap_or_default();
    let span = tamarco_core::otel::producer_span(
        "rabbitmq",
        "publish",
        target,
        &mut Headers(&mut headers),
    );
    (properties.with_headers(headers), span)
}

struct Headers<'a>(&'a mut FieldTable);

impl tamarco_core::otel::Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0
            .insert(key.into(), AMQPValue::LongString(LongString::from(value)));
    }
}

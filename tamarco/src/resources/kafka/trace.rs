//! Trace context on Kafka records (feature `tracing-otel`): each record sent is a producer span
//! whose W3C context travels in the record's headers, as UTF-8 bytes; the engine reads them
//! back through `Received::header_text`.

use std::borrow::Cow;

use tracing::Span;

use super::headers::Headers;

/// The producer span of a record to `topic` (none when it is not exported), and `headers`
/// carrying its context. Without exporting on, the headers as they were and no span.
pub(crate) fn producer<'a>(topic: &str, headers: &'a Headers) -> (Cow<'a, Headers>, Span) {
    if !tamarco_core::otel::enabled() {
        return (Cow::Borrowed(headers), Span::none());
    }
    let mut headers = headers.clone();
    let span = tamarco_core::otel::producer_span("kafka", "send", topic, &mut Writer(&mut headers));
    (Cow::Owned(headers), span)
}

struct Writer<'a>(&'a mut Headers);

impl tamarco_core::otel::Injector for Writer<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A later value of a name wins when read: a context the caller set is replaced.
        self.0.insert(key, value);
    }
}

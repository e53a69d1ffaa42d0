//! Sampling decided before a span is made, for the framework's entry points (each HTTP request,
//! each handled message): a request that will not be exported takes the path it takes with
//! tracing off, instead of building a span that the sampler then drops.
//!
//! The decision is parent-based: a sampled `traceparent` in the headers is followed (the span
//! is made and exported), an unsampled one is not; without one, the request is a root and the
//! live `sampling_ratio` decides. While an unsampled request or message is being polled, the
//! spans made on that thread are hidden from the exporter ([`super::filter`]), and the context
//! passed on is its trace id marked not sampled, so the next service does not sample it either.
//! (A task spawned from the handler does not inherit that: like a task spawned without its
//! span, it starts its own traces.)

use std::cell::Cell;

use opentelemetry::trace::{SamplingDecision, SpanKind, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, Sampler, ShouldSample};

thread_local! {
    /// The trace id of the unsampled request or message being polled on this thread.
    static UNSAMPLED: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// The attribute a framework span carries when its request was sampled before the span was made
/// ([`super::mark_sampled`]): the tracer then samples the span without asking the sampler
/// again, and exports no such attribute.
pub(crate) const SAMPLED_FIELD: &str = "otel.sampled";

/// What to do with a received request or message, decided before any span is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// Tracing is off: no span, nothing passed on.
    Off,
    /// Make the span (with the field `otel.sampled = true`): it is exported.
    Sampled,
    /// No span: the plain path. Spans made while it is polled are not exported, and the trace
    /// id is passed on as not sampled.
    Unsampled(TraceId),
}

impl Sampling {
    /// The decision for a request or message whose `traceparent` header is `traceparent`.
    pub fn decide(traceparent: Option<&str>) -> Sampling {
        if !super::enabled() {
            return Sampling::Off;
        }
        if let Some((trace_id, sampled)) = traceparent.and_then(super::traceparent::parse) {
            return match sampled {
                true => Sampling::Sampled,
                false => Sampling::Unsampled(trace_id),
            };
        }
        let ratio = super::ratio();
        if ratio >= 1.0 {
            return Sampling::Sampled;
        }
        // The same test as the sampler's, on a trace id drawn here.
        let trace_id = RandomIdGenerator::default().new_trace_id();
        let kept = ratio > 0.0
            && Sampler::TraceIdRatioBased(ratio)
                .should_sample(None, trace_id, "", &SpanKind::Server, &[], &[])
                .decision
                == SamplingDecision::RecordAndSample;
        match kept {
            true => Sampling::Sampled,
            false => Sampling::Unsampled(trace_id),
        }
    }

    /// Marks this thread as polling the request or message (until the guard drops): for an
    /// unsampled one, the spans made meanwhile are not exported; for a sampled one, they are
    /// again (a sampled request polled inside an unsampled one).
    #[inline] // twice per request and message, from other crates; mostly `Off`
    pub fn enter(&self) -> Entered {
        let now = match self {
            Sampling::Off => return Entered(None),
            Sampling::Sampled => None,
            Sampling::Unsampled(trace_id) => Some(*trace_id),
        };
        Entered(Some(UNSAMPLED.with(|cell| cell.replace(now))))
    }
}

/// Undoes [`Sampling::enter`] when dropped.
#[derive(Debug)]
#[must_use = "the mark lasts as long as this guard"]
pub struct Entered(Option<Option<TraceId>>);

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            UNSAMPLED.with(|cell| cell.set(before));
        }
    }
}

/// Whether this thread is polling an unsampled request or message now.
pub(crate) fn in_unsampled() -> bool {
    UNSAMPLED.with(|cell| cell.get().is_some())
}

/// The `traceparent` to pass on from inside an unsampled request: its trace id, a new parent
/// id, not sampled. `None` outside one.
pub(crate) fn unsampled_traceparent() -> Option<String> {
    UNSAMPLED.with(Cell::get).map(not_sampled)
}

/// The `traceparent` of a new span of the trace `trace_id`, not sampled.
pub(crate) fn not_sampled(trace_id: TraceId) -> String {
    super::traceparent::not_sampled(trace_id, RandomIdGenerator::default().new_span_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsampled_request_marks_its_thread_until_the_guard_drops() {
        let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert!(!in_unsampled());
        let outer = Sampling::Unsampled(id).enter();
        assert!(in_unsampled());
        let passed_on = unsampled_traceparent().unwrap();
        assert!(passed_on.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(passed_on.ends_with("-00"));
        assert_eq!(
            crate::otel::traceparent::parse(&passed_on),
            Some((id, false))
        );
        {
            let _inner = Sampling::Sampled.enter();
            assert!(!in_unsampled());
            let _off = Sampling::Off.enter();
            assert!(!in_unsampled());
        }
        assert!(in_unsampled());
        drop(outer);
        assert!(!in_unsampled());
        assert_eq!(unsampled_traceparent(), None);
    }
}

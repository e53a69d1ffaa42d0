//! Spans of the lifecycle (feature `tracing-otel`, while `system.tracing` is on): one for each
//! phase the service runs (`start`, `stop`...), with a child for each resource's hook in it
//! (`amqp start`); a hook that fails or is abandoned marks its span as an error. `bind` has
//! none: it only wires declarations. Without the feature, or with tracing off, no span is made.

use tracing::Span;

use crate::error::Phase;

#[cfg(feature = "tracing-otel")]
fn exporting(phase: Phase) -> bool {
    phase != Phase::Bind && crate::otel::enabled()
}

#[cfg(not(feature = "tracing-otel"))]
fn exporting(_: Phase) -> bool {
    false
}

/// The span of one phase over every resource.
pub(super) fn phase(phase: Phase) -> Span {
    if !exporting(phase) {
        return Span::none();
    }
    tracing::info_span!(
        target: "tamarco::lifecycle",
        "phase",
        otel.name = phase.as_str(),
        tamarco.lifecycle.phase = phase.as_str(),
    )
}

/// The span of one resource's hook in `phase`.
pub(super) fn hook(resource: &str, phase: Phase) -> Span {
    if !exporting(phase) {
        return Span::none();
    }
    tracing::info_span!(
        target: "tamarco::lifecycle",
        "hook",
        otel.name = format!("{resource} {phase}"),
        otel.status_code = tracing::field::Empty,
        tamarco.lifecycle.phase = phase.as_str(),
        tamarco.resource.name = resource,
    )
}

/// Marks a hook's span as failed.
pub(super) fn failed(span: &Span) {
    span.record("otel.status_code", "error");
}

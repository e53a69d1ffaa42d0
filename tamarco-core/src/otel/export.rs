//! The tracer provider: spans batched on the SDK's own thread and posted as OTLP protobuf over
//! HTTP ([`super::exporter`]), sampled parent-based with a ratio that settings can change while
//! the service runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{
    Link, SamplingDecision, SamplingResult, SpanBuilder, SpanKind, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, ShouldSample};

use super::config::Config;

/// The root-span sampling ratio, shared by the sampler and the settings watch (f64 bits).
#[derive(Debug, Clone)]
pub(crate) struct Ratio(Arc<AtomicU64>);

impl Ratio {
    pub(crate) fn new(ratio: f64) -> Self {
        Ratio(Arc::new(AtomicU64::new(ratio.to_bits())))
    }

    pub(crate) fn set(&self, ratio: f64) {
        self.0.store(ratio.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// The SDK's trace-id ratio sampler, with the ratio read at each root span.
#[derive(Debug, Clone)]
struct LiveRatio(Ratio);

impl ShouldSample for LiveRatio {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        Sampler::TraceIdRatioBased(self.0.get())
            .should_sample(parent, trace_id, name, kind, attributes, links)
    }
}

/// Where the resource attributes come from.
pub(crate) struct Identity<'a> {
    pub(crate) service: &'a str,
    pub(crate) version: &'a str,
    pub(crate) instance_id: String,
}

/// Builds the provider that exports to `config.traces_url`.
pub(crate) fn provider(
    config: &Config,
    identity: Identity<'_>,
    ratio: &Ratio,
) -> Result<SdkTracerProvider, String> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "tracing needs a tokio runtime to send spans".to_owned())?;
    let exporter = super::exporter::OtlpHttp::new(&config.traces_url, runtime)?;
    let resource = Resource::builder_empty()
        .with_service_name(identity.service.to_owned())
        .with_attributes([
            KeyValue::new("service.version", identity.version.to_owned()),
            KeyValue::new("service.instance.id", identity.instance_id),
            KeyValue::new("deployment.environment.name", config.deploy_name.clone()),
        ])
        .build();
    Ok(SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(LiveRatio(ratio.clone()))))
        .with_resource(resource)
        .with_batch_exporter(exporter)
        .build())
}

/// The tracer of the layer, swapped when `system.tracing` changes: the SDK tracer of the
/// exporting provider, or one that samples nothing.
#[derive(Clone)]
pub(crate) struct Swappable(Arc<arc_swap::ArcSwap<SdkTracer>>);

impl Swappable {
    pub(crate) fn off() -> Self {
        Swappable(Arc::new(arc_swap::ArcSwap::from_pointee(off_tracer())))
    }

    pub(crate) fn set(&self, tracer: SdkTracer) {
        self.0.store(Arc::new(tracer));
    }

    pub(crate) fn set_off(&self) {
        self.0.store(Arc::new(off_tracer()));
    }
}

/// A tracer without processors that samples nothing.
fn off_tracer() -> SdkTracer {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build()
        .tracer("tamarco")
}

impl opentelemetry::trace::Tracer for Swappable {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(&self, mut builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        if take_sampled_mark(&mut builder) {
            // Sampled when its request arrived (`Sampling::decide`): asking the ratio again
            // would sample it with the ratio's square.
            builder.sampling_result = Some(SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state: parent_trace_state(parent_cx),
            });
        }
        self.0.load().build_with_context(builder, parent_cx)
    }
}

/// Removes the attribute `otel.sampled` (see [`super::sampling::SAMPLED_FIELD`]); true if it
/// was there.
fn take_sampled_mark(builder: &mut SpanBuilder) -> bool {
    let Some(attributes) = builder.attributes.as_mut() else {
        return false;
    };
    let key = super::sampling::SAMPLED_FIELD;
    let Some(at) = attributes.iter().position(|kv| kv.key.as_str() == key) else {
        return false;
    };
    attributes.remove(at);
    true
}

/// The parent's trace state, which a span of the same trace carries on.
fn parent_trace_state(parent_cx: &Context) -> TraceState {
    use opentelemetry::trace::TraceContextExt as _;
    match parent_cx.has_active_span() {
        true => parent_cx.span().span_context().trace_state().clone(),
        false => TraceState::default(),
    }
}

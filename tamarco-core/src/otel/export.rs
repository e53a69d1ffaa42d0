//! The OTLP exporter and tracer provider: spans batched on the SDK's own thread and posted as
//! protobuf over HTTP by reqwest, sampled parent-based with a ratio that settings can change
//! while the service runs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{
    Link, SamplingDecision, SamplingResult, SpanBuilder, SpanKind, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{Bytes, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfig, BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
    ShouldSample,
};

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
    // reqwest needs a crypto provider to build a client, even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("system.tracing: HTTP client: {e}"))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(OnRuntime { client, runtime })
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(&config.traces_url)
        .build()
        .map_err(|e| format!("system.tracing.endpoint `{}`: {e}", config.traces_url))?;
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
        .with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batch_config())
                .build(),
        )
        .build())
}

/// Spans the batch processor holds before it drops new ones, unless `OTEL_BSP_MAX_QUEUE_SIZE`
/// says otherwise (the SDK's default, 2048, is 40 ms of a server exporting 50k requests a
/// second: one slow export and spans were lost).
const QUEUE: usize = 8192;
/// Spans per export (one HTTP post), unless `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` says otherwise: a
/// post and its grouping cost the same for 2048 spans as for the SDK's default 512.
const BATCH: usize = 2048;

/// The SDK's batch settings (read from the standard `OTEL_BSP_*` variables), with this
/// service's queue and batch sizes where no variable sets them.
fn batch_config() -> BatchConfig {
    let mut config = BatchConfigBuilder::default();
    if std::env::var_os("OTEL_BSP_MAX_QUEUE_SIZE").is_none() {
        config = config.with_max_queue_size(QUEUE);
    }
    if std::env::var_os("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").is_none() {
        config = config.with_max_export_batch_size(BATCH);
    }
    config.build()
}

/// reqwest's async client driven on the service's runtime: the SDK's batch thread is not a
/// tokio thread, so each request is spawned there and awaited from the batch thread.
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for OnRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnRuntime")
    }
}

impl opentelemetry_http::HttpClient for OnRuntime {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?
                .error_for_status()?;
            let status = response.status();
            let body = response.bytes().await?;
            let mut out = Response::new(body);
            *out.status_mut() = status;
            Ok::<_, reqwest::Error>(out)
        });
        Box::pin(async move { Ok(task.await??) })
    }
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

//! Distributed tracing (cargo feature `tracing-otel`): the service's `tracing` spans exported to
//! an OpenTelemetry collector over OTLP (protobuf over HTTP), and W3C trace context
//! (`traceparent`, `tracestate`, `baggage`) carried through the transports, so that one request
//! through several services is one trace.
//!
//! Configured under `system.tracing`, off by default:
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `enabled` | `false` | export spans |
//! | `endpoint` | `http://127.0.0.1:4318` | the collector's OTLP/HTTP URL (`/v1/traces` is added) |
//! | `protocol` | `http/protobuf` | the only protocol of this build |
//! | `sampling_ratio` | `1.0` | share of root spans kept; children follow their parent; live |
//!
//! The resource names the service (`service.name`), its version (`service.version`), the
//! instance (`service.instance.id`) and `system.deploy_name` (`deployment.environment.name`).
//!
//! Transports call [`inject`] on the headers of what they send and [`set_parent`] on the span of
//! what they receive; log records inside a sampled span carry `trace_id` and `span_id` (none
//! when tracing is off or the span was not sampled).

mod config;
mod export;
mod filter;
mod sampling;
mod traceparent;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

use crate::settings::{Settings, SettingsError};

/// What transports implement over their headers: read ([`Extractor`]) and write ([`Injector`]).
pub use opentelemetry::propagation::{Extractor, Injector};
pub use sampling::{Entered, Sampling};

struct State {
    tracer: export::Swappable,
    provider: Mutex<Option<SdkTracerProvider>>,
    ratio: export::Ratio,
}

static STATE: OnceLock<State> = OnceLock::new();
/// Whether spans are exported now: the framework makes its per-message spans only then.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The target of the framework's spans that log records do not show (the logging layer ignores
/// it): spans made only because a request or message is exported, such as a message's `process`
/// span, which does not exist with tracing off. Their fields are then neither captured at each
/// request nor added to the log records made inside them, as with tracing off.
pub const UNLOGGED_TARGET: &str = "tamarco::traced";

/// Whether `system.tracing` is on (spans are being exported).
#[inline] // read per request and message, from other crates
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The live root-span sampling ratio.
fn ratio() -> f64 {
    STATE.get().map_or(0.0, |state| state.ratio.get())
}

/// The OpenTelemetry layer the logging setup puts into the global subscriber (once per
/// process), with its own filter ([`filter`]): the log level does not decide what is exported.
/// It stays; its tracer is swapped: one that samples nothing until `system.tracing` turns
/// exporting on. (A reload slot would hide the layer from `OpenTelemetrySpanExt`, which finds it
/// by downcasting the subscriber.)
///
/// The layer leaves out the thread, source location and target of each span (four to six
/// attributes copied and encoded per span; a tokio worker's thread says nothing about a task,
/// and the name and attributes say what a framework span is) and does not enter the
/// OpenTelemetry context at each poll: parents are found through the `tracing` span tree, which
/// is all the framework uses.
pub(crate) fn layer<S>() -> tracing_subscriber::filter::Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, export::Swappable>,
    filter::ExportFilter,
    S,
>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let tracer = export::Swappable::off();
    let _ = STATE.set(State {
        tracer: tracer.clone(),
        provider: Mutex::new(None),
        ratio: export::Ratio::new(1.0),
    });
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_context_activation(false);
    tracing_subscriber::Layer::with_filter(layer, filter::ExportFilter)
}

/// Starts (or stops) exporting as `system.tracing` says; the runtime calls it once the settings
/// are loaded. A bad value is an error naming its key. `version` is the service's version.
pub fn init(settings: &Settings, version: &str) -> Result<(), SettingsError> {
    let config = config::Config::read(settings)?;
    let Some(state) = STATE.get() else {
        return Ok(()); // the program installed its own subscriber
    };
    let provider = match config.enabled {
        true => {
            state.ratio.set(config.sampling_ratio);
            let identity = export::Identity {
                service: settings.service(),
                version,
                instance_id: crate::builtin::instance_id(),
            };
            let provider =
                export::provider(&config, identity, &state.ratio).map_err(|message| {
                    SettingsError::Invalid {
                        key: "system.tracing".into(),
                        message,
                    }
                })?;
            state.tracer.set(provider.tracer("tamarco"));
            let ratio = state.ratio.clone();
            let service = settings.service().to_owned();
            settings.watch("system.tracing.sampling_ratio", move |_, value| {
                let scratch = Settings::new(service.clone());
                let value = value.cloned().unwrap_or(serde_json::json!(1.0));
                let _ = scratch.set_internal("system.tracing.sampling_ratio", value);
                match config::read_ratio(&scratch) {
                    Ok(new) => ratio.set(new),
                    Err(e) => tracing::warn!(target: "tamarco::tracing", "{e}"),
                }
            });
            Some(provider)
        }
        false => {
            state.tracer.set_off();
            None
        }
    };
    let was = ENABLED.swap(provider.is_some(), Ordering::Relaxed);
    if was != provider.is_some() {
        // The layer's filter caches its interest per callsite: ask it again.
        tracing::callsite::rebuild_interest_cache();
    }
    let old = std::mem::replace(&mut *lock(&state.provider), provider);
    if let Some(old) = old {
        let _ = old.shutdown_with_timeout(Duration::from_secs(5));
    }
    Ok(())
}

/// Sends the spans still batched, waiting at most `timeout`; the runtime calls it on stop.
pub async fn flush(timeout: Duration) {
    let Some(state) = STATE.get() else { return };
    let provider = lock(&state.provider).clone();
    if let Some(provider) = provider {
        // The SDK's flush blocks until its batch thread has sent what it holds.
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush());
        let _ = tokio::time::timeout(timeout, flushed).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes the current span's trace context (`traceparent`, `tracestate`, `baggage`) into the
/// headers of an outgoing request or message. Writes nothing when no span is being exported;
/// inside an unsampled request, its trace id marked not sampled (see [`Sampling`]).
pub fn inject(headers: &mut dyn Injector) {
    if let Some(traceparent) = sampling::unsampled_traceparent() {
        headers.set("traceparent", traceparent);
        return;
    }
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, headers));
}

/// Makes `span` the child of the trace context found in the headers of a received request or
/// message; headers without one leave the span a root.
pub fn set_parent(span: &tracing::Span, headers: &dyn Extractor) {
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(headers));
    if cx.has_active_span() {
        let _ = span.set_parent(cx);
    }
}

/// Finds the trace and span ids of the span a log record was made in, when that span is
/// sampled (exported): the ids of spans nobody exports would lead nowhere. The sampled flag is
/// in the span's OpenTelemetry context, which only the subscriber's dispatch can reach, so the
/// logging layer hands it over when the subscriber is registered.
#[derive(Debug, Default)]
pub(crate) struct LogIds(OnceLock<tracing::dispatcher::WeakDispatch>);

impl LogIds {
    /// Keeps (weakly) the dispatch of the subscriber the logging layer is part of.
    pub(crate) fn register(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }

    /// The ids (lowercase hex) of the span `event` is in, when it is sampled. The span is
    /// looked up in the whole registry, not through the logging layer's filter: a `warn` record
    /// inside an exported `info` span carries its ids at log level `warn`. The nearest span the
    /// exporter sees counts (a `debug` span inside a request: the request's).
    pub(crate) fn of(&self, event: &tracing::Event<'_>) -> Option<(String, String)> {
        let dispatch = self.0.get()?.upgrade()?;
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let id = match event.parent() {
            Some(id) => id.clone(),
            None if event.is_contextual() => {
                tracing::Subscriber::current_span(registry).id()?.clone()
            }
            None => return None,
        };
        let span = registry.span(&id)?;
        let cx = span.scope().find_map(|span| {
            tracing_opentelemetry::get_otel_context(&mut span.extensions_mut(), &dispatch)
        })?;
        let ids = cx.span().span_context().clone();
        (ids.is_sampled() && ids.is_valid())
            .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
    }
}

/// Marks the span of a request or message that was decided [`Sampling::Sampled`] when it
/// arrived (`traceparent`: its header), so that the tracer samples it without asking the ratio
/// again, which would keep a root with the ratio's square. Only a root at a ratio below 1 gets
/// the mark (an attribute the tracer removes): the sampler keeps a sampled caller's child, and
/// every root at 1, anyway. (A ratio changed between the decision and the span may drop it.)
pub fn mark_sampled(span: &tracing::Span, traceparent: Option<&str>) {
    let followed = traceparent.is_some_and(|value| traceparent::parse(value).is_some());
    if !followed && ratio() < 1.0 {
        span.set_attribute(sampling::SAMPLED_FIELD, true);
    }
}

/// Sets an integer attribute of an exported span once it is known (a response's status): through
/// the OpenTelemetry layer alone when the span is the exporter's only ([`UNLOGGED_TARGET`]),
/// where recording a field would also pass every other layer's filter for nothing; otherwise
/// recorded as the field `key` (declared on the span), which log records show.
pub fn record_exported(span: &tracing::Span, key: &'static str, value: i64) {
    match span.metadata().map(tracing::Metadata::target) {
        Some(UNLOGGED_TARGET) => span.set_attribute(key, value),
        _ => {
            span.record(key, value);
        }
    }
}

/// [`set_parent`] from the headers of an HTTP request.
pub fn set_parent_http(span: &tracing::Span, headers: &hyper::HeaderMap) {
    set_parent(span, &opentelemetry_http::HeaderExtractor(headers));
}

/// The current span's trace context as HTTP headers, for an outgoing request; empty when no
/// span is being exported.
pub fn http_headers() -> hyper::HeaderMap {
    let mut headers = hyper::HeaderMap::new();
    if enabled() {
        inject(&mut opentelemetry_http::HeaderInjector(&mut headers));
    }
    headers
}

/// The producer span of a message sent to `destination` over `system` (`rabbitmq`, `kafka`:
/// the semantic conventions' `messaging.system`), named `<destination> <operation>`, with its
/// trace context written into the message's `headers`, so that the consumer's span becomes its
/// child. A message sent outside any span is a root, sampled here before a span is made, as a
/// received request is ([`Sampling`]): one that is not exported (such a root left out by the
/// ratio, or any message sent while an unsampled request is handled) gets no span
/// ([`Span::none`](tracing::Span::none)), only its trace id marked not sampled in `headers`.
pub fn producer_span(
    system: &'static str,
    operation: &str,
    destination: &str,
    headers: &mut dyn Injector,
) -> tracing::Span {
    if let Some(traceparent) = sampling::unsampled_traceparent() {
        headers.set("traceparent", traceparent);
        return tracing::Span::none();
    }
    // Inside a span, the sampler follows it (parent-based); without one, decided here.
    let root = tracing::Span::current().is_none();
    let sampled = match root.then(|| Sampling::decide(None)) {
        Some(Sampling::Off) => return tracing::Span::none(),
        Some(Sampling::Unsampled(trace_id)) => {
            headers.set("traceparent", sampling::not_sampled(trace_id));
            return tracing::Span::none();
        }
        Some(Sampling::Sampled) => true,
        None => false,
    };
    let span = tracing::info_span!(
        target: UNLOGGED_TARGET,
        "send",
        otel.name = [destination, " ", operation].concat(),
        otel.kind = "producer",
        messaging.system = system,
        messaging.operation.type = "send",
        messaging.operation.name = operation,
        messaging.destination.name = destination,
    );
    if sampled {
        mark_sampled(&span, None);
    }
    span.in_scope(|| inject(headers));
    span
}

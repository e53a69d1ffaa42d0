//! The `tracing` layer: captures each enabled event into a [`Record`], writes it to stdout if
//! configured, and hands it to the queue of every other sink. Nothing here waits for a sink.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::config::{Config, Format};
use super::document::DocContext;
use super::record::{Collected, Collector, Record, SecretNames};
use super::sink::{Sink, SinkStats};
use super::{sinks, text};

/// What the layer does with a record: the current configuration.
pub(crate) struct Pipeline {
    pub(crate) service: String,
    stdout: Option<Stdout>,
    sinks: Vec<Sink>,
    secrets: SecretNames,
    pub(crate) flush_timeout: Duration,
    /// Stops the monitor thread when the pipeline is replaced.
    _monitor: Option<sinks::MonitorGuard>,
}

/// The stdout sink: text (coloured on a terminal) or JSON lines.
struct Stdout {
    format: Format,
    ansi: bool,
    cx: DocContext,
}

impl Pipeline {
    /// The provisional logger: readable stdout only.
    pub(crate) fn provisional() -> Pipeline {
        Pipeline {
            service: String::new(),
            stdout: Some(Stdout {
                format: Format::Text,
                ansi: std::io::stdout().is_terminal(),
                cx: DocContext::new(String::new(), crate::settings::DEFAULT_DEPLOY_NAME.into()),
            }),
            sinks: Vec::new(),
            secrets: SecretNames::new(Vec::new()),
            flush_timeout: Duration::from_secs(5),
            _monitor: None,
        }
    }

    /// The configured logger; sinks that can't be set up add a problem and stay off.
    pub(crate) fn build(config: &Config, service: &str, problems: &mut Vec<String>) -> Pipeline {
        let cx = DocContext::new(service.to_owned(), config.deploy_name.clone());
        let stdout = config.stdout.map(|format| Stdout {
            format,
            ansi: format == Format::Text && std::io::stdout().is_terminal(),
            cx: cx.clone(),
        });
        let sinks = sinks::start(config, &cx, problems);
        let monitor = (!sinks.is_empty()).then(|| sinks::monitor(&sinks, config.drop_warning));
        Pipeline {
            service: service.to_owned(),
            stdout,
            sinks,
            secrets: SecretNames::new(config.secret_fields.clone()),
            flush_timeout: config.flush_timeout,
            _monitor: monitor,
        }
    }

    /// A pipeline with only the given sinks, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(sinks: Vec<Sink>) -> Pipeline {
        Pipeline {
            service: "test".into(),
            stdout: None,
            sinks,
            secrets: SecretNames::new(vec!["pin".into()]),
            flush_timeout: Duration::from_secs(5),
            _monitor: None,
        }
    }

    fn write_stdout(&self, stdout: &Stdout, record: &Record) {
        let mut line = match stdout.format {
            Format::Text => text::line(record, stdout.ansi),
            Format::Json => super::document::json(record, &stdout.cx),
        };
        line.push('\n');
        // A closed stdout must not take the service down.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }

    /// See [`super::flush`].
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        let waits: Vec<_> = self.sinks.iter().map(Sink::request_flush).collect();
        let mut done = true;
        for (sink, wait) in self.sinks.iter().zip(waits) {
            done &= sink.wait_flushed(wait, deadline);
        }
        done
    }

    pub(crate) fn stats(&self) -> Vec<SinkStats> {
        self.sinks.iter().map(Sink::stats).collect()
    }
}

/// The fields of a span, captured when it is created or recorded.
struct SpanFields(Collected);

/// The layer itself; its [`Pipeline`] is swapped when the configuration changes.
pub(crate) struct TamarcoLayer {
    pipeline: Arc<ArcSwap<Pipeline>>,
    #[cfg(feature = "tracing-otel")]
    ids: crate::otel::LogIds,
}

impl TamarcoLayer {
    pub(crate) fn new(pipeline: Arc<ArcSwap<Pipeline>>) -> Self {
        TamarcoLayer {
            pipeline,
            #[cfg(feature = "tracing-otel")]
            ids: crate::otel::LogIds::default(),
        }
    }

    /// The ids of the sampled span the event is in (feature `tracing-otel`).
    #[cfg(feature = "tracing-otel")]
    fn trace_ids(&self, event: &Event<'_>) -> Option<(String, String)> {
        self.ids.of(event)
    }

    #[cfg(not(feature = "tracing-otel"))]
    fn trace_ids(&self, _: &Event<'_>) -> Option<(String, String)> {
        None
    }
}

impl<S> tracing_subscriber::Layer<S> for TamarcoLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[cfg(feature = "tracing-otel")]
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.ids.register(subscriber);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let pipeline = self.pipeline.load();
        let mut fields = Collected::default();
        attrs.record(&mut Collector {
            out: &mut fields,
            secrets: &pipeline.secrets,
        });
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let pipeline = self.pipeline.load();
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Collector {
                out: fields,
                secrets: &pipeline.secrets,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let pipeline = self.pipeline.load();
        if pipeline.stdout.is_none() && pipeline.sinks.is_empty() {
            return;
        }
        let mut record = capture(event, &ctx, &pipeline.secrets);
        record.trace = self.trace_ids(event);
        if let Some(stdout) = &pipeline.stdout {
            pipeline.write_stdout(stdout, &record);
        }
        if !pipeline.sinks.is_empty() {
            let record = Arc::new(record);
            for sink in &pipeline.sinks {
                sink.push(&record);
            }
        }
    }
}

fn capture<S>(event: &Event<'_>, ctx: &Context<'_, S>, secrets: &SecretNames) -> Record
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut collected = Collected::default();
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope.from_root() {
            if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                collected.tags.extend(fields.tags.iter().cloned());
                collected.fields.extend(fields.fields.iter().cloned());
            }
        }
    }
    event.record(&mut Collector {
        out: &mut collected,
        secrets,
    });
    // Records from the `log` crate carry their real target and location in fields.
    let (target, file, line) = match event.normalized_metadata() {
        Some(meta) => (
            Cow::Owned(meta.target().to_owned()),
            meta.file().map(|f| Cow::Owned(f.to_owned())),
            meta.line(),
        ),
        None => {
            let meta = event.metadata();
            (
                Cow::Borrowed(meta.target()),
                meta.file().map(Cow::Borrowed),
                meta.line(),
            )
        }
    };
    let thread = (!collected.errors.is_empty()).then(|| {
        let current = std::thread::current();
        current.name().unwrap_or("unnamed").to_owned()
    });
    Record {
        thread,
        time: SystemTime::now(),
        level: *event.metadata().level(),
        target,
        file,
        line,
        message: collected.message.unwrap_or_default(),
        tags: collected.tags,
        fields: collected.fields,
        errors: collected.errors,
        trace: None,
    }
}

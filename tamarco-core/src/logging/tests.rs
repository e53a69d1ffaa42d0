use std::time::{Duration, UNIX_EPOCH};

use super::config::Profile;
use super::time::rfc3339_millis;

#[test]
fn timestamps_are_utc_with_milliseconds() {
    assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
    assert_eq!(rfc3339_millis(t), "2024-02-29T12:34:56.789Z");
}

#[test]
fn profiles() {
    assert_eq!(
        "develop".parse::<Profile>().unwrap().level(),
        tracing::Level::DEBUG
    );
    assert_eq!(
        "TESTING".parse::<Profile>().unwrap().level(),
        tracing::Level::DEBUG
    );
    assert_eq!(
        "PRODUCTION".parse::<Profile>().unwrap().level(),
        tracing::Level::INFO
    );
    assert!(
        "LOUD"
            .parse::<Profile>()
            .unwrap_err()
            .contains("unknown profile \"LOUD\"")
    );
}

mod captured {
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use arc_swap::ArcSwap;
    use serde_json::{Value, json};
    use tracing_subscriber::Registry;
    use tracing_subscriber::layer::SubscriberExt;

    use crate::logging::Secret;
    use crate::logging::document::{self, DocContext};
    use crate::logging::layer::{Pipeline, TamarcoLayer};
    use crate::logging::record::Record;
    use crate::logging::sink::{Batch, Sink, Transport};
    use crate::logging::text;

    /// A sink that hands each rendered record (document and text line) to the test.
    struct Capture {
        tx: mpsc::Sender<String>,
        cx: DocContext,
    }

    impl Transport for Capture {
        fn render(&self, record: &Record) -> String {
            let doc = document::document(record, &self.cx);
            // The keys in the order the document writes them (a parsed `Value` sorts them).
            json!({"doc": doc, "keys": doc.keys(), "line": text::line(record, false)}).to_string()
        }
        async fn connect(&mut self) -> Result<(), String> {
            Ok(())
        }
        async fn send(&mut self, batch: Vec<String>) -> Result<(), String> {
            for item in batch {
                let _ = self.tx.send(item);
            }
            Ok(())
        }
    }

    /// A pipeline with only the capturing sink, and what reaches the sink.
    fn capturing() -> (Arc<ArcSwap<Pipeline>>, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        let cx = DocContext::new("svc".into(), "staging".into());
        let sink = Sink::spawn("test", "test", 100, Batch::Drain(10), Capture { tx, cx }).unwrap();
        (
            Arc::new(ArcSwap::from_pointee(Pipeline::for_tests(vec![sink]))),
            rx,
        )
    }

    /// What reached the capturing sink, once the pipeline is flushed.
    fn drained(pipeline: &ArcSwap<Pipeline>, rx: &mpsc::Receiver<String>) -> Vec<Value> {
        assert!(
            pipeline
                .load()
                .flush(Instant::now() + Duration::from_secs(5))
        );
        rx.try_iter()
            .map(|s| serde_json::from_str(&s).unwrap())
            .collect()
    }

    /// Runs `f` under a subscriber with the capturing sink; returns what reached it.
    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let (pipeline, rx) = capturing();
        let subscriber = Registry::default().with(TamarcoLayer::new(Arc::clone(&pipeline)));
        tracing::subscriber::with_default(subscriber, f);
        drained(&pipeline, &rx)
    }

    #[test]
    fn documents_carry_every_field_tags_and_span_fields() {
        let got = capture(|| {
            let span = tracing::info_span!("req", request_id = "r-9", tags = ?["api", "v2"]);
            let _guard = span.enter();
            tracing::warn!(target: "svc::billing", tags = "slow", n = 3, big = u128::MAX, ok = false, "late");
        });
        assert_eq!(got.len(), 1);
        let doc = &got[0]["doc"];
        assert_eq!(
            got[0]["keys"],
            json!([
                "@timestamp",
                "@version",
                "message",
                "host",
                "path",
                "tags",
                "type",
                "level",
                "logger_name",
                "service_name",
                "deploy_name",
                "request_id",
                "n",
                "big",
                "ok"
            ])
        );
        assert_eq!(doc["level"], "WARNING");
        assert_eq!(doc["logger_name"], "svc::billing");
        assert_eq!(doc["service_name"], "svc");
        assert_eq!(doc["deploy_name"], "staging");
        assert_eq!(doc["tags"], json!(["api", "v2", "slow"]));
        assert_eq!(doc["n"], 3);
        assert_eq!(doc["big"], u128::MAX.to_string());
        assert!(doc["path"].as_str().unwrap().ends_with("tests.rs"));
        let line = got[0]["line"].as_str().unwrap();
        assert!(line.contains(" WARN svc::billing "), "{line}");
        assert!(
            line.contains(": [api,v2,slow] late request_id=\"r-9\" n=3"),
            "{line}"
        );
    }

    /// Logs a record inside a span of a tracer from `provider`, and one outside; returns the
    /// span's ids and the two documents. The logging layer is at `warn` and the span at `info`:
    /// the span is the exporter's, which the log level does not filter.
    #[cfg(feature = "tracing-otel")]
    fn log_in_a_span(
        provider: opentelemetry_sdk::trace::SdkTracerProvider,
    ) -> ((String, String), Vec<Value>) {
        use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::filter::LevelFilter;

        let (pipeline, rx) = capturing();
        let subscriber = Registry::default()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(TamarcoLayer::new(Arc::clone(&pipeline)).with_filter(LevelFilter::WARN));
        let mut expected = (String::new(), String::new());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("work");
            let _guard = span.enter();
            let otel = span.context();
            let ids = otel.span().span_context().clone();
            expected = (ids.trace_id().to_string(), ids.span_id().to_string());
            tracing::warn!("inside");
            drop(_guard);
            tracing::warn!("outside");
        });
        let got = drained(&pipeline, &rx);
        assert_eq!(got.len(), 2);
        (expected, got)
    }

    /// A record logged inside an exported span carries its trace and span ids (hex), the
    /// same the span exports; one outside any span carries none.
    #[cfg(feature = "tracing-otel")]
    #[test]
    fn records_in_an_exported_span_carry_its_trace_and_span_ids() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let (expected, got) = log_in_a_span(provider);
        assert_eq!(expected.0.len(), 32);
        assert_eq!(got[0]["doc"]["trace_id"], expected.0.as_str());
        assert_eq!(got[0]["doc"]["span_id"], expected.1.as_str());
        assert!(got[1]["doc"].get("trace_id").is_none(), "{}", got[1]);
    }

    /// A span that is not sampled has ids too (its children inherit the decision), but no one
    /// exports it: records inside it carry no ids that would lead nowhere.
    #[cfg(feature = "tracing-otel")]
    #[test]
    fn records_in_a_span_not_sampled_carry_no_ids() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
            .build();
        let (expected, got) = log_in_a_span(provider);
        assert_eq!(expected.0.len(), 32, "the span has ids");
        assert_ne!(expected.0, "0".repeat(32), "the span has ids");
        for doc in &got {
            assert!(doc["doc"].get("trace_id").is_none(), "{doc}");
            assert!(doc["doc"].get("span_id").is_none(), "{doc}");
        }
    }

    /// A span the framework makes only for the exporter (target `otel::UNLOGGED_TARGET`, such as
    /// a message's `process` span) is exported but adds none of its fields to log records, at
    /// any log level: a record inside it carries its trace id, and the fields of a user's span
    /// around it, as with tracing off.
    #[cfg(feature = "tracing-otel")]
    #[test]
    fn spans_made_only_for_the_exporter_add_nothing_to_log_records() {
        use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::filter::{LevelFilter, Targets};

        use crate::logging::filter::LevelsFilter;

        let (pipeline, rx) = capturing();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let levels = LevelsFilter::new(Targets::new().with_default(LevelFilter::TRACE));
        let subscriber = Registry::default()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(TamarcoLayer::new(Arc::clone(&pipeline)).with_filter(levels));
        let mut trace_id = String::new();
        tracing::subscriber::with_default(subscriber, || {
            let user = tracing::info_span!("checkout", order = 7);
            let _user = user.enter();
            let traced = tracing::info_span!(
                target: crate::otel::UNLOGGED_TARGET,
                "process",
                messaging.destination.name = "orders",
            );
            let _traced = traced.enter();
            trace_id = traced
                .context()
                .span()
                .span_context()
                .trace_id()
                .to_string();
            tracing::info!(n = 1, "handled");
        });
        let got = drained(&pipeline, &rx);
        assert_eq!(got.len(), 1, "{got:?}");
        let doc = &got[0]["doc"];
        assert_eq!(doc["order"], 7, "{doc}");
        assert_eq!(doc["n"], 1, "{doc}");
        assert!(doc.get("messaging.destination.name").is_none(), "{doc}");
        assert_eq!(doc["trace_id"], trace_id.as_str(), "{doc}");
        let line = got[0]["line"].as_str().unwrap();
        assert!(!line.contains("orders"), "{line}");
    }

    #[test]
    fn secrets_never_reach_a_sink() {
        let got = capture(|| {
            let span = tracing::info_span!("auth", auth_token = "t0ken-in-span");
            let _guard = span.enter();
            let key = Secret::new("k3y");
            tracing::info!(password = "p4ss", PIN = 1234, api_key = "4p1", signing = %key, "using {key:?}");
        });
        let text = got[0].to_string();
        for secret in ["t0ken-in-span", "p4ss", "1234", "k3y", "4p1"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(got[0]["doc"]["message"], "using ***");
        assert_eq!(got[0]["doc"]["signing"], "***");
    }

    #[test]
    fn an_error_brings_its_whole_chain() {
        let inner = std::io::Error::other("disk full");
        let outer = std::io::Error::other(Wrapped(inner));
        let got = capture(|| {
            tracing::error!(error = &outer as &dyn std::error::Error, "save failed");
        });
        let doc = &got[0]["doc"];
        assert_eq!(doc["error"], "could not save");
        assert_eq!(doc["stack_trace"], "could not save\ndisk full");
        let line = got[0]["line"].as_str().unwrap();
        assert!(
            line.ends_with("save failed error=\"could not save: disk full\""),
            "{line}"
        );
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("could not save")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn records_of_the_log_crate_arrive_with_their_target() {
        let _ = tracing_log::LogTracer::init();
        let got = capture(|| log::info!(target: "legacy::db", "from the log crate {}", 42));
        let doc = &got[0]["doc"];
        assert_eq!(doc["message"], "from the log crate 42");
        assert_eq!(doc["logger_name"], "legacy::db");
        assert!(doc["path"].as_str().unwrap().ends_with("tests.rs"), "{doc}");
        assert!(
            doc.as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("log.")),
            "{doc}"
        );
    }
}

#[test]
fn a_sink_left_out_of_the_build_stops_the_start_naming_key_and_feature() {
    let settings = crate::settings::Settings::new("svc");
    settings
        .update_internal(serde_json::json!({"system": {"logging": {"redis": {"enabled": true}}}}))
        .unwrap();
    let left_out = [("redis", "log-redis", false), ("http", "log-http", false)];
    let error = super::check_gated_sinks(&settings, &left_out)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "setting `system.logging.redis.enabled`: the redis log sink is not in this build; \
         turn on the cargo feature `log-redis` of `tamarco`"
    );
    // Compiled in, or not turned on: nothing to refuse.
    let compiled = [("redis", "log-redis", true), ("http", "log-http", false)];
    assert!(super::check_gated_sinks(&settings, &compiled).is_ok());
}

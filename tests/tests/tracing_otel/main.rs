//! Distributed tracing (feature `tracing-otel`) against the machine's RabbitMQ and a Kafka
//! broker (tansu) of the test's own; the spans reach an OTLP/HTTP receiver the test runs.
//!
//! - `in_process`: the service's HTTP client calls its own server, whose route publishes to
//!   AMQP, and the service's own handler takes the message: one trace with each parent set; its
//!   resources' start and stop hooks are spans under their phase's. (Only one test here traces
//!   in process: the tracing subscriber and exporter are process-wide.)
//! - `processes`: across three processes (`src/bin/trace_hop.rs`): HTTP into `front`, AMQP to
//!   `relay`, Kafka to `sink`, whose log line shipped to Logstash carries the same trace id.
//!
//! The receiver and the span decoding they share are in `../support/otlp.rs`, with the other
//! tracing tests'.

mod in_process;
#[path = "../support/otlp.rs"]
mod otlp;
mod processes;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tamarco::amqp::{Amqp, Message, Pattern, PushOutput};
use tamarco::http::axum::extract::Path;
use tamarco::http::axum::http::StatusCode;
use tamarco::http::reqwest::Method;
use tamarco::http::{HttpClient, HttpServer};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco::tokio::sync::Notify;
use tamarco::tokio::time::timeout;
use tamarco_tests::Probe;
use tamarco_tests::amqp::{Cleanup, settings, unique_prefix};
use tamarco_tests::kafka::{Broker, free_port};

use otlp::{hex, receiver, spans, text};

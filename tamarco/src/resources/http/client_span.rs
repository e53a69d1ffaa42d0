//! The client span of each request an [`HttpClient`](super::HttpClient) makes (`send`, and
//! `get`, `post`... through [`ClientRequest`](super::ClientRequest); feature `tracing-otel`,
//! while `system.tracing` is on), with the attribute names of the OpenTelemetry semantic
//! conventions for HTTP clients: named after the method, with `http.request.method`, `url.full`
//! (no credentials, query or fragment: they may hold secrets), `server.address`, `server.port`,
//! then `http.response.status_code`, or `error.type` when no answer came. The request carries
//! the span's context, so the server's span is its child. Without the feature, or with tracing
//! off, no span is made and nothing is added.

use reqwest::{Method, Response, Url};
use tracing::Span;
use tracing::field::Empty;

#[cfg(feature = "tracing-otel")]
use tamarco_core::otel::enabled as exporting;
/// The current span's trace context as headers of an outgoing request (empty when nothing is
/// exported).
#[cfg(feature = "tracing-otel")]
pub(super) use tamarco_core::otel::http_headers as context_headers;

#[cfg(not(feature = "tracing-otel"))]
fn exporting() -> bool {
    false
}

/// Without the feature: no trace context to send.
#[cfg(not(feature = "tracing-otel"))]
pub(super) fn context_headers() -> reqwest::header::HeaderMap {
    reqwest::header::HeaderMap::new()
}

/// The span of a request with `method` to `url` (unknown before discovery picks an instance).
pub(super) fn start(method: &Method, url: Option<&Url>) -> Span {
    if !exporting() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: "tamarco::http::client",
        "request",
        otel.name = method.as_str(),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method.as_str(),
        url.full = Empty,
        server.address = Empty,
        server.port = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
    );
    if let Some(url) = url {
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.set_query(None);
        shown.set_fragment(None);
        span.record("url.full", shown.as_str());
        if let Some(host) = url.host_str() {
            span.record("server.address", host);
        }
        if let Some(port) = url.port_or_known_default() {
            span.record("server.port", port);
        }
    }
    span
}

/// Records how the request ended: the status code, and an error for 5xx or no answer.
pub(super) fn end<E>(span: &Span, outcome: &Result<Response, E>) {
    match outcome {
        Ok(response) => {
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("error.type", status.as_str());
                span.record("otel.status_code", "error");
            }
        }
        Err(_) => {
            span.record("error.type", "request_failed");
            span.record("otel.status_code", "error");
        }
    }
}

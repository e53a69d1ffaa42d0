//! What a server answers when a handler panics: the observe layer catches the panic (around
//! the handler's call and every poll of its future) so that the client gets a 500 instead of a
//! reset connection, and the panic is logged and counted.

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};

/// Answers 500, logs the panic message at error level (in the request's span, which the
/// caller has entered) and counts it in `panics` (`http_server_panics_total{server}`). The
/// message is not sent to the client.
pub(super) fn panic_response(
    panics: &::metrics::Counter,
    panic: Box<dyn Any + Send + 'static>,
) -> Response<Body> {
    panics.increment(1);
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)");
    tracing::error!("the handler panicked: {message}");
    let mut response = Response::new(Body::from("internal server error"));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

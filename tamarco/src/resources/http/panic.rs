//! [`PanicResponse`]: what a server answers when a handler panics. The panic is caught
//! (tower-http's catch-panic layer) so that the client gets a 500 instead of a reset
//! connection, and the panic is logged and counted.

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use tower_http::catch_panic::ResponseForPanic;

/// Answers 500, logs the panic message at error level (in the request's span) and counts it
/// in `http_server_panics_total{server}`. The message is not sent to the client.
#[derive(Clone, Debug)]
pub(crate) struct PanicResponse {
    panics: ::metrics::Counter,
}

impl PanicResponse {
    pub(crate) fn new(server: &str) -> Self {
        PanicResponse {
            panics: ::metrics::counter!("http_server_panics_total", "server" => server.to_owned()),
        }
    }
}

impl ResponseForPanic for PanicResponse {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
        self.panics.increment(1);
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
}

//! [`ClientRequest`]: a request of an [`HttpClient`](super::HttpClient) while it is shaped and
//! sent ([`get`](super::HttpClient::get), [`post`](super::HttpClient::post)...). With
//! `system.tracing` on it is a client span, as [`send`](super::HttpClient::send) makes: opened
//! when the request is made, ended with the answer's status or the error, and its context is in
//! the request's headers, so the server's span is its child.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Body, RequestBuilder, Response};
use tracing::{Instrument as _, Span};

use super::client_span;

/// A request being built: reqwest's [`RequestBuilder`] and the request's span. The usual
/// shaping methods are here; [`map`](Self::map) reaches every other one of reqwest's.
#[must_use = "a request does nothing until it is sent"]
pub struct ClientRequest {
    builder: RequestBuilder,
    span: Span,
}

impl ClientRequest {
    pub(super) fn new(builder: RequestBuilder, span: Span) -> Self {
        ClientRequest { builder, span }
    }

    /// Shapes the request with any method of reqwest's builder.
    pub fn map(self, build: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Self {
        ClientRequest {
            builder: build(self.builder),
            span: self.span,
        }
    }

    /// Adds a header.
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<axum::http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<axum::http::Error>,
    {
        self.map(|b| b.header(key, value))
    }

    /// Adds headers, replacing those of the same names.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|b| b.headers(headers))
    }

    /// HTTP basic authentication (the header is marked sensitive).
    pub fn basic_auth<U: fmt::Display, P: fmt::Display>(
        self,
        username: U,
        password: Option<P>,
    ) -> Self {
        self.map(|b| b.basic_auth(username, password))
    }

    /// A bearer token (the header is marked sensitive).
    pub fn bearer_auth<T: fmt::Display>(self, token: T) -> Self {
        self.map(|b| b.bearer_auth(token))
    }

    /// The body.
    pub fn body<T: Into<Body>>(self, body: T) -> Self {
        self.map(|b| b.body(body))
    }

    /// A JSON body, with its content type.
    pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    /// A timeout for this request, instead of the resource's.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// Sends the request and waits for the answer's head; the span ends with its status (or
    /// the error).
    pub async fn send(self) -> reqwest::Result<Response> {
        let ClientRequest { builder, span } = self;
        let outcome = builder.send().instrument(span.clone()).await;
        client_span::end(&span, &outcome);
        outcome
    }

    /// reqwest's builder, without the span (which ends unsent).
    pub fn into_builder(self) -> RequestBuilder {
        self.builder
    }
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // reqwest's Debug shows the URL without its password and the headers marked sensitive.
        f.debug_struct("ClientRequest")
            .field("builder", &self.builder)
            .finish_non_exhaustive()
    }
}

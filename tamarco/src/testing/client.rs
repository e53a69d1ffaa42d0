//! A small HTTP/1.1 client for a service's own servers: one connection per request, so every
//! request sees the server as it is now (no pooled connection to a stopped listener).

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap};
use hyper_util::rt::TokioIo;

use super::TestError;

/// Requests to one HTTP server of a service (its report server, or one of its resources).
#[derive(Debug, Clone)]
pub struct Client {
    service: &'static str,
    resource: String,
    addr: SocketAddr,
    timeout: Duration,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl Client {
    pub(super) fn new(
        service: &'static str,
        resource: &str,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Self {
        Client {
            service,
            resource: resource.to_owned(),
            addr,
            timeout,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Response, TestError> {
        self.request("GET", path, None).await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post_json(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Response, TestError> {
        let body = serde_json::to_vec(body).map_err(|e| self.error("POST", path, e))?;
        self.request("POST", path, Some(body)).await
    }

    /// Any request; a body is sent as JSON.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, TestError> {
        let work = self.exchange(method, path, body);
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(self.error(method, path, format!("no answer in {:?}", self.timeout))),
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, TestError> {
        let fail = |e: &dyn std::fmt::Display| self.error(method, path, e);
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| fail(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(&e))?;
        let driver = tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.addr.to_string());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| fail(&e))?;
        let response = sender.send_request(request).await.map_err(|e| fail(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| fail(&e))?.to_bytes();
        driver.abort();
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    fn error(&self, method: &str, path: &str, message: impl std::fmt::Display) -> TestError {
        TestError::Http {
            service: self.service,
            resource: self.resource.clone(),
            method: method.to_owned(),
            path: path.to_owned(),
            message: message.to_string(),
        }
    }
}

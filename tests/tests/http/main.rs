//! The HTTP resources over real loopback sockets: two servers from their own settings, handlers
//! that reach the service and its other resources, bind failures, the graceful drain under
//! load, the response cache, request metrics, server options, and the client resource.
//!
//! The tests by concept: `servers` (settings, handlers, bind failures), `drain` (the graceful
//! stop under load), `requests` (cache, metrics, CORS, timeouts, body limits) and `client`.

mod client;
mod drain;
mod requests;
mod servers;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::http::axum::Router;
use tamarco::http::axum::extract::{Path, State};
use tamarco::http::axum::http::{HeaderMap, StatusCode};
use tamarco::http::axum::routing::{get, post};
use tamarco::http::{HttpClient, HttpServer, RequestId, client_builder};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::settings::KeyNoteKind;
use tamarco::testing::{TestError, TestService};
use tamarco::{Error, error_chain};
use tamarco_tests::http_get;

/// A port that was free a moment ago.
fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET through a plain reqwest client (no pool, so every request sees the server as it is).
async fn get_text(url: &str) -> (StatusCode, HeaderMap, String) {
    let client = client_builder().pool_max_idle_per_host(0).build().unwrap();
    let response = client.get(url).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

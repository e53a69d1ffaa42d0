//! Hostile clients and signals against real service processes (issue 14): idle and half-open
//! connections do not hold the graceful stop, a SIGTERM under load loses no request the server
//! had read, a panicking handler answers 500, and summaries stay bounded without scrapes; and,
//! in process, the HTTP client keeps its secrets, the server caps its connections, the cache
//! keeps users apart, WebSockets have a message limit, a cap and pings, and the HTTP client
//! times out on a network that silently drops packets (through a proxy the test runs).
//!
//! The tests by concept: `processes` (idle connections, a panicking handler, unscraped
//! summaries, each in a probe process), `sigterm` (a SIGTERM under keep-alive load), `server`
//! (the connection cap, WebSockets), `cache` (users and variants kept apart) and `client` (the
//! HTTP client's secrets and timeouts). One test binary for the issue, so CI links it once.
//! The helpers they share (probe addresses, a context with settings, a keep-alive client) are
//! below.

mod cache;
mod client;
mod processes;
mod server;
mod sigterm;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tamarco::http::axum::Router;
use tamarco::http::axum::response::Response;
use tamarco::http::axum::routing::get;
use tamarco::http::{HttpClient, HttpServer, client_builder};
use tamarco::serde_json::{Value, json};
use tamarco::websocket::{WebSocket, WebSocketServer, WebSocketUpgrade};
use tamarco::{MicroserviceContext, error_chain};
use tamarco_tests::{Probe, http_get};
use tokio_tungstenite::tungstenite::Message as ClientMessage;

const HTTP_PROBE: &str = env!("CARGO_BIN_EXE_http_probe");
const PROBE: &str = env!("CARGO_BIN_EXE_probe");

/// The address of the probe's `HttpServer`, read from its log.
fn http_addr(probe: &mut Probe) -> SocketAddr {
    let line = probe.wait_for_line("http server listening on http://", Duration::from_secs(10));
    let addr = line.rsplit("http://").next().unwrap();
    let addr = addr.split_whitespace().next().unwrap_or_default();
    addr.parse()
        .unwrap_or_else(|_| panic!("an address in the log line: {line}"))
}

/// A context with the resource settings `settings` at `system.resources.<name>`.
fn context_with(name: &str, settings: Value) -> MicroserviceContext {
    let cx = MicroserviceContext::new("hardening");
    cx.settings()
        .set_internal(&format!("system.resources.{name}"), settings)
        .unwrap();
    cx
}

/// One keep-alive HTTP/1.1 client connection.
struct KeepAlive {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl KeepAlive {
    fn connect(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
        Self::over(stream)
    }

    fn over(stream: TcpStream) -> KeepAlive {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        KeepAlive {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends a GET with request id `id`; returns the status once the whole response is read.
    fn get(&mut self, path: &str, id: &str) -> std::io::Result<u16> {
        // One write: pieces would wait on each other's ACK (Nagle), and the load would be idle.
        let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nx-request-id: {id}\r\n\r\n");
        self.writer.write_all(request.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not a status line: {line:?}")))?;
        let mut length = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

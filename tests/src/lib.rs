//! Support for tamarco's integration tests: a resource that records its lifecycle, an event
//! log, a minimal HTTP GET, and helpers to run the probe service as a child process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::{BoxError, Phase, Resource, ResourceContext};

pub use probe_main::probe_main;

pub mod amqp;
pub mod etcd;
pub mod handled;
pub mod influxdb;
pub mod kafka;
pub mod postgres;
mod probe_main;
pub mod proxy;
pub mod unreachable;

/// A shared, ordered list of events (`"db:start"`, `"hook:stop:before"`...).
#[derive(Clone, Debug, Default)]
pub struct EventLog(Arc<Mutex<Vec<String>>>);

impl EventLog {
    /// Appends an event.
    pub fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The events that end with `:<suffix>`, without the suffix: the resources that ran a phase,
    /// in order.
    pub fn who(&self, suffix: &str) -> Vec<String> {
        let tail = format!(":{suffix}");
        self.events()
            .iter()
            .filter_map(|e| e.strip_suffix(&tail).map(str::to_owned))
            .collect()
    }
}

/// A resource that records each hook it runs as `"<name>:<phase>"`, and fails in one phase if
/// told to.
#[derive(Debug, Default)]
pub struct RecordingResource {
    log: EventLog,
    fail_in: Option<Phase>,
    stop_delay: Option<Duration>,
    fails_once_started: bool,
}

impl RecordingResource {
    /// Records into `log`.
    pub fn new(log: &EventLog) -> Self {
        RecordingResource {
            log: log.clone(),
            fail_in: None,
            stop_delay: None,
            fails_once_started: false,
        }
    }

    /// Fails in `phase`.
    pub fn failing_in(mut self, phase: Phase) -> Self {
        self.fail_in = Some(phase);
        self
    }

    /// Marks itself FAILED right after the start, like a resource that lost its connection.
    pub fn failing_once_started(mut self) -> Self {
        self.fails_once_started = true;
        self
    }

    /// Takes `delay` to stop.
    pub fn slow_to_stop(mut self, delay: Duration) -> Self {
        self.stop_delay = Some(delay);
        self
    }

    fn record(&self, cx: &ResourceContext, phase: Phase) -> Result<(), BoxError> {
        self.log.push(format!("{}:{phase}", cx.name()));
        if self.fail_in == Some(phase) {
            return Err(format!("{} was told to fail in {phase}", cx.name()).into());
        }
        Ok(())
    }
}

impl Resource for RecordingResource {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.record(cx, Phase::Bind);
    }
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.record(cx, Phase::Configure)
    }
    async fn pre_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.record(cx, Phase::PreStart)
    }
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.record(cx, Phase::Start)
    }
    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        if self.fails_once_started {
            cx.status().set(tamarco::ResourceStatus::Failed);
        }
        self.record(cx, Phase::PostStart)
    }
    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        if let Some(delay) = self.stop_delay {
            tamarco::tokio::time::sleep(delay).await;
        }
        self.record(cx, Phase::Stop)
    }
    async fn post_stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.record(cx, Phase::PostStop)
    }
}

/// The message the AMQP and Kafka tests send.
#[derive(Debug, Clone, PartialEq, tamarco::serde::Serialize, tamarco::serde::Deserialize)]
#[serde(crate = "tamarco::serde")]
pub struct Order {
    /// Which order: tests check that each id arrives once.
    pub id: u64,
    /// What was ordered.
    pub item: String,
}

/// Order `id`, of the item `item {id}`.
pub fn order(id: u64) -> Order {
    Order {
        id,
        item: format!("item {id}"),
    }
}

/// Polls `done` every 10 ms until it holds, and panics after `within` with what `what` says
/// then (called only on failure, so it may describe the state it found).
pub async fn wait_until<S: std::fmt::Display>(
    within: Duration,
    mut done: impl FnMut() -> bool,
    what: impl FnOnce() -> S,
) {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            panic!("not within {within:?}: {}", what());
        }
        tamarco::tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// In-code settings that turn the report server off, for tests that run several services.
pub fn quiet_settings() -> tamarco::serde_json::Value {
    tamarco::serde_json::json!({"system": {"resources": {"tamarco_http_report_server": {"enabled": false}}}})
}

/// The `system.tracing` settings that export every span over OTLP/HTTP to the receiver at
/// `endpoint` (its base URL), every root span sampled: what the tracing tests run with.
pub fn sampled_tracing(endpoint: &str) -> tamarco::serde_json::Value {
    tamarco::serde_json::json!({"enabled": true, "endpoint": endpoint, "sampling_ratio": 1.0})
}

/// A minimal HTTP/1.1 GET; returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http_request(addr, "GET", path, &[], None)
}

/// A minimal HTTP/1.1 request with a JSON body (or none) and extra headers; returns the
/// status code and the body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// The probe service (`src/bin/probe.rs`) running as a child process, with its output lines.
#[derive(Debug)]
pub struct Probe {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Probe {
    /// Starts the probe binary `exe` in `mode`.
    pub fn spawn(exe: &str, mode: &str) -> Probe {
        Probe::spawn_with(exe, mode, &[])
    }

    /// Starts the probe binary `exe` in `mode` with extra environment variables.
    pub fn spawn_with(exe: &str, mode: &str, env: &[(&str, &str)]) -> Probe {
        let mut child = Command::new(exe)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .env("PROBE_MODE", mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the probe binary starts");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Probe {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most `timeout`) for an output line containing `needle`; returns it.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {timeout:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The report server's address, read from the probe's log.
    pub fn report_addr(&mut self) -> SocketAddr {
        let line = self.wait_for_line(
            "report server listening on http://",
            Duration::from_secs(10),
        );
        let addr = line.rsplit("http://").next().unwrap().trim();
        addr.parse().expect("an address in the log line")
    }

    /// Sends a signal (`TERM`, `INT`) to the probe.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (at most `timeout`) for the probe to exit; returns its exit code, how long it
    /// took, and every output line.
    pub fn wait_exit(mut self, timeout: Duration) -> (i32, Duration, Vec<String>) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let took = started.elapsed();
                // Collect the rest of the output; the pipe closes with the process.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
                    self.seen.push(line);
                }
                return (
                    status.code().unwrap_or(-1),
                    took,
                    std::mem::take(&mut self.seen),
                );
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "the probe did not exit within {timeout:?}; output:\n{}",
                    self.seen.join("\n")
                );
            }
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `tamarco` command line in-process with `args`; returns what it printed, or its
/// error with its causes.
pub async fn tamarco_cli(args: &[&str]) -> Result<String, String> {
    use clap::Parser;
    let line = std::iter::once("tamarco").chain(args.iter().copied());
    let cli = tamarco::cli::Cli::try_parse_from(line).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tamarco::cli::run(cli, &mut out)
        .await
        .map_err(|e| tamarco::error_chain(&*e))?;
    Ok(String::from_utf8(out).expect("the command prints UTF-8"))
}

//! Logging against real endpoints on loopback: a UDP socket, the machine's Redis, an HTTP
//! server, files, a stalled endpoint. Each scenario runs the probe `logging_probe` in a child
//! process, because the global `tracing` subscriber is process-wide.
//!
//! The tests by concept: `sinks` (each sink against its endpoint, rotation, stalls),
//! `formats` (the original's Logstash documents, key by key) and `settings` (live level
//! changes, bad settings); `server` is the loopback HTTP endpoint they send to.

mod formats;
mod server;
mod settings;
mod sinks;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tamarco::serde_json::{self, Value, json};

const PROBE: &str = env!("CARGO_BIN_EXE_logging_probe");

/// Values the probe logs in ways that must never be shown.
const SECRETS: &[&str] = &[
    "hunter2-secret",
    "tok-secret-42",
    "sk-secret-99",
    "pw-secret-77",
];

/// A finished probe: its exit code and stdout lines.
struct Run {
    code: i32,
    lines: Vec<String>,
}

impl Run {
    fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The `LOGPROBE_STATS` numbers of `sink`: sent, dropped, failed.
    fn stats(&self, sink: &str) -> BTreeMap<String, String> {
        let prefix = format!("LOGPROBE_STATS sink={sink} ");
        let line = self
            .lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no stats for {sink}:\n{}", self.text()));
        line[prefix.len()..]
            .split(' ')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn stat(&self, sink: &str, name: &str) -> u64 {
        self.stats(sink)[name].parse().unwrap()
    }
}

/// Runs the probe with `settings` under `system.logging` (plus `extra` at the root).
fn probe(scenario: &str, logging: Value, extra: &[(&str, String)]) -> Run {
    let settings = json!({"system": {"deploy_name": "ci-deploy", "logging": logging}});
    let mut child = Command::new(PROBE)
        .env("LOGPROBE_SCENARIO", scenario)
        .env("LOGPROBE_SETTINGS", settings.to_string())
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("RUST_LOG")
        .env_remove("TAMARCO_YML_FILE")
        .env_remove("TAMARCO_ETCD_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the logging probe starts");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the probe ({scenario}) did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let lines = reader.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        lines,
    }
}

fn assert_no_secrets(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret:?}:\n{text}"
        );
    }
}

/// Every datagram waiting on `socket`, parsed.
fn datagrams(socket: &UdpSocket) -> Vec<Value> {
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    let mut docs = Vec::new();
    while let Ok(n) = socket.recv(&mut buf) {
        let text = std::str::from_utf8(&buf[..n]).expect("UTF-8 datagram");
        assert_no_secrets("a UDP datagram", text);
        docs.push(serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}")));
    }
    docs
}

fn find<'a>(docs: &'a [Value], message: &str) -> &'a Value {
    find_by(docs, "message", message)
}

/// The document whose `field` (`message` in v1, `@message` in v0) starts with `message`.
fn find_by<'a>(docs: &'a [Value], field: &str, message: &str) -> &'a Value {
    docs.iter()
        .find(|d| d[field].as_str().is_some_and(|m| m.starts_with(message)))
        .unwrap_or_else(|| panic!("no document {message:?} in {docs:#?}"))
}

/// The fields of the Logstash v1 document, with ours; `kind` is the sink's message type.
fn check_document(doc: &Value, kind: &str) {
    let ts = doc["@timestamp"].as_str().expect("@timestamp");
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(
        ts.ends_with('Z') && &ts[10..11] == "T" && &ts[19..20] == ".",
        "{ts}"
    );
    let year: u32 = ts[..4].parse().unwrap();
    assert!(year >= 2024, "{ts}");
    assert_eq!(doc["@version"], "1");
    assert_eq!(doc["type"], kind);
    assert!(!doc["host"].as_str().unwrap().is_empty());
    // A list, or a map when given as `key=value` pairs.
    assert!(doc["tags"].is_array() || doc["tags"].is_object(), "{doc}");
    assert_eq!(doc["service_name"], "logprobe");
    assert_eq!(doc["deploy_name"], "ci-deploy");
    for key in ["message", "path", "level", "logger_name"] {
        assert!(doc[key].is_string(), "{key} in {doc}");
    }
}

/// The v1 documents of the `emit` scenario, wherever they arrived.
fn check_emitted(docs: &[Value], kind: &str) {
    for doc in docs {
        check_document(doc, kind);
    }
    let paid = find(docs, "order paid");
    assert_eq!(paid["level"], "INFO");
    assert_eq!(paid["logger_name"], "logprobe");
    assert!(
        paid["path"].as_str().unwrap().ends_with("logging_probe.rs"),
        "{paid}"
    );
    assert_eq!(paid["tags"], json!(["api", "billing", "slow"]));
    assert_eq!(paid["request_id"], "r-1");
    assert_eq!(paid["order"], 7);
    assert_eq!(paid["user"], "ann");
    assert_eq!(paid["ratio"], 0.5);
    assert_eq!(paid["ok"], true);
    assert!(paid.get("stack_trace").is_none());

    let login = find(docs, "login for ann");
    assert_eq!(login["message"], "login for ann with ***");
    // Fields named like a secret (the one list in `tamarco::secret`) are never shipped.
    assert!(
        login.get("password").is_none()
            && login.get("auth_token").is_none()
            && login.get("api_key").is_none(),
        "{login}"
    );

    let failed = find(docs, "payment failed");
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["error"], "card declined");
    assert_eq!(failed["stack_trace"], "card declined\ninsufficient funds");
    assert_eq!(failed["tags"], json!(["api"]));

    // PRODUCTION: no debug records; the framework's own records come too.
    assert!(docs.iter().all(|d| d["level"] != "DEBUG"), "{docs:#?}");
    assert!(docs.iter().any(|d| d["message"] == "started"), "{docs:#?}");
}

/// A minimal Redis client: one command, its reply.
fn redis(stream: &mut BufReader<TcpStream>, args: &[&str]) -> Value {
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.get_mut().write_all(command.as_bytes()).unwrap();
    read_reply(stream)
}

fn read_reply(stream: &mut BufReader<TcpStream>) -> Value {
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    let (kind, rest) = line.trim_end().split_at(1);
    match kind {
        "+" => json!(rest),
        "-" => panic!("redis error: {rest}"),
        ":" => json!(rest.parse::<i64>().unwrap()),
        "$" => {
            let len: i64 = rest.parse().unwrap();
            if len < 0 {
                return Value::Null;
            }
            let mut buf = vec![0u8; len as usize + 2];
            stream.read_exact(&mut buf).unwrap();
            json!(String::from_utf8_lossy(&buf[..len as usize]))
        }
        "*" => {
            let len: i64 = rest.parse().unwrap();
            Value::Array((0..len.max(0)).map(|_| read_reply(stream)).collect())
        }
        other => panic!("unexpected redis reply {other:?}"),
    }
}

//! Logging against real endpoints on loopback: a UDP socket, the machine's Redis, an HTTP
//! server, files, a stalled endpoint. Each scenario runs the probe `logging_probe` in a child
//! process, because the global `tracing` subscriber is process-wide.

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

#[test]
fn logstash_udp_gets_one_document_per_datagram_with_every_field_and_no_secret() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let run = probe(
        "emit",
        json!({"stdout_format": "json", "logstash": {"enabled": true, "host": "127.0.0.1", "port": port}}),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let docs = datagrams(&socket);
    check_emitted(&docs, "logstash");
    assert_eq!(run.stat("logstash", "sent") as usize, docs.len());
    assert_eq!(run.stat("logstash", "dropped"), 0);
    // stdout in JSON: one document per line, the same fields, no secret either.
    assert_no_secrets("stdout", &run.text());
    let stdout_docs: Vec<Value> = run
        .lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    check_emitted(&stdout_docs, "logstash");
}

#[test]
fn readable_stdout_shows_fields_tags_and_the_error_chain_without_secrets() {
    let run = probe("emit", json!({"profile": "DEVELOP"}), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert_no_secrets("stdout", &run.text());
    let text = run.text();
    let paid = run
        .lines
        .iter()
        .find(|l| l.contains("order paid"))
        .expect(&text);
    assert!(paid.contains(" INFO logprobe "), "{paid}");
    assert!(paid.contains("logging_probe.rs:"), "{paid}");
    assert!(paid.contains("[api,billing,slow] order paid"), "{paid}");
    assert!(
        paid.contains("request_id=\"r-1\"") && paid.contains("order=7"),
        "{paid}"
    );
    let failed = run
        .lines
        .iter()
        .find(|l| l.contains("payment failed"))
        .expect(&text);
    assert!(
        failed.contains("error=\"card declined: insufficient funds\""),
        "{failed}"
    );
    assert!(
        text.contains("a debug record"),
        "DEVELOP shows debug records"
    );
    assert!(!text.contains('\x1b'), "no colours on a pipe");
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

#[test]
fn redis_gets_the_documents_on_the_logstash_list() {
    // The list is always `logstash`: a database of our own keeps runs apart.
    let db = 1 + std::process::id() % 15;
    let mut conn =
        BufReader::new(TcpStream::connect("127.0.0.1:6379").expect("the machine's Redis"));
    redis(&mut conn, &["SELECT", &db.to_string()]);
    redis(&mut conn, &["DEL", "logstash"]);
    let run = probe(
        "emit",
        json!({"redis": {"enabled": true, "host": "127.0.0.1", "port": 6379, "db": db, "version": 1}}),
        &[],
    );
    let items = redis(&mut conn, &["LRANGE", "logstash", "0", "-1"]);
    redis(&mut conn, &["DEL", "logstash"]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert_no_secrets("stdout", &run.text());
    let docs: Vec<Value> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let text = item.as_str().unwrap();
            assert_no_secrets("a Redis item", text);
            serde_json::from_str(text).unwrap()
        })
        .collect();
    check_emitted(&docs, "record");
    assert_eq!(run.stat("redis", "sent") as usize, docs.len());
}

/// One request the HTTP server received.
#[derive(Debug, Clone)]
struct Request {
    at_ms: u128,
    authorization: Option<String>,
    body: String,
}

/// A loopback HTTP server answering 200 to everything, keeping the requests; or, `stalled`,
/// accepting connections and never reading them.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(stalled: bool) -> Server {
        Server::start_on("127.0.0.1:0", stalled)
    }

    fn start_on(addr: &str, stalled: bool) -> Server {
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) if stalled => held.push(stream),
                        Ok((stream, _)) => {
                            let requests = Arc::clone(&requests);
                            std::thread::spawn(move || serve(stream, &requests));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }
        });
        Server {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves requests on one keep-alive connection until it closes.
fn serve(stream: TcpStream, requests: &Mutex<Vec<Request>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut authorization = None;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        requests.lock().unwrap().push(Request {
            at_ms,
            authorization,
            body: String::from_utf8(body).unwrap(),
        });
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if reader.get_mut().write_all(reply).is_err() {
            return;
        }
    }
}

fn base64(input: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn http_posts_json_arrays_batched_by_count_and_by_time_with_basic_auth() {
    let server = Server::start(false);
    let url = format!("http://{}/logs", server.addr);
    let http = json!({"enabled": true, "url": url, "user": "logs", "password": "http-secret-pw",
                      "max_records": 5, "max_time_seconds": 0.5, "version": 1});
    let run = probe("batch", json!({"http": http}), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(
        !run.text().contains("http-secret-pw"),
        "the password is never logged"
    );
    let stopping: u128 = run
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("LOGPROBE_STOPPING "))
        .expect("the probe says when it stops")
        .parse()
        .unwrap();
    let requests = server.requests();
    let expected = format!("Basic {}", base64(b"logs:http-secret-pw"));
    let mut batches = Vec::new();
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some(expected.as_str()));
        let docs: Vec<Value> = serde_json::from_str(&request.body).expect("a JSON array");
        assert!(
            !docs.is_empty() && docs.len() <= 5,
            "{} documents",
            docs.len()
        );
        docs.iter().for_each(|doc| check_document(doc, "record"));
        let ours: Vec<u64> = docs
            .iter()
            .filter(|d| d["message"] == "batch-record")
            .map(|d| d["n"].as_u64().unwrap())
            .collect();
        if !ours.is_empty() {
            batches.push((request.at_ms, docs.len(), ours));
        }
    }
    // 12 records logged at once: two full batches of 5, then the last 2 after max_time, well
    // before the stop (which would flush them anyway).
    let sizes: Vec<_> = batches
        .iter()
        .map(|(_, len, ours)| (*len, ours.clone()))
        .collect();
    assert_eq!(
        sizes,
        vec![
            (5, vec![0, 1, 2, 3, 4]),
            (5, vec![5, 6, 7, 8, 9]),
            (2, vec![10, 11])
        ],
        "{requests:#?}"
    );
    let timed = batches[2].0;
    assert!(
        timed + 500 < stopping,
        "the time-based batch came {} ms before the stop",
        stopping - timed
    );
    assert_eq!(run.stat("http", "dropped"), 0);
}

#[test]
fn a_sink_that_comes_back_is_used_again() {
    // Nobody listens at first: bind, note the port, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let http = json!({"enabled": true, "url": format!("http://{addr}/"),
                      "max_records": 1, "max_time_seconds": 0.05, "version": 1});
    let probe = std::thread::spawn(move || {
        probe(
            "trickle",
            json!({"http": http}),
            &[("LOGPROBE_COUNT", "40".into())],
        )
    });
    std::thread::sleep(Duration::from_millis(1500));
    let server = Server::start_on(&addr.to_string(), false);
    let run = probe.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.text());
    let delivered: Vec<u64> = server
        .requests()
        .iter()
        .flat_map(|r| serde_json::from_str::<Vec<Value>>(&r.body).unwrap())
        .filter(|d| d["message"] == "trickle-record")
        .map(|d| d["n"].as_u64().unwrap())
        .collect();
    // Lost while it was down, delivered once it was back: the last ones all arrive.
    assert!(run.stat("http", "failed") > 0, "{}", run.text());
    assert!(!delivered.contains(&0), "{delivered:?}");
    assert!(delivered.ends_with(&[35, 36, 37, 38, 39]), "{delivered:?}");
    let text = run.text();
    assert!(
        text.contains("logging sink `http` (setting `system.logging.http`) is unreachable"),
        "{text}"
    );
    assert!(text.contains("logging sink `http` is reachable"), "{text}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tamarco-logging-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_file_rotates_at_the_configured_size_and_keeps_the_configured_count() {
    let dir = temp_dir("rotate");
    let path = dir.join("logs").join("app.log");
    let run = probe(
        "rotate",
        json!({"stdout": false, "file_path": path, "file_max_bytes": 4096, "file_max_files": 3}),
        &[("LOGPROBE_COUNT", "400".into())],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let mut names: Vec<String> = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["app.log", "app.log.1", "app.log.2", "app.log.3"],
        "3 archives kept"
    );
    let mut numbers = Vec::new();
    for name in ["app.log.3", "app.log.2", "app.log.1", "app.log"] {
        let text = std::fs::read_to_string(dir.join("logs").join(name)).unwrap();
        assert!(text.len() <= 4096, "{name} has {} bytes", text.len());
        assert!(text.ends_with('\n'), "{name} ends with a whole record");
        if name != "app.log" {
            assert!(
                text.len() > 3000,
                "{name} was filled before rotating: {} bytes",
                text.len()
            );
        }
        for line in text.lines() {
            assert!(line.contains(" INFO "), "{line}");
            if let Some(n) = line.split(" n=").nth(1) {
                numbers.push(n.split(' ').next().unwrap().parse::<u64>().unwrap());
            }
        }
    }
    // Oldest archive first, the current file last: the records in order, the newest kept.
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    assert_eq!(numbers.last(), Some(&399));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_profile_change_in_the_settings_changes_the_level_without_a_restart() {
    let run = probe("profile", json!({"profile": "PRODUCTION"}), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    let text = run.text();
    assert!(!text.contains("before-change"), "{text}");
    assert!(text.contains("after-change"), "{text}");
    assert!(!text.contains("after-revert"), "{text}");
    assert!(
        text.contains("after-override"),
        "the per-service override applies: {text}"
    );
    assert!(text.contains("profile-done"), "{text}");
}

#[test]
fn a_stalled_or_down_sink_never_blocks_a_log_call_and_counts_drops() {
    let stalled = Server::start(true);
    // Ports with nobody listening: bind, note the port, close.
    let closed_tcp = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = probe(
        "spam",
        json!({
            "drop_warning_seconds": 0.5,
            "queue_size": 1000,
            "levels": {"tamarco::logging": "warn"},
            "http": {"enabled": true, "url": format!("http://{}/", stalled.addr),
                     "max_records": 100, "max_time_seconds": 0.1, "timeout_seconds": 30},
            "redis": {"enabled": true, "host": "127.0.0.1", "port": closed_tcp},
        }),
        &[
            ("LOGPROBE_COUNT", "20000".into()),
            ("LOGPROBE_WAIT_MS", "1500".into()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let timing = run
        .lines
        .iter()
        .find(|l| l.starts_with("LOGPROBE_TIMING"))
        .expect("timings");
    let value = |name: &str| -> f64 {
        timing
            .split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    // The HTTP sink is stuck for 30 s per request; a log call that waited for it would show.
    assert!(value("total_ms") < 10_000.0, "{timing}");
    assert!(value("median_us") < 200.0, "{timing}");
    assert!(value("max_us") < 250_000.0, "{timing}");
    assert!(run.stat("http", "dropped") > 10_000, "{}", run.text());
    let redis = run.stats("redis");
    assert_eq!(redis["connected"], "false");
    let lost: u64 =
        redis["dropped"].parse::<u64>().unwrap() + redis["failed"].parse::<u64>().unwrap();
    assert!(lost >= 20_000, "{redis:?}");
    let text = run.text();
    assert!(
        text.contains("logging sink `http` dropped"),
        "a periodic warning: {text}"
    );
    assert!(
        text.contains("logging sink `redis` (setting `system.logging.redis`) is unreachable"),
        "{text}"
    );
}

#[test]
fn bad_logging_settings_name_the_key_and_the_service_starts_with_the_sinks_that_work() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let run = probe(
        "emit",
        json!({
            "profile": "LOUD",
            "http": {"enabled": true},
            "file_path": "/proc/no-such-dir/app.log",
            "logstash": {"enabled": true, "port": port},
        }),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let text = run.text();
    assert!(
        text.contains("setting `system.logging.profile`: unknown profile \"LOUD\""),
        "{text}"
    );
    assert!(
        text.contains("setting `system.logging.http.url` is missing"),
        "{text}"
    );
    assert!(
        text.contains("setting `system.logging.file_path`: cannot create /proc/no-such-dir"),
        "{text}"
    );
    assert!(text.contains("started"), "{text}");
    // The sink that works still gets the records.
    check_emitted(&datagrams(&socket), "logstash");
}

/// The keys of `doc` (an object), sorted. The probe is built with `tracing-otel` but does not
/// turn tracing on: its documents carry no `trace_id`/`span_id`, as nothing is exported.
fn keys(doc: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

fn find_v0<'a>(docs: &'a [Value], message: &str) -> &'a Value {
    find_by(docs, "@message", message)
}

/// The original's `LogstashFormatterVersion0`, key by key: the top level is exactly its eight
/// keys; `@fields` holds `levelname`, `logger`, the record's extra fields, `service_name` and
/// `deploy_name`, and on an error `stack_trace`, `lineno`, `process`, `thread_name`. The only
/// keys of ours are tracing ids, which come as extra fields (`request_id` of the span).
#[test]
fn logstash_v0_documents_have_the_originals_keys() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let run = probe(
        "emit",
        json!({"logstash": {"enabled": true, "port": port, "version": 0}}),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let docs = datagrams(&socket);
    let top = sorted(&[
        "@timestamp",
        "@message",
        "@source",
        "@source_host",
        "@source_path",
        "@tags",
        "@type",
        "@fields",
    ]);
    for doc in &docs {
        assert_eq!(keys(doc), top, "{doc}");
        assert_eq!(doc["@type"], "logstash");
        let host = doc["@source_host"].as_str().unwrap();
        let path = doc["@source_path"].as_str().unwrap();
        assert_eq!(doc["@source"], format!("logstash://{host}/{path}"));
        assert_eq!(doc["@fields"]["service_name"], "logprobe");
        assert_eq!(doc["@fields"]["deploy_name"], "ci-deploy");
    }
    // The original docs' own example: tags as a map, an extra field.
    let line = find_v0(&docs, "logger line");
    assert_eq!(line["@tags"], json!({"tag": "tag_value"}));
    assert_eq!(
        keys(&line["@fields"]),
        sorted(&[
            "levelname",
            "logger",
            "extra_field",
            "service_name",
            "deploy_name"
        ])
    );
    assert_eq!(line["@fields"]["levelname"], "INFO");
    assert_eq!(line["@fields"]["extra_field"], "extra_field_value");
    assert!(
        line["@source_path"]
            .as_str()
            .unwrap()
            .ends_with("logging_probe.rs")
    );
    let ts = line["@timestamp"].as_str().unwrap();
    assert!(ts.len() == 24 && ts.ends_with('Z'), "{ts}");

    let paid = find_v0(&docs, "order paid");
    assert_eq!(paid["@tags"], json!(["api", "billing", "slow"]));
    assert_eq!(paid["@fields"]["logger"], "logprobe");
    assert_eq!(
        keys(&paid["@fields"]),
        sorted(&[
            "levelname",
            "logger",
            "service_name",
            "deploy_name",
            // the record's extra fields
            "order",
            "user",
            "ratio",
            "ok",
            // the tracing id of its span
            "request_id",
        ])
    );

    let failed = find_v0(&docs, "payment failed");
    assert_eq!(failed["@fields"]["levelname"], "ERROR");
    assert_eq!(
        failed["@fields"]["stack_trace"],
        "card declined\ninsufficient funds"
    );
    assert!(failed["@fields"]["lineno"].as_u64().unwrap() > 0);
    assert!(failed["@fields"]["process"].as_u64().unwrap() > 0);
    assert!(failed["@fields"]["thread_name"].is_string());
    assert_eq!(
        keys(&failed["@fields"]),
        sorted(&[
            "levelname",
            "logger",
            "service_name",
            "deploy_name",
            "stack_trace",
            "lineno",
            "process",
            "thread_name",
            "error",
            "order",
            "request_id",
        ])
    );
}

/// The original's `LogstashFormatterVersion1`, key by key, chosen by `system.logging.version`
/// (where the original's code read it): its nine keys, the extra fields, and on an error its
/// four debug keys; ours adds only `service_name` and `deploy_name` (and tracing ids, as extra
/// fields).
#[test]
fn logstash_v1_documents_have_the_originals_keys_plus_service_and_deploy() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let run = probe(
        "emit",
        json!({"version": 1, "logstash": {"enabled": true, "port": port}}),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let docs = datagrams(&socket);
    let original = [
        "@timestamp",
        "@version",
        "message",
        "host",
        "path",
        "tags",
        "type",
        "level",
        "logger_name",
    ];
    let ours = ["service_name", "deploy_name"];
    let with = |extra: &[&'static str]| {
        let mut all: Vec<&str> = original.iter().chain(&ours).copied().collect();
        all.extend_from_slice(extra);
        sorted(&all)
    };
    let line = find(&docs, "logger line");
    assert_eq!(keys(line), with(&["extra_field"]));
    assert_eq!(line["tags"], json!({"tag": "tag_value"}));
    let paid = find(&docs, "order paid");
    assert_eq!(
        keys(paid),
        with(&["order", "user", "ratio", "ok", "request_id"])
    );
    let failed = find(&docs, "payment failed");
    assert_eq!(
        keys(failed),
        with(&[
            "stack_trace",
            "lineno",
            "process",
            "thread_name",
            "error",
            "order",
            "request_id"
        ])
    );
    check_emitted(&docs, "logstash");
}

/// Redis (and HTTP) sinks sent v0 documents in the original, whatever `version` said.
#[test]
fn redis_documents_are_v0_by_default_as_in_the_original() {
    let db = 1 + (std::process::id() + 7) % 15;
    let mut conn =
        BufReader::new(TcpStream::connect("127.0.0.1:6379").expect("the machine's Redis"));
    redis(&mut conn, &["SELECT", &db.to_string()]);
    redis(&mut conn, &["DEL", "logstash"]);
    let run = probe(
        "emit",
        json!({"version": 1, "redis": {"enabled": true, "host": "127.0.0.1", "db": db}}),
        &[],
    );
    let items = redis(&mut conn, &["LRANGE", "logstash", "0", "-1"]);
    redis(&mut conn, &["DEL", "logstash"]);
    assert_eq!(run.code, 0, "{}", run.text());
    let docs: Vec<Value> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| serde_json::from_str(item.as_str().unwrap()).unwrap())
        .collect();
    let line = find_v0(&docs, "logger line");
    assert_eq!(line["@type"], "record");
    assert_eq!(line["@fields"]["extra_field"], "extra_field_value");
    assert!(docs.iter().all(|d| d.get("@version").is_none()));
}

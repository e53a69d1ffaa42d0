//! Each sink against a real endpoint: UDP, stdout, the machine's Redis, HTTP, a file that
//! rotates, and endpoints that stall, go away and come back.

use super::server::{Server, base64};
use super::*;

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

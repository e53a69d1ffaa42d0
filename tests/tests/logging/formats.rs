//! The Logstash documents, key by key against the Python original's formatters (v0, v1).

use super::*;

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

//! The Python original's two YAML settings examples, unchanged, in services with the same
//! resources: its docs' `TAMARCO_YML_FILE` example and its "Settings structure" example. Each
//! value must reach the resource that reads it, and the only key notes left must be the ones the
//! migration guide (`tamarco/src/docs/migration.md`) lists as deliberate. The metrics'
//! `collect_frequency` is seen at work (batches of the file handler 15 s apart), and a misspelt
//! profiler key is noted like any other.
//!
//! The examples name brokers that are not on this machine (and tests use loopback only), so
//! the AMQP and Kafka resources here read their settings and connect nowhere.

use std::collections::BTreeSet;

use tamarco::TaskSet;
use tamarco::amqp::Amqp;
use tamarco::kafka::Kafka;
use tamarco::prelude::*;
use tamarco::serde_json::{Map, Value};
use tamarco::settings::{KeyNote, KeyNoteKind};
use tamarco::testing::TestService;

/// The original docs' `TAMARCO_YML_FILE` example, as printed there.
const YML_FILE_EXAMPLE: &str = r#"
system:
  deploy_name: test_tamarco
  logging:
    profile: DEVELOP
    file: false
    stdout: true
    redis:
      enabled: false
      host: "127.0.0.1"
      port: 7006
      password: ''
      ssl: false
  microservices:
    test:
      logging:
        profile: DEVELOP
        file: false
        stdout: true
  resources:
    metrics:
      collect_frequency: 15
    status:
      host: 127.0.0.1
      port: 5747
      debug: False
    amqp:
      host: 127.0.0.1
      port: 5672
      vhost: /
      user: microservice
      password: 1234
      connection_timeout: 10
      queues_prefix: "prefix"
"#;

/// The original docs' "Settings structure" example, as printed there.
const STRUCTURE_EXAMPLE: &str = r#"
etcd_ready: true
system:
   deploy_name: tamarco_tutorial
   logging:
       profile: PRODUCTION
       file: false
       stdout: true
   resources:
       amqp:
           host: 172.31.0.102
           port: 5672
           vhost: /
           user: guest
           password: guest
           connection_timeout: 10
           queues_prefix: ""
       kafka:
           bootstrap_servers: 172.31.0.1:9092,172.31.0.2:9092
   microservices:
       http_server:
           application_cache_seconds: 10
"#;

/// Reads its settings as the wrapped resource does, and starts nothing.
#[derive(Default)]
struct Configured<R>(R);

impl<R: Resource> Resource for Configured<R> {
    fn bind(&self, cx: &ResourceContext) {
        self.0.bind(cx);
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.0.configure(cx).await
    }

    fn status_fields(&self) -> Map<String, Value> {
        self.0.status_fields()
    }
}

#[microservice(name = "test")]
#[derive(Default)]
struct YmlFileService {
    #[resource]
    amqp: Configured<Amqp>,
}

#[microservice]
impl YmlFileService {}

#[microservice(name = "http_server")]
#[derive(Default)]
struct StructureService {
    #[resource]
    amqp: Configured<Amqp>,
    #[resource]
    kafka: Configured<Kafka>,
}

#[microservice]
impl StructureService {}

/// The notes as (key, kind) pairs, sorted.
fn notes(notes: Vec<KeyNote>) -> BTreeSet<(String, KeyNoteKind)> {
    notes.into_iter().map(|n| (n.key, n.kind)).collect()
}

fn renamed(key: &str, instead: &str) -> (String, KeyNoteKind) {
    let kind = KeyNoteKind::Renamed {
        instead: instead.to_owned(),
    };
    (key.to_owned(), kind)
}

fn no_effect(key: &str) -> (String, KeyNoteKind) {
    (key.to_owned(), KeyNoteKind::NoEffect)
}

/// host, port, vhost, user, password, connection_timeout, queues_prefix as read by `amqp`.
type AmqpValues<'a> = (&'a str, u16, &'a str, &'a str, &'a str, f64, &'a str);

fn assert_amqp(amqp: &Amqp, expected: AmqpValues<'_>) {
    let s = amqp.settings().expect("configured");
    let got = (
        s.host.as_str(),
        s.port,
        s.vhost.as_str(),
        s.user.as_str(),
        s.password.expose().as_str(),
        s.connection_timeout.as_secs_f64(),
        s.queues_prefix.as_str(),
    );
    assert_eq!(got, expected);
}

async fn info(service: &TestService<impl TaskSet>) -> Value {
    let response = service.report().unwrap().get("/info").await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text());
    response.json().unwrap()
}

/// The distinct timestamps (Unix seconds) of the metrics file's batches, once there are
/// `count` (waits at most 60 s).
async fn metric_batches(path: &std::path::Path, count: usize) -> Vec<u64> {
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let stamps: BTreeSet<u64> = text
            .lines()
            .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
            .collect();
        if stamps.len() >= count {
            return stamps.into_iter().collect();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{} batches in {}: {stamps:?}",
            stamps.len(),
            path.display()
        );
        tamarco::tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Both examples in one test: logging levels are process-wide, so the services run one after
/// the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_yaml_examples_of_the_original_reach_every_resource() {
    // The `TAMARCO_YML_FILE` example, in the service it names (`test`), with the metrics'
    // file handler on, to see its `collect_frequency` at work.
    let metrics_file = std::env::temp_dir().join(format!(
        "tamarco-original-metrics-{}.txt",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&metrics_file);
    let file_handler = tamarco::serde_json::json!({"enabled": true, "path": metrics_file});
    let service = TestService::builder(YmlFileService::default())
        .settings_yaml(YML_FILE_EXAMPLE)
        .setting("system.resources.metrics.handlers.file", file_handler)
        .start()
        .await
        .unwrap();
    // The password is a number in the YAML: read as the text "1234".
    assert_amqp(
        &service.service().amqp.0,
        (
            "127.0.0.1",
            5672,
            "/",
            "microservice",
            "1234",
            10.0,
            "prefix",
        ),
    );
    assert_eq!(info(&service).await["deploy_name"], "test_tamarco");
    // DEVELOP, for this service through `microservices.test`: its own target logs debug.
    let levels = tamarco::logging::levels();
    let own = levels.iter().find(|l| l.target == "test");
    assert_eq!(own.map(|l| l.level.as_str()), Some("debug"), "{levels:?}");
    let settings = service.handle().settings().clone();
    assert_eq!(
        settings
            .get::<u64>("system.resources.metrics.collect_frequency")
            .unwrap(),
        15
    );
    assert_eq!(
        notes(settings.key_notes()),
        BTreeSet::from([
            no_effect("system.logging.file"),
            renamed(
                "system.resources.status.host",
                "system.resources.tamarco_http_report_server.host"
            ),
            renamed(
                "system.resources.status.port",
                "system.resources.tamarco_http_report_server.port"
            ),
            no_effect("system.resources.status.debug"),
        ]),
        "only the notes the migration guide lists: {:#?}",
        settings.key_notes()
    );
    // `collect_frequency: 15` reached the metrics resource: its batches are 15 s apart.
    let batches = metric_batches(&metrics_file, 2).await;
    assert!(
        (14..=16).contains(&(batches[1] - batches[0])),
        "batches at {batches:?}, 15 s apart expected"
    );
    service.stop().await.unwrap();
    let _ = std::fs::remove_file(&metrics_file);

    // The "Settings structure" example, in a service named `http_server`, whose override
    // carries `application_cache_seconds`.
    // With a misspelt profiler key added: the profiler's keys are under the key policy too.
    let profiler = tamarco::serde_json::json!({"interval_secnds": 5});
    let service = TestService::builder(StructureService::default())
        .settings_yaml(STRUCTURE_EXAMPLE)
        .setting("system.resources.profiler", profiler)
        .start()
        .await
        .unwrap();
    assert_amqp(
        &service.service().amqp.0,
        ("172.31.0.102", 5672, "/", "guest", "guest", 10.0, ""),
    );
    let kafka = service.service().kafka.status_fields();
    assert_eq!(
        kafka["bootstrap_servers"],
        tamarco::serde_json::json!(["172.31.0.1:9092", "172.31.0.2:9092"])
    );
    assert_eq!(info(&service).await["deploy_name"], "tamarco_tutorial");
    let levels = tamarco::logging::levels();
    let own = levels.iter().find(|l| l.target == "http_server");
    assert_eq!(own.map(|l| l.level.as_str()), Some("info"), "{levels:?}");
    let settings = service.handle().settings().clone();
    assert_eq!(
        settings
            .get::<u64>("system.application_cache_seconds")
            .unwrap(),
        10,
        "the per-service override reaches the service's own settings"
    );
    assert_eq!(
        notes(settings.key_notes()),
        BTreeSet::from([
            no_effect("system.logging.file"),
            (
                "system.resources.profiler.interval_secnds".to_owned(),
                KeyNoteKind::Unknown {
                    closest: Some("interval_seconds".to_owned())
                }
            ),
        ]),
        "{:#?}",
        settings.key_notes()
    );
    service.stop().await.unwrap();
}

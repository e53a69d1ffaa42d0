//! Settings as resources see them: the per-service override, typed errors that name the key,
//! and `/status` codes.

use std::sync::Mutex;
use std::time::Duration;

use tamarco::prelude::*;
use tamarco::serde::Deserialize;
use tamarco::serde_json::json;
use tamarco_tests::http_get;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(crate = "tamarco::serde")]
struct PoolSettings {
    host: String,
    port: u16,
}

#[derive(Default)]
struct Pool {
    seen: Mutex<Option<PoolSettings>>,
}

impl Resource for Pool {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        *self.seen.lock().unwrap() = Some(cx.settings().load()?);
        Ok(())
    }
}

#[microservice(name = "dog")]
#[derive(Default)]
struct Dog {
    #[resource]
    pool: Pool,
}

#[microservice]
impl Dog {}

fn settings(port: tamarco::serde_json::Value) -> tamarco::serde_json::Value {
    json!({"system": {
        "resources": {
            "tamarco_http_report_server": {"enabled": false},
            "pool": {"host": "10.0.0.1", "port": port}
        },
        "microservices": {
            "dog": {"resources": {"pool": {"host": "127.0.0.1"}}},
            "cat": {"resources": {"pool": {"host": "cat-only"}}}
        }
    }})
}

#[tokio::test]
async fn a_resource_reads_its_subtree_with_the_per_service_override() {
    let runtime = Dog::default()
        .runtime()
        .with_settings(settings(json!(5432)))
        .unwrap()
        .handle_signals(false);
    let running = runtime.start().await.unwrap();
    let seen = running.service().pool.seen.lock().unwrap().take();
    assert_eq!(
        seen,
        Some(PoolSettings {
            host: "127.0.0.1".into(),
            port: 5432
        })
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_type_stops_the_start_and_names_the_key() {
    let runtime = Dog::default()
        .runtime()
        .with_settings(settings(json!("five")))
        .unwrap()
        .handle_signals(false);
    let error = runtime
        .start()
        .await
        .expect_err("a bad setting stops the start");
    let text = tamarco::error_chain(&error);
    assert!(
        text.starts_with("resource `pool` failed in configure"),
        "{text}"
    );
    assert!(
        text.contains("setting `system.resources.pool.port`"),
        "{text}"
    );
    assert!(text.contains("expected u16"), "{text}");
}

/// A resource that marks itself FAILED once started, like one that lost its connection.
struct Flaky;

impl Resource for Flaky {
    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        cx.status().set(ResourceStatus::Failed);
        Ok(())
    }

    fn status_fields(&self) -> tamarco::serde_json::Map<String, tamarco::serde_json::Value> {
        let mut fields = tamarco::serde_json::Map::new();
        fields.insert("queue".into(), json!("orders"));
        fields.insert("password".into(), json!("hunter2"));
        fields
    }
}

#[microservice]
struct Degraded {
    #[resource]
    flaky: Flaky,
}

#[microservice]
impl Degraded {}

#[tokio::test]
async fn status_is_500_when_a_resource_failed_and_never_shows_secrets() {
    let runtime = Degraded { flaky: Flaky }
        .runtime()
        .with_settings(
            json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}}),
        )
        .unwrap()
        .handle_signals(false);
    let running = runtime.start().await.unwrap();
    let addr = running.report_addr().expect("the report server listens");
    let (code, body) = tokio::task::spawn_blocking(move || http_get(addr, "/status"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 500, "{body}");
    let status: tamarco::serde_json::Value = tamarco::serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["flaky"],
        json!({"status": 5, "status_str": "FAILED", "queue": "orders"})
    );
    assert!(!body.contains("hunter2"));
    tokio::time::timeout(Duration::from_secs(5), running.stop())
        .await
        .unwrap()
        .unwrap();
}

/// A service whose in-code settings come from a YAML file embedded at compile time.
#[microservice(name = "kennel", settings = "embedded_settings.yml")]
#[derive(Default)]
struct Kennel {
    #[resource]
    pool: Pool,
    cx: ServiceContext,
}

#[microservice]
impl Kennel {}

#[tokio::test]
async fn settings_embedded_on_the_struct_reach_resources_and_the_service_and_yield_to_later_layers()
{
    let running = Kennel::default()
        .runtime()
        .with_settings(json!({"system": {"resources": {"pool": {"port": 7000}}}}))
        .unwrap()
        .handle_signals(false)
        .start()
        .await
        .unwrap();
    // The resource sees the file's host and the port that with_settings set over it.
    let seen = running.service().pool.seen.lock().unwrap().take();
    assert_eq!(
        seen,
        Some(PoolSettings {
            host: "embedded-host".into(),
            port: 7000
        })
    );
    // The service's own business settings come from the file too.
    let business = running.service().cx.settings();
    assert_eq!(business.get::<String>("greeting").unwrap(), "woof");
    assert_eq!(business.get::<u32>("batch_size").unwrap(), 25);
    running.stop().await.unwrap();
}

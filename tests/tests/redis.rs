//! The Redis resource against the machine's Redis (127.0.0.1:6379). Each test uses keys under
//! its own prefix and deletes them. Resources run in a `MicroserviceContext`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tamarco::redis::{Error, Redis, redis};
use tamarco::serde_json::{Value, json};
use tamarco::tokio::net::TcpListener;
use tamarco::tokio::time::{Instant, timeout};
use tamarco::{MicroserviceContext, Resource, error_chain, tokio};
use tamarco_tests::amqp::TcpProxy;

fn context(settings: Value) -> (MicroserviceContext, Arc<Redis>) {
    let mut cx = MicroserviceContext::new("redis_test");
    cx.settings()
        .set_internal("system.resources.cache", settings)
        .expect("valid settings");
    let redis = cx.add("cache", Redis::new());
    (cx, redis)
}

async fn started(settings: Value) -> (MicroserviceContext, Arc<Redis>) {
    let (mut cx, redis) = context(settings);
    timeout(Duration::from_secs(20), cx.start())
        .await
        .expect("starts in time")
        .expect("starts");
    (cx, redis)
}

fn prefix(test: &str) -> String {
    format!("tamarco-test:{test}:{}:", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_commands_hashes_and_pipelines() {
    let (mut cx, redis) = started(json!({})).await;
    let p = prefix("typed");
    let key = |k: &str| format!("{p}{k}");

    redis.set(key("name"), "John Doe").await.unwrap();
    assert_eq!(redis.get::<String>(key("name")).await.unwrap(), "John Doe");
    assert_eq!(
        redis.get::<Option<String>>(key("missing")).await.unwrap(),
        None
    );
    redis.set(key("n"), 41).await.unwrap();
    assert_eq!(redis.incr(key("n"), 1).await.unwrap(), 42);
    assert_eq!(redis.get::<i64>(key("n")).await.unwrap(), 42);

    redis
        .set_ex(key("session"), "x", Duration::from_secs(30))
        .await
        .unwrap();
    let ttl: i64 = redis
        .query(redis::cmd("PTTL").arg(key("session")))
        .await
        .unwrap();
    assert!((1..=30_000).contains(&ttl), "{ttl}");
    assert!(
        redis
            .expire(key("name"), Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !redis
            .expire(key("missing"), Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(redis.exists(key("name")).await.unwrap());

    assert!(
        redis
            .hset(key("user"), "email", "j@d.example")
            .await
            .unwrap()
    );
    assert!(
        !redis
            .hset(key("user"), "email", "john@d.example")
            .await
            .unwrap()
    );
    redis.hset(key("user"), "age", 40).await.unwrap();
    assert_eq!(redis.hget::<u32>(key("user"), "age").await.unwrap(), 40);
    let all: HashMap<String, String> = redis.hgetall(key("user")).await.unwrap();
    assert_eq!(all["email"], "john@d.example");
    assert_eq!(redis.hdel(key("user"), "age").await.unwrap(), 1);

    let (a, b): (String, i64) = redis
        .pipeline(
            redis::pipe()
                .atomic()
                .set(key("a"), "one")
                .ignore()
                .get(key("a"))
                .incr(key("b"), 5),
        )
        .await
        .unwrap();
    assert_eq!((a.as_str(), b), ("one", 5));

    // A wrong type names the resource and the command.
    let wrong = redis.incr(key("name"), 1).await.unwrap_err();
    let message = error_chain(&wrong);
    assert!(
        message.contains("`cache`") && message.contains("INCRBY"),
        "{message}"
    );
    let fields = redis.status_fields();
    assert_eq!(fields["errors"], json!(1), "{fields:?}");

    let keys: Vec<String> = ["name", "n", "session", "user", "a", "b"]
        .iter()
        .map(|k| key(k))
        .collect();
    assert_eq!(redis.del(&keys).await.unwrap(), 6);
    cx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_connection_idempotent_commands_are_sent_again_and_incr_is_not() {
    let proxy = TcpProxy::start("127.0.0.1:6379").await;
    let (mut cx, redis) = started(json!({"port": proxy.port()})).await;
    let p = prefix("reconnect");
    let key = format!("{p}k");
    let counter = format!("{p}counter");
    redis.set(&key, "before").await.unwrap();
    redis.set(&counter, 0).await.unwrap();

    assert!(proxy.cut() >= 1);
    // The first command after the cut does not fail for its caller.
    assert_eq!(redis.get::<String>(&key).await.unwrap(), "before");
    assert!(redis.status_fields()["retries"].as_u64() >= Some(1));

    assert!(proxy.cut() >= 1);
    // INCR is not idempotent: it fails rather than risk counting twice.
    let lost = redis.incr(&counter, 1).await;
    let after = redis.get::<i64>(&counter).await.unwrap();
    match lost {
        Err(Error::Command { command, .. }) => {
            assert_eq!(command, "INCRBY");
            assert!(after <= 1, "counted twice: {after}");
        }
        Ok(n) => assert_eq!((n, after), (1, 1), "sent once"),
        Err(other) => panic!("{other:?}"),
    }
    redis.del(&[key, counter]).await.unwrap();
    cx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_the_start_in_time_naming_resource_host_and_port() {
    let (mut cx, redis) = context(json!({"port": 1, "password": 12345678}));
    let error = error_chain(&cx.start().await.unwrap_err());
    assert!(
        error.contains("`cache`") && error.contains("127.0.0.1:1"),
        "{error}"
    );
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let (mut cx, _) =
        context(json!({"port": port, "connection_timeout": "500ms", "password": "12345678"}));
    let began = Instant::now();
    let slow = error_chain(&cx.start().await.unwrap_err());
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "took {:?}",
        began.elapsed()
    );
    assert!(slow.contains(&format!("127.0.0.1:{port}")), "{slow}");
    for shown in [
        error,
        slow,
        format!("{redis:?}"),
        Value::Object(redis.status_fields()).to_string(),
    ] {
        assert!(!shown.contains("12345678"), "the password leaked: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_commands_in_flight_then_refuses_new_ones() {
    let (mut cx, redis) = started(json!({})).await;
    let list = format!("{}list", prefix("stop"));
    let waiting = {
        let redis = redis.clone();
        let list = list.clone();
        tokio::spawn(async move {
            redis
                .query::<Option<(String, String)>>(redis::cmd("BLPOP").arg(&list).arg(0.3))
                .await
        })
    };
    timeout(Duration::from_secs(5), async {
        while redis.status_fields()["in_flight"] != json!(1) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the command is in flight");
    let began = Instant::now();
    cx.stop().await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_millis(150),
        "stop did not wait"
    );
    assert_eq!(
        waiting.await.unwrap().unwrap(),
        None,
        "the command in flight finished"
    );
    assert!(matches!(
        redis.get::<Option<String>>(&list).await,
        Err(Error::NotStarted { .. })
    ));
}

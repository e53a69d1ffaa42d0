//! The Redis resource against the machine's Redis (127.0.0.1:6379). Each test uses keys under
//! its own prefix and deletes them. Resources run in a `MicroserviceContext`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tamarco::codec::Json;
use tamarco::messaging::Message;
use tamarco::redis::{Error, PubSubMeta, Redis, redis};
use tamarco::serde_json::{Value, json};
use tamarco::tokio::sync::mpsc;
use tamarco::tokio::time::{Instant, timeout};
use tamarco::{BoxError, MicroserviceContext, Resource, error_chain, tokio};
use tamarco_tests::proxy::TcpProxy;
use tamarco_tests::unreachable::start_fails_when_unreachable;

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
    start_fails_when_unreachable("cache", json!({}), context).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_input_gets_published_messages_and_dead_letters_what_fails() {
    let channel = format!("{}events", prefix("pubsub"));
    let dead_letters = format!("{channel}.dead_letter");
    let (sender, mut received) = mpsc::unbounded_channel();
    let (mut cx, redis) = context(json!({"inputs": {channel.as_str(): {"retry_backoff_ms": 10}}}));
    redis
        .subscription(&channel, Json, move |message: Message<u32, PubSubMeta>| {
            let sender = sender.clone();
            async move {
                if *message.value() == 3 {
                    return Err::<(), BoxError>("three is refused".into());
                }
                sender.send((message.meta().channel().to_owned(), message.into_value()))?;
                Ok(())
            }
        })
        .unwrap();
    timeout(Duration::from_secs(20), cx.start())
        .await
        .unwrap()
        .unwrap();
    for n in 1..=4_u32 {
        assert_eq!(
            redis.publish(&channel, n.to_string()).await.unwrap(),
            1,
            "one subscriber"
        );
    }
    redis.publish(&channel, "not json").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let item = timeout(Duration::from_secs(5), received.recv())
            .await
            .unwrap()
            .unwrap();
        got.push(item);
    }
    got.sort();
    assert_eq!(
        got,
        [
            (channel.clone(), 1),
            (channel.clone(), 2),
            (channel.clone(), 4)
        ]
    );
    let began = Instant::now();
    let letters: Vec<String> = loop {
        let letters: Vec<String> = redis
            .query(redis::cmd("LRANGE").arg(&dead_letters).arg(0).arg(-1))
            .await
            .unwrap();
        if letters.len() >= 2 || began.elapsed() > Duration::from_secs(5) {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reasons: Vec<Value> = letters
        .iter()
        .map(|l| tamarco::serde_json::from_str::<Value>(l).unwrap()["reason"].clone())
        .collect();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(
        reasons.contains(&json!("handler")) && reasons.contains(&json!("decode")),
        "{letters:?}"
    );
    assert!(
        redis.status_fields()["inputs"]
            .to_string()
            .contains(&channel)
    );
    redis.del(&dead_letters).await.unwrap();
    cx.stop().await.unwrap();
}

//! Redis Streams consumer groups and Redis outputs on the message engine, against the machine's
//! Redis (127.0.0.1:6379). Each test uses streams and channels under its own prefix and deletes
//! them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tamarco::codec::Json;
use tamarco::messaging::{InputSpec, Message};
use tamarco::prelude::*;
use tamarco::redis::{PublishOutput, Redis, StreamMeta, StreamOutput, redis};
use tamarco::serde_json::{Value, json};
use tamarco::testing::TestService;
use tamarco::tokio::sync::mpsc;
use tamarco::tokio::time::{Instant, timeout};
use tamarco::{MicroserviceContext, Resource, tokio};

const WAIT: Duration = Duration::from_secs(20);

fn prefix(test: &str) -> String {
    format!("tamarco-test:{test}:{}:", std::process::id())
}

fn context(settings: Value) -> (MicroserviceContext, Arc<Redis>) {
    let mut cx = MicroserviceContext::new("redis_streams_test");
    cx.settings()
        .set_internal("system.resources.cache", settings)
        .expect("valid settings");
    let redis = cx.add("cache", Redis::new());
    (cx, redis)
}

async fn start(cx: &mut MicroserviceContext) {
    timeout(WAIT, cx.start())
        .await
        .expect("starts in time")
        .expect("starts");
}

/// A plain connection to the server, for what the test checks behind the resource's back.
async fn plain() -> redis::aio::MultiplexedConnection {
    redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// How many entries of `stream` the group holds read but not acked.
async fn pending(stream: &str, group: &str) -> u64 {
    let (count, ..): (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(&mut plain().await)
        .await
        .unwrap();
    count
}

/// The entries of a dead-letter stream, as field maps.
async fn dead_letters(stream: &str) -> Vec<std::collections::HashMap<String, String>> {
    let entries: Vec<(String, std::collections::HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(&mut plain().await)
        .await
        .unwrap();
    entries.into_iter().map(|(_, fields)| fields).collect()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Adds an entry with one field to `stream`; returns its id.
async fn add(stream: &str, field: &str, value: impl redis::ToRedisArgs) -> String {
    redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg(field)
        .arg(value)
        .query_async(&mut plain().await)
        .await
        .unwrap()
}

async fn delete(keys: &[&str]) {
    redis::cmd("DEL")
        .arg(keys)
        .query_async::<()>(&mut plain().await)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_input_acks_what_its_handler_handled_and_dead_letters_what_fails() {
    let stream = format!("{}orders", prefix("stream"));
    let dead = format!("{stream}.dead_letter");
    let (sender, mut received) = mpsc::unbounded_channel();
    let (mut cx, redis) = context(json!({
        "inputs": {stream.as_str(): {"retry_backoff_ms": 10, "retries": 2}},
        "streams": {"group": "shop"},
    }));
    // Entries added before the group exists are read too.
    let output = redis.stream_output::<u32>(&stream, Json);
    redis
        .stream_input(
            InputSpec::new(&stream),
            Json,
            move |message: Message<u32, StreamMeta>| {
                let sender = sender.clone();
                async move {
                    if *message.value() == 3 {
                        return Err::<(), BoxError>("three is refused".into());
                    }
                    let meta = message.meta();
                    sender.send((
                        message.value().to_owned(),
                        meta.stream().to_owned(),
                        meta.id().to_owned(),
                        meta.deliveries(),
                    ))?;
                    Ok(())
                }
            },
        )
        .unwrap();
    let first = add(&stream, "body", "1").await;
    start(&mut cx).await;
    for n in 2..=4_u32 {
        output.push(&n).await.unwrap();
    }
    // Not JSON, and an entry without the body field.
    add(&stream, "body", "not json").await;
    add(&stream, "other", "1").await;

    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(timeout(WAIT, received.recv()).await.unwrap().unwrap());
    }
    let values: Vec<u32> = got.iter().map(|g| g.0).collect();
    assert_eq!(values, [1, 2, 4], "in order, with one worker");
    assert_eq!(got[0].1, stream);
    assert_eq!(got[0].2, first);
    assert_eq!(got[0].3, Some(1));

    wait_until("three dead letters", async || {
        dead_letters(&dead).await.len() >= 3
    })
    .await;
    let letters = dead_letters(&dead).await;
    assert_eq!(letters.len(), 3, "{letters:?}");
    let three = &letters[0];
    assert_eq!(three["reason"], "handler", "{three:?}");
    assert_eq!(three["body"], "3");
    assert_eq!(three["attempts"], "3", "the first try and two retries");
    assert!(three["error"].contains("three is refused"), "{three:?}");
    assert_eq!(three["stream"], stream);
    assert_eq!(letters[1]["reason"], "decode", "{letters:?}");
    assert_eq!(letters[2]["reason"], "headers", "{letters:?}");
    assert!(
        letters[2]["error"].contains("no `body` field"),
        "{letters:?}"
    );
    // Everything was settled: nothing is left pending in the group.
    wait_until("all acked", async || pending(&stream, "shop").await == 0).await;
    let status = redis.status_fields()["inputs"].to_string();
    assert!(
        status.contains(&stream) && status.contains("\"kind\":\"stream\""),
        "{status}"
    );
    cx.stop().await.unwrap();
    delete(&[&stream, &dead]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_a_consumer_killed_mid_stream_are_finished_by_another_in_the_group() {
    let stream = format!("{}jobs", prefix("claim"));
    let settings = |consumer: &str| {
        json!({
            "streams": {"group": "workers", "consumer": consumer, "claim_idle": "300ms"},
            "stop_timeout": "200ms",
        })
    };
    for n in 1..=20_u32 {
        add(&stream, "body", n).await;
    }

    // Consumer `a` reads the whole batch, handles four entries and hangs on the fifth.
    let handled_by_a = Arc::new(Mutex::new(Vec::new()));
    let (mut a, redis_a) = context(settings("a"));
    let seen = Arc::clone(&handled_by_a);
    redis_a
        .stream_input(
            InputSpec::new(&stream),
            Json,
            move |message: Message<u32, StreamMeta>| {
                let seen = Arc::clone(&seen);
                async move {
                    let n = *message.value();
                    if n >= 5 {
                        std::future::pending::<()>().await;
                    }
                    seen.lock().unwrap().push(n);
                    Ok::<_, BoxError>(())
                }
            },
        )
        .unwrap();
    start(&mut a).await;
    wait_until("a handled four entries", async || {
        handled_by_a.lock().unwrap().len() == 4
    })
    .await;
    // Killed mid-handler: its handler is abandoned, its 16 entries stay pending in its name.
    a.stop().await.unwrap();
    assert_eq!(pending(&stream, "workers").await, 16);

    let (sender, mut received) = mpsc::unbounded_channel();
    let (mut b, redis_b) = context(settings("b"));
    redis_b
        .stream_input(
            InputSpec::new(&stream),
            Json,
            move |message: Message<u32, StreamMeta>| {
                let sender = sender.clone();
                async move {
                    sender.send((*message.value(), message.meta().deliveries()))?;
                    Ok::<_, BoxError>(())
                }
            },
        )
        .unwrap();
    start(&mut b).await;
    let mut by_b = Vec::new();
    while by_b.len() < 16 {
        by_b.push(timeout(WAIT, received.recv()).await.unwrap().unwrap());
    }
    let mut all: BTreeSet<u32> = handled_by_a.lock().unwrap().iter().copied().collect();
    all.extend(by_b.iter().map(|(n, _)| *n));
    assert_eq!(all, (1..=20).collect(), "nothing lost");
    assert!(
        by_b.iter()
            .all(|(n, deliveries)| *n >= 5 && *deliveries == Some(2)),
        "b finished a's entries, each on its second delivery: {by_b:?}"
    );
    wait_until("all acked", async || pending(&stream, "workers").await == 0).await;
    b.stop().await.unwrap();
    delete(&[&stream]).await;
}

/// Starts a service reading `stream` in `group` from `from` (`streams.start`); its handler
/// sends each value it handled.
async fn reader(
    stream: &str,
    group: &str,
    from: &str,
) -> (MicroserviceContext, mpsc::UnboundedReceiver<u32>) {
    let (sender, received) = mpsc::unbounded_channel();
    let (mut cx, redis) = context(json!({"streams": {"group": group, "start": from}}));
    redis
        .stream_input(
            InputSpec::new(stream),
            Json,
            move |message: Message<u32, StreamMeta>| {
                let sender = sender.clone();
                async move {
                    sender.send(*message.value())?;
                    Ok::<_, BoxError>(())
                }
            },
        )
        .unwrap();
    start(&mut cx).await;
    (cx, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_group_starts_where_streams_start_says_and_an_existing_group_goes_on() {
    let stream = format!("{}events", prefix("start"));
    add(&stream, "body", 1_u32).await;

    // `new`: the entry added before the group existed is not handled, the next one is.
    let (mut late, mut received) = reader(&stream, "late", "new").await;
    add(&stream, "body", 2_u32).await;
    let first = timeout(WAIT, received.recv()).await.unwrap().unwrap();
    assert_eq!(
        first, 2,
        "a `new` group skips what the stream held before it"
    );
    late.stop().await.unwrap();

    // `first` (the default): the same stream from its first entry.
    let (mut early, mut received) = reader(&stream, "early", "first").await;
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(timeout(WAIT, received.recv()).await.unwrap().unwrap());
    }
    assert_eq!(
        got,
        [1, 2],
        "a `first` group reads what was added before it"
    );
    early.stop().await.unwrap();

    // The group exists now: `first` no longer moves it back, it goes on after entry 2.
    add(&stream, "body", 3_u32).await;
    let (mut again, mut received) = reader(&stream, "early", "first").await;
    let next = timeout(WAIT, received.recv()).await.unwrap().unwrap();
    assert_eq!(next, 3, "an existing group goes on after what it delivered");
    again.stop().await.unwrap();
    assert_eq!(pending(&stream, "early").await, 0);
    delete(&[&stream]).await;
}

const MACRO_IN: &str = "tamarco-test:macro-streams:orders";
const MACRO_OUT: &str = "tamarco-test:macro-streams:doubled";
const MACRO_CHANNEL: &str = "tamarco-test:macro-streams:announced";

/// Reads orders from a stream; adds each doubled to another stream and announces it.
#[microservice(name = "doubler")]
#[derive(Default)]
struct Doubler {
    #[resource]
    redis: Redis,
    #[output(redis, stream = "tamarco-test:macro-streams:doubled")]
    doubled: StreamOutput<u32>,
    #[output(redis, publish = "tamarco-test:macro-streams:announced")]
    announced: PublishOutput<u32>,
}

#[microservice]
impl Doubler {
    #[input(redis, stream = "tamarco-test:macro-streams:orders", retries = 0)]
    async fn double(&self, order: Message<u32, StreamMeta>) -> Result<(), BoxError> {
        let doubled = order.value() * 2;
        self.doubled.push(&doubled).await?;
        self.announced.publish(&doubled).await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_stream_inputs_and_stream_and_publish_outputs() {
    delete(&[MACRO_IN, MACRO_OUT, &format!("{MACRO_IN}.dead_letter")]).await;
    let mut subscriber = redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    subscriber.subscribe(MACRO_CHANNEL).await.unwrap();
    let service = TestService::builder(Doubler::default())
        .without_report_server()
        .start()
        .await
        .expect("the service starts");
    for n in [1_u32, 2, 3] {
        add(MACRO_IN, "body", n).await;
    }
    let mut announced = Vec::new();
    {
        let mut messages = subscriber.on_message();
        while announced.len() < 3 {
            let message = timeout(WAIT, messages.next())
                .await
                .expect("announced in time")
                .expect("subscribed");
            announced.push(message.get_payload::<u32>().unwrap());
        }
    }
    assert_eq!(announced, [2, 4, 6]);
    let doubled: Vec<(String, std::collections::HashMap<String, u32>)> = redis::cmd("XRANGE")
        .arg(MACRO_OUT)
        .arg("-")
        .arg("+")
        .query_async(&mut plain().await)
        .await
        .unwrap();
    let values: Vec<u32> = doubled.iter().map(|(_, fields)| fields["body"]).collect();
    assert_eq!(values, [2, 4, 6]);
    wait_until("all acked", async || {
        pending(MACRO_IN, "doubler").await == 0
    })
    .await;
    service.stop().await.unwrap();
    delete(&[MACRO_IN, MACRO_OUT]).await;
}

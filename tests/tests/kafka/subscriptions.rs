//! `#[input]`s that name their consumer group, offset reset and topics: inputs in different
//! groups each get every record, a new group with `offset_reset = "latest"` skips what was
//! there before it joined, one handler reads two topics, and settings override the attribute
//! under the input's own key.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::resources::kafka::{Kafka, Message};
use tamarco::serde_json::{Value, json};
use tamarco::testing::TestService;
use tamarco_tests::kafka::Broker;

use super::WAIT;

/// Orders, read three ways, and money-back events from two topics into one handler.
#[microservice(name = "subscriber")]
#[derive(Default)]
struct Subscriber {
    #[resource]
    kafka: Kafka,
    billing: Mutex<Vec<u64>>,
    audit: Mutex<Vec<u64>>,
    live: Mutex<Vec<u64>>,
    money_back: Mutex<Vec<(String, u64)>>,
}

#[microservice]
impl Subscriber {
    #[input(kafka, topic = "orders", group = "billing")]
    async fn on_billing(&self, order: Message<u64>) -> Result<(), BoxError> {
        self.billing.lock().unwrap().push(*order.value());
        Ok(())
    }

    #[input(kafka, topics = ["orders"], name = "audit", group = "audit")]
    async fn on_audit(&self, order: Message<u64>) -> Result<(), BoxError> {
        self.audit.lock().unwrap().push(*order.value());
        Ok(())
    }

    #[input(kafka, topics = ["orders"], name = "live", group = "live", offset_reset = "latest")]
    async fn on_live(&self, order: Message<u64>) -> Result<(), BoxError> {
        self.live.lock().unwrap().push(*order.value());
        Ok(())
    }

    #[input(kafka, topics = ["refunds", "chargebacks"], name = "money_back")]
    async fn on_money_back(&self, event: Message<u64>) -> Result<(), BoxError> {
        let seen = (event.topic().to_owned(), *event.value());
        self.money_back.lock().unwrap().push(seen);
        Ok(())
    }
}

impl Subscriber {
    fn billing(&self) -> Vec<u64> {
        self.billing.lock().unwrap().clone()
    }

    fn audit(&self) -> Vec<u64> {
        self.audit.lock().unwrap().clone()
    }

    fn live(&self) -> Vec<u64> {
        self.live.lock().unwrap().clone()
    }

    fn money_back(&self) -> Vec<(String, u64)> {
        self.money_back.lock().unwrap().clone()
    }
}

/// The broker with this file's topics, one partition each (so order within a topic is the
/// order of production).
fn broker() -> Broker {
    let broker = Broker::start();
    for topic in ["orders", "refunds", "chargebacks"] {
        broker.create_topic(topic, 1);
    }
    broker
}

/// In-code settings: no report server, this test's broker, quick commits; `inputs` under the
/// resource's `inputs` key.
fn settings(broker: &Broker, inputs: Value) -> Value {
    json!({"system": {"resources": {
        "tamarco_http_report_server": {"enabled": false},
        "kafka": {
            "bootstrap_servers": [broker.bootstrap()],
            "commit_interval": "200ms",
            "inputs": inputs,
        },
    }}})
}

async fn start(broker: &Broker, inputs: Value) -> TestService<Subscriber> {
    let service = TestService::builder(Subscriber::default())
        .settings(settings(broker, inputs))
        .start()
        .await
        .expect("the service starts");
    tokio::time::timeout(WAIT, service.service().kafka.joined())
        .await
        .expect("every input joins its group in time");
    service
}

/// Pushes `values` to `topic` from a producer of its own, each acknowledged by the broker.
async fn produce(broker: &Broker, topic: &str, values: impl IntoIterator<Item = u64>) {
    let mut cx = MicroserviceContext::new("producer");
    cx.settings()
        .update_internal(settings(broker, json!({})))
        .unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let output = kafka.output(topic, Json);
    cx.start().await.unwrap();
    for value in values {
        output.push(&value).await.expect("the broker acknowledges");
    }
    cx.stop().await.unwrap();
}

/// Waits (bounded) until `done`, saying `what` if it never is.
async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    tamarco_tests::wait_until(WAIT, done, || what.to_owned()).await;
}

/// Produces orders 100, 101... one every 200 ms until the `live` input has one: with
/// `latest`, its position is taken when it first fetches, which may be a moment after it
/// joined.
async fn produce_until_live_sees_one(broker: &Broker, service: &Subscriber) -> u64 {
    let deadline = Instant::now() + WAIT;
    let mut next = 100;
    while service.live().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the live input never saw an order"
        );
        produce(broker, "orders", [next]).await;
        next += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_each_get_every_record_and_latest_skips_what_came_before_the_group() {
    let broker = broker();
    produce(&broker, "orders", 0..3).await;
    let running = start(&broker, json!({})).await;
    let service = running.service().clone();
    let end = produce_until_live_sees_one(&broker, &service).await;

    let every: Vec<u64> = (0..3).chain(100..end).collect();
    wait_until("billing and audit get every order", || {
        service.billing().len() >= every.len() && service.audit().len() >= every.len()
    })
    .await;
    assert_eq!(
        service.billing(),
        every,
        "the `billing` group gets every order"
    );
    assert_eq!(
        service.audit(),
        every,
        "the `audit` group gets every order too"
    );
    let live = service.live();
    assert!(
        live.iter().all(|id| *id >= 100),
        "the `latest` group skips the orders produced before it joined: {live:?}"
    );
    running.stop().await.unwrap();
    for group in ["billing", "audit"] {
        assert_eq!(
            broker.committed(group, "orders"),
            vec![Some(every.len() as i64)],
            "group `{group}` committed every order"
        );
    }
    assert_eq!(
        broker.committed("subscriber", "orders"),
        vec![None],
        "no order input reads in the resource's own group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_handler_reads_two_topics() {
    let broker = broker();
    let running = start(&broker, json!({})).await;
    let service = running.service().clone();
    produce(&broker, "refunds", [1, 2]).await;
    produce(&broker, "chargebacks", [3]).await;

    wait_until("three money-back events", || {
        service.money_back().len() >= 3
    })
    .await;
    let mut seen = service.money_back();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("chargebacks".to_owned(), 3),
            ("refunds".to_owned(), 1),
            ("refunds".to_owned(), 2),
        ],
        "each event once, with the topic it came from"
    );
    running.stop().await.unwrap();
    assert_eq!(broker.committed("subscriber", "refunds"), vec![Some(2)]);
    assert_eq!(broker.committed("subscriber", "chargebacks"), vec![Some(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_override_the_group_offset_reset_and_topics_of_the_attribute() {
    let broker = broker();
    produce(&broker, "orders", 0..3).await;
    produce(&broker, "chargebacks", [7]).await;
    let inputs = json!({
        "audit": {"group": "audit_from_settings"},
        "live": {"offset_reset": "earliest"},
        "money_back": {"topics": ["chargebacks"]},
    });
    let running = start(&broker, inputs).await;
    let service = running.service().clone();

    wait_until(
        "audit and live read the three orders, money_back the chargeback",
        || {
            service.audit().len() >= 3
                && service.live().len() >= 3
                && !service.money_back().is_empty()
        },
    )
    .await;
    assert_eq!(
        service.live(),
        vec![0, 1, 2],
        "`earliest` from settings wins over the code's `latest`"
    );
    assert_eq!(service.money_back(), vec![("chargebacks".to_owned(), 7)]);
    let status = Value::Object(service.kafka.status_fields());
    let input = |name: &str| -> Value {
        status["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("`{name}` in {status}"))
            .clone()
    };
    assert_eq!(
        input("money_back")["topics"],
        json!(["chargebacks"]),
        "{status}"
    );
    assert_eq!(
        input("audit")["group"],
        json!("audit_from_settings"),
        "{status}"
    );
    assert_eq!(input("orders")["group"], json!("billing"), "{status}");
    running.stop().await.unwrap();
    assert_eq!(
        broker.committed("audit_from_settings", "orders"),
        vec![Some(3)],
        "the audit input read in the group the settings named"
    );
    assert_eq!(broker.committed("audit", "orders"), vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_topic_list_in_settings_fails_the_start_naming_the_key() {
    let broker = broker();
    let started = TestService::builder(Subscriber::default())
        .settings(settings(&broker, json!({"money_back": {"topics": []}})))
        .start()
        .await;
    let error = match started {
        Ok(_) => panic!("the service started with no topics for `money_back`"),
        Err(error) => tamarco::error_chain(&error),
    };
    assert!(
        error.contains("system.resources.kafka.inputs.money_back.topics")
            && error.contains("name at least one topic"),
        "{error}"
    );
}

//! Options only a transport understands (Kafka's `topics`, `group`, `offset_reset`), here the
//! in-memory transport's `from` (the queue to read): given in code, overridden by settings under
//! the input's own key beside the engine's options, shown in `/status`, and refused by the
//! engine when the transport does not list them.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::json;
use tamarco_core::codec::Text;
use tamarco_core::messaging::{EngineError, InputSpec, Message, bind_input, kind};
use tamarco_core::{BoxError, MicroserviceContext};

use support::memory::{Broker, Event, MemQueue, Meta};

/// Binds an input named `orders` reading the queue `from` (in code), recording what it handles.
fn orders_input(queue: &MemQueue, from: &str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let spec = InputSpec::new("orders").transport_option("from", from);
    bind_input::<_, kind::Pull, _, _, _, _, _>(
        queue,
        spec,
        Text,
        move |m: Message<String, Meta>| {
            log.lock().unwrap().push(m.value().clone());
            async { Ok::<(), BoxError>(()) }
        },
    )
    .unwrap();
    seen
}

#[tokio::test]
async fn the_code_names_the_queue_and_status_shows_it() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let seen = orders_input(&queue, "orders.v2");
    let mut cx = MicroserviceContext::new("options_test");
    let queue = cx.add("queue", queue);
    cx.start().await.unwrap();
    broker.send("orders", "by name");
    broker.send("orders.v2", "by option");
    broker
        .until("one ack", |e| {
            e.iter().any(|e| matches!(e, Event::Acked(_)))
        })
        .await;
    assert_eq!(*seen.lock().unwrap(), vec!["by option".to_owned()]);
    assert_eq!(broker.waiting("orders"), 1, "the input's name is not read");
    let status = queue.engine.status_fields();
    assert_eq!(status[0]["from"], json!("orders.v2"), "{status}");
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn settings_override_the_code_beside_the_engines_own_options() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let seen = orders_input(&queue, "orders.v2");
    let mut cx = MicroserviceContext::new("options_test");
    // `concurrency` as text, as environment variables give it: still read as a number.
    cx.settings()
        .set_internal(
            "system.resources.queue.inputs.orders",
            json!({"from": "orders.v3", "concurrency": "2"}),
        )
        .unwrap();
    cx.add("queue", queue);
    cx.start().await.unwrap();
    broker.send("orders.v2", "from the code");
    broker.send("orders.v3", "from the settings");
    broker
        .until("one ack", |e| {
            e.iter().any(|e| matches!(e, Event::Acked(_)))
        })
        .await;
    assert_eq!(*seen.lock().unwrap(), vec!["from the settings".to_owned()]);
    assert_eq!(broker.waiting("orders.v2"), 1);
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_type_in_settings_fails_the_start_naming_the_key() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    orders_input(&queue, "orders.v2");
    let mut cx = MicroserviceContext::new("options_test");
    cx.settings()
        .set_internal("system.resources.queue.inputs.orders.from", json!([1, 2]))
        .unwrap();
    cx.add("queue", queue);
    let error = cx.start().await.unwrap_err();
    let error = tamarco_core::error_chain(&error);
    assert!(
        error.contains("system.resources.queue.inputs.orders.from"),
        "{error}"
    );
}

#[test]
fn an_option_the_transport_does_not_take_is_refused_naming_it() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let spec = InputSpec::new("orders").transport_option("group", "billing");
    let error = queue
        .engine
        .handle::<kind::Pull, String, _, _, _, BoxError>(spec, Text, |_m| async { Ok(()) })
        .unwrap_err();
    assert!(
        matches!(&error, EngineError::UnknownOption { option, .. } if option == "group"),
        "{error}"
    );
    assert!(error.to_string().contains("it takes `from`"), "{error}");
}

//! A resource restarted while the service runs (what a restart policy does: `stop`, then
//! `start`) gets its inputs back: handlers handle again and a stream reader reads on. Once the
//! service stops, the inputs are released and the reader's stream ends. In-memory transport.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco_core::codec::Text;
use tamarco_core::messaging::{
    Engine, InputOptions, InputSpec, InputStream, Inputs, Message, bind_input, bind_stream_input,
    kind,
};
use tamarco_core::{BoxError, MicroserviceContext, Resource, ResourceContext};
use tokio::sync::mpsc;
use tokio::time::timeout;

use support::memory::{Broker, Delivered, MemQueue, Meta};

/// A queue that the test can restart the way a restart policy does, with the context its
/// start was given.
struct Restartable {
    queue: MemQueue,
    cx: Mutex<Option<ResourceContext>>,
}

impl Restartable {
    async fn restart(&self) {
        let cx = self.cx.lock().unwrap().clone().expect("started");
        self.stop(&cx).await.unwrap();
        self.start(&cx)
            .await
            .expect("the restart starts the inputs");
    }
}

impl Resource for Restartable {
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        *self.cx.lock().unwrap() = Some(cx.clone());
        let broker = Arc::clone(&self.queue.broker);
        self.queue
            .engine
            .start(broker, cx, InputOptions::default(), Duration::from_secs(5))
            .await
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        assert!(self.queue.engine.stop(Duration::from_secs(5)).await);
        Ok(())
    }
}

impl Inputs<kind::Pull> for Restartable {
    type Transport = Broker;

    fn engine(&self) -> &Engine<Broker> {
        &self.queue.engine
    }
}

async fn next<T>(receiver: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    timeout(Duration::from_secs(5), receiver.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 5 s"))
        .unwrap_or_else(|| panic!("the {what} channel closed"))
}

#[tokio::test]
async fn a_restarted_resource_handles_again_and_its_reader_reads_on_until_the_service_stops() {
    let broker = Broker::new();
    let queue = Restartable {
        queue: MemQueue::new(&broker),
        cx: Mutex::default(),
    };
    let (handled, mut handled_rx) = mpsc::unbounded_channel();
    bind_input::<_, kind::Pull, _, _, _, _, _>(
        &queue,
        InputSpec::new("orders"),
        Text,
        move |m: Message<String, Meta>| {
            let _ = handled.send(m.into_value());
            async { Ok::<_, BoxError>(()) }
        },
    )
    .unwrap();
    let (read, mut read_rx) = mpsc::unbounded_channel();
    let (ended, mut ended_rx) = mpsc::unbounded_channel();
    let reader = move |mut stream: InputStream<String, Delivered>| async move {
        while let Some(delivery) = stream.next().await {
            let _ = read.send(delivery.value().clone());
            delivery.ack().await?;
        }
        let _ = ended.send(());
        Ok::<_, BoxError>(())
    };
    bind_stream_input::<_, kind::Pull, _, _, _, _, _>(
        &queue,
        InputSpec::new("audit"),
        Text,
        reader,
    )
    .unwrap();
    let mut cx = MicroserviceContext::new("restart_test");
    let queue = cx.add("queue", queue);
    cx.start().await.unwrap();

    broker.send("orders", "before");
    broker.send("audit", "before");
    assert_eq!(next(&mut handled_rx, "handled message").await, "before");
    assert_eq!(next(&mut read_rx, "read message").await, "before");

    for round in 1..=2 {
        queue.restart().await;
        assert!(!queue.queue.engine.failed(), "restart {round}");
        let body = format!("after restart {round}");
        broker.send("orders", body.clone());
        broker.send("audit", body.clone());
        assert_eq!(next(&mut handled_rx, "handled message").await, body);
        assert_eq!(next(&mut read_rx, "read message").await, body);
        assert!(ended_rx.try_recv().is_err(), "the reader reads on");
    }
    let status = queue.queue.engine.status_fields();
    assert_eq!(status[0]["handled"], 3, "counts go on: {status}");

    cx.stop().await.unwrap();
    next(&mut ended_rx, "end of the stream").await;
}

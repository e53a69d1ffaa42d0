//! 13 — Kafka: a timer pushes ticks to a topic, and an input of the same service consumes them
//! with a handler method that sees each message's key, partition and offset. The service stops
//! by itself once it has received `KAFKA_STREAM_MESSAGES` ticks (default 10; 0 runs until
//! Ctrl-C). Needs the cargo feature `kafka` of `tamarco`, which builds the bundled librdkafka:
//! a C compiler, `make` and zlib (`apt-get install build-essential zlib1g-dev`).
//!
//! ```text
//! # a Kafka-protocol broker on 127.0.0.1:9092, for example tansu (installed by .ci/services):
//! mkdir -p /tmp/tansu && cd /tmp/tansu && ~/.cache/tamarco/tansu/bin/tansu broker \
//!     --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 \
//!     --storage-engine sqlite://tansu.db &
//! cargo run --example kafka_stream --features kafka
//! ```
//!
//! Another broker: `system.resources.kafka.bootstrap_servers` in the settings file named by
//! `TAMARCO_YML_FILE`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::resources::kafka::{Kafka, Message, Output};
use tamarco::serde::{Deserialize, Serialize};
use tamarco::tracing::info;

const TOPIC: &str = "kafka_stream.ticks";

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Tick {
    n: u64,
}

#[microservice(name = "kafka_stream")]
struct Ticker {
    #[resource]
    kafka: Kafka,
    ticks: Output<Tick>,
    /// Stop after this many received ticks; 0 never.
    limit: u64,
    sent: AtomicU64,
    received: AtomicU64,
    stop: OnceLock<ShutdownHandle>,
}

#[microservice]
impl Ticker {
    /// Declares the input before the resource starts, so that it joins its group as the
    /// service starts.
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let _ = self.stop.set(stage.shutdown().clone());
        // The broker may not create topics on its own; this is a no-op if the topic exists.
        self.kafka.create_topics(&[(TOPIC, 1)]).await?;
        self.kafka
            .input(TOPIC, Json)
            .handle_with(&self, Self::on_tick)?;
        stage.run().await?;
        Ok(())
    }

    /// Pushes one tick every 500 ms; resolves once the broker acknowledged it.
    #[task_timer(interval = "500ms", autostart)]
    async fn push_tick(&self) -> Result<(), BoxError> {
        if self.limit > 0 && self.sent.load(Ordering::Relaxed) >= self.limit {
            return Ok(());
        }
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let receipt = self
            .ticks
            .message(&Tick { n })
            .key(format!("tick-{n}"))
            .header("sender", "kafka_stream")
            .push()
            .await?;
        info!(
            n,
            partition = receipt.partition,
            offset = receipt.offset,
            "pushed"
        );
        Ok(())
    }

    /// The input's handler: the tick is committed once this returns `Ok`.
    async fn on_tick(self: Arc<Self>, tick: Message<Tick>) -> Result<(), BoxError> {
        let received = self.received.fetch_add(1, Ordering::Relaxed) + 1;
        info!(
            n = tick.value().n,
            key = tick.key_str(),
            partition = tick.partition(),
            offset = tick.offset(),
            received,
            "received"
        );
        if self.limit > 0 && received >= self.limit {
            info!(received, "done; stopping");
            if let Some(stop) = self.stop.get() {
                stop.stop_gracefully();
            }
        }
        Ok(())
    }
}

fn main() -> ExitStatus {
    let limit = std::env::var("KAFKA_STREAM_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let kafka = Kafka::new();
    let ticks = kafka.output(TOPIC, Json);
    Ticker {
        kafka,
        ticks,
        limit,
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        stop: OnceLock::new(),
    }
    .run()
}

//! 13 — Kafka: a timer pushes ticks to a topic through an `#[output]` field, and a method of
//! the same service reads them as a stream (`#[input(kafka, ..., stream)]`), seeing each
//! record's key, partition and offset and acking it. The service stops by itself once it has
//! read `KAFKA_STREAM_MESSAGES` ticks (default 10; 0 runs until Ctrl-C). Needs the cargo
//! feature `kafka` of `tamarco`, which builds the bundled librdkafka: a C compiler, `make` and
//! zlib (`apt-get install build-essential zlib1g-dev`).
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

use tamarco::kafka::{InputStream, Kafka, TopicOutput};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::tracing::info;

const TOPIC: &str = "kafka_stream.ticks";

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Tick {
    n: u64,
}

#[microservice(name = "kafka_stream")]
#[derive(Default)]
struct Ticker {
    #[resource]
    kafka: Kafka,
    /// Bound to the topic before the resource starts (JSON by default).
    #[output(kafka, topic = "kafka_stream.ticks")]
    ticks: TopicOutput<Tick>,
    sent: AtomicU64,
    cx: ServiceContext,
}

/// Stop after this many ticks read; 0 never.
fn limit() -> u64 {
    std::env::var("KAFKA_STREAM_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

#[microservice]
impl Ticker {
    /// The broker may not create topics on its own; this is a no-op if the topic exists.
    async fn pre_start(&self, stage: Stage) -> Result<(), BoxError> {
        self.kafka.create_topics(&[(TOPIC, 1)]).await?;
        stage.run().await?;
        Ok(())
    }

    /// Pushes one tick every 500 ms; resolves once the broker acknowledged it.
    #[task_timer(interval = "500ms", autostart)]
    async fn push_tick(&self) -> Result<(), BoxError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let receipt = self
            .ticks
            .message(&Tick { n })
            .key(format!("tick-{n}"))
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

    /// Reads the topic as a stream: each tick is committed once acked. The stream ends when
    /// the service begins to stop; the service waits for this method to return.
    #[input(kafka, topic = "kafka_stream.ticks", stream)]
    async fn read_ticks(&self, mut ticks: InputStream<Tick>) -> Result<(), BoxError> {
        let mut read = 0;
        while let Some(tick) = ticks.next().await {
            read += 1;
            info!(
                n = tick.value().n,
                key = tick.key_str(),
                partition = tick.partition(),
                offset = tick.offset(),
                read,
                "read"
            );
            tick.ack().await?;
            if read == limit() {
                info!(read, "done; stopping");
                self.cx.stop_gracefully();
            }
        }
        Ok(())
    }
}

fn main() -> ExitStatus {
    Ticker::default().run()
}

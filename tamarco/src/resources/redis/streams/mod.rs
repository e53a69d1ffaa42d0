//! Redis Streams consumer groups as a transport of the message engine: at-least-once inputs.
//!
//! Each `stream` input reads its stream as one consumer of the resource's group
//! (`XREADGROUP`), on a connection of its own so that a blocking read holds up no command.
//! An entry is acked (`XACK`) once its handler succeeded; until then it stays in the group's
//! pending list. Entries left pending by a consumer that died (idle longer than `claim_idle`)
//! are claimed (`XAUTOCLAIM`) by a live one and handled again, with their delivery count
//! checked against the input's `max_deliveries`. What the engine gives up on is added to the
//! stream `<stream>.dead_letter` (or the input's `dead_letter` option) and acked in one
//! `MULTI`/`EXEC`.

mod parse;
mod received;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Value};
use tamarco_core::BoxError;
use tamarco_core::messaging::{Consumer, InputInfo, Transport};
use tokio::time::Instant;

use parse::{Entry, parse_autoclaim, parse_read};
use received::Settle;
pub use received::{StreamMeta, StreamReceived};

/// How the resource's `stream` inputs read: from its `streams` settings.
#[derive(Debug, Clone)]
pub(crate) struct StreamOptions {
    pub(crate) group: Arc<str>,
    /// The id a new group starts after (`0` or `$`).
    pub(crate) start: &'static str,
    pub(crate) consumer: Arc<str>,
    pub(crate) claim_idle: Duration,
    pub(crate) block: Duration,
    pub(crate) field: Arc<str>,
    pub(crate) connection_timeout: Duration,
    pub(crate) response_timeout: Duration,
}

/// The engine transport of [`Redis`](super::Redis)'s `stream` inputs.
pub struct StreamTransport {
    pub(crate) client: redis::Client,
    /// For acks, claims and dead letters.
    pub(crate) manager: ConnectionManager,
    pub(crate) options: StreamOptions,
}

impl std::fmt::Debug for StreamTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTransport")
            .field("group", &self.options.group)
            .field("consumer", &self.options.consumer)
            .finish_non_exhaustive()
    }
}

impl Transport for StreamTransport {
    type Meta = StreamMeta;
    type Received = StreamReceived;
    type Consumer = StreamConsumer;

    async fn open(&self, input: &InputInfo) -> Result<StreamConsumer, BoxError> {
        let options = &self.options;
        // A read blocks up to `block`: the response may take that long on top of the usual.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(options.connection_timeout))
            .set_response_timeout(Some(options.block + options.response_timeout));
        let mut reader = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // A new group starts where `streams.start` says; one that exists keeps its position.
        let created = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(input.name())
            .arg(&*options.group)
            .arg(options.start)
            .arg("MKSTREAM")
            .query_async::<()>(&mut reader)
            .await;
        match created {
            Err(error) if error.code() == Some("BUSYGROUP") => {}
            other => other?,
        }
        let dead_letter = input
            .options()
            .dead_letter
            .clone()
            .unwrap_or_else(|| format!("{}.dead_letter", input.name()));
        let batch = usize::from(input.options().prefetch.unwrap_or(32)).max(1);
        Ok(StreamConsumer {
            reader,
            shared: Arc::new(Settle {
                manager: self.manager.clone(),
                stream: Arc::from(input.name()),
                group: Arc::clone(&options.group),
                dead_letter: Arc::from(dead_letter),
            }),
            options: options.clone(),
            batch,
            buffer: VecDeque::new(),
            history: Some(String::from("0")),
            claim_cursor: String::from("0-0"),
            next_claim: Instant::now(),
        })
    }
}

/// One input's reader in the group.
pub struct StreamConsumer {
    reader: MultiplexedConnection,
    shared: Arc<Settle>,
    options: StreamOptions,
    batch: usize,
    buffer: VecDeque<StreamReceived>,
    /// This consumer's own pending entries are read first (from this id on), then new ones.
    history: Option<String>,
    claim_cursor: String,
    next_claim: Instant,
}

impl std::fmt::Debug for StreamConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamConsumer")
            .field("stream", &self.shared.stream)
            .field("consumer", &self.options.consumer)
            .finish_non_exhaustive()
    }
}

impl StreamConsumer {
    /// Fills the buffer with what comes next: this consumer's own pending entries, entries
    /// idle too long in others' hands, or new entries (waiting up to `block`).
    async fn fill(&mut self) -> Result<(), BoxError> {
        let stream = Arc::clone(&self.shared.stream);
        // Cheap (shared names and durations); `self` is borrowed mutably below.
        let options = self.options.clone();
        if let Some(from) = self.history.take() {
            let read = self.read(&from, None).await?;
            if let Some(last) = read.last() {
                self.history = Some(last.id.clone());
            }
            let (entries, deleted): (Vec<Entry>, Vec<Entry>) =
                read.into_iter().partition(|entry| entry.fields.is_some());
            if !deleted.is_empty() {
                // Deleted while pending: nothing to handle any more.
                redis::cmd("XACK")
                    .arg(&*stream)
                    .arg(&*options.group)
                    .arg(deleted.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
                    .query_async::<()>(&mut self.reader)
                    .await?;
            }
            let counts = self.deliveries(&entries).await?;
            self.push(entries, |id| counts.get(id).copied());
            return Ok(());
        }
        let now = Instant::now();
        if now >= self.next_claim {
            let idle = u64::try_from(options.claim_idle.as_millis()).unwrap_or(u64::MAX);
            let reply: Value = redis::cmd("XAUTOCLAIM")
                .arg(&*stream)
                .arg(&*options.group)
                .arg(&*options.consumer)
                .arg(idle)
                .arg(&self.claim_cursor)
                .arg("COUNT")
                .arg(self.batch)
                .query_async(&mut self.reader)
                .await?;
            let (cursor, entries) = parse_autoclaim(reply)?;
            if cursor == "0-0" {
                // A full pass over the pending list: the next one after a while.
                self.next_claim = now + (options.claim_idle / 2).max(Duration::from_millis(50));
            }
            self.claim_cursor = cursor;
            if !entries.is_empty() {
                tracing::info!(
                    stream = &*stream,
                    group = &*options.group,
                    consumer = &*options.consumer,
                    entries = entries.len(),
                    "redis: claimed entries left pending by another consumer"
                );
            }
            let counts = self.deliveries(&entries).await?;
            self.push(entries, |id| counts.get(id).copied());
            return Ok(());
        }
        let block = self.next_claim.saturating_duration_since(now);
        let block = block.min(options.block).max(Duration::from_millis(1));
        let entries = self.read(">", Some(block)).await?;
        self.push(entries, |_| Some(1));
        Ok(())
    }

    /// `XREADGROUP` from `from` (`>` for new entries, an id for this consumer's own pending).
    async fn read(&mut self, from: &str, block: Option<Duration>) -> Result<Vec<Entry>, BoxError> {
        let options = &self.options;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&*options.group)
            .arg(&*options.consumer)
            .arg("COUNT")
            .arg(self.batch);
        if let Some(block) = block {
            cmd.arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX));
        }
        cmd.arg("STREAMS").arg(&*self.shared.stream).arg(from);
        let reply: Value = cmd.query_async(&mut self.reader).await?;
        parse_read(reply)
    }

    /// How many times the group delivered `entries` (`XPENDING` over their range).
    async fn deliveries(&mut self, entries: &[Entry]) -> Result<HashMap<String, u32>, BoxError> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(HashMap::new());
        };
        let pending: Vec<(String, String, u64, u32)> = redis::cmd("XPENDING")
            .arg(&*self.shared.stream)
            .arg(&*self.options.group)
            .arg(&first.id)
            .arg(&last.id)
            // Entries this consumer still handles may lie in the range too.
            .arg(entries.len() + 256)
            .arg(&*self.options.consumer)
            .query_async(&mut self.reader)
            .await?;
        Ok(pending
            .into_iter()
            .map(|(id, _, _, count)| (id, count))
            .collect())
    }

    fn push(&mut self, entries: Vec<Entry>, deliveries: impl Fn(&str) -> Option<u32>) {
        let field = self.options.field.as_bytes();
        for entry in entries {
            let count = deliveries(&entry.id);
            let body = entry.fields.as_ref().and_then(|fields| {
                fields
                    .iter()
                    .find(|(name, _)| name == field)
                    .map(|(_, value)| value.clone())
            });
            let meta = match (&entry.fields, body.is_some()) {
                (_, true) => Ok(Arc::new(StreamMeta::new(
                    Arc::clone(&self.shared.stream),
                    entry.id.clone(),
                    count,
                ))),
                (None, _) => Err(format!(
                    "the entry {} was deleted from the stream",
                    entry.id
                )),
                (Some(_), false) => Err(format!(
                    "the entry {} has no `{}` field",
                    entry.id, self.options.field
                )),
            };
            self.buffer.push_back(StreamReceived {
                id: entry.id,
                body: body.unwrap_or_default(),
                meta,
                deliveries: count,
                settle: Arc::clone(&self.shared),
            });
        }
    }
}

impl Consumer for StreamConsumer {
    type Received = StreamReceived;

    async fn next(&mut self) -> Option<Result<StreamReceived, BoxError>> {
        loop {
            if let Some(received) = self.buffer.pop_front() {
                return Some(Ok(received));
            }
            if let Err(error) = self.fill().await {
                // The engine opens a new consumer after a backoff; it reads its history again.
                return Some(Err(error));
            }
        }
    }

    async fn cancel(&mut self) {
        // A consumer with nothing pending leaves the group, so that the group lists only
        // consumers that hold something (and the live ones).
        let options = &self.options;
        let tidy = async {
            let pending: Vec<Value> = redis::cmd("XPENDING")
                .arg(&*self.shared.stream)
                .arg(&*options.group)
                .arg("-")
                .arg("+")
                .arg(1)
                .arg(&*options.consumer)
                .query_async(&mut self.reader)
                .await?;
            if pending.is_empty() {
                redis::cmd("XGROUP")
                    .arg("DELCONSUMER")
                    .arg(&*self.shared.stream)
                    .arg(&*options.group)
                    .arg(&*options.consumer)
                    .query_async::<()>(&mut self.reader)
                    .await?;
            }
            Ok::<_, redis::RedisError>(())
        };
        if let Ok(Err(error)) = tokio::time::timeout(options.response_timeout, tidy).await {
            tracing::debug!(
                stream = &*self.shared.stream,
                "redis: could not leave the consumer group: {error}"
            );
        }
    }
}

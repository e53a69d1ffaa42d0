#![doc = include_str!("docs.md")]
// The module docs are in docs.md. This file is over 400 lines: the typed command wrappers are
// many small documented methods, and the resource lifecycle starts both message engines.

mod error;
mod idempotent;
mod memory;
mod output;
mod pubsub;
mod settings;
mod streams;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, Pipeline, ToRedisArgs};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use tamarco_core::codec::Codec;
use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::messaging::{
    Engine, EngineError, InputOptions, InputSpec, Inputs, Message, kind,
};
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use settings::Config;
use streams::StreamOptions;

pub use error::Error;
pub use idempotent::IDEMPOTENT;
use idempotent::{command_name, is_connection_error};
pub use output::{PublishOutput, StreamOutput};
pub use pubsub::{PubSubConsumer, PubSubMeta, PubSubReceived, PubSubTransport};
/// The client underneath, for its types (`Cmd`, `Pipeline`, `FromRedisValue`...).
pub use redis;
pub use settings::{RedisSettings, StreamSettings};
pub use streams::{StreamConsumer, StreamMeta, StreamReceived, StreamTransport};

/// A Redis connection as a resource. See the [module docs](self).
#[derive(Default)]
pub struct Redis {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("resource", &self.shared.resource())
            .field("server", &self.shared.config().map(|c| c.describe()))
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A resource that reads its settings when the service starts.
    pub fn new() -> Self {
        Redis::default()
    }

    /// The value at `key`: `Option<T>` reads a missing key as `None`.
    pub async fn get<T: FromRedisValue>(&self, key: impl ToRedisArgs) -> Result<T, Error> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    /// Sets `key` to `value`.
    pub async fn set(&self, key: impl ToRedisArgs, value: impl ToRedisArgs) -> Result<(), Error> {
        self.query(redis::cmd("SET").arg(key).arg(value)).await
    }

    /// Sets `key` to `value`, expiring after `ttl` (whole milliseconds).
    pub async fn set_ex(
        &self,
        key: impl ToRedisArgs,
        value: impl ToRedisArgs,
        ttl: Duration,
    ) -> Result<(), Error> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.query(redis::cmd("PSETEX").arg(key).arg(millis).arg(value))
            .await
    }

    /// Deletes keys; returns how many existed.
    pub async fn del(&self, keys: impl ToRedisArgs) -> Result<u64, Error> {
        self.query(redis::cmd("DEL").arg(keys)).await
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: impl ToRedisArgs) -> Result<bool, Error> {
        self.query(redis::cmd("EXISTS").arg(key)).await
    }

    /// Makes `key` expire after `ttl` (whole milliseconds); `false` when it does not exist.
    pub async fn expire(&self, key: impl ToRedisArgs, ttl: Duration) -> Result<bool, Error> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.query(redis::cmd("PEXPIRE").arg(key).arg(millis)).await
    }

    /// Adds `by` to the integer at `key` and returns the result. Not idempotent: never sent
    /// twice.
    pub async fn incr(&self, key: impl ToRedisArgs, by: i64) -> Result<i64, Error> {
        self.query(redis::cmd("INCRBY").arg(key).arg(by)).await
    }

    /// The value of `field` in the hash at `key`.
    pub async fn hget<T: FromRedisValue>(
        &self,
        key: impl ToRedisArgs,
        field: impl ToRedisArgs,
    ) -> Result<T, Error> {
        self.query(redis::cmd("HGET").arg(key).arg(field)).await
    }

    /// Sets `field` of the hash at `key`; returns whether the field is new.
    pub async fn hset(
        &self,
        key: impl ToRedisArgs,
        field: impl ToRedisArgs,
        value: impl ToRedisArgs,
    ) -> Result<bool, Error> {
        self.query(redis::cmd("HSET").arg(key).arg(field).arg(value))
            .await
    }

    /// Every field of the hash at `key` (`HashMap<String, T>`, or `Vec<(String, T)>`).
    pub async fn hgetall<T: FromRedisValue>(&self, key: impl ToRedisArgs) -> Result<T, Error> {
        self.query(redis::cmd("HGETALL").arg(key)).await
    }

    /// Deletes fields of the hash at `key`; returns how many existed.
    pub async fn hdel(
        &self,
        key: impl ToRedisArgs,
        fields: impl ToRedisArgs,
    ) -> Result<u64, Error> {
        self.query(redis::cmd("HDEL").arg(key).arg(fields)).await
    }

    /// Runs any command; sent again after a lost connection when it is in [`IDEMPOTENT`].
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Error> {
        let name = command_name(cmd);
        let idempotent = IDEMPOTENT.iter().any(|c| c.eq_ignore_ascii_case(&name));
        self.run(&name, idempotent, Packed::Command(cmd)).await
    }

    /// Runs a pipeline (`redis::pipe()`, `.atomic()` for `MULTI`/`EXEC`); sent again after a
    /// lost connection when every command in it is idempotent.
    pub async fn pipeline<T: FromRedisValue>(&self, pipeline: &Pipeline) -> Result<T, Error> {
        let idempotent = pipeline.cmd_iter().all(|cmd| {
            let name = command_name(cmd);
            IDEMPOTENT.iter().any(|c| c.eq_ignore_ascii_case(&name))
        });
        self.run("pipeline", idempotent, Packed::Pipeline(pipeline))
            .await
    }

    /// Publishes `message` on `channel`; returns how many subscribers got it. Not retried.
    pub async fn publish(
        &self,
        channel: impl ToRedisArgs,
        message: impl ToRedisArgs,
    ) -> Result<u64, Error> {
        self.query(redis::cmd("PUBLISH").arg(channel).arg(message))
            .await
    }

    /// A `subscribe` input by hand (what `#[input(redis, subscribe = "channel")]` declares):
    /// `handler` runs for every message published on `channel`, decoded by `codec`, with the
    /// engine's retries and dead letters (see the [module docs](self)). Declare it before the
    /// resource starts, or it starts at once.
    pub fn subscription<T, C, F, Fut, E>(
        &self,
        channel: &str,
        codec: C,
        handler: F,
    ) -> Result<(), EngineError>
    where
        T: Send + 'static,
        C: Codec<T>,
        F: Fn(Message<T, PubSubMeta>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<BoxError>,
    {
        self.shared.engine.handle::<kind::Subscribe, _, _, _, _, _>(
            InputSpec::new(channel),
            codec,
            handler,
        )
    }

    /// A `stream` input by hand (what `#[input(redis, stream = "orders")]` declares):
    /// `handler` runs for every entry of `spec`'s stream read in the resource's consumer group,
    /// decoded by `codec`; the entry is acked once it returns `Ok`, retried and dead-lettered
    /// by the engine otherwise, and claimed by another consumer of the group if this one dies
    /// before acking (see the [module docs](self)). Declare it before the resource starts, or
    /// it starts at once.
    pub fn stream_input<T, C, F, Fut, E>(
        &self,
        spec: InputSpec,
        codec: C,
        handler: F,
    ) -> Result<(), EngineError>
    where
        T: Send + 'static,
        C: Codec<T>,
        F: Fn(Message<T, StreamMeta>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<BoxError>,
    {
        self.shared
            .streams
            .handle::<kind::Stream, _, _, _, _, _>(spec, codec, handler)
    }

    /// An output publishing values on `channel` (what `#[output(redis, publish = "...")]`
    /// declares on a [`PublishOutput`] field).
    pub fn publish_output<T: 'static>(
        &self,
        channel: &str,
        codec: impl Codec<T>,
    ) -> PublishOutput<T> {
        PublishOutput::new(self, channel, Arc::new(codec))
    }

    /// An output adding values to `stream` (what `#[output(redis, stream = "...")]` declares
    /// on a [`StreamOutput`] field).
    pub fn stream_output<T: 'static>(&self, stream: &str, codec: impl Codec<T>) -> StreamOutput<T> {
        StreamOutput::new(self, stream, Arc::new(codec))
    }

    /// The connection manager, for what this type does not wrap (pub/sub...). Cheap to clone;
    /// it does not retry anything.
    pub fn connection(&self) -> Result<ConnectionManager, Error> {
        self.shared.manager()
    }

    async fn run<T: FromRedisValue>(
        &self,
        command: &str,
        idempotent: bool,
        packed: Packed<'_>,
    ) -> Result<T, Error> {
        let shared = &self.shared;
        let mut connection = shared.manager()?;
        let _in_flight = InFlight::new(shared);
        let retries = shared.config().map_or(0, |c| c.retries);
        let started = Instant::now();
        let mut attempt = 0;
        let outcome = loop {
            let sent = match packed {
                Packed::Command(cmd) => cmd.query_async(&mut connection).await,
                Packed::Pipeline(pipeline) => pipeline.query_async(&mut connection).await,
            };
            match sent {
                Err(error) if idempotent && attempt < retries && is_connection_error(&error) => {
                    attempt += 1;
                    shared.retries.fetch_add(1, Ordering::Relaxed);
                    if let Some(meters) = shared.meters.get() {
                        meters.retries.increment(1);
                    }
                    tracing::debug!(
                        resource = shared.resource(),
                        command,
                        attempt,
                        "redis: connection lost; sending the command again"
                    );
                    tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                }
                other => break other,
            }
        };
        shared.commands.fetch_add(1, Ordering::Relaxed);
        if let Some(meters) = shared.meters.get() {
            meters.duration.record(started.elapsed());
            if outcome.is_err() {
                meters.errors.increment(1);
            }
        }
        outcome.map_err(|source| {
            let error = Error::Command {
                resource: shared.resource().to_owned(),
                command: command.to_owned(),
                source,
            };
            shared.errors.fetch_add(1, Ordering::Relaxed);
            *shared.last_error.lock().expect("error lock") = Some(error_chain(&error));
            error
        })
    }
}

/// What `run` sends.
#[derive(Clone, Copy)]
enum Packed<'a> {
    Command(&'a Cmd),
    Pipeline(&'a Pipeline),
}

impl Resource for Redis {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or("the resource was not configured")?;
        let name = cx.name();
        let _ = shared.meters.set(Meters::new(name));
        let defaults = InputOptions {
            retries: Some(3),
            ..InputOptions::default()
        };
        // An entry redelivered this often (claimed from consumers that died on it) is
        // dead-lettered rather than crash the next one.
        let stream_defaults = InputOptions {
            max_deliveries: Some(5),
            ..defaults.clone()
        };
        if let Some(broker) = MemoryBroker::for_resource(cx)? {
            let defaults = [defaults, stream_defaults];
            return memory::start(shared, broker, cx, defaults, config.connection_timeout).await;
        }
        let fail = |problem: String| -> BoxError {
            format!(
                "redis resource `{name}` ({}): cannot connect to {}: {problem}",
                config.describe(),
                config.address()
            )
            .into()
        };
        let client = redis::Client::open(config.info.clone()).map_err(|e| fail(e.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let connecting = ConnectionManager::new_with_config(client, manager_config);
        let manager = match tokio::time::timeout(config.connection_timeout, connecting).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(error)) => return Err(fail(error_chain(&error))),
            Err(_) => {
                return Err(fail(format!(
                    "no answer within {:?}",
                    config.connection_timeout
                )));
            }
        };
        *shared.manager.write().expect("manager lock") = Some(manager.clone());
        let transport = PubSubTransport {
            client: redis::Client::open(config.info.clone()).map_err(|e| fail(e.to_string()))?,
            manager: manager.clone(),
        };
        let engine_failed = |e: BoxError| format!("redis resource `{name}`: {}", error_chain(&*e));
        shared
            .engine
            .start(Arc::new(transport), cx, defaults, config.connection_timeout)
            .await
            .map_err(engine_failed)?;
        let streams = &config.streams;
        let transport = StreamTransport {
            client: redis::Client::open(config.info.clone()).map_err(|e| fail(e.to_string()))?,
            manager,
            options: StreamOptions {
                group: Arc::from(streams.group.as_deref().unwrap_or(cx.service())),
                consumer: Arc::from(
                    streams
                        .consumer
                        .clone()
                        .unwrap_or_else(|| default_consumer(cx.service(), name)),
                ),
                claim_idle: streams.claim_idle.get(),
                block: streams.block.get(),
                field: Arc::from(streams.field.as_str()),
                connection_timeout: config.connection_timeout,
                response_timeout: config.response_timeout,
            },
        };
        shared
            .streams
            .start(
                Arc::new(transport),
                cx,
                stream_defaults,
                config.connection_timeout,
            )
            .await
            .map_err(engine_failed)?;
        tracing::info!(
            resource = name,
            server = config.describe(),
            "redis: connected"
        );
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let stop_timeout = shared
            .config()
            .map_or(Duration::from_secs(10), |c| c.stop_timeout);
        // Within the resource's own limit and the share of the grace period the runtime gives.
        let limit = tokio::time::Instant::now() + stop_timeout;
        let deadline = cx.stop_deadline().map_or(limit, |d| d.min(limit));
        // Inputs first: their handlers may still send commands.
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::join!(shared.engine.stop(left()), shared.streams.stop(left()));
        // New commands fail from here; those in flight may finish.
        let manager = shared.manager.write().expect("manager lock").take();
        let mut in_flight = shared.in_flight.subscribe();
        if tokio::time::timeout_at(deadline, in_flight.wait_for(|n| *n == 0))
            .await
            .is_err()
        {
            tracing::warn!(
                resource = cx.name(),
                "redis: commands still running at the stop deadline; closing"
            );
        }
        drop(manager);
        tracing::info!(resource = cx.name(), "redis: closed");
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        self.shared.engine.status().or(self.shared.streams.status())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let shared = &self.shared;
        let mut fields = Map::new();
        let mut inputs = shared.engine.status_fields();
        if let (Value::Array(inputs), Value::Array(streams)) =
            (&mut inputs, shared.streams.status_fields())
        {
            inputs.extend(streams);
        }
        fields.insert("inputs".into(), inputs);
        if let Some(config) = shared.config() {
            fields.insert("server".into(), json!(config.describe()));
        }
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        fields.insert("commands".into(), json!(load(&shared.commands)));
        fields.insert("in_flight".into(), json!(*shared.in_flight.borrow()));
        fields.insert("errors".into(), json!(load(&shared.errors)));
        fields.insert("retries".into(), json!(load(&shared.retries)));
        fields.insert(
            "last_error".into(),
            json!(*shared.last_error.lock().expect("error lock")),
        );
        fields
    }
}

/// `#[input(redis, subscribe = "channel")]`: publish/subscribe inputs on the message engine.
impl Inputs<kind::Subscribe> for Redis {
    type Transport = PubSubTransport;

    fn engine(&self) -> &Engine<PubSubTransport> {
        &self.shared.engine
    }
}

/// `#[input(redis, stream = "orders")]`: consumer-group inputs on the message engine.
impl Inputs<kind::Stream> for Redis {
    type Transport = StreamTransport;

    fn engine(&self) -> &Engine<StreamTransport> {
        &self.shared.streams
    }
}

/// `<service>-<resource>-<host>-<pid>`: unique among live instances, so that one's pending
/// entries are never mistaken for another's.
fn default_consumer(service: &str, resource: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{service}-{resource}-{host}-{}", std::process::id())
}

/// Counts a command in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.in_flight.send_modify(|n| *n += 1);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The metric handles, labelled with the resource.
struct Meters {
    duration: metrics::Histogram,
    errors: metrics::Counter,
    retries: metrics::Counter,
}

impl Meters {
    fn new(resource: &str) -> Self {
        let label = [("resource", resource.to_owned())];
        Meters {
            duration: metrics::histogram!("redis_command_duration_seconds", &label),
            errors: metrics::counter!("redis_errors_total", &label),
            retries: metrics::counter!("redis_retries_total", &label),
        }
    }
}

/// What the resource, its commands and its inputs share.
#[derive(Default)]
struct Shared {
    name: OnceLock<String>,
    config: RwLock<Option<Arc<Config>>>,
    manager: RwLock<Option<ConnectionManager>>,
    in_flight: watch::Sender<usize>,
    commands: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
    meters: OnceLock<Meters>,
    /// The test's in-memory broker the inputs and outputs run on instead of Redis (memory.rs).
    memory: Mutex<Option<MemoryBroker>>,
    engine: Engine<PubSubTransport>,
    streams: Engine<StreamTransport>,
}

impl Shared {
    fn resource(&self) -> &str {
        self.name.get().map_or("redis", String::as_str)
    }

    fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    fn manager(&self) -> Result<ConnectionManager, Error> {
        self.manager
            .read()
            .expect("manager lock")
            .clone()
            .ok_or_else(|| Error::NotStarted {
                resource: self.resource().to_owned(),
            })
    }
}
